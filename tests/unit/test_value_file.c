/*  =========================================================================
    test_value_file - value file records: layout, round trip, corruption,
    torn tails, large iovec counts, failed appends
    =========================================================================
*/
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "value_file.h"

static char s_dir [64];             //  per-test temporary directory
static char s_path [128];           //  value file inside it

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-vf-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/0000000000000001.val", s_dir);
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
    nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (value_file, .init = s_setup, .fini = s_teardown);

//  A record with every identity field set to something distinctive
static value_record_t
s_record (uint16_t type, uint32_t descriptor_size, uint64_t payload_size,
          const void *payload_for_md5)
{
    value_record_t record;
    memset (&record, 0, sizeof (record));
    record.type = type;
    record.collection_id = 0x11223344;
    record.unified_id = 0x0102030405060708ULL;
    record.conjoined_part = 0x55667788;
    record.segment_num = 9;
    record.sequence_num = 0xA1B2C3D4;
    record.descriptor_size = descriptor_size;
    record.payload_size = payload_size;
    digest_md5 (payload_for_md5, (size_t) payload_size, record.payload_md5);
    return record;
}

static uint64_t
s_file_size (const char *path)
{
    struct stat st;
    cr_assert_eq (stat (path, &st), 0);
    return (uint64_t) st.st_size;
}

static void
s_flip_byte (const char *path, uint64_t offset)
{
    int fd = open (path, O_RDWR);
    cr_assert_geq (fd, 0);
    uint8_t byte;
    cr_assert_eq (pread (fd, &byte, 1, (off_t) offset), 1);
    byte ^= 0x40;
    cr_assert_eq (pwrite (fd, &byte, 1, (off_t) offset), 1);
    close (fd);
}

//  Append a record of descriptor "desc" + payload "payload" in one piece
static uint64_t
s_append_simple (value_file_t *file, const char *desc, const char *payload)
{
    size_t payload_size = strlen (payload);
    value_record_t record = s_record (RECORD_SEQUENCE, (uint32_t) strlen (desc),
                                      payload_size, payload);
    struct iovec piece = { .iov_base = (void *) payload, .iov_len = payload_size };
    uint64_t offset = UINT64_MAX;
    cr_assert_eq (value_file_append (file, &record, desc, &piece, 1, &offset), 0);
    return offset;
}


Test (value_file, round_trip_multiple_pieces)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    cr_assert_eq (value_file_size (file), 0);

    const char *descriptors [3] = { "first-descriptor", "", "third" };
    const char *payloads [3] = { "hello, world: this is payload one",
                                 "payload two is split in many pieces",
                                 "" };
    uint64_t offsets [3];
    for (int r = 0; r < 3; r++) {
        size_t size = strlen (payloads [r]);
        //  Split the payload in pieces of 1, 2, 3, ... bytes
        struct iovec pieces [16];
        int count = 0;
        size_t at = 0;
        for (size_t step = 1; at < size; step++) {
            size_t length = step < size - at? step: size - at;
            pieces [count].iov_base = (void *) (payloads [r] + at);
            pieces [count].iov_len = length;
            count++;
            at += length;
        }
        value_record_t record = s_record ((uint16_t) (RECORD_SEQUENCE + r),
                                          (uint32_t) strlen (descriptors [r]),
                                          size, payloads [r]);
        record.sequence_num = (uint32_t) r;
        uint64_t before = value_file_size (file);
        cr_assert_eq (value_file_append (file, &record, descriptors [r], pieces, count, &offsets [r]), 0);
        cr_assert_eq (offsets [r], before);
        cr_assert_eq (value_file_size (file),
                      before + value_file_record_size ((uint32_t) strlen (descriptors [r]), size));
    }
    cr_assert_eq (value_file_sync (file), 0);
    cr_assert_not (value_file_broken (file));
    uint64_t total = value_file_size (file);
    cr_assert_eq (s_file_size (s_path), total);
    value_file_destroy (&file);
    cr_assert_null (file);
    value_file_destroy (&file);     //  accepts NULL

    //  Walk the file from the start with a read-only handle
    value_file_t *reader = value_file_open (s_path, false);
    cr_assert_not_null (reader);
    cr_assert_eq (value_file_size (reader), total);
    int fd = value_file_fd (reader);
    uint64_t offset = 0;
    for (int r = 0; r < 3; r++) {
        cr_assert_eq (offset, offsets [r]);
        value_record_t record;
        cr_assert_eq (value_file_read_header (fd, offset, total, &record), 0);
        cr_assert_eq (record.type, RECORD_SEQUENCE + r);
        cr_assert_eq (record.collection_id, 0x11223344);
        cr_assert_eq (record.unified_id, 0x0102030405060708ULL);
        cr_assert_eq (record.conjoined_part, 0x55667788);
        cr_assert_eq (record.segment_num, 9);
        cr_assert_eq (record.sequence_num, (uint32_t) r);
        cr_assert_eq (record.descriptor_size, strlen (descriptors [r]));
        cr_assert_eq (record.payload_size, strlen (payloads [r]));
        uint8_t md5 [DIGEST_MD5_SIZE];
        digest_md5 (payloads [r], strlen (payloads [r]), md5);
        cr_assert_arr_eq (record.payload_md5, md5, DIGEST_MD5_SIZE);

        char descriptor [64] = { 0 };
        char payload [64] = { 0 };
        cr_assert_eq (value_file_read_record (fd, offset, &record, descriptor, payload), 0);
        cr_assert_str_eq (descriptor, descriptors [r]);
        cr_assert_str_eq (payload, payloads [r]);
        //  Verify only, without buffers
        cr_assert_eq (value_file_read_record (fd, offset, &record, NULL, NULL), 0);
        offset += value_file_record_size (record.descriptor_size, record.payload_size);
    }
    cr_assert_eq (offset, total);
    value_record_t record;
    cr_assert_eq (value_file_read_header (fd, offset, total, &record), STORE_ERR_CORRUPT);
    //  A read-only file cannot be appended to
    value_record_t extra = s_record (RECORD_SEQUENCE, 0, 0, NULL);
    cr_assert_eq (value_file_append (reader, &extra, NULL, NULL, 0, NULL), -EBADF);
    value_file_destroy (&reader);
}


Test (value_file, header_layout_is_little_endian_and_crc_covers_everything)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    const char *desc = "DESC";
    const char *payload = "PAYLOAD-BYTES";
    s_append_simple (file, desc, payload);
    value_file_destroy (&file);

    uint8_t bytes [64 + 4 + 13];
    int fd = open (s_path, O_RDONLY);
    cr_assert_eq (read (fd, bytes, sizeof (bytes)), (ssize_t) sizeof (bytes));
    close (fd);

    cr_assert_eq (memcmp (bytes, "STR1", 4), 0);
    cr_assert_eq (bytes [4], 1);    cr_assert_eq (bytes [5], 0);       //  version
    cr_assert_eq (bytes [6], RECORD_SEQUENCE); cr_assert_eq (bytes [7], 0);
    uint8_t dsize [4] = { 4, 0, 0, 0 };
    cr_assert_arr_eq (bytes + 8, dsize, 4);
    uint8_t psize [8] = { 13, 0, 0, 0, 0, 0, 0, 0 };
    cr_assert_arr_eq (bytes + 16, psize, 8);
    uint8_t uid [8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
    cr_assert_arr_eq (bytes + 24, uid, 8);
    uint8_t cid [4] = { 0x44, 0x33, 0x22, 0x11 };
    cr_assert_arr_eq (bytes + 32, cid, 4);
    uint8_t part [4] = { 0x88, 0x77, 0x66, 0x55 };
    cr_assert_arr_eq (bytes + 36, part, 4);
    uint8_t seq [4] = { 0xD4, 0xC3, 0xB2, 0xA1 };
    cr_assert_arr_eq (bytes + 40, seq, 4);
    cr_assert_eq (bytes [44], 9);
    cr_assert_eq (bytes [45], 0); cr_assert_eq (bytes [46], 0); cr_assert_eq (bytes [47], 0);
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 (payload, 13, md5);
    cr_assert_arr_eq (bytes + 48, md5, DIGEST_MD5_SIZE);
    cr_assert_eq (memcmp (bytes + 64, desc, 4), 0);
    cr_assert_eq (memcmp (bytes + 68, payload, 13), 0);

    //  CRC32C: header with crc zero, then descriptor, then payload
    uint32_t stored = (uint32_t) bytes [12] | (uint32_t) bytes [13] << 8
                    | (uint32_t) bytes [14] << 16 | (uint32_t) bytes [15] << 24;
    memset (bytes + 12, 0, 4);
    uint32_t crc = digest_crc32c (0, bytes, 64);
    crc = digest_crc32c (crc, desc, 4);
    crc = digest_crc32c (crc, payload, 13);
    cr_assert_eq (crc, stored);
    //  ... which is the same as one CRC over the whole record
    cr_assert_eq (digest_crc32c (0, bytes, sizeof (bytes)), stored);
}


//  Write one record, flip the byte at offset, and return what read_header /
//  read_record say
static void
s_corrupt_and_read (uint64_t flip_at, int *header_rc, int *record_rc)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    s_append_simple (file, "a-descriptor", "some payload bytes");
    uint64_t size = value_file_size (file);
    value_file_destroy (&file);

    value_record_t record;
    int fd = open (s_path, O_RDONLY);
    cr_assert_eq (value_file_read_header (fd, 0, size, &record), 0);
    cr_assert_eq (value_file_read_record (fd, 0, &record, NULL, NULL), 0);
    close (fd);

    s_flip_byte (s_path, flip_at);
    fd = open (s_path, O_RDONLY);
    *header_rc = value_file_read_header (fd, 0, size, &record);
    char descriptor [32];
    char payload [32];
    *record_rc = *header_rc == 0?
        value_file_read_record (fd, 0, &record, descriptor, payload): 99;
    close (fd);
}

Test (value_file, crc_mismatch_on_flipped_payload_byte)
{
    int header_rc, record_rc;
    s_corrupt_and_read (64 + 12 + 5, &header_rc, &record_rc);
    cr_assert_eq (header_rc, 0);
    cr_assert_eq (record_rc, STORE_ERR_CORRUPT);
}

Test (value_file, crc_mismatch_on_flipped_descriptor_byte)
{
    int header_rc, record_rc;
    s_corrupt_and_read (64 + 3, &header_rc, &record_rc);
    cr_assert_eq (header_rc, 0);
    cr_assert_eq (record_rc, STORE_ERR_CORRUPT);
}

Test (value_file, crc_mismatch_on_flipped_header_byte)
{
    //  Bytes the header check cannot judge: unified-id, sequence, MD5, crc
    uint64_t offsets [] = { 24, 29, 40, 44, 50, 63, 12 };
    for (size_t i = 0; i < sizeof (offsets) / sizeof (offsets [0]); i++) {
        s_teardown ();
        s_setup ();
        int header_rc, record_rc;
        s_corrupt_and_read (offsets [i], &header_rc, &record_rc);
        cr_assert_eq (header_rc, 0, "offset %d", (int) offsets [i]);
        cr_assert_eq (record_rc, STORE_ERR_CORRUPT, "offset %d", (int) offsets [i]);
    }
}

Test (value_file, corrupt_header_fields_rejected)
{
    //  magic, version, type, descriptor size (high byte), reserved bytes,
    //  payload size (high byte)
    uint64_t offsets [] = { 0, 3, 4, 5, 6, 7, 11, 45, 47, 23 };
    for (size_t i = 0; i < sizeof (offsets) / sizeof (offsets [0]); i++) {
        s_teardown ();
        s_setup ();
        int header_rc, record_rc;
        s_corrupt_and_read (offsets [i], &header_rc, &record_rc);
        cr_assert_eq (header_rc, STORE_ERR_CORRUPT, "offset %d", (int) offsets [i]);
    }
}


//  Write a raw 64-byte header at offset 0 with the given fields
static void
s_write_raw_header (uint32_t magic, uint16_t version, uint16_t type,
                    uint32_t descriptor_size, uint64_t payload_size)
{
    uint8_t header [64] = { 0 };
    for (int i = 0; i < 4; i++) header [i] = (uint8_t) (magic >> (8 * i));
    header [4] = (uint8_t) version; header [5] = (uint8_t) (version >> 8);
    header [6] = (uint8_t) type; header [7] = (uint8_t) (type >> 8);
    for (int i = 0; i < 4; i++) header [8 + i] = (uint8_t) (descriptor_size >> (8 * i));
    for (int i = 0; i < 8; i++) header [16 + i] = (uint8_t) (payload_size >> (8 * i));
    int fd = open (s_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq (fd, 0);
    cr_assert_eq (write (fd, header, 64), 64);
    close (fd);
}

static int
s_read_raw_header (uint64_t offset, uint64_t file_size)
{
    int fd = open (s_path, O_RDONLY);
    cr_assert_geq (fd, 0);
    value_record_t record;
    int rc = value_file_read_header (fd, offset, file_size, &record);
    close (fd);
    return rc;
}

Test (value_file, header_lengths_are_checked_without_overflow)
{
    //  A valid empty record
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_TOMBSTONE, 0, 0);
    cr_assert_eq (s_read_raw_header (0, 64), 0);
    //  Types outside 1..7 (7: a compaction's origin record)
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_ORIGIN, 0, 0);
    cr_assert_eq (s_read_raw_header (0, 64), 0);
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, 0, 0, 0);
    cr_assert_eq (s_read_raw_header (0, 64), STORE_ERR_CORRUPT);
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, 8, 0, 0);
    cr_assert_eq (s_read_raw_header (0, 64), STORE_ERR_CORRUPT);
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, 0xFFFF, 0, 0);
    cr_assert_eq (s_read_raw_header (0, 64), STORE_ERR_CORRUPT);
    //  Other version
    s_write_raw_header (VALUE_RECORD_MAGIC, 2, RECORD_SEQUENCE, 0, 0);
    cr_assert_eq (s_read_raw_header (0, 64), STORE_ERR_CORRUPT);
    //  Descriptor past the sanity bound, even if the file were big enough
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_SEQUENCE, VALUE_RECORD_DESCRIPTOR_MAX + 1, 0);
    cr_assert_eq (s_read_raw_header (0, UINT64_MAX), STORE_ERR_CORRUPT);
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_SEQUENCE, VALUE_RECORD_DESCRIPTOR_MAX, 0);
    cr_assert_eq (s_read_raw_header (0, 64 + VALUE_RECORD_DESCRIPTOR_MAX), 0);
    cr_assert_eq (s_read_raw_header (0, 64 + VALUE_RECORD_DESCRIPTOR_MAX - 1), STORE_ERR_CORRUPT);
    //  Payload sizes that would wrap offset + size around
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_SEQUENCE, 100, UINT64_MAX);
    cr_assert_eq (s_read_raw_header (0, UINT64_MAX), STORE_ERR_CORRUPT);
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_SEQUENCE, 100, UINT64_MAX - 164);
    cr_assert_eq (s_read_raw_header (0, UINT64_MAX), 0);   //  exactly fits
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_SEQUENCE, 100, UINT64_MAX - 163);
    cr_assert_eq (s_read_raw_header (0, UINT64_MAX), STORE_ERR_CORRUPT);  //  one byte past
    s_write_raw_header (VALUE_RECORD_MAGIC, 1, RECORD_SEQUENCE, 0, 1);
    cr_assert_eq (s_read_raw_header (0, 64), STORE_ERR_CORRUPT);
    //  Offsets past the end, or near the top of the range
    cr_assert_eq (s_read_raw_header (65, 64), STORE_ERR_CORRUPT);
    cr_assert_eq (s_read_raw_header (1, 64), STORE_ERR_CORRUPT);
    cr_assert_eq (s_read_raw_header (UINT64_MAX - 10, UINT64_MAX), STORE_ERR_CORRUPT);
    cr_assert_eq (s_read_raw_header (UINT64_MAX, UINT64_MAX), STORE_ERR_CORRUPT);
    cr_assert_eq (s_read_raw_header (UINT64_MAX - 100, UINT64_MAX), STORE_ERR_CORRUPT);
    //  Claimed file size larger than the real file: the read comes up short
    cr_assert_eq (s_read_raw_header (64, 1000), STORE_ERR_CORRUPT);

    cr_assert_eq (value_file_record_size (0, 0), 64);
    cr_assert_eq (value_file_record_size (10, 20), 94);
    cr_assert_eq (value_file_record_size (10, UINT64_MAX - 5), UINT64_MAX);
}


Test (value_file, torn_tail_detected)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    uint64_t first = s_append_simple (file, "d1", "the first record, complete");
    uint64_t second = s_append_simple (file, "d2", "the second record, to be torn");
    uint64_t size = value_file_size (file);
    cr_assert_eq (first, 0);
    value_file_destroy (&file);

    //  Header read before the tear, record read after it
    int fd = open (s_path, O_RDONLY);
    value_record_t torn;
    cr_assert_eq (value_file_read_header (fd, second, size, &torn), 0);
    cr_assert_eq (truncate (s_path, (off_t) (size - 5)), 0);
    char descriptor [8];
    char payload [64];
    cr_assert_eq (value_file_read_record (fd, second, &torn, descriptor, payload), STORE_ERR_CORRUPT);
    cr_assert_eq (value_file_read_record (fd, second, &torn, NULL, NULL), STORE_ERR_CORRUPT);
    close (fd);

    //  Cut in the payload, in the descriptor, in the header
    uint64_t cuts [] = { size - 1, second + 65, second + 64, second + 30, second + 1 };
    for (size_t i = 0; i < sizeof (cuts) / sizeof (cuts [0]); i++) {
        cr_assert_eq (truncate (s_path, (off_t) cuts [i]), 0);
        value_file_t *reader = value_file_open (s_path, false);
        cr_assert_not_null (reader);
        cr_assert_eq (value_file_size (reader), cuts [i]);
        value_record_t record;
        cr_assert_eq (value_file_read_header (value_file_fd (reader), second,
                                              value_file_size (reader), &record), STORE_ERR_CORRUPT);
        //  The first record is still intact
        cr_assert_eq (value_file_read_header (value_file_fd (reader), first,
                                              value_file_size (reader), &record), 0);
        cr_assert_eq (value_file_read_record (value_file_fd (reader), first, &record, NULL, NULL), 0);
        value_file_destroy (&reader);
    }

    //  Once recovery cuts the torn record off, opening for writing
    //  continues right there
    cr_assert_eq (truncate (s_path, (off_t) second), 0);
    file = value_file_open (s_path, true);
    cr_assert_not_null (file);
    cr_assert_eq (value_file_size (file), second);
    cr_assert_eq (s_append_simple (file, "d3", "a replacement"), second);
    value_record_t record;
    cr_assert_eq (value_file_read_header (value_file_fd (file), second, value_file_size (file), &record), 0);
    cr_assert_eq (value_file_read_record (value_file_fd (file), second, &record, NULL, NULL), 0);
    value_file_destroy (&file);
}


Test (value_file, zero_length_payload)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    value_record_t record = s_record (RECORD_FINISH, 3, 0, NULL);
    uint64_t offset;
    cr_assert_eq (value_file_append (file, &record, "abc", NULL, 0, &offset), 0);
    cr_assert_eq (offset, 0);
    //  No descriptor either; an empty iovec piece counts as nothing
    value_record_t empty = s_record (RECORD_CANCEL, 0, 0, NULL);
    struct iovec nothing = { .iov_base = NULL, .iov_len = 0 };
    cr_assert_eq (value_file_append (file, &empty, NULL, &nothing, 1, &offset), 0);
    cr_assert_eq (offset, 67);
    cr_assert_eq (value_file_size (file), 67 + 64);
    cr_assert_eq (s_file_size (s_path), 67 + 64);

    int fd = value_file_fd (file);
    value_record_t read_back;
    cr_assert_eq (value_file_read_header (fd, 0, 131, &read_back), 0);
    cr_assert_eq (read_back.type, RECORD_FINISH);
    cr_assert_eq (read_back.payload_size, 0);
    char descriptor [3];
    cr_assert_eq (value_file_read_record (fd, 0, &read_back, descriptor, NULL), 0);
    cr_assert_eq (memcmp (descriptor, "abc", 3), 0);
    cr_assert_eq (value_file_read_header (fd, 67, 131, &read_back), 0);
    cr_assert_eq (read_back.type, RECORD_CANCEL);
    cr_assert_eq (value_file_read_record (fd, 67, &read_back, NULL, NULL), 0);
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 (NULL, 0, md5);
    cr_assert_arr_eq (read_back.payload_md5, md5, DIGEST_MD5_SIZE);
    value_file_destroy (&file);
}


Test (value_file, five_thousand_pieces_in_one_record)
{
    //  Pieces of 0..7 bytes (some empty), like a payload split in frames
    enum { PIECES = 5000 };
    struct iovec *pieces = calloc (PIECES, sizeof (struct iovec));
    uint8_t *data = malloc (PIECES * 8);
    cr_assert (pieces && data);
    size_t total = 0;
    for (int i = 0; i < PIECES; i++) {
        size_t length = (size_t) (i * 7919) % 8;
        for (size_t j = 0; j < length; j++)
            data [total + j] = (uint8_t) (i + j * 31);
        pieces [i].iov_base = data + total;
        pieces [i].iov_len = length;
        total += length;
    }
    cr_assert_gt (total, 10000);

    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    s_append_simple (file, "x", "a small record first");
    value_record_t record = s_record (RECORD_SEQUENCE, 5, total, data);
    uint64_t offset;
    cr_assert_eq (value_file_append (file, &record, "frame", pieces, PIECES, &offset), 0);
    cr_assert_eq (value_file_size (file), offset + 64 + 5 + total);
    cr_assert_eq (s_file_size (s_path), value_file_size (file));

    value_record_t read_back;
    int fd = value_file_fd (file);
    cr_assert_eq (value_file_read_header (fd, offset, value_file_size (file), &read_back), 0);
    cr_assert_eq (read_back.payload_size, total);
    uint8_t *payload = malloc (total);
    char descriptor [5];
    cr_assert_eq (value_file_read_record (fd, offset, &read_back, descriptor, payload), 0);
    cr_assert_eq (memcmp (payload, data, total), 0);
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 (payload, total, md5);
    cr_assert_arr_eq (read_back.payload_md5, md5, DIGEST_MD5_SIZE);
    value_file_destroy (&file);
    free (payload);
    free (data);
    free (pieces);
}


Test (value_file, invalid_records_write_nothing)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    s_append_simple (file, "d", "p");
    uint64_t size = value_file_size (file);
    const char *payload = "12345";
    struct iovec piece = { .iov_base = (void *) payload, .iov_len = 5 };

    value_record_t record = s_record (RECORD_SEQUENCE, 0, 6, payload);     //  sum 5 != 6
    cr_assert_eq (value_file_append (file, &record, NULL, &piece, 1, NULL), -EINVAL);
    record = s_record (0, 0, 5, payload);
    cr_assert_eq (value_file_append (file, &record, NULL, &piece, 1, NULL), -EINVAL);
    record = s_record (8, 0, 5, payload);
    cr_assert_eq (value_file_append (file, &record, NULL, &piece, 1, NULL), -EINVAL);
    static char big [VALUE_RECORD_DESCRIPTOR_MAX + 1];
    record = s_record (RECORD_SEQUENCE, sizeof (big), 5, payload);
    cr_assert_eq (value_file_append (file, &record, big, &piece, 1, NULL), -EINVAL);

    cr_assert_eq (value_file_size (file), size);
    cr_assert_eq (s_file_size (s_path), size);
    cr_assert_not (value_file_broken (file));
    value_file_destroy (&file);

    //  Create refuses an existing file; open refuses a missing one
    errno = 0;
    cr_assert_null (value_file_create (s_path));
    cr_assert_eq (errno, EEXIST);
    char missing [160];
    snprintf (missing, sizeof (missing), "%s/missing.val", s_dir);
    cr_assert_null (value_file_open (missing, false));
    cr_assert_eq (errno, ENOENT);
    cr_assert_null (value_file_open (s_dir, false));     //  a directory
}


Test (value_file, failed_append_is_truncated_back)
{
    //  A file size limit makes the kernel write part of the record and then
    //  fail with EFBIG: the partial record must be cut off again
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    s_append_simple (file, "d", "before the limit");
    uint64_t size = value_file_size (file);

    signal (SIGXFSZ, SIG_IGN);
    struct rlimit limit = { .rlim_cur = size + 100, .rlim_max = RLIM_INFINITY };
    cr_assert_eq (setrlimit (RLIMIT_FSIZE, &limit), 0);

    static uint8_t data [1000];
    memset (data, 'z', sizeof (data));
    struct iovec pieces [4] = {
        { data, 250 }, { data + 250, 250 }, { data + 500, 250 }, { data + 750, 250 }
    };
    value_record_t record = s_record (RECORD_SEQUENCE, 0, sizeof (data), data);
    uint64_t offset = 12345;
    cr_assert_eq (value_file_append (file, &record, NULL, pieces, 4, &offset), -EFBIG);
    cr_assert_eq (offset, 12345);
    cr_assert_eq (value_file_size (file), size);
    cr_assert_eq (s_file_size (s_path), size);
    cr_assert_not (value_file_broken (file));

    //  A record that fits still goes in, right after the last good one
    cr_assert_eq (s_append_simple (file, "d", "fits"), size);
    value_record_t read_back;
    cr_assert_eq (value_file_read_header (value_file_fd (file), size, value_file_size (file), &read_back), 0);
    cr_assert_eq (value_file_read_record (value_file_fd (file), size, &read_back, NULL, NULL), 0);
    cr_assert_eq (value_file_sync (file), 0);
    value_file_destroy (&file);
}

//  Early writeback (sync_file_range) changes nothing of what is written:
//  every append starts one (1 byte), records read back, the sync works
Test (value_file, writeback_after_every_append)
{
    value_file_t *file = value_file_create (s_path);
    cr_assert_not_null (file);
    value_file_set_writeback (file, 1);
    uint8_t payload [10000];
    for (size_t i = 0; i < sizeof (payload); i++)
        payload [i] = (uint8_t) (i * 7);
    uint64_t offsets [20];
    for (int r = 0; r < 20; r++) {
        struct iovec piece = { payload, 1000 + 300 * (size_t) r };
        value_record_t record = s_record (RECORD_SEQUENCE, 4, piece.iov_len, payload);
        record.sequence_num = (uint32_t) r;
        cr_assert_eq (value_file_append (file, &record, "desc", &piece, 1, &offsets [r]), 0);
    }
    cr_assert_eq (value_file_sync (file), 0);
    cr_assert_eq (s_file_size (s_path), value_file_size (file));
    value_file_destroy (&file);
    file = value_file_open (s_path, false);
    cr_assert_not_null (file);
    uint64_t total = s_file_size (s_path);
    uint8_t back [10000];
    for (int r = 0; r < 20; r++) {
        value_record_t record;
        cr_assert_eq (value_file_read_header (value_file_fd (file), offsets [r], total, &record), 0);
        cr_assert_eq (record.sequence_num, (uint32_t) r);
        cr_assert_eq (record.payload_size, 1000 + 300 * (uint64_t) r);
        cr_assert_eq (value_file_read_record (value_file_fd (file), offsets [r], &record, NULL, back), 0);
        cr_assert_eq (memcmp (back, payload, record.payload_size), 0);
    }
    value_file_destroy (&file);
}
