/*  =========================================================================
    router - strata-router's engine, a czmq actor

    Owns the ROUTER socket clients talk to (cluster/ROUTER.md) and the
    node_link to the cluster's nodes, and runs every operation as a state
    machine (put_op, get_op, delete_op, list_op) in one thread: client
    message -> router_request_decode -> admission (max-operations,
    max-buffered-bytes) -> operation -> node requests -> node replies or
    timeouts -> operation -> client reply.

        router_args_t args = { .config = &config, .cluster = cluster };
        zactor_t *router = zactor_new (router_actor, &args);
        //  first message: "READY" + listen endpoint + reply endpoint,
        //  or "ERROR" + one line
        ...
        zstr_send (router, "STOP");     //  graceful: answered "STOPPED"
        zactor_destroy (&router);

    STOP: new requests are answered `unavailable` ("the router is
    stopping"); streamed uploads that are not finishing are aborted
    (cancelled on the nodes, their client told); operations in flight run
    to their end (bounded by the node timeout); then "STOPPED".
    =========================================================================
*/
#ifndef STRATA_ROUTER_H_INCLUDED
#define STRATA_ROUTER_H_INCLUDED

#include <czmq.h>
#include "cluster_config.h"
#include "router_config.h"

typedef struct {
    const router_config_t *config;  //  settings (borrowed; must outlive the actor)
    cluster_config_t *cluster;      //  the cluster (borrowed; must outlive the actor)
} router_args_t;

//  The actor function: zactor_new (router_actor, &args).
void
    router_actor (zsock_t *pipe, void *args);

#endif
