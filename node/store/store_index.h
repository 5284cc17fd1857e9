/*  =========================================================================
    store_index - the node's SQLite index, as the writer uses it

    One SQLite database in WAL mode (synchronous=FULL), schema in
    node/store/schema.sql (compiled in). The writer owns one store_index_t and
    drives transactions itself: store_index_begin opens a transaction that
    spans many requests (a group commit), each request runs inside a
    savepoint so a failing request is undone alone, and store_index_commit
    makes the whole batch durable. Statements are prepared once.

    unified-ids are passed as uint64 and stored order-preserving (top bit
    flipped; see schema.sql).

    Errors follow the storage layer's one convention (store_error.h): 0 on
    success or a negative code; constructors return NULL and say why.
    Here: every int function returns 0, or on an SQLite error (logged
    once, with the statement that failed) -ENOSPC when the disk was full
    (store_index_full says so too), -ENOMEM, or STORE_ERR_SQL; a
    compaction the index no longer matches is STORE_ERR_STALE. The SQLite
    plumbing is store_sql.
    =========================================================================
*/
#ifndef STRATA_STORE_INDEX_H_INCLUDED
#define STRATA_STORE_INDEX_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sqlite3.h>
#include "digest.h"
#include "store_error.h"

typedef struct _store_index_t store_index_t;

//  A segment row as inserted (entire/start, or a tombstone)
typedef struct {
    uint32_t collection_id;
    const char *key;                    //  null-terminated UTF-8
    uint64_t unified_id;
    int64_t timestamp_us;
    uint32_t conjoined_part;
    uint8_t segment_num;
    char status;                        //  'A' or 'T'
    int64_t source_node_id;
    int64_t handoff_node_id;            //  0 = none
    bool has_delete_unified_id;         //  tombstones: a specific version
    uint64_t delete_unified_id;
    const char *user_request_id;        //  may be NULL
} index_segment_t;

//  A sequence row
typedef struct {
    int64_t segment_id;
    uint32_t sequence_num;
    uint64_t value_file_id;
    uint64_t record_offset;
    uint64_t record_size;
    uint64_t segment_size;
    uint32_t zfec_padding_size;
    uint8_t md5 [DIGEST_MD5_SIZE];
    bool has_adler32;
    uint32_t adler32;
} index_sequence_t;

//  Whole-segment values from the final message
typedef struct {
    uint64_t file_size;
    bool has_file_adler32;
    uint32_t file_adler32;
    uint8_t file_hash [DIGEST_MD5_SIZE];
    const uint8_t *meta;                //  raw MessagePack map or NULL
    size_t meta_size;
} index_finish_t;

//  What a purge-handoff names (see store_index_purge_handoff)
typedef struct {
    uint32_t collection_id;
    const char *key;                    //  null-terminated UTF-8
    uint64_t unified_id;
    uint32_t conjoined_part;            //  segments and tombstones
    bool has_segment_num;               //  true: a segment or tombstone; false: a conjoined archive
    uint8_t segment_num;
    int64_t handoff_node_id;            //  the owner the copy is held for
    int64_t forwarded_us;               //  when (stored in forwarded_us)
} index_purge_t;

//  An active segment as loaded at start-up
typedef struct {
    int64_t segment_id;
    uint32_t collection_id;
    const char *key;
    uint64_t unified_id;
    int64_t timestamp_us;
    uint32_t conjoined_part;
    uint8_t segment_num;
    int64_t source_node_id;
    int64_t handoff_node_id;            //  0 = none
    int64_t last_sequence_num;          //  -1 if no sequence stored
    uint32_t sequence_count;
} index_active_t;

typedef void (store_index_active_fn) (void *arg, const index_active_t *active);

//  Open (creating if needed) the index at path and apply the schema.
//  Returns NULL and writes one line into error on failure.
store_index_t *
    store_index_open (const char *path, char *error, size_t error_size);

//  Roll back any open transaction, finalize statements, close, free; set
//  the caller's pointer to NULL. Accepts NULL.
void
    store_index_destroy (store_index_t **self_p);

//  The raw connection (for modules that add their own statements).
sqlite3 *
    store_index_db (store_index_t *self);

//  Order-preserving conversions between uint64 unified-ids and the stored
//  signed form.
int64_t
    store_index_uid_to_db (uint64_t unified_id);
uint64_t
    store_index_uid_from_db (int64_t stored);

//  Transaction control. begin is a no-op when a transaction is open.
int
    store_index_begin (store_index_t *self);
bool
    store_index_in_transaction (store_index_t *self);
int
    store_index_commit (store_index_t *self);
int
    store_index_rollback (store_index_t *self);

//  Per-request savepoint: open, release (keep), or undo (roll back to it
//  and release).
int
    store_index_savepoint (store_index_t *self);
int
    store_index_release (store_index_t *self);
int
    store_index_undo (store_index_t *self);

//  The id of a node name into *id_p (> 0), inserting the name if new
//  (cached). Returns 0, or a negative code (*id_p is then -1).
int
    store_index_node_id (store_index_t *self, const char *name, int64_t *id_p);

//  Record a new value file.
int
    store_index_add_value_file (store_index_t *self, uint64_t file_id, const char *volume, int64_t created_us);

//  Record that file_id is durable up to synced_size bytes.
int
    store_index_set_file_synced (store_index_t *self, uint64_t file_id, uint64_t synced_size);

//  Mark one value file closed: it is no longer appended to and every byte
//  up to its synced size is durable, so recovery has nothing to do in it.
int
    store_index_close_value_file (store_index_t *self, uint64_t file_id);

//  Mark every value file closed (at start-up: nothing is being appended).
int
    store_index_close_value_files (store_index_t *self);

//  Highest value file id recorded, 0 if none.
uint64_t
    store_index_max_value_file_id (store_index_t *self);

//  Insert a segment (or tombstone) row; sets *segment_id_p.
int
    store_index_insert_segment (store_index_t *self, const index_segment_t *segment, int64_t *segment_id_p);

//  Insert a sequence row and advance the segment's last_sequence_num and
//  sequence_count.
int
    store_index_insert_sequence (store_index_t *self, const index_sequence_t *sequence);

//  Insert a whole segment of one sequence (archive-key-entire) in two
//  statements: the segment row already finished (status F, the
//  whole-segment values, one sequence) and its sequence row (sequence_num
//  0; its segment_id is set here). Sets *segment_id_p.
int
    store_index_insert_entire (store_index_t *self, const index_segment_t *segment,
                               const index_finish_t *finish, index_sequence_t *sequence,
                               int64_t *segment_id_p);

//  Finish a segment: status F and the whole-segment values.
int
    store_index_finish_segment (store_index_t *self, int64_t segment_id, const index_finish_t *finish);

//  Set a segment's status ('C' to cancel).
int
    store_index_set_status (store_index_t *self, int64_t segment_id, char status);

//  Cancel every segment (any status but T) of unified_id with conjoined
//  part >= 1 for collection_id/key held for the same handoff node (0: the
//  node's own copies) (aborted conjoined archive). Sets
//  *count_p to the number of segments changed.
int
    store_index_cancel_conjoined_parts (store_index_t *self, uint32_t collection_id, const char *key,
                                        uint64_t unified_id, int64_t handoff_node_id, int *count_p);

//  Conjoined archives: insert active; find the active one held for
//  handoff_node_id (0: the node's own) (id or 0); set
//  status ('F' finished, 'C' aborted).
int
    store_index_insert_conjoined (store_index_t *self, uint32_t collection_id, const char *key,
                                  uint64_t unified_id, int64_t timestamp_us, int64_t handoff_node_id);
int
    store_index_find_active_conjoined (store_index_t *self, uint32_t collection_id, const char *key,
                                       uint64_t unified_id, int64_t handoff_node_id, int64_t *conjoined_id_p);
int
    store_index_set_conjoined_status (store_index_t *self, int64_t conjoined_id, char status);

//  Call fn for every active segment.
int
    store_index_load_active (store_index_t *self, store_index_active_fn *fn, void *arg);

//  Count segments by status: counts [0..3] = A, F, C, T.
int
    store_index_count_segments (store_index_t *self, int64_t counts [4]);

//  Count value files.
int
    store_index_count_value_files (store_index_t *self, int64_t *count_p);

typedef void (store_index_file_fn) (void *arg, uint64_t file_id, const char *volume, uint64_t synced_size);
typedef void (store_index_record_fn) (void *arg, int64_t segment_id, uint32_t sequence_num,
                                      uint64_t record_offset, uint64_t record_size);

//  Call fn for every value file not marked closed (open when the node last
//  stopped), in id order, with its volume and the size known durable.
int
    store_index_open_value_files (store_index_t *self, store_index_file_fn *fn, void *arg);

//  Call fn for the last `limit` sequence records of a value file (highest
//  offsets first).
int
    store_index_file_tail (store_index_t *self, uint64_t file_id, int limit,
                           store_index_record_fn *fn, void *arg);

//  Mark handoff copies forwarded (the owner has them): with
//  purge->has_segment_num, every finished segment or tombstone row of
//  (unified_id, conjoined_part, segment_num) and collection_id/key held for
//  handoff_node_id; without, every finished or aborted conjoined archive
//  row of unified_id and collection_id/key held for it. Rows already
//  forwarded, active or cancelled are left alone. Sets *count_p to the
//  number of rows changed (0: nothing such is held).
int
    store_index_purge_handoff (store_index_t *self, const index_purge_t *purge, int *count_p);

//  Record a damaged record (INSERT OR IGNORE). segment_id 0: unknown.
int
    store_index_add_damaged (store_index_t *self, uint64_t file_id, uint64_t record_offset,
                             int64_t segment_id, uint32_t sequence_num, const char *reason);

//  True if the last statement that failed did so because the disk (the
//  index's filesystem) is full (SQLITE_FULL): the truthful answer is then
//  out-of-space, not io-error.
bool
    store_index_full (store_index_t *self);

//  --------------------------------------------------------------------------
//  Garbage accounting (docs/reading.md, "What is garbage")
//
//  A segment row is garbage (segment.garbage = 1) once no read can return
//  it and nothing on this node will forward it: its own copy (no handoff
//  node) when cancelled, or finished and deleted by a tombstone of the same
//  collection-id/key (by the read rules), or finished and superseded by a
//  later finished row of the same unified-id, conjoined-part and
//  segment-num; a handoff copy when cancelled or forwarded (purged). The
//  bytes of its sequence records are then counted in
//  value_file.garbage_bytes; live_bytes = synced_size - garbage_bytes.

#define STORE_INDEX_GARBAGE_RULE \
    "s.status IN ('F', 'C') AND (s.status = 'C'" \
    " OR (s.handoff_node_id IS NOT NULL AND s.forwarded_us IS NOT NULL)" \
    " OR (s.handoff_node_id IS NULL AND EXISTS (SELECT 1 FROM segment AS t" \
    "     WHERE t.collection_id = s.collection_id AND t.key = s.key AND t.status = 'T'" \
    "     AND t.handoff_node_id IS NULL" \
    "     AND (t.delete_unified_id = s.unified_id" \
    "          OR (t.delete_unified_id IS NULL AND t.unified_id > s.unified_id))))" \
    " OR (s.handoff_node_id IS NULL AND EXISTS (SELECT 1 FROM segment AS n" \
    "     WHERE n.collection_id = s.collection_id AND n.key = s.key" \
    "     AND n.unified_id = s.unified_id AND n.conjoined_part = s.conjoined_part" \
    "     AND n.segment_num = s.segment_num AND n.status = 'F'" \
    "     AND n.handoff_node_id IS NULL AND n.id > s.id)))"

//  Recount every row and every file from scratch (the rebuild, an index
//  of an older build); the incremental accounting must agree with it.
#define STORE_INDEX_RECOUNT_SQL \
    "UPDATE segment SET garbage = 0 WHERE garbage <> 0;" \
    "UPDATE segment AS s SET garbage = 1 WHERE " STORE_INDEX_GARBAGE_RULE ";" \
    "UPDATE value_file SET garbage_bytes = IFNULL ((SELECT SUM (q.record_size)" \
    " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id" \
    " WHERE q.value_file_id = value_file.id AND s.garbage = 1), 0);" \
    "UPDATE value_file SET live_bytes = synced_size - garbage_bytes;"

//  After a change to the rows of collection_id/key (a finish, tombstone,
//  cancel, abort or purge), mark those that became garbage and move their
//  sequence bytes from live to garbage in their value files. Inside the
//  caller's transaction. One statement when nothing became garbage.
int
    store_index_account_key (store_index_t *self, uint32_t collection_id, const char *key);

//  Recount the garbage of every row and file (STORE_INDEX_RECOUNT_SQL).
int
    store_index_recount_garbage (store_index_t *self);

//  Sums over value_file on any connection: synced bytes, live, garbage.
int
    store_index_space_totals (sqlite3 *db, uint64_t *value_bytes_p, uint64_t *live_bytes_p,
                              uint64_t *garbage_bytes_p);

//  A tombstone may be dropped (its record left out of a compaction's copy,
//  its row deleted) only when no record of a version it deletes remains on
//  this node: no sequence row, of any copy (handoff copies included), of a
//  segment of its collection-id and key that it deletes by the read rules.
//  A tombstone held for another node goes only once forwarded (the
//  forwarder replays it). t is the tombstone row. Its age
//  (tombstone-grace-seconds) is checked besides.
#define STORE_INDEX_TOMBSTONE_ALONE \
    "(t.handoff_node_id IS NULL OR t.forwarded_us IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM segment AS o JOIN sequence AS q ON q.segment_id = o.id" \
    " WHERE o.collection_id = t.collection_id AND o.key = t.key AND o.status <> 'T'" \
    " AND ((t.delete_unified_id IS NULL AND o.unified_id < t.unified_id)" \
    "      OR o.unified_id = t.delete_unified_id))"

//  A record a compaction copied
typedef struct {
    int64_t segment_id;
    uint32_t sequence_num;
    uint64_t old_offset;                //  where it was in the old file
    uint64_t new_offset;                //  where the copy is in the new one
} index_move_t;

//  One compaction: old_file_id's live records were copied into
//  new_file_id (same volume), which is synced and new_size bytes long
typedef struct {
    uint64_t old_file_id;
    const char *old_volume;
    uint64_t new_file_id;
    const char *volume;                 //  of the new file
    uint64_t new_size;
    uint64_t kept_bytes;                //  bytes of copied records that are not sequences
    const index_move_t *moves;
    size_t move_count;
    const int64_t *dropped;             //  tombstone rows whose records were left out
    size_t dropped_count;
} index_compaction_t;

//  Make the index point at the copies, in the caller's batch transaction
//  (begun here if none is open), under one savepoint: the new file gets its
//  row (closed, synced), every moved sequence row points at its copy, the
//  old file's remaining rows (garbage) and its row are deleted and it is
//  listed in retired_file. Each dropped tombstone row is deleted, with the
//  garbage rows of its key that have no sequence left, if it still may be
//  (STORE_INDEX_TOMBSTONE_ALONE). If a live row of the old file was not
//  copied, or a dropped tombstone may no longer be, nothing is changed and
//  STORE_ERR_STALE is returned (STORE_ERR_NOT_FOUND if old_file_id has no
//  row; another code if a statement failed). Sets *reclaimed_p to the old
//  size minus the new one.
int
    store_index_apply_compaction (store_index_t *self, const index_compaction_t *compaction,
                                  uint64_t *reclaimed_p);

//  Call fn (file id, volume, 0) for every file in retired_file, then empty
//  the table (start-up: the caller removes the files).
int
    store_index_take_retired (store_index_t *self, store_index_file_fn *fn, void *arg);

//  True if value_file has a row for file_id (also when the index cannot
//  say: then the file must be kept).
bool
    store_index_has_value_file (store_index_t *self, uint64_t file_id);

#endif
