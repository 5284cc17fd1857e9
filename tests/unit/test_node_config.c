/*  =========================================================================
    test_node_config - strata-node's settings from defaults, file and flags

    node_config_load is driven with argv arrays as main () would pass them;
    configuration and cluster files are written into a fresh temporary
    directory per test. Precedence (defaults < file < flags), range checks,
    error lines and the cluster lookup are checked.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node_config.h"

static char s_dir [64];
static char s_config_path [128];
static char s_cluster_path [128];
static node_config_t s_config;
static cluster_config_t *s_cluster;
static char s_error [512];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-test-node-config-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_config_path, sizeof (s_config_path), "%s/node.cfg", s_dir);
    snprintf (s_cluster_path, sizeof (s_cluster_path), "%s/cluster.cfg", s_dir);
    s_cluster = NULL;
    s_error [0] = 0;
    unsetenv ("STRATA_TEST_SYNC_DELAY_MS");
}

static void
s_teardown (void)
{
    cluster_config_destroy (&s_cluster);
    unlink (s_config_path);
    unlink (s_cluster_path);
    rmdir (s_dir);
}

TestSuite (node_config, .init = s_setup, .fini = s_teardown);

//  Run node_config_load with "strata-node" and the given arguments (NULL
//  terminated). Any cluster from an earlier call is destroyed first.
static node_config_status_t
s_load (const char *first, ...)
{
    char *argv [32];
    int argc = 0;
    argv [argc++] = "strata-node";
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg; arg = va_arg (args, const char *)) {
        cr_assert_lt (argc, 31);
        argv [argc++] = (char *) arg;
    }
    va_end (args);
    argv [argc] = NULL;
    cluster_config_destroy (&s_cluster);
    s_error [0] = 0;
    return node_config_load (&s_config, argc, argv, &s_cluster, s_error, sizeof (s_error));
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    cr_assert_eq (fclose (file), 0);
}

static void
s_expect_error (node_config_status_t status, const char *expect)
{
    cr_assert_eq (status, NODE_CONFIG_ERROR, "expected an error mentioning '%s'", expect);
    cr_assert_neq (s_error [0], 0);
    cr_assert_null (strchr (s_error, '\n'), "one line: '%s'", s_error);
    cr_assert_not_null (strstr (s_error, expect), "error '%s' should mention '%s'", s_error, expect);
    cr_assert_null (s_cluster, "no cluster is returned on error");
}

//  A three-node cluster on 10.1.2.x hosts
static void
s_write_cluster (void)
{
    s_write (s_cluster_path,
             "cluster\n"
             "    name = test\n"
             "    data-shards = 2\n"
             "    total-shards = 3\n"
             "    nodes\n"
             "        alpha\n"
             "            writer = tcp://10.1.2.1:8100\n"
             "            reader = tcp://10.1.2.1:8101\n"
             "        beta\n"
             "            writer = tcp://10.1.2.2:8100\n"
             "            reader = tcp://10.1.2.2:8101\n"
             "        gamma\n"
             "            writer = tcp://node-gamma:8100\n"
             "            reader = tcp://[fd00::3]:8101\n");
}

//  --------------------------------------------------------------------------

Test (node_config, defaults)
{
    cr_assert_eq (s_load (NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.name, "local");
    cr_assert_str_eq (s_config.data_dir, "var/local");
    cr_assert_eq (s_config.volume_count, 1);
    cr_assert_str_eq (s_config.volumes [0], "var/local/volume0");
    cr_assert_str_eq (s_config.writer, "tcp://127.0.0.1:8100");
    cr_assert_str_eq (s_config.reader, "tcp://127.0.0.1:8101");
    cr_assert_str_eq (s_config.cluster_path, "");
    cr_assert_null (s_cluster);
    cr_assert_eq (s_config.value_file_max_bytes, 1024ULL * 1024 * 1024);
    cr_assert_eq (s_config.queue_depth, 256);
    cr_assert_eq (s_config.queue_bytes, 16ULL * 1024 * 1024);
    cr_assert_eq (s_config.overload_wait_ms, 1000);
    cr_assert_eq (s_config.writeback_bytes, 0);
    cr_assert_eq (s_config.reply_cache_size, 128);
    cr_assert_eq (s_config.reply_send_timeout_ms, 0);
    cr_assert_not (s_config.reply_ipc, "ipc replies are off by default");
    cr_assert_str_eq (s_config.reply_ipc_dir, "");
    cr_assert_eq (s_config.reply_max_bytes, 64ULL * 1024 * 1024);
    cr_assert_str_eq (s_config.auth_policy, "");
    cr_assert_eq (s_config.reply_allow_count, 3);
    cr_assert_str_eq (s_config.reply_allow [0], "127.0.0.1");
    cr_assert_str_eq (s_config.reply_allow [1], "::1");
    cr_assert_str_eq (s_config.reply_allow [2], "localhost");
    cr_assert_not (s_config.log_verbose);
    cr_assert_eq (s_config.test_sync_delay_ms, 0);
}

Test (node_config, name_sets_data_dir)
{
    cr_assert_eq (s_load ("--name", "node07", NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.name, "node07");
    cr_assert_str_eq (s_config.data_dir, "var/node07");
    cr_assert_str_eq (s_config.volumes [0], "var/node07/volume0");

    cr_assert_eq (s_load ("--name=n.1_x-y", "--data-dir", "/srv/data", NULL), NODE_CONFIG_RUN,
                  "%s", s_error);
    cr_assert_str_eq (s_config.name, "n.1_x-y");
    cr_assert_str_eq (s_config.data_dir, "/srv/data");
    cr_assert_str_eq (s_config.volumes [0], "/srv/data/volume0");
}

Test (node_config, endpoint_flags)
{
    cr_assert_eq (s_load ("--writer", "tcp://*:9100", "--reader", "ipc:///tmp/r.sock", NULL),
                  NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.writer, "tcp://*:9100");
    cr_assert_str_eq (s_config.reader, "ipc:///tmp/r.sock");
}

Test (node_config, help_and_version)
{
    cr_redirect_stdout ();
    cr_assert_eq (s_load ("--help", NULL), NODE_CONFIG_EXIT_OK);
    cr_assert_eq (s_load ("--version", NULL), NODE_CONFIG_EXIT_OK);
    //  --help wins even with a bad option after it, and before a bad file
    cr_assert_eq (s_load ("--help", "--config", "/nonexistent/x.cfg", NULL), NODE_CONFIG_EXIT_OK);
    fflush (stdout);
    cr_assert_stdout_neq_str ("");
}

Test (node_config, version_text)
{
    cr_redirect_stdout ();
    cr_assert_eq (s_load ("--version", NULL), NODE_CONFIG_EXIT_OK);
    fflush (stdout);
    cr_assert_stdout_eq_str ("strata-node " STRATA_VERSION "\n");
}

Test (node_config, unknown_option)
{
    s_expect_error (s_load ("--bogus", NULL), "'--bogus'");
    s_expect_error (s_load ("--name", "x", "--frobnicate=3", NULL), "'--frobnicate=3'");
    s_expect_error (s_load ("-x", NULL), "unknown option");
    s_expect_error (s_load ("--help=1", NULL), "--help=1");
}

Test (node_config, missing_value)
{
    s_expect_error (s_load ("--name", NULL), "'--name'");
    s_expect_error (s_load ("--writer", NULL), "'--writer'");
    s_expect_error (s_load ("--config", NULL), "'--config'");
}

Test (node_config, stray_argument)
{
    s_expect_error (s_load ("extra", NULL), "'extra'");
    s_expect_error (s_load ("--name", "a", "leftover", NULL), "'leftover'");
}

Test (node_config, empty_value)
{
    s_expect_error (s_load ("--name", "", NULL), "--name");
    s_expect_error (s_load ("--data-dir=", NULL), "--data-dir");
}

Test (node_config, repeated_calls_reset_getopt)
{
    //  "-xy" leaves getopt in the middle of a short-option cluster; the next
    //  call must start afresh, not carry on with "y".
    s_expect_error (s_load ("-xy", NULL), "unknown option");
    cr_assert_eq (s_load ("--name", "after", NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.name, "after");
    s_expect_error (s_load ("--bogus", NULL), "--bogus");
    cr_assert_eq (s_load (NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.name, "local", "defaults again, nothing left over");
}

Test (node_config, bad_names)
{
    const char *bad [] = { "a/b", "a b", "..", ".", "x;y", "n\xc3\xa9", "tab\t" };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        node_config_status_t status = s_load ("--name", bad [index], NULL);
        cr_assert_eq (status, NODE_CONFIG_ERROR, "name '%s' must be refused", bad [index]);
        cr_assert_not_null (strstr (s_error, "--name"), "%s", s_error);
    }
    char long_name [200];
    memset (long_name, 'a', 129);
    long_name [129] = 0;
    s_expect_error (s_load ("--name", long_name, NULL), "too long");
    long_name [128] = 0;
    cr_assert_eq (s_load ("--name", long_name, NULL), NODE_CONFIG_RUN, "128 bytes fit: %s", s_error);
}

Test (node_config, bad_endpoints)
{
    s_expect_error (s_load ("--writer", "tcp://127.0.0.1", NULL), "writer endpoint");
    s_expect_error (s_load ("--reader", "tcp://127.0.0.1:1;10.0.0.1:2", NULL), "reader endpoint");
    s_expect_error (s_load ("--writer", "tcp://127.0.0.1:8101", NULL), "must differ");
    s_expect_error (s_load ("--writer", "tcp://127.0.0.1:7000", "--reader", "tcp://127.0.0.1:7000", NULL),
                    "must differ");
}

Test (node_config, config_file_values)
{
    s_write (s_config_path,
             "node\n"
             "    name = filenode\n"
             "    data-dir = /srv/filenode\n"
             "    writer = tcp://127.0.0.1:9100\n"
             "    reader = tcp://127.0.0.1:9101\n"
             "    volumes\n"
             "        a = /srv/a\n"
             "        b = /srv/b\n"
             "        c = \"/srv/with space\"\n"
             "    value-file-max-bytes = 4096\n"
             "    group-commit-delay-us = 500\n"
             "    writeback-bytes = 131072\n"
             "    queue-depth = 100000\n"
             "    max-frames = 2\n"
             "reply\n"
             "    allow\n"
             "        a = 10.0.0.5\n"
             "        b = Example.Host\n"
             "    ipc = 0\n"
             "    cache-size = 7\n"
             "    idle-seconds = 86400\n"
             "    send-timeout-ms = 25\n"
             "    hwm = 3\n"
             "log\n"
             "    verbose = 1\n");
    cr_assert_eq (s_load ("--config", s_config_path, NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.name, "filenode");
    cr_assert_str_eq (s_config.data_dir, "/srv/filenode");
    cr_assert_eq (s_config.writeback_bytes, 131072);
    cr_assert_str_eq (s_config.writer, "tcp://127.0.0.1:9100");
    cr_assert_str_eq (s_config.reader, "tcp://127.0.0.1:9101");
    cr_assert_eq (s_config.volume_count, 3);
    cr_assert_str_eq (s_config.volumes [0], "/srv/a");
    cr_assert_str_eq (s_config.volumes [1], "/srv/b");
    cr_assert_str_eq (s_config.volumes [2], "/srv/with space");
    cr_assert_eq (s_config.value_file_max_bytes, 4096);
    cr_assert_eq (s_config.group_commit_delay_us, 500);
    cr_assert_eq (s_config.queue_depth, 100000);
    cr_assert_eq (s_config.max_frames, 2);
    cr_assert_eq (s_config.reply_allow_count, 2, "the file's list replaces the defaults");
    cr_assert_str_eq (s_config.reply_allow [0], "10.0.0.5");
    cr_assert_str_eq (s_config.reply_allow [1], "Example.Host");
    cr_assert_not (s_config.reply_ipc);
    cr_assert_eq (s_config.reply_cache_size, 7);
    cr_assert_eq (s_config.reply_idle_seconds, 86400);
    cr_assert_eq (s_config.reply_send_timeout_ms, 25);
    cr_assert_eq (s_config.reply_hwm, 3);
    cr_assert (s_config.log_verbose);
    cr_assert_not (s_config.log_syslog);
    //  Keys the file does not give keep their defaults
    cr_assert_eq (s_config.receive_hwm, 2);
    cr_assert_eq (s_config.reserve_bytes, 64ULL * 1024 * 1024);
}

Test (node_config, flags_override_file)
{
    s_write (s_config_path,
             "node\n"
             "    name = filenode\n"
             "    writer = tcp://127.0.0.1:9100\n"
             "    reader = tcp://127.0.0.1:9101\n");
    //  Flags win wherever they appear relative to --config
    cr_assert_eq (s_load ("--name", "flagnode", "--config", s_config_path,
                          "--reader", "tcp://127.0.0.1:9999", NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.name, "flagnode");
    cr_assert_str_eq (s_config.data_dir, "var/flagnode");
    cr_assert_str_eq (s_config.writer, "tcp://127.0.0.1:9100", "not overridden: from the file");
    cr_assert_str_eq (s_config.reader, "tcp://127.0.0.1:9999");
}

Test (node_config, missing_or_bad_config_file)
{
    char missing [200];
    snprintf (missing, sizeof (missing), "%s/missing.cfg", s_dir);
    s_expect_error (s_load ("--config", missing, NULL), missing);

    s_write (s_config_path, "node\n    name = \"unterminated\n");
    s_expect_error (s_load ("--config", s_config_path, NULL), s_config_path);
}

Test (node_config, config_file_numbers_out_of_range)
{
    struct { const char *section; const char *key; const char *value; } bad [] = {
        { "node", "queue-depth", "0" },
        { "node", "queue-depth", "100001" },
        { "node", "queue-depth", "abc" },
        { "node", "queue-depth", "-1" },
        { "node", "queue-depth", "12abc" },
        { "node", "queue-depth", "\"\"" },
        { "node", "value-file-max-bytes", "4095" },
        { "node", "value-file-max-bytes", "99999999999999999999999" },
        { "node", "group-commit-delay-us", "10000001" },
        { "node", "queue-bytes", "1000" },
        { "node", "max-message-bytes", "1023" },
        { "node", "max-frames", "1" },
        { "node", "receive-hwm", "0" },
        { "reply", "cache-size", "0" },
        { "reply", "idle-seconds", "86401" },
        { "reply", "send-timeout-ms", "60001" },
        { "reply", "hwm", "0" },
        { "reply", "hwm", "1e3" },
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        char text [256], key [64];
        snprintf (text, sizeof (text), "%s\n    %s = %s\n",
                  bad [index].section, bad [index].key, bad [index].value);
        snprintf (key, sizeof (key), "%s/%s", bad [index].section, bad [index].key);
        s_write (s_config_path, text);
        node_config_status_t status = s_load ("--config", s_config_path, NULL);
        cr_assert_eq (status, NODE_CONFIG_ERROR, "%s = %s must be refused", key, bad [index].value);
        cr_assert_not_null (strstr (s_error, key), "error '%s' should name %s", s_error, key);
    }
}

Test (node_config, config_file_lists_bounded)
{
    char text [8192];
    size_t size = (size_t) snprintf (text, sizeof (text), "node\n    volumes\n");
    for (int index = 0; index < NODE_CONFIG_MAX_VOLUMES + 1; index++)
        size += (size_t) snprintf (text + size, sizeof (text) - size, "        v%d = /srv/v%d\n", index, index);
    s_write (s_config_path, text);
    s_expect_error (s_load ("--config", s_config_path, NULL), "node/volumes");

    size = (size_t) snprintf (text, sizeof (text), "reply\n    allow\n");
    for (int index = 0; index < 33; index++)
        size += (size_t) snprintf (text + size, sizeof (text) - size, "        h%d = 10.0.0.%d\n", index, index);
    s_write (s_config_path, text);
    s_expect_error (s_load ("--config", s_config_path, NULL), "reply/allow");
}

Test (node_config, bad_name_in_file)
{
    s_write (s_config_path, "node\n    name = \"../escape\"\n");
    s_expect_error (s_load ("--config", s_config_path, NULL), "../escape");
}

Test (node_config, cluster_takes_endpoints)
{
    s_write_cluster ();
    cr_assert_eq (s_load ("--cluster", s_cluster_path, "--name", "beta", NULL), NODE_CONFIG_RUN,
                  "%s", s_error);
    cr_assert_not_null (s_cluster);
    cr_assert_str_eq (cluster_config_name (s_cluster), "test");
    cr_assert_str_eq (s_config.cluster_path, s_cluster_path);
    cr_assert_str_eq (s_config.writer, "tcp://10.1.2.2:8100");
    cr_assert_str_eq (s_config.reader, "tcp://10.1.2.2:8101");
    cr_assert_str_eq (s_config.data_dir, "var/beta");
}

Test (node_config, cluster_endpoints_overridden_by_flags)
{
    s_write_cluster ();
    cr_assert_eq (s_load ("--cluster", s_cluster_path, "--name", "alpha",
                          "--writer", "tcp://*:7100", NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.writer, "tcp://*:7100");
    cr_assert_str_eq (s_config.reader, "tcp://10.1.2.1:8101");

    cr_assert_eq (s_load ("--cluster", s_cluster_path, "--name", "alpha",
                          "--reader", "tcp://*:7101", NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_str_eq (s_config.writer, "tcp://10.1.2.1:8100");
    cr_assert_str_eq (s_config.reader, "tcp://*:7101");
}

Test (node_config, cluster_from_config_file)
{
    s_write_cluster ();
    char text [512];
    snprintf (text, sizeof (text), "node\n    name = gamma\n    cluster = %s\n", s_cluster_path);
    s_write (s_config_path, text);
    cr_assert_eq (s_load ("--config", s_config_path, NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_not_null (s_cluster);
    cr_assert_str_eq (s_config.writer, "tcp://node-gamma:8100");
    cr_assert_str_eq (s_config.reader, "tcp://[fd00::3]:8101");
}

Test (node_config, name_not_in_cluster)
{
    s_write_cluster ();
    s_expect_error (s_load ("--cluster", s_cluster_path, "--name", "delta", NULL), "'delta'");
    s_expect_error (s_load ("--cluster", s_cluster_path, NULL), "'local'");
}

Test (node_config, bad_cluster_file)
{
    char missing [200];
    snprintf (missing, sizeof (missing), "%s/none.cfg", s_dir);
    s_expect_error (s_load ("--cluster", missing, "--name", "alpha", NULL), missing);
    s_write (s_cluster_path, "cluster\n    name = x\n    data-shards = 3\n    total-shards = 2\n");
    s_expect_error (s_load ("--cluster", s_cluster_path, "--name", "alpha", NULL), "k <= n");
}

Test (node_config, error_after_cluster_load_returns_no_cluster)
{
    s_write_cluster ();
    s_expect_error (s_load ("--cluster", s_cluster_path, "--name", "alpha",
                            "--writer", "tcp://10.1.2.1:8101", NULL), "must differ");
}

Test (node_config, reply_allow_defaults)
{
    cr_assert_eq (s_load (NULL), NODE_CONFIG_RUN, "%s", s_error);
    endpoint_allow_t *allow = node_config_reply_allow (&s_config, NULL);
    cr_assert_not_null (allow);
    cr_assert (endpoint_allow_check (allow, "tcp://127.0.0.1:6000"));
    cr_assert (endpoint_allow_check (allow, "tcp://[::1]:6000"));
    cr_assert (endpoint_allow_check (allow, "tcp://localhost:6000"));
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/reply.sock"), "ipc off by default");
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.1.2.1:6000"));
    endpoint_allow_destroy (&allow);
}

Test (node_config, reply_allow_includes_cluster_hosts)
{
    s_write_cluster ();
    s_write (s_config_path, "reply\n    allow\n        a = 192.168.7.7\n    ipc = no\n");
    cr_assert_eq (s_load ("--config", s_config_path, "--cluster", s_cluster_path, "--name", "alpha", NULL),
                  NODE_CONFIG_RUN, "%s", s_error);
    endpoint_allow_t *allow = node_config_reply_allow (&s_config, s_cluster);
    cr_assert_not_null (allow);
    cr_assert (endpoint_allow_check (allow, "tcp://192.168.7.7:6000"), "configured host");
    cr_assert (endpoint_allow_check (allow, "tcp://10.1.2.1:6000"), "cluster host");
    cr_assert (endpoint_allow_check (allow, "tcp://10.1.2.2:6001"), "cluster host");
    cr_assert (endpoint_allow_check (allow, "tcp://NODE-GAMMA:6002"), "cluster host by name");
    cr_assert (endpoint_allow_check (allow, "tcp://[fd00::3]:6003"), "cluster IPv6 host");
    cr_assert_not (endpoint_allow_check (allow, "tcp://127.0.0.1:6000"), "the file replaced the defaults");
    cr_assert_not (endpoint_allow_check (allow, "tcp://10.1.2.3:6000"));
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/reply.sock"), "ipc = no");
    endpoint_allow_destroy (&allow);
}

Test (node_config, test_sync_delay_from_environment)
{
    setenv ("STRATA_TEST_SYNC_DELAY_MS", "250", 1);
    cr_assert_eq (s_load (NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_eq (s_config.test_sync_delay_ms, 250);
    unsetenv ("STRATA_TEST_SYNC_DELAY_MS");
}

Test (node_config, reply_ipc_only_under_ipc_dir)
{
    char dir [] = "/tmp/strata-ipc-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char sub [64];
    snprintf (sub, sizeof (sub), "%s/sub", dir);
    cr_assert_eq (mkdir (sub, 0700), 0);
    char text [256];
    snprintf (text, sizeof (text), "reply\n    ipc-dir = %s\n", dir);
    s_write (s_config_path, text);
    cr_assert_eq (s_load ("--config", s_config_path, NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert (s_config.reply_ipc, "an ipc-dir turns ipc replies on");
    endpoint_allow_t *allow = node_config_reply_allow (&s_config, NULL);
    char endpoint [300];
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/reply.sock", dir);
    cr_assert (endpoint_allow_check (allow, endpoint), "%s", endpoint);
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/sub/reply.sock", dir);
    cr_assert (endpoint_allow_check (allow, endpoint), "%s", endpoint);
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/../reply.sock", dir);
    cr_assert_not (endpoint_allow_check (allow, endpoint), "%s", endpoint);
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/./reply.sock", dir);
    cr_assert_not (endpoint_allow_check (allow, endpoint), "%s", endpoint);
    snprintf (endpoint, sizeof (endpoint), "ipc://%sx/reply.sock", dir);
    cr_assert_not (endpoint_allow_check (allow, endpoint), "a sibling with the same prefix");
    cr_assert_not (endpoint_allow_check (allow, "ipc:///tmp/anything"));
    cr_assert_not (endpoint_allow_check (allow, "ipc://reply.sock"), "relative");
    //  A symbolic link inside the directory cannot lead out of it
    char link [64];
    snprintf (link, sizeof (link), "%s/out", dir);
    cr_assert_eq (symlink ("/tmp", link), 0);
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/out/reply.sock", dir);
    cr_assert_not (endpoint_allow_check (allow, endpoint), "%s", endpoint);
    endpoint_allow_destroy (&allow);
    unlink (link);
    rmdir (sub);
    rmdir (dir);

    s_write (s_config_path, "reply\n    ipc = 1\n");
    s_expect_error (s_load ("--config", s_config_path, NULL), "reply/ipc = 1 needs reply/ipc-dir");
    s_write (s_config_path, "reply\n    ipc-dir = relative/dir\n");
    s_expect_error (s_load ("--config", s_config_path, NULL), "absolute");
    s_write (s_config_path, "reply\n    max-bytes = 1000\n");
    s_expect_error (s_load ("--config", s_config_path, NULL), "reply/max-bytes");
}

//  Strict configuration: each class of error is one line naming FILE:LINE
//  and the key, with what was expected

static void
s_expect_strict (const char *text, const char *line, const char *expect)
{
    s_write (s_config_path, text);
    char where [256];
    snprintf (where, sizeof where, "%s:%s", s_config_path, line);
    node_config_status_t status = s_load ("--config", s_config_path, NULL);
    s_expect_error (status, where);
    s_expect_error (status, expect);
}

Test (node_config, strict_unknown_key)
{
    s_expect_strict ("node\n    name = a\n    writter = tcp://127.0.0.1:9000\n", "3: ",
                     "unknown key 'node/writter' (did you mean 'node/writer'?)");
    //  Far from every key: the section's keys are listed instead
    s_expect_strict ("node\n    zzzzzzzz = 1\n", "2: ", "expected one of: name, data-dir");
    //  A setting is not a section
    s_expect_strict ("node\n    name = a\n        deeper = 1\n", "3: ", "unknown key 'node/name/deeper'");
    //  A list's items take values, not sections
    s_expect_strict ("reply\n    allow\n        a = 127.0.0.1\n            b = 1\n", "4: ",
                     "unknown key 'reply/allow/a/b'");
}

Test (node_config, strict_unknown_section)
{
    s_expect_strict ("# comment\n\nnod\n    name = a\n", "3: ",
                     "unknown section 'nod' (did you mean 'node'?)");
    s_expect_strict ("node\n    name = a\nwhatever\n", "3: ", "unknown section 'whatever' (expected one of:");
}

Test (node_config, strict_duplicate_key)
{
    s_expect_strict ("node\n    name = a\n    # between\n    name = b\n", "4: ",
                     "'node/name' is given twice (first at line 2)");
    s_expect_strict ("node\n    name = a\nlog\n    verbose = 1\nnode\n    reader = tcp://127.0.0.1:9\n",
                     "5: ", "'node' is given twice");
}

Test (node_config, strict_bad_value)
{
    s_expect_strict ("node\n    queue-depth = many\n", "2: ",
                     "node/queue-depth: expected a number in 1..100000, not 'many'");
    s_expect_strict ("log\n    verbose = 1\n    syslog = maybe\n", "3: ",
                     "log/syslog: expected 1/0");
    s_expect_strict ("node\n    active-timeout-seconds = 0\n", "2: ", "node/active-timeout-seconds");
    //  Indentation zconfig refuses: the line is named too
    s_expect_strict ("node\n    name = a\n      reader = x\n", "3: ", "indentation");
}

Test (node_config, strict_directory_as_file)
{
    s_expect_error (s_load ("--config", s_dir, NULL), "is a directory, expected a configuration file");
    s_expect_error (s_load ("--cluster", s_dir, "--name", "alpha", NULL), "is a directory, expected a cluster file");
}

Test (node_config, shipped_config_is_valid)
{
    //  config/strata-node.cfg lists every setting: it must pass as is
    cr_assert_eq (s_load ("--config", STRATA_SOURCE_DIR "/config/strata-node.cfg", NULL),
                  NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_eq (s_config.active_timeout_seconds, 3600);
}

Test (node_config, active_timeout_from_file)
{
    s_write (s_config_path, "node\n    active-timeout-seconds = 5\n");
    cr_assert_eq (s_load ("--config", s_config_path, NULL), NODE_CONFIG_RUN, "%s", s_error);
    cr_assert_eq (s_config.active_timeout_seconds, 5);
}

Test (node_config, check_config_prints_origins, .init = cr_redirect_stdout)
{
    s_write (s_config_path, "node\n    queue-depth = 17\n");
    cr_assert_eq (s_load ("--config", s_config_path, "--name", "beta", "--check-config", NULL),
                  NODE_CONFIG_EXIT_OK, "%s", s_error);
    fflush (stdout);
    char output [16384] = "";
    FILE *captured = cr_get_redirected_stdout ();
    size_t size = fread (output, 1, sizeof output - 1, captured);
    output [size] = 0;
    cr_assert_not_null (strstr (output, "node/queue-depth"), "%s", output);
    //  Every value with its origin: file, flag, default
    char *line = strstr (output, "node/queue-depth");
    cr_assert_not_null (strstr (line, "17"));
    cr_assert (strstr (line, "# file") && strstr (line, "# file") < strchr (line, '\n'), "%s", line);
    line = strstr (output, "node/name");
    cr_assert (strstr (line, "beta") && strstr (line, "# flag") < strchr (line, '\n'), "%s", line);
    line = strstr (output, "reply/hwm");
    cr_assert (line && strstr (line, "1000") && strstr (line, "# default") < strchr (line, '\n'), "%s", output);
}

Test (node_config, check_config_refuses_bad_file)
{
    s_write (s_config_path, "node\n    writter = x\n");
    s_expect_error (s_load ("--config", s_config_path, "--check-config", NULL), "node/writter");
}

Test (node_config, short_help)
{
    cr_redirect_stdout ();
    cr_assert_eq (s_load ("-h", NULL), NODE_CONFIG_EXIT_OK);
}
