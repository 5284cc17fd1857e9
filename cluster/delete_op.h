/*  =========================================================================
    delete_op - delete a key, or one version of it

    Writes a tombstone on every node: destroy-key with a new unified-id (the
    tombstone's own), unified-id-to-delete = the version (or nil: every
    older version), segment-num i+1 and source-node-name = node i's name.
    Succeeds (delete-reply with the tombstone's unified-id) once all n
    nodes have acknowledged durably; needs every node reachable
    (unavailable otherwise). A node's failure or silence answers io-error
    or timeout at once; the tombstones already written stay (deleting again
    is harmless).
    =========================================================================
*/
#ifndef STRATA_DELETE_OP_H_INCLUDED
#define STRATA_DELETE_OP_H_INCLUDED

#include "op_env.h"

typedef struct _delete_op_t delete_op_t;

//  Create a delete for request (collection-id, key, unified-id optional),
//  answering *client_p (consumed). NULL on out-of-memory.
delete_op_t *
    delete_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    delete_op_destroy (delete_op_t **self_p);

//  Send the tombstones (or answer unavailable at once).
void
    delete_op_start (delete_op_t *self);

//  A node's answer, or its timeout.
void
    delete_op_on_event (delete_op_t *self, node_event_t *event);

//  True when the client has its answer.
bool
    delete_op_done (delete_op_t *self);

#endif
