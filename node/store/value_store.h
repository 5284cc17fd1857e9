/*  =========================================================================
    value_store - the set of value files across one or more volumes

    The writer appends records through the store; the store picks the file:
    it keeps one current value file open for appending, rolls over to a new
    one when the next record would pass the configured maximum file size
    (a record larger than that gets a file of its own), and opens each new
    file on the volume with the most free space, keeping a configured
    reserve free on every volume. When no volume has room for a record
    (record size + reserve), append fails with -ENOSPC and nothing is
    written.

    Files are named <volume>/values/<file-id as 16 hex digits>.val; file ids
    increase monotonically across all volumes (the store starts after the
    highest id it finds on disk, or first_file_id if higher).

    The store remembers which files were written since the last sync;
    value_store_sync fdatasyncs exactly those. A file whose append or sync
    failed is retired (closed for writing) and the next append starts a new
    file.

    Errors follow the storage layer's one convention (store_error.h): 0 on
    success or a negative code; constructors return NULL and say why.
    Here every code is a negative errno (-ENOSPC: no volume has room);
    failures are logged through zsys.
    =========================================================================
*/
#ifndef STRATA_VALUE_STORE_H_INCLUDED
#define STRATA_VALUE_STORE_H_INCLUDED

#include "value_file.h"

typedef struct _value_store_t value_store_t;

//  What one value_store_append did. The store tells its owner (the
//  writer) what happened through this and value_store_sync's list; it
//  calls nobody back.
typedef struct {
    uint64_t file_id;                   //  the file the record went to (on success)
    uint64_t offset;                    //  the record's offset in it (on success)
    bool opened;                        //  a new value file was opened (also when the
                                        //  append then failed): record it in the index
                                        //  before acknowledging anything in it
    uint64_t opened_id;                 //  if opened: the new file
    uint64_t previous_id;               //  if opened: the current file it replaced (no
                                        //  longer appended to), 0 if none (or retired)
    const char *volume;                 //  if opened: its volume (the store's copy)
} value_store_append_t;

//  A value file value_store_sync synced
typedef struct {
    uint64_t file_id;
    uint64_t synced_size;               //  every byte below it is durable
    bool current;                       //  it is the file being appended to
} value_store_synced_t;

//  Create a store over volume_count volume directories (each created if
//  missing, with a values/ subdirectory). max_file_size: roll over past this
//  many bytes. reserve_bytes: free space kept on every volume. Returns NULL
//  (and logs one line why) if a volume cannot be created or used.
value_store_t *
    value_store_new (const char **volumes, size_t volume_count,
                     uint64_t max_file_size, uint64_t reserve_bytes,
                     uint64_t first_file_id);

//  Sync (best effort), close every file, free, set the caller's pointer to
//  NULL. Accepts NULL.
void
    value_store_destroy (value_store_t **self_p);

//  Start writeback of every this many appended bytes of the file being
//  appended to, and of every later one (see value_file_set_writeback);
//  0 turns it off (the default).
void
    value_store_set_writeback (value_store_t *self, uint64_t bytes);

//  Append one record (see value_file_append) to the current file, rolling
//  over or choosing a volume as needed. Fills *appended (see
//  value_store_append_t) whatever it returns: a new file may have been
//  opened even when the append then failed. Returns 0, -ENOSPC (no volume
//  has room; nothing written, nothing opened), or another -errno (the file
//  is retired; nothing acknowledged should depend on it).
int
    value_store_append (value_store_t *self, const value_record_t *record,
                        const void *descriptor, const struct iovec *payload,
                        int payload_count, value_store_append_t *appended);

//  fdatasync every file appended to since the last sync. Returns 0 when all
//  synced, or -errno of the first failure (every file that failed is
//  retired; the caller must treat every write since the last sync as
//  failed). Returns 0 at once when nothing was written. Whatever it
//  returns, sets *synced_p (when synced_p is not NULL) to the files it
//  synced successfully, with their sizes, so the owner can record how far
//  each is known good, and *synced_count_p to how many: the store's array,
//  valid until the next append or sync.
int
    value_store_sync (value_store_t *self, const value_store_synced_t **synced_p,
                      size_t *synced_count_p);

//  Bytes appended since the last sync (for the group-commit byte budget).
uint64_t
    value_store_unsynced_bytes (value_store_t *self);

//  Number of value files appended to since the last sync (those the next
//  value_store_sync will fdatasync).
size_t
    value_store_unsynced_files (value_store_t *self);

//  Stop appending to the current value file: the next append starts a new
//  one. Records already appended stay on the sync list. The writer does
//  this after a batch or request failed, so records nobody acknowledged are
//  never followed by acknowledged ones in the same file (they stay past the
//  file's recorded synced size, where recovery cuts them off).
void
    value_store_retire (value_store_t *self);

//  Id of the file being appended to, or 0 if none.
uint64_t
    value_store_current_id (value_store_t *self);

//  Take the next file id for a file made outside the store (a compaction's
//  output), so ids stay unique and increasing. 0 when ids are exhausted.
uint64_t
    value_store_take_file_id (value_store_t *self);

//  Number of value files the store has created or found.
uint64_t
    value_store_file_count (value_store_t *self);

//  Free space of a volume in bytes into *free_p; returns 0, or a negative
//  code (a negative errno) if it cannot be found (the volume then counts as
//  full).
typedef int (value_store_free_space_fn) (void *arg, const char *volume, uint64_t *free_p);

//  Replace how the store measures free space (default: statvfs, f_bavail *
//  f_frsize). For tests, which cannot fill a disk or give two directories
//  of one disk different free space; NULL restores the default.
void
    value_store_set_free_space_fn (value_store_t *self, value_store_free_space_fn *fn, void *arg);

//  Build the path of value file file_id on volume into out (room out_size).
//  Returns 0, or -ENAMETOOLONG if it does not fit.
int
    value_store_path (const char *volume, uint64_t file_id, char *out, size_t out_size);

#endif
