/*  =========================================================================
    reply_cache - PUSH sockets to requesters' reply addresses, cached

    A hash from address to entry, plus a recency list for eviction. Sends use
    ZMQ_DONTWAIT (or ZMQ_SNDTIMEO when a send timeout is configured), so a
    stuck requester costs at most that timeout per reply.
    =========================================================================
*/
#include "reply_cache.h"
#include "heartbeat.h"
#include "timestamp.h"

#define S_ROOM_WAIT_MS  5      //  longest wait for room once a send is refused

typedef struct {
    char *address;              //  the client-address
    zsock_t *socket;            //  PUSH, connected
    int64_t last_used_us;       //  for idle expiry
    bool stalled;               //  a short wait for room failed: never wait again
                                //  until a send goes through at once
    void *recency_handle;       //  handle in recency list
} s_entry_t;

struct _reply_cache_t {
    endpoint_allow_t *allow;    //  borrowed allow-list
    node_stats_t *stats;        //  borrowed counters, may be NULL
    zhashx_t *entries;          //  address -> s_entry_t
    zlistx_t *recency;          //  s_entry_t *, least recently used first
    int max_sockets;            //  cache bound
    int idle_seconds;           //  idle expiry
    int send_timeout_ms;        //  0 = never wait
    int hwm;                    //  SNDHWM per socket
    msgpack_sbuffer buffer;     //  encode buffer, reused
    curve_t *curve;             //  borrowed; reply sockets are CURVE servers, or NULL
};

static void
s_entry_destroy (s_entry_t **entry_p)
{
    s_entry_t *entry = *entry_p;
    if (!entry)
        return;
    zsock_destroy (&entry->socket);
    free (entry->address);
    free (entry);
    *entry_p = NULL;
}

reply_cache_t *
reply_cache_new (endpoint_allow_t *allow, node_stats_t *stats, int max_sockets,
                 int idle_seconds, int send_timeout_ms, int hwm)
{
    assert (allow);
    assert (max_sockets > 0);
    reply_cache_t *self = (reply_cache_t *) zmalloc (sizeof (reply_cache_t));
    self->allow = allow;
    self->stats = stats;
    self->entries = zhashx_new ();
    self->recency = zlistx_new ();
    self->max_sockets = max_sockets;
    self->idle_seconds = idle_seconds;
    self->send_timeout_ms = send_timeout_ms;
    self->hwm = hwm;
    msgpack_sbuffer_init (&self->buffer);
    return self;
}

void
reply_cache_set_curve (reply_cache_t *self, curve_t *curve)
{
    assert (self);
    self->curve = curve;
}

static void
s_remove (reply_cache_t *self, s_entry_t *entry)
{
    zlistx_delete (self->recency, entry->recency_handle);
    zhashx_delete (self->entries, entry->address);
    s_entry_destroy (&entry);
}

void
reply_cache_destroy (reply_cache_t **self_p)
{
    assert (self_p);
    reply_cache_t *self = *self_p;
    if (!self)
        return;
    s_entry_t *entry;
    while ((entry = (s_entry_t *) zlistx_first (self->recency)))
        s_remove (self, entry);
    zhashx_destroy (&self->entries);
    zlistx_destroy (&self->recency);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

bool
reply_cache_allowed (reply_cache_t *self, const char *address)
{
    assert (self);
    return address && *address && endpoint_allow_check (self->allow, address);
}

static s_entry_t *
s_lookup (reply_cache_t *self, const char *address)
{
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, address);
    if (entry) {
        zlistx_move_end (self->recency, entry->recency_handle);
        return entry;
    }
    if (!reply_cache_allowed (self, address))
        return NULL;
    while (zhashx_size (self->entries) >= (size_t) self->max_sockets)
        s_remove (self, (s_entry_t *) zlistx_first (self->recency));

    zsock_t *socket = zsock_new (ZMQ_PUSH);
    if (!socket)
        return NULL;
    zsock_set_sndhwm (socket, self->hwm);
    zsock_set_linger (socket, 2000);
    heartbeat_apply_node (socket);
    zsock_set_sndtimeo (socket, self->send_timeout_ms);
    if (self->curve)
        curve_server (self->curve, socket);
    if (zsock_connect (socket, "%s", address) != 0) {
        zsock_destroy (&socket);
        return NULL;
    }
    entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    entry->address = strdup (address);
    entry->socket = socket;
    entry->recency_handle = zlistx_add_end (self->recency, entry);
    zhashx_insert (self->entries, entry->address, entry);
    return entry;
}

static void
s_dropped (reply_cache_t *self)
{
    if (self->stats)
        atomic_fetch_add_explicit (&self->stats->replies_dropped, 1, memory_order_relaxed);
}

int
reply_cache_send (reply_cache_t *self, const reply_t *reply, zmsg_t **data_p)
{
    assert (self);
    assert (reply);
    zmsg_t *data = data_p? *data_p: NULL;
    if (data_p)
        *data_p = NULL;

    s_entry_t *entry = s_lookup (self, reply->client_address);
    if (!entry) {
        zmsg_destroy (&data);
        s_dropped (self);
        return -1;
    }
    entry->last_used_us = timestamp_now ();
    self->buffer.size = 0;
    reply_encode (reply, &self->buffer);

    void *handle = zsock_resolve (entry->socket);
    int flags = self->send_timeout_ms? 0: ZMQ_DONTWAIT;
    size_t frames = data? zmsg_size (data): 0;
    int rc = zmq_send (handle, self->buffer.data, self->buffer.size, flags | (frames? ZMQ_SNDMORE: 0));
    if (rc < 0 && zmq_errno () == EAGAIN) {
        //  The socket may not have taken in the credit its I/O thread sent
        //  back for replies already delivered: ZeroMQ processes such
        //  commands on send only every millisecond or so, and a refused
        //  DONTWAIT send does not process them. Asking for ZMQ_EVENTS does,
        //  so retry once after it: only a pipe that is really full (the
        //  requester is not reading) drops the reply.
        zsock_events (entry->socket);
        rc = zmq_send (handle, self->buffer.data, self->buffer.size, flags | (frames? ZMQ_SNDMORE: 0));
        //  The credit may still be on its way from a busy I/O thread: wait
        //  for room a little, once. A requester that does not read costs
        //  that wait once, then drops at once until it reads again.
        if (rc < 0 && zmq_errno () == EAGAIN && !entry->stalled) {
            zmq_pollitem_t item = { handle, 0, ZMQ_POLLOUT, 0 };
            if (zmq_poll (&item, 1, S_ROOM_WAIT_MS) == 1)
                rc = zmq_send (handle, self->buffer.data, self->buffer.size,
                               flags | (frames? ZMQ_SNDMORE: 0));
            entry->stalled = rc < 0;
        }
    }
    if (rc >= 0)
        entry->stalled = false;
    if (rc < 0) {
        zmsg_destroy (&data);
        s_dropped (self);
        return -1;
    }
    //  Once the first part is queued, ZeroMQ accepts the rest of the message
    zframe_t *frame;
    while (data && (frame = zmsg_pop (data))) {
        int more = zmsg_size (data)? ZFRAME_MORE: 0;
        zframe_send (&frame, handle, more);
    }
    zmsg_destroy (&data);
    return 0;
}

void
reply_cache_expire (reply_cache_t *self)
{
    assert (self);
    int64_t cutoff = timestamp_now () - (int64_t) self->idle_seconds * 1000000;
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->recency);
    while (entry && entry->last_used_us < cutoff) {
        s_remove (self, entry);
        entry = (s_entry_t *) zlistx_first (self->recency);
    }
}

size_t
reply_cache_size (reply_cache_t *self)
{
    assert (self);
    return zhashx_size (self->entries);
}
