/*  =========================================================================
    wire - safe reading of untrusted MessagePack, shared by request and reply

    The structure walk in wire_unpack () reads only type bytes and the
    big-endian lengths that follow them (MessagePack spec, "formats"); it
    never interprets values, which stay msgpack-c's job. It keeps a stack of
    the elements still owed by each open container, so it finds the exact
    end of the first object without recursion, and it rejects:

    - a length or a declared element that runs past the end (truncated);
    - containers whose declared elements add up to more than the buffer's
      bytes (each element takes at least one byte, so such a buffer is
      truncated too; this only makes the walk stop early);
    - nesting deeper than msgpack-c accepts, and the never-used byte 0xc1.

    So msgpack-c only ever sees one complete object, in which every declared
    element is actually present: what it allocates for containers is at
    most sizeof (msgpack_object) per input byte.

    UTF-8 validation is OpenSSL's UTF8_getc (), base64 is digest.h's.
    =========================================================================
*/

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack/unpack_define.h>
#include <openssl/asn1.h>

#include "timestamp.h"
#include "wire.h"


_Static_assert (WIRE_MAX_DEPTH == MSGPACK_EMBED_STACK_SIZE,
                "wire_unpack must nest exactly as deep as msgpack-c");


//  --------------------------------------------------------------------------
//  Read an n-byte big-endian unsigned integer (n ≤ 4)

static uint64_t
s_be (const uint8_t *bytes, size_t n)
{
    uint64_t value = 0;
    for (size_t index = 0; index < n; index++)
        value = (value << 8) | bytes [index];
    return value;
}


//  --------------------------------------------------------------------------
//  Walk the structure of the first object of data..size. Returns 0 and sets
//  *end_p to the offset just past it, or -1 and sets *why_p.

static int
s_walk (const uint8_t *data, size_t size, size_t *end_p, const char **why_p)
{
    uint64_t owed [WIRE_MAX_DEPTH];     //  Elements still to read, per open container
    size_t depth = 0;                   //  Open non-empty containers
    uint64_t declared = 0;              //  Elements declared by all containers so far
    size_t pos = 0;                     //  Offset of the next type byte

    for (;;) {
        if (pos >= size) {
            *why_p = "truncated";
            return -1;
        }
        uint8_t byte = data [pos];
        size_t header = 1;              //  Type byte plus length bytes
        size_t length_bytes = 0;        //  Bytes of the big-endian length
        uint64_t body = 0;              //  Bytes after the header (scalars)
        uint64_t elements = 0;          //  Elements (containers)
        bool container = false;
        bool map = false;

        if (byte <= 0x7f || byte >= 0xe0 || byte == 0xc0 || byte == 0xc2 || byte == 0xc3)
            ;                           //  fixint, nil, bool: one byte
        else
        if (byte <= 0x8f) {
            container = map = true;
            elements = byte & 0x0f;
        }
        else
        if (byte <= 0x9f) {
            container = true;
            elements = byte & 0x0f;
        }
        else
        if (byte <= 0xbf)
            body = byte & 0x1f;         //  fixstr
        else
        switch (byte) {
            case 0xc4: case 0xd9: length_bytes = 1; break;  //  bin8, str8
            case 0xc5: case 0xda: length_bytes = 2; break;  //  bin16, str16
            case 0xc6: case 0xdb: length_bytes = 4; break;  //  bin32, str32
            case 0xc7: length_bytes = 1; header = 1; break; //  ext8 (+1 type byte)
            case 0xc8: length_bytes = 2; header = 1; break; //  ext16
            case 0xc9: length_bytes = 4; header = 1; break; //  ext32
            case 0xca: body = 4; break;                     //  float32
            case 0xcb: body = 8; break;                     //  float64
            case 0xcc: case 0xd0: body = 1; break;          //  (u)int8
            case 0xcd: case 0xd1: body = 2; break;          //  (u)int16
            case 0xce: case 0xd2: body = 4; break;          //  (u)int32
            case 0xcf: case 0xd3: body = 8; break;          //  (u)int64
            case 0xd4: body = 2; break;                     //  fixext1: type + 1
            case 0xd5: body = 3; break;                     //  fixext2
            case 0xd6: body = 5; break;                     //  fixext4
            case 0xd7: body = 9; break;                     //  fixext8
            case 0xd8: body = 17; break;                    //  fixext16
            case 0xdc: container = true; length_bytes = 2; break;   //  array16
            case 0xdd: container = true; length_bytes = 4; break;   //  array32
            case 0xde: container = map = true; length_bytes = 2; break;   //  map16
            case 0xdf: container = map = true; length_bytes = 4; break;   //  map32
            default:
                *why_p = "not valid MessagePack (type byte 0xc1)";
                return -1;
        }
        header += length_bytes;
        if (size - pos < header) {
            *why_p = "truncated";
            return -1;
        }
        if (length_bytes) {
            uint64_t length = s_be (data + pos + 1, length_bytes);
            if (container)
                elements = length;
            else
                body = length + (byte >= 0xc7 && byte <= 0xc9 ? 1 : 0);
        }
        pos += header;

        if (container) {
            if (depth >= WIRE_MAX_DEPTH) {
                *why_p = "containers nested too deeply";
                return -1;
            }
            if (map)
                elements *= 2;
            declared += elements;
            if (declared > size) {
                *why_p = "truncated: its containers declare more elements than there are bytes";
                return -1;
            }
            if (elements > 0) {
                owed [depth++] = elements;
                continue;
            }
        }
        else {
            if (body > size - pos) {
                *why_p = "truncated";
                return -1;
            }
            pos += (size_t) body;
        }
        //  One object is complete: account for it in its containers
        for (;;) {
            if (depth == 0) {
                *end_p = pos;
                return 0;
            }
            if (--owed [depth - 1] > 0)
                break;
            depth--;
        }
    }
}


//  --------------------------------------------------------------------------
//  Unpack data..size as one MessagePack object. 0 exact, 1 trailing bytes,
//  -1 nothing usable.

int
wire_unpack (msgpack_unpacked *unpacked, const void *data, size_t size,
             size_t max_size, const char **why_p)
{
    assert (unpacked);
    assert (why_p);
    *why_p = NULL;
    if (!data || size == 0) {
        *why_p = "empty";
        return -1;
    }
    if (size > max_size) {
        *why_p = "larger than the limit";
        return -1;
    }
    size_t end = 0;             //  Offset just past the first object
    if (s_walk ((const uint8_t *) data, size, &end, why_p))
        return -1;

    size_t offset = 0;          //  msgpack-c's idea of the end
    msgpack_unpack_return rc = msgpack_unpack_next (unpacked, (const char *) data, end, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != end) {
        *why_p = rc == MSGPACK_UNPACK_NOMEM_ERROR? "could not be unpacked (out of memory)"
                                                 : "not valid MessagePack";
        return -1;
    }
    if (end != size) {
        *why_p = "trailing bytes after the first object";
        return 1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Short English name of an object's type

const char *
wire_type_name (const msgpack_object *object)
{
    switch (object->type) {
        case MSGPACK_OBJECT_NIL:                return "nil";
        case MSGPACK_OBJECT_BOOLEAN:            return "a boolean";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:   return "an integer";
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:   return "a negative integer";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:            return "a float";
        case MSGPACK_OBJECT_STR:                return "a string";
        case MSGPACK_OBJECT_ARRAY:              return "an array";
        case MSGPACK_OBJECT_MAP:                return "a map";
        case MSGPACK_OBJECT_BIN:                return "a bin";
        case MSGPACK_OBJECT_EXT:                return "an ext";
    }
    return "an unknown type";
}


//  --------------------------------------------------------------------------
//  Read an integer that must lie in min..max (unsigned range)

int
wire_get_uint (const msgpack_object *object, uint64_t min, uint64_t max, uint64_t *value_p)
{
    if (object->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return -2;              //  Every range here is unsigned
    if (object->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    uint64_t value = object->via.u64;
    if (value < min || value > max)
        return -2;
    *value_p = value;
    return 0;
}


//  --------------------------------------------------------------------------
//  Read an int32 or uint32 as uint32 bits

int
wire_get_adler32 (const msgpack_object *object, uint32_t *value_p)
{
    if (object->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (object->via.u64 > UINT32_MAX)
            return -2;
        *value_p = (uint32_t) object->via.u64;
        return 0;
    }
    if (object->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        if (object->via.i64 < INT32_MIN)
            return -2;
        //  Two's complement bits of the int32, computed without overflow
        *value_p = (uint32_t) (UINT32_MAX - (uint32_t) (-(object->via.i64 + 1)));
        return 0;
    }
    return -1;
}


//  --------------------------------------------------------------------------
//  Read an MD5 digest from a base64 string or a 16-byte bin

const msgpack_object *
wire_map_find (const msgpack_object *map, const char *key)
{
    assert (key);
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t size = strlen (key);
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object_kv *entry = &map->via.map.ptr [index];
        if (entry->key.type == MSGPACK_OBJECT_STR
        &&  entry->key.via.str.size == size
        &&  memcmp (entry->key.via.str.ptr, key, size) == 0)
            return &entry->val;
    }
    return NULL;
}

int
wire_get_bytes (const msgpack_object *object, size_t max, char *out, size_t *size_p)
{
    assert (object && out && size_p);
    //  str and bin share their layout in msgpack-c
    if (object->type != MSGPACK_OBJECT_STR && object->type != MSGPACK_OBJECT_BIN)
        return -1;
    size_t size = object->type == MSGPACK_OBJECT_STR? object->via.str.size: object->via.bin.size;
    if (size > max)
        return -2;
    if (size)
        memcpy (out, object->type == MSGPACK_OBJECT_STR? object->via.str.ptr: object->via.bin.ptr, size);
    out [size] = 0;
    *size_p = size;
    return 0;
}

int
wire_get_digest (const msgpack_object *object, uint8_t digest [DIGEST_MD5_SIZE])
{
    if (object->type == MSGPACK_OBJECT_BIN) {
        if (object->via.bin.size != DIGEST_MD5_SIZE)
            return -2;
        memcpy (digest, object->via.bin.ptr, DIGEST_MD5_SIZE);
        return 0;
    }
    if (object->type == MSGPACK_OBJECT_STR) {
        uint8_t decoded [DIGEST_MD5_SIZE];
        int rc = digest_base64_decode (object->via.str.ptr, object->via.str.size,
                                       decoded, sizeof decoded);
        if (rc != DIGEST_MD5_SIZE)
            return -2;
        memcpy (digest, decoded, DIGEST_MD5_SIZE);
        return 0;
    }
    return -1;
}


//  --------------------------------------------------------------------------
//  Decimal text of an integer object

void
wire_int_text (const msgpack_object *object, char *out, size_t out_size)
{
    if (object->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf (out, out_size, "%" PRIu64, object->via.u64);
    else
    if (object->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        snprintf (out, out_size, "%" PRId64, object->via.i64);
    else
        snprintf (out, out_size, "?");
}


//  --------------------------------------------------------------------------
//  True if text is valid UTF-8 (and has no null unless allow_nul)

bool
wire_utf8_valid (const char *text, size_t size, bool allow_nul)
{
    const unsigned char *bytes = (const unsigned char *) text;
    size_t pos = 0;
    while (pos < size) {
        unsigned long code = 0;     //  Code point just read
        size_t left = size - pos;
        int length = UTF8_getc (bytes + pos, left > 8? 8: (int) left, &code);
        if (length <= 0 || code > 0x10FFFF || (code == 0 && !allow_nul))
            return false;
        pos += (size_t) length;
    }
    return true;
}


//  --------------------------------------------------------------------------
//  Printable-ASCII copy of text for an error message

char *
wire_sanitize (const char *text, size_t size, char *out, size_t out_size)
{
    assert (out && out_size >= 4);
    size_t room = out_size - 1;
    bool cut = size > room;
    if (cut)
        room -= 3;
    size_t length = cut? room: size;
    for (size_t index = 0; index < length; index++) {
        unsigned char byte = (unsigned char) text [index];
        out [index] = byte >= 0x20 && byte < 0x7f? (char) byte: '?';
    }
    if (cut) {
        memcpy (out + length, "...", 3);
        length += 3;
    }
    out [length] = '\0';
    return out;
}


//  --------------------------------------------------------------------------
//  Pack object into a fresh malloc'd buffer

int
wire_pack_object (const msgpack_object *object, uint8_t **data_p, size_t *size_p)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    if (msgpack_pack_object (&packer, *object) != 0 || buffer.size == 0) {
        msgpack_sbuffer_destroy (&buffer);
        return -1;
    }
    *size_p = buffer.size;
    *data_p = (uint8_t *) msgpack_sbuffer_release (&buffer);
    return 0;
}


//  --------------------------------------------------------------------------
//  Map entry writers: count while packer is NULL, pack otherwise

static bool
s_out_key (wire_out_t *out, const char *key)
{
    out->count++;
    if (!out->packer)
        return false;
    size_t size = strlen (key);
    if (msgpack_pack_str (out->packer, size) || msgpack_pack_str_body (out->packer, key, size))
        out->failed = true;
    return true;
}

void
wire_out_str (wire_out_t *out, const char *key, const char *text, size_t size)
{
    if (s_out_key (out, key)
    &&  (msgpack_pack_str (out->packer, size) || msgpack_pack_str_body (out->packer, text, size)))
        out->failed = true;
}

void
wire_out_cstr (wire_out_t *out, const char *key, const char *text)
{
    wire_out_str (out, key, text, strlen (text));
}

void
wire_out_cstr_or_nil (wire_out_t *out, const char *key, const char *text)
{
    if (*text)
        wire_out_cstr (out, key, text);
    else
        wire_out_nil (out, key);
}

void
wire_out_uint (wire_out_t *out, const char *key, uint64_t value)
{
    if (s_out_key (out, key) && msgpack_pack_uint64 (out->packer, value))
        out->failed = true;
}

void
wire_out_double (wire_out_t *out, const char *key, double value)
{
    if (s_out_key (out, key) && msgpack_pack_double (out->packer, value))
        out->failed = true;
}

void
wire_out_nil (wire_out_t *out, const char *key)
{
    if (s_out_key (out, key) && msgpack_pack_nil (out->packer))
        out->failed = true;
}

void
wire_out_bool (wire_out_t *out, const char *key, bool value)
{
    if (s_out_key (out, key)
    &&  (value? msgpack_pack_true (out->packer): msgpack_pack_false (out->packer)))
        out->failed = true;
}

void
wire_out_digest (wire_out_t *out, const char *key, const uint8_t digest [DIGEST_MD5_SIZE])
{
    char text [DIGEST_MD5_BASE64_SIZE];
    digest_md5_to_base64 (digest, text);
    wire_out_cstr (out, key, text);
}

void
wire_out_timestamp (wire_out_t *out, const char *key, int64_t usec)
{
    char text [TIMESTAMP_TEXT_SIZE];
    timestamp_format (usec, text);
    wire_out_cstr (out, key, text);
}

void
wire_out_raw (wire_out_t *out, const char *key, const uint8_t *data, size_t size)
{
    if (s_out_key (out, key)
    &&  out->packer->callback (out->packer->data, (const char *) data, size))
        out->failed = true;
}
