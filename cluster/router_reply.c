/*  =========================================================================
    router_reply - one reply of the router to a client

    The fields after the envelope are packed as they are added (key, value,
    key, value, ...) into a buffer with a count; encoding writes the map
    header for envelope + fields, the envelope, then that buffer as is.
    =========================================================================
*/
#include <stdarg.h>
#include <msgpack.h>
#include "router_reply.h"
#include "protocol_limits.h"
#include "timestamp.h"

struct _router_reply_t {
    char message_type [LIMIT_MESSAGE_TYPE_MAX + 8];     //  reply type
    char request_id [LIMIT_ID_MAX + 1];     //  echoed request-id
    bool has_request_id;                    //  false: request-id is nil
    router_result_t result;                 //  result code
    char error [256];                       //  error-message ("" = nil)
    msgpack_sbuffer fields;                 //  packed key/value pairs after the envelope
    msgpack_packer packer;                  //  writes into fields
    uint32_t field_count;                   //  pairs in fields
    bool failed;                            //  a pack call ran out of memory
};

static const char *s_names [ROUTER_RESULT_COUNT] = {
    [ROUTER_SUCCESS] = "success",
    [ROUTER_NOT_FOUND] = "not-found",
    [ROUTER_INVALID_REQUEST] = "invalid-request",
    [ROUTER_UNKNOWN_MESSAGE_TYPE] = "unknown-message-type",
    [ROUTER_UNAVAILABLE] = "unavailable",
    [ROUTER_DATA_ERROR] = "data-error",
    [ROUTER_IO_ERROR] = "io-error",
    [ROUTER_TIMEOUT] = "timeout",
    [ROUTER_OVERLOADED] = "overloaded",
    [ROUTER_FORBIDDEN] = "forbidden",
};

const char *
router_result_name (router_result_t result)
{
    if ((int) result < 0 || result >= ROUTER_RESULT_COUNT)
        return "unknown";
    return s_names [result];
}

router_reply_t *
router_reply_new (const char *message_type, const char *request_id)
{
    assert (message_type);
    router_reply_t *self = (router_reply_t *) calloc (1, sizeof (router_reply_t));
    if (!self)
        return NULL;
    snprintf (self->message_type, sizeof (self->message_type), "%s", message_type);
    if (request_id) {
        snprintf (self->request_id, sizeof (self->request_id), "%s", request_id);
        self->has_request_id = true;
    }
    msgpack_sbuffer_init (&self->fields);
    msgpack_packer_init (&self->packer, &self->fields, msgpack_sbuffer_write);
    return self;
}

void
router_reply_destroy (router_reply_t **self_p)
{
    assert (self_p);
    router_reply_t *self = *self_p;
    if (!self)
        return;
    msgpack_sbuffer_destroy (&self->fields);
    free (self);
    *self_p = NULL;
}

void
router_reply_set_result (router_reply_t *self, router_result_t result, const char *format, ...)
{
    assert (self);
    assert ((int) result >= 0 && result < ROUTER_RESULT_COUNT);
    self->result = result;
    self->error [0] = 0;
    if (result != ROUTER_SUCCESS) {
        va_list args;
        va_start (args, format);
        vsnprintf (self->error, sizeof (self->error), format, args);
        va_end (args);
        if (!self->error [0])
            snprintf (self->error, sizeof (self->error), "%s", router_result_name (result));
    }
}

router_result_t
router_reply_result (router_reply_t *self)
{
    assert (self);
    return self->result;
}

const char *
router_reply_error (router_reply_t *self)
{
    assert (self);
    return self->error;
}

static void
s_key (router_reply_t *self, const char *key)
{
    size_t size = strlen (key);
    if (msgpack_pack_str (&self->packer, size) || msgpack_pack_str_body (&self->packer, key, size))
        self->failed = true;
    self->field_count++;
}

void
router_reply_add_uint (router_reply_t *self, const char *key, uint64_t value)
{
    assert (self && key);
    s_key (self, key);
    if (msgpack_pack_uint64 (&self->packer, value))
        self->failed = true;
}

void
router_reply_add_str (router_reply_t *self, const char *key, const char *text)
{
    assert (self && key && text);
    s_key (self, key);
    size_t size = strlen (text);
    if (msgpack_pack_str (&self->packer, size) || msgpack_pack_str_body (&self->packer, text, size))
        self->failed = true;
}

void
router_reply_add_bool (router_reply_t *self, const char *key, bool value)
{
    assert (self && key);
    s_key (self, key);
    if (value? msgpack_pack_true (&self->packer): msgpack_pack_false (&self->packer))
        self->failed = true;
}

void
router_reply_add_nil (router_reply_t *self, const char *key)
{
    assert (self && key);
    s_key (self, key);
    if (msgpack_pack_nil (&self->packer))
        self->failed = true;
}

void
router_reply_add_digest (router_reply_t *self, const char *key, const uint8_t digest [DIGEST_MD5_SIZE])
{
    assert (self && key && digest);
    char text [DIGEST_MD5_BASE64_SIZE];
    digest_md5_to_base64 (digest, text);
    router_reply_add_str (self, key, text);
}

void
router_reply_add_timestamp (router_reply_t *self, const char *key, int64_t usec)
{
    assert (self && key);
    char text [TIMESTAMP_TEXT_SIZE];
    router_reply_add_str (self, key, timestamp_format (usec, text));
}

void
router_reply_add_raw (router_reply_t *self, const char *key, const uint8_t *data, size_t size)
{
    assert (self && key);
    if (!data || !size) {
        router_reply_add_nil (self, key);
        return;
    }
    s_key (self, key);
    if (msgpack_sbuffer_write (&self->fields, (const char *) data, size))
        self->failed = true;
}

static int
s_pack_str (msgpack_packer *packer, const char *text)
{
    size_t size = strlen (text);
    return msgpack_pack_str (packer, size) || msgpack_pack_str_body (packer, text, size);
}

zmsg_t *
router_reply_encode (router_reply_t *self, zmsg_t **data_p)
{
    assert (self);
    if (self->failed)
        return NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&packer, 4 + self->field_count);
    rc |= s_pack_str (&packer, "message-type") | s_pack_str (&packer, self->message_type);
    rc |= s_pack_str (&packer, "request-id");
    rc |= self->has_request_id? s_pack_str (&packer, self->request_id): msgpack_pack_nil (&packer);
    rc |= s_pack_str (&packer, "result") | s_pack_str (&packer, router_result_name (self->result));
    rc |= s_pack_str (&packer, "error-message");
    rc |= self->result == ROUTER_SUCCESS? msgpack_pack_nil (&packer): s_pack_str (&packer, self->error);
    if (self->fields.size)
        rc |= msgpack_sbuffer_write (&buffer, self->fields.data, self->fields.size);
    zmsg_t *msg = NULL;
    if (rc == 0) {
        msg = zmsg_new ();
        zmsg_addmem (msg, buffer.data, buffer.size);
        if (data_p && *data_p) {
            zframe_t *frame;
            while ((frame = zmsg_pop (*data_p)))
                zmsg_append (msg, &frame);
            zmsg_destroy (data_p);
        }
    }
    msgpack_sbuffer_destroy (&buffer);
    return msg;
}
