/*  =========================================================================
    scrub - the scrub actor: re-reads every record of the value files in
    the background and records what is damaged

    The loop waits on its pipe and on the request socket for as long as
    the rate allows (a pass is "due" to read its next record at
    pass_started + bytes checked / rate), then checks one record. Records
    come from the index in batches of S_BATCH, each batch in a read
    transaction of its own, so no snapshot is held while the scrub sleeps.
    See scrub.h and docs/storage.md.
    =========================================================================
*/
#include "scrub.h"
#include "actor_start.h"
#include "digest.h"
#include "index_reader.h"
#include "record_reader.h"
#include "reply.h"
#include "reply_cache.h"
#include "request.h"
#include "timestamp.h"

#define S_BATCH             64          //  records read from the index at once
#define S_FILE_CACHE_MAX    8           //  value files kept open
#define S_BUSY_TIMEOUT_MS   250         //  longest an index write waits for the writer
#define S_SAVE_EVERY_US     5000000     //  checkpoint this often during a pass
#define S_IDLE_WAIT_MS      1000        //  longest poll wait
#define S_WAITING_MAX       64          //  scrub requests waiting for their pass

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *requests;              //  PULL: scrub requests from the writer
    const node_config_t *config;
    node_stats_t *stats;
    index_reader_t *index;          //  own connection
    record_reader_t *records;       //  reads and verifies records
    reply_cache_t *replies;         //  answers scrub requests
    reply_t *reply;                 //  reused
    zlistx_t *waiting;              //  request_t * to answer at the end of the pass
    index_scrub_state_t state;      //  checkpoint
    index_record_t *batch;          //  records of the index, S_BATCH
    int batch_count;                //  entries in batch
    int batch_next;                 //  next to check
    int64_t pass_started_us;        //  when this run of the pass started (rate)
    uint64_t run_bytes;             //  bytes checked since then (rate)
    uint64_t pass_records;          //  records checked in the pass
    uint64_t pass_damaged;          //  of those, damaged
    int64_t saved_us;               //  last checkpoint
    bool dirty;                     //  the checkpoint has unsaved changes
} scrub_t;

//  --------------------------------------------------------------------------
//  Checkpoint

static void
s_save (scrub_t *self)
{
    if (index_reader_scrub_save (self->index, &self->state) == 0)
        self->dirty = false;
    self->saved_us = timestamp_now ();
}

//  Start a pass from the beginning
static void
s_pass_begin (scrub_t *self)
{
    self->state.in_pass = true;
    self->state.value_file_id = -1;
    self->state.record_offset = -1;
    self->state.pass_bytes = 0;
    self->pass_started_us = timestamp_now ();
    self->run_bytes = 0;
    self->pass_records = 0;
    self->pass_damaged = 0;
    self->batch_count = self->batch_next = 0;
    atomic_store (&self->stats->scrub_position, 0);
    zsys_info ("scrub: pass started");
    s_save (self);
}

//  Answer every waiting request with the pass's figures
static void
s_answer_waiting (scrub_t *self, result_t result, const char *message)
{
    request_t *request;
    while ((request = (request_t *) zlistx_detach (self->waiting, NULL))) {
        node_stats_result (self->stats, result);
        reply_prepare (self->reply, request, result, message);
        if (result == RESULT_SUCCESS) {
            self->reply->fields |= REPLY_FIELD_RECORDS_CHECKED | REPLY_FIELD_BYTES_CHECKED
                                 | REPLY_FIELD_DAMAGED_FOUND;
            self->reply->records_checked = self->pass_records;
            self->reply->bytes_checked = self->state.pass_bytes;
            self->reply->damaged_found = self->pass_damaged;
        }
        reply_cache_send (self->replies, self->reply, NULL);
        request_destroy (&request);
    }
}

static void
s_pass_end (scrub_t *self)
{
    int64_t now = timestamp_now ();
    self->state.in_pass = false;
    self->state.passes++;
    self->state.last_pass_end_us = now;
    self->state.next_pass_us = now + (int64_t) self->config->scrub_interval_seconds * 1000000;
    atomic_store (&self->stats->scrub_passes, self->state.passes);
    atomic_store (&self->stats->scrub_last_pass_end, (uint64_t) (now / 1000000));
    atomic_store (&self->stats->scrub_position, 0);
    zsys_info ("scrub: pass ended: %" PRIu64 " records, %" PRIu64 " bytes checked, %" PRIu64 " damaged",
               self->pass_records, self->state.pass_bytes, self->pass_damaged);
    s_save (self);
    s_answer_waiting (self, RESULT_SUCCESS, NULL);
}

//  --------------------------------------------------------------------------
//  Checking one record

static void
s_damaged (scrub_t *self, const index_record_t *record, const char *problem)
{
    self->pass_damaged++;
    if (index_reader_damage_known (self->index, record->value_file_id, record->record_offset) == 1)
        return;                     //  counted when first found
    zsys_error ("scrub: damaged record: value file %016" PRIx64 " offset %" PRIu64
                " (segment %" PRId64 ", sequence %" PRIu32 "): %s",
                record->value_file_id, record->record_offset, record->segment_id,
                record->sequence_num, problem);
    atomic_fetch_add (&self->stats->damaged_records, 1);
    //  Busy: try a few times (the scrub can wait; a read cannot)
    for (int attempt = 0; attempt < 8; attempt++)
        if (index_reader_record_damage (self->index, record->value_file_id, record->record_offset,
                                        record->segment_id, record->sequence_num,
                                        timestamp_now (), problem) == 0)
            return;
    zsys_error ("scrub: the index stayed busy: damage of value file %016" PRIx64 " offset %" PRIu64
                " not recorded (found again by the next pass)", record->value_file_id,
                record->record_offset);
}

static void
s_check (scrub_t *self, const index_record_t *record)
{
    record_location_t where = {
        .value_file_id = record->value_file_id,
        .volume = record->volume,
        .record_offset = record->record_offset,
        .record_size = record->record_size,
        .collection_id = record->collection_id,
        .unified_id = record->unified_id,
        .conjoined_part = record->conjoined_part,
        .segment_num = record->segment_num,
        .sequence_num = record->sequence_num,
        .segment_size = record->segment_size,
    };
    memcpy (where.md5, record->md5, DIGEST_MD5_SIZE);
    zframe_t *frame = NULL;
    char problem [200] = "";
    result_t result = record_reader_read (self->records, &where, &frame, problem, sizeof (problem));
    if (result == RESULT_SUCCESS) {
        uint8_t md5 [DIGEST_MD5_SIZE];
        digest_md5 (frame? zframe_data (frame): NULL, frame? zframe_size (frame): 0, md5);
        if (memcmp (md5, record->md5, DIGEST_MD5_SIZE) != 0) {
            result = RESULT_MD5_MISMATCH;
            snprintf (problem, sizeof (problem), "value file %016" PRIx64 " offset %" PRIu64
                      ": payload MD5 differs from the index", record->value_file_id,
                      record->record_offset);
        }
    }
    zframe_destroy (&frame);
    if (result != RESULT_SUCCESS) {
        //  Moved or dropped since the batch was read (compaction): not damage
        int current = index_reader_record_current (self->index, record->value_file_id,
                                                   record->record_offset, record->segment_id);
        if (current == 1) {
            if (result == RESULT_IO_ERROR)
                snprintf (problem + strlen (problem), sizeof (problem) - strlen (problem),
                          " (unreadable)");
            s_damaged (self, record, problem);
        }
    }
    self->pass_records++;
    self->state.pass_bytes += record->record_size;
    self->run_bytes += record->record_size;
    self->state.value_file_id = (int64_t) record->value_file_id;
    self->state.record_offset = (int64_t) record->record_offset;
    self->dirty = true;
    atomic_fetch_add (&self->stats->scrub_bytes, record->record_size);
    atomic_store (&self->stats->scrub_position, self->state.pass_bytes);
}

//  Check the next record of the pass, or end the pass
static void
s_step (scrub_t *self)
{
    if (self->batch_next == self->batch_count) {
        int count = index_reader_scrub_batch (self->index, self->state.value_file_id,
                                              self->state.record_offset, self->batch, S_BATCH);
        if (count < 0) {
            //  Try again after a pause (the rate wait)
            self->run_bytes += self->config->scrub_bytes_per_second;
            return;
        }
        self->batch_count = count;
        self->batch_next = 0;
        if (count == 0) {
            s_pass_end (self);
            return;
        }
    }
    s_check (self, &self->batch [self->batch_next++]);
    if (timestamp_now () - self->saved_us >= S_SAVE_EVERY_US)
        s_save (self);
}

//  --------------------------------------------------------------------------
//  Requests

static void
s_receive (scrub_t *self)
{
    zmsg_t *msg = zmsg_recv (self->requests);
    zframe_t *header = msg? zmsg_first (msg): NULL;
    request_t *request = request_new ();
    request_error_t error;
    if (!header || !request
    ||  request_decode (request, zframe_data (header), zframe_size (header), &error) != 0
    ||  request->type != MSG_SCRUB) {
        request_destroy (&request);
        zmsg_destroy (&msg);
        return;                     //  the writer sends only valid scrub requests
    }
    zmsg_destroy (&msg);
    //  A pass that covers every record from now on: start one again
    s_pass_begin (self);
    if (!(request->present & FIELD_CLIENT_ADDRESS))
        request_destroy (&request);
    else
    if (zlistx_size (self->waiting) >= S_WAITING_MAX) {
        node_stats_result (self->stats, RESULT_OVERLOADED);
        reply_prepare (self->reply, request, RESULT_OVERLOADED, "scrub: too many requests waiting");
        reply_cache_send (self->replies, self->reply, NULL);
        request_destroy (&request);
    }
    else
        zlistx_add_end (self->waiting, request);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_destroy (scrub_t **self_p)
{
    scrub_t *self = *self_p;
    if (!self)
        return;
    if (self->index && self->dirty)
        s_save (self);
    if (self->waiting) {
        s_answer_waiting (self, RESULT_IO_ERROR, "scrub: the node stopped before the pass ended");
        zlistx_destroy (&self->waiting);
    }
    zsock_destroy (&self->requests);
    reply_cache_destroy (&self->replies);
    reply_destroy (&self->reply);
    record_reader_destroy (&self->records);
    index_reader_destroy (&self->index);
    free (self->batch);
    free (self);
    *self_p = NULL;
}

static scrub_t *
s_new (zsock_t *pipe, scrub_args_t *args, char *error, size_t error_size)
{
    const node_config_t *config = args->config;
    scrub_t *self = (scrub_t *) zmalloc (sizeof (scrub_t));
    self->pipe = pipe;
    self->config = config;
    self->stats = args->stats;
    self->waiting = zlistx_new ();
    self->reply = reply_new ();
    const char *volumes [NODE_CONFIG_MAX_VOLUMES];
    size_t volume_count = node_config_volume_list (config, volumes);
    self->records = record_reader_new (volumes, volume_count, S_FILE_CACHE_MAX);
    self->batch = (index_record_t *) calloc (S_BATCH, sizeof (index_record_t));
    int hwm = config->reply_hwm < 32? config->reply_hwm: 32;
    self->replies = reply_cache_new (args->allow, args->stats, 8, config->reply_idle_seconds,
                                     config->reply_send_timeout_ms, hwm);
    if (self->replies)
        reply_cache_set_curve (self->replies, config->curve);
    if (!self->waiting || !self->reply || !self->records || !self->batch || !self->replies) {
        snprintf (error, error_size, "scrub: out of memory");
        return self;
    }
    char path [1100];
    snprintf (path, sizeof (path), "%s/index.db", config->data_dir);
    self->index = index_reader_open (path, S_BUSY_TIMEOUT_MS, error, error_size);
    if (!self->index)
        return self;
    if (index_reader_scrub_load (self->index, &self->state)) {
        snprintf (error, error_size, "scrub: cannot read the checkpoint in %s", path);
        return self;
    }
    self->requests = zsock_new (ZMQ_PULL);
    if (!self->requests || zsock_bind (self->requests, "%s", args->request_endpoint) < 0) {
        snprintf (error, error_size, "scrub: cannot bind %s", args->request_endpoint);
        return self;
    }
    //  The next background pass: one interval after the last one ended;
    //  a new index has its first one interval after it was first opened
    //  (the interval may have changed since: the setting in force counts)
    int64_t now = timestamp_now ();
    int64_t interval_us = (int64_t) config->scrub_interval_seconds * 1000000;
    int64_t next = self->state.last_pass_end_us > 0? self->state.last_pass_end_us + interval_us
                                                   : now + interval_us;
    if (self->state.next_pass_us == 0 || next < self->state.next_pass_us) {
        self->state.next_pass_us = next;
        s_save (self);
    }
    atomic_store (&self->stats->scrub_passes, self->state.passes);
    atomic_store (&self->stats->scrub_last_pass_end, (uint64_t) (self->state.last_pass_end_us / 1000000));
    if (self->state.in_pass) {
        self->pass_started_us = now;
        atomic_store (&self->stats->scrub_position, self->state.pass_bytes);
        if (config->scrub_enabled)
            zsys_info ("scrub: resuming the pass after value file %016" PRIx64 " offset %" PRId64,
                       (uint64_t) self->state.value_file_id, self->state.record_offset);
    }
    self->saved_us = now;
    *error = 0;
    return self;
}

//  Milliseconds until the pass may read its next record (0: now)
static long
s_due_ms (scrub_t *self, int64_t now)
{
    double rate = (double) self->config->scrub_bytes_per_second;
    int64_t due = self->pass_started_us + (int64_t) ((double) self->run_bytes * 1e6 / rate);
    return due <= now? 0: (long) ((due - now + 999) / 1000);
}

void
scrub_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "strata-scrub");
    char error [512] = "";
    scrub_t *self = s_new (pipe, (scrub_args_t *) args, error, sizeof (error));
    if (!actor_start_report (pipe, error)) {
        s_destroy (&self);
        actor_start_wait_term (pipe);
        return;
    }
    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->requests), 0, ZMQ_POLLIN, 0 },
    };
    bool terminated = false;
    while (!terminated) {
        int64_t now = timestamp_now ();
        //  A background pass is due
        if (!self->state.in_pass && self->config->scrub_enabled && now >= self->state.next_pass_us)
            s_pass_begin (self);
        //  A pass runs in the background only when enabled; one asked for
        //  always runs
        bool running = self->state.in_pass
                    && (self->config->scrub_enabled || zlistx_size (self->waiting) > 0);
        long wait_ms = S_IDLE_WAIT_MS;
        if (running)
            wait_ms = s_due_ms (self, now);
        else
        if (!self->state.in_pass && self->config->scrub_enabled) {
            int64_t until = (self->state.next_pass_us - now + 999) / 1000;
            if (until < wait_ms)
                wait_ms = until < 0? 0: (long) until;
        }
        if (wait_ms > S_IDLE_WAIT_MS)
            wait_ms = S_IDLE_WAIT_MS;
        int rc = zmq_poll (items, 2, wait_ms);
        if (rc < 0 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM"))
                terminated = true;
            zstr_free (&command);
            continue;
        }
        if (items [1].revents & ZMQ_POLLIN) {
            s_receive (self);
            continue;
        }
        now = timestamp_now ();
        running = self->state.in_pass
               && (self->config->scrub_enabled || zlistx_size (self->waiting) > 0);
        if (running && s_due_ms (self, now) == 0)
            s_step (self);
        else
        if (self->dirty && now - self->saved_us >= S_SAVE_EVERY_US)
            s_save (self);
        reply_cache_expire (self->replies);
    }
    s_destroy (&self);
}
