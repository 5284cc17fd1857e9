/*  =========================================================================
    router_metrics - what the router publishes about itself and its nodes

    The router thread records here (atomics, and a node table under a short
    lock): every answer to a client (operation type, result, duration,
    bytes), operations in flight, handoff writes, which nodes are reachable
    and each node's figures from its last `stats` reply. The HTTP thread
    (router_metrics_serve) and the ping reply read it; neither ever waits
    for the router thread.

        GET /metrics   Prometheus text format, strata_router_*
        GET /healthz   200 while the process runs
        GET /readyz    200 when at least k nodes are reachable (and the
                       router is not stopping); else 503 naming the
                       unreachable nodes
        GET /          the cluster status page: every node, the router's
                       operation rates and latencies; reloads itself
    =========================================================================
*/
#ifndef STRATA_ROUTER_METRICS_H_INCLUDED
#define STRATA_ROUTER_METRICS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cluster_config.h"
#include "protocol_limits.h"
#include "router_reply.h"
#include "router_request.h"

//  One node as the router last saw it. Figures the node did not report
//  are -1.
typedef struct {
    char name [LIMIT_NODE_NAME_MAX + 1];
    bool reachable;                 //  answered within the node timeout
    int64_t last_answer_us;         //  wall clock of its last answer seen here (0: none)
    int64_t stats_us;               //  wall clock of its last stats reply (0: none)
    int64_t free_bytes;             //  sum over its volumes
    int64_t total_bytes;
    int64_t value_bytes;
    int64_t live_bytes;
    int64_t garbage_bytes;
    int64_t handoff_held;           //  handoff copies it holds for others
    int64_t damaged_records;
    int64_t bytes_stored;
} router_node_status_t;

typedef struct _router_metrics_t router_metrics_t;

//  Create for cluster (borrowed, must outlive it). NULL on out-of-memory.
router_metrics_t *
    router_metrics_new (cluster_config_t *cluster);

//  Stop serving (if serving), free; set the caller's pointer to NULL.
//  Accepts NULL.
void
    router_metrics_destroy (router_metrics_t **self_p);

//  Serve HTTP on listen (HOST:PORT). Returns the bound port, or -1 with
//  one line in error.
int
    router_metrics_serve (router_metrics_t *self, const char *listen, char *error, size_t error_size);

//  The router answered a client request of type with result, duration_us
//  after taking it; bytes: object bytes moved (put data received, get data
//  sent).
void
    router_metrics_answered (router_metrics_t *self, router_msg_t type, router_result_t result,
                             int64_t duration_us, uint64_t bytes);

//  Object bytes received for a put or put-data request.
void
    router_metrics_received (router_metrics_t *self, router_msg_t type, uint64_t bytes);

//  Gauges and counters the router thread keeps.
void
    router_metrics_set_in_flight (router_metrics_t *self, uint64_t operations);
void
    router_metrics_handoff_write (router_metrics_t *self);
void
    router_metrics_set_auth_failures (router_metrics_t *self, uint64_t failures);
void
    router_metrics_set_stopping (router_metrics_t *self);

//  Node reachability now (router thread, about once a second).
void
    router_metrics_node_reachable (router_metrics_t *self, size_t node, bool reachable);

//  A node answered something (wall clock now).
void
    router_metrics_node_answered (router_metrics_t *self, size_t node);

//  A node's stats reply (raw MessagePack map, protocol `stats`).
void
    router_metrics_node_stats (router_metrics_t *self, size_t node, const uint8_t *stats, size_t size);

//  Copy node's status into *status.
void
    router_metrics_node (router_metrics_t *self, size_t node, router_node_status_t *status);

//  Once a second (router thread): keep the operation totals for rates.
void
    router_metrics_tick (router_metrics_t *self);

//  Write /metrics text.
void
    router_metrics_write (router_metrics_t *self, FILE *out);

//  Readiness: 0, or -1 with the reason in why.
int
    router_metrics_ready (router_metrics_t *self, char *why, size_t why_size);

//  Write the status page.
void
    router_metrics_write_page (router_metrics_t *self, FILE *out);

#endif
