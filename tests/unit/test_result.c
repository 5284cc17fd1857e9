/*  =========================================================================
    test_result - result codes and their wire names (proto/PROTOCOL.md, "Errors")
    =========================================================================
*/

#include <criterion/criterion.h>
#include <string.h>

#include "result.h"

//  The exact strings of proto/PROTOCOL.md, "Errors", in enum order
static const char *s_expected [RESULT_COUNT] = {
    "success", "size-mismatch", "md5-mismatch", "invalid-request",
    "unknown-message-type", "unknown-node", "unknown-segment",
    "duplicate-segment", "not-found", "out-of-space", "io-error", "overloaded",
    "forbidden",
    "cluster-mismatch"
};

Test (result, names_match_protocol)
{
    cr_assert_eq (RESULT_COUNT, 14);
    for (int index = 0; index < RESULT_COUNT; index++)
        cr_assert_str_eq (result_name ((result_t) index), s_expected [index],
                          "code %d", index);
}

Test (result, every_name_round_trips)
{
    for (int index = 0; index < RESULT_COUNT; index++) {
        result_t result = RESULT_COUNT;
        cr_assert_eq (result_from_name (result_name ((result_t) index), &result), 0);
        cr_assert_eq (result, (result_t) index);
    }
}

Test (result, unknown_rejected)
{
    result_t result = RESULT_OVERLOADED;
    cr_assert_eq (result_from_name ("no-such-result", &result), -1);
    cr_assert_eq (result_from_name ("", &result), -1);
    cr_assert_eq (result_from_name ("Success", &result), -1);
    cr_assert_eq (result_from_name ("success ", &result), -1);
    cr_assert_eq (result_from_name ("unknown", &result), -1);
    cr_assert_eq (result_from_name (NULL, &result), -1);
    cr_assert_eq (result, RESULT_OVERLOADED, "untouched on failure");

    cr_assert_str_eq (result_name (RESULT_COUNT), "unknown");
    cr_assert_str_eq (result_name ((result_t) -1), "unknown");
    cr_assert_str_eq (result_name ((result_t) 1000), "unknown");
}
