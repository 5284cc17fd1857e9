/*  =========================================================================
    placement - where the shares of a write go, given who is reachable

    A pure function, so the rule is testable on its own. Share i belongs to
    node i (segment-num i+1). A reachable owner receives its own share. For
    an owner that is not reachable, its share goes to PLACEMENT_HOLDERS
    other nodes, the handoff holders: the next reachable nodes after the
    owner in cluster order, wrapping around (a holder may also be the owner
    of its own share; it then stores two different segment-nums).

    A write is refused when fewer than k nodes are reachable (it could not
    be read back), or when an absent owner's share cannot get
    PLACEMENT_HOLDERS distinct holders.
    =========================================================================
*/
#ifndef STRATA_PLACEMENT_H_INCLUDED
#define STRATA_PLACEMENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Handoff holders per absent owner
#define PLACEMENT_HOLDERS 2

//  Most targets a placement of node_count shares can have
#define PLACEMENT_MAX_TARGETS(node_count) ((node_count) * PLACEMENT_HOLDERS)

//  One message recipient of a write
typedef struct {
    size_t node;                //  node that receives (and stores) the share
    size_t share;               //  share index: segment-num share+1, owner node share
    bool handoff;               //  true: node keeps the share for its owner
                                //  (handoff-node-name = the owner's name)
} placement_target_t;

typedef enum {
    PLACEMENT_OK = 0,           //  every share has its target(s)
    PLACEMENT_TOO_FEW = -1,     //  fewer than k nodes reachable
    PLACEMENT_NO_HOLDERS = -2   //  an absent owner cannot get enough holders
} placement_result_t;

//  Place the node_count shares of a write with data_shards = k, given
//  reachable [node] for every node. Fills targets (room for
//  PLACEMENT_MAX_TARGETS (node_count) entries) in share order: for each
//  share, its owner, or its holders in the order chosen; sets *count_p.
//  *reachable_count_p (may be NULL) gets the number of reachable nodes.
//  Returns PLACEMENT_OK, or an error code (then *absent_p, if not NULL, is
//  the first owner that could not be placed for PLACEMENT_NO_HOLDERS) and
//  the targets are meaningless.
placement_result_t
    placement_compute (size_t node_count, size_t data_shards, const bool *reachable,
                       placement_target_t *targets, size_t *count_p,
                       size_t *reachable_count_p, size_t *absent_p);

#endif
