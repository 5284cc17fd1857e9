/*  =========================================================================
    op_env - what a router operation may do, and whom it answers

    The operations (put_op, get_op, delete_op, list_op) are state machines:
    they send requests to nodes, take the nodes' answers as node_event_t
    events, and answer their client. They do all of that through an op_env_t,
    which the router fills with its node_link and ROUTER socket, and a unit
    test with fakes, so every operation can be driven by hand.

    op_client_t is one client request waiting for its answer: the client's
    routing id, its request-id and the reply type.
    =========================================================================
*/
#ifndef STRATA_OP_ENV_H_INCLUDED
#define STRATA_OP_ENV_H_INCLUDED

#include <czmq.h>
#include "cluster_config.h"
#include "erasure.h"
#include "node_link.h"
#include "placement.h"
#include "request.h"
#include "router_config.h"
#include "router_reply.h"
#include "router_request.h"

typedef struct _op_env_t op_env_t;
typedef struct _op_client_t op_client_t;

struct _op_env_t {
    void *handle;                       //  the router, or a test's fake
    cluster_config_t *cluster;          //  nodes, k, n (borrowed)
    erasure_t *erasure;                 //  the code (borrowed)
    const router_config_t *config;      //  settings (borrowed)

    //  Send request to the node; its answer (or a timeout) comes back to op
    //  as an event with cookie. The envelope (message-id, client-tag,
    //  client-address) is filled in. Takes *data_p. 0, or -1 if the node
    //  cannot take it now (unreachable).
    int (*send) (op_env_t *env, void *op, size_t node, node_endpoint_t endpoint,
                 request_t *request, zmsg_t **data_p, uint64_t cookie);
    //  Send a request that wants no answer (cancels).
    void (*post) (op_env_t *env, size_t node, node_endpoint_t endpoint, request_t *request);
    //  True if the node is reachable now.
    bool (*reachable) (op_env_t *env, size_t node);
    //  A new unified-id.
    uint64_t (*new_id) (op_env_t *env);
    //  Send a reply message (header + data) to the client routing_id.
    void (*answer) (op_env_t *env, zframe_t *routing_id, zmsg_t **msg_p);
    //  Optional (may be NULL): told of every answer op_client_answer sends,
    //  before it is encoded, with the bytes of its data frames (metrics,
    //  logs). Must not change the reply.
    void (*answered) (op_env_t *env, const op_client_t *client, router_reply_t *reply,
                      uint64_t data_bytes);
};

//  A client request waiting for its answer
struct _op_client_t {
    zframe_t *routing_id;                   //  the client (ROUTER routing id), owned
    char request_id [LIMIT_ID_MAX + 1];     //  echoed
    char reply_type [LIMIT_MESSAGE_TYPE_MAX + 8];   //  e.g. "put-reply"
    router_msg_t type;                      //  the request's type
    char *key;                              //  the request's key (owned), "" if none
    uint64_t size;                          //  object bytes, when the router knows them
    int64_t received_us;                    //  when the request was taken (zclock_usecs)
};

//  Create a client for request, received from routing_id (copied). NULL
//  on out-of-memory.
op_client_t *
    op_client_new (zframe_t *routing_id, router_request_t *request);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    op_client_destroy (op_client_t **self_p);

//  A new success reply of the client's reply type and request-id.
router_reply_t *
    op_client_reply (op_client_t *self);

//  Send *reply_p (and the frames of *data_p, may be NULL) to the client;
//  destroys the reply, the data and the client (all pointers set to NULL).
void
    op_client_answer (op_client_t **self_p, op_env_t *env, router_reply_t **reply_p, zmsg_t **data_p);

//  Answer the client with a failure result and message; destroys the client.
void
    op_client_fail (op_client_t **self_p, op_env_t *env, router_result_t result, const char *message);

//  Number of nodes reachable now.
size_t
    op_env_reachable_count (op_env_t *env);

//  Names of the unreachable nodes, comma separated, into out (cut to fit).
void
    op_env_unreachable_names (op_env_t *env, char *out, size_t size);

//  Place a write's shares on the nodes reachable now (placement.h):
//  targets has room for PLACEMENT_MAX_TARGETS (n) entries; *count_p gets
//  their number. what names the write in the error ("put", "delete").
//  Returns 0, or -1 with one line in error saying how many nodes are
//  reachable, which are down and what the write needs.
int
    op_env_place (op_env_t *env, const char *what, placement_target_t *targets, size_t *count_p,
                  char *error, size_t error_size);

#endif
