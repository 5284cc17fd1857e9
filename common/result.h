/*  =========================================================================
    result - the result codes of the wire protocol, with their names

    Every request the node answers ends in one of these; the names are the
    strings that travel in a reply's `result` field (proto/PROTOCOL.md, "Errors").
    =========================================================================
*/
#ifndef STRATA_RESULT_H_INCLUDED
#define STRATA_RESULT_H_INCLUDED

typedef enum {
    RESULT_SUCCESS = 0,
    RESULT_SIZE_MISMATCH,
    RESULT_MD5_MISMATCH,
    RESULT_INVALID_REQUEST,
    RESULT_UNKNOWN_MESSAGE_TYPE,
    RESULT_UNKNOWN_NODE,
    RESULT_UNKNOWN_SEGMENT,
    RESULT_DUPLICATE_SEGMENT,
    RESULT_NOT_FOUND,
    RESULT_OUT_OF_SPACE,
    RESULT_IO_ERROR,
    RESULT_OVERLOADED,
    RESULT_FORBIDDEN,           //  the sender's key may not do this (auth/policy)
    RESULT_CLUSTER_MISMATCH,    //  the sender's cluster fingerprint is not the node's
    RESULT_COUNT                //  Number of codes; not a code
} result_t;

//  Return the wire name of a result code ("success", "size-mismatch", ...).
//  Returns "unknown" for a value outside the enum; never NULL.
const char *
    result_name (result_t result);

//  Look up a result code by its wire name. Returns 0 and sets *result_p on
//  success, -1 if the name is not a result code.
int
    result_from_name (const char *name, result_t *result_p);

#endif
