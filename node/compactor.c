/*  =========================================================================
    compactor - reclaims the space of garbage in closed value files

    See compactor.h for the actor's protocol and docs/storage.md,
    "Compaction", for the steps and why each crash point is safe.
    =========================================================================
*/
#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include "compactor.h"
#include "digest.h"
#include "value_file.h"
#include "value_store.h"
#include "store_sql.h"
#include "request.h"
#include "timestamp.h"

//  A live sequence record of the file being compacted, from the index
typedef struct {
    int64_t segment_id;
    uint32_t sequence_num;
    uint64_t offset;
    uint64_t record_size;
    uint8_t md5 [DIGEST_MD5_SIZE];
} s_live_t;

//  A candidate file
typedef struct {
    uint64_t file_id;
    char volume [1024];
    uint64_t synced_size;
    uint64_t garbage_bytes;
} s_candidate_t;

typedef struct {
    zsock_t *pipe;                      //  to the writer
    const node_config_t *config;
    node_stats_t *stats;
    sqlite3 *db;                        //  read-only index connection
    bool terminated;                    //  $TERM received
    zlistx_t *runs;                     //  queued RUN requests (s_run_t *)
    zhashx_t *failed;                   //  file ids that failed to compact (skip them)
    int64_t pass_started_us;            //  throttle: when the budget started
    uint64_t pass_bytes;                //  throttle: bytes read and written since
    bool waiting_logged;                //  "waiting for space" said once
    request_t *request;                 //  a tombstone record's descriptor, decoded
    int64_t *dropped;                   //  tombstone rows left out of the current copy
    size_t dropped_count;
    size_t dropped_size;                //  entries allocated
} s_compactor_t;

typedef struct {
    double ratio;
    char pointer [32];                  //  the writer's work item, as sent
} s_run_t;

//  Kill points for the crash tests (STRATA_TEST_COMPACT_KILL = copy,
//  before-sync, before-commit, before-unlink): SIGKILL this process there
static void
s_kill_point (const char *where)
{
    const char *want = getenv ("STRATA_TEST_COMPACT_KILL");
    if (want && streq (want, where)) {
        zsys_warning ("compactor: STRATA_TEST_COMPACT_KILL=%s: killing the node", where);
        raise (SIGKILL);
    }
}


//  --------------------------------------------------------------------------
//  Messages from the writer

//  Handle one message on the pipe that is not an answer the caller waits
//  for (RUN, $TERM). Returns the message if it is one of `expected` (the
//  caller owns it), else NULL.
static zmsg_t *
s_receive (s_compactor_t *self, const char *expected)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true;
        return NULL;
    }
    char *command = zmsg_popstr (msg);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "RUN")) {
        char *ratio = zmsg_popstr (msg);
        char *pointer = zmsg_popstr (msg);
        s_run_t *run = (s_run_t *) zmalloc (sizeof (s_run_t));
        run->ratio = self->config->compact_garbage_ratio;
        if (ratio && *ratio)
            node_config_parse_ratio (ratio, &run->ratio);
        snprintf (run->pointer, sizeof (run->pointer), "%s", pointer? pointer: "");
        zlistx_add_end (self->runs, run);
        zstr_free (&ratio);
        zstr_free (&pointer);
    }
    else
    if (expected && streq (command, expected)) {
        zstr_free (&command);
        return msg;
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
    return NULL;
}

//  Wait for the answer `expected` (RUN and $TERM are handled meanwhile).
//  NULL if the actor is told to stop first.
static zmsg_t *
s_wait_for (s_compactor_t *self, const char *expected)
{
    while (!self->terminated) {
        zmsg_t *msg = s_receive (self, expected);
        if (msg)
            return msg;
    }
    return NULL;
}

//  Sleep for up to msecs, handling pipe messages; false if told to stop
static bool
s_pause (s_compactor_t *self, int64_t msecs)
{
    int64_t until = zclock_mono () + msecs;
    while (!self->terminated) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            break;
        zmq_pollitem_t item = { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) > 0 && (item.revents & ZMQ_POLLIN))
            s_receive (self, NULL);
    }
    return !self->terminated;
}

//  Count bytes against compact/bytes-per-second; sleep when ahead
static bool
s_throttle (s_compactor_t *self, uint64_t bytes)
{
    self->pass_bytes += bytes;
    double due_ms = (double) self->pass_bytes * 1000.0 / (double) self->config->compact_bytes_per_second;
    int64_t elapsed_ms = (zclock_usecs () - self->pass_started_us) / 1000;
    if (due_ms > (double) elapsed_ms + 1)
        return s_pause (self, (int64_t) due_ms - elapsed_ms);
    return !self->terminated;
}


//  --------------------------------------------------------------------------
//  Reading the index

static int
s_open_index (s_compactor_t *self)
{
    if (self->db)
        return 0;
    char path [1100];
    snprintf (path, sizeof (path), "%s/index.db", self->config->data_dir);
    if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        zsys_error ("compactor: cannot open %s: %s", path, self->db? sqlite3_errmsg (self->db): "?");
        sqlite3_close (self->db);
        self->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout (self->db, 1000);
    return 0;
}

//  The files worth compacting at ratio, most garbage first
static zlistx_t *
s_candidates (s_compactor_t *self, double ratio, bool every)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    sqlite3_stmt *statement = store_sql_once (self->db, "compactor",
            "SELECT id, volume, synced_size, garbage_bytes FROM value_file"
            " WHERE closed = 1 AND synced_size > 0 AND (garbage_bytes > 0 OR ?2)"
            " AND garbage_bytes >= ?1 * synced_size"
            " ORDER BY garbage_bytes * 1.0 / synced_size DESC, id");
    if (!statement)
        return list;
    sqlite3_bind_double (statement, 1, ratio);
    //  Asked for ratio 0: every closed file, also those without garbage
    //  (their old tombstones are collected)
    sqlite3_bind_int (statement, 2, every);
    while (sqlite3_step (statement) == SQLITE_ROW) {
        s_candidate_t *candidate = (s_candidate_t *) zmalloc (sizeof (s_candidate_t));
        candidate->file_id = (uint64_t) sqlite3_column_int64 (statement, 0);
        snprintf (candidate->volume, sizeof (candidate->volume), "%s",
                  (const char *) sqlite3_column_text (statement, 1));
        candidate->synced_size = (uint64_t) sqlite3_column_int64 (statement, 2);
        candidate->garbage_bytes = (uint64_t) sqlite3_column_int64 (statement, 3);
        char id_text [32];
        snprintf (id_text, sizeof (id_text), "%" PRIu64, candidate->file_id);
        if (zhashx_lookup (self->failed, id_text))
            free (candidate);
        else
            zlistx_add_end (list, candidate);
    }
    sqlite3_finalize (statement);
    return list;
}

//  The live sequence records of a file, by offset; count in *count_p.
//  NULL on error.
static s_live_t *
s_live_records (s_compactor_t *self, uint64_t file_id, size_t *count_p)
{
    sqlite3_stmt *statement = store_sql_once (self->db, "compactor",
            "SELECT q.segment_id, q.sequence_num, q.record_offset, q.record_size, q.md5"
            " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
            " WHERE q.value_file_id = ?1 AND s.garbage = 0 ORDER BY q.record_offset");
    if (!statement)
        return NULL;
    sqlite3_bind_int64 (statement, 1, (int64_t) file_id);
    size_t count = 0, size = 64;
    s_live_t *records = (s_live_t *) malloc (size * sizeof (s_live_t));
    int rc;
    while (records && (rc = sqlite3_step (statement)) == SQLITE_ROW) {
        if (count == size) {
            size *= 2;
            s_live_t *bigger = (s_live_t *) realloc (records, size * sizeof (s_live_t));
            if (!bigger) {
                free (records);
                records = NULL;
                break;
            }
            records = bigger;
        }
        s_live_t *record = &records [count++];
        record->segment_id = sqlite3_column_int64 (statement, 0);
        record->sequence_num = (uint32_t) sqlite3_column_int64 (statement, 1);
        record->offset = (uint64_t) sqlite3_column_int64 (statement, 2);
        record->record_size = (uint64_t) sqlite3_column_int64 (statement, 3);
        memset (record->md5, 0, DIGEST_MD5_SIZE);
        if (sqlite3_column_bytes (statement, 4) == DIGEST_MD5_SIZE)
            memcpy (record->md5, sqlite3_column_blob (statement, 4), DIGEST_MD5_SIZE);
    }
    if (records && rc != SQLITE_DONE) {
        zsys_error ("compactor: reading the index: %s", sqlite3_errmsg (self->db));
        free (records);
        records = NULL;
    }
    sqlite3_finalize (statement);
    *count_p = count;
    return records;
}


//  --------------------------------------------------------------------------
//  One file

//  Free bytes on volume (statvfs); 0 if unknown
static uint64_t
s_free_space (const char *volume)
{
    struct statvfs status;
    if (statvfs (volume, &status) != 0)
        return 0;
    return (uint64_t) status.f_bavail * status.f_frsize;
}

static int
s_sync_dir (const char *volume)
{
    char path [1100];
    snprintf (path, sizeof (path), "%s/values", volume);
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc == 0 || errno == EINVAL? 0: -1;
}

//  May the tombstone whose record (descriptor in descriptor) this is be
//  dropped? Its row id into *row_p when it may.
static bool
s_tombstone_droppable (s_compactor_t *self, const value_record_t *record, const uint8_t *descriptor,
                       int64_t *row_p)
{
    request_error_t error;
    if (request_decode (self->request, descriptor, record->descriptor_size, &error)
    ||  self->request->type != MSG_DESTROY_KEY)
        return false;
    //  Not logged: a tombstone that cannot be judged is simply kept
    sqlite3_stmt *statement = store_sql_once (self->db, NULL,
            "SELECT t.id FROM segment AS t LEFT JOIN node_name AS n ON n.id = t.handoff_node_id"
            " WHERE t.status = 'T' AND t.collection_id = ?1 AND t.key = ?2 AND t.unified_id = ?3"
            " AND t.segment_num = ?4 AND IFNULL (n.name, '') = ?5 AND t.created_us < ?6"
            " AND " STORE_INDEX_TOMBSTONE_ALONE " ORDER BY t.id");
    if (!statement)
        return false;
    const request_t *request = self->request;
    sqlite3_bind_int64 (statement, 1, request->collection_id);
    sqlite3_bind_text (statement, 2, request->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, store_index_uid_to_db (request->unified_id));
    sqlite3_bind_int (statement, 4, request->segment_num);
    sqlite3_bind_text (statement, 5, request->handoff_node_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 6, timestamp_now ()
                        - (int64_t) self->config->compact_tombstone_grace_seconds * 1000000);
    bool droppable = false;
    while (!droppable && sqlite3_step (statement) == SQLITE_ROW) {
        int64_t row = sqlite3_column_int64 (statement, 0);
        //  One record per row: a resent tombstone has its own row
        bool taken = false;
        for (size_t index = 0; index < self->dropped_count && !taken; index++)
            taken = self->dropped [index] == row;
        if (!taken) {
            *row_p = row;
            droppable = true;
        }
    }
    sqlite3_finalize (statement);
    return droppable;
}

//  Copy the records of the old file that are kept into the new one:
//  live sequences (verified) and every state-change record. Fills moves
//  (room for live_count) and *kept_bytes_p. 0, or -1 with why filled.
static int
s_copy_records (s_compactor_t *self, int old_fd, uint64_t old_size, value_file_t *output,
                const s_live_t *live, size_t live_count, index_move_t *moves,
                uint64_t *kept_bytes_p, char *why, size_t why_size)
{
    size_t next_live = 0;
    size_t copied = 0;
    uint64_t offset = 0;
    uint8_t *descriptor = (uint8_t *) malloc (VALUE_RECORD_DESCRIPTOR_MAX);
    int rc = descriptor? 0: -1;
    if (!descriptor)
        snprintf (why, why_size, "out of memory");
    while (rc == 0 && offset < old_size) {
        value_record_t record;
        int header_rc = value_file_read_header (old_fd, offset, old_size, &record);
        if (header_rc) {
            snprintf (why, why_size, "offset %" PRIu64 ": no well-formed record header", offset);
            rc = -1;
            break;
        }
        uint64_t size = value_file_record_size (record.descriptor_size, record.payload_size);
        bool is_live = next_live < live_count && live [next_live].offset == offset;
        if (next_live < live_count && live [next_live].offset < offset) {
            snprintf (why, why_size, "offset %" PRIu64 ": the index names a record that is not on"
                      " a record boundary", live [next_live].offset);
            rc = -1;
            break;
        }
        bool keep = is_live || (record.type != RECORD_SEQUENCE && record.type != RECORD_ORIGIN);
        if (!keep) {
            offset += size;
            continue;
        }
        //  A tombstone past its grace with nothing left to delete is dropped
        if (record.type == RECORD_TOMBSTONE) {
            int read_rc = value_file_read_record (old_fd, offset, &record, descriptor, NULL);
            int64_t row = 0;
            if (read_rc == 0 && s_tombstone_droppable (self, &record, descriptor, &row)) {
                if (self->dropped_count == self->dropped_size) {
                    self->dropped_size = self->dropped_size? self->dropped_size * 2: 16;
                    self->dropped = (int64_t *) realloc (self->dropped,
                                                          self->dropped_size * sizeof (int64_t));
                    assert (self->dropped);
                }
                self->dropped [self->dropped_count++] = row;
                offset += size;
                continue;
            }
        }
        uint8_t *payload = NULL;
        if (record.payload_size) {
            payload = (uint8_t *) malloc (record.payload_size);
            if (!payload) {
                snprintf (why, why_size, "out of memory for a record of %" PRIu64 " bytes", size);
                rc = -1;
                break;
            }
        }
        int read_rc = value_file_read_record (old_fd, offset, &record, descriptor, payload);
        if (read_rc) {
            snprintf (why, why_size, "offset %" PRIu64 ": %s", offset,
                      read_rc == STORE_ERR_CORRUPT? "CRC32C mismatch": store_strerror (read_rc));
            free (payload);
            rc = -1;
            break;
        }
        if (is_live) {
            uint8_t md5 [DIGEST_MD5_SIZE];
            digest_md5 (payload, record.payload_size, md5);
            if (record.type != RECORD_SEQUENCE || size != live [next_live].record_size
            ||  memcmp (md5, live [next_live].md5, DIGEST_MD5_SIZE)
            ||  memcmp (md5, record.payload_md5, DIGEST_MD5_SIZE)) {
                snprintf (why, why_size, "offset %" PRIu64 ": the record does not match its index"
                          " row (type, size or payload MD5)", offset);
                free (payload);
                rc = -1;
                break;
            }
        }
        struct iovec piece = { payload, record.payload_size };
        uint64_t new_offset = 0;
        int append_rc = value_file_append (output, &record, descriptor, &piece,
                                           record.payload_size? 1: 0, &new_offset);
        free (payload);
        if (append_rc) {
            snprintf (why, why_size, "writing the copy: %s", store_strerror (append_rc));
            rc = -1;
            break;
        }
        if (is_live) {
            moves [next_live] = (index_move_t) {
                .segment_id = live [next_live].segment_id,
                .sequence_num = live [next_live].sequence_num,
                .old_offset = offset,
                .new_offset = new_offset,
            };
            next_live++;
        }
        else
            *kept_bytes_p += size;
        if (++copied == 1)
            s_kill_point ("copy");
        offset += size;
        if (!s_throttle (self, 2 * size)) {
            snprintf (why, why_size, "stopped");
            rc = -1;
        }
    }
    if (rc == 0 && next_live != live_count) {
        snprintf (why, why_size, "%zu live records were not found in the file", live_count - next_live);
        rc = -1;
    }
    free (descriptor);
    return rc;
}

//  Compact one file. Returns 1 when done (*reclaimed_p set), 0 when it
//  must wait (space) or was abandoned, -1 when told to stop.
static int
s_compact_file (s_compactor_t *self, const s_candidate_t *candidate, uint64_t *reclaimed_p)
{
    //  Space: the copy is at most the old file's size, beyond the reserve
    uint64_t free_bytes = s_free_space (candidate->volume);
    if (free_bytes < candidate->synced_size + self->config->reserve_bytes) {
        atomic_store (&self->stats->compact_waiting_for_space, 1);
        if (!self->waiting_logged)
            zsys_warning ("compactor: waiting for space: value file %016" PRIx64 " needs %" PRIu64
                          " bytes free beyond the reserve of %" PRIu64 " on %s, which has %" PRIu64,
                          candidate->file_id, candidate->synced_size, self->config->reserve_bytes,
                          candidate->volume, free_bytes);
        self->waiting_logged = true;
        return 0;
    }
    atomic_store (&self->stats->compact_waiting_for_space, 0);
    self->waiting_logged = false;

    size_t live_count = 0;
    s_live_t *live = NULL;
    if (sqlite3_exec (self->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
        live = s_live_records (self, candidate->file_id, &live_count);
        sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL);
    }
    if (!live)
        return 0;

    char old_path [1200], new_path [1200];
    value_store_path (candidate->volume, candidate->file_id, old_path, sizeof (old_path));
    int old_fd = open (old_path, O_RDONLY | O_CLOEXEC);
    if (old_fd < 0) {
        zsys_error ("compactor: %s: %s", old_path, strerror (errno));
        free (live);
        return 0;
    }
    posix_fadvise (old_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    //  Its place in the order of replay: kept through every compaction
    uint64_t origin = candidate->file_id;
    value_record_t first;
    if (value_file_read_header (old_fd, 0, candidate->synced_size, &first) == 0
    &&  first.type == RECORD_ORIGIN)
        origin = first.unified_id;

    //  A new file id from the writer (ids are unique across the node)
    zstr_send (self->pipe, "ID?");
    zmsg_t *answer = s_wait_for (self, "ID");
    if (!answer) {
        close (old_fd);
        free (live);
        return -1;
    }
    char *id_text = zmsg_popstr (answer);
    uint64_t new_id = id_text? strtoull (id_text, NULL, 10): 0;
    zstr_free (&id_text);
    zmsg_destroy (&answer);
    if (new_id == 0) {
        close (old_fd);
        free (live);
        return 0;
    }
    value_store_path (candidate->volume, new_id, new_path, sizeof (new_path));
    value_file_t *output = value_file_create (new_path);
    if (!output || s_sync_dir (candidate->volume)) {
        zsys_error ("compactor: %s: cannot create: %s", new_path, strerror (errno));
        value_file_destroy (&output);
        close (old_fd);
        free (live);
        return 0;
    }
    //  Write back as it goes: the final fdatasync has little left to do, and
    //  the disk never gets a burst of a whole file's dirty pages at once
    value_file_set_writeback (output, 8 * 1024 * 1024);
    value_record_t origin_record = { .type = RECORD_ORIGIN, .unified_id = origin };
    digest_md5 (NULL, 0, origin_record.payload_md5);
    uint64_t origin_offset;
    index_move_t *moves = (index_move_t *) calloc (live_count + 1, sizeof (index_move_t));
    uint64_t kept_bytes = 0;
    char why [300] = "";
    self->dropped_count = 0;
    int rc = moves? 0: -1;
    if (rc == 0 && value_file_append (output, &origin_record, NULL, NULL, 0, &origin_offset)) {
        snprintf (why, sizeof (why), "cannot write the origin record");
        rc = -1;
    }
    kept_bytes += value_file_record_size (0, 0);
    if (rc == 0)
        rc = s_copy_records (self, old_fd, candidate->synced_size, output, live, live_count,
                             moves, &kept_bytes, why, sizeof (why));
    close (old_fd);
    if (rc == 0) {
        s_kill_point ("before-sync");
        int sync_rc = value_file_sync (output);
        if (sync_rc) {
            snprintf (why, sizeof (why), "sync of the copy: %s", store_strerror (sync_rc));
            rc = -1;
        }
    }
    uint64_t new_size = value_file_size (output);
    value_file_destroy (&output);
    if (rc == 0) {
        s_kill_point ("before-commit");
        index_compaction_t compaction = {
            .old_file_id = candidate->file_id,
            .old_volume = candidate->volume,
            .new_file_id = new_id,
            .volume = candidate->volume,
            .new_size = new_size,
            .kept_bytes = kept_bytes,
            .moves = moves,
            .move_count = live_count,
            .dropped = self->dropped,
            .dropped_count = self->dropped_count,
        };
        zsock_send (self->pipe, "sp", "APPLY", &compaction);
        zmsg_t *applied = s_wait_for (self, "APPLIED");
        if (!applied) {
            //  Told to stop: the writer may still commit it; either way
            //  start-up removes whichever file the index does not name
            free (moves);
            free (live);
            return -1;
        }
        char *rc_text = zmsg_popstr (applied);
        char *bytes_text = zmsg_popstr (applied);
        rc = rc_text && streq (rc_text, "0")? 0: -1;
        *reclaimed_p = bytes_text? strtoull (bytes_text, NULL, 10): 0;
        zstr_free (&rc_text);
        zstr_free (&bytes_text);
        zmsg_destroy (&applied);
        if (rc)
            snprintf (why, sizeof (why), "the index update failed");
    }
    free (moves);
    free (live);
    if (rc) {
        unlink (new_path);
        if (self->terminated)
            return -1;
        zsys_error ("compactor: value file %016" PRIx64 " not compacted: %s", candidate->file_id, why);
        char key [32];
        snprintf (key, sizeof (key), "%" PRIu64, candidate->file_id);
        zhashx_insert (self->failed, key, (void *) 1);
        return 0;
    }
    //  Committed: the old file is no longer referenced. A reader that took
    //  its snapshot before the commit may still look there: give it a
    //  moment (start-up removes the file if the node stops first)
    s_kill_point ("before-unlink");
    s_pause (self, 500);
    if (unlink (old_path) && errno != ENOENT)
        zsys_error ("compactor: cannot remove %s: %s", old_path, strerror (errno));
    atomic_fetch_add (&self->stats->compactions, 1);
    atomic_fetch_add (&self->stats->compacted_bytes, *reclaimed_p);
    zsys_info ("compactor: value file %016" PRIx64 " (%" PRIu64 " bytes) compacted into %016" PRIx64
               " (%" PRIu64 " bytes, %zu live records, %zu tombstones dropped)", candidate->file_id,
               candidate->synced_size, new_id, new_size, live_count, self->dropped_count);
    return 1;
}

//  One pass over the files at ratio; counts what was done
static void
s_pass (s_compactor_t *self, double ratio, bool asked, uint64_t *files_p, uint64_t *bytes_p,
        bool *waiting_p)
{
    *files_p = *bytes_p = 0;
    *waiting_p = false;
    if (s_open_index (self))
        return;
    zlistx_t *candidates = s_candidates (self, ratio, asked && ratio <= 0);
    self->pass_started_us = zclock_usecs ();
    self->pass_bytes = 0;
    bool waited = false;
    for (s_candidate_t *candidate = (s_candidate_t *) zlistx_first (candidates);
         candidate && !self->terminated;
         candidate = (s_candidate_t *) zlistx_next (candidates)) {
        uint64_t reclaimed = 0;
        int rc = s_compact_file (self, candidate, &reclaimed);
        if (rc < 0)
            break;
        if (rc == 1) {
            (*files_p)++;
            *bytes_p += reclaimed;
        }
        else
        if (atomic_load (&self->stats->compact_waiting_for_space))
            waited = true;
    }
    if (!waited)
        atomic_store (&self->stats->compact_waiting_for_space, 0);
    *waiting_p = waited;
    zlistx_destroy (&candidates);
}

void
compactor_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "strata-compact");
    //  Background work: this thread gives way to the writer and reader for
    //  the CPU (MD5 and CRC32C of what it copies)
    if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10) != 0)
        zsys_debug ("compactor: cannot lower the thread's priority: %s", strerror (errno));
    compactor_args_t *arguments = (compactor_args_t *) args;
    s_compactor_t self = {
        .pipe = pipe, .config = arguments->config, .stats = arguments->stats,
    };
    self.runs = zlistx_new ();
    zlistx_set_destructor (self.runs, (zlistx_destructor_fn *) zstr_free);
    self.failed = zhashx_new ();
    self.request = request_new ();
    assert (self.request);
    zsock_signal (pipe, 0);

    int64_t next_pass = zclock_mono () + (int64_t) self.config->compact_interval_ms;
    while (!self.terminated) {
        s_run_t *run = (s_run_t *) zlistx_detach (self.runs, NULL);
        if (run) {
            uint64_t files, bytes;
            bool waiting;
            s_pass (&self, run->ratio, true, &files, &bytes, &waiting);
            if (!self.terminated) {
                char files_text [32], bytes_text [32];
                snprintf (files_text, sizeof (files_text), "%" PRIu64, files);
                snprintf (bytes_text, sizeof (bytes_text), "%" PRIu64, bytes);
                zstr_sendx (pipe, "DONE", run->pointer, files_text, bytes_text,
                            waiting? "waiting for space": "", NULL);
            }
            free (run);
            continue;
        }
        long timeout = -1;
        if (self.config->compact_enabled) {
            int64_t left = next_pass - zclock_mono ();
            timeout = left > 0? (long) left: 0;
        }
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, timeout);
        if (rc > 0 && (item.revents & ZMQ_POLLIN)) {
            s_receive (&self, NULL);
            continue;
        }
        if (self.config->compact_enabled && zclock_mono () >= next_pass) {
            uint64_t files, bytes;
            bool waiting;
            s_pass (&self, self.config->compact_garbage_ratio, false, &files, &bytes, &waiting);
            next_pass = zclock_mono () + (int64_t) self.config->compact_interval_ms;
        }
    }
    zlistx_destroy (&self.runs);
    zhashx_destroy (&self.failed);
    request_destroy (&self.request);
    free (self.dropped);
    sqlite3_close (self.db);
}


//  --------------------------------------------------------------------------
//  Start-up clean-up

typedef struct {
    store_index_t *index;
    int removed;
} s_clean_t;

static void
s_remove_retired (void *arg, uint64_t file_id, const char *volume, uint64_t unused)
{
    (void) unused;
    s_clean_t *clean = (s_clean_t *) arg;
    if (store_index_has_value_file (clean->index, file_id))
        return;
    char path [1200];
    if (value_store_path (volume, file_id, path, sizeof (path)))
        return;
    if (unlink (path) == 0) {
        zsys_info ("compactor: removed %s (replaced by a compaction before the node stopped)", path);
        clean->removed++;
    }
    else
    if (errno != ENOENT)
        zsys_error ("compactor: cannot remove %s: %s", path, strerror (errno));
}

int
compactor_clean_up (store_index_t *index, const node_config_t *config)
{
    s_clean_t clean = { .index = index };
    if (store_index_begin (index)
    ||  store_index_take_retired (index, s_remove_retired, &clean)
    ||  store_index_commit (index)) {
        store_index_rollback (index);
        return -1;
    }
    for (size_t volume_index = 0; volume_index < config->volume_count; volume_index++) {
        const char *volume = config->volumes [volume_index];
        char directory [1100];
        snprintf (directory, sizeof (directory), "%s/values", volume);
        DIR *handle = opendir (directory);
        if (!handle)
            continue;
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            const char *name = entry->d_name;
            if (strlen (name) != 20 || strcmp (name + 16, ".val")
            ||  strspn (name, "0123456789abcdef") != 16)
                continue;
            uint64_t file_id = strtoull (name, NULL, 16);
            if (store_index_has_value_file (index, file_id))
                continue;
            char path [1200];
            snprintf (path, sizeof (path), "%s/%s", directory, name);
            int fd = open (path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            struct stat status;
            value_record_t record;
            bool compaction_output = fstat (fd, &status) == 0
                && value_file_read_header (fd, 0, (uint64_t) status.st_size, &record) == 0
                && record.type == RECORD_ORIGIN;
            close (fd);
            if (compaction_output && unlink (path) == 0) {
                zsys_info ("compactor: removed %s (a compaction's output that was never committed)", path);
                clean.removed++;
            }
        }
        closedir (handle);
    }
    return clean.removed;
}
