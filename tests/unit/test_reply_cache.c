/*  =========================================================================
    test_reply_cache - replies over cached PUSH sockets

    Real PULL sockets bound on 127.0.0.1 (random ports) play the requesters.
    Checked: a reply and its data frames arrive and decode; refused
    addresses are dropped and counted without connecting; the cache stays
    bounded; idle sockets expire; a requester that never reads costs
    dropped replies, never a blocked sender.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reply_cache.h"
#include "timestamp.h"

static endpoint_allow_t *s_allow;
static node_stats_t *s_stats;
static reply_cache_t *s_cache;
static reply_t *s_reply;
static request_t *s_request;

static void
s_setup (void)
{
    zsys_init ();
    s_allow = endpoint_allow_new ();
    cr_assert_not_null (s_allow);
    endpoint_allow_add_host (s_allow, "127.0.0.1");
    endpoint_allow_add_host (s_allow, "localhost");
    s_stats = node_stats_new ();
    cr_assert_not_null (s_stats);
    s_reply = reply_new ();
    s_request = request_new ();
    cr_assert_not_null (s_reply);
    cr_assert_not_null (s_request);
    s_cache = NULL;
}

static void
s_teardown (void)
{
    reply_cache_destroy (&s_cache);
    reply_destroy (&s_reply);
    request_destroy (&s_request);
    node_stats_destroy (&s_stats);
    endpoint_allow_destroy (&s_allow);
}

TestSuite (reply_cache, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  A PULL socket bound on a random loopback port, with a receive timeout
static zsock_t *
s_pull (int rcvhwm)
{
    zsock_t *pull = zsock_new (ZMQ_PULL);
    cr_assert_not_null (pull);
    zsock_set_rcvhwm (pull, rcvhwm);
    zsock_set_rcvtimeo (pull, 5000);
    zsock_set_linger (pull, 0);
    cr_assert_gt (zsock_bind (pull, "tcp://127.0.0.1:*"), 0);
    const char *endpoint = zsock_endpoint (pull);
    cr_assert_not_null (endpoint);
    cr_assert_eq (strncmp (endpoint, "tcp://127.0.0.1:", 16), 0, "%s", endpoint);
    return pull;
}

//  Fill s_reply as a ping-reply to address
static void
s_prepare (const char *address, const char *message_id)
{
    request_reset (s_request);
    s_request->type = MSG_PING;
    s_request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
    snprintf (s_request->message_id, sizeof (s_request->message_id), "%s", message_id);
    snprintf (s_request->client_tag, sizeof (s_request->client_tag), "tag-1");
    snprintf (s_request->client_address, sizeof (s_request->client_address), "%s", address);
    reply_prepare (s_reply, s_request, RESULT_SUCCESS, NULL);
    s_reply->fields |= REPLY_FIELD_NODE_NAME | REPLY_FIELD_VERSION | REPLY_FIELD_UPTIME;
    snprintf (s_reply->node_name, sizeof (s_reply->node_name), "node01");
    snprintf (s_reply->version, sizeof (s_reply->version), "0.1.0");
    s_reply->uptime_seconds = 42;
}

static uint64_t
s_dropped (void)
{
    return atomic_load (&s_stats->replies_dropped);
}

//  --------------------------------------------------------------------------

Test (reply_cache, new_and_destroy)
{
    s_cache = reply_cache_new (s_allow, NULL, 1, 1, 0, 1);
    cr_assert_not_null (s_cache);
    cr_assert_eq (reply_cache_size (s_cache), 0);
    reply_cache_destroy (&s_cache);
    cr_assert_null (s_cache);
    reply_cache_destroy (&s_cache);
}

Test (reply_cache, send_and_decode_with_data)
{
    zsock_t *pull = s_pull (1000);
    s_cache = reply_cache_new (s_allow, s_stats, 4, 30, 0, 1000);
    cr_assert_not_null (s_cache);

    s_prepare (zsock_endpoint (pull), "msg-1");
    zmsg_t *data = zmsg_new ();
    zmsg_addstr (data, "first frame");
    zmsg_addmem (data, "\0\1\2\3", 4);
    cr_assert_eq (reply_cache_send (s_cache, s_reply, &data), 0);
    cr_assert_null (data, "the data message is consumed");
    cr_assert_eq (reply_cache_size (s_cache), 1);

    zmsg_t *message = zmsg_recv (pull);
    cr_assert_not_null (message, "the reply arrives");
    cr_assert_eq (zmsg_size (message), 3);
    zframe_t *header = zmsg_first (message);
    reply_t *decoded = reply_new ();
    cr_assert_eq (reply_decode (decoded, zframe_data (header), zframe_size (header)), 0);
    cr_assert_str_eq (decoded->message_type, "ping-reply");
    cr_assert_str_eq (decoded->message_id, "msg-1");
    cr_assert_str_eq (decoded->client_tag, "tag-1");
    cr_assert_str_eq (decoded->client_address, zsock_endpoint (pull));
    cr_assert_eq (decoded->result, RESULT_SUCCESS);
    cr_assert_str_eq (decoded->node_name, "node01");
    cr_assert_str_eq (decoded->version, "0.1.0");
    cr_assert_eq (decoded->uptime_seconds, 42);
    zframe_t *frame = zmsg_next (message);
    cr_assert (zframe_streq (frame, "first frame"));
    frame = zmsg_next (message);
    cr_assert_eq (zframe_size (frame), 4);
    cr_assert_eq (memcmp (zframe_data (frame), "\0\1\2\3", 4), 0);
    zmsg_destroy (&message);

    //  Without data: one frame; the socket is reused
    s_prepare (zsock_endpoint (pull), "msg-2");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    zmsg_t *empty = NULL;
    s_prepare (zsock_endpoint (pull), "msg-3");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, &empty), 0);
    for (int count = 2; count <= 3; count++) {
        message = zmsg_recv (pull);
        cr_assert_not_null (message);
        cr_assert_eq (zmsg_size (message), 1);
        header = zmsg_first (message);
        cr_assert_eq (reply_decode (decoded, zframe_data (header), zframe_size (header)), 0);
        char expect [16];
        snprintf (expect, sizeof (expect), "msg-%d", count);
        cr_assert_str_eq (decoded->message_id, expect, "in order");
        zmsg_destroy (&message);
    }
    cr_assert_eq (reply_cache_size (s_cache), 1);
    cr_assert_eq (s_dropped (), 0);
    reply_destroy (&decoded);
    reply_cache_destroy (&s_cache);
    zsock_destroy (&pull);
}

Test (reply_cache, disallowed_addresses_are_dropped)
{
    s_cache = reply_cache_new (s_allow, s_stats, 4, 30, 0, 1000);
    const char *refused [] = {
        "tcp://10.0.0.1:5555",              //  host not allowed
        "tcp://127.0.0.1:1;10.0.0.1:2",     //  source;destination syntax
        "tcp://127.0.0.1:*",                //  wildcard port
        "tcp://*:5555",
        "ipc:///tmp/strata-reply.sock",     //  ipc not allowed
        "udp://127.0.0.1:5555",
        "",                                 //  no address
    };
    size_t count = sizeof (refused) / sizeof (refused [0]);
    for (size_t index = 0; index < count; index++) {
        cr_assert_not (reply_cache_allowed (s_cache, refused [index]), "%s", refused [index]);
        s_prepare (refused [index], "m");
        zmsg_t *data = zmsg_new ();
        zmsg_addstr (data, "payload");
        cr_assert_eq (reply_cache_send (s_cache, s_reply, &data), -1, "'%s' must be refused", refused [index]);
        cr_assert_null (data, "data consumed even when dropped");
        cr_assert_eq (s_dropped (), index + 1, "each drop counted");
        cr_assert_eq (reply_cache_size (s_cache), 0, "no socket for a refused address");
    }
    cr_assert_not (reply_cache_allowed (s_cache, NULL));
    cr_assert (reply_cache_allowed (s_cache, "tcp://127.0.0.1:5555"));
    cr_assert (reply_cache_allowed (s_cache, "tcp://LOCALHOST:5555"));
}

Test (reply_cache, drop_without_stats)
{
    s_cache = reply_cache_new (s_allow, NULL, 4, 30, 0, 1000);
    s_prepare ("tcp://10.0.0.1:5555", "m");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), -1);
}

Test (reply_cache, ipc_when_allowed)
{
    char dir [64];
    snprintf (dir, sizeof (dir), "/tmp/strata-test-reply-XXXXXX");
    cr_assert_not_null (mkdtemp (dir));
    char endpoint [128];
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/reply.sock", dir);
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvtimeo (pull, 5000);
    cr_assert_eq (zsock_bind (pull, "%s", endpoint), 0);

    endpoint_allow_set_ipc (s_allow, true);
    s_cache = reply_cache_new (s_allow, s_stats, 4, 30, 0, 1000);
    s_prepare (endpoint, "over-ipc");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    zmsg_t *message = zmsg_recv (pull);
    cr_assert_not_null (message);
    reply_t *decoded = reply_new ();
    zframe_t *header = zmsg_first (message);
    cr_assert_eq (reply_decode (decoded, zframe_data (header), zframe_size (header)), 0);
    cr_assert_str_eq (decoded->message_id, "over-ipc");
    reply_destroy (&decoded);
    zmsg_destroy (&message);
    reply_cache_destroy (&s_cache);
    zsock_destroy (&pull);
    char path [128];
    snprintf (path, sizeof (path), "%s/reply.sock", dir);
    unlink (path);
    rmdir (dir);
}

Test (reply_cache, bounded)
{
    zsock_t *pulls [3];
    for (int index = 0; index < 3; index++)
        pulls [index] = s_pull (1000);
    s_cache = reply_cache_new (s_allow, s_stats, 2, 30, 0, 1000);

    //  A, B, A, C: the cache never holds more than 2 sockets
    int order [] = { 0, 1, 0, 2, 1, 2, 0 };
    size_t sent [3] = { 0 };
    for (size_t step = 0; step < sizeof (order) / sizeof (order [0]); step++) {
        s_prepare (zsock_endpoint (pulls [order [step]]), "m");
        cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
        sent [order [step]]++;
        cr_assert_leq (reply_cache_size (s_cache), 2, "step %zu", step);
    }
    cr_assert_eq (reply_cache_size (s_cache), 2);
    cr_assert_eq (s_dropped (), 0);

    //  Every reply still arrives (an evicted socket lingers to deliver)
    for (int index = 0; index < 3; index++)
        for (size_t count = 0; count < sent [index]; count++) {
            zmsg_t *message = zmsg_recv (pulls [index]);
            cr_assert_not_null (message, "reply %zu to requester %d", count, index);
            zmsg_destroy (&message);
        }
    reply_cache_destroy (&s_cache);
    for (int index = 0; index < 3; index++)
        zsock_destroy (&pulls [index]);
}

Test (reply_cache, expire_idle)
{
    zsock_t *first = s_pull (1000);
    zsock_t *second = s_pull (1000);
    s_cache = reply_cache_new (s_allow, s_stats, 8, 1, 0, 1000);

    s_prepare (zsock_endpoint (first), "m");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    reply_cache_expire (s_cache);
    cr_assert_eq (reply_cache_size (s_cache), 1, "not idle yet");

    zclock_sleep (600);
    s_prepare (zsock_endpoint (second), "m");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    cr_assert_eq (reply_cache_size (s_cache), 2);
    zclock_sleep (600);
    reply_cache_expire (s_cache);
    cr_assert_eq (reply_cache_size (s_cache), 1, "the first (1.2 s idle) is closed, the second (0.6 s) kept");

    zclock_sleep (500);
    reply_cache_expire (s_cache);
    cr_assert_eq (reply_cache_size (s_cache), 0, "all idle past 1 s");

    //  A use refreshes the idle time: send, wait, send again, wait, expire
    s_prepare (zsock_endpoint (first), "m");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    zclock_sleep (700);
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    zclock_sleep (700);
    reply_cache_expire (s_cache);
    cr_assert_eq (reply_cache_size (s_cache), 1, "used 0.7 s ago");
    zclock_sleep (400);
    reply_cache_expire (s_cache);
    cr_assert_eq (reply_cache_size (s_cache), 0);
    cr_assert_eq (s_dropped (), 0);

    reply_cache_destroy (&s_cache);
    zsock_destroy (&first);
    zsock_destroy (&second);
}

//  Send replies with a 64 KiB data frame to a requester that never reads,
//  until one is dropped (or the limits run out). Returns the replies
//  queued before the first drop; *drops_p counts the drops among the
//  extra sends after it.
static size_t
s_flood (zsock_t *pull, size_t extra, size_t *drops_p, int64_t *elapsed_us_p)
{
    static char block [65536];
    s_prepare (zsock_endpoint (pull), "flood");
    size_t queued = 0;
    size_t drops = 0;
    int64_t start = timestamp_now ();
    for (size_t attempt = 0; attempt < 20000 && timestamp_now () - start < 20000000; attempt++) {
        zmsg_t *data = zmsg_new ();
        zmsg_addmem (data, block, sizeof (block));
        int rc = reply_cache_send (s_cache, s_reply, &data);
        cr_assert_null (data);
        if (rc == 0 && drops == 0)
            queued++;
        else
        if (rc == -1) {
            drops++;
            if (drops > extra)
                break;
        }
    }
    *drops_p = drops;
    *elapsed_us_p = timestamp_now () - start;
    return queued;
}

Test (reply_cache, stuck_requester_drops_without_blocking)
{
    zsock_t *pull = s_pull (10);            //  never read
    s_cache = reply_cache_new (s_allow, s_stats, 4, 30, 0, 10);
    size_t drops = 0;
    int64_t elapsed_us = 0;
    size_t queued = s_flood (pull, 20, &drops, &elapsed_us);
    cr_assert_gt (drops, 0, "sends beyond the buffers are dropped (queued %zu)", queued);
    cr_assert_gt (queued, 0, "the first replies were queued");
    cr_assert_lt (queued, 20000);
    cr_assert_eq (s_dropped (), drops, "every drop counted");
    cr_assert_lt (elapsed_us, 15000000, "sending never blocked (%lld us)", (long long) elapsed_us);

    //  Other requesters are not affected
    zsock_t *healthy = s_pull (1000);
    s_prepare (zsock_endpoint (healthy), "fine");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), 0);
    zmsg_t *message = zmsg_recv (healthy);
    cr_assert_not_null (message);
    zmsg_destroy (&message);

    //  Destroying the cache does not hang on the stuck requester
    int64_t start = timestamp_now ();
    reply_cache_destroy (&s_cache);
    cr_assert_lt (timestamp_now () - start, 3000000);
    zsock_destroy (&healthy);
    zsock_destroy (&pull);
}

//  A refused send waits a little for room (ZeroMQ may not have taken in
//  the credit yet), but only once for a requester that does not read:
//  later sends to it are dropped at once until one goes through again
Test (reply_cache, stalled_requester_costs_one_short_wait)
{
    zsock_t *pull = s_pull (10);            //  never read
    s_cache = reply_cache_new (s_allow, s_stats, 4, 30, 0, 10);
    size_t drops = 0;
    int64_t elapsed_us = 0;
    s_flood (pull, 1, &drops, &elapsed_us);  //  up to the first drops: stalled now
    cr_assert_eq (drops, 2);
    int64_t start = timestamp_now ();
    for (int attempt = 0; attempt < 200; attempt++) {
        s_prepare (zsock_endpoint (pull), "stalled");
        cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), -1);
    }
    int64_t waited = timestamp_now () - start;
    //  200 waits of 5 ms would be a second
    cr_assert_lt (waited, 500000, "a stalled requester is dropped at once (%lld us for 200)",
                  (long long) waited);
    cr_assert_eq (s_dropped (), 202);
    reply_cache_destroy (&s_cache);
    zsock_destroy (&pull);
}

Test (reply_cache, send_timeout_bounds_the_wait)
{
    zsock_t *pull = s_pull (10);
    s_cache = reply_cache_new (s_allow, s_stats, 4, 30, 100, 10);
    size_t drops = 0;
    int64_t elapsed_us = 0;
    //  Stop at the third drop: each costs about the 100 ms timeout
    size_t queued = s_flood (pull, 2, &drops, &elapsed_us);
    cr_assert_eq (drops, 3, "queued %zu, dropped %zu", queued, drops);
    int64_t start = timestamp_now ();
    s_prepare (zsock_endpoint (pull), "late");
    cr_assert_eq (reply_cache_send (s_cache, s_reply, NULL), -1);
    int64_t waited = timestamp_now () - start;
    cr_assert_geq (waited, 80000, "waited about the send timeout (%lld us)", (long long) waited);
    cr_assert_lt (waited, 2000000, "but not much longer (%lld us)", (long long) waited);
    cr_assert_eq (s_dropped (), 4);
    reply_cache_destroy (&s_cache);
    zsock_destroy (&pull);
}
