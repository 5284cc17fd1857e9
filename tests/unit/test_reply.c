/*  =========================================================================
    test_reply - reply_prepare / reply_encode / reply_decode

    Every reply type is encoded and decoded back; the encoded bytes are also
    inspected with msgpack-c directly, to check what a sender in another
    language sees (nil vs absent, base64 digests, ISO timestamps).
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "timestamp.h"

#define COUNT(a)    (sizeof (a) / sizeof (a) [0])

static const uint8_t s_md5_hello [16] = {
    0x5d, 0x41, 0x40, 0x2a, 0xbc, 0x4b, 0x2a, 0x76, 0xb9, 0x71, 0x9d, 0x91, 0x10, 0x17, 0xc5, 0x92
};
static const uint8_t s_md5_empty [16] = {
    0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e
};
//  {"a": "1", "b": "2"}
static const uint8_t s_meta_ab [] = { 0x82, 0xa1, 'a', 0xa1, '1', 0xa1, 'b', 0xa1, '2' };
//  {"requests": {"ping": 3}, "bytes-stored": 1099511627776}
static const uint8_t s_stats [] = {
    0x82, 0xa8, 'r','e','q','u','e','s','t','s', 0x81, 0xa4, 'p','i','n','g', 0x03,
    0xac, 'b','y','t','e','s','-','s','t','o','r','e','d',
    0xcf, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00
};

static reply_t *s_reply;
static reply_t *s_decoded;
static request_t *s_request;

static void
s_setup (void)
{
    s_reply = reply_new ();
    s_decoded = reply_new ();
    s_request = request_new ();
    cr_assert (s_reply && s_decoded && s_request);
    s_request->type = MSG_ARCHIVE_KEY_ENTIRE;
    strcpy (s_request->message_id, "msg-7");
    strcpy (s_request->client_tag, "tag-7");
    strcpy (s_request->client_address, "tcp://127.0.0.1:9001");
    strcpy (s_request->user_request_id, "trace-7");
    s_request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
                       | FIELD_USER_REQUEST_ID;
}

static void
s_teardown (void)
{
    reply_destroy (&s_reply);
    reply_destroy (&s_decoded);
    request_destroy (&s_request);
}

TestSuite (reply, .init = s_setup, .fini = s_teardown);

//  Encode reply into a fresh buffer (caller destroys)
static void
s_encode (const reply_t *reply, msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_init (buffer);
    reply_encode (reply, buffer);
    cr_assert_gt (buffer->size, 0);
}

//  Find key in an unpacked map; NULL if absent
static const msgpack_object *
s_lookup (const msgpack_object *map, const char *key)
{
    cr_assert_eq (map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object *k = &map->via.map.ptr [index].key;
        cr_assert_eq (k->type, MSGPACK_OBJECT_STR);
        if (k->via.str.size == strlen (key) && memcmp (k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr [index].val;
    }
    return NULL;
}

static bool
s_str_is (const msgpack_object *object, const char *text)
{
    return object && object->type == MSGPACK_OBJECT_STR
        && object->via.str.size == strlen (text)
        && memcmp (object->via.str.ptr, text, object->via.str.size) == 0;
}

static void
s_assert_same (const reply_t *a, const reply_t *b)
{
    cr_assert_str_eq (a->message_type, b->message_type);
    cr_assert_str_eq (a->message_id, b->message_id);
    cr_assert_str_eq (a->client_tag, b->client_tag);
    cr_assert_str_eq (a->client_address, b->client_address);
    cr_assert_str_eq (a->user_request_id, b->user_request_id);
    cr_assert_eq (a->result, b->result);
    if (a->result == RESULT_SUCCESS)
        cr_assert_str_eq (b->error_message, "");
    else
        cr_assert_str_eq (a->error_message, b->error_message);
    cr_assert_eq (a->fields, b->fields, "fields %x != %x", a->fields, b->fields);
    uint32_t f = a->fields;
    if (f & REPLY_FIELD_UNIFIED_ID)     cr_assert_eq (a->unified_id, b->unified_id);
    if (f & REPLY_FIELD_TIMESTAMP)      cr_assert_eq (a->timestamp, b->timestamp);
    if (f & REPLY_FIELD_CONJOINED_PART) cr_assert_eq (a->conjoined_part, b->conjoined_part);
    if (f & REPLY_FIELD_SEGMENT_NUM)    cr_assert_eq (a->segment_num, b->segment_num);
    if (f & REPLY_FIELD_FILE_SIZE)      cr_assert_eq (a->file_size, b->file_size);
    if (f & REPLY_HAS_FILE_ADLER32)     cr_assert_eq (a->file_adler32, b->file_adler32);
    if (f & REPLY_FIELD_FILE_HASH)      cr_assert (memcmp (a->file_hash, b->file_hash, 16) == 0);
    cr_assert_eq (a->meta_size, b->meta_size);
    if (a->meta_size)                   cr_assert (memcmp (a->meta, b->meta, a->meta_size) == 0);
    if (f & REPLY_FIELD_SEQUENCE_COUNT) cr_assert_eq (a->sequence_count, b->sequence_count);
    if (f & REPLY_FIELD_SEQUENCE_NUM)   cr_assert_eq (a->sequence_num, b->sequence_num);
    if (f & REPLY_FIELD_SEGMENT_SIZE)   cr_assert_eq (a->segment_size, b->segment_size);
    if (f & REPLY_FIELD_ZFEC_PADDING_SIZE) cr_assert_eq (a->zfec_padding_size, b->zfec_padding_size);
    if (f & REPLY_FIELD_SEGMENT_MD5)    cr_assert (memcmp (a->segment_md5, b->segment_md5, 16) == 0);
    if (f & REPLY_HAS_SEGMENT_ADLER32)  cr_assert_eq (a->segment_adler32, b->segment_adler32);
    if (f & REPLY_FIELD_COMPLETED)      cr_assert_eq (a->completed, b->completed);
    if (f & REPLY_FIELD_NODE_NAME)      cr_assert_str_eq (a->node_name, b->node_name);
    if (f & REPLY_FIELD_VERSION)        cr_assert_str_eq (a->version, b->version);
    if (f & REPLY_FIELD_UPTIME)         cr_assert_eq (a->uptime_seconds, b->uptime_seconds);
    cr_assert_eq (a->stats_size, b->stats_size);
    if (a->stats_size)                  cr_assert (memcmp (a->stats, b->stats, a->stats_size) == 0);
}

//  Fill the fields proto/PROTOCOL.md lists for the reply to type
static void
s_fill_fields (reply_t *reply, message_type_t type, bool with_optional)
{
    switch (type) {
        case MSG_DESTROY_KEY:
            reply->fields |= REPLY_FIELD_UNIFIED_ID;
            reply->unified_id = UINT64_MAX;
            break;
        case MSG_PING:
            reply->fields |= REPLY_FIELD_NODE_NAME | REPLY_FIELD_VERSION | REPLY_FIELD_UPTIME;
            strcpy (reply->node_name, "node01");
            strcpy (reply->version, "0.1.0");
            reply->uptime_seconds = 86400ull * 365;
            break;
        case MSG_STATS:
            reply->fields |= REPLY_FIELD_STATS;
            cr_assert_eq (reply_set_stats (reply, s_stats, sizeof s_stats), 0);
            break;
        case MSG_RETRIEVE_KEY_START:
        case MSG_RETRIEVE_KEY_NEXT:
            reply->fields |= REPLY_FIELDS_RETRIEVE;
            reply->unified_id = (UINT64_C (1) << 63) + 5;
            reply->timestamp = INT64_C (1795304092123456);
            reply->conjoined_part = 2;
            reply->segment_num = 10;
            reply->file_size = UINT64_C (1) << 35;
            reply->file_hash [0] = 1;
            memcpy (reply->file_hash, s_md5_empty, 16);
            reply->sequence_count = 4;
            reply->sequence_num = type == MSG_RETRIEVE_KEY_START? 0: 3;
            reply->segment_size = 10 * 1024 * 1024;
            reply->zfec_padding_size = 6;
            memcpy (reply->segment_md5, s_md5_hello, 16);
            reply->completed = type == MSG_RETRIEVE_KEY_NEXT;
            if (with_optional) {
                reply->fields |= REPLY_HAS_FILE_ADLER32 | REPLY_HAS_SEGMENT_ADLER32;
                reply->file_adler32 = 0xFFFFFFFFu;
                reply->segment_adler32 = 0x80000000u;
                cr_assert_eq (reply_set_meta (reply, s_meta_ab, sizeof s_meta_ab), 0);
            }
            break;
        default:
            break;
    }
}


//  --------------------------------------------------------------------------

Test (reply, round_trip_every_reply_type)
{
    for (int type = MSG_UNKNOWN + 1; type < MSG_TYPE_COUNT; type++)
        for (int variant = 0; variant < 3; variant++) {
            s_request->type = (message_type_t) type;
            bool success = variant < 2;
            reply_prepare (s_reply, s_request, success? RESULT_SUCCESS: RESULT_NOT_FOUND,
                           success? NULL: "key: not found");
            if (success)
                s_fill_fields (s_reply, (message_type_t) type, variant == 0);
            msgpack_sbuffer buffer;
            s_encode (s_reply, &buffer);
            int rc = reply_decode (s_decoded, buffer.data, buffer.size);
            cr_assert_eq (rc, 0, "type %s variant %d", message_type_name (type), variant);
            s_assert_same (s_reply, s_decoded);
            cr_assert_str_eq (s_decoded->message_type, message_type_reply_name (type));
            message_type_t back = message_type_from_reply_name (s_decoded->message_type,
                                                                strlen (s_decoded->message_type));
            cr_assert_eq ((int) back, type == MSG_ARCHIVE_KEY_ENTIRE? (int) MSG_ARCHIVE_KEY_FINAL: type);
            msgpack_sbuffer_destroy (&buffer);
        }
}

Test (reply, envelope_as_a_sender_sees_it)
{
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, NULL);
    msgpack_sbuffer buffer;
    s_encode (s_reply, &buffer);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *map = &unpacked.data;
    cr_assert_eq (map->via.map.size, 7);
    cr_assert (s_str_is (s_lookup (map, "message-type"), "archive-key-final-reply"));
    cr_assert (s_str_is (s_lookup (map, "message-id"), "msg-7"));
    cr_assert (s_str_is (s_lookup (map, "client-tag"), "tag-7"));
    cr_assert (s_str_is (s_lookup (map, "client-address"), "tcp://127.0.0.1:9001"));
    cr_assert (s_str_is (s_lookup (map, "user-request-id"), "trace-7"));
    cr_assert (s_str_is (s_lookup (map, "result"), "success"));
    const msgpack_object *error = s_lookup (map, "error-message");
    cr_assert (error && error->type == MSGPACK_OBJECT_NIL, "error-message is nil on success");
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);

    //  No client-address, no user-request-id: nil and absent
    s_request->present &= ~(FIELD_CLIENT_ADDRESS | FIELD_USER_REQUEST_ID);
    s_request->client_address [0] = '\0';
    s_request->user_request_id [0] = '\0';
    reply_prepare (s_reply, s_request, RESULT_INVALID_REQUEST, "segment-num: 0 is out of range 1..255");
    s_encode (s_reply, &buffer);
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    map = &unpacked.data;
    const msgpack_object *address = s_lookup (map, "client-address");
    cr_assert (address && address->type == MSGPACK_OBJECT_NIL);
    cr_assert_null (s_lookup (map, "user-request-id"));
    cr_assert (s_str_is (s_lookup (map, "result"), "invalid-request"));
    cr_assert (s_str_is (s_lookup (map, "error-message"), "segment-num: 0 is out of range 1..255"));
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
}

Test (reply, retrieval_fields_as_a_sender_sees_them)
{
    s_request->type = MSG_RETRIEVE_KEY_START;
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, NULL);
    s_fill_fields (s_reply, MSG_RETRIEVE_KEY_START, false);
    msgpack_sbuffer buffer;
    s_encode (s_reply, &buffer);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *map = &unpacked.data;
    cr_assert_eq (map->via.map.size, 7 + 15);
    cr_assert (s_str_is (s_lookup (map, "message-type"), "retrieve-key-start-reply"));
    cr_assert (s_str_is (s_lookup (map, "timestamp-repr"), "2026-11-21T23:34:52.123456Z"));
    cr_assert (s_str_is (s_lookup (map, "segment-md5-digest"), "XUFAKrxLKna5cZ2REBfFkg=="));
    cr_assert (s_str_is (s_lookup (map, "file-hash"), "1B2M2Y8AsgTpgAmY7PhCfg=="));
    const char *nil_keys [] = { "file-adler32", "segment-adler32", "meta" };
    for (size_t index = 0; index < COUNT (nil_keys); index++) {
        const msgpack_object *value = s_lookup (map, nil_keys [index]);
        cr_assert (value && value->type == MSGPACK_OBJECT_NIL, "%s is nil", nil_keys [index]);
    }
    const msgpack_object *uid = s_lookup (map, "unified-id");
    cr_assert (uid && uid->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq (uid->via.u64, (UINT64_C (1) << 63) + 5);
    const msgpack_object *completed = s_lookup (map, "completed");
    cr_assert (completed && completed->type == MSGPACK_OBJECT_BOOLEAN && !completed->via.boolean);
    msgpack_unpacked_destroy (&unpacked);

    //  Decoded back: the nil adlers leave their HAS bits clear
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    cr_assert_eq (s_decoded->fields, REPLY_FIELDS_RETRIEVE);
    cr_assert_null (s_decoded->meta);
    msgpack_sbuffer_destroy (&buffer);

    //  With values: meta raw, adlers as numbers
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, NULL);
    s_fill_fields (s_reply, MSG_RETRIEVE_KEY_START, true);
    s_encode (s_reply, &buffer);
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *meta = s_lookup (&unpacked.data, "meta");
    cr_assert (meta && meta->type == MSGPACK_OBJECT_MAP && meta->via.map.size == 2);
    const msgpack_object *adler = s_lookup (&unpacked.data, "file-adler32");
    cr_assert (adler && adler->type == MSGPACK_OBJECT_POSITIVE_INTEGER && adler->via.u64 == 0xFFFFFFFFu);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
}

Test (reply, reply_type_names)
{
    //  Unknown type as sent
    request_t *unknown = request_new ();
    strcpy (unknown->message_type_name, "archive-key-everything");
    reply_prepare (s_reply, unknown, RESULT_UNKNOWN_MESSAGE_TYPE,
                   "message-type: unknown type 'archive-key-everything'");
    cr_assert_str_eq (s_reply->message_type, "archive-key-everything-reply");
    //  Longest name that can be stored still fits
    memset (unknown->message_type_name, 'q', LIMIT_MESSAGE_TYPE_MAX);
    unknown->message_type_name [LIMIT_MESSAGE_TYPE_MAX] = '\0';
    reply_prepare (s_reply, unknown, RESULT_UNKNOWN_MESSAGE_TYPE, "x");
    cr_assert_eq (strlen (s_reply->message_type), LIMIT_MESSAGE_TYPE_MAX + 6);
    cr_assert (strcmp (s_reply->message_type + LIMIT_MESSAGE_TYPE_MAX, "-reply") == 0);
    //  No type readable
    unknown->message_type_name [0] = '\0';
    reply_prepare (s_reply, unknown, RESULT_INVALID_REQUEST, "header: not a MessagePack map");
    cr_assert_str_eq (s_reply->message_type, "error-reply");
    request_destroy (&unknown);
    //  No request at all
    reply_prepare (s_reply, NULL, RESULT_INVALID_REQUEST, "header: truncated");
    cr_assert_str_eq (s_reply->message_type, "error-reply");
    cr_assert_str_eq (s_reply->message_id, "");
    cr_assert_str_eq (s_reply->error_message, "header: truncated");
    msgpack_sbuffer buffer;
    s_encode (s_reply, &buffer);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    cr_assert_str_eq (s_decoded->message_type, "error-reply");
    cr_assert_eq (s_decoded->result, RESULT_INVALID_REQUEST);
    msgpack_sbuffer_destroy (&buffer);
}

Test (reply, error_message_rules)
{
    //  A failure without a message gets the result name
    reply_prepare (s_reply, s_request, RESULT_IO_ERROR, NULL);
    cr_assert_str_eq (s_reply->error_message, "io-error");
    reply_prepare (s_reply, s_request, RESULT_OVERLOADED, "");
    cr_assert_str_eq (s_reply->error_message, "overloaded");
    //  Success carries nil whatever was passed
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, "ignored");
    msgpack_sbuffer buffer;
    s_encode (s_reply, &buffer);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    cr_assert_str_eq (s_decoded->error_message, "");
    msgpack_sbuffer_destroy (&buffer);
    //  A long message is cut at a character boundary
    char text [600] = "";
    while (strlen (text) + 2 < sizeof text)
        strcat (text, "é");     //  two bytes each
    strcat (text, "x");
    reply_prepare (s_reply, s_request, RESULT_INVALID_REQUEST, text);
    size_t size = strlen (s_reply->error_message);
    cr_assert_lt (size, sizeof s_reply->error_message);
    cr_assert_eq (size % 2, 0, "no half character at the end (%zu bytes)", size);
    cr_assert_gt (size, 250);
}

Test (reply, echo_fields_come_from_present_bits_only)
{
    s_request->present = FIELD_MESSAGE_ID;
    reply_prepare (s_reply, s_request, RESULT_INVALID_REQUEST, "client-tag: required with client-address");
    cr_assert_str_eq (s_reply->message_id, "msg-7");
    cr_assert_str_eq (s_reply->client_tag, "");
    cr_assert_str_eq (s_reply->client_address, "");
    cr_assert_str_eq (s_reply->user_request_id, "");
}

Test (reply, decode_accepts_bin_digests_and_legacy_forms)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 6);
    msgpack_pack_str (&packer, 12); msgpack_pack_str_body (&packer, "message-type", 12);
    msgpack_pack_str (&packer, 24); msgpack_pack_str_body (&packer, "retrieve-key-start-reply", 24);
    msgpack_pack_str (&packer, 6); msgpack_pack_str_body (&packer, "result", 6);
    msgpack_pack_str (&packer, 7); msgpack_pack_str_body (&packer, "success", 7);
    msgpack_pack_str (&packer, 18); msgpack_pack_str_body (&packer, "segment-md5-digest", 18);
    msgpack_pack_bin (&packer, 16); msgpack_pack_bin_body (&packer, s_md5_hello, 16);
    msgpack_pack_str (&packer, 14); msgpack_pack_str_body (&packer, "timestamp-repr", 14);
    msgpack_pack_str (&packer, 27); msgpack_pack_str_body (&packer, "2026-11-21T23:34:52.123456Z", 27);
    msgpack_pack_str (&packer, 15); msgpack_pack_str_body (&packer, "segment-adler32", 15);
    msgpack_pack_int32 (&packer, -1);
    msgpack_pack_str (&packer, 7); msgpack_pack_str_body (&packer, "x-extra", 7);
    msgpack_pack_array (&packer, 0);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    cr_assert (memcmp (s_decoded->segment_md5, s_md5_hello, 16) == 0);
    cr_assert_eq (s_decoded->timestamp, INT64_C (1795304092123456));
    cr_assert_eq (s_decoded->segment_adler32, 0xFFFFFFFFu);
    cr_assert_eq (s_decoded->fields, REPLY_FIELD_SEGMENT_MD5 | REPLY_FIELD_TIMESTAMP
                  | REPLY_FIELD_SEGMENT_ADLER32 | REPLY_HAS_SEGMENT_ADLER32);
    cr_assert_str_eq (s_decoded->message_id, "");
    msgpack_sbuffer_destroy (&buffer);
}

//  Pack a small reply map from pairs of raw key and value bytes
static void
s_pack_pairs (msgpack_sbuffer *buffer, const char *pairs [][2], size_t count)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, count);
    for (size_t index = 0; index < count; index++) {
        msgpack_pack_str (&packer, strlen (pairs [index][0]));
        msgpack_pack_str_body (&packer, pairs [index][0], strlen (pairs [index][0]));
        if (pairs [index][1])
            msgpack_pack_str (&packer, strlen (pairs [index][1])),
            msgpack_pack_str_body (&packer, pairs [index][1], strlen (pairs [index][1]));
        else
            msgpack_pack_true (&packer);        //  NULL: a wrong-typed value
    }
}

Test (reply, decode_refuses_bad_replies)
{
    struct { const char *pairs [4][2]; size_t count; } cases [] = {
        { { { "result", "success" } }, 1 },                                     //  no type
        { { { "message-type", "ping-reply" } }, 1 },                            //  no result
        { { { "message-type", "ping-reply" }, { "result", "great" } }, 2 },     //  unknown result
        { { { "message-type", "ping-reply" }, { "result", NULL } }, 2 },
        { { { "message-type", NULL }, { "result", "success" } }, 2 },
        { { { "message-type", "ping-reply" }, { "result", "success" }, { "unified-id", "1" } }, 3 },
        { { { "message-type", "ping-reply" }, { "result", "success" }, { "timestamp-repr", "soon" } }, 3 },
        { { { "message-type", "ping-reply" }, { "result", "success" }, { "file-hash", "abc" } }, 3 },
        { { { "message-type", "ping-reply" }, { "result", "success" }, { "completed", "yes" } }, 3 },
        { { { "message-type", "ping-reply" }, { "result", "success" }, { "meta", "a" } }, 3 },
        { { { "message-type", "ping-reply" }, { "result", "success" }, { "result", "success" } }, 3 },
        { { { "message-type", "" }, { "result", "success" } }, 2 },
    };
    for (size_t index = 0; index < COUNT (cases); index++) {
        msgpack_sbuffer buffer;
        s_pack_pairs (&buffer, cases [index].pairs, cases [index].count);
        cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), -1, "case %zu", index);
        cr_assert_null (s_decoded->meta);
        msgpack_sbuffer_destroy (&buffer);
    }
    //  Good one, then trailing bytes, non-map, non-string key
    const char *good [][2] = { { "message-type", "ping-reply" }, { "result", "success" } };
    msgpack_sbuffer buffer;
    s_pack_pairs (&buffer, good, 2);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    msgpack_sbuffer_write (&buffer, "\x01", 1);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), -1);
    msgpack_sbuffer_destroy (&buffer);
    static const uint8_t array [] = { 0x91, 0x01 };
    static const uint8_t int_key [] = { 0x81, 0x01, 0x01 };
    static const uint8_t huge [] = { 0xdf, 0x10, 0x00, 0x00, 0x00 };
    cr_assert_eq (reply_decode (s_decoded, array, sizeof array), -1);
    cr_assert_eq (reply_decode (s_decoded, int_key, sizeof int_key), -1);
    cr_assert_eq (reply_decode (s_decoded, huge, sizeof huge), -1);
    cr_assert_eq (reply_decode (s_decoded, NULL, 0), -1);
}

Test (reply, decode_every_prefix_and_random_bytes)
{
    s_request->type = MSG_RETRIEVE_KEY_NEXT;
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, NULL);
    s_fill_fields (s_reply, MSG_RETRIEVE_KEY_NEXT, true);
    msgpack_sbuffer valid;
    s_encode (s_reply, &valid);
    for (size_t size = 0; size < valid.size; size++) {
        uint8_t *prefix = malloc (size? size: 1);
        memcpy (prefix, valid.data, size);
        cr_assert_eq (reply_decode (s_decoded, prefix, size), -1, "prefix %zu", size);
        free (prefix);
    }
    uint64_t state = 12345;
    for (int round = 0; round < 20000; round++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint8_t *data = malloc (valid.size);
        memcpy (data, valid.data, valid.size);
        for (int change = 0; change < 3; change++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            data [(state >> 33) % valid.size] = (uint8_t) (state >> 13);
        }
        int rc = reply_decode (s_decoded, data, valid.size);
        cr_assert (rc == 0 || rc == -1);
        free (data);
    }
    msgpack_sbuffer_destroy (&valid);
}

Test (reply, set_meta_and_stats)
{
    cr_assert_eq (reply_set_meta (s_reply, s_meta_ab, sizeof s_meta_ab), 0);
    cr_assert_not_null (s_reply->meta);
    cr_assert_neq ((const void *) s_reply->meta, (const void *) s_meta_ab, "a copy");
    cr_assert_eq (s_reply->meta_size, sizeof s_meta_ab);
    cr_assert_eq (reply_set_meta (s_reply, NULL, 0), 0);
    cr_assert_null (s_reply->meta);
    cr_assert_eq (s_reply->meta_size, 0);
    cr_assert_eq (reply_set_stats (s_reply, s_stats, sizeof s_stats), 0);
    cr_assert_eq (s_reply->stats_size, sizeof s_stats);
    //  An empty stats map is written when none was set
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, NULL);
    cr_assert_null (s_reply->stats, "prepare resets");
    s_reply->fields = REPLY_FIELD_STATS;
    msgpack_sbuffer buffer;
    s_encode (s_reply, &buffer);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    cr_assert_eq (s_decoded->stats_size, 1);
    cr_assert_eq (s_decoded->stats [0], 0x80);
    msgpack_sbuffer_destroy (&buffer);
    reply_t *other = NULL;
    reply_destroy (&other);
    cr_assert_null (other);
}

Test (reply, request_error_to_reply)
{
    //  What the node does with a bad request: decode, prepare, encode
    static const uint8_t header [] = {
        0x84, 0xac, 'm','e','s','s','a','g','e','-','t','y','p','e', 0xa5, 's','t','a','t','z',
        0xaa, 'm','e','s','s','a','g','e','-','i','d', 0xa1, '9',
        0xaa, 'c','l','i','e','n','t','-','t','a','g', 0xa1, 't',
        0xae, 'c','l','i','e','n','t','-','a','d','d','r','e','s','s', 0xa3, 'i','p','c',
    };
    request_error_t error;
    cr_assert_eq (request_decode (s_request, header, sizeof header, &error), -1);
    cr_assert_eq (error.result, RESULT_UNKNOWN_MESSAGE_TYPE);
    reply_prepare (s_reply, s_request, error.result, error.message);
    msgpack_sbuffer buffer;
    s_encode (s_reply, &buffer);
    cr_assert_eq (reply_decode (s_decoded, buffer.data, buffer.size), 0);
    cr_assert_str_eq (s_decoded->message_type, "statz-reply");
    cr_assert_str_eq (s_decoded->message_id, "9");
    cr_assert_str_eq (s_decoded->client_address, "ipc");
    cr_assert_eq (s_decoded->result, RESULT_UNKNOWN_MESSAGE_TYPE);
    cr_assert_str_eq (s_decoded->error_message, "message-type: unknown type 'statz'");
    msgpack_sbuffer_destroy (&buffer);
}
