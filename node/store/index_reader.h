/*  =========================================================================
    index_reader - the reader's own connection to the node's SQLite index

    The reader thread looks segments and sequences up through this module;
    all of its SQL lives here. It opens <data-dir>/index.db (created by the
    writer, which starts first) on a connection of its own: in WAL mode a
    reader sees the last committed state and never waits for the writer's
    open transaction or its syncs.

    Visibility (docs/reading.md, "Which version a read returns"): for a
    (collection-id, key, conjoined-part, segment-num) and a copy (the node's
    own, or the handoff copy held for one node), the visible version is the
    highest unified-id among Finished segment rows of that copy that no
    tombstone of the same collection/key and copy deletes. A tombstone
    deletes version U when its delete_unified_id is U, or when it has none
    and U is below the tombstone's own unified-id; it applies whatever its
    segment-num and whenever it arrived. Several finished rows with one
    unified-id (a resend): the newest row wins.
    A handoff copy forwarded to its owner (forwarded_us set; see
    node/handoff.h) is no longer visible, not even to handoff reads.

    The module also records damaged records (the only thing the reader
    writes): a short autocommit INSERT that waits at most the busy timeout
    for the writer's transaction to end.

    Every statement is prepared once. unified-ids are passed as uint64 and
    converted with store_index_uid_to_db / store_index_uid_from_db.

    Errors follow the storage layer's one convention (store_error.h): 0 on
    success or a negative code; constructors return NULL and say why.
    Here: "an SQLite error" below is a negative code from store_sql
    (STORE_ERR_SQL, STORE_ERR_BUSY, -ENOSPC, -ENOMEM), logged with its
    statement (a busy write is not logged: the caller retries); a lookup
    returns 1 for "not found" (found->why says why).
    =========================================================================
*/
#ifndef STRATA_INDEX_READER_H_INCLUDED
#define STRATA_INDEX_READER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "digest.h"
#include "store_error.h"

typedef struct _index_reader_t index_reader_t;

//  What a retrieval asks for
typedef struct {
    uint32_t collection_id;
    const char *key;                    //  null-terminated UTF-8
    uint32_t conjoined_part;
    uint8_t segment_num;
    const char *handoff_node_name;      //  NULL or "": the node's own copy
    bool has_unified_id;                //  false: the visible version
    uint64_t unified_id;
    bool first;                         //  true: the lowest sequence (start)
    uint32_t sequence_num;              //  else: this stored sequence-num (next)
} index_query_t;

//  One sequence of one segment, as a lookup found it
typedef struct {
    //  The segment
    int64_t segment_id;                 //  segment row id
    uint64_t unified_id;                //  the version found
    int64_t timestamp_us;
    uint64_t file_size;                 //  whole-object values from the final message
    bool has_file_adler32;
    uint32_t file_adler32;
    bool has_file_hash;
    uint8_t file_hash [DIGEST_MD5_SIZE];
    const uint8_t *meta;                //  raw MessagePack map or NULL; owned by the
    size_t meta_size;                   //  index_reader, valid until its next lookup
    uint32_t sequence_count;            //  sequences stored for the segment
    uint32_t last_sequence_num;         //  highest of them
    //  This sequence
    uint32_t sequence_num;
    uint64_t value_file_id;
    uint64_t record_offset;             //  of the record header
    uint64_t record_size;               //  header + descriptor + payload
    uint64_t segment_size;              //  payload bytes
    uint32_t zfec_padding_size;
    uint8_t md5 [DIGEST_MD5_SIZE];      //  payload MD5
    bool has_adler32;
    uint32_t adler32;
    char volume [1024];                 //  the value file's volume, "" if not recorded
    //  Why nothing was found (lookup returned 1)
    char why [160];
} index_found_t;

//  Open the index at path (it must exist) for reading and for recording
//  damage; busy_timeout_ms bounds how long a damage INSERT waits for the
//  writer. Returns NULL and writes one line into error on failure.
index_reader_t *
    index_reader_open (const char *path, int busy_timeout_ms, char *error, size_t error_size);

//  Finalize statements, close, free; set the caller's pointer to NULL.
//  Accepts NULL.
void
    index_reader_destroy (index_reader_t **self_p);

//  Snapshots. A lookup or a listing reads one consistent snapshot (a read
//  transaction). To spare a BEGIN/COMMIT pair (file locks, WAL index
//  reads: a fifth of a small retrieval's cost) per request, the snapshot
//  is kept for the next lookups as long as the generation the caller
//  passes is unchanged; a new generation starts a new snapshot first.
//  The caller passes a counter the writer increments after each commit
//  and before that commit's replies, so a retrieval sent after a success
//  reply always sees what the reply acknowledged. index_reader_release
//  ends a kept snapshot: call it whenever the caller is about to wait, so
//  an idle reader never pins the WAL (checkpoints cannot pass a snapshot).
//  Until the first call of index_reader_set_generation nothing is kept:
//  every lookup has a snapshot of its own.
void
    index_reader_set_generation (index_reader_t *self, uint64_t generation);

//  End the kept snapshot, if any.
void
    index_reader_release (index_reader_t *self);

//  Find the segment and the sequence query asks for, in one read
//  transaction (one consistent snapshot, kept as above). Returns 0 and fills *found when
//  found; 1 when there is nothing visible to return (found->why says what
//  was missing, naming the field: unknown handoff node, no visible or no
//  such version, no such sequence); a negative code on an SQLite error (logged).
int
    index_reader_lookup (index_reader_t *self, const index_query_t *query, index_found_t *found);

typedef void (index_version_fn) (void *arg, uint64_t unified_id, int64_t timestamp_us,
                                  uint64_t file_size, const uint8_t file_hash [DIGEST_MD5_SIZE]);

//  Call fn for each visible version (finished, not deleted) of the segment
//  query names (collection-id, key, conjoined-part, segment-num, handoff
//  copy), newest first, at most limit of them, in one read transaction
//  (unified_id/first/sequence_num of query are ignored). An unknown handoff
//  node name lists nothing. Returns 0, or a negative code on an SQLite error.
int
    index_reader_list_versions (index_reader_t *self, const index_query_t *query, int limit,
                                index_version_fn *fn, void *arg);

//  One key of a listing: its newest state in the copy listed. deleted
//  false: the visible version (unified-id, timestamp, file-size); deleted
//  true: the newest tombstone (its own unified-id and timestamp, size 0).
//  Return 0 to go on, 1 to stop (the reply is full).
typedef int (index_key_fn) (void *arg, const char *key, size_t key_size, uint64_t unified_id,
                            int64_t timestamp_us, uint64_t file_size, bool deleted);

//  What a key listing asks for
typedef struct {
    uint32_t collection_id;
    uint8_t segment_num;                //  the share listed (conjoined-part 0)
    const char *handoff_node_name;      //  NULL or "": the node's own copies
    const char *prefix;                 //  bytes (any, not null-terminated), prefix_size of them
    size_t prefix_size;
    const char *start_after;            //  list keys strictly after these bytes
    size_t start_after_size;            //  0: from the first key
    int limit;                          //  most keys given to fn
} index_key_query_t;

//  Call fn for each key of the collection, in bytewise order, that has
//  the prefix, comes after start-after, and has a finished version of
//  segment-num (conjoined-part 0) or a tombstone in the copy asked for;
//  at most limit of them, in one read transaction. Keys with nothing but
//  active or cancelled segments are skipped. Walks the index in key order,
//  holding one key at a time. *truncated_p is set when the listing
//  stopped early (limit reached and another key with the prefix follows,
//  or fn asked to stop). An unknown handoff node lists nothing. Returns 0,
//  or a negative code on an SQLite error.
int
    index_reader_list_keys (index_reader_t *self, const index_key_query_t *query,
                            index_key_fn *fn, void *arg, bool *truncated_p);

//  Fill ids (room for max) with the collection-ids that have any segment
//  row, in increasing order, after start_after (or from the first when
//  has_start_after is false). Returns the number filled, or a negative code on error.
//  Walks segment_by_key one collection at a time.
int
    index_reader_list_collections (index_reader_t *self, bool has_start_after, uint32_t start_after,
                                   uint32_t *ids, int max);

//  One sequence record for the scrub
typedef struct {
    int64_t segment_id;
    uint32_t collection_id;
    uint64_t unified_id;
    uint32_t conjoined_part;
    uint8_t segment_num;
    uint32_t sequence_num;
    uint64_t value_file_id;
    uint64_t record_offset;
    uint64_t record_size;
    uint64_t segment_size;
    uint8_t md5 [DIGEST_MD5_SIZE];
    char volume [1024];
} index_record_t;

//  The scrub's checkpoint (table scrub_state)
typedef struct {
    bool in_pass;                       //  a pass is under way
    int64_t value_file_id;              //  last record checked (-1, -1: none yet)
    int64_t record_offset;
    uint64_t pass_bytes;                //  bytes checked in the pass so far
    uint64_t passes;                    //  passes completed
    int64_t last_pass_end_us;           //  0: never
    int64_t next_pass_us;               //  next background pass; 0: not set yet
} index_scrub_state_t;

//  Fill records (room for max) with the finished, not forwarded sequence
//  records that come after (value_file_id, record_offset) in file then
//  offset order, in a read transaction of its own (not kept). Returns the
//  number filled (0: the end of the pass), or a negative code on an SQLite error.
int
    index_reader_scrub_batch (index_reader_t *self, int64_t value_file_id, int64_t record_offset,
                              index_record_t *records, int max);

//  Does the index (now, a fresh snapshot) still say the sequence record
//  of segment_id is at (file_id, record_offset)? 1 yes, 0 no, or a negative code.
int
    index_reader_record_current (index_reader_t *self, uint64_t file_id, uint64_t record_offset,
                                 int64_t segment_id);

//  Read the scrub checkpoint into *state (all zero / -1 when none is
//  stored). Returns 0, or a negative code on an SQLite error.
int
    index_reader_scrub_load (index_reader_t *self, index_scrub_state_t *state);

//  Store the scrub checkpoint (autocommit, waits at most the busy timeout
//  for the writer). Returns 0, or STORE_ERR_BUSY when busy, another negative code
//  when failed (retry later).
int
    index_reader_scrub_save (index_reader_t *self, const index_scrub_state_t *state);

//  Volume of value file file_id into volume (volume_size bytes). Returns 0,
//  1 if the file is not recorded, a negative code on error.
int
    index_reader_file_volume (index_reader_t *self, uint64_t file_id, char *volume, size_t volume_size);

//  Is the record at (file_id, record_offset) recorded as damaged? Returns
//  1 yes, 0 no, a negative code on error.
int
    index_reader_damage_known (index_reader_t *self, uint64_t file_id, uint64_t record_offset);

//  Record a damaged record (INSERT OR IGNORE into damaged, autocommit).
//  segment_id < 0 or sequence_num < 0 store NULL. Returns 0 when recorded
//  (or already there), STORE_ERR_BUSY if the index was busy past the busy
//  timeout, another negative code if the INSERT failed (the caller may
//  retry later).
int
    index_reader_record_damage (index_reader_t *self, uint64_t file_id, uint64_t record_offset,
                                int64_t segment_id, int64_t sequence_num, int64_t detected_us,
                                const char *reason);

#endif
