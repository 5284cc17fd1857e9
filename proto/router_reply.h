/*  =========================================================================
    router_reply - one reply of the router to a client (ROUTER.md)

    Frame 0 of a reply is a MessagePack map: the envelope (message-type,
    request-id, result, error-message) and then whatever fields the reply
    type carries, added one by one in order. The data frames, if any, follow.

        router_reply_t *reply = router_reply_new ("put-reply", "req-1");
        router_reply_add_uint (reply, "unified-id", id);
        router_reply_add_uint (reply, "size", size);
        zmsg_t *msg = router_reply_encode (reply, NULL);

    A client reads one with router_reply_decode () and the router_reply_get_*
    accessors:

        router_reply_t *reply = router_reply_decode (data, size, error, sizeof error);
        if (router_reply_result (reply) == ROUTER_SUCCESS
        &&  router_reply_get_uint (reply, "unified-id", UINT64_MAX, &id) == 0)
            ...

    The router's result codes (ROUTER.md "Results") are its own: those it
    shares with a node carry the node protocol's names (common/result.c);
    besides, `unavailable`, `data-error` and `timeout`.
    =========================================================================
*/
#ifndef STRATA_ROUTER_REPLY_H_INCLUDED
#define STRATA_ROUTER_REPLY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include <msgpack.h>
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

//  The result whose wire name is name; -1 if name is none of them.
int
    router_result_from_name (const char *name, router_result_t *result_p);

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

//  Decode a reply's header (frame 0, at most max_size bytes; a client's
//  side). Returns a reply holding its envelope and fields, or NULL with one
//  line in error when the bytes are not one MessagePack map (or out of
//  memory). Safe on any bytes: a missing or ill-typed envelope field is not
//  an error here; the accessors say what is there. The fields refer into
//  data (msgpack-c does not copy strings): keep data until the reply is
//  destroyed.
router_reply_t *
    router_reply_decode (const void *data, size_t size, size_t max_size, char *error, size_t error_size);

//  Of a decoded reply: its message-type and request-id (NULL when absent,
//  nil or not a string that fits); its result as sent (NULL when absent or
//  not a string), which router_reply_result () gives as a code
//  (ROUTER_RESULT_COUNT when it is none of them); router_reply_error () is
//  its error-message, made printable ("" when absent).
const char *
    router_reply_type (router_reply_t *self);
const char *
    router_reply_request_id (router_reply_t *self);
const char *
    router_reply_result_text (router_reply_t *self);

//  Of a decoded reply: the value of field key, or NULL when absent
const msgpack_object *
    router_reply_field (router_reply_t *self, const char *key);

//  Of a decoded reply: read field key as an integer in 0..max, a string
//  that fits in out_size (with its null byte), an MD5 digest (base64 str
//  or 16-byte bin), or a boolean. Each returns 0, or -1 when the field is
//  absent or not such a value.
int
    router_reply_get_uint (router_reply_t *self, const char *key, uint64_t max, uint64_t *value_p);
int
    router_reply_get_str (router_reply_t *self, const char *key, char *out, size_t out_size);
int
    router_reply_get_digest (router_reply_t *self, const char *key, uint8_t digest [DIGEST_MD5_SIZE]);
int
    router_reply_get_bool (router_reply_t *self, const char *key, bool *value_p);

//  Copy a str object into out (null-terminated). 0 if it is a string that
//  fits (size + 1 <= out_size), -1 otherwise (also for NULL).
int
    router_reply_str_copy (const msgpack_object *value, char *out, size_t out_size);

#endif
