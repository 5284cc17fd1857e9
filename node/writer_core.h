/*  =========================================================================
    writer_core - what the writer does with a request, without its sockets

    The writer actor (writer.c) owns the sockets: its work queue, the reply
    cache, the compactor's and the scrub's pipes. Everything between a work
    item and its reply is here: the handlers of every state change
    (archive-key-entire/start/next/final, archive-key-cancel, destroy-key,
    the conjoined archive messages, web-writer-start, purge-handoff,
    sync-value-file), their savepoint and undo, the cancelling of stale
    active segments, the group commit (fdatasync of every value file
    written, then the index commit) and the batch abort when it fails.

    It answers nothing itself. A request that fails is put on the reply
    list at once with its verdict; one that succeeded waits in the pending
    list until the group commit lands, then goes on the reply list with
    verdict success (or, if the commit fails, with the commit's failure).
    The actor takes the reply list (writer_core_next_reply) after every
    call and sends each reply; a test reads it the same way.

    The core owns the index (store_index), the value files (value_store)
    and the in-memory active segments (active_set). It updates the shared
    node_stats counters as the writer always has.
    =========================================================================
*/
#ifndef STRATA_WRITER_CORE_H_INCLUDED
#define STRATA_WRITER_CORE_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"
#include "store_index.h"
#include "work.h"

typedef struct _writer_core_t writer_core_t;

//  Open the data directory, the index (with start-up recovery and the
//  clean-up of files a compaction left), and the value-file volumes, and
//  load the active segments. config, cluster (NULL: none) and stats are
//  borrowed and must outlive the core. Returns NULL and writes one line
//  into error (error_size bytes) on failure.
writer_core_t *
    writer_core_new (const node_config_t *config, cluster_config_t *cluster, node_stats_t *stats,
                     char *error, size_t error_size);

//  Free every pending request and reply, close the value files and (when
//  no transaction is open: a clean stop) mark every value file closed in
//  the index, close the index; set the caller's pointer to NULL. Accepts
//  NULL.
void
    writer_core_destroy (writer_core_t **self_p);

//  True if the core handles requests of this type (writer_core_process);
//  the actor answers the others (ping, stats, scrub, compact, reader
//  types) itself.
bool
    writer_core_handles (message_type_t type);

//  Take a work item of a type writer_core_handles. Its failure (a verdict
//  other than success already, or one the handler finds) goes on the reply
//  list at once; a success stays pending until the next group commit.
void
    writer_core_process (writer_core_t *self, work_t *work);

//  The next reply due (work->verdict and work->verdict_message say what),
//  in order, or NULL. The caller answers it and destroys the work item.
work_t *
    writer_core_next_reply (writer_core_t *self);

//  True when the group commit is due: asked for (sync-value-file, a
//  compaction), group-commit-bytes unsynced, or the oldest pending request
//  has waited group-commit-delay-us.
bool
    writer_core_commit_due (writer_core_t *self);

//  Milliseconds until the group commit is due (0: now), or idle_ms when
//  nothing is pending.
long
    writer_core_commit_wait (writer_core_t *self, long idle_ms);

//  The group commit: sync every value file written, record their synced
//  sizes, commit the index; every pending request goes on the reply list
//  (success, or the failure if the sync or commit failed: then the batch
//  is rolled back and the in-memory view reloaded from the index).
//  Returns 1 when a commit landed (the caller moves the commit generation
//  before it sends the replies), 0 when there was nothing to commit, -1
//  when it failed.
int
    writer_core_commit (writer_core_t *self);

//  Cancel (a cancel record, as if its sender had sent archive-key-cancel)
//  every active segment with no start or sequence for
//  node/active-timeout-seconds. Their cancels are pending like requests.
void
    writer_core_cancel_stale (writer_core_t *self);

//  Refresh value-bytes, live-bytes and garbage-bytes in the stats.
void
    writer_core_space_stats (writer_core_t *self);

//  The next value file id, for a file made outside the value store (a
//  compaction's output).
uint64_t
    writer_core_take_file_id (writer_core_t *self);

//  Put a compaction's index update in the open batch; it is durable with
//  the next group commit, which is made due now. Returns 0, or -1 if it
//  cannot be applied (nothing changed; another is still pending).
int
    writer_core_apply_compaction (writer_core_t *self, const index_compaction_t *compaction);

//  What became of the compaction applied last, once known: 1 when its
//  commit landed (*reclaimed_p: the bytes it reclaims), -1 when its batch
//  failed, 0 while nothing new is known. Reported once.
int
    writer_core_compaction_outcome (writer_core_t *self, uint64_t *reclaimed_p);

#endif
