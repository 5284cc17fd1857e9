/*  =========================================================================
    client - the C client of strata-router (cluster/ROUTER.md)

    This file is the client itself and one exchange with the router; the
    calls are in client_transfer.c and client_query.c (client_core.h).

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

#include "client_core.h"
#include "curve.h"
#include "endpoint.h"
#include "router_reply.h"
#include "router_request.h"
#include "wire.h"

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

client_result_t
client_core_fail (client_t *self, client_result_t result, const char *format, ...)
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
client_result_t
client_core_ready (client_t *self)
{
    self->error [0] = 0;
    if (!self->dealer && s_socket_open (self) != 0)
        return client_core_fail (self, CLIENT_SYSTEM_ERROR, "cannot create a socket for %s: %s",
                                 self->endpoint, zmq_strerror (zmq_errno ()));
    while (s_monitor_ready (self, 0))
        s_monitor_read (self);
    int64_t deadline = zclock_mono () + self->connect_timeout_ms;
    while (!self->connected) {
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0)
            return client_core_fail (self, CLIENT_NO_REPLY,
                                     "cannot connect to the router at %s within %.1f s (%s)",
                                     self->endpoint, self->connect_timeout_ms / 1000.0,
                                     self->retried? "connection refused or unreachable; is strata-router running?"
                                                  : "no answer");
        if (zsys_interrupted)
            return client_core_fail (self, CLIENT_SYSTEM_ERROR, "interrupted");
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

void
client_core_progress (client_t *self, uint64_t done, uint64_t total)
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

client_result_t
client_core_check_key (client_t *self, const char *key)
{
    assert (key);
    if (!client_key_valid (key))
        return client_core_fail (self, CLIENT_INVALID_REQUEST,
                                 "key: must be 1..%d bytes of UTF-8 without null bytes (got %zu bytes)",
                                 LIMIT_KEY_MAX, strlen (key));
    return CLIENT_OK;
}

client_result_t
client_core_check_meta (client_t *self, const char *const *meta)
{
    if (!meta)
        return CLIENT_OK;
    size_t index;
    for (index = 0; meta [index]; index += 2) {
        if (index / 2 >= LIMIT_META_ENTRIES)
            return client_core_fail (self, CLIENT_INVALID_REQUEST, "meta: more than %d entries", LIMIT_META_ENTRIES);
        const char *name = meta [index];
        const char *value = meta [index + 1];
        if (!value)
            return client_core_fail (self, CLIENT_INVALID_REQUEST, "meta: name without a value");
        size_t name_size = strlen (name);
        size_t value_size = strlen (value);
        if (name_size < 1 || name_size > LIMIT_META_STRING_MAX
        ||  !wire_utf8_valid (name, name_size, false))
            return client_core_fail (self, CLIENT_INVALID_REQUEST,
                                     "meta: names must be 1..%d bytes of UTF-8", LIMIT_META_STRING_MAX);
        if (value_size > LIMIT_META_STRING_MAX || !wire_utf8_valid (value, value_size, false))
            return client_core_fail (self, CLIENT_INVALID_REQUEST,
                                     "meta: values must be 0..%d bytes of UTF-8", LIMIT_META_STRING_MAX);
    }
    return CLIENT_OK;
}


//  --------------------------------------------------------------------------
//  Requests (encoded by router_request_encode)

//  Start a request of type in self->request, with a new request-id
router_request_t *
client_core_request (client_t *self, router_msg_t type)
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
void
client_core_request_object (router_request_t *request, uint32_t collection_id, const char *key)
{
    request->collection_id = collection_id;
    request->key_size = strlen (key);
    assert (request->key_size <= LIMIT_KEY_MAX);
    memcpy (request->key, key, request->key_size + 1);
    request->present |= ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_KEY;
}

void
client_core_request_unified_id (router_request_t *request, uint64_t unified_id)
{
    request->unified_id = unified_id;
    request->present |= ROUTER_FIELD_UNIFIED_ID;
}

void
client_core_request_upload_id (router_request_t *request, const char *upload_id)
{
    snprintf (request->upload_id, sizeof request->upload_id, "%s", upload_id);
    request->present |= ROUTER_FIELD_UPLOAD_ID;
}

//  meta (already checked): the pairs as a MessagePack map of strings
void
client_core_request_meta (client_t *self, router_request_t *request, const char *const *meta)
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
client_result_t
client_core_send (client_t *self, const void *data, size_t size)
{
    if (self->encode_failed || router_request_encode (self->request, &self->buffer) != 0)
        return client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory encoding a request");
    void *handle = zsock_resolve (self->dealer);
    const uint8_t *bytes = (const uint8_t *) data;
    size_t offset = 0;
    bool header = true;
    while (header || offset < size) {
        const void *frame = header? (const void *) self->buffer.data: (const void *) (bytes + offset);
        size_t frame_size = header? self->buffer.size: size - offset;
        if (!header && frame_size > CLIENT_FRAME_BYTES)
            frame_size = CLIENT_FRAME_BYTES;
        bool more = header? size > 0: offset + frame_size < size;
        if (zmq_send (handle, frame, frame_size, more? ZMQ_SNDMORE: 0) == -1) {
            int error = zmq_errno ();
            if (error == EINTR && !zsys_interrupted)
                continue;
            //  Part of a multipart message may be queued: start afresh
            bool first = header;
            s_socket_close (self);
            if (error == EAGAIN && first)
                return client_core_fail (self, CLIENT_NO_REPLY, "the router at %s did not take the request within %.1f s",
                                         self->endpoint, self->timeout_ms / 1000.0);
            return client_core_fail (self, CLIENT_SYSTEM_ERROR, "cannot send to the router at %s: %s",
                                     self->endpoint, error == EINTR? "interrupted": zmq_strerror (error));
        }
        if (header)
            header = false;
        else
            offset += frame_size;
    }
    return CLIENT_OK;
}

void
client_core_reply_init (client_reply_t *reply)
{
    reply->msg = NULL;
    reply->header = NULL;
}

void
client_core_reply_reset (client_reply_t *reply)
{
    zmsg_destroy (&reply->msg);
    router_reply_destroy (&reply->header);
}

//  A reply field the call needs was missing or ill-typed
client_result_t
client_core_bad_field (client_t *self, const char *reply_type, const char *field)
{
    return client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's %s has no usable '%s'", reply_type, field);
}

client_result_t
client_core_uint_field (client_t *self, const client_reply_t *reply, const char *reply_type, const char *name,
                        uint64_t max, uint64_t *value_p)
{
    if (router_reply_get_uint (reply->header, name, max, value_p) != 0)
        return client_core_bad_field (self, reply_type, name);
    return CLIENT_OK;
}

client_result_t
client_core_digest_field (client_t *self, const client_reply_t *reply, const char *reply_type, const char *name,
                          uint8_t digest [DIGEST_MD5_SIZE])
{
    if (router_reply_get_digest (reply->header, name, digest) != 0)
        return client_core_bad_field (self, reply_type, name);
    return CLIENT_OK;
}

//  Turn a reply's result and error-message into the call's result
static client_result_t
s_reply_result (client_t *self, const client_reply_t *reply, const char *request_type)
{
    const char *name = router_reply_result_text (reply->header);
    if (!name)
        return client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's reply to %s has no result", request_type);
    router_result_t result = router_reply_result (reply->header);
    if (result == ROUTER_SUCCESS)
        return CLIENT_OK;
    const char *message = router_reply_error (reply->header);
    if (result == ROUTER_FORBIDDEN)
        return client_core_fail (self, CLIENT_FORBIDDEN, "forbidden: %s",
                                 *message? message: "this client's key has no grant for that (auth/policy)");
    if (result < ROUTER_RESULT_COUNT)
        return client_core_fail (self, s_from_router [result], "%s: %s", name,
                                 *message? message: "(the router gave no error-message)");
    char safe [80];
    wire_sanitize (name, strlen (name), safe, sizeof safe);
    return client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router answered %s with unknown result '%s': %s",
                             request_type, safe, message);
}

//  Wait at most the timeout for the reply to self->request, dropping
//  replies to other requests. On CLIENT_OK the reply succeeded and has
//  reply_type; any router failure is returned as its result code.
client_result_t
client_core_recv (client_t *self, const char *reply_type, client_reply_t *reply)
{
    const char *request_id = self->request->request_id;
    const char *request_type = router_msg_name (self->request->type);
    client_core_reply_reset (reply);
    int64_t deadline = zclock_mono () + self->timeout_ms;
    bool disconnected = false;
    while (true) {
        int64_t remaining = deadline - zclock_mono ();
        if (disconnected)
            remaining = 0;          //  one last look for a reply already queued
        else
        if (remaining <= 0)
            return client_core_fail (self, CLIENT_NO_REPLY, "no reply from the router at %s to %s within %.1f s",
                                     self->endpoint, request_type, self->timeout_ms / 1000.0);
        zmq_pollitem_t items [] = {
            { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, disconnected? 1: 2, (long) remaining);
        if (rc == -1) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            return client_core_fail (self, CLIENT_SYSTEM_ERROR, "waiting for the router: %s",
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
                                                     CLIENT_MAX_REPLY_HEADER, why, sizeof why);
            if (!reply->header) {
                zmsg_destroy (&msg);
                return client_core_fail (self, CLIENT_PROTOCOL_ERROR,
                                         "the router sent a reply whose header is not a MessagePack map (%s)", why);
            }
            reply->msg = msg;
            const char *id = router_reply_request_id (reply->header);
            if (!id) {
                //  Cannot be matched; if it says why, that is the best we know
                client_result_t result = s_reply_result (self, reply, request_type);
                if (result == CLIENT_OK)
                    result = client_core_fail (self, CLIENT_PROTOCOL_ERROR,
                                               "the router sent a reply without request-id");
                return result;
            }
            if (!streq (id, request_id)) {
                client_core_reply_reset (reply);      //  a late reply to an abandoned call
                continue;
            }
            client_result_t result = s_reply_result (self, reply, request_type);
            if (result != CLIENT_OK)
                return result;
            const char *type = router_reply_type (reply->header);
            if (!type)
                return client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's reply to %s has no message-type",
                                         request_type);
            if (!streq (type, reply_type)) {
                char safe [LIMIT_MESSAGE_TYPE_MAX + 8];
                wire_sanitize (type, strlen (type), safe, sizeof safe);
                return client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router answered %s with %s, not %s",
                                         request_type, safe, reply_type);
            }
            return CLIENT_OK;
        }
        if (disconnected)
            return client_core_fail (self, CLIENT_NO_REPLY, "lost the connection to the router at %s while waiting for %s",
                                     self->endpoint, reply_type);
        if (items [1].revents & ZMQ_POLLIN)
            if (s_monitor_read (self) == ZMQ_EVENT_DISCONNECTED)
                disconnected = true;
    }
}

//  Send self->request (plus data) and receive its reply
client_result_t
client_core_exchange (client_t *self, const void *data, size_t size, const char *reply_type, client_reply_t *reply)
{
    client_result_t result = client_core_send (self, data, size);
    if (result == CLIENT_OK)
        result = client_core_recv (self, reply_type, reply);
    return result;
}


