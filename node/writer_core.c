/*  =========================================================================
    writer_core - what the writer does with a request, without its sockets

    The data path: work item -> dispatch table -> handler -> value file
    append + index rows (inside the batch transaction, one savepoint per
    request) -> pending list -> group commit (fdatasync value files, update
    their synced sizes, COMMIT) -> reply list.

    If the sync or the commit fails, nothing of the batch is acknowledged:
    every pending request is answered io-error, the transaction is rolled
    back, and the in-memory view of active segments is reloaded from the
    index so it matches what is durable.

    Active segments (started, not finished or cancelled) are kept in memory
    (identity -> segment row) for cheap checks of duplicate, unknown and
    out-of-order sequences; the index is the durable copy, loaded at start.

    Why one file of over a thousand lines: every handler runs through the
    same private steps (s_begin, s_append, s_undo, s_pending, the batch
    abort), which share the core's private state with the group commit.
    Split, that state and those steps would have to be published in a
    header for the parts to reach them. The actor's half, with the sockets,
    is already apart (writer.c); what a request becomes in the index is
    index_rows.c.
    =========================================================================
*/
#include "writer_core.h"
#include "store_index.h"
#include "value_store.h"
#include "timestamp.h"
#include "recovery.h"
#include "active_set.h"
#include "index_rows.h"
#include "compactor.h"
#include <sys/statvfs.h>
#include <sys/stat.h>

#define S_INDEX_ROOM_BYTES  (4ULL * 1024 * 1024)    //  kept free on the index's filesystem
                                                //  besides reserve-bytes: one batch's index pages

//  A handler returns 0 when its success is pending the next group commit
//  and -1 when work->verdict says why the request failed (answered at
//  once).
typedef int (s_handler_fn) (writer_core_t *self, work_t *work);

struct _writer_core_t {
    const node_config_t *config;    //  settings
    cluster_config_t *cluster;      //  cluster or NULL
    node_stats_t *stats;            //  shared counters
    store_index_t *index;           //  the SQLite index
    value_store_t *values;          //  value files
    active_set_t *active;           //  active segments by identity
    zlistx_t *pending;              //  work_t * awaiting the group commit
    zlistx_t *answered;             //  work_t * whose reply is due (verdict says what)
    int64_t first_pending_us;       //  when the oldest pending request was queued
    bool force_commit;              //  sync-value-file asked for a commit now
    int index_on_volume;            //  index shares a volume's filesystem: 1, no: 0, not known: -1
    uint64_t registered_file_id;    //  last value file known to be in the index
    zhashx_t *file_volumes;         //  file id text -> volume (new files)
    msgpack_sbuffer descriptor;     //  record descriptor buffer, reused
    struct iovec *iov;              //  payload pieces, reused
    int iov_size;                   //  entries allocated in iov
    bool synced_update_failed;      //  recording a synced size failed in this commit
    bool request_appended;          //  the current request appended a record
    bool compaction_pending;        //  a compaction's index update is in the open batch
    uint64_t compaction_reclaimed;  //  the bytes it reclaims
    int compaction_outcome;         //  1 committed, -1 failed, 0 nothing new
};


//  --------------------------------------------------------------------------
//  Active segments

static active_segment_t *
s_active_find (writer_core_t *self, const request_t *request)
{
    return active_set_find (self->active, request->unified_id, request->conjoined_part,
                            request->segment_num);
}

static void
s_active_remove (writer_core_t *self, active_segment_t *active)
{
    active_set_remove (self->active, active);
}

static void
s_active_loaded (void *arg, const index_active_t *row)
{
    writer_core_t *self = (writer_core_t *) arg;
    active_segment_t active = {
        .segment_id = row->segment_id,
        .unified_id = row->unified_id,
        .conjoined_part = row->conjoined_part,
        .segment_num = row->segment_num,
        .collection_id = row->collection_id,
        .key = (char *) row->key,
        .timestamp_us = row->timestamp_us,
        .source_node_id = row->source_node_id,
        .handoff_node_id = row->handoff_node_id,
        .last_sequence_num = row->last_sequence_num,
    };
    active_set_add (self->active, &active);
}

//  Make the in-memory state agree with the index (after a rollback)
static void
s_reload (writer_core_t *self)
{
    active_set_purge (self->active);
    if (store_index_load_active (self->index, s_active_loaded, self))
        zsys_error ("writer: cannot reload active segments from the index");
    int64_t counts [4];
    if (store_index_count_segments (self->index, counts) == 0) {
        atomic_store (&self->stats->segments_active, counts [0]);
        atomic_store (&self->stats->segments_finished, counts [1]);
        atomic_store (&self->stats->segments_cancelled, counts [2]);
        atomic_store (&self->stats->segments_tombstone, counts [3]);
    }
    int64_t files;
    if (store_index_count_value_files (self->index, &files) == 0)
        atomic_store (&self->stats->value_files, (uint64_t) files);
    self->registered_file_id = 0;
}

void
writer_core_space_stats (writer_core_t *self)
{
    uint64_t value_bytes, live_bytes, garbage_bytes;
    if (store_index_space_totals (store_index_db (self->index), &value_bytes, &live_bytes,
                                  &garbage_bytes) == 0) {
        atomic_store (&self->stats->value_bytes, value_bytes);
        atomic_store (&self->stats->live_bytes, live_bytes);
        atomic_store (&self->stats->garbage_bytes, garbage_bytes);
    }
}


//  --------------------------------------------------------------------------
//  Storage helpers

//  After an append, whatever it returned: if it opened a new value file,
//  note its volume (its index row is added with the first record,
//  s_register_file) and close the file it replaces
static void
s_take_opened (writer_core_t *self, const value_store_append_t *appended)
{
    if (!appended->opened)
        return;
    char id_text [32];
    snprintf (id_text, sizeof (id_text), "%" PRIu64, appended->opened_id);
    zhashx_update (self->file_volumes, id_text, strdup (appended->volume));
    atomic_fetch_add (&self->stats->value_files, 1);
    //  A roll-over: the full file is no longer appended to. Its records
    //  are synced by this batch's commit (or were before), so it is closed
    //  in the same transaction and the compactor may take it once that
    //  commit lands. (A file retired after a failure is not current any
    //  more: it stays open, and start-up recovery cuts what it must.)
    if (appended->previous_id && store_index_in_transaction (self->index)
    &&  store_index_close_value_file (self->index, appended->previous_id))
        zsys_warning ("writer: cannot mark value file %" PRIu64 " closed (compaction waits for a restart)",
                      appended->previous_id);
    char path [1100];
    if (value_store_path (appended->volume, appended->opened_id, path, sizeof (path)) == 0)
        zsys_info ("writer: new value file %s", path);
}

//  After a sync, whatever it returned: every value file it synced is
//  durable up to its size; record it in the batch
static void
s_record_synced (writer_core_t *self, const value_store_synced_t *synced, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        if (store_index_set_file_synced (self->index, synced [index].file_id, synced [index].synced_size))
            self->synced_update_failed = true;
        //  A file no longer appended to is complete once this commit lands
        if (!synced [index].current
        &&  store_index_close_value_file (self->index, synced [index].file_id))
            self->synced_update_failed = true;
    }
}

//  Make sure the value file a record went to has its index row
static int
s_register_file (writer_core_t *self, uint64_t file_id)
{
    if (file_id == self->registered_file_id)
        return 0;
    char id_text [32];
    snprintf (id_text, sizeof (id_text), "%" PRIu64, file_id);
    const char *volume = (const char *) zhashx_lookup (self->file_volumes, id_text);
    if (volume && store_index_add_value_file (self->index, file_id, volume, timestamp_now ()))
        return -1;
    self->registered_file_id = file_id;
    return 0;
}

//  Append a record for this request (descriptor = the request header as
//  re-encoded, payload = its data frames). On failure sets the verdict.
static int
s_append (writer_core_t *self, work_t *work, record_type_t type, uint64_t *file_id_p, uint64_t *offset_p)
{
    request_t *request = &work->request;
    self->descriptor.size = 0;
    request_encode (request, &self->descriptor);

    int pieces = 0;
    if (type == RECORD_SEQUENCE) {
        int frames = (int) zmsg_size (work->payload);
        if (frames > self->iov_size) {
            self->iov = (struct iovec *) realloc (self->iov, (size_t) frames * sizeof (struct iovec));
            assert (self->iov);
            self->iov_size = frames;
        }
        for (zframe_t *frame = zmsg_first (work->payload); frame; frame = zmsg_next (work->payload)) {
            if (zframe_size (frame) == 0)
                continue;
            self->iov [pieces].iov_base = zframe_data (frame);
            self->iov [pieces].iov_len = zframe_size (frame);
            pieces++;
        }
    }
    value_record_t record = {
        .type = (uint16_t) type,
        .collection_id = request->collection_id,
        .unified_id = request->unified_id,
        .conjoined_part = request->conjoined_part,
        .segment_num = request->segment_num,
        .sequence_num = request->sequence_num,
        .descriptor_size = (uint32_t) self->descriptor.size,
        .payload_size = type == RECORD_SEQUENCE? work->payload_size: 0,
    };
    if (type == RECORD_SEQUENCE)
        memcpy (record.payload_md5, request->segment_md5, DIGEST_MD5_SIZE);
    else
        digest_md5 (NULL, 0, record.payload_md5);

    value_store_append_t appended;
    int rc = value_store_append (self->values, &record, self->descriptor.data,
                                 self->iov, pieces, &appended);
    s_take_opened (self, &appended);
    uint64_t file_id = appended.file_id, offset = appended.offset;
    if (rc == -ENOSPC) {
        work_fail (work, RESULT_OUT_OF_SPACE, "no volume has room for %" PRIu64 " bytes",
                   value_file_record_size (record.descriptor_size, record.payload_size));
        return -1;
    }
    if (rc == -EDQUOT || (rc == -ENOSPC)) {
        work_fail (work, RESULT_OUT_OF_SPACE, "value file write failed: %s", store_strerror (rc));
        return -1;
    }
    if (rc) {
        work_fail (work, RESULT_IO_ERROR, "value file write failed: %s", store_strerror (rc));
        return -1;
    }
    self->request_appended = true;
    if (s_register_file (self, file_id)) {
        work_fail (work, RESULT_IO_ERROR, "index update failed");
        return -1;
    }
    if (file_id_p)
        *file_id_p = file_id;
    if (offset_p)
        *offset_p = offset;
    return 0;
}

//  The index's filesystem keeps reserve-bytes free like the volumes do,
//  plus room for one batch's index pages: a state change that would eat
//  into it is refused out-of-space before anything is written
static int
s_index_room (writer_core_t *self, work_t *work)
{
    //  On a volume's filesystem the volume's check already keeps
    //  reserve-bytes free (and SQLITE_FULL still answers out-of-space)
    if (self->index_on_volume < 0) {
        struct stat index_st, volume_st;
        self->index_on_volume = 0;
        if (stat (self->config->data_dir, &index_st) == 0)
            for (size_t index = 0; index < self->config->volume_count; index++)
                if (stat (self->config->volumes [index], &volume_st) == 0
                &&  volume_st.st_dev == index_st.st_dev)
                    self->index_on_volume = 1;
    }
    if (self->index_on_volume)
        return 0;
    struct statvfs st;
    if (statvfs (self->config->data_dir, &st) != 0)
        return 0;                   //  unknown: SQLite will say (store_index_full)
    uint64_t free_bytes = (uint64_t) st.f_bavail * st.f_frsize;
    uint64_t needed = self->config->reserve_bytes + S_INDEX_ROOM_BYTES;
    if (free_bytes >= needed)
        return 0;
    work_fail (work, RESULT_OUT_OF_SPACE, "index filesystem (%s) has %" PRIu64 " bytes free, "
               "%" PRIu64 " are kept (reserve-bytes + room for the index)",
               self->config->data_dir, free_bytes, needed);
    return -1;
}

static int
s_begin (writer_core_t *self, work_t *work)
{
    self->request_appended = false;
    if (s_index_room (self, work))
        return -1;
    if (store_index_begin (self->index) == 0 && store_index_savepoint (self->index) == 0)
        return 0;
    work_fail (work, RESULT_IO_ERROR, "index: cannot start a transaction");
    return -1;
}

//  Undo the current request's index changes after a failure
static void s_abort_batch (writer_core_t *self, const char *why);
static void s_abort_batch_result (writer_core_t *self, result_t result, const char *why);

static int
s_undo (writer_core_t *self, work_t *work)
{
    //  A record this request appended must not be followed by acknowledged
    //  ones in the same file
    if (self->request_appended)
        value_store_retire (self->values);
    if (store_index_undo (self->index)) {
        s_abort_batch (self, "index rollback failed");
        if (work->verdict == RESULT_SUCCESS)
            work_fail (work, RESULT_IO_ERROR, "index rollback failed");
    }
    self->registered_file_id = 0;
    return -1;
}

static int
s_index_failed (writer_core_t *self, work_t *work)
{
    if (store_index_full (self->index))
        work_fail (work, RESULT_OUT_OF_SPACE, "index update failed: the index's filesystem is full");
    else
        work_fail (work, RESULT_IO_ERROR, "index update failed");
    return s_undo (self, work);
}

//  An index update of the entire fast path failed: the whole batch goes
static void
s_index_failed_batch (writer_core_t *self, work_t *work)
{
    bool full = store_index_full (self->index);
    s_abort_batch_result (self, full? RESULT_OUT_OF_SPACE: RESULT_IO_ERROR, "index update failed");
    if (full)
        work_fail (work, RESULT_OUT_OF_SPACE, "index update failed: the index's filesystem is full");
    else
        work_fail (work, RESULT_IO_ERROR, "index update failed");
}

//  Queue a success for the next group commit
static int
s_pending (writer_core_t *self, work_t *work)
{
    if (store_index_release (self->index))
        return s_index_failed (self, work);
    if (zlistx_size (self->pending) == 0)
        self->first_pending_us = timestamp_now ();
    return 0;
}

//  Resolve source and handoff node ids; unknown-node if a cluster is
//  configured and a name is not in it.
static int
s_node_ids (writer_core_t *self, work_t *work, int64_t *source_id_p, int64_t *handoff_id_p)
{
    request_t *request = &work->request;
    if (self->cluster) {
        if ((request->present & FIELD_SOURCE_NODE_NAME)
        &&  cluster_config_node_index (self->cluster, request->source_node_name) < 0) {
            work_fail (work, RESULT_UNKNOWN_NODE, "source-node-name: '%s' is not a node of cluster '%s'",
                       request->source_node_name, cluster_config_name (self->cluster));
            return -1;
        }
        if ((request->present & FIELD_HANDOFF_NODE_NAME)
        &&  cluster_config_node_index (self->cluster, request->handoff_node_name) < 0) {
            work_fail (work, RESULT_UNKNOWN_NODE, "handoff-node-name: '%s' is not a node of cluster '%s'",
                       request->handoff_node_name, cluster_config_name (self->cluster));
            return -1;
        }
    }
    *source_id_p = 0;
    *handoff_id_p = 0;
    return 0;
}

//  Look the ids up (inside the savepoint: may insert names)
static int
s_node_rows (writer_core_t *self, work_t *work, int64_t *source_id_p, int64_t *handoff_id_p)
{
    request_t *request = &work->request;
    *handoff_id_p = 0;
    int rc = store_index_node_id (self->index,
        (request->present & FIELD_SOURCE_NODE_NAME)? request->source_node_name: "", source_id_p);
    if (rc == 0 && (request->present & FIELD_HANDOFF_NODE_NAME))
        rc = store_index_node_id (self->index, request->handoff_node_name, handoff_id_p);
    return rc;
}

//  --------------------------------------------------------------------------
//  Handlers: archive-key-entire / start / next / final

//  The sequence row of an archive request appended at file_id/offset

static void
s_sequence_row (writer_core_t *self, const work_t *work, int64_t segment_id, uint64_t file_id,
                uint64_t offset, index_sequence_t *sequence)
{
    index_rows_sequence (&work->request, segment_id, file_id, offset,
                         value_file_record_size ((uint32_t) self->descriptor.size, work->payload_size),
                         work->payload_size, work->request.segment_md5, sequence);
}

//  archive-key-entire, the hot path: no savepoint. The record is appended
//  before any index change, so a failed append leaves nothing to undo; the
//  index rows are one segment and one sequence row, and if inserting them
//  fails (an index I/O error, not a property of the request) the whole
//  batch is answered io-error and rolled back instead of this request
//  alone: a per-request savepoint cost more than a tenth of the writer's
//  time (perf, docs/performance.md), for a failure that is never the
//  request's fault.

static int
s_handle_entire (writer_core_t *self, work_t *work, int64_t source_id, int64_t handoff_id)
{
    request_t *request = &work->request;
    self->request_appended = false;
    if (s_index_room (self, work))
        return -1;
    if (store_index_begin (self->index)) {
        work_fail (work, RESULT_IO_ERROR, "index: cannot start a transaction");
        return -1;
    }
    if (s_node_rows (self, work, &source_id, &handoff_id)) {
        s_index_failed_batch (self, work);
        return -1;
    }
    uint64_t file_id, offset;
    if (s_append (self, work, RECORD_SEQUENCE, &file_id, &offset)) {
        if (self->request_appended)
            value_store_retire (self->values);
        self->registered_file_id = 0;
        return -1;
    }
    index_segment_t segment;
    index_finish_t finish;
    index_sequence_t sequence;
    index_rows_from_request (request, 'F', source_id, handoff_id, &segment, &finish);
    s_sequence_row (self, work, 0, file_id, offset, &sequence);
    int64_t segment_id;
    if (store_index_insert_entire (self->index, &segment, &finish, &sequence, &segment_id)
    ||  store_index_account_key (self->index, request->collection_id, request->key)) {
        //  The record stays past the file's synced size, unreferenced
        value_store_retire (self->values);
        s_index_failed_batch (self, work);
        return -1;
    }
    if (zlistx_size (self->pending) == 0)
        self->first_pending_us = timestamp_now ();
    atomic_fetch_add (&self->stats->segments_finished, 1);
    return 0;
}

static int
s_handle_archive (writer_core_t *self, work_t *work)
{
    request_t *request = &work->request;
    message_type_t type = request->type;
    bool first = type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_START;
    bool last = type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_FINAL;
    int64_t source_id, handoff_id;
    if (s_node_ids (self, work, &source_id, &handoff_id))
        return -1;

    active_segment_t *active = s_active_find (self, request);
    if (first && active) {
        work_fail (work, RESULT_DUPLICATE_SEGMENT,
                   "segment %" PRIu64 "/%" PRIu32 "/%u is already active",
                   request->unified_id, request->conjoined_part, request->segment_num);
        return -1;
    }
    if (!first) {
        if (!active) {
            work_fail (work, RESULT_UNKNOWN_SEGMENT,
                       "unified-id: no active segment %" PRIu64 "/%" PRIu32 "/%u",
                       request->unified_id, request->conjoined_part, request->segment_num);
            return -1;
        }
        if (active->collection_id != request->collection_id || strcmp (active->key, request->key)) {
            work_fail (work, RESULT_INVALID_REQUEST,
                       "key: collection-id/key differ from those of the active segment");
            return -1;
        }
        if ((int64_t) request->sequence_num != active->last_sequence_num + 1) {
            work_fail (work, RESULT_INVALID_REQUEST, "sequence-num: expected %" PRId64 ", got %" PRIu32,
                       active->last_sequence_num + 1, request->sequence_num);
            return -1;
        }
    }
    if (type == MSG_ARCHIVE_KEY_ENTIRE)
        return s_handle_entire (self, work, source_id, handoff_id);
    if (s_begin (self, work))
        return -1;
    if (first && s_node_rows (self, work, &source_id, &handoff_id))
        return s_index_failed (self, work);
    index_segment_t segment;
    index_finish_t finish;
    index_rows_from_request (request, 'A', source_id, handoff_id, &segment, &finish);
    int64_t segment_id = active? active->segment_id: 0;
    if (type == MSG_ARCHIVE_KEY_START
    &&  store_index_insert_segment (self->index, &segment, &segment_id))
        return s_index_failed (self, work);

    uint64_t file_id, offset;
    if (s_append (self, work, RECORD_SEQUENCE, &file_id, &offset))
        return s_undo (self, work);
    index_sequence_t sequence;
    s_sequence_row (self, work, segment_id, file_id, offset, &sequence);
    if (store_index_insert_sequence (self->index, &sequence))
        return s_index_failed (self, work);
    if (last && store_index_finish_segment (self->index, segment_id, &finish))
        return s_index_failed (self, work);
    if (last && store_index_account_key (self->index, request->collection_id, request->key))
        return s_index_failed (self, work);
    if (s_pending (self, work))
        return -1;

    //  The index agrees; now the in-memory view
    if (type == MSG_ARCHIVE_KEY_START) {
        active_segment_t started;
        index_rows_started (request, segment_id, source_id, handoff_id, &started);
        active_set_add (self->active, &started);
        atomic_fetch_add (&self->stats->segments_active, 1);
    }
    else
    if (type == MSG_ARCHIVE_KEY_NEXT) {
        active->last_sequence_num = request->sequence_num;
        active->last_activity_us = timestamp_now ();
    }
    else
    if (type == MSG_ARCHIVE_KEY_FINAL) {
        s_active_remove (self, active);
        atomic_fetch_sub (&self->stats->segments_active, 1);
        atomic_fetch_add (&self->stats->segments_finished, 1);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  archive-key-cancel

static int
s_cancel_active (writer_core_t *self, work_t *work, active_segment_t *active)
{
    //  The record names the cancelled segment, whatever the request was
    request_t *request = &work->request;
    uint64_t saved_unified_id = request->unified_id;
    uint32_t saved_part = request->conjoined_part;
    uint8_t saved_segment = request->segment_num;
    request->unified_id = active->unified_id;
    request->conjoined_part = active->conjoined_part;
    request->segment_num = active->segment_num;
    int rc = s_append (self, work, RECORD_CANCEL, NULL, NULL);
    request->unified_id = saved_unified_id;
    request->conjoined_part = saved_part;
    request->segment_num = saved_segment;
    if (rc)
        return -1;
    if (store_index_set_status (self->index, active->segment_id, 'C')
    ||  store_index_account_key (self->index, active->collection_id, active->key)) {
        work_fail (work, RESULT_IO_ERROR, "index update failed");
        return -1;
    }
    return 0;
}

static int
s_handle_cancel (writer_core_t *self, work_t *work)
{
    request_t *request = &work->request;
    active_segment_t *active = s_active_find (self, request);
    if (!active) {
        work_fail (work, RESULT_UNKNOWN_SEGMENT,
                   "unified-id: no active segment %" PRIu64 "/%" PRIu32 "/%u to cancel",
                   request->unified_id, request->conjoined_part, request->segment_num);
        return -1;
    }
    if (s_begin (self, work))
        return -1;
    if (s_cancel_active (self, work, active))
        return s_undo (self, work);
    if (s_pending (self, work))
        return -1;
    s_active_remove (self, active);
    atomic_fetch_sub (&self->stats->segments_active, 1);
    atomic_fetch_add (&self->stats->segments_cancelled, 1);
    return 0;
}

//  --------------------------------------------------------------------------
//  Stale active segments: a segment with no start or sequence for
//  node/active-timeout-seconds is cancelled by the node itself (a cancel
//  record, as if its sender had sent archive-key-cancel), so an upload
//  whose sender went away does not stay active for ever and its data
//  becomes garbage

void
writer_core_cancel_stale (writer_core_t *self)
{
    if (self->config->active_timeout_seconds == 0)
        return;                     //  not configured (node_config_load never gives 0)
    int64_t cutoff = timestamp_now () - (int64_t) self->config->active_timeout_seconds * 1000000;
    zlistx_t *stale = active_set_stale (self->active, cutoff);
    for (active_segment_t *active = (active_segment_t *) zlistx_first (stale); active;
         active = (active_segment_t *) zlistx_next (stale)) {
        //  An archive-key-cancel of our own, with no reply address
        work_t *work = work_new ();
        if (!work)
            break;
        request_t *request = &work->request;
        request->type = MSG_ARCHIVE_KEY_CANCEL;
        request->unified_id = active->unified_id;
        request->conjoined_part = active->conjoined_part;
        request->segment_num = active->segment_num;
        request->present = FIELD_UNIFIED_ID | FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM;
        snprintf (request->message_id, sizeof request->message_id, "stale-%" PRIu64, active->unified_id);
        request->present |= FIELD_MESSAGE_ID;
        zsys_info ("writer: cancelling active segment %" PRIu64 "/%" PRIu32 "/%u (key '%s'): "
                   "no sequence for %" PRIu64 " s (node/active-timeout-seconds)",
                   active->unified_id, active->conjoined_part, active->segment_num, active->key,
                   self->config->active_timeout_seconds);
        bool failed = s_begin (self, work) != 0;
        if (!failed && s_cancel_active (self, work, active)) {
            s_undo (self, work);
            failed = true;
        }
        if (failed) {
            zsys_error ("writer: cannot cancel a stale segment: %s", work->verdict_message);
            work_destroy (&work);
            break;
        }
        if (s_pending (self, work)) {
            work_destroy (&work);
            break;
        }
        zmsg_destroy (&work->payload);
        zlistx_add_end (self->pending, work);
        s_active_remove (self, active);
        atomic_fetch_sub (&self->stats->segments_active, 1);
        atomic_fetch_add (&self->stats->segments_cancelled, 1);
        atomic_fetch_add (&self->stats->stale_segments_cancelled, 1);
    }
    zlistx_destroy (&stale);
}

//  --------------------------------------------------------------------------
//  destroy-key

static int
s_handle_destroy (writer_core_t *self, work_t *work)
{
    request_t *request = &work->request;
    int64_t source_id, handoff_id;
    if (s_node_ids (self, work, &source_id, &handoff_id) || s_begin (self, work))
        return -1;
    if (s_node_rows (self, work, &source_id, &handoff_id))
        return s_index_failed (self, work);
    index_segment_t tombstone;
    index_rows_tombstone (request, source_id, handoff_id, &tombstone);
    int64_t segment_id;
    if (store_index_insert_segment (self->index, &tombstone, &segment_id)
    ||  store_index_account_key (self->index, request->collection_id, request->key))
        return s_index_failed (self, work);
    if (s_append (self, work, RECORD_TOMBSTONE, NULL, NULL))
        return s_undo (self, work);
    if (s_pending (self, work))
        return -1;
    atomic_fetch_add (&self->stats->segments_tombstone, 1);
    return 0;
}

//  --------------------------------------------------------------------------
//  Conjoined archives

static int
s_handle_conjoined (writer_core_t *self, work_t *work)
{
    request_t *request = &work->request;
    int64_t source_id, handoff_id;
    if (s_node_ids (self, work, &source_id, &handoff_id))
        return -1;
    //  The archive is looked up among the copies held for the same node
    //  (handoff-node-name) or the node's own
    if (s_begin (self, work))
        return -1;
    if (s_node_rows (self, work, &source_id, &handoff_id))
        return s_index_failed (self, work);
    int64_t conjoined_id = 0;
    if (store_index_find_active_conjoined (self->index, request->collection_id, request->key,
                                           request->unified_id, handoff_id, &conjoined_id))
        return s_index_failed (self, work);
    if (request->type == MSG_START_CONJOINED_ARCHIVE && conjoined_id) {
        work_fail (work, RESULT_DUPLICATE_SEGMENT,
                   "unified-id: conjoined archive %" PRIu64 " is already active", request->unified_id);
        return s_undo (self, work);
    }
    if (request->type != MSG_START_CONJOINED_ARCHIVE && !conjoined_id) {
        work_fail (work, RESULT_UNKNOWN_SEGMENT,
                   "unified-id: no active conjoined archive %" PRIu64 " for this key", request->unified_id);
        return s_undo (self, work);
    }
    int rc = 0;
    int cancelled = 0;
    if (request->type == MSG_START_CONJOINED_ARCHIVE) {
        rc = store_index_insert_conjoined (self->index, request->collection_id, request->key,
                                           request->unified_id, request->timestamp, handoff_id);
    }
    else
    if (request->type == MSG_FINISH_CONJOINED_ARCHIVE)
        rc = store_index_set_conjoined_status (self->index, conjoined_id, 'F');
    else {
        rc = store_index_set_conjoined_status (self->index, conjoined_id, 'C');
        if (rc == 0)
            rc = store_index_cancel_conjoined_parts (self->index, request->collection_id,
                                                     request->key, request->unified_id, handoff_id,
                                                     &cancelled);
        if (rc == 0 && cancelled)
            rc = store_index_account_key (self->index, request->collection_id, request->key);
    }
    if (rc)
        return s_index_failed (self, work);
    if (s_append (self, work, RECORD_CONJOINED, NULL, NULL))
        return s_undo (self, work);
    if (s_pending (self, work))
        return -1;
    if (cancelled) {
        //  Forget active parts of the aborted archive; counts from the index
        active_set_remove_parts (self->active, request->collection_id, request->key,
                                 request->unified_id, handoff_id);
        int64_t counts [4];
        if (store_index_count_segments (self->index, counts) == 0) {
            atomic_store (&self->stats->segments_active, counts [0]);
            atomic_store (&self->stats->segments_finished, counts [1]);
            atomic_store (&self->stats->segments_cancelled, counts [2]);
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  web-writer-start: a restarted sender abandons its older active segments

static int
s_handle_web_writer_start (writer_core_t *self, work_t *work)
{
    request_t *request = &work->request;
    int64_t source_id, handoff_id;
    if (s_node_ids (self, work, &source_id, &handoff_id) || s_begin (self, work))
        return -1;
    if (store_index_node_id (self->index, request->source_node_name, &source_id))
        return s_index_failed (self, work);

    zlistx_t *doomed = active_set_older_from (self->active, source_id, request->timestamp);
    int rc = 0;
    for (active_segment_t *active = (active_segment_t *) zlistx_first (doomed); active && rc == 0;
         active = (active_segment_t *) zlistx_next (doomed))
        rc = s_cancel_active (self, work, active);
    if (rc == 0 && zlistx_size (doomed) == 0)
        //  Nothing to cancel: still record the event, so the log is complete
        rc = s_append (self, work, RECORD_CANCEL, NULL, NULL);
    if (rc) {
        zlistx_destroy (&doomed);
        return s_undo (self, work);
    }
    if (s_pending (self, work)) {
        zlistx_destroy (&doomed);
        return -1;
    }
    for (active_segment_t *active = (active_segment_t *) zlistx_first (doomed); active;
         active = (active_segment_t *) zlistx_next (doomed)) {
        s_active_remove (self, active);
        atomic_fetch_sub (&self->stats->segments_active, 1);
        atomic_fetch_add (&self->stats->segments_cancelled, 1);
    }
    if (zlistx_size (doomed))
        zsys_info ("writer: web-writer-start from '%s' cancelled %zu active segments",
                   request->source_node_name, zlistx_size (doomed));
    zlistx_destroy (&doomed);
    return 0;
}

//  --------------------------------------------------------------------------
//  purge-handoff (extension): the handoff forwarder's owner has acknowledged
//  a handoff copy; mark it forwarded (its data becomes garbage)

static int
s_handle_purge_handoff (writer_core_t *self, work_t *work)
{
    request_t *request = &work->request;
    int64_t source_id, handoff_id;
    if (s_node_ids (self, work, &source_id, &handoff_id) || s_begin (self, work))
        return -1;
    index_purge_t purge;
    int64_t held_for;
    if (store_index_node_id (self->index, request->handoff_node_name, &held_for))
        return s_index_failed (self, work);
    index_rows_purge (request, held_for, timestamp_now (), &purge);
    int count = 0;
    if (store_index_purge_handoff (self->index, &purge, &count)
    ||  store_index_account_key (self->index, request->collection_id, request->key))
        return s_index_failed (self, work);
    if (count == 0) {
        if (purge.has_segment_num)
            work_fail (work, RESULT_UNKNOWN_SEGMENT,
                       "unified-id: no finished segment or tombstone %" PRIu64 "/%" PRIu32 "/%u"
                       " is held for '%s'", request->unified_id, request->conjoined_part,
                       request->segment_num, request->handoff_node_name);
        else
            work_fail (work, RESULT_UNKNOWN_SEGMENT,
                       "unified-id: no finished or aborted conjoined archive %" PRIu64
                       " is held for '%s'", request->unified_id, request->handoff_node_name);
        return s_undo (self, work);
    }
    if (s_append (self, work, RECORD_PURGE, NULL, NULL))
        return s_undo (self, work);
    if (s_pending (self, work))
        return -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  Service messages

static int
s_handle_sync (writer_core_t *self, work_t *work)
{
    if (zlistx_size (self->pending) == 0)
        self->first_pending_us = timestamp_now ();
    self->force_commit = true;
    (void) work;
    return 0;
}


//  --------------------------------------------------------------------------
//  Group commit

//  Answer every pending request io-error and roll back the batch
static void
s_abort_batch (writer_core_t *self, const char *why)
{
    s_abort_batch_result (self, RESULT_IO_ERROR, why);
}

//  Answer every pending request result (io-error, or out-of-space when the
//  disk is full) and roll back the batch
static void
s_abort_batch_result (writer_core_t *self, result_t result, const char *why)
{
    zsys_error ("writer: group commit failed (%s): %zu requests answered %s",
                why, zlistx_size (self->pending), result_name (result));
    store_index_rollback (self->index);
    //  What the batch appended stays past the recorded synced size of a
    //  file that is no longer appended to: recovery cuts it after a crash
    value_store_retire (self->values);
    work_t *work;
    while ((work = (work_t *) zlistx_detach (self->pending, NULL))) {
        work_fail (work, result, "%s", why);
        zlistx_add_end (self->answered, work);
    }
    atomic_fetch_add (&self->stats->sync_failures, 1);
    self->force_commit = false;
    if (self->compaction_pending) {
        self->compaction_outcome = -1;
        self->compaction_pending = false;
    }
    s_reload (self);
}

int
writer_core_commit (writer_core_t *self)
{
    if (zlistx_size (self->pending) == 0 && !store_index_in_transaction (self->index)) {
        self->force_commit = false;
        return 0;
    }
    int64_t started = timestamp_now ();
    if (self->config->test_sync_delay_ms > 0)
        zclock_sleep (self->config->test_sync_delay_ms);

    self->synced_update_failed = false;
    const value_store_synced_t *synced_files;
    size_t synced_file_count;
    int rc = value_store_sync (self->values, &synced_files, &synced_file_count);
    s_record_synced (self, synced_files, synced_file_count);
    if (rc == 0 && self->synced_update_failed)
        rc = -EIO;
    if (rc) {
        char why [128];
        snprintf (why, sizeof (why), "value file sync failed: %s", store_strerror (rc));
        s_abort_batch_result (self, rc == -ENOSPC || rc == -EDQUOT? RESULT_OUT_OF_SPACE: RESULT_IO_ERROR, why);
        return -1;
    }
    if (store_index_commit (self->index)) {
        if (store_index_full (self->index))
            s_abort_batch_result (self, RESULT_OUT_OF_SPACE, "index commit failed: the index's filesystem is full");
        else
            s_abort_batch (self, "index commit failed");
        return -1;
    }
    node_stats_sync_latency (self->stats, (uint64_t) (timestamp_now () - started));
    atomic_fetch_add (&self->stats->syncs, 1);
    if (self->compaction_pending) {
        self->compaction_outcome = 1;
        self->compaction_pending = false;
        atomic_fetch_sub (&self->stats->value_files, 1);
        writer_core_space_stats (self);
        int64_t counts [4];             //  dropped tombstones take rows away
        if (store_index_count_segments (self->index, counts) == 0) {
            atomic_store (&self->stats->segments_finished, counts [1]);
            atomic_store (&self->stats->segments_cancelled, counts [2]);
            atomic_store (&self->stats->segments_tombstone, counts [3]);
        }
    }

    work_t *work;
    int64_t synced = timestamp_now ();
    while ((work = (work_t *) zlistx_detach (self->pending, NULL))) {
        if (work->request.type >= MSG_ARCHIVE_KEY_ENTIRE && work->request.type <= MSG_ARCHIVE_KEY_FINAL) {
            atomic_fetch_add (&self->stats->bytes_stored, work->payload_size);
            work->stages.at [NODE_STAGE_SYNCED] = synced;
        }
        zlistx_add_end (self->answered, work);
    }
    self->force_commit = false;
    return 1;
}

bool
writer_core_commit_due (writer_core_t *self)
{
    if (self->force_commit)
        return true;
    if (zlistx_size (self->pending) == 0)
        return false;
    if (value_store_unsynced_bytes (self->values) >= self->config->group_commit_bytes)
        return true;
    return timestamp_now () - self->first_pending_us >= (int64_t) self->config->group_commit_delay_us;
}


//  --------------------------------------------------------------------------
//  The dispatch table of the state changes, keyed by message type

static s_handler_fn *s_dispatch [MSG_TYPE_COUNT] = {
    [MSG_ARCHIVE_KEY_ENTIRE] = s_handle_archive,
    [MSG_ARCHIVE_KEY_START] = s_handle_archive,
    [MSG_ARCHIVE_KEY_NEXT] = s_handle_archive,
    [MSG_ARCHIVE_KEY_FINAL] = s_handle_archive,
    [MSG_ARCHIVE_KEY_CANCEL] = s_handle_cancel,
    [MSG_DESTROY_KEY] = s_handle_destroy,
    [MSG_START_CONJOINED_ARCHIVE] = s_handle_conjoined,
    [MSG_ABORT_CONJOINED_ARCHIVE] = s_handle_conjoined,
    [MSG_FINISH_CONJOINED_ARCHIVE] = s_handle_conjoined,
    [MSG_WEB_WRITER_START] = s_handle_web_writer_start,
    [MSG_SYNC_VALUE_FILE] = s_handle_sync,
    [MSG_PURGE_HANDOFF] = s_handle_purge_handoff,
};

bool
writer_core_handles (message_type_t type)
{
    return type >= 0 && type < MSG_TYPE_COUNT && s_dispatch [type] != NULL;
}

void
writer_core_process (writer_core_t *self, work_t *work)
{
    assert (self && work);
    assert (writer_core_handles (work->request.type));
    if (work->verdict == RESULT_SUCCESS
    &&  s_dispatch [work->request.type] (self, work) == 0) {
        //  Pending: keep the request, free the payload now
        work->stages.at [NODE_STAGE_WRITTEN] = timestamp_now ();
        zmsg_destroy (&work->payload);
        zlistx_add_end (self->pending, work);
    }
    else
        zlistx_add_end (self->answered, work);
}

work_t *
writer_core_next_reply (writer_core_t *self)
{
    assert (self);
    return (work_t *) zlistx_detach (self->answered, NULL);
}

long
writer_core_commit_wait (writer_core_t *self, long idle_ms)
{
    assert (self);
    if (self->force_commit)
        return 0;
    if (zlistx_size (self->pending) == 0)
        return idle_ms;
    int64_t due = self->first_pending_us + (int64_t) self->config->group_commit_delay_us;
    int64_t wait = (due - timestamp_now ()) / 1000;
    return wait > 0? (long) wait: 0;
}

uint64_t
writer_core_take_file_id (writer_core_t *self)
{
    assert (self);
    return value_store_take_file_id (self->values);
}

int
writer_core_apply_compaction (writer_core_t *self, const index_compaction_t *compaction)
{
    assert (self);
    uint64_t reclaimed = 0;
    if (!compaction || self->compaction_pending
    ||  store_index_apply_compaction (self->index, compaction, &reclaimed))
        return -1;
    //  Durable with the next group commit, which comes at once
    self->compaction_pending = true;
    self->compaction_reclaimed = reclaimed;
    self->force_commit = true;
    if (zlistx_size (self->pending) == 0)
        self->first_pending_us = timestamp_now ();
    return 0;
}

int
writer_core_compaction_outcome (writer_core_t *self, uint64_t *reclaimed_p)
{
    assert (self && reclaimed_p);
    int outcome = self->compaction_outcome;
    self->compaction_outcome = 0;
    *reclaimed_p = outcome > 0? self->compaction_reclaimed: 0;
    return outcome;
}

//  --------------------------------------------------------------------------
//  Construction

writer_core_t *
writer_core_new (const node_config_t *config, cluster_config_t *cluster, node_stats_t *stats,
                 char *error, size_t error_size)
{
    assert (config && stats && error);
    writer_core_t *self = (writer_core_t *) zmalloc (sizeof (writer_core_t));
    self->config = config;
    self->cluster = cluster;
    self->stats = stats;
    self->active = active_set_new ();
    self->index_on_volume = -1;
    self->pending = zlistx_new ();
    self->answered = zlistx_new ();
    self->file_volumes = zhashx_new ();
    zhashx_set_destructor (self->file_volumes, (zhashx_destructor_fn *) zstr_free);
    msgpack_sbuffer_init (&self->descriptor);
    *error = 0;

    char path [1100];
    snprintf (path, sizeof (path), "%s/index.db", config->data_dir);
    if (zsys_dir_create ("%s", config->data_dir))
        snprintf (error, error_size, "%s: cannot create the data directory: %s",
                  config->data_dir, strerror (errno));
    else
    if (!(self->index = store_index_open (path, error, error_size)))
        ;                           //  error says why
    else {
        recovery_report_t recovery;
        int rc = recovery_run (self->index, &recovery);
        if (rc)
            snprintf (error, error_size, "%s: start-up recovery failed: %s (see the log above)",
                      path, store_strerror (rc));
        else
        if (recovery.files_checked)
            zsys_info ("recovery: %" PRIu64 " open value files, %" PRIu64 " bytes cut, %" PRIu64
                       " records verified, %" PRIu64 " damaged", recovery.files_checked,
                       recovery.bytes_truncated, recovery.records_verified, recovery.records_damaged);
    }
    //  Before any append: files a compaction left behind
    if (!*error && compactor_clean_up (self->index, config) < 0)
        snprintf (error, error_size, "%s: cannot read the retired value files", path);
    if (!*error) {
        const char *volumes [NODE_CONFIG_MAX_VOLUMES];
        size_t volume_count = node_config_volume_list (config, volumes);
        self->values = value_store_new (volumes, volume_count, config->value_file_max_bytes,
                                        config->reserve_bytes,
                                        store_index_max_value_file_id (self->index) + 1);
        if (!self->values)
            snprintf (error, error_size, "cannot open the value-file volumes (see the log above)");
    }
    if (*error) {
        writer_core_destroy (&self);
        return NULL;
    }
    value_store_set_writeback (self->values, config->writeback_bytes);
    s_reload (self);
    writer_core_space_stats (self);
    return self;
}

void
writer_core_destroy (writer_core_t **self_p)
{
    assert (self_p);
    writer_core_t *self = *self_p;
    if (!self)
        return;
    work_t *work;
    while ((work = (work_t *) zlistx_detach (self->pending, NULL)))
        work_destroy (&work);
    zlistx_destroy (&self->pending);
    while ((work = (work_t *) zlistx_detach (self->answered, NULL)))
        work_destroy (&work);
    zlistx_destroy (&self->answered);
    active_set_destroy (&self->active);
    zhashx_destroy (&self->file_volumes);
    value_store_destroy (&self->values);
    //  A clean stop: nothing is open, recovery has nothing to do next time
    if (self->index && !store_index_in_transaction (self->index))
        store_index_close_value_files (self->index);
    store_index_destroy (&self->index);
    msgpack_sbuffer_destroy (&self->descriptor);
    free (self->iov);
    free (self);
    *self_p = NULL;
}
