/*  =========================================================================
    node_client - the client's calls that talk to one storage node directly

    `strata stat`, `ping --node`, `compact` and `scrub` do not go through the
    router: they send one node-protocol request (proto/PROTOCOL.md,
    "Service messages") to a node's writer endpoint from a PUSH socket and
    wait for the reply on a PULL socket bound for the purpose, whose
    address travels as the request's client-address. Each call is one
    client_node_request (); results are the client's (client.h).
    =========================================================================
*/
#ifndef STRATA_NODE_CLIENT_H_INCLUDED
#define STRATA_NODE_CLIENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "client.h"
#include "message_type.h"
#include "protocol_limits.h"
#include "reply.h"

//  Send a request of type (MSG_SCRUB, MSG_STATS, ...: the envelope, plus
//  garbage-ratio when garbage_ratio >= 0, for compact) to the node whose
//  writer endpoint is node_endpoint and wait at most timeout_ms for its
//  reply, over CurveZMQ when client_cert_path is not NULL (as
//  client_node_stats_curve). Every call below is this one. On CLIENT_OK
//  *reply (created by the caller) holds the node's success reply, of the
//  type's reply type; on failure error holds one line (the node's result
//  and message when it answered).
client_result_t
    client_node_request (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
                         const char *client_cert_path, const char *cluster_public_path,
                         message_type_t type, double garbage_ratio, reply_t *reply,
                         char *error, size_t error_size);

//  Ask the storage node whose writer endpoint is node_endpoint for its
//  stats (node protocol `stats`): binds a PULL socket for the reply
//  (on reply_endpoint when not NULL, e.g. "tcp://10.0.0.5:*"; else on
//  loopback for a loopback node, on the local address that routes to the
//  node otherwise, or on a temporary ipc path for an ipc node), sends the
//  request from a PUSH socket, and waits at most timeout_ms for the reply.
//  On CLIENT_OK sets *stats_p to a malloc'd copy of the raw MessagePack
//  stats map (free () it) and *stats_size_p to its size. On failure writes
//  one line into error. Results: CLIENT_OK, CLIENT_INVALID_REQUEST (bad
//  endpoint, or the node refused the request), CLIENT_NO_REPLY,
//  CLIENT_PROTOCOL_ERROR, or the node's result mapped to the nearest code.
client_result_t
    client_node_stats (const char *node_endpoint, const char *reply_endpoint,
                       int timeout_ms, uint8_t **stats_p, size_t *stats_size_p,
                       char *error, size_t error_size);

//  Like client_node_stats, over CurveZMQ when client_cert_path is not NULL:
//  the request PUSH and the bound reply PULL are CURVE clients with this
//  client's secret cert and the cluster public key from
//  cluster_public_path. A cert that cannot be used is CLIENT_INVALID_REQUEST.
client_result_t
    client_node_stats_curve (const char *node_endpoint, const char *reply_endpoint,
                             int timeout_ms, const char *client_cert_path,
                             const char *cluster_public_path, uint8_t **stats_p,
                             size_t *stats_size_p, char *error, size_t error_size);

//  What a node's ping-reply says
typedef struct {
    char name [LIMIT_NODE_NAME_MAX + 1];    //  node-name
    char version [32];                      //  its version
    uint64_t uptime_seconds;                //  uptime-seconds
    int64_t round_trip_us;                  //  request to reply
} client_node_ping_t;

//  Ping one node's endpoint directly (node protocol `ping`), like
//  client_node_stats_curve: fills *ping on success. On failure one line in
//  error names the endpoint tried and the reply address used.
client_result_t
    client_node_ping_curve (const char *node_endpoint, const char *reply_endpoint,
                            int timeout_ms, const char *client_cert_path,
                            const char *cluster_public_path, client_node_ping_t *ping,
                            char *error, size_t error_size);
//  Ask a node's writer (node_endpoint) to run one compaction pass now
//  (compact, PROTOCOL.md), with its own garbage_ratio (0..1; < 0: the
//  node's setting), and wait up to timeout_ms for the compact-reply sent
//  when the pass is done. On CLIENT_OK sets *files_p (value files
//  compacted) and *bytes_p (bytes reclaimed). Otherwise as
//  client_node_stats_curve.
client_result_t
    client_node_compact_curve (const char *node_endpoint, const char *reply_endpoint,
                               int timeout_ms, const char *client_cert_path,
                               const char *cluster_public_path, double garbage_ratio,
                               uint64_t *files_p, uint64_t *bytes_p, char *error, size_t error_size);

#endif
