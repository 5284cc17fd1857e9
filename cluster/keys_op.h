/*  =========================================================================
    keys_op - list the keys of a collection, one page at a time

    Sends list-keys (segment-num i+1, the client's prefix, start-after and
    limit) to every reachable node's reader and waits for all of them (or
    the node timeout); k must answer. The pages are merged: every key any
    node lists, once, with the newest state any node gives for it (the
    highest unified-id: a version, or a tombstone with deleted true), in
    bytewise key order. A node whose page was truncated has only listed
    keys up to its last one, so the merged page stops there (at the
    smallest such last key): every key up to the end of the merged page is
    then known from every node that answered, and the client continues
    with start-after = the page's last key. The merged page holds at most
    limit keys and at most S_REPLY_BYTES of entries; truncated says a next
    page may hold more. Memory: one page per node, never the collection.
    =========================================================================
*/
#ifndef STRATA_KEYS_OP_H_INCLUDED
#define STRATA_KEYS_OP_H_INCLUDED

#include "op_env.h"

typedef struct _keys_op_t keys_op_t;

//  Create a listing for request (collection-id, prefix, start-after,
//  limit), answering *client_p (consumed). NULL on out-of-memory.
keys_op_t *
    keys_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    keys_op_destroy (keys_op_t **self_p);

//  Send the requests (or answer unavailable at once).
void
    keys_op_start (keys_op_t *self);

//  A node's answer, or its timeout.
void
    keys_op_on_event (keys_op_t *self, node_event_t *event);

//  True when the client has its answer.
bool
    keys_op_done (keys_op_t *self);

#endif
