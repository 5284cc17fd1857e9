/*  =========================================================================
    test_index_reader - the reader's index lookups: visible and explicit
    versions, tombstones (general, specific, early, any segment-num),
    cancelled / active / resent segments, handoff copies, conjoined parts,
    sequences and their span, unsigned unified-id order, damage rows (also
    while the writer holds its transaction)

    Rows are written with store_index, exactly as the writer writes them.
    =========================================================================
*/
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_reader.h"
#include "store_index.h"

static char s_dir [64];                 //  per-test temporary directory
static char s_path [128];               //  index.db inside it
static store_index_t *s_index;          //  the writer's side

//  The id of a node name (store_index_node_id must succeed)
static int64_t
s_name_id (const char *name)
{
    int64_t id = 0;
    cr_assert_eq (store_index_node_id (s_index, name, &id), 0, "node name '%s'", name);
    return id;
}
static index_reader_t *s_reader;        //  the module under test

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-ir-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/index.db", s_dir);
    char error [256] = "";
    s_index = store_index_open (s_path, error, sizeof (error));
    cr_assert_not_null (s_index, "%s", error);
    s_reader = index_reader_open (s_path, 100, error, sizeof (error));
    cr_assert_not_null (s_reader, "%s", error);
    cr_assert_eq (store_index_add_value_file (s_index, 7, "/volumes/a", 1), 0);
}

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_teardown (void)
{
    index_reader_destroy (&s_reader);
    store_index_destroy (&s_index);
    nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (index_reader, .init = s_setup, .fini = s_teardown);

//  --------------------------------------------------------------------------
//  Helpers

//  Write a segment with `sequences` sequences (numbered from first_sequence,
//  sizes 100, 101, ...; record offsets 1000 * sequence) and leave it with
//  status 'F', 'A' or 'C'. Returns the segment id.
static int64_t
s_segment (const char *key, uint64_t unified_id, uint32_t part, uint8_t segment_num,
           char status, const char *handoff, int sequences, uint32_t first_sequence)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    int64_t source = s_name_id ("node01");
    int64_t handoff_id = handoff? s_name_id (handoff): 0;
    cr_assert (source > 0 && handoff_id >= 0);
    index_segment_t segment = {
        .collection_id = 1, .key = key, .unified_id = unified_id, .timestamp_us = 1000,
        .conjoined_part = part, .segment_num = segment_num, .status = 'A',
        .source_node_id = source, .handoff_node_id = handoff_id,
    };
    int64_t segment_id;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &segment_id), 0);
    for (int index = 0; index < sequences; index++) {
        uint32_t number = first_sequence + (uint32_t) index;
        index_sequence_t sequence = {
            .segment_id = segment_id, .sequence_num = number, .value_file_id = 7,
            .record_offset = 1000 * (uint64_t) number, .record_size = 64 + 10 + 100 + (uint64_t) index,
            .segment_size = 100 + (uint64_t) index, .zfec_padding_size = 2,
            .has_adler32 = index == 0, .adler32 = 0xDEADBEEF,
        };
        memset (sequence.md5, 0x40 + index, sizeof (sequence.md5));
        cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);
    }
    if (status == 'F') {
        static const uint8_t meta [] = { 0x81, 0xa1, 'a', 0xa1, 'b' };     //  {"a": "b"}
        index_finish_t finish = {
            .file_size = 12345, .has_file_adler32 = true, .file_adler32 = 0x80000001,
            .meta = meta, .meta_size = sizeof (meta),
        };
        memset (finish.file_hash, 0xAB, sizeof (finish.file_hash));
        cr_assert_eq (store_index_finish_segment (s_index, segment_id, &finish), 0);
    }
    else
    if (status == 'C')
        cr_assert_eq (store_index_set_status (s_index, segment_id, 'C'), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
    return segment_id;
}

static int64_t
s_finished (const char *key, uint64_t unified_id)
{
    return s_segment (key, unified_id, 0, 1, 'F', NULL, 1, 0);
}

//  Write a tombstone: deletes `deleted` if has_deleted, else all older
static void
s_tombstone (const char *key, uint64_t unified_id, bool has_deleted, uint64_t deleted,
             uint8_t segment_num, const char *handoff)
{
    cr_assert_eq (store_index_begin (s_index), 0);
    int64_t source = s_name_id ("node01");
    int64_t handoff_id = handoff? s_name_id (handoff): 0;
    index_segment_t tombstone = {
        .collection_id = 1, .key = key, .unified_id = unified_id, .timestamp_us = 1000,
        .segment_num = segment_num, .status = 'T', .source_node_id = source,
        .handoff_node_id = handoff_id, .has_delete_unified_id = has_deleted,
        .delete_unified_id = deleted,
    };
    int64_t segment_id;
    cr_assert_eq (store_index_insert_segment (s_index, &tombstone, &segment_id), 0);
    cr_assert_eq (store_index_commit (s_index), 0);
}

static index_found_t s_found;

//  Look up (key, part, segment-num, handoff) at a version (0 = visible)
//  and sequence (-1 = first)
static int
s_lookup_at (const char *key, uint32_t part, uint8_t segment_num, const char *handoff,
             uint64_t unified_id, int64_t sequence)
{
    index_query_t query = {
        .collection_id = 1, .key = key, .conjoined_part = part, .segment_num = segment_num,
        .handoff_node_name = handoff, .has_unified_id = unified_id != 0, .unified_id = unified_id,
        .first = sequence < 0, .sequence_num = sequence < 0? 0: (uint32_t) sequence,
    };
    int rc = index_reader_lookup (s_reader, &query, &s_found);
    if (rc == 1)
        cr_assert (strlen (s_found.why) > 0, "not-found without a reason");
    return rc;
}

//  The visible version of key (segment 1, part 0, own copy), 0 if none
static uint64_t
s_visible (const char *key)
{
    int rc = s_lookup_at (key, 0, 1, NULL, 0, -1);
    cr_assert (rc == 0 || rc == 1, "lookup failed");
    return rc == 0? s_found.unified_id: 0;
}

//  --------------------------------------------------------------------------
//  Tests

Test (index_reader, open_needs_an_existing_index)
{
    char path [160], error [256] = "";
    snprintf (path, sizeof (path), "%s/missing.db", s_dir);
    index_reader_t *reader = index_reader_open (path, 100, error, sizeof (error));
    cr_assert_null (reader);
    cr_assert (strstr (error, "missing.db"), "error names the file: %s", error);
    struct stat status;
    cr_assert_neq (stat (path, &status), 0, "the reader must not create the index");
    index_reader_destroy (&reader);     //  accepts NULL
}

Test (index_reader, highest_finished_version_visible)
{
    cr_assert_eq (s_visible ("k"), 0);
    cr_assert (strstr (s_found.why, "key"), "%s", s_found.why);
    s_finished ("k", 20);
    s_finished ("k", 10);
    cr_assert_eq (s_visible ("k"), 20);
    //  newer active and cancelled versions do not hide it
    s_segment ("k", 30, 0, 1, 'A', NULL, 2, 0);
    s_segment ("k", 40, 0, 1, 'C', NULL, 1, 0);
    cr_assert_eq (s_visible ("k"), 20);
    //  explicit versions
    cr_assert_eq (s_lookup_at ("k", 0, 1, NULL, 10, -1), 0);
    cr_assert_eq (s_found.unified_id, 10);
    cr_assert_eq (s_lookup_at ("k", 0, 1, NULL, 30, -1), 1);
    cr_assert (strstr (s_found.why, "unified-id"), "%s", s_found.why);
    cr_assert_eq (s_lookup_at ("k", 0, 1, NULL, 40, -1), 1);
    cr_assert_eq (s_lookup_at ("k", 0, 1, NULL, 99, -1), 1);
    //  other keys, segment-nums, parts, collections are separate
    cr_assert_eq (s_visible ("k2"), 0);
    cr_assert_eq (s_lookup_at ("k", 0, 2, NULL, 0, -1), 1);
    cr_assert_eq (s_lookup_at ("k", 1, 1, NULL, 0, -1), 1);
    index_query_t query = { .collection_id = 2, .key = "k", .segment_num = 1, .first = true };
    cr_assert_eq (index_reader_lookup (s_reader, &query, &s_found), 1);
}

Test (index_reader, unsigned_unified_id_order)
{
    uint64_t high = 0x8000000000000005ULL;          //  above 2^63
    s_finished ("u", high);
    s_finished ("u", 5);
    s_finished ("u", UINT64_MAX);
    cr_assert_eq (s_visible ("u"), UINT64_MAX);
    cr_assert_eq (s_lookup_at ("u", 0, 1, NULL, high, -1), 0);
    cr_assert_eq (s_found.unified_id, high);
    s_tombstone ("u", UINT64_MAX, true, UINT64_MAX, 1, NULL);
    cr_assert_eq (s_visible ("u"), high);
    s_tombstone ("u", 0x8000000000000006ULL, false, 0, 1, NULL);
    cr_assert_eq (s_visible ("u"), 0);
}

Test (index_reader, resend_newest_row_wins)
{
    int64_t first = s_finished ("r", 50);
    int64_t second = s_finished ("r", 50);
    cr_assert_gt (second, first);
    cr_assert_eq (s_visible ("r"), 50);
    cr_assert_eq (s_found.segment_id, second);
    cr_assert_eq (s_lookup_at ("r", 0, 1, NULL, 50, -1), 0);
    cr_assert_eq (s_found.segment_id, second);
    //  a resend in progress does not hide the finished one
    s_segment ("r", 50, 0, 1, 'A', NULL, 1, 0);
    cr_assert_eq (s_lookup_at ("r", 0, 1, NULL, 50, -1), 0);
    cr_assert_eq (s_found.segment_id, second);
}

Test (index_reader, general_tombstone)
{
    s_finished ("g", 10);
    s_finished ("g", 20);
    s_tombstone ("g", 25, false, 0, 4, NULL);      //  any segment-num applies
    cr_assert_eq (s_visible ("g"), 0);
    cr_assert_eq (s_lookup_at ("g", 0, 1, NULL, 10, -1), 1);
    cr_assert_eq (s_lookup_at ("g", 0, 1, NULL, 20, 0), 1);
    //  the tombstone's own id and newer survive
    s_finished ("g", 25);
    cr_assert_eq (s_visible ("g"), 25);
    s_finished ("g", 30);
    cr_assert_eq (s_visible ("g"), 30);
    //  an older version arriving late stays deleted
    s_finished ("g", 15);
    cr_assert_eq (s_lookup_at ("g", 0, 1, NULL, 15, -1), 1);
    //  conjoined parts are deleted too
    s_segment ("g", 12, 1, 1, 'F', NULL, 1, 0);
    cr_assert_eq (s_lookup_at ("g", 1, 1, NULL, 0, -1), 1);
}

Test (index_reader, specific_and_early_tombstones)
{
    s_finished ("s", 10);
    s_finished ("s", 20);
    s_tombstone ("s", 30, true, 20, 1, NULL);
    cr_assert_eq (s_visible ("s"), 10);
    cr_assert_eq (s_lookup_at ("s", 0, 1, NULL, 20, -1), 1);
    //  a tombstone that arrives before its version
    s_tombstone ("s", 31, true, 40, 1, NULL);
    s_finished ("s", 40);
    cr_assert_eq (s_visible ("s"), 10);
    cr_assert_eq (s_lookup_at ("s", 0, 1, NULL, 40, -1), 1);
    s_finished ("s", 41);
    cr_assert_eq (s_visible ("s"), 41);
    //  a tombstone of another key changes nothing here
    s_tombstone ("other", 100, false, 0, 1, NULL);
    cr_assert_eq (s_visible ("s"), 41);
}

Test (index_reader, handoff_copies)
{
    s_finished ("h", 10);
    s_segment ("h", 20, 0, 1, 'F', "node02", 1, 0);
    s_segment ("only", 5, 0, 1, 'F', "node02", 1, 0);
    cr_assert_eq (s_visible ("h"), 10);
    cr_assert_eq (s_visible ("only"), 0);
    cr_assert_eq (s_lookup_at ("h", 0, 1, "node02", 0, -1), 0);
    cr_assert_eq (s_found.unified_id, 20);
    cr_assert_eq (s_lookup_at ("h", 0, 1, "node02", 10, -1), 1);
    cr_assert_eq (s_lookup_at ("only", 0, 1, "node02", 5, -1), 0);
    cr_assert_eq (s_lookup_at ("h", 0, 1, "", 0, -1), 0, "empty name = own copy");
    cr_assert_eq (s_found.unified_id, 10);
    //  unknown names hold nothing
    cr_assert_eq (s_lookup_at ("h", 0, 1, "node09", 0, -1), 1);
    cr_assert (strstr (s_found.why, "handoff-node-name"), "%s", s_found.why);
    //  tombstones apply to their own copy only
    s_tombstone ("h", 50, false, 0, 1, "node02");
    cr_assert_eq (s_lookup_at ("h", 0, 1, "node02", 0, -1), 1);
    cr_assert_eq (s_visible ("h"), 10);
    s_tombstone ("only", 50, false, 0, 1, NULL);
    cr_assert_eq (s_lookup_at ("only", 0, 1, "node02", 0, -1), 0);
}

Test (index_reader, sequences_and_span)
{
    int64_t segment_id = s_segment ("q", 10, 0, 1, 'F', NULL, 3, 4);    //  sequences 4, 5, 6
    cr_assert_eq (s_lookup_at ("q", 0, 1, NULL, 0, -1), 0);
    cr_assert_eq (s_found.segment_id, segment_id);
    cr_assert_eq (s_found.sequence_num, 4);
    cr_assert_eq (s_found.sequence_count, 3);
    cr_assert_eq (s_found.last_sequence_num, 6);
    cr_assert_eq (s_found.value_file_id, 7);
    cr_assert_eq (s_found.record_offset, 4000);
    cr_assert_eq (s_found.record_size, 174);
    cr_assert_eq (s_found.segment_size, 100);
    cr_assert_eq (s_found.zfec_padding_size, 2);
    cr_assert (s_found.has_adler32);
    cr_assert_eq (s_found.adler32, 0xDEADBEEF);
    cr_assert_eq (s_found.md5 [0], 0x40);
    cr_assert_str_eq (s_found.volume, "/volumes/a");
    //  whole-segment values
    cr_assert_eq (s_found.timestamp_us, 1000);
    cr_assert_eq (s_found.file_size, 12345);
    cr_assert (s_found.has_file_adler32);
    cr_assert_eq (s_found.file_adler32, 0x80000001);
    cr_assert (s_found.has_file_hash);
    cr_assert_eq (s_found.file_hash [15], 0xAB);
    cr_assert_eq (s_found.meta_size, 5);
    cr_assert_eq (memcmp (s_found.meta, "\x81\xa1" "a\xa1" "b", 5), 0);

    cr_assert_eq (s_lookup_at ("q", 0, 1, NULL, 10, 6), 0);
    cr_assert_eq (s_found.sequence_num, 6);
    cr_assert_eq (s_found.segment_size, 102);
    cr_assert_not (s_found.has_adler32);
    cr_assert_eq (s_found.md5 [0], 0x42);
    cr_assert_eq (s_lookup_at ("q", 0, 1, NULL, 10, 3), 1);
    cr_assert (strstr (s_found.why, "sequence-num"), "%s", s_found.why);
    cr_assert_eq (s_lookup_at ("q", 0, 1, NULL, 10, 7), 1);
}

Test (index_reader, file_volume)
{
    char volume [64];
    cr_assert_eq (index_reader_file_volume (s_reader, 7, volume, sizeof (volume)), 0);
    cr_assert_str_eq (volume, "/volumes/a");
    cr_assert_eq (index_reader_file_volume (s_reader, 8, volume, sizeof (volume)), 1);
}

Test (index_reader, damage_rows)
{
    cr_assert_eq (index_reader_damage_known (s_reader, 7, 4000), 0);
    cr_assert_eq (index_reader_record_damage (s_reader, 7, 4000, 3, 4, 99, "CRC32C mismatch"), 0);
    cr_assert_eq (index_reader_damage_known (s_reader, 7, 4000), 1);
    cr_assert_eq (index_reader_damage_known (s_reader, 7, 4001), 0);
    //  recording again is harmless
    cr_assert_eq (index_reader_record_damage (s_reader, 7, 4000, 3, 4, 100, "again"), 0);
    cr_assert_eq (index_reader_record_damage (s_reader, 7, 5000, -1, -1, 101, "no segment"), 0);

    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (store_index_db (s_index),
        "SELECT segment_id, sequence_num, detected_us, reason FROM damaged ORDER BY record_offset",
        -1, &statement, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_eq (sqlite3_column_int64 (statement, 0), 3);
    cr_assert_eq (sqlite3_column_int64 (statement, 1), 4);
    cr_assert_eq (sqlite3_column_int64 (statement, 2), 99);
    cr_assert_str_eq ((const char *) sqlite3_column_text (statement, 3), "CRC32C mismatch");
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    cr_assert_eq (sqlite3_column_type (statement, 0), SQLITE_NULL);
    cr_assert_eq (sqlite3_column_type (statement, 1), SQLITE_NULL);
    cr_assert_eq (sqlite3_step (statement), SQLITE_DONE);
    sqlite3_finalize (statement);
}

Test (index_reader, reads_and_damage_while_the_writer_holds_its_transaction)
{
    s_finished ("w", 10);
    //  The writer's batch transaction is open and has changes
    cr_assert_eq (store_index_begin (s_index), 0);
    index_segment_t segment = {
        .collection_id = 1, .key = "w", .unified_id = 20, .timestamp_us = 1,
        .segment_num = 1, .status = 'A', .source_node_id = 1,
    };
    int64_t segment_id;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &segment_id), 0);
    cr_assert_eq (store_index_finish_segment (s_index, segment_id,
                                              &(index_finish_t) { .file_size = 1 }), 0);
    //  Reads see the committed state at once; uncommitted rows are invisible
    cr_assert_eq (s_visible ("w"), 10);
    //  A damage row cannot be written now: busy after the timeout
    cr_assert_eq (index_reader_record_damage (s_reader, 7, 1, -1, -1, 1, "busy"), STORE_ERR_BUSY);
    cr_assert_eq (store_index_commit (s_index), 0);
    //  ... and can once the writer has committed
    cr_assert_eq (index_reader_record_damage (s_reader, 7, 1, -1, -1, 1, "later"), 0);
    cr_assert_eq (index_reader_damage_known (s_reader, 7, 1), 1);
    //  A finished version without sequences has nothing to return
    cr_assert_eq (s_lookup_at ("w", 0, 1, NULL, 0, -1), 1);
    cr_assert_eq (s_found.unified_id, 20);
}

//  --------------------------------------------------------------------------
//  Kept snapshots: one per generation; a new generation sees new commits

Test (index_reader, snapshot_kept_per_generation)
{
    s_finished ("snap", 10);
    index_reader_set_generation (s_reader, 1);
    cr_assert_eq (s_visible ("snap"), 10);
    //  a commit the reader was not told about is not seen: same snapshot
    s_finished ("snap", 20);
    cr_assert_eq (s_visible ("snap"), 10, "the kept snapshot must be reused");
    //  a new generation takes a new snapshot
    index_reader_set_generation (s_reader, 2);
    cr_assert_eq (s_visible ("snap"), 20);
    //  releasing ends it: the next lookup (same generation) sees newer rows
    s_finished ("snap", 30);
    index_reader_release (s_reader);
    cr_assert_eq (s_visible ("snap"), 30);
    //  a damage row is written outside any kept snapshot, then seen
    cr_assert_eq (index_reader_record_damage (s_reader, 7, 5000, -1, -1, 1, "test"), 0);
    cr_assert_eq (index_reader_damage_known (s_reader, 7, 5000), 1);
    index_reader_release (s_reader);
    index_reader_release (s_reader);        //  nothing kept: no effect
}

Test (index_reader, without_generations_every_lookup_is_fresh)
{
    s_finished ("fresh", 10);
    cr_assert_eq (s_visible ("fresh"), 10);
    s_finished ("fresh", 20);
    cr_assert_eq (s_visible ("fresh"), 20);
}
