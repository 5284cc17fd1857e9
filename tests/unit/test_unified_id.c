/*  =========================================================================
    test_unified_id - the router's version numbers

    Ids must be (usec << 10) | router id, strictly increasing for every call
    whatever the clock does (same microsecond, clock stepping back), unique
    between routers with different ids, and take apart again.
    =========================================================================
*/
#include <criterion/criterion.h>
#include "unified_id.h"
#include "timestamp.h"

Test (unified_id, layout)
{
    unified_id_t *ids = unified_id_new (5);
    cr_assert_not_null (ids);
    uint64_t id = unified_id_next (ids, 1000000);
    cr_assert_eq (id, (UINT64_C (1000000) << 10) | 5);
    cr_assert_eq (unified_id_usec (id), 1000000);
    cr_assert_eq (unified_id_router (id), 5);
    unified_id_destroy (&ids);
    cr_assert_null (ids);
    unified_id_destroy (&ids);          //  accepts NULL
}

Test (unified_id, strictly_increasing_when_the_clock_stalls_or_steps_back)
{
    unified_id_t *ids = unified_id_new (0);
    uint64_t previous = unified_id_next (ids, 5000000);
    //  Same microsecond, then the clock going back an hour, then forward
    int64_t clock [] = { 5000000, 5000000, 5000000 - 3600000000LL, 4000000, 5000003, 5000003, 9000000 };
    for (size_t index = 0; index < sizeof clock / sizeof clock [0]; index++) {
        uint64_t id = unified_id_next (ids, clock [index]);
        cr_assert_gt (id, previous, "id %zu did not increase", index);
        cr_assert_eq (unified_id_router (id), 0);
        previous = id;
    }
    //  Back in step with the clock once it passes the ids
    cr_assert_eq (unified_id_usec (previous), 9000000);
    unified_id_destroy (&ids);
}

Test (unified_id, many_ids_unique_and_time_ordered)
{
    unified_id_t *ids = unified_id_new (1023);
    uint64_t previous = 0;
    int64_t start = timestamp_now ();
    for (int index = 0; index < 100000; index++) {
        uint64_t id = unified_id_next (ids, timestamp_now ());
        cr_assert_gt (id, previous);
        cr_assert_eq (unified_id_router (id), 1023);
        previous = id;
    }
    //  100000 ids cannot run more than 100000 usec ahead of the clock
    cr_assert_leq (unified_id_usec (previous), timestamp_now () + 100000);
    cr_assert_geq (unified_id_usec (previous), start);
    //  Today's ids leave the top bit free (the node index flips it)
    cr_assert_lt (previous, UINT64_C (1) << 63);
    unified_id_destroy (&ids);
}

Test (unified_id, routers_never_collide)
{
    unified_id_t *first = unified_id_new (1);
    unified_id_t *second = unified_id_new (2);
    for (int64_t usec = 1; usec < 1000; usec++)
        cr_assert_neq (unified_id_next (first, usec), unified_id_next (second, usec));
    unified_id_destroy (&first);
    unified_id_destroy (&second);
}
