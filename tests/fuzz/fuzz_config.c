/*  =========================================================================
    fuzz_config - libFuzzer target over the configuration loaders

    The input is the text of a ZPL file, written to a scratch file once per
    input. It is loaded as every program loads configuration:

    - cluster_config_load (the cluster file, as node and router read it);
    - node_config_load with {"strata-node", "--config", FILE};
    - node_config_load with {"strata-node", "--cluster", FILE, "--name",
      <first node of the file>} when the file is a valid cluster file;
    - router_config_load with {"strata-router", "--cluster", FILE}.

    Besides "no crash, no leak, no undefined behaviour" (ASan + UBSan), each
    input checks that what a loader accepts obeys its documented rules
    (cluster_config.h: 1 <= k <= n <= 255, n nodes, unique names of 1..128
    bytes, valid endpoints; node_config: endpoints valid and different, a
    safe node name, 1..16 volumes, at most 32 allow-list hosts), and that a
    failure leaves a one-line, non-empty error.

    Build: CC=clang cmake -DSTRATA_FUZZ=ON; run: tests/fuzz/run.sh.
    =========================================================================
*/

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "cluster_config.h"
#include "endpoint.h"
#include "node_config.h"
#include "protocol_limits.h"
#include "router_config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_dir [256];                //  scratch directory
static char s_path [300];               //  the configuration file
static FILE *s_log = NULL;              //  /dev/null, for czmq's log lines

//  Fail the run with a message
static void
s_fail (const char *what, const char *detail)
{
    fprintf (stderr, "fuzz_config: %s%s%s\n", what, detail? ": ": "", detail? detail: "");
    abort ();
}

static void
s_cleanup (void)
{
    if (s_path [0])
        unlink (s_path);
    if (s_dir [0])
        rmdir (s_dir);
    if (s_log) {
        zsys_set_logstream (stderr);
        fclose (s_log);
    }
}

static void
s_setup (void)
{
    //  $TMPDIR (run.sh points it at its scratch directory), else /dev/shm
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = access ("/dev/shm", W_OK) == 0? "/dev/shm": "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/strata-fuzz-config-XXXXXX", base);
    if (!mkdtemp (s_dir))
        s_fail ("mkdtemp failed", NULL);
    snprintf (s_path, sizeof s_path, "%s/strata.cfg", s_dir);
    //  zconfig prints every syntax error on stdout (czmq's zclock_log),
    //  and zsys logs; keep the fuzzer's output (stderr) readable unless
    //  STRATA_FUZZ_VERBOSE=1
    const char *verbose = getenv ("STRATA_FUZZ_VERBOSE");
    if (!verbose || strcmp (verbose, "1")) {
        s_log = fopen ("/dev/null", "w");
        if (!s_log || dup2 (fileno (s_log), STDOUT_FILENO) < 0)
            s_fail ("cannot open /dev/null", NULL);
        zsys_set_logstream (s_log);
    }
    atexit (s_cleanup);
}

//  A failure must leave one non-empty line
static void
s_check_error (const char *error, size_t error_size, const char *who)
{
    if (!memchr (error, '\0', error_size))
        s_fail ("unterminated error", who);
    if (!error [0])
        s_fail ("empty error", who);
    if (strchr (error, '\n'))
        s_fail ("error of more than one line", who);
}

//  A string field must end inside its array
static void
s_check_string (const char *field, size_t size, const char *what)
{
    if (!memchr (field, '\0', size))
        s_fail ("unterminated setting", what);
}

//  What cluster_config_load accepts must obey cluster_config.h
static void
s_check_cluster (cluster_config_t *cluster)
{
    int k = cluster_config_data_shards (cluster);
    int n = cluster_config_total_shards (cluster);
    if (k < 1 || k > n || n > 255)
        s_fail ("accepted k and n outside 1 <= k <= n <= 255", NULL);
    if (cluster_config_node_count (cluster) != (size_t) n)
        s_fail ("accepted a node count that is not total-shards", NULL);
    const char *name = cluster_config_name (cluster);
    if (!name || !*name)
        s_fail ("accepted an empty cluster name", NULL);
    for (size_t index = 0; index < (size_t) n; index++) {
        const char *node = cluster_config_node_name (cluster, index);
        size_t length = strlen (node);
        if (length < 1 || length > LIMIT_NODE_NAME_MAX)
            s_fail ("accepted a node name of bad length", node);
        if (cluster_config_node_index (cluster, node) != (int) index)
            s_fail ("node names are not unique", node);
        if (endpoint_parse (cluster_config_node_writer (cluster, index), NULL)
        ||  endpoint_parse (cluster_config_node_reader (cluster, index), NULL))
            s_fail ("accepted an invalid node endpoint", node);
    }
    const char *listen = cluster_config_router_listen (cluster);
    if (listen && endpoint_parse (listen, NULL))
        s_fail ("accepted an invalid router/listen", listen);
}

//  What node_config_load accepts must be usable
static void
s_check_node (const node_config_t *config, cluster_config_t *cluster)
{
    s_check_string (config->name, sizeof config->name, "name");
    s_check_string (config->data_dir, sizeof config->data_dir, "data-dir");
    s_check_string (config->writer, sizeof config->writer, "writer");
    s_check_string (config->reader, sizeof config->reader, "reader");
    s_check_string (config->cluster_path, sizeof config->cluster_path, "cluster");
    if (!config->name [0])
        s_fail ("accepted an empty node name", NULL);
    for (const char *c = config->name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_' && *c != '.')
            s_fail ("accepted an unsafe node name", config->name);
    if (!strcmp (config->name, ".") || !strcmp (config->name, ".."))
        s_fail ("accepted . or .. as node name", NULL);
    if (endpoint_parse (config->writer, NULL) || endpoint_parse (config->reader, NULL))
        s_fail ("accepted an invalid endpoint", NULL);
    if (!strcmp (config->writer, config->reader))
        s_fail ("accepted equal writer and reader", config->writer);
    if (!config->data_dir [0])
        s_fail ("no data directory", NULL);
    if (config->volume_count < 1 || config->volume_count > NODE_CONFIG_MAX_VOLUMES)
        s_fail ("volume count out of range", NULL);
    for (size_t index = 0; index < config->volume_count; index++) {
        s_check_string (config->volumes [index], sizeof config->volumes [index], "volume");
        if (!config->volumes [index][0])
            s_fail ("accepted an empty volume", NULL);
    }
    if (config->reply_allow_count > 32)
        s_fail ("too many allow-list hosts", NULL);
    for (size_t index = 0; index < config->reply_allow_count; index++)
        s_check_string (config->reply_allow [index], sizeof config->reply_allow [index], "allow");
    if (config->queue_depth < 1 || config->max_frames < 2 || config->receive_hwm < 1
    ||  config->reply_cache_size < 1 || config->reply_idle_seconds < 1 || config->reply_hwm < 1
    ||  config->value_file_max_bytes < 4096 || config->queue_bytes < 1024 * 1024
    ||  config->max_message_bytes < 1024)
        s_fail ("accepted a number below its minimum", NULL);
    if ((cluster != NULL) != (config->cluster_path [0] != 0))
        s_fail ("a cluster file named but not loaded, or loaded but not named", NULL);
    if (cluster && cluster_config_node_index (cluster, config->name) < 0)
        s_fail ("accepted a node that is not in its cluster", config->name);
    endpoint_allow_t *allow = node_config_reply_allow (config, cluster);
    if (!allow)
        s_fail ("no allow-list", NULL);
    endpoint_allow_check (allow, "tcp://127.0.0.1:9000");
    endpoint_allow_destroy (&allow);
}

//  node_config_load with these arguments
static void
s_load_node (int argc, char **argv)
{
    node_config_t config;
    cluster_config_t *cluster = NULL;
    char error [512];
    memset (error, 'x', sizeof error);
    node_config_status_t status = node_config_load (&config, argc, argv, &cluster, error,
                                                    sizeof error);
    if (status == NODE_CONFIG_RUN)
        s_check_node (&config, cluster);
    else
    if (status == NODE_CONFIG_ERROR) {
        s_check_error (error, sizeof error, "node_config_load");
        if (cluster)
            s_fail ("a cluster returned with an error", NULL);
    }
    else
        s_fail ("--help or --version without the flag", NULL);
    cluster_config_destroy (&cluster);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_dir [0])
        s_setup ();
    FILE *file = fopen (s_path, "wb");
    if (!file || (size && fwrite (data, 1, size, file) != size) || fclose (file))
        s_fail ("cannot write the configuration file", s_path);

    char error [512];
    memset (error, 'x', sizeof error);
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof error);
    char first_node [LIMIT_NODE_NAME_MAX + 1] = "";
    if (cluster) {
        s_check_cluster (cluster);
        snprintf (first_node, sizeof first_node, "%s", cluster_config_node_name (cluster, 0));
    }
    else
        s_check_error (error, sizeof error, "cluster_config_load");
    cluster_config_destroy (&cluster);

    char *node_argv [] = { "strata-node", "--config", s_path, NULL };
    s_load_node (3, node_argv);
    if (first_node [0]) {
        char *cluster_argv [] = { "strata-node", "--cluster", s_path, "--name", first_node, NULL };
        s_load_node (5, cluster_argv);
    }

    router_config_t router;
    char *router_argv [] = { "strata-router", "--cluster", s_path, NULL };
    memset (error, 'x', sizeof error);
    router_config_status_t status = router_config_load (&router, 3, router_argv, &cluster,
                                                        error, sizeof error);
    if (status == ROUTER_CONFIG_RUN) {
        if (!cluster)
            s_fail ("router_config_load ran without a cluster", NULL);
        s_check_cluster (cluster);
    }
    else
    if (status == ROUTER_CONFIG_ERROR)
        s_check_error (error, sizeof error, "router_config_load");
    else
        s_fail ("router: --help or --version without the flag", NULL);
    cluster_config_destroy (&cluster);
    return 0;
}
