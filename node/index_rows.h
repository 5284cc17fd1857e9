/*  =========================================================================
    index_rows - what an archive, destroy or purge request becomes in the
    index

    The one place that maps a decoded request (proto/request.h) onto the
    storage layer's row structures (node/store/store_index.h): the writer
    builds its rows here when it handles a request, and --rebuild-index
    builds the same rows here when it replays the request's record, so the
    two cannot drift apart. The storage layer itself knows nothing of
    requests. Strings and blobs in the rows point into the request.
    =========================================================================
*/
#ifndef STRATA_INDEX_ROWS_H_INCLUDED
#define STRATA_INDEX_ROWS_H_INCLUDED

#include "request.h"
#include "store_index.h"
#include "active_set.h"

//  The segment row (with status and node ids) and the finish values an
//  archive request describes.
void
    index_rows_from_request (const request_t *request, char status, int64_t source_node_id,
                             int64_t handoff_node_id, index_segment_t *segment,
                             index_finish_t *finish);

//  The tombstone row (status T) a destroy-key request describes.
void
    index_rows_tombstone (const request_t *request, int64_t source_node_id,
                          int64_t handoff_node_id, index_segment_t *tombstone);

//  The sequence row of an archive request whose record was appended at
//  file_id/offset: record_size bytes in all, segment_size of them payload
//  with MD5 md5.
void
    index_rows_sequence (const request_t *request, int64_t segment_id, uint64_t file_id,
                         uint64_t offset, uint64_t record_size, uint64_t segment_size,
                         const uint8_t md5 [DIGEST_MD5_SIZE], index_sequence_t *sequence);

//  What a purge-handoff request names, held for handoff_node_id and
//  forwarded at forwarded_us.
void
    index_rows_purge (const request_t *request, int64_t handoff_node_id, int64_t forwarded_us,
                      index_purge_t *purge);

//  The active segment an archive-key-start request starts (segment row
//  segment_id, its node ids; last sequence = the request's), for
//  active_set_add (which copies the key).
void
    index_rows_started (const request_t *request, int64_t segment_id, int64_t source_node_id,
                        int64_t handoff_node_id, active_segment_t *started);

#endif
