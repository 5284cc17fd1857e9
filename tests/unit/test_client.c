/*  =========================================================================
    test_client - the router client library against a fake router

    The fake router is an actor with a ROUTER socket on a loopback port that
    answers per cluster/ROUTER.md from an in-memory store (small slices, so
    gets span several slices), and can be told to misbehave: stay silent,
    send garbage, send a stale reply first, answer every request with an
    error, corrupt the data it returns, lie about the hash it stored, or stop
    answering get-next. It counts the requests of each type, so a test can
    see whether a put went whole or streamed. A fake node answers `stats`
    for client_node_stats ().
    =========================================================================
*/

#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "client.h"
#include "node_client.h"
#include "digest.h"
#include "reply.h"
#include "request.h"
#include "wire.h"

//  --------------------------------------------------------------------------
//  The fake router

typedef struct {
    uint32_t collection;            //  collection-id
    char *key;                      //  key
    uint64_t unified_id;            //  version
    bool deleted;                   //  hidden by a delete
    zchunk_t *data;                 //  the object
    uint8_t md5 [DIGEST_MD5_SIZE];  //  its MD5
    uint8_t *meta;                  //  raw meta map, or NULL
    size_t meta_size;
} fake_object_t;

typedef struct {
    uint32_t collection;
    char *key;
    zchunk_t *data;                 //  bytes so far
    uint8_t *meta;
    size_t meta_size;
} fake_upload_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    zsock_t *router;                //  the ROUTER socket
    zlistx_t *objects;              //  fake_object_t *, oldest first
    zhashx_t *uploads;              //  upload-id -> fake_upload_t *
    uint64_t next_id;               //  unified-ids and upload-ids
    size_t slice_size;              //  slice size of gets and uploads
    char mode [64];                 //  misbehaviour, "normal" by default
    int counts [16];                //  requests per type (s_types order)
} fake_t;

static const char *s_types [] = {
    "ping", "put", "put-start", "put-data", "put-finish", "put-abort",
    "get", "get-next", "delete", "list-versions", NULL
};

static void
s_object_destroy (fake_object_t **object_p)
{
    fake_object_t *object = *object_p;
    if (!object)
        return;
    free (object->key);
    zchunk_destroy (&object->data);
    free (object->meta);
    free (object);
    *object_p = NULL;
}

static void
s_upload_destroy (void **item)
{
    fake_upload_t *upload = (fake_upload_t *) *item;
    if (!upload)
        return;
    free (upload->key);
    zchunk_destroy (&upload->data);
    free (upload->meta);
    free (upload);
    *item = NULL;
}

static const msgpack_object *
s_get (const msgpack_object *map, const char *name)
{
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object_kv *entry = &map->via.map.ptr [index];
        if (entry->key.type == MSGPACK_OBJECT_STR
        &&  entry->key.via.str.size == strlen (name)
        &&  memcmp (entry->key.via.str.ptr, name, strlen (name)) == 0)
            return &entry->val;
    }
    return NULL;
}

static char *
s_get_str (const msgpack_object *map, const char *name)
{
    const msgpack_object *value = s_get (map, name);
    if (!value || value->type != MSGPACK_OBJECT_STR)
        return NULL;
    return strndup (value->via.str.ptr, value->via.str.size);
}

static bool
s_get_uint (const msgpack_object *map, const char *name, uint64_t *value_p)
{
    const msgpack_object *value = s_get (map, name);
    return value && wire_get_uint (value, 0, UINT64_MAX, value_p) == 0;
}

static void
s_pack_str (msgpack_packer *packer, const char *text)
{
    msgpack_pack_str (packer, strlen (text));
    msgpack_pack_str_body (packer, text, strlen (text));
}

//  Start a reply map of 4 + extra entries: message-type, request-id,
//  result, error-message
static void
s_reply_begin (msgpack_packer *packer, const char *type, const char *request_id, const char *result,
               const char *message, uint32_t extra)
{
    msgpack_pack_map (packer, 4 + extra);
    s_pack_str (packer, "message-type");
    char reply_type [80];
    snprintf (reply_type, sizeof reply_type, "%s-reply", type);
    s_pack_str (packer, reply_type);
    s_pack_str (packer, "request-id");
    s_pack_str (packer, request_id? request_id: "");
    s_pack_str (packer, "result");
    s_pack_str (packer, result);
    s_pack_str (packer, "error-message");
    if (message)
        s_pack_str (packer, message);
    else
        msgpack_pack_nil (packer);
}

static void
s_send_reply (fake_t *self, zframe_t *identity, msgpack_sbuffer *buffer, zmsg_t *data)
{
    zmsg_t *reply = data? data: zmsg_new ();
    zmsg_pushmem (reply, buffer->data, buffer->size);
    zmsg_pushmem (reply, zframe_data (identity), zframe_size (identity));
    zmsg_send (&reply, self->router);
}

static void
s_error_reply (fake_t *self, zframe_t *identity, const char *type, const char *request_id,
               const char *result, const char *message)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    s_reply_begin (&packer, type, request_id, result, message, 0);
    s_send_reply (self, identity, &buffer, NULL);
    msgpack_sbuffer_destroy (&buffer);
}

static void
s_pack_digest (msgpack_packer *packer, const char *name, const uint8_t md5 [DIGEST_MD5_SIZE])
{
    char text [DIGEST_MD5_BASE64_SIZE];
    digest_md5_to_base64 (md5, text);
    s_pack_str (packer, name);
    s_pack_str (packer, text);
}

static void
s_pack_u64 (msgpack_packer *packer, const char *name, uint64_t value)
{
    s_pack_str (packer, name);
    msgpack_pack_uint64 (packer, value);
}

static fake_object_t *
s_find (fake_t *self, uint32_t collection, const char *key, const uint64_t *unified_id)
{
    fake_object_t *found = NULL;
    for (fake_object_t *object = (fake_object_t *) zlistx_first (self->objects); object;
         object = (fake_object_t *) zlistx_next (self->objects))
        if (object->collection == collection && streq (object->key, key) && !object->deleted
        &&  (!unified_id || object->unified_id == *unified_id))
            found = object;         //  the last match is the newest
    return found;
}

static void
s_store (fake_t *self, uint32_t collection, const char *key, zchunk_t *data, const uint8_t *meta,
         size_t meta_size, zframe_t *identity, const char *request_id)
{
    fake_object_t *object = (fake_object_t *) zmalloc (sizeof (fake_object_t));
    object->collection = collection;
    object->key = strdup (key);
    object->unified_id = ++self->next_id;
    object->data = data;
    digest_md5 (zchunk_data (data), zchunk_size (data), object->md5);
    if (meta) {
        object->meta = (uint8_t *) malloc (meta_size);
        memcpy (object->meta, meta, meta_size);
        object->meta_size = meta_size;
    }
    zlistx_add_end (self->objects, object);

    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    s_reply_begin (&packer, "put", request_id, "success", NULL, 4);
    s_pack_u64 (&packer, "unified-id", object->unified_id);
    s_pack_u64 (&packer, "size", zchunk_size (data));
    uint8_t lie [DIGEST_MD5_SIZE];
    digest_md5 ("lie", 3, lie);
    s_pack_digest (&packer, "file-hash", streq (self->mode, "lie-hash")? lie: object->md5);
    s_pack_str (&packer, "timestamp");
    s_pack_str (&packer, "2026-11-22T00:00:00.000000Z");
    s_send_reply (self, identity, &buffer, NULL);
    msgpack_sbuffer_destroy (&buffer);
}

static void
s_send_slice (fake_t *self, zframe_t *identity, const char *type, const char *request_id,
              fake_object_t *object, uint64_t slice_num)
{
    size_t size = zchunk_size (object->data);
    uint64_t slice_count = size == 0? 1: (size + self->slice_size - 1) / self->slice_size;
    if (slice_num >= slice_count) {
        s_error_reply (self, identity, type, request_id, "invalid-request", "slice-num: out of range");
        return;
    }
    size_t start = (size_t) slice_num * self->slice_size;
    size_t length = size - start < self->slice_size? size - start: self->slice_size;
    bool completed = slice_num == slice_count - 1;

    zmsg_t *data = zmsg_new ();
    //  Frames of 333 bytes, so a slice is several frames
    for (size_t offset = 0; offset < length; offset += 333) {
        size_t piece = length - offset < 333? length - offset: 333;
        zframe_t *frame = zframe_new (zchunk_data (object->data) + start + offset, piece);
        if (completed && offset == 0 && streq (self->mode, "corrupt"))
            zframe_data (frame) [0] ^= 0x01;
        zmsg_append (data, &frame);
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    s_reply_begin (&packer, type, request_id, "success", NULL, 8);
    s_pack_u64 (&packer, "unified-id", object->unified_id);
    s_pack_str (&packer, "timestamp");
    s_pack_str (&packer, "2026-11-22T00:00:00.000000Z");
    s_pack_u64 (&packer, "size", size);
    s_pack_digest (&packer, "file-hash", object->md5);
    s_pack_str (&packer, "meta");
    if (object->meta)
        msgpack_pack_str_body (&packer, object->meta, object->meta_size);   //  raw bytes of the map
    else
        msgpack_pack_nil (&packer);
    s_pack_u64 (&packer, "slice-count", slice_count);
    s_pack_u64 (&packer, "slice-num", slice_num);
    s_pack_str (&packer, "completed");
    if (completed)
        msgpack_pack_true (&packer);
    else
        msgpack_pack_false (&packer);
    s_send_reply (self, identity, &buffer, data);
    msgpack_sbuffer_destroy (&buffer);
}

//  Copy the raw bytes of a meta map out of the header
static void
s_meta_of (const msgpack_object *header, uint8_t **meta_p, size_t *size_p)
{
    const msgpack_object *meta = s_get (header, "meta");
    *meta_p = NULL;
    *size_p = 0;
    if (meta && meta->type == MSGPACK_OBJECT_MAP)
        wire_pack_object (meta, meta_p, size_p);
}

static void
s_handle (fake_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *header_frame = zmsg_pop (msg);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = wire_unpack (&unpacked, zframe_data (header_frame), zframe_size (header_frame), 1 << 20, &why);
    assert (rc == 0 && unpacked.data.type == MSGPACK_OBJECT_MAP);
    const msgpack_object *header = &unpacked.data;
    char *type = s_get_str (header, "message-type");
    char *request_id = s_get_str (header, "request-id");
    char *key = s_get_str (header, "key");
    uint64_t collection = 0;
    s_get_uint (header, "collection-id", &collection);
    uint64_t unified_id;
    bool has_id = s_get_uint (header, "unified-id", &unified_id);
    assert (type);
    for (int index = 0; s_types [index]; index++)
        if (streq (type, s_types [index]))
            self->counts [index]++;

    //  Misbehaviours first
    if (streq (self->mode, "silent") || (streq (self->mode, "no-next") && streq (type, "get-next")))
        goto done;
    if (streq (self->mode, "garbage")) {
        zmsg_t *reply = zmsg_new ();
        zmsg_addmem (reply, zframe_data (identity), zframe_size (identity));
        zmsg_addstr (reply, "this is not MessagePack \xc1");
        zmsg_send (&reply, self->router);
        goto done;
    }
    if (streq (self->mode, "stale"))
        s_error_reply (self, identity, type, "stale-request-id", "io-error", "an old failure");
    if (strncmp (self->mode, "error:", 6) == 0) {
        char message [100];
        snprintf (message, sizeof message, "the fake router says %s", self->mode + 6);
        s_error_reply (self, identity, type, request_id, self->mode + 6, message);
        goto done;
    }

    if (streq (type, "ping")) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        s_reply_begin (&packer, type, request_id, "success", NULL, 5);
        s_pack_str (&packer, "cluster");
        s_pack_str (&packer, "fake");
        s_pack_str (&packer, "nodes");
        msgpack_pack_array (&packer, 2);
        msgpack_pack_map (&packer, 2);
        s_pack_str (&packer, "name");
        s_pack_str (&packer, "node01");
        s_pack_str (&packer, "reachable");
        msgpack_pack_true (&packer);
        msgpack_pack_map (&packer, 2);
        s_pack_str (&packer, "name");
        s_pack_str (&packer, "node02");
        s_pack_str (&packer, "reachable");
        msgpack_pack_false (&packer);
        s_pack_u64 (&packer, "data-shards", 1);
        s_pack_u64 (&packer, "total-shards", 2);
        s_pack_str (&packer, "version");
        s_pack_str (&packer, "test");
        s_send_reply (self, identity, &buffer, NULL);
        msgpack_sbuffer_destroy (&buffer);
    }
    else
    if (streq (type, "put")) {
        zchunk_t *data = zchunk_new (NULL, 0);
        for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg))
            zchunk_extend (data, zframe_data (frame), zframe_size (frame));
        uint8_t *meta;
        size_t meta_size;
        s_meta_of (header, &meta, &meta_size);
        s_store (self, (uint32_t) collection, key, data, meta, meta_size, identity, request_id);
        free (meta);
    }
    else
    if (streq (type, "put-start")) {
        fake_upload_t *upload = (fake_upload_t *) zmalloc (sizeof (fake_upload_t));
        upload->collection = (uint32_t) collection;
        upload->key = strdup (key);
        upload->data = zchunk_new (NULL, 0);
        s_meta_of (header, &upload->meta, &upload->meta_size);
        char upload_id [32];
        snprintf (upload_id, sizeof upload_id, "upload-%" PRIu64, ++self->next_id);
        zhashx_insert (self->uploads, upload_id, upload);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        s_reply_begin (&packer, type, request_id, "success", NULL, 2);
        s_pack_str (&packer, "upload-id");
        s_pack_str (&packer, upload_id);
        s_pack_u64 (&packer, "slice-size", self->slice_size);
        s_send_reply (self, identity, &buffer, NULL);
        msgpack_sbuffer_destroy (&buffer);
    }
    else
    if (streq (type, "put-data") || streq (type, "put-finish") || streq (type, "put-abort")) {
        char *upload_id = s_get_str (header, "upload-id");
        fake_upload_t *upload = upload_id? (fake_upload_t *) zhashx_lookup (self->uploads, upload_id): NULL;
        if (!upload)
            s_error_reply (self, identity, type, request_id, "invalid-request", "upload-id: no such upload");
        else
        if (streq (type, "put-data")) {
            size_t size = 0;
            for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
                zchunk_extend (upload->data, zframe_data (frame), zframe_size (frame));
                size += zframe_size (frame);
            }
            if (size > self->slice_size)
                s_error_reply (self, identity, type, request_id, "invalid-request", "put-data: more than slice-size");
            else
                s_error_reply (self, identity, type, request_id, "success", NULL);
        }
        else
        if (streq (type, "put-finish")) {
            zchunk_t *data = upload->data;
            upload->data = NULL;
            s_store (self, upload->collection, upload->key, data, upload->meta, upload->meta_size,
                     identity, request_id);
            zhashx_delete (self->uploads, upload_id);
        }
        else {
            zhashx_delete (self->uploads, upload_id);
            s_error_reply (self, identity, type, request_id, "success", NULL);
        }
        free (upload_id);
    }
    else
    if (streq (type, "get") || streq (type, "get-next")) {
        fake_object_t *object = s_find (self, (uint32_t) collection, key, has_id? &unified_id: NULL);
        uint64_t slice_num = 0;
        if (streq (type, "get-next"))
            s_get_uint (header, "slice-num", &slice_num);
        if (!object)
            s_error_reply (self, identity, type, request_id, "not-found", "no such key or version");
        else
            s_send_slice (self, identity, type, request_id, object, slice_num);
    }
    else
    if (streq (type, "delete")) {
        for (fake_object_t *object = (fake_object_t *) zlistx_first (self->objects); object;
             object = (fake_object_t *) zlistx_next (self->objects))
            if (object->collection == collection && streq (object->key, key)
            &&  (!has_id || object->unified_id == unified_id))
                object->deleted = true;
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        s_reply_begin (&packer, type, request_id, "success", NULL, 1);
        s_pack_u64 (&packer, "unified-id", ++self->next_id);
        s_send_reply (self, identity, &buffer, NULL);
        msgpack_sbuffer_destroy (&buffer);
    }
    else
    if (streq (type, "list-versions")) {
        zlistx_t *found = zlistx_new ();
        for (fake_object_t *object = (fake_object_t *) zlistx_last (self->objects); object;
             object = (fake_object_t *) zlistx_prev (self->objects))
            if (object->collection == collection && streq (object->key, key) && !object->deleted)
                zlistx_add_end (found, object);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        s_reply_begin (&packer, type, request_id, "success", NULL, 1);
        s_pack_str (&packer, "versions");
        msgpack_pack_array (&packer, zlistx_size (found));
        for (fake_object_t *object = (fake_object_t *) zlistx_first (found); object;
             object = (fake_object_t *) zlistx_next (found)) {
            msgpack_pack_map (&packer, 4);
            s_pack_u64 (&packer, "unified-id", object->unified_id);
            s_pack_str (&packer, "timestamp");
            s_pack_str (&packer, "2026-11-22T00:00:00.000000Z");
            s_pack_u64 (&packer, "size", zchunk_size (object->data));
            s_pack_digest (&packer, "file-hash", object->md5);
        }
        zlistx_destroy (&found);
        s_send_reply (self, identity, &buffer, NULL);
        msgpack_sbuffer_destroy (&buffer);
    }
    else
        s_error_reply (self, identity, type, request_id, "unknown-message-type", "message-type: unknown");
done:
    free (type);
    free (request_id);
    free (key);
    msgpack_unpacked_destroy (&unpacked);
    zframe_destroy (&identity);
    zframe_destroy (&header_frame);
}

static void
s_fake_actor (zsock_t *pipe, void *args)
{
    (void) args;
    fake_t self;
    memset (&self, 0, sizeof self);
    self.pipe = pipe;
    self.router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (self.router, 0);
    int port = zsock_bind (self.router, "tcp://127.0.0.1:*");
    assert (port > 0);
    self.objects = zlistx_new ();
    zlistx_set_destructor (self.objects, (zlistx_destructor_fn *) s_object_destroy);
    self.uploads = zhashx_new ();
    zhashx_set_destructor (self.uploads, s_upload_destroy);
    self.slice_size = 1000;
    strcpy (self.mode, "normal");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", port);

    zpoller_t *poller = zpoller_new (pipe, self.router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = NULL, *argument = NULL;
            zsock_recv (pipe, "ss", &command, &argument);
            if (!command || streq (command, "$TERM")) {
                free (command);
                free (argument);
                break;
            }
            if (streq (command, "MODE"))
                snprintf (self.mode, sizeof self.mode, "%s", argument);
            else
            if (streq (command, "SLICE"))
                self.slice_size = (size_t) atol (argument);
            char counts [200] = "";
            for (int index = 0; s_types [index]; index++)
                snprintf (counts + strlen (counts), sizeof counts - strlen (counts), "%s=%d ",
                          s_types [index], self.counts [index]);
            zsock_send (pipe, "s", counts);
            free (command);
            free (argument);
        }
        else
        if (which == self.router) {
            zmsg_t *msg = zmsg_recv (self.router);
            if (msg)
                s_handle (&self, msg);
            zmsg_destroy (&msg);
        }
        else
            break;
    }
    zpoller_destroy (&poller);
    zhashx_destroy (&self.uploads);
    zlistx_destroy (&self.objects);
    zsock_destroy (&self.router);
}

typedef struct {
    zactor_t *actor;
    char endpoint [64];
} fake_router_t;

static fake_router_t
s_fake_start (void)
{
    fake_router_t fake;
    fake.actor = zactor_new (s_fake_actor, NULL);
    cr_assert_not_null (fake.actor);
    int port = 0;
    zsock_recv (fake.actor, "i", &port);
    snprintf (fake.endpoint, sizeof fake.endpoint, "tcp://127.0.0.1:%d", port);
    return fake;
}

//  Send a command; returns the request counts as text (caller frees)
static char *
s_fake_command (fake_router_t *fake, const char *command, const char *argument)
{
    zsock_send (fake->actor, "ss", command, argument);
    char *counts = NULL;
    zsock_recv (fake->actor, "s", &counts);
    return counts;
}

static void
s_fake_mode (fake_router_t *fake, const char *mode)
{
    free (s_fake_command (fake, "MODE", mode));
}

//  How many requests of type the fake has seen
static int
s_fake_count (fake_router_t *fake, const char *type)
{
    char *counts = s_fake_command (fake, "COUNTS", "");
    char pattern [40];
    snprintf (pattern, sizeof pattern, " %s=", type);
    char padded [260];
    snprintf (padded, sizeof padded, " %s", counts);
    free (counts);
    char *at = strstr (padded, pattern);
    return at? atoi (at + strlen (pattern)): -1;
}

static void
s_fake_stop (fake_router_t *fake)
{
    zactor_destroy (&fake->actor);
}


//  --------------------------------------------------------------------------
//  Helpers

static uint8_t *
s_pattern (size_t size, unsigned seed)
{
    uint8_t *data = (uint8_t *) malloc (size? size: 1);
    for (size_t index = 0; index < size; index++)
        data [index] = (uint8_t) ((index * 131 + seed * 17 + (index >> 9)) & 0xFF);
    return data;
}

//  A write callback collecting into a zchunk
static int
s_collect (void *arg, const void *data, size_t size)
{
    zchunk_extend ((zchunk_t *) arg, data, size);
    return 0;
}

static int
s_fail_write (void *arg, const void *data, size_t size)
{
    (void) arg;
    (void) data;
    (void) size;
    return -1;
}

//  A read callback over memory, handing out at most `step` bytes a call,
//  failing after fail_after bytes if that is not 0
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    size_t step;
    size_t fail_after;
} s_source_t;

static ssize_t
s_source_read (void *arg, void *buffer, size_t size)
{
    s_source_t *source = (s_source_t *) arg;
    if (source->fail_after && source->offset >= source->fail_after)
        return -1;
    size_t left = source->size - source->offset;
    if (size > left)
        size = left;
    if (source->step && size > source->step)
        size = source->step;
    memcpy (buffer, source->data + source->offset, size);
    source->offset += size;
    return (ssize_t) size;
}

//  Put data, get it back, compare; returns the version
static uint64_t
s_round_trip (client_t *client, const char *key, const uint8_t *data, size_t size)
{
    uint64_t version = 0;
    client_result_t result = client_put (client, 7, key, data, size, NULL, &version);
    cr_assert_eq (result, CLIENT_OK, "put %zu bytes: %s", size, client_error (client));
    cr_assert_gt (version, 0);
    zchunk_t *got = zchunk_new (NULL, 0);
    client_object_t object;
    result = client_get (client, 7, key, NULL, s_collect, got, &object);
    cr_assert_eq (result, CLIENT_OK, "get %zu bytes: %s", size, client_error (client));
    cr_assert_eq (zchunk_size (got), size);
    cr_assert (size == 0 || memcmp (zchunk_data (got), data, size) == 0, "data differs");
    cr_assert_eq (object.unified_id, version);
    cr_assert_eq (object.size, size);
    cr_assert_str_eq (object.timestamp, "2026-11-22T00:00:00.000000Z");
    client_object_clear (&object);
    zchunk_destroy (&got);
    return version;
}

//  A loopback port with nobody listening (was free a moment ago)
static int
s_unused_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    bind (fd, (struct sockaddr *) &address, size);
    getsockname (fd, (struct sockaddr *) &address, &size);
    int port = ntohs (address.sin_port);
    close (fd);
    return port;
}


//  --------------------------------------------------------------------------
//  Tests

Test (client, new_refuses_bad_endpoints)
{
    cr_assert_null (client_new ("nonsense"));
    cr_assert_null (client_new ("tcp://127.0.0.1:*"));
    cr_assert_null (client_new ("tcp://*:8000"));
    cr_assert_null (client_new ("tcp://127.0.0.1:70000"));
    client_t *client = client_new ("tcp://127.0.0.1:8000");
    cr_assert_not_null (client);
    cr_assert_str_eq (client_error (client), "");
    client_destroy (&client);
    cr_assert_null (client);
    client_destroy (&client);       //  accepts NULL
}

Test (client, result_names)
{
    cr_assert_str_eq (client_result_name (CLIENT_OK), "ok");
    cr_assert_str_eq (client_result_name (CLIENT_NOT_FOUND), "not-found");
    cr_assert_str_eq (client_result_name (CLIENT_NO_REPLY), "no-reply");
    cr_assert_str_eq (client_result_name (CLIENT_SYSTEM_ERROR), "system-error");
    cr_assert_str_eq (client_result_name (CLIENT_RESULT_COUNT), "unknown");
    cr_assert_str_eq (client_result_name ((client_result_t) -1), "unknown");
}

Test (client, key_validation_before_sending)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    char long_key [LIMIT_KEY_MAX + 2];
    memset (long_key, 'k', sizeof long_key - 1);
    long_key [sizeof long_key - 1] = 0;
    cr_assert_not (client_key_valid (""));
    cr_assert_not (client_key_valid (long_key));
    cr_assert_not (client_key_valid ("bad\xff" "utf8"));
    cr_assert (client_key_valid ("caf\xc3\xa9"));
    long_key [LIMIT_KEY_MAX] = 0;
    cr_assert (client_key_valid (long_key));

    cr_assert_eq (client_put (client, 0, "", "x", 1, NULL, NULL), CLIENT_INVALID_REQUEST);
    cr_assert (strstr (client_error (client), "key"));
    cr_assert_eq (client_put (client, 0, "bad\xff", "x", 1, NULL, NULL), CLIENT_INVALID_REQUEST);
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 0, "", NULL, s_collect, got, NULL), CLIENT_INVALID_REQUEST);
    cr_assert_eq (client_delete (client, 0, "", NULL, NULL), CLIENT_INVALID_REQUEST);
    const char *bad_meta [] = { "", "value", NULL };
    cr_assert_eq (client_put (client, 0, "k", "x", 1, bad_meta, NULL), CLIENT_INVALID_REQUEST);
    cr_assert (strstr (client_error (client), "meta"));
    cr_assert_eq (s_fake_count (&fake, "put"), 0, "nothing may reach the router");
    cr_assert_eq (s_fake_count (&fake, "get"), 0);
    zchunk_destroy (&got);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, ping)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    client_ping_t ping;
    cr_assert_eq (client_ping (client, &ping), CLIENT_OK, "%s", client_error (client));
    cr_assert_str_eq (ping.cluster, "fake");
    cr_assert_str_eq (ping.version, "test");
    cr_assert_eq (ping.data_shards, 1);
    cr_assert_eq (ping.total_shards, 2);
    cr_assert_eq (ping.node_count, 2);
    cr_assert_str_eq (ping.nodes [0].name, "node01");
    cr_assert (ping.nodes [0].reachable);
    cr_assert_not (ping.nodes [1].reachable);
    client_ping_clear (&ping);
    cr_assert_null (ping.nodes);
    client_ping_clear (NULL);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, put_get_round_trip_many_sizes)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    //  The fake's slices are 1000 bytes: 0 and 1 are one slice, 999/1000
    //  one, 1001 two, 3500 four
    size_t sizes [] = { 0, 1, 999, 1000, 1001, 3500, 100000 };
    for (size_t index = 0; index < sizeof sizes / sizeof sizes [0]; index++) {
        uint8_t *data = s_pattern (sizes [index], (unsigned) index);
        char key [32];
        snprintf (key, sizeof key, "object-%zu", sizes [index]);
        s_round_trip (client, key, data, sizes [index]);
        free (data);
    }
    cr_assert_eq (s_fake_count (&fake, "put-start"), 0, "small objects go in one put");
    cr_assert_eq (s_fake_count (&fake, "get-next"), 0 + 1 + 3 + 99);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, meta_round_trip)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    const char *meta [] = { "content-type", "text/plain", "owner", "", NULL };
    uint64_t version;
    cr_assert_eq (client_put (client, 1, "with-meta", "hello", 5, meta, &version), CLIENT_OK,
                  "%s", client_error (client));
    zchunk_t *got = zchunk_new (NULL, 0);
    client_object_t object;
    cr_assert_eq (client_get (client, 1, "with-meta", NULL, s_collect, got, &object), CLIENT_OK);
    cr_assert_not_null (object.meta);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why;
    cr_assert_eq (wire_unpack (&unpacked, object.meta, object.meta_size, 1 << 20, &why), 0);
    cr_assert_eq (unpacked.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (unpacked.data.via.map.size, 2);
    char *value = s_get_str (&unpacked.data, "content-type");
    cr_assert_str_eq (value, "text/plain");
    free (value);
    msgpack_unpacked_destroy (&unpacked);
    client_object_clear (&object);
    cr_assert_null (object.meta);
    client_object_clear (NULL);

    //  Without meta there is none
    cr_assert_eq (client_put (client, 1, "no-meta", "x", 1, NULL, NULL), CLIENT_OK);
    cr_assert_eq (client_get (client, 1, "no-meta", NULL, s_collect, got, &object), CLIENT_OK);
    cr_assert_null (object.meta);
    client_object_clear (&object);
    zchunk_destroy (&got);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, versions_get_by_version_and_delete)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    uint64_t first = s_round_trip (client, "k", (const uint8_t *) "one", 3);
    uint64_t second = s_round_trip (client, "k", (const uint8_t *) "second", 6);
    cr_assert_gt (second, first);

    client_version_t *versions;
    size_t count;
    cr_assert_eq (client_versions (client, 7, "k", &versions, &count), CLIENT_OK);
    cr_assert_eq (count, 2);
    cr_assert_eq (versions [0].unified_id, second, "newest first");
    cr_assert_eq (versions [0].size, 6);
    cr_assert_eq (versions [1].unified_id, first);
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 ("one", 3, md5);
    cr_assert_arr_eq (versions [1].file_hash, md5, DIGEST_MD5_SIZE);
    cr_assert_str_eq (versions [1].timestamp, "2026-11-22T00:00:00.000000Z");
    free (versions);

    //  The older version by its id
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 7, "k", &first, s_collect, got, NULL), CLIENT_OK);
    cr_assert_eq (zchunk_size (got), 3);
    cr_assert_eq (memcmp (zchunk_data (got), "one", 3), 0);

    //  A version that does not exist, a key that does not exist, another collection
    uint64_t missing = 999999;
    cr_assert_eq (client_get (client, 7, "k", &missing, s_collect, got, NULL), CLIENT_NOT_FOUND);
    cr_assert (strstr (client_error (client), "not-found"), "%s", client_error (client));
    cr_assert_eq (client_get (client, 7, "nothing", NULL, s_collect, got, NULL), CLIENT_NOT_FOUND);
    cr_assert_eq (client_get (client, 8, "k", NULL, s_collect, got, NULL), CLIENT_NOT_FOUND);
    cr_assert_eq (client_versions (client, 7, "nothing", &versions, &count), CLIENT_OK);
    cr_assert_eq (count, 0);
    cr_assert_null (versions);

    //  Delete one version, then all
    uint64_t tombstone = 0;
    cr_assert_eq (client_delete (client, 7, "k", &second, &tombstone), CLIENT_OK);
    cr_assert_gt (tombstone, second);
    zchunk_destroy (&got);
    got = zchunk_new (NULL, 0);
    client_object_t object;
    cr_assert_eq (client_get (client, 7, "k", NULL, s_collect, got, &object), CLIENT_OK);
    cr_assert_eq (object.unified_id, first);
    client_object_clear (&object);
    cr_assert_eq (client_delete (client, 7, "k", NULL, NULL), CLIENT_OK);
    cr_assert_eq (client_get (client, 7, "k", NULL, s_collect, got, NULL), CLIENT_NOT_FOUND);
    cr_assert_eq (client_versions (client, 7, "k", &versions, &count), CLIENT_OK);
    cr_assert_eq (count, 0);
    zchunk_destroy (&got);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, large_put_is_streamed)
{
    fake_router_t fake = s_fake_start ();
    free (s_fake_command (&fake, "SLICE", "4096"));
    client_t *client = client_new (fake.endpoint);
    client_set_max_put_bytes (client, 10000);
    size_t size = 50000;
    uint8_t *data = s_pattern (size, 3);
    s_round_trip (client, "big", data, size);
    cr_assert_eq (s_fake_count (&fake, "put"), 0);
    cr_assert_eq (s_fake_count (&fake, "put-start"), 1);
    cr_assert_eq (s_fake_count (&fake, "put-data"), (int) ((size + 4095) / 4096));
    cr_assert_eq (s_fake_count (&fake, "put-finish"), 1);
    //  Exactly max-put-bytes still goes whole
    s_round_trip (client, "edge", data, 10000);
    cr_assert_eq (s_fake_count (&fake, "put"), 1);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, put_stream_small_goes_whole)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    uint8_t *data = s_pattern (5000, 4);
    s_source_t source = { data, 5000, 0, 777, 0 };
    uint64_t version;
    cr_assert_eq (client_put_stream (client, 7, "small", s_source_read, &source, NULL, &version), CLIENT_OK,
                  "%s", client_error (client));
    cr_assert_eq (s_fake_count (&fake, "put"), 1);
    cr_assert_eq (s_fake_count (&fake, "put-start"), 0);
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 7, "small", &version, s_collect, got, NULL), CLIENT_OK);
    cr_assert_eq (zchunk_size (got), 5000);
    cr_assert_eq (memcmp (zchunk_data (got), data, 5000), 0);

    //  An empty stream is an empty object
    s_source_t empty = { data, 0, 0, 0, 0 };
    cr_assert_eq (client_put_stream (client, 7, "empty", s_source_read, &empty, NULL, &version), CLIENT_OK);
    zchunk_destroy (&got);
    got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 7, "empty", NULL, s_collect, got, NULL), CLIENT_OK);
    cr_assert_eq (zchunk_size (got), 0);
    zchunk_destroy (&got);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, put_stream_large_is_streamed_with_progress)
{
    fake_router_t fake = s_fake_start ();
    free (s_fake_command (&fake, "SLICE", "300000"));
    client_t *client = client_new (fake.endpoint);
    size_t size = CLIENT_STREAM_PROBE_BYTES + 700001;
    uint8_t *data = s_pattern (size, 5);
    s_source_t source = { data, size, 0, 65536, 0 };
    uint64_t version;
    cr_assert_eq (client_put_stream (client, 7, "streamed", s_source_read, &source, NULL, &version), CLIENT_OK,
                  "%s", client_error (client));
    cr_assert_eq (s_fake_count (&fake, "put-start"), 1);
    cr_assert_eq (s_fake_count (&fake, "put-data"), (int) ((size + 299999) / 300000));
    cr_assert_eq (s_fake_count (&fake, "put"), 0);
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 7, "streamed", NULL, s_collect, got, NULL), CLIENT_OK,
                  "%s", client_error (client));
    cr_assert_eq (zchunk_size (got), size);
    cr_assert_eq (memcmp (zchunk_data (got), data, size), 0);
    zchunk_destroy (&got);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

//  Progress: records calls
typedef struct {
    int calls;
    uint64_t last_done;
    uint64_t last_total;
    bool monotonic;
} s_progress_t;

static void
s_progress_record (void *arg, uint64_t done, uint64_t total)
{
    s_progress_t *progress = (s_progress_t *) arg;
    if (done < progress->last_done)
        progress->monotonic = false;
    progress->calls++;
    progress->last_done = done;
    progress->last_total = total;
}

Test (client, progress_reports)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    s_progress_t progress = { 0, 0, 0, true };
    client_set_progress (client, s_progress_record, &progress);
    uint8_t *data = s_pattern (10000, 6);
    cr_assert_eq (client_put (client, 0, "p", data, 10000, NULL, NULL), CLIENT_OK);
    cr_assert_geq (progress.calls, 1);
    cr_assert_eq (progress.last_done, 10000);
    progress = (s_progress_t) { 0, 0, 0, true };
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 0, "p", NULL, s_collect, got, NULL), CLIENT_OK);
    cr_assert_geq (progress.calls, 10, "one call per data frame at least");
    cr_assert (progress.monotonic);
    cr_assert_eq (progress.last_done, 10000);
    cr_assert_eq (progress.last_total, 10000);

    //  Streamed: total unknown
    client_set_max_put_bytes (client, 2000);
    progress = (s_progress_t) { 0, 0, 0, true };
    cr_assert_eq (client_put (client, 0, "q", data, 10000, NULL, NULL), CLIENT_OK);
    cr_assert_eq (progress.calls, 10);
    cr_assert_eq (progress.last_done, 10000);
    cr_assert_eq (progress.last_total, 0);
    client_set_progress (client, NULL, NULL);
    zchunk_destroy (&got);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, read_failure_aborts_the_upload)
{
    fake_router_t fake = s_fake_start ();
    free (s_fake_command (&fake, "SLICE", "100000"));
    client_t *client = client_new (fake.endpoint);
    size_t size = CLIENT_STREAM_PROBE_BYTES * 2;
    uint8_t *data = s_pattern (size, 7);
    s_source_t source = { data, size, 0, 0, CLIENT_STREAM_PROBE_BYTES + 250000 };
    cr_assert_eq (client_put_stream (client, 7, "broken", s_source_read, &source, NULL, NULL),
                  CLIENT_CALLBACK_ERROR);
    cr_assert (strstr (client_error (client), "reading"), "%s", client_error (client));
    cr_assert_eq (s_fake_count (&fake, "put-abort"), 1);
    cr_assert_eq (s_fake_count (&fake, "put-finish"), 0);
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 7, "broken", NULL, s_collect, got, NULL), CLIENT_NOT_FOUND);

    //  A failure before anything was sent reaches nobody
    s_source_t early = { data, size, 0, 0, 10 };
    early.fail_after = 1;
    early.offset = 1;
    cr_assert_eq (client_put_stream (client, 7, "early", s_source_read, &early, NULL, NULL),
                  CLIENT_CALLBACK_ERROR);
    cr_assert_eq (s_fake_count (&fake, "put-start"), 1);
    zchunk_destroy (&got);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, write_failure_stops_the_get)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    uint8_t *data = s_pattern (5000, 8);
    cr_assert_eq (client_put (client, 0, "w", data, 5000, NULL, NULL), CLIENT_OK);
    cr_assert_eq (client_get (client, 0, "w", NULL, s_fail_write, NULL, NULL), CLIENT_CALLBACK_ERROR);
    cr_assert_eq (s_fake_count (&fake, "get-next"), 0);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, corrupt_data_is_detected)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    uint8_t *data = s_pattern (2500, 9);
    cr_assert_eq (client_put (client, 0, "c", data, 2500, NULL, NULL), CLIENT_OK);
    s_fake_mode (&fake, "corrupt");
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 0, "c", NULL, s_collect, got, NULL), CLIENT_DATA_ERROR);
    cr_assert (strstr (client_error (client), "MD5"), "%s", client_error (client));
    zchunk_destroy (&got);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, stored_hash_mismatch_is_detected)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    s_fake_mode (&fake, "lie-hash");
    uint64_t version = 0;
    cr_assert_eq (client_put (client, 0, "lie", "data", 4, NULL, &version), CLIENT_DATA_ERROR);
    cr_assert_eq (version, 0, "no version on failure");
    cr_assert (strstr (client_error (client), "MD5"), "%s", client_error (client));
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, router_errors_are_mapped)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    struct { const char *name; client_result_t result; } cases [] = {
        { "unavailable", CLIENT_UNAVAILABLE },
        { "data-error", CLIENT_DATA_ERROR },
        { "io-error", CLIENT_IO_ERROR },
        { "timeout", CLIENT_TIMEOUT },
        { "overloaded", CLIENT_OVERLOADED },
        { "invalid-request", CLIENT_INVALID_REQUEST },
        { "unknown-message-type", CLIENT_UNKNOWN_MESSAGE_TYPE },
        { "something-new", CLIENT_PROTOCOL_ERROR },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char mode [80];
        snprintf (mode, sizeof mode, "error:%s", cases [index].name);
        s_fake_mode (&fake, mode);
        cr_assert_eq (client_put (client, 0, "e", "x", 1, NULL, NULL), cases [index].result, "%s", mode);
        cr_assert (strstr (client_error (client), cases [index].name), "%s", client_error (client));
        cr_assert (strstr (client_error (client), "the fake router says"), "%s", client_error (client));
        client_ping_t ping;
        cr_assert_eq (client_ping (client, &ping), cases [index].result);
        client_ping_clear (&ping);
    }
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, stale_replies_are_dropped)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    s_fake_mode (&fake, "stale");
    s_round_trip (client, "s", (const uint8_t *) "stale first", 11);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, garbage_reply_is_a_protocol_error)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    s_fake_mode (&fake, "garbage");
    cr_assert_eq (client_put (client, 0, "g", "x", 1, NULL, NULL), CLIENT_PROTOCOL_ERROR);
    cr_assert (strstr (client_error (client), "MessagePack"), "%s", client_error (client));
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, silent_router_times_out)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    client_set_timeout (client, 500);
    s_fake_mode (&fake, "silent");
    int64_t started = zclock_mono ();
    cr_assert_eq (client_put (client, 0, "t", "x", 1, NULL, NULL), CLIENT_NO_REPLY);
    int64_t elapsed = zclock_mono () - started;
    cr_assert_geq (elapsed, 450);
    cr_assert_lt (elapsed, 3000);
    cr_assert (strstr (client_error (client), "no reply"), "%s", client_error (client));

    //  The late reply to that put does not confuse the next call
    s_fake_mode (&fake, "normal");
    s_round_trip (client, "after", (const uint8_t *) "fine", 4);

    //  A router that stops answering half-way through a get
    uint8_t *data = s_pattern (3000, 1);
    cr_assert_eq (client_put (client, 0, "half", data, 3000, NULL, NULL), CLIENT_OK);
    s_fake_mode (&fake, "no-next");
    zchunk_t *got = zchunk_new (NULL, 0);
    cr_assert_eq (client_get (client, 0, "half", NULL, s_collect, got, NULL), CLIENT_NO_REPLY);
    cr_assert_eq (zchunk_size (got), 1000, "the first slice was written");
    zchunk_destroy (&got);
    free (data);
    client_destroy (&client);
    s_fake_stop (&fake);
}

Test (client, no_router_fails_within_the_connect_timeout)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", s_unused_port ());
    client_t *client = client_new (endpoint);
    cr_assert_not_null (client);
    client_set_connect_timeout (client, 700);
    int64_t started = zclock_mono ();
    cr_assert_eq (client_put (client, 0, "x", "x", 1, NULL, NULL), CLIENT_NO_REPLY);
    int64_t elapsed = zclock_mono () - started;
    cr_assert_geq (elapsed, 650);
    cr_assert_lt (elapsed, 3000);
    cr_assert (strstr (client_error (client), "cannot connect"), "%s", client_error (client));
    cr_assert_null (strchr (client_error (client), '\n'), "one line");
    client_ping_t ping;
    cr_assert_eq (client_ping (client, &ping), CLIENT_NO_REPLY);
    client_destroy (&client);
}

static void *
s_stop_later (void *arg)
{
    zclock_sleep (300);
    zactor_t *actor = (zactor_t *) arg;
    zactor_destroy (&actor);
    return NULL;
}

Test (client, router_going_away_ends_the_wait)
{
    fake_router_t fake = s_fake_start ();
    client_t *client = client_new (fake.endpoint);
    client_set_timeout (client, 20000);
    s_round_trip (client, "before", (const uint8_t *) "x", 1);
    s_fake_mode (&fake, "silent");
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_stop_later, fake.actor), 0);
    fake.actor = NULL;
    int64_t started = zclock_mono ();
    cr_assert_eq (client_put (client, 0, "lost", "x", 1, NULL, NULL), CLIENT_NO_REPLY);
    cr_assert_lt (zclock_mono () - started, 5000, "the wait ends when the router goes away");
    cr_assert (strstr (client_error (client), "lost the connection"), "%s", client_error (client));
    pthread_join (thread, NULL);
    client_destroy (&client);
}


//  --------------------------------------------------------------------------
//  A node's stats

static void
s_fake_node (zsock_t *pipe, void *args)
{
    const char *mode = (const char *) args;
    zsock_t *pull = zsock_new (ZMQ_PULL);
    int port = zsock_bind (pull, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", port);
    zpoller_t *poller = zpoller_new (pipe, pull, NULL);
    while (zpoller_wait (poller, -1) == pull) {
        zmsg_t *msg = zmsg_recv (pull);
        zframe_t *frame = zmsg_first (msg);
        request_t *request = request_new ();
        request_error_t error;
        int rc = request_decode (request, zframe_data (frame), zframe_size (frame), &error);
        assert (rc == 0);
        assert (request->type == MSG_STATS);
        reply_t *reply = reply_new ();
        if (streq (mode, "refuse"))
            reply_prepare (reply, request, RESULT_OVERLOADED, "too busy");
        else {
            reply_prepare (reply, request, RESULT_SUCCESS, NULL);
            msgpack_sbuffer stats;
            msgpack_sbuffer_init (&stats);
            msgpack_packer packer;
            msgpack_packer_init (&packer, &stats, msgpack_sbuffer_write);
            msgpack_pack_map (&packer, 2);
            s_pack_str (&packer, "syncs");
            msgpack_pack_uint64 (&packer, 42);
            s_pack_str (&packer, "client-address");
            s_pack_str (&packer, request->client_address);
            reply_set_stats (reply, (const uint8_t *) stats.data, stats.size);
            reply->fields |= REPLY_FIELD_STATS;
            msgpack_sbuffer_destroy (&stats);
        }
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        reply_encode (reply, &buffer);
        zsock_t *push = zsock_new_push (request->client_address);
        zsock_set_linger (push, 1000);
        zmq_send (zsock_resolve (push), buffer.data, buffer.size, 0);
        zsock_destroy (&push);
        msgpack_sbuffer_destroy (&buffer);
        reply_destroy (&reply);
        request_destroy (&request);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&pull);
}

Test (client, node_stats)
{
    zactor_t *node = zactor_new (s_fake_node, (void *) "normal");
    int port = 0;
    zsock_recv (node, "i", &port);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    uint8_t *stats = NULL;
    size_t stats_size = 0;
    char error [256];
    cr_assert_eq (client_node_stats (endpoint, NULL, 5000, &stats, &stats_size, error, sizeof error),
                  CLIENT_OK, "%s", error);
    cr_assert_not_null (stats);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why;
    cr_assert_eq (wire_unpack (&unpacked, stats, stats_size, 1 << 20, &why), 0);
    uint64_t syncs = 0;
    cr_assert (s_get_uint (&unpacked.data, "syncs", &syncs));
    cr_assert_eq (syncs, 42);
    char *address = s_get_str (&unpacked.data, "client-address");
    cr_assert (strncmp (address, "tcp://127.0.0.1:", 16) == 0, "reply address on loopback: %s", address);
    free (address);
    msgpack_unpacked_destroy (&unpacked);
    free (stats);
    zactor_destroy (&node);

    node = zactor_new (s_fake_node, (void *) "refuse");
    zsock_recv (node, "i", &port);
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    cr_assert_eq (client_node_stats (endpoint, NULL, 5000, &stats, &stats_size, error, sizeof error),
                  CLIENT_OVERLOADED);
    cr_assert (strstr (error, "too busy"), "%s", error);
    cr_assert_null (stats);
    zactor_destroy (&node);
}

Test (client, node_stats_failures)
{
    uint8_t *stats = NULL;
    size_t stats_size = 0;
    char error [256];
    cr_assert_eq (client_node_stats ("bogus", NULL, 500, &stats, &stats_size, error, sizeof error),
                  CLIENT_INVALID_REQUEST);
    cr_assert (strstr (error, "bogus"), "%s", error);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", s_unused_port ());
    int64_t started = zclock_mono ();
    cr_assert_eq (client_node_stats (endpoint, NULL, 500, &stats, &stats_size, error, sizeof error),
                  CLIENT_NO_REPLY);
    cr_assert_lt (zclock_mono () - started, 3000);
    cr_assert (strstr (error, "no stats reply"), "%s", error);
    cr_assert_null (stats);
}
