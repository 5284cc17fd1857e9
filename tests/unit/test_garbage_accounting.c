/*  =========================================================================
    test_garbage_accounting - what is garbage, per value file

    Drives store_index the way the writer does (rows, then
    store_index_account_key for the key that changed, then the commit that
    records synced sizes) and checks value_file.live_bytes / garbage_bytes
    and segment.garbage for each kind of garbage (docs/reading.md, "What is
    garbage"). After each case the incremental figures must equal a full
    recount (store_index_recount_garbage, which --rebuild-index and an
    index of an older build use). Also: a compaction's index update.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_index.h"

static char s_dir [64];
static store_index_t *s_index;

//  The id of a node name (store_index_node_id must succeed)
static int64_t
s_name_id (const char *name)
{
    int64_t id = 0;
    cr_assert_eq (store_index_node_id (s_index, name, &id), 0, "node name '%s'", name);
    return id;
}
static int64_t s_node_id;
static int64_t s_handoff_id;

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-garbage-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    char path [128], error [256];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    s_index = store_index_open (path, error, sizeof (error));
    cr_assert_not_null (s_index, "%s", error);
    cr_assert_eq (store_index_begin (s_index), 0);
    s_node_id = s_name_id ("node01");
    s_handoff_id = s_name_id ("node02");
    for (uint64_t file_id = 1; file_id <= 3; file_id++)
        cr_assert_eq (store_index_add_value_file (s_index, file_id, "/v", 1), 0);
}

static void
s_teardown (void)
{
    store_index_destroy (&s_index);
    char command [128];
    snprintf (command, sizeof (command), "rm -rf %s", s_dir);
    cr_assert_eq (system (command), 0);
}

//  The next record offset per file (records laid out one after another)
static uint64_t s_end [4];

//  A finished segment of one sequence (entire) of record_size bytes in
//  file_id; handoff: held for node02
static int64_t
s_entire (const char *key, uint64_t unified_id, uint64_t file_id, uint64_t record_size, bool handoff)
{
    index_segment_t segment = {
        .collection_id = 1, .key = key, .unified_id = unified_id, .timestamp_us = 1,
        .segment_num = 1, .status = 'F', .source_node_id = s_node_id,
        .handoff_node_id = handoff? s_handoff_id: 0,
    };
    index_finish_t finish = { .file_size = record_size - 64 };
    index_sequence_t sequence = {
        .value_file_id = file_id, .record_offset = s_end [file_id], .record_size = record_size,
        .segment_size = record_size - 64,
    };
    s_end [file_id] += record_size;
    int64_t segment_id;
    cr_assert_eq (store_index_insert_entire (s_index, &segment, &finish, &sequence, &segment_id), 0);
    cr_assert_eq (store_index_account_key (s_index, 1, key), 0);
    return segment_id;
}

//  An active segment with one sequence in each file given
static int64_t
s_active (const char *key, uint64_t unified_id, uint32_t part, const uint64_t *files, int count,
          uint64_t record_size)
{
    index_segment_t segment = {
        .collection_id = 1, .key = key, .unified_id = unified_id, .timestamp_us = 1,
        .conjoined_part = part, .segment_num = 1, .status = 'A', .source_node_id = s_node_id,
    };
    int64_t segment_id;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &segment_id), 0);
    for (int index = 0; index < count; index++) {
        index_sequence_t sequence = {
            .segment_id = segment_id, .sequence_num = (uint32_t) index,
            .value_file_id = files [index], .record_offset = s_end [files [index]],
            .record_size = record_size, .segment_size = record_size - 64,
        };
        s_end [files [index]] += record_size;
        cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);
    }
    return segment_id;
}

//  A tombstone (general when to_delete is 0), accounted
static void
s_tombstone (const char *key, uint64_t unified_id, uint64_t to_delete, bool handoff)
{
    index_segment_t tombstone = {
        .collection_id = 1, .key = key, .unified_id = unified_id, .timestamp_us = 1,
        .segment_num = 1, .status = 'T', .source_node_id = s_node_id,
        .handoff_node_id = handoff? s_handoff_id: 0,
        .has_delete_unified_id = to_delete != 0, .delete_unified_id = to_delete,
    };
    int64_t segment_id;
    cr_assert_eq (store_index_insert_segment (s_index, &tombstone, &segment_id), 0);
    //  A tombstone record of 100 bytes in file 3 (live: kept by compaction)
    s_end [3] += 100;
    cr_assert_eq (store_index_account_key (s_index, 1, key), 0);
}

//  The group commit: synced sizes recorded
static void
s_commit (void)
{
    for (uint64_t file_id = 1; file_id <= 3; file_id++)
        cr_assert_eq (store_index_set_file_synced (s_index, file_id, s_end [file_id]), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_eq (store_index_begin (s_index), 0);
}

static int64_t
s_query (const char *sql, int64_t argument)
{
    sqlite3_stmt *statement = NULL;
    cr_assert_eq (sqlite3_prepare_v2 (store_index_db (s_index), sql, -1, &statement, NULL), SQLITE_OK,
                  "%s", sqlite3_errmsg (store_index_db (s_index)));
    sqlite3_bind_int64 (statement, 1, argument);
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW, "%s", sql);
    int64_t value = sqlite3_column_int64 (statement, 0);
    sqlite3_finalize (statement);
    return value;
}

static int64_t
s_garbage (uint64_t file_id)
{
    return s_query ("SELECT garbage_bytes FROM value_file WHERE id = ?1", (int64_t) file_id);
}

static int64_t
s_live (uint64_t file_id)
{
    return s_query ("SELECT live_bytes FROM value_file WHERE id = ?1", (int64_t) file_id);
}

static bool
s_is_garbage (int64_t segment_id)
{
    return s_query ("SELECT garbage FROM segment WHERE id = ?1", segment_id) != 0;
}

//  The incremental figures equal a full recount
static void
s_assert_recount_agrees (void)
{
    s_commit ();
    int64_t garbage [4], live [4];
    for (uint64_t file_id = 1; file_id <= 3; file_id++) {
        garbage [file_id] = s_garbage (file_id);
        live [file_id] = s_live (file_id);
        cr_assert_eq (garbage [file_id] + live [file_id], (int64_t) s_end [file_id]);
    }
    int64_t marked = s_query ("SELECT COUNT (*) FROM segment WHERE garbage = 1 AND ?1 = ?1", 0);
    cr_assert_eq (store_index_recount_garbage (s_index), 0);
    for (uint64_t file_id = 1; file_id <= 3; file_id++) {
        cr_assert_eq (s_garbage (file_id), garbage [file_id], "file %d: garbage %ld, recount %ld",
                      (int) file_id, (long) garbage [file_id], (long) s_garbage (file_id));
        cr_assert_eq (s_live (file_id), live [file_id]);
    }
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE garbage = 1 AND ?1 = ?1", 0), marked);
}

TestSuite (garbage, .init = s_setup, .fini = s_teardown);

Test (garbage, general_tombstone_deletes_older_versions_only)
{
    memset (s_end, 0, sizeof (s_end));
    int64_t v10 = s_entire ("k", 10, 1, 1000, false);
    int64_t v20 = s_entire ("k", 20, 1, 2000, false);
    int64_t v30 = s_entire ("k", 30, 2, 4000, false);
    s_commit ();
    cr_assert_eq (s_garbage (1), 0);
    cr_assert_eq (s_live (1), 3000);
    s_tombstone ("k", 25, 0, false);
    cr_assert (s_is_garbage (v10));
    cr_assert (s_is_garbage (v20));
    cr_assert_not (s_is_garbage (v30));         //  at or above the tombstone's id
    s_commit ();
    cr_assert_eq (s_garbage (1), 3000);
    cr_assert_eq (s_live (1), 0);
    cr_assert_eq (s_garbage (2), 0);
    //  A version that arrives after the tombstone that deletes it
    int64_t v5 = s_entire ("k", 5, 2, 500, false);
    cr_assert (s_is_garbage (v5));
    s_assert_recount_agrees ();
    cr_assert_eq (s_garbage (2), 500);
}

Test (garbage, specific_tombstone_deletes_one_version)
{
    memset (s_end, 0, sizeof (s_end));
    int64_t v10 = s_entire ("k", 10, 1, 1000, false);
    int64_t v20 = s_entire ("k", 20, 1, 2000, false);
    int64_t other = s_entire ("other", 10, 1, 700, false);
    s_tombstone ("k", 99, 10, false);
    cr_assert (s_is_garbage (v10));
    cr_assert_not (s_is_garbage (v20));
    cr_assert_not (s_is_garbage (other));       //  another key
    s_assert_recount_agrees ();
    cr_assert_eq (s_garbage (1), 1000);
    cr_assert_eq (s_live (1), 2700);
}

Test (garbage, resend_supersedes_the_older_row)
{
    memset (s_end, 0, sizeof (s_end));
    int64_t first = s_entire ("k", 10, 1, 1000, false);
    int64_t second = s_entire ("k", 10, 2, 1000, false);
    cr_assert (s_is_garbage (first));           //  the newest row is the one read
    cr_assert_not (s_is_garbage (second));
    int64_t newer = s_entire ("k", 11, 2, 300, false);
    cr_assert_not (s_is_garbage (newer));       //  another version: not a resend
    cr_assert_not (s_is_garbage (second));
    s_assert_recount_agrees ();
    cr_assert_eq (s_garbage (1), 1000);
    cr_assert_eq (s_garbage (2), 0);
}

Test (garbage, cancelled_and_aborted_segments)
{
    memset (s_end, 0, sizeof (s_end));
    uint64_t files [] = { 1, 2 };
    int64_t cancelled = s_active ("k", 10, 0, files, 2, 500);
    cr_assert_not (s_is_garbage (cancelled));   //  active: may still finish
    cr_assert_eq (store_index_set_status (s_index, cancelled, 'C'), 0);
    cr_assert_eq (store_index_account_key (s_index, 1, "k"), 0);
    cr_assert (s_is_garbage (cancelled));
    //  An aborted conjoined archive: its parts >= 1 are cancelled
    int64_t part1 = s_active ("k", 20, 1, files, 1, 800);
    int count = 0;
    cr_assert_eq (store_index_cancel_conjoined_parts (s_index, 1, "k", 20, 0, &count), 0);
    cr_assert_eq (count, 1);
    cr_assert_eq (store_index_account_key (s_index, 1, "k"), 0);
    cr_assert (s_is_garbage (part1));
    s_assert_recount_agrees ();
    cr_assert_eq (s_garbage (1), 1300);
    cr_assert_eq (s_garbage (2), 500);
}

Test (garbage, handoff_copies_are_garbage_once_purged)
{
    memset (s_end, 0, sizeof (s_end));
    int64_t held = s_entire ("k", 10, 1, 1000, true);
    int64_t own = s_entire ("k", 10, 2, 1000, false);
    //  A tombstone held for node02 deletes the held copy for readers, but
    //  the forwarder still replays it: not garbage until purged
    s_tombstone ("k", 50, 0, true);
    cr_assert_not (s_is_garbage (held));
    cr_assert_not (s_is_garbage (own));         //  another copy
    index_purge_t purge = {
        .collection_id = 1, .key = "k", .unified_id = 10, .has_segment_num = true,
        .segment_num = 1, .handoff_node_id = s_handoff_id, .forwarded_us = 5,
    };
    int count = 0;
    cr_assert_eq (store_index_purge_handoff (s_index, &purge, &count), 0);
    cr_assert_eq (count, 1);
    cr_assert_eq (store_index_account_key (s_index, 1, "k"), 0);
    cr_assert (s_is_garbage (held));
    cr_assert_not (s_is_garbage (own));
    s_assert_recount_agrees ();
    cr_assert_eq (s_garbage (1), 1000);
    cr_assert_eq (s_garbage (2), 0);
}

Test (garbage, compaction_moves_live_rows_and_drops_the_rest)
{
    memset (s_end, 0, sizeof (s_end));
    int64_t dead = s_entire ("k", 10, 1, 1000, false);
    int64_t live = s_entire ("k", 20, 1, 2000, false);
    s_tombstone ("k", 0, 10, false);
    s_commit ();
    cr_assert (s_is_garbage (dead));
    cr_assert_eq (s_garbage (1), 1000);
    index_move_t move = { .segment_id = live, .sequence_num = 0, .old_offset = 1000, .new_offset = 64 };
    index_compaction_t compaction = {
        .old_file_id = 1, .old_volume = "/v", .new_file_id = 9, .volume = "/v",
        .new_size = 64 + 2000, .kept_bytes = 64, .moves = &move, .move_count = 1,
    };
    uint64_t reclaimed = 0;
    cr_assert_eq (store_index_apply_compaction (s_index, &compaction, &reclaimed), 0);
    cr_assert_eq (reclaimed, 3000 - 2064);
    cr_assert_eq (store_index_commit (s_index), 0);
    cr_assert_eq (store_index_begin (s_index), 0);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file WHERE id = ?1", 1), 0);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM retired_file WHERE id = ?1", 1), 1);
    cr_assert_eq (s_query ("SELECT record_offset FROM sequence WHERE segment_id = ?1", live), 64);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence WHERE segment_id = ?1", dead), 0);
    cr_assert_eq (s_garbage (9), 0);
    cr_assert_eq (s_live (9), 2064);
    //  A compaction that would leave a live row behind changes nothing
    int64_t other = s_entire ("other", 5, 2, 300, false);
    (void) other;
    index_compaction_t incomplete = {
        .old_file_id = 2, .old_volume = "/v", .new_file_id = 10, .volume = "/v",
        .new_size = 64, .kept_bytes = 64, .moves = NULL, .move_count = 0,
    };
    cr_assert_eq (store_index_apply_compaction (s_index, &incomplete, &reclaimed), STORE_ERR_STALE);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file WHERE id = ?1", 10), 0);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file WHERE id = ?1", 2), 1);
}
