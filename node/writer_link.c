/*  =========================================================================
    writer_link - what the threads around the writer steer by

    Sequentially consistent atomics: the generation's increment must be
    seen by the reader before the replies it precedes.
    =========================================================================
*/
#include <czmq.h>
#include <stdatomic.h>
#include "writer_link.h"

struct _writer_link_t {
    _Atomic int64_t queue_bytes;    //  payload bytes queued for the writer
    _Atomic uint64_t generation;    //  group commits landed
};

writer_link_t *
writer_link_new (void)
{
    writer_link_t *self = (writer_link_t *) zmalloc (sizeof (writer_link_t));
    atomic_init (&self->queue_bytes, 0);
    atomic_init (&self->generation, 0);
    return self;
}

void
writer_link_destroy (writer_link_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

void
writer_link_queued (writer_link_t *self, int64_t bytes)
{
    assert (self);
    atomic_fetch_add (&self->queue_bytes, bytes);
}

void
writer_link_dequeued (writer_link_t *self, int64_t bytes)
{
    assert (self);
    atomic_fetch_sub (&self->queue_bytes, bytes);
}

int64_t
writer_link_queue_bytes (writer_link_t *self)
{
    assert (self);
    return atomic_load (&self->queue_bytes);
}

void
writer_link_committed (writer_link_t *self)
{
    assert (self);
    atomic_fetch_add (&self->generation, 1);
}

uint64_t
writer_link_generation (writer_link_t *self)
{
    assert (self);
    return atomic_load (&self->generation);
}
