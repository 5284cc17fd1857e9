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
#define S_STUCK_US      200000 //  a socket holding bytes the peer has not taken for
                               //  this long gets no more replies, and is closed
                               //  without linger when budget room is needed
#define S_EVICT_STUCK_US 1000000 //  a socket evicted (cache full, idle) closes without
                               //  linger when stuck this long (a reply still connecting
                               //  under load is not stuck yet)
#define S_VICTIM_AGE_US 5000   //  when the budget is full, sockets that have made no
                               //  progress for this long may be closed for room
#define S_RECLAIM_WAIT_MS 8    //  longest wait for closed sockets to give bytes back
#define S_LINGER_MS     2000   //  linger of sockets closed while their peer reads
#define S_PENALTY_US    1000000 //  an address whose socket was closed for room gets
                               //  no replies for this long (no disk reads for it)

typedef struct {
    char *address;              //  the client-address
    zsock_t *socket;            //  PUSH, connected
    int64_t last_used_us;       //  for idle expiry
    bool stalled;               //  a short wait for room failed: never wait again
                                //  until a send goes through at once
    reply_queue_t *queue;       //  bytes queued on this socket (reply_budget)
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
    reply_budget_t *budget;     //  borrowed global budget, or NULL
    uint64_t reserved;          //  charged by reply_cache_reserve for the next reply
    const char *who;            //  names the owner in log lines
    zhashx_t *penalized;        //  address -> int64_t * until (monotonic us)
};

//  True when the budget is more than half held: only then do peers that
//  take nothing lose replies for it (below that, each address's high-water
//  mark and the budget bound them, and a requester that is merely slow to
//  connect under load keeps every reply)
static bool
s_pressure (reply_cache_t *self)
{
    return self->budget
        && reply_budget_held (self->budget) > reply_budget_max (self->budget) / 2;
}

//  True if the socket holds bytes its peer has not taken for stuck_us
static bool
s_entry_stuck (s_entry_t *entry, int64_t now_us, int64_t stuck_us)
{
    return atomic_load (&entry->queue->bytes) > 0
        && now_us - atomic_load (&entry->queue->progress_us) >= stuck_us;
}

static void
s_entry_destroy (s_entry_t **entry_p)
{
    s_entry_t *entry = *entry_p;
    if (!entry)
        return;
    //  A peer that is not taking its replies keeps none of them: their
    //  bytes go back to the budget now, not after a linger
    if (s_entry_stuck (entry, zclock_usecs (), S_EVICT_STUCK_US))
        zsock_set_linger (entry->socket, 0);
    zsock_destroy (&entry->socket);
    reply_queue_destroy (&entry->queue);
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
    self->penalized = zhashx_new ();
    zhashx_set_destructor (self->penalized, (zhashx_destructor_fn *) zstr_free);
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

void
reply_cache_set_budget (reply_cache_t *self, reply_budget_t *budget, const char *who)
{
    assert (self);
    self->budget = budget;
    self->who = who;
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
    reply_cache_unreserve (self);
    zhashx_destroy (&self->entries);
    zhashx_destroy (&self->penalized);
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
    zsock_set_linger (socket, S_LINGER_MS);
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
    entry->queue = reply_queue_new ();
    entry->recency_handle = zlistx_add_end (self->recency, entry);
    zhashx_insert (self->entries, entry->address, entry);
    return entry;
}

static void
s_dropped (reply_cache_t *self, const char *address)
{
    if (self->stats)
        atomic_fetch_add_explicit (&self->stats->replies_dropped, 1, memory_order_relaxed);
    if (self->budget)
        reply_budget_log_drop (self->budget, self->who? self->who: "reply", address);
}

//  No replies to address for a while (its socket was closed for room)
static void
s_penalize (reply_cache_t *self, const char *address, int64_t now_us)
{
    //  Bounded: when full, forget the expired ones, then all
    if (zhashx_size (self->penalized) >= (size_t) self->max_sockets * 4) {
        zlistx_t *keys = zhashx_keys (self->penalized);
        for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys))
            if (*(int64_t *) zhashx_lookup (self->penalized, key) <= now_us)
                zhashx_delete (self->penalized, key);
        zlistx_destroy (&keys);
        if (zhashx_size (self->penalized) >= (size_t) self->max_sockets * 4)
            zhashx_purge (self->penalized);
    }
    int64_t *until = (int64_t *) zmalloc (sizeof (int64_t));
    *until = now_us + S_PENALTY_US;
    zhashx_update (self->penalized, address, until);
}

//  True if address is in the penalty box now
static bool
s_penalized (reply_cache_t *self, const char *address, int64_t now_us)
{
    int64_t *until = address? (int64_t *) zhashx_lookup (self->penalized, address): NULL;
    if (!until)
        return false;
    if (*until > now_us)
        return true;
    zhashx_delete (self->penalized, address);
    return false;
}

static int
s_by_progress (const void *one, const void *two)
{
    int64_t first = atomic_load (&(*(s_entry_t * const *) one)->queue->progress_us);
    int64_t second = atomic_load (&(*(s_entry_t * const *) two)->queue->progress_us);
    return (first > second) - (first < second);
}

//  Close sockets whose peers have taken nothing for at least min_age_us,
//  longest stuck first, without linger, until needed bytes would fit.
//  keep is never closed. Returns the bytes their queues held (given back
//  to the budget as ZeroMQ frees them, shortly after).
static uint64_t
s_reclaim (reply_cache_t *self, uint64_t needed, int64_t min_age_us, s_entry_t *keep)
{
    size_t size = zhashx_size (self->entries);
    if (!size)
        return 0;
    s_entry_t **victims = (s_entry_t **) malloc (size * sizeof (s_entry_t *));
    if (!victims)
        return 0;
    int64_t now = zclock_usecs ();
    size_t count = 0;
    for (s_entry_t *entry = (s_entry_t *) zlistx_first (self->recency); entry;
         entry = (s_entry_t *) zlistx_next (self->recency))
        if (entry != keep && s_entry_stuck (entry, now, min_age_us))
            victims [count++] = entry;
    qsort (victims, count, sizeof (s_entry_t *), s_by_progress);
    uint64_t held = reply_budget_held (self->budget);
    uint64_t max = reply_budget_max (self->budget);
    uint64_t reclaimed = 0;
    for (size_t index = 0; index < count && held + needed > max + reclaimed; index++) {
        s_entry_t *victim = victims [index];
        int64_t bytes = atomic_load (&victim->queue->bytes);
        reclaimed += bytes > 0? (uint64_t) bytes: 0;
        //  Its queued replies are thrown away: they count as dropped
        int64_t lost = atomic_load (&victim->queue->replies);
        if (self->stats && lost > 0)
            atomic_fetch_add (&self->stats->replies_dropped, (uint64_t) lost);
        s_penalize (self, victim->address, now);
        zsock_set_linger (victim->socket, 0);
        s_remove (self, victim);
    }
    free (victims);
    return reclaimed;
}

//  Charge bytes to the budget; when it is full, make room by closing
//  sockets whose peers are not reading, and wait a little for ZeroMQ to
//  give their bytes back. True if charged.
static bool
s_charge (reply_cache_t *self, uint64_t bytes, s_entry_t *keep)
{
    if (!self->budget || reply_budget_take (self->budget, bytes))
        return true;
    uint64_t reclaimed = s_reclaim (self, bytes, S_VICTIM_AGE_US, keep);
    //  Only a peer known to read is worth the wait: others (new
    //  addresses, dead ones) do not hold the thread up
    if (reclaimed == 0 || !keep || atomic_load (&keep->queue->taken) == 0)
        return reply_budget_take (self->budget, bytes);
    int64_t deadline = zclock_mono () + S_RECLAIM_WAIT_MS;
    while (!reply_budget_take (self->budget, bytes)) {
        if (zclock_mono () >= deadline)
            return false;
        usleep (200);
    }
    return true;
}

int
reply_cache_reserve (reply_cache_t *self, const char *address, uint64_t bytes)
{
    assert (self);
    reply_cache_unreserve (self);
    s_entry_t *entry = address? (s_entry_t *) zhashx_lookup (self->entries, address): NULL;
    int64_t now = zclock_usecs ();
    if (s_penalized (self, address, now))
        return -1;
    if (entry && !self->send_timeout_ms && s_pressure (self) && s_entry_stuck (entry, now, S_STUCK_US))
        return -1;
    if (!s_charge (self, bytes, entry))
        return -1;
    self->reserved = self->budget? bytes: 0;
    return 0;
}

void
reply_cache_unreserve (reply_cache_t *self)
{
    assert (self);
    if (self->reserved)
        reply_budget_release (self->budget, self->reserved);
    self->reserved = 0;
}

//  Give back what was charged for a reply that is not sent
static void
s_uncharge (reply_cache_t *self, uint64_t bytes)
{
    if (self->budget && bytes)
        reply_budget_release (self->budget, bytes);
}

int
reply_cache_send (reply_cache_t *self, const reply_t *reply, zmsg_t **data_p)
{
    assert (self);
    assert (reply);
    zmsg_t *data = data_p? *data_p: NULL;
    if (data_p)
        *data_p = NULL;
    uint64_t reserved = self->reserved;
    self->reserved = 0;

    s_entry_t *entry = s_penalized (self, reply->client_address, zclock_usecs ())?
                       NULL: s_lookup (self, reply->client_address);
    //  A peer that has taken nothing for a while gets nothing more (with a
    //  send timeout configured, each reply waits that long instead)
    if (!entry || (!self->send_timeout_ms && s_pressure (self)
                   && s_entry_stuck (entry, zclock_usecs (), S_STUCK_US))) {
        s_uncharge (self, reserved);
        zmsg_destroy (&data);
        s_dropped (self, reply->client_address);
        return -1;
    }
    entry->last_used_us = timestamp_now ();
    self->buffer.size = 0;
    reply_encode (reply, &self->buffer);

    //  Charge every byte ZeroMQ will hold before anything is read or queued
    uint64_t total = self->buffer.size + (data? zmsg_content_size (data): 0);
    if (reserved >= total)
        s_uncharge (self, reserved - total);
    else
    if (!s_charge (self, total - reserved, entry)) {
        s_uncharge (self, reserved);
        zmsg_destroy (&data);
        s_dropped (self, reply->client_address);
        return -1;
    }
    void *handle = zsock_resolve (entry->socket);
    int flags = self->send_timeout_ms? 0: ZMQ_DONTWAIT;
    size_t frames = data? zmsg_size (data): 0;
    zframe_t *header = zframe_new (self->buffer.data, self->buffer.size);
    int rc = reply_budget_send (self->budget, entry->queue, handle, &header,
                                flags | (frames? ZMQ_SNDMORE: 0), true);
    if (rc < 0 && !self->send_timeout_ms && zmq_errno () == EAGAIN) {
        //  Refused. The socket may not have taken in the credit its I/O
        //  thread sent back for replies already delivered: ZeroMQ
        //  processes such commands on send only every millisecond or so.
        //  Asking for ZMQ_EVENTS processes them (a poll and a getpid
        //  system call, which is why it is not asked before every send),
        //  so only a pipe that is really full (the requester is not
        //  reading) refuses the reply.
        bool room = (zsock_events (entry->socket) & ZMQ_POLLOUT) != 0;
        //  The credit may still be on its way from a busy I/O thread: wait
        //  for room a little, once. A requester that does not read costs
        //  that wait once, then drops at once until it reads again.
        if (!room && !entry->stalled) {
            zmq_pollitem_t item = { handle, 0, ZMQ_POLLOUT, 0 };
            room = zmq_poll (&item, 1, S_ROOM_WAIT_MS) == 1;
            entry->stalled = !room;
        }
        //  The refused header gave its charge back: charge it again
        if (room && s_charge (self, self->buffer.size, entry)) {
            header = zframe_new (self->buffer.data, self->buffer.size);
            rc = reply_budget_send (self->budget, entry->queue, handle, &header,
                                    flags | (frames? ZMQ_SNDMORE: 0), true);
        }
    }
    if (rc < 0) {
        //  The header's charge went back with it; the data's has not
        s_uncharge (self, total - self->buffer.size);
        zmsg_destroy (&data);
        s_dropped (self, reply->client_address);
        return -1;
    }
    entry->stalled = false;
    //  Once the first part is queued, ZeroMQ accepts the rest of the message
    zframe_t *frame;
    while (data && (frame = zmsg_pop (data))) {
        int more = zmsg_size (data)? ZMQ_SNDMORE: 0;
        reply_budget_send (self->budget, entry->queue, handle, &frame, more, false);
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
    //  Peers that take nothing give their bytes back to the budget
    if (s_pressure (self))
        s_reclaim (self, reply_budget_max (self->budget) + 1, S_STUCK_US, NULL);
}

size_t
reply_cache_size (reply_cache_t *self)
{
    assert (self);
    return zhashx_size (self->entries);
}
