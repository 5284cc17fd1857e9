/*  =========================================================================
    record_reader - read one sequence's record from the value files,
    verified

    Shared by the reader (retrievals) and the handoff forwarder (replays),
    so both apply the same checks: the record header must be well formed
    and name exactly the sequence the index says is there (type, unified-id,
    collection-id, conjoined-part, segment-num, sequence-num, payload size,
    record size, payload MD5), and the CRC32C over the whole record must
    hold. The payload is read straight into the frame that will be sent.

    Keeps value files open (read-only descriptors, a bounded LRU cache). A
    value file is opened on the volume the index names, else looked for on
    every configured volume. Not thread-safe: one per thread.
    =========================================================================
*/
#ifndef STRATA_RECORD_READER_H_INCLUDED
#define STRATA_RECORD_READER_H_INCLUDED

#include <czmq.h>
#include "result.h"
#include "digest.h"

typedef struct _record_reader_t record_reader_t;

//  Where the index says a sequence's record is, and what it holds
typedef struct {
    uint64_t value_file_id;             //  value file
    const char *volume;                 //  its volume from the index; "" if not recorded
    uint64_t record_offset;             //  offset of the record header
    uint64_t record_size;               //  header + descriptor + payload bytes
    uint32_t collection_id;             //  the segment's identity
    uint64_t unified_id;
    uint32_t conjoined_part;
    uint8_t segment_num;
    uint32_t sequence_num;              //  the sequence
    uint64_t segment_size;              //  its payload bytes
    uint8_t md5 [DIGEST_MD5_SIZE];      //  its payload MD5
} record_location_t;

//  Create a reader for volume_count volume directories (copied), keeping
//  at most max_open_files value files open (at least 1). NULL on
//  out-of-memory.
record_reader_t *
    record_reader_new (const char *const *volumes, size_t volume_count, size_t max_open_files);

//  Close every file, free, set the caller's pointer to NULL. Accepts NULL.
void
    record_reader_destroy (record_reader_t **self_p);

//  Read and verify the record where names. On success returns
//  RESULT_SUCCESS and sets *frame_p to a new frame holding the payload
//  (NULL when the payload is empty; the caller owns it). When the record
//  is damaged (malformed header, header that does not match where, CRC32C
//  mismatch, file ends before the record) returns RESULT_MD5_MISMATCH;
//  when the file cannot be opened or read, or memory runs out, returns
//  RESULT_IO_ERROR. On failure *frame_p is NULL and problem (problem_size
//  bytes) says what was wrong, naming the file and offset.
result_t
    record_reader_read (record_reader_t *self, const record_location_t *where,
                        zframe_t **frame_p, char *problem, size_t problem_size);

//  Close the files that were removed (a compaction replaced them), so
//  their space is freed; call now and then (cheap: one fstat per file).
void
    record_reader_close_removed (record_reader_t *self);

//  Number of value files open now.
size_t
    record_reader_open_files (record_reader_t *self);

#endif
