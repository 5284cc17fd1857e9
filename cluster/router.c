/*  =========================================================================
    router - strata-router's engine, a czmq actor

    One thread, one poll loop over three sockets: the actor pipe, the
    clients' ROUTER socket and the node_link's reply socket. Everything the
    router does is an operation (s_op_t wraps a put_op, get_op, delete_op,
    list_op or keys_op; s_op_classes is the table of what is done with
    each kind) driven by events: the client message that creates it, the
    node answers and timeouts node_link hands back (matched to the
    operation by the owner pointer the operation sent with), and for
    streamed uploads the client's later put-data / put-finish / put-abort
    (matched by upload-id and the client's routing id).

    Bounds: at most max-operations operations at once and at most
    max-buffered-bytes of object data held by them (an estimate made at
    admission); client messages are received frame by frame and data past
    the limits of the request type is dropped at once. Read sessions (the
    object MD5 carried from a get to its get-next calls) are kept for at most
    S_MAX_SESSIONS readers and expire after upload-timeout-seconds.

    Why this file is longer than 900 lines: it is one actor's loop and
    state (router_t), which admission, the operations table, read sessions,
    uploads, the start-up hold, the stats poll and shutdown all read and
    change; split, router_t would have to be published to every part. What
    does not need that state is a module of its own already: each
    operation (put_op, get_op, ...), the node links, placement, metrics,
    the repair actor and the codec.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include "router.h"
#include "actor_start.h"
#include "curve.h"
#include "delete_op.h"
#include "endpoint.h"
#include "get_op.h"
#include "list_op.h"
#include "keys_op.h"
#include "repair.h"
#include "node_link.h"
#include "reply_budget.h"
#include "auth_policy.h"
#include "op_env.h"
#include "put_op.h"
#include "router_reply.h"
#include "router_metrics.h"
#include "router_request.h"
#include "timestamp.h"
#include "unified_id.h"

#define S_MAX_DATA_FRAMES   65536       //  data frames kept from one client message
#define S_MAX_SESSIONS      1024        //  read sessions kept
#define S_BURST             64          //  messages taken from one socket per turn
#define S_TICK_MS           100         //  longest poll wait
#define S_CLIENT_HWM        1000        //  ROUTER high-water marks
#define S_CLIENT_STUCK_US   200000      //  a client holding reply bytes it has not taken
                                        //  for this long gets no more replies
#define S_CLIENT_IDLE_US    60000000    //  forget a client's empty reply count after this
#define S_LINGER_MS         2000        //  replies still sent after close
#define S_MAX_HELD          10000       //  requests held during start-up
#define S_STATS_INTERVAL_MS 2000        //  ask the nodes for stats this often (when watched)
#define S_WATCH_MS          10000       //  a client ping keeps the stats polling on this long
#define S_LOG_INTERVAL_MS   1000        //  one log line of a kind per this long at most
#define S_NODE_LOG_MS       2000        //  one reachability line per node per this long at most
#define S_HANDOFF_LOG_MS    60000       //  handoff writes are logged as a count per minute

//  Log lines of one kind: at most one per interval, counting the rest
typedef struct {
    int64_t next_ms;                //  the next line may go out at this time
    uint64_t suppressed;            //  lines not written since the last one
} s_limit_t;

typedef enum {
    S_LOG_REFUSED, S_LOG_FAILED_PUT, S_LOG_FAILED_GET, S_LOG_FAILED_OTHER, S_LOG_SLOW, S_LOG_KINDS
} s_log_kind_t;

typedef enum {
    S_OP_PUT, S_OP_GET, S_OP_DELETE, S_OP_LIST, S_OP_KEYS
} s_kind_t;

//  One operation in flight
typedef struct {
    s_kind_t kind;                  //  which of the ops below
    void *op;                       //  put_op_t, get_op_t, delete_op_t or list_op_t
    char owner_key [24];            //  op pointer as text (key in self->owners)
    uint64_t cost;                  //  bytes reserved in the buffer budget
    uint64_t copy_cost;             //  of which an upload's kept copy (put_op_copy_bytes)
    char upload_id [ROUTER_UPLOAD_ID_MAX + 1];      //  streamed upload, else ""
    zframe_t *client;               //  routing id of the upload's client, or of the reader
    uint32_t collection_id;         //  get: for the read session
    char *key;                      //  get: for the read session (owned)
    int64_t active_ms;              //  last client message (uploads)
    void *list_handle;              //  handle in self->ops
} s_op_t;

//  The object's MD5 carried from one slice read to the next
typedef struct {
    char *name;                     //  hash key
    digest_md5_t *md5;              //  over slices 0 .. next_slice - 1
    uint32_t next_slice;            //  the slice it continues with
    int64_t used_ms;                //  last use
} s_session_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    const router_config_t *config;  //  settings
    cluster_config_t *cluster;      //  nodes, k, n
    zsock_t *clients;               //  ROUTER for clients
    curve_t *curve;                 //  CurveZMQ certificates, or NULL (plaintext)
    zactor_t *auth;                 //  zauth with the clients-dir policy, or NULL
    zactor_t *client_monitor;       //  refused CURVE handshakes on clients, or NULL
    zactor_t *reply_monitor;        //  refused CURVE handshakes on the node-reply PULL, or NULL
    _Atomic uint64_t auth_failures; //  both, counted from the monitor threads
    reply_budget_t *budget;         //  reply bytes held for clients (reply-max-bytes)
    zhashx_t *client_queues;        //  routing id (hex) -> reply_queue_t *: bytes each
                                    //  client connection has not taken yet
    auth_t *policy;                 //  grants by client key (auth/policy), or NULL
    uint64_t forbidden;             //  requests answered forbidden
    uint64_t replies_dropped;       //  replies not sent: no budget room
    node_link_t *link;              //  to the nodes
    erasure_t *erasure;             //  the code
    unified_id_t *ids;              //  version numbers
    op_env_t env;                   //  what operations may do
    zlistx_t *ops;                  //  s_op_t *, every operation in flight
    zhashx_t *owners;               //  owner_key -> s_op_t * (not owned)
    zhashx_t *uploads;              //  upload-id -> s_op_t * (not owned)
    zhashx_t *sessions;             //  session name -> s_session_t * (owned)
    router_request_t *request;      //  client request being decoded, reused
    uint64_t buffered;              //  bytes reserved by operations
    uint64_t handoff_writes;        //  writes that succeeded with handoff copies
    router_metrics_t *metrics;      //  published figures (and the HTTP endpoint, if on)
    int stats_owner;                //  its address owns the router's own stats requests
    bool *logged_reachable;         //  per node: the state last logged
    bool *published_reachable;      //  per node: the state last published in metrics
    int64_t started_ms;             //  when the router started
    int64_t *node_log_next_ms;      //  per node: next reachability line allowed
    size_t *logged_resets;          //  per node: node_link_resets when last looked at
    s_limit_t limits [S_LOG_KINDS]; //  rate limits of the other log lines
    uint64_t handoff_minute;        //  handoff writes since the last handoff line
    int64_t handoff_log_ms;         //  when the next handoff line is due
    int64_t next_second_ms;         //  next once-a-second work
    int64_t next_publish_ms;        //  next publication of node reachability
    int64_t next_stats_ms;          //  next stats poll of the nodes
    int64_t watched_ms;             //  last client ping (strata top) keeps stats polling on
    bool stopping;                  //  STOP received
    bool terminated;                //  $TERM received, or stopped
    int64_t stop_deadline_ms;       //  give up on operations after this
    int64_t next_housekeeping_ms;   //  upload and session expiry
    zactor_t *repairer;             //  runs repair requests (repair.h)
    repair_args_t repair_args;      //  its arguments (must outlive it)
    char repair_endpoint [300];     //  where it binds its reply socket
    size_t repairs_waiting;         //  repair requests handed to it, not yet answered
    bool started;                   //  every node answered once, or a node-timeout passed
    zlistx_t *held;                 //  zmsg_t * [client, header, data...] held while starting
    uint64_t held_bytes;            //  their data bytes (at most max-buffered-bytes)
    bool releasing;                 //  handling held requests (authorized before they were held)
} router_t;


//  --------------------------------------------------------------------------
//  The environment operations run in

static int
s_env_send (op_env_t *env, void *op, size_t node, node_endpoint_t endpoint,
            request_t *request, zmsg_t **data_p, uint64_t cookie)
{
    router_t *self = (router_t *) env->handle;
    return node_link_send (self->link, node, endpoint, request, data_p, op, cookie, zclock_mono ());
}

static void
s_env_post (op_env_t *env, size_t node, node_endpoint_t endpoint, request_t *request)
{
    router_t *self = (router_t *) env->handle;
    node_link_post (self->link, node, endpoint, request);
}

static bool
s_env_reachable (op_env_t *env, size_t node)
{
    router_t *self = (router_t *) env->handle;
    return node_link_reachable (self->link, node, zclock_mono ());
}

static bool
s_env_ever_reached (op_env_t *env, size_t node)
{
    router_t *self = (router_t *) env->handle;
    return node_link_ever_reached (self->link, node);
}

static uint64_t
s_env_new_id (op_env_t *env)
{
    router_t *self = (router_t *) env->handle;
    return unified_id_next (self->ids, timestamp_now ());
}

static void
s_env_answer (op_env_t *env, zframe_t *routing_id, zmsg_t **msg_p)
{
    router_t *self = (router_t *) env->handle;
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    //  Every reply's bytes are charged to the budget until ZeroMQ has
    //  written them out (or dropped them), and to the client connection's
    //  own count: a client that has taken nothing for a while gets nothing
    //  more, and none may hold more than a quarter of the budget, so
    //  clients that do not read cannot take the budget from those that do
    uint64_t bytes = zmsg_content_size (msg);
    char *name = zframe_strhex (routing_id);
    reply_queue_t *queue = (reply_queue_t *) zhashx_lookup (self->client_queues, name);
    if (!queue) {
        queue = reply_queue_new ();
        zhashx_insert (self->client_queues, name, queue);
    }
    zstr_free (&name);
    int64_t held = atomic_load (&queue->bytes);
    bool stuck = held > 0 && zclock_usecs () - atomic_load (&queue->progress_us) >= S_CLIENT_STUCK_US;
    bool too_much = held > 0 && (uint64_t) held + bytes > self->config->reply_max_bytes / 4;
    if (stuck || too_much || !reply_budget_take (self->budget, bytes)) {
        self->replies_dropped++;
        reply_budget_log_drop (self->budget, "router", NULL);
        zmsg_destroy (&msg);
        return;
    }
    //  Never blocks: a ROUTER drops what a client's full pipe cannot take
    void *handle = zsock_resolve (self->clients);
    if (zmq_send (handle, zframe_data (routing_id), zframe_size (routing_id),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        reply_budget_release (self->budget, bytes);
        zmsg_destroy (&msg);
        return;
    }
    zframe_t *frame;
    while ((frame = zmsg_pop (msg))) {
        int more = zmsg_size (msg)? ZMQ_SNDMORE: 0;
        uint64_t size = zframe_size (frame);
        bytes -= size;
        reply_budget_send (self->budget, queue, handle, &frame, more | ZMQ_DONTWAIT, false);
    }
    zmsg_destroy (&msg);
    if (bytes)                      //  a multipart ends only with its last frame
        reply_budget_release (self->budget, bytes);
}


//  --------------------------------------------------------------------------
//  Logs and metrics

//  True if a line of kind may be written now; *suppressed_p gets how many
//  were held back since the last one
static bool
s_log_allowed (router_t *self, s_log_kind_t kind, uint64_t *suppressed_p)
{
    s_limit_t *limit = &self->limits [kind];
    int64_t now = zclock_mono ();
    if (now < limit->next_ms) {
        limit->suppressed++;
        return false;
    }
    *suppressed_p = limit->suppressed;
    limit->suppressed = 0;
    limit->next_ms = now + S_LOG_INTERVAL_MS;
    return true;
}

//  A key for a log line: control characters replaced, cut at 200 bytes
static void
s_printable (char *out, size_t size, const char *key)
{
    size_t used = 0;
    for (const char *c = key? key: ""; *c && used + 4 < size && used < 200; c++)
        out [used++] = (unsigned char) *c < 0x20 || *c == 0x7f? '?': *c;
    if (key && strlen (key) > used)
        for (int dot = 0; dot < 3 && used + 1 < size; dot++)
            out [used++] = '.';
    out [used] = 0;
}

static bool
s_is_write (router_msg_t type)
{
    return type == ROUTER_MSG_PUT || type == ROUTER_MSG_PUT_START || type == ROUTER_MSG_PUT_DATA
        || type == ROUTER_MSG_PUT_FINISH || type == ROUTER_MSG_DELETE;
}

//  Every answer to a client: metrics, the access log, slow and failed
//  operations
static void
s_answered (router_t *self, router_msg_t type, const char *key, uint64_t size, router_result_t result,
            const char *message, int64_t duration_us, uint64_t data_bytes)
{
    router_metrics_answered (self->metrics, type, result, duration_us, data_bytes);
    char printable [256];
    s_printable (printable, sizeof printable, key);
    double ms = (double) duration_us / 1000;
    if (self->config->access_log)
        zsys_info ("access: %s key=\"%s\" size=%" PRIu64 " result=%s %.3f ms", router_msg_name (type),
                   printable, size? size: data_bytes, router_result_name (result), ms);
    uint64_t suppressed;
    if (self->config->slow_ms > 0 && duration_us > (int64_t) self->config->slow_ms * 1000
    &&  s_log_allowed (self, S_LOG_SLOW, &suppressed))
        zsys_warning ("slow: %s key=\"%s\" took %.0f ms (log/slow-ms %d), result %s "
                      "(%" PRIu64 " more slow operations not logged before this one)",
                      router_msg_name (type), printable, ms, self->config->slow_ms,
                      router_result_name (result), suppressed);
    if (result == ROUTER_SUCCESS || result == ROUTER_NOT_FOUND)
        return;
    s_log_kind_t kind = result == ROUTER_UNAVAILABLE && s_is_write (type)? S_LOG_REFUSED
                      : type == ROUTER_MSG_PUT || type == ROUTER_MSG_PUT_START || type == ROUTER_MSG_PUT_DATA
                        || type == ROUTER_MSG_PUT_FINISH? S_LOG_FAILED_PUT
                      : type == ROUTER_MSG_GET || type == ROUTER_MSG_GET_NEXT? S_LOG_FAILED_GET
                      : S_LOG_FAILED_OTHER;
    if (!s_log_allowed (self, kind, &suppressed))
        return;
    zsys_warning ("%s %s key=\"%s\": %s: %s (%" PRIu64 " similar lines suppressed before this one)",
                  kind == S_LOG_REFUSED? "write refused:": "failed:", router_msg_name (type), printable,
                  router_result_name (result), message && *message? message: "-", suppressed);
}

static void
s_env_answered (op_env_t *env, const op_client_t *client, router_reply_t *reply, uint64_t data_bytes)
{
    router_t *self = (router_t *) env->handle;
    s_answered (self, client->type, client->key, client->size, router_reply_result (reply),
                router_reply_error (reply), zclock_usecs () - client->received_us, data_bytes);
}

//  Ask every reachable node for its stats (the answers come back as events
//  owned by &self->stats_owner)
static void
s_poll_stats (router_t *self, int64_t now)
{
    for (size_t node = 0; node < cluster_config_node_count (self->cluster); node++) {
        if (!node_link_reachable (self->link, node, now))
            continue;
        request_t *request = request_new ();
        if (!request)
            return;
        request->type = MSG_STATS;
        node_link_send (self->link, node, NODE_WRITER, request, NULL, &self->stats_owner, node, now);
        request_destroy (&request);
    }
}

//  Every loop turn, at most every S_TICK_MS: publish which nodes are reachable
static void
s_publish_reachable (router_t *self, int64_t now)
{
    bool watched = *self->config->metrics_listen || (self->watched_ms && now - self->watched_ms < S_WATCH_MS);
    for (size_t node = 0; node < cluster_config_node_count (self->cluster); node++) {
        bool reachable = node_link_reachable (self->link, node, now);
        if (reachable && !self->published_reachable [node] && watched) {
            //  Just answered: its figures now, not at the next poll
            request_t *request = request_new ();
            if (request) {
                request->type = MSG_STATS;
                node_link_send (self->link, node, NODE_WRITER, request, NULL, &self->stats_owner, node, now);
                request_destroy (&request);
            }
        }
        self->published_reachable [node] = reachable;
        router_metrics_node_reachable (self->metrics, node, reachable);
    }
}

//  Once a second: reachability (logged when it changes), rates, gauges,
//  the handoff line once a minute, the stats poll when someone watches
static void
s_every_second (router_t *self, int64_t now)
{
    size_t nodes = cluster_config_node_count (self->cluster);
    for (size_t node = 0; node < nodes; node++) {
        bool reachable = node_link_reachable (self->link, node, now);
        size_t resets = node_link_resets (self->link, node);
        if (now < self->node_log_next_ms [node])
            continue;               //  paced: what happens meanwhile is told next time
        if (!self->started)
            self->logged_resets [node] = resets;    //  starting: not an outage yet
        if (reachable && self->logged_reachable [node] && resets != self->logged_resets [node]) {
            //  Lost and back between two looks: an outage too short to
            //  change the state, told all the same
            size_t times = resets - self->logged_resets [node];
            zsys_warning ("node %s lost its connection and is reachable again (%zu time%s since "
                          "the last line)", cluster_config_node_name (self->cluster, node),
                          times, times == 1? "": "s");
            self->node_log_next_ms [node] = now + S_NODE_LOG_MS;
            self->logged_resets [node] = resets;
        }
        if (reachable == self->logged_reachable [node] || now < self->node_log_next_ms [node])
            continue;
        if (!reachable && now < self->started_ms + self->config->node_timeout_ms)
            continue;       //  starting: nodes have not all answered their first ping yet
        self->logged_reachable [node] = reachable;
        self->logged_resets [node] = resets;
        self->node_log_next_ms [node] = now + S_NODE_LOG_MS;
        if (reachable)
            zsys_info ("node %s is reachable again", cluster_config_node_name (self->cluster, node));
        else
            zsys_warning ("node %s is unreachable: no answer for %d ms (node-timeout-ms) or not connected",
                          cluster_config_node_name (self->cluster, node), self->config->node_timeout_ms);
    }
    router_metrics_tick (self->metrics);
    router_metrics_set_in_flight (self->metrics, zlistx_size (self->ops));
    router_metrics_set_auth_failures (self->metrics,
                                      atomic_load_explicit (&self->auth_failures, memory_order_relaxed));
    if (now >= self->handoff_log_ms) {
        if (self->handoff_minute > 0) {
            char names [256];
            op_env_unreachable_names (&self->env, names, sizeof names);
            zsys_warning ("handoff: %" PRIu64 " writes in the last minute stored shares on handoff holders "
                          "(unreachable now: %s)", self->handoff_minute, *names? names: "none");
        }
        self->handoff_minute = 0;
        self->handoff_log_ms = now + S_HANDOFF_LOG_MS;
    }
    bool watched = *self->config->metrics_listen || (self->watched_ms && now - self->watched_ms < S_WATCH_MS);
    if (watched && now >= self->next_stats_ms) {
        s_poll_stats (self, now);
        self->next_stats_ms = now + S_STATS_INTERVAL_MS;
    }
}


//  --------------------------------------------------------------------------
//  Operations

static void
s_session_free (void **item_p)
{
    s_session_t *session = (s_session_t *) *item_p;
    if (session) {
        digest_md5_destroy (&session->md5);
        free (session->name);
        free (session);
    }
    *item_p = NULL;
}

//  Name of a read session: reader, collection, version, key
static char *
s_session_name (zframe_t *client, uint32_t collection_id, uint64_t unified_id, const char *key)
{
    char *hex = zframe_strhex (client);
    char *name = zsys_sprintf ("%s/%" PRIu32 "/%" PRIu64 "/%s", hex, collection_id, unified_id, key);
    free (hex);
    return name;
}

//  What the router does with an operation, whatever its kind: a table of
//  operations indexed by s_kind_t (each entry adapts one op class)
typedef struct {
    bool (*done) (void *op);                            //  finished, reply sent?
    void (*on_event) (void *op, node_event_t *event);   //  a node answered or timed out
    void (*destroy) (void *op);                         //  free it
    size_t (*handoffs) (void *op);                      //  writes: owners handed off; NULL if none
} s_op_class_t;

#define S_OP_ADAPTERS(name) \
    static bool s_##name##_done (void *op) { return name##_done ((name##_t *) op); } \
    static void s_##name##_on_event (void *op, node_event_t *event) \
        { name##_on_event ((name##_t *) op, event); } \
    static void s_##name##_destroy (void *op) { name##_t *typed = (name##_t *) op; name##_destroy (&typed); }
S_OP_ADAPTERS (put_op)
S_OP_ADAPTERS (get_op)
S_OP_ADAPTERS (delete_op)
S_OP_ADAPTERS (list_op)
S_OP_ADAPTERS (keys_op)
static size_t s_put_op_handoffs (void *op) { return put_op_handoffs ((put_op_t *) op); }
static size_t s_delete_op_handoffs (void *op) { return delete_op_handoffs ((delete_op_t *) op); }

static const s_op_class_t s_op_classes [] = {
    [S_OP_PUT]    = { s_put_op_done, s_put_op_on_event, s_put_op_destroy, s_put_op_handoffs },
    [S_OP_GET]    = { s_get_op_done, s_get_op_on_event, s_get_op_destroy, NULL },
    [S_OP_DELETE] = { s_delete_op_done, s_delete_op_on_event, s_delete_op_destroy, s_delete_op_handoffs },
    [S_OP_LIST]   = { s_list_op_done, s_list_op_on_event, s_list_op_destroy, NULL },
    [S_OP_KEYS]   = { s_keys_op_done, s_keys_op_on_event, s_keys_op_destroy, NULL },
};

static s_op_t *
s_op_add (router_t *self, s_kind_t kind, void *op, uint64_t cost)
{
    s_op_t *wrapper = (s_op_t *) zmalloc (sizeof (s_op_t));
    wrapper->kind = kind;
    wrapper->op = op;
    wrapper->cost = cost;
    wrapper->active_ms = zclock_mono ();
    snprintf (wrapper->owner_key, sizeof wrapper->owner_key, "%p", op);
    wrapper->list_handle = zlistx_add_end (self->ops, wrapper);
    zhashx_insert (self->owners, wrapper->owner_key, wrapper);
    self->buffered += cost;
    return wrapper;
}

//  A finished get that the client may continue: keep its MD5
static void
s_keep_session (router_t *self, s_op_t *wrapper)
{
    uint64_t unified_id;
    uint32_t next_slice;
    digest_md5_t *md5 = get_op_continuation ((get_op_t *) wrapper->op, &unified_id, &next_slice);
    if (!md5 || !wrapper->client || !wrapper->key) {
        digest_md5_destroy (&md5);
        return;
    }
    if (zhashx_size (self->sessions) >= S_MAX_SESSIONS) {
        //  Full: drop the least recently used
        s_session_t *oldest = NULL;
        for (s_session_t *session = (s_session_t *) zhashx_first (self->sessions); session;
             session = (s_session_t *) zhashx_next (self->sessions))
            if (!oldest || session->used_ms < oldest->used_ms)
                oldest = session;
        if (oldest)
            zhashx_delete (self->sessions, oldest->name);
    }
    s_session_t *session = (s_session_t *) zmalloc (sizeof (s_session_t));
    session->name = s_session_name (wrapper->client, wrapper->collection_id, unified_id, wrapper->key);
    session->md5 = md5;
    session->next_slice = next_slice;
    session->used_ms = zclock_mono ();
    zhashx_delete (self->sessions, session->name);
    zhashx_insert (self->sessions, session->name, session);
}

//  Remove an operation: forget its pending node requests, free it
static void
s_op_remove (router_t *self, s_op_t *wrapper)
{
    node_link_forget (self->link, wrapper->op);
    zhashx_delete (self->owners, wrapper->owner_key);
    if (wrapper->upload_id [0])
        zhashx_delete (self->uploads, wrapper->upload_id);
    zlistx_delete (self->ops, wrapper->list_handle);
    self->buffered -= wrapper->cost;
    s_op_classes [wrapper->kind].destroy (wrapper->op);
    wrapper->op = NULL;
    zframe_destroy (&wrapper->client);
    free (wrapper->key);
    free (wrapper);
}

//  After anything happened to an operation: remove it if it is done
static void
s_op_settle (router_t *self, s_op_t *wrapper)
{
    const s_op_class_t *class = &s_op_classes [wrapper->kind];
    if (!class->done (wrapper->op))
        return;
    if (wrapper->kind == S_OP_GET)
        s_keep_session (self, wrapper);
    if (class->handoffs && class->handoffs (wrapper->op) > 0) {
        self->handoff_writes++;
        self->handoff_minute++;
        router_metrics_handoff_write (self->metrics);
    }
    s_op_remove (self, wrapper);
}

//  A node answered (or timed out) for an operation
static void
s_node_event (router_t *self, node_event_t *event)
{
    if (event->reply)
        router_metrics_node_answered (self->metrics, event->node);
    if (event->owner == &self->stats_owner) {
        //  The router's own stats poll
        if (event->reply && event->reply->result == RESULT_SUCCESS)
            router_metrics_node_stats (self->metrics, event->node, event->reply->stats,
                                       event->reply->stats_size);
        zmsg_destroy (&event->data);
        return;
    }
    char owner_key [24];
    snprintf (owner_key, sizeof owner_key, "%p", event->owner);
    s_op_t *wrapper = (s_op_t *) zhashx_lookup (self->owners, owner_key);
    if (wrapper) {
        s_op_classes [wrapper->kind].on_event (wrapper->op, event);
        s_op_settle (self, wrapper);
    }
    zmsg_destroy (&event->data);
}


//  --------------------------------------------------------------------------
//  Client requests

//  Answer a request that failed before it became an operation
static void
s_refuse (router_t *self, zframe_t *client, router_request_t *request, router_result_t result,
          const char *format, ...) __attribute__ ((format (printf, 5, 6)));

static void
s_refuse (router_t *self, zframe_t *client, router_request_t *request, router_result_t result,
          const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    router_reply_t *reply = router_reply_new (router_request_reply_type (request),
                                              router_request_id (request));
    if (!reply)
        return;
    router_reply_set_result (reply, result, "%s", message);
    s_answered (self, request->type, request->key, 0, result, message, 0, 0);
    zmsg_t *msg = router_reply_encode (reply, NULL);
    router_reply_destroy (&reply);
    if (msg)
        s_env_answer (&self->env, client, &msg);
    zmsg_destroy (&msg);
}

//  Refuse new work when the router is at its limits. Returns 0 if admitted.
static int
s_admit (router_t *self, zframe_t *client, router_request_t *request, uint64_t cost)
{
    if (self->stopping) {
        s_refuse (self, client, request, ROUTER_UNAVAILABLE, "router: stopping; send the request again to another router or later");
        return -1;
    }
    if (zlistx_size (self->ops) >= (size_t) self->config->max_operations) {
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: %d operations in flight already (max-operations); retry later",
                  self->config->max_operations);
        return -1;
    }
    if (self->buffered + cost > self->config->max_buffered_bytes && zlistx_size (self->ops) > 0) {
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: %" PRIu64 " bytes of objects in flight already "
                  "(max-buffered-bytes); retry later", self->buffered);
        return -1;
    }
    return 0;
}

//  Estimated bytes an operation holds at its peak
static uint64_t
s_cost (router_t *self, router_msg_t type, uint64_t data_size)
{
    uint64_t slice = self->config->slice_size;
    uint64_t n = (uint64_t) cluster_config_total_shards (self->cluster);
    uint64_t k = (uint64_t) cluster_config_data_shards (self->cluster);
    uint64_t shares = slice * n / k + n * ERASURE_BLOCK_SIZE;      //  one slice's shares
    //  A write's messages carry up to n - k more (absent owners' shares go
    //  to two holders each)
    uint64_t sent = slice * (2 * n - k) / k + (2 * n - k) * ERASURE_BLOCK_SIZE;
    switch (type) {
        case ROUTER_MSG_PUT:       return data_size + slice + shares + 2 * sent;
        case ROUTER_MSG_PUT_START: return 3 * slice + shares + 2 * sent;
        case ROUTER_MSG_GET:
        case ROUTER_MSG_GET_NEXT:  return slice + shares;
        default:                   return 0;
    }
}

static void
s_ping (router_t *self, zframe_t *client, router_request_t *request)
{
    router_reply_t *reply = router_reply_new (router_request_reply_type (request), router_request_id (request));
    if (!reply)
        return;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    size_t nodes = cluster_config_node_count (self->cluster);
    int64_t now = zclock_mono ();
    self->watched_ms = now;
    if (now >= self->next_stats_ms) {
        //  Someone watches (strata top): the figures are fresh by the next ping
        s_poll_stats (self, now);
        self->next_stats_ms = now + S_STATS_INTERVAL_MS;
    }
    int64_t wall = timestamp_now ();
    msgpack_pack_array (&packer, nodes);
    for (size_t node = 0; node < nodes; node++) {
        const char *name = cluster_config_node_name (self->cluster, node);
        //  The node's figures from its last stats reply, those it gave
        router_node_status_t status;
        router_metrics_node (self->metrics, node, &status);
        struct { const char *key; int64_t value; } figures [] = {
            { "last-answer-ms", status.last_answer_us > 0? (wall - status.last_answer_us) / 1000: -1 },
            { "free-bytes", status.free_bytes }, { "total-bytes", status.total_bytes },
            { "live-bytes", status.live_bytes }, { "garbage-bytes", status.garbage_bytes },
            { "handoff-held", status.handoff_held }, { "damaged-records", status.damaged_records },
        };
        size_t known = 0;
        for (size_t index = 0; index < sizeof figures / sizeof figures [0]; index++)
            known += figures [index].value >= 0;
        const char *mismatch = node_link_mismatch (self->link, node);
        msgpack_pack_map (&packer, 2 + known + (mismatch? 1: 0));
        for (size_t index = 0; index < sizeof figures / sizeof figures [0]; index++)
            if (figures [index].value >= 0) {
                msgpack_pack_str_with_body (&packer, figures [index].key, strlen (figures [index].key));
                msgpack_pack_uint64 (&packer, (uint64_t) figures [index].value);
            }
        msgpack_pack_str_with_body (&packer, "name", 4);
        msgpack_pack_str_with_body (&packer, name, strlen (name));
        msgpack_pack_str_with_body (&packer, "reachable", 9);
        if (node_link_reachable (self->link, node, now))
            msgpack_pack_true (&packer);
        else
            msgpack_pack_false (&packer);
        if (mismatch) {
            //  Unusable: the node is in another cluster
            msgpack_pack_str_with_body (&packer, "cluster-mismatch", 16);
            msgpack_pack_str_with_body (&packer, mismatch, strlen (mismatch));
        }
    }
    router_reply_add_str (reply, "cluster-fingerprint", cluster_config_fingerprint (self->cluster));
    router_reply_add_str (reply, "cluster", cluster_config_name (self->cluster));
    router_reply_add_raw (reply, "nodes", (const uint8_t *) buffer.data, buffer.size);
    router_reply_add_uint (reply, "data-shards", (uint64_t) cluster_config_data_shards (self->cluster));
    router_reply_add_uint (reply, "total-shards", (uint64_t) cluster_config_total_shards (self->cluster));
    router_reply_add_str (reply, "version", STRATA_VERSION);
    router_reply_add_uint (reply, "handoff-writes", self->handoff_writes);
    router_reply_add_uint (reply, "auth-failures",
                           atomic_load_explicit (&self->auth_failures, memory_order_relaxed));
    router_reply_add_uint (reply, "replies-dropped", self->replies_dropped);
    router_reply_add_uint (reply, "forbidden", self->forbidden);
    msgpack_sbuffer_destroy (&buffer);
    zmsg_t *msg = router_reply_encode (reply, NULL);
    router_reply_destroy (&reply);
    s_answered (self, ROUTER_MSG_PING, "", 0, ROUTER_SUCCESS, "", 0, 0);
    if (msg)
        s_env_answer (&self->env, client, &msg);
    zmsg_destroy (&msg);
}

static void
s_put (router_t *self, zframe_t *client, router_request_t *request, zmsg_t **data_p)
{
    uint64_t size = zmsg_content_size (*data_p);
    if (s_admit (self, client, request, s_cost (self, request->type, size)))
        return;
    put_op_t *op = put_op_new (&self->env, request);
    op_client_t *op_client = op_client_new (client, request);
    if (!op || !op_client) {
        put_op_destroy (&op);
        op_client_destroy (&op_client);
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    char error [256];
    if (put_op_start (op, error, sizeof error)) {
        put_op_destroy (&op);
        op_client_fail (&op_client, &self->env, ROUTER_UNAVAILABLE, error);
        return;
    }
    op_client->size = size;
    s_op_t *wrapper = s_op_add (self, S_OP_PUT, op, s_cost (self, request->type, size));
    put_op_set_restartable (op, size);
    put_op_feed (op, data_p, NULL);
    put_op_finish (op, &op_client);
    s_op_settle (self, wrapper);
}

static void
s_put_start (router_t *self, zframe_t *client, router_request_t *request)
{
    if (s_admit (self, client, request, s_cost (self, request->type, 0)))
        return;
    put_op_t *op = put_op_new (&self->env, request);
    router_reply_t *reply = router_reply_new (router_request_reply_type (request), router_request_id (request));
    if (!op || !reply) {
        put_op_destroy (&op);
        router_reply_destroy (&reply);
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    char error [256];
    if (put_op_start (op, error, sizeof error)) {
        put_op_destroy (&op);
        router_reply_destroy (&reply);
        s_refuse (self, client, request, ROUTER_UNAVAILABLE, "%s", error);
        return;
    }
    s_op_t *wrapper = s_op_add (self, S_OP_PUT, op, s_cost (self, request->type, 0));
    put_op_set_restartable (op, self->config->max_put_bytes);
    snprintf (wrapper->upload_id, sizeof wrapper->upload_id, "upload-%016" PRIx64, put_op_unified_id (op));
    wrapper->client = zframe_dup (client);
    zhashx_insert (self->uploads, wrapper->upload_id, wrapper);
    router_reply_add_str (reply, "upload-id", wrapper->upload_id);
    router_reply_add_uint (reply, "slice-size", self->config->slice_size);
    router_reply_add_uint (reply, "unified-id", put_op_unified_id (op));
    zmsg_t *msg = router_reply_encode (reply, NULL);
    router_reply_destroy (&reply);
    if (msg)
        s_env_answer (&self->env, client, &msg);
    zmsg_destroy (&msg);
}

//  An upload keeps a copy of its data (up to max-put-bytes) so that it
//  survives a lost node: the copy is charged to max-buffered-bytes as it
//  grows, and dropped when the budget cannot take it (the upload goes on,
//  but a node lost from then on fails it)
static void
s_charge_upload_copy (router_t *self, s_op_t *wrapper)
{
    put_op_t *op = (put_op_t *) wrapper->op;
    uint64_t copy = put_op_copy_bytes (op);
    if (copy > wrapper->copy_cost
    &&  self->buffered + (copy - wrapper->copy_cost) > self->config->max_buffered_bytes) {
        put_op_drop_copy (op, "the router had no room for a copy of the upload (max-buffered-bytes)");
        copy = 0;
    }
    self->buffered = self->buffered - wrapper->copy_cost + copy;
    wrapper->cost = wrapper->cost - wrapper->copy_cost + copy;
    wrapper->copy_cost = copy;
}

//  put-data, put-finish, put-abort
static void
s_upload (router_t *self, zframe_t *client, router_request_t *request, zmsg_t **data_p)
{
    s_op_t *wrapper = (s_op_t *) zhashx_lookup (self->uploads, request->upload_id);
    if (!wrapper && self->stopping) {
        s_refuse (self, client, request, ROUTER_UNAVAILABLE, "router: stopping; uploads were cancelled");
        return;
    }
    if (!wrapper || !zframe_eq (wrapper->client, client)) {
        s_refuse (self, client, request, ROUTER_INVALID_REQUEST, "upload-id: no upload '%s' in progress "
                  "(finished, aborted, timed out, or started by another connection)", request->upload_id);
        return;
    }
    put_op_t *op = (put_op_t *) wrapper->op;
    wrapper->active_ms = zclock_mono ();
    op_client_t *op_client = op_client_new (client, request);
    if (!op_client) {
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    if (request->type == ROUTER_MSG_PUT_DATA) {
        put_op_feed (op, data_p, &op_client);       //  its size was checked in s_handle
        s_charge_upload_copy (self, wrapper);
    }
    else
    if (request->type == ROUTER_MSG_PUT_FINISH) {
        op_client->size = put_op_size (op);
        put_op_finish (op, &op_client);
    }
    else
        put_op_abort (op, &op_client, ROUTER_INVALID_REQUEST, "upload-id: the upload was aborted by put-abort");
    op_client_destroy (&op_client);
    s_op_settle (self, wrapper);
}

static void
s_get (router_t *self, zframe_t *client, router_request_t *request)
{
    if (s_admit (self, client, request, s_cost (self, request->type, 0)))
        return;
    digest_md5_t *md5 = NULL;
    if (request->type == ROUTER_MSG_GET)
        md5 = digest_md5_new ();
    else {
        //  get-next continuing a read in order carries the object's MD5 on
        char *name = s_session_name (client, request->collection_id, request->unified_id, request->key);
        s_session_t *session = (s_session_t *) zhashx_lookup (self->sessions, name);
        if (session && session->next_slice == request->slice_num) {
            md5 = session->md5;
            session->md5 = NULL;
        }
        if (session)
            zhashx_delete (self->sessions, name);
        free (name);
    }
    op_client_t *op_client = op_client_new (client, request);
    get_op_t *op = op_client? get_op_new (&self->env, request, &op_client, &md5): NULL;
    if (!op) {
        op_client_destroy (&op_client);
        digest_md5_destroy (&md5);
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    s_op_t *wrapper = s_op_add (self, S_OP_GET, op, s_cost (self, request->type, 0));
    wrapper->client = zframe_dup (client);
    wrapper->collection_id = request->collection_id;
    wrapper->key = strdup (request->key);
    get_op_start (op);
    s_op_settle (self, wrapper);
}

static void
s_delete_or_list (router_t *self, zframe_t *client, router_request_t *request)
{
    if (s_admit (self, client, request, 0))
        return;
    op_client_t *op_client = op_client_new (client, request);
    void *op = NULL;
    if (op_client)
        op = request->type == ROUTER_MSG_DELETE
           ? (void *) delete_op_new (&self->env, request, &op_client)
           : (void *) list_op_new (&self->env, request, &op_client);
    if (!op) {
        op_client_destroy (&op_client);
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    s_op_t *wrapper;
    if (request->type == ROUTER_MSG_DELETE) {
        wrapper = s_op_add (self, S_OP_DELETE, op, 0);
        delete_op_start ((delete_op_t *) op);
    }
    else {
        wrapper = s_op_add (self, S_OP_LIST, op, 0);
        list_op_start ((list_op_t *) op);
    }
    s_op_settle (self, wrapper);
}

//  list-keys: one page of a collection's keys
static void
s_list_keys (router_t *self, zframe_t *client, router_request_t *request)
{
    if (s_admit (self, client, request, 0))
        return;
    op_client_t *op_client = op_client_new (client, request);
    keys_op_t *op = op_client? keys_op_new (&self->env, request, &op_client): NULL;
    if (!op) {
        op_client_destroy (&op_client);
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    s_op_t *wrapper = s_op_add (self, S_OP_KEYS, op, 0);
    keys_op_start (op);
    s_op_settle (self, wrapper);
}

//  repair: handed to the repair actor, which answers through the router
#define S_REPAIRS_WAITING_MAX   64

static void
s_repair (router_t *self, zframe_t *client, router_request_t *request)
{
    if (self->stopping) {
        s_refuse (self, client, request, ROUTER_UNAVAILABLE, "router: stopping");
        return;
    }
    if (self->repairs_waiting >= S_REPAIRS_WAITING_MAX) {
        s_refuse (self, client, request, ROUTER_OVERLOADED, "router: %d repairs waiting already; retry later",
                  S_REPAIRS_WAITING_MAX);
        return;
    }
    zmsg_t *job = zmsg_new ();
    zmsg_addstr (job, "REPAIR");
    zmsg_addmem (job, zframe_data (client), zframe_size (client));
    zmsg_addstr (job, request->request_id);
    zmsg_addstrf (job, "%" PRIu32, request->collection_id);
    zmsg_addstr (job, request->key);
    zmsg_addstr (job, (request->present & ROUTER_FIELD_NODE)? request->node: "");
    if (request->present & ROUTER_FIELD_UNIFIED_ID)
        zmsg_addstrf (job, "%" PRIu64, request->unified_id);
    else
        zmsg_addstr (job, "");
    if (zmsg_send (&job, self->repairer) == 0)
        self->repairs_waiting++;
    zmsg_destroy (&job);
}

//  The repair actor answered a client: routing id, reply header
static void
s_repair_answer (router_t *self)
{
    zmsg_t *msg = zmsg_recv (self->repairer);
    if (!msg)
        return;
    if (self->repairs_waiting > 0)
        self->repairs_waiting--;
    if (zmsg_size (msg) < 2 || zmsg_send (&msg, self->clients))
        zmsg_destroy (&msg);
}

//  The right each message type needs on its collection; a type not in the
//  table needs an admin key. Streamed upload messages belong to an upload
//  whose put-start was checked, on the same connection: no right of their
//  own (S_RIGHT_UPLOAD). Ping needs only a key listed in the policy.
#define S_RIGHT_ANY_LISTED  0x100U
#define S_RIGHT_UPLOAD      0x200U
static const unsigned s_needed_right [ROUTER_MSG_COUNT] = {
    [ROUTER_MSG_PUT]            = AUTH_WRITE,
    [ROUTER_MSG_PUT_START]      = AUTH_WRITE,
    [ROUTER_MSG_PUT_DATA]       = S_RIGHT_UPLOAD,
    [ROUTER_MSG_PUT_FINISH]     = S_RIGHT_UPLOAD,
    [ROUTER_MSG_PUT_ABORT]      = S_RIGHT_UPLOAD,
    [ROUTER_MSG_DELETE]         = AUTH_DELETE,
    [ROUTER_MSG_GET]            = AUTH_READ,
    [ROUTER_MSG_GET_NEXT]       = AUTH_READ,
    [ROUTER_MSG_LIST_VERSIONS]  = AUTH_READ,
    [ROUTER_MSG_PING]           = S_RIGHT_ANY_LISTED,
    [ROUTER_MSG_LIST_KEYS]      = AUTH_LIST,
    //  ROUTER_MSG_REPAIR: admin keys only (not in the table)
};

//  True if the key the client proved in its CURVE handshake (user, the
//  User-Id ZeroMQ gives every message) may make this request; else the
//  request is answered forbidden and counted
static bool
s_authorized (router_t *self, zframe_t *client, router_request_t *request, const char *user)
{
    router_msg_t type = request->type;
    unsigned needed = (unsigned) type < ROUTER_MSG_COUNT? s_needed_right [type]: 0;
    if (needed == S_RIGHT_UPLOAD)
        return true;
    if (needed == S_RIGHT_ANY_LISTED && auth_role (self->policy, user) != AUTH_ROLE_NONE)
        return true;
    if (needed == 0 || needed == S_RIGHT_ANY_LISTED) {
        if (auth_role (self->policy, user) == AUTH_ROLE_ADMIN)
            return true;
    }
    else
    if (auth_rights (self->policy, user, request->collection_id) & needed)
        return true;
    self->forbidden++;
    if (auth_role (self->policy, user) == AUTH_ROLE_NONE)
        s_refuse (self, client, request, ROUTER_FORBIDDEN, "this client's key is not in the "
                  "router's policy (auth/policy): no access");
    else
        s_refuse (self, client, request, ROUTER_FORBIDDEN, "this client's key has no %s grant on "
                  "collection %" PRIu32 " (auth/policy)",
                  needed == S_RIGHT_ANY_LISTED || needed == 0? "admin": auth_right_name (needed),
                  request->collection_id);
    return false;
}

//  Start-up: until every node has answered once, or one node-timeout-ms
//  has passed since the router started, reads and writes wait
static bool
s_starting (router_t *self, int64_t now)
{
    if (self->started)
        return false;
    bool all = true;
    for (size_t node = 0; all && node < cluster_config_node_count (self->cluster); node++)
        all = node_link_ever_reached (self->link, node);
    if (all || now - self->started_ms >= self->config->node_timeout_ms || self->stopping) {
        self->started = true;
        if (self->metrics)
            router_metrics_set_starting (self->metrics, false);
        if (!all)
            zsys_info ("start-up: %d ms passed; going on without the nodes that have not answered yet",
                       self->config->node_timeout_ms);
        return false;
    }
    return true;
}

static void
s_held_free (void **item_p)
{
    zmsg_destroy ((zmsg_t **) item_p);
}

//  Hold a checked request while the router starts: keeps the client's
//  routing id, the header and the data frames (taken from *data_p).
//  Returns true if held.
static bool
s_hold (router_t *self, zframe_t *client, zframe_t *header, zmsg_t **data_p)
{
    //  Once anything is held, later requests queue behind it (order kept);
    //  what does not fit in max-buffered-bytes is handled at once
    uint64_t bytes = *data_p? zmsg_content_size (*data_p): 0;
    if ((zlistx_size (self->held) == 0 && !s_starting (self, zclock_mono ()))
    ||  zlistx_size (self->held) >= S_MAX_HELD
    ||  self->held_bytes + bytes > self->config->max_buffered_bytes)
        return false;
    self->held_bytes += bytes;
    zmsg_t *msg = *data_p? *data_p: zmsg_new ();
    *data_p = NULL;
    zmsg_pushmem (msg, zframe_data (header), zframe_size (header));
    zmsg_pushmem (msg, zframe_data (client), zframe_size (client));
    zlistx_add_end (self->held, msg);
    return true;
}

static void s_handle (router_t *self, zframe_t *client, zframe_t *header, zmsg_t **data_p,
                      size_t data_frames, uint64_t data_bytes, bool too_many_frames);

//  Once started, handle the requests held meanwhile, in arrival order
static void
s_release_held (router_t *self)
{
    if (zlistx_size (self->held) == 0 || s_starting (self, zclock_mono ()))
        return;
    zlistx_t *held = self->held;        //  s_handle must not hold them again
    self->held_bytes = 0;
    self->held = zlistx_new ();
    zlistx_set_destructor (self->held, s_held_free);
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlistx_detach (held, NULL))) {
        zframe_t *client = zmsg_pop (msg);
        zframe_t *header = zmsg_pop (msg);
        size_t frames = zmsg_size (msg);
        uint64_t bytes = zmsg_content_size (msg);
        self->releasing = true;
        s_handle (self, client, header, &msg, frames, bytes, false);
        self->releasing = false;
        zframe_destroy (&client);
        zframe_destroy (&header);
        zmsg_destroy (&msg);
    }
    zlistx_destroy (&held);
}

//  Receive one client message, frame by frame within the limits, and act
static void
s_client_message (router_t *self)
{
    zframe_t *client = zframe_recv (self->clients);
    if (!client)
        return;
    zframe_t *header = zframe_more (client)? zframe_recv (self->clients): NULL;
    zmsg_t *data = zmsg_new ();
    uint64_t data_bytes = 0;
    size_t data_frames = 0;
    uint64_t max_data = self->config->max_put_bytes > self->config->slice_size
                      ? self->config->max_put_bytes: self->config->slice_size;
    bool too_many_frames = false, too_many_bytes = false;
    while (header && zsock_rcvmore (self->clients)) {
        zframe_t *frame = zframe_recv (self->clients);
        if (!frame)
            break;
        data_frames++;
        data_bytes += zframe_size (frame);
        if (data_frames > S_MAX_DATA_FRAMES)
            too_many_frames = true;
        if (data_bytes > max_data)
            too_many_bytes = true;
        if (too_many_frames || too_many_bytes)
            zframe_destroy (&frame);
        else
            zmsg_append (data, &frame);
    }
    if (!header) {
        zframe_destroy (&client);
        zmsg_destroy (&data);
        return;                     //  nothing to answer to
    }
    if (too_many_frames || too_many_bytes)
        zmsg_destroy (&data);
    s_handle (self, client, header, &data, data_frames, data_bytes, too_many_frames);
    zframe_destroy (&client);
    zframe_destroy (&header);
    zmsg_destroy (&data);
}

//  Decode, check and act on one client message (data frames in *data_p,
//  may be NULL; taken)
static void
s_handle (router_t *self, zframe_t *client, zframe_t *header, zmsg_t **data_p,
          size_t data_frames, uint64_t data_bytes, bool too_many_frames)
{
    router_request_t *request = self->request;
    router_result_t result;
    char error [256];
    if (router_request_decode (request, zframe_data (header), zframe_size (header), &result,
                               error, sizeof error)) {
        s_refuse (self, client, request, result, "%s", error);
        goto done;
    }
    router_msg_t type = request->type;
    //  A held request was authorized when it came in; its copied header
    //  no longer carries the User-Id metadata
    if (self->policy && !self->releasing
    &&  !s_authorized (self, client, request, zframe_meta (header, "User-Id")))
        goto done;
    bool takes_data = type == ROUTER_MSG_PUT || type == ROUTER_MSG_PUT_DATA;
    if (takes_data)
        router_metrics_received (self->metrics, type, data_bytes);
    if (!takes_data && data_frames > 0) {
        s_refuse (self, client, request, ROUTER_INVALID_REQUEST, "data: %s takes no data frames",
                  router_msg_name (type));
        goto done;
    }
    if (too_many_frames) {
        s_refuse (self, client, request, ROUTER_INVALID_REQUEST, "data: more than %d frames in one message",
                  S_MAX_DATA_FRAMES);
        goto done;
    }
    if (type == ROUTER_MSG_PUT && data_bytes > self->config->max_put_bytes) {
        s_refuse (self, client, request, ROUTER_INVALID_REQUEST, "data: %" PRIu64 " bytes, more than "
                  "max-put-bytes (%" PRIu64 "); stream it with put-start / put-data / put-finish",
                  data_bytes, self->config->max_put_bytes);
        goto done;
    }
    if (type == ROUTER_MSG_PUT_DATA && data_bytes > self->config->slice_size) {
        s_refuse (self, client, request, ROUTER_INVALID_REQUEST, "data: %" PRIu64 " bytes in one put-data, "
                  "more than slice-size (%" PRIu64 ")", data_bytes, self->config->slice_size);
        goto done;
    }
    if (type != ROUTER_MSG_PING && s_hold (self, client, header, data_p))
        goto done;                  //  handled once the first ping round is in
    zmsg_t *data = *data_p? *data_p: zmsg_new ();
    *data_p = NULL;
    switch (type) {
        case ROUTER_MSG_PING:           s_ping (self, client, request); break;
        case ROUTER_MSG_PUT:            s_put (self, client, request, &data); break;
        case ROUTER_MSG_PUT_START:      s_put_start (self, client, request); break;
        case ROUTER_MSG_PUT_DATA:
        case ROUTER_MSG_PUT_FINISH:
        case ROUTER_MSG_PUT_ABORT:      s_upload (self, client, request, &data); break;
        case ROUTER_MSG_GET:
        case ROUTER_MSG_GET_NEXT:       s_get (self, client, request); break;
        case ROUTER_MSG_DELETE:
        case ROUTER_MSG_LIST_VERSIONS:  s_delete_or_list (self, client, request); break;
        case ROUTER_MSG_LIST_KEYS:      s_list_keys (self, client, request); break;
        case ROUTER_MSG_REPAIR:         s_repair (self, client, request); break;
        default:                        assert (false);
    }
    zmsg_destroy (&data);
done:
    if (data_p)
        zmsg_destroy (data_p);
}


//  --------------------------------------------------------------------------
//  Time

static void
s_housekeeping (router_t *self, int64_t now)
{
    //  Reply counts of clients that hold nothing and were quiet a while
    if (self->client_queues) {
        int64_t now_us = zclock_usecs ();
        zlistx_t *names = zhashx_keys (self->client_queues);
        for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names)) {
            reply_queue_t *queue = (reply_queue_t *) zhashx_lookup (self->client_queues, name);
            if (atomic_load (&queue->bytes) == 0
            &&  now_us - atomic_load (&queue->progress_us) > S_CLIENT_IDLE_US)
                zhashx_delete (self->client_queues, name);
        }
        zlistx_destroy (&names);
    }
    //  Uploads idle too long, or every upload not finishing once stopping
    s_op_t *wrapper = (s_op_t *) zlistx_first (self->ops);
    while (wrapper) {
        s_op_t *next = (s_op_t *) zlistx_next (self->ops);
        if (wrapper->kind == S_OP_PUT && wrapper->upload_id [0]) {
            put_op_t *op = (put_op_t *) wrapper->op;
            if (self->stopping && !put_op_finishing (op)) {
                put_op_abort (op, NULL, ROUTER_UNAVAILABLE, "router: stopping; the upload was cancelled");
                s_op_settle (self, wrapper);
            }
            else
            if (put_op_waiting_for_client (op)
            &&  now - wrapper->active_ms > (int64_t) self->config->upload_timeout_seconds * 1000) {
                zsys_info ("upload %s idle for %d s: aborted", wrapper->upload_id,
                           self->config->upload_timeout_seconds);
                put_op_abort (op, NULL, ROUTER_TIMEOUT, "upload-id: the upload was idle too long and was aborted");
                s_op_settle (self, wrapper);
            }
        }
        wrapper = next;
    }
    //  Read sessions not used for as long
    zlistx_t *expired = zlistx_new ();
    for (s_session_t *session = (s_session_t *) zhashx_first (self->sessions); session;
         session = (s_session_t *) zhashx_next (self->sessions))
        if (now - session->used_ms > (int64_t) self->config->upload_timeout_seconds * 1000)
            zlistx_add_end (expired, session->name);
    for (char *name = (char *) zlistx_first (expired); name; name = (char *) zlistx_next (expired))
        zhashx_delete (self->sessions, name);
    zlistx_destroy (&expired);
}

//  Give up on whatever is left at the end of a stop
static void
s_abandon_all (router_t *self)
{
    s_op_t *wrapper;
    while ((wrapper = (s_op_t *) zlistx_first (self->ops))) {
        if (wrapper->kind == S_OP_PUT)
            put_op_abort ((put_op_t *) wrapper->op, NULL, ROUTER_UNAVAILABLE,
                          "router: stopped before the nodes answered; the put was cancelled");
        s_op_remove (self, wrapper);
    }
}


//  --------------------------------------------------------------------------
//  Set-up and the loop

static void
s_destroy (router_t **self_p)
{
    router_t *self = *self_p;
    if (!self)
        return;
    router_metrics_destroy (&self->metrics);    //  stops the HTTP thread first
    if (self->ops)
        s_abandon_all (self);
    zlistx_destroy (&self->ops);
    zlistx_destroy (&self->held);
    zhashx_destroy (&self->owners);
    zhashx_destroy (&self->uploads);
    zhashx_destroy (&self->sessions);
    router_request_destroy (&self->request);
    //  The monitors before the sockets they watch
    zactor_destroy (&self->client_monitor);
    zactor_destroy (&self->reply_monitor);
    zactor_destroy (&self->repairer);
    node_link_destroy (&self->link);
    zsock_destroy (&self->clients);
    zactor_destroy (&self->auth);
    curve_destroy (&self->curve);
    erasure_destroy (&self->erasure);
    unified_id_destroy (&self->ids);
    zhashx_destroy (&self->client_queues);
    reply_budget_destroy (&self->budget);       //  lingering replies keep it alive
    auth_destroy (&self->policy);
    free (self->logged_reachable);
    free (self->published_reachable);
    free (self->node_log_next_ms);
    free (self->logged_resets);
    free (self);
    *self_p = NULL;
}

//  A refused CURVE handshake on a listening socket (a monitor thread calls
//  this): count it for ping's auth-failures and log it as the node does
static void
s_auth_failure (void *arg, int event, const char *address)
{
    router_t *self = (router_t *) arg;
    atomic_fetch_add_explicit (&self->auth_failures, 1, memory_order_relaxed);
    curve_failure_log (event, address);
}

//  Nodes answer only addresses their allow-list takes: by default loopback
//  and the hosts of the cluster file. Warn when the reply endpoint is
//  neither (the nodes then need it in their reply/allow).
static void
s_check_reply_address (router_t *self)
{
    endpoint_allow_t *allow = endpoint_allow_new ();
    if (!allow)
        return;
    endpoint_allow_add_host (allow, "127.0.0.1");
    endpoint_allow_add_host (allow, "::1");
    endpoint_allow_add_host (allow, "localhost");
    endpoint_allow_set_ipc (allow, true);
    for (size_t node = 0; node < cluster_config_node_count (self->cluster); node++) {
        endpoint_allow_add_endpoint_host (allow, cluster_config_node_writer (self->cluster, node));
        endpoint_allow_add_endpoint_host (allow, cluster_config_node_reader (self->cluster, node));
    }
    const char *address = node_link_reply_address (self->link);
    if (!endpoint_allow_check (allow, address))
        zsys_warning ("router/reply %s is neither loopback nor a host of the cluster file: "
                      "nodes answer it only if their reply/allow lists its host", address);
    endpoint_allow_destroy (&allow);
}

static router_t *
s_new (zsock_t *pipe, router_args_t *args, char *error, size_t error_size)
{
    router_t *self = (router_t *) zmalloc (sizeof (router_t));
    self->pipe = pipe;
    self->config = args->config;
    self->cluster = args->cluster;
    self->ops = zlistx_new ();
    self->held = zlistx_new ();
    zlistx_set_destructor (self->held, s_held_free);
    self->owners = zhashx_new ();
    self->uploads = zhashx_new ();
    self->sessions = zhashx_new ();
    zhashx_set_destructor (self->sessions, s_session_free);
    self->request = router_request_new ();
    self->ids = unified_id_new (self->config->router_id);
    size_t node_count = cluster_config_node_count (self->cluster);
    self->metrics = router_metrics_new (self->cluster);
    if (self->metrics)
        router_metrics_set_starting (self->metrics, true);
    self->logged_reachable = (bool *) zmalloc ((node_count? node_count: 1) * sizeof (bool));
    self->published_reachable = (bool *) zmalloc ((node_count? node_count: 1) * sizeof (bool));
    self->started_ms = zclock_mono ();
    self->node_log_next_ms = (int64_t *) zmalloc ((node_count? node_count: 1) * sizeof (int64_t));
    self->logged_resets = (size_t *) zmalloc ((node_count? node_count: 1) * sizeof (size_t));
    //  Nodes start as "reachable" in the log's eyes: a node that has not
    //  answered once the node timeout has passed is named
    for (size_t node = 0; node < node_count; node++)
        self->logged_reachable [node] = true;
    self->next_second_ms = zclock_mono () + 1000;
    self->handoff_log_ms = zclock_mono () + S_HANDOFF_LOG_MS;
    if (!self->metrics) {
        snprintf (error, error_size, "out of memory");
        goto failed;
    }
    self->erasure = erasure_new (cluster_config_data_shards (self->cluster),
                                 cluster_config_total_shards (self->cluster));
    if (!self->erasure) {
        snprintf (error, error_size, "cannot create the erasure coder for k=%d n=%d",
                  cluster_config_data_shards (self->cluster), cluster_config_total_shards (self->cluster));
        goto failed;
    }
    uint64_t largest_share = self->config->slice_size > 64 * 1024 * 1024
                           ? self->config->slice_size: 64 * 1024 * 1024;
    if (*self->config->curve_cert) {
        //  zauth first: it must run before any CURVE server socket exists
        self->curve = curve_new (self->config->curve_cert, self->config->curve_client_cert, NULL,
                                 error, error_size);
        if (!self->curve)
            goto failed;
        self->auth = curve_auth_new (self->config->curve_clients_dir, false, error, error_size);
        if (!self->auth)
            goto failed;
        zsys_info ("CURVE on: cluster key %s, clients in %s", curve_server_public (self->curve),
                   self->config->curve_clients_dir);
    }
    self->link = node_link_new_curve (self->cluster, self->config->reply, self->config->node_timeout_ms,
                                      self->config->ping_interval_ms, self->config->heartbeat_timeout_ms,
                                      self->config->reconnect_max_ms,
                                      (size_t) largest_share + LIMIT_HEADER_MAX,
                                      self->curve, error, error_size);
    if (!self->link)
        goto failed;
    s_check_reply_address (self);

    //  The repair actor binds a reply socket of its own on the same host
    const char *reply_address = node_link_reply_address (self->link);
    const char *colon = strrchr (reply_address, ':');
    if (strncmp (reply_address, "tcp://", 6) == 0 && colon)
        snprintf (self->repair_endpoint, sizeof self->repair_endpoint, "%.*s:*",
                  (int) (colon - reply_address), reply_address);
    else
        snprintf (self->repair_endpoint, sizeof self->repair_endpoint, "%s-repair", reply_address);
    self->repair_args = (repair_args_t) {
        .config = self->config, .cluster = self->cluster, .erasure = self->erasure,
        .curve = self->curve, .reply_endpoint = self->repair_endpoint
    };
    self->repairer = actor_start (repair_actor, &self->repair_args, "repair actor", NULL,
                                  error, error_size);
    if (!self->repairer)
        goto failed;

    self->budget = reply_budget_new (self->config->reply_max_bytes);
    self->client_queues = zhashx_new ();
    zhashx_set_destructor (self->client_queues, (zhashx_destructor_fn *) reply_queue_destroy);
    if (*self->config->auth_policy) {
        self->policy = auth_new (self->config->auth_policy, error, error_size);
        if (!self->policy)
            goto failed;
        zsys_info ("authorization on: policy %s", self->config->auth_policy);
    }
    self->clients = zsock_new (ZMQ_ROUTER);
    if (!self->clients) {
        snprintf (error, error_size, "cannot create the client socket");
        goto failed;
    }
    if (self->curve)
        curve_server (self->curve, self->clients);
    zsock_set_rcvhwm (self->clients, S_CLIENT_HWM);
    zsock_set_sndhwm (self->clients, S_CLIENT_HWM);
    zsock_set_sndtimeo (self->clients, 0);
    zsock_set_linger (self->clients, S_LINGER_MS);
    uint64_t max_frame = self->config->max_put_bytes > self->config->slice_size
                       ? self->config->max_put_bytes: self->config->slice_size;
    if (max_frame < (uint64_t) INT64_MAX - LIMIT_HEADER_MAX)
        zsock_set_maxmsgsize (self->clients, (int64_t) (max_frame + LIMIT_HEADER_MAX));
    if (zsock_bind (self->clients, "%s", self->config->listen) < 0) {
        snprintf (error, error_size, "cannot bind the listen endpoint %s: %s",
                  self->config->listen, zmq_strerror (zmq_errno ()));
        goto failed;
    }
    if (self->curve) {
        //  Both bound sockets: clients (a CURVE server under zauth) and the
        //  nodes' replies (a CURVE client: anyone else connecting fails)
        self->client_monitor = curve_monitor_new (self->clients, s_auth_failure, self);
        self->reply_monitor = curve_monitor_new (node_link_socket (self->link), s_auth_failure, self);
        if (!self->client_monitor || !self->reply_monitor)
            zsys_warning ("cannot watch the CURVE sockets: refused handshakes are not counted");
    }
    self->env = (op_env_t) {
        .handle = self, .cluster = self->cluster, .erasure = self->erasure, .config = self->config,
        .send = s_env_send, .post = s_env_post, .reachable = s_env_reachable,
        .new_id = s_env_new_id, .answer = s_env_answer, .answered = s_env_answered,
        .ever_reached = s_env_ever_reached
    };
    if (*self->config->metrics_listen) {
        int port = router_metrics_serve (self->metrics, self->config->metrics_listen, error, error_size);
        if (port < 0)
            goto failed;
        zsys_info ("metrics on http://%s/ (port %d): /metrics /healthz /readyz, status page /",
                   self->config->metrics_listen, port);
    }
    return self;

failed:
    s_destroy (&self);
    return NULL;
}

//  A command on the actor pipe
static void
s_pipe_command (router_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "STOP") && !self->stopping) {
        self->stopping = true;
        router_metrics_set_stopping (self->metrics);
        self->stop_deadline_ms = zclock_mono () + self->config->node_timeout_ms + 1000;
        zsys_info ("stopping: %zu operations in flight", zlistx_size (self->ops));
        s_housekeeping (self, zclock_mono ());
    }
    else
    if (streq (command, "RELOAD")) {
        //  SIGHUP: zauth reads the clients-dir again (new handshakes only)
        if (self->auth) {
            curve_auth_reload (self->auth, self->config->curve_clients_dir);
            zsys_info ("SIGHUP: CURVE clients reloaded from %s (new handshakes only)",
                       self->config->curve_clients_dir);
        }
        else
            zsys_info ("SIGHUP: CURVE is off, nothing to reload");
        if (self->policy) {
            char error [600];
            if (auth_reload (self->policy, error, sizeof error))
                zsys_error ("SIGHUP: %s; the previous policy stays", error);
            else
                zsys_info ("SIGHUP: policy reloaded from %s (new requests)", self->config->auth_policy);
        }
    }
    zstr_free (&command);
}

void
router_actor (zsock_t *pipe, void *args)
{
    char error [512] = "";
    router_t *self = s_new (pipe, (router_args_t *) args, error, sizeof error);
    if (!self) {
        actor_start_report (pipe, *error? error: "cannot start the router");
        actor_start_wait_term (pipe);
        return;
    }
    //  READY carries the endpoints bound (actor_start's ready frames)
    char *listen = zsock_last_endpoint (self->clients);
    zmsg_t *endpoints = zmsg_new ();
    zmsg_addstr (endpoints, listen? listen: self->config->listen);
    zmsg_addstr (endpoints, node_link_reply_address (self->link));
    actor_start_ready (pipe, &endpoints);
    zstr_free (&listen);
    node_link_ping (self->link, zclock_mono ());

    zmq_pollitem_t items [] = {
        { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->clients), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (node_link_socket (self->link)), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->repairer), 0, ZMQ_POLLIN, 0 },
    };
    while (!self->terminated) {
        int64_t now = zclock_mono ();
        int64_t wait = node_link_wait_ms (self->link, now);
        if (wait > S_TICK_MS)
            wait = S_TICK_MS;
        if (zmq_poll (items, 4, (long) wait) < 0 && zmq_errno () != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_pipe_command (self);
        if (items [3].revents & ZMQ_POLLIN)
            s_repair_answer (self);
        //  Node answers first: they finish work and free memory
        for (int burst = 0; burst < S_BURST
             && (zsock_events (node_link_socket (self->link)) & ZMQ_POLLIN); burst++) {
            node_event_t event;
            if (node_link_receive (self->link, &event, zclock_mono ()) == 1)
                s_node_event (self, &event);
        }
        for (int burst = 0; burst < S_BURST && (zsock_events (self->clients) & ZMQ_POLLIN); burst++)
            s_client_message (self);

        now = zclock_mono ();
        node_link_ping (self->link, now);
        s_starting (self, now);             //  ends the start-up once due
        s_release_held (self);
        node_event_t event;
        while (node_link_expire (self->link, &event, now) == 1)
            s_node_event (self, &event);
        if (now >= self->next_housekeeping_ms) {
            s_housekeeping (self, now);
            self->next_housekeeping_ms = now + 1000;
        }
        if (now >= self->next_publish_ms) {
            s_publish_reachable (self, now);
            self->next_publish_ms = now + S_TICK_MS;
        }
        if (now >= self->next_second_ms) {
            s_every_second (self, now);
            self->next_second_ms = now + 1000;
        }
        if (self->stopping) {
            if (zlistx_size (self->ops) > 0 && now > self->stop_deadline_ms) {
                zsys_warning ("stopping: %zu operations did not finish in time; abandoned",
                              zlistx_size (self->ops));
                s_abandon_all (self);
            }
            if (zlistx_size (self->ops) == 0) {
                zstr_send (self->pipe, "STOPPED");
                //  Until $TERM, answer clients that the router is stopping
                while (!self->terminated) {
                    if (zmq_poll (items, 2, S_TICK_MS) < 0 && zmq_errno () != EINTR)
                        break;
                    if (items [0].revents & ZMQ_POLLIN)
                        s_pipe_command (self);
                    if (items [1].revents & ZMQ_POLLIN)
                        s_client_message (self);
                }
            }
        }
    }
    s_destroy (&self);
}
