/*  =========================================================================
    node_http - strata-node's HTTP endpoint: metrics, health, status page

    Most metrics come from the node's own stats map (node_stats_encode, the
    same map a `stats` request returns), through s_stat_metrics: one row
    per stats field. A row whose field the map does not have is skipped, so
    a field added to the stats map needs only its row here to become a
    metric. The per-type/per-result reply counts and the histograms are
    read from node_stats directly.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include <sys/statvfs.h>
#include "node_http.h"
#include "http_server.h"
#include "metrics.h"
#include "status_page.h"
#include "timestamp.h"

struct _node_http_t {
    const node_config_t *config;    //  borrowed
    node_stats_t *stats;            //  borrowed
    http_server_t *server;          //  serving thread
};

//  How a stats field's value becomes a sample
typedef enum {
    S_PLAIN,                        //  the number as is
    S_TIMESTAMP                     //  a time: seconds since the epoch (from s, ms, us or ISO 8601)
} s_conversion_t;

//  One stats field -> one metric. path: the field in the stats map, with
//  '/' into nested maps.
static const struct {
    const char *path;
    const char *metric;
    const char *type;
    const char *help;
    s_conversion_t conversion;
} s_stat_metrics [] = {
    { "bytes-stored", "strata_node_stored_bytes_total", "counter",
      "Payload bytes stored and acknowledged (synced)", S_PLAIN },
    { "retrieved-bytes", "strata_node_retrieved_bytes_total", "counter",
      "Payload bytes sent in retrieve replies", S_PLAIN },
    { "syncs", "strata_node_commits_total", "counter",
      "Group commits done (value files synced, index committed)", S_PLAIN },
    { "sync-failures", "strata_node_commit_failures_total", "counter",
      "Group commits that failed (their requests were answered io-error)", S_PLAIN },
    { "results/overloaded", "strata_node_overloaded_total", "counter",
      "Requests answered overloaded (the writer queue stayed full)", S_PLAIN },
    { "replies-dropped", "strata_node_replies_dropped_total", "counter",
      "Replies that could not be delivered", S_PLAIN },
    { "requests-dropped", "strata_node_requests_dropped_total", "counter",
      "Requests dropped without a reply (no usable reply address)", S_PLAIN },
    { "auth-failures", "strata_node_auth_failures_total", "counter",
      "CURVE handshakes refused on the node's endpoints", S_PLAIN },
    { "damaged-records", "strata_node_damaged_records_total", "counter",
      "Records found damaged (bad CRC32C or MD5) since the node started", S_PLAIN },
    { "value-files", "strata_node_value_files", "gauge",
      "Value files known to the index", S_PLAIN },
    { "active-segments", "strata_node_active_segments", "gauge",
      "Segments being written (started, not finished)", S_PLAIN },
    { "queue-depth", "strata_node_queue_depth", "gauge",
      "Requests between the dispatcher and the writer", S_PLAIN },
    { "uptime-seconds", "strata_node_uptime_seconds", "gauge",
      "Seconds since the node started", S_PLAIN },
    { "handoff/held", "strata_node_handoff_held_segments", "gauge",
      "Handoff copies held for absent nodes", S_PLAIN },
    { "handoff/pending", "strata_node_handoff_pending_segments", "gauge",
      "Handoff copies ready to be forwarded to their owners", S_PLAIN },
    { "handoff/forwarded", "strata_node_handoff_forwarded_total", "counter",
      "Handoff copies forwarded to their owners and purged", S_PLAIN },
    { "handoff/bytes-forwarded", "strata_node_handoff_forwarded_bytes_total", "counter",
      "Payload bytes replayed to their owners by the handoff forwarder", S_PLAIN },
    { "handoff/failures", "strata_node_handoff_failures_total", "counter",
      "Handoff passes stopped by a failure or a timeout", S_PLAIN },
    //  Compaction and scrub: rows for fields those features publish
    { "value-bytes", "strata_node_value_bytes", "gauge",
      "Bytes of value files on the volumes", S_PLAIN },
    { "live-bytes", "strata_node_live_bytes", "gauge",
      "Bytes of value files still referenced by the index", S_PLAIN },
    { "garbage-bytes", "strata_node_garbage_bytes", "gauge",
      "Bytes of value files no longer referenced (compaction reclaims them)", S_PLAIN },
    { "compactions", "strata_node_compactions_total", "counter",
      "Value files compacted", S_PLAIN },
    { "compacted-bytes", "strata_node_compacted_bytes_total", "counter",
      "Bytes reclaimed by compaction", S_PLAIN },
    { "compact-waiting-for-space", "strata_node_compact_waiting_for_space", "gauge",
      "1 while compaction waits for free space", S_PLAIN },
    { "scrub-passes", "strata_node_scrub_passes_total", "counter",
      "Scrub passes completed over every value file", S_PLAIN },
    { "scrub-bytes", "strata_node_scrub_bytes_total", "counter",
      "Bytes read and verified by the scrubber", S_PLAIN },
    { "scrub-last-pass-end", "strata_node_scrub_last_pass_end_timestamp_seconds", "gauge",
      "When the last complete scrub pass ended (0: none yet)", S_TIMESTAMP },
    { "scrub-position", "strata_node_scrub_position_bytes", "gauge",
      "Bytes checked so far in the scrub pass under way", S_PLAIN },
};

#define S_ROWS (sizeof s_stat_metrics / sizeof s_stat_metrics [0])


//  --------------------------------------------------------------------------
//  The stats map, decoded

//  Look up a '/'-separated path in a MessagePack map; NULL if absent
static const msgpack_object *
s_find (const msgpack_object *map, const char *path)
{
    const msgpack_object *at = map;
    while (at && at->type == MSGPACK_OBJECT_MAP && *path) {
        const char *slash = strchr (path, '/');
        size_t length = slash? (size_t) (slash - path): strlen (path);
        const msgpack_object *next = NULL;
        for (uint32_t index = 0; index < at->via.map.size; index++) {
            const msgpack_object *key = &at->via.map.ptr [index].key;
            if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == length
            &&  memcmp (key->via.str.ptr, path, length) == 0) {
                next = &at->via.map.ptr [index].val;
                break;
            }
        }
        if (!slash)
            return next;
        at = next;
        path = slash + 1;
    }
    return NULL;
}

//  The value as a number. 0, or -1 if it is none.
static int
s_number (const msgpack_object *value, s_conversion_t conversion, double *number_p)
{
    if (!value)
        return -1;
    double number;
    switch (value->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER: number = (double) value->via.u64; break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: number = (double) value->via.i64; break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:          number = value->via.f64; break;
        case MSGPACK_OBJECT_BOOLEAN:          number = value->via.boolean? 1: 0; break;
        case MSGPACK_OBJECT_STR: {
            int64_t usec;
            if (conversion != S_TIMESTAMP
            ||  timestamp_parse (value->via.str.ptr, value->via.str.size, &usec))
                return -1;
            *number_p = (double) usec / 1e6;
            return 0;
        }
        default:
            return -1;
    }
    if (conversion == S_TIMESTAMP) {
        //  Seconds, milliseconds or microseconds since the epoch
        if (number > 1e14)
            number /= 1e6;
        else
        if (number > 1e11)
            number /= 1e3;
    }
    *number_p = number;
    return 0;
}

static uint64_t
s_uint (const msgpack_object *map, const char *path)
{
    double number;
    return s_number (s_find (map, path), S_PLAIN, &number) == 0 && number > 0? (uint64_t) number: 0;
}

//  Encode and decode the stats map; the caller destroys zone and buffer
static msgpack_object
s_stats_map (node_stats_t *stats, msgpack_sbuffer *buffer, msgpack_zone *zone)
{
    msgpack_sbuffer_init (buffer);
    msgpack_zone_init (zone, 4096);
    node_stats_encode (stats, buffer);
    msgpack_object root;
    memset (&root, 0, sizeof root);
    if (msgpack_unpack (buffer->data, buffer->size, NULL, zone, &root) != MSGPACK_UNPACK_SUCCESS)
        root.type = MSGPACK_OBJECT_NIL;
    return root;
}


//  --------------------------------------------------------------------------
//  /metrics, /readyz

void
node_http_write_metrics (const node_config_t *config, node_stats_t *stats, FILE *out)
{
    assert (config && stats && out);
    msgpack_sbuffer buffer;
    msgpack_zone zone;
    msgpack_object root = s_stats_map (stats, &buffer, &zone);

    metrics_header (out, "strata_node_up", "gauge", "1 while the node runs");
    fprintf (out, "strata_node_up 1\n");
    metrics_header (out, "strata_node_build_info", "gauge", "The node's version (always 1)");
    fprintf (out, "strata_node_build_info{version=\"%s\"} 1\n", STRATA_VERSION);
    char why [256];
    metrics_header (out, "strata_node_ready", "gauge", "1 when /readyz answers 200 (can take writes)");
    fprintf (out, "strata_node_ready %d\n", node_http_ready (config, stats, why, sizeof why) == 0);

    metrics_header (out, "strata_node_requests_total", "counter",
                    "Requests answered, by message type and result");
    for (int type = 1; type < MSG_TYPE_COUNT; type++)
        for (int result = 0; result < RESULT_COUNT; result++) {
            uint64_t count = atomic_load_explicit (&stats->replies [type][result], memory_order_relaxed);
            //  Every type's success series always, the others once seen
            if (count || result == RESULT_SUCCESS)
                fprintf (out, "strata_node_requests_total{type=\"%s\",result=\"%s\"} %llu\n",
                         message_type_name ((message_type_t) type), result_name ((result_t) result),
                         (unsigned long long) count);
        }
    metrics_header (out, "strata_node_request_duration_seconds", "histogram",
                    "Time from receiving a request to sending its reply, by message type");
    for (int type = 1; type < MSG_TYPE_COUNT; type++) {
        char labels [96];
        snprintf (labels, sizeof labels, "type=\"%s\"", message_type_name ((message_type_t) type));
        metrics_histogram_write (&stats->request_duration [type], out,
                                 "strata_node_request_duration_seconds", labels);
    }
    metrics_header (out, "strata_node_commit_duration_seconds", "histogram",
                    "Duration of a group commit (value-file sync and index commit)");
    metrics_histogram_write (&stats->commit_duration, out, "strata_node_commit_duration_seconds", "");
    metrics_header (out, "strata_node_stage_duration_seconds", "histogram",
                    "Successful archive requests: time spent in each stage, named by where it ends "
                    "(verified, taken, written, synced, replied)");
    for (int stage = 0; stage < NODE_STAGE_COUNT; stage++) {
        char labels [64];
        snprintf (labels, sizeof labels, "stage=\"%s\"", node_stage_name ((node_stage_t) stage));
        metrics_histogram_write (&stats->stage_duration [stage], out,
                                 "strata_node_stage_duration_seconds", labels);
    }

    for (size_t row = 0; row < S_ROWS; row++) {
        double number;
        if (s_number (s_find (&root, s_stat_metrics [row].path), s_stat_metrics [row].conversion, &number))
            continue;
        metrics_header (out, s_stat_metrics [row].metric, s_stat_metrics [row].type, s_stat_metrics [row].help);
        if (number == floor (number) && fabs (number) < 1e15)
            fprintf (out, "%s %.0f\n", s_stat_metrics [row].metric, number);
        else
            fprintf (out, "%s %.6f\n", s_stat_metrics [row].metric, number);
    }
    const msgpack_object *volumes = s_find (&root, "volumes");
    if (volumes && volumes->type == MSGPACK_OBJECT_ARRAY) {
        const char *names [2] = { "strata_node_volume_free_bytes", "strata_node_volume_total_bytes" };
        const char *fields [2] = { "free-bytes", "total-bytes" };
        const char *helps [2] = { "Bytes a writer may still use on the volume's filesystem",
                                  "Size of the volume's filesystem" };
        for (int which = 0; which < 2; which++) {
            metrics_header (out, names [which], "gauge", helps [which]);
            for (uint32_t index = 0; index < volumes->via.array.size; index++) {
                const msgpack_object *volume = &volumes->via.array.ptr [index];
                const msgpack_object *path = s_find (volume, "path");
                if (!path || path->type != MSGPACK_OBJECT_STR)
                    continue;
                char *text = zsys_sprintf ("%.*s", (int) path->via.str.size, path->via.str.ptr);
                fprintf (out, "%s{volume=\"", names [which]);
                metrics_label_value (out, text);
                fprintf (out, "\"} %llu\n", (unsigned long long) s_uint (volume, fields [which]));
                zstr_free (&text);
            }
        }
    }
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&buffer);
}

int
node_http_ready (const node_config_t *config, node_stats_t *stats, char *why, size_t why_size)
{
    assert (config && stats && why);
    if (atomic_load (&stats->stopping)) {
        snprintf (why, why_size, "not ready: the node is stopping");
        return -1;
    }
    if (!atomic_load (&stats->index_open)) {
        snprintf (why, why_size, "not ready: the index is not open yet");
        return -1;
    }
    for (size_t index = 0; index < config->volume_count; index++) {
        struct statvfs figures;
        if (statvfs (config->volumes [index], &figures)) {
            snprintf (why, why_size, "not ready: volume %s: %s", config->volumes [index], strerror (errno));
            return -1;
        }
        uint64_t free_bytes = (uint64_t) figures.f_bavail * figures.f_frsize;
        if (free_bytes <= config->reserve_bytes) {
            snprintf (why, why_size, "not ready: out of space: volume %s has %llu bytes free, "
                      "reserve-bytes is %llu", config->volumes [index],
                      (unsigned long long) free_bytes, (unsigned long long) config->reserve_bytes);
            return -1;
        }
    }
    snprintf (why, why_size, "ready");
    return 0;
}


//  --------------------------------------------------------------------------
//  The status page

//  The page's head, look and byte and count cells are common/status_page
//  (the router's page shares them); what is the node's own is here

//  A byte count as status_page_bytes takes it (signed; never negative here)
static int64_t
s_byte_cell (uint64_t bytes)
{
    return bytes > (uint64_t) INT64_MAX? INT64_MAX: (int64_t) bytes;
}

//  A stats value of the map (a number, never negative: the node's stats
//  are unsigned) as the cells take it: -1 (a dash) when it is absent
static int64_t
s_stat_cell (const msgpack_object *root, const char *path)
{
    double number;
    if (s_number (s_find (root, path), S_PLAIN, &number))
        return -1;
    if (number <= 0)
        return 0;
    return number >= 9.2e18? INT64_MAX: (int64_t) nearbyint (number);
}

static void
s_row_bytes (FILE *out, const char *label, const msgpack_object *root, const char *path)
{
    fprintf (out, "<tr><th>%s</th><td>", label);
    status_page_bytes (out, s_stat_cell (root, path));
    fputs ("</td></tr>\n", out);
}

static void
s_row_count (FILE *out, const char *label, const msgpack_object *root, const char *path)
{
    fprintf (out, "<tr><th>%s</th><td>", label);
    status_page_count (out, s_stat_cell (root, path));
    fputs ("</td></tr>\n", out);
}

//  The node's page adds its state badge and heading sizes to the shared look
static const char *s_style =
    ".up{color:#fff;background:#2a7d2a}.down{color:#fff;background:#b22}"
    "h1{font-size:1.4em}h2{font-size:1.1em}";

static void
s_write_page (node_http_t *self, FILE *out)
{
    msgpack_sbuffer buffer;
    msgpack_zone zone;
    msgpack_object root = s_stats_map (self->stats, &buffer, &zone);
    char why [512];
    bool ready = node_http_ready (self->config, self->stats, why, sizeof why) == 0;
    status_page_begin (out, "strata-node", self->config->name, 5, s_style);
    fprintf (out, " <span id=\"state\" class=\"%s\">%s</span></h1>\n", ready? "up": "down",
             ready? "ready": "not ready");
    fputs ("<p id=\"reason\">", out);
    http_server_html_escape (out, why);
    fprintf (out, "</p>\n<table>\n<tr><th>version</th><td>%s</td></tr>\n", STRATA_VERSION);
    fputs ("<tr><th>writer</th><td>", out);
    http_server_html_escape (out, self->config->writer);
    fputs ("</td></tr>\n<tr><th>reader</th><td>", out);
    http_server_html_escape (out, self->config->reader);
    fputs ("</td></tr>\n", out);
    s_row_count (out, "uptime (s)", &root, "uptime-seconds");
    s_row_bytes (out, "stored (acknowledged)", &root, "bytes-stored");
    s_row_bytes (out, "retrieved", &root, "retrieved-bytes");
    s_row_bytes (out, "value bytes", &root, "value-bytes");
    s_row_bytes (out, "live bytes", &root, "live-bytes");
    s_row_bytes (out, "garbage bytes", &root, "garbage-bytes");
    s_row_count (out, "value files", &root, "value-files");
    s_row_count (out, "handoff backlog (held)", &root, "handoff/held");
    s_row_count (out, "handoff forwarded", &root, "handoff/forwarded");
    s_row_count (out, "damaged records", &root, "damaged-records");
    s_row_count (out, "scrub passes", &root, "scrub-passes");
    s_row_count (out, "commits", &root, "syncs");
    fprintf (out, "<tr><th>commit p50 / p99 (ms)</th><td>%.2f / %.2f</td></tr>\n",
             (double) metrics_histogram_quantile_us (&self->stats->commit_duration, 0.5) / 1000,
             (double) metrics_histogram_quantile_us (&self->stats->commit_duration, 0.99) / 1000);
    fputs ("</table>\n<h2>Volumes</h2>\n<table>\n<tr><th>path</th><th>free</th><th>total</th>"
           "<th>free %</th></tr>\n", out);
    const msgpack_object *volumes = s_find (&root, "volumes");
    for (uint32_t index = 0; volumes && volumes->type == MSGPACK_OBJECT_ARRAY
         && index < volumes->via.array.size; index++) {
        const msgpack_object *volume = &volumes->via.array.ptr [index];
        const msgpack_object *path = s_find (volume, "path");
        char *text = path && path->type == MSGPACK_OBJECT_STR
                   ? zsys_sprintf ("%.*s", (int) path->via.str.size, path->via.str.ptr): strdup ("?");
        uint64_t free_bytes = s_uint (volume, "free-bytes"), total = s_uint (volume, "total-bytes");
        fputs ("<tr class=\"volume\"><td>", out);
        http_server_html_escape (out, text);
        fputs ("</td><td class=\"num\">", out);
        status_page_bytes (out, s_byte_cell (free_bytes));
        fputs ("</td><td class=\"num\">", out);
        status_page_bytes (out, s_byte_cell (total));
        fprintf (out, "</td><td class=\"num\">%.1f</td></tr>\n",
                 total? 100.0 * (double) free_bytes / (double) total: 0.0);
        zstr_free (&text);
    }
    fputs ("</table>\n<h2>Requests</h2>\n<table>\n<tr><th>type</th><th>answered</th>"
           "<th>p50 (ms)</th><th>p99 (ms)</th></tr>\n", out);
    for (int type = 1; type < MSG_TYPE_COUNT; type++) {
        metrics_histogram_t *histogram = &self->stats->request_duration [type];
        uint64_t count = atomic_load_explicit (&histogram->count, memory_order_relaxed);
        if (!count)
            continue;
        fprintf (out, "<tr><td>%s</td><td class=\"num\">%llu</td><td class=\"num\">%.2f</td>"
                 "<td class=\"num\">%.2f</td></tr>\n", message_type_name ((message_type_t) type),
                 (unsigned long long) count,
                 (double) metrics_histogram_quantile_us (histogram, 0.5) / 1000,
                 (double) metrics_histogram_quantile_us (histogram, 0.99) / 1000);
    }
    fputs ("</table>\n<p>Percentiles are estimated from the histogram buckets of "
           "<a href=\"/metrics\">/metrics</a>. This page reloads every 5 seconds.</p>\n"
           "</body></html>\n", out);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&buffer);
}


//  --------------------------------------------------------------------------
//  Serving

static int
s_handle (void *arg, const char *path, FILE *body, const char **content_type_p)
{
    node_http_t *self = (node_http_t *) arg;
    if (streq (path, "/metrics")) {
        *content_type_p = "text/plain; version=0.0.4; charset=utf-8";
        node_http_write_metrics (self->config, self->stats, body);
        return 200;
    }
    if (streq (path, "/healthz")) {
        fputs ("ok\n", body);
        return 200;
    }
    if (streq (path, "/readyz")) {
        char why [512];
        int rc = node_http_ready (self->config, self->stats, why, sizeof why);
        fprintf (body, "%s\n", why);
        return rc == 0? 200: 503;
    }
    if (streq (path, "/")) {
        *content_type_p = "text/html; charset=utf-8";
        s_write_page (self, body);
        return 200;
    }
    fputs ("not found: this endpoint serves /metrics, /healthz, /readyz and /\n", body);
    return 404;
}

node_http_t *
node_http_new (const node_config_t *config, node_stats_t *stats, char *error, size_t error_size)
{
    assert (config && stats && error);
    node_http_t *self = (node_http_t *) zmalloc (sizeof (node_http_t));
    self->config = config;
    self->stats = stats;
    self->server = http_server_new (config->metrics_listen, s_handle, self, error, error_size);
    if (!self->server) {
        free (self);
        return NULL;
    }
    return self;
}

void
node_http_destroy (node_http_t **self_p)
{
    assert (self_p);
    node_http_t *self = *self_p;
    if (!self)
        return;
    http_server_destroy (&self->server);
    free (self);
    *self_p = NULL;
}

int
node_http_port (node_http_t *self)
{
    assert (self);
    return http_server_port (self->server);
}
