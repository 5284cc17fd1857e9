/*  =========================================================================
    node_http - strata-node's HTTP endpoint: metrics, health, status page

    Started by main when metrics/listen (--metrics HOST:PORT) is set:

        GET /metrics   Prometheus text format, strata_node_* (docs/operations.md)
        GET /healthz   200 "ok" while the process runs
        GET /readyz    200 "ready" when the index is open and the node can
                       take writes; else 503 with the reason (index not
                       open yet, stopping, a volume at or under its
                       reserve-bytes of free space)
        GET /          a small HTML page with the node's figures

    It runs on http_server's thread and reads only what the node's threads
    publish in node_stats (atomics, the handoff table under its lock) plus
    statvfs of the volumes: it never waits for the writer or the reader.
    =========================================================================
*/
#ifndef STRATA_NODE_HTTP_H_INCLUDED
#define STRATA_NODE_HTTP_H_INCLUDED

#include "node_config.h"
#include "node_stats.h"

typedef struct _node_http_t node_http_t;

//  Start serving on config->metrics_listen. config and stats are borrowed
//  and must outlive the endpoint. NULL with one line in error when the
//  address cannot be bound.
node_http_t *
    node_http_new (const node_config_t *config, node_stats_t *stats, char *error, size_t error_size);

//  Stop serving and free; set the caller's pointer to NULL. Accepts NULL.
void
    node_http_destroy (node_http_t **self_p);

//  The bound port.
int
    node_http_port (node_http_t *self);

//  Write the metrics text (Prometheus exposition format) of stats to out.
void
    node_http_write_metrics (const node_config_t *config, node_stats_t *stats, FILE *out);

//  Readiness: 0 when ready, else -1 with the reason in why.
int
    node_http_ready (const node_config_t *config, node_stats_t *stats, char *why, size_t why_size);

#endif
