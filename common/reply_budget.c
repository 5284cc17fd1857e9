/*  =========================================================================
    reply_budget - one process-wide limit on the bytes held for replies

    held is charged by take (a compare-and-swap loop, so concurrent takers
    never overshoot max) and given back by the free callback of the
    message, which ZeroMQ calls from whichever thread lets go of it last.
    =========================================================================
*/
#include "reply_budget.h"
#include "timestamp.h"

struct _reply_budget_t {
    _Atomic uint64_t held;              //  bytes charged, not yet freed
    uint64_t max_bytes;                 //  the limit
    _Atomic int refs;                   //  owner + messages in flight
    _Atomic int64_t last_log_us;        //  last drop line
    _Atomic uint64_t unlogged;          //  drops not logged since
};

//  What a message in flight holds on to
typedef struct {
    reply_budget_t *budget;             //  charged, or NULL
    reply_queue_t *queue;               //  per socket, or NULL
    zframe_t *frame;                    //  owns the bytes ZeroMQ sends
    uint64_t bytes;                     //  charged
    bool first;                         //  the reply's first frame (counts the reply)
    //  ZeroMQ took it (a failed send is no progress). Stored with release
    //  ordering after every other field and loaded with acquire ordering
    //  first in s_free, which ZeroMQ's I/O thread runs: the hand-over
    //  through libzmq's own queues is invisible to the C11 memory model
    //  (and to ThreadSanitizer), this pair makes it explicit.
    atomic_bool sent;
} s_hint_t;

reply_budget_t *
reply_budget_new (uint64_t max_bytes)
{
    assert (max_bytes > 0);
    reply_budget_t *self = (reply_budget_t *) zmalloc (sizeof (reply_budget_t));
    self->max_bytes = max_bytes;
    atomic_init (&self->refs, 1);
    return self;
}

static void
s_budget_unref (reply_budget_t *self)
{
    if (self && atomic_fetch_sub (&self->refs, 1) == 1)
        free (self);
}

void
reply_budget_destroy (reply_budget_t **self_p)
{
    assert (self_p);
    s_budget_unref (*self_p);
    *self_p = NULL;
}

bool
reply_budget_take (reply_budget_t *self, uint64_t bytes)
{
    assert (self);
    uint64_t held = atomic_load (&self->held);
    do {
        if (bytes > self->max_bytes || held > self->max_bytes - bytes)
            return false;
    } while (!atomic_compare_exchange_weak (&self->held, &held, held + bytes));
    return true;
}

void
reply_budget_release (reply_budget_t *self, uint64_t bytes)
{
    assert (self);
    uint64_t before = atomic_fetch_sub (&self->held, bytes);
    assert (before >= bytes);
    (void) before;
}

uint64_t
reply_budget_held (reply_budget_t *self)
{
    assert (self);
    return atomic_load (&self->held);
}

uint64_t
reply_budget_max (reply_budget_t *self)
{
    assert (self);
    return self->max_bytes;
}

void
reply_budget_log_drop (reply_budget_t *self, const char *who, const char *address)
{
    assert (self);
    int64_t now = timestamp_now ();
    int64_t last = atomic_load (&self->last_log_us);
    if (now - last < 1000000 || !atomic_compare_exchange_strong (&self->last_log_us, &last, now)) {
        atomic_fetch_add (&self->unlogged, 1);
        return;
    }
    uint64_t unlogged = atomic_exchange (&self->unlogged, 0);
    zsys_warning ("%s: reply to %s dropped: %" PRIu64 " of %" PRIu64 " reply bytes held "
                  "for peers not reading (reply/max-bytes); %" PRIu64 " more not logged",
                  who, address? address: "(client)", reply_budget_held (self), self->max_bytes,
                  unlogged);
}

reply_queue_t *
reply_queue_new (void)
{
    reply_queue_t *self = (reply_queue_t *) zmalloc (sizeof (reply_queue_t));
    atomic_init (&self->refs, 1);
    return self;
}

void
reply_queue_destroy (reply_queue_t **self_p)
{
    assert (self_p);
    reply_queue_t *self = *self_p;
    if (self && atomic_fetch_sub (&self->refs, 1) == 1)
        free (self);
    *self_p = NULL;
}

//  ZeroMQ is done with the message: give its bytes back
static void
s_free (void *data, void *arg)
{
    (void) data;
    s_hint_t *hint = (s_hint_t *) arg;
    bool sent = atomic_load_explicit (&hint->sent, memory_order_acquire);
    if (hint->queue) {
        if (sent) {
            atomic_store (&hint->queue->progress_us, zclock_usecs ());
            atomic_fetch_add (&hint->queue->taken, 1);
        }
        if (hint->first)
            atomic_fetch_sub (&hint->queue->replies, 1);
        atomic_fetch_sub (&hint->queue->bytes, (int64_t) hint->bytes);
        reply_queue_destroy (&hint->queue);
    }
    if (hint->budget) {
        reply_budget_release (hint->budget, hint->bytes);
        s_budget_unref (hint->budget);
    }
    zframe_destroy (&hint->frame);
    free (hint);
}

int
reply_budget_send (reply_budget_t *self, reply_queue_t *queue, void *handle,
                   zframe_t **frame_p, int flags, bool first)
{
    assert (frame_p && *frame_p);
    zframe_t *frame = *frame_p;
    *frame_p = NULL;
    size_t size = zframe_size (frame);
    s_hint_t *hint = (s_hint_t *) zmalloc (sizeof (s_hint_t));
    hint->frame = frame;
    hint->bytes = size;
    if (self) {
        atomic_fetch_add (&self->refs, 1);
        hint->budget = self;
    }
    if (queue) {
        atomic_fetch_add (&queue->refs, 1);
        hint->queue = queue;
        hint->first = first;
        if (first)
            atomic_fetch_add (&queue->replies, 1);
        if (atomic_fetch_add (&queue->bytes, (int64_t) size) == 0)
            atomic_store (&queue->progress_us, zclock_usecs ());
    }
    //  An empty frame has no data pointer: give ZeroMQ a static byte
    static char s_empty;
    zmq_msg_t msg;
    zmq_msg_init_data (&msg, size? zframe_data (frame): (void *) &s_empty, size, s_free, hint);
    atomic_store_explicit (&hint->sent, true, memory_order_release);
    int rc = zmq_msg_send (&msg, handle, flags);
    if (rc < 0) {
        //  ZeroMQ did not take it: s_free runs here, on this thread
        atomic_store_explicit (&hint->sent, false, memory_order_relaxed);
        int saved = zmq_errno ();
        zmq_msg_close (&msg);       //  calls s_free
        errno = saved;
    }
    return rc;
}
