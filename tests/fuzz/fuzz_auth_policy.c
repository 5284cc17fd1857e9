/*  =========================================================================
    fuzz_auth_policy - libFuzzer target over the authorization policy parser

    The input is the text of an auth/policy file (ZPL). auth_policy_parse
    reads it with no base directory, so `cert =` entries are refused rather
    than read from wherever the input points.

    Besides "no crash, no leak, no undefined behaviour" (ASan + UBSan), each
    input checks the parser's contract (auth_policy.h): a failure leaves
    one non-empty line; on success, every key of the text that is a listed
    key answers with a role, an admin key has every right on any
    collection, a key of the wrong length has no role and no rights, and
    rights never go beyond the four defined bits.

    Build: CC=clang cmake -DSTRATA_FUZZ=ON; run: tests/fuzz/run.sh.
    =========================================================================
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "auth_policy.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, const char *detail)
{
    fprintf (stderr, "fuzz_auth_policy: %s%s%s\n", what, detail? ": ": "", detail? detail: "");
    abort ();
}

//  Every 40-byte run after "key = " (quoted or not) in the text
static void
s_check_keys (auth_policy_t *policy, const char *text, size_t size)
{
    const char *marker = "key = ";
    size_t marker_size = strlen (marker);
    for (size_t offset = 0; offset + marker_size + AUTH_KEY_SIZE <= size; offset++) {
        if (memcmp (text + offset, marker, marker_size) != 0)
            continue;
        const char *start = text + offset + marker_size;
        if (*start == '"' && (size_t) (start - text) + 1 + AUTH_KEY_SIZE <= size)
            start++;
        char key [AUTH_KEY_SIZE + 1];
        memcpy (key, start, AUTH_KEY_SIZE);
        key [AUTH_KEY_SIZE] = 0;
        auth_role_t role = auth_policy_role (policy, key);
        unsigned rights = auth_policy_rights (policy, key, 7);
        if (rights & ~AUTH_ALL)
            s_fail ("rights outside the four bits", key);
        if (role == AUTH_ROLE_ADMIN && auth_policy_rights (policy, key, 12345) != AUTH_ALL)
            s_fail ("an admin key lacks a right", key);
        if (role == AUTH_ROLE_NONE && rights)
            s_fail ("a key with no role has rights", key);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool initialized = false;
    if (!initialized) {
        zsys_init ();
        zsys_set_logstream (NULL);
        zsys_set_logsender (NULL);
        initialized = true;
    }
    char error [600] = "";
    auth_policy_t *policy = auth_policy_parse ((const char *) data, size, NULL, error, sizeof error);
    if (!policy) {
        if (!*error)
            s_fail ("a refusal without an error", NULL);
        if (strchr (error, '\n'))
            s_fail ("an error of more than one line", error);
        return 0;
    }
    if (*error)
        s_fail ("an error line on success", error);
    s_check_keys (policy, (const char *) data, size);
    if (auth_policy_role (policy, "short") != AUTH_ROLE_NONE
    ||  auth_policy_rights (policy, "short", 7) != 0
    ||  auth_policy_role (policy, NULL) != AUTH_ROLE_NONE)
        s_fail ("a key that cannot be listed has access", NULL);
    auth_policy_destroy (&policy);
    return 0;
}
