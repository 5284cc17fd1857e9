/*  =========================================================================
    test_request - request_decode / request_encode / message_type

    Headers are built here with msgpack-c's packer from small key/value
    tables, so each test states exactly the bytes it sends. The per-type
    field tables below are copied from proto/PROTOCOL.md ("Messages"), not from
    request.c, so they check the codec against the contract.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "timestamp.h"

//  --------------------------------------------------------------------------
//  Allocation watch: msgpack-c allocates for declared container sizes, so
//  the tests that send tiny buffers declaring huge containers check that
//  nothing big was allocated. Under ASan, the allocator itself refuses
//  anything above 256 MB (a crash fails the test); otherwise malloc is
//  wrapped to record the largest request.

#if defined (__SANITIZE_ADDRESS__)
#   define S_ASAN 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define S_ASAN 1
#   endif
#endif

#ifdef S_ASAN
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
    return "max_allocation_size_mb=256";
}
#else
extern void *__libc_malloc (size_t size);
static size_t s_largest_malloc = 0;     //  Largest malloc since last reset
void *
malloc (size_t size)
{
    if (size > s_largest_malloc)
        s_largest_malloc = size;
    return __libc_malloc (size);
}
#endif


//  --------------------------------------------------------------------------
//  Header builder: a table of key/value entries, with changes applied

typedef enum {
    V_STR, V_UINT, V_INT, V_NIL, V_BOOL, V_FLOAT, V_BIN, V_RAW, V_OMIT
} v_type_t;

typedef struct {
    const char *key;            //  Key (packed as str)
    v_type_t type;              //  Kind of value
    uint64_t u;                 //  V_UINT
    int64_t i;                  //  V_INT
    const void *p;              //  V_STR, V_BIN, V_RAW bytes
    size_t n;                   //  Their length; (size_t) -1 = strlen
} kv_t;

#define KS(k, s)        { (k), V_STR, 0, 0, (s), (size_t) -1 }
#define KSN(k, s, len)  { (k), V_STR, 0, 0, (s), (len) }
#define KU(k, v)        { (k), V_UINT, (v), 0, NULL, 0 }
#define KI(k, v)        { (k), V_INT, 0, (v), NULL, 0 }
#define KNIL(k)         { (k), V_NIL, 0, 0, NULL, 0 }
#define KBOOL(k)        { (k), V_BOOL, 0, 0, NULL, 0 }
#define KFLOAT(k)       { (k), V_FLOAT, 0, 0, NULL, 0 }
#define KBIN(k, b, len) { (k), V_BIN, 0, 0, (b), (len) }
#define KRAW(k, b, len) { (k), V_RAW, 0, 0, (b), (len) }
#define KOMIT(k)        { (k), V_OMIT, 0, 0, NULL, 0 }
#define COUNT(a)        (sizeof (a) / sizeof (a) [0])

static void
s_pack_value (msgpack_packer *packer, msgpack_sbuffer *buffer, const kv_t *kv)
{
    size_t n = kv->n == (size_t) -1? strlen ((const char *) kv->p): kv->n;
    switch (kv->type) {
        case V_STR:   msgpack_pack_str (packer, n); msgpack_pack_str_body (packer, kv->p, n); break;
        case V_UINT:  msgpack_pack_uint64 (packer, kv->u); break;
        case V_INT:   msgpack_pack_int64 (packer, kv->i); break;
        case V_NIL:   msgpack_pack_nil (packer); break;
        case V_BOOL:  msgpack_pack_true (packer); break;
        case V_FLOAT: msgpack_pack_double (packer, 1.5); break;
        case V_BIN:   msgpack_pack_bin (packer, n); msgpack_pack_bin_body (packer, kv->p, n); break;
        case V_RAW:   msgpack_sbuffer_write (buffer, kv->p, n); break;
        case V_OMIT:  break;
    }
}

static const kv_t *
s_find (const kv_t *kvs, size_t count, const char *key)
{
    for (size_t index = 0; index < count; index++)
        if (strcmp (kvs [index].key, key) == 0)
            return &kvs [index];
    return NULL;
}

//  Pack base with changes applied: a change replaces the base entry of the
//  same key (V_OMIT drops it); changes for other keys are appended.
static void
s_build (msgpack_sbuffer *buffer, const kv_t *base, size_t base_count,
         const kv_t *changes, size_t change_count)
{
    uint32_t entries = 0;
    for (int pass = 0; pass < 2; pass++) {
        msgpack_packer packer;
        msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
        if (pass == 1)
            msgpack_pack_map (&packer, entries);
        for (size_t index = 0; index < base_count; index++) {
            const kv_t *kv = s_find (changes, change_count, base [index].key);
            if (!kv)
                kv = &base [index];
            if (kv->type == V_OMIT)
                continue;
            if (pass == 0)
                entries++;
            else {
                msgpack_pack_str (&packer, strlen (kv->key));
                msgpack_pack_str_body (&packer, kv->key, strlen (kv->key));
                s_pack_value (&packer, buffer, kv);
            }
        }
        for (size_t index = 0; index < change_count; index++) {
            const kv_t *kv = &changes [index];
            if (kv->type == V_OMIT || s_find (base, base_count, kv->key))
                continue;
            if (pass == 0)
                entries++;
            else {
                msgpack_pack_str (&packer, strlen (kv->key));
                msgpack_pack_str_body (&packer, kv->key, strlen (kv->key));
                s_pack_value (&packer, buffer, kv);
            }
        }
    }
}

//  Build and decode; returns request_decode's result
static int
s_decode (request_t *request, request_error_t *error, const kv_t *base, size_t base_count,
          const kv_t *changes, size_t change_count)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_build (&buffer, base, base_count, changes, change_count);
    int rc = request_decode (request, buffer.data, buffer.size, error);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

//  True if message starts with "<field>:"
static bool
s_names (const request_error_t *error, const char *field)
{
    size_t size = strlen (field);
    return strncmp (error->message, field, size) == 0 && error->message [size] == ':';
}

#define ASSERT_FAILS_ON(request, error, rc, field) do { \
    cr_assert_eq ((rc), -1, "expected failure naming '%s'", (field)); \
    cr_assert_eq ((error)->result, RESULT_INVALID_REQUEST, "result %d for '%s': %s", \
                  (int) (error)->result, (field), (error)->message); \
    cr_assert (s_names ((error), (field)), "message '%s' does not name '%s'", \
               (error)->message, (field)); \
} while (0)


//  --------------------------------------------------------------------------
//  Test data

#define MD5_EMPTY_B64   "1B2M2Y8AsgTpgAmY7PhCfg=="
#define MD5_HELLO_B64   "XUFAKrxLKna5cZ2REBfFkg=="
static const uint8_t s_md5_empty [16] = {
    0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e
};
static const uint8_t s_md5_hello [16] = {
    0x5d, 0x41, 0x40, 0x2a, 0xbc, 0x4b, 0x2a, 0x76, 0xb9, 0x71, 0x9d, 0x91, 0x10, 0x17, 0xc5, 0x92
};
//  {"a": "1", "b": "2"}
static const uint8_t s_meta_ab [] = { 0x82, 0xa1, 'a', 0xa1, '1', 0xa1, 'b', 0xa1, '2' };

#define TS_ISO          "2026-11-21T23:34:52.123456Z"
#define TS_ISO_USEC     INT64_C(1795304092123456)

//  A complete, valid archive-key-entire header
static const kv_t s_entire [] = {
    KS ("message-type", "archive-key-entire"),
    KS ("message-id", "msg-1"),
    KS ("client-tag", "tag-1"),
    KS ("client-address", "tcp://127.0.0.1:9000"),
    KS ("user-request-id", "req-1"),
    KU ("collection-id", 42),
    KS ("key", "some/key"),
    KU ("unified-id", 1234567890123ULL),
    KS ("timestamp-repr", TS_ISO),
    KU ("conjoined-part", 0),
    KU ("segment-num", 3),
    KU ("segment-size", 5),
    KU ("zfec-padding-size", 2),
    KS ("segment-md5-digest", MD5_HELLO_B64),
    KI ("segment-adler32", -5),
    KS ("source-node-name", "node01"),
    KNIL ("handoff-node-name"),
    KU ("file-size", 5),
    KU ("file-adler32", 7),
    KS ("file-hash", MD5_EMPTY_B64),
    KRAW ("meta", s_meta_ab, sizeof s_meta_ab),
};

//  Field names and bits, from proto/PROTOCOL.md
typedef struct {
    const char *name;
    uint64_t bit;
} field_name_t;

static const field_name_t s_field_names [] = {
    { "collection-id", FIELD_COLLECTION_ID },
    { "key", FIELD_KEY },
    { "unified-id", FIELD_UNIFIED_ID },
    { "timestamp-repr", FIELD_TIMESTAMP },
    { "conjoined-part", FIELD_CONJOINED_PART },
    { "segment-num", FIELD_SEGMENT_NUM },
    { "sequence-num", FIELD_SEQUENCE_NUM },
    { "segment-size", FIELD_SEGMENT_SIZE },
    { "zfec-padding-size", FIELD_ZFEC_PADDING_SIZE },
    { "segment-md5-digest", FIELD_SEGMENT_MD5 },
    { "segment-adler32", FIELD_SEGMENT_ADLER32 },
    { "source-node-name", FIELD_SOURCE_NODE_NAME },
    { "handoff-node-name", FIELD_HANDOFF_NODE_NAME },
    { "file-size", FIELD_FILE_SIZE },
    { "file-adler32", FIELD_FILE_ADLER32 },
    { "file-hash", FIELD_FILE_HASH },
    { "meta", FIELD_META },
    { "unified-id-to-delete", FIELD_UNIFIED_ID_TO_DELETE },
};

//  A valid value for each field, by name
static const kv_t s_valid_values [] = {
    KU ("collection-id", 42),
    KS ("key", "some/key"),
    KU ("unified-id", 77),
    KS ("timestamp-repr", TS_ISO),
    KU ("conjoined-part", 1),
    KU ("segment-num", 1),
    KU ("sequence-num", 1),
    KU ("segment-size", 5),
    KU ("zfec-padding-size", 0),
    KS ("segment-md5-digest", MD5_HELLO_B64),
    KU ("segment-adler32", 1),
    KS ("source-node-name", "node01"),
    KS ("handoff-node-name", "node02"),
    KU ("file-size", 5),
    KU ("file-adler32", 1),
    KS ("file-hash", MD5_HELLO_B64),
    KRAW ("meta", s_meta_ab, sizeof s_meta_ab),
    KU ("unified-id-to-delete", 5),
};

//  Required and optional fields per type (proto/PROTOCOL.md, "Messages")
typedef struct {
    message_type_t type;
    const char *name;
    uint64_t required;
    uint64_t optional;
} type_spec_t;

#define SEG_R   (FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP \
               | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE | FIELD_ZFEC_PADDING_SIZE \
               | FIELD_SEGMENT_MD5 | FIELD_SOURCE_NODE_NAME)
#define SEG_O   (FIELD_CONJOINED_PART | FIELD_SEGMENT_ADLER32 | FIELD_HANDOFF_NODE_NAME)
#define CONJ_R  (FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP)

static const type_spec_t s_specs [] = {
    { MSG_ARCHIVE_KEY_ENTIRE, "archive-key-entire", SEG_R | FIELD_FILE_SIZE | FIELD_FILE_HASH,
      SEG_O | FIELD_FILE_ADLER32 | FIELD_META },
    { MSG_ARCHIVE_KEY_START, "archive-key-start", SEG_R | FIELD_SEQUENCE_NUM, SEG_O },
    { MSG_ARCHIVE_KEY_NEXT, "archive-key-next", SEG_R | FIELD_SEQUENCE_NUM, SEG_O },
    { MSG_ARCHIVE_KEY_FINAL, "archive-key-final",
      SEG_R | FIELD_SEQUENCE_NUM | FIELD_FILE_SIZE | FIELD_FILE_HASH,
      SEG_O | FIELD_FILE_ADLER32 | FIELD_META },
    { MSG_ARCHIVE_KEY_CANCEL, "archive-key-cancel", FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM,
      FIELD_CONJOINED_PART },
    { MSG_DESTROY_KEY, "destroy-key", FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
      | FIELD_TIMESTAMP | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME,
      FIELD_UNIFIED_ID_TO_DELETE | FIELD_HANDOFF_NODE_NAME },
    { MSG_START_CONJOINED_ARCHIVE, "start-conjoined-archive", CONJ_R, FIELD_HANDOFF_NODE_NAME },
    { MSG_ABORT_CONJOINED_ARCHIVE, "abort-conjoined-archive", CONJ_R, FIELD_HANDOFF_NODE_NAME },
    { MSG_FINISH_CONJOINED_ARCHIVE, "finish-conjoined-archive", CONJ_R, FIELD_HANDOFF_NODE_NAME },
    { MSG_WEB_WRITER_START, "web-writer-start", FIELD_SOURCE_NODE_NAME | FIELD_TIMESTAMP, 0 },
    { MSG_SYNC_VALUE_FILE, "sync-value-file", 0, 0 },
    { MSG_PING, "ping", 0, 0 },
    { MSG_STATS, "stats", 0, 0 },
    { MSG_RETRIEVE_KEY_START, "retrieve-key-start", FIELD_COLLECTION_ID | FIELD_KEY
      | FIELD_SEGMENT_NUM, FIELD_UNIFIED_ID | FIELD_CONJOINED_PART | FIELD_HANDOFF_NODE_NAME },
    { MSG_RETRIEVE_KEY_NEXT, "retrieve-key-next", FIELD_COLLECTION_ID | FIELD_KEY
      | FIELD_UNIFIED_ID | FIELD_SEGMENT_NUM | FIELD_SEQUENCE_NUM,
      FIELD_CONJOINED_PART | FIELD_HANDOFF_NODE_NAME },
};

//  Build the kv table of a header for spec with the fields of mask
static size_t
s_spec_kvs (const type_spec_t *spec, uint64_t mask, kv_t *kvs)
{
    size_t count = 0;
    kvs [count++] = (kv_t) KS ("message-type", spec->name);
    kvs [count++] = (kv_t) KS ("message-id", "m");
    kvs [count++] = (kv_t) KS ("client-tag", "t");
    kvs [count++] = (kv_t) KS ("client-address", "tcp://127.0.0.1:9000");
    for (size_t index = 0; index < COUNT (s_field_names); index++)
        if (s_field_names [index].bit & mask)
            kvs [count++] = *s_find (s_valid_values, COUNT (s_valid_values),
                                     s_field_names [index].name);
    return count;
}

//  A fully populated request of type spec (every R and O field)
static void
s_fill (request_t *request, const type_spec_t *spec)
{
    request_reset (request);
    request->type = spec->type;
    strcpy (request->message_id, "message-id-1");
    strcpy (request->client_tag, "tag");
    strcpy (request->client_address, "ipc:///tmp/reply");
    strcpy (request->user_request_id, "trace-9");
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
                     | FIELD_USER_REQUEST_ID | spec->required | spec->optional;
    request->collection_id = 4000000000u;
    strcpy (request->key, "ключ/日本/x");
    request->key_size = strlen (request->key);
    request->unified_id = UINT64_MAX - 1;
    request->timestamp = TS_ISO_USEC;
    request->conjoined_part = 7;
    request->segment_num = 255;
    request->sequence_num = 12;
    request->segment_size = UINT64_C (1) << 40;
    request->zfec_padding_size = 3;
    memcpy (request->segment_md5, s_md5_hello, 16);
    request->segment_adler32 = 0xDEADBEEF;
    strcpy (request->source_node_name, "node01");
    strcpy (request->handoff_node_name, "node02");
    request->file_size = UINT64_C (1) << 41;
    request->file_adler32 = 0x80000000u;
    memcpy (request->file_hash, s_md5_empty, 16);
    if (request->present & FIELD_META) {
        request->meta = malloc (sizeof s_meta_ab);
        memcpy (request->meta, s_meta_ab, sizeof s_meta_ab);
        request->meta_size = sizeof s_meta_ab;
    }
    request->unified_id_to_delete = 99;
}

//  Compare the fields a request of its type carries
static void
s_assert_same (const request_t *a, const request_t *b)
{
    cr_assert_eq (a->type, b->type);
    cr_assert_eq (a->present, b->present, "present %" PRIx64 " != %" PRIx64, a->present, b->present);
    cr_assert_str_eq (a->message_id, b->message_id);
    cr_assert_str_eq (a->client_tag, b->client_tag);
    cr_assert_str_eq (a->client_address, b->client_address);
    cr_assert_str_eq (a->user_request_id, b->user_request_id);
    uint64_t p = a->present;
    if (p & FIELD_COLLECTION_ID)    cr_assert_eq (a->collection_id, b->collection_id);
    if (p & FIELD_KEY) {
        cr_assert_eq (a->key_size, b->key_size);
        cr_assert (memcmp (a->key, b->key, a->key_size) == 0);
    }
    if (p & FIELD_UNIFIED_ID)       cr_assert_eq (a->unified_id, b->unified_id);
    if (p & FIELD_TIMESTAMP)        cr_assert_eq (a->timestamp, b->timestamp);
    cr_assert_eq (a->conjoined_part, b->conjoined_part);
    if (p & FIELD_SEGMENT_NUM)      cr_assert_eq (a->segment_num, b->segment_num);
    cr_assert_eq (a->sequence_num, b->sequence_num);
    if (p & FIELD_SEGMENT_SIZE)     cr_assert_eq (a->segment_size, b->segment_size);
    if (p & FIELD_ZFEC_PADDING_SIZE) cr_assert_eq (a->zfec_padding_size, b->zfec_padding_size);
    if (p & FIELD_SEGMENT_MD5)      cr_assert (memcmp (a->segment_md5, b->segment_md5, 16) == 0);
    if (p & FIELD_SEGMENT_ADLER32)  cr_assert_eq (a->segment_adler32, b->segment_adler32);
    if (p & FIELD_SOURCE_NODE_NAME) cr_assert_str_eq (a->source_node_name, b->source_node_name);
    cr_assert_str_eq (a->handoff_node_name, b->handoff_node_name);
    if (p & FIELD_FILE_SIZE)        cr_assert_eq (a->file_size, b->file_size);
    if (p & FIELD_FILE_ADLER32)     cr_assert_eq (a->file_adler32, b->file_adler32);
    if (p & FIELD_FILE_HASH)        cr_assert (memcmp (a->file_hash, b->file_hash, 16) == 0);
    cr_assert_eq (a->meta_size, b->meta_size);
    if (a->meta_size)
        cr_assert (memcmp (a->meta, b->meta, a->meta_size) == 0);
    if (p & FIELD_UNIFIED_ID_TO_DELETE)
        cr_assert_eq (a->unified_id_to_delete, b->unified_id_to_delete);
}

//  Simple deterministic generator (xorshift64*)
static uint64_t
s_random (uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C (2685821657736338717);
}

static request_t *s_request;
static request_error_t s_error;

static void
s_setup (void)
{
    s_request = request_new ();
    cr_assert_not_null (s_request);
    memset (&s_error, 0, sizeof s_error);
}

static void
s_teardown (void)
{
    request_destroy (&s_request);
}

TestSuite (request, .init = s_setup, .fini = s_teardown);


//  --------------------------------------------------------------------------
//  message_type

Test (request, message_type_names)
{
    cr_assert_str_eq (message_type_name (MSG_ARCHIVE_KEY_ENTIRE), "archive-key-entire");
    cr_assert_str_eq (message_type_reply_name (MSG_ARCHIVE_KEY_ENTIRE), "archive-key-final-reply");
    cr_assert_str_eq (message_type_reply_name (MSG_ARCHIVE_KEY_FINAL), "archive-key-final-reply");
    cr_assert_str_eq (message_type_reply_name (MSG_DESTROY_KEY), "destroy-key-reply");
    cr_assert_str_eq (message_type_name (MSG_UNKNOWN), "unknown");
    cr_assert_str_eq (message_type_reply_name (MSG_UNKNOWN), "error-reply");
    cr_assert_str_eq (message_type_name ((message_type_t) 999), "unknown");
    cr_assert_str_eq (message_type_name ((message_type_t) -1), "unknown");
    cr_assert_str_eq (message_type_reply_name (MSG_TYPE_COUNT), "error-reply");
    for (size_t index = 0; index < COUNT (s_specs); index++) {
        const type_spec_t *spec = &s_specs [index];
        cr_assert_str_eq (message_type_name (spec->type), spec->name);
        cr_assert_eq (message_type_from_name (spec->name, strlen (spec->name)), spec->type);
        const char *reply = message_type_reply_name (spec->type);
        message_type_t back = message_type_from_reply_name (reply, strlen (reply));
        if (spec->type == MSG_ARCHIVE_KEY_ENTIRE)
            cr_assert_eq (back, MSG_ARCHIVE_KEY_FINAL);
        else {
            cr_assert_eq (back, spec->type, "%s", reply);
            char expected [80];
            snprintf (expected, sizeof expected, "%s-reply", spec->name);
            cr_assert_str_eq (reply, expected);
        }
    }
    cr_assert_eq (message_type_from_name ("ping", 3), MSG_UNKNOWN);
    cr_assert_eq (message_type_from_name ("pingx", 5), MSG_UNKNOWN);
    cr_assert_eq (message_type_from_name ("ping\0", 5), MSG_UNKNOWN);
    cr_assert_eq (message_type_from_name ("pingpong", 4), MSG_PING);
    cr_assert_eq (message_type_from_name (NULL, 0), MSG_UNKNOWN);
    cr_assert_eq (message_type_from_reply_name ("error-reply", 11), MSG_UNKNOWN);
}


//  --------------------------------------------------------------------------
//  Success paths

Test (request, decodes_archive_key_entire)
{
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), NULL, 0);
    cr_assert_eq (rc, 0, "%s", s_error.message);
    request_t *r = s_request;
    cr_assert_eq (r->type, MSG_ARCHIVE_KEY_ENTIRE);
    cr_assert_str_eq (r->message_type_name, "archive-key-entire");
    cr_assert_str_eq (r->message_id, "msg-1");
    cr_assert_str_eq (r->client_tag, "tag-1");
    cr_assert_str_eq (r->client_address, "tcp://127.0.0.1:9000");
    cr_assert_str_eq (r->user_request_id, "req-1");
    cr_assert_eq (r->collection_id, 42);
    cr_assert_str_eq (r->key, "some/key");
    cr_assert_eq (r->key_size, 8);
    cr_assert_eq (r->unified_id, 1234567890123ULL);
    cr_assert_eq (r->timestamp, TS_ISO_USEC);
    cr_assert_eq (r->segment_num, 3);
    cr_assert_eq (r->sequence_num, 0);
    cr_assert_eq (r->segment_size, 5);
    cr_assert_eq (r->zfec_padding_size, 2);
    cr_assert (memcmp (r->segment_md5, s_md5_hello, 16) == 0);
    cr_assert_eq (r->segment_adler32, (uint32_t) -5);
    cr_assert_str_eq (r->source_node_name, "node01");
    cr_assert_str_eq (r->handoff_node_name, "");
    cr_assert_not (r->present & FIELD_HANDOFF_NODE_NAME);
    cr_assert_eq (r->file_size, 5);
    cr_assert_eq (r->file_adler32, 7);
    cr_assert (memcmp (r->file_hash, s_md5_empty, 16) == 0);
    cr_assert_eq (r->meta_size, sizeof s_meta_ab);
    cr_assert (memcmp (r->meta, s_meta_ab, sizeof s_meta_ab) == 0);
    uint64_t expected = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
        | FIELD_USER_REQUEST_ID | FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID
        | FIELD_TIMESTAMP | FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE
        | FIELD_ZFEC_PADDING_SIZE | FIELD_SEGMENT_MD5 | FIELD_SEGMENT_ADLER32
        | FIELD_SOURCE_NODE_NAME | FIELD_FILE_SIZE | FIELD_FILE_ADLER32 | FIELD_FILE_HASH
        | FIELD_META;
    cr_assert_eq (r->present, expected, "present %" PRIx64, r->present);
}

Test (request, round_trip_every_type)
{
    request_t *decoded = request_new ();
    for (size_t index = 0; index < COUNT (s_specs); index++) {
        const type_spec_t *spec = &s_specs [index];
        s_fill (s_request, spec);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        cr_assert_eq (request_encode (s_request, &buffer), 0);
        int rc = request_decode (decoded, buffer.data, buffer.size, &s_error);
        cr_assert_eq (rc, 0, "%s: %s", spec->name, s_error.message);
        //  What the type does not carry is neither encoded nor decoded
        s_request->present &= FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
                            | FIELD_USER_REQUEST_ID | spec->required | spec->optional;
        if (!(spec->required & FIELD_SEQUENCE_NUM))
            s_request->sequence_num = 0;
        if (!(spec->optional & FIELD_CONJOINED_PART))
            s_request->conjoined_part = 0;
        if (!(spec->optional & FIELD_HANDOFF_NODE_NAME))
            s_request->handoff_node_name [0] = '\0';
        s_assert_same (s_request, decoded);
        cr_assert_str_eq (decoded->message_type_name, spec->name);
        msgpack_sbuffer_destroy (&buffer);
    }
    request_destroy (&decoded);
    cr_assert_null (decoded);
}

Test (request, encode_writes_base64_and_iso)
{
    s_fill (s_request, &s_specs [0]);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (request_encode (s_request, &buffer), 0);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_map *map = &unpacked.data.via.map;
    int seen = 0;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_str *key = &map->ptr [i].key.via.str;
        const msgpack_object *val = &map->ptr [i].val;
        if (key->size == 18 && memcmp (key->ptr, "segment-md5-digest", 18) == 0) {
            cr_assert_eq (val->type, MSGPACK_OBJECT_STR);
            cr_assert (val->via.str.size == 24 && memcmp (val->via.str.ptr, MD5_HELLO_B64, 24) == 0);
            seen++;
        }
        if (key->size == 14 && memcmp (key->ptr, "timestamp-repr", 14) == 0) {
            cr_assert_eq (val->type, MSGPACK_OBJECT_STR);
            cr_assert (val->via.str.size == strlen (TS_ISO)
                    && memcmp (val->via.str.ptr, TS_ISO, strlen (TS_ISO)) == 0);
            seen++;
        }
        if (key->size == 12 && memcmp (key->ptr, "message-type", 12) == 0)
            seen++;
        cr_assert_not (key->size == 12 && memcmp (key->ptr, "sequence-num", 12) == 0,
                       "entire must not carry sequence-num");
    }
    cr_assert_eq (seen, 3);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);

    request_reset (s_request);
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (request_encode (s_request, &buffer), -1, "MSG_UNKNOWN is not encodable");
    msgpack_sbuffer_destroy (&buffer);
}

Test (request, minimal_header_of_every_type)
{
    for (size_t index = 0; index < COUNT (s_specs); index++) {
        const type_spec_t *spec = &s_specs [index];
        kv_t kvs [32];
        size_t count = s_spec_kvs (spec, spec->required, kvs);
        int rc = s_decode (s_request, &s_error, kvs, count, NULL, 0);
        cr_assert_eq (rc, 0, "%s: %s", spec->name, s_error.message);
        cr_assert_eq (s_request->type, spec->type);
        cr_assert_eq (s_request->conjoined_part, 0, "conjoined-part defaults to 0");
        cr_assert_eq (s_request->present & ~(uint64_t) (FIELD_MESSAGE_ID | FIELD_CLIENT_TAG
                      | FIELD_CLIENT_ADDRESS), spec->required);

        //  Optional fields are accepted too
        count = s_spec_kvs (spec, spec->required | spec->optional, kvs);
        rc = s_decode (s_request, &s_error, kvs, count, NULL, 0);
        cr_assert_eq (rc, 0, "%s: %s", spec->name, s_error.message);
        cr_assert_eq (s_request->present & ~(uint64_t) (FIELD_MESSAGE_ID | FIELD_CLIENT_TAG
                      | FIELD_CLIENT_ADDRESS), spec->required | spec->optional);
    }
}


//  --------------------------------------------------------------------------
//  Required fields

Test (request, missing_each_required_field_of_every_type)
{
    for (size_t index = 0; index < COUNT (s_specs); index++) {
        const type_spec_t *spec = &s_specs [index];
        for (size_t f = 0; f < COUNT (s_field_names); f++) {
            if (!(s_field_names [f].bit & spec->required))
                continue;
            kv_t kvs [32];
            size_t count = s_spec_kvs (spec, spec->required & ~s_field_names [f].bit, kvs);
            int rc = s_decode (s_request, &s_error, kvs, count, NULL, 0);
            ASSERT_FAILS_ON (s_request, &s_error, rc, s_field_names [f].name);
            //  The reply can still be addressed
            cr_assert (s_request->present & FIELD_CLIENT_ADDRESS);
            cr_assert_str_eq (s_request->client_address, "tcp://127.0.0.1:9000");
            cr_assert_eq (s_request->type, spec->type);
            cr_assert_not (s_request->present & ~(uint64_t) (FIELD_MESSAGE_ID
                           | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS),
                           "only echo fields are kept after a failure");
        }
    }
}

Test (request, missing_each_required_field_of_archive_key_entire)
{
    static const char *required [] = {
        "collection-id", "key", "unified-id", "timestamp-repr", "segment-num",
        "segment-size", "zfec-padding-size", "segment-md5-digest", "source-node-name",
        "file-size", "file-hash"
    };
    for (size_t index = 0; index < COUNT (required); index++) {
        kv_t omit [] = { KOMIT (required [index]) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), omit, 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, required [index]);
        cr_assert_str_eq (s_request->message_id, "msg-1");
        cr_assert_str_eq (s_request->client_tag, "tag-1");
    }
    static const char *optional [] = {
        "conjoined-part", "segment-adler32", "handoff-node-name", "file-adler32", "meta",
        "user-request-id", "client-address"
    };
    for (size_t index = 0; index < COUNT (optional); index++) {
        kv_t omit [] = { KOMIT (optional [index]) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), omit, 1);
        cr_assert_eq (rc, 0, "%s: %s", optional [index], s_error.message);
    }
}

Test (request, echo_field_rules)
{
    kv_t no_id [] = { KOMIT ("message-id") };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), no_id, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "message-id");
    cr_assert (s_request->present & FIELD_CLIENT_ADDRESS);

    kv_t no_tag [] = { KOMIT ("client-tag") };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), no_tag, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "client-tag");
    cr_assert_str_eq (s_error.message, "client-tag: required with client-address");

    //  Without client-address, client-tag is not needed (fire-and-forget)
    kv_t neither [] = { KOMIT ("client-tag"), KOMIT ("client-address") };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), neither, 2);
    cr_assert_eq (rc, 0, "%s", s_error.message);
    cr_assert_not (s_request->present & FIELD_CLIENT_ADDRESS);

    kv_t no_type [] = { KOMIT ("message-type") };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), no_type, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "message-type");
    cr_assert_eq (s_request->type, MSG_UNKNOWN);
    cr_assert_str_eq (s_request->message_type_name, "");
    cr_assert (s_request->present & FIELD_CLIENT_ADDRESS);
}


//  --------------------------------------------------------------------------
//  Types

Test (request, wrong_type_for_each_field)
{
    static const uint8_t array [] = { 0x91, 0x01 };
    for (size_t index = 0; index < COUNT (s_entire); index++) {
        const char *key = s_entire [index].key;
        bool is_string = s_entire [index].type == V_STR
                      || strcmp (key, "handoff-node-name") == 0;
        bool is_digest = strstr (key, "md5") || strstr (key, "hash");
        kv_t bad [] = {
            KBOOL (key), KFLOAT (key), KRAW (key, array, sizeof array),
            is_string? (kv_t) KU (key, 5): (kv_t) KS (key, "5"),
        };
        for (size_t b = 0; b < COUNT (bad); b++) {
            if (is_digest && bad [b].type == V_STR)
                continue;       //  a string is a digest's type; see bad_digests
            int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), &bad [b], 1);
            ASSERT_FAILS_ON (s_request, &s_error, rc, key);
        }
    }
}

Test (request, wrong_echo_field_is_not_kept)
{
    static const char *echo [] = { "message-id", "client-tag", "client-address", "user-request-id" };
    static const uint64_t bits [] = {
        FIELD_MESSAGE_ID, FIELD_CLIENT_TAG, FIELD_CLIENT_ADDRESS, FIELD_USER_REQUEST_ID
    };
    for (size_t index = 0; index < COUNT (echo); index++) {
        kv_t bad [] = { KU (echo [index], 12) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), bad, 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, echo [index]);
        cr_assert_not (s_request->present & bits [index]);
        //  The other echo fields were still read
        for (size_t other = 0; other < COUNT (echo); other++)
            if (other != index)
                cr_assert (s_request->present & bits [other], "%s", echo [other]);
    }
    kv_t nil_id [] = { KNIL ("message-id") };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), nil_id, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "message-id");
}

Test (request, integer_encodings)
{
    //  Values in every MessagePack integer width are the same value
    static const uint8_t int8_5 [] = { 0xd0, 0x05 };
    static const uint8_t int16_5 [] = { 0xd1, 0x00, 0x05 };
    static const uint8_t int32_5 [] = { 0xd2, 0x00, 0x00, 0x00, 0x05 };
    static const uint8_t int64_5 [] = { 0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05 };
    static const uint8_t uint8_5 [] = { 0xcc, 0x05 };
    static const uint8_t uint16_5 [] = { 0xcd, 0x00, 0x05 };
    static const uint8_t uint32_5 [] = { 0xce, 0x00, 0x00, 0x00, 0x05 };
    static const uint8_t uint64_5 [] = { 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05 };
    static const uint8_t fix_5 [] = { 0x05 };
    const struct { const uint8_t *bytes; size_t size; } forms [] = {
        { int8_5, 2 }, { int16_5, 3 }, { int32_5, 5 }, { int64_5, 9 },
        { uint8_5, 2 }, { uint16_5, 3 }, { uint32_5, 5 }, { uint64_5, 9 }, { fix_5, 1 },
    };
    static const char *fields [] = {
        "collection-id", "unified-id", "conjoined-part", "segment-num", "segment-size",
        "zfec-padding-size", "segment-adler32", "file-size", "file-adler32"
    };
    for (size_t f = 0; f < COUNT (fields); f++)
        for (size_t index = 0; index < COUNT (forms); index++) {
            kv_t change [] = { KRAW (fields [f], forms [index].bytes, forms [index].size) };
            int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
            cr_assert_eq (rc, 0, "%s form %zu: %s", fields [f], index, s_error.message);
        }
    static const uint8_t seg_int16 [] = { 0xd1, 0x00, 0xff };
    kv_t change [] = { KRAW ("segment-num", seg_int16, sizeof seg_int16) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1), 0);
    cr_assert_eq (s_request->segment_num, 255);
}

Test (request, integer_ranges)
{
    struct { kv_t kv; bool ok; } cases [] = {
        { KU ("segment-num", 0), false },
        { KU ("segment-num", 256), false },
        { KU ("segment-num", 1), true },
        { KU ("segment-num", 255), true },
        { KI ("segment-num", -1), false },
        { KU ("collection-id", UINT64_C (1) << 32), false },
        { KU ("collection-id", UINT32_MAX), true },
        { KI ("collection-id", -1), false },
        { KU ("conjoined-part", UINT64_C (1) << 32), false },
        { KU ("zfec-padding-size", UINT64_C (1) << 32), false },
        { KI ("segment-size", -1), false },
        { KI ("file-size", -1), false },
        { KI ("file-size", INT64_MIN), false },
        { KU ("segment-size", UINT64_MAX), true },
        { KI ("unified-id", -1), false },
        { KU ("segment-adler32", UINT32_MAX), true },
        { KU ("segment-adler32", UINT64_C (1) << 32), false },
        { KI ("segment-adler32", INT32_MIN), true },
        { KI ("segment-adler32", (int64_t) INT32_MIN - 1), false },
        { KI ("file-adler32", -1), true },
        { KI ("file-adler32", INT64_MIN), false },
    };
    for (size_t index = 0; index < COUNT (cases); index++) {
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), &cases [index].kv, 1);
        if (cases [index].ok)
            cr_assert_eq (rc, 0, "case %zu: %s", index, s_error.message);
        else {
            ASSERT_FAILS_ON (s_request, &s_error, rc, cases [index].kv.key);
            cr_assert (strstr (s_error.message, "out of range"), "%s", s_error.message);
        }
    }
    //  Exact values at the edges
    kv_t max_uid [] = { KU ("unified-id", UINT64_MAX) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), max_uid, 1), 0);
    cr_assert_eq (s_request->unified_id, UINT64_MAX);
    kv_t near_uid [] = { KU ("unified-id", UINT64_MAX - 1) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), near_uid, 1), 0);
    cr_assert_eq (s_request->unified_id, UINT64_MAX - 1, "no rounding through a double");
    kv_t big_uid [] = { KU ("unified-id", (UINT64_C (1) << 53) + 1) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), big_uid, 1), 0);
    cr_assert_eq (s_request->unified_id, (UINT64_C (1) << 53) + 1);
    kv_t adler [] = { KI ("segment-adler32", INT32_MIN), KI ("file-adler32", -1) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), adler, 2), 0);
    cr_assert_eq (s_request->segment_adler32, 0x80000000u);
    cr_assert_eq (s_request->file_adler32, 0xFFFFFFFFu);
    kv_t seg [] = { KU ("segment-num", 0) };
    s_decode (s_request, &s_error, s_entire, COUNT (s_entire), seg, 1);
    cr_assert_str_eq (s_error.message, "segment-num: 0 is out of range 1..255");

    //  sequence-num on a type that uses it
    const type_spec_t *start = &s_specs [1];
    kv_t kvs [32];
    size_t count = s_spec_kvs (start, start->required, kvs);
    kv_t big_seq [] = { KU ("sequence-num", UINT64_C (1) << 32) };
    int rc = s_decode (s_request, &s_error, kvs, count, big_seq, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "sequence-num");
}

Test (request, float_is_never_an_integer)
{
    kv_t change [] = { KFLOAT ("unified-id") };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "unified-id");
    //  A float32 too
    static const uint8_t f32 [] = { 0xca, 0x40, 0xa0, 0x00, 0x00 };     //  5.0
    kv_t change2 [] = { KRAW ("segment-size", f32, sizeof f32) };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change2, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "segment-size");
}


//  --------------------------------------------------------------------------
//  Strings

Test (request, string_lengths)
{
    char text [1100];
    memset (text, 'k', sizeof text);
    struct { const char *key; size_t max; } cases [] = {
        { "key", 1024 }, { "message-id", 128 }, { "client-tag", 128 },
        { "client-address", 256 }, { "user-request-id", 128 }, { "source-node-name", 128 },
        { "handoff-node-name", 128 },
    };
    for (size_t index = 0; index < COUNT (cases); index++) {
        kv_t at_max [] = { KSN (cases [index].key, text, cases [index].max) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), at_max, 1);
        cr_assert_eq (rc, 0, "%s at max: %s", cases [index].key, s_error.message);
        kv_t too_long [] = { KSN (cases [index].key, text, cases [index].max + 1) };
        rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), too_long, 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, cases [index].key);
        kv_t empty [] = { KS (cases [index].key, "") };
        rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), empty, 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, cases [index].key);
    }
    kv_t key [] = { KSN ("key", text, 1024) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), key, 1), 0);
    cr_assert_eq (s_request->key_size, 1024);
    cr_assert_eq (strlen (s_request->key), 1024);
    //  client-address too long: invalid, and no reply address
    kv_t address [] = { KSN ("client-address", text, 257) };
    s_decode (s_request, &s_error, s_entire, COUNT (s_entire), address, 1);
    cr_assert_not (s_request->present & FIELD_CLIENT_ADDRESS);
    cr_assert_str_eq (s_request->client_address, "");
}

Test (request, key_must_be_utf8_str)
{
    struct { const char *bytes; size_t size; } bad [] = {
        { "\xff", 1 }, { "\xc0\x80", 2 }, { "\xed\xa0\x80", 3 }, { "\xf4\x90\x80\x80", 4 },
        { "ab\xe2\x82", 4 }, { "a\0b", 3 }, { "\x80", 1 }, { "\xf8\x88\x80\x80\x80", 5 },
    };
    for (size_t index = 0; index < COUNT (bad); index++) {
        kv_t change [] = { KSN ("key", bad [index].bytes, bad [index].size) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, "key");
    }
    const char *good = "ключ/日本/\xf0\x9f\x98\x80/\xf4\x8f\xbf\xbf";
    kv_t change [] = { KS ("key", good) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1), 0,
                  "%s", s_error.message);
    cr_assert_str_eq (s_request->key, good);
    cr_assert_eq (s_request->key_size, strlen (good));
    kv_t bin [] = { KBIN ("key", "abc", 3) };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), bin, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "key");
    kv_t nul_id [] = { KSN ("message-id", "a\0b", 3) };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), nul_id, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "message-id");
}

Test (request, handoff_and_unified_id_to_delete_nil)
{
    kv_t handoff [] = { KS ("handoff-node-name", "node07") };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), handoff, 1), 0);
    cr_assert (s_request->present & FIELD_HANDOFF_NODE_NAME);
    cr_assert_str_eq (s_request->handoff_node_name, "node07");

    const type_spec_t *destroy = &s_specs [5];
    cr_assert_eq (destroy->type, MSG_DESTROY_KEY);
    kv_t kvs [32];
    size_t count = s_spec_kvs (destroy, destroy->required, kvs);
    kv_t nil [] = { KNIL ("unified-id-to-delete"), KNIL ("handoff-node-name") };
    cr_assert_eq (s_decode (s_request, &s_error, kvs, count, nil, 2), 0, "%s", s_error.message);
    cr_assert_not (s_request->present & FIELD_UNIFIED_ID_TO_DELETE);
    cr_assert_not (s_request->present & FIELD_HANDOFF_NODE_NAME);
    kv_t value [] = { KU ("unified-id-to-delete", UINT64_MAX) };
    cr_assert_eq (s_decode (s_request, &s_error, kvs, count, value, 1), 0);
    cr_assert (s_request->present & FIELD_UNIFIED_ID_TO_DELETE);
    cr_assert_eq (s_request->unified_id_to_delete, UINT64_MAX);
    kv_t bad [] = { KS ("unified-id-to-delete", "all") };
    int rc = s_decode (s_request, &s_error, kvs, count, bad, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "unified-id-to-delete");
    kv_t nil_source [] = { KNIL ("source-node-name") };
    rc = s_decode (s_request, &s_error, kvs, count, nil_source, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "source-node-name");
}


//  --------------------------------------------------------------------------
//  Digests and timestamps

Test (request, digests)
{
    kv_t bin16 [] = { KBIN ("segment-md5-digest", s_md5_empty, 16), KBIN ("file-hash", s_md5_hello, 16) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), bin16, 2), 0);
    cr_assert (memcmp (s_request->segment_md5, s_md5_empty, 16) == 0);
    cr_assert (memcmp (s_request->file_hash, s_md5_hello, 16) == 0);

    static const uint8_t seventeen [17] = { 0 };
    const char *fields [] = { "segment-md5-digest", "file-hash" };
    for (size_t f = 0; f < 2; f++) {
        kv_t bad [] = {
            KS (fields [f], "not base64!!"),
            KS (fields [f], "1B2M2Y8AsgTpgAmY7PhCfg"),          //  padding missing
            KS (fields [f], "AAAAAAAAAAAAAAAAAAAA"),            //  15 bytes
            KS (fields [f], "AAAAAAAAAAAAAAAAAAAAAAA="),        //  17 bytes
            KS (fields [f], "1B2M2Y8AsgTpgAmY7PhCfg==\n"),
            KS (fields [f], ""),
            KBIN (fields [f], s_md5_empty, 15),
            KBIN (fields [f], seventeen, 17),
            KBIN (fields [f], seventeen, 0),
            KU (fields [f], 16),
        };
        for (size_t index = 0; index < COUNT (bad); index++) {
            int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), &bad [index], 1);
            ASSERT_FAILS_ON (s_request, &s_error, rc, fields [f]);
        }
    }
}

Test (request, timestamp_forms)
{
    struct { const char *text; int64_t usec; } good [] = {
        { "2026-11-21T23:34:52.123456Z", INT64_C (1795304092123456) },
        { "2026-11-21T23:34:52Z", INT64_C (1795304092000000) },
        { "2026-11-21T23:34:52.123456+00:00", INT64_C (1795304092123456) },
        { "2026-11-21T23:34:52.1Z", INT64_C (1795304092100000) },
        { "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)", INT64_C (1309441954720271) },
        { "datetime.datetime(2011, 6, 30, 13, 52, 34)", INT64_C (1309441954000000) },
        { "datetime.datetime(2011, 6, 30)", INT64_C (1309392000000000) },
    };
    for (size_t index = 0; index < COUNT (good); index++) {
        kv_t change [] = { KS ("timestamp-repr", good [index].text) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
        cr_assert_eq (rc, 0, "%s: %s", good [index].text, s_error.message);
        cr_assert_eq (s_request->timestamp, good [index].usec, "%s", good [index].text);
    }
    char long_text [200];
    memset (long_text, '1', sizeof long_text);
    long_text [sizeof long_text - 1] = '\0';
    kv_t bad [] = {
        KS ("timestamp-repr", "2026-13-01T00:00:00Z"),
        KS ("timestamp-repr", "yesterday"),
        KS ("timestamp-repr", ""),
        KS ("timestamp-repr", "2026-11-21T23:34:52+01:00"),
        KS ("timestamp-repr", long_text),
        KU ("timestamp-repr", 1309441954),
        KNIL ("timestamp-repr"),
    };
    for (size_t index = 0; index < COUNT (bad); index++) {
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), &bad [index], 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, "timestamp-repr");
    }
}


//  --------------------------------------------------------------------------
//  Meta

Test (request, meta_limits)
{
    //  Build meta maps with msgpack-c
    for (int entries = 63; entries <= 65; entries++) {
        msgpack_sbuffer meta;
        msgpack_sbuffer_init (&meta);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &meta, msgpack_sbuffer_write);
        msgpack_pack_map (&packer, entries);
        for (int index = 0; index < entries; index++) {
            char name [16];
            snprintf (name, sizeof name, "k%d", index);
            msgpack_pack_str (&packer, strlen (name));
            msgpack_pack_str_body (&packer, name, strlen (name));
            msgpack_pack_str (&packer, 1);
            msgpack_pack_str_body (&packer, "v", 1);
        }
        kv_t change [] = { KRAW ("meta", meta.data, meta.size) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
        if (entries <= 64) {
            cr_assert_eq (rc, 0, "%d entries: %s", entries, s_error.message);
            cr_assert_eq (s_request->meta_size, meta.size);
            cr_assert (memcmp (s_request->meta, meta.data, meta.size) == 0);
            cr_assert_eq (request_meta_validate (meta.data, meta.size), 0);
        }
        else {
            ASSERT_FAILS_ON (s_request, &s_error, rc, "meta");
            cr_assert_null (s_request->meta);
            cr_assert_eq (request_meta_validate (meta.data, meta.size), -1);
        }
        msgpack_sbuffer_destroy (&meta);
    }

    //  String sizes: 1024 accepted, 1025 refused, for keys and values
    char text [1025];
    memset (text, 'x', sizeof text);
    for (size_t size = 1024; size <= 1025; size++)
        for (int part = 0; part < 2; part++) {
            msgpack_sbuffer meta;
            msgpack_sbuffer_init (&meta);
            msgpack_packer packer;
            msgpack_packer_init (&packer, &meta, msgpack_sbuffer_write);
            msgpack_pack_map (&packer, 1);
            size_t key_size = part == 0? size: 1;
            size_t value_size = part == 1? size: 1;
            msgpack_pack_str (&packer, key_size);
            msgpack_pack_str_body (&packer, text, key_size);
            msgpack_pack_str (&packer, value_size);
            msgpack_pack_str_body (&packer, text, value_size);
            kv_t change [] = { KRAW ("meta", meta.data, meta.size) };
            int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
            if (size == 1024)
                cr_assert_eq (rc, 0, "%s", s_error.message);
            else
                ASSERT_FAILS_ON (s_request, &s_error, rc, "meta");
            cr_assert_eq (request_meta_validate (meta.data, meta.size), size == 1024? 0: -1);
            msgpack_sbuffer_destroy (&meta);
        }

    static const uint8_t int_value [] = { 0x81, 0xa1, 'a', 0x05 };
    static const uint8_t bin_value [] = { 0x81, 0xa1, 'a', 0xc4, 0x01, 'x' };
    static const uint8_t int_key [] = { 0x81, 0x05, 0xa1, 'a' };
    static const uint8_t nested [] = { 0x81, 0xa1, 'a', 0x81, 0xa1, 'b', 0xa1, 'c' };
    static const uint8_t duplicate [] = { 0x82, 0xa1, 'a', 0xa1, '1', 0xa1, 'a', 0xa1, '2' };
    static const uint8_t array [] = { 0x91, 0xa1, 'a' };
    struct { const uint8_t *bytes; size_t size; } bad [] = {
        { int_value, sizeof int_value }, { bin_value, sizeof bin_value },
        { int_key, sizeof int_key }, { nested, sizeof nested },
        { duplicate, sizeof duplicate }, { array, sizeof array },
    };
    for (size_t index = 0; index < COUNT (bad); index++) {
        kv_t change [] = { KRAW ("meta", bad [index].bytes, bad [index].size) };
        int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
        ASSERT_FAILS_ON (s_request, &s_error, rc, "meta");
        cr_assert_eq (request_meta_validate (bad [index].bytes, bad [index].size), -1);
    }
    kv_t string [] = { KS ("meta", "a=b") };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), string, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "meta");

    //  nil = absent; the empty map is a (valid, empty) meta
    kv_t nil [] = { KNIL ("meta") };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), nil, 1), 0);
    cr_assert_not (s_request->present & FIELD_META);
    cr_assert_null (s_request->meta);
    static const uint8_t empty [] = { 0x80 };
    kv_t empty_map [] = { KRAW ("meta", empty, 1) };
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), empty_map, 1), 0);
    cr_assert (s_request->present & FIELD_META);
    cr_assert_eq (s_request->meta_size, 1);

    //  request_meta_validate: exactly one map, nothing after it
    static const uint8_t trailing [] = { 0x81, 0xa1, 'a', 0xa1, 'b', 0xc0 };
    cr_assert_eq (request_meta_validate (s_meta_ab, sizeof s_meta_ab), 0);
    cr_assert_eq (request_meta_validate (trailing, sizeof trailing), -1);
    cr_assert_eq (request_meta_validate (s_meta_ab, sizeof s_meta_ab - 1), -1);
    cr_assert_eq (request_meta_validate (NULL, 0), -1);
}


//  --------------------------------------------------------------------------
//  Header shape

Test (request, not_a_map)
{
    static const uint8_t array [] = { 0x92, 0xa1, 'a', 0xa1, 'b' };
    static const uint8_t string [] = { 0xa4, 'p', 'i', 'n', 'g' };
    static const uint8_t integer [] = { 0x05 };
    static const uint8_t nil [] = { 0xc0 };
    struct { const uint8_t *bytes; size_t size; } cases [] = {
        { array, sizeof array }, { string, sizeof string }, { integer, 1 }, { nil, 1 },
    };
    for (size_t index = 0; index < COUNT (cases); index++) {
        int rc = request_decode (s_request, cases [index].bytes, cases [index].size, &s_error);
        cr_assert_eq (rc, -1);
        cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
        cr_assert (strncmp (s_error.message, "header: not a MessagePack map", 29) == 0,
                   "%s", s_error.message);
        cr_assert_eq (s_request->present, 0);
    }
    cr_assert_eq (request_decode (s_request, NULL, 0, &s_error), -1);
    cr_assert (s_names (&s_error, "header"));
    cr_assert_eq (request_decode (s_request, "", 0, &s_error), -1);
    cr_assert (s_names (&s_error, "header"));
}

Test (request, trailing_bytes)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_build (&buffer, s_entire, COUNT (s_entire), NULL, 0);
    msgpack_sbuffer_write (&buffer, "\xc0", 1);
    int rc = request_decode (s_request, buffer.data, buffer.size, &s_error);
    cr_assert_eq (rc, -1);
    cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
    cr_assert_str_eq (s_error.message, "header: trailing bytes after the map");
    //  The map was still read for its echo fields
    cr_assert (s_request->present & FIELD_CLIENT_ADDRESS);
    cr_assert_str_eq (s_request->client_address, "tcp://127.0.0.1:9000");
    cr_assert_str_eq (s_request->message_id, "msg-1");
    cr_assert_eq (s_request->type, MSG_ARCHIVE_KEY_ENTIRE);
    msgpack_sbuffer_destroy (&buffer);

    //  A second complete map is trailing bytes too
    msgpack_sbuffer_init (&buffer);
    s_build (&buffer, s_entire, COUNT (s_entire), NULL, 0);
    s_build (&buffer, s_entire, COUNT (s_entire), NULL, 0);
    cr_assert_eq (request_decode (s_request, buffer.data, buffer.size, &s_error), -1);
    cr_assert_str_eq (s_error.message, "header: trailing bytes after the map");
    msgpack_sbuffer_destroy (&buffer);
}

Test (request, non_string_keys)
{
    static const uint8_t int_value [] = { 0x01 };
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    //  Entire header plus {1: 1}: rebuild by hand to put an int key in
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 4);
    msgpack_pack_int (&packer, 42);
    msgpack_sbuffer_write (&buffer, (const char *) int_value, 1);
    const char *pairs [][2] = {
        { "message-type", "ping" }, { "message-id", "m1" }, { "client-tag", "t1" },
    };
    for (int index = 0; index < 3; index++) {
        msgpack_pack_str (&packer, strlen (pairs [index][0]));
        msgpack_pack_str_body (&packer, pairs [index][0], strlen (pairs [index][0]));
        msgpack_pack_str (&packer, strlen (pairs [index][1]));
        msgpack_pack_str_body (&packer, pairs [index][1], strlen (pairs [index][1]));
    }
    int rc = request_decode (s_request, buffer.data, buffer.size, &s_error);
    cr_assert_eq (rc, -1);
    cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
    cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
    cr_assert (strstr (s_error.message, "42"), "the key is named: %s", s_error.message);
    cr_assert_str_eq (s_request->message_id, "m1");
    cr_assert_eq (s_request->type, MSG_PING);
    msgpack_sbuffer_destroy (&buffer);

    //  bin, nil and array keys
    static const uint8_t bin_key [] = { 0x81, 0xc4, 0x01, 'k', 0x01 };
    static const uint8_t nil_key [] = { 0x81, 0xc0, 0x01 };
    static const uint8_t array_key [] = { 0x81, 0x90, 0x01 };
    cr_assert_eq (request_decode (s_request, bin_key, sizeof bin_key, &s_error), -1);
    cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
    cr_assert_eq (request_decode (s_request, nil_key, sizeof nil_key, &s_error), -1);
    cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
    cr_assert_eq (request_decode (s_request, array_key, sizeof array_key, &s_error), -1);
    cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
}

Test (request, duplicate_keys)
{
    kv_t twice [] = { KS ("key", "other") };
    //  s_build replaces, so append a duplicate by hand through KRAW of a
    //  whole extra entry: build base without key, then add key twice
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    kv_t base [COUNT (s_entire) + 1];
    memcpy (base, s_entire, sizeof s_entire);
    base [COUNT (s_entire)] = twice [0];
    //  Two "key" entries in base: s_build keeps both
    s_build (&buffer, base, COUNT (base), NULL, 0);
    int rc = request_decode (s_request, buffer.data, buffer.size, &s_error);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "key");
    cr_assert (strstr (s_error.message, "more than once"), "%s", s_error.message);
    msgpack_sbuffer_destroy (&buffer);

    //  A duplicate of a key the type ignores is ignored
    kv_t ping [] = {
        KS ("message-type", "ping"), KS ("message-id", "m"), KS ("key", "a"), KS ("key", "b")
    };
    cr_assert_eq (s_decode (s_request, &s_error, ping, COUNT (ping), NULL, 0), 0,
                  "%s", s_error.message);
}

Test (request, header_size_limit)
{
    //  {"message-type": "ping", "message-id": "m", "x": <long string>},
    //  exactly at the limit, then one byte over it
    for (size_t size = LIMIT_HEADER_MAX; size <= LIMIT_HEADER_MAX + 1; size++) {
        uint8_t *data = calloc (1, size);
        size_t pos = 0;
        data [pos++] = 0x83;
        data [pos++] = 0xac; memcpy (data + pos, "message-type", 12); pos += 12;
        data [pos++] = 0xa4; memcpy (data + pos, "ping", 4); pos += 4;
        data [pos++] = 0xaa; memcpy (data + pos, "message-id", 10); pos += 10;
        data [pos++] = 0xa1; data [pos++] = 'm';
        data [pos++] = 0xa1; data [pos++] = 'x';
        size_t body = size - pos - 5;
        data [pos++] = 0xdb;
        data [pos++] = (uint8_t) (body >> 24); data [pos++] = (uint8_t) (body >> 16);
        data [pos++] = (uint8_t) (body >> 8); data [pos++] = (uint8_t) body;
        memset (data + pos, 'a', body);
        int rc = request_decode (s_request, data, size, &s_error);
        if (size == LIMIT_HEADER_MAX)
            cr_assert_eq (rc, 0, "%s", s_error.message);
        else {
            cr_assert_eq (rc, -1);
            cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
        }
        free (data);
    }
}

Test (request, huge_declared_containers_allocate_little)
{
    static const uint8_t map32 [] = { 0xdf, 0x10, 0x00, 0x00, 0x00 };
    static const uint8_t array32 [] = { 0xdd, 0x7f, 0xff, 0xff, 0xff };
    static const uint8_t array32_max [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t map16 [] = { 0xde, 0xff, 0xff };
    //  A plausible header whose meta declares 2^28 entries
    static const uint8_t inner [] = {
        0x83, 0xac, 'm','e','s','s','a','g','e','-','t','y','p','e', 0xa4, 'p','i','n','g',
        0xaa, 'm','e','s','s','a','g','e','-','i','d', 0xa1, '1',
        0xa4, 'm','e','t','a', 0xdf, 0x10, 0x00, 0x00, 0x00
    };
    //  Nested arrays each declaring 2^24 elements
    uint8_t nested [5 * 30];
    for (size_t index = 0; index < 30; index++)
        memcpy (nested + index * 5, "\xdd\x01\x00\x00\x00", 5);
    struct { const uint8_t *bytes; size_t size; } cases [] = {
        { map32, sizeof map32 }, { array32, sizeof array32 }, { array32_max, sizeof array32_max },
        { map16, sizeof map16 }, { inner, sizeof inner }, { nested, sizeof nested },
    };
    for (size_t index = 0; index < COUNT (cases); index++) {
#ifndef S_ASAN
        s_largest_malloc = 0;
#endif
        int rc = request_decode (s_request, cases [index].bytes, cases [index].size, &s_error);
        cr_assert_eq (rc, -1);
        cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
        cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
#ifndef S_ASAN
        cr_assert_lt (s_largest_malloc, 1024 * 1024, "case %zu allocated %zu bytes",
                      index, s_largest_malloc);
#endif
    }
    //  The bound is proportional to the input: an array of 199,995 zeros
    //  (200,000 bytes) reaches msgpack-c, which allocates for it, and is
    //  then refused as not a map
    size_t size = 200000;
    uint8_t *data = calloc (1, size);
    data [0] = 0xdd;
    data [1] = 0x00; data [2] = 0x03; data [3] = 0x0d; data [4] = 0x3b;   //  199995
#ifndef S_ASAN
    s_largest_malloc = 0;
#endif
    cr_assert_eq (request_decode (s_request, data, size, &s_error), -1);
    cr_assert (strstr (s_error.message, "not a MessagePack map"), "%s", s_error.message);
#ifndef S_ASAN
    cr_assert_gt (s_largest_malloc, 24 * (size - 5) - 1, "msgpack-c did allocate");
    cr_assert_lt (s_largest_malloc, 64 * size, "allocated %zu bytes", s_largest_malloc);
#endif
    free (data);
}

Test (request, nesting_depth)
{
    //  {"message-type": "ping", "message-id": "m", "x": [[[...1...]]]}
    for (int depth = 30; depth <= 40; depth++) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        kv_t base [] = { KS ("message-type", "ping"), KS ("message-id", "m") };
        uint8_t nest [64];
        for (int index = 0; index < depth; index++)
            nest [index] = 0x91;
        nest [depth] = 0x01;
        kv_t extra [] = { KRAW ("x", nest, (size_t) depth + 1) };
        s_build (&buffer, base, COUNT (base), extra, 1);
        int rc = request_decode (s_request, buffer.data, buffer.size, &s_error);
        //  The map plus 31 arrays is as deep as msgpack-c goes
        if (depth <= 31)
            cr_assert_eq (rc, 0, "depth %d: %s", depth, s_error.message);
        else {
            cr_assert_eq (rc, -1, "depth %d", depth);
            cr_assert (s_names (&s_error, "header"), "%s", s_error.message);
        }
        msgpack_sbuffer_destroy (&buffer);
    }
}

Test (request, every_prefix_fails_cleanly)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_build (&buffer, s_entire, COUNT (s_entire), NULL, 0);
    cr_assert_eq (request_decode (s_request, buffer.data, buffer.size, &s_error), 0);
    for (size_t size = 0; size < buffer.size; size++) {
        //  Copy into an exact-size allocation so ASan sees any over-read
        uint8_t *prefix = malloc (size? size: 1);
        memcpy (prefix, buffer.data, size);
        int rc = request_decode (s_request, prefix, size, &s_error);
        cr_assert_eq (rc, -1, "prefix of %zu bytes", size);
        cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
        cr_assert (s_error.message [0]);
        free (prefix);
    }
    msgpack_sbuffer_destroy (&buffer);
}

Test (request, random_bytes_never_crash)
{
    msgpack_sbuffer valid;
    msgpack_sbuffer_init (&valid);
    s_build (&valid, s_entire, COUNT (s_entire), NULL, 0);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    request_t *again = request_new ();
    request_error_t again_error;
    size_t accepted = 0;
    for (int round = 0; round < 100000; round++) {
        size_t size;
        uint8_t *data;
        uint64_t mode = s_random (&state) % 3;
        if (mode == 0) {
            //  Pure noise
            size = s_random (&state) % 96;
            data = malloc (size? size: 1);
            for (size_t index = 0; index < size; index++)
                data [index] = (uint8_t) s_random (&state);
        }
        else {
            //  A valid header with a few bytes changed, maybe cut short
            size = valid.size;
            if (mode == 2)
                size = s_random (&state) % (valid.size + 1);
            data = malloc (size? size: 1);
            memcpy (data, valid.data, size);
            int changes = 1 + (int) (s_random (&state) % 4);
            for (int change = 0; change < changes && size; change++)
                data [s_random (&state) % size] = (uint8_t) s_random (&state);
        }
        memset (&s_error, 0, sizeof s_error);
        int rc = request_decode (s_request, data, size, &s_error);
        if (rc == 0) {
            //  Whatever is accepted must survive encode and decode
            accepted++;
            msgpack_sbuffer buffer;
            msgpack_sbuffer_init (&buffer);
            cr_assert_eq (request_encode (s_request, &buffer), 0);
            cr_assert_eq (request_decode (again, buffer.data, buffer.size, &again_error), 0,
                          "round %d: %s", round, again_error.message);
            s_assert_same (s_request, again);
            msgpack_sbuffer_destroy (&buffer);
        }
        else {
            cr_assert_eq (rc, -1);
            cr_assert (s_error.result == RESULT_INVALID_REQUEST
                    || s_error.result == RESULT_UNKNOWN_MESSAGE_TYPE);
            cr_assert (s_error.message [0]);
            cr_assert_lt (strlen (s_error.message), sizeof s_error.message);
        }
        free (data);
    }
    cr_assert_gt (accepted, 0, "some mutations stay valid");
    request_destroy (&again);
    msgpack_sbuffer_destroy (&valid);
}


//  --------------------------------------------------------------------------
//  Types and keys the codec does not know

Test (request, unknown_message_type)
{
    kv_t change [] = { KS ("message-type", "archive-key-everything") };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), change, 1);
    cr_assert_eq (rc, -1);
    cr_assert_eq (s_error.result, RESULT_UNKNOWN_MESSAGE_TYPE);
    cr_assert_str_eq (s_error.message, "message-type: unknown type 'archive-key-everything'");
    cr_assert_eq (s_request->type, MSG_UNKNOWN);
    cr_assert_str_eq (s_request->message_type_name, "archive-key-everything");
    cr_assert_str_eq (s_request->message_id, "msg-1");
    cr_assert_str_eq (s_request->client_tag, "tag-1");
    cr_assert_str_eq (s_request->client_address, "tcp://127.0.0.1:9000");
    cr_assert_str_eq (s_request->user_request_id, "req-1");

    //  A long or binary name is kept truncated and printable
    char name [200];
    memset (name, 'z', sizeof name);
    name [3] = '\n';
    kv_t long_name [] = { KSN ("message-type", name, sizeof name) };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), long_name, 1);
    cr_assert_eq (s_error.result, RESULT_UNKNOWN_MESSAGE_TYPE);
    cr_assert_eq (strlen (s_request->message_type_name), LIMIT_MESSAGE_TYPE_MAX);
    cr_assert_eq (s_request->message_type_name [3], '?');
    cr_assert_lt (strlen (s_error.message), sizeof s_error.message);

    //  An invalid echo field outranks the unknown type
    kv_t both [] = { KS ("message-type", "nope"), KBOOL ("client-tag") };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), both, 2);
    cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
    cr_assert (s_names (&s_error, "client-tag"));
    cr_assert_str_eq (s_request->message_type_name, "nope");

    kv_t wrong [] = { KU ("message-type", 1) };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), wrong, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "message-type");
}

Test (request, unknown_and_unused_keys_are_ignored)
{
    static const uint8_t junk [] = { 0x93, 0x01, 0xc0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 };
    kv_t extra [] = {
        KRAW ("x-extra", junk, sizeof junk), KBOOL ("unified_id"), KFLOAT ("sequence-num"),
        KS ("unified-id-to-delete", "garbage"),
    };
    int rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), extra, COUNT (extra));
    cr_assert_eq (rc, 0, "%s", s_error.message);
    cr_assert_eq (s_request->sequence_num, 0, "entire ignores sequence-num");
    cr_assert_not (s_request->present & (FIELD_SEQUENCE_NUM | FIELD_UNIFIED_ID_TO_DELETE));

    //  archive-key-next does not use file-size, file-hash, meta
    const type_spec_t *next = &s_specs [2];
    cr_assert_eq (next->type, MSG_ARCHIVE_KEY_NEXT);
    kv_t kvs [32];
    size_t count = s_spec_kvs (next, next->required, kvs);
    kv_t garbage [] = { KS ("file-size", "garbage"), KBOOL ("file-hash"), KU ("meta", 5) };
    rc = s_decode (s_request, &s_error, kvs, count, garbage, COUNT (garbage));
    cr_assert_eq (rc, 0, "%s", s_error.message);
    cr_assert_not (s_request->present & (FIELD_FILE_SIZE | FIELD_FILE_HASH | FIELD_META));
    cr_assert_null (s_request->meta);
}

Test (request, web_writer_start_legacy_keys)
{
    kv_t legacy [] = {
        KS ("message-type", "web-writer-start"), KS ("message-id", "m"),
        KS ("source_node_name", "node03"),
        KS ("timestamp_repr", "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)"),
        KU ("unified_id", 5),
    };
    int rc = s_decode (s_request, &s_error, legacy, COUNT (legacy), NULL, 0);
    cr_assert_eq (rc, 0, "%s", s_error.message);
    cr_assert_str_eq (s_request->source_node_name, "node03");
    cr_assert_eq (s_request->timestamp, INT64_C (1309441954720271));
    cr_assert (s_request->present & FIELD_SOURCE_NODE_NAME);
    cr_assert (s_request->present & FIELD_TIMESTAMP);

    //  Modern spellings, and a mix
    kv_t modern [] = { KOMIT ("source_node_name"), KS ("source-node-name", "node04") };
    rc = s_decode (s_request, &s_error, legacy, COUNT (legacy), modern, 2);
    cr_assert_eq (rc, 0, "%s", s_error.message);
    cr_assert_str_eq (s_request->source_node_name, "node04");

    //  When both are given, the hyphenated spelling wins
    kv_t both [] = { KS ("source-node-name", "node05") };
    rc = s_decode (s_request, &s_error, legacy, COUNT (legacy), both, 1);
    cr_assert_eq (rc, 0, "%s", s_error.message);
    cr_assert_str_eq (s_request->source_node_name, "node05");

    //  Errors name the spelling that was sent
    kv_t bad [] = { KS ("timestamp_repr", "never") };
    rc = s_decode (s_request, &s_error, legacy, COUNT (legacy), bad, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "timestamp_repr");
    kv_t missing [] = { KOMIT ("source_node_name") };
    rc = s_decode (s_request, &s_error, legacy, COUNT (legacy), missing, 1);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "source-node-name");

    //  Other types do not read legacy spellings
    kv_t entire_legacy [] = { KOMIT ("timestamp-repr"), KS ("timestamp_repr", TS_ISO) };
    rc = s_decode (s_request, &s_error, s_entire, COUNT (s_entire), entire_legacy, 2);
    ASSERT_FAILS_ON (s_request, &s_error, rc, "timestamp-repr");
}

Test (request, reset_and_destroy)
{
    cr_assert_eq (s_decode (s_request, &s_error, s_entire, COUNT (s_entire), NULL, 0), 0);
    cr_assert_not_null (s_request->meta);
    request_reset (s_request);
    cr_assert_null (s_request->meta);
    cr_assert_eq (s_request->present, 0);
    cr_assert_eq (s_request->type, MSG_UNKNOWN);
    request_t *other = NULL;
    request_destroy (&other);       //  accepts NULL
    cr_assert_null (other);
}


//  --------------------------------------------------------------------------
//  cluster-fingerprint: any type may carry it; encoded and decoded as is

Test (request, cluster_fingerprint_round_trip)
{
    request_t *sent = request_new ();
    sent->type = MSG_PING;
    snprintf (sent->message_id, sizeof sent->message_id, "m1");
    snprintf (sent->cluster_fingerprint, sizeof sent->cluster_fingerprint, "local:k8:n10:s10485760:0a1b2c3d");
    sent->present = FIELD_MESSAGE_ID | FIELD_CLUSTER_FINGERPRINT;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (request_encode (sent, &buffer), 0);
    cr_assert_eq (request_decode (s_request, buffer.data, buffer.size, &s_error), 0, "%s", s_error.message);
    cr_assert (s_request->present & FIELD_CLUSTER_FINGERPRINT);
    cr_assert_str_eq (s_request->cluster_fingerprint, "local:k8:n10:s10485760:0a1b2c3d");
    msgpack_sbuffer_destroy (&buffer);

    //  Absent: nothing set
    sent->present &= ~FIELD_CLUSTER_FINGERPRINT;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (request_encode (sent, &buffer), 0);
    cr_assert_eq (request_decode (s_request, buffer.data, buffer.size, &s_error), 0);
    cr_assert_not (s_request->present & FIELD_CLUSTER_FINGERPRINT);
    cr_assert_str_eq (s_request->cluster_fingerprint, "");
    msgpack_sbuffer_destroy (&buffer);
    request_destroy (&sent);
}

Test (request, cluster_fingerprint_checked)
{
    //  Empty, or not a string: invalid-request naming the field
    uint8_t empty [] = { 0x83, 0xac, 'm','e','s','s','a','g','e','-','t','y','p','e', 0xa4, 'p','i','n','g',
                         0xaa, 'm','e','s','s','a','g','e','-','i','d', 0xa1, 'x',
                         0xb3, 'c','l','u','s','t','e','r','-','f','i','n','g','e','r','p','r','i','n','t', 0xa0 };
    cr_assert_eq (request_decode (s_request, empty, sizeof empty, &s_error), -1);
    cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
    cr_assert_not_null (strstr (s_error.message, "cluster-fingerprint"), "%s", s_error.message);
}
