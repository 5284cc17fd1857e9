/*  =========================================================================
    test_node_link - the router's liveness of a node, over real sockets

    A fake node (two bound PULL sockets that answer what they get) and a
    node_link pinging it: the node becomes reachable once it answered; when
    its sockets go away, the node is lost at once (well before the node
    timeout), the request pending on it comes back with lost set, and the
    link opens fresh sockets; when the node comes back on the same ports it
    is reachable again.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <unistd.h>

#include "node_link.h"

#define S_NODE_TIMEOUT_MS   8000

static char s_dir [64];
static char s_path [128];
static int s_writer_port, s_reader_port;

typedef struct {
    zsock_t *writer;
    zsock_t *reader;
} s_fake_t;

static void
s_fake_start (s_fake_t *fake)
{
    fake->writer = zsock_new (ZMQ_PULL);
    fake->reader = zsock_new (ZMQ_PULL);
    cr_assert_not_null (fake->writer);
    zsock_set_linger (fake->writer, 0);
    zsock_set_linger (fake->reader, 0);
    if (s_writer_port == 0) {
        s_writer_port = zsock_bind (fake->writer, "tcp://127.0.0.1:*");
        s_reader_port = zsock_bind (fake->reader, "tcp://127.0.0.1:*");
    }
    else {
        cr_assert_eq (zsock_bind (fake->writer, "tcp://127.0.0.1:%d", s_writer_port), s_writer_port);
        cr_assert_eq (zsock_bind (fake->reader, "tcp://127.0.0.1:%d", s_reader_port), s_reader_port);
    }
    cr_assert_gt (s_writer_port, 0);
}

static void
s_fake_stop (s_fake_t *fake)
{
    zsock_destroy (&fake->writer);
    zsock_destroy (&fake->reader);
}

//  Answer every request waiting on the fake's sockets with success
static void
s_fake_answer (s_fake_t *fake)
{
    zsock_t *socks [] = { fake->writer, fake->reader };
    for (size_t index = 0; index < 2; index++) {
        while (zsock_events (socks [index]) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (socks [index]);
            if (!msg)
                break;
            zframe_t *header = zmsg_first (msg);
            request_t *request = request_new ();
            request_error_t error;
            if (request_decode (request, zframe_data (header), zframe_size (header), &error) == 0
            &&  *request->client_address) {
                reply_t *reply = reply_new ();
                reply_prepare (reply, request, RESULT_SUCCESS, NULL);
                msgpack_sbuffer buffer;
                msgpack_sbuffer_init (&buffer);
                reply_encode (reply, &buffer);
                zsock_t *push = zsock_new_push (request->client_address);
                zsock_set_linger (push, 1000);
                zsock_send (push, "b", buffer.data, buffer.size);
                zsock_destroy (&push);
                msgpack_sbuffer_destroy (&buffer);
                reply_destroy (&reply);
            }
            request_destroy (&request);
            zmsg_destroy (&msg);
        }
    }
}

static cluster_config_t *
s_cluster (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-test-link-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/cluster.cfg", s_dir);
    FILE *file = fopen (s_path, "w");
    cr_assert_not_null (file);
    fprintf (file, "cluster\n    name = link\n    data-shards = 1\n    total-shards = 1\n"
                   "    nodes\n        node01\n            writer = tcp://127.0.0.1:%d\n"
                   "            reader = tcp://127.0.0.1:%d\n", s_writer_port, s_reader_port);
    fclose (file);
    char error [256];
    cluster_config_t *cluster = cluster_config_load (s_path, error, sizeof error);
    cr_assert_not_null (cluster, "%s", error);
    return cluster;
}

//  Drive the link (and the fake, if given) until the node's reachability
//  is wanted; returns the milliseconds it took, or -1 after limit_ms
static int64_t
s_until_reachable (node_link_t *link, s_fake_t *fake, bool wanted, int64_t limit_ms)
{
    int64_t start = zclock_mono ();
    while (zclock_mono () - start < limit_ms) {
        int64_t now = zclock_mono ();
        node_link_ping (link, now);
        if (fake && fake->writer)
            s_fake_answer (fake);
        node_event_t event;
        while (zsock_events (node_link_socket (link)) & ZMQ_POLLIN)
            node_link_receive (link, &event, zclock_mono ());
        if (node_link_reachable (link, 0, zclock_mono ()) == wanted)
            return zclock_mono () - start;
        zclock_sleep (10);
    }
    return -1;
}

Test (node_link, lost_at_once_and_back_after)
{
    s_fake_t fake = { NULL, NULL };
    s_fake_start (&fake);
    cluster_config_t *cluster = s_cluster ();
    char error [256];
    node_link_t *link = node_link_new_curve (cluster, "tcp://127.0.0.1:*", S_NODE_TIMEOUT_MS, 100,
                                             500, 100, 1 << 20, NULL, error, sizeof error);
    cr_assert_not_null (link, "%s", error);
    cr_assert_not (node_link_ever_reached (link, 0));
    cr_assert_geq (s_until_reachable (link, &fake, true, 5000), 0, "never reachable");
    cr_assert (node_link_ever_reached (link, 0));
    size_t resets = node_link_resets (link, 0);

    //  A request the fake does not answer, then the fake goes away
    int owner = 0;
    request_t *request = request_new ();
    request->type = MSG_PING;
    cr_assert_eq (node_link_send (link, 0, NODE_READER, request, NULL, &owner, 7, zclock_mono ()), 0);
    request_destroy (&request);
    zclock_sleep (50);
    s_fake_stop (&fake);
    int64_t start = zclock_mono ();
    node_event_t event;
    bool lost = false;
    while (!lost && zclock_mono () - start < S_NODE_TIMEOUT_MS) {
        node_link_ping (link, zclock_mono ());
        while (node_link_expire (link, &event, zclock_mono ()) == 1) {
            cr_assert_eq (event.owner, &owner);
            cr_assert_eq (event.cookie, 7);
            cr_assert_null (event.reply);
            cr_assert (event.lost, "the request expired instead of coming back as lost");
            lost = true;
        }
        zclock_sleep (10);
    }
    int64_t took = zclock_mono () - start;
    cr_assert (lost, "the pending request never came back");
    cr_assert_lt (took, 2000, "lost after %d ms (node timeout %d)", (int) took, S_NODE_TIMEOUT_MS);
    cr_assert_not (node_link_reachable (link, 0, zclock_mono ()));
    cr_assert_gt (node_link_resets (link, 0), resets);
    cr_assert_eq (node_link_pending (link), 0);

    //  Back on the same ports: reachable again within a second or so
    s_fake_start (&fake);
    int64_t back = s_until_reachable (link, &fake, true, 5000);
    cr_assert_geq (back, 0, "not reachable again");
    cr_assert_lt (back, 2000, "reachable again only after %d ms", (int) back);

    node_link_destroy (&link);
    s_fake_stop (&fake);
    cluster_config_destroy (&cluster);
    unlink (s_path);
    rmdir (s_dir);
}
