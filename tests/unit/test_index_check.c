/*  =========================================================================
    test_index_check - strata-node --check, and value_file_verify_record
    which it reads records with

    Each test stores a few segments the way the writer does (a record per
    sequence in a value file, index rows through store_index), runs the
    check on a clean store (no problems), then damages one thing (a payload
    byte, an index row, a file) and asserts the problem line that names it.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_check.h"
#include "store_index.h"
#include "value_file.h"
#include "value_store.h"

static char s_dir [64];                 //  data directory of the test
static node_config_t s_config;          //  its configuration
static store_index_t *s_index;          //  its index, while being written

//  The id of a node name (store_index_node_id must succeed)
static int64_t
s_name_id (const char *name)
{
    int64_t id = 0;
    cr_assert_eq (store_index_node_id (s_index, name, &id), 0, "node name '%s'", name);
    return id;
}
static value_file_t *s_file;            //  value file 1
static char s_path [1200];              //  its path
static char *s_output;                  //  what the last check printed
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
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-check-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    memset (&s_config, 0, sizeof (s_config));
    snprintf (s_config.data_dir, sizeof (s_config.data_dir), "%s", s_dir);
    snprintf (s_config.volumes [0], sizeof (s_config.volumes [0]), "%s/volume0", s_dir);
    s_config.volume_count = 1;
    char path [160];
    snprintf (path, sizeof (path), "%s/volume0", s_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    snprintf (path, sizeof (path), "%s/volume0/values", s_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    cr_assert_eq (value_store_path (s_config.volumes [0], 1, s_path, sizeof (s_path)), 0);
    s_file = value_file_create (s_path);
    cr_assert_not_null (s_file);
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    char error [256];
    s_index = store_index_open (path, error, sizeof (error));
    cr_assert_not_null (s_index, "%s", error);
    cr_assert_eq (store_index_add_value_file (s_index, 1, s_config.volumes [0], 0), 0);
    s_output = NULL;
}

static void
s_teardown (void)
{
    store_index_destroy (&s_index);
    value_file_destroy (&s_file);
    free (s_output);
    s_output = NULL;
    nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (index_check, .init = s_setup, .fini = s_teardown);

//  Payload of size bytes from seed
static uint8_t *
s_payload (size_t size, int seed)
{
    uint8_t *payload = (uint8_t *) malloc (size? size: 1);
    cr_assert_not_null (payload);
    for (size_t index = 0; index < size; index++)
        payload [index] = (uint8_t) (index * 29 + (size_t) seed * 5 + (index >> 9));
    return payload;
}

//  Store a segment of key with count sequences of size bytes, finished
//  unless active; returns its segment id. *offsets gets the records'
//  offsets when not NULL.
static int64_t
s_store (const char *key, uint64_t unified_id, int count, size_t size, bool active,
         uint64_t *offsets)
{
    index_segment_t segment = {
        .collection_id = 7, .key = key, .unified_id = unified_id, .timestamp_us = 1,
        .segment_num = 1, .status = 'A', .source_node_id = s_name_id ("n1"),
    };
    int64_t segment_id;
    cr_assert_eq (store_index_insert_segment (s_index, &segment, &segment_id), 0);
    const char *descriptor = "\x81\xa1k\xa1v";      //  any bytes will do here
    for (int number = 0; number < count; number++) {
        uint8_t *payload = s_payload (size, number + (int) unified_id);
        value_record_t record = {
            .type = RECORD_SEQUENCE, .collection_id = 7, .unified_id = unified_id,
            .segment_num = 1, .sequence_num = (uint32_t) number,
            .descriptor_size = (uint32_t) strlen (descriptor), .payload_size = size,
        };
        digest_md5 (payload, size, record.payload_md5);
        struct iovec piece = { .iov_base = payload, .iov_len = size };
        uint64_t offset;
        cr_assert_eq (value_file_append (s_file, &record, descriptor, &piece, size? 1: 0, &offset), 0);
        index_sequence_t sequence = {
            .segment_id = segment_id, .sequence_num = (uint32_t) number, .value_file_id = 1,
            .record_offset = offset,
            .record_size = value_file_record_size (record.descriptor_size, size),
            .segment_size = size,
        };
        memcpy (sequence.md5, record.payload_md5, DIGEST_MD5_SIZE);
        cr_assert_eq (store_index_insert_sequence (s_index, &sequence), 0);
        if (offsets)
            offsets [number] = offset;
        free (payload);
    }
    if (!active) {
        index_finish_t finish = { .file_size = size * (uint64_t) count };
        cr_assert_eq (store_index_finish_segment (s_index, segment_id, &finish), 0);
    }
    cr_assert_eq (store_index_set_file_synced (s_index, 1, value_file_size (s_file)), 0);
    return segment_id;
}

static void
s_sql (const char *sql)
{
    char *message = NULL;
    cr_assert_eq (sqlite3_exec (store_index_db (s_index), sql, NULL, NULL, &message), SQLITE_OK,
                  "%s: %s", sql, message? message: "?");
}

//  Close what is being written and run the check
static int
s_check (void)
{
    store_index_destroy (&s_index);
    value_file_destroy (&s_file);
    free (s_output);
    s_output = NULL;
    FILE *out = open_memstream (&s_output, &s_output_size);
    cr_assert_not_null (out);
    int rc = index_check_run (&s_config, out);
    fclose (out);
    return rc;
}

//  Reopen the index to change it after a check
static void
s_reopen (void)
{
    char path [160], error [256];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    s_index = store_index_open (path, error, sizeof (error));
    cr_assert_not_null (s_index, "%s", error);
}

static void
s_flip (const char *path, uint64_t position)
{
    int fd = open (path, O_RDWR);
    cr_assert_geq (fd, 0);
    uint8_t byte;
    cr_assert_eq (pread (fd, &byte, 1, (off_t) position), 1);
    byte ^= 0x40;
    cr_assert_eq (pwrite (fd, &byte, 1, (off_t) position), 1);
    close (fd);
}

static void
s_expect_line (const char *format, ...)
{
    char line [1600];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof (line), format, args);
    va_end (args);
    cr_assert (strstr (s_output, line), "expected '%s' in:\n%s", line, s_output);
}

//  --------------------------------------------------------------------------

Test (index_check, clean_store_has_no_problems)
{
    s_store ("a", 10, 1, 1000, false, NULL);
    s_store ("b", 20, 5, 3000, false, NULL);
    s_store ("c", 30, 2, 0, false, NULL);          //  empty payloads
    s_store ("d", 40, 2, 500, true, NULL);         //  active
    cr_assert_eq (s_check (), 0, "%s", s_output);
    s_expect_line ("checked 10 records in 1 value files: 0 problems\n");
    cr_assert_null (strstr (s_output, "problem:"));
}

Test (index_check, flipped_payload_byte_is_named_by_file_and_offset)
{
    uint64_t offsets [3];
    s_store ("a", 10, 3, 2000, false, offsets);
    s_flip (s_path, offsets [1] + VALUE_RECORD_HEADER_SIZE + 5 + 1999);
    cr_assert_eq (s_check (), 1, "%s", s_output);
    s_expect_line ("problem: %s:%" PRIu64 ": CRC32C mismatch", s_path, offsets [1]);
    s_expect_line ("checked 3 records in 1 value files: 1 problems\n");
}

Test (index_check, index_rows_that_disagree_with_records)
{
    uint64_t offsets [4];
    s_store ("a", 10, 4, 100, false, offsets);
    s_sql ("UPDATE sequence SET md5 = zeroblob (16) WHERE sequence_num = 0");
    s_sql ("UPDATE sequence SET record_offset = record_offset + 1 WHERE sequence_num = 1");
    s_sql ("UPDATE sequence SET segment_size = 99 WHERE sequence_num = 2");
    s_sql ("UPDATE sequence SET sequence_num = 9 WHERE sequence_num = 3");
    int rc = s_check ();
    s_expect_line ("problem: %s:%" PRIu64 ": the record header's payload MD5 differs", s_path, offsets [0]);
    s_expect_line ("problem: %s:%" PRIu64 ": payload MD5 mismatch", s_path, offsets [0]);
    s_expect_line ("problem: %s:%" PRIu64 ": no well-formed record here", s_path, offsets [1] + 1);
    s_expect_line ("problem: %s:%" PRIu64 ": payload is 100 bytes, the index says 99", s_path, offsets [2]);
    s_expect_line ("problem: %s:%" PRIu64 ": record is sequence 3, the index says 9", s_path, offsets [3]);
    //  the shifted row now overlaps the next record, and the segment's
    //  numbering has a gap
    s_expect_line ("problem: %s:%" PRIu64 ": overlaps the previous record", s_path, offsets [2]);
    s_expect_line ("sequences 0..9 are not contiguous (4 rows)");
    s_expect_line ("checked 4 records in 1 value files: 7 problems\n");
    cr_assert_eq (rc, 7, "%s", s_output);
}

Test (index_check, segment_identity_and_sequence_counts)
{
    uint64_t offsets [3];
    s_store ("a", 10, 3, 100, false, offsets);
    int64_t active = s_store ("b", 20, 2, 100, true, NULL);
    s_store ("c", 30, 1, 100, false, NULL);
    s_sql ("UPDATE segment SET unified_id = unified_id + 1 WHERE key = 'a'");
    s_sql ("DELETE FROM sequence WHERE segment_id = (SELECT id FROM segment WHERE key = 'c')");
    char sql [200];
    snprintf (sql, sizeof (sql), "UPDATE segment SET last_sequence_num = 0 WHERE id = %" PRId64, active);
    s_sql (sql);
    int rc = s_check ();
    s_expect_line ("problem: %s:%" PRIu64 ": record is of segment 10/0/1 in collection 7,"
                   " the index says 11/0/1 in collection 7", s_path, offsets [0]);
    s_expect_line ("key 'c' 30/0/1, status F): 0 sequence rows, but sequence_count says 1");
    s_expect_line ("key 'c' 30/0/1, status F): finished, but has no sequences");
    s_expect_line ("key 'b' 20/0/1, status A): last_sequence_num is 0, but the highest"
                   " sequence stored is 1");
    cr_assert_eq (rc, 6, "%s", s_output);      //  3 identity lines + 3 segment lines
}

Test (index_check, missing_and_short_value_files)
{
    s_store ("a", 10, 2, 100, false, NULL);
    uint64_t size = value_file_size (s_file);
    //  a second file, registered, synced past its real size
    cr_assert_eq (store_index_add_value_file (s_index, 2, s_config.volumes [0], 0), 0);
    cr_assert_eq (store_index_set_file_synced (s_index, 2, 100), 0);
    char second [1200];
    value_store_path (s_config.volumes [0], 2, second, sizeof (second));
    FILE *handle = fopen (second, "w");
    fputs ("short", handle);
    fclose (handle);
    cr_assert_eq (s_check (), 1, "%s", s_output);
    s_expect_line ("problem: %s: the file holds 5 bytes, but 100 are recorded as synced", second);

    //  file 1 gone: its records and its synced bytes are reported
    cr_assert_eq (unlink (s_path), 0);
    cr_assert_eq (s_check (), 3, "%s", s_output);
    s_expect_line ("problem: %s: value file missing or unreadable; 2 sequence records", s_path);
    s_expect_line ("problem: %s: value file missing or unreadable (No such file or directory),"
                   " but %" PRIu64 " bytes", s_path, size);
}

Test (index_check, value_file_found_on_another_volume)
{
    s_store ("a", 10, 2, 100, false, NULL);
    s_sql ("UPDATE value_file SET volume = '/moved/away'");
    cr_assert_eq (s_check (), 0, "%s", s_output);
    //  not registered at all: still checked, but that is a problem
    s_reopen ();
    s_sql ("DELETE FROM value_file");
    cr_assert_eq (s_check (), 1, "%s", s_output);
    s_expect_line ("problem: %s: value file 0000000000000001 holds sequences of the index but"
                   " has no value_file row", s_path);
    s_expect_line ("checked 2 records in 1 value files: 1 problems");
}

Test (index_check, recorded_damage_is_a_problem)
{
    uint64_t offsets [1];
    int64_t segment_id = s_store ("a", 10, 1, 100, false, offsets);
    cr_assert_eq (store_index_add_damaged (s_index, 1, offsets [0], segment_id, 0, "md5 mismatch on read"), 0);
    cr_assert_eq (s_check (), 1, "%s", s_output);
    s_expect_line ("problem: %s:%" PRIu64 ": recorded as damaged: md5 mismatch on read", s_path, offsets [0]);
}

Test (index_check, no_index_cannot_be_checked)
{
    store_index_destroy (&s_index);
    char path [160];
    snprintf (path, sizeof (path), "%s/index.db", s_dir);
    unlink (path);
    cr_assert_eq (s_check (), -1);
    s_expect_line ("no index to check");
}

Test (index_check, large_payload_is_streamed)
{
    //  Bigger than the check's 8 MiB chunk
    uint64_t offsets [1];
    size_t size = 20 * 1024 * 1024 + 3;
    s_store ("big", 10, 1, size, false, offsets);
    cr_assert_eq (s_check (), 0, "%s", s_output);
    s_flip (s_path, offsets [0] + VALUE_RECORD_HEADER_SIZE + 5 + size - 1);
    cr_assert_eq (s_check (), 1, "%s", s_output);
    s_expect_line ("problem: %s:%" PRIu64 ": CRC32C mismatch", s_path, offsets [0]);
}

//  --------------------------------------------------------------------------
//  value_file_verify_record

Test (index_check, verify_record_streams_crc_and_md5)
{
    size_t size = 100000;
    uint8_t *payload = s_payload (size, 3);
    const char *descriptor = "descriptor!";
    value_record_t record = {
        .type = RECORD_SEQUENCE, .unified_id = 5, .segment_num = 1,
        .descriptor_size = (uint32_t) strlen (descriptor), .payload_size = size,
    };
    digest_md5 (payload, size, record.payload_md5);
    struct iovec piece = { .iov_base = payload, .iov_len = size };
    uint64_t offset;
    //  Not at offset 0: a small record first
    value_record_t first = { .type = RECORD_CANCEL, .descriptor_size = 3 };
    cr_assert_eq (value_file_append (s_file, &first, "abc", NULL, 0, &offset), 0);
    cr_assert_eq (value_file_append (s_file, &record, descriptor, &piece, 1, &offset), 0);
    int fd = value_file_fd (s_file);
    uint64_t file_size = value_file_size (s_file);

    value_record_t header;
    cr_assert_eq (value_file_read_header (fd, offset, file_size, &header), 0);
    uint8_t buffer [7];                 //  a tiny buffer: many chunks
    char read_descriptor [32] = "";
    uint8_t md5 [DIGEST_MD5_SIZE];
    cr_assert_eq (value_file_verify_record (fd, offset, &header, read_descriptor, buffer,
                                            sizeof (buffer), md5), 0);
    cr_assert_str_eq (read_descriptor, descriptor);
    cr_assert_arr_eq (md5, record.payload_md5, DIGEST_MD5_SIZE);
    //  without descriptor or MD5
    cr_assert_eq (value_file_verify_record (fd, offset, &header, NULL, buffer, sizeof (buffer), NULL), 0);

    //  a flipped byte: CRC mismatch; a cut file: -1 too
    s_flip (s_path, offset + VALUE_RECORD_HEADER_SIZE + header.descriptor_size + size / 2);
    cr_assert_eq (value_file_verify_record (fd, offset, &header, NULL, buffer, sizeof (buffer), md5), STORE_ERR_CORRUPT);
    s_flip (s_path, offset + VALUE_RECORD_HEADER_SIZE + header.descriptor_size + size / 2);
    cr_assert_eq (value_file_verify_record (fd, offset, &header, NULL, buffer, sizeof (buffer), md5), 0);
    cr_assert_eq (ftruncate (fd, (off_t) (file_size - 1)), 0);
    cr_assert_eq (value_file_verify_record (fd, offset, &header, NULL, buffer, sizeof (buffer), md5), STORE_ERR_CORRUPT);
    free (payload);
}
