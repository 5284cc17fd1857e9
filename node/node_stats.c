/*  =========================================================================
    node_stats - the node's counters, shared by its threads

    The stats map (proto/PROTOCOL.md, "Service messages") is:
      requests         map type-name -> count
      results          map result-name -> count
      bytes-stored, value-files, active-segments, queue-depth, syncs,
      sync-failures, replies-dropped, requests-dropped, stale-segments-cancelled,
      auth-failures, damaged-records,
      retrieved-bytes, uptime-seconds, value-bytes, live-bytes, garbage-bytes,
      compactions, compacted-bytes, compact-waiting-for-space,
      scrub-passes, scrub-bytes, scrub-last-pass-end (seconds since the
      epoch, 0: never), scrub-position (bytes checked in the pass under way)
      segments         map active/finished/cancelled/tombstone -> count
      sync-latency-us  map p50/p90/p99/max (over the last 1024 syncs)
      handoff          map: running (bool), held, pending, forwarded (totals
                       over owners), bytes-forwarded, damaged, failures,
                       owners (map owner name -> held/pending/forwarded)
      volumes          array of maps: path, free-bytes, total-bytes (statvfs:
                       free is what an unprivileged writer may use)

    The metrics endpoint (node_http) encodes this map too, on its own
    thread: every field here must be an atomic or be read under a lock.
    =========================================================================
*/
#include <czmq.h>
#include <sys/statvfs.h>
#include "node_stats.h"
#include "curve.h"
#include "timestamp.h"

node_stats_t *
node_stats_new (void)
{
    node_stats_t *self = (node_stats_t *) zmalloc (sizeof (node_stats_t));
    self->started_us = timestamp_now ();
    pthread_mutex_init (&self->handoff_lock, NULL);
    return self;
}

void
node_stats_destroy (node_stats_t **self_p)
{
    assert (self_p);
    node_stats_t *self = *self_p;
    if (self) {
        pthread_mutex_destroy (&self->handoff_lock);
        free (self->handoff_owners);
        free (self);
        *self_p = NULL;
    }
}

int
node_stats_set_handoff (node_stats_t *self, const node_stats_owner_t *owners, size_t count)
{
    assert (self);
    assert (owners || count == 0);
    if (count > NODE_STATS_HANDOFF_OWNERS_MAX)
        count = NODE_STATS_HANDOFF_OWNERS_MAX;
    node_stats_owner_t *copy = NULL;
    if (count) {
        copy = (node_stats_owner_t *) malloc (count * sizeof (node_stats_owner_t));
        if (!copy)
            return -1;
        memcpy (copy, owners, count * sizeof (node_stats_owner_t));
    }
    pthread_mutex_lock (&self->handoff_lock);
    node_stats_owner_t *old = self->handoff_owners;
    self->handoff_owners = copy;
    self->handoff_owner_count = count;
    pthread_mutex_unlock (&self->handoff_lock);
    free (old);
    return 0;
}

void
node_stats_request (node_stats_t *self, message_type_t type)
{
    if ((int) type >= 0 && type < MSG_TYPE_COUNT)
        atomic_fetch_add_explicit (&self->requests [type], 1, memory_order_relaxed);
}

void
node_stats_result (node_stats_t *self, result_t result)
{
    if ((int) result >= 0 && result < RESULT_COUNT)
        atomic_fetch_add_explicit (&self->results [result], 1, memory_order_relaxed);
}

void
node_stats_sync_latency (node_stats_t *self, uint64_t usec)
{
    uint64_t count = atomic_load_explicit (&self->latency_count, memory_order_relaxed);
    atomic_store_explicit (&self->latency_us [count % NODE_STATS_LATENCY_SAMPLES],
                           usec > UINT32_MAX? UINT32_MAX: (uint32_t) usec, memory_order_relaxed);
    atomic_store_explicit (&self->latency_count, count + 1, memory_order_relaxed);
    metrics_histogram_observe (&self->commit_duration, usec);
}

void
node_stats_replied (node_stats_t *self, message_type_t type, result_t result, int64_t received_us)
{
    assert (self);
    if ((int) type < 0 || type >= MSG_TYPE_COUNT || (int) result < 0 || result >= RESULT_COUNT)
        return;
    atomic_fetch_add_explicit (&self->replies [type][result], 1, memory_order_relaxed);
    int64_t elapsed = timestamp_now () - received_us;
    metrics_histogram_observe (&self->request_duration [type], elapsed > 0? (uint64_t) elapsed: 0);
}

static const char *s_stage_names [NODE_STAGE_COUNT] = {
    "verified", "taken", "written", "synced", "replied"
};

const char *
node_stage_name (node_stage_t stage)
{
    return (int) stage >= 0 && stage < NODE_STAGE_COUNT? s_stage_names [stage]: "unknown";
}

void
node_stats_stages (node_stats_t *self, int64_t received_us, const node_stage_stamps_t *stamps)
{
    assert (self && stamps);
    int64_t previous = received_us;
    for (int stage = 0; stage < NODE_STAGE_COUNT; stage++)
        if (!stamps->at [stage] || !previous)
            return;
    for (int stage = 0; stage < NODE_STAGE_COUNT; stage++) {
        int64_t elapsed = stamps->at [stage] - previous;
        metrics_histogram_observe (&self->stage_duration [stage], elapsed > 0? (uint64_t) elapsed: 0);
        previous = stamps->at [stage];
    }
}

void
node_stats_set_volumes (node_stats_t *self, const char (*volumes) [1024], size_t count)
{
    assert (self);
    assert (volumes || count == 0);
    self->volumes = volumes;
    self->volume_count = count;
}

uint64_t
node_stats_uptime (node_stats_t *self)
{
    int64_t elapsed = timestamp_now () - self->started_us;
    return elapsed > 0? (uint64_t) elapsed / 1000000: 0;
}

static int
s_compare_uint32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y? -1: x > y? 1: 0;
}

static void
s_pack_key (msgpack_packer *packer, const char *key)
{
    size_t size = strlen (key);
    msgpack_pack_str (packer, size);
    msgpack_pack_str_body (packer, key, size);
}

static void
s_pack_uint (msgpack_packer *packer, const char *key, uint64_t value)
{
    s_pack_key (packer, key);
    msgpack_pack_uint64 (packer, value);
}

static uint64_t
s_load (_Atomic uint64_t *counter)
{
    return atomic_load_explicit (counter, memory_order_relaxed);
}

static uint64_t
s_load_signed (_Atomic int64_t *counter)
{
    int64_t value = atomic_load_explicit (counter, memory_order_relaxed);
    return value > 0? (uint64_t) value: 0;
}

void
node_stats_encode (node_stats_t *self, msgpack_sbuffer *buffer)
{
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 19 + 6 + 4 + 1);     //  base and metrics 19, compaction 6, scrub 4, stages 1

    s_pack_key (&packer, "requests");
    int type_count = 0;
    for (int type = 1; type < MSG_TYPE_COUNT; type++)
        type_count++;
    msgpack_pack_map (&packer, type_count);
    for (int type = 1; type < MSG_TYPE_COUNT; type++)
        s_pack_uint (&packer, message_type_name ((message_type_t) type), s_load (&self->requests [type]));

    s_pack_key (&packer, "results");
    msgpack_pack_map (&packer, RESULT_COUNT);
    for (int result = 0; result < RESULT_COUNT; result++)
        s_pack_uint (&packer, result_name ((result_t) result), s_load (&self->results [result]));

    s_pack_uint (&packer, "bytes-stored", s_load (&self->bytes_stored));
    s_pack_uint (&packer, "value-files", s_load (&self->value_files));
    s_pack_key (&packer, "segments");
    msgpack_pack_map (&packer, 4);
    s_pack_uint (&packer, "active", s_load_signed (&self->segments_active));
    s_pack_uint (&packer, "finished", s_load_signed (&self->segments_finished));
    s_pack_uint (&packer, "cancelled", s_load_signed (&self->segments_cancelled));
    s_pack_uint (&packer, "tombstone", s_load_signed (&self->segments_tombstone));
    s_pack_uint (&packer, "active-segments", s_load_signed (&self->segments_active));
    s_pack_uint (&packer, "queue-depth", s_load_signed (&self->queue_depth));
    s_pack_uint (&packer, "syncs", s_load (&self->syncs));
    s_pack_uint (&packer, "sync-failures", s_load (&self->sync_failures));

    //  Percentiles over the samples we have
    uint64_t count = s_load (&self->latency_count);
    size_t samples = count < NODE_STATS_LATENCY_SAMPLES? (size_t) count: NODE_STATS_LATENCY_SAMPLES;
    uint32_t sorted [NODE_STATS_LATENCY_SAMPLES];
    for (size_t index = 0; index < samples; index++)
        sorted [index] = atomic_load_explicit (&self->latency_us [index], memory_order_relaxed);
    qsort (sorted, samples, sizeof (uint32_t), s_compare_uint32);
    s_pack_key (&packer, "sync-latency-us");
    msgpack_pack_map (&packer, 4);
    s_pack_uint (&packer, "p50", samples? sorted [(samples - 1) * 50 / 100]: 0);
    s_pack_uint (&packer, "p90", samples? sorted [(samples - 1) * 90 / 100]: 0);
    s_pack_uint (&packer, "p99", samples? sorted [(samples - 1) * 99 / 100]: 0);
    s_pack_uint (&packer, "max", samples? sorted [samples - 1]: 0);

    s_pack_uint (&packer, "replies-dropped", s_load (&self->replies_dropped));
    s_pack_uint (&packer, "requests-dropped", s_load (&self->requests_dropped));
    s_pack_uint (&packer, "stale-segments-cancelled", s_load (&self->stale_segments_cancelled));
    s_pack_uint (&packer, "auth-failures", s_load (&self->auth_failures));
    s_pack_uint (&packer, "damaged-records", s_load (&self->damaged_records));
    s_pack_uint (&packer, "retrieved-bytes", s_load (&self->retrieved_bytes));
    s_pack_uint (&packer, "uptime-seconds", node_stats_uptime (self));
    s_pack_uint (&packer, "scrub-passes", s_load (&self->scrub_passes));
    s_pack_uint (&packer, "scrub-bytes", s_load (&self->scrub_bytes));
    s_pack_uint (&packer, "scrub-last-pass-end", s_load (&self->scrub_last_pass_end));
    s_pack_uint (&packer, "scrub-position", s_load (&self->scrub_position));
    //  Space and compaction (docs/storage.md, "Compaction")
    s_pack_uint (&packer, "value-bytes", s_load (&self->value_bytes));
    s_pack_uint (&packer, "live-bytes", s_load (&self->live_bytes));
    s_pack_uint (&packer, "garbage-bytes", s_load (&self->garbage_bytes));
    s_pack_uint (&packer, "compactions", s_load (&self->compactions));
    s_pack_uint (&packer, "compacted-bytes", s_load (&self->compacted_bytes));
    s_pack_uint (&packer, "compact-waiting-for-space", s_load (&self->compact_waiting_for_space));

    //  Handoff: totals over the owners, then each owner
    pthread_mutex_lock (&self->handoff_lock);
    uint64_t held = 0, pending = 0, forwarded = 0;
    for (size_t index = 0; index < self->handoff_owner_count; index++) {
        held += self->handoff_owners [index].held;
        pending += self->handoff_owners [index].pending;
        forwarded += self->handoff_owners [index].forwarded;
    }
    s_pack_key (&packer, "handoff");
    msgpack_pack_map (&packer, 8);
    s_pack_key (&packer, "running");
    if (atomic_load_explicit (&self->handoff_running, memory_order_relaxed))
        msgpack_pack_true (&packer);
    else
        msgpack_pack_false (&packer);
    s_pack_uint (&packer, "held", held);
    s_pack_uint (&packer, "pending", pending);
    s_pack_uint (&packer, "forwarded", forwarded);
    s_pack_uint (&packer, "bytes-forwarded", s_load (&self->handoff_bytes));
    s_pack_uint (&packer, "damaged", s_load (&self->handoff_damaged));
    s_pack_uint (&packer, "failures", s_load (&self->handoff_failures));
    s_pack_key (&packer, "owners");
    msgpack_pack_map (&packer, self->handoff_owner_count);
    for (size_t index = 0; index < self->handoff_owner_count; index++) {
        const node_stats_owner_t *owner = &self->handoff_owners [index];
        s_pack_key (&packer, owner->name);
        msgpack_pack_map (&packer, 3);
        s_pack_uint (&packer, "held", owner->held);
        s_pack_uint (&packer, "pending", owner->pending);
        s_pack_uint (&packer, "forwarded", owner->forwarded);
    }
    pthread_mutex_unlock (&self->handoff_lock);

    //  Stages of successful archive requests since the node started: for
    //  each, count, p50, p99 and the per-bucket counts (bounds in "bounds";
    //  the last bucket has no bound), so a client can diff two snapshots
    s_pack_key (&packer, "stage-latency-us");
    msgpack_pack_map (&packer, 1 + NODE_STAGE_COUNT);
    s_pack_key (&packer, "bounds");
    msgpack_pack_array (&packer, METRICS_BUCKETS);
    for (size_t bucket = 0; bucket < METRICS_BUCKETS; bucket++)
        msgpack_pack_uint64 (&packer, metrics_bucket_bound_us (bucket));
    for (int stage = 0; stage < NODE_STAGE_COUNT; stage++) {
        uint64_t counts [METRICS_BUCKETS + 1], total = 0;
        metrics_histogram_counts (&self->stage_duration [stage], counts);
        for (size_t bucket = 0; bucket <= METRICS_BUCKETS; bucket++)
            total += counts [bucket];
        s_pack_key (&packer, node_stage_name ((node_stage_t) stage));
        msgpack_pack_map (&packer, 4);
        s_pack_uint (&packer, "count", total);
        s_pack_uint (&packer, "p50", metrics_buckets_quantile_us (counts, 0.5));
        s_pack_uint (&packer, "p99", metrics_buckets_quantile_us (counts, 0.99));
        s_pack_key (&packer, "buckets");
        msgpack_pack_array (&packer, METRICS_BUCKETS + 1);
        for (size_t bucket = 0; bucket <= METRICS_BUCKETS; bucket++)
            msgpack_pack_uint64 (&packer, counts [bucket]);
    }

    //  Volumes: free and total bytes now
    s_pack_key (&packer, "volumes");
    msgpack_pack_array (&packer, self->volume_count);
    for (size_t index = 0; index < self->volume_count; index++) {
        struct statvfs figures;
        uint64_t free_bytes = 0, total_bytes = 0;
        if (statvfs (self->volumes [index], &figures) == 0) {
            free_bytes = (uint64_t) figures.f_bavail * figures.f_frsize;
            total_bytes = (uint64_t) figures.f_blocks * figures.f_frsize;
        }
        msgpack_pack_map (&packer, 3);
        s_pack_key (&packer, "path");
        s_pack_key (&packer, self->volumes [index]);
        s_pack_uint (&packer, "free-bytes", free_bytes);
        s_pack_uint (&packer, "total-bytes", total_bytes);
    }
}

void
node_stats_auth_failure (void *self_, int event, const char *address)
{
    node_stats_t *self = (node_stats_t *) self_;
    assert (self);
    atomic_fetch_add_explicit (&self->auth_failures, 1, memory_order_relaxed);
    curve_failure_log (event, address);
}
