/*  =========================================================================
    reader - the reader actor: owns the reader endpoint, serves retrievals

    The read path: socket -> frames (limits; retrieval requests carry no
    payload, so nothing past the header is kept) -> request_decode ->
    allow-list -> index lookup (index_reader: its own SQLite connection on
    the WAL, so reads never wait for the writer's transaction or its syncs)
    -> record_reader (an fd from a bounded LRU cache; read the record
    header, check it names the sequence the index says it holds, pread the
    payload straight into the reply's data frame while verifying the
    record's CRC32C) -> reply. A record that fails any check is answered
    md5-mismatch, recorded in the index's damaged table and counted; its
    bytes are never sent.

    Replies go through the reader's own reply cache, which never blocks: a
    requester that does not read loses its own replies only.

    Semantics are documented in docs/reading.md.
    =========================================================================
*/
#include "reader.h"
#include "actor_start.h"
#include "index_reader.h"
#include "intake.h"
#include "record_reader.h"
#include "request.h"
#include "reply.h"
#include "reply_cache.h"
#include "timestamp.h"

#define S_FILE_CACHE_MAX        64      //  value files kept open
#define S_DAMAGE_BACKLOG_MAX    1024    //  damage rows waiting for the index
#define S_BUSY_TIMEOUT_MS       250     //  longest a damage INSERT waits for the writer
#define S_VERSIONS_MAX          1000    //  versions listed by list-versions
#define S_KEYS_BYTES_MAX        (192 * 1024)    //  a list-keys reply stops past this many
                                        //  bytes of entries (its header must stay
                                        //  below the 256 KiB header limit)
#define S_BURST                 256     //  requests taken before looking at the pipe
#define S_HOUSEKEEPING_US       1000000 //  reply-cache expiry and damage retries
#define S_REPLY_HEADER_ROOM     4096    //  charged for a retrieve reply's header
                                        //  besides its payload and meta
#define S_REPLY_HWM_MAX         32      //  replies queued per address (each may hold
                                        //  a whole sequence): reply/hwm if lower

//  A damage row the index could not take yet (writer busy)
typedef struct {
    uint64_t file_id;               //  value file
    uint64_t record_offset;         //  record in it
    int64_t segment_id;             //  segment row
    int64_t sequence_num;           //  sequence of the segment
    int64_t detected_us;            //  when it was found
    char reason [200];              //  what was wrong
} s_damage_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *pull;                  //  the reader endpoint
    zactor_t *monitor;              //  counts refused CURVE handshakes on pull, or NULL
    const node_config_t *config;    //  settings
    node_stats_t *stats;            //  shared counters
    writer_link_t *link;            //  the writer's commit generation
    index_reader_t *index;          //  the reader's index connection
    reply_cache_t *replies;         //  reply sockets
    request_t *request;             //  request being served (in its work item)
    result_t answered;              //  result counted for it (RESULT_COUNT: none yet)
    reply_t *reply;                 //  reply being built, reused
    index_found_t found;            //  lookup result, reused
    record_reader_t *records;       //  reads and verifies sequence records
    zlistx_t *backlog;              //  s_damage_t * not yet in the index
    intake_t *intake;               //  receives and judges requests
    int64_t last_housekeeping_us;   //  last expiry / retry pass
} reader_t;

//  --------------------------------------------------------------------------
//  Snapshots: called after a request was received, before its lookup. The
//  writer's commit count moves after each commit and before its replies,
//  so a request sent after a success reply finds the count moved and the
//  lookup takes a new snapshot that holds what was acknowledged.

static void
s_current_snapshot (reader_t *self)
{
    index_reader_set_generation (self->index, writer_link_generation (self->link));
}

//  --------------------------------------------------------------------------
//  Damage

//  Try to write the backlog into the index; stop at the first failure
static void
s_damage_flush (reader_t *self)
{
    s_damage_t *damage;
    while ((damage = (s_damage_t *) zlistx_first (self->backlog))) {
        if (index_reader_record_damage (self->index, damage->file_id, damage->record_offset,
                                        damage->segment_id, damage->sequence_num,
                                        damage->detected_us, damage->reason))
            return;
        zlistx_detach (self->backlog, NULL);
        free (damage);
    }
}

static bool
s_damage_pending (reader_t *self, uint64_t file_id, uint64_t record_offset)
{
    for (s_damage_t *damage = (s_damage_t *) zlistx_first (self->backlog); damage;
         damage = (s_damage_t *) zlistx_next (self->backlog))
        if (damage->file_id == file_id && damage->record_offset == record_offset)
            return true;
    return false;
}

//  A record failed verification: log, record in the index (or the backlog
//  when the index is busy), count once per record
static void
s_damaged (reader_t *self, const index_found_t *found, const char *reason)
{
    if (index_reader_damage_known (self->index, found->value_file_id, found->record_offset) == 1
    ||  s_damage_pending (self, found->value_file_id, found->record_offset))
        return;
    zsys_error ("reader: damaged record: value file %016" PRIx64 " offset %" PRIu64
                " (segment %" PRId64 ", sequence %" PRIu32 "): %s",
                found->value_file_id, found->record_offset, found->segment_id,
                found->sequence_num, reason);
    atomic_fetch_add (&self->stats->damaged_records, 1);
    s_damage_t *damage = (s_damage_t *) zmalloc (sizeof (s_damage_t));
    damage->file_id = found->value_file_id;
    damage->record_offset = found->record_offset;
    damage->segment_id = found->segment_id;
    damage->sequence_num = found->sequence_num;
    damage->detected_us = timestamp_now ();
    snprintf (damage->reason, sizeof (damage->reason), "%s", reason);
    if (zlistx_size (self->backlog) >= S_DAMAGE_BACKLOG_MAX) {
        s_damage_t *oldest = (s_damage_t *) zlistx_detach (self->backlog, NULL);
        zsys_error ("reader: damage backlog full; value file %016" PRIx64 " offset %" PRIu64
                    " not recorded in the index", oldest->file_id, oldest->record_offset);
        free (oldest);
    }
    zlistx_add_end (self->backlog, damage);
    s_damage_flush (self);
}

//  --------------------------------------------------------------------------
//  Reading one sequence

//  Read and verify the record found names (record_reader_read's contract)
static result_t
s_read_sequence (reader_t *self, const index_found_t *found, zframe_t **frame_p,
                 char *problem, size_t problem_size)
{
    record_location_t where = {
        .value_file_id = found->value_file_id,
        .volume = found->volume,
        .record_offset = found->record_offset,
        .record_size = found->record_size,
        .collection_id = self->request->collection_id,
        .unified_id = found->unified_id,
        .conjoined_part = self->request->conjoined_part,
        .segment_num = self->request->segment_num,
        .sequence_num = found->sequence_num,
        .segment_size = found->segment_size,
    };
    memcpy (where.md5, found->md5, DIGEST_MD5_SIZE);
    return record_reader_read (self->records, &where, frame_p, problem, problem_size);
}

//  --------------------------------------------------------------------------
//  Replies

//  Count a result, and remember it as the answer to the request in hand
//  (for the metrics, counted once the request is done)
static void
s_count (reader_t *self, result_t result)
{
    node_stats_result (self->stats, result);
    self->answered = result;
}

//  Count a result and answer it when the request has a reply address
static void
s_answer (reader_t *self, result_t result, const char *message)
{
    s_count (self, result);
    if (!(self->request->present & FIELD_CLIENT_ADDRESS))
        return;
    reply_prepare (self->reply, self->request, result, message);
    reply_cache_send (self->replies, self->reply, NULL);
}

static void
s_ping (reader_t *self)
{
    s_count (self, RESULT_SUCCESS);
    if (!(self->request->present & FIELD_CLIENT_ADDRESS))
        return;
    reply_t *reply = self->reply;
    reply_prepare (reply, self->request, RESULT_SUCCESS, NULL);
    reply_set_ping (reply, self->config->name, node_stats_uptime (self->stats));
    reply_cache_send (self->replies, reply, NULL);
}

//  list-versions: one map per visible version
typedef struct {
    msgpack_packer packer;          //  into the reader's versions buffer
    uint32_t count;                 //  versions packed
} s_version_list_t;

static void
s_pack_str (msgpack_packer *packer, const char *text)
{
    size_t size = strlen (text);
    msgpack_pack_str (packer, size);
    msgpack_pack_str_body (packer, text, size);
}

static void
s_version_found (void *arg, uint64_t unified_id, int64_t timestamp_us,
                 uint64_t file_size, const uint8_t file_hash [DIGEST_MD5_SIZE])
{
    s_version_list_t *list = (s_version_list_t *) arg;
    char timestamp [TIMESTAMP_TEXT_SIZE];
    char digest [DIGEST_MD5_BASE64_SIZE];
    digest_md5_to_base64 (file_hash, digest);
    msgpack_pack_map (&list->packer, 4);
    s_pack_str (&list->packer, "unified-id");
    msgpack_pack_uint64 (&list->packer, unified_id);
    s_pack_str (&list->packer, "timestamp-repr");
    s_pack_str (&list->packer, timestamp_format (timestamp_us, timestamp));
    s_pack_str (&list->packer, "file-size");
    msgpack_pack_uint64 (&list->packer, file_size);
    s_pack_str (&list->packer, "file-hash");
    s_pack_str (&list->packer, digest);
    list->count++;
}

static void
s_list_versions (reader_t *self)
{
    request_t *request = self->request;
    index_query_t query = {
        .collection_id = request->collection_id,
        .key = request->key,
        .conjoined_part = request->conjoined_part,
        .segment_num = request->segment_num,
        .handoff_node_name = (request->present & FIELD_HANDOFF_NODE_NAME)? request->handoff_node_name: NULL,
    };
    //  Pack the maps first, then prefix the array header with their count
    msgpack_sbuffer items;
    msgpack_sbuffer_init (&items);
    s_version_list_t list = { .count = 0 };
    msgpack_packer_init (&list.packer, &items, msgpack_sbuffer_write);
    s_current_snapshot (self);
    if (index_reader_list_versions (self->index, &query, S_VERSIONS_MAX, s_version_found, &list)) {
        msgpack_sbuffer_destroy (&items);
        s_answer (self, RESULT_IO_ERROR, "index: lookup failed");
        return;
    }
    msgpack_sbuffer versions;
    msgpack_sbuffer_init (&versions);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &versions, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, list.count);
    msgpack_sbuffer_write (&versions, items.data, items.size);
    msgpack_sbuffer_destroy (&items);

    reply_prepare (self->reply, request, RESULT_SUCCESS, NULL);
    int rc = reply_set_versions (self->reply, (const uint8_t *) versions.data, versions.size);
    msgpack_sbuffer_destroy (&versions);
    if (rc) {
        s_answer (self, RESULT_OVERLOADED, "versions: out of memory");
        return;
    }
    self->reply->fields |= REPLY_FIELD_VERSIONS;
    s_count (self, RESULT_SUCCESS);
    reply_cache_send (self->replies, self->reply, NULL);
}

//  list-keys: one map per key, packed until the limit or the byte budget
typedef struct {
    msgpack_sbuffer items;          //  the packed maps
    msgpack_packer packer;          //  into items
    uint32_t count;                 //  keys packed
} s_key_list_t;

static int
s_key_found (void *arg, const char *key, size_t key_size, uint64_t unified_id,
             int64_t timestamp_us, uint64_t file_size, bool deleted)
{
    s_key_list_t *list = (s_key_list_t *) arg;
    char timestamp [TIMESTAMP_TEXT_SIZE];
    msgpack_pack_map (&list->packer, 5);
    s_pack_str (&list->packer, "key");
    msgpack_pack_str (&list->packer, key_size);
    msgpack_pack_str_body (&list->packer, key, key_size);
    s_pack_str (&list->packer, "unified-id");
    msgpack_pack_uint64 (&list->packer, unified_id);
    s_pack_str (&list->packer, "timestamp-repr");
    s_pack_str (&list->packer, timestamp_format (timestamp_us, timestamp));
    s_pack_str (&list->packer, "file-size");
    msgpack_pack_uint64 (&list->packer, file_size);
    s_pack_str (&list->packer, "deleted");
    if (deleted)
        msgpack_pack_true (&list->packer);
    else
        msgpack_pack_false (&list->packer);
    list->count++;
    return list->items.size >= S_KEYS_BYTES_MAX? 1: 0;
}

static void
s_list_keys (reader_t *self)
{
    request_t *request = self->request;
    index_key_query_t query = {
        .collection_id = request->collection_id,
        .segment_num = request->segment_num,
        .handoff_node_name = (request->present & FIELD_HANDOFF_NODE_NAME)? request->handoff_node_name: NULL,
        .prefix = request->prefix,
        .prefix_size = (request->present & FIELD_PREFIX)? request->prefix_size: 0,
        .start_after = request->start_after,
        .start_after_size = (request->present & FIELD_START_AFTER)? request->start_after_size: 0,
        .limit = (request->present & FIELD_LIMIT)? (int) request->limit: LIMIT_LIST_KEYS_MAX,
    };
    s_key_list_t list = { .count = 0 };
    msgpack_sbuffer_init (&list.items);
    msgpack_packer_init (&list.packer, &list.items, msgpack_sbuffer_write);
    bool truncated = false;
    s_current_snapshot (self);
    if (index_reader_list_keys (self->index, &query, s_key_found, &list, &truncated)) {
        msgpack_sbuffer_destroy (&list.items);
        s_answer (self, RESULT_IO_ERROR, "index: lookup failed");
        return;
    }
    msgpack_sbuffer keys;
    msgpack_sbuffer_init (&keys);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &keys, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, list.count);
    msgpack_sbuffer_write (&keys, list.items.data, list.items.size);
    msgpack_sbuffer_destroy (&list.items);

    reply_prepare (self->reply, request, RESULT_SUCCESS, NULL);
    int rc = reply_set_keys (self->reply, (const uint8_t *) keys.data, keys.size);
    msgpack_sbuffer_destroy (&keys);
    if (rc) {
        s_answer (self, RESULT_OVERLOADED, "keys: out of memory");
        return;
    }
    self->reply->fields |= REPLY_FIELD_KEYS | REPLY_FIELD_TRUNCATED;
    self->reply->truncated = truncated;
    node_stats_result (self->stats, RESULT_SUCCESS);
    reply_cache_send (self->replies, self->reply, NULL);
}

//  list-collections: the collection-ids this node stores anything for
#define S_COLLECTIONS_MAX       10000

static void
s_list_collections (reader_t *self)
{
    request_t *request = self->request;
    uint32_t *ids = (uint32_t *) malloc (S_COLLECTIONS_MAX * sizeof (uint32_t));
    if (!ids) {
        s_answer (self, RESULT_OVERLOADED, "collections: out of memory");
        return;
    }
    s_current_snapshot (self);
    int count = index_reader_list_collections (self->index, (request->present & FIELD_START_AFTER_ID) != 0,
                                               request->start_after_id, ids, S_COLLECTIONS_MAX);
    if (count < 0) {
        free (ids);
        s_answer (self, RESULT_IO_ERROR, "index: lookup failed");
        return;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, (size_t) count);
    for (int index = 0; index < count; index++)
        msgpack_pack_uint32 (&packer, ids [index]);
    free (ids);
    reply_prepare (self->reply, request, RESULT_SUCCESS, NULL);
    int rc = reply_set_collections (self->reply, (const uint8_t *) buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    if (rc) {
        s_answer (self, RESULT_OVERLOADED, "collections: out of memory");
        return;
    }
    self->reply->fields |= REPLY_FIELD_COLLECTIONS | REPLY_FIELD_TRUNCATED;
    self->reply->truncated = count == S_COLLECTIONS_MAX;
    node_stats_result (self->stats, RESULT_SUCCESS);
    reply_cache_send (self->replies, self->reply, NULL);
}

//  retrieve-key-start / retrieve-key-next (the request has a reply address)
static void
s_retrieve (reader_t *self)
{
    request_t *request = self->request;
    index_found_t *found = &self->found;
    index_query_t query = {
        .collection_id = request->collection_id,
        .key = request->key,
        .conjoined_part = request->conjoined_part,
        .segment_num = request->segment_num,
        .handoff_node_name = (request->present & FIELD_HANDOFF_NODE_NAME)? request->handoff_node_name: NULL,
        .has_unified_id = (request->present & FIELD_UNIFIED_ID) != 0,
        .unified_id = request->unified_id,
        .first = request->type == MSG_RETRIEVE_KEY_START,
        .sequence_num = request->sequence_num,
    };
    s_current_snapshot (self);
    int rc = index_reader_lookup (self->index, &query, found);
    if (rc < 0) {
        s_answer (self, RESULT_IO_ERROR, "index: lookup failed");
        return;
    }
    if (rc > 0) {
        s_answer (self, RESULT_NOT_FOUND, found->why);
        return;
    }
    //  Charge the reply budget before reading: a requester that is not
    //  taking its replies, or a budget held by such requesters, costs no
    //  disk read and no memory
    if (reply_cache_reserve (self->replies, request->client_address,
                             found->segment_size + found->meta_size + S_REPLY_HEADER_ROOM)) {
        //  The retrieval's reply is dropped (counted once: by the cache
        //  when the small overloaded answer cannot go either)
        node_stats_result (self->stats, RESULT_OVERLOADED);
        reply_prepare (self->reply, request, RESULT_OVERLOADED,
                       "reply budget full (reply/max-bytes): replies not yet taken by their peers");
        if (reply_cache_send (self->replies, self->reply, NULL) == 0) {
            atomic_fetch_add (&self->stats->replies_dropped, 1);
            if (self->config->reply_budget)
                reply_budget_log_drop (self->config->reply_budget, "reader", request->client_address);
        }
        return;
    }
    char problem [200];
    zframe_t *frame = NULL;
    result_t result = s_read_sequence (self, found, &frame, problem, sizeof (problem));
    if (result == RESULT_MD5_MISMATCH) {
        s_damaged (self, found, problem);
        char message [256];
        snprintf (message, sizeof (message), "stored data failed verification: %s", problem);
        s_answer (self, RESULT_MD5_MISMATCH, message);
        return;
    }
    if (result != RESULT_SUCCESS) {
        zsys_error ("reader: %s", problem);
        s_answer (self, result, problem);
        return;
    }
    reply_t *reply = self->reply;
    reply_prepare (reply, request, RESULT_SUCCESS, NULL);
    if (reply_set_meta (reply, found->meta, found->meta_size)) {
        zframe_destroy (&frame);
        s_answer (self, RESULT_OVERLOADED, "meta: out of memory");
        return;
    }
    reply->fields |= REPLY_FIELDS_RETRIEVE;
    reply->unified_id = found->unified_id;
    reply->timestamp = found->timestamp_us;
    reply->conjoined_part = request->conjoined_part;
    reply->segment_num = request->segment_num;
    reply->file_size = found->file_size;
    if (found->has_file_adler32) {
        reply->fields |= REPLY_HAS_FILE_ADLER32;
        reply->file_adler32 = found->file_adler32;
    }
    memcpy (reply->file_hash, found->file_hash, DIGEST_MD5_SIZE);
    reply->sequence_count = found->sequence_count;
    reply->sequence_num = found->sequence_num;
    reply->segment_size = found->segment_size;
    reply->zfec_padding_size = found->zfec_padding_size;
    memcpy (reply->segment_md5, found->md5, DIGEST_MD5_SIZE);
    if (found->has_adler32) {
        reply->fields |= REPLY_HAS_SEGMENT_ADLER32;
        reply->segment_adler32 = found->adler32;
    }
    reply->completed = found->sequence_num == found->last_sequence_num;

    s_count (self, RESULT_SUCCESS);
    zmsg_t *data = NULL;
    if (frame) {
        data = zmsg_new ();
        zmsg_append (data, &frame);
    }
    //  Counted before the send, so a requester that reads stats right after
    //  its reply sees it; taken back if the reply was dropped
    atomic_fetch_add (&self->stats->retrieved_bytes, found->segment_size);
    if (reply_cache_send (self->replies, reply, &data) != 0)
        atomic_fetch_sub (&self->stats->retrieved_bytes, found->segment_size);
}

//  --------------------------------------------------------------------------
//  Receiving

//  Receive and answer one request (the socket is readable)
static void
s_receive (reader_t *self)
{
    work_t *work = intake_receive (self->intake, self->pull);
    if (!work)
        return;                     //  dropped (counted by the intake)
    self->request = &work->request;
    self->answered = RESULT_COUNT;
    request_t *request = self->request;
    bool has_address = (request->present & FIELD_CLIENT_ADDRESS) != 0;
    if (work->verdict != RESULT_SUCCESS)
        s_answer (self, work->verdict, work->verdict_message);
    else
    if (request->type == MSG_PING)
        s_ping (self);
    else
    if (request->type == MSG_RETRIEVE_KEY_START || request->type == MSG_RETRIEVE_KEY_NEXT
    ||  request->type == MSG_LIST_VERSIONS || request->type == MSG_LIST_KEYS
    ||  request->type == MSG_LIST_COLLECTIONS) {
        if (has_address && request->type == MSG_LIST_VERSIONS)
            s_list_versions (self);
        else
        if (has_address && request->type == MSG_LIST_KEYS)
            s_list_keys (self);
        else
        if (has_address && request->type == MSG_LIST_COLLECTIONS)
            s_list_collections (self);
        else
        if (has_address)
            s_retrieve (self);
        else {
            //  Nobody to give the data to
            atomic_fetch_add (&self->stats->requests_dropped, 1);
        }
    }
    else {
        char message [160];
        snprintf (message, sizeof (message), "message-type: %s is served on the writer endpoint",
                  message_type_name (request->type));
        s_answer (self, RESULT_INVALID_REQUEST, message);
    }
    if (self->answered != RESULT_COUNT)
        node_stats_replied (self->stats, request->type, self->answered, work->received_us);
    self->request = NULL;
    work_destroy (&work);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_reader_destroy (reader_t **self_p)
{
    reader_t *self = *self_p;
    if (!self)
        return;
    record_reader_destroy (&self->records);
    if (self->index)
        s_damage_flush (self);
    s_damage_t *damage;
    while (self->backlog && (damage = (s_damage_t *) zlistx_detach (self->backlog, NULL))) {
        zsys_error ("reader: damage of value file %016" PRIx64 " offset %" PRIu64
                    " not recorded in the index (shutting down)", damage->file_id, damage->record_offset);
        free (damage);
    }
    zlistx_destroy (&self->backlog);
    zactor_destroy (&self->monitor);
    zsock_destroy (&self->pull);
    reply_cache_destroy (&self->replies);
    index_reader_destroy (&self->index);
    intake_destroy (&self->intake);
    reply_destroy (&self->reply);
    free (self);
    *self_p = NULL;
}

//  Set up; on failure error holds one line (and self is still returned,
//  to be destroyed)
static reader_t *
s_reader_new (zsock_t *pipe, reader_args_t *args, char *error, size_t error_size)
{
    const node_config_t *config = args->config;
    reader_t *self = (reader_t *) zmalloc (sizeof (reader_t));
    self->pipe = pipe;
    self->config = config;
    self->stats = args->stats;
    self->link = args->link;
    const char *volumes [NODE_CONFIG_MAX_VOLUMES];
    size_t volume_count = node_config_volume_list (config, volumes);
    self->records = record_reader_new (volumes, volume_count, S_FILE_CACHE_MAX);
    self->backlog = zlistx_new ();
    self->intake = intake_new ("reader", args->config, args->stats, args->allow, false);
    self->reply = reply_new ();
    int hwm = config->reply_hwm < S_REPLY_HWM_MAX? config->reply_hwm: S_REPLY_HWM_MAX;
    self->replies = reply_cache_new (args->allow, args->stats, config->reply_cache_size,
                                     config->reply_idle_seconds, config->reply_send_timeout_ms, hwm);
    if (self->replies)
        reply_cache_set_curve (self->replies, config->curve);
    if (self->replies)
        reply_cache_set_budget (self->replies, config->reply_budget, "reader");
    self->last_housekeeping_us = timestamp_now ();
    if (!self->intake || !self->reply || !self->records) {
        snprintf (error, error_size, "reader: out of memory");
        return self;
    }
    char path [1100];
    snprintf (path, sizeof (path), "%s/index.db", config->data_dir);
    self->index = index_reader_open (path, S_BUSY_TIMEOUT_MS, error, error_size);
    if (!self->index)
        return self;

    self->pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (self->pull, config->receive_hwm);
    zsock_set_maxmsgsize (self->pull, (int64_t) config->max_message_bytes);
    zsock_set_linger (self->pull, 0);
    if (config->curve)
        curve_server (config->curve, self->pull);
    if (zsock_bind (self->pull, "%s", config->reader) < 0) {
        snprintf (error, error_size, "cannot bind the reader endpoint %s: %s",
                  config->reader, zmq_strerror (zmq_errno ()));
        return self;
    }
    if (config->curve)
        self->monitor = curve_monitor_new (self->pull, node_stats_auth_failure, self->stats);
    *error = 0;
    return self;
}

void
reader_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "strata-reader");   //  top -H, perf
    char error [512] = "";
    reader_t *self = s_reader_new (pipe, (reader_args_t *) args, error, sizeof (error));
    if (!actor_start_report (pipe, error)) {
        s_reader_destroy (&self);
        actor_start_wait_term (pipe);
        return;
    }

    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->pull), 0, ZMQ_POLLIN, 0 },
    };
    bool terminated = false;
    while (!terminated) {
        int rc = zmq_poll (items, 2, S_HOUSEKEEPING_US / 1000);
        if (rc < 0 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM"))
                terminated = true;
            zstr_free (&command);
        }
        if (!terminated && (items [1].revents & ZMQ_POLLIN)) {
            for (int count = 0; count < S_BURST; count++) {
                s_receive (self);
                if (!(zsock_events (self->pull) & ZMQ_POLLIN))
                    break;
            }
            //  About to wait: pin no snapshot while idle
            index_reader_release (self->index);
        }
        int64_t now = timestamp_now ();
        if (now - self->last_housekeeping_us >= S_HOUSEKEEPING_US) {
            reply_cache_expire (self->replies);
            record_reader_close_removed (self->records);
            s_damage_flush (self);
            self->last_housekeeping_us = now;
        }
    }
    s_reader_destroy (&self);
}
