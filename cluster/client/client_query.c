/*  =========================================================================
    client_query - the router client's calls that move no object data:
    delete, versions, ping, list-keys, repair

    Each is one request and one reply, whose fields (and lists) are
    checked before they are handed to the caller. See client.h.
    =========================================================================
*/

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <msgpack.h>

#include "client_core.h"
#include "digest.h"
#include "request.h"             //  LIMIT_LIST_KEYS_MAX
#include "wire.h"

//  --------------------------------------------------------------------------
//  delete, list-versions, ping

client_result_t
client_delete (client_t *self, uint32_t collection_id, const char *key, const uint64_t *unified_id,
               uint64_t *tombstone_p)
{
    assert (self);
    self->error [0] = 0;
    client_result_t result = client_core_check_key (self, key);
    if (result == CLIENT_OK)
        result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;
    router_request_t *request = client_core_request (self, ROUTER_MSG_DELETE);
    client_core_request_object (request, collection_id, key);
    if (unified_id)
        client_core_request_unified_id (request, *unified_id);
    client_reply_t reply;
    client_core_reply_init (&reply);
    result = client_core_exchange (self, NULL, 0, "delete-reply", &reply);
    uint64_t tombstone = 0;
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, &reply, "delete-reply", "unified-id", UINT64_MAX, &tombstone);
    if (result == CLIENT_OK && tombstone_p)
        *tombstone_p = tombstone;
    client_core_reply_reset (&reply);
    return result;
}

//  The list a reply carries in field name: *list_p the array, *entries_p a
//  zeroed array of as many entries of entry_size (NULL when empty) for the
//  caller to fill, *count_p their number
static client_result_t
s_reply_list (client_t *self, const client_reply_t *reply, const char *reply_type, const char *name,
              size_t entry_size, const msgpack_object **list_p, void **entries_p, size_t *count_p)
{
    *entries_p = NULL;
    *count_p = 0;
    const msgpack_object *list = router_reply_field (reply->header, name);
    if (!list || list->type != MSGPACK_OBJECT_ARRAY)
        return client_core_bad_field (self, reply_type, name);
    if (list->via.array.size > 0) {
        *entries_p = calloc (list->via.array.size, entry_size);
        if (!*entries_p)
            return client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    }
    *list_p = list;
    *count_p = list->via.array.size;
    return CLIENT_OK;
}

//  The fields every entry of a version or key list has: unified-id, size,
//  and an optional timestamp. True if they are usable.
static bool
s_entry_common (const msgpack_object *entry, uint64_t *unified_id_p, uint64_t *size_p,
                char *timestamp, size_t timestamp_size)
{
    const msgpack_object *id = wire_map_find (entry, "unified-id");
    const msgpack_object *size = wire_map_find (entry, "size");
    const msgpack_object *stamp = wire_map_find (entry, "timestamp");
    return id && size
        && wire_get_uint (id, 0, UINT64_MAX, unified_id_p) == 0
        && wire_get_uint (size, 0, UINT64_MAX, size_p) == 0
        && (!stamp || router_reply_str_copy (stamp, timestamp, timestamp_size) == 0);
}

client_result_t
client_versions (client_t *self, uint32_t collection_id, const char *key, client_version_t **versions_p,
                 size_t *count_p)
{
    assert (self);
    assert (versions_p);
    assert (count_p);
    *versions_p = NULL;
    *count_p = 0;
    self->error [0] = 0;
    client_result_t result = client_core_check_key (self, key);
    if (result == CLIENT_OK)
        result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;
    client_core_request_object (client_core_request (self, ROUTER_MSG_LIST_VERSIONS), collection_id, key);
    client_reply_t reply;
    client_core_reply_init (&reply);
    result = client_core_exchange (self, NULL, 0, "list-versions-reply", &reply);
    const msgpack_object *list = NULL;
    client_version_t *versions = NULL;
    size_t count = 0;
    if (result == CLIENT_OK)
        result = s_reply_list (self, &reply, "list-versions-reply", "versions", sizeof (client_version_t),
                               &list, (void **) &versions, &count);
    for (size_t index = 0; result == CLIENT_OK && index < count; index++) {
        const msgpack_object *entry = &list->via.array.ptr [index];
        client_version_t *version = &versions [index];
        const msgpack_object *hash = wire_map_find (entry, "file-hash");
        bool usable = s_entry_common (entry, &version->unified_id, &version->size, version->timestamp,
                                      sizeof version->timestamp)
                   && hash && wire_get_digest (hash, version->file_hash) == 0;
        if (!usable)
            result = client_core_fail (self, CLIENT_PROTOCOL_ERROR,
                                       "the router's list-versions-reply has an unusable entry %zu", index);
    }
    if (result == CLIENT_OK) {
        *versions_p = versions;
        *count_p = count;
    }
    else
        free (versions);
    client_core_reply_reset (&reply);
    return result;
}

void
client_ping_clear (client_ping_t *ping)
{
    if (!ping)
        return;
    free (ping->nodes);
    memset (ping, 0, sizeof *ping);
}

client_result_t
client_ping (client_t *self, client_ping_t *ping)
{
    assert (self);
    assert (ping);
    memset (ping, 0, sizeof *ping);
    client_result_t result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;
    client_core_request (self, ROUTER_MSG_PING);
    client_reply_t reply;
    client_core_reply_init (&reply);
    result = client_core_exchange (self, NULL, 0, "ping-reply", &reply);
    uint64_t value;
    if (result == CLIENT_OK && router_reply_field (reply.header, "cluster")
    &&  router_reply_str_copy (router_reply_field (reply.header, "cluster"), ping->cluster, sizeof ping->cluster) != 0)
        result = client_core_bad_field (self, "ping-reply", "cluster");
    if (result == CLIENT_OK && router_reply_field (reply.header, "version")
    &&  router_reply_str_copy (router_reply_field (reply.header, "version"), ping->version, sizeof ping->version) != 0)
        result = client_core_bad_field (self, "ping-reply", "version");
    if (result == CLIENT_OK && router_reply_field (reply.header, "data-shards")) {
        result = client_core_uint_field (self, &reply, "ping-reply", "data-shards", 255, &value);
        ping->data_shards = (int) value;
    }
    if (result == CLIENT_OK && router_reply_field (reply.header, "total-shards")) {
        result = client_core_uint_field (self, &reply, "ping-reply", "total-shards", 255, &value);
        ping->total_shards = (int) value;
    }
    if (result == CLIENT_OK && router_reply_field (reply.header, "handoff-writes"))
        result = client_core_uint_field (self, &reply, "ping-reply", "handoff-writes", UINT64_MAX,
                                         &ping->handoff_writes);
    if (result == CLIENT_OK && router_reply_field (reply.header, "cluster-fingerprint"))
        router_reply_str_copy (router_reply_field (reply.header, "cluster-fingerprint"), ping->fingerprint, sizeof ping->fingerprint);
    const msgpack_object *nodes = result == CLIENT_OK? router_reply_field (reply.header, "nodes"): NULL;
    if (nodes && nodes->type != MSGPACK_OBJECT_ARRAY)
        result = client_core_bad_field (self, "ping-reply", "nodes");
    else
    if (nodes && nodes->via.array.size > 0) {
        ping->nodes = (client_node_t *) calloc (nodes->via.array.size, sizeof (client_node_t));
        if (!ping->nodes)
            result = client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
        for (uint32_t index = 0; result == CLIENT_OK && index < nodes->via.array.size; index++) {
            const msgpack_object *entry = &nodes->via.array.ptr [index];
            const msgpack_object *reachable = entry->type == MSGPACK_OBJECT_MAP?
                                              wire_map_find (entry, "reachable"): NULL;
            if (entry->type != MSGPACK_OBJECT_MAP
            ||  router_reply_str_copy (wire_map_find (entry, "name"), ping->nodes [index].name, sizeof ping->nodes [index].name) != 0
            ||  !reachable || reachable->type != MSGPACK_OBJECT_BOOLEAN)
                result = client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's ping-reply has an unusable node %u",
                                           (unsigned) index);
            else {
                client_node_t *node = &ping->nodes [index];
                node->reachable = reachable->via.boolean;
                struct { const char *key; int64_t *field; } figures [] = {
                    { "last-answer-ms", &node->last_answer_ms }, { "free-bytes", &node->free_bytes },
                    { "total-bytes", &node->total_bytes }, { "live-bytes", &node->live_bytes },
                    { "garbage-bytes", &node->garbage_bytes }, { "handoff-held", &node->handoff_held },
                    { "damaged-records", &node->damaged_records },
                };
                for (size_t figure = 0; figure < sizeof figures / sizeof figures [0]; figure++) {
                    const msgpack_object *found = wire_map_find (entry, figures [figure].key);
                    *figures [figure].field = found && found->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                            && found->via.u64 <= INT64_MAX? (int64_t) found->via.u64: -1;
                }
                const msgpack_object *mismatch = wire_map_find (entry, "cluster-mismatch");
                if (mismatch)
                    router_reply_str_copy (mismatch, node->mismatch, sizeof node->mismatch);
            }
            ping->node_count = index + 1;
        }
    }
    if (result != CLIENT_OK) {
        char saved [sizeof self->error];
        memcpy (saved, self->error, sizeof saved);
        client_ping_clear (ping);
        memcpy (self->error, saved, sizeof saved);
    }
    client_core_reply_reset (&reply);
    return result;
}


//  --------------------------------------------------------------------------
//  list-keys (one page)

client_result_t
client_list_keys (client_t *self, uint32_t collection_id, const char *prefix, size_t prefix_size,
                  const char *start_after, size_t start_after_size, uint32_t limit,
                  client_key_t **keys_p, size_t *count_p, bool *truncated_p)
{
    assert (self);
    assert (keys_p && count_p && truncated_p);
    assert (limit >= 1 && limit <= LIMIT_LIST_KEYS_MAX);
    *keys_p = NULL;
    *count_p = 0;
    *truncated_p = false;
    self->error [0] = 0;
    if (prefix_size > LIMIT_KEY_MAX || start_after_size > LIMIT_KEY_MAX)
        return client_core_fail (self, CLIENT_INVALID_REQUEST, "prefix or start-after longer than %d bytes",
                                 LIMIT_KEY_MAX);
    client_result_t result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;
    router_request_t *request = client_core_request (self, ROUTER_MSG_LIST_KEYS);
    request->collection_id = collection_id;
    request->limit = limit;
    request->present |= ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_LIMIT;
    if (prefix_size) {
        memcpy (request->prefix, prefix, prefix_size);
        request->prefix_size = prefix_size;
        request->present |= ROUTER_FIELD_PREFIX;
    }
    if (start_after_size) {
        memcpy (request->start_after, start_after, start_after_size);
        request->start_after_size = start_after_size;
        request->present |= ROUTER_FIELD_START_AFTER;
    }
    client_reply_t reply;
    client_core_reply_init (&reply);
    result = client_core_exchange (self, NULL, 0, "list-keys-reply", &reply);
    const msgpack_object *list = NULL;
    client_key_t *keys = NULL;
    size_t count = 0;
    bool truncated = false;
    if (result == CLIENT_OK)
        result = s_reply_list (self, &reply, "list-keys-reply", "keys", sizeof (client_key_t),
                               &list, (void **) &keys, &count);
    if (result == CLIENT_OK && router_reply_get_bool (reply.header, "truncated", &truncated) != 0)
        result = client_core_bad_field (self, "list-keys-reply", "truncated");
    for (size_t index = 0; result == CLIENT_OK && index < count; index++) {
        const msgpack_object *entry = &list->via.array.ptr [index];
        client_key_t *key = &keys [index];
        const msgpack_object *name = wire_map_find (entry, "key");
        const msgpack_object *deleted = wire_map_find (entry, "deleted");
        bool usable = s_entry_common (entry, &key->unified_id, &key->size, key->timestamp,
                                      sizeof key->timestamp)
                   && name && deleted && deleted->type == MSGPACK_OBJECT_BOOLEAN
                   && (name->type == MSGPACK_OBJECT_STR || name->type == MSGPACK_OBJECT_BIN)
                   && name->via.str.size <= LIMIT_KEY_MAX;
        if (usable) {
            //  str and bin share their layout in msgpack-c
            memcpy (key->key, name->via.str.ptr, name->via.str.size);
            key->key [name->via.str.size] = 0;
            key->key_size = name->via.str.size;
            key->deleted = deleted->via.boolean;
        }
        else
            result = client_core_fail (self, CLIENT_PROTOCOL_ERROR,
                                       "the router's list-keys-reply has an unusable entry %zu", index);
    }
    if (result == CLIENT_OK) {
        *keys_p = keys;
        *count_p = count;
        *truncated_p = truncated;
    }
    else
        free (keys);
    client_core_reply_reset (&reply);
    return result;
}


//  --------------------------------------------------------------------------
//  repair (one object)

client_result_t
client_repair (client_t *self, uint32_t collection_id, const char *key, const char *node,
               client_repair_t *repair)
{
    assert (self);
    assert (repair);
    memset (repair, 0, sizeof (*repair));
    self->error [0] = 0;
    client_result_t result = client_core_check_key (self, key);
    if (result == CLIENT_OK)
        result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;
    router_request_t *request = client_core_request (self, ROUTER_MSG_REPAIR);
    client_core_request_object (request, collection_id, key);
    if (node) {
        snprintf (request->node, sizeof request->node, "%s", node);
        request->present |= ROUTER_FIELD_NODE;
    }
    client_reply_t reply;
    client_core_reply_init (&reply);
    result = client_core_exchange (self, NULL, 0, "repair-reply", &reply);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, &reply, "repair-reply", "versions", UINT64_MAX, &repair->versions);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, &reply, "repair-reply", "rebuilt", UINT64_MAX, &repair->rebuilt);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, &reply, "repair-reply", "rebuilt-bytes", UINT64_MAX,
                                         &repair->rebuilt_bytes);
    const msgpack_object *list = result == CLIENT_OK? router_reply_field (reply.header, "unrecoverable"): NULL;
    if (result == CLIENT_OK && (!list || list->type != MSGPACK_OBJECT_ARRAY))
        result = client_core_bad_field (self, "repair-reply", "unrecoverable");
    if (result == CLIENT_OK) {
        repair->unrecoverable_count = list->via.array.size;
        for (uint32_t index = 0; index < list->via.array.size; index++) {
            uint64_t id = 0;
            if (wire_get_uint (&list->via.array.ptr [index], 0, UINT64_MAX, &id)) {
                result = client_core_bad_field (self, "repair-reply", "unrecoverable");
                break;
            }
            if (index < 16)
                repair->unrecoverable [index] = id;
        }
    }
    client_core_reply_reset (&reply);
    return result;
}
