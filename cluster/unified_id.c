/*  =========================================================================
    unified_id - the router's version numbers

    Keeps the time part of the last id; the next id's time part is the
    larger of the clock and that plus one. See unified_id.h.
    =========================================================================
*/
#include <assert.h>
#include <stdlib.h>
#include "unified_id.h"

struct _unified_id_t {
    int router_id;              //  low bits of every id, 0..1023
    uint64_t last_usec;         //  time part of the last id (0 before the first)
};

unified_id_t *
unified_id_new (int router_id)
{
    assert (router_id >= 0 && router_id <= UNIFIED_ID_ROUTER_MAX);
    unified_id_t *self = (unified_id_t *) calloc (1, sizeof (unified_id_t));
    if (!self)
        return NULL;
    self->router_id = router_id;
    return self;
}

void
unified_id_destroy (unified_id_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

uint64_t
unified_id_next (unified_id_t *self, int64_t now_usec)
{
    assert (self);
    uint64_t usec = now_usec > 0? (uint64_t) now_usec: 0;
    if (usec <= self->last_usec)
        usec = self->last_usec + 1;
    //  The time part must fit in 54 bits; a clock that far out is our bug
    assert (usec < (UINT64_C (1) << (64 - UNIFIED_ID_ROUTER_BITS)));
    self->last_usec = usec;
    return (usec << UNIFIED_ID_ROUTER_BITS) | (uint64_t) self->router_id;
}

int64_t
unified_id_usec (uint64_t unified_id)
{
    return (int64_t) (unified_id >> UNIFIED_ID_ROUTER_BITS);
}

int
unified_id_router (uint64_t unified_id)
{
    return (int) (unified_id & UNIFIED_ID_ROUTER_MAX);
}
