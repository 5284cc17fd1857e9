/*  =========================================================================
    test_router_ops - the router's operations, driven by hand

    Each test runs an operation (put_op, get_op, delete_op, list_op) in a
    fake op_env_t: requests to nodes are recorded instead of sent, node
    answers are made up and fed back as events, and the client's replies
    are captured and decoded. So the state machines are checked step by
    step: what goes to which node, when the client is answered, and what
    happens on every kind of node failure.

    The cluster: 10 nodes, k = 8, slices of 64 KiB (so multi-slice objects
    stay small). Nodes can be made unreachable to check hinted handoff:
    where writes place the shares of absent owners (placement), and how
    reads fall back to the copies the holders keep.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <msgpack.h>
#include <unistd.h>
#include "op_env.h"
#include "put_op.h"
#include "get_op.h"
#include "delete_op.h"
#include "list_op.h"
#include "keys_op.h"
#include "placement.h"
#include "timestamp.h"

#define S_NODES     10
#define S_K         8
#define S_SLICE     65536
#define S_MAX_SENT  2000

//  A request the op sent
typedef struct {
    void *op;
    size_t node;
    node_endpoint_t endpoint;
    request_t request;              //  copy (meta pointer not kept)
    bool had_meta;                  //  the request carried meta
    zmsg_t *data;                   //  its data frames
    uint64_t cookie;
} s_sent_t;

//  What the fake environment saw
typedef struct {
    s_sent_t sent [S_MAX_SENT];
    size_t sent_count;
    request_t posted [S_MAX_SENT];
    size_t posted_node [S_MAX_SENT];
    size_t posted_count;
    bool unreachable [S_NODES];
    uint64_t next_id;
    zmsg_t *answers [64];           //  client replies, in order
    size_t answer_count;
} s_world_t;

static s_world_t *s_world;
static op_env_t s_env;
static cluster_config_t *s_cluster;
static router_config_t s_config;
static erasure_t *s_erasure;
static char s_dir [64];

static int
s_send (op_env_t *env, void *op, size_t node, node_endpoint_t endpoint,
        request_t *request, zmsg_t **data_p, uint64_t cookie)
{
    (void) env;
    if (s_world->unreachable [node]) {
        if (data_p)
            zmsg_destroy (data_p);
        return -1;
    }
    cr_assert_lt (s_world->sent_count, S_MAX_SENT);
    s_sent_t *sent = &s_world->sent [s_world->sent_count++];
    sent->op = op;
    sent->node = node;
    sent->endpoint = endpoint;
    sent->request = *request;
    sent->had_meta = request->meta != NULL;
    sent->request.meta = NULL;
    sent->data = data_p && *data_p? *data_p: zmsg_new ();
    if (data_p)
        *data_p = NULL;
    sent->cookie = cookie;
    return 0;
}

static void
s_post (op_env_t *env, size_t node, node_endpoint_t endpoint, request_t *request)
{
    (void) env; (void) endpoint;
    cr_assert_lt (s_world->posted_count, S_MAX_SENT);
    s_world->posted_node [s_world->posted_count] = node;
    s_world->posted [s_world->posted_count] = *request;
    s_world->posted [s_world->posted_count].meta = NULL;
    s_world->posted_count++;
}

static bool
s_reachable (op_env_t *env, size_t node)
{
    (void) env;
    return !s_world->unreachable [node];
}

static uint64_t
s_new_id (op_env_t *env)
{
    (void) env;
    return ++s_world->next_id;
}

static void
s_answer (op_env_t *env, zframe_t *routing_id, zmsg_t **msg_p)
{
    (void) env;
    cr_assert_eq (zframe_size (routing_id), 5);
    cr_assert_lt (s_world->answer_count, 64);
    s_world->answers [s_world->answer_count++] = *msg_p;
    *msg_p = NULL;
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/strata-test-ops-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    char path [128];
    snprintf (path, sizeof path, "%s/cluster.cfg", s_dir);
    FILE *file = fopen (path, "w");
    fprintf (file, "cluster\n    name = ops\n    data-shards = %d\n    total-shards = %d\n    nodes\n",
             S_K, S_NODES);
    for (int node = 0; node < S_NODES; node++)
        fprintf (file, "        node%02d\n            writer = tcp://127.0.0.1:%d\n"
                 "            reader = tcp://127.0.0.1:%d\n", node + 1, 9100 + 2 * node, 9101 + 2 * node);
    fclose (file);
    char error [256];
    s_cluster = cluster_config_load (path, error, sizeof error);
    cr_assert_not_null (s_cluster, "%s", error);
    unlink (path);
    rmdir (s_dir);
    router_config_defaults (&s_config);
    s_config.slice_size = S_SLICE;
    s_config.node_timeout_ms = 1234;
    s_erasure = erasure_new (S_K, S_NODES);
    s_world = (s_world_t *) calloc (1, sizeof (s_world_t));
    s_world->next_id = 1000;
    s_env = (op_env_t) {
        .handle = s_world, .cluster = s_cluster, .erasure = s_erasure, .config = &s_config,
        .send = s_send, .post = s_post, .reachable = s_reachable, .new_id = s_new_id,
        .answer = s_answer
    };
}

static void
s_teardown (void)
{
    for (size_t index = 0; index < s_world->sent_count; index++)
        zmsg_destroy (&s_world->sent [index].data);
    for (size_t index = 0; index < s_world->answer_count; index++)
        zmsg_destroy (&s_world->answers [index]);
    free (s_world);
    erasure_destroy (&s_erasure);
    cluster_config_destroy (&s_cluster);
}

TestSuite (router_ops, .init = s_setup, .fini = s_teardown);


//  --------------------------------------------------------------------------
//  Helpers

//  A router request of type with key "k" (and a request-id)
static router_request_t *
s_request (router_msg_t type)
{
    router_request_t *request = router_request_new ();
    request->type = type;
    snprintf (request->request_id, sizeof request->request_id, "req-%d", (int) type);
    snprintf (request->key, sizeof request->key, "k");
    request->key_size = 1;
    request->collection_id = 7;
    request->present = ROUTER_FIELD_REQUEST_ID | ROUTER_FIELD_KEY | ROUTER_FIELD_COLLECTION_ID;
    return request;
}

static op_client_t *
s_client (router_request_t *request)
{
    zframe_t *routing_id = zframe_new ("\0abcd", 5);
    op_client_t *client = op_client_new (routing_id, request);
    zframe_destroy (&routing_id);
    return client;
}

//  The decoded header of client answer index; caller destroys unpacked
static msgpack_object_map *
s_answer_map (size_t index, msgpack_unpacked *unpacked)
{
    cr_assert_lt (index, s_world->answer_count, "no answer %zu", index);
    zframe_t *header = zmsg_first (s_world->answers [index]);
    msgpack_unpacked_init (unpacked);
    cr_assert_eq (msgpack_unpack_next (unpacked, (const char *) zframe_data (header), zframe_size (header),
                                       NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (unpacked->data.type, MSGPACK_OBJECT_MAP);
    return &unpacked->data.via.map;
}

static const msgpack_object *
s_field (msgpack_object_map *map, const char *name)
{
    for (uint32_t entry = 0; entry < map->size; entry++)
        if (map->ptr [entry].key.via.str.size == strlen (name)
        &&  memcmp (map->ptr [entry].key.via.str.ptr, name, strlen (name)) == 0)
            return &map->ptr [entry].val;
    return NULL;
}

//  Assert answer index has result (and, if not NULL, an error-message
//  containing text); returns the field value of "uint_field" or 0
static uint64_t
s_expect_answer (size_t index, const char *result, const char *text, const char *uint_field)
{
    msgpack_unpacked unpacked;
    msgpack_object_map *map = s_answer_map (index, &unpacked);
    const msgpack_object *value = s_field (map, "result");
    cr_assert_not_null (value);
    char got [64];
    snprintf (got, sizeof got, "%.*s", (int) value->via.str.size, value->via.str.ptr);
    const msgpack_object *message = s_field (map, "error-message");
    char error [300] = "";
    if (message && message->type == MSGPACK_OBJECT_STR)
        snprintf (error, sizeof error, "%.*s", (int) message->via.str.size, message->via.str.ptr);
    cr_assert_str_eq (got, result, "answer %zu: %s (%s)", index, got, error);
    if (text)
        cr_assert_not_null (strstr (error, text), "'%s' does not contain '%s'", error, text);
    uint64_t number = 0;
    if (uint_field) {
        value = s_field (map, uint_field);
        cr_assert_not_null (value, "no %s", uint_field);
        number = value->via.u64;
    }
    msgpack_unpacked_destroy (&unpacked);
    return number;
}

//  Answer the sent request index as node would: result, no data
static void
s_reply (void *op, void (*on_event) (void *, node_event_t *), size_t index, result_t result)
{
    s_sent_t *sent = &s_world->sent [index];
    reply_t *reply = reply_new ();
    reply->result = result;
    if (result != RESULT_SUCCESS)
        snprintf (reply->error_message, sizeof reply->error_message, "made-up trouble");
    node_event_t event = { sent->op, sent->node, sent->cookie, reply, NULL, false };
    on_event (op, &event);
    zmsg_destroy (&event.data);
    reply_destroy (&reply);
}

static void
s_put_event (void *op, node_event_t *event)
{
    put_op_on_event ((put_op_t *) op, event);
}

static void
s_delete_event (void *op, node_event_t *event)
{
    delete_op_on_event ((delete_op_t *) op, event);
}

static uint8_t *
s_object (size_t size, unsigned seed)
{
    uint8_t *data = (uint8_t *) malloc (size? size: 1);
    for (size_t index = 0; index < size; index++)
        data [index] = (uint8_t) ((index * 131 + seed * 7 + (index >> 9)) & 0xff);
    return data;
}

//  Rebuild slice sequence from the shares sent to nodes (any k of them,
//  starting at first_node) and compare with expected
static void
s_check_slice (size_t first_sent, size_t first_node, const uint8_t *expected, size_t size)
{
    const uint8_t *shares [S_K];
    int nums [S_K];
    zframe_t *joined [S_K];
    size_t share_size = 0;
    uint32_t padding = 0;
    for (int j = 0; j < S_K; j++) {
        size_t node = (first_node + (size_t) j) % S_NODES;
        s_sent_t *sent = &s_world->sent [first_sent + node];
        cr_assert_eq (sent->node, node);
        share_size = (size_t) sent->request.segment_size;
        padding = sent->request.zfec_padding_size;
        cr_assert_eq (zmsg_content_size (sent->data), share_size);
        joined [j] = zframe_new (NULL, share_size);
        size_t offset = 0;
        for (zframe_t *frame = zmsg_first (sent->data); frame; frame = zmsg_next (sent->data)) {
            cr_assert_leq (zframe_size (frame), 4096, "one frame per 32 KiB block");
            memcpy (zframe_data (joined [j]) + offset, zframe_data (frame), zframe_size (frame));
            offset += zframe_size (frame);
        }
        uint8_t md5 [16];
        digest_md5 (zframe_data (joined [j]), share_size, md5);
        cr_assert_eq (memcmp (md5, sent->request.segment_md5, 16), 0, "segment-md5-digest of node %zu", node);
        shares [j] = zframe_data (joined [j]);
        nums [j] = (int) node;
    }
    uint8_t *out = (uint8_t *) malloc (S_SLICE);
    size_t rebuilt = 0;
    cr_assert_eq (erasure_decode_slice (s_erasure, shares, nums, share_size, padding, out, S_SLICE, &rebuilt), 0);
    cr_assert_eq (rebuilt, size);
    cr_assert_eq (memcmp (out, expected, size), 0, "rebuilt slice differs");
    free (out);
    for (int j = 0; j < S_K; j++)
        zframe_destroy (&joined [j]);
}


//  --------------------------------------------------------------------------
//  put_op

Test (router_ops, put_multi_slice_pipelines_two_slices_and_answers_after_all_acks)
{
    size_t size = 2 * S_SLICE + 1000;
    uint8_t *object = s_object (size, 1);
    router_request_t *request = s_request (ROUTER_MSG_PUT);
    uint8_t meta [] = { 0x81, 0xa1, 'a', 0xa1, 'b' };
    request->meta = meta;
    request->meta_size = sizeof meta;
    put_op_t *op = put_op_new (&s_env, request);
    request->meta = NULL;
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    uint64_t version = put_op_unified_id (op);
    //  The object in three frames that do not line up with slices
    zmsg_t *data = zmsg_new ();
    zmsg_addmem (data, object, 5000);
    zmsg_addmem (data, object + 5000, S_SLICE);
    zmsg_addmem (data, object + 5000 + S_SLICE, size - 5000 - S_SLICE);
    put_op_feed (op, &data, NULL);
    cr_assert_null (data);
    op_client_t *client = s_client (request);
    put_op_finish (op, &client);
    cr_assert_null (client);

    //  Two slices went out (start, next), the third waits
    cr_assert_eq (s_world->sent_count, 2 * S_NODES);
    for (size_t index = 0; index < 2 * S_NODES; index++) {
        request_t *sent = &s_world->sent [index].request;
        cr_assert_eq (sent->type, index < S_NODES? MSG_ARCHIVE_KEY_START: MSG_ARCHIVE_KEY_NEXT);
        cr_assert_eq (sent->sequence_num, index / S_NODES);
        cr_assert_eq (sent->segment_num, index % S_NODES + 1);
        cr_assert_eq (sent->unified_id, version);
        cr_assert_eq (sent->collection_id, 7);
        cr_assert_str_eq (sent->key, "k");
        char name [16];
        snprintf (name, sizeof name, "node%02zu", index % S_NODES + 1);
        cr_assert_str_eq (sent->source_node_name, name);
        cr_assert_eq (sent->present & (FIELD_FILE_HASH | FIELD_META | FIELD_HANDOFF_NODE_NAME), 0);
        cr_assert_eq (s_world->sent [index].endpoint, NODE_WRITER);
    }
    s_check_slice (0, 0, object, S_SLICE);
    s_check_slice (S_NODES, 2, object + S_SLICE, S_SLICE);

    //  Slice 0 acknowledged by all but one: nothing moves
    for (size_t index = 0; index < S_NODES - 1; index++)
        s_reply (op, s_put_event, index, RESULT_SUCCESS);
    cr_assert_eq (s_world->sent_count, 2 * S_NODES);
    s_reply (op, s_put_event, S_NODES - 1, RESULT_SUCCESS);
    //  Now the final slice goes out, with the whole object's size, hash, meta
    cr_assert_eq (s_world->sent_count, 3 * S_NODES);
    uint8_t file_hash [16];
    digest_md5 (object, size, file_hash);
    for (size_t index = 2 * S_NODES; index < 3 * S_NODES; index++) {
        request_t *sent = &s_world->sent [index].request;
        cr_assert_eq (sent->type, MSG_ARCHIVE_KEY_FINAL);
        cr_assert_eq (sent->sequence_num, 2);
        cr_assert_eq (sent->file_size, size);
        cr_assert_eq (memcmp (sent->file_hash, file_hash, 16), 0);
        cr_assert (s_world->sent [index].had_meta);
    }
    s_check_slice (2 * S_NODES, 1, object + 2 * S_SLICE, 1000);
    cr_assert_eq (s_world->answer_count, 0);
    for (size_t index = S_NODES; index < 3 * S_NODES; index++)
        s_reply (op, s_put_event, index, RESULT_SUCCESS);
    cr_assert (put_op_done (op));
    cr_assert_eq (s_expect_answer (0, "success", NULL, "unified-id"), version);
    cr_assert_eq (s_expect_answer (0, "success", NULL, "size"), size);
    cr_assert_eq (s_world->posted_count, 0, "nothing cancelled");
    put_op_destroy (&op);
    router_request_destroy (&request);
    free (object);
}

Test (router_ops, put_small_and_empty_objects_use_entire)
{
    for (size_t size = 0; size <= 1; size++) {
        size_t first = s_world->sent_count;
        router_request_t *request = s_request (ROUTER_MSG_PUT);
        put_op_t *op = put_op_new (&s_env, request);
        char error [256];
        cr_assert_eq (put_op_start (op, error, sizeof error), 0);
        zmsg_t *data = zmsg_new ();
        if (size)
            zmsg_addmem (data, "x", 1);
        put_op_feed (op, &data, NULL);
        op_client_t *client = s_client (request);
        put_op_finish (op, &client);
        cr_assert_eq (s_world->sent_count - first, S_NODES);
        for (size_t index = first; index < first + S_NODES; index++) {
            request_t *sent = &s_world->sent [index].request;
            cr_assert_eq (sent->type, MSG_ARCHIVE_KEY_ENTIRE);
            cr_assert_eq (sent->segment_size, size);
            cr_assert_eq (sent->zfec_padding_size, size? S_K - 1: 0);
            cr_assert_eq (sent->file_size, size);
            cr_assert_eq (zmsg_size (s_world->sent [index].data), size);
        }
        for (size_t index = first; index < first + S_NODES; index++)
            s_reply (op, s_put_event, index, RESULT_SUCCESS);
        cr_assert (put_op_done (op));
        cr_assert_eq (s_expect_answer (size, "success", NULL, "size"), size);
        put_op_destroy (&op);
        router_request_destroy (&request);
    }
}

Test (router_ops, put_node_failure_cancels_everywhere)
{
    size_t size = S_SLICE + 10;
    uint8_t *object = s_object (size, 2);
    router_request_t *request = s_request (ROUTER_MSG_PUT);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    zmsg_t *data = zmsg_new ();
    zmsg_addmem (data, object, size);
    put_op_feed (op, &data, NULL);
    op_client_t *client = s_client (request);
    put_op_finish (op, &client);
    //  start and final are both out (two in flight)
    cr_assert_eq (s_world->sent_count, 2 * S_NODES);
    s_reply (op, s_put_event, 0, RESULT_SUCCESS);
    s_reply (op, s_put_event, 3, RESULT_OUT_OF_SPACE);
    cr_assert (put_op_done (op));
    s_expect_answer (0, "io-error", "node04: out-of-space: made-up trouble", NULL);
    //  cancel for every segment, and (a final went out) destroy-key of the version
    cr_assert_eq (s_world->posted_count, 2 * S_NODES);
    size_t cancels = 0, destroys = 0;
    for (size_t index = 0; index < s_world->posted_count; index++) {
        request_t *posted = &s_world->posted [index];
        cr_assert_eq (posted->type == MSG_ARCHIVE_KEY_CANCEL || posted->type == MSG_DESTROY_KEY, true);
        if (posted->type == MSG_ARCHIVE_KEY_CANCEL) {
            cr_assert_eq (posted->unified_id, put_op_unified_id (op));
            cr_assert_eq (posted->segment_num, cancels + 1);
            cancels++;
        }
        else {
            cr_assert_eq (posted->unified_id_to_delete, put_op_unified_id (op));
            cr_assert_gt (posted->unified_id, put_op_unified_id (op));
            destroys++;
        }
    }
    cr_assert_eq (cancels, S_NODES);
    cr_assert_eq (destroys, S_NODES);
    //  Late answers change nothing
    s_reply (op, s_put_event, 5, RESULT_SUCCESS);
    cr_assert_eq (s_world->answer_count, 1);
    put_op_destroy (&op);
    router_request_destroy (&request);
    free (object);
}

Test (router_ops, put_timeout_and_unreachable)
{
    router_request_t *request = s_request (ROUTER_MSG_PUT);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    zmsg_t *data = zmsg_new ();
    zmsg_addstr (data, "hello");
    put_op_feed (op, &data, NULL);
    op_client_t *client = s_client (request);
    put_op_finish (op, &client);
    node_event_t event = { op, 6, 0, NULL, NULL, false };
    put_op_on_event (op, &event);
    s_expect_answer (0, "timeout", "node07: no answer within 1234 ms", NULL);
    put_op_destroy (&op);

    //  Three nodes down (7 < k reachable): refused before anything is sent
    s_world->unreachable [8] = s_world->unreachable [2] = s_world->unreachable [5] = true;
    size_t sent_before = s_world->sent_count;
    op = put_op_new (&s_env, request);
    cr_assert_eq (put_op_start (op, error, sizeof error), -1);
    cr_assert_not_null (strstr (error, "only 7 of 10 nodes are reachable"), "%s", error);
    cr_assert_not_null (strstr (error, "node03, node06, node09"), "%s", error);
    cr_assert_not_null (strstr (error, "at least 8"), "%s", error);
    cr_assert (put_op_done (op));
    cr_assert_eq (s_world->sent_count, sent_before);
    put_op_destroy (&op);

    //  A node lost after the start (found disconnected when sending):
    //  timeout, cancelled on every target
    s_world->unreachable [2] = s_world->unreachable [5] = s_world->unreachable [8] = false;
    op = put_op_new (&s_env, request);
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    s_world->unreachable [4] = true;
    data = zmsg_new ();
    zmsg_addstr (data, "hello");
    put_op_feed (op, &data, NULL);
    client = s_client (request);
    put_op_finish (op, &client);
    cr_assert (put_op_done (op));
    s_expect_answer (1, "timeout", "node05: lost during the put", NULL);
    cr_assert_eq (put_op_handoffs (op), 0);
    size_t cancels = 0;
    for (size_t index = 0; index < s_world->posted_count; index++)
        if (s_world->posted [index].type == MSG_DESTROY_KEY
        &&  s_world->posted [index].unified_id_to_delete == put_op_unified_id (op))
            cancels++;
    cr_assert_eq (cancels, S_NODES, "the entire went out: destroy-key for every share");
    put_op_destroy (&op);
    router_request_destroy (&request);
}

Test (router_ops, streamed_upload_flow_control)
{
    router_request_t *request = s_request (ROUTER_MSG_PUT_START);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    uint8_t *object = s_object (4 * S_SLICE, 3);
    //  Each put-data is answered at once while at most a slice waits
    for (int piece = 0; piece < 4; piece++) {
        zmsg_t *data = zmsg_new ();
        zmsg_addmem (data, object + piece * S_SLICE, S_SLICE);
        router_request_t *part = s_request (ROUTER_MSG_PUT_DATA);
        op_client_t *client = s_client (part);
        put_op_feed (op, &data, &client);
        router_request_destroy (&part);
        cr_assert (put_op_waiting_for_client (op) || piece == 3);
    }
    //  Pieces 0 and 1 answered at once; slices 0 and 1 went out when pieces
    //  1 and 2 arrived; piece 2 answered when slice 1 left; piece 3 (slice 2
    //  waiting + slice 3 pending) must wait for slice 0 to be acknowledged
    cr_assert_eq (s_world->sent_count, 2 * S_NODES);
    cr_assert_eq (s_world->answer_count, 3);
    cr_assert (!put_op_waiting_for_client (op));
    for (size_t index = 0; index < S_NODES; index++)
        s_reply (op, s_put_event, index, RESULT_SUCCESS);
    cr_assert_eq (s_world->sent_count, 3 * S_NODES);
    cr_assert_eq (s_world->answer_count, 4);
    s_expect_answer (3, "success", NULL, NULL);
    cr_assert (put_op_waiting_for_client (op));
    //  Finish: the last slice is final
    router_request_t *finish = s_request (ROUTER_MSG_PUT_FINISH);
    op_client_t *client = s_client (finish);
    put_op_finish (op, &client);
    for (size_t index = S_NODES; index < 3 * S_NODES; index++)
        s_reply (op, s_put_event, index, RESULT_SUCCESS);
    cr_assert_eq (s_world->sent_count, 4 * S_NODES);
    cr_assert_eq (s_world->sent [3 * S_NODES].request.type, MSG_ARCHIVE_KEY_FINAL);
    s_check_slice (3 * S_NODES, 5, object + 3 * S_SLICE, S_SLICE);
    for (size_t index = 3 * S_NODES; index < 4 * S_NODES; index++)
        s_reply (op, s_put_event, index, RESULT_SUCCESS);
    cr_assert (put_op_done (op));
    cr_assert_eq (s_expect_answer (4, "success", NULL, "size"), 4 * S_SLICE);
    put_op_destroy (&op);
    router_request_destroy (&finish);
    router_request_destroy (&request);
    free (object);
}

Test (router_ops, upload_failure_is_told_to_the_next_message)
{
    router_request_t *request = s_request (ROUTER_MSG_PUT_START);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    uint8_t *object = s_object (S_SLICE + 1, 4);
    zmsg_t *data = zmsg_new ();
    zmsg_addmem (data, object, S_SLICE + 1);
    router_request_t *part = s_request (ROUTER_MSG_PUT_DATA);
    op_client_t *client = s_client (part);
    put_op_feed (op, &data, &client);
    s_expect_answer (0, "success", NULL, NULL);
    //  slice 0 fails while the client is away
    s_reply (op, s_put_event, 2, RESULT_IO_ERROR);
    cr_assert (!put_op_done (op));
    cr_assert (put_op_waiting_for_client (op));
    cr_assert_eq (s_world->posted_count, S_NODES, "cancel sent to every node");
    data = zmsg_new ();
    zmsg_addstr (data, "more");
    client = s_client (part);
    put_op_feed (op, &data, &client);
    cr_assert (put_op_done (op));
    s_expect_answer (1, "io-error", "node03", NULL);
    put_op_destroy (&op);
    router_request_destroy (&part);
    router_request_destroy (&request);
    free (object);
}

//  Feed object to an upload in slice-size put-data messages, answering
//  every slice the op sends (from sent index *acked_p on) until it takes
//  the piece; returns how many put-data were answered
static void
s_upload_pieces (put_op_t *op, const uint8_t *object, size_t pieces, size_t *acked_p)
{
    for (size_t piece = 0; piece < pieces; piece++) {
        zmsg_t *data = zmsg_new ();
        zmsg_addmem (data, object + piece * S_SLICE, S_SLICE);
        router_request_t *part = s_request (ROUTER_MSG_PUT_DATA);
        op_client_t *client = s_client (part);
        put_op_feed (op, &data, &client);
        router_request_destroy (&part);
        while (!put_op_waiting_for_client (op) && *acked_p < s_world->sent_count)
            s_reply (op, s_put_event, (*acked_p)++, RESULT_SUCCESS);
    }
}

Test (router_ops, upload_survives_a_lost_node_within_its_copy)
{
    //  An upload that keeps a copy of up to 8 slices: node05 is lost after
    //  two slices went out; the upload is sent again from the copy under a
    //  new unified-id with node05's share on handoff holders
    router_request_t *request = s_request (ROUTER_MSG_PUT_START);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    put_op_set_restartable (op, 8 * S_SLICE);
    uint64_t first_id = put_op_unified_id (op);
    uint8_t *object = s_object (4 * S_SLICE, 9);
    size_t acked = 0;
    s_upload_pieces (op, object, 3, &acked);
    cr_assert_eq (put_op_copy_bytes (op), 3 * S_SLICE);
    size_t before = s_world->sent_count;
    //  Slice 1's request to node05 comes back lost
    size_t lost_index = 0;
    for (size_t index = acked; index < s_world->sent_count; index++)
        if (s_world->sent [index].node == 4)
            lost_index = index;
    cr_assert_gt (lost_index, 0);
    s_world->unreachable [4] = true;
    s_sent_t *lost = &s_world->sent [lost_index];
    node_event_t event = { lost->op, lost->node, lost->cookie, NULL, NULL, true };
    put_op_on_event (op, &event);
    cr_assert (!put_op_done (op));
    cr_assert_neq (put_op_unified_id (op), first_id, "a restart writes a new version");
    cr_assert_gt (s_world->sent_count, before, "sent again");
    for (size_t index = before; index < s_world->sent_count; index++)
        cr_assert_neq (s_world->sent [index].node, 4, "nothing more to the lost node");
    //  Answers to the first attempt are ignored from now on
    acked = before;
    s_upload_pieces (op, object + 3 * S_SLICE, 1, &acked);
    router_request_t *finish = s_request (ROUTER_MSG_PUT_FINISH);
    op_client_t *client = s_client (finish);
    put_op_finish (op, &client);
    while (!put_op_done (op) && acked < s_world->sent_count)
        s_reply (op, s_put_event, acked++, RESULT_SUCCESS);
    cr_assert (put_op_done (op));
    cr_assert_gt (put_op_handoffs (op), 0);
    size_t answers = s_world->answer_count;
    cr_assert_eq (s_expect_answer (answers - 1, "success", NULL, "size"), 4 * S_SLICE);
    cr_assert_eq (s_expect_answer (answers - 1, "success", NULL, "unified-id"), put_op_unified_id (op));
    //  The first attempt was cancelled on every target it had
    size_t cancels = 0;
    for (size_t index = 0; index < s_world->posted_count; index++)
        if (s_world->posted [index].type == MSG_ARCHIVE_KEY_CANCEL
        &&  s_world->posted [index].unified_id == first_id)
            cancels++;
    cr_assert_eq (cancels, S_NODES);
    put_op_destroy (&op);
    router_request_destroy (&finish);
    router_request_destroy (&request);
    free (object);
}

Test (router_ops, upload_past_its_copy_fails_on_a_lost_node)
{
    //  The copy is dropped once the upload outgrows it: a lost node then
    //  fails the upload, saying why
    router_request_t *request = s_request (ROUTER_MSG_PUT_START);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    put_op_set_restartable (op, 2 * S_SLICE);
    uint8_t *object = s_object (3 * S_SLICE, 10);
    size_t acked = 0;
    s_upload_pieces (op, object, 2, &acked);
    cr_assert_eq (put_op_copy_bytes (op), 2 * S_SLICE);
    s_upload_pieces (op, object + 2 * S_SLICE, 1, &acked);
    cr_assert_eq (put_op_copy_bytes (op), 0, "dropped past its limit");
    s_sent_t *lost = &s_world->sent [s_world->sent_count - 1];
    node_event_t event = { lost->op, lost->node, lost->cookie, NULL, NULL, true };
    put_op_on_event (op, &event);
    router_request_t *finish = s_request (ROUTER_MSG_PUT_FINISH);
    op_client_t *client = s_client (finish);
    put_op_finish (op, &client);
    cr_assert (put_op_done (op));
    s_expect_answer (s_world->answer_count - 1, "timeout", "keeps no copy of an upload past max-put-bytes", NULL);
    put_op_destroy (&op);
    router_request_destroy (&finish);
    router_request_destroy (&request);
    free (object);
}

Test (router_ops, put_abort)
{
    router_request_t *request = s_request (ROUTER_MSG_PUT_START);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    uint8_t *object = s_object (S_SLICE + 1, 5);
    zmsg_t *data = zmsg_new ();
    zmsg_addmem (data, object, S_SLICE + 1);
    put_op_feed (op, &data, NULL);
    router_request_t *abort_request = s_request (ROUTER_MSG_PUT_ABORT);
    op_client_t *client = s_client (abort_request);
    put_op_abort (op, &client, ROUTER_INVALID_REQUEST, "aborted");
    cr_assert (put_op_done (op));
    s_expect_answer (0, "success", NULL, NULL);
    cr_assert_eq (s_world->posted_count, S_NODES);
    cr_assert_eq (s_world->posted [0].type, MSG_ARCHIVE_KEY_CANCEL);
    put_op_destroy (&op);
    router_request_destroy (&abort_request);
    router_request_destroy (&request);
    free (object);
}


//  --------------------------------------------------------------------------
//  get_op

//  The shares of one slice of an object, as nodes would store them
typedef struct {
    uint8_t *shares [S_NODES];
    size_t share_size;
    uint32_t padding;
    uint8_t file_hash [16];
    uint64_t file_size;
} s_stored_t;

static void
s_store (s_stored_t *stored, const uint8_t *slice, size_t slice_size, const uint8_t *whole, size_t whole_size)
{
    stored->share_size = erasure_share_size (s_erasure, slice_size);
    for (int node = 0; node < S_NODES; node++)
        stored->shares [node] = (uint8_t *) malloc (stored->share_size + 1);
    cr_assert_eq (erasure_encode_slice (s_erasure, slice, slice_size, stored->shares, &stored->padding), 0);
    digest_md5 (whole, whole_size, stored->file_hash);
    stored->file_size = whole_size;
}

static void
s_unstore (s_stored_t *stored)
{
    for (int node = 0; node < S_NODES; node++)
        free (stored->shares [node]);
}

//  Answer the get request sent [index] with the share it asks for (its
//  segment-num) of version, or with a failure result
static void
s_answer_sent (get_op_t *op, size_t index, s_stored_t *stored, uint64_t version, uint32_t sequence,
               uint32_t count, result_t result)
{
    s_sent_t *sent = &s_world->sent [index];
    cr_assert_eq (sent->endpoint, NODE_READER);
    size_t share = (size_t) sent->request.segment_num - 1;
    reply_t *reply = reply_new ();
    reply->result = result;
    zmsg_t *data = NULL;
    if (result == RESULT_SUCCESS) {
        reply->fields = REPLY_FIELDS_RETRIEVE;
        reply->unified_id = version;
        reply->timestamp = 1700000000000000LL;
        reply->segment_num = (uint8_t) (share + 1);
        reply->file_size = stored->file_size;
        memcpy (reply->file_hash, stored->file_hash, 16);
        reply->sequence_count = count;
        reply->sequence_num = sequence;
        reply->segment_size = stored->share_size;
        reply->zfec_padding_size = stored->padding;
        reply->completed = sequence + 1 == count;
        data = zmsg_new ();
        if (stored->share_size)
            zmsg_addmem (data, stored->shares [share], stored->share_size);
    }
    else
        snprintf (reply->error_message, sizeof reply->error_message, "made-up trouble");
    node_event_t event = { op, sent->node, sent->cookie, reply, data, false };
    get_op_on_event (op, &event);
    zmsg_destroy (&event.data);
    reply_destroy (&reply);
}

//  Answer the get request the op sent to node for its own share (the
//  latest one) with the node's share of version
static void
s_node_answers (get_op_t *op, size_t node, s_stored_t *stored, uint64_t version, uint32_t sequence,
                uint32_t count, result_t result)
{
    size_t index = s_world->sent_count;
    while (index > 0 && !(s_world->sent [index - 1].node == node && s_world->sent [index - 1].op == op
                          && !(s_world->sent [index - 1].request.present & FIELD_HANDOFF_NODE_NAME)))
        index--;
    cr_assert_gt (index, 0, "nothing was sent to node %zu", node);
    s_answer_sent (op, index - 1, stored, version, sequence, count, result);
}

//  Answer every handoff request sent to op from sent [first] on: holders
//  [share] is a bit mask of the nodes that hold a copy of share (they
//  answer it), the others answer not-found. Returns the requests answered.
static size_t
s_copies_answer (get_op_t *op, size_t first, const unsigned *holders, s_stored_t *stored,
                 uint64_t version, uint32_t sequence, uint32_t count)
{
    size_t answered = 0;
    for (size_t index = first; index < s_world->sent_count && !get_op_done (op); index++) {
        s_sent_t *sent = &s_world->sent [index];
        if (sent->op != op || !(sent->request.present & FIELD_HANDOFF_NODE_NAME))
            continue;
        size_t share = (size_t) sent->request.segment_num - 1;
        bool holds = (holders [share] >> sent->node) & 1;
        s_answer_sent (op, index, stored, version, sequence, count, holds? RESULT_SUCCESS: RESULT_NOT_FOUND);
        answered++;
    }
    return answered;
}

//  The data of client answer index
static zframe_t *
s_answer_data (size_t index)
{
    cr_assert_lt (index, s_world->answer_count);
    zmsg_t *msg = s_world->answers [index];
    zmsg_first (msg);
    return zmsg_next (msg);
}

Test (router_ops, get_skips_bad_shares)
{
    size_t size = 50000;
    uint8_t *object = s_object (size, 6);
    s_stored_t stored;
    s_store (&stored, object, size, object, size);
    router_request_t *request = s_request (ROUTER_MSG_GET);
    op_client_t *client = s_client (request);
    digest_md5_t *md5 = digest_md5_new ();
    get_op_t *op = get_op_new (&s_env, request, &client, &md5);
    cr_assert_null (md5);
    get_op_start (op);
    cr_assert_eq (s_world->sent_count, S_NODES);
    for (size_t node = 0; node < S_NODES; node++) {
        request_t *sent = &s_world->sent [node].request;
        cr_assert_eq (sent->type, MSG_RETRIEVE_KEY_START);
        cr_assert_eq (sent->present & FIELD_UNIFIED_ID, 0, "the visible version is asked for");
        cr_assert_eq (sent->segment_num, node + 1);
    }
    //  Two nodes fail verification, one has nothing: 7 good so far
    s_node_answers (op, 1, &stored, 55, 0, 1, RESULT_MD5_MISMATCH);
    s_node_answers (op, 4, &stored, 55, 0, 1, RESULT_NOT_FOUND);
    for (size_t node = 2; node < S_NODES; node++)
        if (node != 4)
            s_node_answers (op, node, &stored, 55, 0, 1, RESULT_SUCCESS);
    cr_assert (!get_op_done (op));
    //  The eighth good share: rebuilt from parity
    s_node_answers (op, 0, &stored, 55, 0, 1, RESULT_SUCCESS);
    cr_assert (get_op_done (op));
    cr_assert_eq (s_expect_answer (0, "success", NULL, "unified-id"), 55);
    cr_assert_eq (s_expect_answer (0, "success", NULL, "slice-count"), 1);
    zframe_t *data = s_answer_data (0);
    cr_assert_not_null (data);
    cr_assert_eq (zframe_size (data), size);
    cr_assert_eq (memcmp (zframe_data (data), object, size), 0);
    uint64_t version;
    uint32_t next;
    cr_assert_null (get_op_continuation (op, &version, &next), "the last slice ends the read");
    get_op_destroy (&op);
    router_request_destroy (&request);
    s_unstore (&stored);
    free (object);
}

Test (router_ops, get_resolves_versions_and_reasks)
{
    uint8_t *old_object = s_object (3000, 7);
    uint8_t *new_object = s_object (4000, 8);
    s_stored_t old_stored, new_stored;
    s_store (&old_stored, old_object, 3000, old_object, 3000);
    s_store (&new_stored, new_object, 4000, new_object, 4000);
    router_request_t *request = s_request (ROUTER_MSG_GET);
    op_client_t *client = s_client (request);
    get_op_t *op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    //  A half-stored newer version (200) on nodes 0..3; everyone has 100
    for (size_t node = 0; node < 4; node++)
        s_node_answers (op, node, &new_stored, 200, 0, 1, RESULT_SUCCESS);
    for (size_t node = 4; node < S_NODES; node++)
        s_node_answers (op, node, &old_stored, 100, 0, 1, RESULT_SUCCESS);
    //  Nodes 0..3 are asked again, for version 100 explicitly
    cr_assert (!get_op_done (op));
    cr_assert_eq (s_world->sent_count, S_NODES + 4);
    for (size_t index = S_NODES; index < S_NODES + 4; index++) {
        cr_assert_eq (s_world->sent [index].request.unified_id, 100);
        cr_assert (s_world->sent [index].request.present & FIELD_UNIFIED_ID);
    }
    s_node_answers (op, 0, &old_stored, 100, 0, 1, RESULT_SUCCESS);
    s_node_answers (op, 1, &old_stored, 100, 0, 1, RESULT_SUCCESS);
    cr_assert (get_op_done (op));
    cr_assert_eq (s_expect_answer (0, "success", NULL, "unified-id"), 100);
    zframe_t *data = s_answer_data (0);
    cr_assert_eq (zframe_size (data), 3000);
    cr_assert_eq (memcmp (zframe_data (data), old_object, 3000), 0);
    get_op_destroy (&op);

    //  When k nodes agree on the newest, no one is asked again
    size_t before = s_world->sent_count;
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    for (size_t node = 0; node < S_K; node++)
        s_node_answers (op, node, &new_stored, 200, 0, 1, RESULT_SUCCESS);
    cr_assert (get_op_done (op), "k answers of the newest version decide at once");
    cr_assert_eq (s_world->sent_count, before + S_NODES);
    cr_assert_eq (s_expect_answer (1, "success", NULL, "unified-id"), 200);
    get_op_destroy (&op);
    router_request_destroy (&request);
    s_unstore (&old_stored);
    s_unstore (&new_stored);
    free (old_object);
    free (new_object);
}

Test (router_ops, get_failures)
{
    uint8_t *object = s_object (1000, 9);
    s_stored_t stored;
    s_store (&stored, object, 1000, object, 1000);
    router_request_t *request = s_request (ROUTER_MSG_GET);

    //  Nobody has it: not-found
    op_client_t *client = s_client (request);
    get_op_t *op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    for (size_t node = 0; node < S_NODES; node++)
        s_node_answers (op, node, &stored, 1, 0, 1, RESULT_NOT_FOUND);
    cr_assert (get_op_done (op));
    s_expect_answer (0, "not-found", "key", NULL);
    get_op_destroy (&op);

    //  n-k+1 say not-found, the rest have it: not-found as soon as it is clear
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    for (size_t node = 0; node < 3; node++)
        s_node_answers (op, node, &stored, 1, 0, 1, RESULT_NOT_FOUND);
    cr_assert (get_op_done (op));
    s_expect_answer (1, "not-found", NULL, NULL);
    get_op_destroy (&op);

    //  Three bad shares: data-error naming them
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    for (size_t node = 0; node < 3; node++)
        s_node_answers (op, node, &stored, 1, 0, 1, RESULT_MD5_MISMATCH);
    cr_assert (get_op_done (op));
    s_expect_answer (2, "data-error", "node01: md5-mismatch", NULL);
    get_op_destroy (&op);

    //  Three nodes silent: timeout
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    size_t first = s_world->sent_count - S_NODES;
    for (size_t node = 0; node < 3; node++) {
        node_event_t event = { op, node, s_world->sent [first + node].cookie, NULL, NULL, false };
        get_op_on_event (op, &event);
    }
    //  Once the other owners have answered, and before giving up, every
    //  other node is asked for copies of the three shares; none has one
    cr_assert (!get_op_done (op));
    cr_assert_eq (s_world->sent_count, first + S_NODES, "owners first");
    for (size_t node = 3; node < S_NODES; node++)
        s_node_answers (op, node, &stored, 1, 0, 1, RESULT_SUCCESS);
    cr_assert (!get_op_done (op));
    cr_assert_eq (s_world->sent_count, first + S_NODES + 3 * (S_NODES - 1));
    unsigned nobody [S_NODES] = { 0 };
    cr_assert_eq (s_copies_answer (op, first + S_NODES, nobody, &stored, 1, 0, 1), 3 * (S_NODES - 1));
    cr_assert (get_op_done (op));
    s_expect_answer (3, "timeout", "no handoff copies", NULL);
    get_op_destroy (&op);

    //  Three nodes unreachable: the seven others are asked, and for copies
    //  of the three missing shares; nothing: unavailable naming them
    size_t before = s_world->sent_count;
    s_world->unreachable [0] = s_world->unreachable [5] = s_world->unreachable [9] = true;
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    cr_assert (!get_op_done (op));
    cr_assert_eq (s_world->sent_count, before + 7);
    for (size_t node = 0; node < S_NODES; node++)
        if (!s_world->unreachable [node])
            s_node_answers (op, node, &stored, 1, 0, 1, RESULT_SUCCESS);
    cr_assert (!get_op_done (op));
    cr_assert_eq (s_world->sent_count, before + 7 + 3 * 7);
    s_copies_answer (op, before, nobody, &stored, 1, 0, 1);
    cr_assert (get_op_done (op));
    s_expect_answer (4, "unavailable", "node06: not reachable", NULL);
    get_op_destroy (&op);

    //  No node reachable: unavailable at once
    before = s_world->sent_count;
    for (size_t node = 0; node < S_NODES; node++)
        s_world->unreachable [node] = true;
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    cr_assert (get_op_done (op));
    cr_assert_eq (s_world->sent_count, before);
    s_expect_answer (5, "unavailable", "node01", NULL);
    get_op_destroy (&op);
    router_request_destroy (&request);
    s_unstore (&stored);
    free (object);
}

Test (router_ops, get_next_checks_the_object_md5_on_the_last_slice)
{
    //  Two slices; slice 1 read with the MD5 of slice 0 carried over
    size_t size = S_SLICE + 777;
    uint8_t *object = s_object (size, 10);
    s_stored_t slice0, slice1;
    s_store (&slice0, object, S_SLICE, object, size);
    s_store (&slice1, object + S_SLICE, 777, object, size);

    router_request_t *request = s_request (ROUTER_MSG_GET);
    op_client_t *client = s_client (request);
    digest_md5_t *md5 = digest_md5_new ();
    get_op_t *op = get_op_new (&s_env, request, &client, &md5);
    get_op_start (op);
    for (size_t node = 0; node < S_K; node++)
        s_node_answers (op, node, &slice0, 9, 0, 2, RESULT_SUCCESS);
    cr_assert (get_op_done (op));
    s_expect_answer (0, "success", NULL, NULL);
    uint64_t version = 0;
    uint32_t next = 0;
    md5 = get_op_continuation (op, &version, &next);
    cr_assert_not_null (md5);
    cr_assert_eq (version, 9);
    cr_assert_eq (next, 1);
    get_op_destroy (&op);

    router_request_t *more = s_request (ROUTER_MSG_GET_NEXT);
    more->unified_id = 9;
    more->slice_num = 1;
    more->present |= ROUTER_FIELD_UNIFIED_ID | ROUTER_FIELD_SLICE_NUM;
    //  A share that a node did not catch as damaged: rebuilt slice is wrong
    digest_md5_t *copy = digest_md5_new ();
    digest_md5_update (copy, object, S_SLICE);
    client = s_client (more);
    op = get_op_new (&s_env, more, &client, &md5);
    get_op_start (op);
    for (size_t node = 0; node < S_NODES; node++) {
        request_t *sent = &s_world->sent [s_world->sent_count - S_NODES + node].request;
        cr_assert_eq (sent->type, MSG_RETRIEVE_KEY_NEXT);
        cr_assert_eq (sent->sequence_num, 1);
        cr_assert_eq (sent->unified_id, 9);
    }
    slice1.shares [2] [0] ^= 1;
    for (size_t node = 0; node < S_K; node++)
        s_node_answers (op, node, &slice1, 9, 1, 2, RESULT_SUCCESS);
    cr_assert (get_op_done (op));
    s_expect_answer (1, "data-error", "MD5", NULL);
    cr_assert_null (s_answer_data (1));
    get_op_destroy (&op);

    //  With good shares the last slice comes back
    slice1.shares [2] [0] ^= 1;
    client = s_client (more);
    op = get_op_new (&s_env, more, &client, &copy);
    get_op_start (op);
    for (size_t node = 2; node < S_NODES; node++)
        s_node_answers (op, node, &slice1, 9, 1, 2, RESULT_SUCCESS);
    cr_assert (get_op_done (op));
    s_expect_answer (2, "success", NULL, NULL);
    zframe_t *data = s_answer_data (2);
    cr_assert_eq (zframe_size (data), 777);
    cr_assert_eq (memcmp (zframe_data (data), object + S_SLICE, 777), 0);
    get_op_destroy (&op);
    router_request_destroy (&more);
    router_request_destroy (&request);
    s_unstore (&slice0);
    s_unstore (&slice1);
    free (object);
}


//  --------------------------------------------------------------------------
//  delete_op and list_op

Test (router_ops, delete_hands_off_absent_owners)
{
    router_request_t *request = s_request (ROUTER_MSG_DELETE);
    request->unified_id = 77;
    request->present |= ROUTER_FIELD_UNIFIED_ID;
    op_client_t *client = s_client (request);
    delete_op_t *op = delete_op_new (&s_env, request, &client);
    delete_op_start (op);
    cr_assert_eq (s_world->sent_count, S_NODES);
    uint64_t tombstone = s_world->sent [0].request.unified_id;
    for (size_t node = 0; node < S_NODES; node++) {
        request_t *sent = &s_world->sent [node].request;
        cr_assert_eq (sent->type, MSG_DESTROY_KEY);
        cr_assert_eq (sent->unified_id, tombstone);
        cr_assert_eq (sent->unified_id_to_delete, 77);
        cr_assert (sent->present & FIELD_UNIFIED_ID_TO_DELETE);
        cr_assert_eq (sent->segment_num, node + 1);
    }
    for (size_t node = 0; node < S_NODES; node++) {
        cr_assert (!delete_op_done (op));
        s_reply (op, s_delete_event, node, RESULT_SUCCESS);
    }
    cr_assert (delete_op_done (op));
    cr_assert_eq (s_expect_answer (0, "success", NULL, "unified-id"), tombstone);
    delete_op_destroy (&op);

    //  One node failing fails the delete
    client = s_client (request);
    op = delete_op_new (&s_env, request, &client);
    delete_op_start (op);
    s_reply (op, s_delete_event, S_NODES + 3, RESULT_IO_ERROR);
    cr_assert (delete_op_done (op));
    s_expect_answer (1, "io-error", "node04", NULL);
    delete_op_destroy (&op);

    //  The last node down: its tombstone goes to the next two reachable
    //  nodes (wrapping: node01, node02) with handoff-node-name node10
    s_world->unreachable [9] = true;
    size_t first = s_world->sent_count;
    client = s_client (request);
    op = delete_op_new (&s_env, request, &client);
    delete_op_start (op);
    cr_assert_eq (s_world->sent_count - first, S_NODES - 1 + 2);
    size_t holders = 0;
    for (size_t index = first; index < s_world->sent_count; index++) {
        request_t *sent = &s_world->sent [index].request;
        cr_assert_eq (sent->type, MSG_DESTROY_KEY);
        cr_assert_eq (sent->unified_id_to_delete, 77);
        cr_assert_neq (s_world->sent [index].node, 9);
        if (sent->present & FIELD_HANDOFF_NODE_NAME) {
            cr_assert_str_eq (sent->handoff_node_name, "node10");
            cr_assert_str_eq (sent->source_node_name, "node10");
            cr_assert_eq (sent->segment_num, 10);
            cr_assert_eq (s_world->sent [index].node, holders);
            holders++;
        }
        else
            cr_assert_eq (sent->segment_num, s_world->sent [index].node + 1);
    }
    cr_assert_eq (holders, 2);
    for (size_t index = first; index < s_world->sent_count; index++) {
        cr_assert (!delete_op_done (op), "every holder must acknowledge too");
        s_reply (op, s_delete_event, index, RESULT_SUCCESS);
    }
    cr_assert (delete_op_done (op));
    s_expect_answer (2, "success", NULL, "unified-id");
    cr_assert_eq (delete_op_handoffs (op), 1);
    delete_op_destroy (&op);

    //  A holder failing fails the delete, naming whose share it held
    first = s_world->sent_count;
    client = s_client (request);
    op = delete_op_new (&s_env, request, &client);
    delete_op_start (op);
    s_reply (op, s_delete_event, s_world->sent_count - 1, RESULT_IO_ERROR);
    cr_assert (delete_op_done (op));
    s_expect_answer (3, "io-error", "node02 (holding node10's share)", NULL);
    cr_assert_eq (delete_op_handoffs (op), 0);
    delete_op_destroy (&op);

    //  Three nodes down: unavailable, saying how many are reachable
    s_world->unreachable [2] = s_world->unreachable [5] = true;
    first = s_world->sent_count;
    client = s_client (request);
    op = delete_op_new (&s_env, request, &client);
    delete_op_start (op);
    cr_assert (delete_op_done (op));
    cr_assert_eq (s_world->sent_count, first);
    s_expect_answer (4, "unavailable", "only 7 of 10 nodes are reachable (down: node03, node06, node10)", NULL);
    delete_op_destroy (&op);
    router_request_destroy (&request);
}

//  A packed versions array of count versions: unified-id first + i*10
static void
s_versions (msgpack_sbuffer *buffer, uint64_t first, int count)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, count);
    for (int index = count - 1; index >= 0; index--) {
        msgpack_pack_map (&packer, 4);
        msgpack_pack_str_with_body (&packer, "unified-id", 10);
        msgpack_pack_uint64 (&packer, first + (uint64_t) index * 10);
        msgpack_pack_str_with_body (&packer, "timestamp-repr", 14);
        msgpack_pack_str_with_body (&packer, "2026-11-21T23:34:52.123456Z", 27);
        msgpack_pack_str_with_body (&packer, "file-size", 9);
        msgpack_pack_uint64 (&packer, 100 + (uint64_t) index);
        msgpack_pack_str_with_body (&packer, "file-hash", 9);
        msgpack_pack_str_with_body (&packer, "XUFAKrxLKna5cZ2REBfFkg==", 24);
    }
}

Test (router_ops, list_keeps_versions_k_nodes_list)
{
    router_request_t *request = s_request (ROUTER_MSG_LIST_VERSIONS);
    op_client_t *client = s_client (request);
    list_op_t *op = list_op_new (&s_env, request, &client);
    list_op_start (op);
    cr_assert_eq (s_world->sent_count, S_NODES);
    cr_assert_eq (s_world->sent [0].request.type, MSG_LIST_VERSIONS);
    for (size_t node = 0; node < S_NODES; node++) {
        //  8 nodes list 1000, 1010, 1020; two list only 1000 (and garbage on one)
        msgpack_sbuffer buffer;
        s_versions (&buffer, 1000, node < 8? 3: 1);
        reply_t *reply = reply_new ();
        reply->result = RESULT_SUCCESS;
        reply->fields = REPLY_FIELD_VERSIONS;
        reply_set_versions (reply, (const uint8_t *) buffer.data, node == 9? 3: buffer.size);
        node_event_t event = { op, node, 0, reply, NULL, false };
        list_op_on_event (op, &event);
        reply_destroy (&reply);
        msgpack_sbuffer_destroy (&buffer);
    }
    cr_assert (list_op_done (op));
    msgpack_unpacked unpacked;
    msgpack_object_map *map = s_answer_map (0, &unpacked);
    const msgpack_object *versions = s_field (map, "versions");
    cr_assert_not_null (versions);
    cr_assert_eq (versions->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (versions->via.array.size, 3);
    uint64_t expected [] = { 1020, 1010, 1000 };
    for (uint32_t index = 0; index < 3; index++) {
        msgpack_object_map *version = &versions->via.array.ptr [index].via.map;
        cr_assert_eq (s_field (version, "unified-id")->via.u64, expected [index]);
        cr_assert_not_null (s_field (version, "timestamp"));
        cr_assert_not_null (s_field (version, "file-hash"));
    }
    cr_assert_eq (s_field (&versions->via.array.ptr [0].via.map, "size")->via.u64, 102);
    msgpack_unpacked_destroy (&unpacked);
    list_op_destroy (&op);
    router_request_destroy (&request);
}

Test (router_ops, list_tally_refuses_malformed_arrays)
{
    list_op_version_t *versions = NULL;
    size_t count = 0;
    const uint8_t not_array [] = { 0x81, 0xa1, 'a', 0x01 };
    cr_assert_eq (list_op_tally (not_array, sizeof not_array, 10, &versions, &count), -1);
    const uint8_t missing_fields [] = { 0x91, 0x81, 0xaa, 'u','n','i','f','i','e','d','-','i','d', 0x05 };
    cr_assert_eq (list_op_tally (missing_fields, sizeof missing_fields, 10, &versions, &count), -1);
    const uint8_t huge [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    cr_assert_eq (list_op_tally (huge, sizeof huge, 10, &versions, &count), -1);
    cr_assert_eq (count, 0);
    msgpack_sbuffer buffer;
    s_versions (&buffer, 5, 4);
    cr_assert_eq (list_op_tally ((const uint8_t *) buffer.data, buffer.size, 2, &versions, &count), 0);
    cr_assert_eq (count, 2, "at most max entries are read");
    msgpack_sbuffer_destroy (&buffer);
    free (versions);
}


//  --------------------------------------------------------------------------
//  Hinted handoff: placement, and writes and reads with absent owners

//  Place n shares with k, the nodes of down (a -1 terminated list) absent
static placement_result_t
s_place (size_t n, size_t k, const int *down, placement_target_t *targets, size_t *count_p)
{
    bool reachable [S_NODES];
    for (size_t node = 0; node < n; node++)
        reachable [node] = true;
    for (; *down >= 0; down++)
        reachable [*down] = false;
    return placement_compute (n, k, reachable, targets, count_p, NULL, NULL);
}

Test (router_ops, placement_rules)
{
    placement_target_t targets [PLACEMENT_MAX_TARGETS (S_NODES)];
    size_t count = 0;
    //  Everyone up: each owner its own share
    const int none [] = { -1 };
    cr_assert_eq (s_place (S_NODES, S_K, none, targets, &count), PLACEMENT_OK);
    cr_assert_eq (count, S_NODES);
    for (size_t target = 0; target < count; target++) {
        cr_assert_eq (targets [target].node, target);
        cr_assert_eq (targets [target].share, target);
        cr_assert (!targets [target].handoff);
    }
    //  Node 3 down: its share goes to nodes 4 and 5 (which keep their own)
    const int one [] = { 3, -1 };
    cr_assert_eq (s_place (S_NODES, S_K, one, targets, &count), PLACEMENT_OK);
    cr_assert_eq (count, S_NODES + 1);
    size_t expected [][3] = {   //  node, share, handoff
        { 0, 0, 0 }, { 1, 1, 0 }, { 2, 2, 0 }, { 4, 3, 1 }, { 5, 3, 1 }, { 4, 4, 0 },
        { 5, 5, 0 }, { 6, 6, 0 }, { 7, 7, 0 }, { 8, 8, 0 }, { 9, 9, 0 }
    };
    for (size_t target = 0; target < count; target++) {
        cr_assert_eq (targets [target].node, expected [target] [0], "target %zu", target);
        cr_assert_eq (targets [target].share, expected [target] [1], "target %zu", target);
        cr_assert_eq (targets [target].handoff, expected [target] [2] == 1, "target %zu", target);
    }
    //  Two neighbours down: both shares on the next two reachable nodes
    const int pair [] = { 4, 5, -1 };
    cr_assert_eq (s_place (S_NODES, S_K, pair, targets, &count), PLACEMENT_OK);
    cr_assert_eq (count, S_NODES - 2 + 4);
    cr_assert_eq (targets [4].node, 6);
    cr_assert_eq (targets [4].share, 4);
    cr_assert_eq (targets [5].node, 7);
    cr_assert_eq (targets [6].node, 6);
    cr_assert_eq (targets [6].share, 5);
    cr_assert_eq (targets [7].node, 7);
    //  At the end of the order the holders wrap around (skipping the absent)
    const int last [] = { 9, 0, -1 };
    cr_assert_eq (s_place (S_NODES, S_K, last, targets, &count), PLACEMENT_OK);
    cr_assert_eq (targets [0].share, 0);
    cr_assert_eq (targets [0].node, 1);
    cr_assert_eq (targets [1].node, 2);
    cr_assert_eq (targets [count - 2].share, 9);
    cr_assert_eq (targets [count - 2].node, 1);
    cr_assert_eq (targets [count - 1].node, 2);
    //  Fewer than k reachable: refused
    const int three [] = { 1, 5, 8, -1 };
    bool reachable [S_NODES];
    for (size_t node = 0; node < S_NODES; node++)
        reachable [node] = node != 1 && node != 5 && node != 8;
    size_t up = 0;
    cr_assert_eq (s_place (S_NODES, S_K, three, targets, &count), PLACEMENT_TOO_FEW);
    cr_assert_eq (placement_compute (S_NODES, S_K, reachable, targets, &count, &up, NULL),
                  PLACEMENT_TOO_FEW);
    cr_assert_eq (up, 7);
    cr_assert_eq (count, 0);
    //  k reachable but fewer than two holders: refused, naming the owner
    const int two_of_three [] = { 1, 2, -1 };
    size_t absent = 99;
    cr_assert_eq (s_place (3, 1, two_of_three, targets, &count), PLACEMENT_NO_HOLDERS);
    bool small [3] = { true, false, false };
    cr_assert_eq (placement_compute (3, 1, small, targets, &count, &up, &absent), PLACEMENT_NO_HOLDERS);
    cr_assert_eq (absent, 1);
    cr_assert_eq (up, 1);
    //  k of n reachable with k >= 2 always finds two holders
    const int one_of_three [] = { 0, -1 };
    cr_assert_eq (s_place (3, 2, one_of_three, targets, &count), PLACEMENT_OK);
    cr_assert_eq (count, 4);
}

//  Index of the first message in sent [first .. first + count) for
//  segment-num segment, preferring one sent to a handoff holder
static size_t
s_find_segment (size_t first, size_t count, uint8_t segment)
{
    size_t found = SIZE_MAX;
    for (size_t index = first; index < first + count; index++) {
        request_t *request = &s_world->sent [index].request;
        if (request->segment_num != segment)
            continue;
        if (found == SIZE_MAX || (request->present & FIELD_HANDOFF_NODE_NAME))
            found = index;
    }
    cr_assert_neq (found, SIZE_MAX, "segment %u was not sent", segment);
    return found;
}

//  Rebuild a slice from the k lowest segments in sent [first, +count)
//  (the handoff holders' copies where there are some) and compare
static void
s_check_slice_by_segment (size_t first, size_t count, const uint8_t *expected, size_t size)
{
    const uint8_t *shares [S_K];
    int nums [S_K];
    zframe_t *joined [S_K];
    size_t share_size = 0;
    uint32_t padding = 0;
    for (int j = 0; j < S_K; j++) {
        s_sent_t *sent = &s_world->sent [s_find_segment (first, count, (uint8_t) (j + 1))];
        share_size = (size_t) sent->request.segment_size;
        padding = sent->request.zfec_padding_size;
        joined [j] = zframe_new (NULL, share_size);
        size_t offset = 0;
        for (zframe_t *frame = zmsg_first (sent->data); frame; frame = zmsg_next (sent->data)) {
            memcpy (zframe_data (joined [j]) + offset, zframe_data (frame), zframe_size (frame));
            offset += zframe_size (frame);
        }
        shares [j] = zframe_data (joined [j]);
        nums [j] = j;
    }
    uint8_t *out = (uint8_t *) malloc (S_SLICE);
    size_t rebuilt = 0;
    cr_assert_eq (erasure_decode_slice (s_erasure, shares, nums, share_size, padding, out, S_SLICE, &rebuilt), 0);
    cr_assert_eq (rebuilt, size);
    cr_assert_eq (memcmp (out, expected, size), 0, "rebuilt slice differs");
    free (out);
    for (int j = 0; j < S_K; j++)
        zframe_destroy (&joined [j]);
}

Test (router_ops, put_places_handoff_copies_and_waits_for_every_holder)
{
    s_world->unreachable [2] = s_world->unreachable [3] = true;
    size_t size = S_SLICE + 100;
    uint8_t *object = s_object (size, 11);
    router_request_t *request = s_request (ROUTER_MSG_PUT);
    put_op_t *op = put_op_new (&s_env, request);
    char error [256];
    cr_assert_eq (put_op_start (op, error, sizeof error), 0, "%s", error);
    zmsg_t *data = zmsg_new ();
    zmsg_addmem (data, object, size);
    put_op_feed (op, &data, NULL);
    op_client_t *client = s_client (request);
    put_op_finish (op, &client);
    //  8 owners + 2 holders for each of the two absent shares, per slice
    size_t targets = S_NODES - 2 + 4;
    cr_assert_eq (s_world->sent_count, 2 * targets);
    for (size_t index = 0; index < 2 * targets; index++) {
        s_sent_t *sent = &s_world->sent [index];
        cr_assert_neq (sent->node, 2);
        cr_assert_neq (sent->node, 3);
        cr_assert_eq (sent->request.type, index < targets? MSG_ARCHIVE_KEY_START: MSG_ARCHIVE_KEY_FINAL);
        char owner [16];
        snprintf (owner, sizeof owner, "node%02u", sent->request.segment_num);
        cr_assert_str_eq (sent->request.source_node_name, owner, "source is the share's owner");
        if (sent->request.present & FIELD_HANDOFF_NODE_NAME) {
            cr_assert_str_eq (sent->request.handoff_node_name, owner);
            cr_assert (sent->request.segment_num == 3 || sent->request.segment_num == 4);
            cr_assert (sent->node == 4 || sent->node == 5, "holders: the next reachable nodes");
        }
        else
            cr_assert_eq (sent->request.segment_num, sent->node + 1);
    }
    s_check_slice_by_segment (0, targets, object, S_SLICE);
    s_check_slice_by_segment (targets, targets, object + S_SLICE, 100);
    //  Every owner and all but one holder acknowledge: not done
    for (size_t index = 0; index < 2 * targets - 1; index++)
        s_reply (op, s_put_event, index, RESULT_SUCCESS);
    cr_assert (!put_op_done (op));
    cr_assert_eq (s_world->answer_count, 0);
    s_reply (op, s_put_event, 2 * targets - 1, RESULT_SUCCESS);
    cr_assert (put_op_done (op));
    s_expect_answer (0, "success", NULL, "unified-id");
    cr_assert_eq (put_op_handoffs (op), 2);
    put_op_destroy (&op);

    //  A holder fails: cancelled on every target with the identity it holds
    size_t first = s_world->sent_count;
    op = put_op_new (&s_env, request);
    cr_assert_eq (put_op_start (op, error, sizeof error), 0);
    data = zmsg_new ();
    zmsg_addmem (data, object, size);
    put_op_feed (op, &data, NULL);
    client = s_client (request);
    put_op_finish (op, &client);
    size_t holder = s_find_segment (first, targets, 4);
    cr_assert_eq (s_world->sent [holder].node, 5);
    s_reply (op, s_put_event, holder, RESULT_IO_ERROR);
    cr_assert (put_op_done (op));
    s_expect_answer (1, "io-error", "node06 (holding node04's share): io-error", NULL);
    cr_assert_eq (put_op_handoffs (op), 0);
    cr_assert_eq (s_world->posted_count, 2 * targets, "cancel and destroy-key per target");
    size_t handoff_destroys = 0;
    for (size_t index = 0; index < s_world->posted_count; index++) {
        request_t *posted = &s_world->posted [index];
        size_t node = s_world->posted_node [index];
        if (posted->type == MSG_ARCHIVE_KEY_CANCEL) {
            cr_assert_eq (posted->unified_id, put_op_unified_id (op));
            if (posted->segment_num == 3 || posted->segment_num == 4)
                cr_assert (node == 4 || node == 5, "the holders cancel the absent owner's segment");
            else
                cr_assert_eq (posted->segment_num, node + 1);
        }
        else {
            cr_assert_eq (posted->type, MSG_DESTROY_KEY);
            if (posted->present & FIELD_HANDOFF_NODE_NAME) {
                cr_assert (node == 4 || node == 5);
                cr_assert_eq (posted->handoff_node_name [5] - '0', posted->segment_num);
                handoff_destroys++;
            }
        }
    }
    cr_assert_eq (handoff_destroys, 4);
    put_op_destroy (&op);

    //  One more node down: 7 of 10 reachable, fewer than k: refused
    s_world->unreachable [5] = true;
    op = put_op_new (&s_env, request);
    cr_assert_eq (put_op_start (op, error, sizeof error), -1);
    cr_assert_not_null (strstr (error, "only 7 of 10"), "%s", error);
    put_op_destroy (&op);
    router_request_destroy (&request);
    free (object);
}

Test (router_ops, get_falls_back_to_handoff_copies)
{
    size_t size = 20000;
    uint8_t *object = s_object (size, 12);
    s_stored_t stored;
    s_store (&stored, object, size, object, size);
    router_request_t *request = s_request (ROUTER_MSG_GET);

    //  Three owners down: the seven others cannot give k shares, so once
    //  they have answered every other reachable node is asked for copies
    //  of the three
    s_world->unreachable [0] = s_world->unreachable [5] = s_world->unreachable [9] = true;
    op_client_t *client = s_client (request);
    get_op_t *op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    cr_assert_eq (s_world->sent_count, 7);
    for (size_t node = 1; node < S_NODES; node++)
        if (!s_world->unreachable [node])
            s_node_answers (op, node, &stored, 42, 0, 1, RESULT_SUCCESS);
    cr_assert (!get_op_done (op));
    cr_assert_eq (s_world->sent_count, 7 + 3 * 7);
    for (size_t index = 7; index < s_world->sent_count; index++) {
        request_t *sent = &s_world->sent [index].request;
        cr_assert_eq (sent->type, MSG_RETRIEVE_KEY_START);
        cr_assert (sent->present & FIELD_HANDOFF_NODE_NAME);
        char owner [16];
        snprintf (owner, sizeof owner, "node%02u", sent->segment_num);
        cr_assert_str_eq (sent->handoff_node_name, owner);
        cr_assert (sent->segment_num == 1 || sent->segment_num == 6 || sent->segment_num == 10);
        cr_assert_neq (s_world->sent [index].node + 1, sent->segment_num);
        cr_assert_eq (sent->present & FIELD_UNIFIED_ID, 0);
    }
    //  Nodes 1 and 2 hold share 0 (node01's); the others nothing
    unsigned holders [S_NODES] = { 0 };
    holders [0] = (1u << 1) | (1u << 2);
    s_copies_answer (op, 7, holders, &stored, 42, 0, 1);
    cr_assert (get_op_done (op));
    cr_assert_eq (s_expect_answer (0, "success", NULL, "unified-id"), 42);
    zframe_t *frame = s_answer_data (0);
    cr_assert_eq (zframe_size (frame), size);
    cr_assert_eq (memcmp (zframe_data (frame), object, size), 0);
    get_op_destroy (&op);

    //  Owners back but not yet given their shares (not-found), one more
    //  down, and a version asked for: the copies fill in
    for (size_t node = 0; node < S_NODES; node++)
        s_world->unreachable [node] = node == 7;
    router_request_t *more = s_request (ROUTER_MSG_GET_NEXT);
    more->unified_id = 42;
    more->slice_num = 3;
    more->present |= ROUTER_FIELD_UNIFIED_ID | ROUTER_FIELD_SLICE_NUM;
    size_t first = s_world->sent_count;
    client = s_client (more);
    op = get_op_new (&s_env, more, &client, NULL);
    get_op_start (op);
    cr_assert_eq (s_world->sent_count - first, S_NODES - 1, "owners first");
    s_node_answers (op, 2, &stored, 42, 3, 4, RESULT_NOT_FOUND);
    s_node_answers (op, 3, &stored, 42, 3, 4, RESULT_NOT_FOUND);
    for (size_t node = 0; node < S_NODES; node++)
        if (node != 2 && node != 3 && node != 7)
            s_node_answers (op, node, &stored, 42, 3, 4, RESULT_SUCCESS);
    cr_assert (!get_op_done (op));
    size_t copies = first + S_NODES - 1;
    cr_assert_eq (s_world->sent_count - copies, 8 + 8 + 9,
                  "copies of shares 2 and 3 from the 8 other reachable nodes, of 7 from all 9");
    for (size_t index = copies; index < s_world->sent_count; index++) {
        request_t *sent = &s_world->sent [index].request;
        cr_assert_eq (sent->type, MSG_RETRIEVE_KEY_NEXT);
        cr_assert_eq (sent->sequence_num, 3);
        cr_assert_eq (sent->unified_id, 42);
        cr_assert (sent->present & FIELD_HANDOFF_NODE_NAME);
    }
    memset (holders, 0, sizeof holders);
    holders [2] = 1u << 4;
    holders [3] = 1u << 5;
    s_copies_answer (op, copies, holders, &stored, 42, 3, 4);
    cr_assert (get_op_done (op));
    cr_assert_eq (s_expect_answer (1, "success", NULL, "slice-num"), 3);
    frame = s_answer_data (1);
    cr_assert_eq (memcmp (zframe_data (frame), object, size), 0);
    get_op_destroy (&op);

    //  Deleted (most owners say not-found): not-found at once, no copies asked
    for (size_t node = 0; node < S_NODES; node++)
        s_world->unreachable [node] = node == 4 || node == 8;
    first = s_world->sent_count;
    client = s_client (request);
    op = get_op_new (&s_env, request, &client, NULL);
    get_op_start (op);
    for (size_t node = 0; node < S_NODES; node++)
        if (!s_world->unreachable [node] && !get_op_done (op))
            s_node_answers (op, node, &stored, 42, 0, 1, RESULT_NOT_FOUND);
    cr_assert (get_op_done (op));
    s_expect_answer (2, "not-found", NULL, NULL);
    cr_assert_eq (s_world->sent_count - first, S_NODES - 2);
    get_op_destroy (&op);
    router_request_destroy (&more);
    router_request_destroy (&request);
    s_unstore (&stored);
    free (object);
}


//  --------------------------------------------------------------------------
//  list-keys: merging the owners' pages

//  A node's keys page: keys "key-<n>" for each n of numbers, all live,
//  unified-id = n * 10 + bump
static void
s_keys_page (msgpack_sbuffer *buffer, const int *numbers, int count, uint64_t bump, bool deleted)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, count);
    for (int index = 0; index < count; index++) {
        char key [32];
        snprintf (key, sizeof key, "key-%03d", numbers [index]);
        msgpack_pack_map (&packer, 5);
        msgpack_pack_str_with_body (&packer, "key", 3);
        msgpack_pack_str_with_body (&packer, key, strlen (key));
        msgpack_pack_str_with_body (&packer, "unified-id", 10);
        msgpack_pack_uint64 (&packer, (uint64_t) numbers [index] * 10 + bump);
        msgpack_pack_str_with_body (&packer, "timestamp-repr", 14);
        msgpack_pack_str_with_body (&packer, "2026-11-21T23:34:52.123456Z", 27);
        msgpack_pack_str_with_body (&packer, "file-size", 9);
        msgpack_pack_uint64 (&packer, deleted? 0: 5);
        msgpack_pack_str_with_body (&packer, "deleted", 7);
        if (deleted)
            msgpack_pack_true (&packer);
        else
            msgpack_pack_false (&packer);
    }
}

static void
s_keys_event (keys_op_t *op, size_t node, const int *numbers, int count, bool truncated, uint64_t bump,
              bool deleted)
{
    msgpack_sbuffer buffer;
    s_keys_page (&buffer, numbers, count, bump, deleted);
    reply_t *reply = reply_new ();
    reply->result = RESULT_SUCCESS;
    reply->fields = REPLY_FIELD_KEYS | REPLY_FIELD_TRUNCATED;
    reply->truncated = truncated;
    reply_set_keys (reply, (const uint8_t *) buffer.data, buffer.size);
    node_event_t event = { op, node, 0, reply, NULL, false };
    keys_op_on_event (op, &event);
    reply_destroy (&reply);
    msgpack_sbuffer_destroy (&buffer);
}

Test (router_ops, keys_merge_stops_at_the_smallest_truncated_page)
{
    router_request_t *request = s_request (ROUTER_MSG_LIST_KEYS);
    request->limit = 3;
    request->present |= ROUTER_FIELD_LIMIT;
    op_client_t *client = s_client (request);
    keys_op_t *op = keys_op_new (&s_env, request, &client);
    keys_op_start (op);
    cr_assert_eq (s_world->sent_count, S_NODES);
    cr_assert_eq (s_world->sent [0].request.type, MSG_LIST_KEYS);
    cr_assert_eq (s_world->sent [0].request.limit, 3);
    cr_assert_eq (s_world->sent [4].request.segment_num, 5);
    //  Node 0 has keys 1, 2, 3 (truncated: it has more), node 1 has 2, 4, 6
    //  (truncated), node 2 only 5 (not truncated) with a newer version of
    //  5; the others nothing, node 9 key 1 deleted (newer)
    int first [] = { 1, 2, 3 }, second [] = { 2, 4, 6 }, third [] = { 5 }, deleted [] = { 1 };
    s_keys_event (op, 0, first, 3, true, 0, false);
    s_keys_event (op, 1, second, 3, true, 0, false);
    s_keys_event (op, 2, third, 1, false, 1, false);
    for (size_t node = 3; node < S_NODES - 1; node++)
        s_keys_event (op, node, NULL, 0, false, 0, false);
    cr_assert_not (keys_op_done (op));
    s_keys_event (op, S_NODES - 1, deleted, 1, false, 5, true);
    cr_assert (keys_op_done (op));
    msgpack_unpacked unpacked;
    msgpack_object_map *map = s_answer_map (0, &unpacked);
    const msgpack_object *keys = s_field (map, "keys");
    cr_assert_eq (keys->type, MSGPACK_OBJECT_ARRAY);
    //  Node 0 only covered keys up to 3: the page is 1, 2, 3, truncated
    cr_assert_eq (keys->via.array.size, 3);
    const char *expected [] = { "key-001", "key-002", "key-003" };
    for (uint32_t index = 0; index < 3; index++) {
        msgpack_object_map *entry = &keys->via.array.ptr [index].via.map;
        const msgpack_object *name = s_field (entry, "key");
        cr_assert_eq (name->via.str.size, 7);
        cr_assert (memcmp (name->via.str.ptr, expected [index], 7) == 0);
    }
    msgpack_object_map *one = &keys->via.array.ptr [0].via.map;
    cr_assert_eq (s_field (one, "unified-id")->via.u64, 15, "the newest state: the tombstone");
    cr_assert (s_field (one, "deleted")->via.boolean);
    cr_assert_eq (s_field (one, "size")->via.u64, 0);
    cr_assert_not (s_field (&keys->via.array.ptr [1].via.map, "deleted")->via.boolean);
    cr_assert (s_field (map, "truncated")->via.boolean);
    msgpack_unpacked_destroy (&unpacked);
    keys_op_destroy (&op);
    router_request_destroy (&request);
}

Test (router_ops, keys_need_k_answers)
{
    router_request_t *request = s_request (ROUTER_MSG_LIST_KEYS);
    op_client_t *client = s_client (request);
    keys_op_t *op = keys_op_new (&s_env, request, &client);
    keys_op_start (op);
    int some [] = { 1 };
    for (size_t node = 0; node < S_NODES; node++) {
        if (node < 3) {
            node_event_t event = { op, node, 0, NULL, NULL, false };      //  no answer in time
            keys_op_on_event (op, &event);
        }
        else
            s_keys_event (op, node, some, 1, false, 0, false);
    }
    cr_assert (keys_op_done (op));
    msgpack_unpacked unpacked;
    msgpack_object_map *map = s_answer_map (0, &unpacked);
    const msgpack_object *result = s_field (map, "result");
    cr_assert (result->via.str.size == 7 && memcmp (result->via.str.ptr, "timeout", 7) == 0);
    msgpack_unpacked_destroy (&unpacked);
    keys_op_destroy (&op);
    router_request_destroy (&request);
}
