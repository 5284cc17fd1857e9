/*  =========================================================================
    test_cluster_config - loading and validating cluster files (ZPL)

    Each test writes a cluster file into a fresh temporary directory and
    loads it: a valid file must give back exactly what it says, and every
    invalid one must fail with one line that names the file and the problem.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_config.h"

static char s_dir [64];
static char s_path [128];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-test-cluster-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/cluster.cfg", s_dir);
}

static void
s_teardown (void)
{
    unlink (s_path);
    rmdir (s_dir);
}

TestSuite (cluster_config, .init = s_setup, .fini = s_teardown);

static void
s_write (const char *text)
{
    FILE *file = fopen (s_path, "w");
    cr_assert_not_null (file);
    cr_assert_eq (fputs (text, file) >= 0, true);
    cr_assert_eq (fclose (file), 0);
}

//  Write a cluster file with count nodes (k and n given as text), each
//  node named node01.., writer port 8100 + 2i, reader 8101 + 2i. extra is
//  appended to the file.
static void
s_write_cluster (const char *name, const char *k, const char *n, int count, const char *extra)
{
    char text [32768];
    size_t size = 0;
    size += (size_t) snprintf (text + size, sizeof (text) - size, "cluster\n");
    if (name)
        size += (size_t) snprintf (text + size, sizeof (text) - size, "    name = %s\n", name);
    if (k)
        size += (size_t) snprintf (text + size, sizeof (text) - size, "    data-shards = %s     # k\n", k);
    if (n)
        size += (size_t) snprintf (text + size, sizeof (text) - size, "    total-shards = %s    # n\n", n);
    size += (size_t) snprintf (text + size, sizeof (text) - size, "    nodes\n");
    for (int index = 0; index < count; index++)
        size += (size_t) snprintf (text + size, sizeof (text) - size,
                                   "        node%02d\n"
                                   "            writer = tcp://127.0.0.1:%d\n"
                                   "            reader = tcp://127.0.0.1:%d\n",
                                   index + 1, 8100 + 2 * index, 8101 + 2 * index);
    if (extra)
        size += (size_t) snprintf (text + size, sizeof (text) - size, "%s", extra);
    cr_assert_lt (size, sizeof (text));
    s_write (text);
}

//  Load, expecting failure; the error must be one line naming the file and
//  containing expect.
static void
s_expect_error (const char *expect)
{
    char error [512] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_null (cluster, "expected failure (%s)", expect);
    cr_assert_neq (error [0], 0, "an error line is written");
    cr_assert_null (strchr (error, '\n'), "one line: '%s'", error);
    cr_assert_not_null (strstr (error, s_path), "error names the file: '%s'", error);
    cr_assert_not_null (strstr (error, expect), "error '%s' should mention '%s'", error, expect);
}

Test (cluster_config, valid_ten_nodes)
{
    s_write_cluster ("local", "8", "10", 10,
                     "router\n"
                     "    listen = tcp://127.0.0.1:8000\n");
    char error [256] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_not_null (cluster, "load failed: %s", error);
    cr_assert_str_eq (cluster_config_name (cluster), "local");
    cr_assert_eq (cluster_config_data_shards (cluster), 8);
    cr_assert_eq (cluster_config_total_shards (cluster), 10);
    cr_assert_eq (cluster_config_node_count (cluster), 10);
    for (size_t index = 0; index < 10; index++) {
        char name [16], writer [64], reader [64];
        snprintf (name, sizeof (name), "node%02zu", index + 1);
        snprintf (writer, sizeof (writer), "tcp://127.0.0.1:%zu", 8100 + 2 * index);
        snprintf (reader, sizeof (reader), "tcp://127.0.0.1:%zu", 8101 + 2 * index);
        cr_assert_str_eq (cluster_config_node_name (cluster, index), name, "file order is kept");
        cr_assert_str_eq (cluster_config_node_writer (cluster, index), writer);
        cr_assert_str_eq (cluster_config_node_reader (cluster, index), reader);
        cr_assert_eq (cluster_config_node_index (cluster, name), (int) index);
    }
    cr_assert_eq (cluster_config_node_index (cluster, "node11"), -1);
    cr_assert_eq (cluster_config_node_index (cluster, "NODE01"), -1, "names are exact");
    cr_assert_eq (cluster_config_node_index (cluster, ""), -1);
    cr_assert_str_eq (cluster_config_router_listen (cluster), "tcp://127.0.0.1:8000");
    cluster_config_destroy (&cluster);
    cr_assert_null (cluster);
    cluster_config_destroy (&cluster);
}

Test (cluster_config, no_router_section)
{
    s_write_cluster ("small", "1", "1", 1, NULL);
    char error [256] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_not_null (cluster, "load failed: %s", error);
    cr_assert_null (cluster_config_router_listen (cluster));
    cr_assert_eq (cluster_config_node_count (cluster), 1);
    cr_assert_eq (cluster_config_data_shards (cluster), 1);
    cluster_config_destroy (&cluster);
}

Test (cluster_config, ipv6_and_ipc_endpoints)
{
    s_write ("cluster\n"
             "    name = mixed\n"
             "    data-shards = 1\n"
             "    total-shards = 2\n"
             "    nodes\n"
             "        a\n"
             "            writer = \"tcp://[::1]:9000\"\n"
             "            reader = tcp://[::1]:9001\n"
             "        b\n"
             "            writer = ipc:///tmp/b-writer\n"
             "            reader = ipc:///tmp/b-reader\n");
    char error [256] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_not_null (cluster, "load failed: %s", error);
    cr_assert_str_eq (cluster_config_node_writer (cluster, 0), "tcp://[::1]:9000");
    cr_assert_str_eq (cluster_config_node_reader (cluster, 0), "tcp://[::1]:9001");
    cr_assert_str_eq (cluster_config_node_writer (cluster, 1), "ipc:///tmp/b-writer");
    cr_assert_eq (cluster_config_node_index (cluster, "b"), 1);
    cluster_config_destroy (&cluster);
}

Test (cluster_config, n_255)
{
    s_write_cluster ("big", "200", "255", 255, NULL);
    char error [256] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_not_null (cluster, "load failed: %s", error);
    cr_assert_eq (cluster_config_node_count (cluster), 255);
    cr_assert_eq (cluster_config_node_index (cluster, "node255"), 254);
    cluster_config_destroy (&cluster);
}

Test (cluster_config, missing_file)
{
    unlink (s_path);
    s_expect_error ("no such cluster file");
}

Test (cluster_config, unparsable)
{
    //  Tabs are not ZPL indentation; an unterminated quote is not a value
    s_write ("cluster\n"
             "    name = \"local\n"
             "    data-shards = 8\n");
    s_expect_error ("parse");
}

Test (cluster_config, missing_name)
{
    s_write_cluster (NULL, "8", "10", 10, NULL);
    s_expect_error ("cluster/name");
}

Test (cluster_config, empty_name)
{
    s_write_cluster ("\"\"", "8", "10", 10, NULL);
    s_expect_error ("cluster/name");
}

Test (cluster_config, k_greater_than_n)
{
    s_write_cluster ("local", "9", "8", 8, NULL);
    s_expect_error ("k <= n");
}

Test (cluster_config, n_over_255)
{
    s_write_cluster ("local", "8", "256", 256, NULL);
    s_expect_error ("255");
}

Test (cluster_config, k_zero)
{
    s_write_cluster ("local", "0", "10", 10, NULL);
    s_expect_error ("1 <= k");
}

Test (cluster_config, k_not_a_number)
{
    s_write_cluster ("local", "eight", "10", 10, NULL);
    s_expect_error ("data-shards");
    s_write_cluster ("local", "8", "-10", 10, NULL);
    s_expect_error ("total-shards");
    s_write_cluster ("local", "8", "10x", 10, NULL);
    s_expect_error ("total-shards");
}

Test (cluster_config, node_count_mismatch)
{
    s_write_cluster ("local", "8", "10", 9, NULL);
    s_expect_error ("9 nodes");
    s_write_cluster ("local", "8", "10", 11, NULL);
    s_expect_error ("11 nodes");
    s_write ("cluster\n"
             "    name = local\n"
             "    data-shards = 1\n"
             "    total-shards = 1\n");
    s_expect_error ("0 nodes");
}

Test (cluster_config, duplicate_node_names)
{
    s_write ("cluster\n"
             "    name = local\n"
             "    data-shards = 1\n"
             "    total-shards = 2\n"
             "    nodes\n"
             "        twin\n"
             "            writer = tcp://127.0.0.1:8100\n"
             "            reader = tcp://127.0.0.1:8101\n"
             "        twin\n"
             "            writer = tcp://127.0.0.1:8102\n"
             "            reader = tcp://127.0.0.1:8103\n");
    s_expect_error ("'cluster/nodes/twin' is given twice");
}

Test (cluster_config, node_without_reader)
{
    s_write ("cluster\n"
             "    name = local\n"
             "    data-shards = 1\n"
             "    total-shards = 2\n"
             "    nodes\n"
             "        one\n"
             "            writer = tcp://127.0.0.1:8100\n"
             "            reader = tcp://127.0.0.1:8101\n"
             "        two\n"
             "            writer = tcp://127.0.0.1:8102\n");
    s_expect_error ("'two'");
}

Test (cluster_config, node_without_writer)
{
    s_write ("cluster\n"
             "    name = local\n"
             "    data-shards = 1\n"
             "    total-shards = 1\n"
             "    nodes\n"
             "        one\n"
             "            reader = tcp://127.0.0.1:8101\n");
    s_expect_error ("'one'");
}

Test (cluster_config, bad_node_endpoint)
{
    const char *bad [] = {
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536",
        "udp://127.0.0.1:8101",
        "\"tcp://127.0.0.1:1;10.0.0.1:2\"",
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        char text [512];
        snprintf (text, sizeof (text),
                  "cluster\n"
                  "    name = local\n"
                  "    data-shards = 1\n"
                  "    total-shards = 1\n"
                  "    nodes\n"
                  "        one\n"
                  "            writer = tcp://127.0.0.1:8100\n"
                  "            reader = %s\n", bad [index]);
        s_write (text);
        s_expect_error ("'one' needs valid writer and reader");
    }
}

Test (cluster_config, bad_router_listen)
{
    s_write_cluster ("local", "1", "1", 1,
                     "router\n"
                     "    listen = tcp://127.0.0.1\n");
    s_expect_error ("router/listen");
}

Test (cluster_config, node_name_too_long)
{
    char name [130];
    memset (name, 'n', 129);
    name [129] = 0;
    char text [1024];
    snprintf (text, sizeof (text),
              "cluster\n"
              "    name = local\n"
              "    data-shards = 1\n"
              "    total-shards = 1\n"
              "    nodes\n"
              "        %s\n"
              "            writer = tcp://127.0.0.1:8100\n"
              "            reader = tcp://127.0.0.1:8101\n", name);
    s_write (text);
    s_expect_error ("too long");

    name [128] = 0;                         //  128 bytes is fine
    snprintf (text, sizeof (text),
              "cluster\n"
              "    name = local\n"
              "    data-shards = 1\n"
              "    total-shards = 1\n"
              "    nodes\n"
              "        %s\n"
              "            writer = tcp://127.0.0.1:8100\n"
              "            reader = tcp://127.0.0.1:8101\n", name);
    s_write (text);
    char error [256] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_not_null (cluster, "128-byte name: %s", error);
    cr_assert_str_eq (cluster_config_node_name (cluster, 0), name);
    cluster_config_destroy (&cluster);
}

Test (cluster_config, small_error_buffer)
{
    s_write_cluster (NULL, "8", "10", 10, NULL);
    char error [8];
    memset (error, 'x', sizeof (error));
    cr_assert_null (cluster_config_load (s_path, error, sizeof (error)));
    cr_assert_lt (strnlen (error, sizeof (error)), sizeof (error), "error is truncated, terminated");
}

//  Strict cluster file: one line naming FILE:LINE, the key, what was
//  expected. A typo must never start a cluster with a default k.

static void
s_expect_strict (int line, const char *expect)
{
    char where [256];
    snprintf (where, sizeof where, "%s:%d: ", s_path, line);
    s_expect_error (where);
    s_expect_error (expect);
}

Test (cluster_config, strict_unknown_key)
{
    s_write ("cluster\n    name = c\n    data-shard = 1\n    total-shards = 1\n    nodes\n"
             "        a\n            writer = tcp://127.0.0.1:1\n            reader = tcp://127.0.0.1:2\n");
    s_expect_strict (3, "unknown key 'cluster/data-shard' (did you mean 'cluster/data-shards'?)");
    s_write ("cluster\n    name = c\n    data-shards = 1\n    total-shards = 1\n    nodes\n"
             "        a\n            writer = tcp://127.0.0.1:1\n            raeder = tcp://127.0.0.1:2\n");
    s_expect_strict (8, "unknown key 'cluster/nodes/a/raeder' (did you mean 'cluster/nodes/a/reader'?)");
}

Test (cluster_config, strict_unknown_section)
{
    s_write_cluster ("c", "1", "1", 1, "clustre\n    name = d\n");
    s_expect_strict (9, "unknown section 'clustre' (did you mean 'cluster'?)");
}

Test (cluster_config, strict_duplicate_key)
{
    s_write ("cluster\n    name = c\n    data-shards = 1\n    data-shards = 2\n");
    s_expect_strict (4, "'cluster/data-shards' is given twice (first at line 3)");
}

Test (cluster_config, strict_bad_value)
{
    s_write_cluster ("c", "six", "10", 10, NULL);
    s_expect_strict (3, "expected numbers with 1 <= k <= n <= 255");
    s_write_cluster ("c", "1", "1", 1, "router\n    listen = nowhere\n");
    s_expect_strict (10, "router/listen: expected tcp://HOST:PORT");
}

Test (cluster_config, strict_directory_as_file)
{
    char error [512] = "";
    cr_assert_null (cluster_config_load (s_dir, error, sizeof (error)));
    cr_assert_not_null (strstr (error, "is a directory, expected a cluster file"), "%s", error);
}

Test (cluster_config, router_section_is_the_routers)
{
    //  The node reads the cluster file too: router keys are not its business
    s_write_cluster ("c", "1", "1", 1, "router\n    listen = tcp://127.0.0.1:9\n    node-timeout-ms = 5\n");
    char error [512] = "";
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof (error));
    cr_assert_not_null (cluster, "%s", error);
    cluster_config_destroy (&cluster);
}
