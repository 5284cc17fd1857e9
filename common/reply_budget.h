/*  =========================================================================
    reply_budget - one process-wide limit on the bytes held for replies
    that their peers have not taken yet

    Every reply a node or router sends is handed to ZeroMQ without a copy
    (zmq_msg_init_data); its bytes are charged to the budget before the
    send and given back by ZeroMQ's free callback, which runs when the
    message has been written to the kernel or thrown away (a closed socket,
    a failed send). So the budget's count is exactly what ZeroMQ holds in
    its queues for replies, whichever socket or thread they went through,
    including sockets already closed and still lingering. A reply that does
    not fit is not sent: the caller drops it and counts it.

    The budget and each queue counter are reference counted: a message in
    flight keeps them alive, so the free callback is safe after their
    owner has let them go (lingering sockets, process exit).
    =========================================================================
*/
#ifndef STRATA_REPLY_BUDGET_H_INCLUDED
#define STRATA_REPLY_BUDGET_H_INCLUDED

#include <czmq.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _reply_budget_t reply_budget_t;

//  Bytes queued on one reply socket, and when they last went down
typedef struct {
    _Atomic int64_t bytes;              //  charged and not yet freed
    _Atomic int64_t progress_us;        //  monotonic time the peer last took bytes,
                                        //  or the queue last became non-empty
    _Atomic int64_t replies;            //  replies (first frames) not yet freed
    _Atomic int64_t taken;              //  frames the peer has taken (written out)
    _Atomic int refs;                   //  owner + messages in flight
} reply_queue_t;

//  Create a budget of max_bytes (> 0). NULL on out-of-memory.
reply_budget_t *
    reply_budget_new (uint64_t max_bytes);

//  Let go of the caller's reference and set its pointer to NULL; the
//  budget is freed when the last message charged to it is freed. Accepts
//  NULL.
void
    reply_budget_destroy (reply_budget_t **self_p);

//  Charge bytes if they fit (held + bytes <= max); true if charged. A
//  charge is given back with reply_budget_release or by sending it with
//  reply_budget_send (then ZeroMQ gives it back).
bool
    reply_budget_take (reply_budget_t *self, uint64_t bytes);

//  Give back bytes charged with reply_budget_take and not sent.
void
    reply_budget_release (reply_budget_t *self, uint64_t bytes);

//  Bytes held now, and the limit.
uint64_t
    reply_budget_held (reply_budget_t *self);
uint64_t
    reply_budget_max (reply_budget_t *self);

//  Count a dropped reply and log it, at most one line a second per
//  process with the number left out. who names the sender ("reader").
void
    reply_budget_log_drop (reply_budget_t *self, const char *who, const char *address);

//  Send *frame_p (consumed, set to NULL) on the ZeroMQ socket handle
//  without copying it, flags as zmq_msg_send. Its bytes must already be
//  charged to self (or self is NULL: nothing is counted); they are given
//  back when ZeroMQ frees the message, also when the send fails. queue,
//  if not NULL, counts the bytes for one socket too (see
//  reply_queue_new; a frame sent without ZMQ_SNDMORE after none, or the
//  first of a multipart, counts as one reply there: first says which).
//  Returns zmq_msg_send's result (errno in zmq_errno).
int
    reply_budget_send (reply_budget_t *self, reply_queue_t *queue, void *handle,
                       zframe_t **frame_p, int flags, bool first);

//  A queue counter for one socket, with one reference for the caller.
reply_queue_t *
    reply_queue_new (void);

//  Let go of the caller's reference; set the pointer to NULL. Accepts NULL.
void
    reply_queue_destroy (reply_queue_t **self_p);

#endif
