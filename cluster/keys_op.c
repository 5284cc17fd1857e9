/*  =========================================================================
    keys_op - list the keys of a collection, one page at a time

    Each node's page is parsed (at most LIMIT_LIST_KEYS_MAX entries of a
    well-formed array) into entries; when every node has answered or timed
    out, the entries of all pages are sorted by key (then newest first),
    and the merged page is written. Asking the nodes and the quorum are
    fanout's. See keys_op.h.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include "keys_op.h"
#include "fanout.h"
#include "timestamp.h"
#include "wire.h"

#define S_REPLY_BYTES   (192 * 1024)    //  entries in one reply (header limit 256 KiB)

//  One key as one node listed it
typedef struct {
    char *key;                      //  bytes, malloc'd
    size_t key_size;
    uint64_t unified_id;
    int64_t timestamp;              //  usec since the epoch
    uint64_t size;                  //  file-size (0 for a tombstone)
    bool deleted;                   //  the newest state is a tombstone
} s_entry_t;

//  What one node answered
typedef struct {
    bool truncated;                 //  its page stopped early
    s_entry_t *last;                //  its last entry (in entries), when truncated
} s_node_t;

struct _keys_op_t {
    op_env_t *env;                  //  borrowed
    op_client_t *client;            //  waiting for the answer
    uint32_t collection_id;
    char prefix [LIMIT_KEY_MAX + 1];
    size_t prefix_size;
    bool has_prefix;
    char start_after [LIMIT_KEY_MAX + 1];
    size_t start_after_size;
    bool has_start_after;
    uint32_t limit;
    char request_id [LIMIT_ID_MAX + 1];     //  sent as user-request-id
    fanout_t fanout;                //  the nodes asked, k answers needed
    size_t node_count;              //  n
    s_node_t *nodes;                //  per node
    s_entry_t *entries;             //  every node's entries, malloc'd
    size_t entry_count;
    size_t entry_room;
    bool done;                      //  client answered
};

keys_op_t *
keys_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p)
{
    assert (env && request && client_p && *client_p);
    keys_op_t *self = (keys_op_t *) calloc (1, sizeof (keys_op_t));
    if (!self)
        return NULL;
    self->node_count = cluster_config_node_count (env->cluster);
    self->nodes = (s_node_t *) calloc (self->node_count, sizeof (s_node_t));
    if (!self->nodes || fanout_init (&self->fanout, env)) {
        free (self->nodes);
        fanout_clear (&self->fanout);
        free (self);
        return NULL;
    }
    self->env = env;
    self->collection_id = request->collection_id;
    self->has_prefix = (request->present & ROUTER_FIELD_PREFIX) != 0;
    if (self->has_prefix) {
        memcpy (self->prefix, request->prefix, request->prefix_size);
        self->prefix_size = request->prefix_size;
    }
    self->has_start_after = (request->present & ROUTER_FIELD_START_AFTER) != 0;
    if (self->has_start_after) {
        memcpy (self->start_after, request->start_after, request->start_after_size);
        self->start_after_size = request->start_after_size;
    }
    self->limit = (request->present & ROUTER_FIELD_LIMIT)? request->limit: LIMIT_LIST_KEYS_MAX;
    snprintf (self->request_id, sizeof self->request_id, "%s", request->request_id);
    self->client = *client_p;
    *client_p = NULL;
    return self;
}

void
keys_op_destroy (keys_op_t **self_p)
{
    assert (self_p);
    keys_op_t *self = *self_p;
    if (!self)
        return;
    op_client_destroy (&self->client);
    for (size_t index = 0; index < self->entry_count; index++)
        free (self->entries [index].key);
    free (self->entries);
    free (self->nodes);
    fanout_clear (&self->fanout);
    free (self);
    *self_p = NULL;
}

bool
keys_op_done (keys_op_t *self)
{
    assert (self);
    return self->done;
}

//  Read one entry map; 0 or -1 (entry->key is malloc'd on success)
static int
s_read_entry (const msgpack_object *object, s_entry_t *entry)
{
    memset (entry, 0, sizeof (*entry));
    char key [LIMIT_KEY_MAX + 1];
    size_t key_size = 0;
    const msgpack_object *name = wire_map_find (object, "key");
    const msgpack_object *deleted = wire_map_find (object, "deleted");
    if (fanout_read_entry (object, &entry->unified_id, &entry->timestamp, &entry->size)
    ||  !name || wire_get_bytes (name, LIMIT_KEY_MAX, key, &key_size) || key_size == 0
    ||  !deleted || deleted->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    entry->deleted = deleted->via.boolean;
    entry->key = (char *) malloc (key_size);
    if (!entry->key)
        return -1;
    memcpy (entry->key, key, key_size);
    entry->key_size = key_size;
    return 0;
}

//  Bytewise order of two keys
static int
s_compare_keys (const char *left, size_t left_size, const char *right, size_t right_size)
{
    size_t common = left_size < right_size? left_size: right_size;
    int order = memcmp (left, right, common);
    if (order)
        return order;
    return left_size < right_size? -1: left_size > right_size? 1: 0;
}

//  Add a node's page; 0, or -1 if it is malformed (nothing added then)
static int
s_add_page (keys_op_t *self, size_t node, const uint8_t *data, size_t size, bool truncated)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = -1;
    if (!data || wire_unpack (&unpacked, data, size, size, &why) != 0
    ||  unpacked.data.type != MSGPACK_OBJECT_ARRAY
    ||  unpacked.data.via.array.size > LIMIT_LIST_KEYS_MAX)
        goto done;
    const msgpack_object_array *array = &unpacked.data.via.array;
    if (self->entry_count + array->size > self->entry_room) {
        size_t room = self->entry_count + array->size;
        s_entry_t *grown = (s_entry_t *) realloc (self->entries, (room? room: 1) * sizeof (s_entry_t));
        if (!grown)
            goto done;
        self->entries = grown;
        self->entry_room = room;
    }
    size_t first = self->entry_count;
    for (uint32_t index = 0; index < array->size; index++) {
        s_entry_t *entry = &self->entries [first + index];
        if (s_read_entry (&array->ptr [index], entry)) {
            for (size_t earlier = first; earlier < first + index; earlier++)
                free (self->entries [earlier].key);
            goto done;
        }
    }
    self->entry_count = first + array->size;
    //  Where the page ends: its greatest key (a node lists in order, but
    //  take the greatest whatever the order)
    self->nodes [node].truncated = truncated && array->size > 0;
    if (self->nodes [node].truncated) {
        size_t last = first;
        for (size_t index = first + 1; index < self->entry_count; index++)
            if (s_compare_keys (self->entries [index].key, self->entries [index].key_size,
                                self->entries [last].key, self->entries [last].key_size) > 0)
                last = index;
        //  A copy: the entries move when they are sorted
        s_entry_t *bound = (s_entry_t *) calloc (1, sizeof (s_entry_t));
        if (!bound || !(bound->key = (char *) malloc (self->entries [last].key_size))) {
            free (bound);
            goto done;
        }
        memcpy (bound->key, self->entries [last].key, self->entries [last].key_size);
        bound->key_size = self->entries [last].key_size;
        self->nodes [node].last = bound;
    }
    rc = 0;
done:
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

static void
s_fail (keys_op_t *self, router_result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (keys_op_t *self, router_result_t result, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    op_client_fail (&self->client, self->env, result, message);
    self->done = true;
}

//  Key order, then newest first
static int
s_entry_order (const void *a, const void *b)
{
    const s_entry_t *left = (const s_entry_t *) a;
    const s_entry_t *right = (const s_entry_t *) b;
    int order = s_compare_keys (left->key, left->key_size, right->key, right->key_size);
    if (order)
        return order;
    return left->unified_id < right->unified_id? 1: left->unified_id > right->unified_id? -1: 0;
}

static void
s_free_bounds (keys_op_t *self)
{
    for (size_t node = 0; node < self->node_count; node++)
        if (self->nodes [node].last) {
            free (self->nodes [node].last->key);
            free (self->nodes [node].last);
            self->nodes [node].last = NULL;
        }
}

//  Everyone answered or is given up on: reply
static void
s_finish (keys_op_t *self)
{
    router_result_t result;
    char error [256];
    if (fanout_quorum (&self->fanout, &result, error, sizeof error)) {
        s_free_bounds (self);
        s_fail (self, result, "%s", error);
        return;
    }
    //  The smallest last key of a truncated page bounds the merged page
    const s_entry_t *bound = NULL;
    for (size_t node = 0; node < self->node_count; node++) {
        const s_entry_t *last = self->nodes [node].last;
        if (last && (!bound || s_compare_keys (last->key, last->key_size, bound->key, bound->key_size) < 0))
            bound = last;
    }
    bool truncated = bound != NULL;
    if (self->entry_count > 1)
        qsort (self->entries, self->entry_count, sizeof (s_entry_t), s_entry_order);

    msgpack_sbuffer items;
    msgpack_sbuffer_init (&items);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &items, msgpack_sbuffer_write);
    size_t listed = 0;
    for (size_t index = 0; index < self->entry_count; index++) {
        const s_entry_t *entry = &self->entries [index];
        if (index > 0 && s_compare_keys (entry->key, entry->key_size, self->entries [index - 1].key,
                                         self->entries [index - 1].key_size) == 0)
            continue;           //  an older state of the key just listed
        if (bound && s_compare_keys (entry->key, entry->key_size, bound->key, bound->key_size) > 0)
            break;              //  not yet known from every node
        if (listed == self->limit || items.size >= S_REPLY_BYTES) {
            truncated = true;
            break;
        }
        char timestamp [TIMESTAMP_TEXT_SIZE];
        timestamp_format (entry->timestamp, timestamp);
        msgpack_pack_map (&packer, 5);
        msgpack_pack_str_with_body (&packer, "key", 3);
        if (wire_utf8_valid (entry->key, entry->key_size, false))
            msgpack_pack_str_with_body (&packer, entry->key, entry->key_size);
        else
            msgpack_pack_bin_with_body (&packer, entry->key, entry->key_size);
        msgpack_pack_str_with_body (&packer, "unified-id", 10);
        msgpack_pack_uint64 (&packer, entry->unified_id);
        msgpack_pack_str_with_body (&packer, "timestamp", 9);
        msgpack_pack_str_with_body (&packer, timestamp, strlen (timestamp));
        msgpack_pack_str_with_body (&packer, "size", 4);
        msgpack_pack_uint64 (&packer, entry->size);
        msgpack_pack_str_with_body (&packer, "deleted", 7);
        if (entry->deleted)
            msgpack_pack_true (&packer);
        else
            msgpack_pack_false (&packer);
        listed++;
    }
    s_free_bounds (self);
    msgpack_sbuffer keys;
    msgpack_sbuffer_init (&keys);
    msgpack_packer_init (&packer, &keys, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, listed);
    msgpack_sbuffer_write (&keys, items.data, items.size);
    msgpack_sbuffer_destroy (&items);

    router_reply_t *reply = op_client_reply (self->client);
    if (reply) {
        router_reply_add_raw (reply, "keys", (const uint8_t *) keys.data, keys.size);
        router_reply_add_bool (reply, "truncated", truncated);
        op_client_answer (&self->client, self->env, &reply, NULL);
    }
    else
        op_client_destroy (&self->client);
    msgpack_sbuffer_destroy (&keys);
    self->done = true;
}

//  The list-keys request every node is sent
static void
s_fill (void *op, request_t *request)
{
    keys_op_t *self = (keys_op_t *) op;
    request->type = MSG_LIST_KEYS;
    request->collection_id = self->collection_id;
    request->limit = self->limit;
    request->present = FIELD_COLLECTION_ID | FIELD_LIMIT | FIELD_USER_REQUEST_ID;
    if (self->has_prefix) {
        memcpy (request->prefix, self->prefix, self->prefix_size);
        request->prefix_size = self->prefix_size;
        request->present |= FIELD_PREFIX;
    }
    if (self->has_start_after) {
        memcpy (request->start_after, self->start_after, self->start_after_size);
        request->start_after_size = self->start_after_size;
        request->present |= FIELD_START_AFTER;
    }
    snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
}

void
keys_op_start (keys_op_t *self)
{
    assert (self);
    router_result_t result;
    char error [256];
    if (fanout_send (&self->fanout, self, s_fill, &result, error, sizeof error)) {
        s_fail (self, result, "%s", error);
        return;
    }
    if (fanout_all_in (&self->fanout))
        s_finish (self);
}

void
keys_op_on_event (keys_op_t *self, node_event_t *event)
{
    assert (self && event);
    reply_t *reply;
    int rc = self->done? -1: fanout_event (&self->fanout, event, &reply);
    if (rc < 0)
        return;
    if (rc == 1)
        fanout_read (&self->fanout, event->node,
                     (reply->fields & REPLY_FIELD_KEYS)
                     && s_add_page (self, event->node, reply->keys, reply->keys_size,
                                    (reply->fields & REPLY_FIELD_TRUNCATED) && reply->truncated) == 0,
                     "malformed keys");
    if (fanout_all_in (&self->fanout))
        s_finish (self);
}
