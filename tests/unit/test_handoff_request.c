/*  =========================================================================
    test_handoff_request - the purge-handoff message (a Strata extension)

    Its name and reply name, its field rules (collection-id, key,
    unified-id and handoff-node-name required; segment-num and
    conjoined-part optional), and that what the forwarder encodes decodes
    back to the same request.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <string.h>

#include "request.h"

static request_t *s_request;
static request_error_t s_error;

static void
s_setup (void)
{
    s_request = request_new ();
    cr_assert_not_null (s_request);
}

static void
s_teardown (void)
{
    request_destroy (&s_request);
}

TestSuite (handoff_request, .init = s_setup, .fini = s_teardown);

//  Pack a map of (key, value) string/int pairs: values starting with '#'
//  are integers, "nil" is nil
static int
s_decode (const char **pairs, size_t count)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, count);
    for (size_t index = 0; index < count; index++) {
        const char *key = pairs [2 * index], *value = pairs [2 * index + 1];
        msgpack_pack_str (&packer, strlen (key));
        msgpack_pack_str_body (&packer, key, strlen (key));
        if (*value == '#')
            msgpack_pack_uint64 (&packer, strtoull (value + 1, NULL, 10));
        else
        if (strcmp (value, "nil") == 0)
            msgpack_pack_nil (&packer);
        else {
            msgpack_pack_str (&packer, strlen (value));
            msgpack_pack_str_body (&packer, value, strlen (value));
        }
    }
    int rc = request_decode (s_request, buffer.data, buffer.size, &s_error);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

Test (handoff_request, names)
{
    cr_assert_str_eq (message_type_name (MSG_PURGE_HANDOFF), "purge-handoff");
    cr_assert_str_eq (message_type_reply_name (MSG_PURGE_HANDOFF), "purge-handoff-reply");
    cr_assert_eq (message_type_from_name ("purge-handoff", 13), MSG_PURGE_HANDOFF);
    cr_assert_eq (message_type_from_reply_name ("purge-handoff-reply", 19), MSG_PURGE_HANDOFF);
}

Test (handoff_request, segment_purge)
{
    const char *pairs [] = {
        "message-type", "purge-handoff", "message-id", "m1", "collection-id", "#3",
        "key", "k", "unified-id", "#18446744073709551615", "conjoined-part", "#2",
        "segment-num", "#9", "handoff-node-name", "node02",
    };
    cr_assert_eq (s_decode (pairs, 8), 0, "%s", s_error.message);
    cr_assert_eq (s_request->type, MSG_PURGE_HANDOFF);
    cr_assert_eq (s_request->unified_id, UINT64_MAX);
    cr_assert_eq (s_request->conjoined_part, 2);
    cr_assert_eq (s_request->segment_num, 9);
    cr_assert (s_request->present & FIELD_SEGMENT_NUM);
    cr_assert_str_eq (s_request->handoff_node_name, "node02");
}

Test (handoff_request, conjoined_purge_has_no_segment_num)
{
    const char *pairs [] = {
        "message-type", "purge-handoff", "message-id", "m1", "collection-id", "#3",
        "key", "k", "unified-id", "#5", "handoff-node-name", "node02",
    };
    cr_assert_eq (s_decode (pairs, 6), 0, "%s", s_error.message);
    cr_assert_not (s_request->present & FIELD_SEGMENT_NUM);
    cr_assert_not (s_request->present & FIELD_CONJOINED_PART);
}

Test (handoff_request, required_fields)
{
    const char *fields [] = { "collection-id", "key", "unified-id", "handoff-node-name" };
    for (size_t skip = 0; skip < 4; skip++) {
        const char *all [] = {
            "collection-id", "#3", "key", "k", "unified-id", "#5", "handoff-node-name", "node02",
        };
        const char *pairs [12] = { "message-type", "purge-handoff", "message-id", "m1" };
        size_t count = 2;
        for (size_t index = 0; index < 4; index++)
            if (index != skip) {
                pairs [2 * count] = all [2 * index];
                pairs [2 * count + 1] = all [2 * index + 1];
                count++;
            }
        cr_assert_eq (s_decode (pairs, count), -1, "without %s", fields [skip]);
        cr_assert_eq (s_error.result, RESULT_INVALID_REQUEST);
        cr_assert (strstr (s_error.message, fields [skip]), "%s", s_error.message);
    }
    //  nil counts as absent
    const char *pairs [] = {
        "message-type", "purge-handoff", "message-id", "m1", "collection-id", "#3",
        "key", "k", "unified-id", "#5", "handoff-node-name", "nil",
    };
    cr_assert_eq (s_decode (pairs, 6), -1);
    cr_assert (strstr (s_error.message, "handoff-node-name"), "%s", s_error.message);
}

Test (handoff_request, encode_round_trip)
{
    request_t *sent = request_new ();
    sent->type = MSG_PURGE_HANDOFF;
    strcpy (sent->message_id, "handoff-1");
    strcpy (sent->client_tag, "strata-handoff");
    strcpy (sent->client_address, "tcp://127.0.0.1:5000");
    sent->collection_id = 11;
    strcpy (sent->key, "some key");
    sent->key_size = strlen (sent->key);
    sent->unified_id = 1ULL << 63;
    sent->conjoined_part = 4;
    sent->segment_num = 200;
    strcpy (sent->handoff_node_name, "node07");
    //  Fields purge-handoff does not use are not encoded
    strcpy (sent->source_node_name, "node01");
    sent->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS | FIELD_COLLECTION_ID
                  | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_CONJOINED_PART | FIELD_SEGMENT_NUM
                  | FIELD_HANDOFF_NODE_NAME | FIELD_SOURCE_NODE_NAME;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (request_encode (sent, &buffer), 0);
    cr_assert_eq (request_decode (s_request, buffer.data, buffer.size, &s_error), 0, "%s", s_error.message);
    msgpack_sbuffer_destroy (&buffer);
    cr_assert_eq (s_request->type, MSG_PURGE_HANDOFF);
    cr_assert_str_eq (s_request->key, "some key");
    cr_assert_eq (s_request->unified_id, 1ULL << 63);
    cr_assert_eq (s_request->conjoined_part, 4);
    cr_assert_eq (s_request->segment_num, 200);
    cr_assert_str_eq (s_request->handoff_node_name, "node07");
    cr_assert_str_eq (s_request->client_address, "tcp://127.0.0.1:5000");
    cr_assert_not (s_request->present & FIELD_SOURCE_NODE_NAME);
    request_destroy (&sent);
}
