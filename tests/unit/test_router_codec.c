/*  =========================================================================
    test_router_codec - both directions of the router protocol's codec

    What a client encodes (router_request_encode) the router decodes
    (router_request_decode) to the same request; what the router encodes
    (router_reply_encode) a client decodes (router_reply_decode) to the
    same envelope and fields. And the result names of the router are those
    of the node protocol where the two share a meaning.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <czmq.h>
#include <msgpack.h>
#include "result.h"
#include "router_reply.h"
#include "router_request.h"

//  Encode request, decode it again into *decoded (a fresh request)
static router_request_t *
s_round_trip (const router_request_t *request)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (router_request_encode (request, &buffer), 0);
    router_request_t *decoded = router_request_new ();
    router_result_t result;
    char error [256];
    int rc = router_request_decode (decoded, buffer.data, buffer.size, &result, error, sizeof error);
    cr_assert_eq (rc, 0, "%s", error);
    cr_assert_eq (result, ROUTER_SUCCESS);
    msgpack_sbuffer_destroy (&buffer);
    return decoded;
}

Test (router_codec, put_with_meta_round_trips)
{
    router_request_t *request = router_request_new ();
    request->type = ROUTER_MSG_PUT;
    snprintf (request->request_id, sizeof request->request_id, "abc-1");
    request->collection_id = 7;
    snprintf (request->key, sizeof request->key, "report.pdf");
    request->key_size = strlen (request->key);
    //  meta: {"owner": "ops"}
    static const uint8_t meta [] = { 0x81, 0xa5, 'o', 'w', 'n', 'e', 'r', 0xa3, 'o', 'p', 's' };
    request->meta = (uint8_t *) malloc (sizeof meta);
    memcpy (request->meta, meta, sizeof meta);
    request->meta_size = sizeof meta;
    request->present = ROUTER_FIELD_REQUEST_ID | ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_KEY
                     | ROUTER_FIELD_META;
    router_request_t *decoded = s_round_trip (request);
    cr_assert_eq (decoded->type, ROUTER_MSG_PUT);
    cr_assert_str_eq (router_request_id (decoded), "abc-1");
    cr_assert_eq (decoded->collection_id, 7);
    cr_assert_str_eq (decoded->key, "report.pdf");
    cr_assert_eq (decoded->meta_size, sizeof meta);
    cr_assert_eq (memcmp (decoded->meta, meta, sizeof meta), 0);
    cr_assert_eq (decoded->present, request->present);
    router_request_destroy (&decoded);
    router_request_destroy (&request);
}

Test (router_codec, list_keys_bytes_go_as_bin_when_not_utf8)
{
    router_request_t *request = router_request_new ();
    request->type = ROUTER_MSG_LIST_KEYS;
    snprintf (request->request_id, sizeof request->request_id, "abc-2");
    request->limit = 1000;
    memcpy (request->prefix, "a\xff", 2);
    request->prefix_size = 2;
    memcpy (request->start_after, "a\xff" "b", 3);
    request->start_after_size = 3;
    request->present = ROUTER_FIELD_REQUEST_ID | ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_LIMIT
                     | ROUTER_FIELD_PREFIX | ROUTER_FIELD_START_AFTER;
    router_request_t *decoded = s_round_trip (request);
    cr_assert_eq (decoded->type, ROUTER_MSG_LIST_KEYS);
    cr_assert_eq (decoded->limit, 1000);
    cr_assert_eq (decoded->prefix_size, 2);
    cr_assert_eq (memcmp (decoded->prefix, "a\xff", 2), 0);
    cr_assert_eq (decoded->start_after_size, 3);
    cr_assert_eq (decoded->present, request->present);
    router_request_destroy (&decoded);
    router_request_destroy (&request);
}

Test (router_codec, get_next_and_repair_round_trip)
{
    router_request_t *request = router_request_new ();
    request->type = ROUTER_MSG_GET_NEXT;
    snprintf (request->request_id, sizeof request->request_id, "abc-3");
    snprintf (request->key, sizeof request->key, "k");
    request->key_size = 1;
    request->unified_id = UINT64_MAX;
    request->slice_num = 4;
    request->present = ROUTER_FIELD_REQUEST_ID | ROUTER_FIELD_KEY | ROUTER_FIELD_UNIFIED_ID
                     | ROUTER_FIELD_SLICE_NUM;
    router_request_t *decoded = s_round_trip (request);
    cr_assert_eq (decoded->unified_id, UINT64_MAX);
    cr_assert_eq (decoded->slice_num, 4);
    router_request_destroy (&decoded);

    request->type = ROUTER_MSG_REPAIR;
    snprintf (request->node, sizeof request->node, "node03");
    request->present = ROUTER_FIELD_REQUEST_ID | ROUTER_FIELD_KEY | ROUTER_FIELD_NODE
                     | ROUTER_FIELD_SLICE_NUM;          //  repair takes no slice-num: not sent
    decoded = s_round_trip (request);
    cr_assert_eq (decoded->type, ROUTER_MSG_REPAIR);
    cr_assert_str_eq (decoded->node, "node03");
    cr_assert_eq (decoded->present, ROUTER_FIELD_REQUEST_ID | ROUTER_FIELD_KEY | ROUTER_FIELD_NODE);
    router_request_destroy (&decoded);
    router_request_destroy (&request);
}

//  Encode reply and decode its frame 0 again; *msg_p holds the bytes the
//  decoded reply refers to (destroy it after the reply)
static router_reply_t *
s_reply_round_trip (router_reply_t *reply, zmsg_t **msg_p)
{
    *msg_p = router_reply_encode (reply, NULL);
    cr_assert_not_null (*msg_p);
    zframe_t *frame = zmsg_first (*msg_p);
    char error [128] = "";
    router_reply_t *decoded = router_reply_decode (zframe_data (frame), zframe_size (frame), 65536,
                                                   error, sizeof error);
    cr_assert_not_null (decoded, "%s", error);
    return decoded;
}

Test (router_codec, reply_round_trips)
{
    router_reply_t *reply = router_reply_new ("put-reply", "abc-1");
    router_reply_add_uint (reply, "unified-id", 1234567890123ULL);
    router_reply_add_str (reply, "upload-id", "u-9");
    router_reply_add_bool (reply, "completed", true);
    uint8_t digest [DIGEST_MD5_SIZE];
    for (int index = 0; index < DIGEST_MD5_SIZE; index++)
        digest [index] = (uint8_t) (index * 7);
    router_reply_add_digest (reply, "file-hash", digest);
    zmsg_t *msg;
    router_reply_t *decoded = s_reply_round_trip (reply, &msg);
    cr_assert_str_eq (router_reply_type (decoded), "put-reply");
    cr_assert_str_eq (router_reply_request_id (decoded), "abc-1");
    cr_assert_str_eq (router_reply_result_text (decoded), "success");
    cr_assert_eq (router_reply_result (decoded), ROUTER_SUCCESS);
    cr_assert_str_eq (router_reply_error (decoded), "");
    uint64_t number;
    cr_assert_eq (router_reply_get_uint (decoded, "unified-id", UINT64_MAX, &number), 0);
    cr_assert_eq (number, 1234567890123ULL);
    cr_assert_eq (router_reply_get_uint (decoded, "unified-id", 1000, &number), -1, "out of range");
    char text [8];
    cr_assert_eq (router_reply_get_str (decoded, "upload-id", text, sizeof text), 0);
    cr_assert_str_eq (text, "u-9");
    cr_assert_eq (router_reply_get_str (decoded, "upload-id", text, 3), -1, "does not fit");
    bool flag = false;
    cr_assert_eq (router_reply_get_bool (decoded, "completed", &flag), 0);
    cr_assert (flag);
    uint8_t back [DIGEST_MD5_SIZE];
    cr_assert_eq (router_reply_get_digest (decoded, "file-hash", back), 0);
    cr_assert_eq (memcmp (back, digest, DIGEST_MD5_SIZE), 0);
    cr_assert_null (router_reply_field (decoded, "absent"));
    cr_assert_eq (router_reply_get_uint (decoded, "upload-id", UINT64_MAX, &number), -1, "not an integer");
    router_reply_destroy (&decoded);
    router_reply_destroy (&reply);
    zmsg_destroy (&msg);
}

Test (router_codec, reply_failure_and_nil_request_id)
{
    router_reply_t *reply = router_reply_new ("error-reply", NULL);
    router_reply_set_result (reply, ROUTER_UNAVAILABLE, "only %d of %d nodes", 7, 10);
    zmsg_t *msg;
    router_reply_t *decoded = s_reply_round_trip (reply, &msg);
    cr_assert_null (router_reply_request_id (decoded));
    cr_assert_eq (router_reply_result (decoded), ROUTER_UNAVAILABLE);
    cr_assert_str_eq (router_reply_result_text (decoded), "unavailable");
    cr_assert_str_eq (router_reply_error (decoded), "only 7 of 10 nodes");
    router_reply_destroy (&decoded);
    router_reply_destroy (&reply);
    zmsg_destroy (&msg);
}

Test (router_codec, decode_refuses_what_is_not_a_map)
{
    char error [128] = "";
    cr_assert_null (router_reply_decode ("\x93\x01\x02\x03", 4, 1024, error, sizeof error));
    cr_assert_str_eq (error, "not a map");
    cr_assert_null (router_reply_decode ("\x85", 1, 1024, error, sizeof error));
    cr_assert_neq (error [0], 0);
    //  A map whose result is none of the router's: the text is kept
    router_reply_t *decoded = router_reply_decode ("\x81\xa6result\xa4" "nope", 13, 1024, error, sizeof error);
    cr_assert_not_null (decoded);
    cr_assert_eq (router_reply_result (decoded), ROUTER_RESULT_COUNT);
    cr_assert_str_eq (router_reply_result_text (decoded), "nope");
    cr_assert_null (router_reply_type (decoded));
    router_reply_destroy (&decoded);
}

Test (router_codec, result_names_shared_with_the_node_protocol)
{
    cr_assert_str_eq (router_result_name (ROUTER_NOT_FOUND), result_name (RESULT_NOT_FOUND));
    cr_assert_str_eq (router_result_name (ROUTER_FORBIDDEN), result_name (RESULT_FORBIDDEN));
    cr_assert_str_eq (router_result_name (ROUTER_TIMEOUT), "timeout");
    for (int result = 0; result < ROUTER_RESULT_COUNT; result++) {
        router_result_t back;
        cr_assert_eq (router_result_from_name (router_result_name ((router_result_t) result), &back), 0);
        cr_assert_eq (back, (router_result_t) result);
    }
    router_result_t back;
    cr_assert_eq (router_result_from_name ("size-mismatch", &back), -1, "a node's result only");
}
