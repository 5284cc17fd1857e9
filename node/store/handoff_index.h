/*  =========================================================================
    handoff_index - the handoff forwarder's own connection to the index

    Read-only: the forwarder never writes the index (a purge goes through
    the writer, like any state change). Opens <data-dir>/index.db (created
    by the writer, which starts first) on a connection of its own: in WAL
    mode it sees the last committed state and never waits for the writer.
    All of the forwarder's SQL lives here.

    What is a handoff copy (docs/node.md, "Handoff"): a segment row or
    conjoined row with handoff_node_id set (held for that owner) and
    forwarded_us NULL (not yet forwarded). Of those, the ones ready to
    forward ("pending") are finished segments and tombstones (status F, T)
    and finished or aborted conjoined archives (status F, C); active ones
    are held but wait until they finish; cancelled segments are garbage and
    not held at all.

    Every statement is prepared once. unified-ids are uint64 (converted
    with store_index_uid_to_db / store_index_uid_from_db).

    Errors follow the storage layer's one convention (store_error.h): 0 on
    success or a negative code; constructors return NULL and say why.
    Here: STORE_ERR_SQL (or -ENOSPC, -ENOMEM) on an SQLite error, logged
    with its statement; a function that finds something returns 1 for
    "nothing (more)" where it says so.
    =========================================================================
*/
#ifndef STRATA_HANDOFF_INDEX_H_INCLUDED
#define STRATA_HANDOFF_INDEX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "digest.h"
#include "store_error.h"
#include "protocol_limits.h"

typedef struct _handoff_index_t handoff_index_t;

//  What kind of handoff copy an item is
typedef enum {
    HANDOFF_SEGMENT = 1,                //  a finished segment (archive messages)
    HANDOFF_TOMBSTONE,                  //  a tombstone (destroy-key)
    HANDOFF_CONJOINED                   //  a finished or aborted conjoined archive
} handoff_kind_t;

//  One handoff copy ready to forward
typedef struct {
    handoff_kind_t kind;
    int64_t row_id;                     //  segment row (segment, tombstone) or conjoined row
    int64_t created_us;                 //  when the row was made (replay order)
    uint32_t collection_id;
    char key [LIMIT_KEY_MAX + 1];       //  null-terminated UTF-8
    uint64_t unified_id;                //  segment/conjoined version, or the tombstone's own id
    int64_t timestamp_us;
    uint32_t conjoined_part;            //  segments
    uint8_t segment_num;                //  segments and tombstones
    char status;                        //  F or T (segment rows); F or C (conjoined)
    char source [LIMIT_NODE_NAME_MAX + 1];  //  source-node-name ("" if none recorded)
    char user_request_id [LIMIT_ID_MAX + 1];    //  "" if none
    //  Finished segments: the whole-object values of the final message
    uint64_t file_size;
    bool has_file_adler32;
    uint32_t file_adler32;
    uint8_t file_hash [DIGEST_MD5_SIZE];
    uint8_t *meta;                      //  raw MessagePack map or NULL (owned by the item)
    size_t meta_size;
    uint32_t sequence_count;            //  sequence rows of the segment
    uint32_t first_sequence_num;        //  lowest of them
    uint32_t last_sequence_num;         //  highest of them
    //  Tombstones
    bool has_delete_unified_id;
    uint64_t delete_unified_id;
} handoff_item_t;

//  One stored sequence of a handoff segment
typedef struct {
    uint32_t sequence_num;
    uint64_t value_file_id;
    char volume [1024];                 //  "" if the file is not recorded
    uint64_t record_offset;
    uint64_t record_size;
    uint64_t segment_size;
    uint32_t zfec_padding_size;
    uint8_t md5 [DIGEST_MD5_SIZE];
    bool has_adler32;
    uint32_t adler32;
} handoff_sequence_t;

typedef void (handoff_count_fn) (void *arg, const char *owner, uint64_t held, uint64_t pending);

//  Open the index at path (it must exist) read-only. Returns NULL and
//  writes one line into error on failure.
handoff_index_t *
    handoff_index_open (const char *path, char *error, size_t error_size);

//  Finalize statements, close, free; set the caller's pointer to NULL.
//  Accepts NULL.
void
    handoff_index_destroy (handoff_index_t **self_p);

//  Call fn for the owners that have handoff copies held, with the number
//  held and the number pending, in one read transaction: once for their
//  segments and tombstones, once for their conjoined archives (an owner
//  with both is reported twice; add the figures up). Returns 0 or a
//  negative code.
int
    handoff_index_count (handoff_index_t *self, handoff_count_fn *fn, void *arg);

//  The oldest pending handoff copy held for owner whose segment row id is
//  above after_segment_id (segments and tombstones) or whose conjoined row
//  id is above after_conjoined_id (conjoined archives): of the first of
//  each, the one made first. Fills *item (freeing what it held). Returns 0
//  found, 1 none, or a negative code (an SQLite error, -ENOMEM).
int
    handoff_index_next (handoff_index_t *self, const char *owner, int64_t after_segment_id,
                        int64_t after_conjoined_id, handoff_item_t *item);

//  The stored sequence of segment row segment_id with the lowest
//  sequence-num above after (after -1: the first). Returns 0 found, 1
//  none, or a negative code on an SQLite error.
int
    handoff_index_sequence (handoff_index_t *self, int64_t segment_id, int64_t after,
                            handoff_sequence_t *sequence);

//  Free what an item holds (meta) and zero it. Accepts an item never filled
//  (all zero).
void
    handoff_item_reset (handoff_item_t *item);

#endif
