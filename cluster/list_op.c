/*  =========================================================================
    list_op - list the visible versions of a key

    Each node's answer is parsed (bounded: at most S_MAX_VERSIONS entries
    of a well-formed array) and tallied by unified-id; when every node has
    answered or timed out, the versions listed by k nodes are sorted and
    sent. Asking the nodes and the quorum are fanout's. See list_op.h.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include "list_op.h"
#include "fanout.h"
#include "timestamp.h"
#include "wire.h"

#define S_MAX_VERSIONS  1000        //  versions read from one node (the node's own limit)

struct _list_op_t {
    op_env_t *env;                  //  borrowed
    op_client_t *client;            //  waiting for the answer
    uint32_t collection_id;         //  collection-id
    char key [LIMIT_KEY_MAX + 1];   //  key
    size_t key_size;                //  bytes of key
    char request_id [LIMIT_ID_MAX + 1];     //  sent as user-request-id
    fanout_t fanout;                //  the nodes asked; k must list a version
    list_op_version_t *versions;    //  tally, malloc'd
    size_t version_count;           //  entries in versions
    bool done;                      //  client answered
};

list_op_t *
list_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p)
{
    assert (env && request && client_p && *client_p);
    list_op_t *self = (list_op_t *) calloc (1, sizeof (list_op_t));
    if (!self)
        return NULL;
    if (fanout_init (&self->fanout, env)) {
        free (self);
        return NULL;
    }
    self->env = env;
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
    fanout_clear (&self->fanout);
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

//  Read one version map; 0 or -1
static int
s_read_version (const msgpack_object *object, list_op_version_t *version)
{
    memset (version, 0, sizeof (*version));
    const msgpack_object *hash = wire_map_find (object, "file-hash");
    return fanout_read_entry (object, &version->unified_id, &version->timestamp, &version->size) == 0
        && hash && wire_get_digest (hash, version->file_hash) == 0? 0: -1;
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
    router_result_t result;
    char error [256];
    if (fanout_quorum (&self->fanout, &result, error, sizeof error)) {
        s_fail (self, result, "%s", error);
        return;
    }
    size_t k = self->fanout.k;
    if (self->version_count > 1)
        qsort (self->versions, self->version_count, sizeof (list_op_version_t), s_newest_first);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    size_t listed = 0;
    for (size_t index = 0; index < self->version_count; index++)
        if (self->versions [index].nodes >= k)
            listed++;
    msgpack_pack_array (&packer, listed);
    for (size_t index = 0; index < self->version_count; index++) {
        list_op_version_t *version = &self->versions [index];
        if (version->nodes < k)
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

//  The list-versions request every node is sent
static void
s_fill (void *op, request_t *request)
{
    list_op_t *self = (list_op_t *) op;
    request->type = MSG_LIST_VERSIONS;
    request->collection_id = self->collection_id;
    memcpy (request->key, self->key, self->key_size + 1);
    request->key_size = self->key_size;
    snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
    request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_USER_REQUEST_ID;
}

void
list_op_start (list_op_t *self)
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
list_op_on_event (list_op_t *self, node_event_t *event)
{
    assert (self && event);
    reply_t *reply;
    int rc = self->done? -1: fanout_event (&self->fanout, event, &reply);
    if (rc < 0)
        return;
    if (rc == 1)
        fanout_read (&self->fanout, event->node,
                     (reply->fields & REPLY_FIELD_VERSIONS)
                     && list_op_tally (reply->versions, reply->versions_size, S_MAX_VERSIONS,
                                       &self->versions, &self->version_count) == 0,
                     "malformed versions");
    if (fanout_all_in (&self->fanout))
        s_finish (self);
}
