/*  =========================================================================
    wire - safe reading of untrusted MessagePack, shared by request and reply

    msgpack-c allocates memory for a container as soon as it reads the
    container's declared size, before it knows whether the bytes are there:
    five bytes declaring a map of 2^28 entries make msgpack_unpack_next ()
    ask for 17 GB before it fails with "insufficient bytes". wire_unpack ()
    therefore walks the buffer's structure first (type bytes and lengths
    only, no values) and hands it to msgpack-c only when every declared
    container fits in the bytes that remain and nesting stays within
    msgpack-c's own limit. What msgpack-c then allocates is bounded by
    sizeof (msgpack_object) per byte of input.

    The other functions read one msgpack_object as a protocol value: an
    integer of any MessagePack width checked against a range, an Adler-32,
    an MD5 digest (base64 string or 16-byte bin), a UTF-8 string; and
    re-pack an object into a fresh buffer.

    wire_out_t writes the entries of a map whose size is not known in
    advance: run the same writing code twice, first with packer NULL to
    count the entries, then with the packer after msgpack_pack_map ().
    =========================================================================
*/
#ifndef STRATA_WIRE_H_INCLUDED
#define STRATA_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "digest.h"

//  Deepest nesting of containers that msgpack-c (and so wire_unpack)
//  accepts: its MSGPACK_EMBED_STACK_SIZE (wire.c checks they agree)
#define WIRE_MAX_DEPTH  32

//  Unpack data..size (at most max_size bytes) as one MessagePack object
//  into unpacked, which the caller has initialised with
//  msgpack_unpacked_init (). Returns 0 if the buffer is exactly one object;
//  1 if it holds one complete object followed by other bytes (the object is
//  still unpacked, for callers that want to salvage what they can); -1 if no
//  object could be unpacked. On 1 or -1, *why_p is set to a static English
//  reason ("truncated", "trailing bytes after the first object", ...).
//  Never allocates more than sizeof (msgpack_object) per input byte (plus
//  msgpack-c's zone overhead); never reads outside data..size.
int
    wire_unpack (msgpack_unpacked *unpacked, const void *data, size_t size,
                 size_t max_size, const char **why_p);

//  Return a short English name for an object's type ("string", "float",
//  "negative integer", ...). Never NULL.
const char *
    wire_type_name (const msgpack_object *object);

//  Read an integer of any MessagePack width that must lie in min..max.
//  Returns 0 and sets *value_p; -1 if the object is not an integer
//  (floats included); -2 if it is an integer outside min..max.
int
    wire_get_uint (const msgpack_object *object, uint64_t min, uint64_t max, uint64_t *value_p);

//  Read an int32 or uint32 (-2^31 .. 2^32-1) as a uint32: a negative value
//  is kept as its two's complement bits. 0, -1 (not an integer), -2 (range).
int
    wire_get_adler32 (const msgpack_object *object, uint32_t *value_p);

//  Read an MD5 digest: a standard base64 string (with padding) of exactly
//  16 bytes, or a bin of exactly 16 bytes. 0, -1 (neither a string nor a
//  bin), -2 (not valid base64 of 16 bytes, or a bin of another size).
int
    wire_get_digest (const msgpack_object *object, uint8_t digest [DIGEST_MD5_SIZE]);

//  Format an integer object's value in decimal into out (for messages).
//  Writes "?" for any other object.
void
    wire_int_text (const msgpack_object *object, char *out, size_t out_size);

//  True if text (size bytes) is valid UTF-8 (RFC 3629: no overlong forms,
//  no surrogates, nothing above U+10FFFF); with allow_nul false, also
//  false when it contains a null byte.
bool
    wire_utf8_valid (const char *text, size_t size, bool allow_nul);

//  Copy text into out for use inside an error message: printable ASCII is
//  kept, every other byte becomes '?', and text longer than out allows is
//  cut with "...". out is always null-terminated. Returns out.
char *
    wire_sanitize (const char *text, size_t size, char *out, size_t out_size);

//  Pack object into a new malloc'd buffer (*data_p, *size_p); the caller
//  frees it. Returns 0, or -1 on out-of-memory (nothing allocated).
int
    wire_pack_object (const msgpack_object *object, uint8_t **data_p, size_t *size_p);

//  Writer of map entries; see the header comment
typedef struct {
    msgpack_packer *packer;     //  NULL while counting
    uint32_t count;             //  entries written (or counted) so far
    bool failed;                //  a pack call failed (out of memory)
} wire_out_t;

//  The value of key in a map object (the first entry with a str key equal
//  to key), or NULL when absent or when map is not a map (or NULL)
const msgpack_object *
    wire_map_find (const msgpack_object *map, const char *key);

//  Read a str or bin object as bytes (a key, a prefix: any bytes) into out
//  (max + 1 bytes: null-terminated after the bytes) and set *size_p.
//  Returns 0, -1 if it is neither a str nor a bin, -2 if longer than max.
int
    wire_get_bytes (const msgpack_object *object, size_t max, char *out, size_t *size_p);

//  Write one entry whose value is a string of size bytes
void
    wire_out_str (wire_out_t *out, const char *key, const char *text, size_t size);

//  Write one entry whose value is a null-terminated string
void
    wire_out_cstr (wire_out_t *out, const char *key, const char *text);

//  Write one entry whose value is a null-terminated string, or nil when
//  text is empty
void
    wire_out_cstr_or_nil (wire_out_t *out, const char *key, const char *text);

//  Write one entry whose value is an unsigned integer (smallest encoding)
void
    wire_out_uint (wire_out_t *out, const char *key, uint64_t value);

//  Write one entry whose value is a float (64-bit)
void
    wire_out_double (wire_out_t *out, const char *key, double value);

//  Write one entry whose value is nil
void
    wire_out_nil (wire_out_t *out, const char *key);

//  Write one entry whose value is a boolean
void
    wire_out_bool (wire_out_t *out, const char *key, bool value);

//  Write one entry whose value is an MD5 digest as a base64 string
void
    wire_out_digest (wire_out_t *out, const char *key, const uint8_t digest [DIGEST_MD5_SIZE]);

//  Write one entry whose value is a timestamp (usec since the epoch) as
//  ISO 8601 UTC with microseconds
void
    wire_out_timestamp (wire_out_t *out, const char *key, int64_t usec);

//  Write one entry whose value is already-packed MessagePack (size bytes,
//  one complete object), copied as is
void
    wire_out_raw (wire_out_t *out, const char *key, const uint8_t *data, size_t size);

#endif
