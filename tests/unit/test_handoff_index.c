/*  =========================================================================
    test_handoff_index - what the handoff forwarder sees in the index, and
    the purge that ends a handoff copy

    Each test builds an index in a fresh temporary directory with the
    writer's own module (store_index: segments, tombstones, conjoined
    archives, sequences, purges) and reads it back through handoff_index:
    per-owner counts (held, pending), the walk over pending copies (oldest
    first, by kind, with every field the replay needs), the sequences of a
    segment, and that forwarded copies drop out. Also: an index made before
    forwarded_us existed gets the column when store_index opens it.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_index.h"
#include "handoff_index.h"

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
static handoff_index_t *s_handoff;

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-test-handoff-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/index.db", s_dir);
    char error [256] = "";
    s_index = store_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_index, "open failed: %s", error);
    s_handoff = handoff_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_handoff, "handoff open failed: %s", error);
}

static void
s_teardown (void)
{
    handoff_index_destroy (&s_handoff);
    store_index_destroy (&s_index);
    const char *suffixes [] = { "", "-wal", "-shm", "-journal" };
    for (size_t index = 0; index < 4; index++) {
        char path [160];
        snprintf (path, sizeof (path), "%s%s", s_path, suffixes [index]);
        unlink (path);
    }
    rmdir (s_dir);
}

TestSuite (handoff_index, .init = s_setup, .fini = s_teardown);

//  --------------------------------------------------------------------------
//  Building rows as the writer does (each call its own committed batch)

//  A segment of sequences 0..sequences-1 (finished unless active), or a
//  tombstone when sequences is 0
static int64_t
s_segment (const char *key, uint64_t unified_id, uint8_t segment_num, const char *owner,
           int sequences, bool finish)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    index_segment_t segment = {
        .collection_id = 7, .key = key, .unified_id = unified_id, .timestamp_us = 1234567,
        .segment_num = segment_num, .status = sequences? 'A': 'T',
        .source_node_id = s_name_id ("node03"),
        .handoff_node_id = owner? s_name_id (owner): 0,
        .has_delete_unified_id = sequences == 0, .delete_unified_id = unified_id - 1,
        .user_request_id = "trace-1",
    };
    int64_t id;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &id), 0);
    for (int number = 0; number < sequences; number++) {
        index_sequence_t sequence = {
            .segment_id = id, .sequence_num = (uint32_t) number, .value_file_id = 1,
            .record_offset = (uint64_t) number * 1000, .record_size = 900,
            .segment_size = 800, .zfec_padding_size = 3, .has_adler32 = number == 0,
            .adler32 = 99,
        };
        memset (sequence.md5, number + 1, DIGEST_MD5_SIZE);
        cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);
    }
    if (sequences && finish) {
        uint8_t meta [] = { 0x81, 0xa1, 'a', 0xa1, 'b' };
        index_finish_t done = {
            .file_size = 4242, .has_file_adler32 = true, .file_adler32 = 77,
            .meta = meta, .meta_size = sizeof (meta),
        };
        memset (done.file_hash, 0xAB, DIGEST_MD5_SIZE);
        cr_assert_eq (store_index_finish_segment (s_index, id, &done), 0);
    }
    cr_assert_eq (store_index_add_value_file (s_index, 1, "/volume", 1), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
    return id;
}

static void
s_conjoined (const char *key, uint64_t unified_id, const char *owner, char status)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    cr_assert_eq (store_index_insert_conjoined (s_index, 7, key, unified_id, 555,
                                                owner? s_name_id (owner): 0), 0);
    int64_t id = 0;
    cr_assert_eq (store_index_find_active_conjoined (s_index, 7, key, unified_id,
                                                     owner? s_name_id (owner): 0, &id), 0);
    cr_assert_gt (id, 0);
    if (status != 'A')
        cr_assert_eq (store_index_set_conjoined_status (s_index, id, status), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
}

static int
s_purge (const char *key, uint64_t unified_id, bool has_segment_num, uint8_t segment_num,
         const char *owner)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    index_purge_t purge = {
        .collection_id = 7, .key = key, .unified_id = unified_id,
        .has_segment_num = has_segment_num, .segment_num = segment_num,
        .handoff_node_id = s_name_id (owner), .forwarded_us = 31337,
    };
    int count = -1;
    cr_assert_eq (store_index_purge_handoff (s_index, &purge, &count), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
    return count;
}

//  --------------------------------------------------------------------------
//  Counting

typedef struct {
    uint64_t held [4];          //  node02, node04, other, calls
    uint64_t pending [4];
} s_counts_t;

static void
s_count_fn (void *arg, const char *owner, uint64_t held, uint64_t pending)
{
    s_counts_t *counts = (s_counts_t *) arg;
    int slot = strcmp (owner, "node02") == 0? 0: strcmp (owner, "node04") == 0? 1: 2;
    counts->held [slot] += held;
    counts->pending [slot] += pending;
    counts->held [3]++;
}

static s_counts_t
s_count (void)
{
    s_counts_t counts;
    memset (&counts, 0, sizeof (counts));
    cr_assert_eq (handoff_index_count (s_handoff, s_count_fn, &counts), 0);
    return counts;
}

Test (handoff_index, nothing_held)
{
    s_segment ("own", 100, 1, NULL, 2, true);
    s_conjoined ("own-conjoined", 101, NULL, 'F');
    s_counts_t counts = s_count ();
    cr_assert_eq (counts.held [3], 0, "no owner reported");
    handoff_item_t item;
    memset (&item, 0, sizeof (item));
    cr_assert_eq (handoff_index_next (s_handoff, "node02", 0, 0, &item), 1);
    cr_assert_eq (handoff_index_next (s_handoff, "unknown", 0, 0, &item), 1);
    handoff_item_reset (&item);
}

Test (handoff_index, counts_held_and_pending_per_owner)
{
    s_segment ("a", 100, 2, "node02", 2, true);        //  pending
    s_segment ("b", 101, 2, "node02", 1, false);       //  active: held only
    s_segment ("c", 102, 2, "node02", 0, false);       //  tombstone: pending
    int64_t cancelled = s_segment ("d", 103, 2, "node02", 1, false);
    cr_assert_eq (store_index_begin (s_index), 0);
    cr_assert_eq (store_index_set_status (s_index, cancelled, 'C'), 0);
    cr_assert_eq (store_index_commit (s_index), 0);    //  cancelled: not held
    s_segment ("e", 104, 4, "node04", 1, true);
    s_conjoined ("f", 105, "node02", 'A');             //  held only
    s_conjoined ("g", 106, "node02", 'F');             //  pending
    s_conjoined ("h", 107, "node04", 'C');             //  pending (abort)
    s_segment ("own", 108, 1, NULL, 1, true);

    s_counts_t counts = s_count ();
    cr_assert_eq (counts.held [0], 5, "node02 held %lu", (unsigned long) counts.held [0]);
    cr_assert_eq (counts.pending [0], 3, "node02 pending %lu", (unsigned long) counts.pending [0]);
    cr_assert_eq (counts.held [1], 2);
    cr_assert_eq (counts.pending [1], 2);
    cr_assert_eq (counts.held [2], 0);

    //  Purged copies are no longer held
    cr_assert_eq (s_purge ("a", 100, true, 2, "node02"), 1);
    cr_assert_eq (s_purge ("g", 106, false, 0, "node02"), 1);
    counts = s_count ();
    cr_assert_eq (counts.held [0], 3);
    cr_assert_eq (counts.pending [0], 1);
}

Test (handoff_index, walk_oldest_first_with_every_field)
{
    s_segment ("seg", 200, 2, "node02", 3, true);
    s_conjoined ("conj", 201, "node02", 'F');
    s_segment ("tomb", 202, 2, "node02", 0, false);
    s_segment ("active", 203, 2, "node02", 1, false);
    s_segment ("other", 204, 4, "node04", 1, true);

    handoff_item_t item;
    memset (&item, 0, sizeof (item));
    cr_assert_eq (handoff_index_next (s_handoff, "node02", 0, 0, &item), 0);
    cr_assert_eq (item.kind, HANDOFF_SEGMENT);
    cr_assert_str_eq (item.key, "seg");
    cr_assert_eq (item.unified_id, 200);
    cr_assert_eq (item.collection_id, 7);
    cr_assert_eq (item.timestamp_us, 1234567);
    cr_assert_eq (item.segment_num, 2);
    cr_assert_eq (item.status, 'F');
    cr_assert_str_eq (item.source, "node03");
    cr_assert_str_eq (item.user_request_id, "trace-1");
    cr_assert_eq (item.file_size, 4242);
    cr_assert (item.has_file_adler32);
    cr_assert_eq (item.file_adler32, 77);
    cr_assert_eq (item.file_hash [0], 0xAB);
    cr_assert_eq (item.meta_size, 5);
    cr_assert_eq (item.meta [0], 0x81);
    cr_assert_eq (item.sequence_count, 3);
    cr_assert_eq (item.first_sequence_num, 0);
    cr_assert_eq (item.last_sequence_num, 2);
    int64_t after_segment = item.row_id;

    //  Its sequences, in order
    handoff_sequence_t sequence;
    int64_t after = -1;
    for (uint32_t number = 0; number < 3; number++) {
        cr_assert_eq (handoff_index_sequence (s_handoff, item.row_id, after, &sequence), 0);
        cr_assert_eq (sequence.sequence_num, number);
        cr_assert_eq (sequence.record_offset, number * 1000);
        cr_assert_eq (sequence.record_size, 900);
        cr_assert_eq (sequence.segment_size, 800);
        cr_assert_eq (sequence.zfec_padding_size, 3);
        cr_assert_eq (sequence.md5 [0], number + 1);
        cr_assert_eq (sequence.has_adler32, number == 0);
        cr_assert_str_eq (sequence.volume, "/volume");
        after = sequence.sequence_num;
    }
    cr_assert_eq (handoff_index_sequence (s_handoff, item.row_id, after, &sequence), 1);

    cr_assert_eq (handoff_index_next (s_handoff, "node02", after_segment, 0, &item), 0);
    cr_assert_eq (item.kind, HANDOFF_CONJOINED);
    cr_assert_str_eq (item.key, "conj");
    cr_assert_eq (item.unified_id, 201);
    cr_assert_eq (item.status, 'F');
    cr_assert_eq (item.timestamp_us, 555);
    cr_assert_null (item.meta);
    int64_t after_conjoined = item.row_id;

    cr_assert_eq (handoff_index_next (s_handoff, "node02", after_segment, after_conjoined, &item), 0);
    cr_assert_eq (item.kind, HANDOFF_TOMBSTONE);
    cr_assert_str_eq (item.key, "tomb");
    cr_assert (item.has_delete_unified_id);
    cr_assert_eq (item.delete_unified_id, 201);
    cr_assert_eq (item.sequence_count, 0);
    after_segment = item.row_id;

    //  The active segment is not pending; node04's copy is not node02's
    cr_assert_eq (handoff_index_next (s_handoff, "node02", after_segment, after_conjoined, &item), 1);
    cr_assert_eq (handoff_index_next (s_handoff, "node04", 0, 0, &item), 0);
    cr_assert_str_eq (item.key, "other");
    handoff_item_reset (&item);
    cr_assert_null (item.meta);
}

Test (handoff_index, forwarded_copies_drop_out)
{
    s_segment ("seg", 300, 2, "node02", 1, true);
    s_segment ("seg2", 301, 2, "node02", 1, true);
    //  Only what matches exactly is purged
    cr_assert_eq (s_purge ("seg", 300, true, 3, "node02"), 0, "other segment-num");
    cr_assert_eq (s_purge ("seg", 300, true, 2, "node04"), 0, "other owner");
    cr_assert_eq (s_purge ("seg", 300, false, 0, "node02"), 0, "not a conjoined archive");
    cr_assert_eq (s_purge ("seg", 300, true, 2, "node02"), 1);
    cr_assert_eq (s_purge ("seg", 300, true, 2, "node02"), 0, "purged already");

    handoff_item_t item;
    memset (&item, 0, sizeof (item));
    cr_assert_eq (handoff_index_next (s_handoff, "node02", 0, 0, &item), 0);
    cr_assert_str_eq (item.key, "seg2");
    handoff_item_reset (&item);
    sqlite3 *db = store_index_db (s_index);
    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (db, "SELECT forwarded_us FROM segment WHERE key = 'seg'",
                                      -1, &statement, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_eq (sqlite3_column_int64 (statement, 0), 31337);
    sqlite3_finalize (statement);
}

Test (handoff_index, purge_leaves_own_active_and_cancelled_copies)
{
    s_segment ("own", 400, 2, NULL, 1, true);
    s_segment ("active", 401, 2, "node02", 1, false);
    s_conjoined ("conj", 402, "node02", 'A');
    cr_assert_eq (s_purge ("own", 400, true, 2, "node02"), 0);
    cr_assert_eq (s_purge ("active", 401, true, 2, "node02"), 0);
    cr_assert_eq (s_purge ("conj", 402, false, 0, "node02"), 0);
}

//  --------------------------------------------------------------------------
//  An index from before forwarded_us gets the column

Test (handoff_index, old_index_is_migrated)
{
    handoff_index_destroy (&s_handoff);
    store_index_destroy (&s_index);
    unlink (s_path);
    char path [160];
    snprintf (path, sizeof (path), "%s-wal", s_path);
    unlink (path);
    snprintf (path, sizeof (path), "%s-shm", s_path);
    unlink (path);

    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (s_path, &db), SQLITE_OK);
    const char *old_schema =
        "CREATE TABLE segment (id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL,"
        " key TEXT NOT NULL, unified_id INTEGER NOT NULL, timestamp_us INTEGER NOT NULL,"
        " conjoined_part INTEGER NOT NULL DEFAULT 0, segment_num INTEGER NOT NULL,"
        " status TEXT NOT NULL, source_node_id INTEGER NOT NULL, handoff_node_id INTEGER,"
        " file_size INTEGER, file_adler32 INTEGER, file_hash BLOB, meta BLOB,"
        " sequence_count INTEGER NOT NULL DEFAULT 0, last_sequence_num INTEGER,"
        " delete_unified_id INTEGER, user_request_id TEXT, created_us INTEGER NOT NULL);"
        "CREATE TABLE conjoined (id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL,"
        " key TEXT NOT NULL, unified_id INTEGER NOT NULL, timestamp_us INTEGER NOT NULL,"
        " handoff_node_id INTEGER, status TEXT NOT NULL, created_us INTEGER NOT NULL,"
        " completed_us INTEGER);"
        "INSERT INTO segment (collection_id, key, unified_id, timestamp_us, segment_num, status,"
        " source_node_id, created_us) VALUES (1, 'kept', 5, 6, 1, 'F', 1, 7);";
    cr_assert_eq (sqlite3_exec (db, old_schema, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg (db));
    sqlite3_close (db);

    char error [256] = "";
    s_index = store_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_index, "open of an old index failed: %s", error);
    s_handoff = handoff_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_handoff, "%s", error);
    sqlite3_stmt *statement;
    db = store_index_db (s_index);
    cr_assert_eq (sqlite3_prepare_v2 (db, "SELECT key, forwarded_us IS NULL FROM segment",
                                      -1, &statement, NULL), SQLITE_OK, "%s", sqlite3_errmsg (db));
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_str_eq ((const char *) sqlite3_column_text (statement, 0), "kept");
    cr_assert_eq (sqlite3_column_int (statement, 1), 1);
    sqlite3_finalize (statement);
    cr_assert_eq (sqlite3_prepare_v2 (db, "SELECT forwarded_us FROM conjoined", -1, &statement, NULL),
                  SQLITE_OK);
    sqlite3_finalize (statement);

    //  Opening it again changes nothing
    store_index_destroy (&s_index);
    s_index = store_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_index, "%s", error);
}

Test (handoff_index, open_fails_cleanly)
{
    char error [256] = "";
    handoff_index_t *index = handoff_index_open ("/nonexistent/dir/index.db", error, sizeof (error));
    cr_assert_null (index);
    cr_assert_neq (error [0], 0);
}
