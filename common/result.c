/*  =========================================================================
    result - the result codes of the wire protocol, with their names

    A table from result_t to the exact strings of proto/PROTOCOL.md, "Errors", and the
    reverse lookup used when a reply is decoded. The table is indexed by the
    enum, so adding a code means adding one line here and one in result.h.
    =========================================================================
*/

#include "result.h"

#include <string.h>

//  Wire names, indexed by result_t (proto/PROTOCOL.md, "Errors")
static const char *s_names [RESULT_COUNT] = {
    [RESULT_SUCCESS]              = "success",
    [RESULT_SIZE_MISMATCH]        = "size-mismatch",
    [RESULT_MD5_MISMATCH]         = "md5-mismatch",
    [RESULT_INVALID_REQUEST]      = "invalid-request",
    [RESULT_UNKNOWN_MESSAGE_TYPE] = "unknown-message-type",
    [RESULT_UNKNOWN_NODE]         = "unknown-node",
    [RESULT_UNKNOWN_SEGMENT]      = "unknown-segment",
    [RESULT_DUPLICATE_SEGMENT]    = "duplicate-segment",
    [RESULT_NOT_FOUND]            = "not-found",
    [RESULT_OUT_OF_SPACE]         = "out-of-space",
    [RESULT_IO_ERROR]             = "io-error",
    [RESULT_OVERLOADED]           = "overloaded",
    [RESULT_FORBIDDEN]            = "forbidden",
    [RESULT_CLUSTER_MISMATCH]     = "cluster-mismatch",
};


//  --------------------------------------------------------------------------
//  Return the wire name of a result code; "unknown" outside the enum.

const char *
result_name (result_t result)
{
    //  Compare as unsigned so a negative value from a bad cast is caught too
    if ((unsigned) result >= (unsigned) RESULT_COUNT || !s_names [result])
        return "unknown";
    return s_names [result];
}


//  --------------------------------------------------------------------------
//  Look up a result code by its wire name. Returns 0 and sets *result_p,
//  or -1 if name is not a result code.

int
result_from_name (const char *name, result_t *result_p)
{
    if (!name)
        return -1;
    for (int index = 0; index < RESULT_COUNT; index++) {
        if (s_names [index] && strcmp (s_names [index], name) == 0) {
            if (result_p)
                *result_p = (result_t) index;
            return 0;
        }
    }
    return -1;
}
