/*  =========================================================================
    writer - the writer actor: stores what the dispatcher hands it

    The actor's half: its sockets and its loop. It receives work items,
    hands the state changes to the writer core (writer_core.c: handlers,
    savepoints, group commit), sends the replies the core says are due,
    answers ping and stats itself, forwards scrub requests to the scrub
    actor and compact requests to the compactor, and relays the compactor's
    index updates to the core.
    =========================================================================
*/
#include "writer.h"
#include "writer_core.h"
#include "work.h"
#include "reply.h"
#include "reply_cache.h"
#include "timestamp.h"
#include "compactor.h"
#include "actor_start.h"

typedef struct _writer_t writer_t;

//  A handler of the actor returns 1 when it has answered already, 2 when
//  it keeps the work item (compact), and -1 when work->verdict says why
//  the request failed (answered at once by the caller).
typedef int (s_handler_fn) (writer_t *self, work_t *work);

struct _writer_t {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *queue;                 //  PAIR: work items from the dispatcher
    const node_config_t *config;    //  settings
    node_stats_t *stats;            //  shared counters
    writer_link_t *link;            //  queued bytes, commit generation
    writer_core_t *core;            //  handlers, index, value files, group commit
    reply_cache_t *replies;         //  reply sockets
    bool terminated;                //  $TERM received
    reply_t *reply;                 //  reply being built, reused
    int64_t last_expire_us;         //  last reply cache expiry
    int64_t last_stale_check_us;    //  last look for stale active segments
    zsock_t *scrub;                 //  PUSH to the scrub actor, or NULL
    zactor_t *compactor;            //  the compaction actor
    compactor_args_t compactor_args;    //  its arguments
    zlistx_t *compact_runs;         //  compact requests (work_t *) the compactor is running
};


//  --------------------------------------------------------------------------
//  Replies

static void
s_reply_now (writer_t *self, work_t *work, result_t result, const char *message)
{
    node_stats_result (self->stats, result);
    node_stats_replied (self->stats, work->request.type, result, work->received_us);
    if (!(work->request.present & FIELD_CLIENT_ADDRESS))
        return;
    reply_prepare (self->reply, &work->request, result, message);
    if (work->request.type == MSG_DESTROY_KEY) {
        self->reply->fields |= REPLY_FIELD_UNIFIED_ID;
        self->reply->unified_id = work->request.unified_id;
    }
    reply_cache_send (self->replies, self->reply, NULL);
    if (result == RESULT_SUCCESS && work->stages.at [NODE_STAGE_SYNCED]) {
        work->stages.at [NODE_STAGE_REPLIED] = timestamp_now ();
        node_stats_stages (self->stats, work->received_us, &work->stages);
    }
}


//  Send every reply the core has due, and tell the compactor what became
//  of the index update it asked for once the core knows
static void
s_send_replies (writer_t *self)
{
    uint64_t reclaimed;
    int outcome = writer_core_compaction_outcome (self->core, &reclaimed);
    if (outcome > 0) {
        char bytes [32];
        snprintf (bytes, sizeof (bytes), "%" PRIu64, reclaimed);
        zstr_sendx (self->compactor, "APPLIED", "0", bytes, NULL);
    }
    work_t *work;
    while ((work = writer_core_next_reply (self->core))) {
        s_reply_now (self, work, work->verdict,
                     work->verdict == RESULT_SUCCESS? NULL: work->verdict_message);
        work_destroy (&work);
    }
    if (outcome < 0)
        zstr_sendx (self->compactor, "APPLIED", "-1", "0", NULL);
}

static void
s_commit (writer_t *self)
{
    //  After the commit, before its replies: the reader starts a new
    //  snapshot when the generation moves (index_reader_set_generation)
    if (writer_core_commit (self->core) > 0)
        writer_link_committed (self->link);
    s_send_replies (self);
}

static bool
s_commit_due (writer_t *self)
{
    return writer_core_commit_due (self->core);
}

//  --------------------------------------------------------------------------
//  Service messages

static int
s_handle_ping (writer_t *self, work_t *work)
{
    node_stats_result (self->stats, RESULT_SUCCESS);
    node_stats_replied (self->stats, MSG_PING, RESULT_SUCCESS, work->received_us);
    if (!(work->request.present & FIELD_CLIENT_ADDRESS))
        return 1;
    reply_prepare (self->reply, &work->request, RESULT_SUCCESS, NULL);
    reply_set_ping (self->reply, self->config->name, node_stats_uptime (self->stats));
    reply_cache_send (self->replies, self->reply, NULL);
    return 1;
}

static int
s_handle_stats (writer_t *self, work_t *work)
{
    node_stats_result (self->stats, RESULT_SUCCESS);
    node_stats_replied (self->stats, MSG_STATS, RESULT_SUCCESS, work->received_us);
    if (!(work->request.present & FIELD_CLIENT_ADDRESS))
        return 1;
    reply_prepare (self->reply, &work->request, RESULT_SUCCESS, NULL);
    writer_core_space_stats (self->core);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    node_stats_encode (self->stats, &buffer);
    reply_set_stats (self->reply, (const uint8_t *) buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    self->reply->fields |= REPLY_FIELD_STATS;
    reply_cache_send (self->replies, self->reply, NULL);
    return 1;
}

//  scrub: the scrub actor runs the pass and answers at its end
static int
s_handle_scrub (writer_t *self, work_t *work)
{
    if (!self->scrub) {
        work_fail (work, RESULT_IO_ERROR, "scrub: this node runs no scrub");
        return -1;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int rc = request_encode (&work->request, &buffer);
    if (rc == 0)
        rc = zmq_send (zsock_resolve (self->scrub), buffer.data, buffer.size, ZMQ_DONTWAIT) < 0? -1: 0;
    msgpack_sbuffer_destroy (&buffer);
    if (rc) {
        work_fail (work, RESULT_OVERLOADED, "scrub: the scrub does not take requests now");
        return -1;
    }
    return 1;
}

//  compact (extension): the compactor runs one pass now; the reply goes
//  out when it says the pass is done (s_compactor_message)
static int
s_handle_compact (writer_t *self, work_t *work)
{
    if (!self->compactor) {
        work_fail (work, RESULT_IO_ERROR, "the compactor is not running");
        return -1;
    }
    char ratio [32] = "";
    if (work->request.present & FIELD_GARBAGE_RATIO)
        snprintf (ratio, sizeof (ratio), "%.17g", work->request.garbage_ratio);
    char pointer [32];
    snprintf (pointer, sizeof (pointer), "%p", (void *) work);
    zlistx_add_end (self->compact_runs, work);
    zstr_sendx (self->compactor, "RUN", ratio, pointer, NULL);
    return 2;
}

static int
s_handle_wrong_endpoint (writer_t *self, work_t *work)
{
    (void) self;
    work_fail (work, RESULT_INVALID_REQUEST,
               "message-type: %s is served on the reader endpoint", message_type_name (work->request.type));
    return -1;
}

//  The dispatch table, keyed by message type
//  The actor's own dispatch table (the state changes go to the core)
static s_handler_fn *s_dispatch [MSG_TYPE_COUNT] = {
    [MSG_PING] = s_handle_ping,
    [MSG_STATS] = s_handle_stats,
    [MSG_RETRIEVE_KEY_START] = s_handle_wrong_endpoint,
    [MSG_RETRIEVE_KEY_NEXT] = s_handle_wrong_endpoint,
    [MSG_LIST_VERSIONS] = s_handle_wrong_endpoint,
    [MSG_LIST_KEYS] = s_handle_wrong_endpoint,
    [MSG_SCRUB] = s_handle_scrub,
    [MSG_LIST_COLLECTIONS] = s_handle_wrong_endpoint,
    [MSG_COMPACT] = s_handle_compact,
};

//  --------------------------------------------------------------------------
//  The work loop

static void
s_process (writer_t *self, work_t *work)
{
    atomic_fetch_sub (&self->stats->queue_depth, 1);
    writer_link_dequeued (self->link, (int64_t) work->payload_size);
    work->stages.at [NODE_STAGE_TAKEN] = timestamp_now ();
    if (writer_core_handles (work->request.type)) {
        writer_core_process (self->core, work);
        s_send_replies (self);
        return;
    }
    int rc;
    if (work->verdict != RESULT_SUCCESS)
        rc = -1;
    else {
        s_handler_fn *handler = s_dispatch [work->request.type];
        if (handler)
            rc = handler (self, work);
        else {
            work_fail (work, RESULT_UNKNOWN_MESSAGE_TYPE, "message-type: not served by the writer");
            rc = -1;
        }
    }
    if (rc == 2)
        return;                 //  the handler keeps it (compact)
    if (rc < 0)
        s_reply_now (self, work, work->verdict, work->verdict_message);
    work_destroy (&work);
}

//  A message from the compactor (compactor.h)
static void
s_compactor_message (writer_t *self)
{
    zmsg_t *msg = zmsg_recv (self->compactor);
    char *command = msg? zmsg_popstr (msg): NULL;
    if (command && streq (command, "ID?")) {
        char id [32];
        snprintf (id, sizeof (id), "%" PRIu64, writer_core_take_file_id (self->core));
        zstr_sendx (self->compactor, "ID", id, NULL);
    }
    else
    if (command && streq (command, "APPLY")) {
        zframe_t *frame = zmsg_pop (msg);
        index_compaction_t *compaction = NULL;
        if (frame && zframe_size (frame) == sizeof (compaction))
            memcpy (&compaction, zframe_data (frame), sizeof (compaction));
        zframe_destroy (&frame);
        //  Applied: durable with the next group commit, which comes at once
        if (writer_core_apply_compaction (self->core, compaction))
            zstr_sendx (self->compactor, "APPLIED", "-1", "0", NULL);
    }
    else
    if (command && streq (command, "DONE")) {
        char *pointer = zmsg_popstr (msg);
        char *files = zmsg_popstr (msg);
        char *bytes = zmsg_popstr (msg);
        char *note = zmsg_popstr (msg);
        void *item = NULL;
        if (pointer)
            sscanf (pointer, "%p", &item);
        work_t *work = NULL;
        for (void *run = zlistx_first (self->compact_runs); run; run = zlistx_next (self->compact_runs))
            if (run == item) {
                work = (work_t *) zlistx_detach_cur (self->compact_runs);
                break;
            }
        if (work) {
            node_stats_result (self->stats, RESULT_SUCCESS);
            zsys_info ("writer: compact: %s files compacted, %s bytes reclaimed%s%s",
                       files? files: "0", bytes? bytes: "0", note && *note? "; ": "", note? note: "");
            if (work->request.present & FIELD_CLIENT_ADDRESS) {
                reply_prepare (self->reply, &work->request, RESULT_SUCCESS, NULL);
                self->reply->fields |= REPLY_FIELD_FILES_COMPACTED | REPLY_FIELD_BYTES_RECLAIMED;
                self->reply->files_compacted = files? strtoull (files, NULL, 10): 0;
                self->reply->bytes_reclaimed = bytes? strtoull (bytes, NULL, 10): 0;
                reply_cache_send (self->replies, self->reply, NULL);
            }
            work_destroy (&work);
        }
        zstr_free (&pointer);
        zstr_free (&files);
        zstr_free (&bytes);
        zstr_free (&note);
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  Receive one work item without waiting; NULL if the queue is empty
static work_t *
s_receive (writer_t *self)
{
    work_t *work = NULL;
    int size = zmq_recv (zsock_resolve (self->queue), &work, sizeof (work), ZMQ_DONTWAIT);
    return size == (int) sizeof (work)? work: NULL;
}

static void s_writer_destroy (writer_t **self_p);

//  The writer, or NULL with one line in error
static writer_t *
s_writer_new (zsock_t *pipe, writer_args_t *args, char *error, size_t error_size)
{
    const node_config_t *config = args->config;
    writer_t *self = (writer_t *) zmalloc (sizeof (writer_t));
    self->pipe = pipe;
    self->config = config;
    self->stats = args->stats;
    self->link = args->link;
    self->compact_runs = zlistx_new ();
    self->reply = reply_new ();
    self->replies = reply_cache_new (args->allow, args->stats, config->reply_cache_size,
                                     config->reply_idle_seconds, config->reply_send_timeout_ms,
                                     config->reply_hwm);
    if (self->replies)
        reply_cache_set_curve (self->replies, config->curve);
    if (self->replies)
        reply_cache_set_budget (self->replies, config->reply_budget, "writer");

    self->core = writer_core_new (config, args->cluster, args->stats, error, error_size);
    if (!self->core)
        goto failed;
    self->compactor_args = (compactor_args_t) { .config = config, .stats = self->stats };
    self->compactor = zactor_new (compactor_actor, &self->compactor_args);

    self->queue = zsock_new (ZMQ_PAIR);
    int hwm = config->queue_depth / 2 > 0? config->queue_depth / 2: 1;
    zsock_set_rcvhwm (self->queue, hwm);
    zsock_set_sndhwm (self->queue, hwm);
    if (zsock_bind (self->queue, "%s", args->queue_endpoint) != 0) {
        snprintf (error, error_size, "cannot bind the writer queue %s", args->queue_endpoint);
        goto failed;
    }
    if (args->scrub_endpoint) {
        //  inproc: connecting before the scrub actor binds is fine
        self->scrub = zsock_new (ZMQ_PUSH);
        if (!self->scrub || zsock_connect (self->scrub, "%s", args->scrub_endpoint) != 0) {
            snprintf (error, error_size, "cannot connect to the scrub at %s", args->scrub_endpoint);
            goto failed;
        }
        zsock_set_linger (self->scrub, 0);
    }
    *error = 0;
    return self;

failed:
    s_writer_destroy (&self);
    return NULL;
}

static void
s_writer_destroy (writer_t **self_p)
{
    writer_t *self = *self_p;
    if (!self)
        return;
    //  The compactor stops first: it may be waiting for an answer
    zactor_destroy (&self->compactor);
    work_t *work;
    while ((work = (work_t *) zlistx_detach (self->compact_runs, NULL)))
        work_destroy (&work);
    zlistx_destroy (&self->compact_runs);
    reply_cache_destroy (&self->replies);
    writer_core_destroy (&self->core);
    zsock_destroy (&self->queue);
    zsock_destroy (&self->scrub);
    reply_destroy (&self->reply);
    free (self);
    *self_p = NULL;
}

//  Process everything queued now, then commit
static void
s_drain (writer_t *self)
{
    work_t *work;
    while ((work = s_receive (self)))
        s_process (self, work);
    s_commit (self);
}

void
writer_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "strata-writer");   //  top -H, perf
    char error [512] = "";
    writer_t *self = s_writer_new (pipe, (writer_args_t *) args, error, sizeof (error));
    if (self)
        atomic_store (&self->stats->index_open, true);
    if (!actor_start_report (pipe, error)) {
        actor_start_wait_term (pipe);
        return;
    }

    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->queue), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->compactor), 0, ZMQ_POLLIN, 0 },
    };
    while (!self->terminated) {
        long timeout = writer_core_commit_wait (self->core, 1000);
        int rc = zmq_poll (items, 3, timeout);
        if (rc < 0 && errno != EINTR)
            break;

        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            zstr_free (&command);
        }
        if (items [1].revents & ZMQ_POLLIN) {
            //  A burst: until the queue runs dry or a budget is reached
            work_t *work;
            while ((work = s_receive (self))) {
                s_process (self, work);
                if (s_commit_due (self))
                    break;
            }
            if (!work || s_commit_due (self))
                s_commit (self);
        }
        else
        if (s_commit_due (self))
            s_commit (self);

        if (items [2].revents & ZMQ_POLLIN)
            s_compactor_message (self);
        if (s_commit_due (self))
            s_commit (self);

        int64_t now = timestamp_now ();
        if (now - self->last_expire_us > 1000000) {
            writer_core_space_stats (self->core);
            reply_cache_expire (self->replies);
            self->last_expire_us = now;
        }
        if (now - self->last_stale_check_us > 1000000) {
            self->last_stale_check_us = now;
            writer_core_cancel_stale (self->core);
            s_send_replies (self);
            if (s_commit_due (self))
                s_commit (self);
        }
    }
    //  Shutting down: the dispatcher has stopped; store what was received
    s_drain (self);
    s_writer_destroy (&self);
}

