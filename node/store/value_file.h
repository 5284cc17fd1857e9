/*  =========================================================================
    value_file - one append-only value file of self-describing records

    A value file is a sequence of records. Each record is:

        header (VALUE_RECORD_HEADER_SIZE bytes, little-endian, see below)
        descriptor (descriptor_size bytes: opaque to this module; the writer
                    stores a MessagePack map describing the state change)
        payload (payload_size bytes: a sequence's data; may be empty)

    The header holds: magic "STR1", format version, record type, the
    descriptor and payload lengths, the segment identity (collection-id,
    unified-id, conjoined-part, segment-num), sequence number, payload MD5,
    and a CRC32C computed over the header (with its crc field zero), the
    descriptor and the payload. So a record can be checked and the index
    rebuilt from value files alone, and a torn tail is detected (length past
    end of file, or CRC mismatch).

    Files are written only by appending (writev, one record per call),
    synced with fdatasync, and read with pread by any number of readers.

    Errors follow the storage layer's one convention (store_error.h): 0 on
    success or a negative code, never -1. Here: append and sync return a
    negative errno; the record checks return STORE_ERR_CORRUPT for "not an
    intact record" and a negative errno when reading failed.
    =========================================================================
*/
#ifndef STRATA_VALUE_FILE_H_INCLUDED
#define STRATA_VALUE_FILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "digest.h"
#include "store_error.h"

#define VALUE_RECORD_MAGIC          0x31525453U     //  "STR1" little-endian
#define VALUE_RECORD_VERSION        1
#define VALUE_RECORD_HEADER_SIZE    64
#define VALUE_RECORD_DESCRIPTOR_MAX (512 * 1024)    //  sanity bound for parsing

//  Record types
typedef enum {
    RECORD_SEQUENCE = 1,        //  a sequence of a segment (payload = data)
    RECORD_FINISH = 2,          //  a segment finished (descriptor has file-size etc.)
    RECORD_CANCEL = 3,          //  a segment cancelled
    RECORD_TOMBSTONE = 4,       //  destroy-key tombstone
    RECORD_CONJOINED = 5,       //  conjoined archive start/abort/finish
    RECORD_PURGE = 6,           //  a handoff copy purged / forwarded
    RECORD_ORIGIN = 7           //  first record of a compaction's output: unified_id
                                //  holds the id of the file whose place it takes in
                                //  the order of replay (docs/storage.md, "Compaction")
} record_type_t;

//  The decoded fixed header of a record
typedef struct {
    uint16_t type;                          //  record_type_t
    uint32_t collection_id;
    uint64_t unified_id;
    uint32_t conjoined_part;
    uint8_t segment_num;
    uint32_t sequence_num;
    uint32_t descriptor_size;               //  bytes of descriptor after the header
    uint64_t payload_size;                  //  bytes of payload after the descriptor
    uint8_t payload_md5 [DIGEST_MD5_SIZE];  //  MD5 of the payload
    uint32_t crc32c;                        //  as stored (filled by read/scan)
} value_record_t;

typedef struct _value_file_t value_file_t;

//  Create a new, empty value file at path for appending (O_CREAT|O_EXCL).
//  Returns NULL (errno set) if it exists or cannot be created.
value_file_t *
    value_file_create (const char *path);

//  Open an existing value file. writable: append at its end (for recovery
//  or continuing); else read-only. Returns NULL (errno set) on failure.
value_file_t *
    value_file_open (const char *path, bool writable);

//  Close and free, set the caller's pointer to NULL. Accepts NULL. Does not
//  sync: call value_file_sync first when the data matters.
void
    value_file_destroy (value_file_t **self_p);

//  Append one record: header built from *record (its crc32c field is
//  ignored and computed here, over header, descriptor and payload),
//  then the descriptor, then the payload given as iovec pieces
//  (payload_count may be 0). record->payload_size must equal the sum of the
//  pieces, and record->payload_md5 is written as given (the caller has
//  verified it). Sets *offset_p to the record's offset. Returns 0 on
//  success or -errno (-ENOSPC, -EIO, ...) on failure. -EINVAL (type not
//  1..7, descriptor_size past VALUE_RECORD_DESCRIPTOR_MAX, or pieces that do
//  not add up to payload_size) and -EBADF (file opened read-only) write
//  nothing and leave the file as it was. After any other failure the
//  file is truncated back to its previous size if possible, and if not it
//  is marked broken (every later append fails with -EIO).
int
    value_file_append (value_file_t *self, const value_record_t *record,
                       const void *descriptor, const struct iovec *payload,
                       int payload_count, uint64_t *offset_p);

//  After each append that leaves at least bytes appended since the last
//  time, start their writeback to disk without waiting (sync_file_range
//  SYNC_FILE_RANGE_WRITE), so that the fdatasync of a group commit finds
//  less to write. 0 (the default) never starts writeback early. Durability
//  does not depend on it: only value_file_sync makes data durable.
void
    value_file_set_writeback (value_file_t *self, uint64_t bytes);

//  fdatasync the file. Returns 0 or -errno. After a failure the file is
//  marked broken: it must not be appended to again (see value_file_append).
int
    value_file_sync (value_file_t *self);

//  Bytes in the file (its append position).
uint64_t
    value_file_size (value_file_t *self);

//  True once an append or sync has failed on this file.
bool
    value_file_broken (value_file_t *self);

//  The file descriptor, for callers that pread directly.
int
    value_file_fd (value_file_t *self);

//  Total on-disk size of a record with these descriptor and payload sizes
//  (UINT64_MAX if that does not fit in 64 bits).
uint64_t
    value_file_record_size (uint32_t descriptor_size, uint64_t payload_size);

//  Read and check the header of the record at offset (pread). Fills
//  *record. Returns 0 if the header is well formed (magic, version, sizes
//  within the file), STORE_ERR_CORRUPT if not (torn or corrupt), -errno on
//  read error.
//  Does not check the CRC (see value_file_read_record).
int
    value_file_read_header (int fd, uint64_t offset, uint64_t file_size, value_record_t *record);

//  Read the record at offset whose header was already read into *record:
//  the descriptor into descriptor (room for record->descriptor_size bytes;
//  may be NULL to skip) and the payload into payload (room for
//  record->payload_size bytes; may be NULL to skip, e.g. for a scrub), and
//  verify the CRC32C over all of it (skipped bytes are still read and
//  checked). Returns 0 if intact, STORE_ERR_CORRUPT on CRC mismatch or if
//  the file ends before the record does, -errno on read error.
int
    value_file_read_record (int fd, uint64_t offset, const value_record_t *record,
                            void *descriptor, void *payload);

//  Verify the record at offset whose header was already read into *record,
//  as value_file_read_record does, without ever holding the payload whole
//  (for --check and --rebuild-index, which meet payloads of any size): the
//  descriptor is read into descriptor (room for record->descriptor_size
//  bytes; may be NULL to skip), the payload is streamed through buffer
//  (buffer_size > 0 bytes of the caller's scratch space), and the CRC32C is
//  verified over all of it. When payload_md5 is not NULL the payload's MD5
//  is computed into it on the way. Returns 0 if intact, STORE_ERR_CORRUPT
//  on CRC mismatch or if the file ends before the record does, -errno on
//  read error (-ENOMEM if no MD5 context could be made).
int
    value_file_verify_record (int fd, uint64_t offset, const value_record_t *record,
                              void *descriptor, void *buffer, size_t buffer_size,
                              uint8_t *payload_md5);

#endif
