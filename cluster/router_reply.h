/*  =========================================================================
    router_reply - one reply of the router to a client (ROUTER.md)

    Frame 0 of a reply is a MessagePack map: the envelope (message-type,
    request-id, result, error-message) and then whatever fields the reply
    type carries, added one by one in order. The data frames, if any, follow.

        router_reply_t *reply = router_reply_new ("put-reply", "req-1");
        router_reply_add_uint (reply, "unified-id", id);
        router_reply_add_uint (reply, "size", size);
        zmsg_t *msg = router_reply_encode (reply, NULL);

    The router's result codes (ROUTER.md "Results") are its own: besides
    what a node answers, `unavailable`, `data-error` and `timeout`.
    =========================================================================
*/
#ifndef STRATA_ROUTER_REPLY_H_INCLUDED
#define STRATA_ROUTER_REPLY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "digest.h"

typedef enum {
    ROUTER_SUCCESS = 0,
    ROUTER_NOT_FOUND,
    ROUTER_INVALID_REQUEST,
    ROUTER_UNKNOWN_MESSAGE_TYPE,
    ROUTER_UNAVAILABLE,
    ROUTER_DATA_ERROR,
    ROUTER_IO_ERROR,
    ROUTER_TIMEOUT,
    ROUTER_OVERLOADED,
    ROUTER_FORBIDDEN,               //  the client's key has no grant for this (auth/policy)
    ROUTER_RESULT_COUNT             //  number of codes; not a code
} router_result_t;

//  Wire name of a result ("success", "data-error", ...); "unknown" outside
//  the enum. Never NULL.
const char *
    router_result_name (router_result_t result);

typedef struct _router_reply_t router_reply_t;

//  Create a success reply of type message_type (e.g. "get-reply") echoing
//  request_id (NULL: nil, when the request's could not be read). NULL on
//  out-of-memory.
router_reply_t *
    router_reply_new (const char *message_type, const char *request_id);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    router_reply_destroy (router_reply_t **self_p);

//  Set the result and, for anything but success, the error-message
//  (printf-style; cut to 255 bytes). Fields added so far are kept.
void
    router_reply_set_result (router_reply_t *self, router_result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  The result set so far.
router_result_t
    router_reply_result (router_reply_t *self);

//  The error-message set so far ("" on success).
const char *
    router_reply_error (router_reply_t *self);

//  Add one field. Keys are our own literals.
void
    router_reply_add_uint (router_reply_t *self, const char *key, uint64_t value);
void
    router_reply_add_str (router_reply_t *self, const char *key, const char *text);
void
    router_reply_add_bool (router_reply_t *self, const char *key, bool value);
void
    router_reply_add_nil (router_reply_t *self, const char *key);
void
    router_reply_add_digest (router_reply_t *self, const char *key, const uint8_t digest [DIGEST_MD5_SIZE]);
void
    router_reply_add_timestamp (router_reply_t *self, const char *key, int64_t usec);
//  An already packed MessagePack object (size bytes), or nil when data is
//  NULL
void
    router_reply_add_raw (router_reply_t *self, const char *key, const uint8_t *data, size_t size);

//  Build the message: frame 0 the header, then the frames of *data_p if
//  data_p and *data_p are not NULL (consumed and set to NULL). Returns NULL
//  on out-of-memory. The reply itself is unchanged.
zmsg_t *
    router_reply_encode (router_reply_t *self, zmsg_t **data_p);

#endif
