/*  =========================================================================
    delete_op - delete a key, or one version of it

    Writes a tombstone for every share: destroy-key with a new unified-id
    (the tombstone's own), unified-id-to-delete = the version (or nil:
    every older version), segment-num i+1 and source-node-name = node i's
    name, sent to node i if it is reachable, else to the two handoff
    holders placement.h chooses, with handoff-node-name = node i's name.
    Needs k reachable nodes (unavailable otherwise, as for a put).
    Succeeds (delete-reply with the tombstone's unified-id) once every
    target has acknowledged durably. A target's failure answers io-error
    (or overloaded), its silence or loss timeout, at once; the tombstones
    already written stay (deleting again is harmless).
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

//  Number of owners whose tombstone went to handoff holders, once the
//  delete has succeeded; 0 otherwise.
size_t
    delete_op_handoffs (delete_op_t *self);

#endif
