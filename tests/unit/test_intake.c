/*  =========================================================================
    test_intake - how a node judges a request it receives

    Requests are sent over an inproc PAIR pair (no network) as a sender
    would frame them: a MessagePack header, then data frames. Each test
    checks what intake_receive makes of them: the verdict and its message,
    what payload is kept, and which requests are dropped (no reply address,
    or one that is not allowed) and counted.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "intake.h"
#include "digest.h"
#include "timestamp.h"

static node_config_t s_config;
static cluster_config_t *s_cluster;
static node_stats_t *s_stats;
static endpoint_allow_t *s_allow;
static zsock_t *s_sender;
static zsock_t *s_receiver;
static intake_t *s_intake;

static void
s_setup (void)
{
    char *argv [] = { "strata-node", "--data-dir", "/tmp/strata-intake-unused", NULL };
    char error [512] = "";
    cr_assert_eq (node_config_load (&s_config, 3, argv, &s_cluster, error, sizeof (error)),
                  NODE_CONFIG_RUN, "%s", error);
    s_config.max_frames = 4;
    s_config.max_message_bytes = 4096;
    s_stats = node_stats_new ();
    s_allow = endpoint_allow_new ();
    endpoint_allow_add_host (s_allow, "127.0.0.1");
    s_receiver = zsock_new_pair ("@inproc://test-intake");
    s_sender = zsock_new_pair (">inproc://test-intake");
    cr_assert (s_receiver && s_sender);
    s_intake = intake_new ("dispatcher", &s_config, s_stats, s_allow, true);
    cr_assert_not_null (s_intake);
}

static void
s_teardown (void)
{
    intake_destroy (&s_intake);
    zsock_destroy (&s_sender);
    zsock_destroy (&s_receiver);
    endpoint_allow_destroy (&s_allow);
    node_stats_destroy (&s_stats);
    cluster_config_destroy (&s_cluster);
}

TestSuite (intake, .init = s_setup, .fini = s_teardown);

//  A valid archive-key-entire header for data
static void
s_entire (request_t *request, const char *data)
{
    memset (request, 0, sizeof (*request));
    request->type = MSG_ARCHIVE_KEY_ENTIRE;
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS | FIELD_COLLECTION_ID
                     | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP | FIELD_CONJOINED_PART
                     | FIELD_SEGMENT_NUM | FIELD_SEGMENT_SIZE | FIELD_ZFEC_PADDING_SIZE
                     | FIELD_SEGMENT_MD5 | FIELD_SEGMENT_ADLER32 | FIELD_SOURCE_NODE_NAME
                     | FIELD_FILE_SIZE | FIELD_FILE_ADLER32 | FIELD_FILE_HASH;
    snprintf (request->message_id, sizeof (request->message_id), "msg-1");
    snprintf (request->client_tag, sizeof (request->client_tag), "tag-1");
    snprintf (request->client_address, sizeof (request->client_address), "tcp://127.0.0.1:9000");
    request->collection_id = 42;
    snprintf (request->key, sizeof (request->key), "some/key");
    request->key_size = strlen (request->key);
    request->unified_id = 1234567890123ULL;
    request->timestamp = timestamp_now ();
    request->segment_num = 3;
    request->segment_size = strlen (data);
    digest_md5 (data, strlen (data), request->segment_md5);
    snprintf (request->source_node_name, sizeof (request->source_node_name), "node01");
    request->file_size = strlen (data);
    digest_md5 (data, strlen (data), request->file_hash);
}

//  Send header (encoded from request, or raw bytes when raw is given)
//  then the data frames (NULL-terminated)
static void
s_send (const request_t *request, const char *raw, ...)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    if (raw)
        msgpack_sbuffer_write (&buffer, raw, strlen (raw));
    else
        cr_assert_eq (request_encode (request, &buffer), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    va_list frames;
    va_start (frames, raw);
    for (const char *frame = va_arg (frames, const char *); frame; frame = va_arg (frames, const char *))
        zmsg_addstr (msg, frame);
    va_end (frames);
    cr_assert_eq (zmsg_send (&msg, s_sender), 0);
}

//  Wait (at most a second) until the receiver has a message
static void
s_wait_readable (void)
{
    zmq_pollitem_t item = { zsock_resolve (s_receiver), 0, ZMQ_POLLIN, 0 };
    cr_assert_eq (zmq_poll (&item, 1, 1000), 1, "the request arrives");
}

static work_t *
s_receive (void)
{
    s_wait_readable ();
    return intake_receive (s_intake, s_receiver);
}

Test (intake, a_good_archive_request_keeps_its_payload)
{
    request_t request;
    s_entire (&request, "hello world");
    s_send (&request, NULL, "hello ", "world", NULL);
    work_t *work = s_receive ();
    cr_assert_not_null (work);
    cr_assert_eq (work->verdict, RESULT_SUCCESS, "%s", work->verdict_message);
    cr_assert_eq (work->request.type, MSG_ARCHIVE_KEY_ENTIRE);
    cr_assert_str_eq (work->request.key, "some/key");
    cr_assert_eq (zmsg_size (work->payload), 2, "frames are moved, not joined");
    cr_assert_eq (work->payload_size, 11);
    cr_assert_gt (work->received_us, 0);
    work_destroy (&work);
}

Test (intake, a_size_mismatch_comes_before_an_md5_mismatch)
{
    request_t request;
    s_entire (&request, "hello");
    s_send (&request, NULL, "hello!", NULL);
    work_t *work = s_receive ();
    cr_assert_eq (work->verdict, RESULT_SIZE_MISMATCH);
    cr_assert (strstr (work->verdict_message, "segment-size: header says 5 bytes, payload has 6"),
               "%s", work->verdict_message);
    cr_assert_eq (zmsg_size (work->payload), 0, "a failed request keeps no payload");
    cr_assert_eq (work->payload_size, 0);
    work_destroy (&work);

    s_send (&request, NULL, "jello", NULL);
    work = s_receive ();
    cr_assert_eq (work->verdict, RESULT_MD5_MISMATCH);
    cr_assert (strstr (work->verdict_message, "segment-md5-digest"), "%s", work->verdict_message);
    cr_assert_eq (zmsg_size (work->payload), 0);
    work_destroy (&work);
}

Test (intake, too_many_frames_or_bytes_is_invalid_and_nothing_is_kept)
{
    request_t request;
    s_entire (&request, "abcd");
    s_send (&request, NULL, "a", "b", "c", "d", NULL);     //  five frames, four allowed
    work_t *work = s_receive ();
    cr_assert_eq (work->verdict, RESULT_INVALID_REQUEST);
    cr_assert (strstr (work->verdict_message, "more than 4 frames"), "%s", work->verdict_message);
    cr_assert_eq (zmsg_size (work->payload), 0);
    work_destroy (&work);

    char big [5000];
    memset (big, 'x', sizeof (big) - 1);
    big [sizeof (big) - 1] = 0;
    s_entire (&request, big);
    s_send (&request, NULL, big, NULL);
    work = s_receive ();
    cr_assert_eq (work->verdict, RESULT_INVALID_REQUEST);
    cr_assert (strstr (work->verdict_message, "more than 4096 bytes"), "%s", work->verdict_message);
    cr_assert_eq (zmsg_size (work->payload), 0);
    work_destroy (&work);
}

Test (intake, a_bad_header_is_answered_when_it_has_a_reply_address)
{
    request_t request;
    s_entire (&request, "hello");
    request.present &= ~FIELD_KEY;
    s_send (&request, NULL, "hello", NULL);
    work_t *work = s_receive ();
    cr_assert_not_null (work);
    cr_assert_eq (work->verdict, RESULT_INVALID_REQUEST);
    cr_assert (strstr (work->verdict_message, "key"), "the message names the field: %s",
               work->verdict_message);
    cr_assert_eq (zmsg_size (work->payload), 0);
    work_destroy (&work);
    cr_assert_eq (atomic_load (&s_stats->requests_dropped), 0);
}

Test (intake, a_bad_header_without_a_reply_address_is_dropped)
{
    s_send (NULL, "not messagepack at all", NULL);
    cr_assert_null (s_receive ());
    cr_assert_eq (atomic_load (&s_stats->requests_dropped), 1);
}

Test (intake, a_reply_address_not_allowed_is_dropped)
{
    request_t request;
    s_entire (&request, "hello");
    snprintf (request.client_address, sizeof (request.client_address), "tcp://127.0.0.2:9000");
    s_send (&request, NULL, "hello", NULL);
    cr_assert_null (s_receive (), "no connection is ever made to an address not allowed");
    cr_assert_eq (atomic_load (&s_stats->requests_dropped), 1);
}

Test (intake, a_request_of_another_cluster_is_refused)
{
    snprintf (s_config.cluster_fingerprint, sizeof (s_config.cluster_fingerprint), "ours:8:10:65536:10");
    request_t request;
    s_entire (&request, "hello");
    request.present |= FIELD_CLUSTER_FINGERPRINT;
    snprintf (request.cluster_fingerprint, sizeof (request.cluster_fingerprint), "theirs:8:10:65536:10");
    s_send (&request, NULL, "hello", NULL);
    work_t *work = s_receive ();
    cr_assert_eq (work->verdict, RESULT_CLUSTER_MISMATCH);
    cr_assert (strstr (work->verdict_message, "theirs"), "%s", work->verdict_message);
    work_destroy (&work);
}

Test (intake, the_reader_keeps_no_payload)
{
    intake_t *reader = intake_new ("reader", &s_config, s_stats, s_allow, false);
    request_t request;
    s_entire (&request, "hello");
    s_send (&request, NULL, "jello", NULL);       //  not verified: not kept
    s_wait_readable ();
    work_t *work = intake_receive (reader, s_receiver);
    cr_assert_not_null (work);
    cr_assert_eq (work->verdict, RESULT_SUCCESS);
    cr_assert_eq (zmsg_size (work->payload), 0);
    cr_assert_eq (work->payload_size, 0);
    work_destroy (&work);
    intake_destroy (&reader);
}
