/*  =========================================================================
    test_fanout - asking every node the same read and gathering k answers

    A fake op_env_t of four nodes (k = 3) records what is sent; events are
    made by hand. Checks what is sent to whom, how each kind of answer
    settles a node, and the quorum's result and message.
    =========================================================================
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>
#include "fanout.h"

#define S_NODES     4
#define S_K         3

static cluster_config_t *s_cluster;
static op_env_t s_env;
static bool s_down [S_NODES];              //  not reachable
static bool s_send_fails [S_NODES];        //  reachable, but the send fails
static request_t s_sent [S_NODES];
static size_t s_sent_node [S_NODES];
static size_t s_sent_count;
static void *s_sent_op;

static int
s_send (op_env_t *env, void *op, size_t node, node_endpoint_t endpoint,
        request_t *request, zmsg_t **data_p, uint64_t cookie)
{
    (void) env; (void) data_p; (void) cookie;
    cr_assert_eq (endpoint, NODE_READER);
    if (s_send_fails [node])
        return -1;
    cr_assert_lt (s_sent_count, S_NODES);
    s_sent_op = op;
    s_sent_node [s_sent_count] = node;
    s_sent [s_sent_count] = *request;
    s_sent [s_sent_count++].meta = NULL;
    return 0;
}

static bool
s_reachable (op_env_t *env, size_t node)
{
    (void) env;
    return !s_down [node];
}

static void
s_setup (void)
{
    char dir [64] = "/tmp/strata-test-fanout-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path [128];
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    FILE *file = fopen (path, "w");
    fprintf (file, "cluster\n    name = fan\n    data-shards = %d\n    total-shards = %d\n    nodes\n",
             S_K, S_NODES);
    for (int node = 0; node < S_NODES; node++)
        fprintf (file, "        node%02d\n            writer = tcp://127.0.0.1:%d\n"
                 "            reader = tcp://127.0.0.1:%d\n", node + 1, 9100 + 2 * node, 9101 + 2 * node);
    fclose (file);
    char error [256];
    s_cluster = cluster_config_load (path, error, sizeof error);
    cr_assert_not_null (s_cluster, "%s", error);
    unlink (path);
    rmdir (dir);
    memset (s_down, 0, sizeof s_down);
    memset (s_send_fails, 0, sizeof s_send_fails);
    s_sent_count = 0;
    s_env = (op_env_t) { .cluster = s_cluster, .send = s_send, .reachable = s_reachable };
}

static void
s_teardown (void)
{
    cluster_config_destroy (&s_cluster);
}

TestSuite (fanout, .init = s_setup, .fini = s_teardown);

static void
s_fill (void *op, request_t *request)
{
    cr_assert_eq (op, &s_env);
    request->type = MSG_LIST_VERSIONS;
    snprintf (request->key, sizeof request->key, "k");
    request->key_size = 1;
    request->present = FIELD_KEY;
}

//  A reply of result for node
static void
s_event (fanout_t *fanout, size_t node, reply_t *reply, int expected)
{
    node_event_t event = { .owner = &s_env, .node = node, .reply = reply };
    reply_t *usable = NULL;
    cr_assert_eq (fanout_event (fanout, &event, &usable), expected);
    cr_assert_eq (usable != NULL, expected == 1);
}

Test (fanout, asks_every_reachable_node_with_its_segment)
{
    fanout_t fanout;
    cr_assert_eq (fanout_init (&fanout, &s_env), 0);
    s_send_fails [3] = true;                        //  missing
    router_result_t result;
    char error [256];
    cr_assert_eq (fanout_send (&fanout, &s_env, s_fill, &result, error, sizeof error), 0);
    cr_assert_eq (s_sent_count, 3);
    cr_assert_eq (s_sent_op, &s_env);
    for (size_t index = 0; index < 3; index++) {
        cr_assert_eq (s_sent_node [index], index);
        cr_assert_eq (s_sent [index].segment_num, index + 1);
        cr_assert (s_sent [index].present & FIELD_SEGMENT_NUM);
        cr_assert_str_eq (s_sent [index].key, "k");
    }
    cr_assert_eq (fanout.states [3], FANOUT_MISSING);
    cr_assert_not (fanout_all_in (&fanout));

    reply_t *reply = reply_new ();
    reply->result = RESULT_SUCCESS;
    s_event (&fanout, 0, reply, 1);
    fanout_read (&fanout, 0, true, "malformed versions");
    s_event (&fanout, 0, reply, -1);                //  node 0 is in already
    s_event (&fanout, 7, reply, -1);                //  no such node
    s_event (&fanout, 1, reply, 1);
    fanout_read (&fanout, 1, true, "malformed versions");
    cr_assert_eq (fanout_answered (&fanout), 2);
    s_event (&fanout, 2, reply, 1);
    fanout_read (&fanout, 2, true, "malformed versions");
    cr_assert (fanout_all_in (&fanout));
    cr_assert_eq (fanout_quorum (&fanout, &result, error, sizeof error), 0, "3 of 4 answered");
    reply_destroy (&reply);
    fanout_clear (&fanout);
}

Test (fanout, too_few_reachable_sends_nothing)
{
    fanout_t fanout;
    cr_assert_eq (fanout_init (&fanout, &s_env), 0);
    s_down [1] = s_down [3] = true;
    router_result_t result;
    char error [256];
    cr_assert_eq (fanout_send (&fanout, &s_env, s_fill, &result, error, sizeof error), -1);
    cr_assert_eq (result, ROUTER_UNAVAILABLE);
    cr_assert_str_eq (error, "only 2 of 4 nodes are reachable (down: node02, node04); 3 are needed");
    cr_assert_eq (s_sent_count, 0);
    fanout_clear (&fanout);
}

Test (fanout, quorum_says_why)
{
    fanout_t fanout;
    cr_assert_eq (fanout_init (&fanout, &s_env), 0);
    router_result_t result;
    char error [256];
    cr_assert_eq (fanout_send (&fanout, &s_env, s_fill, &result, error, sizeof error), 0);
    reply_t *reply = reply_new ();
    reply->result = RESULT_IO_ERROR;
    snprintf (reply->error_message, sizeof reply->error_message, "disk on fire");
    s_event (&fanout, 0, reply, 0);                 //  a failure settles the node
    s_event (&fanout, 1, NULL, 0);                  //  no answer in time
    reply->result = RESULT_SUCCESS;
    s_event (&fanout, 2, reply, 1);
    fanout_read (&fanout, 2, false, "malformed versions");
    s_event (&fanout, 3, reply, 1);
    fanout_read (&fanout, 3, true, "malformed versions");
    cr_assert (fanout_all_in (&fanout));
    cr_assert_eq (fanout_quorum (&fanout, &result, error, sizeof error), -1);
    cr_assert_eq (result, ROUTER_IO_ERROR, "one missing of four: the others failed");
    cr_assert_str_eq (error, "only 1 of 4 nodes answered, 3 are needed: node01: io-error: disk on fire");
    reply_destroy (&reply);
    fanout_clear (&fanout);

    //  Two of four missing (more than n - k) and one timed out: timeout
    cr_assert_eq (fanout_init (&fanout, &s_env), 0);
    s_sent_count = 0;
    cr_assert_eq (fanout_send (&fanout, &s_env, s_fill, &result, error, sizeof error), 0);
    s_event (&fanout, 0, NULL, 0);
    s_event (&fanout, 1, NULL, 0);
    reply = reply_new ();
    reply->result = RESULT_SUCCESS;
    s_event (&fanout, 2, reply, 1);
    fanout_read (&fanout, 2, true, "malformed versions");
    s_event (&fanout, 3, reply, 1);
    fanout_read (&fanout, 3, true, "malformed versions");
    cr_assert_eq (fanout_quorum (&fanout, &result, error, sizeof error), -1);
    cr_assert_eq (result, ROUTER_TIMEOUT);
    cr_assert_str_eq (error, "only 2 of 4 nodes answered, 3 are needed: node01: no answer in time");
    reply_destroy (&reply);
    fanout_clear (&fanout);
}
