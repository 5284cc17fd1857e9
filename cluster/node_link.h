/*  =========================================================================
    node_link - the router's connections to the cluster's nodes

    For every node a PUSH socket to its writer endpoint and one to its
    reader endpoint, and one PULL socket, bound on the router's reply
    endpoint, that every node answers to (the requests carry its address as
    client-address). Requests are never queued for a node that is not
    connected (ZMQ_IMMEDIATE) and sending never blocks: a request that
    cannot be queued at once fails, and the node counts as unreachable.

    Every request sent with node_link_send is pending until its reply
    arrives (node_link_receive gives it back to its owner, matched by
    message-id) or its deadline passes (node_link_expire gives back a
    timeout). Replies that match nothing pending (late, after the owner gave
    up, or forged) are dropped.

    Liveness: every ping-interval the link pings each node's writer
    endpoint; a node is reachable while its last answer (to a ping or to
    anything else) is younger than the node timeout. Underneath, every
    connection carries ZeroMQ heartbeats (common/heartbeat.h): a link that
    stays silent for the heartbeat timeout after a ZMTP PING is closed by
    ZeroMQ, and the node is then lost at once: it counts as unreachable and
    every request pending on it comes back (node_link_expire) with lost set,
    without waiting for its deadline. A node that has not answered for the
    node timeout, once no request waits on it, gets fresh sockets (closed
    and reopened), so no queue of
    stale pings or a connect attempt stuck in TCP backoff survives a long
    partition. Until a node has answered once it is "not yet reached"
    (node_link_ever_reached).
    =========================================================================
*/
#ifndef STRATA_NODE_LINK_H_INCLUDED
#define STRATA_NODE_LINK_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "cluster_config.h"
#include "curve.h"
#include "request.h"
#include "reply.h"

typedef enum {
    NODE_WRITER = 0,            //  the node's writer endpoint
    NODE_READER = 1             //  the node's reader endpoint
} node_endpoint_t;

//  What comes back for a request sent with node_link_send
typedef struct {
    void *owner;                //  as given to node_link_send
    size_t node;                //  node index
    uint64_t cookie;            //  as given to node_link_send
    reply_t *reply;             //  the decoded reply, owned by the link (valid until
                                //  its next call); NULL: no answer in time
    zmsg_t *data;               //  the reply's data frames (caller destroys); NULL if none
    bool lost;                  //  reply NULL because the node's connection was lost
                                //  (heartbeat), not because the deadline passed
} node_event_t;

typedef struct _node_link_t node_link_t;

//  Create the sockets: bind the reply endpoint (a "*" port binds an
//  ephemeral one) and connect to every node of cluster (borrowed, must
//  outlive the link). Replies larger than max_reply_bytes are refused by
//  ZeroMQ. Returns NULL with one line in error if the reply endpoint cannot
//  be bound.
node_link_t *
    node_link_new (cluster_config_t *cluster, const char *reply_endpoint, int node_timeout_ms,
                   int ping_interval_ms, size_t max_reply_bytes, char *error, size_t error_size);

//  Like node_link_new, with CurveZMQ when curve is not NULL (borrowed, must
//  outlive the link; it needs a client certificate): the PUSH sockets to
//  the nodes and the bound reply PULL are CURVE clients (own certificate +
//  the cluster's public key). curve NULL: plaintext, as node_link_new.
//  heartbeat_timeout_ms: a connection silent this long after a heartbeat
//  PING is dropped and its node lost; reconnect_max_ms: the longest wait
//  between reconnection attempts (node_link_new: 3000 and 500).
node_link_t *
    node_link_new_curve (cluster_config_t *cluster, const char *reply_endpoint, int node_timeout_ms,
                         int ping_interval_ms, int heartbeat_timeout_ms, int reconnect_max_ms,
                         size_t max_reply_bytes, curve_t *curve, char *error, size_t error_size);

//  Close every socket (queued requests get a short linger) and free. Set
//  the caller's pointer to NULL. Accepts NULL.
void
    node_link_destroy (node_link_t **self_p);

//  The reply socket, for a poller: when readable, call node_link_receive.
zsock_t *
    node_link_socket (node_link_t *self);

//  The reply endpoint as the nodes see it (ephemeral port resolved).
const char *
    node_link_reply_address (node_link_t *self);

//  Send request (the link fills message-id, client-tag and client-address)
//  with the data frames of *data_p (consumed, set to NULL; may be NULL) to
//  the node's endpoint. The answer comes back as an event for owner and
//  cookie, at the latest when the node timeout passes. Returns 0, or -1 if
//  the node cannot take the request now (not connected: it then counts as
//  unreachable until it answers again).
int
    node_link_send (node_link_t *self, size_t node, node_endpoint_t endpoint, request_t *request,
                    zmsg_t **data_p, void *owner, uint64_t cookie, int64_t now_ms);

//  Send a request that wants no answer (no client-address). 0 or -1.
int
    node_link_post (node_link_t *self, size_t node, node_endpoint_t endpoint, request_t *request);

//  Receive one message from the reply socket. Returns 1 and fills *event
//  if it answers a pending request (the request is no longer pending);
//  0 if it was consumed otherwise (a ping reply, a late or unknown or
//  malformed reply). Call until the socket has nothing more to read.
int
    node_link_receive (node_link_t *self, node_event_t *event, int64_t now_ms);

//  Take the oldest pending request whose deadline has passed, or one
//  pending on a node that was lost: returns 1 with *event filled (reply
//  NULL; lost true for the latter), 0 if there is none.
int
    node_link_expire (node_link_t *self, node_event_t *event, int64_t now_ms);

//  Forget every pending request of owner (their replies will be dropped).
void
    node_link_forget (node_link_t *self, void *owner);

//  Check every node's connection (a node whose heartbeat failed is lost;
//  one silent for the node timeout gets fresh sockets) and send the pings
//  that are due. Call at least every ping interval; the router calls it
//  every turn of its loop (at most 100 ms apart).
void
    node_link_ping (node_link_t *self, int64_t now_ms);

//  Milliseconds until the link next needs node_link_ping or
//  node_link_expire (0 if now).
int64_t
    node_link_wait_ms (node_link_t *self, int64_t now_ms);

//  The node's cluster-mismatch message when it refuses this router's
//  cluster fingerprint (the node is then not reachable), or NULL.
const char *
    node_link_mismatch (node_link_t *self, size_t node);

//  True if the node answered within the node timeout, was not found
//  disconnected since, and both its data sockets are connected.
bool
    node_link_reachable (node_link_t *self, size_t node, int64_t now_ms);

//  True once the node has answered anything since the link was created.
bool
    node_link_ever_reached (node_link_t *self, size_t node);

//  Number of times the node was lost (its connection dropped by the
//  heartbeat while it counted as reachable) or given fresh sockets, since
//  the link was created: for tests and logs.
size_t
    node_link_resets (node_link_t *self, size_t node);

//  Number of nodes.
size_t
    node_link_node_count (node_link_t *self);

//  Number of requests pending (pings included).
size_t
    node_link_pending (node_link_t *self);

#endif
