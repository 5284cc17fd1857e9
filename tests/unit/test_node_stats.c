/*  =========================================================================
    test_node_stats - the node's counters and the stats map

    The encoded map is read back with msgpack-c, as any sender would: its
    exact key set (node_stats.c header), the per-type and per-result maps,
    segments by status, and sync-latency percentiles from known samples.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_stats.h"
#include "timestamp.h"

static node_stats_t *s_stats;
static msgpack_sbuffer s_buffer;
static msgpack_unpacked s_unpacked;

static void
s_setup (void)
{
    s_stats = node_stats_new ();
    cr_assert_not_null (s_stats);
    msgpack_sbuffer_init (&s_buffer);
    msgpack_unpacked_init (&s_unpacked);
}

static void
s_teardown (void)
{
    node_stats_destroy (&s_stats);
    msgpack_sbuffer_destroy (&s_buffer);
    msgpack_unpacked_destroy (&s_unpacked);
}

TestSuite (node_stats, .init = s_setup, .fini = s_teardown);

//  Encode and unpack; returns the root map
static msgpack_object
s_encode (void)
{
    s_buffer.size = 0;
    node_stats_encode (s_stats, &s_buffer);
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack_next (&s_unpacked, s_buffer.data, s_buffer.size, &offset),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (offset, s_buffer.size, "exactly one object");
    cr_assert_eq (s_unpacked.data.type, MSGPACK_OBJECT_MAP);
    return s_unpacked.data;
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen (name)
        && memcmp (key->via.str.ptr, name, key->via.str.size) == 0;
}

//  The value of key in map; asserts it is there exactly once
static const msgpack_object *
s_get (const msgpack_object *map, const char *name)
{
    cr_assert_eq (map->type, MSGPACK_OBJECT_MAP);
    const msgpack_object *found = NULL;
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object_kv *pair = &map->via.map.ptr [index];
        cr_assert_eq (pair->key.type, MSGPACK_OBJECT_STR, "keys are strings");
        if (s_key_is (&pair->key, name)) {
            cr_assert_null (found, "key '%s' appears twice", name);
            found = &pair->val;
        }
    }
    cr_assert_not_null (found, "key '%s' is missing", name);
    return found;
}

static uint64_t
s_uint (const msgpack_object *map, const char *name)
{
    const msgpack_object *value = s_get (map, name);
    cr_assert_eq (value->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "'%s' is an unsigned int", name);
    return value->via.u64;
}

//  --------------------------------------------------------------------------

Test (node_stats, new_is_zero)
{
    cr_assert_gt (s_stats->started_us, 0);
    cr_assert_leq (s_stats->started_us, timestamp_now ());
    for (int type = 0; type < MSG_TYPE_COUNT; type++)
        cr_assert_eq (atomic_load (&s_stats->requests [type]), 0);
    cr_assert_eq (atomic_load (&s_stats->latency_count), 0);
    cr_assert_eq (node_stats_uptime (s_stats), 0);
    node_stats_t *other = NULL;
    node_stats_destroy (&other);
    node_stats_destroy (&s_stats);
    cr_assert_null (s_stats);
}

Test (node_stats, counters)
{
    for (int count = 0; count < 3; count++)
        node_stats_request (s_stats, MSG_PING);
    node_stats_request (s_stats, MSG_ARCHIVE_KEY_ENTIRE);
    node_stats_request (s_stats, MSG_UNKNOWN);
    node_stats_request (s_stats, MSG_TYPE_COUNT);           //  out of range: ignored
    node_stats_request (s_stats, (message_type_t) -1);
    node_stats_result (s_stats, RESULT_SUCCESS);
    node_stats_result (s_stats, RESULT_SUCCESS);
    node_stats_result (s_stats, RESULT_OVERLOADED);
    node_stats_result (s_stats, RESULT_COUNT);
    node_stats_result (s_stats, (result_t) -5);
    cr_assert_eq (atomic_load (&s_stats->requests [MSG_PING]), 3);
    cr_assert_eq (atomic_load (&s_stats->requests [MSG_ARCHIVE_KEY_ENTIRE]), 1);
    cr_assert_eq (atomic_load (&s_stats->requests [MSG_UNKNOWN]), 1);
    cr_assert_eq (atomic_load (&s_stats->requests [MSG_STATS]), 0);
    cr_assert_eq (atomic_load (&s_stats->results [RESULT_SUCCESS]), 2);
    cr_assert_eq (atomic_load (&s_stats->results [RESULT_OVERLOADED]), 1);
    cr_assert_eq (atomic_load (&s_stats->results [RESULT_IO_ERROR]), 0);
}

static void *
s_bump (void *arg)
{
    node_stats_t *stats = (node_stats_t *) arg;
    for (int count = 0; count < 100000; count++) {
        node_stats_request (stats, MSG_RETRIEVE_KEY_START);
        node_stats_result (stats, RESULT_NOT_FOUND);
    }
    return NULL;
}

Test (node_stats, counters_from_threads)
{
    pthread_t threads [4];
    for (int index = 0; index < 4; index++)
        cr_assert_eq (pthread_create (&threads [index], NULL, s_bump, s_stats), 0);
    for (int index = 0; index < 4; index++)
        pthread_join (threads [index], NULL);
    cr_assert_eq (atomic_load (&s_stats->requests [MSG_RETRIEVE_KEY_START]), 400000);
    cr_assert_eq (atomic_load (&s_stats->results [RESULT_NOT_FOUND]), 400000);
}

Test (node_stats, encode_keys)
{
    msgpack_object root = s_encode ();
    const char *keys [] = {
        "requests", "results", "bytes-stored", "value-files", "active-segments",
        "queue-depth", "syncs", "sync-failures", "replies-dropped", "requests-dropped",
        "stale-segments-cancelled",
        "auth-failures", "damaged-records", "retrieved-bytes", "uptime-seconds", "segments", "sync-latency-us",
        "handoff", "volumes", "value-bytes", "live-bytes", "garbage-bytes", "compactions",
        "compacted-bytes", "compact-waiting-for-space",
        "scrub-passes", "scrub-bytes", "scrub-last-pass-end", "scrub-position",
        "stage-latency-us",
    };
    size_t count = sizeof (keys) / sizeof (keys [0]);
    cr_assert_eq (root.via.map.size, count, "exactly the documented keys (%u)", root.via.map.size);
    for (size_t index = 0; index < count; index++)
        s_get (&root, keys [index]);
    cr_assert_eq (s_get (&root, "requests")->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (s_get (&root, "results")->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (s_get (&root, "segments")->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (s_get (&root, "sync-latency-us")->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (s_get (&root, "handoff")->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (s_get (&root, "stage-latency-us")->type, MSGPACK_OBJECT_MAP);
}

//  The entry of stage-latency-us/stage/name as an unsigned integer
static uint64_t
s_stage_value (const msgpack_object *root, const char *stage, const char *name)
{
    const msgpack_object *stages = s_get (root, "stage-latency-us");
    const msgpack_object *entry = s_get (s_get (stages, stage), name);
    cr_assert_eq (entry->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "%s/%s", stage, name);
    return entry->via.u64;
}

Test (node_stats, stages_of_a_write)
{
    //  Received at 1000 us; verified 8 us later, taken 300 us after that,
    //  written 20 us later, synced 1500 us later, replied 40 us later
    node_stage_stamps_t stamps;
    int64_t at [NODE_STAGE_COUNT] = { 1008, 1308, 1328, 2828, 2868 };
    memcpy (stamps.at, at, sizeof (at));
    node_stats_stages (s_stats, 1000, &stamps);
    node_stats_stages (s_stats, 1000, &stamps);
    //  A request that never reached the reply is not counted
    stamps.at [NODE_STAGE_REPLIED] = 0;
    node_stats_stages (s_stats, 1000, &stamps);
    //  Nor one with no receive time
    stamps.at [NODE_STAGE_REPLIED] = 2868;
    node_stats_stages (s_stats, 0, &stamps);

    msgpack_object root = s_encode ();
    const char *names [] = { "verified", "taken", "written", "synced", "replied" };
    for (int stage = 0; stage < NODE_STAGE_COUNT; stage++) {
        cr_assert_str_eq (node_stage_name ((node_stage_t) stage), names [stage]);
        cr_assert_eq (s_stage_value (&root, names [stage], "count"), 2, "%s", names [stage]);
    }
    //  Each median falls in the bucket of its duration
    cr_assert_leq (s_stage_value (&root, "verified", "p50"), 10);
    uint64_t taken = s_stage_value (&root, "taken", "p50");
    cr_assert (taken > 250 && taken <= 500, "taken p50 %llu", (unsigned long long) taken);
    uint64_t written = s_stage_value (&root, "written", "p50");
    cr_assert (written > 10 && written <= 25, "written p50 %llu", (unsigned long long) written);
    uint64_t synced = s_stage_value (&root, "synced", "p50");
    cr_assert (synced > 1000 && synced <= 2500, "synced p50 %llu", (unsigned long long) synced);
    uint64_t replied = s_stage_value (&root, "replied", "p50");
    cr_assert (replied > 25 && replied <= 50, "replied p50 %llu", (unsigned long long) replied);
    //  The bucket bounds come with them, one fewer than the buckets
    const msgpack_object *stages = s_get (&root, "stage-latency-us");
    const msgpack_object *bounds = s_get (stages, "bounds");
    const msgpack_object *buckets = s_get (s_get (stages, "taken"), "buckets");
    cr_assert_eq (bounds->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (buckets->via.array.size, bounds->via.array.size + 1);
}

Test (node_stats, handoff_empty)
{
    msgpack_object root = s_encode ();
    const msgpack_object *handoff = s_get (&root, "handoff");
    cr_assert_eq (handoff->via.map.size, 8);
    cr_assert_eq (s_get (handoff, "running")->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert_not (s_get (handoff, "running")->via.boolean);
    cr_assert_eq (s_uint (handoff, "held"), 0);
    cr_assert_eq (s_uint (handoff, "pending"), 0);
    cr_assert_eq (s_uint (handoff, "forwarded"), 0);
    cr_assert_eq (s_uint (handoff, "bytes-forwarded"), 0);
    cr_assert_eq (s_uint (handoff, "damaged"), 0);
    cr_assert_eq (s_uint (handoff, "failures"), 0);
    cr_assert_eq (s_get (handoff, "owners")->via.map.size, 0);
}

Test (node_stats, handoff_owners_and_totals)
{
    node_stats_owner_t owners [2] = {
        { .name = "node02", .held = 5, .pending = 3, .forwarded = 7 },
        { .name = "node07", .held = 1, .pending = 1, .forwarded = 0 },
    };
    cr_assert_eq (node_stats_set_handoff (s_stats, owners, 2), 0);
    owners [0].held = 99;                                   //  a copy was taken
    atomic_store (&s_stats->handoff_running, true);
    atomic_store (&s_stats->handoff_bytes, 4096);
    atomic_store (&s_stats->handoff_damaged, 2);
    atomic_store (&s_stats->handoff_failures, 3);
    msgpack_object root = s_encode ();
    const msgpack_object *handoff = s_get (&root, "handoff");
    cr_assert (s_get (handoff, "running")->via.boolean);
    cr_assert_eq (s_uint (handoff, "held"), 6);
    cr_assert_eq (s_uint (handoff, "pending"), 4);
    cr_assert_eq (s_uint (handoff, "forwarded"), 7);
    cr_assert_eq (s_uint (handoff, "bytes-forwarded"), 4096);
    cr_assert_eq (s_uint (handoff, "damaged"), 2);
    cr_assert_eq (s_uint (handoff, "failures"), 3);
    const msgpack_object *listed = s_get (handoff, "owners");
    cr_assert_eq (listed->via.map.size, 2);
    const msgpack_object *first = s_get (listed, "node02");
    cr_assert_eq (first->via.map.size, 3);
    cr_assert_eq (s_uint (first, "held"), 5);
    cr_assert_eq (s_uint (first, "pending"), 3);
    cr_assert_eq (s_uint (first, "forwarded"), 7);
    cr_assert_eq (s_uint (s_get (listed, "node07"), "pending"), 1);

    //  Replaced as a whole; an empty table lists nothing
    cr_assert_eq (node_stats_set_handoff (s_stats, owners, 1), 0);
    root = s_encode ();
    handoff = s_get (&root, "handoff");
    cr_assert_eq (s_uint (handoff, "held"), 99);
    cr_assert_eq (s_get (handoff, "owners")->via.map.size, 1);
    cr_assert_eq (node_stats_set_handoff (s_stats, NULL, 0), 0);
    root = s_encode ();
    handoff = s_get (&root, "handoff");
    cr_assert_eq (s_uint (handoff, "held"), 0);
    cr_assert_eq (s_get (handoff, "owners")->via.map.size, 0);
}

Test (node_stats, encode_values)
{
    node_stats_request (s_stats, MSG_PING);
    node_stats_request (s_stats, MSG_PING);
    node_stats_request (s_stats, MSG_UNKNOWN);
    node_stats_request (s_stats, MSG_RETRIEVE_KEY_NEXT);
    node_stats_result (s_stats, RESULT_MD5_MISMATCH);
    atomic_store (&s_stats->bytes_stored, 1ULL << 40);
    atomic_store (&s_stats->value_files, 3);
    atomic_store (&s_stats->segments_active, 5);
    atomic_store (&s_stats->segments_finished, 6);
    atomic_store (&s_stats->segments_cancelled, 7);
    atomic_store (&s_stats->segments_tombstone, -2);        //  never negative on the wire
    atomic_store (&s_stats->queue_depth, -1);
    atomic_store (&s_stats->syncs, 11);
    atomic_store (&s_stats->sync_failures, 12);
    atomic_store (&s_stats->replies_dropped, 13);
    atomic_store (&s_stats->requests_dropped, 14);
    atomic_store (&s_stats->damaged_records, 15);
    atomic_store (&s_stats->retrieved_bytes, UINT64_MAX);

    msgpack_object root = s_encode ();
    const msgpack_object *requests = s_get (&root, "requests");
    cr_assert_eq (requests->via.map.size, MSG_TYPE_COUNT - 1, "every request type but unknown");
    for (int type = 1; type < MSG_TYPE_COUNT; type++) {
        uint64_t expect = type == MSG_PING? 2: type == MSG_RETRIEVE_KEY_NEXT? 1: 0;
        cr_assert_eq (s_uint (requests, message_type_name ((message_type_t) type)), expect,
                      "requests/%s", message_type_name ((message_type_t) type));
    }
    cr_assert_eq (s_uint (requests, "ping"), 2);
    cr_assert_eq (s_uint (requests, "archive-key-entire"), 0);

    const msgpack_object *results = s_get (&root, "results");
    cr_assert_eq (results->via.map.size, RESULT_COUNT);
    for (int result = 0; result < RESULT_COUNT; result++)
        cr_assert_eq (s_uint (results, result_name ((result_t) result)),
                      result == RESULT_MD5_MISMATCH? 1: 0);
    cr_assert_eq (s_uint (results, "md5-mismatch"), 1);
    cr_assert_eq (s_uint (results, "success"), 0);

    cr_assert_eq (s_uint (&root, "bytes-stored"), 1ULL << 40);
    cr_assert_eq (s_uint (&root, "value-files"), 3);
    cr_assert_eq (s_uint (&root, "active-segments"), 5);
    cr_assert_eq (s_uint (&root, "queue-depth"), 0);
    cr_assert_eq (s_uint (&root, "syncs"), 11);
    cr_assert_eq (s_uint (&root, "sync-failures"), 12);
    cr_assert_eq (s_uint (&root, "replies-dropped"), 13);
    cr_assert_eq (s_uint (&root, "requests-dropped"), 14);
    cr_assert_eq (s_uint (&root, "damaged-records"), 15);
    cr_assert_eq (s_uint (&root, "retrieved-bytes"), UINT64_MAX);

    const msgpack_object *segments = s_get (&root, "segments");
    cr_assert_eq (segments->via.map.size, 4);
    cr_assert_eq (s_uint (segments, "active"), 5);
    cr_assert_eq (s_uint (segments, "finished"), 6);
    cr_assert_eq (s_uint (segments, "cancelled"), 7);
    cr_assert_eq (s_uint (segments, "tombstone"), 0);
}

Test (node_stats, encode_appends)
{
    msgpack_sbuffer_write (&s_buffer, "\xc0", 1);          //  a nil already there
    node_stats_encode (s_stats, &s_buffer);
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack_next (&s_unpacked, s_buffer.data, s_buffer.size, &offset),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (s_unpacked.data.type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (msgpack_unpack_next (&s_unpacked, s_buffer.data, s_buffer.size, &offset),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (s_unpacked.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (offset, s_buffer.size);
}

static void
s_expect_latency (uint64_t p50, uint64_t p90, uint64_t p99, uint64_t max)
{
    msgpack_object root = s_encode ();
    const msgpack_object *latency = s_get (&root, "sync-latency-us");
    cr_assert_eq (latency->via.map.size, 4);
    cr_assert_eq (s_uint (latency, "p50"), p50, "p50 %llu", (unsigned long long) s_uint (latency, "p50"));
    cr_assert_eq (s_uint (latency, "p90"), p90, "p90 %llu", (unsigned long long) s_uint (latency, "p90"));
    cr_assert_eq (s_uint (latency, "p99"), p99, "p99 %llu", (unsigned long long) s_uint (latency, "p99"));
    cr_assert_eq (s_uint (latency, "max"), max);
}

Test (node_stats, latency_empty)
{
    s_expect_latency (0, 0, 0, 0);
}

Test (node_stats, latency_one_sample)
{
    node_stats_sync_latency (s_stats, 777);
    s_expect_latency (777, 777, 777, 777);
}

Test (node_stats, latency_percentiles)
{
    //  1..100 in a scrambled order (37 is coprime with 100)
    for (uint64_t index = 0; index < 100; index++)
        node_stats_sync_latency (s_stats, (index * 37) % 100 + 1);
    s_expect_latency (50, 90, 99, 100);
}

Test (node_stats, latency_window_is_last_1024)
{
    //  2000 samples 1..2000 in order: only 977..2000 remain
    for (uint64_t value = 1; value <= 2000; value++)
        node_stats_sync_latency (s_stats, value);
    cr_assert_eq (atomic_load (&s_stats->latency_count), 2000);
    s_expect_latency (977 + 511, 977 + 920, 977 + 1012, 2000);

    //  An early huge sample has left the window
    node_stats_t *other = node_stats_new ();
    node_stats_sync_latency (other, 1000000);
    for (int count = 0; count < NODE_STATS_LATENCY_SAMPLES; count++)
        node_stats_sync_latency (other, 10);
    node_stats_destroy (&s_stats);
    s_stats = other;
    s_expect_latency (10, 10, 10, 10);
}

Test (node_stats, latency_clamped)
{
    node_stats_sync_latency (s_stats, UINT64_MAX);
    node_stats_sync_latency (s_stats, 1ULL << 33);
    s_expect_latency (UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX);
}

Test (node_stats, uptime)
{
    s_stats->started_us = timestamp_now () - 5500000;
    cr_assert_eq (node_stats_uptime (s_stats), 5);
    msgpack_object root = s_encode ();
    cr_assert_eq (s_uint (&root, "uptime-seconds"), 5);
    s_stats->started_us = timestamp_now () + 10000000;      //  clock went back
    cr_assert_eq (node_stats_uptime (s_stats), 0);
}

Test (node_stats, volumes_with_free_and_total_bytes)
{
    msgpack_object root = s_encode ();
    cr_assert_eq (s_get (&root, "volumes")->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (s_get (&root, "volumes")->via.array.size, 0);
    static const char volumes [2][1024] = { "/tmp", "/no/such/volume" };
    node_stats_set_volumes (s_stats, volumes, 2);
    root = s_encode ();
    const msgpack_object *listed = s_get (&root, "volumes");
    cr_assert_eq (listed->via.array.size, 2);
    const msgpack_object *first = &listed->via.array.ptr [0];
    cr_assert_eq (first->via.map.size, 3);
    const msgpack_object *path = s_get (first, "path");
    cr_assert_eq (path->type, MSGPACK_OBJECT_STR);
    cr_assert_eq (path->via.str.size, 4);
    cr_assert (s_uint (first, "total-bytes") > 0);
    cr_assert (s_uint (first, "free-bytes") <= s_uint (first, "total-bytes"));
    //  A volume statvfs cannot read shows zeros, not an error
    cr_assert_eq (s_uint (&listed->via.array.ptr [1], "total-bytes"), 0);
}

Test (node_stats, replied_counts_and_durations)
{
    int64_t received = timestamp_now () - 3000;     //  3 ms ago
    node_stats_replied (s_stats, MSG_ARCHIVE_KEY_ENTIRE, RESULT_SUCCESS, received);
    node_stats_replied (s_stats, MSG_ARCHIVE_KEY_ENTIRE, RESULT_SUCCESS, received);
    node_stats_replied (s_stats, MSG_ARCHIVE_KEY_ENTIRE, RESULT_MD5_MISMATCH, received);
    node_stats_replied (s_stats, MSG_TYPE_COUNT, RESULT_SUCCESS, received);      //  ignored
    node_stats_replied (s_stats, MSG_PING, RESULT_COUNT, received);              //  ignored
    cr_assert_eq (atomic_load (&s_stats->replies [MSG_ARCHIVE_KEY_ENTIRE][RESULT_SUCCESS]), 2);
    cr_assert_eq (atomic_load (&s_stats->replies [MSG_ARCHIVE_KEY_ENTIRE][RESULT_MD5_MISMATCH]), 1);
    cr_assert_eq (atomic_load (&s_stats->request_duration [MSG_ARCHIVE_KEY_ENTIRE].count), 3);
    cr_assert (atomic_load (&s_stats->request_duration [MSG_ARCHIVE_KEY_ENTIRE].sum_us) >= 9000);
    cr_assert_eq (atomic_load (&s_stats->request_duration [MSG_PING].count), 0);
    node_stats_sync_latency (s_stats, 1500);
    cr_assert_eq (atomic_load (&s_stats->commit_duration.count), 1);
}
