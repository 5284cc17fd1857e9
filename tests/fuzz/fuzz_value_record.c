/*  =========================================================================
    fuzz_value_record - libFuzzer target over the value-file record parser

    The input is the whole content of a value file (put in a memfd). It is
    walked record by record the way --rebuild-index does (a header that is
    not well formed ends the walk; a record failing its CRC32C is stepped
    over only when a well-formed header follows it), and each record is
    read every way the node reads one. Besides "no crash, no leak, no
    undefined behaviour, no read past the file" (ASan + UBSan), each input
    checks:

    - a well-formed header describes a record that lies inside the file;
    - value_file_read_record (with and without buffers) and
      value_file_verify_record (through a small, odd-sized buffer, with and
      without a descriptor buffer) agree, and never report a read error;
    - the bytes they hand back are the file's, and the MD5 computed on the
      way is the payload's;
    - the verdict is the CRC32C of the record's bytes (crc field zeroed)
      compared with the stored one, computed here independently;
    - an intact record appended again with value_file_append comes out
      byte for byte as it was read;
    - headers at or past the end of the file, or at offsets that would
      overflow, are refused.

    Every allocation here is bounded by the input's size (the header check
    guarantees the record lies in the file).

    Build: CC=clang cmake -DSTRATA_FUZZ=ON; run: tests/fuzz/run.sh.
    =========================================================================
*/

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "value_file.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Start again with a fresh copy file past this size
#define S_COPY_MAX_BYTES    (64 * 1024 * 1024)

static int s_fd = -1;                   //  memfd holding the input
static char s_dir [256];                //  scratch directory for the copy
static char s_copy_path [300];          //  the copy file
static value_file_t *s_copy = NULL;     //  intact records appended again

//  Fail the run with a message
static void
s_fail (const char *what, uint64_t offset)
{
    fprintf (stderr, "fuzz_value_record: at offset %llu: %s\n", (unsigned long long) offset, what);
    abort ();
}

static void
s_cleanup (void)
{
    value_file_destroy (&s_copy);
    if (s_copy_path [0])
        unlink (s_copy_path);
    if (s_dir [0])
        rmdir (s_dir);
}

static void
s_setup (void)
{
    s_fd = memfd_create ("fuzz_value_record", MFD_CLOEXEC);
    if (s_fd < 0)
        s_fail ("memfd_create failed", 0);
    //  $TMPDIR (run.sh points it at its scratch directory), else /dev/shm
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = access ("/dev/shm", W_OK) == 0? "/dev/shm": "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/strata-fuzz-record-XXXXXX", base);
    if (!mkdtemp (s_dir))
        s_fail ("mkdtemp failed", 0);
    snprintf (s_copy_path, sizeof s_copy_path, "%s/copy.val", s_dir);
    atexit (s_cleanup);
}

//  The copy file, started afresh when it has grown large
static value_file_t *
s_copy_file (void)
{
    if (s_copy && value_file_size (s_copy) > S_COPY_MAX_BYTES) {
        value_file_destroy (&s_copy);
        unlink (s_copy_path);
    }
    if (!s_copy) {
        s_copy = value_file_create (s_copy_path);
        if (!s_copy)
            s_fail ("cannot create the copy file", 0);
    }
    return s_copy;
}

//  CRC32C of the record at data [0 .. record_size), as it must be stored
static uint32_t
s_expected_crc (const uint8_t *data, uint64_t record_size)
{
    uint8_t header [VALUE_RECORD_HEADER_SIZE];
    memcpy (header, data, sizeof header);
    memset (header + 12, 0, 4);                 //  the crc32c field
    uint32_t crc = digest_crc32c (0, header, sizeof header);
    return digest_crc32c (crc, data + VALUE_RECORD_HEADER_SIZE,
                          (size_t) (record_size - VALUE_RECORD_HEADER_SIZE));
}

//  Append an intact record to the copy file and check it reads back the same
static void
s_round_trip (const value_record_t *record, const uint8_t *descriptor, const uint8_t *payload,
              const uint8_t *original, uint64_t record_size, uint64_t offset)
{
    value_file_t *copy = s_copy_file ();
    struct iovec piece = { (void *) payload, (size_t) record->payload_size };
    uint64_t copy_offset = 0;
    int rc = value_file_append (copy, record, descriptor, &piece, record->payload_size? 1: 0,
                                &copy_offset);
    if (rc)
        s_fail ("value_file_append of an intact record failed", offset);
    uint8_t *back = (uint8_t *) malloc ((size_t) record_size);
    if (!back)
        s_fail ("out of memory", offset);
    if (pread (value_file_fd (copy), back, (size_t) record_size, (off_t) copy_offset)
        != (ssize_t) record_size)
        s_fail ("cannot read the copy back", offset);
    if (memcmp (back, original, (size_t) record_size) != 0)
        s_fail ("an intact record appended again differs from the original", offset);
    free (back);
}

//  Read the record at offset every way; returns its verdict (0 or
//  STORE_ERR_CORRUPT)
static int
s_check_record (const uint8_t *data, size_t size, uint64_t offset, const value_record_t *record)
{
    uint64_t record_size = value_file_record_size (record->descriptor_size, record->payload_size);
    if (record->descriptor_size > VALUE_RECORD_DESCRIPTOR_MAX)
        s_fail ("a well-formed header with an oversized descriptor", offset);
    if (record_size == UINT64_MAX || record_size > size || offset > size - record_size)
        s_fail ("a well-formed header describes a record past the end of the file", offset);
    const uint8_t *original = data + offset;
    const uint8_t *descriptor_bytes = original + VALUE_RECORD_HEADER_SIZE;
    const uint8_t *payload_bytes = descriptor_bytes + record->descriptor_size;

    //  Sizes are now known to be within the input: allocations are bounded
    uint8_t *descriptor = (uint8_t *) malloc (record->descriptor_size + 1);
    uint8_t *descriptor_too = (uint8_t *) malloc (record->descriptor_size + 1);
    uint8_t *payload = (uint8_t *) malloc ((size_t) record->payload_size + 1);
    if (!descriptor || !descriptor_too || !payload)
        s_fail ("out of memory", offset);

    int full_rc = value_file_read_record (s_fd, offset, record, descriptor, payload);
    int scrub_rc = value_file_read_record (s_fd, offset, record, NULL, NULL);
    //  A small buffer of an odd size, so chunks never line up with anything
    uint8_t buffer [13];
    size_t buffer_size = 1 + (size_t) (offset % sizeof buffer);
    uint8_t md5 [DIGEST_MD5_SIZE];
    int verify_rc = value_file_verify_record (s_fd, offset, record, descriptor_too, buffer,
                                              buffer_size, md5);
    int stream_rc = value_file_verify_record (s_fd, offset, record, NULL, buffer,
                                              sizeof buffer, NULL);
    if ((full_rc && full_rc != STORE_ERR_CORRUPT) || (scrub_rc && scrub_rc != STORE_ERR_CORRUPT)
    ||  (verify_rc && verify_rc != STORE_ERR_CORRUPT) || (stream_rc && stream_rc != STORE_ERR_CORRUPT))
        s_fail ("a read error on a memfd", offset);
    if (full_rc != scrub_rc || full_rc != verify_rc || full_rc != stream_rc)
        s_fail ("read_record and verify_record disagree", offset);

    //  The whole record is in the file, so every byte was read
    if (memcmp (descriptor, descriptor_bytes, record->descriptor_size)
    ||  memcmp (descriptor_too, descriptor_bytes, record->descriptor_size)
    ||  memcmp (payload, payload_bytes, (size_t) record->payload_size))
        s_fail ("bytes read are not the file's", offset);
    uint8_t expected_md5 [DIGEST_MD5_SIZE];
    digest_md5 (payload_bytes, (size_t) record->payload_size, expected_md5);
    if (memcmp (md5, expected_md5, DIGEST_MD5_SIZE))
        s_fail ("the MD5 computed on the way is not the payload's", offset);
    int expected_rc = s_expected_crc (original, record_size) == record->crc32c? 0: STORE_ERR_CORRUPT;
    if (full_rc != expected_rc)
        s_fail ("the CRC32C verdict is wrong", offset);

    if (full_rc == 0)
        s_round_trip (record, descriptor, payload, original, record_size, offset);
    free (descriptor);
    free (descriptor_too);
    free (payload);
    return full_rc;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (s_fd < 0)
        s_setup ();
    if (ftruncate (s_fd, 0) || (size && pwrite (s_fd, data, size, 0) != (ssize_t) size))
        s_fail ("cannot fill the memfd", 0);

    value_record_t record;
    //  Headers past the end, or where offset + size would overflow
    if (value_file_read_header (s_fd, size, size, &record) != STORE_ERR_CORRUPT
    ||  value_file_read_header (s_fd, (uint64_t) size + 1, size, &record) != STORE_ERR_CORRUPT
    ||  value_file_read_header (s_fd, UINT64_MAX - 10, size, &record) != STORE_ERR_CORRUPT)
        s_fail ("a header past the end of the file was accepted", size);

    uint64_t offset = 0;
    while (offset < size) {
        int rc = value_file_read_header (s_fd, offset, size, &record);
        if (rc && rc != STORE_ERR_CORRUPT)
            s_fail ("a read error on a memfd", offset);
        if (rc == STORE_ERR_CORRUPT)
            break;              //  torn or corrupt: the scan ends here
        //  A header must fit in its own file even without the record
        if (size - offset < VALUE_RECORD_HEADER_SIZE)
            s_fail ("a header shorter than 64 bytes was accepted", offset);
        uint64_t next = offset + value_file_record_size (record.descriptor_size,
                                                         record.payload_size);
        int verdict = s_check_record (data, size, offset, &record);
        if (verdict == STORE_ERR_CORRUPT) {
            value_record_t following;
            if (next < size && value_file_read_header (s_fd, next, size, &following) == 0) {
                offset = next;      //  skipped, as --rebuild-index does
                continue;
            }
            break;
        }
        offset = next;
    }
    return 0;
}
