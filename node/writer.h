/*  =========================================================================
    writer - the writer actor: stores what the dispatcher hands it

    A czmq actor. It binds an inproc PAIR socket (args->queue_endpoint) from
    which it receives work items (work_t pointers) from the dispatcher, and
    runs each through a dispatch table keyed by message type. State changes
    are appended to value files and recorded in the index inside one open
    transaction; their success replies wait for the next group commit
    (fdatasync of every value file written, then the index commit), which
    happens when the queue runs dry, when the oldest pending success has
    waited group-commit-delay-us, or when group-commit-bytes are unsynced.
    Failure replies go out at once.

    Actor protocol: after start it sends "READY" or "ERROR" + one line on
    the pipe. On $TERM it drains the queue, commits, sends what it owes and
    exits.
    =========================================================================
*/
#ifndef STRATA_WRITER_H_INCLUDED
#define STRATA_WRITER_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"
#include "writer_link.h"

typedef struct {
    const node_config_t *config;        //  settings (borrowed)
    cluster_config_t *cluster;          //  cluster, or NULL (borrowed)
    node_stats_t *stats;                //  shared counters (borrowed)
    writer_link_t *link;                //  queued bytes, commit generation (borrowed)
    endpoint_allow_t *allow;            //  reply allow-list (borrowed)
    const char *queue_endpoint;         //  inproc endpoint to bind for work items
    const char *scrub_endpoint;         //  inproc endpoint of the scrub actor: scrub
                                        //  requests are forwarded there (NULL: none)
} writer_args_t;

//  The actor function, for zactor_new (writer_actor, &args). args must
//  outlive the actor.
void
    writer_actor (zsock_t *pipe, void *args);

#endif
