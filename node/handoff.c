/*  =========================================================================
    handoff - the handoff forwarder actor: sends the copies this node holds
    for other nodes back to their owners

    A round (every handoff/interval-ms): recount the copies held per owner
    (handoff_index_count) and publish the figures; then for each owner with
    copies pending, in name order: connect PUSH sockets to its writer and
    reader endpoints, ping, and if it answers as itself walk its pending
    copies oldest first (handoff_index_next with a cursor), forwarding and
    purging each. The owner's sockets are closed (linger 0, so nothing
    queued for a dead owner lingers) at the end of its pass.

    Every request is answered on the actor's PULL socket; replies are
    matched by message-id ("handoff-<session>-<n>", the session new with
    every start, as the system may give the reply port to the next run
    too), and stale ones (from a request that timed out) are dropped. While waiting, the actor also watches its
    pipe, so $TERM stops it within one poll.

    What one reply means for the copy being forwarded:
      success                         go on
      timeout, overloaded, io-error,  the owner cannot take it now: end the
      out-of-space                    owner's pass (counted as a failure)
      duplicate-segment to entire or  contention: another holder of the same
      start; unknown-segment or       copy (the router puts each absent
      invalid-request to next or      node's share on two nodes) is
      final                           replaying it at the same time, or
                                      cancelled ours. The copy is left
                                      alone for a random, doubling delay
                                      (capped); by then the other holder
                                      has usually finished, which the
                                      check before the next attempt sees.
      anything else                   this copy cannot be forwarded as it
                                      is (e.g. an unknown source node):
                                      logged, skipped until the node
                                      restarts

    Why one file of about a thousand lines: the forwarder is one state
    machine (round, owner pass, copy, reply) whose steps share the actor's
    state, its sockets and its reply matching. Split across files, that
    state would have to be published in a header, and the contention and
    back-off rules above would be spread over several places.
    =========================================================================
*/
#include <unistd.h>
#include "handoff.h"
#include "actor_start.h"
#include "handoff_index.h"
#include "heartbeat.h"
#include "record_reader.h"
#include "request.h"
#include "reply.h"
#include "timestamp.h"

#define S_FILE_CACHE_MAX    16          //  value files kept open
#define S_PING_TIMEOUT_MS   2000        //  longest wait for an owner's ping-reply
#define S_CLIENT_TAG        "strata-handoff"
#define S_BACKOFF_MAX_MS    600000      //  longest a contended copy is left alone

//  How forwarding one copy (or one request) ended
typedef enum {
    S_DONE,                 //  the owner has it: purge it
    S_SKIP,                 //  cannot be forwarded as it is: do not try again
    S_LATER,                //  not now: try again next round
    S_CONTENDED,            //  another holder is replaying it: back off
    S_OWNER_FAILED,         //  the owner failed or timed out: end its pass
    S_TERMINATED            //  $TERM: stop everything
} s_outcome_t;

//  A contended copy left alone for a while
typedef struct {
    int64_t until_us;               //  not tried before this
    int64_t delay_ms;               //  the last delay (doubles)
    char owner [LIMIT_NODE_NAME_MAX + 1];   //  whose copy it is
} s_backoff_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    const node_config_t *config;    //  settings
    cluster_config_t *cluster;      //  owners' endpoints
    node_stats_t *stats;            //  shared counters
    handoff_index_t *index;         //  read-only index connection
    record_reader_t *records;       //  reads and verifies sequence records
    zsock_t *replies;               //  PULL: every reply to the actor's requests
    char reply_address [300];       //  its endpoint (client-address)
    char own_writer [300];          //  this node's writer endpoint, connectable
    zsock_t *purger;                //  PUSH to this node's writer (purge-handoff)
    zsock_t *owner_writer;          //  PUSH to the current owner's writer
    zsock_t *owner_reader;          //  PUSH to the current owner's reader
    zhashx_t *owners;               //  owner name -> node_stats_owner_t (figures)
    zhashx_t *skipped;              //  "kind/row id" -> owner, copies not to try again
    zhashx_t *warned;               //  owner names already logged as unusable
    zhashx_t *backoff;              //  "kind/row id" -> s_backoff_t of contended copies
    request_t *request;             //  request being built, reused
    reply_t *reply;                 //  reply being decoded, reused
    msgpack_sbuffer buffer;         //  encoded header, reused
    char session [40];              //  message-id prefix, new with every start
    uint64_t message_count;         //  message-ids sent so far
    double tokens;                  //  rate limiter: payload bytes that may go now
    int64_t tokens_us;              //  when tokens was last refilled
    uint64_t pass_copies;           //  copies forwarded in the current pass
    uint64_t pass_bytes;            //  payload bytes sent in the current pass
    bool terminated;                //  $TERM received
} handoff_t;

//  --------------------------------------------------------------------------
//  Figures

//  Destructor of hash items that are one plain allocation
static void
s_item_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_compare_text (const void *item1, const void *item2)
{
    return strcmp ((const char *) item1, (const char *) item2);
}

static node_stats_owner_t *
s_owner (handoff_t *self, const char *name)
{
    node_stats_owner_t *owner = (node_stats_owner_t *) zhashx_lookup (self->owners, name);
    if (!owner) {
        owner = (node_stats_owner_t *) zmalloc (sizeof (node_stats_owner_t));
        snprintf (owner->name, sizeof (owner->name), "%s", name);
        zhashx_insert (self->owners, name, owner);
    }
    return owner;
}

static int
s_compare_names (const void *item1, const void *item2)
{
    return strcmp (((const node_stats_owner_t *) item1)->name,
                   ((const node_stats_owner_t *) item2)->name);
}

//  Publish the owners that hold something or had something forwarded
static void
s_publish (handoff_t *self)
{
    size_t count = 0;
    node_stats_owner_t *table = (node_stats_owner_t *)
        malloc ((zhashx_size (self->owners) + 1) * sizeof (node_stats_owner_t));
    if (!table)
        return;
    for (node_stats_owner_t *owner = (node_stats_owner_t *) zhashx_first (self->owners); owner;
         owner = (node_stats_owner_t *) zhashx_next (self->owners))
        if (owner->held || owner->pending || owner->forwarded)
            table [count++] = *owner;
    qsort (table, count, sizeof (node_stats_owner_t), s_compare_names);
    node_stats_set_handoff (self->stats, table, count);
    free (table);
}

static void
s_counted (void *arg, const char *name, uint64_t held, uint64_t pending)
{
    handoff_t *self = (handoff_t *) arg;
    node_stats_owner_t *owner = s_owner (self, name);
    owner->held += held;
    owner->pending += pending;
}

//  Recount what is held per owner from the index and publish it
static void
s_recount (handoff_t *self)
{
    //  Count into a fresh table first, so a failed count leaves the old one
    zhashx_t *previous = self->owners;
    self->owners = zhashx_new ();
    zhashx_set_destructor (self->owners, s_item_destroy);
    for (node_stats_owner_t *owner = (node_stats_owner_t *) zhashx_first (previous); owner;
         owner = (node_stats_owner_t *) zhashx_next (previous))
        if (owner->forwarded)
            s_owner (self, owner->name)->forwarded = owner->forwarded;
    if (handoff_index_count (self->index, s_counted, self)) {
        zhashx_destroy (&self->owners);
        self->owners = previous;
        return;
    }
    zhashx_destroy (&previous);
    s_publish (self);
}

//  --------------------------------------------------------------------------
//  Sockets and requests

static void
s_close_owner (handoff_t *self)
{
    zsock_destroy (&self->owner_writer);
    zsock_destroy (&self->owner_reader);
}

//  A PUSH socket connected to endpoint (linger 0, send timeout), or NULL
static zsock_t *
s_connect (handoff_t *self, const char *endpoint)
{
    zsock_t *socket = zsock_new (ZMQ_PUSH);
    if (!socket)
        return NULL;
    zsock_set_linger (socket, 0);
    zsock_set_sndtimeo (socket, (int) self->config->handoff_timeout_ms);
    zsock_set_sndhwm (socket, 16);
    heartbeat_apply_node_data (socket);
    if (self->config->curve)
        curve_client (self->config->curve, socket);
    if (zsock_connect (socket, "%s", endpoint)) {
        zsys_error ("handoff: cannot connect to %s", endpoint);
        zsock_destroy (&socket);
    }
    return socket;
}

//  Reset the request and fill its envelope
static void
s_prepare (handoff_t *self, message_type_t type)
{
    request_t *request = self->request;
    request_reset (request);
    request->type = type;
    snprintf (request->message_id, sizeof (request->message_id), "%s-%" PRIu64,
              self->session, ++self->message_count);
    snprintf (request->client_tag, sizeof (request->client_tag), "%s", S_CLIENT_TAG);
    snprintf (request->client_address, sizeof (request->client_address), "%s", self->reply_address);
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
}

//  Copy what names a copy into the request
static void
s_set_key (handoff_t *self, const handoff_item_t *item)
{
    request_t *request = self->request;
    request->collection_id = item->collection_id;
    snprintf (request->key, sizeof (request->key), "%s", item->key);
    request->key_size = strlen (request->key);
    request->unified_id = item->unified_id;
    request->present |= FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID;
    if (*item->user_request_id) {
        snprintf (request->user_request_id, sizeof (request->user_request_id), "%s",
                  item->user_request_id);
        request->present |= FIELD_USER_REQUEST_ID;
    }
}

//  Wait until the pipe says something or timeout_ms pass; false on $TERM
static bool
s_sleep (handoff_t *self, long timeout_ms)
{
    zmq_pollitem_t items [] = { { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 } };
    int64_t deadline = timestamp_now () + (int64_t) timeout_ms * 1000;
    while (!self->terminated) {
        int64_t left = (deadline - timestamp_now ()) / 1000;
        if (left <= 0)
            break;
        if (zmq_poll (items, 1, (long) left) < 0 && errno != EINTR) {
            self->terminated = true;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (self->pipe);
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            zstr_free (&command);
        }
    }
    return !self->terminated;
}

//  Send the request (and payload frame, consumed) to socket and wait for
//  its reply, decoded into self->reply. Returns S_DONE when a reply came
//  (whatever its result), S_OWNER_FAILED on timeout or send failure,
//  S_TERMINATED on $TERM.
static s_outcome_t
s_exchange (handoff_t *self, zsock_t *socket, zframe_t **payload_p, int64_t timeout_ms)
{
    self->buffer.size = 0;
    if (request_encode (self->request, &self->buffer)) {
        if (payload_p)
            zframe_destroy (payload_p);
        zsys_error ("handoff: cannot encode %s", message_type_name (self->request->type));
        return S_OWNER_FAILED;
    }
    zmsg_t *message = zmsg_new ();
    zmsg_addmem (message, self->buffer.data, self->buffer.size);
    if (payload_p && *payload_p)
        zmsg_append (message, payload_p);
    int rc = zmsg_send (&message, socket);
    zmsg_destroy (&message);
    if (rc) {
        zsys_warning ("handoff: cannot send %s: %s", message_type_name (self->request->type),
                      zmq_strerror (zmq_errno ()));
        return S_OWNER_FAILED;
    }
    zmq_pollitem_t items [] = {
        { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->replies), 0, ZMQ_POLLIN, 0 },
    };
    int64_t deadline = timestamp_now () + timeout_ms * 1000;
    while (true) {
        int64_t left = (deadline - timestamp_now ()) / 1000;
        if (left <= 0)
            return S_OWNER_FAILED;
        if (zmq_poll (items, 2, (long) left) < 0 && errno != EINTR) {
            self->terminated = true;
            return S_TERMINATED;
        }
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (self->pipe);
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            zstr_free (&command);
            if (self->terminated)
                return S_TERMINATED;
        }
        if (items [1].revents & ZMQ_POLLIN) {
            zmsg_t *answer = zmsg_recv (self->replies);
            zframe_t *header = answer? zmsg_first (answer): NULL;
            bool ours = header
                && reply_decode (self->reply, zframe_data (header), zframe_size (header)) == 0
                && streq (self->reply->message_id, self->request->message_id);
            zmsg_destroy (&answer);
            if (ours)
                return S_DONE;
        }
    }
}

//  The outcome of a reply that is not success, for a request to an owner
static s_outcome_t
s_failure (handoff_t *self, const char *owner, const char *what)
{
    result_t result = self->reply->result;
    zsys_warning ("handoff: %s: %s answered %s: %s", what, owner, result_name (result),
                  self->reply->error_message);
    if (result == RESULT_OVERLOADED || result == RESULT_IO_ERROR || result == RESULT_OUT_OF_SPACE)
        return S_OWNER_FAILED;
    return S_SKIP;
}

//  --------------------------------------------------------------------------
//  Rate limit

//  Wait until bytes may be sent (a bucket of one second's worth); false
//  on $TERM
static bool
s_throttle (handoff_t *self, uint64_t bytes)
{
    double rate = (double) self->config->handoff_rate_bytes;
    double need = (double) bytes < rate? (double) bytes: rate;
    while (true) {
        int64_t now = timestamp_now ();
        self->tokens += (double) (now - self->tokens_us) * rate / 1e6;
        if (self->tokens > rate)
            self->tokens = rate;
        self->tokens_us = now;
        if (self->tokens >= need) {
            self->tokens -= (double) bytes;
            return true;
        }
        long wait_ms = (long) ((need - self->tokens) * 1000.0 / rate) + 1;
        if (!s_sleep (self, wait_ms))
            return false;
    }
}

//  --------------------------------------------------------------------------
//  Forwarding one copy

//  Cancel the segment on the owner: S_DONE when it answered success or
//  unknown-segment (nothing active), else S_OWNER_FAILED or S_TERMINATED
static s_outcome_t
s_cancel_on_owner (handoff_t *self, const handoff_item_t *item)
{
    s_prepare (self, MSG_ARCHIVE_KEY_CANCEL);
    self->request->unified_id = item->unified_id;
    self->request->conjoined_part = item->conjoined_part;
    self->request->segment_num = item->segment_num;
    self->request->present |= FIELD_UNIFIED_ID | FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM;
    s_outcome_t outcome = s_exchange (self, self->owner_writer, NULL,
                                      (int64_t) self->config->handoff_timeout_ms);
    if (outcome == S_DONE && self->reply->result != RESULT_SUCCESS
    &&  self->reply->result != RESULT_UNKNOWN_SEGMENT)
        outcome = S_OWNER_FAILED;
    return outcome;
}

//  Fill the archive fields of one sequence message
static void
s_archive_request (handoff_t *self, const handoff_item_t *item, const handoff_sequence_t *sequence,
                   message_type_t type)
{
    s_prepare (self, type);
    s_set_key (self, item);
    request_t *request = self->request;
    request->timestamp = item->timestamp_us;
    request->conjoined_part = item->conjoined_part;
    request->segment_num = item->segment_num;
    request->sequence_num = sequence->sequence_num;
    request->segment_size = sequence->segment_size;
    request->zfec_padding_size = sequence->zfec_padding_size;
    memcpy (request->segment_md5, sequence->md5, DIGEST_MD5_SIZE);
    snprintf (request->source_node_name, sizeof (request->source_node_name), "%s", item->source);
    request->present |= FIELD_TIMESTAMP | FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM
                      | FIELD_SEQUENCE_NUM | FIELD_SEGMENT_SIZE | FIELD_ZFEC_PADDING_SIZE
                      | FIELD_SEGMENT_MD5 | FIELD_SOURCE_NODE_NAME;
    if (sequence->has_adler32) {
        request->segment_adler32 = sequence->adler32;
        request->present |= FIELD_SEGMENT_ADLER32;
    }
    if (type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_FINAL) {
        request->file_size = item->file_size;
        memcpy (request->file_hash, item->file_hash, DIGEST_MD5_SIZE);
        request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
        if (item->has_file_adler32) {
            request->file_adler32 = item->file_adler32;
            request->present |= FIELD_FILE_ADLER32;
        }
        if (item->meta && item->meta_size) {
            request->meta = (uint8_t *) malloc (item->meta_size);
            if (request->meta) {
                memcpy (request->meta, item->meta, item->meta_size);
                request->meta_size = item->meta_size;
                request->present |= FIELD_META;
            }
        }
    }
}

//  Does the owner already have this finished segment (visible)?
//  S_DONE yes, S_LATER no (replay it), or how asking failed
static s_outcome_t
s_owner_has (handoff_t *self, const char *owner, const handoff_item_t *item)
{
    s_prepare (self, MSG_RETRIEVE_KEY_START);
    s_set_key (self, item);
    self->request->conjoined_part = item->conjoined_part;
    self->request->segment_num = item->segment_num;
    self->request->present |= FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM;
    s_outcome_t outcome = s_exchange (self, self->owner_reader, NULL,
                                      (int64_t) self->config->handoff_timeout_ms);
    if (outcome != S_DONE)
        return outcome;
    result_t result = self->reply->result;
    if (result == RESULT_SUCCESS)
        return S_DONE;
    //  Not there, or there but damaged: store it (again)
    if (result == RESULT_NOT_FOUND || result == RESULT_MD5_MISMATCH)
        return S_LATER;
    return s_failure (self, owner, "retrieve-key-start");
}

static s_outcome_t
s_forward_segment (handoff_t *self, const char *owner, const handoff_item_t *item)
{
    s_outcome_t outcome = s_owner_has (self, owner, item);
    if (outcome != S_LATER)
        return outcome;
    if (item->sequence_count == 0) {
        zsys_error ("handoff: segment %" PRIu64 "/%" PRIu32 "/%u held for '%s' has no sequences",
                    item->unified_id, item->conjoined_part, item->segment_num, owner);
        return S_SKIP;
    }
    //  Clear what an interrupted replay may have left active
    outcome = s_cancel_on_owner (self, item);
    if (outcome != S_DONE)
        return outcome;

    handoff_sequence_t sequence;
    int64_t after = -1;
    uint32_t sent = 0;
    while (true) {
        int rc = handoff_index_sequence (self->index, item->row_id, after, &sequence);
        if (rc < 0)
            outcome = S_LATER;
        if (rc)
            break;
        after = sequence.sequence_num;
        message_type_t type = item->sequence_count == 1? MSG_ARCHIVE_KEY_ENTIRE
                            : sent == 0? MSG_ARCHIVE_KEY_START
                            : sequence.sequence_num == item->last_sequence_num? MSG_ARCHIVE_KEY_FINAL
                            : MSG_ARCHIVE_KEY_NEXT;
        record_location_t where = {
            .value_file_id = sequence.value_file_id,
            .volume = sequence.volume,
            .record_offset = sequence.record_offset,
            .record_size = sequence.record_size,
            .collection_id = item->collection_id,
            .unified_id = item->unified_id,
            .conjoined_part = item->conjoined_part,
            .segment_num = item->segment_num,
            .sequence_num = sequence.sequence_num,
            .segment_size = sequence.segment_size,
        };
        memcpy (where.md5, sequence.md5, DIGEST_MD5_SIZE);
        zframe_t *payload = NULL;
        char problem [256];
        result_t result = record_reader_read (self->records, &where, &payload, problem, sizeof (problem));
        if (result != RESULT_SUCCESS) {
            if (result == RESULT_MD5_MISMATCH) {
                zsys_error ("handoff: damaged record, not forwarded to '%s': segment %" PRIu64
                            "/%" PRIu32 "/%u sequence %" PRIu32 ": %s", owner, item->unified_id,
                            item->conjoined_part, item->segment_num, sequence.sequence_num, problem);
                atomic_fetch_add (&self->stats->damaged_records, 1);
                atomic_fetch_add (&self->stats->handoff_damaged, 1);
                outcome = S_SKIP;
            }
            else {
                zsys_error ("handoff: %s", problem);
                outcome = S_LATER;
            }
            break;
        }
        if (!s_throttle (self, sequence.segment_size)) {
            zframe_destroy (&payload);
            return S_TERMINATED;
        }
        s_archive_request (self, item, &sequence, type);
        outcome = s_exchange (self, self->owner_writer, &payload,
                              (int64_t) self->config->handoff_timeout_ms);
        zframe_destroy (&payload);
        if (outcome == S_DONE && self->reply->result != RESULT_SUCCESS) {
            result_t result = self->reply->result;
            bool first = type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_START;
            if ((first && result == RESULT_DUPLICATE_SEGMENT)
            ||  (!first && (result == RESULT_UNKNOWN_SEGMENT || result == RESULT_INVALID_REQUEST))) {
                zsys_debug ("handoff: %s of %" PRIu64 "/%" PRIu32 "/%u: %s answered %s (%s):"
                            " another holder is replaying it", message_type_name (type),
                            item->unified_id, item->conjoined_part, item->segment_num, owner,
                            result_name (result), self->reply->error_message);
                return S_CONTENDED;     //  what is active there now is not ours to cancel
            }
            outcome = s_failure (self, owner, message_type_name (type));
        }
        if (outcome != S_DONE)
            break;
        atomic_fetch_add (&self->stats->handoff_bytes, sequence.segment_size);
        self->pass_bytes += sequence.segment_size;
        sent++;
        if (type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_FINAL)
            return sent == item->sequence_count? S_DONE: S_SKIP;
    }
    if (outcome == S_DONE) {
        //  The sequences ended before the last one the segment row names
        zsys_error ("handoff: segment %" PRIu64 "/%" PRIu32 "/%u held for '%s': sequence rows"
                    " end before sequence %" PRIu32, item->unified_id, item->conjoined_part,
                    item->segment_num, owner, item->last_sequence_num);
        outcome = S_SKIP;
    }
    //  Stopped half-way: leave nothing active on the owner (an owner that
    //  failed is not asked again now; the next replay cancels first)
    if (sent > 0 && (outcome == S_SKIP || outcome == S_LATER)
    &&  s_cancel_on_owner (self, item) == S_OWNER_FAILED)
        outcome = S_OWNER_FAILED;
    return self->terminated? S_TERMINATED: outcome;
}

static s_outcome_t
s_forward_tombstone (handoff_t *self, const char *owner, const handoff_item_t *item)
{
    s_prepare (self, MSG_DESTROY_KEY);
    s_set_key (self, item);
    request_t *request = self->request;
    request->timestamp = item->timestamp_us;
    request->segment_num = item->segment_num;
    snprintf (request->source_node_name, sizeof (request->source_node_name), "%s", item->source);
    request->present |= FIELD_TIMESTAMP | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME;
    if (item->has_delete_unified_id) {
        request->unified_id_to_delete = item->delete_unified_id;
        request->present |= FIELD_UNIFIED_ID_TO_DELETE;
    }
    s_outcome_t outcome = s_exchange (self, self->owner_writer, NULL,
                                      (int64_t) self->config->handoff_timeout_ms);
    if (outcome == S_DONE && self->reply->result != RESULT_SUCCESS)
        outcome = s_failure (self, owner, "destroy-key");
    return outcome;
}

static s_outcome_t
s_forward_conjoined (handoff_t *self, const char *owner, const handoff_item_t *item)
{
    message_type_t types [2] = {
        MSG_START_CONJOINED_ARCHIVE,
        item->status == 'F'? MSG_FINISH_CONJOINED_ARCHIVE: MSG_ABORT_CONJOINED_ARCHIVE
    };
    for (size_t index = 0; index < 2; index++) {
        s_prepare (self, types [index]);
        s_set_key (self, item);
        self->request->timestamp = item->timestamp_us;
        self->request->present |= FIELD_TIMESTAMP;
        s_outcome_t outcome = s_exchange (self, self->owner_writer, NULL,
                                          (int64_t) self->config->handoff_timeout_ms);
        if (outcome != S_DONE)
            return outcome;
        result_t result = self->reply->result;
        //  Already active on the owner (an interrupted earlier replay, or
        //  the other holder's): go on
        if (result == RESULT_SUCCESS || (index == 0 && result == RESULT_DUPLICATE_SEGMENT))
            continue;
        //  Finished or aborted since we started it: the other holder of the
        //  same state did it
        if (index == 1 && result == RESULT_UNKNOWN_SEGMENT)
            return S_DONE;
        return s_failure (self, owner, message_type_name (types [index]));
    }
    return S_DONE;
}

//  Purge a forwarded copy: purge-handoff to this node's own writer.
//  S_DONE when purged (or no longer held), else S_LATER or S_TERMINATED.
static s_outcome_t
s_purge (handoff_t *self, const char *owner, const handoff_item_t *item)
{
    s_prepare (self, MSG_PURGE_HANDOFF);
    s_set_key (self, item);
    request_t *request = self->request;
    snprintf (request->handoff_node_name, sizeof (request->handoff_node_name), "%s", owner);
    request->present |= FIELD_HANDOFF_NODE_NAME;
    if (item->kind != HANDOFF_CONJOINED) {
        request->conjoined_part = item->conjoined_part;
        request->segment_num = item->segment_num;
        request->present |= FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM;
    }
    s_outcome_t outcome = s_exchange (self, self->purger, NULL,
                                      (int64_t) self->config->handoff_timeout_ms);
    if (outcome == S_TERMINATED)
        return outcome;
    if (outcome != S_DONE) {
        zsys_warning ("handoff: purge-handoff: this node's writer did not answer in time");
        return S_LATER;
    }
    //  unknown-segment: purged already (by an earlier attempt whose reply was lost)
    if (self->reply->result == RESULT_SUCCESS || self->reply->result == RESULT_UNKNOWN_SEGMENT)
        return S_DONE;
    zsys_warning ("handoff: purge-handoff: this node's writer answered %s: %s",
                  result_name (self->reply->result), self->reply->error_message);
    return S_LATER;
}

//  --------------------------------------------------------------------------
//  A pass over one owner

static void
s_skip_key (char *buffer, size_t size, const handoff_item_t *item)
{
    snprintf (buffer, size, "%c/%" PRId64, item->kind == HANDOFF_CONJOINED? 'c': 's', item->row_id);
}

//  Log a problem with an owner once (until it goes away)
static void
s_warn_once (handoff_t *self, const char *owner, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_warn_once (handoff_t *self, const char *owner, const char *format, ...)
{
    if (zhashx_lookup (self->warned, owner))
        return;
    zhashx_insert (self->warned, owner, (void *) "");
    char line [512];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof (line), format, args);
    va_end (args);
    zsys_warning ("handoff: %s", line);
}

//  Is the owner up, and is it the node it should be? Opens its sockets.
static bool
s_owner_answers (handoff_t *self, const char *owner)
{
    int index = cluster_config_node_index (self->cluster, owner);
    if (index < 0) {
        s_warn_once (self, owner, "copies are held for '%s', which is not a node of cluster '%s':"
                     " they cannot be forwarded", owner, cluster_config_name (self->cluster));
        return false;
    }
    const char *writer = cluster_config_node_writer (self->cluster, (size_t) index);
    const char *reader = cluster_config_node_reader (self->cluster, (size_t) index);
    self->owner_writer = s_connect (self, writer);
    self->owner_reader = s_connect (self, reader);
    if (!self->owner_writer || !self->owner_reader)
        return false;
    s_prepare (self, MSG_PING);
    int64_t timeout = (int64_t) self->config->handoff_timeout_ms;
    if (timeout > S_PING_TIMEOUT_MS)
        timeout = S_PING_TIMEOUT_MS;
    if (s_exchange (self, self->owner_writer, NULL, timeout) != S_DONE
    ||  self->reply->result != RESULT_SUCCESS) {
        if (!self->terminated)
            s_warn_once (self, owner, "'%s' does not answer ping at %s: its copies stay held"
                         " until it does", owner, writer);
        return false;
    }
    if (!streq (self->reply->node_name, owner)) {
        s_warn_once (self, owner, "%s answers as '%s', not as '%s': nothing is forwarded there",
                     writer, self->reply->node_name, owner);
        return false;
    }
    zhashx_delete (self->warned, owner);
    return true;
}

//  Copies held for owner that are not to be tried now: skipped (damaged,
//  refused) or left alone after a contention
static uint64_t
s_resting (handoff_t *self, const char *owner)
{
    uint64_t count = 0;
    for (const char *name = (const char *) zhashx_first (self->skipped); name;
         name = (const char *) zhashx_next (self->skipped))
        if (streq (name, owner))
            count++;
    int64_t now = timestamp_now ();
    for (s_backoff_t *backoff = (s_backoff_t *) zhashx_first (self->backoff); backoff;
         backoff = (s_backoff_t *) zhashx_next (self->backoff))
        if (now < backoff->until_us && streq (backoff->owner, owner))
            count++;
    return count;
}

//  Leave a contended copy alone for a random delay that doubles each time
//  (from about two rounds up to S_BACKOFF_MAX_MS)
static void
s_back_off (handoff_t *self, const char *skip_key, const char *owner)
{
    s_backoff_t *backoff = (s_backoff_t *) zhashx_lookup (self->backoff, skip_key);
    if (!backoff) {
        backoff = (s_backoff_t *) zmalloc (sizeof (s_backoff_t));
        snprintf (backoff->owner, sizeof (backoff->owner), "%s", owner);
        zhashx_insert (self->backoff, skip_key, backoff);
    }
    int64_t base = (int64_t) self->config->handoff_interval_ms * 2;
    if (base < 1000)
        base = 1000;
    backoff->delay_ms = backoff->delay_ms? backoff->delay_ms * 2: base;
    if (backoff->delay_ms > S_BACKOFF_MAX_MS)
        backoff->delay_ms = S_BACKOFF_MAX_MS;
    //  Random, so that two holders that collided do not collide again
    int64_t delay = backoff->delay_ms + (int64_t) (random () % (backoff->delay_ms + 1));
    backoff->until_us = timestamp_now () + delay * 1000;
}

//  Forward what is pending for owner; false if the actor must stop
static bool
s_forward_owner (handoff_t *self, const char *owner)
{
    if (!s_owner_answers (self, owner)) {
        s_close_owner (self);
        return !self->terminated;
    }
    node_stats_owner_t *figures = s_owner (self, owner);
    uint64_t resting = s_resting (self, owner);
    zsys_info ("handoff: '%s' answers: forwarding %" PRIu64 " handoff copies", owner,
               figures->pending > resting? figures->pending - resting: 0);
    self->pass_copies = 0;
    self->pass_bytes = 0;
    int64_t after_segment = 0, after_conjoined = 0;
    handoff_item_t item;
    memset (&item, 0, sizeof (item));
    bool stop = false;
    while (!stop && !self->terminated) {
        int rc = handoff_index_next (self->index, owner, after_segment, after_conjoined, &item);
        if (rc)
            break;
        if (item.kind == HANDOFF_CONJOINED)
            after_conjoined = item.row_id;
        else
            after_segment = item.row_id;
        char skip_key [40];
        s_skip_key (skip_key, sizeof (skip_key), &item);
        if (zhashx_lookup (self->skipped, skip_key))
            continue;
        s_backoff_t *backoff = (s_backoff_t *) zhashx_lookup (self->backoff, skip_key);
        if (backoff && timestamp_now () < backoff->until_us)
            continue;

        s_outcome_t outcome = item.kind == HANDOFF_SEGMENT? s_forward_segment (self, owner, &item)
                            : item.kind == HANDOFF_TOMBSTONE? s_forward_tombstone (self, owner, &item)
                            : s_forward_conjoined (self, owner, &item);
        if (outcome == S_DONE)
            outcome = s_purge (self, owner, &item);
        if (outcome != S_CONTENDED && outcome != S_TERMINATED)
            zhashx_delete (self->backoff, skip_key);
        switch (outcome) {
            case S_DONE:
                figures = s_owner (self, owner);
                if (figures->held)
                    figures->held--;
                if (figures->pending)
                    figures->pending--;
                figures->forwarded++;
                self->pass_copies++;
                s_publish (self);
                break;
            case S_SKIP:
                zsys_warning ("handoff: %s %" PRIu64 " (key '%s') held for '%s' is not"
                              " forwarded (see above); it stays held",
                              item.kind == HANDOFF_CONJOINED? "conjoined archive"
                              : item.kind == HANDOFF_TOMBSTONE? "tombstone": "segment",
                              item.unified_id, item.key, owner);
                zhashx_insert (self->skipped, skip_key, strdup (owner));
                break;
            case S_LATER:
                break;
            case S_CONTENDED:
                s_back_off (self, skip_key, owner);
                break;
            case S_OWNER_FAILED:
                zsys_warning ("handoff: '%s' failed or did not answer within %" PRIu64 " ms;"
                              " retrying next round", owner, self->config->handoff_timeout_ms);
                atomic_fetch_add (&self->stats->handoff_failures, 1);
                stop = true;
                break;
            case S_TERMINATED:
                stop = true;
                break;
        }
    }
    handoff_item_reset (&item);
    s_close_owner (self);
    if (self->pass_copies)
        zsys_info ("handoff: forwarded %" PRIu64 " copies (%" PRIu64 " payload bytes) to '%s'",
                   self->pass_copies, self->pass_bytes, owner);
    return !self->terminated;
}

//  One round: recount, then a pass over each owner with copies pending
//  that are worth trying
static void
s_round (handoff_t *self)
{
    s_recount (self);
    zlistx_t *names = zlistx_new ();
    zlistx_set_destructor (names, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (names, s_compare_text);
    for (node_stats_owner_t *owner = (node_stats_owner_t *) zhashx_first (self->owners); owner;
         owner = (node_stats_owner_t *) zhashx_next (self->owners))
        if (owner->pending > s_resting (self, owner->name))
            zlistx_add_end (names, strdup (owner->name));
    zlistx_sort (names);
    for (char *name = (char *) zlistx_first (names); name && !self->terminated;
         name = (char *) zlistx_next (names))
        s_forward_owner (self, name);
    zlistx_destroy (&names);
    if (!self->terminated)
        s_recount (self);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_handoff_destroy (handoff_t **self_p)
{
    handoff_t *self = *self_p;
    if (!self)
        return;
    s_close_owner (self);
    zsock_destroy (&self->purger);
    zsock_destroy (&self->replies);
    zhashx_destroy (&self->owners);
    zhashx_destroy (&self->skipped);
    zhashx_destroy (&self->warned);
    zhashx_destroy (&self->backoff);
    handoff_index_destroy (&self->index);
    record_reader_destroy (&self->records);
    request_destroy (&self->request);
    reply_destroy (&self->reply);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

//  The host to bind the reply socket on and to reach this node's writer
//  at: the writer endpoint's host, else the cluster entry's; "127.0.0.1"
//  for a wildcard or an ipc endpoint
static void
s_own_host (handoff_t *self, char *host, size_t size)
{
    endpoint_t endpoint;
    snprintf (host, size, "127.0.0.1");
    if (endpoint_parse (self->config->writer, &endpoint) == 0 && endpoint.scheme == ENDPOINT_TCP
    &&  !streq (endpoint.host, "*") && !streq (endpoint.host, "0.0.0.0")) {
        snprintf (host, size, "%s", endpoint.host);
        return;
    }
    int index = cluster_config_node_index (self->cluster, self->config->name);
    if (index >= 0
    &&  endpoint_parse (cluster_config_node_writer (self->cluster, (size_t) index), &endpoint) == 0
    &&  endpoint.scheme == ENDPOINT_TCP && !streq (endpoint.host, "*") && !streq (endpoint.host, "0.0.0.0"))
        snprintf (host, size, "%s", endpoint.host);
}

static handoff_t *
s_handoff_new (zsock_t *pipe, handoff_args_t *args, char *error, size_t error_size)
{
    assert (args->cluster);
    const node_config_t *config = args->config;
    handoff_t *self = (handoff_t *) zmalloc (sizeof (handoff_t));
    self->pipe = pipe;
    self->config = config;
    self->cluster = args->cluster;
    self->stats = args->stats;
    self->owners = zhashx_new ();
    zhashx_set_destructor (self->owners, s_item_destroy);
    self->skipped = zhashx_new ();
    zhashx_set_destructor (self->skipped, (zhashx_destructor_fn *) zstr_free);
    self->backoff = zhashx_new ();
    zhashx_set_destructor (self->backoff, s_item_destroy);
    self->warned = zhashx_new ();
    self->request = request_new ();
    self->reply = reply_new ();
    const char *volumes [NODE_CONFIG_MAX_VOLUMES];
    size_t volume_count = node_config_volume_list (config, volumes);
    self->records = record_reader_new (volumes, volume_count, S_FILE_CACHE_MAX);
    msgpack_sbuffer_init (&self->buffer);
    snprintf (self->session, sizeof (self->session), "handoff-%x%" PRIx64, (unsigned) getpid (),
              (uint64_t) timestamp_now ());
    srandom ((unsigned) (timestamp_now () ^ getpid ()));
    self->tokens = (double) config->handoff_rate_bytes;
    self->tokens_us = timestamp_now ();
    if (!self->owners || !self->skipped || !self->warned || !self->backoff || !self->request
    ||  !self->reply
    ||  !self->records) {
        snprintf (error, error_size, "handoff: out of memory");
        return self;
    }
    char path [1100];
    snprintf (path, sizeof (path), "%s/index.db", config->data_dir);
    self->index = handoff_index_open (path, error, error_size);
    if (!self->index)
        return self;

    //  Replies come back on a port of our own host (in every node's
    //  allow-list); IPv6 addresses need brackets in an endpoint
    char host [300];
    s_own_host (self, host, sizeof (host));
    const char *open = strchr (host, ':')? "[": "";
    const char *close = strchr (host, ':')? "]": "";
    self->replies = zsock_new (ZMQ_PULL);
    zsock_set_linger (self->replies, 0);
    zsock_set_rcvhwm (self->replies, 64);
    heartbeat_apply_node (self->replies);
    zsock_set_maxmsgsize (self->replies, (int64_t) (config->max_message_bytes + LIMIT_HEADER_MAX));
    //  With CURVE the owners' reply PUSH sockets are CURVE servers
    if (config->curve)
        curve_client (config->curve, self->replies);
    int port = zsock_bind (self->replies, "tcp://%s%s%s:*", open, host, close);
    if (port < 0) {
        snprintf (error, error_size, "handoff: cannot bind a reply socket on tcp://%s%s%s:*: %s",
                  open, host, close, zmq_strerror (zmq_errno ()));
        return self;
    }
    snprintf (self->reply_address, sizeof (self->reply_address), "tcp://%s%s%s:%d",
              open, host, close, port);

    //  This node's writer, for purge-handoff
    endpoint_t endpoint;
    if (endpoint_parse (config->writer, &endpoint) == 0 && endpoint.scheme == ENDPOINT_TCP
    &&  (streq (endpoint.host, "*") || streq (endpoint.host, "0.0.0.0")))
        snprintf (self->own_writer, sizeof (self->own_writer), "tcp://%s%s%s:%d",
                  open, host, close, endpoint.port);
    else
        snprintf (self->own_writer, sizeof (self->own_writer), "%s", config->writer);
    self->purger = s_connect (self, self->own_writer);
    if (!self->purger) {
        snprintf (error, error_size, "handoff: cannot connect to this node's writer %s",
                  self->own_writer);
        return self;
    }
    *error = 0;
    return self;
}

void
handoff_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "strata-handoff");   //  top -H, perf
    char error [512] = "";
    handoff_t *self = s_handoff_new (pipe, (handoff_args_t *) args, error, sizeof (error));
    if (!actor_start_report (pipe, error)) {
        s_handoff_destroy (&self);
        actor_start_wait_term (pipe);
        return;
    }
    atomic_store (&self->stats->handoff_running, true);
    zsys_info ("handoff: forwarder ready (replies on %s, every %" PRIu64 " ms, at most %" PRIu64
               " bytes/s)", self->reply_address, self->config->handoff_interval_ms,
               self->config->handoff_rate_bytes);
    s_recount (self);
    while (!self->terminated) {
        if (!s_sleep (self, (long) self->config->handoff_interval_ms))
            break;
        record_reader_close_removed (self->records);
        s_round (self);
    }
    atomic_store (&self->stats->handoff_running, false);
    s_handoff_destroy (&self);
}
