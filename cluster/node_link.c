/*  =========================================================================
    node_link - the router's connections to the cluster's nodes

    Pending requests live in a hash by message-id (to match replies) and in
    a list in sending order; every request gets the same timeout, so that
    list is also deadline order and expiry only looks at its head.
    Message-ids are "<prefix>-<counter>", the prefix unique per link so a
    reply meant for an earlier router process never matches. Pings are
    pending requests without an owner.

    Per node, besides the two data sockets, a third PUSH socket to the
    writer endpoint carries the pings: the liveness connection. Pings are
    tiny, so its TCP connection never fills up even when the node is slow
    to read, and TCP_USER_TIMEOUT (the heartbeat timeout) measures the link
    and the node's host, not the node's load. No ZMTP PING is ever sent to
    a node's intake (see common/heartbeat.h). With ZMQ_IMMEDIATE a socket has an outgoing pipe
    (POLLOUT) only while it is connected, and ZeroMQ drops the pipe when
    the heartbeat times out (or TCP_USER_TIMEOUT drops a data connection):
    a socket that had a pipe and has none any more means the node was
    lost.
    =========================================================================
*/
#include <inttypes.h>
#include "node_link.h"
#include "heartbeat.h"
#include "timestamp.h"

#define S_CLIENT_TAG        "strata-router"
#define S_SEND_HWM          10000       //  requests queued per node socket
#define S_LINGER_MS         2000        //  at close, queued requests (cancels) still go out
#define S_MAX_REPLY_FRAMES  64          //  node replies carry one data frame

//  A request waiting for its reply
typedef struct {
    char message_id [40];           //  hash key
    void *owner;                    //  operation, or NULL for a ping
    size_t node;                    //  node index
    uint64_t cookie;                //  owner's tag
    int64_t deadline_ms;            //  timeout
    void *list_handle;              //  handle in the order list
    bool lost;                      //  its node was lost: expire now
} s_pending_t;

typedef struct {
    zsock_t *writer;                //  PUSH to the node's writer endpoint
    zsock_t *reader;                //  PUSH to the node's reader endpoint
    zsock_t *liveness;              //  PUSH to the writer endpoint: pings, heartbeats
    bool liveness_connected;        //  the liveness socket had a pipe since opened
    int64_t alive_ms;               //  last answer (0: none, or found disconnected)
    int64_t next_ping_ms;           //  when to ping next
    int64_t opened_ms;              //  when its sockets were (re)created
    bool writer_connected;          //  the writer socket had a pipe since opened
    bool reader_connected;          //  the reader socket had a pipe since opened
    bool ever_reached;              //  answered at least once
    size_t waiting;                 //  requests with an owner pending on it
    size_t resets;                  //  lost or reopened
    char *mismatch;                 //  the node's cluster-mismatch message, NULL if none
} s_node_t;

struct _node_link_t {
    cluster_config_t *cluster;      //  borrowed
    size_t node_count;              //  entries in nodes
    s_node_t *nodes;                //  per node
    zsock_t *replies;               //  PULL, bound on the reply endpoint
    char reply_address [320];       //  reply endpoint as sent in client-address
    int node_timeout_ms;            //  reply deadline and liveness window
    int ping_interval_ms;           //  between pings of one node; heartbeat interval
    int heartbeat_timeout_ms;       //  silent connection dropped after this
    int reconnect_max_ms;           //  longest wait between reconnect attempts
    curve_t *curve;                 //  borrowed, or NULL
    char prefix [24];               //  message-id prefix, unique per link
    uint64_t counter;               //  message-id counter
    zhashx_t *pending;              //  message-id -> s_pending_t (owns them)
    zlistx_t *order;                //  s_pending_t *, oldest first
    reply_t *reply;                 //  reply being decoded, reused
    msgpack_sbuffer buffer;         //  request being encoded, reused
    const char *fingerprint;        //  the cluster's, sent with every request
};

static void
s_pending_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static zsock_t *
s_push (node_link_t *self, const char *endpoint, bool liveness)
{
    zsock_t *sock = zsock_new (ZMQ_PUSH);
    if (!sock)
        return NULL;
    if (self->curve && curve_client (self->curve, sock)) {
        zsock_destroy (&sock);
        return NULL;
    }
    //  No ZMTP heartbeats towards a node's intake (common/heartbeat.h): the
    //  liveness socket's pings, sent every ping interval, are its probes,
    //  and a ping the node's host does not acknowledge within the
    //  heartbeat timeout drops the connection (TCP_USER_TIMEOUT)
    heartbeat_apply_data (sock, self->reconnect_max_ms, liveness? self->heartbeat_timeout_ms: 0,
                          self->reconnect_max_ms);
    zsock_set_immediate (sock, 1);
    zsock_set_sndhwm (sock, S_SEND_HWM);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_linger (sock, S_LINGER_MS);
    if (zsock_connect (sock, "%s", endpoint)) {
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

//  "tcp://host:*" bound on port → "tcp://host:port"
static void
s_resolve (char *out, size_t size, const char *endpoint, int port)
{
    const char *colon = strrchr (endpoint, ':');
    if (port > 0 && colon && streq (colon, ":*"))
        snprintf (out, size, "%.*s:%d", (int) (colon - endpoint), endpoint, port);
    else
        snprintf (out, size, "%s", endpoint);
}

node_link_t *
node_link_new (cluster_config_t *cluster, const char *reply_endpoint, int node_timeout_ms,
               int ping_interval_ms, size_t max_reply_bytes, char *error, size_t error_size)
{
    return node_link_new_curve (cluster, reply_endpoint, node_timeout_ms, ping_interval_ms,
                                3000, 500, max_reply_bytes, NULL, error, error_size);
}

node_link_t *
node_link_new_curve (cluster_config_t *cluster, const char *reply_endpoint, int node_timeout_ms,
                     int ping_interval_ms, int heartbeat_timeout_ms, int reconnect_max_ms,
                     size_t max_reply_bytes, curve_t *curve, char *error, size_t error_size)
{
    assert (cluster && reply_endpoint && error);
    assert (node_timeout_ms > 0 && ping_interval_ms > 0);
    assert (heartbeat_timeout_ms > 0 && reconnect_max_ms > 0);
    node_link_t *self = (node_link_t *) zmalloc (sizeof (node_link_t));
    self->cluster = cluster;
    self->fingerprint = cluster_config_fingerprint (cluster);
    self->node_timeout_ms = node_timeout_ms;
    self->ping_interval_ms = ping_interval_ms;
    self->heartbeat_timeout_ms = heartbeat_timeout_ms;
    self->reconnect_max_ms = reconnect_max_ms;
    self->curve = curve;
    snprintf (self->prefix, sizeof self->prefix, "%" PRIx64, (uint64_t) timestamp_now ());
    self->pending = zhashx_new ();
    zhashx_set_destructor (self->pending, s_pending_free);
    self->order = zlistx_new ();
    self->reply = reply_new ();
    msgpack_sbuffer_init (&self->buffer);

    self->replies = zsock_new (ZMQ_PULL);
    if (!self->replies) {
        snprintf (error, error_size, "cannot create the reply socket");
        goto failed;
    }
    if (curve && curve_client (curve, self->replies)) {
        snprintf (error, error_size, "CURVE: the router needs router/curve/client-cert to talk to the nodes");
        goto failed;
    }
    heartbeat_apply (self->replies, ping_interval_ms, heartbeat_timeout_ms, reconnect_max_ms);
    zsock_set_rcvhwm (self->replies, 100000);
    zsock_set_maxmsgsize (self->replies, (int64_t) max_reply_bytes);
    int port = zsock_bind (self->replies, "%s", reply_endpoint);
    if (port < 0) {
        snprintf (error, error_size, "cannot bind the reply endpoint %s: %s",
                  reply_endpoint, zmq_strerror (zmq_errno ()));
        goto failed;
    }
    s_resolve (self->reply_address, sizeof self->reply_address, reply_endpoint, port);

    self->node_count = cluster_config_node_count (cluster);
    self->nodes = (s_node_t *) zmalloc (self->node_count * sizeof (s_node_t));
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        node->opened_ms = zclock_mono ();
        node->writer = s_push (self, cluster_config_node_writer (cluster, index), false);
        node->reader = s_push (self, cluster_config_node_reader (cluster, index), false);
        node->liveness = s_push (self, cluster_config_node_writer (cluster, index), true);
        if (!node->writer || !node->reader || !node->liveness) {
            snprintf (error, error_size, "cannot connect to node '%s'",
                      cluster_config_node_name (cluster, index));
            goto failed;
        }
    }
    return self;

failed:
    node_link_destroy (&self);
    return NULL;
}

void
node_link_destroy (node_link_t **self_p)
{
    assert (self_p);
    node_link_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; self->nodes && index < self->node_count; index++) {
        zsock_destroy (&self->nodes [index].writer);
        zsock_destroy (&self->nodes [index].reader);
        zsock_destroy (&self->nodes [index].liveness);
        zstr_free (&self->nodes [index].mismatch);
    }
    free (self->nodes);
    zsock_destroy (&self->replies);
    zlistx_destroy (&self->order);
    zhashx_destroy (&self->pending);
    reply_destroy (&self->reply);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

zsock_t *
node_link_socket (node_link_t *self)
{
    assert (self);
    return self->replies;
}

const char *
node_link_reply_address (node_link_t *self)
{
    assert (self);
    return self->reply_address;
}

size_t
node_link_node_count (node_link_t *self)
{
    assert (self);
    return self->node_count;
}

size_t
node_link_pending (node_link_t *self)
{
    assert (self);
    return zhashx_size (self->pending);
}

//  Encode and send; takes the data frames. 0, or -1 if the node cannot
//  take it now.
static int
s_send (node_link_t *self, size_t node, node_endpoint_t endpoint, request_t *request, zmsg_t **data_p)
{
    zsock_t *sock = endpoint == NODE_WRITER? self->nodes [node].writer: self->nodes [node].reader;
    snprintf (request->cluster_fingerprint, sizeof request->cluster_fingerprint, "%s", self->fingerprint);
    request->present |= FIELD_CLUSTER_FINGERPRINT;
    if (request->type == MSG_PING)
        sock = self->nodes [node].liveness;
    if (!sock) {
        if (data_p)
            zmsg_destroy (data_p);
        self->nodes [node].alive_ms = 0;
        return -1;                  //  being reopened
    }
    msgpack_sbuffer_clear (&self->buffer);
    int rc = request_encode (request, &self->buffer);
    assert (rc == 0);               //  only fails for MSG_UNKNOWN: our bug
    bool more = data_p && *data_p && zmsg_size (*data_p) > 0;
    zframe_t *header = zframe_new (self->buffer.data, self->buffer.size);
    int flags = (more? ZFRAME_MORE: 0) | ZFRAME_DONTWAIT;
    int sent = zframe_send (&header, sock, flags | ZFRAME_REUSE);
    if (sent && zmq_errno () == EAGAIN) {
        //  Refused by a pipe that may only look full: ZeroMQ takes in the
        //  credit for messages the node has read on its own schedule, not
        //  on a refused DONTWAIT send; ZMQ_EVENTS takes it in now
        zsock_events (sock);
        sent = zframe_send (&header, sock, flags | ZFRAME_REUSE);
    }
    if (sent == 0)
        zframe_destroy (&header);
    if (sent) {
        zframe_destroy (&header);
        if (data_p)
            zmsg_destroy (data_p);
        self->nodes [node].alive_ms = 0;
        return -1;
    }
    //  Once the first frame is queued, the rest of the message is taken
    //  whatever the high-water mark (ZeroMQ counts whole messages)
    if (more) {
        zframe_t *frame = zmsg_pop (*data_p);
        while (frame) {
            zframe_t *next = zmsg_pop (*data_p);
            if (zframe_send (&frame, sock, next? ZFRAME_MORE: 0)) {
                zframe_destroy (&frame);
                zframe_destroy (&next);
                break;
            }
            frame = next;
        }
    }
    if (data_p)
        zmsg_destroy (data_p);
    return 0;
}

int
node_link_send (node_link_t *self, size_t node, node_endpoint_t endpoint, request_t *request,
                zmsg_t **data_p, void *owner, uint64_t cookie, int64_t now_ms)
{
    assert (self && request);
    assert (node < self->node_count);
    s_pending_t *pending = (s_pending_t *) zmalloc (sizeof (s_pending_t));
    snprintf (pending->message_id, sizeof pending->message_id, "%s-%" PRIx64, self->prefix, ++self->counter);
    pending->owner = owner;
    pending->node = node;
    pending->cookie = cookie;
    pending->deadline_ms = now_ms + self->node_timeout_ms;

    snprintf (request->message_id, sizeof request->message_id, "%s", pending->message_id);
    snprintf (request->client_tag, sizeof request->client_tag, "%s", S_CLIENT_TAG);
    snprintf (request->client_address, sizeof request->client_address, "%s", self->reply_address);
    request->present |= FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
    if (s_send (self, node, endpoint, request, data_p)) {
        free (pending);
        return -1;
    }
    zhashx_insert (self->pending, pending->message_id, pending);
    pending->list_handle = zlistx_add_end (self->order, pending);
    if (owner)
        self->nodes [node].waiting++;
    return 0;
}

int
node_link_post (node_link_t *self, size_t node, node_endpoint_t endpoint, request_t *request)
{
    assert (self && request);
    assert (node < self->node_count);
    snprintf (request->message_id, sizeof request->message_id, "%s-%" PRIx64, self->prefix, ++self->counter);
    request->present |= FIELD_MESSAGE_ID;
    request->present &= ~(FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS);
    return s_send (self, node, endpoint, request, NULL);
}

//  Remove a pending request (frees it)
static void
s_remove (node_link_t *self, s_pending_t *pending)
{
    if (pending->owner)
        self->nodes [pending->node].waiting--;
    zlistx_delete (self->order, pending->list_handle);
    zhashx_delete (self->pending, pending->message_id);
}

int
node_link_receive (node_link_t *self, node_event_t *event, int64_t now_ms)
{
    assert (self && event);
    memset (event, 0, sizeof (*event));
    //  Frame by frame, keeping a bounded number
    zmsg_t *msg = zmsg_new ();
    bool too_many = false;
    while (true) {
        zframe_t *frame = zframe_recv (self->replies);
        if (!frame)
            break;
        bool more = zframe_more (frame);
        if (zmsg_size (msg) < S_MAX_REPLY_FRAMES)
            zmsg_append (msg, &frame);
        else {
            too_many = true;
            zframe_destroy (&frame);
        }
        if (!more)
            break;
    }
    zframe_t *header = zmsg_pop (msg);
    int rc = 0;
    if (header && !too_many
    &&  reply_decode (self->reply, zframe_data (header), zframe_size (header)) == 0) {
        s_pending_t *pending = (s_pending_t *) zhashx_lookup (self->pending, self->reply->message_id);
        if (pending) {
            s_node_t *node = &self->nodes [pending->node];
            node->ever_reached = true;   //  it answered, even if refusing
            if (self->reply->result == RESULT_CLUSTER_MISMATCH) {
                //  Not usable: it is in another cluster (or this router is)
                if (!node->mismatch)
                    zsys_error ("node %s refuses this router's requests, cluster-mismatch: %s",
                                cluster_config_node_name (self->cluster, pending->node),
                                self->reply->error_message);
                free (node->mismatch);
                node->mismatch = strdup (self->reply->error_message);
                node->alive_ms = 0;
            }
            else {
                if (node->mismatch)
                    zsys_info ("node %s accepts this router's cluster again",
                               cluster_config_node_name (self->cluster, pending->node));
                zstr_free (&node->mismatch);
                node->alive_ms = now_ms;
            }
            if (pending->owner) {
                event->owner = pending->owner;
                event->node = pending->node;
                event->cookie = pending->cookie;
                event->reply = self->reply;
                if (zmsg_size (msg) > 0) {
                    event->data = msg;
                    msg = NULL;
                }
                rc = 1;
            }
            s_remove (self, pending);
        }
    }
    zframe_destroy (&header);
    zmsg_destroy (&msg);
    return rc;
}

int
node_link_expire (node_link_t *self, node_event_t *event, int64_t now_ms)
{
    assert (self && event);
    memset (event, 0, sizeof (*event));
    s_pending_t *pending;
    while ((pending = (s_pending_t *) zlistx_first (self->order))
    &&     pending->deadline_ms <= now_ms) {
        if (pending->owner) {
            event->owner = pending->owner;
            event->node = pending->node;
            event->cookie = pending->cookie;
            event->lost = pending->lost;
            s_remove (self, pending);
            return 1;
        }
        s_remove (self, pending);       //  an unanswered ping
    }
    return 0;
}

void
node_link_forget (node_link_t *self, void *owner)
{
    assert (self && owner);
    s_pending_t *pending = (s_pending_t *) zlistx_first (self->order);
    while (pending) {
        s_pending_t *next = (s_pending_t *) zlistx_next (self->order);
        if (pending->owner == owner)
            s_remove (self, pending);
        pending = next;
    }
}

//  The node was lost: its pings are dropped, its other pending requests
//  move to the head of the order list with their deadline now, so the next
//  node_link_expire hands them back (in sending order)
static void
s_node_lost (node_link_t *self, size_t node, int64_t now_ms)
{
    self->nodes [node].alive_ms = 0;
    self->nodes [node].resets++;
    size_t count = 0;
    for (s_pending_t *pending = (s_pending_t *) zlistx_first (self->order); pending;
         pending = (s_pending_t *) zlistx_next (self->order))
        if (pending->node == node)
            count++;
    if (count == 0)
        return;
    s_pending_t **lost = (s_pending_t **) zmalloc (count * sizeof (s_pending_t *));
    size_t found = 0;
    for (s_pending_t *pending = (s_pending_t *) zlistx_first (self->order); pending;
         pending = (s_pending_t *) zlistx_next (self->order))
        if (pending->node == node)
            lost [found++] = pending;
    for (size_t index = found; index-- > 0; ) {
        s_pending_t *pending = lost [index];
        if (!pending->owner) {
            s_remove (self, pending);       //  a ping: nobody waits for it
            continue;
        }
        pending->lost = true;
        pending->deadline_ms = now_ms;
        zlistx_move_start (self->order, pending->list_handle);
    }
    free (lost);
}

//  Close and reopen a node's sockets: whatever was queued (stale pings) is
//  dropped, a connect attempt stuck in TCP backoff starts afresh
static void
s_reopen (node_link_t *self, size_t node, int64_t now_ms)
{
    s_node_t *entry = &self->nodes [node];
    zsock_t **socks [] = { &entry->writer, &entry->reader, &entry->liveness };
    for (size_t index = 0; index < 3; index++) {
        if (*socks [index])
            zsock_set_linger (*socks [index], 0);
        zsock_destroy (socks [index]);
    }
    entry->writer = s_push (self, cluster_config_node_writer (self->cluster, node), false);
    entry->reader = s_push (self, cluster_config_node_reader (self->cluster, node), false);
    entry->liveness = s_push (self, cluster_config_node_writer (self->cluster, node), true);
    //  s_push fails only when out of sockets; retried at the next check
    entry->opened_ms = now_ms;
    entry->writer_connected = false;
    entry->reader_connected = false;
    entry->liveness_connected = false;
    s_node_lost (self, node, now_ms);
}

//  Whether a socket has an outgoing pipe (is connected, with IMMEDIATE)
static bool
s_connected (zsock_t *sock)
{
    return sock && (zsock_events (sock) & ZMQ_POLLOUT) != 0;
}

//  Watch every node's connection (see the header)
static void
s_check (node_link_t *self, int64_t now_ms)
{
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        if (!node->writer || !node->reader || !node->liveness) {
            s_reopen (self, index, now_ms);
            continue;
        }
        bool writer = s_connected (node->writer);
        bool reader = s_connected (node->reader);
        bool liveness = s_connected (node->liveness);
        if ((node->writer_connected && !writer) || (node->reader_connected && !reader)
        ||  (node->liveness_connected && !liveness)) {
            //  The heartbeat (or TCP, or the peer) closed a connection it
            //  had: the node is lost, and every socket starts afresh
            s_reopen (self, index, now_ms);
            continue;
        }
        if (liveness && !node->liveness_connected)
            node->next_ping_ms = now_ms;    //  just connected: ask at once
        node->writer_connected |= writer;
        node->reader_connected |= reader;
        node->liveness_connected |= liveness;
        //  Silent, and nobody waiting on it (a request pending on a node
        //  that is only slow keeps its own deadline)
        int64_t since = node->alive_ms > node->opened_ms? node->alive_ms: node->opened_ms;
        if (now_ms - since > self->node_timeout_ms && node->waiting == 0)
            s_reopen (self, index, now_ms);
    }
}

void
node_link_ping (node_link_t *self, int64_t now_ms)
{
    assert (self);
    s_check (self, now_ms);
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        if (node->next_ping_ms > now_ms)
            continue;
        node->next_ping_ms = now_ms + self->ping_interval_ms;
        request_t *request = request_new ();
        request->type = MSG_PING;
        node_link_send (self, index, NODE_WRITER, request, NULL, NULL, 0, now_ms);
        request_destroy (&request);
    }
}

int64_t
node_link_wait_ms (node_link_t *self, int64_t now_ms)
{
    assert (self);
    int64_t wake = now_ms + self->ping_interval_ms;
    for (size_t index = 0; index < self->node_count; index++)
        if (self->nodes [index].next_ping_ms < wake)
            wake = self->nodes [index].next_ping_ms;
    s_pending_t *oldest = (s_pending_t *) zlistx_first (self->order);
    if (oldest && oldest->deadline_ms < wake)
        wake = oldest->deadline_ms;
    return wake > now_ms? wake - now_ms: 0;
}

bool
node_link_ever_reached (node_link_t *self, size_t node)
{
    assert (self);
    assert (node < self->node_count);
    return self->nodes [node].ever_reached;
}

size_t
node_link_resets (node_link_t *self, size_t node)
{
    assert (self);
    assert (node < self->node_count);
    return self->nodes [node].resets;
}

bool
node_link_reachable (node_link_t *self, size_t node, int64_t now_ms)
{
    assert (self);
    assert (node < self->node_count);
    //  Answered lately, and both data sockets connected (pings go on the
    //  liveness socket, which may be up before them)
    s_node_t *entry = &self->nodes [node];
    int64_t alive = entry->alive_ms;
    return alive > 0 && now_ms - alive <= self->node_timeout_ms
        && s_connected (entry->writer) && s_connected (entry->reader)
        && !entry->mismatch;
}

const char *
node_link_mismatch (node_link_t *self, size_t node)
{
    assert (self);
    assert (node < self->node_count);
    return self->nodes [node].mismatch;
}
