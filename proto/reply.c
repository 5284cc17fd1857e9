/*  =========================================================================
    reply - the model of one protocol reply (frame 0 of a reply message),
    encoded by the node and decoded by senders (clients, router, tests)

    The node fills a reply with reply_prepare () (envelope from the request),
    sets the fields its reply type carries with their REPLY_FIELD_* bits, and
    sends reply_encode ()'s bytes. Every reply carries the envelope:
    message-type, message-id, client-tag, client-address (nil when empty),
    user-request-id (only when non-empty), result, error-message (nil on
    success). Digests go out as base64 strings, timestamps as ISO 8601 UTC
    with microseconds, meta and stats as the raw maps they were given as.

    reply_decode () is strict about the shape (one map, string keys, each
    known key at most once and of its type) and lenient about content: an
    over-long error-message is cut at a UTF-8 boundary, unknown keys are
    ignored, and a reply need only carry message-type and a known result.
    =========================================================================
*/

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "timestamp.h"
#include "wire.h"

//  How a reply key's value is read
typedef enum {
    S_KIND_TEXT,                //  str (no null), fits its buffer
    S_KIND_TEXT_OR_NIL,         //  as TEXT, nil = ""
    S_KIND_ERROR_MESSAGE,       //  str or nil, cut to fit
    S_KIND_RESULT,              //  str naming a result code
    S_KIND_U8,
    S_KIND_U32,
    S_KIND_U64,
    S_KIND_ADLER32_OR_NIL,      //  int32/uint32 or nil
    S_KIND_TIMESTAMP,
    S_KIND_DIGEST,
    S_KIND_MAP_OR_NIL,          //  raw copy (meta)
    S_KIND_MAP,                 //  raw copy (stats)
    S_KIND_ARRAY,               //  raw copy (versions)
    S_KIND_BOOL
} s_kind_t;

//  One key a reply may carry
typedef struct {
    const char *name;           //  wire name
    s_kind_t kind;              //  how the value is read
    uint32_t bit;               //  REPLY_FIELD_* bit, 0 for envelope keys
    uint32_t has_bit;           //  REPLY_HAS_* bit set when not nil, or 0
} s_key_t;

static const s_key_t s_keys [] = {
    { "message-type",       S_KIND_TEXT,            0, 0 },
    { "message-id",         S_KIND_TEXT_OR_NIL,     0, 0 },
    { "client-tag",         S_KIND_TEXT_OR_NIL,     0, 0 },
    { "client-address",     S_KIND_TEXT_OR_NIL,     0, 0 },
    { "user-request-id",    S_KIND_TEXT_OR_NIL,     0, 0 },
    { "result",             S_KIND_RESULT,          0, 0 },
    { "error-message",      S_KIND_ERROR_MESSAGE,   0, 0 },
    { "unified-id",         S_KIND_U64,             REPLY_FIELD_UNIFIED_ID, 0 },
    { "timestamp-repr",     S_KIND_TIMESTAMP,       REPLY_FIELD_TIMESTAMP, 0 },
    { "conjoined-part",     S_KIND_U32,             REPLY_FIELD_CONJOINED_PART, 0 },
    { "segment-num",        S_KIND_U8,              REPLY_FIELD_SEGMENT_NUM, 0 },
    { "file-size",          S_KIND_U64,             REPLY_FIELD_FILE_SIZE, 0 },
    { "file-adler32",       S_KIND_ADLER32_OR_NIL,  REPLY_FIELD_FILE_ADLER32, REPLY_HAS_FILE_ADLER32 },
    { "file-hash",          S_KIND_DIGEST,          REPLY_FIELD_FILE_HASH, 0 },
    { "meta",               S_KIND_MAP_OR_NIL,      REPLY_FIELD_META, 0 },
    { "sequence-count",     S_KIND_U32,             REPLY_FIELD_SEQUENCE_COUNT, 0 },
    { "sequence-num",       S_KIND_U32,             REPLY_FIELD_SEQUENCE_NUM, 0 },
    { "segment-size",       S_KIND_U64,             REPLY_FIELD_SEGMENT_SIZE, 0 },
    { "zfec-padding-size",  S_KIND_U32,             REPLY_FIELD_ZFEC_PADDING_SIZE, 0 },
    { "segment-md5-digest", S_KIND_DIGEST,          REPLY_FIELD_SEGMENT_MD5, 0 },
    { "segment-adler32",    S_KIND_ADLER32_OR_NIL,  REPLY_FIELD_SEGMENT_ADLER32, REPLY_HAS_SEGMENT_ADLER32 },
    { "completed",          S_KIND_BOOL,            REPLY_FIELD_COMPLETED, 0 },
    { "node-name",          S_KIND_TEXT,            REPLY_FIELD_NODE_NAME, 0 },
    { "version",            S_KIND_TEXT,            REPLY_FIELD_VERSION, 0 },
    { "uptime-seconds",     S_KIND_U64,             REPLY_FIELD_UPTIME, 0 },
    { "stats",              S_KIND_MAP,             REPLY_FIELD_STATS, 0 },
    { "versions",           S_KIND_ARRAY,           REPLY_FIELD_VERSIONS, 0 },
    { "files-compacted",    S_KIND_U64,             REPLY_FIELD_FILES_COMPACTED, 0 },
    { "bytes-reclaimed",    S_KIND_U64,             REPLY_FIELD_BYTES_RECLAIMED, 0 },
};
#define S_KEY_COUNT (sizeof s_keys / sizeof s_keys [0])


//  --------------------------------------------------------------------------
//  Copy text into dest (room for dest_size bytes with the null), cutting at
//  a UTF-8 character boundary when it does not fit

static void
s_copy_cut (char *dest, size_t dest_size, const char *text, size_t size)
{
    if (size >= dest_size) {
        size = dest_size - 1;
        //  Step back over continuation bytes, then over their lead byte
        size_t end = size;
        while (end > 0 && ((unsigned char) text [end] & 0xC0) == 0x80)
            end--;
        size = end;
    }
    memcpy (dest, text, size);
    dest [size] = '\0';
}


//  --------------------------------------------------------------------------
//  Free meta and stats and zero everything

static void
s_clear (reply_t *self)
{
    free (self->meta);
    free (self->stats);
    free (self->versions);
    memset (self, 0, sizeof *self);
}


//  --------------------------------------------------------------------------
//  Replace one of the raw maps (meta or stats) with a copy of data

static int
s_set_raw (uint8_t **dest_p, size_t *dest_size_p, const uint8_t *data, size_t size)
{
    uint8_t *copy = NULL;
    if (data && size) {
        copy = (uint8_t *) malloc (size);
        if (!copy)
            return -1;
        memcpy (copy, data, size);
    }
    free (*dest_p);
    *dest_p = copy;
    *dest_size_p = copy? size: 0;
    return 0;
}


//  --------------------------------------------------------------------------
//  Create an empty reply

reply_t *
reply_new (void)
{
    return (reply_t *) calloc (1, sizeof (reply_t));
}


//  --------------------------------------------------------------------------
//  Destroy a reply

void
reply_destroy (reply_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Reset and fill the envelope for a reply to request

void
reply_prepare (reply_t *self, const request_t *request, result_t result, const char *error_message)
{
    assert (self);
    s_clear (self);
    const char *type_name = "error-reply";
    char unknown [sizeof self->message_type];
    if (request && request->type != MSG_UNKNOWN)
        type_name = message_type_reply_name (request->type);
    else
    if (request && request->message_type_name [0]) {
        //  message_type_name is at most LIMIT_MESSAGE_TYPE_MAX bytes, so this fits
        size_t size = strnlen (request->message_type_name, LIMIT_MESSAGE_TYPE_MAX);
        memcpy (unknown, request->message_type_name, size);
        memcpy (unknown + size, "-reply", 7);
        type_name = unknown;
    }
    s_copy_cut (self->message_type, sizeof self->message_type, type_name, strlen (type_name));

    if (request) {
        if (request->present & FIELD_MESSAGE_ID)
            memcpy (self->message_id, request->message_id, sizeof self->message_id);
        if (request->present & FIELD_CLIENT_TAG)
            memcpy (self->client_tag, request->client_tag, sizeof self->client_tag);
        if (request->present & FIELD_CLIENT_ADDRESS)
            memcpy (self->client_address, request->client_address, sizeof self->client_address);
        if (request->present & FIELD_USER_REQUEST_ID)
            memcpy (self->user_request_id, request->user_request_id, sizeof self->user_request_id);
        //  The arrays are the same size in both structs; make sure they end
        self->message_id [sizeof self->message_id - 1] = '\0';
        self->client_tag [sizeof self->client_tag - 1] = '\0';
        self->client_address [sizeof self->client_address - 1] = '\0';
        self->user_request_id [sizeof self->user_request_id - 1] = '\0';
    }
    self->result = result;
    if (error_message)
        s_copy_cut (self->error_message, sizeof self->error_message,
                    error_message, strlen (error_message));
    if (result != RESULT_SUCCESS && !self->error_message [0])
        s_copy_cut (self->error_message, sizeof self->error_message,
                    result_name (result), strlen (result_name (result)));
}


//  --------------------------------------------------------------------------
//  Take a copy of a raw MessagePack map as meta (NULL/0 = nil)

int
reply_set_meta (reply_t *self, const uint8_t *meta, size_t meta_size)
{
    assert (self);
    return s_set_raw (&self->meta, &self->meta_size, meta, meta_size);
}


//  --------------------------------------------------------------------------
//  Take a copy of a raw MessagePack map as stats

int
reply_set_stats (reply_t *self, const uint8_t *stats, size_t stats_size)
{
    assert (self);
    return s_set_raw (&self->stats, &self->stats_size, stats, stats_size);
}


//  --------------------------------------------------------------------------
//  Write the entries of a reply (run twice: count, then pack)

static void
s_encode_entries (const reply_t *self, wire_out_t *out)
{
    uint32_t fields = self->fields;
    wire_out_cstr (out, "message-type", self->message_type [0]? self->message_type: "error-reply");
    wire_out_cstr_or_nil (out, "message-id", self->message_id);
    wire_out_cstr_or_nil (out, "client-tag", self->client_tag);
    wire_out_cstr_or_nil (out, "client-address", self->client_address);
    if (self->user_request_id [0])
        wire_out_cstr (out, "user-request-id", self->user_request_id);
    wire_out_cstr (out, "result", result_name (self->result));
    if (self->result == RESULT_SUCCESS)
        wire_out_nil (out, "error-message");
    else
        wire_out_cstr (out, "error-message", self->error_message [0]? self->error_message
                                                                    : result_name (self->result));

    if (fields & REPLY_FIELD_UNIFIED_ID)
        wire_out_uint (out, "unified-id", self->unified_id);
    if (fields & REPLY_FIELD_TIMESTAMP)
        wire_out_timestamp (out, "timestamp-repr", self->timestamp);
    if (fields & REPLY_FIELD_CONJOINED_PART)
        wire_out_uint (out, "conjoined-part", self->conjoined_part);
    if (fields & REPLY_FIELD_SEGMENT_NUM)
        wire_out_uint (out, "segment-num", self->segment_num);
    if (fields & REPLY_FIELD_FILE_SIZE)
        wire_out_uint (out, "file-size", self->file_size);
    if (fields & REPLY_FIELD_FILE_ADLER32) {
        if (fields & REPLY_HAS_FILE_ADLER32)
            wire_out_uint (out, "file-adler32", self->file_adler32);
        else
            wire_out_nil (out, "file-adler32");
    }
    if (fields & REPLY_FIELD_FILE_HASH)
        wire_out_digest (out, "file-hash", self->file_hash);
    if (fields & REPLY_FIELD_META) {
        if (self->meta && self->meta_size)
            wire_out_raw (out, "meta", self->meta, self->meta_size);
        else
            wire_out_nil (out, "meta");
    }
    if (fields & REPLY_FIELD_SEQUENCE_COUNT)
        wire_out_uint (out, "sequence-count", self->sequence_count);
    if (fields & REPLY_FIELD_SEQUENCE_NUM)
        wire_out_uint (out, "sequence-num", self->sequence_num);
    if (fields & REPLY_FIELD_SEGMENT_SIZE)
        wire_out_uint (out, "segment-size", self->segment_size);
    if (fields & REPLY_FIELD_ZFEC_PADDING_SIZE)
        wire_out_uint (out, "zfec-padding-size", self->zfec_padding_size);
    if (fields & REPLY_FIELD_SEGMENT_MD5)
        wire_out_digest (out, "segment-md5-digest", self->segment_md5);
    if (fields & REPLY_FIELD_SEGMENT_ADLER32) {
        if (fields & REPLY_HAS_SEGMENT_ADLER32)
            wire_out_uint (out, "segment-adler32", self->segment_adler32);
        else
            wire_out_nil (out, "segment-adler32");
    }
    if (fields & REPLY_FIELD_COMPLETED)
        wire_out_bool (out, "completed", self->completed);
    if (fields & REPLY_FIELD_NODE_NAME)
        wire_out_cstr (out, "node-name", self->node_name);
    if (fields & REPLY_FIELD_VERSION)
        wire_out_cstr (out, "version", self->version);
    if (fields & REPLY_FIELD_UPTIME)
        wire_out_uint (out, "uptime-seconds", self->uptime_seconds);
    if (fields & REPLY_FIELD_FILES_COMPACTED)
        wire_out_uint (out, "files-compacted", self->files_compacted);
    if (fields & REPLY_FIELD_BYTES_RECLAIMED)
        wire_out_uint (out, "bytes-reclaimed", self->bytes_reclaimed);
    if (fields & REPLY_FIELD_STATS) {
        static const uint8_t empty_map [] = { 0x80 };
        if (self->stats && self->stats_size)
            wire_out_raw (out, "stats", self->stats, self->stats_size);
        else
            wire_out_raw (out, "stats", empty_map, sizeof empty_map);
    }
    if (fields & REPLY_FIELD_VERSIONS) {
        static const uint8_t empty_array [] = { 0x90 };
        if (self->versions && self->versions_size)
            wire_out_raw (out, "versions", self->versions, self->versions_size);
        else
            wire_out_raw (out, "versions", empty_array, sizeof empty_array);
    }
}


//  --------------------------------------------------------------------------
//  Encode the reply as a MessagePack map

void
reply_encode (const reply_t *self, msgpack_sbuffer *buffer)
{
    assert (self);
    assert (buffer);
    wire_out_t out = { NULL, 0, false };
    s_encode_entries (self, &out);              //  Count

    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, out.count);
    out = (wire_out_t) { &packer, 0, false };
    s_encode_entries (self, &out);              //  Pack
}


//  --------------------------------------------------------------------------
//  Copy a str value (no nulls) into dest with room for dest_size bytes.
//  0 or -1.

static int
s_read_text (const msgpack_object *value, char *dest, size_t dest_size)
{
    if (value->type != MSGPACK_OBJECT_STR
    ||  value->via.str.size >= dest_size
    ||  memchr (value->via.str.ptr, '\0', value->via.str.size))
        return -1;
    memcpy (dest, value->via.str.ptr, value->via.str.size);
    dest [value->via.str.size] = '\0';
    return 0;
}


//  --------------------------------------------------------------------------
//  Decode one known key's value into self. 0 or -1.

static int
s_read_key (reply_t *self, const s_key_t *key, const msgpack_object *value, bool *has_result)
{
    const char *name = key->name;
    uint64_t number = 0;
    uint32_t adler = 0;

    switch (key->kind) {
        case S_KIND_TEXT_OR_NIL:
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;
            //  fall through
        case S_KIND_TEXT: {
            char *dest = NULL;
            size_t dest_size = 0;
            if (!strcmp (name, "message-type"))
                dest = self->message_type, dest_size = sizeof self->message_type;
            else
            if (!strcmp (name, "message-id"))
                dest = self->message_id, dest_size = sizeof self->message_id;
            else
            if (!strcmp (name, "client-tag"))
                dest = self->client_tag, dest_size = sizeof self->client_tag;
            else
            if (!strcmp (name, "client-address"))
                dest = self->client_address, dest_size = sizeof self->client_address;
            else
            if (!strcmp (name, "user-request-id"))
                dest = self->user_request_id, dest_size = sizeof self->user_request_id;
            else
            if (!strcmp (name, "node-name"))
                dest = self->node_name, dest_size = sizeof self->node_name;
            else
                dest = self->version, dest_size = sizeof self->version;
            if (s_read_text (value, dest, dest_size))
                return -1;
            break;
        }
        case S_KIND_ERROR_MESSAGE:
            if (value->type == MSGPACK_OBJECT_NIL)
                return 0;
            if (value->type != MSGPACK_OBJECT_STR
            ||  memchr (value->via.str.ptr, '\0', value->via.str.size))
                return -1;
            s_copy_cut (self->error_message, sizeof self->error_message,
                        value->via.str.ptr, value->via.str.size);
            break;

        case S_KIND_RESULT: {
            char text [32];
            if (s_read_text (value, text, sizeof text)
            ||  result_from_name (text, &self->result))
                return -1;
            *has_result = true;
            break;
        }
        case S_KIND_U8:
        case S_KIND_U32:
        case S_KIND_U64: {
            uint64_t max = key->kind == S_KIND_U8? UINT8_MAX
                         : key->kind == S_KIND_U32? UINT32_MAX: UINT64_MAX;
            if (wire_get_uint (value, 0, max, &number))
                return -1;
            switch (key->bit) {
                case REPLY_FIELD_UNIFIED_ID:        self->unified_id = number; break;
                case REPLY_FIELD_CONJOINED_PART:    self->conjoined_part = (uint32_t) number; break;
                case REPLY_FIELD_SEGMENT_NUM:       self->segment_num = (uint8_t) number; break;
                case REPLY_FIELD_FILE_SIZE:         self->file_size = number; break;
                case REPLY_FIELD_SEQUENCE_COUNT:    self->sequence_count = (uint32_t) number; break;
                case REPLY_FIELD_SEQUENCE_NUM:      self->sequence_num = (uint32_t) number; break;
                case REPLY_FIELD_SEGMENT_SIZE:      self->segment_size = number; break;
                case REPLY_FIELD_ZFEC_PADDING_SIZE: self->zfec_padding_size = (uint32_t) number; break;
                case REPLY_FIELD_UPTIME:            self->uptime_seconds = number; break;
                case REPLY_FIELD_FILES_COMPACTED:   self->files_compacted = number; break;
                case REPLY_FIELD_BYTES_RECLAIMED:   self->bytes_reclaimed = number; break;
                default: assert (false);
            }
            break;
        }
        case S_KIND_ADLER32_OR_NIL:
            if (value->type != MSGPACK_OBJECT_NIL) {
                if (wire_get_adler32 (value, &adler))
                    return -1;
                if (key->bit == REPLY_FIELD_FILE_ADLER32)
                    self->file_adler32 = adler;
                else
                    self->segment_adler32 = adler;
                self->fields |= key->has_bit;
            }
            break;

        case S_KIND_TIMESTAMP:
            if (value->type != MSGPACK_OBJECT_STR
            ||  value->via.str.size > LIMIT_TIMESTAMP_MAX
            ||  timestamp_parse (value->via.str.ptr, value->via.str.size, &self->timestamp))
                return -1;
            break;

        case S_KIND_DIGEST:
            if (wire_get_digest (value, key->bit == REPLY_FIELD_FILE_HASH? self->file_hash
                                                                         : self->segment_md5))
                return -1;
            break;

        case S_KIND_MAP_OR_NIL:
            if (value->type == MSGPACK_OBJECT_NIL)
                break;
            //  fall through
        case S_KIND_MAP: {
            if (value->type != MSGPACK_OBJECT_MAP)
                return -1;
            uint8_t **dest_p = key->bit == REPLY_FIELD_META? &self->meta: &self->stats;
            size_t *size_p = key->bit == REPLY_FIELD_META? &self->meta_size: &self->stats_size;
            if (wire_pack_object (value, dest_p, size_p))
                return -1;
            break;
        }
        case S_KIND_ARRAY:
            if (value->type != MSGPACK_OBJECT_ARRAY
            ||  wire_pack_object (value, &self->versions, &self->versions_size))
                return -1;
            break;
        case S_KIND_BOOL:
            if (value->type != MSGPACK_OBJECT_BOOLEAN)
                return -1;
            self->completed = value->via.boolean;
            break;
    }
    self->fields |= key->bit;
    return 0;
}


//  --------------------------------------------------------------------------
//  Decode a reply header

int
reply_decode (reply_t *self, const void *data, size_t size)
{
    assert (self);
    s_clear (self);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int rc = -1;
    if (wire_unpack (&unpacked, data, size, LIMIT_HEADER_MAX, &why) != 0
    ||  unpacked.data.type != MSGPACK_OBJECT_MAP)
        goto done;

    const msgpack_object_map *map = &unpacked.data.via.map;
    bool seen [S_KEY_COUNT];    //  Keys already read, to refuse duplicates
    memset (seen, 0, sizeof seen);
    bool has_result = false;
    for (uint32_t entry = 0; entry < map->size; entry++) {
        const msgpack_object *key = &map->ptr [entry].key;
        if (key->type != MSGPACK_OBJECT_STR)
            goto done;
        for (size_t index = 0; index < S_KEY_COUNT; index++) {
            if (strlen (s_keys [index].name) == key->via.str.size
            &&  memcmp (s_keys [index].name, key->via.str.ptr, key->via.str.size) == 0) {
                if (seen [index]
                ||  s_read_key (self, &s_keys [index], &map->ptr [entry].val, &has_result))
                    goto done;
                seen [index] = true;
                break;
            }
        }
    }
    if (seen [0] && self->message_type [0] && has_result)
        rc = 0;
done:
    msgpack_unpacked_destroy (&unpacked);
    if (rc) {
        free (self->meta);
        free (self->stats);
        free (self->versions);
        self->meta = self->stats = self->versions = NULL;
        self->meta_size = self->stats_size = self->versions_size = 0;
    }
    return rc;
}

void
reply_set_ping (reply_t *self, const char *node_name, uint64_t uptime_seconds)
{
    assert (self);
    assert (node_name);
    self->fields |= REPLY_FIELD_NODE_NAME | REPLY_FIELD_VERSION | REPLY_FIELD_UPTIME;
    snprintf (self->node_name, sizeof (self->node_name), "%s", node_name);
    snprintf (self->version, sizeof (self->version), "%s", STRATA_VERSION);
    self->uptime_seconds = uptime_seconds;
}

int
reply_set_versions (reply_t *self, const uint8_t *versions, size_t versions_size)
{
    assert (self);
    return s_set_raw (&self->versions, &self->versions_size, versions, versions_size);
}
