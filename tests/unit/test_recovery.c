/*  =========================================================================
    test_recovery - start-up recovery over what a stopped writer left

    Each test has a writer core (no sockets) store and commit a few
    records in a fresh data directory, then leaves things as a crash
    would (a batch appended but never committed, the value file still
    marked open), or as a disk that lied would (acknowledged bytes
    missing, a record changed), and runs recovery_run on the index. The
    report, the value file's size and the index's damage rows are checked.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer_core.h"
#include "recovery.h"
#include "store_index.h"
#include "timestamp.h"

static char s_dir [64];
static char s_value_file [160];
static node_config_t s_config;
static cluster_config_t *s_cluster;
static node_stats_t *s_stats;
static writer_core_t *s_core;
static uint64_t s_next_unified_id = 100;

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-recovery-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_value_file, sizeof (s_value_file), "%s/volume0/values/%016x.val", s_dir, 1);
    char *argv [] = { "strata-node", "--data-dir", s_dir, NULL };
    char error [512] = "";
    cr_assert_eq (node_config_load (&s_config, 3, argv, &s_cluster, error, sizeof (error)),
                  NODE_CONFIG_RUN, "%s", error);
    s_config.reserve_bytes = 0;
    s_config.group_commit_delay_us = 3600ULL * 1000000;
    s_stats = node_stats_new ();
    s_core = writer_core_new (&s_config, NULL, s_stats, error, sizeof (error));
    cr_assert_not_null (s_core, "%s", error);
}

static void
s_teardown (void)
{
    writer_core_destroy (&s_core);
    node_stats_destroy (&s_stats);
    cluster_config_destroy (&s_cluster);
    nftw (s_dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (recovery, .init = s_setup, .fini = s_teardown);

//  Store one archive-key-entire of data (pending until the next commit)
static void
s_store (const char *key, const char *data)
{
    work_t *work = work_new ();
    request_t *request = &work->request;
    request->type = MSG_ARCHIVE_KEY_ENTIRE;
    request->present = FIELD_MESSAGE_ID | FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
                     | FIELD_TIMESTAMP | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE | FIELD_SEGMENT_MD5
                     | FIELD_FILE_SIZE | FIELD_FILE_HASH;
    snprintf (request->message_id, sizeof (request->message_id), "m%" PRIu64, s_next_unified_id);
    request->collection_id = 3;
    snprintf (request->key, sizeof (request->key), "%s", key);
    request->key_size = strlen (key);
    request->unified_id = s_next_unified_id++;
    request->timestamp = timestamp_now ();
    request->segment_num = 1;
    request->segment_size = request->file_size = strlen (data);
    digest_md5 (data, strlen (data), request->segment_md5);
    memcpy (request->file_hash, request->segment_md5, DIGEST_MD5_SIZE);
    zmsg_addmem (work->payload, data, strlen (data));
    work->payload_size = strlen (data);
    writer_core_process (s_core, work);
}

//  Commit, and check every request of the batch succeeded
static void
s_commit (size_t expected)
{
    writer_core_commit (s_core);
    size_t replies = 0;
    work_t *work;
    while ((work = writer_core_next_reply (s_core))) {
        cr_assert_eq (work->verdict, RESULT_SUCCESS, "%s", work->verdict_message);
        work_destroy (&work);
        replies++;
    }
    cr_assert_eq (replies, expected);
}

static uint64_t
s_file_size (void)
{
    struct stat st;
    cr_assert_eq (stat (s_value_file, &st), 0, "%s", s_value_file);
    return (uint64_t) st.st_size;
}

//  Run recovery on the index the core left (the core must be gone)
static void
s_recover (recovery_report_t *report)
{
    char path [128], error [256] = "";
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    store_index_t *index = store_index_open (path, error, sizeof (error));
    cr_assert_not_null (index, "%s", error);
    cr_assert_eq (recovery_run (index, report), 0);
    store_index_destroy (&index);
}

static int64_t
s_query (const char *sql)
{
    char path [128];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    sqlite3 *db;
    cr_assert_eq (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *statement;
    cr_assert_eq (sqlite3_prepare_v2 (db, sql, -1, &statement, NULL), SQLITE_OK, "%s", sqlite3_errmsg (db));
    cr_assert_eq (sqlite3_step (statement), SQLITE_ROW);
    int64_t value = sqlite3_column_int64 (statement, 0);
    sqlite3_finalize (statement);
    sqlite3_close (db);
    return value;
}

Test (recovery, a_clean_stop_leaves_nothing_to_do)
{
    s_store ("a", "first");
    s_commit (1);
    writer_core_destroy (&s_core);
    recovery_report_t report;
    s_recover (&report);
    cr_assert_eq (report.files_checked, 0, "a clean stop closed the file");
    cr_assert_eq (report.bytes_truncated, 0);
}

Test (recovery, an_uncommitted_batch_is_cut_off)
{
    s_store ("a", "first");
    s_store ("b", "second");
    s_commit (2);
    uint64_t synced = s_file_size ();
    cr_assert_eq ((int64_t) synced, s_query ("SELECT synced_size FROM value_file WHERE id = 1"));

    //  A batch appended, never committed: the node stops in the middle
    s_store ("c", "never acknowledged");
    writer_core_destroy (&s_core);
    uint64_t written = s_file_size ();
    cr_assert_gt (written, synced);
    cr_assert_eq (s_query ("SELECT closed FROM value_file WHERE id = 1"), 0, "left open");

    recovery_report_t report;
    s_recover (&report);
    cr_assert_eq (report.files_checked, 1);
    cr_assert_eq (report.bytes_truncated, written - synced);
    cr_assert_eq (report.records_verified, 2, "the records the index references are re-read");
    cr_assert_eq (report.records_damaged, 0);
    cr_assert_eq (s_file_size (), synced);
    cr_assert_eq (s_query ("SELECT closed FROM value_file WHERE id = 1"), 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM segment"), 2);
}

Test (recovery, acknowledged_bytes_missing_are_damage)
{
    s_store ("a", "first");
    s_store ("b", "second");
    s_commit (2);
    s_store ("c", "keeps the file open");
    writer_core_destroy (&s_core);
    uint64_t second_offset = (uint64_t) s_query ("SELECT record_offset FROM sequence ORDER BY record_offset DESC LIMIT 1");
    //  The disk lied: the last acknowledged record is gone
    cr_assert_eq (truncate (s_value_file, (off_t) second_offset), 0);

    recovery_report_t report;
    s_recover (&report);
    cr_assert_eq (report.files_checked, 1);
    cr_assert_geq (report.records_damaged, 1);
    cr_assert_geq (s_query ("SELECT COUNT (*) FROM damaged"), 1, "recorded in the index");
}

Test (recovery, a_changed_record_is_damage)
{
    s_store ("a", "first");
    s_commit (1);
    s_store ("b", "keeps the file open");
    writer_core_destroy (&s_core);
    //  Flip the last byte of the acknowledged record's payload
    uint64_t end = (uint64_t) s_query ("SELECT record_offset + record_size FROM sequence");
    FILE *file = fopen (s_value_file, "r+b");
    cr_assert_not_null (file);
    cr_assert_eq (fseek (file, (long) end - 1, SEEK_SET), 0);
    int byte = fgetc (file);
    cr_assert_eq (fseek (file, (long) end - 1, SEEK_SET), 0);
    fputc (byte ^ 0xff, file);
    fclose (file);

    recovery_report_t report;
    s_recover (&report);
    cr_assert_eq (report.records_verified, 1);
    cr_assert_eq (report.records_damaged, 1);
    cr_assert_eq (s_query ("SELECT COUNT (*) FROM damaged"), 1);
}

Test (recovery, a_missing_open_file_is_reported)
{
    s_store ("a", "first");
    s_commit (1);
    s_store ("b", "keeps the file open");
    writer_core_destroy (&s_core);
    cr_assert_eq (unlink (s_value_file), 0);
    recovery_report_t report;
    s_recover (&report);
    cr_assert_eq (report.files_missing, 1);
}
