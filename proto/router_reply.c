/*  =========================================================================
    router_reply - one reply of the router to a client

    The fields after the envelope are packed as they are added (key, value,
    key, value, ...) into a buffer with a count; encoding writes the map
    header for envelope + fields, the envelope, then that buffer as is.
    A decoded reply (the client's side) keeps the unpacked header instead
    and reads its fields where they are.
    =========================================================================
*/
#include <stdarg.h>
#include <msgpack.h>
#include "router_reply.h"
#include "protocol_limits.h"
#include "result.h"
#include "timestamp.h"
#include "wire.h"

struct _router_reply_t {
    char message_type [LIMIT_MESSAGE_TYPE_MAX + 8];     //  reply type
    char request_id [LIMIT_ID_MAX + 1];     //  echoed request-id
    bool has_request_id;                    //  false: request-id is nil
    router_result_t result;                 //  result code
    char error [300];                       //  error-message ("" = nil)
    msgpack_sbuffer fields;                 //  packed key/value pairs after the envelope
    msgpack_packer packer;                  //  writes into fields
    uint32_t field_count;                   //  pairs in fields
    bool failed;                            //  a pack call ran out of memory
    //  A decoded reply (router_reply_decode)
    bool decoded;                           //  the members below are in use
    msgpack_unpacked unpacked;              //  the header
    const msgpack_object *map;              //  the header map, in unpacked
    char result_text [64];                  //  result as sent ("" if absent)
    bool has_result;                        //  result was a string that fits
};

//  Longest error-message the router sends (the rest is cut)
#define S_ERROR_MAX     255

//  The results a node answers too carry the node protocol's names
//  (common/result.c); the others are the router's own
static const struct {
    int shared;                             //  result_t of the same meaning, or -1
    const char *name;                       //  the router's own name
} s_names [ROUTER_RESULT_COUNT] = {
    [ROUTER_SUCCESS]              = { RESULT_SUCCESS, NULL },
    [ROUTER_NOT_FOUND]            = { RESULT_NOT_FOUND, NULL },
    [ROUTER_INVALID_REQUEST]      = { RESULT_INVALID_REQUEST, NULL },
    [ROUTER_UNKNOWN_MESSAGE_TYPE] = { RESULT_UNKNOWN_MESSAGE_TYPE, NULL },
    [ROUTER_UNAVAILABLE]          = { -1, "unavailable" },
    [ROUTER_DATA_ERROR]           = { -1, "data-error" },
    [ROUTER_IO_ERROR]             = { RESULT_IO_ERROR, NULL },
    [ROUTER_TIMEOUT]              = { -1, "timeout" },
    [ROUTER_OVERLOADED]           = { RESULT_OVERLOADED, NULL },
    [ROUTER_FORBIDDEN]            = { RESULT_FORBIDDEN, NULL },
};

const char *
router_result_name (router_result_t result)
{
    if ((int) result < 0 || result >= ROUTER_RESULT_COUNT)
        return "unknown";
    return s_names [result].shared >= 0? result_name ((result_t) s_names [result].shared)
                                       : s_names [result].name;
}

int
router_result_from_name (const char *name, router_result_t *result_p)
{
    assert (result_p);
    for (int result = 0; name && result < ROUTER_RESULT_COUNT; result++)
        if (streq (name, router_result_name ((router_result_t) result))) {
            *result_p = (router_result_t) result;
            return 0;
        }
    return -1;
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
    if (self->decoded)
        msgpack_unpacked_destroy (&self->unpacked);
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
        vsnprintf (self->error, S_ERROR_MAX + 1, format, args);
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


//  --------------------------------------------------------------------------
//  Decoding (the client's side)

router_reply_t *
router_reply_decode (const void *data, size_t size, size_t max_size, char *error, size_t error_size)
{
    assert (error && error_size);
    router_reply_t *self = (router_reply_t *) calloc (1, sizeof (router_reply_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    msgpack_sbuffer_init (&self->fields);
    msgpack_packer_init (&self->packer, &self->fields, msgpack_sbuffer_write);
    self->decoded = true;
    msgpack_unpacked_init (&self->unpacked);
    const char *why = NULL;
    if (wire_unpack (&self->unpacked, data, size, max_size, &why) != 0
    ||  self->unpacked.data.type != MSGPACK_OBJECT_MAP) {
        snprintf (error, error_size, "%s", why? why: "not a map");
        router_reply_destroy (&self);
        return NULL;
    }
    self->map = &self->unpacked.data;
    self->has_request_id = router_reply_get_str (self, "request-id", self->request_id,
                                                 sizeof self->request_id) == 0;
    if (router_reply_get_str (self, "message-type", self->message_type, sizeof self->message_type))
        self->message_type [0] = 0;
    self->has_result = router_reply_get_str (self, "result", self->result_text,
                                             sizeof self->result_text) == 0;
    if (!self->has_result || router_result_from_name (self->result_text, &self->result) != 0)
        self->result = ROUTER_RESULT_COUNT;
    const msgpack_object *text = router_reply_field (self, "error-message");
    if (text && text->type == MSGPACK_OBJECT_STR)
        wire_sanitize (text->via.str.ptr, text->via.str.size, self->error, sizeof self->error);
    return self;
}

const char *
router_reply_type (router_reply_t *self)
{
    assert (self && self->decoded);
    return self->message_type [0]? self->message_type: NULL;
}

const char *
router_reply_request_id (router_reply_t *self)
{
    assert (self && self->decoded);
    return self->has_request_id? self->request_id: NULL;
}

const char *
router_reply_result_text (router_reply_t *self)
{
    assert (self && self->decoded);
    return self->has_result? self->result_text: NULL;
}

int
router_reply_str_copy (const msgpack_object *value, char *out, size_t out_size)
{
    if (!value || value->type != MSGPACK_OBJECT_STR || value->via.str.size >= out_size)
        return -1;
    memcpy (out, value->via.str.ptr, value->via.str.size);
    out [value->via.str.size] = 0;
    return 0;
}

const msgpack_object *
router_reply_field (router_reply_t *self, const char *key)
{
    assert (self && self->decoded);
    return wire_map_find (self->map, key);
}

int
router_reply_get_uint (router_reply_t *self, const char *key, uint64_t max, uint64_t *value_p)
{
    const msgpack_object *value = router_reply_field (self, key);
    return value && wire_get_uint (value, 0, max, value_p) == 0? 0: -1;
}

int
router_reply_get_str (router_reply_t *self, const char *key, char *out, size_t out_size)
{
    return router_reply_str_copy (router_reply_field (self, key), out, out_size);
}

int
router_reply_get_digest (router_reply_t *self, const char *key, uint8_t digest [DIGEST_MD5_SIZE])
{
    const msgpack_object *value = router_reply_field (self, key);
    return value && wire_get_digest (value, digest) == 0? 0: -1;
}

int
router_reply_get_bool (router_reply_t *self, const char *key, bool *value_p)
{
    const msgpack_object *value = router_reply_field (self, key);
    if (!value || value->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *value_p = value->via.boolean;
    return 0;
}
