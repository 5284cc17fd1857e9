/*  =========================================================================
    repair - rebuild lost or damaged shares of objects (the router's repair
    actor)

    The actor talks to the nodes on sockets of its own (a PULL bound for
    replies, a PUSH per node endpoint, as node_link sets them up), one
    exchange at a time: a request goes to a set of nodes at once, and the
    actor waits for their answers (or router/node-timeout-ms). Blocking is
    fine here: the router's own loop never waits for a repair. See repair.h.

    Why this file is longer than 900 lines: it is one actor with one job,
    and every part of that job (listing a key's versions, reading k shares
    of a slice, re-encoding, storing the shares that are missing, the
    background sweep over every key) goes through the same exchange
    machinery and slots of the actor's state; the listing's entry fields
    are read by fanout_read_entry, shared with the router's listings.
    =========================================================================
*/
#include <inttypes.h>
#include "repair.h"
#include "actor_start.h"
#include "fanout.h"
#include "digest.h"
#include "reply.h"
#include "request.h"
#include "router_reply.h"
#include "timestamp.h"
#include "wire.h"

#define S_SEND_HWM          1000
#define S_MAX_VERSIONS      1000        //  versions one node lists
#define S_MAX_UNRECOVERABLE 1000        //  unified-ids listed in one reply

//  One node's part in an exchange
typedef struct {
    bool asked;                     //  a request went out
    bool answered;                  //  its reply (or none in time) is in
    char message_id [48];           //  to match the reply
    reply_t *reply;                 //  the reply (NULL: none in time)
    zmsg_t *data;                   //  its data frames
} s_slot_t;

//  A version as the owners list it
typedef struct {
    uint64_t unified_id;
    int64_t timestamp;
    uint64_t size;
    uint8_t file_hash [DIGEST_MD5_SIZE];
    bool *listed;                   //  per node
    size_t listers;
} s_version_t;

typedef struct {
    zsock_t *pipe;
    const router_config_t *config;
    cluster_config_t *cluster;
    erasure_t *erasure;
    size_t n, k;
    zsock_t *replies;               //  PULL, bound
    char address [300];             //  its endpoint as sent in client-address
    zsock_t **writers;              //  PUSH per node
    zsock_t **readers;              //  PUSH per node
    s_slot_t *slots;                //  per node
    uint64_t counter;               //  message-ids
    request_t *request;             //  reused
    //  The job's figures
    uint64_t versions_checked;
    uint64_t shares_rebuilt;
    uint64_t bytes_rebuilt;
    uint64_t *unrecoverable;        //  unified-ids, S_MAX_UNRECOVERABLE
    size_t unrecoverable_count;
    uint64_t bytes_moved;           //  share bytes read and written, ever (background rate)
    bool terminated;                //  $TERM received
    int64_t next_sweep_ms;          //  background repair: next sweep (0: off)
    char *page_end;                 //  background repair: where the last merged page ended
} repair_t;

//  --------------------------------------------------------------------------
//  Exchanges

static void
s_slots_reset (repair_t *self)
{
    for (size_t node = 0; node < self->n; node++) {
        s_slot_t *slot = &self->slots [node];
        slot->asked = slot->answered = false;
        slot->message_id [0] = 0;
        zmsg_destroy (&slot->data);
    }
}

//  Send self->request to node (envelope filled in) with *data_p (consumed).
//  0, or -1 if the node cannot take it now.
static int
s_send (repair_t *self, size_t node, bool writer, zmsg_t **data_p)
{
    s_slot_t *slot = &self->slots [node];
    request_t *request = self->request;
    snprintf (slot->message_id, sizeof slot->message_id, "repair-%d-%" PRIu64,
              (int) getpid (), ++self->counter);
    snprintf (request->message_id, sizeof request->message_id, "%s", slot->message_id);
    snprintf (request->client_tag, sizeof request->client_tag, "strata-repair");
    snprintf (request->client_address, sizeof request->client_address, "%s", self->address);
    request->present |= FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int rc = request_encode (request, &buffer);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    if (data_p && *data_p) {
        zframe_t *frame;
        while ((frame = zmsg_pop (*data_p)))
            zmsg_append (msg, &frame);
        zmsg_destroy (data_p);
    }
    if (rc == 0)
        rc = zmsg_send (&msg, writer? self->writers [node]: self->readers [node]);
    zmsg_destroy (&msg);
    slot->asked = rc == 0;
    slot->answered = rc != 0;
    return rc == 0? 0: -1;
}

//  Wait for the answers of every asked node (or the node timeout)
static void
s_collect (repair_t *self)
{
    int64_t deadline = zclock_mono () + self->config->node_timeout_ms;
    while (true) {
        bool waiting = false;
        for (size_t node = 0; node < self->n; node++)
            if (self->slots [node].asked && !self->slots [node].answered)
                waiting = true;
        if (!waiting)
            return;
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0)
            break;
        zmq_pollitem_t item = { zsock_resolve (self->replies), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) remaining) <= 0)
            continue;
        zmsg_t *msg = zmsg_recv (self->replies);
        zframe_t *header = msg? zmsg_pop (msg): NULL;
        reply_t *reply = reply_new ();
        if (header && reply && reply_decode (reply, zframe_data (header), zframe_size (header)) == 0) {
            for (size_t node = 0; node < self->n; node++) {
                s_slot_t *slot = &self->slots [node];
                if (slot->asked && !slot->answered && streq (slot->message_id, reply->message_id)) {
                    reply_destroy (&slot->reply);
                    slot->reply = reply;
                    reply = NULL;
                    zmsg_destroy (&slot->data);
                    slot->data = msg;
                    msg = NULL;
                    slot->answered = true;
                    break;
                }
            }
        }
        reply_destroy (&reply);
        zframe_destroy (&header);
        zmsg_destroy (&msg);
    }
    //  No answer in time
    for (size_t node = 0; node < self->n; node++) {
        s_slot_t *slot = &self->slots [node];
        if (slot->asked && !slot->answered) {
            slot->answered = true;
            reply_destroy (&slot->reply);
        }
    }
}

//  The node answered its last request with success
static bool
s_success (repair_t *self, size_t node)
{
    s_slot_t *slot = &self->slots [node];
    return slot->asked && slot->reply && slot->reply->result == RESULT_SUCCESS;
}

//  --------------------------------------------------------------------------
//  Listing the versions

//  Add node's listed versions to *versions_p / *count_p. 0 or -1.
static int
s_tally (repair_t *self, size_t node, const reply_t *reply, s_version_t **versions_p, size_t *count_p)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = -1;
    if (!reply->versions || wire_unpack (&unpacked, reply->versions, reply->versions_size,
                                         reply->versions_size, &why) != 0
    ||  unpacked.data.type != MSGPACK_OBJECT_ARRAY)
        goto done;
    const msgpack_object_array *array = &unpacked.data.via.array;
    for (uint32_t entry = 0; entry < array->size && entry < S_MAX_VERSIONS; entry++) {
        const msgpack_object *map = &array->ptr [entry];
        if (map->type != MSGPACK_OBJECT_MAP)
            goto done;
        s_version_t version = { 0 };
        const msgpack_object *hash = wire_map_find (map, "file-hash");
        if (fanout_read_entry (map, &version.unified_id, &version.timestamp, &version.size)
        ||  !hash || wire_get_digest (hash, version.file_hash))
            goto done;
        size_t index = 0;
        while (index < *count_p && (*versions_p) [index].unified_id != version.unified_id)
            index++;
        if (index == *count_p) {
            s_version_t *grown = (s_version_t *) realloc (*versions_p, (*count_p + 1) * sizeof (s_version_t));
            if (!grown)
                goto done;
            *versions_p = grown;
            version.listed = (bool *) calloc (self->n, sizeof (bool));
            if (!version.listed)
                goto done;
            grown [index] = version;
            (*count_p)++;
        }
        if (!(*versions_p) [index].listed [node]) {
            (*versions_p) [index].listed [node] = true;
            (*versions_p) [index].listers++;
        }
    }
    rc = 0;
done:
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

//  --------------------------------------------------------------------------
//  Repairing one version

//  Ask the nodes in which [] for slice of version; answers in the slots
static void
s_read_slice (repair_t *self, uint32_t collection_id, const char *key, uint64_t unified_id,
              uint32_t slice, const bool *which)
{
    s_slots_reset (self);
    for (size_t node = 0; node < self->n; node++) {
        if (!which [node])
            continue;
        request_t *request = self->request;
        request_reset (request);
        request->type = slice == 0? MSG_RETRIEVE_KEY_START: MSG_RETRIEVE_KEY_NEXT;
        request->collection_id = collection_id;
        snprintf (request->key, sizeof request->key, "%s", key);
        request->key_size = strlen (request->key);
        request->unified_id = unified_id;
        request->segment_num = (uint8_t) (node + 1);
        request->sequence_num = slice;
        request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM
                         | (slice > 0? FIELD_SEQUENCE_NUM: 0);
        s_send (self, node, false, NULL);
    }
    s_collect (self);
    for (size_t node = 0; node < self->n; node++)
        if (which [node] && s_success (self, node))
            self->bytes_moved += self->slots [node].reply->segment_size;
}

//  The payload of a slot's retrieval reply as one buffer (owned by the
//  caller, NULL with *size_p 0 for an empty one); -1 if it does not match
//  the reply's segment-size
static int
s_payload (s_slot_t *slot, uint8_t **data_p, size_t *size_p)
{
    *data_p = NULL;
    *size_p = 0;
    size_t size = slot->data? zmsg_content_size (slot->data): 0;
    if (size != slot->reply->segment_size)
        return -1;
    if (size == 0)
        return 0;
    uint8_t *data = (uint8_t *) malloc (size);
    if (!data)
        return -1;
    size_t at = 0;
    for (zframe_t *frame = zmsg_first (slot->data); frame; frame = zmsg_next (slot->data)) {
        memcpy (data + at, zframe_data (frame), zframe_size (frame));
        at += zframe_size (frame);
    }
    *data_p = data;
    *size_p = size;
    return 0;
}

static void
s_unrecoverable (repair_t *self, uint64_t unified_id, const char *key, const char *why)
{
    zsys_warning ("repair: key '%s' version %" PRIu64 " is unrecoverable: %s", key, unified_id, why);
    if (self->unrecoverable_count < S_MAX_UNRECOVERABLE)
        self->unrecoverable [self->unrecoverable_count++] = unified_id;
}

//  Tell the targets to drop what they started of the version
static void
s_cancel (repair_t *self, uint64_t unified_id, const bool *targets)
{
    for (size_t node = 0; node < self->n; node++) {
        if (!targets [node])
            continue;
        request_t *request = self->request;
        request_reset (request);
        request->type = MSG_ARCHIVE_KEY_CANCEL;
        request->unified_id = unified_id;
        request->segment_num = (uint8_t) (node + 1);
        request->present = FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM;
        s_send (self, node, true, NULL);
    }
    s_collect (self);
}

//  Rebuild the shares of targets for a version whose slices the good
//  nodes hold (slice_count 0: as many as the first slice's replies say).
//  Returns 0, or -1 (unrecoverable; logged).
static int
s_rebuild (repair_t *self, uint32_t collection_id, const char *key, const s_version_t *version,
           bool *good, bool *targets, uint32_t slice_count)
{
    int rc = -1;
    digest_md5_t *md5 = digest_md5_new ();
    reply_t *first = NULL;              //  the first good reply of slice 0: file-* and meta
    bool *sending = (bool *) calloc (self->n, sizeof (bool));
    uint8_t **shares = (uint8_t **) calloc (self->n, sizeof (uint8_t *));
    uint8_t **encoded = (uint8_t **) calloc (self->n, sizeof (uint8_t *));
    if (!md5 || !sending || !shares || !encoded)
        goto done;
    memcpy (sending, targets, self->n * sizeof (bool));
    char why [300] = "";
    bool learn = slice_count == 0;     //  the first slice's replies say how many
    if (learn)
        slice_count = 1;
    for (uint32_t slice = 0; slice < slice_count; slice++) {
        s_read_slice (self, collection_id, key, version->unified_id, slice, good);
        if (learn && slice == 0)
            for (size_t node = 0; node < self->n; node++)
                if (good [node] && s_success (self, node)
                &&  self->slots [node].reply->sequence_count > slice_count)
                    slice_count = self->slots [node].reply->sequence_count;
        //  k good shares
        const uint8_t *chosen [ERASURE_MAX_SHARES];
        int numbers [ERASURE_MAX_SHARES];
        size_t chosen_count = 0, share_size = 0;
        uint32_t padding = 0;
        for (size_t node = 0; node < self->n && chosen_count < self->k; node++) {
            s_slot_t *slot = &self->slots [node];
            if (!good [node] || !s_success (self, node))
                continue;
            size_t size;
            free (shares [node]);
            if (s_payload (slot, &shares [node], &size))
                continue;
            if (chosen_count > 0 && (size != share_size || slot->reply->zfec_padding_size != padding))
                continue;
            share_size = size;
            padding = slot->reply->zfec_padding_size;
            chosen [chosen_count] = shares [node];
            numbers [chosen_count] = (int) node;
            chosen_count++;
            if (slice == 0 && !first) {
                first = slot->reply;
                slot->reply = NULL;
            }
        }
        if (chosen_count < self->k) {
            snprintf (why, sizeof why, "slice %" PRIu32 ": only %zu good shares", slice, chosen_count);
            break;
        }
        size_t slice_size = 0;
        if (erasure_slice_size (self->erasure, share_size, padding, &slice_size)) {
            snprintf (why, sizeof why, "slice %" PRIu32 ": impossible share size and padding", slice);
            break;
        }
        uint8_t *data = (uint8_t *) malloc (slice_size? slice_size: 1);
        if (!data
        ||  erasure_decode_slice (self->erasure, chosen, numbers, share_size, padding, data,
                                  slice_size, NULL)) {
            free (data);
            snprintf (why, sizeof why, "slice %" PRIu32 ": cannot decode", slice);
            break;
        }
        digest_md5_update (md5, data, slice_size);
        size_t out_size = erasure_share_size (self->erasure, slice_size);
        bool failed = false;
        for (size_t node = 0; node < self->n && !failed; node++) {
            free (encoded [node]);
            encoded [node] = (uint8_t *) malloc (out_size? out_size: 1);
            failed = !encoded [node];
        }
        uint32_t new_padding = 0;
        if (failed || erasure_encode_slice (self->erasure, data, slice_size, encoded, &new_padding)) {
            free (data);
            snprintf (why, sizeof why, "out of memory");
            break;
        }
        free (data);
        //  The last slice: the object's MD5 must match before it is final
        bool last = slice + 1 == slice_count;
        if (last) {
            uint8_t digest [DIGEST_MD5_SIZE];
            digest_md5_final (md5, digest);
            if (memcmp (digest, version->file_hash, DIGEST_MD5_SIZE) != 0) {
                snprintf (why, sizeof why, "the rebuilt object's MD5 differs from its file-hash");
                break;
            }
        }
        //  Store the targets' shares of this slice
        s_slots_reset (self);
        for (size_t node = 0; node < self->n; node++) {
            if (!sending [node])
                continue;
            request_t *request = self->request;
            request_reset (request);
            request->type = slice_count == 1? MSG_ARCHIVE_KEY_ENTIRE
                          : slice == 0? MSG_ARCHIVE_KEY_START
                          : last? MSG_ARCHIVE_KEY_FINAL: MSG_ARCHIVE_KEY_NEXT;
            request->collection_id = collection_id;
            snprintf (request->key, sizeof request->key, "%s", key);
            request->key_size = strlen (request->key);
            request->unified_id = version->unified_id;
            request->timestamp = version->timestamp;
            request->segment_num = (uint8_t) (node + 1);
            request->sequence_num = slice;
            request->segment_size = out_size;
            request->zfec_padding_size = new_padding;
            digest_md5 (encoded [node], out_size, request->segment_md5);
            snprintf (request->source_node_name, sizeof request->source_node_name, "%s",
                      cluster_config_node_name (self->cluster, node));
            request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP
                             | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE | FIELD_ZFEC_PADDING_SIZE
                             | FIELD_SEGMENT_MD5 | FIELD_SOURCE_NODE_NAME
                             | (slice_count > 1? FIELD_SEQUENCE_NUM: 0);
            if (last) {
                request->file_size = first->file_size;
                memcpy (request->file_hash, first->file_hash, DIGEST_MD5_SIZE);
                request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
                if (first->fields & REPLY_HAS_FILE_ADLER32) {
                    request->file_adler32 = first->file_adler32;
                    request->present |= FIELD_FILE_ADLER32;
                }
                if (first->meta && first->meta_size) {
                    request->meta = (uint8_t *) malloc (first->meta_size);
                    if (request->meta) {
                        memcpy (request->meta, first->meta, first->meta_size);
                        request->meta_size = first->meta_size;
                        request->present |= FIELD_META;
                    }
                }
            }
            zmsg_t *data_msg = NULL;
            if (out_size) {
                data_msg = zmsg_new ();
                zmsg_addmem (data_msg, encoded [node], out_size);
            }
            if (s_send (self, node, true, &data_msg))
                sending [node] = false;     //  not reachable now
        }
        s_collect (self);
        for (size_t node = 0; node < self->n; node++) {
            if (!sending [node])
                continue;
            s_slot_t *slot = &self->slots [node];
            if (s_success (self, node)) {
                self->bytes_rebuilt += out_size;
                self->bytes_moved += out_size;
                continue;
            }
            sending [node] = false;
            if (slot->reply && slot->reply->result == RESULT_DUPLICATE_SEGMENT && slice == 0)
                zsys_info ("repair: %s is being given key '%s' version %" PRIu64 " by another repair",
                           cluster_config_node_name (self->cluster, node), key, version->unified_id);
            else
                zsys_warning ("repair: %s did not store key '%s' version %" PRIu64 " slice %" PRIu32 ": %s",
                              cluster_config_node_name (self->cluster, node), key, version->unified_id, slice,
                              slot->reply? slot->reply->error_message: "no answer in time");
        }
    }
    if (why [0]) {
        s_unrecoverable (self, version->unified_id, key, why);
        if (slice_count > 1)
            s_cancel (self, version->unified_id, sending);
        goto done;
    }
    for (size_t node = 0; node < self->n; node++)
        if (sending [node]) {
            self->shares_rebuilt++;
            zsys_info ("repair: rebuilt the share of %s of key '%s' version %" PRIu64,
                       cluster_config_node_name (self->cluster, node), key, version->unified_id);
        }
    rc = 0;
done:
    if (md5)
        digest_md5_destroy (&md5);
    reply_destroy (&first);
    for (size_t node = 0; shares && node < self->n; node++)
        free (shares [node]);
    for (size_t node = 0; encoded && node < self->n; node++)
        free (encoded [node]);
    free (shares);
    free (encoded);
    free (sending);
    return rc;
}

//  Check one version and rebuild what its owners lack. only: the node
//  whose share alone is repaired, or -1.
static void
s_repair_version (repair_t *self, uint32_t collection_id, const char *key, const s_version_t *version,
                  const bool *answered, int only)
{
    self->versions_checked++;
    if (version->listers < self->k) {
        s_unrecoverable (self, version->unified_id, key, "fewer than k owners list it");
        return;
    }
    bool *good = (bool *) calloc (self->n, sizeof (bool));
    bool *targets = (bool *) calloc (self->n, sizeof (bool));
    if (!good || !targets) {
        free (good);
        free (targets);
        return;
    }
    for (size_t node = 0; node < self->n; node++) {
        good [node] = version->listed [node];
        targets [node] = answered [node] && !version->listed [node];
    }
    //  Verify pass: every slice from every owner that lists the version,
    //  to find damaged shares. Not needed when only one node's share is
    //  repaired and that node lacks it (a replaced node): the rebuild
    //  reads skip shares that fail anyway. slice_count 0: learnt from the
    //  rebuild's first slice.
    bool verify = !(only >= 0 && targets [only]);
    uint32_t slice_count = verify? 1: 0;
    for (uint32_t slice = 0; verify && slice < slice_count; slice++) {
        s_read_slice (self, collection_id, key, version->unified_id, slice, good);
        for (size_t node = 0; node < self->n; node++) {
            if (!good [node])
                continue;
            s_slot_t *slot = &self->slots [node];
            if (s_success (self, node)) {
                if (slice == 0 && slot->reply->sequence_count > slice_count)
                    slice_count = slot->reply->sequence_count;
                continue;
            }
            good [node] = false;
            if (slot->reply && slot->reply->result == RESULT_MD5_MISMATCH)
                targets [node] = true;      //  damaged: rebuild it
        }
    }
    size_t wanted = 0;
    for (size_t node = 0; node < self->n; node++) {
        if (only >= 0 && (int) node != only)
            targets [node] = false;
        if (targets [node])
            wanted++;
    }
    if (wanted > 0)
        s_rebuild (self, collection_id, key, version, good, targets, slice_count);
    free (good);
    free (targets);
}

//  --------------------------------------------------------------------------
//  A job

//  Repair one object: list its versions on every owner, repair each (or
//  the one asked for). only: the node whose share alone is repaired, or
//  -1. Returns ROUTER_SUCCESS (figures in self), or ROUTER_UNAVAILABLE
//  with why filled when too few owners answered.
static router_result_t
s_repair_object (repair_t *self, uint32_t collection_id, const char *key, int only,
                 bool has_unified_id, uint64_t unified_id, char *why, size_t why_size)
{
    s_slots_reset (self);
    for (size_t node = 0; node < self->n; node++) {
        request_t *request = self->request;
        request_reset (request);
        request->type = MSG_LIST_VERSIONS;
        request->collection_id = collection_id;
        snprintf (request->key, sizeof request->key, "%s", key);
        request->key_size = strlen (request->key);
        request->segment_num = (uint8_t) (node + 1);
        request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM;
        s_send (self, node, false, NULL);
    }
    s_collect (self);
    router_result_t result = ROUTER_SUCCESS;
    bool *answered = (bool *) calloc (self->n, sizeof (bool));
    s_version_t *versions = NULL;
    size_t version_count = 0, answers = 0;
    for (size_t node = 0; answered && node < self->n; node++)
        if (s_success (self, node) && (self->slots [node].reply->fields & REPLY_FIELD_VERSIONS)
        &&  s_tally (self, node, self->slots [node].reply, &versions, &version_count) == 0) {
            answered [node] = true;
            answers++;
        }
    if (!answered || answers < self->k || (only >= 0 && !answered [only])) {
        result = ROUTER_UNAVAILABLE;
        if (only >= 0 && answered && !answered [only])
            snprintf (why, why_size, "node: %s did not answer",
                      cluster_config_node_name (self->cluster, (size_t) only));
        else
            snprintf (why, why_size, "only %zu of %zu owners answered, %zu are needed",
                      answers, self->n, self->k);
    }
    else
        for (size_t index = 0; index < version_count; index++)
            if (!has_unified_id || versions [index].unified_id == unified_id)
                s_repair_version (self, collection_id, key, &versions [index], answered, only);
    for (size_t index = 0; index < version_count; index++)
        free (versions [index].listed);
    free (versions);
    free (answered);
    return result;
}

static router_reply_t *
s_job (repair_t *self, const char *request_id, uint32_t collection_id, const char *key,
       const char *node_name, bool has_unified_id, uint64_t unified_id)
{
    router_reply_t *reply = router_reply_new ("repair-reply", request_id);
    if (!reply)
        return NULL;
    self->versions_checked = self->shares_rebuilt = self->bytes_rebuilt = 0;
    self->unrecoverable_count = 0;
    int only = -1;
    if (*node_name) {
        only = cluster_config_node_index (self->cluster, node_name);
        if (only < 0) {
            router_reply_set_result (reply, ROUTER_INVALID_REQUEST, "node: '%s' is not a node of the cluster",
                                     node_name);
            return reply;
        }
    }
    char why [200] = "";
    router_result_t result = s_repair_object (self, collection_id, key, only, has_unified_id, unified_id,
                                              why, sizeof why);
    if (result != ROUTER_SUCCESS)
        router_reply_set_result (reply, result, "%s", why);
    else {
        router_reply_add_uint (reply, "versions", self->versions_checked);
        router_reply_add_uint (reply, "rebuilt", self->shares_rebuilt);
        router_reply_add_uint (reply, "rebuilt-bytes", self->bytes_rebuilt);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        msgpack_pack_array (&packer, self->unrecoverable_count);
        for (size_t index = 0; index < self->unrecoverable_count; index++)
            msgpack_pack_uint64 (&packer, self->unrecoverable [index]);
        router_reply_add_raw (reply, "unrecoverable", (const uint8_t *) buffer.data, buffer.size);
        msgpack_sbuffer_destroy (&buffer);
    }
    return reply;
}

//  "REPAIR" routing-id request-id collection-id key node unified-id
static void
s_command (repair_t *self, zmsg_t *msg)
{
    zframe_t *routing_id = zmsg_pop (msg);
    char *request_id = zmsg_popstr (msg);
    char *collection = zmsg_popstr (msg);
    char *key = zmsg_popstr (msg);
    char *node = zmsg_popstr (msg);
    char *version = zmsg_popstr (msg);
    if (routing_id && request_id && collection && key && node && version) {
        router_reply_t *reply = s_job (self, request_id, (uint32_t) strtoul (collection, NULL, 10),
                                       key, node, *version != 0, strtoull (version, NULL, 10));
        zmsg_t *answer = reply? router_reply_encode (reply, NULL): NULL;
        router_reply_destroy (&reply);
        if (answer) {
            zmsg_prepend (answer, &routing_id);
            zmsg_send (&answer, self->pipe);
        }
    }
    zframe_destroy (&routing_id);
    zstr_free (&request_id);
    zstr_free (&collection);
    zstr_free (&key);
    zstr_free (&node);
    zstr_free (&version);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_destroy (repair_t **self_p)
{
    repair_t *self = *self_p;
    if (!self)
        return;
    for (size_t node = 0; node < self->n; node++) {
        if (self->writers)
            zsock_destroy (&self->writers [node]);
        if (self->readers)
            zsock_destroy (&self->readers [node]);
        if (self->slots) {
            reply_destroy (&self->slots [node].reply);
            zmsg_destroy (&self->slots [node].data);
        }
    }
    free (self->writers);
    free (self->readers);
    free (self->slots);
    free (self->unrecoverable);
    free (self->page_end);
    request_destroy (&self->request);
    zsock_destroy (&self->replies);
    free (self);
    *self_p = NULL;
}

static zsock_t *
s_push (const char *endpoint, curve_t *curve)
{
    zsock_t *sock = zsock_new (ZMQ_PUSH);
    if (!sock)
        return NULL;
    if (curve && curve_client (curve, sock)) {
        zsock_destroy (&sock);
        return NULL;
    }
    zsock_set_immediate (sock, 1);
    zsock_set_sndhwm (sock, S_SEND_HWM);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_linger (sock, 0);
    if (zsock_connect (sock, "%s", endpoint)) {
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

static repair_t *
s_new (zsock_t *pipe, repair_args_t *args, char *error, size_t error_size)
{
    repair_t *self = (repair_t *) zmalloc (sizeof (repair_t));
    self->pipe = pipe;
    self->config = args->config;
    self->cluster = args->cluster;
    self->erasure = args->erasure;
    self->n = cluster_config_node_count (args->cluster);
    self->k = (size_t) cluster_config_data_shards (args->cluster);
    self->writers = (zsock_t **) calloc (self->n, sizeof (zsock_t *));
    self->readers = (zsock_t **) calloc (self->n, sizeof (zsock_t *));
    self->slots = (s_slot_t *) calloc (self->n, sizeof (s_slot_t));
    self->unrecoverable = (uint64_t *) calloc (S_MAX_UNRECOVERABLE, sizeof (uint64_t));
    self->request = request_new ();
    self->replies = zsock_new (ZMQ_PULL);
    if (!self->writers || !self->readers || !self->slots || !self->unrecoverable || !self->request
    ||  !self->replies) {
        snprintf (error, error_size, "repair: out of memory");
        return self;
    }
    if (args->curve && curve_client (args->curve, self->replies)) {
        snprintf (error, error_size, "repair: CURVE needs router/curve/client-cert");
        return self;
    }
    zsock_set_rcvhwm (self->replies, 100000);
    zsock_set_linger (self->replies, 0);
    int port = zsock_bind (self->replies, "%s", args->reply_endpoint);
    if (port < 0) {
        snprintf (error, error_size, "repair: cannot bind %s", args->reply_endpoint);
        return self;
    }
    const char *colon = strrchr (args->reply_endpoint, ':');
    if (port > 0 && colon && streq (colon, ":*"))
        snprintf (self->address, sizeof self->address, "%.*s:%d",
                  (int) (colon - args->reply_endpoint), args->reply_endpoint, port);
    else
        snprintf (self->address, sizeof self->address, "%s", args->reply_endpoint);
    for (size_t node = 0; node < self->n; node++) {
        self->writers [node] = s_push (cluster_config_node_writer (self->cluster, node), args->curve);
        self->readers [node] = s_push (cluster_config_node_reader (self->cluster, node), args->curve);
        if (!self->writers [node] || !self->readers [node]) {
            snprintf (error, error_size, "repair: cannot connect to node '%s'",
                      cluster_config_node_name (self->cluster, node));
            return self;
        }
    }
    *error = 0;
    return self;
}

//  --------------------------------------------------------------------------
//  Background repair

//  Between two objects of a sweep: take client jobs and $TERM, and wait
//  as long as the rate asks (bytes moved since the sweep started)
static void
s_yield (repair_t *self, int64_t started_ms, uint64_t moved_at_start)
{
    while (!self->terminated) {
        double rate = (double) self->config->repair_bytes_per_second;
        int64_t due = started_ms + (int64_t) ((double) (self->bytes_moved - moved_at_start) * 1000.0 / rate);
        int64_t wait = due - zclock_mono ();
        zmq_pollitem_t item = { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, wait > 0? (long) wait: 0) < 0 && zmq_errno () != EINTR) {
            self->terminated = true;
            return;
        }
        if (item.revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (self->pipe);
            char *command = msg? zmsg_popstr (msg): NULL;
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            else
            if (streq (command, "REPAIR")) {
                //  A client's job runs now; its figures are its own
                uint64_t moved = self->bytes_moved;
                s_command (self, msg);
                self->bytes_moved = moved;
            }
            zstr_free (&command);
            zmsg_destroy (&msg);
            continue;
        }
        if (wait <= 0)
            return;
    }
}

//  One key of a merged page
typedef struct {
    char *key;
    uint64_t unified_id;
    bool deleted;
} s_listed_t;

static int
s_listed_order (const void *a, const void *b)
{
    const s_listed_t *left = (const s_listed_t *) a, *right = (const s_listed_t *) b;
    int order = strcmp (left->key, right->key);
    if (order)
        return order;
    return left->unified_id < right->unified_id? 1: left->unified_id > right->unified_id? -1: 0;
}

//  One merged page of keys after start_after (as keys_op merges): fills
//  *keys_p / *count_p (the live keys, malloc'd), sets *more_p. -1 when
//  fewer than k owners answered.
static int
s_key_page (repair_t *self, uint32_t collection_id, const char *start_after,
            char ***keys_p, size_t *count_p, bool *more_p)
{
    *keys_p = NULL;
    *count_p = 0;
    *more_p = false;
    s_slots_reset (self);
    for (size_t node = 0; node < self->n; node++) {
        request_t *request = self->request;
        request_reset (request);
        request->type = MSG_LIST_KEYS;
        request->collection_id = collection_id;
        request->segment_num = (uint8_t) (node + 1);
        request->limit = LIMIT_LIST_KEYS_MAX;
        request->present = FIELD_COLLECTION_ID | FIELD_SEGMENT_NUM | FIELD_LIMIT;
        if (*start_after) {
            snprintf (request->start_after, sizeof request->start_after, "%s", start_after);
            request->start_after_size = strlen (request->start_after);
            request->present |= FIELD_START_AFTER;
        }
        s_send (self, node, false, NULL);
    }
    s_collect (self);
    s_listed_t *listed = NULL;
    size_t listed_count = 0, answers = 0;
    char *bound = NULL;
    for (size_t node = 0; node < self->n; node++) {
        if (!s_success (self, node) || !(self->slots [node].reply->fields & REPLY_FIELD_KEYS))
            continue;
        reply_t *reply = self->slots [node].reply;
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const char *why = NULL;
        if (wire_unpack (&unpacked, reply->keys, reply->keys_size, reply->keys_size, &why) == 0
        &&  unpacked.data.type == MSGPACK_OBJECT_ARRAY) {
            answers++;
            const msgpack_object_array *array = &unpacked.data.via.array;
            s_listed_t *grown = (s_listed_t *) realloc (listed, (listed_count + array->size + 1)
                                                                 * sizeof (s_listed_t));
            if (grown)
                listed = grown;
            const char *last = NULL;
            size_t last_size = 0;
            for (uint32_t index = 0; grown && index < array->size; index++) {
                const msgpack_object *map = &array->ptr [index];
                if (map->type != MSGPACK_OBJECT_MAP)
                    continue;
                s_listed_t entry = { NULL, 0, false };
                const msgpack_object *name = wire_map_find (map, "key");
                const msgpack_object *id = wire_map_find (map, "unified-id");
                const msgpack_object *deleted = wire_map_find (map, "deleted");
                if (name && name->type == MSGPACK_OBJECT_STR
                &&  name->via.str.size > 0 && name->via.str.size <= LIMIT_KEY_MAX) {
                    entry.key = strndup (name->via.str.ptr, name->via.str.size);
                    last = name->via.str.ptr;
                    last_size = name->via.str.size;
                }
                if (id)
                    wire_get_uint (id, 0, UINT64_MAX, &entry.unified_id);
                if (deleted && deleted->type == MSGPACK_OBJECT_BOOLEAN)
                    entry.deleted = deleted->via.boolean;
                if (entry.key)
                    listed [listed_count++] = entry;
            }
            if (reply->truncated && last) {
                char *candidate = strndup (last, last_size);
                if (candidate && (!bound || strcmp (candidate, bound) < 0)) {
                    free (bound);
                    bound = candidate;
                }
                else
                    free (candidate);
            }
        }
        msgpack_unpacked_destroy (&unpacked);
    }
    int rc = -1;
    if (answers >= self->k) {
        rc = 0;
        if (listed_count > 1)
            qsort (listed, listed_count, sizeof (s_listed_t), s_listed_order);
        char **keys = (char **) calloc (listed_count + 1, sizeof (char *));
        for (size_t index = 0; keys && index < listed_count; index++) {
            if (index > 0 && streq (listed [index].key, listed [index - 1].key))
                continue;
            if (bound && strcmp (listed [index].key, bound) > 0)
                break;
            if (!listed [index].deleted)
                keys [(*count_p)++] = strdup (listed [index].key);
        }
        *keys_p = keys;
        *more_p = bound != NULL;
        //  The next page starts after the bound, also when every key up
        //  to it was deleted
        free (self->page_end);
        self->page_end = bound? strdup (bound): NULL;
    }
    for (size_t index = 0; index < listed_count; index++)
        free (listed [index].key);
    free (listed);
    free (bound);
    return rc;
}

//  One sweep: every live key of every collection any owner stores
static void
s_sweep (repair_t *self)
{
    int64_t started_ms = zclock_mono ();
    uint64_t moved_at_start = self->bytes_moved;
    uint64_t keys_done = 0, versions = 0, rebuilt = 0, unrecoverable = 0;
    //  The collections: asked of every owner, the union kept
    zlistx_t *collections = zlistx_new ();
    zlistx_set_comparator (collections, (zlistx_comparator_fn *) strcmp);
    zlistx_set_destructor (collections, (zlistx_destructor_fn *) zstr_free);
    s_slots_reset (self);
    for (size_t node = 0; node < self->n; node++) {
        request_reset (self->request);
        self->request->type = MSG_LIST_COLLECTIONS;
        s_send (self, node, false, NULL);
    }
    s_collect (self);
    for (size_t node = 0; node < self->n; node++) {
        if (!s_success (self, node) || !(self->slots [node].reply->fields & REPLY_FIELD_COLLECTIONS))
            continue;
        reply_t *reply = self->slots [node].reply;
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const char *why = NULL;
        if (wire_unpack (&unpacked, reply->collections, reply->collections_size,
                         reply->collections_size, &why) == 0
        &&  unpacked.data.type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t index = 0; index < unpacked.data.via.array.size; index++) {
                uint64_t id;
                if (wire_get_uint (&unpacked.data.via.array.ptr [index], 0, UINT32_MAX, &id))
                    continue;
                char text [16];
                snprintf (text, sizeof text, "%" PRIu64, id);
                if (!zlistx_find (collections, text))
                    zlistx_add_end (collections, strdup (text));
            }
        msgpack_unpacked_destroy (&unpacked);
    }
    for (char *text = (char *) zlistx_first (collections); text && !self->terminated;
         text = (char *) zlistx_next (collections)) {
        uint32_t collection_id = (uint32_t) strtoul (text, NULL, 10);
        char start_after [LIMIT_KEY_MAX + 1] = "";
        bool more = true;
        while (more && !self->terminated) {
            char **keys = NULL;
            size_t count = 0;
            if (s_key_page (self, collection_id, start_after, &keys, &count, &more)) {
                zsys_warning ("repair: background sweep: too few owners answer; collection %" PRIu32
                              " skipped", collection_id);
                free (keys);
                break;
            }
            for (size_t index = 0; index < count; index++) {
                if (!self->terminated) {
                    self->versions_checked = self->shares_rebuilt = self->bytes_rebuilt = 0;
                    self->unrecoverable_count = 0;
                    char why [200];
                    s_repair_object (self, collection_id, keys [index], -1, false, 0, why, sizeof why);
                    keys_done++;
                    versions += self->versions_checked;
                    rebuilt += self->shares_rebuilt;
                    unrecoverable += self->unrecoverable_count;
                    s_yield (self, started_ms, moved_at_start);
                }
                snprintf (start_after, sizeof start_after, "%s", keys [index]);
                free (keys [index]);
            }
            free (keys);
            if (self->page_end && more)
                snprintf (start_after, sizeof start_after, "%s", self->page_end);
        }
    }
    zlistx_destroy (&collections);
    zsys_info ("repair: background sweep %s: %" PRIu64 " keys, %" PRIu64 " versions checked, %" PRIu64
               " shares rebuilt, %" PRIu64 " unrecoverable, in %.1f s",
               self->terminated? "stopped": "done", keys_done, versions, rebuilt, unrecoverable,
               (zclock_mono () - started_ms) / 1000.0);
}

void
repair_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "strata-repair");
    char error [512] = "";
    repair_t *self = s_new (pipe, (repair_args_t *) args, error, sizeof error);
    if (!actor_start_report (pipe, error)) {
        s_destroy (&self);
        actor_start_wait_term (pipe);
        return;
    }
    uint64_t interval_ms = self->config->repair_interval_seconds * 1000;
    if (interval_ms)
        self->next_sweep_ms = zclock_mono () + (int64_t) interval_ms;
    while (!self->terminated) {
        long wait = -1;
        if (interval_ms) {
            int64_t until = self->next_sweep_ms - zclock_mono ();
            wait = until > 0? (long) until: 0;
        }
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, wait) < 0 && zmq_errno () != EINTR)
            break;
        if (item.revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (pipe);
            if (!msg)
                break;
            char *command = zmsg_popstr (msg);
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            else
            if (streq (command, "REPAIR"))
                s_command (self, msg);
            zstr_free (&command);
            zmsg_destroy (&msg);
            continue;
        }
        if (interval_ms && zclock_mono () >= self->next_sweep_ms) {
            s_sweep (self);
            self->next_sweep_ms = zclock_mono () + (int64_t) interval_ms;
        }
    }
    s_destroy (&self);
}
