/*  =========================================================================
    node_client - the client's calls that talk to one storage node directly

    One request, one reply: a PUSH socket connected to the node's writer
    endpoint sends it; a PULL socket bound for the purpose (reply_endpoint,
    or an address chosen to reach the node: loopback, the local address
    that routes to it, or an ipc path next to the node's own socket)
    receives the reply, matched by message-id.
    =========================================================================
*/

#include <assert.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>
#include <msgpack.h>

#include "node_client.h"
#include "curve.h"
#include "endpoint.h"
#include "request.h"

static client_result_t
s_node_fail (char *error, size_t error_size, client_result_t result, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return result;
}

static bool
s_host_is_loopback (const char *host)
{
    return streq (host, "localhost") || strncmp (host, "127.", 4) == 0 || streq (host, "::1");
}

//  Find the local address that routes to host:port, as text (IPv6 in
//  brackets). 0 or -1.
static int
s_local_address (const char *host, int port, char *out, size_t out_size)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
    struct addrinfo *found = NULL;
    char service [16];
    snprintf (service, sizeof service, "%d", port);
    if (getaddrinfo (host, service, &hints, &found) != 0 || !found)
        return -1;
    int rc = -1;
    int fd = socket (found->ai_family, SOCK_DGRAM, 0);
    struct sockaddr_storage local;
    socklen_t local_size = sizeof local;
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen) == 0
    &&  getsockname (fd, (struct sockaddr *) &local, &local_size) == 0) {
        char text [INET6_ADDRSTRLEN];
        if (local.ss_family == AF_INET
        &&  inet_ntop (AF_INET, &((struct sockaddr_in *) &local)->sin_addr, text, sizeof text)) {
            snprintf (out, out_size, "%s", text);
            rc = 0;
        }
        else
        if (local.ss_family == AF_INET6
        &&  inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &local)->sin6_addr, text, sizeof text)) {
            snprintf (out, out_size, "[%s]", text);
            rc = 0;
        }
    }
    if (fd >= 0)
        close (fd);
    freeaddrinfo (found);
    return rc;
}

//  Bind pull for the reply; writes the address to send as client-address
static client_result_t
s_reply_bind (zsock_t *pull, const endpoint_t *node, const char *reply_endpoint, char *address,
              size_t address_size, char *error, size_t error_size)
{
    char bind [300];
    if (reply_endpoint)
        snprintf (bind, sizeof bind, "%s", reply_endpoint);
    else
    if (node->scheme == ENDPOINT_IPC) {
        //  Next to the node's own socket: nodes take ipc reply addresses
        //  only inside their reply/ipc-dir, where their sockets live
        uint32_t random_part = (uint32_t) zclock_usecs ();
        const char *slash = strrchr (node->host, '/');
        int dir_size = slash? (int) (slash - node->host): 4;
        snprintf (bind, sizeof bind, "ipc://%.*s/strata-stat-%d-%08x", dir_size,
                  slash? node->host: "/tmp", (int) getpid (), random_part);
    }
    else
    if (s_host_is_loopback (node->host))
        snprintf (bind, sizeof bind, strchr (node->host, ':')? "tcp://[::1]:*": "tcp://127.0.0.1:*");
    else {
        char local [INET6_ADDRSTRLEN + 2];
        if (s_local_address (node->host, node->port, local, sizeof local) != 0)
            return s_node_fail (error, error_size, CLIENT_NO_REPLY,
                                "cannot find a local address that reaches %s", node->host);
        snprintf (bind, sizeof bind, "tcp://%s:*", local);
    }
    if (strchr (bind, '['))
        zsock_set_ipv6 (pull, 1);
    int port = zsock_bind (pull, "%s", bind);
    if (port == -1)
        return s_node_fail (error, error_size, CLIENT_INVALID_REQUEST, "cannot bind %s for the reply", bind);
    if (strncmp (bind, "tcp://", 6) == 0 && strstr (bind, ":*")) {
        size_t host_size = (size_t) (strstr (bind, ":*") - bind);
        snprintf (address, address_size, "%.*s:%d", (int) host_size, bind, port);
    }
    else
        snprintf (address, address_size, "%s", bind);
    return CLIENT_OK;
}

static client_result_t
s_node_result (result_t result)
{
    switch (result) {
        case RESULT_SUCCESS:                return CLIENT_OK;
        case RESULT_NOT_FOUND:              return CLIENT_NOT_FOUND;
        case RESULT_INVALID_REQUEST:        return CLIENT_INVALID_REQUEST;
        case RESULT_UNKNOWN_MESSAGE_TYPE:   return CLIENT_UNKNOWN_MESSAGE_TYPE;
        case RESULT_IO_ERROR:               return CLIENT_IO_ERROR;
        case RESULT_OVERLOADED:             return CLIENT_OVERLOADED;
        case RESULT_FORBIDDEN:              return CLIENT_FORBIDDEN;
        default:                            return CLIENT_PROTOCOL_ERROR;
    }
}

client_result_t
client_node_stats (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
                   uint8_t **stats_p, size_t *stats_size_p, char *error, size_t error_size)
{
    return client_node_stats_curve (node_endpoint, reply_endpoint, timeout_ms, NULL, NULL,
                                    stats_p, stats_size_p, error, error_size);
}

client_result_t
client_node_request (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
                     const char *client_cert_path, const char *cluster_public_path,
                     message_type_t type, double garbage_ratio, reply_t *reply,
                     char *error, size_t error_size)
{
    assert (node_endpoint);
    assert (timeout_ms > 0);
    assert (reply);
    assert (error && error_size > 0);
    *error = 0;
    //  what the request is called in errors, and in its message-id and
    //  client-tag ("stat-...", "strata-stat" for stats)
    const char *what = type == MSG_STATS? "stats": message_type_name (type);
    const char *tag = type == MSG_STATS? "stat": what;
    endpoint_t node;
    if (endpoint_parse (node_endpoint, &node) != 0
    ||  (node.scheme == ENDPOINT_TCP && (node.port == 0 || streq (node.host, "*"))))
        return s_node_fail (error, error_size, CLIENT_INVALID_REQUEST,
                            "'%s' is not a node endpoint (tcp://HOST:PORT or ipc://PATH)", node_endpoint);

    curve_t *curve = NULL;
    if (client_cert_path) {
        char curve_error [1200] = "";
        curve = curve_new (NULL, client_cert_path, cluster_public_path, curve_error, sizeof curve_error);
        if (!curve)
            return s_node_fail (error, error_size, CLIENT_INVALID_REQUEST, "%s", curve_error);
    }
    client_result_t result = CLIENT_OK;
    request_t *request = request_new ();
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    if (!request || !pull || !push) {
        result = s_node_fail (error, error_size, CLIENT_SYSTEM_ERROR, "out of memory or sockets");
        goto done;
    }
    if (curve && (curve_client (curve, pull) || curve_client (curve, push))) {
        result = s_node_fail (error, error_size, CLIENT_INVALID_REQUEST, "%s has no usable client key",
                              client_cert_path);
        goto done;
    }
    zsock_set_linger (pull, 0);
    zsock_set_linger (push, 0);
    zsock_set_sndtimeo (push, timeout_ms);
    char address [LIMIT_ADDRESS_MAX + 1];
    result = s_reply_bind (pull, &node, reply_endpoint, address, sizeof address, error, error_size);
    if (result != CLIENT_OK)
        goto done;
    if (zsock_connect (push, "%s", node_endpoint) != 0) {
        result = s_node_fail (error, error_size, CLIENT_INVALID_REQUEST, "cannot connect to %s", node_endpoint);
        goto done;
    }
    request->type = type;
    snprintf (request->message_id, sizeof request->message_id, "%s-%08x%08x",
              tag, (unsigned) getpid (), (unsigned) zclock_usecs ());
    snprintf (request->client_tag, sizeof request->client_tag, "strata-%s", tag);
    snprintf (request->client_address, sizeof request->client_address, "%s", address);
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
    if (garbage_ratio >= 0) {
        request->garbage_ratio = garbage_ratio;
        request->present |= FIELD_GARBAGE_RATIO;
    }
    if (request_encode (request, &buffer) != 0
    ||  zmq_send (zsock_resolve (push), buffer.data, buffer.size, 0) == -1) {
        result = s_node_fail (error, error_size, CLIENT_NO_REPLY, "cannot send the %s request to %s: %s",
                              what, node_endpoint, zmq_strerror (zmq_errno ()));
        goto done;
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t remaining = deadline - zclock_mono ();
        zmq_pollitem_t item = { zsock_resolve (pull), 0, ZMQ_POLLIN, 0 };
        if (remaining <= 0 || zmq_poll (&item, 1, (long) remaining) == 0) {
            result = s_node_fail (error, error_size, CLIENT_NO_REPLY,
                                  "no %s reply from the node at %s within %.1f s", what, node_endpoint,
                                  timeout_ms / 1000.0);
            break;
        }
        if (!(item.revents & ZMQ_POLLIN))
            continue;               //  interrupted
        zmsg_t *msg = zmsg_recv (pull);
        zframe_t *frame = msg? zmsg_first (msg): NULL;
        if (!frame) {
            zmsg_destroy (&msg);
            continue;
        }
        int rc = reply_decode (reply, zframe_data (frame), zframe_size (frame));
        zmsg_destroy (&msg);
        if (rc != 0) {
            result = s_node_fail (error, error_size, CLIENT_PROTOCOL_ERROR,
                                  "the node at %s sent a reply that is not a protocol reply", node_endpoint);
            break;
        }
        if (!streq (reply->message_id, request->message_id))
            continue;
        if (reply->result != RESULT_SUCCESS)
            result = s_node_fail (error, error_size, s_node_result (reply->result), "%s: %s",
                                  result_name (reply->result), reply->error_message);
        else
        if (!streq (reply->message_type, message_type_reply_name (type)))
            result = s_node_fail (error, error_size, CLIENT_PROTOCOL_ERROR,
                                  "the node at %s answered %s with %s", node_endpoint, what,
                                  reply->message_type);
        break;
    }
done:
    msgpack_sbuffer_destroy (&buffer);
    zsock_destroy (&push);
    zsock_destroy (&pull);
    request_destroy (&request);
    curve_destroy (&curve);
    return result;
}

//  client_node_request () with a reply of its own, left in *reply_p on
//  CLIENT_OK (the caller destroys it)
static client_result_t
s_node_call (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
             const char *client_cert_path, const char *cluster_public_path,
             message_type_t type, double garbage_ratio, reply_t **reply_p,
             char *error, size_t error_size)
{
    *reply_p = reply_new ();
    if (!*reply_p)
        return s_node_fail (error, error_size, CLIENT_SYSTEM_ERROR, "out of memory");
    client_result_t result = client_node_request (node_endpoint, reply_endpoint, timeout_ms,
                                                  client_cert_path, cluster_public_path, type,
                                                  garbage_ratio, *reply_p, error, error_size);
    if (result != CLIENT_OK)
        reply_destroy (reply_p);
    return result;
}

client_result_t
client_node_stats_curve (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
                         const char *client_cert_path, const char *cluster_public_path,
                         uint8_t **stats_p, size_t *stats_size_p, char *error, size_t error_size)
{
    assert (stats_p);
    assert (stats_size_p);
    *stats_p = NULL;
    *stats_size_p = 0;
    reply_t *reply = NULL;
    client_result_t result = s_node_call (node_endpoint, reply_endpoint, timeout_ms, client_cert_path,
                                          cluster_public_path, MSG_STATS, -1, &reply, error, error_size);
    if (result == CLIENT_OK && (!(reply->fields & REPLY_FIELD_STATS) || !reply->stats))
        result = s_node_fail (error, error_size, CLIENT_PROTOCOL_ERROR,
                              "the node at %s answered stats with %s without a stats map",
                              node_endpoint, reply->message_type);
    else
    if (result == CLIENT_OK) {
        *stats_p = reply->stats;
        *stats_size_p = reply->stats_size;
        reply->stats = NULL;        //  taken over
        reply->stats_size = 0;
    }
    reply_destroy (&reply);
    return result;
}

client_result_t
client_node_compact_curve (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
                           const char *client_cert_path, const char *cluster_public_path,
                           double garbage_ratio, uint64_t *files_p, uint64_t *bytes_p,
                           char *error, size_t error_size)
{
    assert (files_p);
    assert (bytes_p);
    *files_p = *bytes_p = 0;
    reply_t *reply = NULL;
    client_result_t result = s_node_call (node_endpoint, reply_endpoint, timeout_ms, client_cert_path,
                                          cluster_public_path, MSG_COMPACT, garbage_ratio, &reply,
                                          error, error_size);
    if (result == CLIENT_OK) {
        *files_p = reply->files_compacted;
        *bytes_p = reply->bytes_reclaimed;
    }
    reply_destroy (&reply);
    return result;
}

client_result_t
client_node_ping_curve (const char *node_endpoint, const char *reply_endpoint, int timeout_ms,
                        const char *client_cert_path, const char *cluster_public_path,
                        client_node_ping_t *ping, char *error, size_t error_size)
{
    assert (ping);
    memset (ping, 0, sizeof *ping);
    reply_t *reply = NULL;
    int64_t started = zclock_usecs ();
    client_result_t result = s_node_call (node_endpoint, reply_endpoint, timeout_ms, client_cert_path,
                                          cluster_public_path, MSG_PING, -1, &reply, error, error_size);
    if (result != CLIENT_OK)
        return result;
    ping->round_trip_us = zclock_usecs () - started;
    snprintf (ping->name, sizeof ping->name, "%s", reply->node_name);
    snprintf (ping->version, sizeof ping->version, "%s", reply->version);
    ping->uptime_seconds = reply->uptime_seconds;
    reply_destroy (&reply);
    return CLIENT_OK;
}
