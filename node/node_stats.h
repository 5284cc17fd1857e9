/*  =========================================================================
    node_stats - the node's counters, shared by its threads

    Plain atomic counters (relaxed ordering): the dispatcher, writer and
    reader each bump their own, and the writer encodes a snapshot for the
    `stats` reply. The handoff forwarder also publishes its per-owner
    figures here (a small table under a mutex, replaced as a whole).
    Nothing else is shared between the threads.
    =========================================================================
*/
#ifndef STRATA_NODE_STATS_H_INCLUDED
#define STRATA_NODE_STATS_H_INCLUDED

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "metrics.h"
#include "protocol_limits.h"
#include "message_type.h"
#include "result.h"

#define NODE_STATS_LATENCY_SAMPLES 1024

//  The stages of one archive request on its way through the node, each
//  named by the point it ends at; a stage's duration is the time since the
//  one before (received for the first). docs/performance.md, "Stages of a write".
typedef enum {
    NODE_STAGE_VERIFIED,        //  header decoded and judged, payload MD5 checked (dispatcher)
    NODE_STAGE_TAKEN,           //  taken from the writer's queue (waiting there)
    NODE_STAGE_WRITTEN,         //  appended to its value file, index rows added
    NODE_STAGE_SYNCED,          //  its group commit (fdatasync, index COMMIT) finished
    NODE_STAGE_REPLIED,         //  its reply handed to the reply socket
    NODE_STAGE_COUNT
} node_stage_t;

//  When a request reached each point after it was received (timestamp_now,
//  microseconds; 0 not yet)
typedef struct {
    int64_t at [NODE_STAGE_COUNT];
} node_stage_stamps_t;
#define NODE_STATS_HANDOFF_OWNERS_MAX 256   //  owners listed in the handoff map at most

//  Handoff copies held for one owner (published by the handoff forwarder)
typedef struct {
    char name [LIMIT_NODE_NAME_MAX + 1];    //  the owner's node name
    uint64_t held;                          //  copies held now (not yet forwarded)
    uint64_t pending;                       //  of those, ready to forward
    uint64_t forwarded;                     //  forwarded and purged since the node started
} node_stats_owner_t;

typedef struct {
    _Atomic uint64_t requests [MSG_TYPE_COUNT];     //  requests received, per type
    _Atomic uint64_t results [RESULT_COUNT];        //  replies/results, per code
    _Atomic uint64_t bytes_stored;                  //  payload bytes acknowledged
    _Atomic uint64_t value_files;                   //  value files known
    _Atomic int64_t segments_active;                //  segments by status
    _Atomic int64_t segments_finished;
    _Atomic int64_t segments_cancelled;
    _Atomic int64_t segments_tombstone;
    _Atomic int64_t queue_depth;                    //  requests between dispatcher and writer
    _Atomic uint64_t syncs;                         //  group commits done
    _Atomic uint64_t sync_failures;                 //  group commits that failed
    _Atomic uint64_t replies_dropped;               //  replies not deliverable
    _Atomic uint64_t requests_dropped;              //  requests with no usable reply address
    _Atomic uint64_t stale_segments_cancelled;      //  active segments cancelled by node/active-timeout-seconds
    _Atomic uint64_t auth_failures;                 //  CURVE handshakes refused on the listening sockets
    _Atomic uint64_t damaged_records;               //  records found damaged on read
    _Atomic uint64_t retrieved_bytes;               //  payload bytes sent by the reader
    //  Scrub (node/scrub.c)
    _Atomic uint64_t scrub_passes;                  //  passes completed (kept in the index)
    _Atomic uint64_t scrub_bytes;                   //  record bytes checked since the node started
    _Atomic uint64_t scrub_last_pass_end;           //  when the last pass ended, seconds since the epoch (0: never)
    _Atomic uint64_t scrub_position;                //  record bytes checked in the pass under way (0: none)
    //  Sync latencies, written by the writer only (ring buffer; atomic
    //  because the metrics thread encodes the stats map too)
    _Atomic uint32_t latency_us [NODE_STATS_LATENCY_SAMPLES];
    _Atomic uint64_t latency_count;                 //  samples written so far
    int64_t started_us;                             //  node start time
    //  Space and compaction
    _Atomic uint64_t value_bytes;                   //  bytes of value files (synced sizes)
    _Atomic uint64_t live_bytes;                    //  of which live
    _Atomic uint64_t garbage_bytes;                 //  of which garbage
    _Atomic uint64_t compactions;                   //  value files compacted
    _Atomic uint64_t compacted_bytes;               //  bytes reclaimed by compaction
    _Atomic uint64_t compact_waiting_for_space;     //  1 while a compaction waits for room
    //  Handoff forwarder
    _Atomic bool handoff_running;                   //  the forwarder runs
    _Atomic uint64_t handoff_bytes;                 //  payload bytes replayed to owners
    _Atomic uint64_t handoff_damaged;               //  handoff records found damaged (not sent)
    _Atomic uint64_t handoff_failures;              //  owner passes stopped by a failure or timeout
    pthread_mutex_t handoff_lock;                   //  guards the owner table
    node_stats_owner_t *handoff_owners;             //  per-owner figures, owned
    size_t handoff_owner_count;                     //  entries in handoff_owners
    //  Metrics (docs/operations.md): replies per type and result, request
    //  durations (receive -> reply) per type, commit durations
    _Atomic uint64_t replies [MSG_TYPE_COUNT][RESULT_COUNT];
    metrics_histogram_t request_duration [MSG_TYPE_COUNT];
    metrics_histogram_t commit_duration;
    metrics_histogram_t stage_duration [NODE_STAGE_COUNT];     //  successful archive requests
    //  Readiness (/readyz): the writer opened the index; the node is stopping
    _Atomic bool index_open;
    _Atomic bool stopping;
    //  Value-file volumes, reported with their free/total bytes (set once
    //  before the threads start; not owned)
    const char (*volumes) [1024];
    size_t volume_count;
} node_stats_t;

//  Create zeroed stats, with started_us = now. NULL on out-of-memory.
node_stats_t *
    node_stats_new (void);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    node_stats_destroy (node_stats_t **self_p);

//  Count a request of type, and a result.
void
    node_stats_request (node_stats_t *self, message_type_t type);
void
    node_stats_result (node_stats_t *self, result_t result);

//  A request of type was answered with result (or dropped after it was
//  judged, result then is its verdict); received_us is when it arrived
//  (timestamp_now). Counts it for the metrics and its duration.
void
    node_stats_replied (node_stats_t *self, message_type_t type, result_t result, int64_t received_us);

//  The name of a stage ("verified", "taken", "written", "synced",
//  "replied").
const char *
    node_stage_name (node_stage_t stage);

//  Count the stage durations of one archive request that succeeded, which
//  was received at received_us, from stamps whose every point is set
//  (stamps with a point unset are ignored).
void
    node_stats_stages (node_stats_t *self, int64_t received_us, const node_stage_stamps_t *stamps);

//  Give the value-file volumes (count paths of 1024 bytes, borrowed: they
//  must outlive the stats). The stats map lists them with free and total
//  bytes. Call before the threads start.
void
    node_stats_set_volumes (node_stats_t *self, const char (*volumes) [1024], size_t count);

//  Record one sync's latency (writer thread only).
void
    node_stats_sync_latency (node_stats_t *self, uint64_t usec);

//  Replace the per-owner handoff figures with a copy of owners [0..count)
//  (at most NODE_STATS_HANDOFF_OWNERS_MAX are kept). Returns 0, or -1 on
//  out-of-memory (the previous figures stay).
int
    node_stats_set_handoff (node_stats_t *self, const node_stats_owner_t *owners, size_t count);

//  Encode the stats map of a stats-reply into buffer (appending).
void
    node_stats_encode (node_stats_t *self, msgpack_sbuffer *buffer);

//  Seconds since the node started.
uint64_t
    node_stats_uptime (node_stats_t *self);

//  A CURVE handshake was refused on a listening socket: count it as
//  auth-failures and log it (at most one line per second per process, with
//  the number suppressed since). self is a node_stats_t *; the signature is
//  curve_failure_fn's, so it can be given to curve_monitor_new.
void
    node_stats_auth_failure (void *self, int event, const char *address);

#endif
