/*  =========================================================================
    placement - where the shares of a write go, given who is reachable

    Owners first; for each absent owner a walk forward from it in cluster
    order, wrapping, taking the first PLACEMENT_HOLDERS reachable nodes. See
    placement.h for the rules.
    =========================================================================
*/
#include <assert.h>
#include "placement.h"

placement_result_t
placement_compute (size_t node_count, size_t data_shards, const bool *reachable,
                   placement_target_t *targets, size_t *count_p,
                   size_t *reachable_count_p, size_t *absent_p)
{
    assert (node_count > 0 && data_shards > 0 && data_shards <= node_count);
    assert (reachable && targets && count_p);
    size_t up = 0;
    for (size_t node = 0; node < node_count; node++)
        if (reachable [node])
            up++;
    if (reachable_count_p)
        *reachable_count_p = up;
    *count_p = 0;
    if (up < data_shards)
        return PLACEMENT_TOO_FEW;

    size_t count = 0;
    for (size_t share = 0; share < node_count; share++) {
        if (reachable [share]) {
            targets [count++] = (placement_target_t) { share, share, false };
            continue;
        }
        size_t holders = 0;
        for (size_t step = 1; step < node_count && holders < PLACEMENT_HOLDERS; step++) {
            size_t node = (share + step) % node_count;
            if (reachable [node]) {
                targets [count++] = (placement_target_t) { node, share, true };
                holders++;
            }
        }
        if (holders < PLACEMENT_HOLDERS) {
            if (absent_p)
                *absent_p = share;
            return PLACEMENT_NO_HOLDERS;
        }
    }
    *count_p = count;
    return PLACEMENT_OK;
}
