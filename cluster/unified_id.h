/*  =========================================================================
    unified_id - the router's version numbers

    A unified-id is a 64-bit version number, time-ordered and unique per
    router: (microseconds since the Unix epoch << 10) | router id, with the
    router id in 0..1023 (cluster file `router/id`). The generator never
    goes backwards: when the clock steps back, or two ids are asked for in
    the same microsecond, the time part is the previous one plus 1. Ids of
    today are about 2^61, so they stay below 2^63 for centuries.
    =========================================================================
*/
#ifndef STRATA_UNIFIED_ID_H_INCLUDED
#define STRATA_UNIFIED_ID_H_INCLUDED

#include <stdint.h>

#define UNIFIED_ID_ROUTER_BITS  10
#define UNIFIED_ID_ROUTER_MAX   1023

typedef struct _unified_id_t unified_id_t;

//  Create a generator for router id router_id (asserts 0..1023). NULL on
//  out-of-memory.
unified_id_t *
    unified_id_new (int router_id);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    unified_id_destroy (unified_id_t **self_p);

//  Next id for the clock reading now_usec (microseconds since the epoch;
//  pass timestamp_now ()). Strictly greater than every id this generator
//  returned before, whatever now_usec is.
uint64_t
    unified_id_next (unified_id_t *self, int64_t now_usec);

//  The time part of an id (microseconds since the epoch).
int64_t
    unified_id_usec (uint64_t unified_id);

//  The router part of an id.
int
    unified_id_router (uint64_t unified_id);

#endif
