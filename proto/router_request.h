/*  =========================================================================
    router_request - one client request to the router (ROUTER.md), decoded
    and validated from its MessagePack header (frame 0) by the router, and
    encoded into one by a client

    Like proto/request.h for the node protocol: a flat struct with one
    member per field and a bitmask of the fields given. Decoding never
    trusts the bytes: the header goes through wire_unpack (allocation
    bounded by its size, at most LIMIT_HEADER_MAX), every field is checked
    for type, range and length, a field the type uses may appear once, and
    a failure names the field ("key: required by put"). Unknown keys are
    ignored. The data frames are not part of the request.
    =========================================================================
*/
#ifndef STRATA_ROUTER_REQUEST_H_INCLUDED
#define STRATA_ROUTER_REQUEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "protocol_limits.h"
#include "router_reply.h"

typedef enum {
    ROUTER_MSG_UNKNOWN = 0,     //  not a type of the router protocol
    ROUTER_MSG_PUT,
    ROUTER_MSG_PUT_START,
    ROUTER_MSG_PUT_DATA,
    ROUTER_MSG_PUT_FINISH,
    ROUTER_MSG_PUT_ABORT,
    ROUTER_MSG_DELETE,
    ROUTER_MSG_GET,
    ROUTER_MSG_GET_NEXT,
    ROUTER_MSG_LIST_VERSIONS,
    ROUTER_MSG_PING,
    ROUTER_MSG_LIST_KEYS,
    ROUTER_MSG_REPAIR,
    ROUTER_MSG_COUNT            //  number of types; not a type
} router_msg_t;

#define ROUTER_FIELD_REQUEST_ID     (1U << 0)
#define ROUTER_FIELD_COLLECTION_ID  (1U << 1)
#define ROUTER_FIELD_KEY            (1U << 2)
#define ROUTER_FIELD_META           (1U << 3)   //  set only when a map, not nil
#define ROUTER_FIELD_UNIFIED_ID     (1U << 4)   //  set only when an integer, not nil
#define ROUTER_FIELD_SLICE_NUM      (1U << 5)
#define ROUTER_FIELD_UPLOAD_ID      (1U << 6)
#define ROUTER_FIELD_PREFIX         (1U << 7)   //  list-keys: str or bin, any bytes
#define ROUTER_FIELD_START_AFTER    (1U << 8)   //  list-keys: str or bin, any bytes
#define ROUTER_FIELD_LIMIT          (1U << 9)   //  list-keys: 1..1000
#define ROUTER_FIELD_NODE           (1U << 10)  //  repair: a node name (set only when a str)

//  Longest upload-id
#define ROUTER_UPLOAD_ID_MAX        64

typedef struct {
    router_msg_t type;                              //  ROUTER_MSG_UNKNOWN if not known
    uint32_t present;                               //  ROUTER_FIELD_* of the fields given
    char message_type [LIMIT_MESSAGE_TYPE_MAX + 1]; //  as sent, printable ASCII only ("" if unreadable)
    char reply_type [LIMIT_MESSAGE_TYPE_MAX + 8];   //  reply type name (router_request_reply_type)
    char request_id [LIMIT_ID_MAX + 1];             //  request-id
    uint32_t collection_id;                         //  collection-id (0 when absent)
    char key [LIMIT_KEY_MAX + 1];                   //  key, UTF-8, null-terminated
    size_t key_size;                                //  bytes of key
    uint8_t *meta;                                  //  meta: raw MessagePack map, owned; NULL if absent
    size_t meta_size;                               //  bytes of meta
    uint64_t unified_id;                            //  unified-id
    uint32_t slice_num;                             //  slice-num
    char upload_id [ROUTER_UPLOAD_ID_MAX + 1];      //  upload-id
    char prefix [LIMIT_KEY_MAX + 1];                //  prefix (list-keys), any bytes
    size_t prefix_size;
    char start_after [LIMIT_KEY_MAX + 1];           //  start-after (list-keys), any bytes
    size_t start_after_size;
    uint32_t limit;                                 //  limit (list-keys)
    char node [LIMIT_NODE_NAME_MAX + 1];            //  node (repair): only this node's shares
} router_request_t;

//  Create an empty request. NULL on out-of-memory.
router_request_t *
    router_request_new (void);

//  Destroy (with its meta) and set the caller's pointer to NULL. Accepts NULL.
void
    router_request_destroy (router_request_t **self_p);

//  Decode and validate a header; self is reset first. Returns 0 on success.
//  On failure returns -1, sets *result_p (ROUTER_INVALID_REQUEST,
//  ROUTER_UNKNOWN_MESSAGE_TYPE, or ROUTER_OVERLOADED when out of memory) and
//  writes one line naming the field into error; self still holds the
//  request-id (if ROUTER_FIELD_REQUEST_ID is set) and the message-type as
//  far as they could be read, to address the error reply. Safe on any
//  bytes.
int
    router_request_decode (router_request_t *self, const void *data, size_t size,
                           router_result_t *result_p, char *error, size_t error_size);

//  Encode self as a request header (frame 0) into buffer, which is cleared
//  first: message-type (the name of self->type), request-id, then every
//  field of ROUTER_FIELD_* set in self->present that the type takes, in
//  the order the decoder checks them; prefix and start-after go as a str
//  when they are UTF-8 without NUL, else as a bin; meta as the raw map it
//  holds. What the client sends, the router decodes. self->type must be a
//  request type and the fields what they say (our own values: checked
//  by assert, not reported). Returns 0, or -1 when out of memory.
int
    router_request_encode (const router_request_t *self, msgpack_sbuffer *buffer);

//  Wire name of a request type ("put-start"); "unknown" otherwise.
const char *
    router_msg_name (router_msg_t type);

//  The reply type for the request: "<type>-reply" ("put-reply" for
//  put-finish), "<type as sent>-reply" for an unknown type, "error-reply"
//  when no type could be read. Never NULL; the text lives in self or is
//  static.
const char *
    router_request_reply_type (router_request_t *self);

//  The request-id to echo, or NULL (nil) when it could not be read.
const char *
    router_request_id (router_request_t *self);

#endif
