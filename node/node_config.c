/*  =========================================================================
    node_config - strata-node's settings

    Order of precedence: embedded defaults < configuration file < flags.
    Numbers are checked for range; a bad value is one clear error line.
    =========================================================================
*/
#include <czmq.h>
#include "config_keys.h"
#include <getopt.h>
#include "node_config.h"
#include "http_server.h"

static const char *s_usage =
    "usage: strata-node [--config FILE] [--name NAME] [--data-dir DIR]\n"
    "                   [--writer ENDPOINT] [--reader ENDPOINT] [--cluster FILE]\n"
    "                   [--metrics HOST:PORT] [--check | --rebuild-index]\n"
    "                   [--help] [--version]\n"
    "\n"
    "Runs a Strata storage node. With no options it runs on embedded defaults:\n"
    "name 'local', data under ./var/<name>, writer tcp://127.0.0.1:8100,\n"
    "reader tcp://127.0.0.1:8101. Flags override the configuration file;\n"
    "config/strata-node.cfg lists every setting with its default.\n"
    "\n"
    "  --metrics HOST:PORT  serve GET /metrics (Prometheus), /healthz, /readyz\n"
    "                    and a status page / over HTTP (metrics/listen)\n"
    "  --check           verify the index against the value files (every\n"
    "                    record's CRC32C and MD5, sizes, references), print a\n"
    "                    summary and each problem; exit 0 if clean, 1 if not\n"
    "  --rebuild-index   rebuild the index from the value files alone into a\n"
    "                    new file, then swap it in (the old one is kept as\n"
    "                    index.db.old)\n"
    "Both run instead of the node, on a node that is stopped.\n"
    "  --check-config    check the configuration (unknown or repeated keys and\n"
    "                    bad values are errors naming FILE:LINE), print every\n"
    "                    setting's effective value and where it came from\n"
    "                    (default, file, flag, cluster file), and exit: 0 if\n"
    "                    valid, 2 if not\n";

static void
s_set_defaults (node_config_t *config)
{
    memset (config, 0, sizeof (*config));
    snprintf (config->name, sizeof (config->name), "local");
    snprintf (config->writer, sizeof (config->writer), "tcp://127.0.0.1:8100");
    snprintf (config->reader, sizeof (config->reader), "tcp://127.0.0.1:8101");
    config->value_file_max_bytes = 1024ULL * 1024 * 1024;
    config->reserve_bytes = 64ULL * 1024 * 1024;
    config->group_commit_delay_us = 2000;
    config->group_commit_bytes = 32ULL * 1024 * 1024;
    config->writeback_bytes = 0;
    config->queue_depth = 256;
    config->queue_bytes = 16ULL * 1024 * 1024;
    config->overload_wait_ms = 1000;
    config->max_message_bytes = 64ULL * 1024 * 1024;
    config->max_frames = 20000;
    config->receive_hwm = 2;
    config->reply_cache_size = 128;
    config->reply_idle_seconds = 30;
    config->reply_send_timeout_ms = 0;
    config->reply_hwm = 1000;
    config->reply_ipc = false;
    config->reply_max_bytes = 64ULL * 1024 * 1024;
    config->handoff_enabled = true;
    config->handoff_interval_ms = 1000;
    config->handoff_rate_bytes = 32ULL * 1024 * 1024;
    config->handoff_timeout_ms = 10000;
    config->scrub_enabled = true;
    config->scrub_bytes_per_second = 16ULL * 1024 * 1024;
    config->scrub_interval_seconds = 86400;
    config->active_timeout_seconds = 3600;
    config->compact_garbage_ratio = 0.3;
    config->compact_bytes_per_second = 64ULL * 1024 * 1024;
    config->compact_interval_ms = 10000;
    config->compact_tombstone_grace_seconds = 2592000;
    config->compact_enabled = true;
    const char *loopback [] = { "127.0.0.1", "::1", "localhost" };
    for (size_t index = 0; index < 3; index++)
        snprintf (config->reply_allow [config->reply_allow_count++], 256, "%s", loopback [index]);
}

//  Copy text into a fixed buffer; -1 if it does not fit or is empty.
static int
s_copy (char *buffer, size_t size, const char *text)
{
    if (!text || !*text || strlen (text) >= size)
        return -1;
    memcpy (buffer, text, strlen (text) + 1);
    return 0;
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

//  Every setting is read through config_keys, which makes it a known key
//  (config_keys_check refuses anything else) and remembers it for
//  --check-config. `root` is the parsed tree for lists and sections.
#define S_NUMBER(path, field, min, max) do { \
        const char *text = config_keys_bind (keys, path, CONFIG_KEY_NUMBER, \
                                             &config->field, sizeof (config->field)); \
        uint64_t value; \
        if (text) { \
            if (s_uint64 (text, (min), (max), &value)) { \
                char where [1100]; \
                snprintf (error, error_size, "%s: %s: expected a number in %llu..%llu, not '%s'", \
                          config_keys_where (keys, path, where, sizeof where), path, \
                          (unsigned long long) (min), (unsigned long long) (max), text); \
                goto done; \
            } \
            config->field = (__typeof__ (config->field)) value; \
        } \
    } while (0)

#define S_BOOL(path, field) do { \
        const char *text = config_keys_bind (keys, path, CONFIG_KEY_BOOL, \
                                             &config->field, sizeof (config->field)); \
        if (text && config_keys_parse_bool (text, &config->field)) { \
            char where [1100]; \
            snprintf (error, error_size, "%s: %s: expected 1/0 (or true/false, yes/no), not '%s'", \
                      config_keys_where (keys, path, where, sizeof where), path, text); \
            goto done; \
        } \
    } while (0)

//  Text of the entries of a list section, "a, b, c", for --check-config
static void
s_list_text (const char *items, size_t item_size, size_t count, char *text, size_t size)
{
    size_t used = 0;
    text [0] = 0;
    for (size_t index = 0; index < count; index++) {
        const char *item = items + index * item_size;
        int written = snprintf (text + used, size - used, "%s%s", index? ", ": "", item);
        if (written < 0 || used + (size_t) written >= size)
            break;
        used += (size_t) written;
    }
}

//  Apply the configuration file's values (keys holds an empty tree when
//  there is no file, so every setting is registered at its default)
static int
s_load_file (node_config_t *config, config_keys_t *keys, char *error, size_t error_size)
{
    const char *file = config_keys_file (keys);
    zconfig_t *root = config_keys_root (keys);
    int rc = -1;
    struct { const char *path; char *field; size_t size; } strings [] = {
        { "node/name", config->name, sizeof (config->name) },
        { "node/data-dir", config->data_dir, sizeof (config->data_dir) },
        { "node/writer", config->writer, sizeof (config->writer) },
        { "node/reader", config->reader, sizeof (config->reader) },
        { "node/cluster", config->cluster_path, sizeof (config->cluster_path) },
        { "curve/cert", config->curve_cert, sizeof (config->curve_cert) },
        { "curve/clients-dir", config->curve_clients_dir, sizeof (config->curve_clients_dir) },
        { "curve/client-cert", config->curve_client_cert, sizeof (config->curve_client_cert) },
        { "reply/ipc-dir", config->reply_ipc_dir, sizeof (config->reply_ipc_dir) },
        { "auth/policy", config->auth_policy, sizeof (config->auth_policy) },
        { "metrics/listen", config->metrics_listen, sizeof (config->metrics_listen) },
    };
    for (size_t index = 0; index < sizeof (strings) / sizeof (strings [0]); index++) {
        const char *text = config_keys_bind (keys, strings [index].path, CONFIG_KEY_TEXT,
                                             strings [index].field, strings [index].size);
        if (text && s_copy (strings [index].field, strings [index].size, text)) {
            char where [1100];
            snprintf (error, error_size, "%s: %s: expected a non-empty value of at most %zu bytes",
                      config_keys_where (keys, strings [index].path, where, sizeof where),
                      strings [index].path, strings [index].size - 1);
            goto done;
        }
    }
    //  ipc replies only under reply/ipc-dir: setting the directory allows
    //  them (unless reply/ipc = 0); reply/ipc = 1 alone would allow any
    //  unix socket on the host
    config->reply_ipc = *config->reply_ipc_dir != 0;
    {
        S_NUMBER ("node/value-file-max-bytes", value_file_max_bytes, 4096, 1ULL << 40);
        S_NUMBER ("node/reserve-bytes", reserve_bytes, 0, 1ULL << 50);
        S_NUMBER ("node/group-commit-delay-us", group_commit_delay_us, 0, 10000000);
        S_NUMBER ("node/group-commit-bytes", group_commit_bytes, 0, 1ULL << 40);
        S_NUMBER ("node/writeback-bytes", writeback_bytes, 0, 1ULL << 40);
        S_NUMBER ("node/queue-depth", queue_depth, 1, 100000);
        S_NUMBER ("node/queue-bytes", queue_bytes, 1024 * 1024, 1ULL << 40);
        S_NUMBER ("node/max-message-bytes", max_message_bytes, 1024, 1ULL << 32);
        S_NUMBER ("node/max-frames", max_frames, 2, 1000000);
        S_NUMBER ("node/receive-hwm", receive_hwm, 1, 1000000);
        S_NUMBER ("node/overload-wait-ms", overload_wait_ms, 0, 600000);
        S_NUMBER ("node/active-timeout-seconds", active_timeout_seconds, 1, 100000000);
        S_NUMBER ("reply/cache-size", reply_cache_size, 1, 100000);
        S_NUMBER ("reply/idle-seconds", reply_idle_seconds, 1, 86400);
        S_NUMBER ("reply/send-timeout-ms", reply_send_timeout_ms, 0, 60000);
        S_NUMBER ("reply/hwm", reply_hwm, 1, 1000000);
        S_NUMBER ("reply/max-bytes", reply_max_bytes, 1024 * 1024, 1ULL << 40);
        S_NUMBER ("handoff/interval-ms", handoff_interval_ms, 10, 3600000);
        S_NUMBER ("handoff/rate-bytes", handoff_rate_bytes, 1024, 1ULL << 40);
        S_NUMBER ("handoff/timeout-ms", handoff_timeout_ms, 100, 600000);
        S_NUMBER ("scrub/bytes-per-second", scrub_bytes_per_second, 1024, 1ULL << 40);
        S_NUMBER ("scrub/interval-seconds", scrub_interval_seconds, 0, 365ULL * 86400);
        S_NUMBER ("compact/bytes-per-second", compact_bytes_per_second, 4096, 1ULL << 40);
        S_NUMBER ("compact/interval-ms", compact_interval_ms, 10, 86400000);
        S_NUMBER ("compact/tombstone-grace-seconds", compact_tombstone_grace_seconds, 0, 1ULL << 40);
        S_BOOL ("compact/enabled", compact_enabled);
        S_BOOL ("reply/ipc", reply_ipc);
        S_BOOL ("handoff/enabled", handoff_enabled);
        S_BOOL ("scrub/enabled", scrub_enabled);
        S_BOOL ("log/syslog", log_syslog);
        S_BOOL ("log/verbose", log_verbose);
    }
    {
        const char *text = config_keys_get (keys, "compact/garbage-ratio");
        if (text && node_config_parse_ratio (text, &config->compact_garbage_ratio)) {
            char where [1100];
            snprintf (error, error_size, "%s: compact/garbage-ratio: expected a number in 0..1, not '%s'",
                      config_keys_where (keys, "compact/garbage-ratio", where, sizeof where), text);
            goto done;
        }
        if (!text)
            config_keys_set_origin (keys, "compact/garbage-ratio", "default", "0.3");
    }
    if (config->reply_ipc && !*config->reply_ipc_dir) {
        char where [1100];
        snprintf (error, error_size, "%s: reply/ipc = 1 needs reply/ipc-dir (the only directory "
                  "whose unix sockets replies may go to)",
                  config_keys_where (keys, "reply/ipc", where, sizeof where));
        goto done;
    }
    if (*config->reply_ipc_dir && *config->reply_ipc_dir != '/') {
        char where [1100];
        snprintf (error, error_size, "%s: reply/ipc-dir must be an absolute path, not '%s'",
                  config_keys_where (keys, "reply/ipc-dir", where, sizeof where), config->reply_ipc_dir);
        goto done;
    }
    if (*config->auth_policy && !*config->curve_cert) {
        char where [1100];
        snprintf (error, error_size, "%s: auth/policy needs curve (keys are known only from "
                  "CURVE handshakes)", config_keys_where (keys, "auth/policy", where, sizeof where));
        goto done;
    }
    if (zconfig_locate (root, "curve") && (!*config->curve_cert || !*config->curve_clients_dir)) {
        char where [1100];
        snprintf (error, error_size, "%s: curve needs both cert and clients-dir "
                  "(CURVE without a client policy would only encrypt)",
                  config_keys_where (keys, "curve", where, sizeof where));
        goto done;
    }
    zconfig_t *volumes = config_keys_list (keys, "node/volumes");
    if (volumes) {
        config->volume_count = 0;
        for (zconfig_t *volume = zconfig_child (volumes); volume; volume = zconfig_next (volume)) {
            if (config->volume_count == NODE_CONFIG_MAX_VOLUMES
            ||  s_copy (config->volumes [config->volume_count], 1024, zconfig_value (volume))) {
                char where [1100];
                snprintf (error, error_size, "%s: node/volumes: expected at most %d non-empty paths",
                          config_keys_where (keys, "node/volumes", where, sizeof where),
                          NODE_CONFIG_MAX_VOLUMES);
                goto done;
            }
            config->volume_count++;
        }
    }
    zconfig_t *allow = config_keys_list (keys, "reply/allow");
    if (allow) {
        config->reply_allow_count = 0;
        for (zconfig_t *host = zconfig_child (allow); host; host = zconfig_next (host)) {
            if (config->reply_allow_count == 32
            ||  s_copy (config->reply_allow [config->reply_allow_count], 256, zconfig_value (host))) {
                char where [1100];
                snprintf (error, error_size, "%s: reply/allow: expected at most 32 non-empty hosts",
                          config_keys_where (keys, "reply/allow", where, sizeof where));
                goto done;
            }
            config->reply_allow_count++;
        }
    }
    if (config_keys_check (keys, error, error_size))
        goto done;
    (void) file;
    rc = 0;
done:
    return rc;
}

//  The effective configuration for --check-config: every setting with the
//  place its value came from
static void
s_print_effective (node_config_t *config, config_keys_t *keys, cluster_config_t *cluster)
{
    char list [4096];
    s_list_text ((const char *) config->volumes, sizeof (config->volumes [0]), config->volume_count, list, sizeof list);
    config_keys_set_origin (keys, "node/volumes",
                            zconfig_locate (config_keys_root (keys), "node/volumes")? "file": "default", list);
    s_list_text ((const char *) config->reply_allow, sizeof (config->reply_allow [0]),
                 config->reply_allow_count, list, sizeof list);
    config_keys_set_origin (keys, "reply/allow",
                            zconfig_locate (config_keys_root (keys), "reply/allow")? "file": "default", list);
    printf ("# strata-node: effective configuration (%s)\n",
            *config_keys_file (keys)? config_keys_file (keys): "no configuration file");
    config_keys_print (keys, stdout);
    if (cluster)
        printf ("# cluster '%s' from %s: k=%d, n=%d, this node is %s (segment-num %d), "
                "fingerprint %s\n",
                cluster_config_name (cluster), config->cluster_path,
                cluster_config_data_shards (cluster), cluster_config_total_shards (cluster),
                config->name, cluster_config_node_index (cluster, config->name) + 1,
                config->cluster_fingerprint);
}

node_config_status_t
node_config_load (node_config_t *config, int argc, char **argv,
                  cluster_config_t **cluster_p, char *error, size_t error_size)
{
    assert (config);
    assert (cluster_p);
    s_set_defaults (config);
    *cluster_p = NULL;
    static struct option options [] = {
        { "config",   required_argument, 0, 'c' },
        { "name",     required_argument, 0, 'n' },
        { "data-dir", required_argument, 0, 'd' },
        { "writer",   required_argument, 0, 'w' },
        { "reader",   required_argument, 0, 'r' },
        { "cluster",  required_argument, 0, 'C' },
        { "help",     no_argument,       0, 'h' },
        { "version",  no_argument,       0, 'V' },
        { "check",    no_argument,       0, 'K' },
        { "rebuild-index", no_argument,  0, 'R' },
        { "check-config", no_argument,   0, 'P' },
        { "metrics",  required_argument, 0, 'M' },
        { 0, 0, 0, 0 }
    };
    //  Two passes: first find --config, --help, --version; then flags.
    //  optind = 0 makes glibc's getopt start afresh (optind = 1 would keep
    //  a half-parsed "-xy" from an earlier call).
    const char *config_file = NULL;
    bool check_config = false;
    opterr = 0;
    optind = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        if (option == 'c')
            config_file = optarg;
        else
        if (option == 'P')
            check_config = true;
        else
        if (option == 'h') {
            fputs (s_usage, stdout);
            return NODE_CONFIG_EXIT_OK;
        }
        else
        if (option == 'V') {
            printf ("strata-node %s\n", STRATA_VERSION);
            return NODE_CONFIG_EXIT_OK;
        }
        else
        if (option == '?') {
            snprintf (error, error_size, "unknown option '%s' (see --help)", argv [optind - 1]);
            return NODE_CONFIG_ERROR;
        }
        else
        if (option == ':') {
            snprintf (error, error_size, "option '%s' needs a value (see --help)", argv [optind - 1]);
            return NODE_CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        snprintf (error, error_size, "unexpected argument '%s' (see --help)", argv [optind]);
        return NODE_CONFIG_ERROR;
    }
    config_keys_t *keys = config_keys_load (config_file, "configuration file", error, error_size);
    if (!keys)
        return NODE_CONFIG_ERROR;
    if (s_load_file (config, keys, error, error_size))
        goto failed;

    bool writer_given = false, reader_given = false;
    optind = 0;
    int long_index = 0;
    while ((option = getopt_long (argc, argv, ":h", options, &long_index)) != -1) {
        char *field = NULL;
        size_t size = 0;
        const char *path = NULL;
        //  Name the option itself: with "--name VALUE", argv [optind - 1]
        //  is the value
        const char *what = options [long_index].name;
        switch (option) {
            case 'n': field = config->name; size = sizeof (config->name); path = "node/name"; break;
            case 'd': field = config->data_dir; size = sizeof (config->data_dir); path = "node/data-dir"; break;
            case 'w': field = config->writer; size = sizeof (config->writer); writer_given = true;
                      path = "node/writer"; break;
            case 'r': field = config->reader; size = sizeof (config->reader); reader_given = true;
                      path = "node/reader"; break;
            case 'C': field = config->cluster_path; size = sizeof (config->cluster_path);
                      path = "node/cluster"; break;
            case 'M': field = config->metrics_listen; size = sizeof (config->metrics_listen);
                      path = "metrics/listen"; break;
            case 'K': config->check = true; break;
            case 'R': config->rebuild_index = true; break;
            default: break;
        }
        if (field && s_copy (field, size, optarg)) {
            snprintf (error, error_size, "--%s: value is empty or too long", what);
            goto failed;
        }
        if (path)
            config_keys_set_origin (keys, path, "flag", NULL);
    }
    if (*config->metrics_listen) {
        char why [400];
        if (http_server_check_listen (config->metrics_listen, why, sizeof why)) {
            snprintf (error, error_size, "%s", why);
            goto failed;
        }
    }
    if (config->check && config->rebuild_index) {
        snprintf (error, error_size, "--check and --rebuild-index cannot be combined");
        goto failed;
    }
    //  Node name: safe as a directory name
    for (const char *c = config->name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_' && *c != '.') {
            snprintf (error, error_size, "--name '%s': use letters, digits, '-', '_' and '.' only",
                      config->name);
            goto failed;
        }
    if (streq (config->name, ".") || streq (config->name, "..")) {
        snprintf (error, error_size, "--name '%s' is not a usable name", config->name);
        goto failed;
    }
    if (*config->cluster_path) {
        cluster_config_t *cluster = cluster_config_load (config->cluster_path, error, error_size);
        if (!cluster)
            goto failed;
        int index = cluster_config_node_index (cluster, config->name);
        if (index < 0) {
            snprintf (error, error_size, "%s: node '%s' is not in the cluster (use --name)",
                      config->cluster_path, config->name);
            cluster_config_destroy (&cluster);
            goto failed;
        }
        if (!writer_given) {
            snprintf (config->writer, sizeof (config->writer), "%s",
                      cluster_config_node_writer (cluster, (size_t) index));
            config_keys_set_origin (keys, "node/writer", "cluster file", NULL);
        }
        if (!reader_given) {
            snprintf (config->reader, sizeof (config->reader), "%s",
                      cluster_config_node_reader (cluster, (size_t) index));
            config_keys_set_origin (keys, "node/reader", "cluster file", NULL);
        }
        snprintf (config->cluster_fingerprint, sizeof (config->cluster_fingerprint), "%s",
                  cluster_config_fingerprint (cluster));
        *cluster_p = cluster;
    }
    if (*config->curve_cert && *config->cluster_path && config->handoff_enabled
    &&  !*config->curve_client_cert) {
        snprintf (error, error_size, "curve/client-cert is needed for the handoff forwarder "
                  "(or set handoff/enabled = 0)");
        goto failed;
    }
    if (endpoint_parse (config->writer, NULL)) {
        snprintf (error, error_size, "writer endpoint '%s' is not tcp://HOST:PORT or ipc://PATH", config->writer);
        goto failed;
    }
    if (endpoint_parse (config->reader, NULL)) {
        snprintf (error, error_size, "reader endpoint '%s' is not tcp://HOST:PORT or ipc://PATH", config->reader);
        goto failed;
    }
    if (streq (config->writer, config->reader)) {
        snprintf (error, error_size, "writer and reader endpoints must differ (both '%s')", config->writer);
        goto failed;
    }
    if (!*config->data_dir) {
        snprintf (config->data_dir, sizeof (config->data_dir), "var/%s", config->name);
        config_keys_set_origin (keys, "node/data-dir", "default (var/<name>)", NULL);
    }
    if (config->volume_count == 0) {
        if (snprintf (config->volumes [0], 1024, "%s/volume0", config->data_dir) >= 1024) {
            snprintf (error, error_size, "--data-dir is too long");
            goto failed;
        }
        config->volume_count = 1;
    }
    const char *delay = getenv ("STRATA_TEST_SYNC_DELAY_MS");
    if (delay)
        config->test_sync_delay_ms = atoi (delay);
    if (check_config) {
        s_print_effective (config, keys, *cluster_p);
        config_keys_destroy (&keys);
        cluster_config_destroy (cluster_p);
        return NODE_CONFIG_EXIT_OK;
    }
    config_keys_destroy (&keys);
    return NODE_CONFIG_RUN;

failed:
    config_keys_destroy (&keys);
    cluster_config_destroy (cluster_p);
    return NODE_CONFIG_ERROR;
}

endpoint_allow_t *
node_config_reply_allow (const node_config_t *config, cluster_config_t *cluster)
{
    assert (config);
    endpoint_allow_t *allow = endpoint_allow_new ();
    for (size_t index = 0; index < config->reply_allow_count; index++)
        endpoint_allow_add_host (allow, config->reply_allow [index]);
    if (config->reply_ipc)
        endpoint_allow_set_ipc_dir (allow, config->reply_ipc_dir);
    if (cluster)
        for (size_t index = 0; index < cluster_config_node_count (cluster); index++) {
            endpoint_allow_add_endpoint_host (allow, cluster_config_node_writer (cluster, index));
            endpoint_allow_add_endpoint_host (allow, cluster_config_node_reader (cluster, index));
        }
    return allow;
}

int
node_config_parse_ratio (const char *text, double *ratio_p)
{
    assert (text);
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !(value >= 0.0 && value <= 1.0))
        return -1;
    *ratio_p = value;
    return 0;
}

size_t
node_config_volume_list (const node_config_t *config, const char *volumes [NODE_CONFIG_MAX_VOLUMES])
{
    assert (config && volumes);
    for (size_t index = 0; index < config->volume_count; index++)
        volumes [index] = config->volumes [index];
    return config->volume_count;
}
