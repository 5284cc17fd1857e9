/*  =========================================================================
    test_router_config - strata-router's settings and command line

    Defaults, the cluster file's router section overriding them, flags
    overriding both; every bad value is refused with one line naming the
    file and the key (or the flag).
    =========================================================================
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include "router_config.h"

static char s_dir [64];
static char s_path [128];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/strata-test-router-config-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof s_path, "%s/cluster.cfg", s_dir);
}

static void
s_teardown (void)
{
    unlink (s_path);
    rmdir (s_dir);
}

TestSuite (router_config, .init = s_setup, .fini = s_teardown);

//  A 3-node cluster (k = 2) with router_section appended
static void
s_write (const char *router_section)
{
    FILE *file = fopen (s_path, "w");
    cr_assert_not_null (file);
    fprintf (file, "cluster\n    name = c\n    data-shards = 2\n    total-shards = 3\n    nodes\n");
    for (int node = 0; node < 3; node++)
        fprintf (file, "        n%d\n            writer = tcp://127.0.0.1:%d\n"
                 "            reader = tcp://127.0.0.1:%d\n", node, 7000 + 2 * node, 7001 + 2 * node);
    fputs (router_section, file);
    fclose (file);
}

static router_config_status_t
s_load (router_config_t *config, int argc, char **argv, char *error)
{
    cluster_config_t *cluster = NULL;
    router_config_status_t status = router_config_load (config, argc, argv, &cluster, error, 512);
    if (status == ROUTER_CONFIG_RUN)
        cr_assert_not_null (cluster);
    else
        cr_assert_null (cluster);
    cluster_config_destroy (&cluster);
    return status;
}

Test (router_config, defaults)
{
    router_config_t config;
    router_config_defaults (&config);
    cr_assert_str_eq (config.listen, "tcp://127.0.0.1:8000");
    cr_assert_str_eq (config.reply, "tcp://127.0.0.1:*");
    cr_assert_eq (config.slice_size, 10 * 1024 * 1024);
    cr_assert_eq (config.max_put_bytes, 64 * 1024 * 1024);
    cr_assert_eq (config.node_timeout_ms, 10000);
    cr_assert_eq (config.upload_timeout_seconds, 60);
    cr_assert_eq (config.router_id, 0);
    cr_assert_eq (config.heartbeat_timeout_ms, 3000);
    cr_assert_eq (config.reconnect_max_ms, 500);
}

Test (router_config, file_and_flags)
{
    s_write ("router\n    listen = tcp://127.0.0.1:9000\n    id = 17\n    slice-size = 65536\n"
             "    node-timeout-ms = 2500\n    reply = tcp://127.0.0.1:9001\n    max-operations = 4\n"
             "    heartbeat-timeout-ms = 1500\n    reconnect-max-ms = 250\n");
    router_config_t config;
    char error [512] = "";
    char *argv [] = { "strata-router", "--cluster", s_path, NULL };
    cr_assert_eq (s_load (&config, 3, argv, error), ROUTER_CONFIG_RUN, "%s", error);
    cr_assert_str_eq (config.listen, "tcp://127.0.0.1:9000");
    cr_assert_str_eq (config.reply, "tcp://127.0.0.1:9001");
    cr_assert_eq (config.router_id, 17);
    cr_assert_eq (config.slice_size, 65536);
    cr_assert_eq (config.node_timeout_ms, 2500);
    cr_assert_eq (config.max_operations, 4);
    cr_assert_eq (config.heartbeat_timeout_ms, 1500);
    cr_assert_eq (config.reconnect_max_ms, 250);
    cr_assert_eq (config.ping_interval_ms, 1000, "untouched keys keep their default");

    char *argv2 [] = { "strata-router", "--listen", "tcp://127.0.0.1:9100", "--cluster", s_path, NULL };
    cr_assert_eq (s_load (&config, 5, argv2, error), ROUTER_CONFIG_RUN, "%s", error);
    cr_assert_str_eq (config.listen, "tcp://127.0.0.1:9100", "--listen overrides the file");
}

Test (router_config, bad_values_are_named)
{
    struct { const char *section; const char *expected; } cases [] = {
        { "router\n    id = 1024\n", "router/id" },
        { "router\n    slice-size = 12x\n", "router/slice-size" },
        { "router\n    slice-size = 100\n", "router/slice-size" },
        { "router\n    node-timeout-ms = -5\n", "router/node-timeout-ms" },
        { "router\n    listen = http://x\n", "router/listen" },
        { "router\n    reply = tcp://*:5000\n", "router/reply" },
        { "router\n    max-buffered-bytes = 1\n", "router/max-buffered-bytes" },
        { "router\n    heartbeat-timeout-ms = 50\n", "router/heartbeat-timeout-ms" },
        { "router\n    reconnect-max-ms = 0\n", "router/reconnect-max-ms" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        s_write (cases [index].section);
        router_config_t config;
        char error [512] = "";
        char *argv [] = { "strata-router", "--cluster", s_path, NULL };
        cr_assert_eq (s_load (&config, 3, argv, error), ROUTER_CONFIG_ERROR, "case %zu", index);
        cr_assert_not_null (strstr (error, cases [index].expected), "'%s' lacks %s", error, cases [index].expected);
        cr_assert_not_null (strstr (error, s_path), "'%s' lacks the file name", error);
        cr_assert_null (strchr (error, '\n'), "one line");
    }
}

Test (router_config, command_line)
{
    router_config_t config;
    char error [512] = "";
    char *no_cluster [] = { "strata-router", NULL };
    cr_assert_eq (s_load (&config, 1, no_cluster, error), ROUTER_CONFIG_ERROR);
    cr_assert_not_null (strstr (error, "--cluster"), "%s", error);

    char *unknown [] = { "strata-router", "--frobnicate", NULL };
    cr_assert_eq (s_load (&config, 2, unknown, error), ROUTER_CONFIG_ERROR);
    cr_assert_not_null (strstr (error, "--frobnicate"), "%s", error);

    char *missing_file [] = { "strata-router", "--cluster", "/nonexistent/cluster.cfg", NULL };
    cr_assert_eq (s_load (&config, 3, missing_file, error), ROUTER_CONFIG_ERROR);
    cr_assert_not_null (strstr (error, "/nonexistent/cluster.cfg"), "%s", error);

    s_write ("");
    char *bad_listen [] = { "strata-router", "--cluster", s_path, "--listen", "nowhere", NULL };
    cr_assert_eq (s_load (&config, 5, bad_listen, error), ROUTER_CONFIG_ERROR);
    cr_assert_not_null (strstr (error, "--listen"), "%s", error);

    char *extra [] = { "strata-router", "--cluster", s_path, "surplus", NULL };
    cr_assert_eq (s_load (&config, 4, extra, error), ROUTER_CONFIG_ERROR);
    cr_assert_not_null (strstr (error, "surplus"), "%s", error);

    FILE *saved = stdout;
    stdout = fopen ("/dev/null", "w");
    char *help [] = { "strata-router", "--help", NULL };
    router_config_status_t status = s_load (&config, 2, help, error);
    fclose (stdout);
    stdout = saved;
    cr_assert_eq (status, ROUTER_CONFIG_EXIT_OK);
}

//  Strict configuration of the cluster file's router section: one line
//  naming FILE:LINE, the key and what was expected; exit 2 in main

static void
s_expect_strict (const char *router_section, int line, const char *expect)
{
    s_write (router_section);
    router_config_t config;
    char error [512] = "";
    char *argv [] = { "strata-router", "--cluster", s_path, NULL };
    cr_assert_eq (s_load (&config, 3, argv, error), ROUTER_CONFIG_ERROR, "expected '%s'", expect);
    cr_assert_null (strchr (error, '\n'), "one line: '%s'", error);
    char where [256];
    //  The 3-node cluster part is 14 lines
    snprintf (where, sizeof where, "%s:%d: ", s_path, 14 + line);
    cr_assert_not_null (strstr (error, where), "'%s' lacks '%s'", error, where);
    cr_assert_not_null (strstr (error, expect), "'%s' lacks '%s'", error, expect);
}

Test (router_config, strict_unknown_key)
{
    s_expect_strict ("router\n    node-timeout = 5\n", 2,
                     "unknown key 'router/node-timeout' (did you mean 'router/node-timeout-ms'?)");
    s_expect_strict ("router\n    lisen = tcp://127.0.0.1:7\n", 2,
                     "unknown key 'router/lisen' (did you mean 'router/listen'?)");
}

Test (router_config, strict_unknown_section)
{
    s_expect_strict ("rooter\n    listen = tcp://127.0.0.1:7\n", 1,
                     "unknown section 'rooter' (did you mean 'router'?)");
}

Test (router_config, strict_duplicate_key)
{
    s_expect_strict ("router\n    id = 1\n    id = 2\n", 3, "'router/id' is given twice (first at line 16)");
}

Test (router_config, strict_bad_value)
{
    s_expect_strict ("router\n    slice-size = 10MB\n", 2,
                     "router/slice-size: expected a number in 1024..67108864, not '10MB'");
}

Test (router_config, strict_directory_as_file)
{
    router_config_t config;
    char error [512] = "";
    char *argv [] = { "strata-router", "--cluster", s_dir, NULL };
    cr_assert_eq (s_load (&config, 3, argv, error), ROUTER_CONFIG_ERROR);
    cr_assert_not_null (strstr (error, "is a directory, expected a cluster file"), "%s", error);
}

Test (router_config, check_config_prints_origins, .init = cr_redirect_stdout)
{
    s_write ("router\n    node-timeout-ms = 750\n");
    router_config_t config;
    char error [512] = "";
    char *argv [] = { "strata-router", "--cluster", s_path, "--listen", "tcp://127.0.0.1:7999",
                      "--check-config", NULL };
    cr_assert_eq (s_load (&config, 6, argv, error), ROUTER_CONFIG_EXIT_OK, "%s", error);
    fflush (stdout);
    char output [16384] = "";
    size_t size = fread (output, 1, sizeof output - 1, cr_get_redirected_stdout ());
    output [size] = 0;
    char *line = strstr (output, "router/node-timeout-ms");
    cr_assert (line && strstr (line, "750") && strstr (line, "# file") < strchr (line, '\n'), "%s", output);
    line = strstr (output, "router/listen");
    cr_assert (line && strstr (line, "7999") && strstr (line, "# flag") < strchr (line, '\n'), "%s", output);
    line = strstr (output, "router/slice-size");
    cr_assert (line && strstr (line, "10485760") && strstr (line, "# default") < strchr (line, '\n'), "%s", output);
    cr_assert_not_null (strstr (output, "cluster/data-shards"), "%s", output);
}
