/*  =========================================================================
    dispatcher - the dispatcher actor: owns the writer endpoint

    socket -> intake (frames within limits, request_decode, allow-list,
    size/MD5) -> work_t pointer -> writer queue.
    =========================================================================
*/
#include "dispatcher.h"
#include "intake.h"
#include "actor_start.h"

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *pull;                  //  the writer endpoint
    zactor_t *monitor;              //  counts refused CURVE handshakes on pull, or NULL
    zsock_t *queue;                 //  PAIR to the writer
    const node_config_t *config;    //  settings
    node_stats_t *stats;            //  shared counters
    writer_link_t *link;            //  payload bytes queued for the writer
    intake_t *intake;               //  receives and judges requests
} dispatcher_t;

//  True while the payload bytes waiting for the writer leave no room for
//  this request's (one request is always let through an empty queue)
static bool
s_queue_full (dispatcher_t *self, work_t *work)
{
    int64_t queued = writer_link_queue_bytes (self->link);
    return queued > 0 && (uint64_t) queued + work->payload_size > self->config->queue_bytes;
}

//  Hand a work item to the writer. While the writer's queue is full (by
//  bytes) wait up to overload-wait-ms, meanwhile reading nothing, so
//  ZeroMQ's high-water marks slow the senders down; past that, the request
//  is answered overloaded (its payload dropped at once) so memory stays
//  bounded however many senders there are. The hand-over itself blocks
//  only on the queue's count bound.
static void
s_hand_over (dispatcher_t *self, work_t *work)
{
    if (work->payload_size && s_queue_full (self, work)) {
        int64_t deadline = zclock_mono () + self->config->overload_wait_ms;
        while (s_queue_full (self, work) && zclock_mono () < deadline)
            zclock_sleep (1);
        if (s_queue_full (self, work)) {
            work_fail (work, RESULT_OVERLOADED,
                       "node: the writer queue is full (%" PRId64 " bytes waiting); retry later",
                       writer_link_queue_bytes (self->link));
            zmsg_destroy (&work->payload);
            work->payload = zmsg_new ();
            work->payload_size = 0;
        }
    }
    atomic_fetch_add (&self->stats->queue_depth, 1);
    writer_link_queued (self->link, (int64_t) work->payload_size);
    int rc = zmq_send (zsock_resolve (self->queue), &work, sizeof (work), 0);
    if (rc != (int) sizeof (work)) {
        atomic_fetch_sub (&self->stats->queue_depth, 1);
        writer_link_queued (self->link, -(int64_t) work->payload_size);
        zsys_error ("dispatcher: cannot queue a request: %s", zmq_strerror (zmq_errno ()));
        work_destroy (&work);
    }
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
        work_t *work = intake_receive (self->intake, self->pull);
        if (work)
            s_hand_over (self, work);
    }
    zactor_destroy (&self->monitor);
    zsock_destroy (&self->pull);
}

//  How often the dispatcher looks at its actor pipe while requests keep
//  coming (and how long a receive waits before it looks anyway)
#define S_PIPE_CHECK_MS 20

//  A command from the actor pipe: STOP stops taking requests (s_stop) and
//  says STOPPED. Returns true on $TERM (or a broken pipe).
static bool
s_command (dispatcher_t *self, bool *stopped)
{
    char *command = zstr_recv (self->pipe);
    bool terminate = !command || streq (command, "$TERM");
    if (command && streq (command, "STOP") && !*stopped) {
        s_stop (self);
        *stopped = true;
        zstr_send (self->pipe, "STOPPED");
    }
    zstr_free (&command);
    return terminate;
}

//  Serve until $TERM: take requests from the writer endpoint, and on STOP
//  stop taking them (s_stop) and say STOPPED.
//  The loop waits in a blocking receive on the writer endpoint rather than
//  in zmq_poll on it and the pipe: zmq_poll asks every socket for its
//  events, which costs system calls (a poll and a getpid each) per wake-up,
//  and wake-ups come about once per request under load
//  (docs/performance.md, "System calls"). The pipe is looked at every
//  S_PIPE_CHECK_MS instead.
static void
s_serve (dispatcher_t *self)
{
    zsock_set_rcvtimeo (self->pull, S_PIPE_CHECK_MS);
    zmq_pollitem_t pipe_item = { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    bool stopped = false;
    int64_t next_pipe_check = 0;
    while (true) {
        int64_t now = zclock_mono ();
        if (stopped || now >= next_pipe_check) {
            //  Stopped: only the pipe is left to wait for
            int rc = zmq_poll (&pipe_item, 1, stopped? -1: 0);
            if (rc < 0 && errno != EINTR)
                break;
            if (rc > 0 && (pipe_item.revents & ZMQ_POLLIN) && s_command (self, &stopped))
                break;
            next_pipe_check = now + S_PIPE_CHECK_MS;
            if (stopped)
                continue;
        }
        //  Wait for a request (up to S_PIPE_CHECK_MS), then take a burst of
        //  what has already arrived
        work_t *work = intake_receive (self->intake, self->pull);
        if (work)
            s_hand_over (self, work);
        for (int count = 1; count < 256; count++) {
            bool taken;
            work = intake_receive_waiting (self->intake, self->pull, &taken);
            if (!taken)
                break;
            if (work)
                s_hand_over (self, work);
        }
    }
}

void
dispatcher_actor (zsock_t *pipe, void *args_)
{
    pthread_setname_np (pthread_self (), "strata-dispatch");   //  top -H, perf
    dispatcher_args_t *args = (dispatcher_args_t *) args_;
    dispatcher_t self = {
        .pipe = pipe,
        .config = args->config,
        .stats = args->stats,
        .link = args->link,
        .intake = intake_new ("dispatcher", args->config, args->stats, args->allow, true),
    };

    self.queue = zsock_new (ZMQ_PAIR);
    int hwm = self.config->queue_depth / 2 > 0? self.config->queue_depth / 2: 1;
    zsock_set_sndhwm (self.queue, hwm);
    zsock_set_rcvhwm (self.queue, hwm);
    self.pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (self.pull, self.config->receive_hwm);
    zsock_set_maxmsgsize (self.pull, (int64_t) self.config->max_message_bytes);
    zsock_set_linger (self.pull, 0);
    if (self.config->curve)
        curve_server (self.config->curve, self.pull);
    char error [512] = "";
    if (zsock_connect (self.queue, "%s", args->queue_endpoint) != 0)
        snprintf (error, sizeof (error), "cannot connect to the writer queue");
    else
    if (zsock_bind (self.pull, "%s", self.config->writer) < 0)
        snprintf (error, sizeof (error), "cannot bind the writer endpoint %s: %s",
                  self.config->writer, zmq_strerror (zmq_errno ()));
    else
    if (self.config->curve)
        self.monitor = curve_monitor_new (self.pull, node_stats_auth_failure, self.stats);
    if (!actor_start_report (pipe, error))
        actor_start_wait_term (pipe);
    else
        s_serve (&self);

    zactor_destroy (&self.monitor);
    zsock_destroy (&self.pull);
    zsock_destroy (&self.queue);
    intake_destroy (&self.intake);
}
