/*  =========================================================================
    list_op - list the visible versions of a key

    Each node's answer is parsed (bounded: at most S_MAX_VERSIONS entries
    of a well-formed array) and tallied by unified-id; when every node has
    answered or timed out, the versions listed by k nodes are sorted and
    sent. See list_op.h.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include "list_op.h"
#include "timestamp.h"
#include "wire.h"

#define S_MAX_VERSIONS  1000        //  versions read from one node (the node's own limit)

typedef enum {
    S_WAITING = 0, S_ANSWERED, S_FAILED, S_MISSING
} s_state_t;

struct _list_op_t {
    op_env_t *env;                  //  borrowed
    op_client_t *client;            //  waiting for the answer
    uint32_t collection_id;         //  collection-id
    char key [LIMIT_KEY_MAX + 1];   //  key
    size_t key_size;                //  bytes of key
    char request_id [LIMIT_ID_MAX + 1];     //  sent as user-request-id
    size_t node_count;              //  n
    size_t k;                       //  nodes that must list a version
    s_state_t *states;              //  per node
    list_op_version_t *versions;    //  tally, malloc'd
    size_t version_count;           //  entries in versions
    bool timed_out;                 //  a node did not answer in time
    char why [200];                 //  the first node failure, for messages
    bool done;                      //  client answered
};

list_op_t *
list_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p)
{
    assert (env && request && client_p && *client_p);
    list_op_t *self = (list_op_t *) calloc (1, sizeof (list_op_t));
    if (!self)
        return NULL;
    self->node_count = cluster_config_node_count (env->cluster);
    self->states = (s_state_t *) calloc (self->node_count, sizeof (s_state_t));
    if (!self->states) {
        free (self);
        return NULL;
    }
    self->env = env;
    self->k = (size_t) cluster_config_data_shards (env->cluster);
    self->collection_id = request->collection_id;
    memcpy (self->key, request->key, request->key_size + 1);
    self->key_size = request->key_size;
    snprintf (self->request_id, sizeof self->request_id, "%s", request->request_id);
    self->client = *client_p;
    *client_p = NULL;
    return self;
}

void
list_op_destroy (list_op_t **self_p)
{
    assert (self_p);
    list_op_t *self = *self_p;
    if (!self)
        return;
    op_client_destroy (&self->client);
    free (self->states);
    free (self->versions);
    free (self);
    *self_p = NULL;
}

bool
list_op_done (list_op_t *self)
{
    assert (self);
    return self->done;
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    size_t size = strlen (name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == size
        && memcmp (key->via.str.ptr, name, size) == 0;
}

//  Read one version map; 0 or -1
static int
s_read_version (const msgpack_object *object, list_op_version_t *version)
{
    if (object->type != MSGPACK_OBJECT_MAP)
        return -1;
    memset (version, 0, sizeof (*version));
    unsigned found = 0;
    const msgpack_object_map *map = &object->via.map;
    for (uint32_t entry = 0; entry < map->size; entry++) {
        const msgpack_object *key = &map->ptr [entry].key;
        const msgpack_object *value = &map->ptr [entry].val;
        if (s_key_is (key, "unified-id")) {
            if (wire_get_uint (value, 0, UINT64_MAX, &version->unified_id))
                return -1;
            found |= 1;
        }
        else
        if (s_key_is (key, "timestamp-repr")) {
            if (value->type != MSGPACK_OBJECT_STR
            ||  timestamp_parse (value->via.str.ptr, value->via.str.size, &version->timestamp))
                return -1;
            found |= 2;
        }
        else
        if (s_key_is (key, "file-size")) {
            if (wire_get_uint (value, 0, UINT64_MAX, &version->size))
                return -1;
            found |= 4;
        }
        else
        if (s_key_is (key, "file-hash")) {
            if (wire_get_digest (value, version->file_hash))
                return -1;
            found |= 8;
        }
    }
    return found == 15? 0: -1;
}

int
list_op_tally (const uint8_t *data, size_t size, size_t max,
               list_op_version_t **versions_p, size_t *count_p)
{
    assert (versions_p && count_p);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = -1;
    if (!data || wire_unpack (&unpacked, data, size, size, &why) != 0
    ||  unpacked.data.type != MSGPACK_OBJECT_ARRAY)
        goto done;
    const msgpack_object_array *array = &unpacked.data.via.array;
    size_t entries = array->size < max? array->size: max;
    list_op_version_t *parsed = (list_op_version_t *) calloc (entries? entries: 1, sizeof (list_op_version_t));
    if (!parsed)
        goto done;
    for (size_t entry = 0; entry < entries; entry++)
        if (s_read_version (&array->ptr [entry], &parsed [entry])) {
            free (parsed);
            goto done;
        }
    for (size_t entry = 0; entry < entries; entry++) {
        //  A node lists a version once; count it once even if repeated
        bool repeated = false;
        for (size_t earlier = 0; earlier < entry && !repeated; earlier++)
            repeated = parsed [earlier].unified_id == parsed [entry].unified_id;
        if (repeated)
            continue;
        size_t index = 0;
        while (index < *count_p && (*versions_p) [index].unified_id != parsed [entry].unified_id)
            index++;
        if (index == *count_p) {
            list_op_version_t *grown = (list_op_version_t *) realloc (*versions_p,
                                        (*count_p + 1) * sizeof (list_op_version_t));
            if (!grown) {
                free (parsed);
                goto done;
            }
            *versions_p = grown;
            grown [index] = parsed [entry];
            grown [index].nodes = 0;
            (*count_p)++;
        }
        (*versions_p) [index].nodes++;
    }
    free (parsed);
    rc = 0;
done:
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

static void
s_fail (list_op_t *self, router_result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (list_op_t *self, router_result_t result, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    op_client_fail (&self->client, self->env, result, message);
    self->done = true;
}

static int
s_newest_first (const void *a, const void *b)
{
    uint64_t left = ((const list_op_version_t *) a)->unified_id;
    uint64_t right = ((const list_op_version_t *) b)->unified_id;
    return left < right? 1: left > right? -1: 0;
}

//  Everyone answered or is given up on: reply
static void
s_finish (list_op_t *self)
{
    size_t answered = 0, missing = 0;
    for (size_t node = 0; node < self->node_count; node++) {
        if (self->states [node] == S_ANSWERED)
            answered++;
        if (self->states [node] == S_MISSING)
            missing++;
    }
    if (answered < self->k) {
        if (missing > self->node_count - self->k)
            s_fail (self, self->timed_out? ROUTER_TIMEOUT: ROUTER_UNAVAILABLE,
                    "only %zu of %zu nodes answered, %zu are needed: %s", answered,
                    self->node_count, self->k, self->why);
        else
            s_fail (self, ROUTER_IO_ERROR, "only %zu of %zu nodes answered, %zu are needed: %s",
                    answered, self->node_count, self->k, self->why);
        return;
    }
    if (self->version_count > 1)
        qsort (self->versions, self->version_count, sizeof (list_op_version_t), s_newest_first);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    size_t listed = 0;
    for (size_t index = 0; index < self->version_count; index++)
        if (self->versions [index].nodes >= self->k)
            listed++;
    msgpack_pack_array (&packer, listed);
    for (size_t index = 0; index < self->version_count; index++) {
        list_op_version_t *version = &self->versions [index];
        if (version->nodes < self->k)
            continue;
        char timestamp [TIMESTAMP_TEXT_SIZE];
        char digest [DIGEST_MD5_BASE64_SIZE];
        timestamp_format (version->timestamp, timestamp);
        digest_md5_to_base64 (version->file_hash, digest);
        msgpack_pack_map (&packer, 4);
        msgpack_pack_str_with_body (&packer, "unified-id", 10);
        msgpack_pack_uint64 (&packer, version->unified_id);
        msgpack_pack_str_with_body (&packer, "timestamp", 9);
        msgpack_pack_str_with_body (&packer, timestamp, strlen (timestamp));
        msgpack_pack_str_with_body (&packer, "size", 4);
        msgpack_pack_uint64 (&packer, version->size);
        msgpack_pack_str_with_body (&packer, "file-hash", 9);
        msgpack_pack_str_with_body (&packer, digest, strlen (digest));
    }
    router_reply_t *reply = op_client_reply (self->client);
    if (reply) {
        router_reply_add_raw (reply, "versions", (const uint8_t *) buffer.data, buffer.size);
        op_client_answer (&self->client, self->env, &reply, NULL);
    }
    else
        op_client_destroy (&self->client);
    msgpack_sbuffer_destroy (&buffer);
    self->done = true;
}

static void
s_note (list_op_t *self, size_t node, const char *why)
{
    if (!self->why [0])
        snprintf (self->why, sizeof self->why, "%s: %s",
                  cluster_config_node_name (self->env->cluster, node), why);
}

static void
s_check (list_op_t *self)
{
    for (size_t node = 0; node < self->node_count; node++)
        if (self->states [node] == S_WAITING)
            return;
    s_finish (self);
}

void
list_op_start (list_op_t *self)
{
    assert (self);
    size_t reachable = op_env_reachable_count (self->env);
    if (reachable < self->k) {
        char names [200];
        op_env_unreachable_names (self->env, names, sizeof names);
        s_fail (self, ROUTER_UNAVAILABLE, "only %zu of %zu nodes are reachable (down: %s); "
                "%zu are needed", reachable, self->node_count, names, self->k);
        return;
    }
    request_t *request = request_new ();
    if (!request) {
        s_fail (self, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    for (size_t node = 0; node < self->node_count; node++) {
        if (!self->env->reachable (self->env, node)) {
            self->states [node] = S_MISSING;
            s_note (self, node, "not reachable");
            continue;
        }
        request_reset (request);
        request->type = MSG_LIST_VERSIONS;
        request->collection_id = self->collection_id;
        memcpy (request->key, self->key, self->key_size + 1);
        request->key_size = self->key_size;
        request->segment_num = (uint8_t) (node + 1);
        snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
        request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM | FIELD_USER_REQUEST_ID;
        if (self->env->send (self->env, self, node, NODE_READER, request, NULL, 0)) {
            self->states [node] = S_MISSING;
            s_note (self, node, "not reachable");
        }
    }
    request_destroy (&request);
    s_check (self);
}

void
list_op_on_event (list_op_t *self, node_event_t *event)
{
    assert (self && event);
    if (self->done || event->node >= self->node_count || self->states [event->node] != S_WAITING)
        return;
    size_t node = event->node;
    reply_t *reply = event->reply;
    if (!reply) {
        self->states [node] = S_MISSING;
        self->timed_out = true;
        s_note (self, node, "no answer in time");
    }
    else
    if (reply->result != RESULT_SUCCESS) {
        self->states [node] = S_FAILED;
        char why [160];
        snprintf (why, sizeof why, "%s: %s", result_name (reply->result), reply->error_message);
        s_note (self, node, why);
    }
    else
    if (!(reply->fields & REPLY_FIELD_VERSIONS)
    ||  list_op_tally (reply->versions, reply->versions_size, S_MAX_VERSIONS,
                       &self->versions, &self->version_count)) {
        self->states [node] = S_FAILED;
        s_note (self, node, "malformed versions");
    }
    else
        self->states [node] = S_ANSWERED;
    s_check (self);
}
