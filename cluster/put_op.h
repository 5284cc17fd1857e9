/*  =========================================================================
    put_op - one object being stored: a `put`, or a streamed upload

    The object's bytes arrive in pieces (put_op_feed); the op cuts them into
    slices (router/slice-size), and for each slice, in order: feeds it to
    the object's MD5, erasure-codes it, and sends each target its share
    (archive-key-entire when the object is one slice, else
    archive-key-start / -next / -final, one sequence per slice, one data
    frame per 32 KiB block). A slice is done when every target has answered
    success (durably stored); at most two slices are in flight. When the
    last slice is done the client that finished the upload gets put-reply.

    Targets (placement.h): share i belongs to node i and is stored as
    segment-num i+1 with source-node-name = node i's name. A reachable owner
    receives its own share; the share of an owner that is not reachable
    when the put starts goes to two handoff holders (the next reachable
    nodes after it) with handoff-node-name = the owner's name. A slice is
    done when every target has answered success. The targets are fixed for
    the whole put.

    Failure (a target answers anything but success, does not answer within
    the node timeout, or is found disconnected when sending): every target
    is sent archive-key-cancel for the segment it holds (same unified-id
    and segment-num), and destroy-key for the version (with the target's
    handoff-node-name) if any entire/final was sent (a finished segment
    cannot be cancelled), and the waiting client is answered io-error (or
    overloaded) naming the node and what it said, or timeout for a node
    lost midway. A streamed upload whose client is not waiting keeps the
    failure for its next put-data or put-finish.
    =========================================================================
*/
#ifndef STRATA_PUT_OP_H_INCLUDED
#define STRATA_PUT_OP_H_INCLUDED

#include "op_env.h"

typedef struct _put_op_t put_op_t;

//  Create a put for request (put or put-start: collection-id, key, meta;
//  copied). env is borrowed. NULL on out-of-memory.
put_op_t *
    put_op_new (op_env_t *env, router_request_t *request);

//  Destroy without telling anyone; set the caller's pointer to NULL.
//  Accepts NULL. (put_op_abort first to cancel on the nodes.)
void
    put_op_destroy (put_op_t **self_p);

//  Begin: place the shares on the nodes reachable now (at least k, and two
//  handoff holders for each absent owner). Assigns the unified-id and
//  timestamp. Returns 0, or -1 with one line (how many nodes are
//  reachable, naming the others) in error; then nothing was sent and the
//  op is done.
int
    put_op_start (put_op_t *self, char *error, size_t error_size);

//  Make the put survive losing a node midway: the op keeps a copy of the
//  object's data, and when a target is lost (not connected, or no answer
//  in time) it cancels what it sent and sends the data again under a new
//  unified-id, the lost node's share going to handoff holders (at most
//  twice). The copy is kept while it stays within max_copy_bytes (a whole
//  `put`: its size; an upload: the router's max-put-bytes); past that it is
//  dropped and a lost node fails the put. Call before the first
//  put_op_feed.
void
    put_op_set_restartable (put_op_t *self, uint64_t max_copy_bytes);

//  Bytes of data the op keeps for a restart (0 when it keeps none).
uint64_t
    put_op_copy_bytes (put_op_t *self);

//  Drop the kept copy (the router needs the memory back): a node lost from
//  now on fails the put. why says so in the failure message.
void
    put_op_drop_copy (put_op_t *self, const char *why);

//  The version's unified-id (after put_op_start; a restart changes it).
uint64_t
    put_op_unified_id (put_op_t *self);

//  Take the next bytes of the object (the frames of *data_p, consumed).
//  client (may be NULL; consumed) is answered once the op has taken the
//  bytes: at once while at most one slice of data is waiting, else when
//  slices go out. A failed op answers it with the failure (and is done).
void
    put_op_feed (put_op_t *self, zmsg_t **data_p, op_client_t **client_p);

//  No more data: client (consumed) gets put-reply once the last slice is
//  durable on every target, or the failure.
void
    put_op_finish (put_op_t *self, op_client_t **client_p);

//  Give up: cancel on every target (if anything was sent) and answer
//  client (may be NULL; consumed) with a success put-abort-reply; any
//  other waiting client gets result and why. The op is done.
void
    put_op_abort (put_op_t *self, op_client_t **client_p, router_result_t result, const char *why);

//  A node's answer, or its timeout.
void
    put_op_on_event (put_op_t *self, node_event_t *event);

//  True when the op has nothing more to do (its client has its answer).
bool
    put_op_done (put_op_t *self);

//  True when the op waits for its client (a streamed upload between
//  put-data messages, or failed with the failure not yet told).
bool
    put_op_waiting_for_client (put_op_t *self);

//  True once the client has finished sending (put, or put-finish) and the
//  op is not done: the last slices are on their way.
bool
    put_op_finishing (put_op_t *self);

//  Number of owners whose share went to handoff holders, once the put has
//  succeeded; 0 before, after a failure, or when every owner was reachable.
size_t
    put_op_handoffs (put_op_t *self);

//  Bytes of object data received so far.
uint64_t
    put_op_size (put_op_t *self);

#endif
