/*  =========================================================================
    test_index_rebuild - strata-node --rebuild-index

    Each test writes value files the way the writer does (one record per
    state change, descriptor = the request header re-encoded), runs the
    rebuild, and looks at the new index with plain SQL: segment states,
    sequence rows, conjoined rows, value file rows, skipped and damaged
    records, and the swap (index.db.old kept, no leftovers).
    =========================================================================
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_rebuild.h"
#include "index_check.h"
#include "request.h"
#include "store_index.h"
#include "value_file.h"
#include "value_store.h"

static char s_dir [64];                 //  data directory of the test
static node_config_t s_config;          //  its configuration
static value_file_t *s_file;            //  value file being written
static uint64_t s_file_id;              //  its id
static request_t *s_request;            //  request being built
static char *s_output;                  //  what the last run printed
static size_t s_output_size;

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-rebuild-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    memset (&s_config, 0, sizeof (s_config));
    snprintf (s_config.data_dir, sizeof (s_config.data_dir), "%s", s_dir);
    snprintf (s_config.volumes [0], sizeof (s_config.volumes [0]), "%s/volume0", s_dir);
    s_config.volume_count = 1;
    char path [128];
    snprintf (path, sizeof (path), "%s/volume0", s_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    snprintf (path, sizeof (path), "%s/volume0/values", s_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    s_request = request_new ();
    s_file = NULL;
    s_file_id = 0;
    s_output = NULL;
}

static void
s_teardown (void)
{
    value_file_destroy (&s_file);
    request_destroy (&s_request);
    free (s_output);
    s_output = NULL;
    nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (index_rebuild, .init = s_setup, .fini = s_teardown);

//  --------------------------------------------------------------------------
//  Writing value files as the writer does

//  Start value file id on volume (index into s_config.volumes)
static void
s_new_file (uint64_t file_id, size_t volume)
{
    value_file_destroy (&s_file);
    char path [1200];
    cr_assert_eq (value_store_path (s_config.volumes [volume], file_id, path, sizeof (path)), 0);
    s_file = value_file_create (path);
    cr_assert_not_null (s_file, "%s: %s", path, strerror (errno));
    s_file_id = file_id;
}

static const char *
s_file_path (uint64_t file_id)
{
    static char path [1200];
    value_store_path (s_config.volumes [0], file_id, path, sizeof (path));
    return path;
}

//  Payload of a sequence: size bytes derived from seed
static uint8_t *
s_payload (size_t size, int seed)
{
    uint8_t *payload = (uint8_t *) malloc (size? size: 1);
    for (size_t index = 0; index < size; index++)
        payload [index] = (uint8_t) (index * 13 + (size_t) seed * 7 + (index >> 8));
    return payload;
}

//  Fill s_request for type with the usual fields (collection 1, segment-num
//  1, source node01, a timestamp from the unified-id)
static request_t *
s_fill (message_type_t type, const char *key, uint64_t unified_id, uint32_t part,
        uint32_t sequence_num, const uint8_t *payload, size_t size)
{
    request_t *request = s_request;
    request_reset (request);
    request->type = type;
    request->present = FIELD_MESSAGE_ID;
    snprintf (request->message_id, sizeof (request->message_id), "m-%u", sequence_num);
    request->collection_id = 1;
    snprintf (request->key, sizeof (request->key), "%s", key);
    request->key_size = strlen (key);
    request->unified_id = unified_id;
    request->timestamp = 1700000000000000LL + (int64_t) unified_id;
    request->conjoined_part = part;
    request->segment_num = 1;
    snprintf (request->source_node_name, sizeof (request->source_node_name), "node01");
    switch (type) {
        case MSG_ARCHIVE_KEY_ENTIRE:
        case MSG_ARCHIVE_KEY_START:
        case MSG_ARCHIVE_KEY_NEXT:
        case MSG_ARCHIVE_KEY_FINAL:
            request->present |= FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP
                              | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE | FIELD_ZFEC_PADDING_SIZE
                              | FIELD_SEGMENT_MD5 | FIELD_SOURCE_NODE_NAME | FIELD_CONJOINED_PART
                              | FIELD_SEGMENT_ADLER32;
            if (type != MSG_ARCHIVE_KEY_ENTIRE)
                request->present |= FIELD_SEQUENCE_NUM;
            request->sequence_num = sequence_num;
            request->segment_size = size;
            request->zfec_padding_size = 3;
            digest_md5 (payload, size, request->segment_md5);
            request->segment_adler32 = digest_adler32 (1, payload, size);
            if (type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_FINAL) {
                request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
                request->file_size = 12345;
                memset (request->file_hash, 0xab, DIGEST_MD5_SIZE);
            }
            break;
        case MSG_ARCHIVE_KEY_CANCEL:
            request->present |= FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM | FIELD_CONJOINED_PART;
            break;
        case MSG_DESTROY_KEY:
            request->present |= FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP
                              | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME;
            break;
        case MSG_START_CONJOINED_ARCHIVE:
        case MSG_ABORT_CONJOINED_ARCHIVE:
        case MSG_FINISH_CONJOINED_ARCHIVE:
            request->present |= FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP;
            break;
        case MSG_WEB_WRITER_START:
            request->present |= FIELD_SOURCE_NODE_NAME | FIELD_TIMESTAMP;
            request->unified_id = 0;
            request->conjoined_part = 0;
            request->segment_num = 0;
            break;
        default:
            cr_assert_fail ("type %d not built here", type);
    }
    return request;
}

//  Append the record of s_request (type, payload) as the writer does; the
//  header names the given identity. Returns the record's offset.
static uint64_t
s_append_as (record_type_t type, uint64_t unified_id, uint32_t part, uint8_t segment_num,
             const uint8_t *payload, size_t size)
{
    request_t *request = s_request;
    msgpack_sbuffer descriptor;
    msgpack_sbuffer_init (&descriptor);
    cr_assert_eq (request_encode (request, &descriptor), 0);
    value_record_t record = {
        .type = (uint16_t) type,
        .collection_id = request->collection_id,
        .unified_id = unified_id,
        .conjoined_part = part,
        .segment_num = segment_num,
        .sequence_num = request->sequence_num,
        .descriptor_size = (uint32_t) descriptor.size,
        .payload_size = type == RECORD_SEQUENCE? size: 0,
    };
    struct iovec piece = { .iov_base = (void *) payload, .iov_len = size };
    if (type == RECORD_SEQUENCE)
        memcpy (record.payload_md5, request->segment_md5, DIGEST_MD5_SIZE);
    else
        digest_md5 (NULL, 0, record.payload_md5);
    uint64_t offset = 0;
    cr_assert_eq (value_file_append (s_file, &record, descriptor.data,
                                     &piece, type == RECORD_SEQUENCE && size? 1: 0, &offset), 0);
    msgpack_sbuffer_destroy (&descriptor);
    return offset;
}

static uint64_t
s_append (record_type_t type, const uint8_t *payload, size_t size)
{
    return s_append_as (type, s_request->unified_id, s_request->conjoined_part,
                        s_request->segment_num, payload, size);
}

//  One sequence record of type for key/unified-id/part, payload from seed
static uint64_t
s_sequence (message_type_t type, const char *key, uint64_t unified_id, uint32_t part,
            uint32_t sequence_num, size_t size, int seed)
{
    uint8_t *payload = s_payload (size, seed);
    s_fill (type, key, unified_id, part, sequence_num, payload, size);
    uint64_t offset = s_append (RECORD_SEQUENCE, payload, size);
    free (payload);
    return offset;
}

//  --------------------------------------------------------------------------
//  Running and looking

static int
s_run_rebuild (void)
{
    value_file_destroy (&s_file);
    free (s_output);
    s_output = NULL;
    FILE *out = open_memstream (&s_output, &s_output_size);
    cr_assert_not_null (out);
    int rc = index_rebuild_run (&s_config, out);
    fclose (out);
    return rc;
}

static int
s_run_check (void)
{
    free (s_output);
    s_output = NULL;
    FILE *out = open_memstream (&s_output, &s_output_size);
    cr_assert_not_null (out);
    int rc = index_check_run (&s_config, out);
    fclose (out);
    return rc;
}

//  One integer from a query on the node's index (-1 if no row)
static int64_t
s_query (const char *sql)
{
    char path [128];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    sqlite3 *db;
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (db, sql, -1, &statement, NULL), SQLITE_OK,
                  "%s: %s", sql, sqlite3_errmsg (db));
    int rc = sqlite3_step (statement);
    cr_assert (rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg (db));
    int64_t value = rc == SQLITE_ROW? sqlite3_column_int64 (statement, 0): -1;
    sqlite3_finalize (statement);
    sqlite3_close (db);
    return value;
}

//  Status of the segment of key and unified-id (part 0 unless given)
static char
s_status (const char *key, uint64_t unified_id, uint32_t part)
{
    char sql [300];
    snprintf (sql, sizeof (sql), "SELECT unicode (status) FROM segment WHERE key = '%s'"
              " AND unified_id = %" PRId64 " AND conjoined_part = %u", key,
              store_index_uid_to_db (unified_id), part);
    int64_t value = s_query (sql);
    return value < 0? '-': (char) value;
}

static bool
s_exists (const char *name)
{
    char path [160];
    snprintf (path, sizeof (path), "%s/%s", s_dir, name);
    return access (path, F_OK) == 0;
}

//  --------------------------------------------------------------------------
//  Tests

Test (index_rebuild, replays_every_kind_of_state_change)
{
    s_new_file (1, 0);
    s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "entire", 100, 0, 0, 5000, 1);
    s_sequence (MSG_ARCHIVE_KEY_START, "multi", 200, 0, 0, 3000, 2);
    s_sequence (MSG_ARCHIVE_KEY_NEXT, "multi", 200, 0, 1, 3000, 3);
    s_new_file (2, 0);          //  a segment spanning two files
    s_sequence (MSG_ARCHIVE_KEY_FINAL, "multi", 200, 0, 2, 1000, 4);
    s_sequence (MSG_ARCHIVE_KEY_START, "active", 300, 0, 5, 700, 5);
    s_sequence (MSG_ARCHIVE_KEY_NEXT, "active", 300, 0, 6, 700, 6);
    s_sequence (MSG_ARCHIVE_KEY_START, "cancelled", 400, 0, 0, 100, 7);
    s_fill (MSG_ARCHIVE_KEY_CANCEL, "", 400, 0, 0, NULL, 0);
    s_append (RECORD_CANCEL, NULL, 0);
    s_fill (MSG_DESTROY_KEY, "entire", 500, 0, 0, NULL, 0);
    s_append (RECORD_TOMBSTONE, NULL, 0);
    //  conjoined: finished one, aborted one (its finished part is cancelled)
    s_fill (MSG_START_CONJOINED_ARCHIVE, "conj", 600, 0, 0, NULL, 0);
    s_append (RECORD_CONJOINED, NULL, 0);
    s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "conj", 600, 1, 0, 100, 8);
    s_fill (MSG_FINISH_CONJOINED_ARCHIVE, "conj", 600, 0, 0, NULL, 0);
    s_append (RECORD_CONJOINED, NULL, 0);
    s_fill (MSG_START_CONJOINED_ARCHIVE, "abort", 700, 0, 0, NULL, 0);
    s_append (RECORD_CONJOINED, NULL, 0);
    s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "abort", 700, 1, 0, 100, 9);
    s_sequence (MSG_ARCHIVE_KEY_START, "abort", 700, 2, 0, 100, 10);
    s_fill (MSG_ABORT_CONJOINED_ARCHIVE, "abort", 700, 0, 0, NULL, 0);
    s_append (RECORD_CONJOINED, NULL, 0);

    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    cr_assert (strstr (s_output, "skipped 0 records"), "%s", s_output);
    //  Swapped in cleanly: no write-ahead log, nothing left over
    cr_assert (!s_exists ("index.db.rebuild"));
    cr_assert (!s_exists ("index.db-wal"));
    cr_assert (!s_exists ("index.db.rebuild-wal"));
    cr_assert_eq (s_status ("entire", 100, 0), 'F');
    cr_assert_eq (s_status ("multi", 200, 0), 'F');
    cr_assert_eq (s_status ("active", 300, 0), 'A');
    cr_assert_eq (s_status ("cancelled", 400, 0), 'C');
    cr_assert_eq (s_status ("entire", 500, 0), 'T');
    cr_assert_eq (s_status ("conj", 600, 1), 'F');
    cr_assert_eq (s_status ("abort", 700, 1), 'C');
    cr_assert_eq (s_status ("abort", 700, 2), 'C');
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 8);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM conjoined WHERE status = 'F'"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM conjoined WHERE status = 'C'"), 1);

    //  Sequences: where the records are, with the request's fields
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence"), 10);
    cr_assert_eq (s_query ("SELECT sequence_count FROM segment WHERE key = 'multi'"), 3);
    cr_assert_eq (s_query ("SELECT value_file_id FROM sequence AS q JOIN segment AS s"
                           " ON s.id = q.segment_id WHERE key = 'multi' AND sequence_num = 2"), 2);
    cr_assert_eq (s_query ("SELECT last_sequence_num FROM segment WHERE key = 'active'"), 6);
    cr_assert_eq (s_query ("SELECT zfec_padding_size FROM sequence LIMIT 1"), 3);
    cr_assert_eq (s_query ("SELECT file_size FROM segment WHERE key = 'multi'"), 12345);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence WHERE adler32 IS NULL"), 0);
    //  record_size: header + descriptor + payload, so the next record follows
    cr_assert_eq (s_query ("SELECT segment_size FROM sequence AS q JOIN segment AS s"
                           " ON s.id = q.segment_id WHERE key = 'entire'"), 5000);
    cr_assert_eq (s_query ("SELECT q.record_offset + q.record_size FROM sequence AS q"
                           " JOIN segment AS s ON s.id = q.segment_id WHERE key = 'entire'"),
                  s_query ("SELECT q.record_offset FROM sequence AS q JOIN segment AS s"
                           " ON s.id = q.segment_id WHERE key = 'multi' AND sequence_num = 0"));

    //  Value files: registered, closed, synced to their size
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file WHERE closed = 1"), 2);
    struct stat status;
    cr_assert_eq (stat (s_file_path (2), &status), 0);
    cr_assert_eq (s_query ("SELECT synced_size FROM value_file WHERE id = 2"), status.st_size);

    //  --check agrees with it
    cr_assert_eq (s_run_check (), 0, "%s", s_output);
    cr_assert (strstr (s_output, "checked 10 records in 2 value files: 0 problems"), "%s", s_output);
}

Test (index_rebuild, skips_impossible_records)
{
    s_new_file (1, 0);
    s_sequence (MSG_ARCHIVE_KEY_NEXT, "orphan", 100, 0, 1, 100, 1);        //  no start
    s_sequence (MSG_ARCHIVE_KEY_START, "gap", 200, 0, 0, 100, 2);
    s_sequence (MSG_ARCHIVE_KEY_NEXT, "gap", 200, 0, 2, 100, 3);           //  1 missing
    s_sequence (MSG_ARCHIVE_KEY_START, "gap", 200, 0, 0, 100, 4);          //  already active
    s_sequence (MSG_ARCHIVE_KEY_FINAL, "other-key", 200, 0, 1, 100, 5);    //  key differs
    s_fill (MSG_ARCHIVE_KEY_CANCEL, "", 999, 0, 0, NULL, 0);               //  nothing active
    s_append (RECORD_CANCEL, NULL, 0);
    s_fill (MSG_FINISH_CONJOINED_ARCHIVE, "none", 300, 0, 0, NULL, 0);     //  never started
    s_append (RECORD_CONJOINED, NULL, 0);
    s_fill (MSG_DESTROY_KEY, "x", 400, 0, 0, NULL, 0);                     //  wrong record type
    s_append (RECORD_CANCEL, NULL, 0);
    //  A descriptor that is not a request header
    value_record_t record = { .type = RECORD_TOMBSTONE, .descriptor_size = 3 };
    digest_md5 (NULL, 0, record.payload_md5);
    cr_assert_eq (value_file_append (s_file, &record, "\x81\xa1x", NULL, 0, NULL), 0);
    s_sequence (MSG_ARCHIVE_KEY_FINAL, "gap", 200, 0, 1, 100, 6);          //  fine

    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    cr_assert (strstr (s_output, "skipped 8 records"), "%s", s_output);
    cr_assert (strstr (s_output, "which is not active"), "%s", s_output);
    cr_assert (strstr (s_output, "sequence 2, but 1 was expected"), "%s", s_output);
    cr_assert (strstr (s_output, "already active"), "%s", s_output);
    cr_assert (strstr (s_output, "collection-id/key differ"), "%s", s_output);
    cr_assert (strstr (s_output, "does not decode"), "%s", s_output);
    char line [1300];
    snprintf (line, sizeof (line), "skipped: %s:0: ", s_file_path (1));
    cr_assert (strstr (s_output, line), "%s", s_output);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 1);
    cr_assert_eq (s_status ("gap", 200, 0), 'F');
    cr_assert_eq (s_query ("SELECT sequence_count FROM segment"), 2);
    cr_assert_eq (s_run_check (), 0, "%s", s_output);
}

Test (index_rebuild, web_writer_start_cancels_only_older_segments_of_its_sender)
{
    s_new_file (1, 0);
    //  node01's segments at timestamps base+100 and base+300; node02's at base+150
    s_sequence (MSG_ARCHIVE_KEY_START, "old", 100, 0, 0, 100, 1);
    s_sequence (MSG_ARCHIVE_KEY_START, "new", 300, 0, 0, 100, 2);
    uint8_t *payload = s_payload (100, 3);
    s_fill (MSG_ARCHIVE_KEY_START, "theirs", 150, 0, 0, payload, 100);
    snprintf (s_request->source_node_name, sizeof (s_request->source_node_name), "node02");
    s_append (RECORD_SEQUENCE, payload, 100);
    free (payload);
    //  web-writer-start from node01 at base+200: cancels "old" only
    s_fill (MSG_WEB_WRITER_START, "", 200, 0, 0, NULL, 0);
    s_request->timestamp = 1700000000000000LL + 200;
    s_append_as (RECORD_CANCEL, 100, 0, 1, NULL, 0);
    //  a record naming "new" (not older) or "theirs" (not node01's) is impossible
    s_append_as (RECORD_CANCEL, 300, 0, 1, NULL, 0);
    s_append_as (RECORD_CANCEL, 150, 0, 1, NULL, 0);
    //  one that cancelled nothing names no segment
    s_append_as (RECORD_CANCEL, 0, 0, 0, NULL, 0);

    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    cr_assert (strstr (s_output, "skipped 2 records"), "%s", s_output);
    cr_assert_eq (s_status ("old", 100, 0), 'C');
    cr_assert_eq (s_status ("new", 300, 0), 'A');
    cr_assert_eq (s_status ("theirs", 150, 0), 'A');
}

Test (index_rebuild, damaged_and_torn_records)
{
    s_new_file (1, 0);
    s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "a", 100, 0, 0, 1000, 1);
    uint64_t corrupt = s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "b", 200, 0, 0, 1000, 2);
    s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "c", 300, 0, 0, 1000, 3);
    uint64_t torn = s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "d", 400, 0, 0, 1000, 4);
    uint64_t size = value_file_size (s_file);
    value_file_destroy (&s_file);

    //  Flip a payload byte of "b", cut "d" in half
    FILE *handle = fopen (s_file_path (1), "r+b");
    cr_assert_not_null (handle);
    cr_assert_eq (fseek (handle, (long) (corrupt + 64 + 200), SEEK_SET), 0);
    int byte = fgetc (handle);
    cr_assert_eq (fseek (handle, (long) (corrupt + 64 + 200), SEEK_SET), 0);
    fputc (byte ^ 1, handle);
    fclose (handle);
    cr_assert_eq (truncate (s_file_path (1), (off_t) (torn + (size - torn) / 2)), 0);

    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    char line [1300];
    snprintf (line, sizeof (line), "problem: %s:%" PRIu64 ": CRC32C mismatch", s_file_path (1), corrupt);
    cr_assert (strstr (s_output, line), "%s", s_output);
    snprintf (line, sizeof (line), "problem: %s:%" PRIu64 ": no well-formed record header",
              s_file_path (1), torn);
    cr_assert (strstr (s_output, line), "%s", s_output);
    cr_assert (strstr (s_output, "2 records failed their checks"), "%s", s_output);
    cr_assert_eq (s_status ("a", 100, 0), 'F');
    cr_assert_eq (s_status ("b", 200, 0), '-');
    cr_assert_eq (s_status ("c", 300, 0), 'F');       //  read past the corrupt record
    cr_assert_eq (s_status ("d", 400, 0), '-');
    cr_assert_eq (s_query ("SELECT synced_size FROM value_file WHERE id = 1"), (int64_t) torn);
    cr_assert_eq (s_run_check (), 0, "%s", s_output);
}

Test (index_rebuild, keeps_the_old_index_and_replaces_a_stale_rebuild)
{
    s_new_file (1, 0);
    s_sequence (MSG_ARCHIVE_KEY_ENTIRE, "a", 100, 0, 0, 100, 1);
    //  An old index with something the value files do not say, and a
    //  stale half-built index from an interrupted run
    char path [160], error [256];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    store_index_t *old = store_index_open (path, error, sizeof (error));
    cr_assert_not_null (old, "%s", error);
    cr_assert_eq (store_index_add_value_file (old, 77, "/nowhere", 0), 0);
    store_index_destroy (&old);
    snprintf (path, sizeof (path), "%s/index.db.rebuild", s_dir);
    FILE *stale = fopen (path, "w");
    fputs ("not a database", stale);
    fclose (stale);

    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    cr_assert (!s_exists ("index.db.rebuild"));
    cr_assert (s_exists ("index.db.old"));
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file WHERE id = 77"), 0);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file"), 1);
    sqlite3 *db;
    snprintf (path, sizeof (path), "%s/index.db.old", s_dir);
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (db, "SELECT id FROM value_file", -1, &statement, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_eq (sqlite3_column_int64 (statement, 0), 77);
    sqlite3_finalize (statement);
    sqlite3_close (db);

    //  A second rebuild replaces index.db.old
    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    snprintf (path, sizeof (path), "%s/index.db.old", s_dir);
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_prepare_v2 (db, "SELECT COUNT (*) FROM value_file WHERE id = 77", -1,
                                      &statement, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_eq (sqlite3_column_int64 (statement, 0), 0);
    sqlite3_finalize (statement);
    sqlite3_close (db);
}

Test (index_rebuild, files_on_several_volumes_in_id_order)
{
    snprintf (s_config.volumes [1], sizeof (s_config.volumes [1]), "%s/volume1", s_dir);
    s_config.volume_count = 2;
    char path [160];
    snprintf (path, sizeof (path), "%s/volume1", s_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    snprintf (path, sizeof (path), "%s/volume1/values", s_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    //  start in file 1 (volume 0), next in file 2 (volume 1), final in file 3 (volume 0)
    s_new_file (1, 0);
    s_sequence (MSG_ARCHIVE_KEY_START, "spread", 100, 0, 0, 100, 1);
    s_new_file (2, 1);
    s_sequence (MSG_ARCHIVE_KEY_NEXT, "spread", 100, 0, 1, 100, 2);
    s_new_file (3, 0);
    s_sequence (MSG_ARCHIVE_KEY_FINAL, "spread", 100, 0, 2, 100, 3);

    cr_assert_eq (s_run_rebuild (), 0, "%s", s_output);
    cr_assert (strstr (s_output, "skipped 0 records"), "%s", s_output);
    cr_assert_eq (s_status ("spread", 100, 0), 'F');
    char sql [300];
    snprintf (sql, sizeof (sql), "SELECT COUNT (*) FROM value_file WHERE id = 2"
              " AND volume = '%s'", s_config.volumes [1]);
    cr_assert_eq (s_query (sql), 1);
    cr_assert_eq (s_run_check (), 0, "%s", s_output);

    //  The same file id on two volumes: refused, index untouched
    s_new_file (3, 1);
    value_file_destroy (&s_file);
    cr_assert_neq (s_run_rebuild (), 0);
    cr_assert (strstr (s_output, "is on two volumes"), "%s", s_output);
    cr_assert (strstr (s_output, "left as it was"), "%s", s_output);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence"), 3);
}
