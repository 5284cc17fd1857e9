/*  =========================================================================
    node_stats - the node's counters, shared by its threads

    Plain atomic counters (relaxed ordering): the dispatcher, writer and
    reader each bump their own, and the writer encodes a snapshot for the
    `stats` reply. Nothing else is shared between the threads.
    =========================================================================
*/
#ifndef STRATA_NODE_STATS_H_INCLUDED
#define STRATA_NODE_STATS_H_INCLUDED

#include <stdatomic.h>
#include <stdint.h>
#include <msgpack.h>
#include "message_type.h"
#include "result.h"

#define NODE_STATS_LATENCY_SAMPLES 1024

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
    _Atomic int64_t queue_bytes;                    //  their payload bytes
    _Atomic uint64_t syncs;                         //  group commits done
    _Atomic uint64_t sync_failures;                 //  group commits that failed
    _Atomic uint64_t replies_dropped;               //  replies not deliverable
    _Atomic uint64_t requests_dropped;              //  requests with no usable reply address
    _Atomic uint64_t damaged_records;               //  records found damaged on read
    _Atomic uint64_t retrieved_bytes;               //  payload bytes sent by the reader
    //  Sync latencies, written by the writer only (ring buffer)
    uint32_t latency_us [NODE_STATS_LATENCY_SAMPLES];
    _Atomic uint64_t latency_count;                 //  samples written so far
    int64_t started_us;                             //  node start time
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

//  Record one sync's latency (writer thread only).
void
    node_stats_sync_latency (node_stats_t *self, uint64_t usec);

//  Encode the stats map of a stats-reply into buffer (appending).
void
    node_stats_encode (node_stats_t *self, msgpack_sbuffer *buffer);

//  Seconds since the node started.
uint64_t
    node_stats_uptime (node_stats_t *self);

#endif
