/*  =========================================================================
    handoff - the handoff forwarder actor: sends the copies this node holds
    for other nodes back to their owners

    When a node is unreachable, the router stores that node's share on two
    other nodes with handoff-node-name = the absent node (proto/PROTOCOL.md,
    "Archiving (writer endpoint)"). This actor, run by every node started with a cluster file,
    watches those handoff copies (finished segments, tombstones, finished
    or aborted conjoined archives) and, every handoff/interval-ms, for each
    owner with copies pending that answers `ping` (and names itself as that
    owner), replays them oldest first as ordinary protocol messages to the
    owner's endpoints from the cluster file:

    * a segment: `retrieve-key-start` on the owner's reader first (success
      means the owner has it already: nothing is sent); else
      `archive-key-cancel` of that identity (clears what an interrupted
      earlier replay left active; unknown-segment is fine), then
      archive-key-entire, or start/next/final sequence by sequence, with
      every original field and no handoff-node-name, each payload read
      from the value file and verified (record_reader) — a damaged record
      is never sent: that copy's replay stops, is cancelled on the owner,
      logged and counted, and not tried again until the node restarts;
    * a tombstone: `destroy-key` (idempotent);
    * a conjoined archive: `start-conjoined-archive` (duplicate-segment is
      fine), then `finish-` or `abort-conjoined-archive`.

    Each request waits for its durable reply (handoff/timeout-ms) on a PULL
    socket the actor binds on the host of the node's writer endpoint
    (port chosen by the system), which is in every node's reply allow-list.
    Payload bytes are rate-limited to handoff/rate-bytes per second (a
    token bucket holding one second's worth). A failure or timeout ends the
    owner's pass for this round; the next round resumes. The router puts
    each absent node's share on two nodes, so the other holder may be
    replaying the same copy: a refusal that says so (duplicate-segment,
    or our active segment cancelled or taken over) leaves the copy alone
    for a random, doubling delay, after which the check usually finds it
    on the owner. After the owner's
    success, the copy is purged by a `purge-handoff` request to this node's
    own writer endpoint (the writer marks the rows forwarded after a group
    commit; their data becomes garbage). All state is in the index: a
    restart of either side resumes where the index says, and the check
    before each replay keeps a segment from being stored twice.

    It reads the index on a read-only SQLite connection of its own
    (handoff_index) and publishes per-owner figures in the stats map
    (node_stats_set_handoff).

    Actor protocol: after start it sends "READY" or "ERROR" + one line on
    the pipe. $TERM stops it at once (a replay in flight is abandoned and
    resumed after the next start).
    =========================================================================
*/
#ifndef STRATA_HANDOFF_H_INCLUDED
#define STRATA_HANDOFF_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"

typedef struct {
    const node_config_t *config;        //  settings (borrowed)
    cluster_config_t *cluster;          //  the cluster: owners' endpoints (borrowed, required)
    node_stats_t *stats;                //  shared counters (borrowed)
} handoff_args_t;

//  The actor function, for zactor_new (handoff_actor, &args). args must
//  outlive the actor.
void
    handoff_actor (zsock_t *pipe, void *args);

#endif
