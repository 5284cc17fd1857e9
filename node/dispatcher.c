/*  =========================================================================
    dispatcher - the dispatcher actor: owns the writer endpoint

    socket -> intake (frames within limits, request_decode, allow-list,
    size/MD5) -> work_t pointer -> writer queue.
    =========================================================================
*/
#include "dispatcher.h"
#include "intake.h"

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *pull;                  //  the writer endpoint
    zsock_t *queue;                 //  PAIR to the writer
    const node_config_t *config;    //  settings
    node_stats_t *stats;            //  shared counters
    intake_t *intake;               //  receives and judges requests
} dispatcher_t;

//  Hand a work item to the writer; blocks while its queue is full
static void
s_hand_over (dispatcher_t *self, work_t *work)
{
    //  Bound the bytes waiting for the writer, not only the count
    while (atomic_load (&self->stats->queue_bytes) > 0
    &&     (uint64_t) atomic_load (&self->stats->queue_bytes) + work->payload_size > self->config->queue_bytes)
        zclock_sleep (1);
    atomic_fetch_add (&self->stats->queue_depth, 1);
    atomic_fetch_add (&self->stats->queue_bytes, (int64_t) work->payload_size);
    int rc = zmq_send (zsock_resolve (self->queue), &work, sizeof (work), 0);
    if (rc != (int) sizeof (work)) {
        atomic_fetch_sub (&self->stats->queue_depth, 1);
        atomic_fetch_sub (&self->stats->queue_bytes, (int64_t) work->payload_size);
        zsys_error ("dispatcher: cannot queue a request: %s", zmq_strerror (zmq_errno ()));
        work_destroy (&work);
    }
}

//  Receive one request (the socket is readable) and hand it over
static void
s_receive (dispatcher_t *self)
{
    work_t *work = intake_receive (self->intake, self->pull);
    if (work)
        s_hand_over (self, work);
}

//  Take what has already arrived, then close the socket
static void
s_stop (dispatcher_t *self)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        zmq_pollitem_t item = { zsock_resolve (self->pull), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) <= 0)
            break;
        s_receive (self);
    }
    zsock_destroy (&self->pull);
}

void
dispatcher_actor (zsock_t *pipe, void *args_)
{
    dispatcher_args_t *args = (dispatcher_args_t *) args_;
    dispatcher_t self = {
        .pipe = pipe,
        .config = args->config,
        .stats = args->stats,
        .intake = intake_new ("dispatcher", args->config, args->stats, args->allow, true),
    };
    zsock_signal (pipe, 0);

    self.queue = zsock_new (ZMQ_PAIR);
    int hwm = self.config->queue_depth / 2 > 0? self.config->queue_depth / 2: 1;
    zsock_set_sndhwm (self.queue, hwm);
    zsock_set_rcvhwm (self.queue, hwm);
    self.pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (self.pull, self.config->receive_hwm);
    zsock_set_maxmsgsize (self.pull, (int64_t) self.config->max_message_bytes);
    zsock_set_linger (self.pull, 0);
    if (zsock_connect (self.queue, "%s", args->queue_endpoint) != 0)
        zstr_sendx (pipe, "ERROR", "cannot connect to the writer queue", NULL);
    else
    if (zsock_bind (self.pull, "%s", self.config->writer) < 0) {
        char error [512];
        snprintf (error, sizeof (error), "cannot bind the writer endpoint %s: %s",
                  self.config->writer, zmq_strerror (zmq_errno ()));
        zstr_sendx (pipe, "ERROR", error, NULL);
    }
    else
        zstr_send (pipe, "READY");

    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self.pull), 0, ZMQ_POLLIN, 0 },
    };
    bool stopped = false;
    while (true) {
        int rc = zmq_poll (items, stopped? 1: 2, -1);
        if (rc < 0 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            bool terminate = !command || streq (command, "$TERM");
            if (command && streq (command, "STOP") && !stopped) {
                s_stop (&self);
                stopped = true;
                zstr_send (pipe, "STOPPED");
            }
            zstr_free (&command);
            if (terminate)
                break;
        }
        if (!stopped && (items [1].revents & ZMQ_POLLIN)) {
            //  Take a burst, then look at the pipe again
            for (int count = 0; count < 256; count++) {
                s_receive (&self);
                if (!(zsock_events (self.pull) & ZMQ_POLLIN))
                    break;
            }
        }
    }
    zsock_destroy (&self.pull);
    zsock_destroy (&self.queue);
    intake_destroy (&self.intake);
}
