/*  =========================================================================
    repair - rebuild lost or damaged shares of objects (the router's repair
    actor)

    The router hands each client `repair` request (collection-id, key,
    optionally unified-id and a node name) to this actor, which runs it on
    its own sockets to the nodes, one object at a time, and hands the
    answer back to the router to send. For each visible version of the
    object (listed by at least k owners):

    1. every owner that answered list-versions without that version is
       missing its share; every owner whose share fails verification on
       read (md5-mismatch, any slice) has a damaged one (the verify pass
       reads every slice from every owner that lists the version; it is
       skipped when only one node's share is asked for and that node
       lacks the version: a replaced node);
    2. for those owners (or only the one named), slice by slice: read k
       good shares, decode (ISA-L, zfec layout: erasure.h), re-encode,
       check the object's MD5 over the rebuilt slices, and store the
       owner's share with the version's own unified-id, timestamp,
       segment-num, file-size, file-hash and meta (archive-key-entire, or
       start / next / final with sequence-num = slice), so that the stored
       record payloads are byte-identical to what the put stored.

    A share is only sent to an owner that lacks it or holds it damaged, so
    running repair again finds nothing to do; an owner that answers
    duplicate-segment is being repaired by someone else at that moment
    (counted as skipped, not as a failure). A version listed by fewer than k
    owners, or whose slices cannot be read from k good shares, or whose
    rebuilt MD5 differs, is unrecoverable.

    The reply (repair-reply): versions (checked), rebuilt (shares stored),
    rebuilt-bytes (share bytes stored), unrecoverable (array of unified-ids).
    See cluster/ROUTER.md, `repair`, and docs/node.md, "Replacing a node".
    =========================================================================
*/
#ifndef STRATA_REPAIR_H_INCLUDED
#define STRATA_REPAIR_H_INCLUDED

#include <czmq.h>
#include "cluster_config.h"
#include "curve.h"
#include "erasure.h"
#include "router_config.h"

typedef struct {
    const router_config_t *config;      //  settings (borrowed)
    cluster_config_t *cluster;          //  nodes, k, n (borrowed)
    erasure_t *erasure;                 //  the code (borrowed, read-only)
    curve_t *curve;                     //  CURVE client keys, or NULL (borrowed)
    const char *reply_endpoint;         //  where to bind the actor's own reply PULL
                                        //  (tcp://HOST:* or ipc://PATH)
} repair_args_t;

//  The actor, for zactor_new (repair_actor, &args). Sends "READY" or
//  "ERROR" and one line on its pipe once set up. Then takes jobs on the
//  pipe: "REPAIR", routing id (frame), request-id, collection-id (decimal),
//  key, node name ("" = every owner), unified-id (decimal, "" = every
//  version); and answers each with two frames: the routing id and the
//  encoded repair-reply header, for the router to send to that client.
//  Ends on $TERM.
void
    repair_actor (zsock_t *pipe, void *args);

#endif
