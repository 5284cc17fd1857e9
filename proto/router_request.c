/*  =========================================================================
    router_request - decode and validate a client request to the router;
    encode one (the client's side)

    Order of checks, so the error does not depend on key order:
    1. the header is one MessagePack map with string keys (wire_unpack);
    2. request-id (str 1..128, UTF-8, no NUL) — required, read first so
       every later error can still be echoed;
    3. message-type — required str, a name of ROUTER.md;
    4. the type's fields in table order: required ones present, each given
       once, of the right type and range.
    =========================================================================
*/
#include <inttypes.h>
#include <msgpack.h>
#include "router_request.h"
#include "request.h"
#include "wire.h"

typedef struct {
    const char *name;           //  wire name
    const char *reply;          //  reply type name
    uint32_t required;          //  ROUTER_FIELD_* bits required
    uint32_t optional;          //  ROUTER_FIELD_* bits allowed
} s_type_t;

#define S_OBJECT (ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_KEY)

static const s_type_t s_types [ROUTER_MSG_COUNT] = {
    [ROUTER_MSG_UNKNOWN]       = { "unknown", "error-reply", 0, 0 },
    [ROUTER_MSG_PUT]           = { "put", "put-reply", ROUTER_FIELD_KEY,
                                   ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_META },
    [ROUTER_MSG_PUT_START]     = { "put-start", "put-start-reply", ROUTER_FIELD_KEY,
                                   ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_META },
    [ROUTER_MSG_PUT_DATA]      = { "put-data", "put-data-reply", ROUTER_FIELD_UPLOAD_ID, 0 },
    [ROUTER_MSG_PUT_FINISH]    = { "put-finish", "put-reply", ROUTER_FIELD_UPLOAD_ID, 0 },
    [ROUTER_MSG_PUT_ABORT]     = { "put-abort", "put-abort-reply", ROUTER_FIELD_UPLOAD_ID, 0 },
    [ROUTER_MSG_DELETE]        = { "delete", "delete-reply", ROUTER_FIELD_KEY,
                                   ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_UNIFIED_ID },
    [ROUTER_MSG_GET]           = { "get", "get-reply", ROUTER_FIELD_KEY,
                                   ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_UNIFIED_ID },
    [ROUTER_MSG_GET_NEXT]      = { "get-next", "get-next-reply",
                                   ROUTER_FIELD_KEY | ROUTER_FIELD_UNIFIED_ID | ROUTER_FIELD_SLICE_NUM,
                                   ROUTER_FIELD_COLLECTION_ID },
    [ROUTER_MSG_LIST_VERSIONS] = { "list-versions", "list-versions-reply", ROUTER_FIELD_KEY,
                                   ROUTER_FIELD_COLLECTION_ID },
    [ROUTER_MSG_PING]          = { "ping", "ping-reply", 0, 0 },
    [ROUTER_MSG_LIST_KEYS]     = { "list-keys", "list-keys-reply", 0,
                                   ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_PREFIX
                                 | ROUTER_FIELD_START_AFTER | ROUTER_FIELD_LIMIT },
    [ROUTER_MSG_REPAIR]        = { "repair", "repair-reply", ROUTER_FIELD_KEY,
                                   ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_UNIFIED_ID
                                 | ROUTER_FIELD_NODE },
};

//  The fields of the types, in the order they are checked
typedef struct {
    uint32_t bit;               //  ROUTER_FIELD_*
    const char *name;           //  wire name
} s_field_t;

static const s_field_t s_fields [] = {
    { ROUTER_FIELD_UPLOAD_ID,     "upload-id" },
    { ROUTER_FIELD_COLLECTION_ID, "collection-id" },
    { ROUTER_FIELD_KEY,           "key" },
    { ROUTER_FIELD_UNIFIED_ID,    "unified-id" },
    { ROUTER_FIELD_SLICE_NUM,     "slice-num" },
    { ROUTER_FIELD_META,          "meta" },
    { ROUTER_FIELD_PREFIX,        "prefix" },
    { ROUTER_FIELD_START_AFTER,   "start-after" },
    { ROUTER_FIELD_LIMIT,         "limit" },
    { ROUTER_FIELD_NODE,          "node" },
};
#define S_FIELD_COUNT (sizeof (s_fields) / sizeof (s_fields [0]))

const char *
router_msg_name (router_msg_t type)
{
    if ((int) type <= ROUTER_MSG_UNKNOWN || type >= ROUTER_MSG_COUNT)
        return "unknown";
    return s_types [type].name;
}

router_request_t *
router_request_new (void)
{
    return (router_request_t *) calloc (1, sizeof (router_request_t));
}

static void
s_reset (router_request_t *self)
{
    free (self->meta);
    memset (self, 0, sizeof (*self));
    snprintf (self->reply_type, sizeof (self->reply_type), "error-reply");
}

void
router_request_destroy (router_request_t **self_p)
{
    assert (self_p);
    router_request_t *self = *self_p;
    if (!self)
        return;
    free (self->meta);
    free (self);
    *self_p = NULL;
}

const char *
router_request_reply_type (router_request_t *self)
{
    assert (self);
    return self->reply_type [0]? self->reply_type: "error-reply";
}

const char *
router_request_id (router_request_t *self)
{
    assert (self);
    return (self->present & ROUTER_FIELD_REQUEST_ID)? self->request_id: NULL;
}

//  Is key (a msgpack str) equal to name?
static bool
s_is (const msgpack_object *key, const char *name)
{
    size_t size = strlen (name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == size
        && memcmp (key->via.str.ptr, name, size) == 0;
}

//  Find the value of name in map; returns NULL if absent. Sets *twice_p if
//  the key appears more than once.
static const msgpack_object *
s_find (const msgpack_object_map *map, const char *name, bool *twice_p)
{
    const msgpack_object *found = NULL;
    *twice_p = false;
    for (uint32_t entry = 0; entry < map->size; entry++)
        if (s_is (&map->ptr [entry].key, name)) {
            if (found)
                *twice_p = true;
            else
                found = &map->ptr [entry].val;
        }
    return found;
}

//  Read a text field: str, 1..max bytes, UTF-8 without NUL
static int
s_text (const msgpack_object *value, const char *name, size_t max, char *out,
        size_t *size_p, char *error, size_t error_size)
{
    if (value->type != MSGPACK_OBJECT_STR) {
        snprintf (error, error_size, "%s: expected a string, got %s", name, wire_type_name (value));
        return -1;
    }
    size_t size = value->via.str.size;
    if (size == 0) {
        snprintf (error, error_size, "%s: empty", name);
        return -1;
    }
    if (size > max) {
        snprintf (error, error_size, "%s: %zu bytes, longer than %zu", name, size, max);
        return -1;
    }
    if (!wire_utf8_valid (value->via.str.ptr, size, false)) {
        snprintf (error, error_size, "%s: not valid UTF-8, or contains a NUL byte", name);
        return -1;
    }
    memcpy (out, value->via.str.ptr, size);
    out [size] = 0;
    if (size_p)
        *size_p = size;
    return 0;
}

static int
s_uint (const msgpack_object *value, const char *name, uint64_t max, uint64_t *value_p,
        char *error, size_t error_size)
{
    int rc = wire_get_uint (value, 0, max, value_p);
    if (rc == -1) {
        snprintf (error, error_size, "%s: expected an integer, got %s", name, wire_type_name (value));
        return -1;
    }
    if (rc == -2) {
        char text [32];
        wire_int_text (value, text, sizeof text);
        snprintf (error, error_size, "%s: %s is out of range 0..%" PRIu64, name, text, max);
        return -1;
    }
    return 0;
}

//  Read one field of the type into self
static int
s_field (router_request_t *self, const s_field_t *field, const msgpack_object *value,
         router_result_t *result_p, char *error, size_t error_size)
{
    uint64_t number;
    switch (field->bit) {
        case ROUTER_FIELD_UPLOAD_ID:
            if (s_text (value, field->name, ROUTER_UPLOAD_ID_MAX, self->upload_id, NULL, error, error_size))
                return -1;
            break;
        case ROUTER_FIELD_COLLECTION_ID:
            if (s_uint (value, field->name, UINT32_MAX, &number, error, error_size))
                return -1;
            self->collection_id = (uint32_t) number;
            break;
        case ROUTER_FIELD_KEY:
            if (s_text (value, field->name, LIMIT_KEY_MAX, self->key, &self->key_size, error, error_size))
                return -1;
            break;
        case ROUTER_FIELD_UNIFIED_ID:
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;           //  nil: absent
            if (s_uint (value, field->name, UINT64_MAX, &self->unified_id, error, error_size))
                return -1;
            break;
        case ROUTER_FIELD_SLICE_NUM:
            if (s_uint (value, field->name, UINT32_MAX, &number, error, error_size))
                return -1;
            self->slice_num = (uint32_t) number;
            break;
        case ROUTER_FIELD_META: {
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;           //  nil: no metadata
            if (value->type != MSGPACK_OBJECT_MAP) {
                snprintf (error, error_size, "meta: expected a map, got %s", wire_type_name (value));
                return -1;
            }
            if (wire_pack_object (value, &self->meta, &self->meta_size)) {
                *result_p = ROUTER_OVERLOADED;
                snprintf (error, error_size, "meta: out of memory");
                return -1;
            }
            if (request_meta_validate (self->meta, self->meta_size)) {
                snprintf (error, error_size, "meta: must map strings to strings, at most %d entries "
                          "of at most %d bytes each, no key twice",
                          LIMIT_META_ENTRIES, LIMIT_META_STRING_MAX);
                return -1;
            }
            break;
        }
        case ROUTER_FIELD_PREFIX:
        case ROUTER_FIELD_START_AFTER: {
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;           //  nil: absent
            bool prefix = field->bit == ROUTER_FIELD_PREFIX;
            int rc = wire_get_bytes (value, LIMIT_KEY_MAX, prefix? self->prefix: self->start_after,
                                     prefix? &self->prefix_size: &self->start_after_size);
            if (rc == -1) {
                snprintf (error, error_size, "%s: expected a string or a bin, got %s",
                          field->name, wire_type_name (value));
                return -1;
            }
            if (rc == -2) {
                snprintf (error, error_size, "%s: %zu bytes, longer than %d", field->name,
                          (size_t) value->via.str.size, LIMIT_KEY_MAX);
                return -1;
            }
            break;
        }
        case ROUTER_FIELD_NODE:
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;           //  nil: every node
            if (s_text (value, field->name, LIMIT_NODE_NAME_MAX, self->node, NULL, error, error_size))
                return -1;
            break;
        case ROUTER_FIELD_LIMIT: {
            int rc = wire_get_uint (value, 1, LIMIT_LIST_KEYS_MAX, &number);
            if (rc) {
                snprintf (error, error_size, "limit: expected an integer in 1..%d", LIMIT_LIST_KEYS_MAX);
                return -1;
            }
            self->limit = (uint32_t) number;
            break;
        }
        default:
            assert (false);
    }
    self->present |= field->bit;
    return 0;
}

int
router_request_decode (router_request_t *self, const void *data, size_t size,
                       router_result_t *result_p, char *error, size_t error_size)
{
    assert (self && result_p && error);
    s_reset (self);
    *result_p = ROUTER_INVALID_REQUEST;
    error [0] = 0;

    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = wire_unpack (&unpacked, data, size, LIMIT_HEADER_MAX, &why);
    if (rc < 0) {
        snprintf (error, error_size, "header: %s", why);
        goto failed;
    }
    if (unpacked.data.type != MSGPACK_OBJECT_MAP) {
        snprintf (error, error_size, "header: not a MessagePack map");
        goto failed;
    }
    const msgpack_object_map *map = &unpacked.data.via.map;
    //  The header's own problems come first, but request-id is still read
    if (rc == 1)
        snprintf (error, error_size, "header: %s", why);
    for (uint32_t entry = 0; entry < map->size && !error [0]; entry++)
        if (map->ptr [entry].key.type != MSGPACK_OBJECT_STR)
            snprintf (error, error_size, "header: key %" PRIu32 " is %s, not a string",
                      entry + 1, wire_type_name (&map->ptr [entry].key));

    char field_error [256] = "";
    bool twice;
    const msgpack_object *value = s_find (map, "request-id", &twice);
    if (!value)
        snprintf (field_error, sizeof field_error, "request-id: required");
    else
    if (twice)
        snprintf (field_error, sizeof field_error, "request-id: given more than once");
    else
    if (s_text (value, "request-id", LIMIT_ID_MAX, self->request_id, NULL, field_error, sizeof field_error) == 0)
        self->present |= ROUTER_FIELD_REQUEST_ID;

    //  message-type, kept (cleaned) for the reply type even when unknown
    value = s_find (map, "message-type", &twice);
    if (value && value->type == MSGPACK_OBJECT_STR && value->via.str.size > 0) {
        wire_sanitize (value->via.str.ptr, value->via.str.size, self->message_type,
                       sizeof self->message_type);
        for (int type = ROUTER_MSG_UNKNOWN + 1; type < ROUTER_MSG_COUNT; type++)
            if (s_is (value, s_types [type].name))
                self->type = (router_msg_t) type;
        if (self->type != ROUTER_MSG_UNKNOWN)
            snprintf (self->reply_type, sizeof self->reply_type, "%s", s_types [self->type].reply);
        else
            snprintf (self->reply_type, sizeof self->reply_type, "%s-reply", self->message_type);
    }
    if (error [0])
        goto failed;
    if (field_error [0]) {
        snprintf (error, error_size, "%s", field_error);
        goto failed;
    }
    if (!value) {
        snprintf (error, error_size, "message-type: required");
        goto failed;
    }
    if (twice) {
        snprintf (error, error_size, "message-type: given more than once");
        goto failed;
    }
    if (value->type != MSGPACK_OBJECT_STR) {
        snprintf (error, error_size, "message-type: expected a string, got %s", wire_type_name (value));
        goto failed;
    }
    if (self->type == ROUTER_MSG_UNKNOWN) {
        *result_p = ROUTER_UNKNOWN_MESSAGE_TYPE;
        snprintf (error, error_size, "message-type: unknown type '%s'", self->message_type);
        goto failed;
    }
    const s_type_t *type = &s_types [self->type];
    for (size_t index = 0; index < S_FIELD_COUNT; index++) {
        const s_field_t *field = &s_fields [index];
        if (!(field->bit & (type->required | type->optional)))
            continue;
        value = s_find (map, field->name, &twice);
        if (!value) {
            if (field->bit & type->required) {
                snprintf (error, error_size, "%s: required by %s", field->name, type->name);
                goto failed;
            }
            continue;
        }
        if (twice) {
            snprintf (error, error_size, "%s: given more than once", field->name);
            goto failed;
        }
        if (s_field (self, field, value, result_p, error, error_size))
            goto failed;
        if ((field->bit & type->required) && !(self->present & field->bit)) {
            snprintf (error, error_size, "%s: required by %s (nil given)", field->name, type->name);
            goto failed;
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    *result_p = ROUTER_SUCCESS;
    return 0;

failed:
    msgpack_unpacked_destroy (&unpacked);
    free (self->meta);
    self->meta = NULL;
    self->meta_size = 0;
    self->present &= ROUTER_FIELD_REQUEST_ID;
    return -1;
}


//  --------------------------------------------------------------------------
//  Encoding (the client's side)

static int
s_pack_text (msgpack_packer *packer, const char *text, size_t size)
{
    return msgpack_pack_str (packer, size) || msgpack_pack_str_body (packer, text, size);
}

//  A byte string: str when it is UTF-8 without NUL, else bin
static int
s_pack_bytes (msgpack_packer *packer, const char *bytes, size_t size)
{
    if (wire_utf8_valid (bytes, size, false))
        return s_pack_text (packer, bytes, size);
    return msgpack_pack_bin (packer, size) || msgpack_pack_bin_body (packer, bytes, size);
}

int
router_request_encode (const router_request_t *self, msgpack_sbuffer *buffer)
{
    assert (self && buffer);
    assert ((int) self->type > ROUTER_MSG_UNKNOWN && self->type < ROUTER_MSG_COUNT);
    assert (!(self->present & ROUTER_FIELD_META) || self->meta);
    const s_type_t *type = &s_types [self->type];
    uint32_t fields = self->present & (type->required | type->optional);
    uint32_t entries = 2;
    for (size_t index = 0; index < S_FIELD_COUNT; index++)
        if (fields & s_fields [index].bit)
            entries++;

    msgpack_sbuffer_clear (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&packer, entries);
    rc |= s_pack_text (&packer, "message-type", 12) | s_pack_text (&packer, type->name, strlen (type->name));
    rc |= s_pack_text (&packer, "request-id", 10)
        | s_pack_text (&packer, self->request_id, strlen (self->request_id));
    for (size_t index = 0; index < S_FIELD_COUNT; index++) {
        const s_field_t *field = &s_fields [index];
        if (!(fields & field->bit))
            continue;
        rc |= s_pack_text (&packer, field->name, strlen (field->name));
        switch (field->bit) {
            case ROUTER_FIELD_UPLOAD_ID:
                rc |= s_pack_text (&packer, self->upload_id, strlen (self->upload_id));
                break;
            case ROUTER_FIELD_COLLECTION_ID:
                rc |= msgpack_pack_uint64 (&packer, self->collection_id);
                break;
            case ROUTER_FIELD_KEY:
                rc |= s_pack_text (&packer, self->key, self->key_size);
                break;
            case ROUTER_FIELD_UNIFIED_ID:
                rc |= msgpack_pack_uint64 (&packer, self->unified_id);
                break;
            case ROUTER_FIELD_SLICE_NUM:
                rc |= msgpack_pack_uint64 (&packer, self->slice_num);
                break;
            case ROUTER_FIELD_META:
                rc |= msgpack_sbuffer_write (buffer, (const char *) self->meta, self->meta_size);
                break;
            case ROUTER_FIELD_PREFIX:
                rc |= s_pack_bytes (&packer, self->prefix, self->prefix_size);
                break;
            case ROUTER_FIELD_START_AFTER:
                rc |= s_pack_bytes (&packer, self->start_after, self->start_after_size);
                break;
            case ROUTER_FIELD_LIMIT:
                rc |= msgpack_pack_uint64 (&packer, self->limit);
                break;
            case ROUTER_FIELD_NODE:
                rc |= s_pack_text (&packer, self->node, strlen (self->node));
                break;
            default:
                assert (false);
        }
    }
    return rc? -1: 0;
}
