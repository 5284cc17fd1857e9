/*  =========================================================================
    index_rows - what an archive, destroy or purge request becomes in the
    index
    =========================================================================
*/
#include <czmq.h>
#include "index_rows.h"

//  The request's user-request-id, or NULL when it has none
static const char *
s_user_request_id (const request_t *request)
{
    return (request->present & FIELD_USER_REQUEST_ID)? request->user_request_id: NULL;
}

void
index_rows_from_request (const request_t *request, char status, int64_t source_node_id,
                         int64_t handoff_node_id, index_segment_t *segment, index_finish_t *finish)
{
    assert (request && segment && finish);
    *segment = (index_segment_t) {
        .collection_id = request->collection_id,
        .key = request->key,
        .unified_id = request->unified_id,
        .timestamp_us = request->timestamp,
        .conjoined_part = request->conjoined_part,
        .segment_num = request->segment_num,
        .status = status,
        .source_node_id = source_node_id,
        .handoff_node_id = handoff_node_id,
        .user_request_id = s_user_request_id (request),
    };
    *finish = (index_finish_t) {
        .file_size = request->file_size,
        .has_file_adler32 = (request->present & FIELD_FILE_ADLER32) != 0,
        .file_adler32 = request->file_adler32,
        .meta = request->meta,
        .meta_size = request->meta_size,
    };
    memcpy (finish->file_hash, request->file_hash, DIGEST_MD5_SIZE);
}

void
index_rows_tombstone (const request_t *request, int64_t source_node_id, int64_t handoff_node_id,
                      index_segment_t *tombstone)
{
    assert (request && tombstone);
    *tombstone = (index_segment_t) {
        .collection_id = request->collection_id,
        .key = request->key,
        .unified_id = request->unified_id,
        .timestamp_us = request->timestamp,
        .segment_num = request->segment_num,
        .status = 'T',
        .source_node_id = source_node_id,
        .handoff_node_id = handoff_node_id,
        .has_delete_unified_id = (request->present & FIELD_UNIFIED_ID_TO_DELETE) != 0,
        .delete_unified_id = request->unified_id_to_delete,
        .user_request_id = s_user_request_id (request),
    };
}

void
index_rows_sequence (const request_t *request, int64_t segment_id, uint64_t file_id,
                     uint64_t offset, uint64_t record_size, uint64_t segment_size,
                     const uint8_t md5 [DIGEST_MD5_SIZE], index_sequence_t *sequence)
{
    assert (request && md5 && sequence);
    *sequence = (index_sequence_t) {
        .segment_id = segment_id,
        .sequence_num = request->sequence_num,
        .value_file_id = file_id,
        .record_offset = offset,
        .record_size = record_size,
        .segment_size = segment_size,
        .zfec_padding_size = request->zfec_padding_size,
        .has_adler32 = (request->present & FIELD_SEGMENT_ADLER32) != 0,
        .adler32 = request->segment_adler32,
    };
    memcpy (sequence->md5, md5, DIGEST_MD5_SIZE);
}

void
index_rows_purge (const request_t *request, int64_t handoff_node_id, int64_t forwarded_us,
                  index_purge_t *purge)
{
    assert (request && purge);
    *purge = (index_purge_t) {
        .collection_id = request->collection_id,
        .key = request->key,
        .unified_id = request->unified_id,
        .conjoined_part = request->conjoined_part,
        .has_segment_num = (request->present & FIELD_SEGMENT_NUM) != 0,
        .segment_num = request->segment_num,
        .handoff_node_id = handoff_node_id,
        .forwarded_us = forwarded_us,
    };
}

void
index_rows_started (const request_t *request, int64_t segment_id, int64_t source_node_id,
                    int64_t handoff_node_id, active_segment_t *started)
{
    assert (request && started);
    *started = (active_segment_t) {
        .segment_id = segment_id,
        .unified_id = request->unified_id,
        .conjoined_part = request->conjoined_part,
        .segment_num = request->segment_num,
        .collection_id = request->collection_id,
        .key = (char *) request->key,       //  copied by active_set_add
        .timestamp_us = request->timestamp,
        .source_node_id = source_node_id,
        .handoff_node_id = handoff_node_id,
        .last_sequence_num = request->sequence_num,
    };
}
