/*  =========================================================================
    client - the C client of strata-router (cluster/ROUTER.md)

    A DEALER socket connected to the router, plus a PAIR socket receiving
    that DEALER's socket events (zmq_socket_monitor), which is how a call
    knows within the connect timeout that no router is listening, and knows
    at once when the router goes away while the call waits for it.

    Request-ids are "<random tag>-<counter>", unique per client. A call
    fills a router_request_t, which router_request_encode () turns into the
    header (frame 0, a MessagePack map), sends it plus data frames, then
    reads replies (router_reply_decode) until one carries its request-id;
    replies with other ids are late answers to abandoned calls and are
    dropped.

    Transfers: a put of up to max-put-bytes is one `put` message (data cut
    in 1 MiB frames); anything larger, or of unknown length, is a streamed
    upload (put-start, put-data of slice-size each, one in flight, then
    put-finish; put-abort on any failure). A get reads slice after slice
    (get, then get-next) and hands each data frame to the caller's write
    callback while computing the MD5 the router promised.
    =========================================================================
*/

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <czmq.h>
#include <msgpack.h>

#include "client.h"
#include "curve.h"
#include "endpoint.h"
#include "request.h"             //  LIMIT_LIST_KEYS_MAX
#include "router_reply.h"
#include "router_request.h"
#include "wire.h"

#define S_FRAME_BYTES       (1024 * 1024)           //  data frame size of a put
#define S_MAX_CHUNK_BYTES   (64 * 1024 * 1024)      //  largest put-data we send
#define S_MAX_SLICE_BYTES   (1ULL << 32)            //  largest slice-size we accept
#define S_MAX_REPLY_HEADER  (64 * 1024 * 1024)      //  largest reply frame 0
#define S_ABORT_WAIT_MS     2000                    //  longest wait for put-abort-reply

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
} s_reply_t;

//  The client's code for each result of the router
static const client_result_t s_from_router [ROUTER_RESULT_COUNT] = {
    [ROUTER_SUCCESS]              = CLIENT_OK,
    [ROUTER_NOT_FOUND]            = CLIENT_NOT_FOUND,
    [ROUTER_INVALID_REQUEST]      = CLIENT_INVALID_REQUEST,
    [ROUTER_UNKNOWN_MESSAGE_TYPE] = CLIENT_UNKNOWN_MESSAGE_TYPE,
    [ROUTER_UNAVAILABLE]          = CLIENT_UNAVAILABLE,
    [ROUTER_DATA_ERROR]           = CLIENT_DATA_ERROR,
    [ROUTER_IO_ERROR]             = CLIENT_IO_ERROR,
    [ROUTER_TIMEOUT]              = CLIENT_TIMEOUT,
    [ROUTER_OVERLOADED]           = CLIENT_OVERLOADED,
    [ROUTER_FORBIDDEN]            = CLIENT_FORBIDDEN,
};

//  Names of the codes that are the client's own; the others are named
//  after the router's result (router_result_name)
static const char *s_own_names [CLIENT_RESULT_COUNT] = {
    [CLIENT_OK]             = "ok",
    [CLIENT_NO_REPLY]       = "no-reply",
    [CLIENT_PROTOCOL_ERROR] = "protocol-error",
    [CLIENT_CALLBACK_ERROR] = "callback-error",
    [CLIENT_SYSTEM_ERROR]   = "system-error",
};

static _Atomic unsigned s_monitor_sequence;     //  makes monitor endpoints unique


//  --------------------------------------------------------------------------
//  Errors

static client_result_t
s_fail (client_t *self, client_result_t result, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return result;
}

const char *
client_result_name (client_result_t result)
{
    if ((int) result < 0 || result >= CLIENT_RESULT_COUNT)
        return "unknown";
    if (s_own_names [result])
        return s_own_names [result];
    for (int router = 0; router < ROUTER_RESULT_COUNT; router++)
        if (s_from_router [router] == result)
            return router_result_name ((router_result_t) router);
    return "unknown";
}

const char *
client_error (client_t *self)
{
    assert (self);
    return self->error;
}


//  --------------------------------------------------------------------------
//  Socket setup: the DEALER and its event monitor

static void
s_socket_close (client_t *self)
{
    if (self->dealer && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    self->connected = false;
    self->retried = false;
}

static int
s_socket_open (client_t *self)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return -1;
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndtimeo (self->dealer, self->timeout_ms);
    if (self->curve)
        curve_client (self->curve, self->dealer);
    char monitor_endpoint [64];
    snprintf (monitor_endpoint, sizeof monitor_endpoint, "inproc://strata-client-monitor-%u-%u",
              (unsigned) getpid (), atomic_fetch_add (&s_monitor_sequence, 1));
    if (zmq_socket_monitor (zsock_resolve (self->dealer), monitor_endpoint, ZMQ_EVENT_ALL) != 0)
        goto fail;
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor || zsock_connect (self->monitor, "%s", monitor_endpoint) != 0)
        goto fail;
    if (zsock_connect (self->dealer, "%s", self->endpoint) != 0)
        goto fail;
    return 0;
fail:
    s_socket_close (self);
    return -1;
}

//  Read one socket event from the monitor (which has one ready) and update
//  the connection state. Returns the event number, or 0 if none was read.
static int
s_monitor_read (client_t *self)
{
    zmsg_t *msg = zmsg_recv (self->monitor);
    if (!msg)
        return 0;
    int event = 0;
    zframe_t *first = zmsg_first (msg);
    if (first && zframe_size (first) >= 2) {
        uint16_t number;
        memcpy (&number, zframe_data (first), sizeof number);
        event = number;
    }
    zmsg_destroy (&msg);
#ifdef ZMQ_EVENT_HANDSHAKE_SUCCEEDED
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
#else
    if (event == ZMQ_EVENT_CONNECTED) {
#endif
        self->connected = true;
        self->retried = false;
    }
    else
    if (event == ZMQ_EVENT_DISCONNECTED)
        self->connected = false;
    else
    if (event == ZMQ_EVENT_CONNECT_RETRIED)
        self->retried = true;
    return event;
}

static bool
s_monitor_ready (client_t *self, int wait_ms)
{
    zmq_pollitem_t item = { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 };
    return zmq_poll (&item, 1, wait_ms) == 1 && (item.revents & ZMQ_POLLIN);
}

//  Before a request: take the socket events that arrived, and wait at most
//  the connect timeout for a connection if there is none.
static client_result_t
s_ready (client_t *self)
{
    self->error [0] = 0;
    if (!self->dealer && s_socket_open (self) != 0)
        return s_fail (self, CLIENT_SYSTEM_ERROR, "cannot create a socket for %s: %s",
                       self->endpoint, zmq_strerror (zmq_errno ()));
    while (s_monitor_ready (self, 0))
        s_monitor_read (self);
    int64_t deadline = zclock_mono () + self->connect_timeout_ms;
    while (!self->connected) {
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0)
            return s_fail (self, CLIENT_NO_REPLY,
                           "cannot connect to the router at %s within %.1f s (%s)",
                           self->endpoint, self->connect_timeout_ms / 1000.0,
                           self->retried? "connection refused or unreachable; is strata-router running?"
                                        : "no answer");
        if (zsys_interrupted)
            return s_fail (self, CLIENT_SYSTEM_ERROR, "interrupted");
        if (s_monitor_ready (self, (int) remaining))
            s_monitor_read (self);
    }
    return CLIENT_OK;
}


//  --------------------------------------------------------------------------
//  Constructor, destructor, settings

client_t *
client_new (const char *endpoint)
{
    assert (endpoint);
    endpoint_t parsed;
    if (endpoint_parse (endpoint, &parsed) != 0)
        return NULL;
    if (parsed.scheme == ENDPOINT_TCP && (parsed.port == 0 || streq (parsed.host, "*")))
        return NULL;            //  a wildcard can be bound, not connected to

    client_t *self = (client_t *) calloc (1, sizeof (client_t));
    if (!self)
        return NULL;
    self->endpoint = strdup (endpoint);
    self->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    self->connect_timeout_ms = CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    self->max_put_bytes = CLIENT_DEFAULT_MAX_PUT_BYTES;
    self->request = router_request_new ();
    msgpack_sbuffer_init (&self->buffer);
    uint32_t random_tag;
    if (getrandom (&random_tag, sizeof random_tag, GRND_NONBLOCK) != (ssize_t) sizeof random_tag)
        random_tag = (uint32_t) zclock_usecs () ^ ((uint32_t) getpid () << 16);
    snprintf (self->tag, sizeof self->tag, "%08x", random_tag);
    if (!self->endpoint || !self->request || s_socket_open (self) != 0) {
        client_destroy (&self);
        return NULL;
    }
    return self;
}

void
client_destroy (client_t **self_p)
{
    assert (self_p);
    client_t *self = *self_p;
    if (!self)
        return;
    s_socket_close (self);
    curve_destroy (&self->curve);
    router_request_destroy (&self->request);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
client_set_curve (client_t *self, const char *client_cert_path, const char *cluster_public_path)
{
    assert (self);
    assert (client_cert_path);
    assert (cluster_public_path);
    char error [1200] = "";
    curve_t *curve = curve_new (NULL, client_cert_path, cluster_public_path, error, sizeof error);
    if (!curve) {
        snprintf (self->error, sizeof self->error, "%s", error);
        return -1;
    }
    curve_destroy (&self->curve);
    self->curve = curve;
    s_socket_close (self);
    return 0;
}

void
client_set_timeout (client_t *self, int timeout_ms)
{
    assert (self);
    assert (timeout_ms > 0);
    self->timeout_ms = timeout_ms;
    if (self->dealer)
        zsock_set_sndtimeo (self->dealer, timeout_ms);
}

void
client_set_connect_timeout (client_t *self, int timeout_ms)
{
    assert (self);
    assert (timeout_ms > 0);
    self->connect_timeout_ms = timeout_ms;
}

void
client_set_max_put_bytes (client_t *self, size_t max_put_bytes)
{
    assert (self);
    assert (max_put_bytes >= 1);
    self->max_put_bytes = max_put_bytes;
}

void
client_set_progress (client_t *self, client_progress_fn *progress, void *arg)
{
    assert (self);
    self->progress = progress;
    self->progress_arg = arg;
}

static void
s_progress (client_t *self, uint64_t done, uint64_t total)
{
    if (self->progress)
        self->progress (self->progress_arg, done, total);
}


//  --------------------------------------------------------------------------
//  Argument checks (before anything is sent)

bool
client_key_valid (const char *key)
{
    if (!key)
        return false;
    size_t size = strlen (key);
    return size >= 1 && size <= LIMIT_KEY_MAX && wire_utf8_valid (key, size, false);
}

static client_result_t
s_check_key (client_t *self, const char *key)
{
    assert (key);
    if (!client_key_valid (key))
        return s_fail (self, CLIENT_INVALID_REQUEST,
                       "key: must be 1..%d bytes of UTF-8 without null bytes (got %zu bytes)",
                       LIMIT_KEY_MAX, strlen (key));
    return CLIENT_OK;
}

static client_result_t
s_check_meta (client_t *self, const char *const *meta)
{
    if (!meta)
        return CLIENT_OK;
    size_t index;
    for (index = 0; meta [index]; index += 2) {
        if (index / 2 >= LIMIT_META_ENTRIES)
            return s_fail (self, CLIENT_INVALID_REQUEST, "meta: more than %d entries", LIMIT_META_ENTRIES);
        const char *name = meta [index];
        const char *value = meta [index + 1];
        if (!value)
            return s_fail (self, CLIENT_INVALID_REQUEST, "meta: name without a value");
        size_t name_size = strlen (name);
        size_t value_size = strlen (value);
        if (name_size < 1 || name_size > LIMIT_META_STRING_MAX
        ||  !wire_utf8_valid (name, name_size, false))
            return s_fail (self, CLIENT_INVALID_REQUEST,
                           "meta: names must be 1..%d bytes of UTF-8", LIMIT_META_STRING_MAX);
        if (value_size > LIMIT_META_STRING_MAX || !wire_utf8_valid (value, value_size, false))
            return s_fail (self, CLIENT_INVALID_REQUEST,
                           "meta: values must be 0..%d bytes of UTF-8", LIMIT_META_STRING_MAX);
    }
    return CLIENT_OK;
}


//  --------------------------------------------------------------------------
//  Requests (encoded by router_request_encode)

//  Start a request of type in self->request, with a new request-id
static router_request_t *
s_request (client_t *self, router_msg_t type)
{
    router_request_t *request = self->request;
    free (request->meta);
    memset (request, 0, sizeof *request);
    request->type = type;
    snprintf (request->request_id, sizeof request->request_id, "%s-%" PRIu64, self->tag, ++self->counter);
    request->present = ROUTER_FIELD_REQUEST_ID;
    self->encode_failed = false;
    return request;
}

//  The fields that name an object: collection-id and key (already checked)
static void
s_request_object (router_request_t *request, uint32_t collection_id, const char *key)
{
    request->collection_id = collection_id;
    request->key_size = strlen (key);
    assert (request->key_size <= LIMIT_KEY_MAX);
    memcpy (request->key, key, request->key_size + 1);
    request->present |= ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_KEY;
}

static void
s_request_unified_id (router_request_t *request, uint64_t unified_id)
{
    request->unified_id = unified_id;
    request->present |= ROUTER_FIELD_UNIFIED_ID;
}

static void
s_request_upload_id (router_request_t *request, const char *upload_id)
{
    snprintf (request->upload_id, sizeof request->upload_id, "%s", upload_id);
    request->present |= ROUTER_FIELD_UPLOAD_ID;
}

//  meta (already checked): the pairs as a MessagePack map of strings
static void
s_request_meta (client_t *self, router_request_t *request, const char *const *meta)
{
    size_t pairs = 0;
    while (meta [pairs * 2])
        pairs++;
    msgpack_sbuffer map;
    msgpack_sbuffer_init (&map);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &map, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&packer, pairs);
    for (size_t index = 0; index < pairs * 2; index++) {
        size_t size = strlen (meta [index]);
        rc |= msgpack_pack_str (&packer, size) || msgpack_pack_str_body (&packer, meta [index], size);
    }
    if (rc == 0 && map.size) {
        request->meta = (uint8_t *) malloc (map.size);
        if (request->meta) {
            memcpy (request->meta, map.data, map.size);
            request->meta_size = map.size;
            request->present |= ROUTER_FIELD_META;
        }
    }
    if (!(request->present & ROUTER_FIELD_META))
        self->encode_failed = true;
    msgpack_sbuffer_destroy (&map);
}


//  --------------------------------------------------------------------------
//  Sending and receiving

//  Send self->request, then size bytes of data in frames.
static client_result_t
s_send (client_t *self, const void *data, size_t size)
{
    if (self->encode_failed || router_request_encode (self->request, &self->buffer) != 0)
        return s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory encoding a request");
    void *handle = zsock_resolve (self->dealer);
    const uint8_t *bytes = (const uint8_t *) data;
    size_t offset = 0;
    bool header = true;
    while (header || offset < size) {
        const void *frame = header? (const void *) self->buffer.data: (const void *) (bytes + offset);
        size_t frame_size = header? self->buffer.size: size - offset;
        if (!header && frame_size > S_FRAME_BYTES)
            frame_size = S_FRAME_BYTES;
        bool more = header? size > 0: offset + frame_size < size;
        if (zmq_send (handle, frame, frame_size, more? ZMQ_SNDMORE: 0) == -1) {
            int error = zmq_errno ();
            if (error == EINTR && !zsys_interrupted)
                continue;
            //  Part of a multipart message may be queued: start afresh
            bool first = header;
            s_socket_close (self);
            if (error == EAGAIN && first)
                return s_fail (self, CLIENT_NO_REPLY, "the router at %s did not take the request within %.1f s",
                               self->endpoint, self->timeout_ms / 1000.0);
            return s_fail (self, CLIENT_SYSTEM_ERROR, "cannot send to the router at %s: %s",
                           self->endpoint, error == EINTR? "interrupted": zmq_strerror (error));
        }
        if (header)
            header = false;
        else
            offset += frame_size;
    }
    return CLIENT_OK;
}

static void
s_reply_init (s_reply_t *reply)
{
    reply->msg = NULL;
    reply->header = NULL;
}

static void
s_reply_reset (s_reply_t *reply)
{
    zmsg_destroy (&reply->msg);
    router_reply_destroy (&reply->header);
}

//  A reply field the call needs was missing or ill-typed
static client_result_t
s_bad_field (client_t *self, const char *reply_type, const char *field)
{
    return s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's %s has no usable '%s'", reply_type, field);
}

static client_result_t
s_uint_field (client_t *self, const s_reply_t *reply, const char *reply_type, const char *name,
              uint64_t max, uint64_t *value_p)
{
    if (router_reply_get_uint (reply->header, name, max, value_p) != 0)
        return s_bad_field (self, reply_type, name);
    return CLIENT_OK;
}

static client_result_t
s_digest_field (client_t *self, const s_reply_t *reply, const char *reply_type, const char *name,
                uint8_t digest [DIGEST_MD5_SIZE])
{
    if (router_reply_get_digest (reply->header, name, digest) != 0)
        return s_bad_field (self, reply_type, name);
    return CLIENT_OK;
}

//  Turn a reply's result and error-message into the call's result
static client_result_t
s_reply_result (client_t *self, const s_reply_t *reply, const char *request_type)
{
    const char *name = router_reply_result_text (reply->header);
    if (!name)
        return s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's reply to %s has no result", request_type);
    router_result_t result = router_reply_result (reply->header);
    if (result == ROUTER_SUCCESS)
        return CLIENT_OK;
    const char *message = router_reply_error (reply->header);
    if (result == ROUTER_FORBIDDEN)
        return s_fail (self, CLIENT_FORBIDDEN, "forbidden: %s",
                       *message? message: "this client's key has no grant for that (auth/policy)");
    if (result < ROUTER_RESULT_COUNT)
        return s_fail (self, s_from_router [result], "%s: %s", name,
                       *message? message: "(the router gave no error-message)");
    char safe [80];
    wire_sanitize (name, strlen (name), safe, sizeof safe);
    return s_fail (self, CLIENT_PROTOCOL_ERROR, "the router answered %s with unknown result '%s': %s",
                   request_type, safe, message);
}

//  Wait at most the timeout for the reply to self->request, dropping
//  replies to other requests. On CLIENT_OK the reply succeeded and has
//  reply_type; any router failure is returned as its result code.
static client_result_t
s_recv (client_t *self, const char *reply_type, s_reply_t *reply)
{
    const char *request_id = self->request->request_id;
    const char *request_type = router_msg_name (self->request->type);
    s_reply_reset (reply);
    int64_t deadline = zclock_mono () + self->timeout_ms;
    bool disconnected = false;
    while (true) {
        int64_t remaining = deadline - zclock_mono ();
        if (disconnected)
            remaining = 0;          //  one last look for a reply already queued
        else
        if (remaining <= 0)
            return s_fail (self, CLIENT_NO_REPLY, "no reply from the router at %s to %s within %.1f s",
                           self->endpoint, request_type, self->timeout_ms / 1000.0);
        zmq_pollitem_t items [] = {
            { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, disconnected? 1: 2, (long) remaining);
        if (rc == -1) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            return s_fail (self, CLIENT_SYSTEM_ERROR, "waiting for the router: %s",
                           zmq_errno () == EINTR? "interrupted": zmq_strerror (zmq_errno ()));
        }
        if (items [0].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (self->dealer);
            if (!msg)
                continue;
            zframe_t *frame = zmsg_first (msg);
            char why [128] = "not a map";
            router_reply_destroy (&reply->header);
            if (frame)
                reply->header = router_reply_decode (zframe_data (frame), zframe_size (frame),
                                                     S_MAX_REPLY_HEADER, why, sizeof why);
            if (!reply->header) {
                zmsg_destroy (&msg);
                return s_fail (self, CLIENT_PROTOCOL_ERROR,
                               "the router sent a reply whose header is not a MessagePack map (%s)", why);
            }
            reply->msg = msg;
            const char *id = router_reply_request_id (reply->header);
            if (!id) {
                //  Cannot be matched; if it says why, that is the best we know
                client_result_t result = s_reply_result (self, reply, request_type);
                if (result == CLIENT_OK)
                    result = s_fail (self, CLIENT_PROTOCOL_ERROR,
                                     "the router sent a reply without request-id");
                return result;
            }
            if (!streq (id, request_id)) {
                s_reply_reset (reply);      //  a late reply to an abandoned call
                continue;
            }
            client_result_t result = s_reply_result (self, reply, request_type);
            if (result != CLIENT_OK)
                return result;
            const char *type = router_reply_type (reply->header);
            if (!type)
                return s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's reply to %s has no message-type",
                               request_type);
            if (!streq (type, reply_type)) {
                char safe [LIMIT_MESSAGE_TYPE_MAX + 8];
                wire_sanitize (type, strlen (type), safe, sizeof safe);
                return s_fail (self, CLIENT_PROTOCOL_ERROR, "the router answered %s with %s, not %s",
                               request_type, safe, reply_type);
            }
            return CLIENT_OK;
        }
        if (disconnected)
            return s_fail (self, CLIENT_NO_REPLY, "lost the connection to the router at %s while waiting for %s",
                           self->endpoint, reply_type);
        if (items [1].revents & ZMQ_POLLIN)
            if (s_monitor_read (self) == ZMQ_EVENT_DISCONNECTED)
                disconnected = true;
    }
}

//  Send self->request (plus data) and receive its reply
static client_result_t
s_exchange (client_t *self, const void *data, size_t size, const char *reply_type, s_reply_t *reply)
{
    client_result_t result = s_send (self, data, size);
    if (result == CLIENT_OK)
        result = s_recv (self, reply_type, reply);
    return result;
}


//  --------------------------------------------------------------------------
//  put

//  Check what a put-reply says was stored against what was sent
static client_result_t
s_put_reply (client_t *self, const s_reply_t *reply, uint64_t size, const uint8_t md5 [DIGEST_MD5_SIZE],
             uint64_t *unified_id_p)
{
    uint64_t unified_id, stored_size;
    uint8_t stored_md5 [DIGEST_MD5_SIZE];
    client_result_t result = s_uint_field (self, reply, "put-reply", "unified-id", UINT64_MAX, &unified_id);
    if (result == CLIENT_OK)
        result = s_uint_field (self, reply, "put-reply", "size", UINT64_MAX, &stored_size);
    if (result == CLIENT_OK)
        result = s_digest_field (self, reply, "put-reply", "file-hash", stored_md5);
    if (result != CLIENT_OK)
        return result;
    if (stored_size != size)
        return s_fail (self, CLIENT_DATA_ERROR, "the router stored %" PRIu64 " bytes, but %" PRIu64 " were sent",
                       stored_size, size);
    if (memcmp (stored_md5, md5, DIGEST_MD5_SIZE) != 0) {
        char sent [DIGEST_MD5_BASE64_SIZE], stored [DIGEST_MD5_BASE64_SIZE];
        digest_md5_to_base64 (md5, sent);
        digest_md5_to_base64 (stored_md5, stored);
        return s_fail (self, CLIENT_DATA_ERROR, "the router stored MD5 %s, but the object sent has MD5 %s",
                       stored, sent);
    }
    if (unified_id_p)
        *unified_id_p = unified_id;
    return CLIENT_OK;
}

static client_result_t
s_put_whole (client_t *self, uint32_t collection_id, const char *key, const void *data, size_t size,
             const char *const *meta, uint64_t *unified_id_p)
{
    client_result_t result = s_ready (self);
    if (result != CLIENT_OK)
        return result;
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 (data, size, md5);
    router_request_t *request = s_request (self, ROUTER_MSG_PUT);
    s_request_object (request, collection_id, key);
    if (meta)
        s_request_meta (self, request, meta);
    s_reply_t reply;
    s_reply_init (&reply);
    result = s_send (self, data, size);
    if (result == CLIENT_OK) {
        s_progress (self, size, size);
        result = s_recv (self, "put-reply", &reply);
    }
    if (result == CLIENT_OK)
        result = s_put_reply (self, &reply, size, md5, unified_id_p);
    s_reply_reset (&reply);
    return result;
}

//  Fill buffer [*filled .. size) from read until full or the end.
//  Returns 0 (with *end_p set at the end of the object) or -1.
static int
s_read_fill (client_read_fn *read, void *arg, uint8_t *buffer, size_t size, size_t *filled, bool *end_p)
{
    while (*filled < size) {
        ssize_t got = read (arg, buffer + *filled, size - *filled);
        if (got < 0 || (size_t) got > size - *filled)
            return -1;
        if (got == 0) {
            *end_p = true;
            break;
        }
        *filled += (size_t) got;
    }
    return 0;
}

//  Abort an upload, best effort; keeps the error of the failure that led here
static void
s_put_abort (client_t *self, const char *upload_id, client_result_t why)
{
    char saved [sizeof self->error];
    memcpy (saved, self->error, sizeof saved);
    int timeout_ms = self->timeout_ms;
    if (self->timeout_ms > S_ABORT_WAIT_MS)
        self->timeout_ms = S_ABORT_WAIT_MS;
    if (self->dealer && why != CLIENT_NO_REPLY) {
        s_request_upload_id (s_request (self, ROUTER_MSG_PUT_ABORT), upload_id);
        s_reply_t reply;
        s_reply_init (&reply);
        s_exchange (self, NULL, 0, "put-abort-reply", &reply);
        s_reply_reset (&reply);
        }
    self->timeout_ms = timeout_ms;
    memcpy (self->error, saved, sizeof saved);
}

//  A streamed upload. buffer holds the first filled bytes of the object
//  (read from read/arg, which supplies the rest); buffer is taken over.
static client_result_t
s_put_streamed (client_t *self, uint32_t collection_id, const char *key, const char *const *meta,
                uint8_t *buffer, size_t filled, client_read_fn *read, void *arg, uint64_t *unified_id_p)
{
    digest_md5_t *md5 = digest_md5_new ();
    s_reply_t reply;
    s_reply_init (&reply);
    char upload_id [ROUTER_UPLOAD_ID_MAX + 1] = "";
    client_result_t result = md5? s_ready (self):
                             s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    if (result != CLIENT_OK)
        goto done;

    //  put-start
    router_request_t *request = s_request (self, ROUTER_MSG_PUT_START);
    s_request_object (request, collection_id, key);
    if (meta)
        s_request_meta (self, request, meta);
    result = s_exchange (self, NULL, 0, "put-start-reply", &reply);
    if (result != CLIENT_OK)
        goto done;
    uint64_t slice_size;
    if (router_reply_str_copy (router_reply_field (reply.header, "upload-id"), upload_id, sizeof upload_id) != 0 || !*upload_id) {
        result = s_bad_field (self, "put-start-reply", "upload-id");
        goto done;
    }
    result = s_uint_field (self, &reply, "put-start-reply", "slice-size", S_MAX_SLICE_BYTES, &slice_size);
    if (result == CLIENT_OK && slice_size == 0)
        result = s_bad_field (self, "put-start-reply", "slice-size");
    if (result != CLIENT_OK)
        goto done;
    size_t chunk = slice_size < S_MAX_CHUNK_BYTES? (size_t) slice_size: S_MAX_CHUNK_BYTES;
    if (chunk > filled) {
        uint8_t *bigger = (uint8_t *) realloc (buffer, chunk);
        if (!bigger) {
            result = s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory for a %zu-byte slice", chunk);
            goto done;
        }
        buffer = bigger;
    }

    //  put-data, one slice at a time, each after the previous one's reply
    uint64_t sent = 0;
    bool end = false;
    while (true) {
        if (!end && filled < chunk && s_read_fill (read, arg, buffer, chunk, &filled, &end) != 0) {
            result = s_fail (self, CLIENT_CALLBACK_ERROR, "reading the object failed after %" PRIu64 " bytes",
                             sent + filled);
            goto done;
        }
        if (filled == 0)
            break;
        size_t piece = filled < chunk? filled: chunk;
        s_request_upload_id (s_request (self, ROUTER_MSG_PUT_DATA), upload_id);
        result = s_exchange (self, buffer, piece, "put-data-reply", &reply);
        if (result != CLIENT_OK)
            goto done;
        digest_md5_update (md5, buffer, piece);
        sent += piece;
        memmove (buffer, buffer + piece, filled - piece);
        filled -= piece;
        s_progress (self, sent, 0);
        if (end && filled == 0)
            break;
    }

    //  put-finish
    s_request_upload_id (s_request (self, ROUTER_MSG_PUT_FINISH), upload_id);
    result = s_exchange (self, NULL, 0, "put-reply", &reply);
    if (result == CLIENT_OK) {
        uint8_t digest [DIGEST_MD5_SIZE];
        digest_md5_final (md5, digest);
        result = s_put_reply (self, &reply, sent, digest, unified_id_p);
        *upload_id = 0;             //  finished: nothing to abort
    }
done:
    if (result != CLIENT_OK && *upload_id)
        s_put_abort (self, upload_id, result);
    s_reply_reset (&reply);
    digest_md5_destroy (&md5);
    free (buffer);
    return result;
}

//  Reads an object held in memory (a client_put () larger than max-put-bytes)
typedef struct {
    const uint8_t *data;        //  the object
    size_t size;                //  its bytes
    size_t offset;              //  bytes handed out so far
} s_memory_t;

static ssize_t
s_memory_read (void *arg, void *buffer, size_t size)
{
    s_memory_t *memory = (s_memory_t *) arg;
    size_t left = memory->size - memory->offset;
    if (size > left)
        size = left;
    if (size > SSIZE_MAX)
        size = SSIZE_MAX;
    memcpy (buffer, memory->data + memory->offset, size);
    memory->offset += size;
    return (ssize_t) size;
}

client_result_t
client_put (client_t *self, uint32_t collection_id, const char *key, const void *data, size_t size,
            const char *const *meta, uint64_t *unified_id_p)
{
    assert (self);
    assert (data || size == 0);
    self->error [0] = 0;
    client_result_t result = s_check_key (self, key);
    if (result == CLIENT_OK)
        result = s_check_meta (self, meta);
    if (result != CLIENT_OK)
        return result;
    if (size <= self->max_put_bytes)
        return s_put_whole (self, collection_id, key, data, size, meta, unified_id_p);
    s_memory_t memory = { (const uint8_t *) data, size, 0 };
    return s_put_streamed (self, collection_id, key, meta, NULL, 0, s_memory_read, &memory, unified_id_p);
}

client_result_t
client_put_stream (client_t *self, uint32_t collection_id, const char *key, client_read_fn *read,
                   void *arg, const char *const *meta, uint64_t *unified_id_p)
{
    assert (self);
    assert (read);
    self->error [0] = 0;
    client_result_t result = s_check_key (self, key);
    if (result == CLIENT_OK)
        result = s_check_meta (self, meta);
    if (result != CLIENT_OK)
        return result;
    size_t probe = CLIENT_STREAM_PROBE_BYTES < self->max_put_bytes? CLIENT_STREAM_PROBE_BYTES:
                                                                      self->max_put_bytes;
    uint8_t *buffer = (uint8_t *) malloc (probe);
    if (!buffer)
        return s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    size_t filled = 0;
    bool end = false;
    if (s_read_fill (read, arg, buffer, probe, &filled, &end) != 0) {
        free (buffer);
        return s_fail (self, CLIENT_CALLBACK_ERROR, "reading the object failed after %zu bytes", filled);
    }
    if (end && filled < probe) {
        result = s_put_whole (self, collection_id, key, buffer, filled, meta, unified_id_p);
        free (buffer);
        return result;
    }
    return s_put_streamed (self, collection_id, key, meta, buffer, filled, read, arg, unified_id_p);
}


//  --------------------------------------------------------------------------
//  get

void
client_object_clear (client_object_t *object)
{
    if (!object)
        return;
    free (object->meta);
    memset (object, 0, sizeof *object);
}

//  Read the fields of a get-reply or get-next-reply
static client_result_t
s_get_fields (client_t *self, const s_reply_t *reply, const char *reply_type, client_object_t *object,
              uint64_t *slice_num_p, bool *completed_p)
{
    uint64_t slice_count;
    client_result_t result = s_uint_field (self, reply, reply_type, "unified-id", UINT64_MAX, &object->unified_id);
    if (result == CLIENT_OK)
        result = s_uint_field (self, reply, reply_type, "size", UINT64_MAX, &object->size);
    if (result == CLIENT_OK)
        result = s_digest_field (self, reply, reply_type, "file-hash", object->file_hash);
    if (result == CLIENT_OK)
        result = s_uint_field (self, reply, reply_type, "slice-count", UINT32_MAX, &slice_count);
    if (result == CLIENT_OK)
        result = s_uint_field (self, reply, reply_type, "slice-num", UINT32_MAX, slice_num_p);
    if (result != CLIENT_OK)
        return result;
    object->slice_count = (uint32_t) slice_count;
    const msgpack_object *completed = router_reply_field (reply->header, "completed");
    if (!completed || completed->type != MSGPACK_OBJECT_BOOLEAN)
        return s_bad_field (self, reply_type, "completed");
    *completed_p = completed->via.boolean;
    const msgpack_object *timestamp = router_reply_field (reply->header, "timestamp");
    if (timestamp && router_reply_str_copy (timestamp, object->timestamp, sizeof object->timestamp) != 0)
        return s_bad_field (self, reply_type, "timestamp");
    return CLIENT_OK;
}

client_result_t
client_get (client_t *self, uint32_t collection_id, const char *key, const uint64_t *unified_id,
            client_write_fn *write, void *arg, client_object_t *object)
{
    assert (self);
    assert (write);
    client_object_t local;
    if (!object)
        object = &local;
    memset (object, 0, sizeof *object);
    self->error [0] = 0;
    client_result_t result = s_check_key (self, key);
    if (result == CLIENT_OK)
        result = s_ready (self);
    if (result != CLIENT_OK)
        return result;

    digest_md5_t *md5 = digest_md5_new ();
    if (!md5)
        return s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    s_reply_t reply;
    s_reply_init (&reply);
    router_request_t *request = s_request (self, ROUTER_MSG_GET);
    s_request_object (request, collection_id, key);
    if (unified_id)
        s_request_unified_id (request, *unified_id);
    result = s_exchange (self, NULL, 0, "get-reply", &reply);
    uint64_t slice_num = 0;
    bool completed = false;
    if (result == CLIENT_OK)
        result = s_get_fields (self, &reply, "get-reply", object, &slice_num, &completed);
    if (result == CLIENT_OK && slice_num != 0)
        result = s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's get-reply carries slice %" PRIu64
                         ", not 0", slice_num);
    if (result == CLIENT_OK && unified_id && object->unified_id != *unified_id)
        result = s_fail (self, CLIENT_PROTOCOL_ERROR, "asked for version %" PRIu64 ", the router sent %"
                         PRIu64, *unified_id, object->unified_id);
    if (result == CLIENT_OK) {
        const msgpack_object *meta = router_reply_field (reply.header, "meta");
        if (meta && meta->type == MSGPACK_OBJECT_MAP
        &&  wire_pack_object (meta, &object->meta, &object->meta_size) != 0)
            result = s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    }
    uint64_t version = object->unified_id;
    uint64_t received = 0;
    while (result == CLIENT_OK) {
        //  The data frames of this slice
        zframe_t *frame = zmsg_first (reply.msg);         //  frame 0, the header
        for (frame = zmsg_next (reply.msg); frame; frame = zmsg_next (reply.msg)) {
            size_t size = zframe_size (frame);
            if (size > object->size - received) {
                result = s_fail (self, CLIENT_DATA_ERROR, "the router sent more than the object's %" PRIu64
                                 " bytes", object->size);
                break;
            }
            if (size == 0)
                continue;
            if (write (arg, zframe_data (frame), size) != 0) {
                result = s_fail (self, CLIENT_CALLBACK_ERROR, "writing the object failed after %" PRIu64
                                 " bytes", received);
                break;
            }
            digest_md5_update (md5, zframe_data (frame), size);
            received += size;
            s_progress (self, received, object->size);
        }
        if (result != CLIENT_OK || completed)
            break;

        //  The next slice
        slice_num++;
        if (slice_num >= object->slice_count) {
            result = s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's slice %" PRIu64 " of %" PRIu32
                             " is not marked completed", slice_num - 1, object->slice_count);
            break;
        }
        request = s_request (self, ROUTER_MSG_GET_NEXT);
        s_request_object (request, collection_id, key);
        s_request_unified_id (request, version);
        request->slice_num = (uint32_t) slice_num;
        request->present |= ROUTER_FIELD_SLICE_NUM;
        result = s_exchange (self, NULL, 0, "get-next-reply", &reply);
        if (result != CLIENT_OK)
            break;
        uint64_t next_num;
        client_object_t next;
        memset (&next, 0, sizeof next);
        result = s_get_fields (self, &reply, "get-next-reply", &next, &next_num, &completed);
        if (result == CLIENT_OK
        &&  (next_num != slice_num || next.unified_id != version || next.size != object->size
          || memcmp (next.file_hash, object->file_hash, DIGEST_MD5_SIZE) != 0))
            result = s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's get-next-reply for slice %" PRIu64
                             " does not match the request or the object", slice_num);
    }
    if (result == CLIENT_OK) {
        uint8_t digest [DIGEST_MD5_SIZE];
        digest_md5_final (md5, digest);
        if (received != object->size)
            result = s_fail (self, CLIENT_DATA_ERROR, "received %" PRIu64 " bytes of a %" PRIu64 "-byte object",
                             received, object->size);
        else
        if (memcmp (digest, object->file_hash, DIGEST_MD5_SIZE) != 0) {
            char got [DIGEST_MD5_BASE64_SIZE], expected [DIGEST_MD5_BASE64_SIZE];
            digest_md5_to_base64 (digest, got);
            digest_md5_to_base64 (object->file_hash, expected);
            result = s_fail (self, CLIENT_DATA_ERROR, "the object received has MD5 %s, not its file-hash %s",
                             got, expected);
        }
    }
    s_reply_reset (&reply);
    digest_md5_destroy (&md5);
    if (object == &local)
        client_object_clear (&local);
    return result;
}


//  --------------------------------------------------------------------------
//  delete, list-versions, ping

client_result_t
client_delete (client_t *self, uint32_t collection_id, const char *key, const uint64_t *unified_id,
               uint64_t *tombstone_p)
{
    assert (self);
    self->error [0] = 0;
    client_result_t result = s_check_key (self, key);
    if (result == CLIENT_OK)
        result = s_ready (self);
    if (result != CLIENT_OK)
        return result;
    router_request_t *request = s_request (self, ROUTER_MSG_DELETE);
    s_request_object (request, collection_id, key);
    if (unified_id)
        s_request_unified_id (request, *unified_id);
    s_reply_t reply;
    s_reply_init (&reply);
    result = s_exchange (self, NULL, 0, "delete-reply", &reply);
    uint64_t tombstone = 0;
    if (result == CLIENT_OK)
        result = s_uint_field (self, &reply, "delete-reply", "unified-id", UINT64_MAX, &tombstone);
    if (result == CLIENT_OK && tombstone_p)
        *tombstone_p = tombstone;
    s_reply_reset (&reply);
    return result;
}

//  The list a reply carries in field name: *list_p the array, *entries_p a
//  zeroed array of as many entries of entry_size (NULL when empty) for the
//  caller to fill, *count_p their number
static client_result_t
s_reply_list (client_t *self, const s_reply_t *reply, const char *reply_type, const char *name,
              size_t entry_size, const msgpack_object **list_p, void **entries_p, size_t *count_p)
{
    *entries_p = NULL;
    *count_p = 0;
    const msgpack_object *list = router_reply_field (reply->header, name);
    if (!list || list->type != MSGPACK_OBJECT_ARRAY)
        return s_bad_field (self, reply_type, name);
    if (list->via.array.size > 0) {
        *entries_p = calloc (list->via.array.size, entry_size);
        if (!*entries_p)
            return s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    }
    *list_p = list;
    *count_p = list->via.array.size;
    return CLIENT_OK;
}

//  The fields every entry of a version or key list has: unified-id, size,
//  and an optional timestamp. True if they are usable.
static bool
s_entry_common (const msgpack_object *entry, uint64_t *unified_id_p, uint64_t *size_p,
                char *timestamp, size_t timestamp_size)
{
    const msgpack_object *id = wire_map_find (entry, "unified-id");
    const msgpack_object *size = wire_map_find (entry, "size");
    const msgpack_object *stamp = wire_map_find (entry, "timestamp");
    return id && size
        && wire_get_uint (id, 0, UINT64_MAX, unified_id_p) == 0
        && wire_get_uint (size, 0, UINT64_MAX, size_p) == 0
        && (!stamp || router_reply_str_copy (stamp, timestamp, timestamp_size) == 0);
}

client_result_t
client_versions (client_t *self, uint32_t collection_id, const char *key, client_version_t **versions_p,
                 size_t *count_p)
{
    assert (self);
    assert (versions_p);
    assert (count_p);
    *versions_p = NULL;
    *count_p = 0;
    self->error [0] = 0;
    client_result_t result = s_check_key (self, key);
    if (result == CLIENT_OK)
        result = s_ready (self);
    if (result != CLIENT_OK)
        return result;
    s_request_object (s_request (self, ROUTER_MSG_LIST_VERSIONS), collection_id, key);
    s_reply_t reply;
    s_reply_init (&reply);
    result = s_exchange (self, NULL, 0, "list-versions-reply", &reply);
    const msgpack_object *list = NULL;
    client_version_t *versions = NULL;
    size_t count = 0;
    if (result == CLIENT_OK)
        result = s_reply_list (self, &reply, "list-versions-reply", "versions", sizeof (client_version_t),
                               &list, (void **) &versions, &count);
    for (size_t index = 0; result == CLIENT_OK && index < count; index++) {
        const msgpack_object *entry = &list->via.array.ptr [index];
        client_version_t *version = &versions [index];
        const msgpack_object *hash = wire_map_find (entry, "file-hash");
        bool usable = s_entry_common (entry, &version->unified_id, &version->size, version->timestamp,
                                      sizeof version->timestamp)
                   && hash && wire_get_digest (hash, version->file_hash) == 0;
        if (!usable)
            result = s_fail (self, CLIENT_PROTOCOL_ERROR,
                             "the router's list-versions-reply has an unusable entry %zu", index);
    }
    if (result == CLIENT_OK) {
        *versions_p = versions;
        *count_p = count;
    }
    else
        free (versions);
    s_reply_reset (&reply);
    return result;
}

void
client_ping_clear (client_ping_t *ping)
{
    if (!ping)
        return;
    free (ping->nodes);
    memset (ping, 0, sizeof *ping);
}

client_result_t
client_ping (client_t *self, client_ping_t *ping)
{
    assert (self);
    assert (ping);
    memset (ping, 0, sizeof *ping);
    client_result_t result = s_ready (self);
    if (result != CLIENT_OK)
        return result;
    s_request (self, ROUTER_MSG_PING);
    s_reply_t reply;
    s_reply_init (&reply);
    result = s_exchange (self, NULL, 0, "ping-reply", &reply);
    uint64_t value;
    if (result == CLIENT_OK && router_reply_field (reply.header, "cluster")
    &&  router_reply_str_copy (router_reply_field (reply.header, "cluster"), ping->cluster, sizeof ping->cluster) != 0)
        result = s_bad_field (self, "ping-reply", "cluster");
    if (result == CLIENT_OK && router_reply_field (reply.header, "version")
    &&  router_reply_str_copy (router_reply_field (reply.header, "version"), ping->version, sizeof ping->version) != 0)
        result = s_bad_field (self, "ping-reply", "version");
    if (result == CLIENT_OK && router_reply_field (reply.header, "data-shards")) {
        result = s_uint_field (self, &reply, "ping-reply", "data-shards", 255, &value);
        ping->data_shards = (int) value;
    }
    if (result == CLIENT_OK && router_reply_field (reply.header, "total-shards")) {
        result = s_uint_field (self, &reply, "ping-reply", "total-shards", 255, &value);
        ping->total_shards = (int) value;
    }
    if (result == CLIENT_OK && router_reply_field (reply.header, "handoff-writes"))
        result = s_uint_field (self, &reply, "ping-reply", "handoff-writes", UINT64_MAX,
                               &ping->handoff_writes);
    if (result == CLIENT_OK && router_reply_field (reply.header, "cluster-fingerprint"))
        router_reply_str_copy (router_reply_field (reply.header, "cluster-fingerprint"), ping->fingerprint, sizeof ping->fingerprint);
    const msgpack_object *nodes = result == CLIENT_OK? router_reply_field (reply.header, "nodes"): NULL;
    if (nodes && nodes->type != MSGPACK_OBJECT_ARRAY)
        result = s_bad_field (self, "ping-reply", "nodes");
    else
    if (nodes && nodes->via.array.size > 0) {
        ping->nodes = (client_node_t *) calloc (nodes->via.array.size, sizeof (client_node_t));
        if (!ping->nodes)
            result = s_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
        for (uint32_t index = 0; result == CLIENT_OK && index < nodes->via.array.size; index++) {
            const msgpack_object *entry = &nodes->via.array.ptr [index];
            const msgpack_object *reachable = entry->type == MSGPACK_OBJECT_MAP?
                                              wire_map_find (entry, "reachable"): NULL;
            if (entry->type != MSGPACK_OBJECT_MAP
            ||  router_reply_str_copy (wire_map_find (entry, "name"), ping->nodes [index].name, sizeof ping->nodes [index].name) != 0
            ||  !reachable || reachable->type != MSGPACK_OBJECT_BOOLEAN)
                result = s_fail (self, CLIENT_PROTOCOL_ERROR, "the router's ping-reply has an unusable node %u",
                                 (unsigned) index);
            else {
                client_node_t *node = &ping->nodes [index];
                node->reachable = reachable->via.boolean;
                struct { const char *key; int64_t *field; } figures [] = {
                    { "last-answer-ms", &node->last_answer_ms }, { "free-bytes", &node->free_bytes },
                    { "total-bytes", &node->total_bytes }, { "live-bytes", &node->live_bytes },
                    { "garbage-bytes", &node->garbage_bytes }, { "handoff-held", &node->handoff_held },
                    { "damaged-records", &node->damaged_records },
                };
                for (size_t figure = 0; figure < sizeof figures / sizeof figures [0]; figure++) {
                    const msgpack_object *found = wire_map_find (entry, figures [figure].key);
                    *figures [figure].field = found && found->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                            && found->via.u64 <= INT64_MAX? (int64_t) found->via.u64: -1;
                }
                const msgpack_object *mismatch = wire_map_find (entry, "cluster-mismatch");
                if (mismatch)
                    router_reply_str_copy (mismatch, node->mismatch, sizeof node->mismatch);
            }
            ping->node_count = index + 1;
        }
    }
    if (result != CLIENT_OK) {
        char saved [sizeof self->error];
        memcpy (saved, self->error, sizeof saved);
        client_ping_clear (ping);
        memcpy (self->error, saved, sizeof saved);
    }
    s_reply_reset (&reply);
    return result;
}


//  --------------------------------------------------------------------------
//  list-keys (one page)

client_result_t
client_list_keys (client_t *self, uint32_t collection_id, const char *prefix, size_t prefix_size,
                  const char *start_after, size_t start_after_size, uint32_t limit,
                  client_key_t **keys_p, size_t *count_p, bool *truncated_p)
{
    assert (self);
    assert (keys_p && count_p && truncated_p);
    assert (limit >= 1 && limit <= LIMIT_LIST_KEYS_MAX);
    *keys_p = NULL;
    *count_p = 0;
    *truncated_p = false;
    self->error [0] = 0;
    if (prefix_size > LIMIT_KEY_MAX || start_after_size > LIMIT_KEY_MAX)
        return s_fail (self, CLIENT_INVALID_REQUEST, "prefix or start-after longer than %d bytes",
                       LIMIT_KEY_MAX);
    client_result_t result = s_ready (self);
    if (result != CLIENT_OK)
        return result;
    router_request_t *request = s_request (self, ROUTER_MSG_LIST_KEYS);
    request->collection_id = collection_id;
    request->limit = limit;
    request->present |= ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_LIMIT;
    if (prefix_size) {
        memcpy (request->prefix, prefix, prefix_size);
        request->prefix_size = prefix_size;
        request->present |= ROUTER_FIELD_PREFIX;
    }
    if (start_after_size) {
        memcpy (request->start_after, start_after, start_after_size);
        request->start_after_size = start_after_size;
        request->present |= ROUTER_FIELD_START_AFTER;
    }
    s_reply_t reply;
    s_reply_init (&reply);
    result = s_exchange (self, NULL, 0, "list-keys-reply", &reply);
    const msgpack_object *list = NULL;
    client_key_t *keys = NULL;
    size_t count = 0;
    bool truncated = false;
    if (result == CLIENT_OK)
        result = s_reply_list (self, &reply, "list-keys-reply", "keys", sizeof (client_key_t),
                               &list, (void **) &keys, &count);
    if (result == CLIENT_OK && router_reply_get_bool (reply.header, "truncated", &truncated) != 0)
        result = s_bad_field (self, "list-keys-reply", "truncated");
    for (size_t index = 0; result == CLIENT_OK && index < count; index++) {
        const msgpack_object *entry = &list->via.array.ptr [index];
        client_key_t *key = &keys [index];
        const msgpack_object *name = wire_map_find (entry, "key");
        const msgpack_object *deleted = wire_map_find (entry, "deleted");
        bool usable = s_entry_common (entry, &key->unified_id, &key->size, key->timestamp,
                                      sizeof key->timestamp)
                   && name && deleted && deleted->type == MSGPACK_OBJECT_BOOLEAN
                   && (name->type == MSGPACK_OBJECT_STR || name->type == MSGPACK_OBJECT_BIN)
                   && name->via.str.size <= LIMIT_KEY_MAX;
        if (usable) {
            //  str and bin share their layout in msgpack-c
            memcpy (key->key, name->via.str.ptr, name->via.str.size);
            key->key [name->via.str.size] = 0;
            key->key_size = name->via.str.size;
            key->deleted = deleted->via.boolean;
        }
        else
            result = s_fail (self, CLIENT_PROTOCOL_ERROR,
                             "the router's list-keys-reply has an unusable entry %zu", index);
    }
    if (result == CLIENT_OK) {
        *keys_p = keys;
        *count_p = count;
        *truncated_p = truncated;
    }
    else
        free (keys);
    s_reply_reset (&reply);
    return result;
}


//  --------------------------------------------------------------------------
//  repair (one object)

client_result_t
client_repair (client_t *self, uint32_t collection_id, const char *key, const char *node,
               client_repair_t *repair)
{
    assert (self);
    assert (repair);
    memset (repair, 0, sizeof (*repair));
    self->error [0] = 0;
    client_result_t result = s_check_key (self, key);
    if (result == CLIENT_OK)
        result = s_ready (self);
    if (result != CLIENT_OK)
        return result;
    router_request_t *request = s_request (self, ROUTER_MSG_REPAIR);
    s_request_object (request, collection_id, key);
    if (node) {
        snprintf (request->node, sizeof request->node, "%s", node);
        request->present |= ROUTER_FIELD_NODE;
    }
    s_reply_t reply;
    s_reply_init (&reply);
    result = s_exchange (self, NULL, 0, "repair-reply", &reply);
    if (result == CLIENT_OK)
        result = s_uint_field (self, &reply, "repair-reply", "versions", UINT64_MAX, &repair->versions);
    if (result == CLIENT_OK)
        result = s_uint_field (self, &reply, "repair-reply", "rebuilt", UINT64_MAX, &repair->rebuilt);
    if (result == CLIENT_OK)
        result = s_uint_field (self, &reply, "repair-reply", "rebuilt-bytes", UINT64_MAX,
                               &repair->rebuilt_bytes);
    const msgpack_object *list = result == CLIENT_OK? router_reply_field (reply.header, "unrecoverable"): NULL;
    if (result == CLIENT_OK && (!list || list->type != MSGPACK_OBJECT_ARRAY))
        result = s_bad_field (self, "repair-reply", "unrecoverable");
    if (result == CLIENT_OK) {
        repair->unrecoverable_count = list->via.array.size;
        for (uint32_t index = 0; index < list->via.array.size; index++) {
            uint64_t id = 0;
            if (wire_get_uint (&list->via.array.ptr [index], 0, UINT64_MAX, &id)) {
                result = s_bad_field (self, "repair-reply", "unrecoverable");
                break;
            }
            if (index < 16)
                repair->unrecoverable [index] = id;
        }
    }
    s_reply_reset (&reply);
    return result;
}
