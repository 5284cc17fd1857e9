/*  =========================================================================
    value_file - one append-only value file of self-describing records

    A value file is written only by appending whole records at a position we
    track ourselves (pwritev, no O_APPEND), made durable with fdatasync, and
    read with pread by any number of readers through value_file_read_header
    and value_file_read_record, which trust nothing they read from disk.

    Record layout (also in docs/storage.md, "Value file record format"); all
    integers little-endian, packed byte by byte, never by writing a struct:

        offset  size  field
        0       4     magic            0x31525453 ("STR1" on disk)
        4       2     version          1
        6       2     type             record_type_t, 1..7
        8       4     descriptor_size  <= VALUE_RECORD_DESCRIPTOR_MAX
        12      4     crc32c           see below
        16      8     payload_size
        24      8     unified_id
        32      4     collection_id
        36      4     conjoined_part
        40      4     sequence_num
        44      1     segment_num
        45      3     reserved, zero
        48      16    payload MD5
        64      descriptor_size bytes of descriptor
        64+d    payload_size bytes of payload

    crc32c is CRC32C (Castagnoli) continued over: the 64 header bytes with
    the crc32c field set to zero, then the descriptor, then the payload.

    After a failed append the file is truncated back to its previous size;
    if that fails, or once an fdatasync has failed, the file is broken:
    every later append and sync fails with -EIO (after a failed fdatasync
    the kernel may have dropped the dirty pages, so a later "successful"
    sync would be a lie).
    =========================================================================
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "value_file.h"

//  Header field offsets
#define S_OFF_MAGIC             0
#define S_OFF_VERSION           4
#define S_OFF_TYPE              6
#define S_OFF_DESCRIPTOR_SIZE   8
#define S_OFF_CRC               12
#define S_OFF_PAYLOAD_SIZE      16
#define S_OFF_UNIFIED_ID        24
#define S_OFF_COLLECTION_ID     32
#define S_OFF_CONJOINED_PART    36
#define S_OFF_SEQUENCE_NUM      40
#define S_OFF_SEGMENT_NUM       44
#define S_OFF_RESERVED          45
#define S_OFF_MD5               48

#define S_TYPE_MIN              RECORD_SEQUENCE
#define S_TYPE_MAX              RECORD_ORIGIN

//  Most iovecs handed to one pwritev call (the Linux IOV_MAX); lowered at
//  run time if sysconf says the system allows fewer
#define S_IOV_BATCH             1024

//  Scratch buffer for bytes read only to be checksummed
#define S_SCRATCH_SIZE          (64 * 1024)

struct _value_file_t {
    int fd;                     //  open file descriptor
    bool writable;              //  opened for appending
    bool broken;                //  an append could not be undone, or a sync failed
    uint64_t size;              //  append position: bytes of whole records
    uint64_t writeback_bytes;   //  start writeback every this many bytes; 0 never
    uint64_t written_back;      //  writeback started (or synced) up to here
};


//  --------------------------------------------------------------------------
//  Little-endian packing

static void
s_put_u16 (uint8_t *p, uint16_t v)
{
    p [0] = (uint8_t) v;
    p [1] = (uint8_t) (v >> 8);
}

static void
s_put_u32 (uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p [i] = (uint8_t) (v >> (8 * i));
}

static void
s_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p [i] = (uint8_t) (v >> (8 * i));
}

static uint16_t
s_get_u16 (const uint8_t *p)
{
    return (uint16_t) (p [0] | (p [1] << 8));
}

static uint32_t
s_get_u32 (const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p [i];
    return v;
}

static uint64_t
s_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p [i];
    return v;
}


//  --------------------------------------------------------------------------
//  Encode the header of record into out, with the given crc value

static void
s_encode_header (const value_record_t *record, uint32_t crc,
                 uint8_t out [VALUE_RECORD_HEADER_SIZE])
{
    memset (out, 0, VALUE_RECORD_HEADER_SIZE);
    s_put_u32 (out + S_OFF_MAGIC, VALUE_RECORD_MAGIC);
    s_put_u16 (out + S_OFF_VERSION, VALUE_RECORD_VERSION);
    s_put_u16 (out + S_OFF_TYPE, record->type);
    s_put_u32 (out + S_OFF_DESCRIPTOR_SIZE, record->descriptor_size);
    s_put_u32 (out + S_OFF_CRC, crc);
    s_put_u64 (out + S_OFF_PAYLOAD_SIZE, record->payload_size);
    s_put_u64 (out + S_OFF_UNIFIED_ID, record->unified_id);
    s_put_u32 (out + S_OFF_COLLECTION_ID, record->collection_id);
    s_put_u32 (out + S_OFF_CONJOINED_PART, record->conjoined_part);
    s_put_u32 (out + S_OFF_SEQUENCE_NUM, record->sequence_num);
    out [S_OFF_SEGMENT_NUM] = record->segment_num;
    memcpy (out + S_OFF_MD5, record->payload_md5, DIGEST_MD5_SIZE);
}


//  --------------------------------------------------------------------------
//  Open path with flags and wrap it; NULL with errno set on failure

static value_file_t *
s_wrap (const char *path, int flags, bool writable)
{
    assert (path);
    int fd;
    do
        fd = open (path, flags | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return NULL;

    struct stat st;
    int saved = 0;              //  errno to return, if any
    if (fstat (fd, &st) != 0)
        saved = errno;
    else
    if (!S_ISREG (st.st_mode))
        saved = EINVAL;
    if (saved) {
        close (fd);
        errno = saved;
        return NULL;
    }
    value_file_t *self = (value_file_t *) calloc (1, sizeof (value_file_t));
    if (!self) {
        close (fd);
        errno = ENOMEM;
        return NULL;
    }
    self->fd = fd;
    self->writable = writable;
    self->size = (uint64_t) st.st_size;
    self->written_back = self->size;
    return self;
}


//  --------------------------------------------------------------------------
//  Create a new, empty value file at path for appending

value_file_t *
value_file_create (const char *path)
{
    return s_wrap (path, O_RDWR | O_CREAT | O_EXCL, true);
}


//  --------------------------------------------------------------------------
//  Open an existing value file

value_file_t *
value_file_open (const char *path, bool writable)
{
    return s_wrap (path, writable? O_RDWR: O_RDONLY, writable);
}


//  --------------------------------------------------------------------------
//  Close and free

void
value_file_destroy (value_file_t **self_p)
{
    assert (self_p);
    value_file_t *self = *self_p;
    if (self) {
        close (self->fd);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Most iovecs per pwritev call

static int
s_iov_batch (void)
{
    long max = sysconf (_SC_IOV_MAX);
    if (max <= 0 || max > S_IOV_BATCH)
        return S_IOV_BATCH;
    return (int) max;
}


//  --------------------------------------------------------------------------
//  Write the pieces (count >= 1, each non-empty or not, total bytes)
//  contiguously at position pos, in as few pwritev calls as the system
//  allows, continuing after partial writes and EINTR. Returns 0 or -errno.

static int
s_write_pieces (int fd, uint64_t pos, const struct iovec *head, int head_count,
                const struct iovec *payload, int payload_count)
{
    int batch_max = s_iov_batch ();
    struct iovec batch [S_IOV_BATCH];
    int total = head_count + payload_count;
    int index = 0;              //  next piece to write (head, then payload)
    size_t done = 0;            //  bytes of piece [index] already written

    while (true) {
        //  Skip empty or finished pieces
        while (index < total) {
            const struct iovec *piece = index < head_count?
                &head [index]: &payload [index - head_count];
            if (done < piece->iov_len)
                break;
            index++;
            done = 0;
        }
        if (index == total)
            return 0;

        //  Gather the next batch, starting inside piece [index]
        int count = 0;
        for (int i = index; i < total && count < batch_max; i++) {
            const struct iovec *piece = i < head_count?
                &head [i]: &payload [i - head_count];
            if (piece->iov_len == 0)
                continue;
            batch [count] = *piece;
            if (i == index) {
                batch [count].iov_base = (uint8_t *) piece->iov_base + done;
                batch [count].iov_len -= done;
            }
            count++;
        }
        if ((uint64_t) pos > (uint64_t) INT64_MAX)
            return -EFBIG;
        ssize_t written = pwritev (fd, batch, count, (off_t) pos);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (written == 0)
            return -EIO;        //  no progress and no error: do not spin

        //  Advance over what was written
        pos += (uint64_t) written;
        size_t left = (size_t) written;
        while (left > 0) {
            const struct iovec *piece = index < head_count?
                &head [index]: &payload [index - head_count];
            size_t rest = piece->iov_len - done;
            if (left < rest) {
                done += left;
                left = 0;
            }
            else {
                left -= rest;
                index++;
                done = 0;
            }
        }
    }
}


//  --------------------------------------------------------------------------
//  Start writing back what was appended since the last time, without
//  waiting: the disk works on it while the writer goes on, and the
//  fdatasync of the next group commit has less left to write. Advisory: a
//  failure here changes nothing (the fdatasync reports real errors).

static void
s_start_writeback (value_file_t *self)
{
    if (sync_file_range (self->fd, (off_t) self->written_back,
                         (off_t) (self->size - self->written_back), SYNC_FILE_RANGE_WRITE) == 0)
        self->written_back = self->size;
}

void
value_file_set_writeback (value_file_t *self, uint64_t bytes)
{
    assert (self);
    self->writeback_bytes = bytes;
}


//  --------------------------------------------------------------------------
//  Append one record

int
value_file_append (value_file_t *self, const value_record_t *record,
                   const void *descriptor, const struct iovec *payload,
                   int payload_count, uint64_t *offset_p)
{
    assert (self);
    assert (record);
    assert (payload_count >= 0);
    assert (payload_count == 0 || payload);
    assert (record->descriptor_size == 0 || descriptor);

    if (!self->writable)
        return -EBADF;
    if (self->broken)
        return -EIO;

    //  Refuse, before writing anything, a record that could not be read back
    if (record->type < S_TYPE_MIN || record->type > S_TYPE_MAX
    ||  record->descriptor_size > VALUE_RECORD_DESCRIPTOR_MAX)
        return -EINVAL;
    uint64_t sum = 0;
    for (int i = 0; i < payload_count; i++) {
        if (payload [i].iov_len > 0 && !payload [i].iov_base)
            return -EINVAL;
        if (sum + payload [i].iov_len < sum)
            return -EINVAL;
        sum += payload [i].iov_len;
    }
    if (sum != record->payload_size)
        return -EINVAL;
    uint64_t record_size = value_file_record_size (record->descriptor_size,
                                                   record->payload_size);
    if (record_size == UINT64_MAX
    ||  self->size + record_size < self->size
    ||  self->size + record_size > (uint64_t) INT64_MAX)
        return -EFBIG;

    //  CRC32C over header (crc field zero), descriptor, payload
    uint8_t header [VALUE_RECORD_HEADER_SIZE];
    s_encode_header (record, 0, header);
    uint32_t crc = digest_crc32c (0, header, sizeof (header));
    if (record->descriptor_size > 0)
        crc = digest_crc32c (crc, descriptor, record->descriptor_size);
    for (int i = 0; i < payload_count; i++)
        if (payload [i].iov_len > 0)
            crc = digest_crc32c (crc, payload [i].iov_base, payload [i].iov_len);
    s_put_u32 (header + S_OFF_CRC, crc);

    struct iovec head [2] = {
        { .iov_base = header, .iov_len = sizeof (header) },
        { .iov_base = (void *) descriptor, .iov_len = record->descriptor_size }
    };
    int rc = s_write_pieces (self->fd, self->size, head, 2, payload, payload_count);
    if (rc == 0) {
        if (offset_p)
            *offset_p = self->size;
        self->size += record_size;
        if (self->writeback_bytes && self->size - self->written_back >= self->writeback_bytes)
            s_start_writeback (self);
        return 0;
    }
    //  Undo whatever part of the record reached the file
    int trc;
    do
        trc = ftruncate (self->fd, (off_t) self->size);
    while (trc != 0 && errno == EINTR);
    if (trc != 0)
        self->broken = true;
    return rc;
}


//  --------------------------------------------------------------------------
//  fdatasync the file

int
value_file_sync (value_file_t *self)
{
    assert (self);
    if (self->broken)
        return -EIO;
    int rc;
    do
        rc = fdatasync (self->fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int saved = errno;
        self->broken = true;
        return -saved;
    }
    self->written_back = self->size;
    return 0;
}


//  --------------------------------------------------------------------------
//  Bytes in the file (its append position)

uint64_t
value_file_size (value_file_t *self)
{
    assert (self);
    return self->size;
}


//  --------------------------------------------------------------------------
//  True once an append could not be undone or a sync failed

bool
value_file_broken (value_file_t *self)
{
    assert (self);
    return self->broken;
}


//  --------------------------------------------------------------------------
//  The file descriptor

int
value_file_fd (value_file_t *self)
{
    assert (self);
    return self->fd;
}


//  --------------------------------------------------------------------------
//  Total on-disk size of a record; UINT64_MAX if it does not fit in 64 bits

uint64_t
value_file_record_size (uint32_t descriptor_size, uint64_t payload_size)
{
    uint64_t fixed = (uint64_t) VALUE_RECORD_HEADER_SIZE + descriptor_size;
    if (payload_size > UINT64_MAX - fixed)
        return UINT64_MAX;
    return fixed + payload_size;
}


//  --------------------------------------------------------------------------
//  pread exactly size bytes at offset. Returns 0, STORE_ERR_CORRUPT at end of
//  file before size bytes (the record is torn), or -errno.

static int
s_read_exact (int fd, uint64_t offset, void *buffer, size_t size)
{
    uint8_t *p = (uint8_t *) buffer;
    while (size > 0) {
        if (offset > (uint64_t) INT64_MAX)
            return STORE_ERR_CORRUPT;
        ssize_t got = pread (fd, p, size, (off_t) offset);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return STORE_ERR_CORRUPT;
        p += got;
        size -= (size_t) got;
        offset += (uint64_t) got;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Read and check the header of the record at offset

int
value_file_read_header (int fd, uint64_t offset, uint64_t file_size, value_record_t *record)
{
    assert (record);
    //  The header itself must lie within the file
    if (offset > file_size || file_size - offset < VALUE_RECORD_HEADER_SIZE)
        return STORE_ERR_CORRUPT;

    uint8_t header [VALUE_RECORD_HEADER_SIZE];
    int rc = s_read_exact (fd, offset, header, sizeof (header));
    if (rc != 0)
        return rc;

    if (s_get_u32 (header + S_OFF_MAGIC) != VALUE_RECORD_MAGIC
    ||  s_get_u16 (header + S_OFF_VERSION) != VALUE_RECORD_VERSION)
        return STORE_ERR_CORRUPT;
    uint16_t type = s_get_u16 (header + S_OFF_TYPE);
    if (type < S_TYPE_MIN || type > S_TYPE_MAX)
        return STORE_ERR_CORRUPT;
    uint32_t descriptor_size = s_get_u32 (header + S_OFF_DESCRIPTOR_SIZE);
    if (descriptor_size > VALUE_RECORD_DESCRIPTOR_MAX)
        return STORE_ERR_CORRUPT;
    for (int i = 0; i < 3; i++)
        if (header [S_OFF_RESERVED + i] != 0)
            return STORE_ERR_CORRUPT;

    //  The whole record must lie within the file: offset + 64 + d + p <=
    //  file_size, checked without overflow (offset + 64 <= file_size holds)
    uint64_t payload_size = s_get_u64 (header + S_OFF_PAYLOAD_SIZE);
    uint64_t room = file_size - offset - VALUE_RECORD_HEADER_SIZE;
    if (descriptor_size > room || payload_size > room - descriptor_size)
        return STORE_ERR_CORRUPT;

    memset (record, 0, sizeof (*record));
    record->type = type;
    record->descriptor_size = descriptor_size;
    record->payload_size = payload_size;
    record->crc32c = s_get_u32 (header + S_OFF_CRC);
    record->unified_id = s_get_u64 (header + S_OFF_UNIFIED_ID);
    record->collection_id = s_get_u32 (header + S_OFF_COLLECTION_ID);
    record->conjoined_part = s_get_u32 (header + S_OFF_CONJOINED_PART);
    record->sequence_num = s_get_u32 (header + S_OFF_SEQUENCE_NUM);
    record->segment_num = header [S_OFF_SEGMENT_NUM];
    memcpy (record->payload_md5, header + S_OFF_MD5, DIGEST_MD5_SIZE);
    return 0;
}


//  --------------------------------------------------------------------------
//  Continue crc over size bytes at offset, into buffer if not NULL, else
//  through a scratch buffer. Returns 0, STORE_ERR_CORRUPT at end of file, or -errno.

static int
s_read_crc (int fd, uint64_t offset, uint64_t size, void *buffer, uint32_t *crc)
{
    if (buffer) {
        if (size > SIZE_MAX)
            return -EFBIG;
        int rc = s_read_exact (fd, offset, buffer, (size_t) size);
        if (rc == 0)
            *crc = digest_crc32c (*crc, buffer, (size_t) size);
        return rc;
    }
    uint8_t *scratch = (uint8_t *) malloc (S_SCRATCH_SIZE);
    if (!scratch)
        return -ENOMEM;
    int rc = 0;
    while (size > 0 && rc == 0) {
        size_t chunk = size < S_SCRATCH_SIZE? (size_t) size: S_SCRATCH_SIZE;
        rc = s_read_exact (fd, offset, scratch, chunk);
        if (rc == 0) {
            *crc = digest_crc32c (*crc, scratch, chunk);
            offset += chunk;
            size -= chunk;
        }
    }
    free (scratch);
    return rc;
}


//  The start of checking a record whose header was read at offset: its
//  sizes must be sane (STORE_ERR_CORRUPT if not), and *crc gets the CRC32C
//  of the header as it must be on disk, with the crc field zero
//  (read_header checked the reserved bytes are zero, so this is byte for
//  byte what was read). 0 when the check can go on.
static int
s_check_start (const value_record_t *record, uint64_t offset, uint32_t *crc)
{
    if (record->descriptor_size > VALUE_RECORD_DESCRIPTOR_MAX)
        return STORE_ERR_CORRUPT;
    uint64_t record_size = value_file_record_size (record->descriptor_size,
                                                   record->payload_size);
    if (record_size == UINT64_MAX || offset > UINT64_MAX - record_size)
        return STORE_ERR_CORRUPT;
    uint8_t header [VALUE_RECORD_HEADER_SIZE];
    s_encode_header (record, 0, header);
    *crc = digest_crc32c (0, header, sizeof (header));
    return 0;
}

//  --------------------------------------------------------------------------
//  Read the record at offset and verify its CRC32C. descriptor and payload
//  may each be NULL: those bytes are then read only to be checked.

int
value_file_read_record (int fd, uint64_t offset, const value_record_t *record,
                        void *descriptor, void *payload)
{
    assert (record);
    uint32_t crc;
    if (s_check_start (record, offset, &crc))
        return STORE_ERR_CORRUPT;
    uint64_t position = offset + VALUE_RECORD_HEADER_SIZE;
    int rc = s_read_crc (fd, position, record->descriptor_size, descriptor, &crc);
    if (rc != 0)
        return rc;
    position += record->descriptor_size;
    rc = s_read_crc (fd, position, record->payload_size, payload, &crc);
    if (rc != 0)
        return rc;
    return crc == record->crc32c? 0: STORE_ERR_CORRUPT;
}


//  --------------------------------------------------------------------------
//  Continue crc (and md5 when not NULL) over size bytes at offset, streamed
//  through buffer. Returns 0, STORE_ERR_CORRUPT at end of file, or -errno.

static int
s_stream_crc (int fd, uint64_t offset, uint64_t size, uint8_t *buffer, size_t buffer_size,
              uint32_t *crc, digest_md5_t *md5)
{
    while (size > 0) {
        size_t chunk = size < buffer_size? (size_t) size: buffer_size;
        int rc = s_read_exact (fd, offset, buffer, chunk);
        if (rc != 0)
            return rc;
        *crc = digest_crc32c (*crc, buffer, chunk);
        if (md5)
            digest_md5_update (md5, buffer, chunk);
        offset += chunk;
        size -= chunk;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Verify the record at offset, streaming the payload through the caller's
//  buffer and computing its MD5 if asked

int
value_file_verify_record (int fd, uint64_t offset, const value_record_t *record,
                          void *descriptor, void *buffer, size_t buffer_size,
                          uint8_t *payload_md5)
{
    assert (record);
    assert (buffer);
    assert (buffer_size > 0);
    uint32_t crc;
    if (s_check_start (record, offset, &crc))
        return STORE_ERR_CORRUPT;
    uint64_t position = offset + VALUE_RECORD_HEADER_SIZE;
    int rc = descriptor?
        s_read_crc (fd, position, record->descriptor_size, descriptor, &crc):
        s_stream_crc (fd, position, record->descriptor_size, (uint8_t *) buffer, buffer_size,
                      &crc, NULL);
    if (rc != 0)
        return rc;
    position += record->descriptor_size;

    digest_md5_t *md5 = NULL;
    if (payload_md5) {
        md5 = digest_md5_new ();
        if (!md5)
            return -ENOMEM;
    }
    rc = s_stream_crc (fd, position, record->payload_size, (uint8_t *) buffer, buffer_size,
                       &crc, md5);
    if (md5) {
        digest_md5_final (md5, payload_md5);
        digest_md5_destroy (&md5);
    }
    if (rc != 0)
        return rc;
    return crc == record->crc32c? 0: STORE_ERR_CORRUPT;
}
