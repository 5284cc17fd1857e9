/*  =========================================================================
    test_writer_core - the writer's handlers and group commit, driven by hand

    Each test runs a writer core over a fresh data directory, with no
    sockets: work items are made here as the dispatcher would make them
    (decoded header, payload frames, verdict), handed to
    writer_core_process, and the replies it says are due are taken from
    writer_core_next_reply. So the rules are checked step by step: which
    requests fail at once and why, that a success is answered only after
    the group commit (value files synced, index committed), what the index
    then holds (read on a second SQLite connection, as the reader would),
    and what a failed batch does to every request in it.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "writer_core.h"
#include "index_reader.h"
#include "digest.h"
#include "timestamp.h"

static char s_dir [64];
static node_config_t s_config;
static cluster_config_t *s_cluster;
static node_stats_t *s_stats;
static writer_core_t *s_core;

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_open_core (void)
{
    char error [512] = "";
    s_core = writer_core_new (&s_config, s_cluster, s_stats, error, sizeof (error));
    cr_assert_not_null (s_core, "writer_core_new: %s", error);
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-writer-core-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    char *argv [] = { "strata-node", "--data-dir", s_dir, NULL };
    char error [512] = "";
    cr_assert_eq (node_config_load (&s_config, 3, argv, &s_cluster, error, sizeof (error)),
                  NODE_CONFIG_RUN, "%s", error);
    s_config.reserve_bytes = 0;                     //  a test's disk may be nearly full
    s_config.group_commit_delay_us = 3600ULL * 1000000;     //  commits only when the test says
    s_stats = node_stats_new ();
    s_open_core ();
}

static void
s_teardown (void)
{
    writer_core_destroy (&s_core);
    node_stats_destroy (&s_stats);
    cluster_config_destroy (&s_cluster);
    nftw (s_dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (writer_core, .init = s_setup, .fini = s_teardown);

//  --------------------------------------------------------------------------
//  Requests, as the dispatcher hands them over

static uint64_t s_next_unified_id = 1000;

static work_t *
s_work (message_type_t type, const char *key, uint64_t unified_id)
{
    work_t *work = work_new ();
    cr_assert_not_null (work);
    request_t *request = &work->request;
    request->type = type;
    request->present = FIELD_MESSAGE_ID | FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
                     | FIELD_TIMESTAMP | FIELD_SEGMENT_NUM;
    snprintf (request->message_id, sizeof (request->message_id), "message-%" PRIu64, unified_id);
    request->collection_id = 7;
    snprintf (request->key, sizeof (request->key), "%s", key);
    request->key_size = strlen (key);
    request->unified_id = unified_id;
    request->timestamp = timestamp_now ();
    request->segment_num = 1;
    work->received_us = timestamp_now ();
    return work;
}

//  An archive request (entire/start/next/final) with payload data
static work_t *
s_archive (message_type_t type, const char *key, uint64_t unified_id, uint32_t sequence_num,
           const char *data)
{
    work_t *work = s_work (type, key, unified_id);
    request_t *request = &work->request;
    request->present |= FIELD_SEQUENCE_NUM | FIELD_SEGMENT_SIZE | FIELD_SEGMENT_MD5
                      | FIELD_ZFEC_PADDING_SIZE;
    request->sequence_num = sequence_num;
    request->segment_size = strlen (data);
    digest_md5 (data, strlen (data), request->segment_md5);
    if (type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_FINAL) {
        request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
        request->file_size = strlen (data);
        digest_md5 (data, strlen (data), request->file_hash);
    }
    zmsg_addmem (work->payload, data, strlen (data));
    work->payload_size = strlen (data);
    return work;
}

//  The next reply due: its result, and its message into message (if given)
static bool
s_reply (result_t *result_p, char *message, size_t message_size)
{
    work_t *work = writer_core_next_reply (s_core);
    if (!work)
        return false;
    *result_p = work->verdict;
    if (message)
        snprintf (message, message_size, "%s", work->verdict_message);
    work_destroy (&work);
    return true;
}

static void
s_expect_reply (result_t expected, const char *message_part)
{
    result_t result;
    char message [256] = "";
    cr_assert (s_reply (&result, message, sizeof (message)), "a reply is due");
    cr_assert_eq (result, expected, "result %s, expected %s (%s)", result_name (result),
                  result_name (expected), message);
    if (message_part)
        cr_assert (strstr (message, message_part), "'%s' does not say '%s'", message, message_part);
}

static void
s_expect_no_reply (void)
{
    result_t result;
    cr_assert_not (s_reply (&result, NULL, 0), "no reply is due yet");
}

//  One integer from the index, on a second connection (what is committed)
static int64_t
s_query (const char *sql)
{
    char path [128];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    sqlite3 *db;
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (db, sql, -1, &statement, NULL), SQLITE_OK, "%s", sqlite3_errmsg (db));
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW, "%s", sql);
    int64_t value = sqlite3_column_int64 (statement, 0);
    sqlite3_finalize (statement);
    sqlite3_close (db);
    return value;
}

//  Run SQL on a second connection (no transaction of the core may be open)
static void
s_execute (const char *sql)
{
    char path [128];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    sqlite3 *db;
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg (db));
    sqlite3_close (db);
}

//  --------------------------------------------------------------------------
//  archive-key-entire and the group commit

Test (writer_core, entire_is_answered_only_after_the_commit)
{
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "alpha", 1, 0, "hello"));
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 0, "nothing is committed before the commit");
    cr_assert_not (writer_core_commit_due (s_core), "the delay has not passed");
    cr_assert_gt (writer_core_commit_wait (s_core, 1000), 0);

    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'alpha' AND status = 'F'"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence"), 1);
    cr_assert_eq (s_query ("SELECT MIN (synced_size) FROM value_file"), s_query ("SELECT MAX (synced_size) FROM value_file"));
    cr_assert_gt (s_query ("SELECT synced_size FROM value_file"), 0, "the value file is synced past the record");
    cr_assert_eq (atomic_load (&s_stats->segments_finished), 1);
    cr_assert_eq (atomic_load (&s_stats->bytes_stored), 5);
}

Test (writer_core, a_batch_is_answered_together_and_in_order)
{
    const char *keys [] = { "one", "two", "three" };
    for (size_t index = 0; index < 3; index++)
        writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, keys [index],
                                                s_next_unified_id++, 0, keys [index]));
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 0);
    writer_core_commit (s_core);
    for (size_t index = 0; index < 3; index++) {
        work_t *work = writer_core_next_reply (s_core);
        cr_assert_not_null (work);
        cr_assert_eq (work->verdict, RESULT_SUCCESS);
        cr_assert_str_eq (work->request.key, keys [index], "replies in the order received");
        cr_assert_null (work->payload, "the payload is freed once the request is pending");
        work_destroy (&work);
    }
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE status = 'F'"), 3);
}

Test (writer_core, the_commit_is_due_by_bytes_by_delay_or_when_asked)
{
    cr_assert_not (writer_core_commit_due (s_core), "nothing pending");
    cr_assert_eq (writer_core_commit_wait (s_core, 1234), 1234, "idle: the caller's wait");

    s_config.group_commit_bytes = 16;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "big", s_next_unified_id++, 0,
                                            "more than sixteen bytes of data"));
    cr_assert (writer_core_commit_due (s_core), "group-commit-bytes are unsynced");
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);

    s_config.group_commit_bytes = 1 << 30;
    s_config.group_commit_delay_us = 0;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "small", s_next_unified_id++, 0, "x"));
    cr_assert (writer_core_commit_due (s_core), "group-commit-delay-us has passed");
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);

    s_config.group_commit_delay_us = 3600ULL * 1000000;
    writer_core_process (s_core, s_work (MSG_SYNC_VALUE_FILE, "", 0));
    cr_assert (writer_core_commit_due (s_core), "sync-value-file asks for a commit now");
    cr_assert_eq (writer_core_commit_wait (s_core, 1000), 0);
    s_expect_no_reply ();
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_not (writer_core_commit_due (s_core));
}

//  --------------------------------------------------------------------------
//  archive-key-start / next / final

Test (writer_core, start_next_final_finish_a_segment)
{
    uint64_t id = s_next_unified_id++;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "multi", id, 0, "part0"));
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_NEXT, "multi", id, 1, "part1"));
    s_expect_no_reply ();
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'multi' AND status = 'A'"), 1);
    cr_assert_eq (atomic_load (&s_stats->segments_active), 1);

    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_FINAL, "multi", id, 2, "part2"));
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'multi' AND status = 'F'"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence"), 3);
    cr_assert_eq (s_query ("SELECT file_size FROM segment WHERE key = 'multi'"), 5);
    cr_assert_eq (atomic_load (&s_stats->segments_active), 0);
    cr_assert_eq (atomic_load (&s_stats->segments_finished), 1);
}

Test (writer_core, sequence_errors_are_answered_at_once)
{
    uint64_t id = s_next_unified_id++;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_NEXT, "seq", id, 1, "x"));
    s_expect_reply (RESULT_UNKNOWN_SEGMENT, "no active segment");

    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "seq", id, 0, "a"));
    s_expect_no_reply ();
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "seq", id, 0, "a"));
    s_expect_reply (RESULT_DUPLICATE_SEGMENT, "already active");
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_NEXT, "seq", id, 2, "c"));
    s_expect_reply (RESULT_INVALID_REQUEST, "sequence-num: expected 1, got 2");
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_NEXT, "other-key", id, 1, "b"));
    s_expect_reply (RESULT_INVALID_REQUEST, "key:");

    //  The failures left the pending start alone
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM sequence"), 1);
}

Test (writer_core, a_failed_verdict_is_answered_without_touching_storage)
{
    work_t *work = s_archive (MSG_ARCHIVE_KEY_ENTIRE, "bad", s_next_unified_id++, 0, "data");
    work_fail (work, RESULT_MD5_MISMATCH, "segment-md5-digest: does not match the data");
    writer_core_process (s_core, work);
    s_expect_reply (RESULT_MD5_MISMATCH, "segment-md5-digest");
    cr_assert_not (writer_core_commit_due (s_core));
    writer_core_commit (s_core);
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file"), 0, "no value file was made");
}

Test (writer_core, active_segments_survive_a_restart)
{
    uint64_t id = s_next_unified_id++;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "restart", id, 0, "a"));
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    writer_core_destroy (&s_core);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM value_file WHERE closed = 1"),
                  s_query ("SELECT COUNT (*) FROM value_file"), "a clean stop closes every value file");

    s_open_core ();
    cr_assert_eq (atomic_load (&s_stats->segments_active), 1, "loaded from the index");
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_FINAL, "restart", id, 1, "b"));
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'restart' AND status = 'F'"), 1);
}

//  --------------------------------------------------------------------------
//  archive-key-cancel, destroy-key

Test (writer_core, cancel_an_active_segment)
{
    uint64_t id = s_next_unified_id++;
    writer_core_process (s_core, s_work (MSG_ARCHIVE_KEY_CANCEL, "", id));
    s_expect_reply (RESULT_UNKNOWN_SEGMENT, "to cancel");

    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "cancelled", id, 0, "a"));
    writer_core_process (s_core, s_work (MSG_ARCHIVE_KEY_CANCEL, "", id));
    s_expect_no_reply ();
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'cancelled' AND status = 'C'"), 1);
    cr_assert_eq (atomic_load (&s_stats->segments_active), 0);
    cr_assert_eq (atomic_load (&s_stats->segments_cancelled), 1);

    //  Cancelled: it is no longer active
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_NEXT, "cancelled", id, 1, "b"));
    s_expect_reply (RESULT_UNKNOWN_SEGMENT, NULL);
}

Test (writer_core, destroy_key_writes_a_tombstone)
{
    uint64_t id = s_next_unified_id++;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "doomed", id, 0, "data"));
    work_t *destroy = s_work (MSG_DESTROY_KEY, "doomed", id + 1);
    destroy->request.present |= FIELD_UNIFIED_ID_TO_DELETE;
    destroy->request.unified_id_to_delete = id;
    writer_core_process (s_core, destroy);
    s_expect_no_reply ();
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'doomed' AND status = 'T'"
                           " AND delete_unified_id IS NOT NULL"), 1);
    cr_assert_eq (s_query ("SELECT garbage FROM segment WHERE key = 'doomed' AND status = 'F'"), 1,
                  "the deleted version is garbage");
    cr_assert_eq (atomic_load (&s_stats->segments_tombstone), 1);
}

Test (writer_core, stale_active_segments_are_cancelled)
{
    uint64_t id = s_next_unified_id++;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "stale", id, 0, "a"));
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    writer_core_cancel_stale (s_core);
    writer_core_commit (s_core);
    s_expect_no_reply ();
    cr_assert_eq (atomic_load (&s_stats->stale_segments_cancelled), 0, "not stale yet");

    s_config.active_timeout_seconds = 1;
    zclock_sleep (1100);
    writer_core_cancel_stale (s_core);
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);     //  the node's own cancel
    cr_assert_eq (atomic_load (&s_stats->stale_segments_cancelled), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'stale' AND status = 'C'"), 1);
}

//  --------------------------------------------------------------------------
//  Failures inside a batch

Test (writer_core, an_index_failure_undoes_that_request_alone)
{
    //  Any insert of key 'poison' fails, as an index I/O error would
    s_execute ("CREATE TRIGGER poison BEFORE INSERT ON segment WHEN NEW.key = 'poison'"
               " BEGIN SELECT RAISE (ABORT, 'injected'); END;");
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "fine", s_next_unified_id++, 0, "a"));
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_START, "poison", s_next_unified_id++, 0, "b"));
    s_expect_reply (RESULT_IO_ERROR, "index update failed");
    s_expect_no_reply ();
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'fine'"), 1);
}

Test (writer_core, an_index_failure_on_the_entire_path_fails_the_whole_batch)
{
    s_execute ("CREATE TRIGGER poison BEFORE INSERT ON segment WHEN NEW.key = 'poison'"
               " BEGIN SELECT RAISE (ABORT, 'injected'); END;");
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "fine", s_next_unified_id++, 0, "a"));
    s_expect_no_reply ();
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "poison", s_next_unified_id++, 0, "b"));
    //  Nothing of the batch is acknowledged: the earlier one too
    s_expect_reply (RESULT_IO_ERROR, "index update failed");
    s_expect_reply (RESULT_IO_ERROR, "index update failed");
    s_expect_no_reply ();
    cr_assert_eq (atomic_load (&s_stats->sync_failures), 1);
    writer_core_commit (s_core);
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 0);

    //  The next batch goes to a new value file and succeeds
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "after", s_next_unified_id++, 0, "c"));
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment WHERE key = 'after'"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (DISTINCT value_file_id) FROM sequence"), 1);
}

Test (writer_core, no_room_is_out_of_space_before_anything_is_written)
{
    s_config.reserve_bytes = (uint64_t) 1 << 62;
    writer_core_destroy (&s_core);
    s_open_core ();
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "full", s_next_unified_id++, 0, "data"));
    s_expect_reply (RESULT_OUT_OF_SPACE, NULL);
    writer_core_commit (s_core);
    s_expect_no_reply ();
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 0);
}

Test (writer_core, an_unusable_data_directory_is_an_error_not_a_core)
{
    writer_core_destroy (&s_core);
    snprintf (s_config.data_dir, sizeof (s_config.data_dir), "/proc/strata-no-such-dir");
    char error [512] = "";
    cr_assert_null (writer_core_new (&s_config, NULL, s_stats, error, sizeof (error)));
    cr_assert (strstr (error, "/proc/strata-no-such-dir"), "the error names the directory: %s", error);
}

//  --------------------------------------------------------------------------
//  What the reader then finds (index_reader, its own connection)

static int
s_lookup (index_reader_t *reader, const char *key, const char *handoff, index_found_t *found)
{
    index_query_t query = {
        .collection_id = 7, .key = key, .segment_num = 1, .handoff_node_name = handoff, .first = true,
    };
    return index_reader_lookup (reader, &query, found);
}

Test (writer_core, the_reader_finds_what_was_committed_by_the_read_rules)
{
    char path [128], error [256] = "";
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    index_reader_t *reader = index_reader_open (path, 100, error, sizeof (error));
    cr_assert_not_null (reader, "%s", error);
    index_found_t found;

    uint64_t old_id = s_next_unified_id++, new_id = s_next_unified_id++;
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "read", old_id, 0, "old"));
    writer_core_process (s_core, s_archive (MSG_ARCHIVE_KEY_ENTIRE, "read", new_id, 0, "newer"));
    cr_assert_eq (s_lookup (reader, "read", NULL, &found), 1, "nothing before the commit");
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_reply (RESULT_SUCCESS, NULL);
    cr_assert_eq (s_lookup (reader, "read", NULL, &found), 0, "%s", found.why);
    cr_assert_eq (found.unified_id, new_id, "the highest finished version");
    cr_assert_eq (found.segment_size, 5);
    cr_assert_eq (found.sequence_count, 1);
    cr_assert_gt (found.record_size, found.segment_size);

    //  A copy held for node02 is found only when asked for it
    work_t *copy = s_archive (MSG_ARCHIVE_KEY_ENTIRE, "held", s_next_unified_id++, 0, "copy");
    copy->request.present |= FIELD_HANDOFF_NODE_NAME;
    snprintf (copy->request.handoff_node_name, sizeof (copy->request.handoff_node_name), "node02");
    writer_core_process (s_core, copy);
    //  A tombstone without unified-id-to-delete deletes the older versions
    writer_core_process (s_core, s_work (MSG_DESTROY_KEY, "read", s_next_unified_id++));
    writer_core_commit (s_core);
    s_expect_reply (RESULT_SUCCESS, NULL);
    s_expect_reply (RESULT_SUCCESS, NULL);
    index_reader_release (reader);
    cr_assert_eq (s_lookup (reader, "read", NULL, &found), 1, "deleted by the tombstone");
    cr_assert_eq (s_lookup (reader, "held", NULL, &found), 1, "not the node's own copy");
    cr_assert_eq (s_lookup (reader, "held", "node02", &found), 0, "%s", found.why);
    cr_assert_eq (found.segment_size, 4);
    index_reader_destroy (&reader);
}
