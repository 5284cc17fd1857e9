/*  =========================================================================
    index_check - strata-node --check: verify the index against the value
    files

    Opens <data-dir>/index.db read-only and makes four passes:

    1. SQLite's own PRAGMA quick_check of the index file.
    2. Every sequence row, in value file then offset order (one sequential
       read of each file): the record header must be well formed and agree
       with the row and its segment (type, identity, sequence number, sizes,
       MD5), the CRC32C must hold over the whole record, and the payload's
       MD5 (streamed in chunks, never held whole) must equal the row's.
    3. Every segment: its sequence rows agree with sequence_count (and, for
       active segments, last_sequence_num); finished segments have at least
       one sequence, numbered without gaps; tombstones have none; an
       active segment whose timestamp is older than
       node/active-timeout-seconds is reported (an interrupted upload).
    4. Every value file row: the file exists if it holds synced data, and
       is at least as long as its synced size; every row of `damaged`.

    Each problem is one line "problem: <where>: <what>", where <where> is
    "<value file>:<offset>" for a record, "<value file>" for a file, and
    "<index>: segment <id> ..." for a segment. Then the summary line.
    =========================================================================
*/
#include <czmq.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include "index_check.h"
#include "store_index.h"
#include "value_file.h"
#include "value_store.h"
#include "store_sql.h"
#include "timestamp.h"

#define S_CHUNK_SIZE    (8 * 1024 * 1024)   //  payload bytes read at a time
#define S_QUICK_CHECK_LINES  20             //  quick_check lines reported at most

//  The state of one run
typedef struct {
    const node_config_t *config;    //  the node's settings
    FILE *out;                      //  where lines go
    sqlite3 *db;                    //  the index, read-only
    char index_path [1100];         //  <data-dir>/index.db
    uint8_t *buffer;                //  S_CHUNK_SIZE bytes of scratch
    uint64_t problems;              //  problems found so far
    uint64_t records;               //  sequence rows checked
    uint64_t files;                 //  value files those rows are in
    //  The value file of the rows being checked
    bool have_file;                 //  file_id below is set
    uint64_t file_id;               //  its id
    int fd;                         //  open descriptor, -1 if not found
    uint64_t file_size;             //  its size
    char path [1200];               //  its path (where it should be if missing)
    uint64_t missing_rows;          //  rows that point into it while it is missing
    uint64_t previous_end;          //  end of the previous record checked in it
} s_check_t;

//  Print one problem line and count it
static void
s_problem (s_check_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_problem (s_check_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("problem: ", self->out);
    vfprintf (self->out, format, args);
    fputc ('\n', self->out);
    va_end (args);
    self->problems++;
}

//  Prepare a statement; NULL with a line on out on failure
static sqlite3_stmt *
s_prepare (s_check_t *self, const char *sql)
{
    sqlite3_stmt *statement = store_sql_once (self->db, NULL, sql);
    if (!statement)
        fprintf (self->out, "strata-node: %s: cannot query the index: %s\n", self->index_path,
                 sqlite3_errmsg (self->db));
    return statement;
}

//  A statement's stepping ended with rc: 0 if it was SQLITE_DONE, else -1
//  with a line on out
static int
s_stepped (s_check_t *self, int rc)
{
    if (rc == SQLITE_DONE)
        return 0;
    fprintf (self->out, "strata-node: %s: reading the index failed: %s\n", self->index_path,
             sqlite3_errmsg (self->db));
    return -1;
}

//  Open value file file_id: on volume (from the index) if given and the
//  file is there, else on any configured volume. Sets self->path to the
//  file found, or to where it should be. Returns the fd or -errno.
static int
s_open_value_file (s_check_t *self, uint64_t file_id, const char *volume)
{
    int first_error = -ENOENT;
    *self->path = 0;
    if (volume && *volume) {
        if (value_store_path (volume, file_id, self->path, sizeof (self->path)) == 0) {
            int fd = open (self->path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                return fd;
            first_error = -errno;
        }
    }
    char candidate [1200];
    for (size_t index = 0; index < self->config->volume_count; index++) {
        if (volume && streq (volume, self->config->volumes [index]))
            continue;
        if (value_store_path (self->config->volumes [index], file_id, candidate, sizeof (candidate)))
            continue;
        int fd = open (candidate, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            snprintf (self->path, sizeof (self->path), "%s", candidate);
            return fd;
        }
        if (!*self->path)
            snprintf (self->path, sizeof (self->path), "%s", candidate);
    }
    if (!*self->path)
        snprintf (self->path, sizeof (self->path), "value file %016" PRIx64, file_id);
    return first_error;
}

//  Done with the current value file: report it if it was missing
static void
s_close_file (s_check_t *self)
{
    if (!self->have_file)
        return;
    if (self->fd >= 0)
        close (self->fd);
    else
        s_problem (self, "%s: value file missing or unreadable; %" PRIu64
                   " sequence records of the index are in it", self->path, self->missing_rows);
    self->fd = -1;
    self->have_file = false;
}

//  Switch to value file file_id (volume from the index, NULL if the file
//  has no value_file row)
static void
s_use_file (s_check_t *self, uint64_t file_id, const char *volume, bool registered)
{
    s_close_file (self);
    self->have_file = true;
    self->file_id = file_id;
    self->missing_rows = 0;
    self->previous_end = 0;
    self->files++;
    self->fd = s_open_value_file (self, file_id, volume);
    self->file_size = 0;
    if (self->fd >= 0) {
        struct stat status;
        if (fstat (self->fd, &status) == 0)
            self->file_size = (uint64_t) status.st_size;
        posix_fadvise (self->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    if (!registered)
        s_problem (self, "%s: value file %016" PRIx64 " holds sequences of the index but has no"
                   " value_file row", self->path, file_id);
}

//  Copy a 16-byte blob column; false if it is not one
static bool
s_md5_column (sqlite3_stmt *statement, int column, uint8_t *md5)
{
    if (sqlite3_column_type (statement, column) != SQLITE_BLOB
    ||  sqlite3_column_bytes (statement, column) != DIGEST_MD5_SIZE) {
        memset (md5, 0, DIGEST_MD5_SIZE);
        return false;
    }
    memcpy (md5, sqlite3_column_blob (statement, column), DIGEST_MD5_SIZE);
    return true;
}

//  --------------------------------------------------------------------------
//  Pass 1: SQLite's own check of the index file

static int
s_check_sqlite (s_check_t *self)
{
    sqlite3_stmt *statement = s_prepare (self, "PRAGMA quick_check");
    if (!statement)
        return -1;
    int rc, lines = 0;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        const char *text = (const char *) sqlite3_column_text (statement, 0);
        if (text && streq (text, "ok"))
            continue;
        if (lines++ < S_QUICK_CHECK_LINES)
            s_problem (self, "%s: SQLite quick_check: %s", self->index_path, text? text: "?");
    }
    sqlite3_finalize (statement);
    return s_stepped (self, rc);
}

//  --------------------------------------------------------------------------
//  Pass 2: every sequence row against its record

//  The columns of one sequence row (with its segment and value file)
typedef struct {
    int64_t segment_id;
    uint32_t sequence_num;
    uint64_t file_id;
    uint64_t offset;
    uint64_t record_size;
    uint64_t segment_size;
    uint8_t md5 [DIGEST_MD5_SIZE];
    bool has_md5;
    bool has_segment;               //  the segment row exists
    uint64_t unified_id;
    uint32_t conjoined_part;
    uint8_t segment_num;
    uint32_t collection_id;
} s_row_t;

static void
s_check_record (s_check_t *self, const s_row_t *row)
{
    const char *path = self->path;
    uint64_t offset = row->offset;
    if (!row->has_segment)
        s_problem (self, "%s:%" PRIu64 ": sequence %" PRIu32 " of segment %" PRId64
                   ": the index has no such segment", path, offset, row->sequence_num,
                   row->segment_id);
    if (!row->has_md5)
        s_problem (self, "%s:%" PRIu64 ": the index row's md5 is not 16 bytes", path, offset);
    if (offset < self->previous_end)
        s_problem (self, "%s:%" PRIu64 ": overlaps the previous record the index references"
                   " (which ends at %" PRIu64 ")", path, offset, self->previous_end);
    if (offset + row->record_size > self->previous_end)
        self->previous_end = offset + row->record_size;

    value_record_t record;
    int rc = value_file_read_header (self->fd, offset, self->file_size, &record);
    if (rc == STORE_ERR_CORRUPT) {
        s_problem (self, "%s:%" PRIu64 ": no well-formed record here (torn, corrupt, or past"
                   " the end of the %" PRIu64 "-byte file)", path, offset, self->file_size);
        return;
    }
    if (rc < 0) {
        s_problem (self, "%s:%" PRIu64 ": cannot read the record header: %s", path, offset,
                   store_strerror (rc));
        return;
    }
    if (record.type != RECORD_SEQUENCE)
        s_problem (self, "%s:%" PRIu64 ": record type %u, but the index references a sequence"
                   " record (%d)", path, offset, record.type, RECORD_SEQUENCE);
    if (row->has_segment
    && (record.unified_id != row->unified_id || record.conjoined_part != row->conjoined_part
    ||  record.segment_num != row->segment_num || record.collection_id != row->collection_id))
        s_problem (self, "%s:%" PRIu64 ": record is of segment %" PRIu64 "/%" PRIu32 "/%u in"
                   " collection %" PRIu32 ", the index says %" PRIu64 "/%" PRIu32 "/%u in"
                   " collection %" PRIu32, path, offset, record.unified_id, record.conjoined_part,
                   record.segment_num, record.collection_id, row->unified_id,
                   row->conjoined_part, row->segment_num, row->collection_id);
    if (record.sequence_num != row->sequence_num)
        s_problem (self, "%s:%" PRIu64 ": record is sequence %" PRIu32 ", the index says %" PRIu32,
                   path, offset, record.sequence_num, row->sequence_num);
    if (record.payload_size != row->segment_size)
        s_problem (self, "%s:%" PRIu64 ": payload is %" PRIu64 " bytes, the index says %" PRIu64,
                   path, offset, record.payload_size, row->segment_size);
    uint64_t record_size = value_file_record_size (record.descriptor_size, record.payload_size);
    if (record_size != row->record_size)
        s_problem (self, "%s:%" PRIu64 ": record is %" PRIu64 " bytes, the index says %" PRIu64,
                   path, offset, record_size, row->record_size);
    if (row->has_md5 && memcmp (record.payload_md5, row->md5, DIGEST_MD5_SIZE))
        s_problem (self, "%s:%" PRIu64 ": the record header's payload MD5 differs from the"
                   " index's", path, offset);

    uint8_t md5 [DIGEST_MD5_SIZE];
    rc = value_file_verify_record (self->fd, offset, &record, NULL, self->buffer, S_CHUNK_SIZE, md5);
    if (rc == STORE_ERR_CORRUPT)
        s_problem (self, "%s:%" PRIu64 ": CRC32C mismatch (the record is corrupt)", path, offset);
    else
    if (rc < 0)
        s_problem (self, "%s:%" PRIu64 ": cannot read the record: %s", path, offset, store_strerror (rc));
    else
    if (row->has_md5 && memcmp (md5, row->md5, DIGEST_MD5_SIZE))
        s_problem (self, "%s:%" PRIu64 ": payload MD5 mismatch (the payload is not what was"
                   " stored)", path, offset);
}

static int
s_check_records (s_check_t *self)
{
    sqlite3_stmt *statement = s_prepare (self,
        "SELECT q.segment_id, q.sequence_num, q.value_file_id, q.record_offset, q.record_size,"
        " q.segment_size, q.md5, s.id, s.unified_id, s.conjoined_part, s.segment_num,"
        " s.collection_id, f.id, f.volume"
        " FROM sequence AS q"
        " LEFT JOIN segment AS s ON s.id = q.segment_id"
        " LEFT JOIN value_file AS f ON f.id = q.value_file_id"
        " ORDER BY q.value_file_id, q.record_offset");
    if (!statement)
        return -1;
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        s_row_t row = {
            .segment_id = sqlite3_column_int64 (statement, 0),
            .sequence_num = (uint32_t) sqlite3_column_int64 (statement, 1),
            .file_id = (uint64_t) sqlite3_column_int64 (statement, 2),
            .offset = (uint64_t) sqlite3_column_int64 (statement, 3),
            .record_size = (uint64_t) sqlite3_column_int64 (statement, 4),
            .segment_size = (uint64_t) sqlite3_column_int64 (statement, 5),
            .has_segment = sqlite3_column_type (statement, 7) != SQLITE_NULL,
            .unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 8)),
            .conjoined_part = (uint32_t) sqlite3_column_int64 (statement, 9),
            .segment_num = (uint8_t) sqlite3_column_int (statement, 10),
            .collection_id = (uint32_t) sqlite3_column_int64 (statement, 11),
        };
        row.has_md5 = s_md5_column (statement, 6, row.md5);
        if (!self->have_file || self->file_id != row.file_id) {
            const char *volume = (const char *) sqlite3_column_text (statement, 13);
            s_use_file (self, row.file_id, volume,
                        sqlite3_column_type (statement, 12) != SQLITE_NULL);
        }
        self->records++;
        if (self->fd < 0)
            self->missing_rows++;
        else
            s_check_record (self, &row);
    }
    sqlite3_finalize (statement);
    s_close_file (self);
    return s_stepped (self, rc);
}

//  --------------------------------------------------------------------------
//  Pass 3: every segment's sequences against its row

static int
s_check_segments (s_check_t *self)
{
    sqlite3_stmt *statement = s_prepare (self,
        "SELECT s.id, s.status, s.sequence_count, s.last_sequence_num, s.unified_id,"
        " s.conjoined_part, s.segment_num, s.collection_id, s.key,"
        " COUNT (q.sequence_num), MIN (q.sequence_num), MAX (q.sequence_num), s.timestamp_us"
        " FROM segment AS s LEFT JOIN sequence AS q ON q.segment_id = s.id"
        //  Garbage segments may have lost sequence rows to a compaction
        " WHERE s.garbage = 0"
        " GROUP BY s.id ORDER BY s.id");
    if (!statement)
        return -1;
    int64_t stale_cutoff = timestamp_now () - (int64_t) self->config->active_timeout_seconds * 1000000;
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64 (statement, 0);
        const char *status_text = (const char *) sqlite3_column_text (statement, 1);
        char status = status_text? status_text [0]: '?';
        int64_t sequence_count = sqlite3_column_int64 (statement, 2);
        bool has_last = sqlite3_column_type (statement, 3) != SQLITE_NULL;
        int64_t last = sqlite3_column_int64 (statement, 3);
        uint64_t unified_id = store_index_uid_from_db (sqlite3_column_int64 (statement, 4));
        int64_t part = sqlite3_column_int64 (statement, 5);
        int segment_num = sqlite3_column_int (statement, 6);
        int64_t collection_id = sqlite3_column_int64 (statement, 7);
        const char *key = (const char *) sqlite3_column_text (statement, 8);
        int64_t count = sqlite3_column_int64 (statement, 9);
        int64_t lowest = sqlite3_column_int64 (statement, 10);
        int64_t highest = sqlite3_column_int64 (statement, 11);
        int64_t timestamp_us = sqlite3_column_int64 (statement, 12);

        char where [1600];
        snprintf (where, sizeof (where), "%s: segment %" PRId64 " (collection %" PRId64
                  " key '%s' %" PRIu64 "/%" PRId64 "/%d, status %c)", self->index_path, id,
                  collection_id, key? key: "", unified_id, part, segment_num, status);
        if (!strchr ("AFCT", status) || status == 0)
            s_problem (self, "%s: unknown status", where);
        if (count != sequence_count)
            s_problem (self, "%s: %" PRId64 " sequence rows, but sequence_count says %" PRId64,
                       where, count, sequence_count);
        if (status == 'T' && count > 0)
            s_problem (self, "%s: a tombstone with %" PRId64 " sequences", where, count);
        if (status == 'F' && count == 0)
            s_problem (self, "%s: finished, but has no sequences", where);
        if ((status == 'F' || status == 'A') && count > 0 && highest - lowest + 1 != count)
            s_problem (self, "%s: sequences %" PRId64 "..%" PRId64 " are not contiguous (%" PRId64
                       " rows)", where, lowest, highest, count);
        if (status == 'A' && self->config->active_timeout_seconds && timestamp_us < stale_cutoff) {
            char since [TIMESTAMP_TEXT_SIZE];
            timestamp_format (timestamp_us, since);
            s_problem (self, "%s: active since %s, longer than node/active-timeout-seconds "
                       "(%" PRIu64 " s): an interrupted upload, which the node cancels when it runs",
                       where, since, self->config->active_timeout_seconds);
        }
        if (status == 'A' && count > 0 && (!has_last || last != highest))
            s_problem (self, "%s: last_sequence_num is %s%" PRId64 ", but the highest sequence"
                       " stored is %" PRId64, where, has_last? "": "NULL/", last, highest);
    }
    sqlite3_finalize (statement);
    return s_stepped (self, rc);
}

//  --------------------------------------------------------------------------
//  Pass 4: value files against their synced sizes, and recorded damage

static int
s_check_files (s_check_t *self)
{
    sqlite3_stmt *statement = s_prepare (self,
        "SELECT id, volume, synced_size FROM value_file ORDER BY id");
    if (!statement)
        return -1;
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        uint64_t file_id = (uint64_t) sqlite3_column_int64 (statement, 0);
        const char *volume = (const char *) sqlite3_column_text (statement, 1);
        uint64_t synced_size = (uint64_t) sqlite3_column_int64 (statement, 2);
        int fd = s_open_value_file (self, file_id, volume);
        if (fd < 0) {
            if (synced_size > 0)
                s_problem (self, "%s: value file missing or unreadable (%s), but %" PRIu64
                           " bytes of it are recorded as synced", self->path, store_strerror (fd),
                           synced_size);
            continue;
        }
        struct stat status;
        if (fstat (fd, &status) != 0)
            s_problem (self, "%s: cannot stat: %s", self->path, strerror (errno));
        else
        if ((uint64_t) status.st_size < synced_size)
            s_problem (self, "%s: the file holds %" PRIu64 " bytes, but %" PRIu64 " are recorded"
                       " as synced (acknowledged data lost)", self->path,
                       (uint64_t) status.st_size, synced_size);
        close (fd);
    }
    sqlite3_finalize (statement);
    if (s_stepped (self, rc))
        return -1;

    statement = s_prepare (self,
        "SELECT d.value_file_id, d.record_offset, d.reason, f.volume"
        " FROM damaged AS d LEFT JOIN value_file AS f ON f.id = d.value_file_id"
        " ORDER BY d.value_file_id, d.record_offset");
    if (!statement)
        return -1;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        uint64_t file_id = (uint64_t) sqlite3_column_int64 (statement, 0);
        uint64_t offset = (uint64_t) sqlite3_column_int64 (statement, 1);
        const char *reason = (const char *) sqlite3_column_text (statement, 2);
        const char *volume = (const char *) sqlite3_column_text (statement, 3);
        int fd = s_open_value_file (self, file_id, volume);
        if (fd >= 0)
            close (fd);
        s_problem (self, "%s:%" PRIu64 ": recorded as damaged: %s", self->path, offset,
                   reason? reason: "?");
    }
    sqlite3_finalize (statement);
    return s_stepped (self, rc);
}

//  --------------------------------------------------------------------------
//  Check the node whose configuration is given

int
index_check_run (const node_config_t *config, FILE *out)
{
    assert (config);
    assert (out);
    s_check_t self = { .config = config, .out = out, .fd = -1 };
    snprintf (self.index_path, sizeof (self.index_path), "%s/index.db", config->data_dir);
    struct stat status;
    if (stat (self.index_path, &status) != 0) {
        fprintf (out, "strata-node: %s: no index to check: %s\n", self.index_path, strerror (errno));
        return -1;
    }
    int rc = sqlite3_open_v2 (self.index_path, &self.db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        fprintf (out, "strata-node: %s: cannot open the index: %s\n", self.index_path,
                 self.db? sqlite3_errmsg (self.db): sqlite3_errstr (rc));
        sqlite3_close (self.db);
        return -1;
    }
    sqlite3_busy_timeout (self.db, 5000);
    self.buffer = (uint8_t *) malloc (S_CHUNK_SIZE);
    if (!self.buffer) {
        fprintf (out, "strata-node: out of memory\n");
        sqlite3_close (self.db);
        return -1;
    }
    //  One read transaction: every pass sees the same index
    int result = sqlite3_exec (self.db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK? 0: -1;
    if (result)
        fprintf (out, "strata-node: %s: cannot read the index: %s\n", self.index_path,
                 sqlite3_errmsg (self.db));
    if (result == 0)
        result = s_check_sqlite (&self);
    if (result == 0)
        result = s_check_records (&self);
    if (result == 0)
        result = s_check_segments (&self);
    if (result == 0)
        result = s_check_files (&self);
    sqlite3_exec (self.db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close (self.db);
    free (self.buffer);
    if (result)
        return -1;
    fprintf (out, "checked %" PRIu64 " records in %" PRIu64 " value files: %" PRIu64 " problems\n",
             self.records, self.files, self.problems);
    fflush (out);
    return self.problems > INT_MAX? INT_MAX: (int) self.problems;
}
