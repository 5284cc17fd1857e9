/*  =========================================================================
    test_store_index - the node's SQLite index

    Each test opens an index in a fresh temporary directory. Rows are
    checked with plain SQL on store_index_db () (and on a second connection
    where visibility to other readers matters), so the tests see what is
    really stored, not only what the module says.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_index.h"

static char s_dir [64];
static char s_path [128];
static store_index_t *s_index;

//  The id of a node name (store_index_node_id must succeed)
static int64_t
s_name_id (const char *name)
{
    int64_t id = 0;
    cr_assert_eq (store_index_node_id (s_index, name, &id), 0, "node name '%s'", name);
    return id;
}

static void
s_remove_files (void)
{
    const char *suffixes [] = { "", "-wal", "-shm", "-journal" };
    for (size_t index = 0; index < 4; index++) {
        char path [160];
        snprintf (path, sizeof (path), "%s%s", s_path, suffixes [index]);
        unlink (path);
    }
}

static void
s_open (void)
{
    char error [256] = "";
    s_index = store_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_index, "open failed: %s", error);
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-test-index-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/index.db", s_dir);
    s_open ();
}

static void
s_teardown (void)
{
    store_index_destroy (&s_index);
    s_remove_files ();
    rmdir (s_dir);
}

TestSuite (store_index, .init = s_setup, .fini = s_teardown);

//  One integer from a query on db (-1 if no row; asserts on SQL errors)
static int64_t
s_query_int_db (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (db, sql, -1, &statement, NULL), SQLITE_OK,
                  "%s: %s", sql, sqlite3_errmsg (db));
    int rc = sqlite3_step (statement);
    cr_assert (rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg (db));
    int64_t value = rc == SQLITE_ROW? sqlite3_column_int64 (statement, 0): -1;
    sqlite3_finalize (statement);
    return value;
}

static int64_t
s_query_int (const char *sql)
{
    return s_query_int_db (store_index_db (s_index), sql);
}

static int64_t
s_segment_rows (void)
{
    return s_query_int ("SELECT COUNT (*) FROM segment");
}

static index_segment_t
s_segment (const char *key, uint64_t unified_id, uint32_t part, char status)
{
    index_segment_t segment = {
        .collection_id = 7,
        .key = key,
        .unified_id = unified_id,
        .timestamp_us = 1700000000000000LL,
        .conjoined_part = part,
        .segment_num = 3,
        .status = status,
        .source_node_id = 1,
    };
    return segment;
}

static int64_t
s_insert (const char *key, uint64_t unified_id, uint32_t part, char status)
{
    index_segment_t segment = s_segment (key, unified_id, part, status);
    int64_t segment_id = -1;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &segment_id), 0);
    cr_assert_gt (segment_id, 0);
    return segment_id;
}

static char
s_status_of (int64_t segment_id)
{
    char sql [128];
    snprintf (sql, sizeof (sql), "SELECT unicode (status) FROM segment WHERE id = %lld",
              (long long) segment_id);
    return (char) s_query_int (sql);
}

//  --------------------------------------------------------------------------
//  Open and schema

Test (store_index, open_creates_schema)
{
    cr_assert_eq (access (s_path, F_OK), 0, "index.db exists");
    const char *tables [] = { "node_name", "value_file", "segment", "sequence", "conjoined", "damaged" };
    for (size_t index = 0; index < sizeof (tables) / sizeof (tables [0]); index++) {
        char sql [160];
        snprintf (sql, sizeof (sql),
                  "SELECT COUNT (*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", tables [index]);
        cr_assert_eq (s_query_int (sql), 1, "table %s", tables [index]);
    }
    cr_assert_eq (s_query_int ("PRAGMA user_version"), 1);
    cr_assert_eq (s_query_int ("PRAGMA synchronous"), 2, "synchronous = FULL");
    sqlite3_stmt *statement;
    sqlite3_prepare_v2 (store_index_db (s_index), "PRAGMA journal_mode", -1, &statement, NULL);
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_str_eq ((const char *) sqlite3_column_text (statement, 0), "wal");
    sqlite3_finalize (statement);
    cr_assert_not (store_index_in_transaction (s_index));
}

Test (store_index, open_failure)
{
    char path [200], error [256] = "";
    snprintf (path, sizeof (path), "%s/no/such/dir/index.db", s_dir);
    store_index_t *index = store_index_open (path, error, sizeof (error));
    cr_assert_null (index);
    cr_assert_not_null (strstr (error, path), "error names the path: '%s'", error);

    //  Not a database
    snprintf (path, sizeof (path), "%s/garbage.db", s_dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    for (int count = 0; count < 200; count++)
        fputs ("this is not an SQLite database at all\n", file);
    fclose (file);
    error [0] = 0;
    index = store_index_open (path, error, sizeof (error));
    unlink (path);
    cr_assert_null (index);
    cr_assert_neq (error [0], 0);
}

Test (store_index, destroy_accepts_null)
{
    store_index_t *index = NULL;
    store_index_destroy (&index);
    store_index_destroy (&s_index);
    cr_assert_null (s_index);
}

//  --------------------------------------------------------------------------
//  Transactions

Test (store_index, commit_makes_rows_visible)
{
    sqlite3 *other;
    cr_assert_eq (sqlite3_open (s_path, &other), SQLITE_OK);

    cr_assert_eq (store_index_begin (s_index), 0);
    cr_assert (store_index_in_transaction (s_index));
    cr_assert_eq (store_index_begin (s_index), 0, "begin inside a transaction is a no-op");
    s_insert ("a", 1, 0, 'A');
    cr_assert_eq (s_segment_rows (), 1, "visible to the writer");
    cr_assert_eq (s_query_int_db (other, "SELECT COUNT (*) FROM segment"), 0,
                  "not visible to another connection before commit");
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_not (store_index_in_transaction (s_index));
    cr_assert_eq (s_query_int_db (other, "SELECT COUNT (*) FROM segment"), 1, "visible after commit");
    cr_assert_eq (store_index_commit (s_index), 0, "commit with no transaction is a no-op");
    sqlite3_close (other);
}

Test (store_index, rollback_discards)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    s_insert ("a", 1, 0, 'A');
    s_insert ("b", 2, 0, 'A');
    cr_assert_eq (s_segment_rows (), 2);
    cr_assert_eq (store_index_rollback (s_index), 0);
    cr_assert_not (store_index_in_transaction (s_index));
    cr_assert_eq (s_segment_rows (), 0);
    cr_assert_eq (store_index_rollback (s_index), 0, "rollback with no transaction is a no-op");
}

Test (store_index, savepoint_undo_release)
{
    cr_assert_eq (store_index_begin (s_index), 0);

    cr_assert_eq (store_index_savepoint (s_index), 0);
    s_insert ("kept", 1, 0, 'A');
    cr_assert_eq (store_index_release (s_index), 0);

    cr_assert_eq (store_index_savepoint (s_index), 0);
    s_insert ("undone", 2, 0, 'A');
    s_insert ("undone", 3, 0, 'A');
    cr_assert_eq (s_segment_rows (), 3);
    cr_assert_eq (store_index_undo (s_index), 0);
    cr_assert_eq (s_segment_rows (), 1, "the undone request's rows are gone at once");
    cr_assert (store_index_in_transaction (s_index), "the batch is still open");

    cr_assert_eq (store_index_savepoint (s_index), 0);
    s_insert ("kept2", 4, 0, 'A');
    cr_assert_eq (store_index_release (s_index), 0);
    cr_assert_eq (store_index_commit (s_index), 0);

    cr_assert_eq (s_segment_rows (), 2);
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM segment WHERE key = 'undone'"), 0);
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM segment WHERE key IN ('kept', 'kept2')"), 2);

    //  A released savepoint is still undone by a rollback of the batch
    cr_assert_eq (store_index_begin (s_index), 0);
    cr_assert_eq (store_index_savepoint (s_index), 0);
    s_insert ("lost", 5, 0, 'A');
    cr_assert_eq (store_index_release (s_index), 0);
    cr_assert_eq (store_index_rollback (s_index), 0);
    cr_assert_eq (s_segment_rows (), 2);
}

Test (store_index, undo_then_more_savepoints)
{
    //  Many requests in one batch, alternating fail/succeed
    cr_assert_eq (store_index_begin (s_index), 0);
    for (int request = 0; request < 50; request++) {
        cr_assert_eq (store_index_savepoint (s_index), 0);
        s_insert ("k", (uint64_t) request + 1, 0, 'A');
        if (request % 2)
            cr_assert_eq (store_index_undo (s_index), 0);
        else
            cr_assert_eq (store_index_release (s_index), 0);
    }
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_eq (s_segment_rows (), 25);
}

Test (store_index, destroy_rolls_back_open_transaction)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    s_insert ("committed", 1, 0, 'A');
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_eq (store_index_begin (s_index), 0);
    s_insert ("pending", 2, 0, 'A');
    store_index_destroy (&s_index);
    cr_assert_null (s_index);
    s_open ();
    cr_assert_eq (s_segment_rows (), 1);
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM segment WHERE key = 'committed'"), 1);
}

//  --------------------------------------------------------------------------
//  Node ids

static int64_t
s_node_row (const char *name)
{
    char sql [200];
    snprintf (sql, sizeof (sql), "SELECT id FROM node_name WHERE name = '%s'", name);
    return s_query_int (sql);
}

Test (store_index, node_id_insert_and_cache)
{
    int64_t alpha = s_name_id ("alpha");
    int64_t beta = s_name_id ("beta");
    cr_assert_gt (alpha, 0);
    cr_assert_gt (beta, 0);
    cr_assert_neq (alpha, beta);
    cr_assert_eq (s_name_id ("alpha"), alpha, "same name, same id");
    cr_assert_eq (s_name_id ("beta"), beta);
    cr_assert_eq (s_node_row ("alpha"), alpha);
    cr_assert_eq (s_node_row ("beta"), beta);
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM node_name"), 2, "no duplicate rows");
    cr_assert_neq (s_name_id ("Alpha"), alpha, "names are case-sensitive");

    //  Ids survive reopening (no cache then)
    store_index_destroy (&s_index);
    s_open ();
    cr_assert_eq (s_name_id ("beta"), beta);
    cr_assert_eq (s_name_id ("alpha"), alpha);
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM node_name"), 3);
}

Test (store_index, node_id_cache_after_rollback)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    int64_t ghost = s_name_id ("ghost");
    cr_assert_gt (ghost, 0);
    cr_assert_eq (store_index_rollback (s_index), 0);
    cr_assert_eq (s_node_row ("ghost"), -1, "the row went with the rollback");

    //  "other" now gets the rowid ghost had; ghost must not come from cache
    int64_t other = s_name_id ("other");
    int64_t again = s_name_id ("ghost");
    cr_assert_gt (again, 0);
    cr_assert_neq (again, other, "a rolled-back id must not be served from the cache");
    cr_assert_eq (s_node_row ("ghost"), again, "the id returned exists in the table");
}

Test (store_index, node_id_cache_after_undo)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    int64_t before = s_name_id ("before");
    cr_assert_eq (store_index_savepoint (s_index), 0);
    int64_t ghost = s_name_id ("ghost");
    cr_assert_gt (ghost, 0);
    cr_assert_eq (store_index_undo (s_index), 0);
    cr_assert_eq (s_node_row ("ghost"), -1);
    cr_assert_eq (store_index_savepoint (s_index), 0);
    int64_t other = s_name_id ("other");
    int64_t again = s_name_id ("ghost");
    cr_assert_eq (store_index_release (s_index), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_neq (again, other);
    cr_assert_eq (s_node_row ("ghost"), again);
    cr_assert_eq (s_node_row ("before"), before, "ids from before the savepoint stay");
    cr_assert_eq (s_name_id ("before"), before);
}

Test (store_index, node_id_released_then_rolled_back)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    cr_assert_eq (store_index_savepoint (s_index), 0);
    int64_t ghost = s_name_id ("ghost");
    cr_assert_eq (store_index_release (s_index), 0);
    cr_assert_eq (store_index_rollback (s_index), 0);
    int64_t other = s_name_id ("other");
    int64_t again = s_name_id ("ghost");
    cr_assert_eq (other, ghost, "rowid reused (the test relies on it)");
    cr_assert_neq (again, other);
    cr_assert_eq (s_node_row ("ghost"), again);
}

static int
s_refuse_commit (void *arg)
{
    (void) arg;
    return 1;                           //  turns the COMMIT into a ROLLBACK
}

Test (store_index, node_id_cache_after_failed_commit)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    int64_t ghost = s_name_id ("ghost");
    s_insert ("lost", 1, 0, 'A');
    sqlite3_commit_hook (store_index_db (s_index), s_refuse_commit, NULL);
    cr_assert_eq (store_index_commit (s_index), STORE_ERR_SQL);
    sqlite3_commit_hook (store_index_db (s_index), NULL, NULL);
    cr_assert_not (store_index_in_transaction (s_index), "SQLite rolled the batch back");
    cr_assert_eq (s_segment_rows (), 0);
    cr_assert_eq (s_node_row ("ghost"), -1);

    int64_t other = s_name_id ("other");
    cr_assert_eq (other, ghost, "rowid reused (the test relies on it)");
    int64_t again = s_name_id ("ghost");
    cr_assert_neq (again, other, "an id from the failed batch must not be served from the cache");
    cr_assert_eq (s_node_row ("ghost"), again);

    //  The index is usable afterwards
    cr_assert_eq (store_index_begin (s_index), 0);
    s_insert ("kept", 2, 0, 'A');
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_eq (s_segment_rows (), 1);
}

//  --------------------------------------------------------------------------
//  Segments and sequences

typedef struct {
    size_t count;
    index_active_t rows [16];
    char keys [16][64];
} s_collected_t;

static void
s_collect (void *arg, const index_active_t *active)
{
    s_collected_t *collected = (s_collected_t *) arg;
    cr_assert_lt (collected->count, 16);
    collected->rows [collected->count] = *active;
    snprintf (collected->keys [collected->count], 64, "%s", active->key);
    collected->rows [collected->count].key = collected->keys [collected->count];
    collected->count++;
}

static const index_active_t *
s_find (s_collected_t *collected, int64_t segment_id)
{
    for (size_t index = 0; index < collected->count; index++)
        if (collected->rows [index].segment_id == segment_id)
            return &collected->rows [index];
    return NULL;
}

Test (store_index, segment_row_contents)
{
    int64_t handoff = s_name_id ("handoff");
    int64_t source = s_name_id ("source");
    index_segment_t segment = s_segment ("the/key", UINT64_MAX, 2, 'A');
    segment.handoff_node_id = handoff;
    segment.source_node_id = source;
    segment.user_request_id = "trace-1";
    int64_t with_all = -1;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &with_all), 0);

    int64_t plain = s_insert ("plain", 5, 0, 'A');
    cr_assert_gt (plain, with_all);

    index_segment_t tombstone = s_segment ("the/key", 99, 0, 'T');
    tombstone.has_delete_unified_id = true;
    tombstone.delete_unified_id = 1ULL << 63;
    int64_t tomb = -1;
    cr_assert_eq (store_index_insert_segment (s_index, &tombstone, &tomb), 0);

    char sql [512];
    snprintf (sql, sizeof (sql), "SELECT handoff_node_id FROM segment WHERE id = %lld", (long long) with_all);
    cr_assert_eq (s_query_int (sql), handoff);
    snprintf (sql, sizeof (sql), "SELECT source_node_id FROM segment WHERE id = %lld", (long long) with_all);
    cr_assert_eq (s_query_int (sql), source);
    snprintf (sql, sizeof (sql), "SELECT unified_id = %lld FROM segment WHERE id = %lld",
              (long long) INT64_MAX, (long long) with_all);
    cr_assert_eq (s_query_int (sql), 1, "2^64-1 is stored as INT64_MAX");
    snprintf (sql, sizeof (sql), "SELECT user_request_id = 'trace-1' AND conjoined_part = 2"
              " AND segment_num = 3 AND collection_id = 7 AND key = 'the/key'"
              " AND timestamp_us = 1700000000000000 AND sequence_count = 0"
              " AND last_sequence_num IS NULL AND delete_unified_id IS NULL"
              " AND created_us > 0 FROM segment WHERE id = %lld", (long long) with_all);
    cr_assert_eq (s_query_int (sql), 1);

    snprintf (sql, sizeof (sql), "SELECT handoff_node_id IS NULL AND user_request_id IS NULL"
              " AND delete_unified_id IS NULL FROM segment WHERE id = %lld", (long long) plain);
    cr_assert_eq (s_query_int (sql), 1, "optional columns are NULL, not left over from the last insert");

    snprintf (sql, sizeof (sql), "SELECT delete_unified_id FROM segment WHERE id = %lld", (long long) tomb);
    cr_assert_eq (s_query_int (sql), 0, "2^63 is stored as 0");
    cr_assert_eq (s_status_of (tomb), 'T');
}

Test (store_index, bad_status_fails_and_statement_recovers)
{
    index_segment_t segment = s_segment ("bad", 1, 0, 'X');
    int64_t segment_id = 0;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &segment_id), STORE_ERR_SQL, "CHECK (status IN ...)");
    cr_assert_eq (s_segment_rows (), 0);
    s_insert ("good", 2, 0, 'A');
    cr_assert_eq (s_segment_rows (), 1);
    int64_t good = s_query_int ("SELECT id FROM segment");
    cr_assert_eq (store_index_set_status (s_index, good, 'Z'), STORE_ERR_SQL);
    cr_assert_eq (s_status_of (good), 'A');
    cr_assert_eq (store_index_set_status (s_index, good, 'C'), 0);
    cr_assert_eq (s_status_of (good), 'C');
}

Test (store_index, sequences_finish_status_and_active)
{
    uint64_t big_uid = (1ULL << 63) + 12345;
    int64_t first = s_insert ("one", big_uid, 0, 'A');
    int64_t second = s_insert ("two", 2, 1, 'A');
    int64_t empty = s_insert ("three", 3, 0, 'A');
    int64_t tomb = s_insert ("four", 4, 0, 'T');

    cr_assert_eq (store_index_add_value_file (s_index, 1, "/vol0", 1), 0);
    index_sequence_t sequence = {
        .segment_id = first, .sequence_num = 0, .value_file_id = 1,
        .record_offset = 0, .record_size = 100, .segment_size = 64,
        .zfec_padding_size = 3, .has_adler32 = true, .adler32 = 0xdeadbeef,
    };
    memset (sequence.md5, 0xab, sizeof (sequence.md5));
    cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);
    sequence.sequence_num = 1;
    sequence.record_offset = 100;
    sequence.has_adler32 = false;
    cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);
    cr_assert_eq (store_index_insert_sequence (s_index, &sequence), STORE_ERR_SQL, "duplicate (segment, sequence)");

    sequence.segment_id = second;
    sequence.sequence_num = 0;
    cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);

    char sql [256];
    snprintf (sql, sizeof (sql), "SELECT adler32 FROM sequence WHERE segment_id = %lld AND sequence_num = 0",
              (long long) first);
    cr_assert_eq (s_query_int (sql), 0xdeadbeef);
    snprintf (sql, sizeof (sql), "SELECT adler32 IS NULL AND length (md5) = 16 AND hex (md5) LIKE 'ABAB%%'"
              " AND record_offset = 100 AND zfec_padding_size = 3"
              " FROM sequence WHERE segment_id = %lld AND sequence_num = 1", (long long) first);
    cr_assert_eq (s_query_int (sql), 1);

    s_collected_t collected = { 0 };
    cr_assert_eq (store_index_load_active (s_index, s_collect, &collected), 0);
    cr_assert_eq (collected.count, 3, "tombstones are not active");
    const index_active_t *active = s_find (&collected, first);
    cr_assert_not_null (active);
    cr_assert_str_eq (active->key, "one");
    cr_assert_eq (active->unified_id, big_uid);
    cr_assert_eq (active->collection_id, 7);
    cr_assert_eq (active->segment_num, 3);
    cr_assert_eq (active->timestamp_us, 1700000000000000LL);
    cr_assert_eq (active->last_sequence_num, 1);
    cr_assert_eq (active->sequence_count, 2);
    cr_assert_eq (active->handoff_node_id, 0);
    cr_assert_eq (active->source_node_id, 1);
    active = s_find (&collected, second);
    cr_assert_not_null (active);
    cr_assert_eq (active->conjoined_part, 1);
    cr_assert_eq (active->last_sequence_num, 0);
    cr_assert_eq (active->sequence_count, 1);
    active = s_find (&collected, empty);
    cr_assert_not_null (active);
    cr_assert_eq (active->last_sequence_num, -1, "no sequence stored");
    cr_assert_eq (active->sequence_count, 0);
    cr_assert_null (s_find (&collected, tomb));

    //  Finish one (with meta, no adler32) and cancel another
    const uint8_t meta [] = { 0x81, 0xa1, 'a', 0xa1, 'b' };
    index_finish_t finish = { .file_size = 128, .meta = meta, .meta_size = sizeof (meta) };
    memset (finish.file_hash, 0x11, sizeof (finish.file_hash));
    cr_assert_eq (store_index_finish_segment (s_index, first, &finish), 0);
    cr_assert_eq (s_status_of (first), 'F');
    snprintf (sql, sizeof (sql), "SELECT file_size = 128 AND file_adler32 IS NULL AND length (file_hash) = 16"
              " AND hex (meta) = '81A161A162' FROM segment WHERE id = %lld", (long long) first);
    cr_assert_eq (s_query_int (sql), 1);

    index_finish_t finish2 = { .file_size = 64, .has_file_adler32 = true, .file_adler32 = 42 };
    cr_assert_eq (store_index_finish_segment (s_index, second, &finish2), 0);
    snprintf (sql, sizeof (sql), "SELECT file_adler32 = 42 AND meta IS NULL FROM segment WHERE id = %lld",
              (long long) second);
    cr_assert_eq (s_query_int (sql), 1);

    cr_assert_eq (store_index_set_status (s_index, empty, 'C'), 0);
    cr_assert_eq (s_status_of (empty), 'C');

    memset (&collected, 0, sizeof (collected));
    cr_assert_eq (store_index_load_active (s_index, s_collect, &collected), 0);
    cr_assert_eq (collected.count, 0);

    int64_t counts [4] = { -1, -1, -1, -1 };
    cr_assert_eq (store_index_count_segments (s_index, counts), 0);
    cr_assert_eq (counts [0], 0, "active");
    cr_assert_eq (counts [1], 2, "finished");
    cr_assert_eq (counts [2], 1, "cancelled");
    cr_assert_eq (counts [3], 1, "tombstone");
}

Test (store_index, count_segments_empty)
{
    int64_t counts [4] = { 9, 9, 9, 9 };
    cr_assert_eq (store_index_count_segments (s_index, counts), 0);
    for (int index = 0; index < 4; index++)
        cr_assert_eq (counts [index], 0);
    s_collected_t collected = { 0 };
    cr_assert_eq (store_index_load_active (s_index, s_collect, &collected), 0);
    cr_assert_eq (collected.count, 0);
}

//  --------------------------------------------------------------------------
//  unified-id order

Test (store_index, uid_conversion)
{
    cr_assert_eq (store_index_uid_to_db (0), INT64_MIN);
    cr_assert_eq (store_index_uid_to_db (1), INT64_MIN + 1);
    cr_assert_eq (store_index_uid_to_db ((1ULL << 63) - 1), -1);
    cr_assert_eq (store_index_uid_to_db (1ULL << 63), 0);
    cr_assert_eq (store_index_uid_to_db (UINT64_MAX), INT64_MAX);
    const uint64_t samples [] = { 0, 1, 2, 12345, (1ULL << 63) - 1, 1ULL << 63, (1ULL << 63) + 1, UINT64_MAX - 1, UINT64_MAX };
    for (size_t index = 0; index < sizeof (samples) / sizeof (samples [0]); index++) {
        cr_assert_eq (store_index_uid_from_db (store_index_uid_to_db (samples [index])), samples [index]);
        if (index > 0)
            cr_assert_lt (store_index_uid_to_db (samples [index - 1]), store_index_uid_to_db (samples [index]));
    }
}

Test (store_index, uid_order_in_sql)
{
    const uint64_t shuffled [] = { UINT64_MAX, 0, 1ULL << 63, 1, (1ULL << 63) - 1 };
    const uint64_t sorted [] = { 0, 1, (1ULL << 63) - 1, 1ULL << 63, UINT64_MAX };
    for (size_t index = 0; index < 5; index++)
        s_insert ("k", shuffled [index], 0, 'A');

    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (store_index_db (s_index),
                  "SELECT unified_id FROM segment ORDER BY unified_id", -1, &statement, NULL), SQLITE_OK);
    for (size_t index = 0; index < 5; index++) {
        cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
        uint64_t uid = store_index_uid_from_db (sqlite3_column_int64 (statement, 0));
        cr_assert_eq (uid, sorted [index], "row %zu: %llu", index, (unsigned long long) uid);
    }
    cr_assert_eq (sqlite3_step (statement), SQLITE_DONE);
    sqlite3_finalize (statement);

    //  Comparisons in SQL follow unsigned order too
    char sql [160];
    snprintf (sql, sizeof (sql), "SELECT COUNT (*) FROM segment WHERE unified_id > %lld",
              (long long) store_index_uid_to_db ((1ULL << 63) - 1));
    cr_assert_eq (s_query_int (sql), 2, "2^63 and 2^64-1 are above 2^63-1");
}

//  --------------------------------------------------------------------------
//  Conjoined archives

Test (store_index, conjoined)
{
    int64_t handoff = s_name_id ("h");
    uint64_t uid = UINT64_MAX - 5;
    int64_t found = -1;
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "multi", uid, 0, &found), 0);
    cr_assert_eq (found, 0, "none yet");

    cr_assert_eq (store_index_insert_conjoined (s_index, 7, "multi", uid, 1000, 0), 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "multi", uid, 0, &found), 0);
    cr_assert_gt (found, 0);
    int64_t first = found;
    char sql [200];
    snprintf (sql, sizeof (sql), "SELECT handoff_node_id IS NULL AND status = 'A' AND timestamp_us = 1000"
              " AND completed_us IS NULL FROM conjoined WHERE id = %lld", (long long) first);
    cr_assert_eq (s_query_int (sql), 1);

    //  Another key, collection or uid does not match
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "other", uid, 0, &found), 0);
    cr_assert_eq (found, 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 8, "multi", uid, 0, &found), 0);
    cr_assert_eq (found, 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "multi", uid + 1, 0, &found), 0);
    cr_assert_eq (found, 0);

    //  With a handoff node
    cr_assert_eq (store_index_insert_conjoined (s_index, 7, "handed", 5, 2000, handoff), 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "handed", 5, handoff, &found), 0);
    snprintf (sql, sizeof (sql), "SELECT handoff_node_id FROM conjoined WHERE id = %lld", (long long) found);
    cr_assert_eq (s_query_int (sql), handoff);

    //  Finished: no longer active
    cr_assert_eq (store_index_set_conjoined_status (s_index, first, 'F'), 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "multi", uid, 0, &found), 0);
    cr_assert_eq (found, 0);
    snprintf (sql, sizeof (sql), "SELECT status = 'F' AND completed_us > 0 FROM conjoined WHERE id = %lld",
              (long long) first);
    cr_assert_eq (s_query_int (sql), 1);
    cr_assert_eq (store_index_set_conjoined_status (s_index, first, 'Q'), STORE_ERR_SQL, "CHECK on status");

    //  Started again: the new one is found
    cr_assert_eq (store_index_insert_conjoined (s_index, 7, "multi", uid, 3000, 0), 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "multi", uid, 0, &found), 0);
    cr_assert_gt (found, first);
    cr_assert_eq (store_index_set_conjoined_status (s_index, found, 'C'), 0);
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "multi", uid, 0, &found), 0);
    cr_assert_eq (found, 0);
}

Test (store_index, cancel_conjoined_parts)
{
    uint64_t uid = 1ULL << 63;
    int64_t part0 = s_insert ("multi", uid, 0, 'A');
    int64_t part1 = s_insert ("multi", uid, 1, 'A');
    int64_t part2 = s_insert ("multi", uid, 2, 'A');
    int64_t part3 = s_insert ("multi", uid, 3, 'T');
    int64_t part4 = s_insert ("multi", uid, 4, 'A');
    index_finish_t finish = { .file_size = 1 };
    cr_assert_eq (store_index_finish_segment (s_index, part2, &finish), 0);
    cr_assert_eq (store_index_set_status (s_index, part4, 'C'), 0);
    int64_t other_key = s_insert ("multi2", uid, 1, 'A');
    int64_t other_uid = s_insert ("multi", uid + 1, 1, 'A');
    index_segment_t segment = s_segment ("multi", uid, 1, 'A');
    segment.collection_id = 8;
    int64_t other_collection;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &other_collection), 0);

    int count = -1;
    cr_assert_eq (store_index_cancel_conjoined_parts (s_index, 7, "multi", uid, 0, &count), 0);
    cr_assert_eq (count, 2, "part 1 (A) and part 2 (F)");
    cr_assert_eq (s_status_of (part0), 'A', "part 0 is not a conjoined part");
    cr_assert_eq (s_status_of (part1), 'C');
    cr_assert_eq (s_status_of (part2), 'C');
    cr_assert_eq (s_status_of (part3), 'T', "tombstones stay");
    cr_assert_eq (s_status_of (part4), 'C');
    cr_assert_eq (s_status_of (other_key), 'A');
    cr_assert_eq (s_status_of (other_uid), 'A');
    cr_assert_eq (s_status_of (other_collection), 'A');

    cr_assert_eq (store_index_cancel_conjoined_parts (s_index, 7, "multi", uid, 0, &count), 0);
    cr_assert_eq (count, 0, "nothing left to cancel");
    cr_assert_eq (store_index_cancel_conjoined_parts (s_index, 7, "none", 1, 0, &count), 0);
    cr_assert_eq (count, 0);
}

//  --------------------------------------------------------------------------
//  Value files

Test (store_index, value_files)
{
    cr_assert_eq (store_index_max_value_file_id (s_index), 0);
    int64_t count = -1;
    cr_assert_eq (store_index_count_value_files (s_index, &count), 0);
    cr_assert_eq (count, 0);

    cr_assert_eq (store_index_add_value_file (s_index, 3, "/vol0", 100), 0);
    cr_assert_eq (store_index_add_value_file (s_index, 7, "/vol1", 200), 0);
    cr_assert_eq (store_index_add_value_file (s_index, 5, "/vol0", 300), 0);
    cr_assert_eq (store_index_add_value_file (s_index, 7, "/elsewhere", 400), 0, "INSERT OR IGNORE");
    cr_assert_eq (store_index_max_value_file_id (s_index), 7);
    cr_assert_eq (store_index_count_value_files (s_index, &count), 0);
    cr_assert_eq (count, 3);
    cr_assert_eq (s_query_int ("SELECT created_us FROM value_file WHERE id = 7"), 200, "first insert kept");
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM value_file WHERE volume = '/vol1' AND id = 7"), 1);

    cr_assert_eq (store_index_set_file_synced (s_index, 7, 123456789), 0);
    cr_assert_eq (s_query_int ("SELECT synced_size FROM value_file WHERE id = 7"), 123456789);
    cr_assert_eq (s_query_int ("SELECT synced_size FROM value_file WHERE id = 3"), 0);

    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM value_file WHERE closed = 0"), 3);
    cr_assert_eq (store_index_close_value_files (s_index), 0);
    cr_assert_eq (s_query_int ("SELECT COUNT (*) FROM value_file WHERE closed = 0"), 0);
}

//  --------------------------------------------------------------------------
//  Reopen

Test (store_index, reopen_sees_committed_data)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    int64_t node = s_name_id ("src");
    cr_assert_eq (store_index_add_value_file (s_index, 42, "/v", 1), 0);
    int64_t active = s_insert ("a", 10, 0, 'A');
    int64_t finished = s_insert ("b", 11, 0, 'A');
    index_finish_t finish = { .file_size = 5 };
    cr_assert_eq (store_index_finish_segment (s_index, finished, &finish), 0);
    cr_assert_eq (store_index_insert_conjoined (s_index, 7, "c", 12, 1, 0), 0);
    cr_assert_eq (store_index_commit (s_index), 0);

    store_index_destroy (&s_index);
    s_open ();
    cr_assert_eq (store_index_max_value_file_id (s_index), 42);
    int64_t counts [4];
    cr_assert_eq (store_index_count_segments (s_index, counts), 0);
    cr_assert_eq (counts [0], 1);
    cr_assert_eq (counts [1], 1);
    s_collected_t collected = { 0 };
    cr_assert_eq (store_index_load_active (s_index, s_collect, &collected), 0);
    cr_assert_eq (collected.count, 1);
    cr_assert_eq (collected.rows [0].segment_id, active);
    cr_assert_eq (collected.rows [0].unified_id, 10);
    cr_assert_eq (s_name_id ("src"), node);
    int64_t found = 0;
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, "c", 12, 0, &found), 0);
    cr_assert_gt (found, 0);

    //  Reopening applies the schema again without harm
    store_index_destroy (&s_index);
    s_open ();
    cr_assert_eq (s_segment_rows (), 2);
}
