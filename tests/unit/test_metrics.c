/*  =========================================================================
    test_metrics - the Prometheus helpers, the HTTP listen address check,
    and the router's published figures

    Histogram buckets and their cumulative output, quantile estimates,
    label escaping; http_server_check_listen's accepted and refused forms;
    a real http_server on port 0 answering through its handler;
    router_metrics' readiness rule and its reading of a stats map.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <msgpack.h>

#include "metrics.h"
#include "http_server.h"
#include "router_metrics.h"

//  The text a writer function produces
static char *
s_capture (void (*write_fn) (void *arg, FILE *out), void *arg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    cr_assert_not_null (out);
    write_fn (arg, out);
    fclose (out);
    return text;
}

static void
s_write_histogram (void *arg, FILE *out)
{
    metrics_histogram_write ((metrics_histogram_t *) arg, out, "x_seconds", "type=\"a\"");
}

Test (metrics, histogram_buckets_are_cumulative)
{
    metrics_histogram_t histogram;
    memset (&histogram, 0, sizeof histogram);
    metrics_histogram_observe (&histogram, 50);         //  <= 100 us
    metrics_histogram_observe (&histogram, 100);        //  <= 100 us (bounds are inclusive)
    metrics_histogram_observe (&histogram, 3000);       //  <= 5 ms
    metrics_histogram_observe (&histogram, 60000000);   //  over 10 s: +Inf only
    char *text = s_capture (s_write_histogram, &histogram);
    cr_assert_not_null (strstr (text, "x_seconds_bucket{type=\"a\",le=\"0.0001\"} 2\n"), "%s", text);
    cr_assert_not_null (strstr (text, "x_seconds_bucket{type=\"a\",le=\"0.0025\"} 2\n"), "%s", text);
    cr_assert_not_null (strstr (text, "x_seconds_bucket{type=\"a\",le=\"0.005\"} 3\n"), "%s", text);
    cr_assert_not_null (strstr (text, "x_seconds_bucket{type=\"a\",le=\"10\"} 3\n"), "%s", text);
    cr_assert_not_null (strstr (text, "x_seconds_bucket{type=\"a\",le=\"+Inf\"} 4\n"), "%s", text);
    cr_assert_not_null (strstr (text, "x_seconds_count{type=\"a\"} 4\n"), "%s", text);
    cr_assert_not_null (strstr (text, "x_seconds_sum{type=\"a\"} 60.003150\n"), "%s", text);
    free (text);
}

Test (metrics, quantiles_from_buckets)
{
    metrics_histogram_t histogram;
    memset (&histogram, 0, sizeof histogram);
    cr_assert_eq (metrics_histogram_quantile_us (&histogram, 0.5), 0);
    for (int index = 0; index < 100; index++)
        metrics_histogram_observe (&histogram, 700);    //  bucket 500..1000 us
    uint64_t p50 = metrics_histogram_quantile_us (&histogram, 0.5);
    cr_assert (p50 > 500 && p50 <= 1000, "p50 %lu", (unsigned long) p50);
    metrics_histogram_observe (&histogram, 20000000);   //  one in +Inf
    cr_assert_eq (metrics_histogram_quantile_us (&histogram, 1.0), 10000000);
}

static void
s_write_label (void *arg, FILE *out)
{
    metrics_label_value (out, (const char *) arg);
}

Test (metrics, label_values_are_escaped)
{
    char *text = s_capture (s_write_label, (void *) "a\"b\\c\nd");
    cr_assert_str_eq (text, "a\\\"b\\\\c\\nd");
    free (text);
}

Test (http_server, listen_addresses)
{
    char error [400];
    const char *good [] = { "127.0.0.1:9100", "[::1]:9100", "localhost:0", "0.0.0.0:65535" };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++)
        cr_assert_eq (http_server_check_listen (good [index], error, sizeof error), 0, "%s: %s",
                      good [index], error);
    const char *bad [] = { "", "9100", "127.0.0.1", ":9100", "127.0.0.1:", "127.0.0.1:65536",
                           "127.0.0.1:-1", "127.0.0.1:9x", "[::1:9100", "no.such.host.invalid:9100" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        error [0] = 0;
        cr_assert_eq (http_server_check_listen (bad [index], error, sizeof error), -1, "%s", bad [index]);
        cr_assert (strlen (error) > 0 && !strchr (error, '\n'));
    }
}

static int
s_handler (void *arg, const char *path, FILE *body, const char **content_type_p)
{
    (void) arg;
    (void) content_type_p;
    if (strcmp (path, "/hello") == 0) {
        fputs ("hi", body);
        return 200;
    }
    return 404;
}

//  One HTTP/1.0 exchange; the response in out
static void
s_exchange (int port, const char *request, char *out, size_t size)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_eq (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert_eq (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    size_t used = 0;
    ssize_t got;
    while (used + 1 < size && (got = read (fd, out + used, size - used - 1)) > 0)
        used += (size_t) got;
    out [used] = 0;
    close (fd);
}

Test (http_server, serves_get_refuses_other_methods)
{
    char error [400];
    http_server_t *server = http_server_new ("127.0.0.1:0", s_handler, NULL, error, sizeof error);
    cr_assert_not_null (server, "%s", error);
    int port = http_server_port (server);
    cr_assert (port > 0);
    char response [4096];
    s_exchange (port, "GET /hello HTTP/1.0\r\n\r\n", response, sizeof response);
    cr_assert (strncmp (response, "HTTP/1.1 200", 12) == 0 || strncmp (response, "HTTP/1.0 200", 12) == 0,
               "%s", response);
    cr_assert_not_null (strstr (response, "\r\n\r\nhi"));
    s_exchange (port, "GET /other HTTP/1.0\r\n\r\n", response, sizeof response);
    cr_assert_not_null (strstr (response, " 404 "), "%s", response);
    s_exchange (port, "DELETE /hello HTTP/1.0\r\n\r\n", response, sizeof response);
    cr_assert_not_null (strstr (response, " 405 "), "%s", response);
    cr_assert_not_null (strstr (response, "Allow: GET, HEAD"), "%s", response);
    //  The same port again cannot be bound
    char listen [64];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", port);
    http_server_t *second = http_server_new (listen, s_handler, NULL, error, sizeof error);
    cr_assert_null (second);
    cr_assert_not_null (strstr (error, listen), "%s", error);
    http_server_destroy (&server);
    cr_assert_null (server);
}

//  A cluster file with three nodes, k = 2
static cluster_config_t *
s_cluster (void)
{
    char path [] = "/tmp/test_metrics_cluster_XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    const char *text =
        "cluster\n    name = t\n    data-shards = 2\n    total-shards = 3\n    nodes\n"
        "        a\n            writer = tcp://127.0.0.1:1\n            reader = tcp://127.0.0.1:2\n"
        "        b\n            writer = tcp://127.0.0.1:3\n            reader = tcp://127.0.0.1:4\n"
        "        c\n            writer = tcp://127.0.0.1:5\n            reader = tcp://127.0.0.1:6\n";
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    char error [400];
    cluster_config_t *cluster = cluster_config_load (path, error, sizeof error);
    unlink (path);
    cr_assert_not_null (cluster, "%s", error);
    return cluster;
}

Test (router_metrics, readiness_needs_k_nodes)
{
    cluster_config_t *cluster = s_cluster ();
    router_metrics_t *metrics = router_metrics_new (cluster);
    char why [400];
    cr_assert_eq (router_metrics_ready (metrics, why, sizeof why), -1);
    cr_assert_not_null (strstr (why, "unreachable: a, b, c"), "%s", why);
    router_metrics_node_reachable (metrics, 0, true);
    router_metrics_node_reachable (metrics, 2, true);
    cr_assert_eq (router_metrics_ready (metrics, why, sizeof why), 0, "%s", why);
    cr_assert_not_null (strstr (why, "degraded"), "%s", why);
    cr_assert_not_null (strstr (why, "unreachable: b"), "%s", why);
    router_metrics_set_stopping (metrics);
    cr_assert_eq (router_metrics_ready (metrics, why, sizeof why), -1);
    router_metrics_destroy (&metrics);
    cluster_config_destroy (&cluster);
}

Test (router_metrics, node_figures_from_stats)
{
    cluster_config_t *cluster = s_cluster ();
    router_metrics_t *metrics = router_metrics_new (cluster);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 4);
    msgpack_pack_str_with_body (&packer, "garbage-bytes", 13);
    msgpack_pack_uint64 (&packer, 77);
    msgpack_pack_str_with_body (&packer, "damaged-records", 15);
    msgpack_pack_uint64 (&packer, 2);
    msgpack_pack_str_with_body (&packer, "handoff", 7);
    msgpack_pack_map (&packer, 1);
    msgpack_pack_str_with_body (&packer, "held", 4);
    msgpack_pack_uint64 (&packer, 5);
    msgpack_pack_str_with_body (&packer, "volumes", 7);
    msgpack_pack_array (&packer, 2);
    for (int volume = 0; volume < 2; volume++) {
        msgpack_pack_map (&packer, 2);
        msgpack_pack_str_with_body (&packer, "free-bytes", 10);
        msgpack_pack_uint64 (&packer, 100);
        msgpack_pack_str_with_body (&packer, "total-bytes", 11);
        msgpack_pack_uint64 (&packer, 1000);
    }
    router_metrics_node_stats (metrics, 1, (const uint8_t *) buffer.data, buffer.size);
    router_metrics_node_stats (metrics, 2, (const uint8_t *) "\xc1", 1);     //  not MessagePack: ignored
    router_node_status_t status;
    router_metrics_node (metrics, 1, &status);
    cr_assert_str_eq (status.name, "b");
    cr_assert_eq (status.free_bytes, 200);
    cr_assert_eq (status.total_bytes, 2000);
    cr_assert_eq (status.garbage_bytes, 77);
    cr_assert_eq (status.live_bytes, -1);
    cr_assert_eq (status.handoff_held, 5);
    cr_assert_eq (status.damaged_records, 2);
    cr_assert (status.stats_us > 0);
    router_metrics_node (metrics, 2, &status);
    cr_assert_eq (status.stats_us, 0);
    cr_assert_eq (status.free_bytes, -1);
    msgpack_sbuffer_destroy (&buffer);
    router_metrics_destroy (&metrics);
    cluster_config_destroy (&cluster);
}
