/*  =========================================================================
    get_op - read one slice of an object: `get` (slice 0) or `get-next`

    Asks every reachable node's reader for its share of the slice
    (retrieve-key-start for slice 0, retrieve-key-next with sequence-num =
    slice-num otherwise), rebuilds the slice from the first k good shares
    of one version, and answers the client with it. A node that answers
    not-found, md5-mismatch (its stored share failed verification), any
    other failure, an inconsistent reply, or nothing in time is skipped.

    Handoff copies: when the owners alone cannot give k shares of a
    version, the op asks once, before giving up, every other reachable node
    for the copy it may hold of each share it lacks (the same requests with
    handoff-node-name = the share's owner; the target version if known,
    else the copy's visible version). Such a copy counts as its share
    (every share at most once); nodes holding nothing answer not-found,
    which counts for nothing.

    Version resolution (get without unified-id): every node answers with
    its own visible version. The op takes the highest unified-id that k
    shares can give: when fewer than k answer with it, nodes that answered
    with a higher version are asked again for that one explicitly.

    The object's MD5: the op carries an MD5 context over the slices before
    this one (when the client reads in order); it adds this slice, and on
    the last slice sends it only if the whole object's MD5 equals the
    file-hash the nodes stored, else answers data-error.

    Failure: not-found when n-k+1 or more owners say not-found (no version
    can have k shares: a write reaches at least k owners); unavailable
    (timeout, if a node timed out) when more than n-k shares could not be
    asked for or were not answered, on their owner or as handoff copies;
    data-error otherwise (fewer than k good shares, or the MD5 check
    failed).
    =========================================================================
*/
#ifndef STRATA_GET_OP_H_INCLUDED
#define STRATA_GET_OP_H_INCLUDED

#include "op_env.h"
#include "digest.h"

typedef struct _get_op_t get_op_t;

//  Create a read for request (get or get-next; fields copied), answering
//  *client_p (consumed). *md5_p (may be NULL; consumed) is the object's MD5
//  over the slices before this one; NULL means the object's MD5 is not
//  checked. NULL on out-of-memory (nothing consumed then).
get_op_t *
    get_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p,
                digest_md5_t **md5_p);

//  Destroy and set the caller's pointer to NULL. Accepts NULL. A client
//  not yet answered gets no answer.
void
    get_op_destroy (get_op_t **self_p);

//  Send the requests. The op may be done at once (no node reachable).
void
    get_op_start (get_op_t *self);

//  A node's answer, or its timeout. Takes event->data if it keeps it.
void
    get_op_on_event (get_op_t *self, node_event_t *event);

//  True when the client has its answer.
bool
    get_op_done (get_op_t *self);

//  After a successful slice that was not the last and was checked in
//  order: returns the MD5 context to continue with (the caller owns it),
//  and sets the version and the next slice number. NULL otherwise.
digest_md5_t *
    get_op_continuation (get_op_t *self, uint64_t *unified_id_p, uint32_t *next_slice_p);

#endif
