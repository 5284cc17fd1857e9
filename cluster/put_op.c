/*  =========================================================================
    put_op - one object being stored: a `put`, or a streamed upload

    Data waits in `pending` (the client's frames, as received) until a slice
    can go out: a full slice with at least one more byte behind it (so the
    op knows it is not the last), or whatever is left once the client has
    finished. A slice that lies inside one frame is coded straight from it;
    otherwise it is gathered into the slice buffer first. The n share
    buffers are reused for every slice: each target's message gets its own
    copy of its share, cut into one frame per block. A request's cookie is
    (target << 32) | slice number, so an answer names its target even when
    one node holds two shares (its own and a handoff).
    =========================================================================
*/
#include <stdarg.h>
#include "put_op.h"
#include "digest.h"
#include "meta_stamp.h"
#include "timestamp.h"

#define S_MAX_IN_FLIGHT 2           //  slices sent and not yet acknowledged by all

//  A slice sent to every target, waiting for their answers
typedef struct {
    uint32_t sequence;              //  slice number = sequence-num
    bool last;                      //  the object's last slice
    size_t acked;                   //  targets that answered success
} s_slice_t;

struct _put_op_t {
    op_env_t *env;                  //  borrowed
    uint32_t collection_id;         //  collection-id
    char key [LIMIT_KEY_MAX + 1];   //  key
    size_t key_size;                //  bytes of key
    uint8_t *meta;                  //  raw meta map, owned; NULL if none
    size_t meta_size;               //  bytes of meta
    char request_id [LIMIT_ID_MAX + 1];         //  sent as user-request-id
    size_t share_count;             //  n: shares per slice
    size_t target_count;            //  entries in targets (after start)
    placement_target_t *targets;    //  who stores which share (after start)
    size_t handoffs;                //  owners whose share went to holders
    uint64_t unified_id;            //  the version
    int64_t timestamp;              //  its timestamp (usec)
    size_t slice_size;              //  bytes per slice
    zmsg_t *pending;                //  received data not yet sent
    size_t pending_offset;          //  bytes of pending's first frame already used
    uint64_t pending_bytes;         //  bytes in pending not yet used
    uint64_t size;                  //  bytes received so far
    digest_md5_t *md5;              //  MD5 of the object so far (slices sent)
    uint8_t file_hash [DIGEST_MD5_SIZE];        //  after the last slice
    uint8_t *slice_buffer;          //  a slice gathered from several frames
    uint8_t **shares;               //  n share buffers, reused per slice
    s_slice_t in_flight [S_MAX_IN_FLIGHT];      //  oldest first
    size_t in_flight_count;         //  entries in in_flight
    uint32_t next_sequence;         //  next slice number
    bool started;                   //  put_op_start succeeded
    bool finished;                  //  the client sent everything
    bool start_sent;                //  an archive-key-start went out
    bool final_sent;                //  an entire or final went out
    bool failed;                    //  the put failed (and was cancelled)
    bool done;                      //  nothing more to do
    router_result_t failure;        //  why it failed
    char failure_message [256];     //  and in words
    op_client_t *data_client;       //  put-data waiting for its answer
    op_client_t *final_client;      //  put / put-finish waiting for put-reply
    request_t *request;             //  node request being built, reused
    bool restartable;               //  a copy of the data is kept for a restart
    zmsg_t *copy;                   //  that copy (restartable only; NULL once dropped)
    uint64_t copy_bytes;            //  bytes in copy
    uint64_t max_copy_bytes;        //  the copy is dropped past this
    char no_copy_why [128];         //  why the copy was dropped ("" if it was not)
    uint32_t epoch;                 //  attempt number, in every cookie (answers to an
                                    //  earlier attempt are ignored)
    size_t restarts;                //  attempts after the first
};

//  Attempts after the first when an owner is lost midway
#define S_MAX_RESTARTS  2

//  A request's cookie: attempt, target, slice number
#define S_COOKIE(epoch, target, sequence) \
    (((uint64_t) (epoch) << 48) | ((uint64_t) (target) << 32) | (uint64_t) (sequence))

put_op_t *
put_op_new (op_env_t *env, router_request_t *request)
{
    assert (env && request);
    put_op_t *self = (put_op_t *) calloc (1, sizeof (put_op_t));
    if (!self)
        return NULL;
    self->env = env;
    self->collection_id = request->collection_id;
    memcpy (self->key, request->key, request->key_size + 1);
    self->key_size = request->key_size;
    snprintf (self->request_id, sizeof self->request_id, "%s", request->request_id);
    //  The object's meta, stamped with the cluster's fingerprint (meta_stamp.h)
    bool meta_failed = meta_stamp_add (request->meta, request->meta_size,
                                       cluster_config_fingerprint (env->cluster), LIMIT_META_ENTRIES,
                                       &self->meta, &self->meta_size) != 0;
    self->share_count = cluster_config_node_count (env->cluster);
    self->targets = (placement_target_t *) calloc (PLACEMENT_MAX_TARGETS (self->share_count),
                                                   sizeof (placement_target_t));
    self->slice_size = (size_t) env->config->slice_size;
    self->pending = zmsg_new ();
    self->md5 = digest_md5_new ();
    self->request = request_new ();
    if (meta_failed || !self->targets || !self->pending || !self->md5 || !self->request) {
        put_op_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_free_buffers (put_op_t *self)
{
    if (self->shares) {
        for (size_t share = 0; share < self->share_count; share++)
            free (self->shares [share]);
        free (self->shares);
        self->shares = NULL;
    }
    free (self->slice_buffer);
    self->slice_buffer = NULL;
}

void
put_op_destroy (put_op_t **self_p)
{
    assert (self_p);
    put_op_t *self = *self_p;
    if (!self)
        return;
    s_free_buffers (self);
    zmsg_destroy (&self->pending);
    digest_md5_destroy (&self->md5);
    request_destroy (&self->request);
    op_client_destroy (&self->data_client);
    op_client_destroy (&self->final_client);
    zmsg_destroy (&self->copy);
    free (self->targets);
    free (self->meta);
    free (self);
    *self_p = NULL;
}

int
put_op_start (put_op_t *self, char *error, size_t error_size)
{
    assert (self && !self->started);
    if (op_env_place (self->env, "put", self->targets, &self->target_count, error, error_size)) {
        self->done = true;
        return -1;
    }
    self->handoffs = 0;
    for (size_t target = 0; target < self->target_count; target++)
        if (self->targets [target].handoff)
            self->handoffs++;
    self->handoffs /= PLACEMENT_HOLDERS;
    self->unified_id = self->env->new_id (self->env);
    self->timestamp = timestamp_now ();
    self->started = true;
    return 0;
}

void
put_op_set_restartable (put_op_t *self, uint64_t max_copy_bytes)
{
    assert (self && !self->size);
    self->restartable = true;
    self->max_copy_bytes = max_copy_bytes;
}

uint64_t
put_op_copy_bytes (put_op_t *self)
{
    assert (self);
    return self->copy? self->copy_bytes: 0;
}

void
put_op_drop_copy (put_op_t *self, const char *why)
{
    assert (self && why);
    if (!self->restartable || self->no_copy_why [0])
        return;
    zmsg_destroy (&self->copy);
    self->copy_bytes = 0;
    snprintf (self->no_copy_why, sizeof self->no_copy_why, "%s", why);
}

uint64_t
put_op_unified_id (put_op_t *self)
{
    assert (self);
    return self->unified_id;
}

bool
put_op_finishing (put_op_t *self)
{
    assert (self);
    return self->finished && !self->done && !self->failed;
}

size_t
put_op_handoffs (put_op_t *self)
{
    assert (self);
    return self->done && !self->failed? self->handoffs: 0;
}

uint64_t
put_op_size (put_op_t *self)
{
    assert (self);
    return self->size;
}

bool
put_op_done (put_op_t *self)
{
    assert (self);
    return self->done;
}

bool
put_op_waiting_for_client (put_op_t *self)
{
    assert (self);
    if (self->done)
        return false;
    return self->failed || (!self->finished && !self->data_client);
}

static const char *
s_node_name (put_op_t *self, size_t node)
{
    return cluster_config_node_name (self->env->cluster, node);
}

//  The fields every archive and destroy message of target carries: the
//  share's segment-num and owner, and the owner as handoff-node-name when
//  the target holds the share for it
static void
s_request_base (put_op_t *self, request_t *request, message_type_t type, size_t target)
{
    placement_target_t *place = &self->targets [target];
    const char *owner = s_node_name (self, place->share);
    request_reset (request);
    request->type = type;
    request->collection_id = self->collection_id;
    memcpy (request->key, self->key, self->key_size + 1);
    request->key_size = self->key_size;
    request->segment_num = (uint8_t) (place->share + 1);
    snprintf (request->source_node_name, sizeof request->source_node_name, "%s", owner);
    snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
    request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME
                     | FIELD_USER_REQUEST_ID;
    if (place->handoff) {
        snprintf (request->handoff_node_name, sizeof request->handoff_node_name, "%s", owner);
        request->present |= FIELD_HANDOFF_NODE_NAME;
    }
}

//  The target's node name, and whose share it holds if a handoff holder
static void
s_target_name (put_op_t *self, size_t target, char *out, size_t size)
{
    placement_target_t *place = &self->targets [target];
    if (place->handoff)
        snprintf (out, size, "%s (holding %s's share)", s_node_name (self, place->node),
                  s_node_name (self, place->share));
    else
        snprintf (out, size, "%s", s_node_name (self, place->node));
}

//  Tell every target to drop what it has of this version
static void
s_cancel_on_nodes (put_op_t *self)
{
    request_t *request = self->request;
    for (size_t target = 0; target < self->target_count; target++) {
        size_t node = self->targets [target].node;
        if (self->start_sent) {
            request_reset (request);
            request->type = MSG_ARCHIVE_KEY_CANCEL;
            request->unified_id = self->unified_id;
            request->segment_num = (uint8_t) (self->targets [target].share + 1);
            request->present = FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM;
            self->env->post (self->env, node, NODE_WRITER, request);
        }
        if (self->final_sent) {
            //  Segments that finished cannot be cancelled: delete the version
            s_request_base (self, request, MSG_DESTROY_KEY, target);
            request->unified_id = self->env->new_id (self->env);
            request->unified_id_to_delete = self->unified_id;
            request->timestamp = timestamp_now ();
            request->present |= FIELD_UNIFIED_ID | FIELD_UNIFIED_ID_TO_DELETE | FIELD_TIMESTAMP;
            self->env->post (self->env, node, NODE_WRITER, request);
        }
    }
    request_reset (request);
}

static void
s_answer_failure (put_op_t *self, op_client_t **client_p)
{
    op_client_fail (client_p, self->env, self->failure, self->failure_message);
    self->done = true;
}

//  The put failed: cancel on the nodes, drop the data, tell whoever waits
static void
s_fail (put_op_t *self, router_result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (put_op_t *self, router_result_t result, const char *format, ...)
{
    if (self->failed || self->done)
        return;
    self->failed = true;
    self->failure = result;
    va_list args;
    va_start (args, format);
    vsnprintf (self->failure_message, sizeof self->failure_message, format, args);
    va_end (args);
    s_cancel_on_nodes (self);
    zmsg_destroy (&self->pending);
    self->pending_bytes = 0;
    self->in_flight_count = 0;
    s_free_buffers (self);
    if (self->data_client)
        s_answer_failure (self, &self->data_client);
    if (self->final_client)
        s_answer_failure (self, &self->final_client);
}

//  Drop size bytes from the front of pending
static void
s_advance (put_op_t *self, size_t size)
{
    self->pending_bytes -= size;
    while (true) {
        zframe_t *frame = zmsg_first (self->pending);
        if (!frame)
            break;
        size_t available = zframe_size (frame) - self->pending_offset;
        if (available > size) {
            self->pending_offset += size;
            break;
        }
        size -= available;
        frame = zmsg_pop (self->pending);
        zframe_destroy (&frame);
        self->pending_offset = 0;
        if (size == 0) {
            //  Also drop empty frames that follow
            while ((frame = zmsg_first (self->pending)) && zframe_size (frame) == 0) {
                frame = zmsg_pop (self->pending);
                zframe_destroy (&frame);
            }
            break;
        }
    }
}

//  Point *data_p at size bytes of pending, gathering them into the slice
//  buffer if they span frames. Returns 1 if the caller must s_advance
//  (data points into a frame), 0 if already consumed, -1 out of memory.
static int
s_take (put_op_t *self, size_t size, const uint8_t **data_p)
{
    zframe_t *frame;
    while ((frame = zmsg_first (self->pending)) && zframe_size (frame) == self->pending_offset) {
        frame = zmsg_pop (self->pending);
        zframe_destroy (&frame);
        self->pending_offset = 0;
    }
    if (frame && zframe_size (frame) - self->pending_offset >= size) {
        *data_p = zframe_data (frame) + self->pending_offset;
        return 1;
    }
    if (!self->slice_buffer) {
        self->slice_buffer = (uint8_t *) malloc (self->slice_size);
        if (!self->slice_buffer)
            return -1;
    }
    size_t copied = 0;
    while (copied < size) {
        frame = zmsg_first (self->pending);
        assert (frame);             //  pending_bytes says they are there
        size_t available = zframe_size (frame) - self->pending_offset;
        size_t take = available < size - copied? available: size - copied;
        memcpy (self->slice_buffer + copied, zframe_data (frame) + self->pending_offset, take);
        copied += take;
        s_advance (self, take);
    }
    *data_p = self->slice_buffer;
    return 0;
}

static void s_pump (put_op_t *self);

//  A lost target that no restart could cover: fail, saying why
static void
s_fail_lost (put_op_t *self, const char *who, const char *how)
{
    bool dropped = self->no_copy_why [0] != 0;
    s_fail (self, ROUTER_TIMEOUT, "%s: %s; the put was cancelled%s%s%s, send it again", who, how,
            dropped? " (": "", self->no_copy_why, dropped? ")": "");
}

//  An owner (or holder) was lost midway through a whole `put`: cancel what
//  this attempt sent, and start again from the kept copy, under a new
//  unified-id, with the lost node's share on handoff holders as if it had
//  been down from the start. Returns true if the put goes on, false if it
//  cannot (not restartable, too many attempts, or too few nodes left).
static bool
s_restart (put_op_t *self, size_t lost, const char *who, const char *why)
{
    if (!self->restartable || self->no_copy_why [0] || self->restarts >= S_MAX_RESTARTS
    ||  self->failed || self->done)
        return false;
    op_env_t *env = self->env;
    size_t node_count = self->share_count;
    bool reachable [256];
    for (size_t node = 0; node < node_count && node < 256; node++)
        reachable [node] = node != lost && env->reachable (env, node);
    placement_target_t *targets = (placement_target_t *) calloc (PLACEMENT_MAX_TARGETS (node_count),
                                                                 sizeof (placement_target_t));
    size_t count = 0;
    if (!targets
    ||  placement_compute (node_count, (size_t) cluster_config_data_shards (env->cluster), reachable,
                           targets, &count, NULL, NULL) != PLACEMENT_OK) {
        free (targets);
        return false;
    }
    zmsg_t *data = self->copy? zmsg_dup (self->copy): zmsg_new ();
    digest_md5_t *md5 = digest_md5_new ();
    if (!data || !md5) {
        zmsg_destroy (&data);
        digest_md5_destroy (&md5);
        free (targets);
        return false;
    }
    zsys_warning ("put '%s': %s lost midway (%s); sending the put again with its share on handoff "
                  "holders (attempt %zu)", self->key, who, why, self->restarts + 2);
    //  Drop what this attempt stored: cancels (and, past the last slice,
    //  deletes) under the old unified-id
    s_cancel_on_nodes (self);
    self->restarts++;
    self->epoch++;
    memcpy (self->targets, targets, count * sizeof (placement_target_t));
    free (targets);
    self->target_count = count;
    self->handoffs = 0;
    for (size_t target = 0; target < count; target++)
        if (self->targets [target].handoff)
            self->handoffs++;
    self->handoffs /= PLACEMENT_HOLDERS;
    self->unified_id = env->new_id (env);
    self->timestamp = timestamp_now ();
    zmsg_destroy (&self->pending);
    self->pending = data;
    self->pending_offset = 0;
    self->pending_bytes = self->copy_bytes;
    digest_md5_destroy (&self->md5);
    self->md5 = md5;
    self->in_flight_count = 0;
    self->next_sequence = 0;
    self->start_sent = false;
    self->final_sent = false;
    s_pump (self);
    return true;
}

//  Encode one slice of size bytes from pending and send it to every target
static void
s_emit (put_op_t *self, size_t size, bool last)
{
    op_env_t *env = self->env;
    erasure_t *erasure = env->erasure;
    if (!self->shares) {
        size_t capacity = erasure_share_size (erasure, self->slice_size);
        self->shares = (uint8_t **) calloc (self->share_count, sizeof (uint8_t *));
        for (size_t share = 0; self->shares && share < self->share_count; share++)
            if (!(self->shares [share] = (uint8_t *) malloc (capacity? capacity: 1))) {
                s_fail (self, ROUTER_OVERLOADED, "router: out of memory");
                return;
            }
        if (!self->shares) {
            s_fail (self, ROUTER_OVERLOADED, "router: out of memory");
            return;
        }
    }
    const uint8_t *slice = NULL;
    int taken = size? s_take (self, size, &slice): 0;
    uint32_t padding = 0;
    if (taken < 0 || erasure_encode_slice (erasure, slice, size, self->shares, &padding)) {
        s_fail (self, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    digest_md5_update (self->md5, slice, size);
    if (taken == 1)
        s_advance (self, size);
    if (last)
        digest_md5_final (self->md5, self->file_hash);

    uint32_t sequence = self->next_sequence++;
    message_type_t type = sequence == 0? (last? MSG_ARCHIVE_KEY_ENTIRE: MSG_ARCHIVE_KEY_START)
                                       : (last? MSG_ARCHIVE_KEY_FINAL: MSG_ARCHIVE_KEY_NEXT);
    if (type == MSG_ARCHIVE_KEY_START)
        self->start_sent = true;
    if (last)
        self->final_sent = true;
    s_slice_t *slot = &self->in_flight [self->in_flight_count++];
    *slot = (s_slice_t) { sequence, last, 0 };

    size_t share_size = erasure_share_size (erasure, size);
    size_t block = erasure_block_share_size (erasure);
    request_t *request = self->request;
    for (size_t target = 0; target < self->target_count; target++) {
        const uint8_t *share = self->shares [self->targets [target].share];
        s_request_base (self, request, type, target);
        request->unified_id = self->unified_id;
        request->timestamp = self->timestamp;
        request->sequence_num = sequence;
        request->segment_size = share_size;
        request->zfec_padding_size = padding;
        digest_md5 (share, share_size, request->segment_md5);
        request->present |= FIELD_UNIFIED_ID | FIELD_TIMESTAMP | FIELD_SEGMENT_SIZE
                          | FIELD_ZFEC_PADDING_SIZE | FIELD_SEGMENT_MD5;
        if (type != MSG_ARCHIVE_KEY_ENTIRE)
            request->present |= FIELD_SEQUENCE_NUM;
        if (last) {
            request->file_size = self->size;
            memcpy (request->file_hash, self->file_hash, DIGEST_MD5_SIZE);
            request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
            if (self->meta) {
                request->meta = self->meta;         //  lent for the encoding
                request->meta_size = self->meta_size;
                request->present |= FIELD_META;
            }
        }
        zmsg_t *data = zmsg_new ();
        for (size_t offset = 0; offset < share_size; offset += block)
            zmsg_addmem (data, share + offset,
                         share_size - offset < block? share_size - offset: block);
        size_t node = self->targets [target].node;
        int rc = env->send (env, self, node, NODE_WRITER, request, &data,
                            S_COOKIE (self->epoch, target, sequence));
        request->meta = NULL;
        request->meta_size = 0;
        zmsg_destroy (&data);
        if (rc) {
            char who [LIMIT_NODE_NAME_MAX * 2 + 40];
            s_target_name (self, target, who, sizeof who);
            if (s_restart (self, node, who, "not connected"))
                return;
            s_fail_lost (self, who, "lost during the put (not connected)");
            return;
        }
    }
}

//  Send what can be sent; answer a waiting put-data once its bytes are taken
static void
s_pump (put_op_t *self)
{
    while (!self->failed && !self->final_sent && self->in_flight_count < S_MAX_IN_FLIGHT) {
        if (self->pending_bytes > self->slice_size)
            s_emit (self, self->slice_size, false);
        else
        if (self->finished)
            s_emit (self, (size_t) self->pending_bytes, true);
        else
            break;
    }
    if (!self->failed && self->data_client && self->pending_bytes <= self->slice_size) {
        router_reply_t *reply = op_client_reply (self->data_client);
        if (reply)
            op_client_answer (&self->data_client, self->env, &reply, NULL);
        else
            op_client_destroy (&self->data_client);
    }
}

static void
s_refuse (put_op_t *self, op_client_t **client_p, const char *why)
{
    if (client_p && *client_p)
        op_client_fail (client_p, self->env, ROUTER_INVALID_REQUEST, why);
}

void
put_op_feed (put_op_t *self, zmsg_t **data_p, op_client_t **client_p)
{
    assert (self && data_p);
    if (self->failed && !self->done) {
        zmsg_destroy (data_p);
        if (client_p && *client_p)
            s_answer_failure (self, client_p);
        return;
    }
    if (self->done || !self->started) {
        zmsg_destroy (data_p);
        s_refuse (self, client_p, "upload-id: the upload is over");
        return;
    }
    if (self->finished || self->data_client) {
        zmsg_destroy (data_p);
        s_refuse (self, client_p, self->finished? "upload-id: the upload is already finishing"
                                  : "upload-id: the previous put-data has not been answered yet");
        return;
    }
    if (*data_p && self->restartable && !self->no_copy_why [0]) {
        if (self->copy_bytes + zmsg_content_size (*data_p) > self->max_copy_bytes)
            put_op_drop_copy (self, "the router keeps no copy of an upload past max-put-bytes");
        if (!self->copy && !self->no_copy_why [0])
            self->copy = zmsg_new ();
        for (zframe_t *frame = zmsg_first (*data_p); frame && self->copy; frame = zmsg_next (*data_p)) {
            zframe_t *kept = zframe_dup (frame);
            if (!kept) {
                put_op_drop_copy (self, "the router ran out of memory for its copy");
                break;
            }
            self->copy_bytes += zframe_size (kept);
            zmsg_append (self->copy, &kept);
        }
    }
    if (*data_p) {
        zframe_t *frame;
        while ((frame = zmsg_pop (*data_p))) {
            self->pending_bytes += zframe_size (frame);
            self->size += zframe_size (frame);
            zmsg_append (self->pending, &frame);
        }
        zmsg_destroy (data_p);
    }
    if (client_p && *client_p) {
        self->data_client = *client_p;
        *client_p = NULL;
    }
    s_pump (self);
}

void
put_op_finish (put_op_t *self, op_client_t **client_p)
{
    assert (self && client_p && *client_p);
    if (self->failed && !self->done) {
        s_answer_failure (self, client_p);
        return;
    }
    if (self->done || !self->started || self->finished || self->data_client) {
        s_refuse (self, client_p, self->data_client
                  ? "upload-id: the previous put-data has not been answered yet"
                  : "upload-id: the upload is already finishing or over");
        return;
    }
    self->finished = true;
    self->final_client = *client_p;
    *client_p = NULL;
    s_pump (self);
}

void
put_op_abort (put_op_t *self, op_client_t **client_p, router_result_t result, const char *why)
{
    assert (self && why);
    if (!self->done) {
        s_fail (self, result, "%s", why);
        //  s_fail answered anyone waiting; the failure has been told
        self->done = true;
    }
    if (client_p && *client_p) {
        router_reply_t *reply = op_client_reply (*client_p);
        if (reply)
            op_client_answer (client_p, self->env, &reply, NULL);
        else
            op_client_destroy (client_p);
    }
}

void
put_op_on_event (put_op_t *self, node_event_t *event)
{
    assert (self && event);
    if (self->failed || self->done)
        return;                     //  late news
    uint32_t sequence = (uint32_t) (event->cookie & 0xffffffffu);
    size_t target = (size_t) ((event->cookie >> 32) & 0xffffu);
    if ((uint32_t) (event->cookie >> 48) != (self->epoch & 0xffffu))
        return;                     //  an answer to an earlier attempt
    size_t index = 0;
    while (index < self->in_flight_count && self->in_flight [index].sequence != sequence)
        index++;
    if (index == self->in_flight_count)
        return;
    char name [LIMIT_NODE_NAME_MAX * 2 + 40];
    if (target < self->target_count && self->targets [target].node == event->node)
        s_target_name (self, target, name, sizeof name);
    else
        snprintf (name, sizeof name, "%s", s_node_name (self, event->node));
    if (!event->reply) {
        //  No answer in time, or node_link's "node lost" signal (its
        //  connection dropped): send the put again with that node's share
        //  on handoff holders, or fail if that cannot be done
        if (s_restart (self, event->node, name, event->lost? "connection lost": "no answer in time"))
            return;
        char how [64];
        if (event->lost)
            snprintf (how, sizeof how, "connection lost");
        else
            snprintf (how, sizeof how, "no answer within %d ms", self->env->config->node_timeout_ms);
        s_fail_lost (self, name, how);
        return;
    }
    reply_t *reply = event->reply;
    if (reply->result != RESULT_SUCCESS) {
        s_fail (self, reply->result == RESULT_OVERLOADED? ROUTER_OVERLOADED: ROUTER_IO_ERROR,
                "%s: %s: %s", name, result_name (reply->result),
                reply->error_message [0]? reply->error_message: "(no message)");
        return;
    }
    s_slice_t *slot = &self->in_flight [index];
    if (++slot->acked < self->target_count)
        return;
    memmove (&self->in_flight [index], &self->in_flight [index + 1],
             (self->in_flight_count - index - 1) * sizeof (s_slice_t));
    self->in_flight_count--;
    if (self->final_sent && self->in_flight_count == 0) {
        s_free_buffers (self);
        self->done = true;
        if (!self->final_client)
            return;
        router_reply_t *reply_out = op_client_reply (self->final_client);
        if (!reply_out) {
            op_client_destroy (&self->final_client);
            return;
        }
        router_reply_add_uint (reply_out, "unified-id", self->unified_id);
        router_reply_add_uint (reply_out, "size", self->size);
        router_reply_add_digest (reply_out, "file-hash", self->file_hash);
        router_reply_add_timestamp (reply_out, "timestamp", self->timestamp);
        op_client_answer (&self->final_client, self->env, &reply_out, NULL);
        return;
    }
    s_pump (self);
}
