/*  =========================================================================
    dispatcher - the dispatcher actor: owns the writer endpoint

    A czmq actor. It binds the PULL socket of the writer endpoint, receives
    each request frame by frame (enforcing the frame-count and byte limits
    without keeping what exceeds them), decodes and validates the header,
    checks the reply address against the allow-list (requests it may not
    answer are dropped and counted), verifies the payload's size and MD5
    for archive requests — on this thread, so the writer's core is left for
    storing — and hands each request to the writer as a work_t pointer over
    an inproc PAIR socket. That hand-off blocks when the writer's queue is
    full (by count or by bytes), so senders are slowed by ZeroMQ's
    high-water marks rather than the node's memory growing.

    Actor protocol: "READY" or "ERROR" + one line after start. Command
    "STOP": stop taking new requests — take what has already arrived (until
    the socket has been quiet for 100 ms, at most 5 s), hand it over, close
    the socket, and answer "STOPPED".
    =========================================================================
*/
#ifndef STRATA_DISPATCHER_H_INCLUDED
#define STRATA_DISPATCHER_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"
#include "writer_link.h"

typedef struct {
    const node_config_t *config;        //  settings (borrowed)
    node_stats_t *stats;                //  shared counters (borrowed)
    writer_link_t *link;                //  payload bytes queued for the writer (borrowed)
    endpoint_allow_t *allow;            //  reply allow-list (borrowed)
    const char *queue_endpoint;         //  the writer's inproc queue, to connect
} dispatcher_args_t;

//  The actor function, for zactor_new (dispatcher_actor, &args).
void
    dispatcher_actor (zsock_t *pipe, void *args);

#endif
