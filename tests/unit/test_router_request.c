/*  =========================================================================
    test_router_request - decoding client requests to the router, and the
    router's replies

    Valid requests of each type decode to their fields; every malformed one
    fails with invalid-request (or unknown-message-type) naming the field,
    keeps the request-id when it could be read, and never crashes on
    garbage. Replies carry the envelope and the fields in order.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <msgpack.h>
#include "router_request.h"
#include "router_reply.h"

//  A small builder for request headers: pairs of key and packed value
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} s_map_t;

static void
s_begin (s_map_t *map, uint32_t entries)
{
    msgpack_sbuffer_init (&map->buffer);
    msgpack_packer_init (&map->packer, &map->buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&map->packer, entries);
}

static void
s_str (s_map_t *map, const char *text)
{
    msgpack_pack_str_with_body (&map->packer, text, strlen (text));
}

static int
s_decode (s_map_t *map, router_request_t *request, router_result_t *result, char *error)
{
    int rc = router_request_decode (request, map->buffer.data, map->buffer.size, result, error, 256);
    msgpack_sbuffer_destroy (&map->buffer);
    return rc;
}

Test (router_request, put_with_everything)
{
    router_request_t *request = router_request_new ();
    s_map_t map;
    s_begin (&map, 6);
    s_str (&map, "message-type"); s_str (&map, "put");
    s_str (&map, "request-id"); s_str (&map, "req-1");
    s_str (&map, "collection-id"); msgpack_pack_uint64 (&map.packer, 4000000000U);
    s_str (&map, "key"); s_str (&map, "photos/cat.jpg");
    s_str (&map, "meta"); msgpack_pack_map (&map.packer, 1); s_str (&map, "a"); s_str (&map, "b");
    s_str (&map, "unknown-key"); msgpack_pack_double (&map.packer, 1.5);
    router_result_t result;
    char error [256];
    cr_assert_eq (s_decode (&map, request, &result, error), 0, "%s", error);
    cr_assert_eq (request->type, ROUTER_MSG_PUT);
    cr_assert_str_eq (request->request_id, "req-1");
    cr_assert_eq (request->collection_id, 4000000000U);
    cr_assert_str_eq (request->key, "photos/cat.jpg");
    cr_assert_eq (request->key_size, 14);
    cr_assert_not_null (request->meta);
    cr_assert (request->present & ROUTER_FIELD_META);
    cr_assert_str_eq (router_request_reply_type (request), "put-reply");
    router_request_destroy (&request);
    cr_assert_null (request);
}

Test (router_request, get_next_and_defaults)
{
    router_request_t *request = router_request_new ();
    s_map_t map;
    s_begin (&map, 5);
    s_str (&map, "message-type"); s_str (&map, "get-next");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); s_str (&map, "k");
    s_str (&map, "unified-id"); msgpack_pack_uint64 (&map.packer, UINT64_MAX);
    s_str (&map, "slice-num"); msgpack_pack_int8 (&map.packer, 3);     //  any int width
    router_result_t result;
    char error [256];
    cr_assert_eq (s_decode (&map, request, &result, error), 0, "%s", error);
    cr_assert_eq (request->type, ROUTER_MSG_GET_NEXT);
    cr_assert_eq (request->collection_id, 0);
    cr_assert_eq (request->unified_id, UINT64_MAX);
    cr_assert_eq (request->slice_num, 3);
    cr_assert_str_eq (router_request_reply_type (request), "get-next-reply");

    //  put-finish answers put-reply
    s_begin (&map, 3);
    s_str (&map, "message-type"); s_str (&map, "put-finish");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "upload-id"); s_str (&map, "upload-1");
    cr_assert_eq (s_decode (&map, request, &result, error), 0, "%s", error);
    cr_assert_str_eq (request->upload_id, "upload-1");
    cr_assert_str_eq (router_request_reply_type (request), "put-reply");
    router_request_destroy (&request);
}

//  One bad request: its error must name field and keep the request-id
static void
s_expect_bad (s_map_t *map, router_result_t expected, const char *field, bool has_id)
{
    router_request_t *request = router_request_new ();
    router_result_t result;
    char error [256];
    cr_assert_eq (s_decode (map, request, &result, error), -1);
    cr_assert_eq (result, expected, "result %s for '%s'", router_result_name (result), error);
    cr_assert_not_null (strstr (error, field), "'%s' does not name %s", error, field);
    cr_assert_eq (router_request_id (request) != NULL, has_id, "request-id kept: %s", error);
    router_request_destroy (&request);
}

Test (router_request, bad_fields_are_named)
{
    s_map_t map;
    s_begin (&map, 1);
    s_str (&map, "message-type"); s_str (&map, "put");
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "request-id", false);

    s_begin (&map, 2);
    s_str (&map, "message-type"); s_str (&map, "put");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "key: required", true);

    s_begin (&map, 3);
    s_str (&map, "message-type"); s_str (&map, "get");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); msgpack_pack_str_with_body (&map.packer, "\xff\xfe", 2);
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "key", true);

    s_begin (&map, 4);
    s_str (&map, "message-type"); s_str (&map, "get");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); s_str (&map, "k");
    s_str (&map, "collection-id"); msgpack_pack_int64 (&map.packer, -1);
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "collection-id", true);

    s_begin (&map, 4);
    s_str (&map, "message-type"); s_str (&map, "delete");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); s_str (&map, "k");
    s_str (&map, "unified-id"); msgpack_pack_double (&map.packer, 12.0);
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "unified-id", true);

    s_begin (&map, 4);
    s_str (&map, "message-type"); s_str (&map, "put");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); s_str (&map, "k");
    s_str (&map, "meta"); msgpack_pack_map (&map.packer, 1); s_str (&map, "a"); msgpack_pack_int (&map.packer, 1);
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "meta", true);

    s_begin (&map, 3);
    s_str (&map, "message-type"); s_str (&map, "get-next");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); s_str (&map, "k");
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "unified-id", true);

    s_begin (&map, 3);
    s_str (&map, "message-type"); s_str (&map, "ping");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "request-id"); s_str (&map, "again");
    s_expect_bad (&map, ROUTER_INVALID_REQUEST, "request-id: given more than once", false);

    s_begin (&map, 2);
    s_str (&map, "message-type"); s_str (&map, "teleport");
    s_str (&map, "request-id"); s_str (&map, "r");
    router_request_t *request = router_request_new ();
    router_result_t result;
    char error [256];
    cr_assert_eq (s_decode (&map, request, &result, error), -1);
    cr_assert_eq (result, ROUTER_UNKNOWN_MESSAGE_TYPE);
    cr_assert_str_eq (router_request_reply_type (request), "teleport-reply");
    cr_assert_str_eq (router_request_id (request), "r");
    router_request_destroy (&request);
}

Test (router_request, garbage_never_crashes)
{
    router_request_t *request = router_request_new ();
    router_result_t result;
    char error [256];
    const char *samples [] = {
        "", "\xc1", "\x93\x01\x02\x03", "\xdf\xff\xff\xff\xff", "\x81\x01\x02",
        "\x81\xa4type", "\xdd\x7f\xff\xff\xff", "\xa5hello"
    };
    for (size_t index = 0; index < sizeof samples / sizeof samples [0]; index++) {
        size_t size = index == 0? 0: strlen (samples [index]);
        cr_assert_eq (router_request_decode (request, samples [index], size, &result, error, sizeof error), -1);
        cr_assert_eq (result, ROUTER_INVALID_REQUEST);
        cr_assert_str_eq (router_request_reply_type (request), "error-reply");
        cr_assert_null (router_request_id (request));
    }
    //  Every truncation of a valid header
    s_map_t map;
    s_begin (&map, 3);
    s_str (&map, "message-type"); s_str (&map, "get");
    s_str (&map, "request-id"); s_str (&map, "r");
    s_str (&map, "key"); s_str (&map, "some key");
    for (size_t size = 0; size < map.buffer.size; size++)
        cr_assert_eq (router_request_decode (request, map.buffer.data, size, &result, error, sizeof error), -1);
    cr_assert_eq (router_request_decode (request, map.buffer.data, map.buffer.size, &result, error,
                                         sizeof error), 0);
    msgpack_sbuffer_destroy (&map.buffer);
    router_request_destroy (&request);
}

Test (router_reply, envelope_and_fields)
{
    router_reply_t *reply = router_reply_new ("get-reply", "req-9");
    router_reply_add_uint (reply, "size", 42);
    router_reply_add_bool (reply, "completed", true);
    router_reply_add_raw (reply, "meta", NULL, 0);
    uint8_t digest [16] = { 0 };
    router_reply_add_digest (reply, "file-hash", digest);
    zmsg_t *data = zmsg_new ();
    zmsg_addstr (data, "payload");
    zmsg_t *msg = router_reply_encode (reply, &data);
    cr_assert_null (data);
    cr_assert_eq (zmsg_size (msg), 2);
    zframe_t *header = zmsg_first (msg);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, (const char *) zframe_data (header), zframe_size (header), NULL),
                  MSGPACK_UNPACK_SUCCESS);
    msgpack_object_map *map = &unpacked.data.via.map;
    cr_assert_eq (map->size, 8);
    cr_assert_eq (memcmp (map->ptr [0].key.via.str.ptr, "message-type", 12), 0);
    cr_assert_eq (memcmp (map->ptr [1].val.via.str.ptr, "req-9", 5), 0);
    cr_assert_eq (memcmp (map->ptr [2].val.via.str.ptr, "success", 7), 0);
    cr_assert_eq (map->ptr [3].val.type, MSGPACK_OBJECT_NIL);        //  error-message nil
    cr_assert_eq (map->ptr [4].val.via.u64, 42);
    cr_assert_eq (map->ptr [6].val.type, MSGPACK_OBJECT_NIL);        //  meta nil
    cr_assert_eq (memcmp (map->ptr [7].val.via.str.ptr, "AAAAAAAAAAAAAAAAAAAAAA==", 24), 0);
    msgpack_unpacked_destroy (&unpacked);
    zmsg_destroy (&msg);

    router_reply_set_result (reply, ROUTER_DATA_ERROR, "slice %d: bad", 3);
    cr_assert_eq (router_reply_result (reply), ROUTER_DATA_ERROR);
    cr_assert_str_eq (router_reply_error (reply), "slice 3: bad");
    cr_assert_str_eq (router_result_name (ROUTER_DATA_ERROR), "data-error");
    cr_assert_str_eq (router_result_name (ROUTER_RESULT_COUNT), "unknown");
    router_reply_destroy (&reply);
    cr_assert_null (reply);
}
