/*  =========================================================================
    test_node_http - the node's /metrics text and its readiness rule

    The metrics come from the node's own stats map, one table row per
    field: present fields are written with HELP and TYPE, absent ones are
    left out; the reply counts and histograms come from node_stats. The
    readiness rule: index open, not stopping, every volume above its
    reserve.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "node_http.h"
#include "timestamp.h"

static char *
s_metrics (const node_config_t *config, node_stats_t *stats)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    cr_assert_not_null (out);
    node_http_write_metrics (config, stats, out);
    fclose (out);
    return text;
}

static void
s_config (node_config_t *config, uint64_t reserve_bytes)
{
    memset (config, 0, sizeof *config);
    snprintf (config->name, sizeof config->name, "unit");
    snprintf (config->volumes [0], sizeof config->volumes [0], "/tmp");
    config->volume_count = 1;
    config->reserve_bytes = reserve_bytes;
}

Test (node_http, metrics_from_stats)
{
    node_config_t config;
    s_config (&config, 0);
    node_stats_t *stats = node_stats_new ();
    node_stats_set_volumes (stats, (const char (*) [1024]) config.volumes, config.volume_count);
    atomic_store (&stats->bytes_stored, 123);
    atomic_store (&stats->syncs, 4);
    atomic_store (&stats->results [RESULT_OVERLOADED], 2);
    node_stats_replied (stats, MSG_ARCHIVE_KEY_ENTIRE, RESULT_SUCCESS, timestamp_now ());
    node_stats_replied (stats, MSG_ARCHIVE_KEY_ENTIRE, RESULT_OUT_OF_SPACE, timestamp_now ());
    atomic_store (&stats->index_open, true);
    char *text = s_metrics (&config, stats);
    const char *present [] = {
        "# TYPE strata_node_stored_bytes_total counter\nstrata_node_stored_bytes_total 123\n",
        "strata_node_commits_total 4\n",
        "strata_node_overloaded_total 2\n",
        "strata_node_up 1\n",
        "strata_node_ready 1\n",
        "strata_node_build_info{version=\"" STRATA_VERSION "\"} 1\n",
        "strata_node_requests_total{type=\"archive-key-entire\",result=\"success\"} 1\n",
        "strata_node_requests_total{type=\"archive-key-entire\",result=\"out-of-space\"} 1\n",
        "strata_node_requests_total{type=\"ping\",result=\"success\"} 0\n",
        "strata_node_request_duration_seconds_count{type=\"archive-key-entire\"} 2\n",
        "# TYPE strata_node_commit_duration_seconds histogram\n",
        "strata_node_volume_free_bytes{volume=\"/tmp\"} ",
        "strata_node_volume_total_bytes{volume=\"/tmp\"} ",
        "strata_node_handoff_pending_segments 0\n",
        "strata_node_damaged_records_total 0\n",
    };
    for (size_t index = 0; index < sizeof present / sizeof present [0]; index++)
        cr_assert_not_null (strstr (text, present [index]), "missing: %s", present [index]);
    //  Results never seen for a type are left out
    cr_assert_null (strstr (text, "type=\"ping\",result=\"io-error\""));
    //  A metric whose stats field the node does not have is left out, with
    //  its HELP and TYPE; one it has is written
    bool has_garbage = strstr (text, "strata_node_garbage_bytes ") != NULL;
    cr_assert_eq (has_garbage, strstr (text, "# TYPE strata_node_garbage_bytes gauge") != NULL);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    node_stats_encode (stats, &buffer);
    bool stats_has_garbage = memmem (buffer.data, buffer.size, "garbage-bytes", 13) != NULL;
    cr_assert_eq (has_garbage, stats_has_garbage);
    msgpack_sbuffer_destroy (&buffer);
    free (text);
    node_stats_destroy (&stats);
}

Test (node_http, readiness)
{
    node_config_t config;
    s_config (&config, 0);
    node_stats_t *stats = node_stats_new ();
    char why [512];
    cr_assert_eq (node_http_ready (&config, stats, why, sizeof why), -1);
    cr_assert_not_null (strstr (why, "index is not open"), "%s", why);
    atomic_store (&stats->index_open, true);
    cr_assert_eq (node_http_ready (&config, stats, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq (why, "ready");
    //  A reserve larger than any filesystem: out of space
    s_config (&config, 1ULL << 62);
    cr_assert_eq (node_http_ready (&config, stats, why, sizeof why), -1);
    cr_assert_not_null (strstr (why, "out of space: volume /tmp"), "%s", why);
    s_config (&config, 0);
    atomic_store (&stats->stopping, true);
    cr_assert_eq (node_http_ready (&config, stats, why, sizeof why), -1);
    cr_assert_not_null (strstr (why, "stopping"), "%s", why);
    node_stats_destroy (&stats);
}
