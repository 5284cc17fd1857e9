/*  =========================================================================
    router_metrics - what the router publishes about itself and its nodes

    Counters and histograms are relaxed atomics written by the router
    thread; the node table and the rate history sit under one mutex held
    only to copy a few hundred bytes. The HTTP handler runs on
    http_server's thread.
    =========================================================================
*/
#include <czmq.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include "router_metrics.h"
#include "status_page.h"
#include "http_server.h"
#include "metrics.h"
#include "timestamp.h"

#define S_HISTORY 11                //  one-second totals kept: rates over 10 s

struct _router_metrics_t {
    cluster_config_t *cluster;      //  borrowed
    size_t node_count;
    http_server_t *server;          //  or NULL
    pthread_mutex_t lock;           //  guards nodes and the history
    router_node_status_t *nodes;
    uint64_t history [S_HISTORY][ROUTER_MSG_COUNT];     //  answers per type, each second
    int64_t history_us [S_HISTORY];
    size_t history_count;           //  entries filled, at most S_HISTORY
    size_t history_next;            //  next entry to write
    _Atomic uint64_t operations [ROUTER_MSG_COUNT][ROUTER_RESULT_COUNT];
    metrics_histogram_t duration [ROUTER_MSG_COUNT];
    _Atomic uint64_t bytes [ROUTER_MSG_COUNT];
    _Atomic uint64_t in_flight;
    _Atomic uint64_t handoff_writes;
    _Atomic uint64_t auth_failures;
    _Atomic bool stopping;
    _Atomic bool starting;          //  start-up: the first ping round is not in
};

router_metrics_t *
router_metrics_new (cluster_config_t *cluster)
{
    assert (cluster);
    router_metrics_t *self = (router_metrics_t *) calloc (1, sizeof (router_metrics_t));
    if (!self)
        return NULL;
    self->cluster = cluster;
    self->node_count = cluster_config_node_count (cluster);
    self->nodes = (router_node_status_t *) calloc (self->node_count? self->node_count: 1,
                                                   sizeof (router_node_status_t));
    if (!self->nodes) {
        free (self);
        return NULL;
    }
    for (size_t node = 0; node < self->node_count; node++) {
        router_node_status_t *status = &self->nodes [node];
        snprintf (status->name, sizeof status->name, "%s", cluster_config_node_name (cluster, node));
        status->free_bytes = status->total_bytes = status->value_bytes = status->live_bytes = -1;
        status->garbage_bytes = status->handoff_held = status->damaged_records = status->bytes_stored = -1;
    }
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
router_metrics_destroy (router_metrics_t **self_p)
{
    assert (self_p);
    router_metrics_t *self = *self_p;
    if (!self)
        return;
    http_server_destroy (&self->server);
    pthread_mutex_destroy (&self->lock);
    free (self->nodes);
    free (self);
    *self_p = NULL;
}

void
router_metrics_answered (router_metrics_t *self, router_msg_t type, router_result_t result,
                         int64_t duration_us, uint64_t bytes)
{
    assert (self);
    if ((int) type < 0 || type >= ROUTER_MSG_COUNT || (int) result < 0 || result >= ROUTER_RESULT_COUNT)
        return;
    atomic_fetch_add_explicit (&self->operations [type][result], 1, memory_order_relaxed);
    metrics_histogram_observe (&self->duration [type], duration_us > 0? (uint64_t) duration_us: 0);
    if (bytes && (type == ROUTER_MSG_GET || type == ROUTER_MSG_GET_NEXT))
        atomic_fetch_add_explicit (&self->bytes [type], bytes, memory_order_relaxed);
}

void
router_metrics_received (router_metrics_t *self, router_msg_t type, uint64_t bytes)
{
    assert (self);
    if ((int) type >= 0 && type < ROUTER_MSG_COUNT)
        atomic_fetch_add_explicit (&self->bytes [type], bytes, memory_order_relaxed);
}

void
router_metrics_set_in_flight (router_metrics_t *self, uint64_t operations)
{
    atomic_store_explicit (&self->in_flight, operations, memory_order_relaxed);
}

void
router_metrics_handoff_write (router_metrics_t *self)
{
    atomic_fetch_add_explicit (&self->handoff_writes, 1, memory_order_relaxed);
}

void
router_metrics_set_auth_failures (router_metrics_t *self, uint64_t failures)
{
    atomic_store_explicit (&self->auth_failures, failures, memory_order_relaxed);
}

void
router_metrics_set_stopping (router_metrics_t *self)
{
    atomic_store (&self->stopping, true);
}

void
router_metrics_set_starting (router_metrics_t *self, bool starting)
{
    atomic_store (&self->starting, starting);
}

void
router_metrics_node_reachable (router_metrics_t *self, size_t node, bool reachable)
{
    assert (self && node < self->node_count);
    pthread_mutex_lock (&self->lock);
    self->nodes [node].reachable = reachable;
    pthread_mutex_unlock (&self->lock);
}

void
router_metrics_node_answered (router_metrics_t *self, size_t node)
{
    assert (self && node < self->node_count);
    int64_t now = timestamp_now ();
    pthread_mutex_lock (&self->lock);
    self->nodes [node].last_answer_us = now;
    pthread_mutex_unlock (&self->lock);
}

//  The value at key in a MessagePack map; NULL if absent
static const msgpack_object *
s_find (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t length = strlen (key);
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object *name = &map->via.map.ptr [index].key;
        if (name->type == MSGPACK_OBJECT_STR && name->via.str.size == length
        &&  memcmp (name->via.str.ptr, key, length) == 0)
            return &map->via.map.ptr [index].val;
    }
    return NULL;
}

static int64_t
s_int (const msgpack_object *value)
{
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return value->via.u64 > INT64_MAX? INT64_MAX: (int64_t) value->via.u64;
    return -1;
}

void
router_metrics_node_stats (router_metrics_t *self, size_t node, const uint8_t *stats, size_t size)
{
    assert (self && node < self->node_count);
    if (!stats || !size)
        return;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 2048);
    msgpack_object root;
    if (msgpack_unpack ((const char *) stats, size, NULL, &zone, &root) != MSGPACK_UNPACK_SUCCESS
    ||  root.type != MSGPACK_OBJECT_MAP) {
        msgpack_zone_destroy (&zone);
        return;
    }
    router_node_status_t figures;
    figures.free_bytes = figures.total_bytes = -1;
    const msgpack_object *volumes = s_find (&root, "volumes");
    if (volumes && volumes->type == MSGPACK_OBJECT_ARRAY) {
        figures.free_bytes = figures.total_bytes = 0;
        for (uint32_t index = 0; index < volumes->via.array.size; index++) {
            int64_t free_bytes = s_int (s_find (&volumes->via.array.ptr [index], "free-bytes"));
            int64_t total = s_int (s_find (&volumes->via.array.ptr [index], "total-bytes"));
            figures.free_bytes += free_bytes > 0? free_bytes: 0;
            figures.total_bytes += total > 0? total: 0;
        }
    }
    figures.value_bytes = s_int (s_find (&root, "value-bytes"));
    figures.live_bytes = s_int (s_find (&root, "live-bytes"));
    figures.garbage_bytes = s_int (s_find (&root, "garbage-bytes"));
    figures.handoff_held = s_int (s_find (s_find (&root, "handoff"), "held"));
    figures.damaged_records = s_int (s_find (&root, "damaged-records"));
    figures.bytes_stored = s_int (s_find (&root, "bytes-stored"));
    msgpack_zone_destroy (&zone);

    int64_t now = timestamp_now ();
    pthread_mutex_lock (&self->lock);
    router_node_status_t *status = &self->nodes [node];
    status->stats_us = now;
    status->last_answer_us = now;
    status->free_bytes = figures.free_bytes;
    status->total_bytes = figures.total_bytes;
    status->value_bytes = figures.value_bytes;
    status->live_bytes = figures.live_bytes;
    status->garbage_bytes = figures.garbage_bytes;
    status->handoff_held = figures.handoff_held;
    status->damaged_records = figures.damaged_records;
    status->bytes_stored = figures.bytes_stored;
    pthread_mutex_unlock (&self->lock);
}

void
router_metrics_node (router_metrics_t *self, size_t node, router_node_status_t *status)
{
    assert (self && node < self->node_count && status);
    pthread_mutex_lock (&self->lock);
    *status = self->nodes [node];
    pthread_mutex_unlock (&self->lock);
}

static uint64_t
s_answers (router_metrics_t *self, int type)
{
    uint64_t total = 0;
    for (int result = 0; result < ROUTER_RESULT_COUNT; result++)
        total += atomic_load_explicit (&self->operations [type][result], memory_order_relaxed);
    return total;
}

void
router_metrics_tick (router_metrics_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    for (int type = 0; type < ROUTER_MSG_COUNT; type++)
        self->history [self->history_next][type] = s_answers (self, type);
    self->history_us [self->history_next] = zclock_usecs ();
    self->history_next = (self->history_next + 1) % S_HISTORY;
    if (self->history_count < S_HISTORY)
        self->history_count++;
    pthread_mutex_unlock (&self->lock);
}

//  Answers per second of each type over the history (0 with too little)
static void
s_rates (router_metrics_t *self, double rates [ROUTER_MSG_COUNT])
{
    pthread_mutex_lock (&self->lock);
    for (int type = 0; type < ROUTER_MSG_COUNT; type++)
        rates [type] = 0;
    if (self->history_count >= 2) {
        size_t newest = (self->history_next + S_HISTORY - 1) % S_HISTORY;
        size_t oldest = self->history_count < S_HISTORY? 0: self->history_next;
        double seconds = (double) (self->history_us [newest] - self->history_us [oldest]) / 1e6;
        for (int type = 0; seconds > 0 && type < ROUTER_MSG_COUNT; type++)
            rates [type] = (double) (self->history [newest][type] - self->history [oldest][type]) / seconds;
    }
    pthread_mutex_unlock (&self->lock);
}

static size_t
s_reachable_count (router_metrics_t *self)
{
    size_t count = 0;
    pthread_mutex_lock (&self->lock);
    for (size_t node = 0; node < self->node_count; node++)
        count += self->nodes [node].reachable;
    pthread_mutex_unlock (&self->lock);
    return count;
}

int
router_metrics_ready (router_metrics_t *self, char *why, size_t why_size)
{
    assert (self && why);
    if (atomic_load (&self->stopping)) {
        snprintf (why, why_size, "not ready: the router is stopping");
        return -1;
    }
    size_t k = (size_t) cluster_config_data_shards (self->cluster);
    char names [1024] = "";
    size_t used = 0, reachable = 0;
    pthread_mutex_lock (&self->lock);
    for (size_t node = 0; node < self->node_count; node++) {
        if (self->nodes [node].reachable) {
            reachable++;
            continue;
        }
        int written = snprintf (names + used, sizeof names - used, "%s%s", used? ", ": "",
                                self->nodes [node].name);
        if (written > 0 && (size_t) written < sizeof names - used)
            used += (size_t) written;
    }
    pthread_mutex_unlock (&self->lock);
    if (atomic_load (&self->starting)) {
        snprintf (why, why_size, "not ready: starting, waiting until every node has answered "
                  "once (at most node-timeout-ms); %zu of %zu nodes reachable%s%s",
                  reachable, self->node_count, used? "; unreachable: ": "", names);
        return -1;
    }
    if (reachable < k) {
        snprintf (why, why_size, "not ready: %zu of %zu nodes reachable, writes need %zu; unreachable: %s",
                  reachable, self->node_count, k, names);
        return -1;
    }
    if (reachable < self->node_count)
        snprintf (why, why_size, "ready (degraded): %zu of %zu nodes reachable; unreachable: %s",
                  reachable, self->node_count, names);
    else
        snprintf (why, why_size, "ready: %zu of %zu nodes reachable", reachable, self->node_count);
    return 0;
}

void
router_metrics_write (router_metrics_t *self, FILE *out)
{
    assert (self && out);
    metrics_header (out, "strata_router_build_info", "gauge", "The router's version (always 1)");
    fprintf (out, "strata_router_build_info{version=\"%s\"} 1\n", STRATA_VERSION);
    char why [1200];
    metrics_header (out, "strata_router_ready", "gauge", "1 when /readyz answers 200");
    fprintf (out, "strata_router_ready %d\n", router_metrics_ready (self, why, sizeof why) == 0);
    metrics_header (out, "strata_router_nodes", "gauge", "Nodes in the cluster file");
    fprintf (out, "strata_router_nodes %zu\n", self->node_count);
    metrics_header (out, "strata_router_data_shards", "gauge", "Nodes a write or read needs (k)");
    fprintf (out, "strata_router_data_shards %d\n", cluster_config_data_shards (self->cluster));
    metrics_header (out, "strata_router_nodes_reachable", "gauge", "Nodes that answered within the node timeout");
    fprintf (out, "strata_router_nodes_reachable %zu\n", s_reachable_count (self));

    router_node_status_t *nodes = (router_node_status_t *) malloc (
        (self->node_count? self->node_count: 1) * sizeof (router_node_status_t));
    if (nodes) {
        pthread_mutex_lock (&self->lock);
        memcpy (nodes, self->nodes, self->node_count * sizeof (router_node_status_t));
        pthread_mutex_unlock (&self->lock);
        metrics_header (out, "strata_router_node_up", "gauge", "1 when the node is reachable");
        for (size_t node = 0; node < self->node_count; node++) {
            fputs ("strata_router_node_up{node=\"", out);
            metrics_label_value (out, nodes [node].name);
            fprintf (out, "\"} %d\n", nodes [node].reachable? 1: 0);
        }
        metrics_header (out, "strata_router_node_last_answer_timestamp_seconds", "gauge",
                        "When the node last answered the router (0: never)");
        for (size_t node = 0; node < self->node_count; node++) {
            fputs ("strata_router_node_last_answer_timestamp_seconds{node=\"", out);
            metrics_label_value (out, nodes [node].name);
            fprintf (out, "\"} %.3f\n", (double) nodes [node].last_answer_us / 1e6);
        }
        free (nodes);
    }
    metrics_header (out, "strata_router_operations_total", "counter",
                    "Client requests answered, by operation and result");
    for (int type = 1; type < ROUTER_MSG_COUNT; type++)
        for (int result = 0; result < ROUTER_RESULT_COUNT; result++) {
            uint64_t count = atomic_load_explicit (&self->operations [type][result], memory_order_relaxed);
            if (count || result == ROUTER_SUCCESS)
                fprintf (out, "strata_router_operations_total{op=\"%s\",result=\"%s\"} %llu\n",
                         router_msg_name ((router_msg_t) type), router_result_name ((router_result_t) result),
                         (unsigned long long) count);
        }
    metrics_header (out, "strata_router_operation_duration_seconds", "histogram",
                    "Time from taking a client request to sending its answer, by operation");
    for (int type = 1; type < ROUTER_MSG_COUNT; type++) {
        char labels [64];
        snprintf (labels, sizeof labels, "op=\"%s\"", router_msg_name ((router_msg_t) type));
        metrics_histogram_write (&self->duration [type], out, "strata_router_operation_duration_seconds", labels);
    }
    metrics_header (out, "strata_router_operation_bytes_total", "counter",
                    "Object bytes received (put, put-data) and sent (get, get-next)");
    router_msg_t moving [] = { ROUTER_MSG_PUT, ROUTER_MSG_PUT_DATA, ROUTER_MSG_GET, ROUTER_MSG_GET_NEXT };
    for (size_t index = 0; index < sizeof moving / sizeof moving [0]; index++)
        fprintf (out, "strata_router_operation_bytes_total{op=\"%s\"} %llu\n", router_msg_name (moving [index]),
                 (unsigned long long) atomic_load_explicit (&self->bytes [moving [index]], memory_order_relaxed));
    metrics_header (out, "strata_router_handoff_writes_total", "counter",
                    "Writes (put, delete) that stored some shares on handoff holders");
    fprintf (out, "strata_router_handoff_writes_total %llu\n",
             (unsigned long long) atomic_load_explicit (&self->handoff_writes, memory_order_relaxed));
    metrics_header (out, "strata_router_operations_in_flight", "gauge", "Operations in progress");
    fprintf (out, "strata_router_operations_in_flight %llu\n",
             (unsigned long long) atomic_load_explicit (&self->in_flight, memory_order_relaxed));
    metrics_header (out, "strata_router_auth_failures_total", "counter",
                    "CURVE handshakes refused on the router's sockets");
    fprintf (out, "strata_router_auth_failures_total %llu\n",
             (unsigned long long) atomic_load_explicit (&self->auth_failures, memory_order_relaxed));
}


//  --------------------------------------------------------------------------
//  The status page

//  The router page's own look, after the base style (status_page.c)
static const char *s_style =
    "td.state{font-weight:bold;text-align:center}"
    "tr.up td.state{color:#fff;background:#2a7d2a}tr.down td.state{color:#fff;background:#b22}"
    "tr.down{background:#fde}"
    ".ready{color:#2a7d2a}.degraded{color:#b60}.notready{color:#b22}h1{font-size:1.4em}h2{font-size:1.1em}";

void
router_metrics_write_page (router_metrics_t *self, FILE *out)
{
    assert (self && out);
    char why [1200];
    bool ready = router_metrics_ready (self, why, sizeof why) == 0;
    router_node_status_t *nodes = (router_node_status_t *) malloc (
        (self->node_count? self->node_count: 1) * sizeof (router_node_status_t));
    if (!nodes)
        return;
    pthread_mutex_lock (&self->lock);
    memcpy (nodes, self->nodes, self->node_count * sizeof (router_node_status_t));
    pthread_mutex_unlock (&self->lock);
    size_t reachable = 0;
    for (size_t node = 0; node < self->node_count; node++)
        reachable += nodes [node].reachable;

    status_page_begin (out, "Strata cluster", cluster_config_name (self->cluster), 2, s_style);
    fprintf (out, "</h1>\n<p id=\"summary\"><span id=\"reachable\">%zu of %zu nodes up</span>, "
             "k = %d, n = %d &middot; <span id=\"ready\" class=\"%s\">", reachable, self->node_count,
             cluster_config_data_shards (self->cluster), cluster_config_total_shards (self->cluster),
             !ready? "notready": reachable < self->node_count? "degraded": "ready");
    http_server_html_escape (out, why);
    char now_text [TIMESTAMP_TEXT_SIZE];
    int64_t now = timestamp_now ();
    timestamp_format (now, now_text);
    fprintf (out, "</span> &middot; router %s &middot; %s</p>\n", STRATA_VERSION, now_text);

    fputs ("<h2>Nodes</h2>\n<table id=\"nodes\">\n<tr><th>node</th><th>state</th><th>last answer</th>"
           "<th>free</th><th>total</th><th>free %</th><th>live</th><th>garbage</th>"
           "<th>handoff backlog</th><th>damaged records</th></tr>\n", out);
    for (size_t node = 0; node < self->node_count; node++) {
        router_node_status_t *status = &nodes [node];
        fprintf (out, "<tr class=\"node %s\" data-node=\"", status->reachable? "up": "down");
        http_server_html_escape (out, status->name);
        fputs ("\"><td>", out);
        http_server_html_escape (out, status->name);
        fprintf (out, "</td><td class=\"state\">%s</td><td>", status->reachable? "up": "down");
        if (status->last_answer_us > 0)
            fprintf (out, "%.1f s ago", (double) (now - status->last_answer_us) / 1e6);
        else
            fputs ("never", out);
        fputs ("</td><td class=\"num\">", out);
        status_page_bytes (out, status->free_bytes);
        fputs ("</td><td class=\"num\">", out);
        status_page_bytes (out, status->total_bytes);
        fputs ("</td><td class=\"num\">", out);
        if (status->total_bytes > 0 && status->free_bytes >= 0)
            fprintf (out, "%.1f", 100.0 * (double) status->free_bytes / (double) status->total_bytes);
        else
            fputs ("&mdash;", out);
        fputs ("</td><td class=\"num\">", out);
        status_page_bytes (out, status->live_bytes);
        fputs ("</td><td class=\"num\">", out);
        status_page_bytes (out, status->garbage_bytes);
        fputs ("</td><td class=\"num\">", out);
        status_page_count (out, status->handoff_held);
        fputs ("</td><td class=\"num\">", out);
        status_page_count (out, status->damaged_records);
        fputs ("</td></tr>\n", out);
    }
    free (nodes);

    double rates [ROUTER_MSG_COUNT];
    s_rates (self, rates);
    fputs ("</table>\n<h2>Operations</h2>\n<table id=\"operations\">\n<tr><th>operation</th>"
           "<th>per second (10 s)</th><th>answered</th><th>failed</th><th>p50 (ms)</th>"
           "<th>p90 (ms)</th><th>p99 (ms)</th></tr>\n", out);
    for (int type = 1; type < ROUTER_MSG_COUNT; type++) {
        uint64_t total = s_answers (self, type);
        uint64_t failed = total - atomic_load_explicit (&self->operations [type][ROUTER_SUCCESS],
                                                        memory_order_relaxed);
        metrics_histogram_t *histogram = &self->duration [type];
        fprintf (out, "<tr><td>%s</td><td class=\"num\">%.1f</td><td class=\"num\">%llu</td>"
                 "<td class=\"num\">%llu</td><td class=\"num\">%.2f</td><td class=\"num\">%.2f</td>"
                 "<td class=\"num\">%.2f</td></tr>\n", router_msg_name ((router_msg_t) type), rates [type],
                 (unsigned long long) total, (unsigned long long) failed,
                 (double) metrics_histogram_quantile_us (histogram, 0.5) / 1000,
                 (double) metrics_histogram_quantile_us (histogram, 0.9) / 1000,
                 (double) metrics_histogram_quantile_us (histogram, 0.99) / 1000);
    }
    fprintf (out, "</table>\n<p>In flight: %llu operations &middot; handoff writes: %llu &middot; "
             "refused CURVE handshakes: %llu</p>\n",
             (unsigned long long) atomic_load_explicit (&self->in_flight, memory_order_relaxed),
             (unsigned long long) atomic_load_explicit (&self->handoff_writes, memory_order_relaxed),
             (unsigned long long) atomic_load_explicit (&self->auth_failures, memory_order_relaxed));
    fputs ("<p>Node figures come from each node's <code>stats</code> reply (asked every 2 s); "
           "percentiles are estimated from the histogram buckets of <a href=\"/metrics\">/metrics</a>. "
           "This page reloads every 2 seconds.</p>\n</body></html>\n", out);
}


//  --------------------------------------------------------------------------
//  Serving

static int
s_handle (void *arg, const char *path, FILE *body, const char **content_type_p)
{
    router_metrics_t *self = (router_metrics_t *) arg;
    if (streq (path, "/metrics")) {
        *content_type_p = "text/plain; version=0.0.4; charset=utf-8";
        router_metrics_write (self, body);
        return 200;
    }
    if (streq (path, "/healthz")) {
        fputs ("ok\n", body);
        return 200;
    }
    if (streq (path, "/readyz")) {
        char why [1200];
        int rc = router_metrics_ready (self, why, sizeof why);
        fprintf (body, "%s\n", why);
        return rc == 0? 200: 503;
    }
    if (streq (path, "/")) {
        *content_type_p = "text/html; charset=utf-8";
        router_metrics_write_page (self, body);
        return 200;
    }
    fputs ("not found: this endpoint serves /metrics, /healthz, /readyz and /\n", body);
    return 404;
}

int
router_metrics_serve (router_metrics_t *self, const char *listen, char *error, size_t error_size)
{
    assert (self && listen && error);
    assert (!self->server);
    self->server = http_server_new (listen, s_handle, self, error, error_size);
    return self->server? http_server_port (self->server): -1;
}
