/*  =========================================================================
    client_core - the inside of the router client, shared by its files

    Not for users of the library (client.h is). client.c holds the client
    itself: the DEALER socket and its monitor, settings, argument checks,
    and one exchange with the router (a router_request_t encoded and sent,
    its reply received and decoded); client_transfer.c the calls that move
    an object (put, put_stream, get); client_query.c the others (delete,
    versions, ping, list-keys, repair). Every call fills self->request with
    client_core_request () and the field setters, then exchanges it.
    =========================================================================
*/
#ifndef STRATA_CLIENT_CORE_H_INCLUDED
#define STRATA_CLIENT_CORE_H_INCLUDED

#include <czmq.h>
#include <msgpack.h>
#include "client.h"
#include "curve.h"
#include "router_reply.h"
#include "router_request.h"

#define CLIENT_FRAME_BYTES       (1024 * 1024)           //  data frame size of a put
#define CLIENT_MAX_CHUNK_BYTES   (64 * 1024 * 1024)      //  largest put-data we send
#define CLIENT_MAX_SLICE_BYTES   (1ULL << 32)            //  largest slice-size we accept
#define CLIENT_MAX_REPLY_HEADER  (64 * 1024 * 1024)      //  largest reply frame 0
#define CLIENT_ABORT_WAIT_MS     2000                    //  longest wait for put-abort-reply

struct _client_t {
    char *endpoint;                 //  the router's endpoint, as given
    zsock_t *dealer;                //  DEALER connected to the router
    zsock_t *monitor;               //  PAIR receiving the dealer's socket events
    bool connected;                 //  handshake done, no disconnect since
    bool retried;                   //  a connection attempt failed since the last success
    int timeout_ms;                 //  longest wait for one reply
    int connect_timeout_ms;         //  longest wait for a connection
    size_t max_put_bytes;           //  larger objects are streamed
    client_progress_fn *progress;   //  progress callback, or NULL
    void *progress_arg;             //  its argument
    char tag [20];                  //  request-id prefix, random per client
    curve_t *curve;                 //  CURVE client certs, or NULL for plaintext
    uint64_t counter;               //  request-ids used so far
    router_request_t *request;      //  the request being made
    msgpack_sbuffer buffer;         //  its header, encoded
    bool encode_failed;             //  out of memory filling the request
    char error [512];               //  last failure; "" after a success
};

//  One reply from the router
typedef struct {
    zmsg_t *msg;                    //  the whole message (frame 0, data frames)
    router_reply_t *header;         //  frame 0, decoded
} client_reply_t;

//  Put one line (printf-style) into self->error; returns result.
client_result_t
    client_core_fail (client_t *self, client_result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Before a request: clear the error, open the socket if needed and wait
//  at most the connect timeout for a connection. CLIENT_OK, or the failure.
client_result_t
    client_core_ready (client_t *self);

//  Tell the progress callback, if any, that done of total bytes moved.
void
    client_core_progress (client_t *self, uint64_t done, uint64_t total);

//  Check a key or meta pairs before anything is sent: CLIENT_OK, or
//  CLIENT_INVALID_REQUEST with the reason in self->error.
client_result_t
    client_core_check_key (client_t *self, const char *key);
client_result_t
    client_core_check_meta (client_t *self, const char *const *meta);

//  Start a new request of type in self->request (with a new request-id)
//  and return it, for the setters below and client_core_exchange ().
router_request_t *
    client_core_request (client_t *self, router_msg_t type);

//  Set fields of a request: collection-id and key (checked), unified-id,
//  upload-id, meta (checked pairs; out of memory fails the send).
void
    client_core_request_object (router_request_t *request, uint32_t collection_id, const char *key);
void
    client_core_request_unified_id (router_request_t *request, uint64_t unified_id);
void
    client_core_request_upload_id (router_request_t *request, const char *upload_id);
void
    client_core_request_meta (client_t *self, router_request_t *request, const char *const *meta);

//  Send self->request, then size bytes of data in frames of
//  CLIENT_FRAME_BYTES. CLIENT_OK, or the failure.
client_result_t
    client_core_send (client_t *self, const void *data, size_t size);

//  Wait at most the timeout for the reply to self->request (replies to
//  other requests are dropped) into reply. CLIENT_OK when it is a success
//  of reply_type; otherwise the router's result (or the client's) with the
//  reason in self->error.
client_result_t
    client_core_recv (client_t *self, const char *reply_type, client_reply_t *reply);

//  client_core_send () then client_core_recv ().
client_result_t
    client_core_exchange (client_t *self, const void *data, size_t size, const char *reply_type,
                          client_reply_t *reply);

//  Make reply empty (init), or free what it holds and make it empty (reset).
void
    client_core_reply_init (client_reply_t *reply);
void
    client_core_reply_reset (client_reply_t *reply);

//  A reply field the call needs is missing or ill-typed: CLIENT_PROTOCOL_ERROR.
client_result_t
    client_core_bad_field (client_t *self, const char *reply_type, const char *field);

//  Read a reply's field as an integer in 0..max, or an MD5 digest;
//  CLIENT_OK, or client_core_bad_field ().
client_result_t
    client_core_uint_field (client_t *self, const client_reply_t *reply, const char *reply_type,
                            const char *name, uint64_t max, uint64_t *value_p);
client_result_t
    client_core_digest_field (client_t *self, const client_reply_t *reply, const char *reply_type,
                              const char *name, uint8_t digest [DIGEST_MD5_SIZE]);

#endif
