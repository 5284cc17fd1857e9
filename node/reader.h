/*  =========================================================================
    reader - the reader actor: owns the reader endpoint, serves retrievals

    A czmq actor with its own SQLite connection (WAL: reads never wait for
    the writer) and its own reply cache. Serves retrieve-key-start,
    retrieve-key-next and ping.

    Actor protocol: "READY" or "ERROR" + one line after start; $TERM stops.
    =========================================================================
*/
#ifndef STRATA_READER_H_INCLUDED
#define STRATA_READER_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"
#include "writer_link.h"

typedef struct {
    const node_config_t *config;        //  settings (borrowed)
    cluster_config_t *cluster;          //  cluster, or NULL (borrowed)
    node_stats_t *stats;                //  shared counters (borrowed)
    writer_link_t *link;                //  the writer's commit generation (borrowed)
    endpoint_allow_t *allow;            //  reply allow-list (borrowed)
} reader_args_t;

//  The actor function, for zactor_new (reader_actor, &args).
void
    reader_actor (zsock_t *pipe, void *args);

#endif
