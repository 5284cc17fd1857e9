/*  =========================================================================
    router_config - strata-router's settings

    Order of precedence: embedded defaults < the cluster file's `router`
    section < flags. Numbers are checked for range; every problem is one
    line naming the file and the key.
    =========================================================================
*/
#include <czmq.h>
#include <getopt.h>
#include "config_keys.h"
#include "curve.h"
#include "http_server.h"
#include "endpoint.h"
#include "router_config.h"
#include "auth_policy.h"
#include "unified_id.h"

static const char *s_usage =
    "usage: strata-router --cluster FILE [--listen ENDPOINT] [--metrics HOST:PORT]\n"
    "                     [--check-config] [-h | --help] [--version]\n"
    "\n"
    "Runs the Strata router: the front door of a cluster of strata-node\n"
    "processes. Services connect a DEALER socket to the listen endpoint and\n"
    "put, get, delete and list objects (cluster/ROUTER.md). The cluster file\n"
    "gives the nodes and the erasure code; its `router` section the router's\n"
    "settings (listen, reply, id, slice-size, max-put-bytes, node-timeout-ms,\n"
    "upload-timeout-seconds, ping-interval-ms, heartbeat-timeout-ms,\n"
    "reconnect-max-ms, max-operations,\n"
    "max-buffered-bytes, and a curve subsection with cert, clients-dir and\n"
    "client-cert for CurveZMQ, a metrics subsection with listen, a log\n"
    "subsection with access and slow-ms, a repair subsection with\n"
    "interval-seconds and bytes-per-second). --listen overrides router/listen;\n"
    "--metrics HOST:PORT (router/metrics/listen) serves GET /metrics\n"
    "(Prometheus), /healthz, /readyz and the cluster status page / over HTTP.\n"
    "\n"
    "  --check-config    check the cluster file (unknown or repeated keys and\n"
    "                    bad values are errors naming FILE:LINE), print every\n"
    "                    setting's effective value and where it came from\n"
    "                    (default, file, flag), and exit: 0 if valid, 2 if not\n";

void
router_config_defaults (router_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof (*config));
    snprintf (config->listen, sizeof (config->listen), "tcp://127.0.0.1:8000");
    snprintf (config->reply, sizeof (config->reply), "tcp://127.0.0.1:*");
    config->router_id = 0;
    config->slice_size = 10 * 1024 * 1024;
    config->max_put_bytes = 64 * 1024 * 1024;
    config->node_timeout_ms = 10000;
    config->upload_timeout_seconds = 60;
    config->ping_interval_ms = 1000;
    config->heartbeat_timeout_ms = 3000;
    config->reconnect_max_ms = 500;
    config->max_operations = 32;
    config->max_buffered_bytes = 1024ULL * 1024 * 1024;
    config->repair_interval_seconds = 0;
    config->repair_bytes_per_second = 32ULL * 1024 * 1024;
    config->reply_max_bytes = 64ULL * 1024 * 1024;
    config->slow_ms = 1000;
}

static int
s_uint64 (const char *text, uint64_t min, uint64_t max, uint64_t *value_p)
{
    if (!text || !*text || !isdigit ((unsigned char) *text))
        return -1;
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = value;
    return 0;
}

//  The reply endpoint is bound and advertised: it needs a concrete host
static int
s_check_reply (const char *text)
{
    endpoint_t endpoint;
    if (endpoint_parse (text, &endpoint))
        return -1;
    if (endpoint.scheme == ENDPOINT_TCP && streq (endpoint.host, "*"))
        return -1;
    return 0;
}

//  Every setting is read through config_keys, which makes it a known key
//  of the `router` section (config_keys_check refuses anything else) and
//  remembers it for --check-config.
#define S_NUMBER(key, field, min, max) do { \
        const char *text = config_keys_bind (keys, "router/" key, CONFIG_KEY_NUMBER, \
                                             &config->field, sizeof (config->field)); \
        uint64_t value; \
        if (text) { \
            if (s_uint64 (text, (min), (max), &value)) { \
                char where [1100]; \
                snprintf (error, error_size, "%s: router/%s: expected a number in %llu..%llu, not '%s'", \
                          config_keys_where (keys, "router/" key, where, sizeof where), key, \
                          (unsigned long long) (min), (unsigned long long) (max), text); \
                goto done; \
            } \
            config->field = (__typeof__ (config->field)) value; \
        } \
    } while (0)

//  Apply the `router` section held by keys to *config
static int
s_read_keys (router_config_t *config, config_keys_t *keys, char *error, size_t error_size)
{
    int rc = -1;
    char where [1100];
    //  The cluster section is cluster_config's (it checks it)
    config_keys_ignore (keys, "cluster");
    const char *listen = config_keys_bind (keys, "router/listen", CONFIG_KEY_TEXT,
                                           config->listen, sizeof (config->listen));
    const char *reply = config_keys_bind (keys, "router/reply", CONFIG_KEY_TEXT,
                                          config->reply, sizeof (config->reply));
    if (listen) {
        if (endpoint_parse (listen, NULL) || strlen (listen) >= sizeof (config->listen)) {
            snprintf (error, error_size, "%s: router/listen: expected tcp://HOST:PORT or ipc://PATH, not '%s'",
                      config_keys_where (keys, "router/listen", where, sizeof where), listen);
            goto done;
        }
        snprintf (config->listen, sizeof (config->listen), "%s", listen);
    }
    if (reply) {
        if (s_check_reply (reply) || strlen (reply) >= sizeof (config->reply)) {
            snprintf (error, error_size, "%s: router/reply: expected tcp://HOST:PORT (a host the "
                      "nodes can connect to, port may be *) or ipc://PATH, not '%s'",
                      config_keys_where (keys, "router/reply", where, sizeof where), reply);
            goto done;
        }
        snprintf (config->reply, sizeof (config->reply), "%s", reply);
    }
    S_NUMBER ("id", router_id, 0, UNIFIED_ID_ROUTER_MAX);
    S_NUMBER ("slice-size", slice_size, 1024, 64ULL * 1024 * 1024);
    S_NUMBER ("max-put-bytes", max_put_bytes, 0, 1ULL << 40);
    S_NUMBER ("node-timeout-ms", node_timeout_ms, 10, 3600000);
    S_NUMBER ("upload-timeout-seconds", upload_timeout_seconds, 1, 86400);
    S_NUMBER ("ping-interval-ms", ping_interval_ms, 10, 3600000);
    S_NUMBER ("heartbeat-timeout-ms", heartbeat_timeout_ms, 100, 3600000);
    S_NUMBER ("reconnect-max-ms", reconnect_max_ms, 100, 60000);
    S_NUMBER ("max-operations", max_operations, 1, 100000);
    S_NUMBER ("max-buffered-bytes", max_buffered_bytes, 1024 * 1024, 1ULL << 44);
    S_NUMBER ("repair/interval-seconds", repair_interval_seconds, 0, 365ULL * 86400);
    S_NUMBER ("repair/bytes-per-second", repair_bytes_per_second, 1024, 1ULL << 40);
    S_NUMBER ("reply-max-bytes", reply_max_bytes, 1024 * 1024, 1ULL << 40);
    S_NUMBER ("log/slow-ms", slow_ms, 0, 3600000);
    {
        const char *access = config_keys_bind (keys, "router/log/access", CONFIG_KEY_BOOL,
                                               &config->access_log, sizeof (config->access_log));
        if (access) {
            if (!streq (access, "0") && !streq (access, "1")) {
                snprintf (error, error_size, "%s: router/log/access: expected 0 or 1, not '%s'",
                          config_keys_where (keys, "router/log/access", where, sizeof where), access);
                goto done;
            }
            config->access_log = streq (access, "1");
        }
        const char *metrics = config_keys_bind (keys, "router/metrics/listen", CONFIG_KEY_TEXT,
                                                config->metrics_listen, sizeof (config->metrics_listen));
        if (metrics) {
            char why [400];
            if (strlen (metrics) >= sizeof (config->metrics_listen)
            ||  http_server_check_listen (metrics, why, sizeof why)) {
                snprintf (error, error_size, "%s: router/metrics/listen: %s",
                          config_keys_where (keys, "router/metrics/listen", where, sizeof where),
                          strlen (metrics) >= sizeof (config->metrics_listen)? "too long": why);
                goto done;
            }
            snprintf (config->metrics_listen, sizeof (config->metrics_listen), "%s", metrics);
        }
    }
    {
        struct { const char *key; char *field; size_t size; } paths [] = {
            { "cert", config->curve_cert, sizeof (config->curve_cert) },
            { "clients-dir", config->curve_clients_dir, sizeof (config->curve_clients_dir) },
            { "client-cert", config->curve_client_cert, sizeof (config->curve_client_cert) },
        };
        bool curve = zconfig_locate (config_keys_root (keys), "router/curve") != NULL;
        for (size_t index = 0; index < sizeof paths / sizeof paths [0]; index++) {
            char key [64];
            snprintf (key, sizeof key, "router/curve/%s", paths [index].key);
            const char *text = config_keys_bind (keys, key, CONFIG_KEY_TEXT,
                                                 paths [index].field, paths [index].size);
            if (!curve)
                continue;
            if (!text || !*text || strlen (text) >= paths [index].size) {
                snprintf (error, error_size, "%s: router/curve needs cert, clients-dir and client-cert "
                          "(%s is %s)", config_keys_where (keys, "router/curve", where, sizeof where),
                          key, text && *text? "too long": "missing");
                goto done;
            }
            snprintf (paths [index].field, paths [index].size, "%s", text);
        }
    }
    const char *policy = config_keys_bind (keys, "router/auth/policy", CONFIG_KEY_TEXT,
                                           config->auth_policy, sizeof (config->auth_policy));
    if (policy) {
        if (!*policy || strlen (policy) >= sizeof config->auth_policy) {
            snprintf (error, error_size, "%s: router/auth/policy is empty or too long",
                      config_keys_where (keys, "router/auth/policy", where, sizeof where));
            goto done;
        }
        if (!*config->curve_cert) {
            snprintf (error, error_size, "%s: router/auth/policy needs router/curve (keys are known "
                      "only from CURVE handshakes)",
                      config_keys_where (keys, "router/auth/policy", where, sizeof where));
            goto done;
        }
        //  Checked now, so a bad policy stops the start with one line
        char local [600];
        auth_policy_t *loaded = auth_policy_load (policy, local, sizeof local);
        if (!loaded) {
            snprintf (error, error_size, "%s", local);
            goto done;
        }
        auth_policy_destroy (&loaded);
        snprintf (config->auth_policy, sizeof config->auth_policy, "%s", policy);
    }
    if (config_keys_check (keys, error, error_size))
        goto done;
    rc = 0;
done:
    return rc;
}

int
router_config_read_file (router_config_t *config, const char *path, char *error, size_t error_size)
{
    assert (config && path && error);
    config_keys_t *keys = config_keys_load (path, "cluster file", error, error_size);
    if (!keys)
        return -1;
    int rc = s_read_keys (config, keys, error, error_size);
    config_keys_destroy (&keys);
    return rc;
}

//  The effective configuration for --check-config: the cluster, then every
//  router setting with the place its value came from
static void
s_print_effective (router_config_t *config, config_keys_t *keys, cluster_config_t *cluster)
{
    printf ("# strata-router: effective configuration (%s)\n", config->cluster_path);
    printf ("%-36s = %-28s # file\n", "cluster/name", cluster_config_name (cluster));
    printf ("%-36s = %-28d # %s\n", "cluster/data-shards", cluster_config_data_shards (cluster),
            zconfig_locate (config_keys_root (keys), "cluster/data-shards")? "file": "default");
    printf ("%-36s = %-28d # %s\n", "cluster/total-shards", cluster_config_total_shards (cluster),
            zconfig_locate (config_keys_root (keys), "cluster/total-shards")? "file": "default");
    for (size_t index = 0; index < cluster_config_node_count (cluster); index++) {
        char path [300];
        snprintf (path, sizeof path, "cluster/nodes/%s/writer", cluster_config_node_name (cluster, index));
        printf ("%-36s = %-28s # file\n", path, cluster_config_node_writer (cluster, index));
        snprintf (path, sizeof path, "cluster/nodes/%s/reader", cluster_config_node_name (cluster, index));
        printf ("%-36s = %-28s # file\n", path, cluster_config_node_reader (cluster, index));
    }
    config_keys_print (keys, stdout);
}

router_config_status_t
router_config_load (router_config_t *config, int argc, char **argv,
                    cluster_config_t **cluster_p, char *error, size_t error_size)
{
    assert (config && cluster_p && error);
    router_config_defaults (config);
    *cluster_p = NULL;
    static struct option options [] = {
        { "cluster", required_argument, 0, 'C' },
        { "listen",  required_argument, 0, 'l' },
        { "metrics", required_argument, 0, 'M' },
        { "help",    no_argument,       0, 'h' },
        { "version", no_argument,       0, 'V' },
        { "check-config", no_argument,  0, 'P' },
        { 0, 0, 0, 0 }
    };
    const char *cluster_path = NULL;
    const char *listen = NULL;
    bool check_config = false;
    const char *metrics = NULL;
    opterr = 0;
    optind = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (option) {
            case 'C': cluster_path = optarg; break;
            case 'P': check_config = true; break;
            case 'l': listen = optarg; break;
            case 'M': metrics = optarg; break;
            case 'h':
                fputs (s_usage, stdout);
                return ROUTER_CONFIG_EXIT_OK;
            case 'V':
                printf ("strata-router %s\n", STRATA_VERSION);
                return ROUTER_CONFIG_EXIT_OK;
            case ':':
                snprintf (error, error_size, "option '%s' needs a value (see --help)", argv [optind - 1]);
                return ROUTER_CONFIG_ERROR;
            default:
                snprintf (error, error_size, "unknown option '%s' (see --help)", argv [optind - 1]);
                return ROUTER_CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        snprintf (error, error_size, "unexpected argument '%s' (see --help)", argv [optind]);
        return ROUTER_CONFIG_ERROR;
    }
    if (!cluster_path || !*cluster_path) {
        snprintf (error, error_size, "--cluster FILE is required (see --help)");
        return ROUTER_CONFIG_ERROR;
    }
    if (strlen (cluster_path) >= sizeof (config->cluster_path)) {
        snprintf (error, error_size, "--cluster: path is too long");
        return ROUTER_CONFIG_ERROR;
    }
    snprintf (config->cluster_path, sizeof (config->cluster_path), "%s", cluster_path);
    if (!zsys_file_exists (cluster_path)) {
        snprintf (error, error_size, "%s: no such cluster file", cluster_path);
        return ROUTER_CONFIG_ERROR;
    }
    cluster_config_t *cluster = cluster_config_load (cluster_path, error, error_size);
    if (!cluster)
        return ROUTER_CONFIG_ERROR;
    config_keys_t *keys = config_keys_load (cluster_path, "cluster file", error, error_size);
    if (!keys || s_read_keys (config, keys, error, error_size)) {
        config_keys_destroy (&keys);
        cluster_config_destroy (&cluster);
        return ROUTER_CONFIG_ERROR;
    }
    if (*config->curve_cert) {
        //  Check the certificates now, so a bad one is a configuration error
        char curve_error [1200] = "";
        curve_t *curve = curve_new (config->curve_cert, config->curve_client_cert, NULL,
                                    curve_error, sizeof curve_error);
        bool has_client = curve && curve_has_client (curve);
        curve_destroy (&curve);
        if (!has_client || !zsys_file_exists (config->curve_clients_dir)
        ||  !(zsys_file_mode (config->curve_clients_dir) & S_IFDIR)) {
            if (has_client)
                snprintf (curve_error, sizeof curve_error, "router/curve/clients-dir %s is not a directory",
                          config->curve_clients_dir);
            else
            if (!*curve_error)
                snprintf (curve_error, sizeof curve_error, "router/curve/client-cert %s has no secret key",
                          config->curve_client_cert);
            snprintf (error, error_size, "%s: %s", cluster_path, curve_error);
            config_keys_destroy (&keys);
            cluster_config_destroy (&cluster);
            return ROUTER_CONFIG_ERROR;
        }
    }
    if (listen) {
        if (endpoint_parse (listen, NULL) || strlen (listen) >= sizeof (config->listen)) {
            snprintf (error, error_size, "--listen '%s' is not tcp://HOST:PORT or ipc://PATH", listen);
            config_keys_destroy (&keys);
            cluster_config_destroy (&cluster);
            return ROUTER_CONFIG_ERROR;
        }
        snprintf (config->listen, sizeof (config->listen), "%s", listen);
        config_keys_set_origin (keys, "router/listen", "flag", NULL);
    }
    if (metrics) {
        char why [400];
        if (!*metrics || strlen (metrics) >= sizeof (config->metrics_listen)
        ||  http_server_check_listen (metrics, why, sizeof why)) {
            snprintf (error, error_size, "--metrics: %s", *metrics && strlen (metrics) < sizeof (config->metrics_listen)
                      ? why: "value is empty or too long");
            config_keys_destroy (&keys);
            cluster_config_destroy (&cluster);
            return ROUTER_CONFIG_ERROR;
        }
        snprintf (config->metrics_listen, sizeof (config->metrics_listen), "%s", metrics);
        config_keys_set_origin (keys, "router/metrics/listen", "flag", NULL);
    }
    if (check_config) {
        s_print_effective (config, keys, cluster);
        config_keys_destroy (&keys);
        cluster_config_destroy (&cluster);
        return ROUTER_CONFIG_EXIT_OK;
    }
    config_keys_destroy (&keys);
    *cluster_p = cluster;
    return ROUTER_CONFIG_RUN;
}
