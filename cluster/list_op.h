/*  =========================================================================
    list_op - list the visible versions of a key

    Sends list-versions (segment-num i+1) to every reachable node's reader
    and waits for all of them (or the node timeout). A version is listed
    when at least k nodes list it (only then can it be read); its
    timestamp, size and file-hash come from the first node that listed it.
    Newest (highest unified-id) first. Needs k reachable nodes
    (unavailable otherwise) and k answers (timeout / unavailable / io-error
    otherwise). A key with no version is an empty list.
    =========================================================================
*/
#ifndef STRATA_LIST_OP_H_INCLUDED
#define STRATA_LIST_OP_H_INCLUDED

#include "op_env.h"

typedef struct _list_op_t list_op_t;

//  Create a listing for request (collection-id, key), answering *client_p
//  (consumed). NULL on out-of-memory.
list_op_t *
    list_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    list_op_destroy (list_op_t **self_p);

//  Send the requests (or answer unavailable at once).
void
    list_op_start (list_op_t *self);

//  A node's answer, or its timeout.
void
    list_op_on_event (list_op_t *self, node_event_t *event);

//  True when the client has its answer.
bool
    list_op_done (list_op_t *self);

//  Read a node's `versions` (raw MessagePack array of maps unified-id,
//  timestamp-repr, file-size, file-hash) and add each version to the
//  tally: versions_p/count_p is a malloc'd array the function grows. At
//  most max entries are read. Returns 0, or -1 if the array is malformed
//  (nothing added then, unless memory ran out midway). Exposed for the
//  unit tests.
typedef struct {
    uint64_t unified_id;            //  the version
    int64_t timestamp;              //  usec since the epoch
    uint64_t size;                  //  file-size
    uint8_t file_hash [16];         //  file-hash
    size_t nodes;                   //  nodes that list it
} list_op_version_t;

int
    list_op_tally (const uint8_t *data, size_t size, size_t max,
                   list_op_version_t **versions_p, size_t *count_p);

#endif
