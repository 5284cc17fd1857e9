/*  =========================================================================
    request - the model of one protocol request, decoded from and encoded to
    its MessagePack header (frame 0)

    Decoding runs in three steps, so that a reply can be addressed even when
    the request is bad:

    1. Unpack: the header must be at most LIMIT_HEADER_MAX bytes and exactly
       one MessagePack map (wire_unpack () bounds what msgpack-c allocates).
       Trailing bytes after a complete map are an error, but the map is
       still read for its echo fields.
    2. Index: one pass over the map records, for every key this codec knows,
       where its value is and how often it was given. Unknown keys are
       skipped; a non-string key is an error (named), the rest still read.
    3. Validate, in a fixed order so the message does not depend on the
       sender's key order: echo fields (message-id, client-tag,
       client-address, user-request-id), then message-type, then the fields
       of the type in protocol order (s_fields), required (R) or optional
       (O) per s_rules. The first problem found is the one reported, as
       "<field>: <what is wrong>"; echo fields and message-type are read
       even after an earlier problem. On failure everything but the echo
       fields and the type is cleared again.

    A key given twice is an error when it is one the request's type uses
    (a router that validates the first and a node that stores the last
    would disagree); duplicates of keys the type ignores are ignored.

    Why this file is longer than 900 lines: it is one table-driven codec
    for every message type of the node protocol, and the tables (s_fields,
    s_rules), the readers per kind of field and the fixed order of checks
    are one piece; their parts are not used apart.
    =========================================================================
*/

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "timestamp.h"
#include "wire.h"

//  How a field's value is read
typedef enum {
    S_KIND_U32,                 //  integer 0..2^32-1
    S_KIND_U64,                 //  integer 0..2^64-1, exact
    S_KIND_U64_OR_NIL,          //  as U64, nil = absent
    S_KIND_RATIO,               //  float or integer in 0..1
    S_KIND_SEGMENT_NUM,         //  integer 1..255
    S_KIND_ADLER32,             //  int32 or uint32, kept as uint32 bits
    S_KIND_KEY,                 //  str, 1..LIMIT_KEY_MAX bytes of UTF-8, no null
    S_KIND_NODE_NAME,           //  str, 1..LIMIT_NODE_NAME_MAX bytes of UTF-8, no null
    S_KIND_NODE_NAME_OR_NIL,    //  as NODE_NAME, nil = absent
    S_KIND_TIMESTAMP,           //  str parsed by timestamp_parse ()
    S_KIND_DIGEST,              //  base64 str or 16-byte bin
    S_KIND_META,                //  map str -> str within the meta limits, nil = absent
    S_KIND_BYTES,               //  str or bin of 0..LIMIT_KEY_MAX bytes, any bytes; nil = absent
    S_KIND_LIMIT                //  integer 1..LIMIT_LIST_KEYS_MAX
} s_kind_t;

//  One field of a type's body (echo fields and message-type are apart)
typedef struct {
    const char *name;           //  wire name
    uint64_t bit;               //  FIELD_* presence bit
    s_kind_t kind;              //  how the value is read
    const char *legacy;         //  older spelling, accepted by web-writer-start
} s_field_t;

//  The body fields, in the order of proto/PROTOCOL.md, "Archiving (writer endpoint)" (which is also the order
//  in which problems are reported and fields are encoded)
static const s_field_t s_fields [] = {
    { "collection-id",          FIELD_COLLECTION_ID,        S_KIND_U32,         NULL },
    { "key",                    FIELD_KEY,                  S_KIND_KEY,         NULL },
    { "unified-id",             FIELD_UNIFIED_ID,           S_KIND_U64,         NULL },
    { "timestamp-repr",         FIELD_TIMESTAMP,            S_KIND_TIMESTAMP,   "timestamp_repr" },
    { "conjoined-part",         FIELD_CONJOINED_PART,       S_KIND_U32,         NULL },
    { "segment-num",            FIELD_SEGMENT_NUM,          S_KIND_SEGMENT_NUM, NULL },
    { "sequence-num",           FIELD_SEQUENCE_NUM,         S_KIND_U32,         NULL },
    { "segment-size",           FIELD_SEGMENT_SIZE,         S_KIND_U64,         NULL },
    { "zfec-padding-size",      FIELD_ZFEC_PADDING_SIZE,    S_KIND_U32,         NULL },
    { "segment-md5-digest",     FIELD_SEGMENT_MD5,          S_KIND_DIGEST,      NULL },
    { "segment-adler32",        FIELD_SEGMENT_ADLER32,      S_KIND_ADLER32,     NULL },
    { "source-node-name",       FIELD_SOURCE_NODE_NAME,     S_KIND_NODE_NAME,   "source_node_name" },
    { "handoff-node-name",      FIELD_HANDOFF_NODE_NAME,    S_KIND_NODE_NAME_OR_NIL, NULL },
    { "file-size",              FIELD_FILE_SIZE,            S_KIND_U64,         NULL },
    { "file-adler32",           FIELD_FILE_ADLER32,         S_KIND_ADLER32,     NULL },
    { "file-hash",              FIELD_FILE_HASH,            S_KIND_DIGEST,      NULL },
    { "meta",                   FIELD_META,                 S_KIND_META,        NULL },
    { "unified-id-to-delete",   FIELD_UNIFIED_ID_TO_DELETE, S_KIND_U64_OR_NIL,  NULL },
    { "prefix",                 FIELD_PREFIX,               S_KIND_BYTES,       NULL },
    { "start-after",            FIELD_START_AFTER,          S_KIND_BYTES,       NULL },
    { "limit",                  FIELD_LIMIT,                S_KIND_LIMIT,       NULL },
    { "start-after-id",         FIELD_START_AFTER_ID,       S_KIND_U32,         NULL },
    { "garbage-ratio",          FIELD_GARBAGE_RATIO,        S_KIND_RATIO,       NULL },
};
#define S_FIELD_COUNT (sizeof s_fields / sizeof s_fields [0])

//  Which body fields a type requires and accepts
typedef struct {
    uint64_t required;          //  FIELD_* bits that must be given
    uint64_t optional;          //  FIELD_* bits that may be given
    bool legacy;                //  accept the legacy spellings too
} s_rules_t;

//  Field sets of proto/PROTOCOL.md, "Messages"
#define S_SEGMENT_R  (FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP \
                    | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE | FIELD_ZFEC_PADDING_SIZE \
                    | FIELD_SEGMENT_MD5 | FIELD_SOURCE_NODE_NAME)
#define S_SEGMENT_O  (FIELD_CONJOINED_PART | FIELD_SEGMENT_ADLER32 | FIELD_HANDOFF_NODE_NAME)
#define S_FILE_R     (FIELD_FILE_SIZE | FIELD_FILE_HASH)
#define S_FILE_O     (FIELD_FILE_ADLER32 | FIELD_META)
#define S_CONJOINED_R (FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP)

//  Indexed by message_type_t (proto/PROTOCOL.md, "Messages")
static const s_rules_t s_rules [MSG_TYPE_COUNT] = {
    [MSG_ARCHIVE_KEY_ENTIRE]    = { S_SEGMENT_R | S_FILE_R, S_SEGMENT_O | S_FILE_O, false },
    [MSG_ARCHIVE_KEY_START]     = { S_SEGMENT_R | FIELD_SEQUENCE_NUM, S_SEGMENT_O, false },
    [MSG_ARCHIVE_KEY_NEXT]      = { S_SEGMENT_R | FIELD_SEQUENCE_NUM, S_SEGMENT_O, false },
    [MSG_ARCHIVE_KEY_FINAL]     = { S_SEGMENT_R | FIELD_SEQUENCE_NUM | S_FILE_R,
                                    S_SEGMENT_O | S_FILE_O, false },
    [MSG_ARCHIVE_KEY_CANCEL]    = { FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM, FIELD_CONJOINED_PART, false },
    [MSG_DESTROY_KEY]           = { FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
                                  | FIELD_TIMESTAMP | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME,
                                    FIELD_UNIFIED_ID_TO_DELETE | FIELD_HANDOFF_NODE_NAME, false },
    [MSG_START_CONJOINED_ARCHIVE]   = { S_CONJOINED_R, FIELD_HANDOFF_NODE_NAME, false },
    [MSG_ABORT_CONJOINED_ARCHIVE]   = { S_CONJOINED_R, FIELD_HANDOFF_NODE_NAME, false },
    [MSG_FINISH_CONJOINED_ARCHIVE]  = { S_CONJOINED_R, FIELD_HANDOFF_NODE_NAME, false },
    [MSG_WEB_WRITER_START]      = { FIELD_SOURCE_NODE_NAME | FIELD_TIMESTAMP, 0, true },
    [MSG_SYNC_VALUE_FILE]       = { 0, 0, false },
    [MSG_PING]                  = { 0, 0, false },
    [MSG_STATS]                 = { 0, 0, false },
    [MSG_RETRIEVE_KEY_START]    = { FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM,
                                    FIELD_UNIFIED_ID | FIELD_CONJOINED_PART | FIELD_HANDOFF_NODE_NAME,
                                    false },
    [MSG_RETRIEVE_KEY_NEXT]     = { FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
                                  | FIELD_SEGMENT_NUM | FIELD_SEQUENCE_NUM,
                                    FIELD_CONJOINED_PART | FIELD_HANDOFF_NODE_NAME, false },
    [MSG_LIST_VERSIONS]         = { FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM,
                                    FIELD_CONJOINED_PART | FIELD_HANDOFF_NODE_NAME, false },
    //  Extension (PROTOCOL.md): segment-num given names a handoff segment or
    //  tombstone, absent names a handoff conjoined archive
    [MSG_PURGE_HANDOFF]         = { FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
                                  | FIELD_HANDOFF_NODE_NAME,
                                    FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM, false },
    //  Extensions (PROTOCOL.md): listing keys, scrubbing now
    [MSG_LIST_KEYS]             = { FIELD_COLLECTION_ID | FIELD_SEGMENT_NUM,
                                    FIELD_HANDOFF_NODE_NAME | FIELD_PREFIX | FIELD_START_AFTER
                                  | FIELD_LIMIT, false },
    [MSG_SCRUB]                 = { 0, 0, false },
    [MSG_LIST_COLLECTIONS]      = { 0, FIELD_START_AFTER_ID, false },
    //  Extension (PROTOCOL.md): run one compaction pass now
    [MSG_COMPACT]               = { 0, FIELD_GARBAGE_RATIO, false },
};

//  Echo fields, read for every request before anything else
#define S_ECHO_FIELDS (FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS \
                     | FIELD_USER_REQUEST_ID)

//  Keys the index step looks for: the body fields (same positions as
//  s_fields), then these
enum {
    S_SLOT_MESSAGE_TYPE = S_FIELD_COUNT,
    S_SLOT_MESSAGE_ID,
    S_SLOT_CLIENT_TAG,
    S_SLOT_CLIENT_ADDRESS,
    S_SLOT_USER_REQUEST_ID,
    S_SLOT_LEGACY_TIMESTAMP,
    S_SLOT_LEGACY_SOURCE_NODE_NAME,
    S_SLOT_CLUSTER_FINGERPRINT,
    S_SLOT_COUNT
};

//  Where a known key's value is in the unpacked header
typedef struct {
    const msgpack_object *value;    //  value of the first occurrence; NULL if absent
    unsigned count;                 //  occurrences of the key
} s_slot_t;


//  --------------------------------------------------------------------------
//  Record a failure, unless one is recorded already (the first one wins)

static void
s_fail (request_error_t *error, result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (request_error_t *error, result_t result, const char *format, ...)
{
    if (error->message [0])
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (error->message, sizeof error->message, format, args);
    va_end (args);
    error->result = result;
}

static bool
s_failed (const request_error_t *error)
{
    return error->message [0] != '\0';
}


//  --------------------------------------------------------------------------
//  Name of the key stored in slot index

static const char *
s_slot_name (size_t slot)
{
    if (slot < S_FIELD_COUNT)
        return s_fields [slot].name;
    switch (slot) {
        case S_SLOT_MESSAGE_TYPE:           return "message-type";
        case S_SLOT_MESSAGE_ID:             return "message-id";
        case S_SLOT_CLIENT_TAG:             return "client-tag";
        case S_SLOT_CLIENT_ADDRESS:         return "client-address";
        case S_SLOT_USER_REQUEST_ID:        return "user-request-id";
        case S_SLOT_LEGACY_TIMESTAMP:       return "timestamp_repr";
        case S_SLOT_LEGACY_SOURCE_NODE_NAME: return "source_node_name";
        case S_SLOT_CLUSTER_FINGERPRINT:    return "cluster-fingerprint";
    }
    return "?";
}


//  --------------------------------------------------------------------------
//  Index step: find each known key of the map. Reports the first non-string
//  key but goes on, so the echo fields can still be read.

static void
s_index (const msgpack_object_map *map, s_slot_t slots [S_SLOT_COUNT], request_error_t *error)
{
    for (uint32_t entry = 0; entry < map->size; entry++) {
        const msgpack_object *key = &map->ptr [entry].key;
        if (key->type != MSGPACK_OBJECT_STR) {
            if (key->type == MSGPACK_OBJECT_POSITIVE_INTEGER
            ||  key->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                char text [24];
                wire_int_text (key, text, sizeof text);
                s_fail (error, RESULT_INVALID_REQUEST,
                        "header: key %s is an integer, not a string", text);
            }
            else
                s_fail (error, RESULT_INVALID_REQUEST,
                        "header: a key is %s, not a string", wire_type_name (key));
            continue;
        }
        for (size_t slot = 0; slot < S_SLOT_COUNT; slot++) {
            const char *name = s_slot_name (slot);
            if (strlen (name) == key->via.str.size
            &&  memcmp (name, key->via.str.ptr, key->via.str.size) == 0) {
                if (slots [slot].count++ == 0)
                    slots [slot].value = &map->ptr [entry].val;
                break;
            }
        }
    }
}


//  --------------------------------------------------------------------------
//  Check a string value: a str of min..max bytes of UTF-8 without nulls.
//  Returns 0, or -1 after recording a failure that names the field.

static int
s_check_text (const msgpack_object *value, const char *name, size_t min, size_t max,
              request_error_t *error)
{
    if (value->type != MSGPACK_OBJECT_STR) {
        s_fail (error, RESULT_INVALID_REQUEST, "%s: expected a string, got %s",
                name, wire_type_name (value));
        return -1;
    }
    size_t size = value->via.str.size;
    if (size < min) {
        s_fail (error, RESULT_INVALID_REQUEST, "%s: empty", name);
        return -1;
    }
    if (size > max) {
        s_fail (error, RESULT_INVALID_REQUEST, "%s: %zu bytes, longer than %zu",
                name, size, max);
        return -1;
    }
    if (memchr (value->via.str.ptr, '\0', size)) {
        s_fail (error, RESULT_INVALID_REQUEST, "%s: contains a null byte", name);
        return -1;
    }
    if (!wire_utf8_valid (value->via.str.ptr, size, false)) {
        s_fail (error, RESULT_INVALID_REQUEST, "%s: not valid UTF-8", name);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Read one echo field into dest (room for max + 1 bytes); set its bit only
//  when it is valid

static void
s_read_echo (request_t *self, const s_slot_t *slot, const char *name, uint64_t bit,
             char *dest, size_t max, request_error_t *error)
{
    if (slot->count == 0)
        return;
    if (slot->count > 1) {
        s_fail (error, RESULT_INVALID_REQUEST, "%s: given more than once", name);
        return;
    }
    if (s_check_text (slot->value, name, 1, max, error))
        return;
    memcpy (dest, slot->value->via.str.ptr, slot->value->via.str.size);
    dest [slot->value->via.str.size] = '\0';
    self->present |= bit;
}


//  --------------------------------------------------------------------------
//  Read message-type: store the name as sent (truncated, printable ASCII)
//  and look it up

static void
s_read_type (request_t *self, const s_slot_t *slot, request_error_t *error)
{
    if (slot->count == 0) {
        s_fail (error, RESULT_INVALID_REQUEST, "message-type: required");
        return;
    }
    if (slot->count > 1) {
        s_fail (error, RESULT_INVALID_REQUEST, "message-type: given more than once");
        return;
    }
    const msgpack_object *value = slot->value;
    if (value->type != MSGPACK_OBJECT_STR) {
        s_fail (error, RESULT_INVALID_REQUEST, "message-type: expected a string, got %s",
                wire_type_name (value));
        return;
    }
    const char *name = value->via.str.ptr;
    size_t size = value->via.str.size;
    if (size == 0) {
        s_fail (error, RESULT_INVALID_REQUEST, "message-type: empty");
        return;
    }
    //  Kept cut to the limit, without the "..." of wire_sanitize
    wire_sanitize (name, size < LIMIT_MESSAGE_TYPE_MAX? size: LIMIT_MESSAGE_TYPE_MAX,
                   self->message_type_name, sizeof self->message_type_name);
    self->type = message_type_from_name (name, size);
    if (self->type == MSG_UNKNOWN) {
        char text [LIMIT_MESSAGE_TYPE_MAX + 4];
        s_fail (error, RESULT_UNKNOWN_MESSAGE_TYPE, "message-type: unknown type '%s'",
                wire_sanitize (name, size, text, sizeof text));
    }
}


//  --------------------------------------------------------------------------
//  Check a meta map against the limits. Returns 0, or -1 and a reason
//  (without the "meta: " prefix) in why.

static int
s_check_meta (const msgpack_object *value, char *why, size_t why_size)
{
    if (value->type != MSGPACK_OBJECT_MAP) {
        snprintf (why, why_size, "expected a map, got %s", wire_type_name (value));
        return -1;
    }
    const msgpack_object_map *map = &value->via.map;
    if (map->size > LIMIT_META_ENTRIES) {
        snprintf (why, why_size, "%" PRIu32 " entries, more than %d",
                  map->size, LIMIT_META_ENTRIES);
        return -1;
    }
    for (uint32_t entry = 0; entry < map->size; entry++) {
        const msgpack_object *key = &map->ptr [entry].key;
        const msgpack_object *val = &map->ptr [entry].val;
        if (key->type != MSGPACK_OBJECT_STR) {
            snprintf (why, why_size, "key %" PRIu32 " is %s, not a string",
                      entry + 1, wire_type_name (key));
            return -1;
        }
        char name [48];         //  The key, for messages
        wire_sanitize (key->via.str.ptr, key->via.str.size, name, sizeof name);
        if (key->via.str.size > LIMIT_META_STRING_MAX) {
            snprintf (why, why_size, "key '%s' is %" PRIu32 " bytes, longer than %d",
                      name, key->via.str.size, LIMIT_META_STRING_MAX);
            return -1;
        }
        if (val->type != MSGPACK_OBJECT_STR) {
            snprintf (why, why_size, "value of '%s' is %s, not a string",
                      name, wire_type_name (val));
            return -1;
        }
        if (val->via.str.size > LIMIT_META_STRING_MAX) {
            snprintf (why, why_size, "value of '%s' is %" PRIu32 " bytes, longer than %d",
                      name, val->via.str.size, LIMIT_META_STRING_MAX);
            return -1;
        }
        for (uint32_t other = 0; other < entry; other++) {
            const msgpack_object *earlier = &map->ptr [other].key;
            if (earlier->via.str.size == key->via.str.size
            &&  memcmp (earlier->via.str.ptr, key->via.str.ptr, key->via.str.size) == 0) {
                snprintf (why, why_size, "key '%s' given more than once", name);
                return -1;
            }
        }
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Store an integer value in the member of a body field

static void
s_store_uint (request_t *self, uint64_t bit, uint64_t value)
{
    switch (bit) {
        case FIELD_COLLECTION_ID:       self->collection_id = (uint32_t) value; break;
        case FIELD_UNIFIED_ID:          self->unified_id = value; break;
        case FIELD_CONJOINED_PART:      self->conjoined_part = (uint32_t) value; break;
        case FIELD_SEGMENT_NUM:         self->segment_num = (uint8_t) value; break;
        case FIELD_SEQUENCE_NUM:        self->sequence_num = (uint32_t) value; break;
        case FIELD_SEGMENT_SIZE:        self->segment_size = value; break;
        case FIELD_ZFEC_PADDING_SIZE:   self->zfec_padding_size = (uint32_t) value; break;
        case FIELD_SEGMENT_ADLER32:     self->segment_adler32 = (uint32_t) value; break;
        case FIELD_FILE_SIZE:           self->file_size = value; break;
        case FIELD_FILE_ADLER32:        self->file_adler32 = (uint32_t) value; break;
        case FIELD_UNIFIED_ID_TO_DELETE: self->unified_id_to_delete = value; break;
        case FIELD_LIMIT:               self->limit = (uint32_t) value; break;
        case FIELD_START_AFTER_ID:      self->start_after_id = (uint32_t) value; break;
        default: assert (false);
    }
}


//  --------------------------------------------------------------------------
//  Load the integer member of a body field (for encoding)

static uint64_t
s_load_uint (const request_t *self, uint64_t bit)
{
    switch (bit) {
        case FIELD_COLLECTION_ID:       return self->collection_id;
        case FIELD_UNIFIED_ID:          return self->unified_id;
        case FIELD_CONJOINED_PART:      return self->conjoined_part;
        case FIELD_SEGMENT_NUM:         return self->segment_num;
        case FIELD_SEQUENCE_NUM:        return self->sequence_num;
        case FIELD_SEGMENT_SIZE:        return self->segment_size;
        case FIELD_ZFEC_PADDING_SIZE:   return self->zfec_padding_size;
        case FIELD_SEGMENT_ADLER32:     return self->segment_adler32;
        case FIELD_FILE_SIZE:           return self->file_size;
        case FIELD_FILE_ADLER32:        return self->file_adler32;
        case FIELD_UNIFIED_ID_TO_DELETE: return self->unified_id_to_delete;
        case FIELD_LIMIT:               return self->limit;
        case FIELD_START_AFTER_ID:      return self->start_after_id;
        default: assert (false);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Decode one body field (given, not nil-as-absent yet) into self.
//  name is the spelling the sender used. Returns 0 or -1 (failure recorded).

static int
s_read_field (request_t *self, const s_field_t *field, const char *name,
              const msgpack_object *value, request_error_t *error)
{
    uint64_t number = 0;        //  Integer value read
    uint64_t min = 0;           //  Range of the integer kinds
    uint64_t max = UINT64_MAX;
    int rc = 0;

    switch (field->kind) {
        case S_KIND_RATIO: {
            double ratio = -1;
            if (value->type == MSGPACK_OBJECT_FLOAT32 || value->type == MSGPACK_OBJECT_FLOAT64)
                ratio = value->via.f64;
            else
            if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                ratio = value->via.u64 <= 1? (double) value->via.u64: 2;
            else {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: expected a number, got %s",
                        name, wire_type_name (value));
                return -1;
            }
            if (!(ratio >= 0.0 && ratio <= 1.0)) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: must be in 0..1", name);
                return -1;
            }
            self->garbage_ratio = ratio;
            break;
        }
        case S_KIND_U64_OR_NIL:
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;       //  nil = absent
            //  fall through
        case S_KIND_U32:
        case S_KIND_U64:
        case S_KIND_SEGMENT_NUM:
        case S_KIND_LIMIT:
            if (field->kind == S_KIND_U32)
                max = UINT32_MAX;
            else
            if (field->kind == S_KIND_LIMIT) {
                min = 1;
                max = LIMIT_LIST_KEYS_MAX;
            }
            else
            if (field->kind == S_KIND_SEGMENT_NUM) {
                min = 1;
                max = 255;
            }
            rc = wire_get_uint (value, min, max, &number);
            if (rc == -1) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: expected an integer, got %s",
                        name, wire_type_name (value));
                return -1;
            }
            if (rc == -2) {
                char text [24];
                wire_int_text (value, text, sizeof text);
                s_fail (error, RESULT_INVALID_REQUEST, "%s: %s is out of range %" PRIu64 "..%" PRIu64,
                        name, text, min, max);
                return -1;
            }
            s_store_uint (self, field->bit, number);
            break;

        case S_KIND_ADLER32: {
            uint32_t adler = 0;
            rc = wire_get_adler32 (value, &adler);
            if (rc == -1) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: expected an integer, got %s",
                        name, wire_type_name (value));
                return -1;
            }
            if (rc == -2) {
                char text [24];
                wire_int_text (value, text, sizeof text);
                s_fail (error, RESULT_INVALID_REQUEST,
                        "%s: %s is out of range -2147483648..4294967295", name, text);
                return -1;
            }
            s_store_uint (self, field->bit, adler);
            break;
        }
        case S_KIND_KEY:
            if (s_check_text (value, name, 1, LIMIT_KEY_MAX, error))
                return -1;
            memcpy (self->key, value->via.str.ptr, value->via.str.size);
            self->key [value->via.str.size] = '\0';
            self->key_size = value->via.str.size;
            break;

        case S_KIND_NODE_NAME_OR_NIL:
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;       //  nil = absent
            //  fall through
        case S_KIND_NODE_NAME: {
            if (s_check_text (value, name, 1, LIMIT_NODE_NAME_MAX, error))
                return -1;
            char *dest = field->bit == FIELD_SOURCE_NODE_NAME? self->source_node_name
                                                              : self->handoff_node_name;
            memcpy (dest, value->via.str.ptr, value->via.str.size);
            dest [value->via.str.size] = '\0';
            break;
        }
        case S_KIND_TIMESTAMP: {
            if (value->type != MSGPACK_OBJECT_STR) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: expected a string, got %s",
                        name, wire_type_name (value));
                return -1;
            }
            if (value->via.str.size > LIMIT_TIMESTAMP_MAX) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: %" PRIu32 " bytes, longer than %d",
                        name, value->via.str.size, LIMIT_TIMESTAMP_MAX);
                return -1;
            }
            if (timestamp_parse (value->via.str.ptr, value->via.str.size, &self->timestamp)) {
                char text [64];
                wire_sanitize (value->via.str.ptr, value->via.str.size, text, sizeof text);
                s_fail (error, RESULT_INVALID_REQUEST,
                        "%s: '%s' is not an ISO 8601 UTC or datetime.datetime(...) timestamp",
                        name, text);
                return -1;
            }
            break;
        }
        case S_KIND_DIGEST: {
            uint8_t *dest = field->bit == FIELD_SEGMENT_MD5? self->segment_md5: self->file_hash;
            rc = wire_get_digest (value, dest);
            if (rc == -1) {
                s_fail (error, RESULT_INVALID_REQUEST,
                        "%s: expected a base64 string or a 16-byte bin, got %s",
                        name, wire_type_name (value));
                return -1;
            }
            if (rc == -2) {
                if (value->type == MSGPACK_OBJECT_BIN)
                    s_fail (error, RESULT_INVALID_REQUEST, "%s: bin of %" PRIu32 " bytes, expected 16",
                            name, value->via.bin.size);
                else
                    s_fail (error, RESULT_INVALID_REQUEST,
                            "%s: not the standard base64 of 16 bytes", name);
                return -1;
            }
            break;
        }
        case S_KIND_BYTES: {
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;       //  nil = absent
            bool prefix = field->bit == FIELD_PREFIX;
            int rc = wire_get_bytes (value, LIMIT_KEY_MAX, prefix? self->prefix: self->start_after,
                                     prefix? &self->prefix_size: &self->start_after_size);
            if (rc == -1) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: expected a string or a bin, got %s",
                        name, wire_type_name (value));
                return -1;
            }
            if (rc == -2) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: %zu bytes, longer than %d", name,
                        (size_t) value->via.str.size, LIMIT_KEY_MAX);
                return -1;
            }
            break;
        }
        case S_KIND_META: {
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;       //  nil = absent, as replies write it
            char why [160];
            if (s_check_meta (value, why, sizeof why)) {
                s_fail (error, RESULT_INVALID_REQUEST, "%s: %s", name, why);
                return -1;
            }
            if (wire_pack_object (value, &self->meta, &self->meta_size)) {
                s_fail (error, RESULT_OVERLOADED, "%s: out of memory", name);
                return -1;
            }
            break;
        }
    }
    self->present |= field->bit;
    return 0;
}


//  --------------------------------------------------------------------------
//  After a failure: keep only the echo fields and the type

static void
s_strip_to_echo (request_t *self)
{
    request_t echo;
    memset (&echo, 0, sizeof echo);
    echo.type = self->type;
    echo.present = self->present & S_ECHO_FIELDS;
    memcpy (echo.message_type_name, self->message_type_name, sizeof echo.message_type_name);
    memcpy (echo.message_id, self->message_id, sizeof echo.message_id);
    memcpy (echo.client_tag, self->client_tag, sizeof echo.client_tag);
    memcpy (echo.client_address, self->client_address, sizeof echo.client_address);
    memcpy (echo.user_request_id, self->user_request_id, sizeof echo.user_request_id);
    request_reset (self);
    *self = echo;
}


//  --------------------------------------------------------------------------
//  Create an empty request

request_t *
request_new (void)
{
    return (request_t *) calloc (1, sizeof (request_t));
}


//  --------------------------------------------------------------------------
//  Destroy a request

void
request_destroy (request_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        request_reset (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Reset a request to empty

void
request_reset (request_t *self)
{
    assert (self);
    free (self->meta);
    memset (self, 0, sizeof *self);
}


//  --------------------------------------------------------------------------
//  Decode and validate a header

int
request_decode (request_t *self, const void *data, size_t size, request_error_t *error)
{
    assert (self);
    assert (error);
    request_reset (self);
    memset (error, 0, sizeof *error);
    if (!data)
        size = 0;

    if (size > LIMIT_HEADER_MAX) {
        s_fail (error, RESULT_INVALID_REQUEST, "header: %zu bytes, more than the limit of %d",
                size, LIMIT_HEADER_MAX);
        return -1;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = wire_unpack (&unpacked, data, size, LIMIT_HEADER_MAX, &why);
    if (rc < 0) {
        s_fail (error, RESULT_INVALID_REQUEST, "header: not valid MessagePack (%s)", why);
        goto done;
    }
    const msgpack_object *root = &unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        s_fail (error, RESULT_INVALID_REQUEST, "header: not a MessagePack map (got %s)",
                wire_type_name (root));
        goto done;
    }
    if (rc == 1)
        s_fail (error, RESULT_INVALID_REQUEST, "header: trailing bytes after the map");

    s_slot_t slots [S_SLOT_COUNT];
    memset (slots, 0, sizeof slots);
    s_index (&root->via.map, slots, error);

    //  Echo fields and type, read whatever failed before
    s_read_echo (self, &slots [S_SLOT_MESSAGE_ID], "message-id", FIELD_MESSAGE_ID,
                 self->message_id, LIMIT_ID_MAX, error);
    s_read_echo (self, &slots [S_SLOT_CLIENT_TAG], "client-tag", FIELD_CLIENT_TAG,
                 self->client_tag, LIMIT_ID_MAX, error);
    s_read_echo (self, &slots [S_SLOT_CLIENT_ADDRESS], "client-address", FIELD_CLIENT_ADDRESS,
                 self->client_address, LIMIT_ADDRESS_MAX, error);
    s_read_echo (self, &slots [S_SLOT_USER_REQUEST_ID], "user-request-id", FIELD_USER_REQUEST_ID,
                 self->user_request_id, LIMIT_ID_MAX, error);
    if (slots [S_SLOT_MESSAGE_ID].count == 0)
        s_fail (error, RESULT_INVALID_REQUEST, "message-id: required");
    if (slots [S_SLOT_CLIENT_TAG].count == 0 && slots [S_SLOT_CLIENT_ADDRESS].count > 0)
        s_fail (error, RESULT_INVALID_REQUEST, "client-tag: required with client-address");
    s_read_type (self, &slots [S_SLOT_MESSAGE_TYPE], error);
    if (s_failed (error))
        goto done;
    //  Every type may carry the sender's cluster fingerprint
    s_read_echo (self, &slots [S_SLOT_CLUSTER_FINGERPRINT], "cluster-fingerprint",
                 FIELD_CLUSTER_FINGERPRINT, self->cluster_fingerprint, LIMIT_FINGERPRINT_MAX, error);
    if (s_failed (error))
        goto done;

    //  The type's own fields, in protocol order
    const s_rules_t *rules = &s_rules [self->type];
    for (size_t index = 0; index < S_FIELD_COUNT; index++) {
        const s_field_t *field = &s_fields [index];
        if (!(field->bit & (rules->required | rules->optional)))
            continue;
        const s_slot_t *slot = &slots [index];
        const char *name = field->name;
        if (slot->count == 0 && rules->legacy && field->legacy) {
            slot = &slots [field->bit == FIELD_TIMESTAMP? S_SLOT_LEGACY_TIMESTAMP
                                                        : S_SLOT_LEGACY_SOURCE_NODE_NAME];
            name = field->legacy;
        }
        if (slot->count > 1) {
            s_fail (error, RESULT_INVALID_REQUEST, "%s: given more than once", name);
            goto done;
        }
        if (slot->count == 1 && s_read_field (self, field, name, slot->value, error))
            goto done;
        if ((field->bit & rules->required) && !(self->present & field->bit)) {
            s_fail (error, RESULT_INVALID_REQUEST, "%s: required by %s",
                    field->name, message_type_name (self->type));
            goto done;
        }
    }

done:
    msgpack_unpacked_destroy (&unpacked);
    if (s_failed (error)) {
        s_strip_to_echo (self);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Write a byte string: as str when it is valid UTF-8, else as bin

static void
s_encode_bytes (wire_out_t *out, const char *name, const char *bytes, size_t size)
{
    if (wire_utf8_valid (bytes, size, false)) {
        wire_out_str (out, name, bytes, size);
        return;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_bin (&packer, size);
    msgpack_pack_bin_body (&packer, bytes, size);
    wire_out_raw (out, name, (const uint8_t *) buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
}


//  --------------------------------------------------------------------------
//  Write the entries of a request (run twice: count, then pack)

static void
s_encode_entries (const request_t *self, wire_out_t *out)
{
    wire_out_cstr (out, "message-type", message_type_name (self->type));
    if (self->present & FIELD_MESSAGE_ID)
        wire_out_cstr (out, "message-id", self->message_id);
    if (self->present & FIELD_CLIENT_TAG)
        wire_out_cstr (out, "client-tag", self->client_tag);
    if (self->present & FIELD_CLIENT_ADDRESS)
        wire_out_cstr (out, "client-address", self->client_address);
    if (self->present & FIELD_USER_REQUEST_ID)
        wire_out_cstr (out, "user-request-id", self->user_request_id);
    if (self->present & FIELD_CLUSTER_FINGERPRINT)
        wire_out_cstr (out, "cluster-fingerprint", self->cluster_fingerprint);

    const s_rules_t *rules = &s_rules [self->type];
    for (size_t index = 0; index < S_FIELD_COUNT; index++) {
        const s_field_t *field = &s_fields [index];
        if (!(field->bit & (rules->required | rules->optional) & self->present))
            continue;
        switch (field->kind) {
            case S_KIND_RATIO:
                wire_out_double (out, field->name, self->garbage_ratio);
                break;
            case S_KIND_U32:
            case S_KIND_U64:
            case S_KIND_U64_OR_NIL:
            case S_KIND_SEGMENT_NUM:
            case S_KIND_ADLER32:
            case S_KIND_LIMIT:
                wire_out_uint (out, field->name, s_load_uint (self, field->bit));
                break;
            case S_KIND_KEY:
                wire_out_str (out, field->name, self->key, self->key_size);
                break;
            case S_KIND_NODE_NAME:
            case S_KIND_NODE_NAME_OR_NIL:
                wire_out_cstr (out, field->name, field->bit == FIELD_SOURCE_NODE_NAME
                               ? self->source_node_name: self->handoff_node_name);
                break;
            case S_KIND_TIMESTAMP:
                wire_out_timestamp (out, field->name, self->timestamp);
                break;
            case S_KIND_DIGEST:
                wire_out_digest (out, field->name, field->bit == FIELD_SEGMENT_MD5
                                 ? self->segment_md5: self->file_hash);
                break;
            case S_KIND_META:
                if (self->meta && self->meta_size)
                    wire_out_raw (out, field->name, self->meta, self->meta_size);
                break;
            case S_KIND_BYTES:
                s_encode_bytes (out, field->name,
                                field->bit == FIELD_PREFIX? self->prefix: self->start_after,
                                field->bit == FIELD_PREFIX? self->prefix_size: self->start_after_size);
                break;
        }
    }
}


//  --------------------------------------------------------------------------
//  Encode the request's present fields as a MessagePack map

int
request_encode (const request_t *self, msgpack_sbuffer *buffer)
{
    assert (self);
    assert (buffer);
    if ((int) self->type <= MSG_UNKNOWN || self->type >= MSG_TYPE_COUNT)
        return -1;

    wire_out_t out = { NULL, 0, false };
    s_encode_entries (self, &out);              //  Count

    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    if (msgpack_pack_map (&packer, out.count))
        return -1;
    out = (wire_out_t) { &packer, 0, false };
    s_encode_entries (self, &out);              //  Pack
    return out.failed? -1: 0;
}


//  --------------------------------------------------------------------------
//  Validate a raw meta map

int
request_meta_validate (const void *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = wire_unpack (&unpacked, data, size, LIMIT_HEADER_MAX, &why);
    if (rc == 0) {
        char reason [160];
        rc = s_check_meta (&unpacked.data, reason, sizeof reason);
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc == 0? 0: -1;
}
