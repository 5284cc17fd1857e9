/*  =========================================================================
    client_transfer - the router client's calls that move an object: put,
    put_stream, get

    A put of up to max-put-bytes is one `put` message (data cut in 1 MiB
    frames); anything larger, or of unknown length, is a streamed upload
    (put-start, put-data of slice-size each, one in flight, then
    put-finish; put-abort on any failure). A get reads slice after slice
    (get, then get-next) and hands each data frame to the caller's write
    callback while computing the MD5 the router promised. See client.h.
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
#include "wire.h"

//  --------------------------------------------------------------------------
//  put

//  Check what a put-reply says was stored against what was sent
static client_result_t
s_put_reply (client_t *self, const client_reply_t *reply, uint64_t size, const uint8_t md5 [DIGEST_MD5_SIZE],
             uint64_t *unified_id_p)
{
    uint64_t unified_id, stored_size;
    uint8_t stored_md5 [DIGEST_MD5_SIZE];
    client_result_t result = client_core_uint_field (self, reply, "put-reply", "unified-id", UINT64_MAX, &unified_id);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, reply, "put-reply", "size", UINT64_MAX, &stored_size);
    if (result == CLIENT_OK)
        result = client_core_digest_field (self, reply, "put-reply", "file-hash", stored_md5);
    if (result != CLIENT_OK)
        return result;
    if (stored_size != size)
        return client_core_fail (self, CLIENT_DATA_ERROR, "the router stored %" PRIu64 " bytes, but %" PRIu64 " were sent",
                                 stored_size, size);
    if (memcmp (stored_md5, md5, DIGEST_MD5_SIZE) != 0) {
        char sent [DIGEST_MD5_BASE64_SIZE], stored [DIGEST_MD5_BASE64_SIZE];
        digest_md5_to_base64 (md5, sent);
        digest_md5_to_base64 (stored_md5, stored);
        return client_core_fail (self, CLIENT_DATA_ERROR, "the router stored MD5 %s, but the object sent has MD5 %s",
                                 stored, sent);
    }
    if (unified_id_p)
        *unified_id_p = unified_id;
    return CLIENT_OK;
}

static client_result_t
s_put_whole (client_t *self, uint32_t collection_id, const char *key, const void *data, size_t size,
             const char *const *meta, uint64_t *unified_id_p)
{
    client_result_t result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 (data, size, md5);
    router_request_t *request = client_core_request (self, ROUTER_MSG_PUT);
    client_core_request_object (request, collection_id, key);
    if (meta)
        client_core_request_meta (self, request, meta);
    client_reply_t reply;
    client_core_reply_init (&reply);
    result = client_core_send (self, data, size);
    if (result == CLIENT_OK) {
        client_core_progress (self, size, size);
        result = client_core_recv (self, "put-reply", &reply);
    }
    if (result == CLIENT_OK)
        result = s_put_reply (self, &reply, size, md5, unified_id_p);
    client_core_reply_reset (&reply);
    return result;
}

//  Fill buffer [*filled .. size) from read until full or the end.
//  Returns 0 (with *end_p set at the end of the object) or -1.
static int
s_read_fill (client_read_fn *read, void *arg, uint8_t *buffer, size_t size, size_t *filled, bool *end_p)
{
    while (*filled < size) {
        ssize_t got = read (arg, buffer + *filled, size - *filled);
        if (got < 0 || (size_t) got > size - *filled)
            return -1;
        if (got == 0) {
            *end_p = true;
            break;
        }
        *filled += (size_t) got;
    }
    return 0;
}

//  Abort an upload, best effort; keeps the error of the failure that led here
static void
s_put_abort (client_t *self, const char *upload_id, client_result_t why)
{
    char saved [sizeof self->error];
    memcpy (saved, self->error, sizeof saved);
    int timeout_ms = self->timeout_ms;
    if (self->timeout_ms > CLIENT_ABORT_WAIT_MS)
        self->timeout_ms = CLIENT_ABORT_WAIT_MS;
    if (self->dealer && why != CLIENT_NO_REPLY) {
        client_core_request_upload_id (client_core_request (self, ROUTER_MSG_PUT_ABORT), upload_id);
        client_reply_t reply;
        client_core_reply_init (&reply);
        client_core_exchange (self, NULL, 0, "put-abort-reply", &reply);
        client_core_reply_reset (&reply);
        }
    self->timeout_ms = timeout_ms;
    memcpy (self->error, saved, sizeof saved);
}

//  A streamed upload. buffer holds the first filled bytes of the object
//  (read from read/arg, which supplies the rest); buffer is taken over.
static client_result_t
s_put_streamed (client_t *self, uint32_t collection_id, const char *key, const char *const *meta,
                uint8_t *buffer, size_t filled, client_read_fn *read, void *arg, uint64_t *unified_id_p)
{
    digest_md5_t *md5 = digest_md5_new ();
    client_reply_t reply;
    client_core_reply_init (&reply);
    char upload_id [ROUTER_UPLOAD_ID_MAX + 1] = "";
    client_result_t result = md5? client_core_ready (self):
                             client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    if (result != CLIENT_OK)
        goto done;

    //  put-start
    router_request_t *request = client_core_request (self, ROUTER_MSG_PUT_START);
    client_core_request_object (request, collection_id, key);
    if (meta)
        client_core_request_meta (self, request, meta);
    result = client_core_exchange (self, NULL, 0, "put-start-reply", &reply);
    if (result != CLIENT_OK)
        goto done;
    uint64_t slice_size;
    if (router_reply_str_copy (router_reply_field (reply.header, "upload-id"), upload_id, sizeof upload_id) != 0 || !*upload_id) {
        result = client_core_bad_field (self, "put-start-reply", "upload-id");
        goto done;
    }
    result = client_core_uint_field (self, &reply, "put-start-reply", "slice-size", CLIENT_MAX_SLICE_BYTES, &slice_size);
    if (result == CLIENT_OK && slice_size == 0)
        result = client_core_bad_field (self, "put-start-reply", "slice-size");
    if (result != CLIENT_OK)
        goto done;
    size_t chunk = slice_size < CLIENT_MAX_CHUNK_BYTES? (size_t) slice_size: CLIENT_MAX_CHUNK_BYTES;
    if (chunk > filled) {
        uint8_t *bigger = (uint8_t *) realloc (buffer, chunk);
        if (!bigger) {
            result = client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory for a %zu-byte slice", chunk);
            goto done;
        }
        buffer = bigger;
    }

    //  put-data, one slice at a time, each after the previous one's reply
    uint64_t sent = 0;
    bool end = false;
    while (true) {
        if (!end && filled < chunk && s_read_fill (read, arg, buffer, chunk, &filled, &end) != 0) {
            result = client_core_fail (self, CLIENT_CALLBACK_ERROR, "reading the object failed after %" PRIu64 " bytes",
                                       sent + filled);
            goto done;
        }
        if (filled == 0)
            break;
        size_t piece = filled < chunk? filled: chunk;
        client_core_request_upload_id (client_core_request (self, ROUTER_MSG_PUT_DATA), upload_id);
        result = client_core_exchange (self, buffer, piece, "put-data-reply", &reply);
        if (result != CLIENT_OK)
            goto done;
        digest_md5_update (md5, buffer, piece);
        sent += piece;
        memmove (buffer, buffer + piece, filled - piece);
        filled -= piece;
        client_core_progress (self, sent, 0);
        if (end && filled == 0)
            break;
    }

    //  put-finish
    client_core_request_upload_id (client_core_request (self, ROUTER_MSG_PUT_FINISH), upload_id);
    result = client_core_exchange (self, NULL, 0, "put-reply", &reply);
    if (result == CLIENT_OK) {
        uint8_t digest [DIGEST_MD5_SIZE];
        digest_md5_final (md5, digest);
        result = s_put_reply (self, &reply, sent, digest, unified_id_p);
        *upload_id = 0;             //  finished: nothing to abort
    }
done:
    if (result != CLIENT_OK && *upload_id)
        s_put_abort (self, upload_id, result);
    client_core_reply_reset (&reply);
    digest_md5_destroy (&md5);
    free (buffer);
    return result;
}

//  Reads an object held in memory (a client_put () larger than max-put-bytes)
typedef struct {
    const uint8_t *data;        //  the object
    size_t size;                //  its bytes
    size_t offset;              //  bytes handed out so far
} s_memory_t;

static ssize_t
s_memory_read (void *arg, void *buffer, size_t size)
{
    s_memory_t *memory = (s_memory_t *) arg;
    size_t left = memory->size - memory->offset;
    if (size > left)
        size = left;
    if (size > SSIZE_MAX)
        size = SSIZE_MAX;
    memcpy (buffer, memory->data + memory->offset, size);
    memory->offset += size;
    return (ssize_t) size;
}

//  The arguments of a put, checked before anything is sent
static client_result_t
s_check_put (client_t *self, const char *key, const char *const *meta)
{
    self->error [0] = 0;
    client_result_t result = client_core_check_key (self, key);
    if (result == CLIENT_OK)
        result = client_core_check_meta (self, meta);
    return result;
}

client_result_t
client_put (client_t *self, uint32_t collection_id, const char *key, const void *data, size_t size,
            const char *const *meta, uint64_t *unified_id_p)
{
    assert (self);
    assert (data || size == 0);
    client_result_t result = s_check_put (self, key, meta);
    if (result != CLIENT_OK)
        return result;
    if (size <= self->max_put_bytes)
        return s_put_whole (self, collection_id, key, data, size, meta, unified_id_p);
    s_memory_t memory = { (const uint8_t *) data, size, 0 };
    return s_put_streamed (self, collection_id, key, meta, NULL, 0, s_memory_read, &memory, unified_id_p);
}

client_result_t
client_put_stream (client_t *self, uint32_t collection_id, const char *key, client_read_fn *read,
                   void *arg, const char *const *meta, uint64_t *unified_id_p)
{
    assert (self);
    assert (read);
    client_result_t result = s_check_put (self, key, meta);
    if (result != CLIENT_OK)
        return result;
    size_t probe = CLIENT_STREAM_PROBE_BYTES < self->max_put_bytes? CLIENT_STREAM_PROBE_BYTES:
                                                                      self->max_put_bytes;
    uint8_t *buffer = (uint8_t *) malloc (probe);
    if (!buffer)
        return client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    size_t filled = 0;
    bool end = false;
    if (s_read_fill (read, arg, buffer, probe, &filled, &end) != 0) {
        free (buffer);
        return client_core_fail (self, CLIENT_CALLBACK_ERROR, "reading the object failed after %zu bytes", filled);
    }
    if (end && filled < probe) {
        result = s_put_whole (self, collection_id, key, buffer, filled, meta, unified_id_p);
        free (buffer);
        return result;
    }
    return s_put_streamed (self, collection_id, key, meta, buffer, filled, read, arg, unified_id_p);
}


//  --------------------------------------------------------------------------
//  get

void
client_object_clear (client_object_t *object)
{
    if (!object)
        return;
    free (object->meta);
    memset (object, 0, sizeof *object);
}

//  Read the fields of a get-reply or get-next-reply
static client_result_t
s_get_fields (client_t *self, const client_reply_t *reply, const char *reply_type, client_object_t *object,
              uint64_t *slice_num_p, bool *completed_p)
{
    uint64_t slice_count;
    client_result_t result = client_core_uint_field (self, reply, reply_type, "unified-id", UINT64_MAX, &object->unified_id);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, reply, reply_type, "size", UINT64_MAX, &object->size);
    if (result == CLIENT_OK)
        result = client_core_digest_field (self, reply, reply_type, "file-hash", object->file_hash);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, reply, reply_type, "slice-count", UINT32_MAX, &slice_count);
    if (result == CLIENT_OK)
        result = client_core_uint_field (self, reply, reply_type, "slice-num", UINT32_MAX, slice_num_p);
    if (result != CLIENT_OK)
        return result;
    object->slice_count = (uint32_t) slice_count;
    const msgpack_object *completed = router_reply_field (reply->header, "completed");
    if (!completed || completed->type != MSGPACK_OBJECT_BOOLEAN)
        return client_core_bad_field (self, reply_type, "completed");
    *completed_p = completed->via.boolean;
    const msgpack_object *timestamp = router_reply_field (reply->header, "timestamp");
    if (timestamp && router_reply_str_copy (timestamp, object->timestamp, sizeof object->timestamp) != 0)
        return client_core_bad_field (self, reply_type, "timestamp");
    return CLIENT_OK;
}

client_result_t
client_get (client_t *self, uint32_t collection_id, const char *key, const uint64_t *unified_id,
            client_write_fn *write, void *arg, client_object_t *object)
{
    assert (self);
    assert (write);
    client_object_t local;
    if (!object)
        object = &local;
    memset (object, 0, sizeof *object);
    self->error [0] = 0;
    client_result_t result = client_core_check_key (self, key);
    if (result == CLIENT_OK)
        result = client_core_ready (self);
    if (result != CLIENT_OK)
        return result;

    digest_md5_t *md5 = digest_md5_new ();
    if (!md5)
        return client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    client_reply_t reply;
    client_core_reply_init (&reply);
    router_request_t *request = client_core_request (self, ROUTER_MSG_GET);
    client_core_request_object (request, collection_id, key);
    if (unified_id)
        client_core_request_unified_id (request, *unified_id);
    result = client_core_exchange (self, NULL, 0, "get-reply", &reply);
    uint64_t slice_num = 0;
    bool completed = false;
    if (result == CLIENT_OK)
        result = s_get_fields (self, &reply, "get-reply", object, &slice_num, &completed);
    if (result == CLIENT_OK && slice_num != 0)
        result = client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's get-reply carries slice %" PRIu64
                                   ", not 0", slice_num);
    if (result == CLIENT_OK && unified_id && object->unified_id != *unified_id)
        result = client_core_fail (self, CLIENT_PROTOCOL_ERROR, "asked for version %" PRIu64 ", the router sent %"
                                   PRIu64, *unified_id, object->unified_id);
    if (result == CLIENT_OK) {
        const msgpack_object *meta = router_reply_field (reply.header, "meta");
        if (meta && meta->type == MSGPACK_OBJECT_MAP
        &&  wire_pack_object (meta, &object->meta, &object->meta_size) != 0)
            result = client_core_fail (self, CLIENT_SYSTEM_ERROR, "out of memory");
    }
    uint64_t version = object->unified_id;
    uint64_t received = 0;
    while (result == CLIENT_OK) {
        //  The data frames of this slice
        zframe_t *frame = zmsg_first (reply.msg);         //  frame 0, the header
        for (frame = zmsg_next (reply.msg); frame; frame = zmsg_next (reply.msg)) {
            size_t size = zframe_size (frame);
            if (size > object->size - received) {
                result = client_core_fail (self, CLIENT_DATA_ERROR, "the router sent more than the object's %" PRIu64
                                           " bytes", object->size);
                break;
            }
            if (size == 0)
                continue;
            if (write (arg, zframe_data (frame), size) != 0) {
                result = client_core_fail (self, CLIENT_CALLBACK_ERROR, "writing the object failed after %" PRIu64
                                           " bytes", received);
                break;
            }
            digest_md5_update (md5, zframe_data (frame), size);
            received += size;
            client_core_progress (self, received, object->size);
        }
        if (result != CLIENT_OK || completed)
            break;

        //  The next slice
        slice_num++;
        if (slice_num >= object->slice_count) {
            result = client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's slice %" PRIu64 " of %" PRIu32
                                       " is not marked completed", slice_num - 1, object->slice_count);
            break;
        }
        request = client_core_request (self, ROUTER_MSG_GET_NEXT);
        client_core_request_object (request, collection_id, key);
        client_core_request_unified_id (request, version);
        request->slice_num = (uint32_t) slice_num;
        request->present |= ROUTER_FIELD_SLICE_NUM;
        result = client_core_exchange (self, NULL, 0, "get-next-reply", &reply);
        if (result != CLIENT_OK)
            break;
        uint64_t next_num;
        client_object_t next;
        memset (&next, 0, sizeof next);
        result = s_get_fields (self, &reply, "get-next-reply", &next, &next_num, &completed);
        if (result == CLIENT_OK
        &&  (next_num != slice_num || next.unified_id != version || next.size != object->size
          || memcmp (next.file_hash, object->file_hash, DIGEST_MD5_SIZE) != 0))
            result = client_core_fail (self, CLIENT_PROTOCOL_ERROR, "the router's get-next-reply for slice %" PRIu64
                                       " does not match the request or the object", slice_num);
    }
    if (result == CLIENT_OK) {
        uint8_t digest [DIGEST_MD5_SIZE];
        digest_md5_final (md5, digest);
        if (received != object->size)
            result = client_core_fail (self, CLIENT_DATA_ERROR, "received %" PRIu64 " bytes of a %" PRIu64 "-byte object",
                                       received, object->size);
        else
        if (memcmp (digest, object->file_hash, DIGEST_MD5_SIZE) != 0) {
            char got [DIGEST_MD5_BASE64_SIZE], expected [DIGEST_MD5_BASE64_SIZE];
            digest_md5_to_base64 (digest, got);
            digest_md5_to_base64 (object->file_hash, expected);
            result = client_core_fail (self, CLIENT_DATA_ERROR, "the object received has MD5 %s, not its file-hash %s",
                                       got, expected);
        }
    }
    client_core_reply_reset (&reply);
    digest_md5_destroy (&md5);
    if (object == &local)
        client_object_clear (&local);
    return result;
}
