/*  =========================================================================
    dispatcher - the dispatcher actor: owns the writer endpoint

    socket -> frames (limits) -> request_decode -> allow-list -> size/MD5
    -> work_t pointer -> writer queue.
    =========================================================================
*/
#include "dispatcher.h"
#include "work.h"
#include "timestamp.h"

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *pull;                  //  the writer endpoint
    zsock_t *queue;                 //  PAIR to the writer
    const node_config_t *config;    //  settings
    node_stats_t *stats;            //  shared counters
    endpoint_allow_t *allow;        //  reply allow-list
    digest_md5_t *md5;              //  MD5 context, reused
    uint64_t refused_logged;        //  disallowed addresses logged so far
} dispatcher_t;

static bool
s_is_archive (message_type_t type)
{
    return type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_START
        || type == MSG_ARCHIVE_KEY_NEXT || type == MSG_ARCHIVE_KEY_FINAL;
}

static void
s_dropped (dispatcher_t *self, const char *why, const char *address)
{
    atomic_fetch_add (&self->stats->requests_dropped, 1);
    //  Log the first few, then one in a thousand: a flood must not flood the log
    if (self->refused_logged < 10 || self->refused_logged % 1000 == 0)
        zsys_warning ("dispatcher: request dropped (%s)%s%s", why,
                      address? ": client-address ": "", address? address: "");
    self->refused_logged++;
}

//  Check the payload of an archive request against its header
static void
s_verify_payload (dispatcher_t *self, work_t *work)
{
    request_t *request = &work->request;
    if (work->payload_size != request->segment_size) {
        work_fail (work, RESULT_SIZE_MISMATCH,
                   "segment-size: header says %" PRIu64 " bytes, payload has %" PRIu64,
                   request->segment_size, work->payload_size);
        return;
    }
    uint8_t md5 [DIGEST_MD5_SIZE];
    for (zframe_t *frame = zmsg_first (work->payload); frame; frame = zmsg_next (work->payload))
        digest_md5_update (self->md5, zframe_data (frame), zframe_size (frame));
    digest_md5_final (self->md5, md5);
    if (memcmp (md5, request->segment_md5, DIGEST_MD5_SIZE) != 0)
        work_fail (work, RESULT_MD5_MISMATCH, "segment-md5-digest: does not match the payload's MD5");
}

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

//  Receive and handle one request (the socket is readable)
static void
s_receive (dispatcher_t *self)
{
    zframe_t *header = zframe_recv (self->pull);
    if (!header)
        return;
    work_t *work = work_new ();
    work->received_us = timestamp_now ();
    size_t frames = 1;
    uint64_t bytes = zframe_size (header);
    bool too_many = false, too_big = false;
    bool more = zframe_more (header);
    while (more) {
        zframe_t *frame = zframe_recv (self->pull);
        if (!frame)
            break;
        more = zframe_more (frame);
        frames++;
        bytes += zframe_size (frame);
        if (frames > (size_t) self->config->max_frames)
            too_many = true;
        if (bytes > self->config->max_message_bytes)
            too_big = true;
        if (too_many || too_big) {
            zframe_destroy (&frame);        //  keep nothing past the limit
            continue;
        }
        work->payload_size += zframe_size (frame);
        zmsg_append (work->payload, &frame);
    }
    request_error_t error;
    int rc = request_decode (&work->request, zframe_data (header), zframe_size (header), &error);
    zframe_destroy (&header);
    request_t *request = &work->request;
    node_stats_request (self->stats, request->type);

    bool has_address = (request->present & FIELD_CLIENT_ADDRESS) != 0;
    if (has_address && !endpoint_allow_check (self->allow, request->client_address)) {
        s_dropped (self, "reply address not allowed", request->client_address);
        work_destroy (&work);
        return;
    }
    if (rc != 0) {
        if (!has_address) {
            s_dropped (self, error.message, NULL);
            work_destroy (&work);
            return;
        }
        work_fail (work, error.result, "%s", error.message);
    }
    else
    if (too_many)
        work_fail (work, RESULT_INVALID_REQUEST, "message: more than %d frames", self->config->max_frames);
    else
    if (too_big)
        work_fail (work, RESULT_INVALID_REQUEST, "message: more than %" PRIu64 " bytes",
                   self->config->max_message_bytes);
    else
    if (s_is_archive (request->type))
        s_verify_payload (self, work);

    if (work->verdict != RESULT_SUCCESS) {
        //  Nothing of a failed request is kept
        zmsg_destroy (&work->payload);
        work->payload = zmsg_new ();
        work->payload_size = 0;
    }
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
        .allow = args->allow,
        .md5 = digest_md5_new (),
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
    digest_md5_destroy (&self.md5);
}
