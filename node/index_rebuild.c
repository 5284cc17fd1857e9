/*  =========================================================================
    index_rebuild - strata-node --rebuild-index: rebuild the index from the
    value files alone

    Every record the writer appends describes one state change: its header
    names the segment, its descriptor is the request header re-encoded
    (proto/request.h), its payload is a sequence's data. Replaying the
    records of every value file, in file id then offset order (the order
    the single writer appended them in), through the writer's own rules
    gives back the index:

    * sequence records (archive-key-entire/start/next/final): entire and
      start insert an active segment (refused if that identity is active
      already), next and final extend an active one (same collection and
      key, sequence number = last + 1), entire and final finish it with the
      descriptor's file-size, file-adler32, file-hash and meta;
    * cancel records: the segment the header names is cancelled if active
      (for web-writer-start: only if it is the sender's and older); a
      web-writer-start that cancelled nothing left a record naming no
      segment (identity zero), which changes nothing;
    * tombstone records (destroy-key) insert a tombstone;
    * conjoined records start, finish or abort (cancelling parts >= 1 of
      that unified-id and key) a conjoined archive;
    * purge records (purge-handoff) mark the handoff copies they name as
      forwarded (forwarded_us = the time of the rebuild: the record does not
      carry the original time).

    A record that cannot happen under those rules (a next without its start,
    a gap in sequence numbers, ...) is skipped and reported. A record whose
    header is not well formed ends its file's scan; one whose CRC32C fails
    is reported and skipped only if a well-formed record header follows it
    at once (the header's sizes are then trustworthy), else it ends the scan.

    The new index is written to <data-dir>/index.db.rebuild (committed in
    batches; it is not in use until swapped in), synced, then swapped in:
    the old index is checkpointed and hard-linked as index.db.old (any WAL it
    still has moves along as index.db.old-wal) and index.db.rebuild is
    renamed over index.db, atomically; then the directory is synced.
    =========================================================================
*/
#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include "index_rebuild.h"
#include "active_set.h"
#include "index_rows.h"
#include "store_index.h"
#include "value_file.h"
#include "value_store.h"
#include "store_sql.h"
#include "request.h"
#include "timestamp.h"

#define S_CHUNK_SIZE        (4 * 1024 * 1024)   //  payload bytes read at a time
#define S_BATCH_RECORDS     20000               //  records per index transaction

//  One value file found on a volume
typedef struct {
    uint64_t file_id;               //  from its name
    char *volume;                   //  the volume it is on
    uint64_t place;                 //  its place in the order of replay: the file id,
                                    //  or for a compaction's output the id of the
                                    //  file it replaced (its first record, RECORD_ORIGIN)
} s_file_t;


//  The state of one run
typedef struct {
    const node_config_t *config;    //  the node's settings
    FILE *out;                      //  where lines go
    store_index_t *index;           //  the new index
    active_set_t *active;           //  active segments by identity
    request_t *request;             //  decoded descriptor, reused
    uint8_t *descriptor;            //  VALUE_RECORD_DESCRIPTOR_MAX bytes
    uint8_t *buffer;                //  S_CHUNK_SIZE bytes of scratch
    const char *path;               //  value file being scanned
    uint64_t file_id;               //  its id
    uint64_t offset;                //  record being replayed
    uint64_t batch;                 //  records since the last commit
    //  Figures for the summary
    uint64_t files;                 //  value files scanned
    uint64_t records;               //  intact records read
    uint64_t bytes;                 //  bytes of intact records
    uint64_t skipped;               //  records not replayed
    uint64_t bad_records;           //  records that failed their checks
    uint64_t files_cut_short;       //  files whose scan ended before their end
    bool swapped;                   //  the new index is in place
} s_rebuild_t;

static void
s_file_destroy (s_file_t **file_p)
{
    s_file_t *file = *file_p;
    if (file) {
        free (file->volume);
        free (file);
        *file_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Reporting

//  A record not replayed; returns 1 (the replay result "skipped")
static int
s_skip (s_rebuild_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_skip (s_rebuild_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (self->out, "skipped: %s:%" PRIu64 ": ", self->path, self->offset);
    vfprintf (self->out, format, args);
    fputc ('\n', self->out);
    va_end (args);
    self->skipped++;
    return 1;
}

//  A record that failed its checks
static void
s_bad (s_rebuild_t *self, uint64_t offset, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_bad (s_rebuild_t *self, uint64_t offset, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (self->out, "problem: %s:%" PRIu64 ": ", self->path, offset);
    vfprintf (self->out, format, args);
    fputc ('\n', self->out);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  Replay: each returns 0 applied, 1 skipped (reported), -1 index failure

//  Node rows as the writer resolves them: the source name ("" if absent),
//  the handoff name (0 if absent)
static int
s_node_rows (s_rebuild_t *self, int64_t *source_id_p, int64_t *handoff_id_p)
{
    request_t *request = self->request;
    *handoff_id_p = 0;
    int rc = store_index_node_id (self->index,
        (request->present & FIELD_SOURCE_NODE_NAME)? request->source_node_name: "", source_id_p);
    if (rc == 0 && (request->present & FIELD_HANDOFF_NODE_NAME))
        rc = store_index_node_id (self->index, request->handoff_node_name, handoff_id_p);
    return rc? -1: 0;
}

static int
s_replay_sequence (s_rebuild_t *self, const value_record_t *record)
{
    request_t *request = self->request;
    message_type_t type = request->type;
    if (type != MSG_ARCHIVE_KEY_ENTIRE && type != MSG_ARCHIVE_KEY_START
    &&  type != MSG_ARCHIVE_KEY_NEXT && type != MSG_ARCHIVE_KEY_FINAL)
        return s_skip (self, "a sequence record with a %s descriptor", message_type_name (type));
    if (record->unified_id != request->unified_id || record->conjoined_part != request->conjoined_part
    ||  record->segment_num != request->segment_num || record->collection_id != request->collection_id
    ||  record->sequence_num != request->sequence_num)
        return s_skip (self, "the record header and its %s descriptor name different segments"
                       " or sequences", message_type_name (type));
    if (record->payload_size != request->segment_size)
        return s_skip (self, "payload of %" PRIu64 " bytes, but segment-size is %" PRIu64,
                       record->payload_size, request->segment_size);

    bool first = type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_START;
    bool last = type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_FINAL;
    active_segment_t *active = active_set_find (self->active, request->unified_id,
                                                request->conjoined_part, request->segment_num);
    if (first && active)
        return s_skip (self, "%s of segment %" PRIu64 "/%" PRIu32 "/%u, which is already active",
                       message_type_name (type), request->unified_id, request->conjoined_part,
                       request->segment_num);
    if (!first) {
        if (!active)
            return s_skip (self, "%s of segment %" PRIu64 "/%" PRIu32 "/%u, which is not active",
                           message_type_name (type), request->unified_id,
                           request->conjoined_part, request->segment_num);
        if (active->collection_id != request->collection_id || strcmp (active->key, request->key))
            return s_skip (self, "%s: collection-id/key differ from those of the active segment",
                           message_type_name (type));
        if ((int64_t) request->sequence_num != active->last_sequence_num + 1)
            return s_skip (self, "%s: sequence %" PRIu32 ", but %" PRId64 " was expected",
                           message_type_name (type), request->sequence_num,
                           active->last_sequence_num + 1);
    }
    int64_t segment_id, source_id = 0, handoff_id = 0;
    if (first) {
        if (s_node_rows (self, &source_id, &handoff_id))
            return -1;
        index_segment_t segment;
        index_finish_t unused;
        index_rows_from_request (request, 'A', source_id, handoff_id, &segment, &unused);
        if (store_index_insert_segment (self->index, &segment, &segment_id))
            return -1;
    }
    else
        segment_id = active->segment_id;

    index_sequence_t sequence;
    index_rows_sequence (request, segment_id, self->file_id, self->offset,
                         value_file_record_size (record->descriptor_size, record->payload_size),
                         record->payload_size, record->payload_md5, &sequence);
    if (store_index_insert_sequence (self->index, &sequence))
        return -1;
    if (last) {
        index_segment_t unused;
        index_finish_t finish;
        index_rows_from_request (request, 'F', 0, 0, &unused, &finish);
        if (store_index_finish_segment (self->index, segment_id, &finish))
            return -1;
    }
    if (type == MSG_ARCHIVE_KEY_START) {
        active_segment_t started;
        index_rows_started (request, segment_id, source_id, handoff_id, &started);
        active_set_add (self->active, &started);
    }
    else
    if (type == MSG_ARCHIVE_KEY_NEXT)
        active->last_sequence_num = request->sequence_num;
    else
    if (type == MSG_ARCHIVE_KEY_FINAL)
        active_set_remove (self->active, active);
    return 0;
}

static int
s_replay_cancel (s_rebuild_t *self, const value_record_t *record)
{
    request_t *request = self->request;
    if (request->type != MSG_ARCHIVE_KEY_CANCEL && request->type != MSG_WEB_WRITER_START)
        return s_skip (self, "a cancel record with a %s descriptor",
                       message_type_name (request->type));
    //  The header names the cancelled segment, whatever the request was
    active_segment_t *active = active_set_find (self->active, record->unified_id,
                                                record->conjoined_part, record->segment_num);
    if (request->type == MSG_WEB_WRITER_START) {
        //  The writer resolves the sender's name whether or not anything
        //  is cancelled
        int64_t source_id;
        if (store_index_node_id (self->index, request->source_node_name, &source_id))
            return -1;
        if (!active) {
            if (record->unified_id == 0 && record->conjoined_part == 0 && record->segment_num == 0)
                return 0;       //  it cancelled nothing
            return s_skip (self, "web-writer-start cancels segment %" PRIu64 "/%" PRIu32 "/%u,"
                           " which is not active", record->unified_id, record->conjoined_part,
                           record->segment_num);
        }
        if (active->source_node_id != source_id || active->timestamp_us >= request->timestamp)
            return s_skip (self, "web-writer-start from '%s' cancels segment %" PRIu64 "/%" PRIu32
                           "/%u, which is not that sender's or not older",
                           request->source_node_name, record->unified_id,
                           record->conjoined_part, record->segment_num);
    }
    else
    if (!active)
        return s_skip (self, "archive-key-cancel of segment %" PRIu64 "/%" PRIu32 "/%u, which is"
                       " not active", record->unified_id, record->conjoined_part,
                       record->segment_num);
    if (store_index_set_status (self->index, active->segment_id, 'C'))
        return -1;
    active_set_remove (self->active, active);
    return 0;
}

static int
s_replay_tombstone (s_rebuild_t *self)
{
    request_t *request = self->request;
    if (request->type != MSG_DESTROY_KEY)
        return s_skip (self, "a tombstone record with a %s descriptor",
                       message_type_name (request->type));
    int64_t source_id, handoff_id;
    if (s_node_rows (self, &source_id, &handoff_id))
        return -1;
    index_segment_t tombstone;
    index_rows_tombstone (request, source_id, handoff_id, &tombstone);
    int64_t segment_id;
    return store_index_insert_segment (self->index, &tombstone, &segment_id)? -1: 0;
}

static int
s_replay_conjoined (s_rebuild_t *self)
{
    request_t *request = self->request;
    message_type_t type = request->type;
    if (type != MSG_START_CONJOINED_ARCHIVE && type != MSG_ABORT_CONJOINED_ARCHIVE
    &&  type != MSG_FINISH_CONJOINED_ARCHIVE)
        return s_skip (self, "a conjoined record with a %s descriptor", message_type_name (type));
    int64_t source_id, handoff_id;
    if (s_node_rows (self, &source_id, &handoff_id))
        return -1;
    int64_t conjoined_id = 0;
    if (store_index_find_active_conjoined (self->index, request->collection_id, request->key,
                                           request->unified_id, handoff_id, &conjoined_id))
        return -1;
    if (type == MSG_START_CONJOINED_ARCHIVE) {
        if (conjoined_id)
            return s_skip (self, "start-conjoined-archive of %" PRIu64 ", which is already active",
                           request->unified_id);
        return store_index_insert_conjoined (self->index, request->collection_id, request->key,
                                             request->unified_id, request->timestamp,
                                             handoff_id)? -1: 0;
    }
    if (!conjoined_id)
        return s_skip (self, "%s of %" PRIu64 ", which is not active", message_type_name (type),
                       request->unified_id);
    if (type == MSG_FINISH_CONJOINED_ARCHIVE)
        return store_index_set_conjoined_status (self->index, conjoined_id, 'F')? -1: 0;

    int cancelled = 0;
    if (store_index_set_conjoined_status (self->index, conjoined_id, 'C')
    ||  store_index_cancel_conjoined_parts (self->index, request->collection_id, request->key,
                                            request->unified_id, handoff_id, &cancelled))
        return -1;
    if (cancelled)
        //  Forget the active parts of the aborted archive
        active_set_remove_parts (self->active, request->collection_id, request->key,
                                 request->unified_id, handoff_id);
    return 0;
}

static int
s_replay_purge (s_rebuild_t *self)
{
    request_t *request = self->request;
    if (request->type != MSG_PURGE_HANDOFF)
        return s_skip (self, "a purge record with a %s descriptor", message_type_name (request->type));
    index_purge_t purge;
    int64_t held_for;
    if (store_index_node_id (self->index, request->handoff_node_name, &held_for))
        return -1;
    index_rows_purge (request, held_for, timestamp_now (), &purge);
    int count = 0;
    if (store_index_purge_handoff (self->index, &purge, &count))
        return -1;
    if (count == 0)
        return s_skip (self, "purge-handoff of %" PRIu64 "/%" PRIu32 "/%u held for '%s',"
                       " which is not held", request->unified_id, request->conjoined_part,
                       request->segment_num, request->handoff_node_name);
    return 0;
}

//  Replay one intact record whose descriptor is in self->descriptor
static int
s_replay (s_rebuild_t *self, const value_record_t *record)
{
    if (record->type == RECORD_ORIGIN)
        return 0;               //  only orders the files (s_find_files)
    request_error_t error;
    if (request_decode (self->request, self->descriptor, record->descriptor_size, &error))
        return s_skip (self, "the descriptor does not decode: %s", error.message);
    switch (record->type) {
        case RECORD_SEQUENCE:
            return s_replay_sequence (self, record);
        case RECORD_CANCEL:
            return s_replay_cancel (self, record);
        case RECORD_TOMBSTONE:
            return s_replay_tombstone (self);
        case RECORD_CONJOINED:
            return s_replay_conjoined (self);
        case RECORD_PURGE:
            return s_replay_purge (self);
        default:
            return s_skip (self, "record type %u is not one the writer writes", record->type);
    }
}

//  --------------------------------------------------------------------------
//  Scanning

//  A compaction's output replays where the file it replaced did: its first
//  record names that file (RECORD_ORIGIN). Any other file: its own id.
static uint64_t
s_file_place (const s_file_t *file)
{
    char path [1200];
    if (value_store_path (file->volume, file->file_id, path, sizeof (path)))
        return file->file_id;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return file->file_id;
    struct stat status;
    value_record_t record;
    uint64_t place = file->file_id;
    if (fstat (fd, &status) == 0
    &&  value_file_read_header (fd, 0, (uint64_t) status.st_size, &record) == 0
    &&  record.type == RECORD_ORIGIN && record.unified_id < file->file_id)
        place = record.unified_id;
    close (fd);
    return place;
}

//  Collect the value files of every volume into files, sorted by place in
//  the order of replay, then id.
//  Returns 0, or -1 (with a line on out) if a volume cannot be listed or
//  two volumes hold the same file id.
static int
s_find_files (s_rebuild_t *self, zlistx_t *files)
{
    for (size_t index = 0; index < self->config->volume_count; index++) {
        const char *volume = self->config->volumes [index];
        char directory [1100];
        snprintf (directory, sizeof (directory), "%s/values", volume);
        DIR *handle = opendir (directory);
        if (!handle) {
            if (errno == ENOENT) {
                fprintf (self->out, "note: %s: no values directory\n", volume);
                continue;
            }
            fprintf (self->out, "strata-node: %s: %s\n", directory, strerror (errno));
            return -1;
        }
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            //  Exactly <16 lowercase hex digits>.val
            const char *name = entry->d_name;
            if (strlen (name) != 20 || strcmp (name + 16, ".val"))
                continue;
            if (strspn (name, "0123456789abcdef") != 16)
                continue;
            s_file_t *file = (s_file_t *) zmalloc (sizeof (s_file_t));
            file->file_id = strtoull (name, NULL, 16);
            file->volume = strdup (volume);
            file->place = s_file_place (file);
            zlistx_add_end (files, file);
        }
        closedir (handle);
    }
    zlistx_sort (files);
    const s_file_t *previous = NULL;
    for (s_file_t *file = (s_file_t *) zlistx_first (files); file;
         file = (s_file_t *) zlistx_next (files)) {
        if (previous && file->file_id == previous->file_id) {
            fprintf (self->out, "strata-node: value file %016" PRIx64 " is on two volumes (one is"
                     " %s); move one away first\n", file->file_id, file->volume);
            return -1;
        }
        previous = file;
    }
    return 0;
}

static int
s_compare_files (const void *item1, const void *item2)
{
    const s_file_t *file1 = (const s_file_t *) item1;
    const s_file_t *file2 = (const s_file_t *) item2;
    if (file1->place != file2->place)
        return file1->place < file2->place? -1: 1;
    return file1->file_id < file2->file_id? -1: file1->file_id > file2->file_id? 1: 0;
}

//  Commit every S_BATCH_RECORDS records
static int
s_batch (s_rebuild_t *self)
{
    if (++self->batch < S_BATCH_RECORDS)
        return 0;
    self->batch = 0;
    if (store_index_commit (self->index) || store_index_begin (self->index))
        return -1;
    return 0;
}

//  Scan and replay one value file. Returns 0, or -1 on an index failure or
//  a read error (the rebuild must not go on).
static int
s_scan_file (s_rebuild_t *self, const s_file_t *file)
{
    char path [1200];
    if (value_store_path (file->volume, file->file_id, path, sizeof (path))) {
        fprintf (self->out, "strata-node: %s: value file path too long\n", file->volume);
        return -1;
    }
    self->path = path;
    self->file_id = file->file_id;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat (fd, &status) != 0) {
        fprintf (self->out, "strata-node: %s: %s\n", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t size = (uint64_t) status.st_size;
    self->files++;

    uint64_t offset = 0;            //  next record
    uint64_t good_end = 0;          //  end of the last intact record
    int rc = 0;
    while (offset < size && rc == 0) {
        value_record_t record;
        int header_rc = value_file_read_header (fd, offset, size, &record);
        if (header_rc != 0 && header_rc != STORE_ERR_CORRUPT) {
            fprintf (self->out, "strata-node: %s:%" PRIu64 ": %s\n", path, offset,
                     store_strerror (header_rc));
            rc = -1;
            break;
        }
        if (header_rc == STORE_ERR_CORRUPT) {
            s_bad (self, offset, "no well-formed record header (torn or corrupt): the last %"
                   PRIu64 " bytes of the file are not read", size - offset);
            self->bad_records++;
            self->files_cut_short++;
            break;
        }
        uint64_t next = offset + value_file_record_size (record.descriptor_size, record.payload_size);
        int verify_rc = value_file_verify_record (fd, offset, &record, self->descriptor,
                                                  self->buffer, S_CHUNK_SIZE, NULL);
        if (verify_rc != 0 && verify_rc != STORE_ERR_CORRUPT) {
            fprintf (self->out, "strata-node: %s:%" PRIu64 ": %s\n", path, offset,
                     store_strerror (verify_rc));
            rc = -1;
            break;
        }
        if (verify_rc == STORE_ERR_CORRUPT) {
            self->bad_records++;
            value_record_t following;
            if (next < size && value_file_read_header (fd, next, size, &following) == 0) {
                s_bad (self, offset, "CRC32C mismatch: record of %" PRIu64 " bytes skipped",
                       next - offset);
                offset = next;
                continue;
            }
            s_bad (self, offset, "CRC32C mismatch and no record header after it: the last %"
                   PRIu64 " bytes of the file are not read", size - offset);
            if (next < size)
                self->files_cut_short++;
            break;
        }
        self->records++;
        self->bytes += next - offset;
        self->offset = offset;
        int replay_rc = s_replay (self, &record);
        if (replay_rc < 0 || s_batch (self)) {
            fprintf (self->out, "strata-node: %s:%" PRIu64 ": writing the new index failed\n",
                     path, offset);
            rc = -1;
            break;
        }
        offset = next;
        good_end = next;
    }
    close (fd);
    if (rc)
        return -1;

    //  Register the file: durable up to its last intact record, closed
    int64_t created_us = (int64_t) status.st_mtim.tv_sec * 1000000 + status.st_mtim.tv_nsec / 1000;
    if (store_index_add_value_file (self->index, file->file_id, file->volume, created_us)
    ||  store_index_set_file_synced (self->index, file->file_id,
                                     offset >= size? size: good_end)) {
        fprintf (self->out, "strata-node: %s: writing the new index failed\n", path);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Swapping the new index in

//  fsync a file or directory by path; 0 or -1 (errno set)
static int
s_sync_path (const char *path, bool directory)
{
    int fd = open (path, (directory? O_RDONLY | O_DIRECTORY: O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}

//  Remove path (and its -wal, -shm); -1 with a line on out if one exists
//  and cannot be removed
static int
s_remove_db (s_rebuild_t *self, const char *path)
{
    const char *suffixes [] = { "", "-wal", "-shm", "-journal" };
    for (size_t index = 0; index < 4; index++) {
        char name [1200];
        snprintf (name, sizeof (name), "%s%s", path, suffixes [index]);
        if (unlink (name) && errno != ENOENT) {
            fprintf (self->out, "strata-node: %s: cannot remove: %s\n", name, strerror (errno));
            return -1;
        }
    }
    return 0;
}

//  Bytes in path; 0 if it does not exist
static uint64_t
s_file_bytes (const char *path)
{
    struct stat status;
    return stat (path, &status) == 0? (uint64_t) status.st_size: 0;
}

//  Run PRAGMA wal_checkpoint(TRUNCATE) on db; 0 if it completed
static int
s_checkpoint (sqlite3 *db)
{
    //  Its first column is 1 if the checkpoint could not complete
    int64_t busy = 1;
    if (store_sql_step_once (store_sql_once (db, NULL, "PRAGMA wal_checkpoint(TRUNCATE)"), NULL, &busy))
        return -1;
    return busy? -1: 0;
}

//  Finish the new index (complete, synced, no WAL) and swap it in. The old
//  index is untouched unless this returns 0.
static int
s_swap (s_rebuild_t *self, const char *new_path)
{
    const char *data_dir = self->config->data_dir;
    char path [1200], wal [1200], shm [1200], old_path [1200], old_wal [1200], new_wal [1200];
    snprintf (path, sizeof (path), "%s/index.db", data_dir);
    snprintf (wal, sizeof (wal), "%s/index.db-wal", data_dir);
    snprintf (shm, sizeof (shm), "%s/index.db-shm", data_dir);
    snprintf (old_path, sizeof (old_path), "%s/index.db.old", data_dir);
    snprintf (old_wal, sizeof (old_wal), "%s/index.db.old-wal", data_dir);
    snprintf (new_wal, sizeof (new_wal), "%s-wal", new_path);

    //  The new index: everything in the main file, closed, synced
    if (s_checkpoint (store_index_db (self->index))) {
        fprintf (self->out, "strata-node: %s: checkpoint failed: %s\n", new_path,
                 sqlite3_errmsg (store_index_db (self->index)));
        return -1;
    }
    store_index_destroy (&self->index);
    if (s_file_bytes (new_wal) > 0) {
        fprintf (self->out, "strata-node: %s: still has a write-ahead log after closing\n", new_path);
        return -1;
    }
    char new_shm [1200];
    snprintf (new_shm, sizeof (new_shm), "%s-shm", new_path);
    unlink (new_wal);
    unlink (new_shm);
    if (s_sync_path (new_path, false)) {
        fprintf (self->out, "strata-node: %s: fsync failed: %s\n", new_path, strerror (errno));
        return -1;
    }

    //  The old index: checkpointed (best effort: it may be damaged, which
    //  may be why it is being rebuilt), then kept as index.db.old
    if (s_remove_db (self, old_path))
        return -1;
    struct stat status;
    bool have_old = stat (path, &status) == 0;
    if (have_old) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK
        ||  s_checkpoint (db))
            fprintf (self->out, "note: %s: could not checkpoint the old index (%s); its"
                     " write-ahead log is kept as %s\n", path,
                     db? sqlite3_errmsg (db): "cannot open", old_wal);
        sqlite3_close (db);
        if (link (path, old_path)) {
            fprintf (self->out, "strata-node: cannot link %s to %s: %s\n", path, old_path,
                     strerror (errno));
            return -1;
        }
        //  A write-ahead log left must not be applied to the new index
        if (s_file_bytes (wal) > 0) {
            if (rename (wal, old_wal)) {
                fprintf (self->out, "strata-node: cannot rename %s: %s\n", wal, strerror (errno));
                unlink (old_path);
                return -1;
            }
        }
        else
            unlink (wal);
        unlink (shm);
    }
    else {
        unlink (wal);
        unlink (shm);
    }
    if (rename (new_path, path)) {
        fprintf (self->out, "strata-node: cannot rename %s to %s: %s\n", new_path, path,
                 strerror (errno));
        return -1;
    }
    self->swapped = true;
    if (s_sync_path (data_dir, true)) {
        fprintf (self->out, "strata-node: %s: fsync failed: %s\n", data_dir, strerror (errno));
        return -1;
    }
    if (have_old)
        fprintf (self->out, "the old index is kept as %s\n", old_path);
    return 0;
}

//  --------------------------------------------------------------------------
//  Rebuild the index of the node whose configuration is given

int
index_rebuild_run (const node_config_t *config, FILE *out)
{
    assert (config);
    assert (out);
    s_rebuild_t self = { .config = config, .out = out };
    char new_path [1200];
    snprintf (new_path, sizeof (new_path), "%s/index.db.rebuild", config->data_dir);
    if (s_remove_db (&self, new_path))
        return -1;

    int64_t started = zclock_usecs ();
    zlistx_t *files = zlistx_new ();
    zlistx_set_destructor (files, (zlistx_destructor_fn *) s_file_destroy);
    zlistx_set_comparator (files, s_compare_files);
    self.active = active_set_new ();
    self.request = request_new ();
    self.descriptor = (uint8_t *) malloc (VALUE_RECORD_DESCRIPTOR_MAX);
    self.buffer = (uint8_t *) malloc (S_CHUNK_SIZE);

    int rc = 0;
    if (!self.request || !self.descriptor || !self.buffer) {
        fprintf (out, "strata-node: out of memory\n");
        rc = -1;
    }
    if (rc == 0)
        rc = s_find_files (&self, files);
    if (rc == 0) {
        char error [1300] = "";
        self.index = store_index_open (new_path, error, sizeof (error));
        if (!self.index) {
            fprintf (out, "strata-node: %s\n", error);
            rc = -1;
        }
    }
    if (rc == 0 && store_index_begin (self.index))
        rc = -1;
    for (s_file_t *file = (s_file_t *) zlistx_first (files); file && rc == 0;
         file = (s_file_t *) zlistx_next (files))
        rc = s_scan_file (&self, file);
    if (rc == 0 && (store_index_close_value_files (self.index)
                ||  store_index_recount_garbage (self.index) || store_index_commit (self.index)))
        rc = -1;

    int64_t counts [4] = { 0, 0, 0, 0 };
    if (rc == 0 && store_index_count_segments (self.index, counts))
        rc = -1;
    if (rc == 0)
        rc = s_swap (&self, new_path);
    if (rc == 0) {
        fprintf (out, "rebuilt the index from %" PRIu64 " value files: %" PRIu64 " records (%"
                 PRIu64 " bytes) in %.1f s\n", self.files, self.records, self.bytes,
                 (double) (zclock_usecs () - started) / 1e6);
        fprintf (out, "segments: %" PRId64 " finished, %" PRId64 " active, %" PRId64
                 " cancelled, %" PRId64 " tombstones\n", counts [1], counts [0], counts [2],
                 counts [3]);
        fprintf (out, "skipped %" PRIu64 " records; %" PRIu64 " records failed their checks; %"
                 PRIu64 " files not read to their end\n", self.skipped, self.bad_records,
                 self.files_cut_short);
    }
    else {
        store_index_destroy (&self.index);
        if (self.swapped)
            fprintf (out, "rebuild failed after the new index was swapped in\n");
        else {
            s_remove_db (&self, new_path);
            fprintf (out, "rebuild failed; the index was left as it was\n");
        }
    }
    fflush (out);
    store_index_destroy (&self.index);
    request_destroy (&self.request);
    active_set_destroy (&self.active);
    zlistx_destroy (&files);
    free (self.descriptor);
    free (self.buffer);
    return rc;
}
