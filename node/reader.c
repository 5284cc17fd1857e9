/*  =========================================================================
    reader - the reader actor (placeholder until the read path lands):
    binds the reader endpoint and answers ping; retrievals are not-found.
    =========================================================================
*/
#include "reader.h"
#include "request.h"
#include "reply.h"
#include "reply_cache.h"

void
reader_actor (zsock_t *pipe, void *args_)
{
    reader_args_t *args = (reader_args_t *) args_;
    zsock_signal (pipe, 0);
    zsock_t *pull = zsock_new (ZMQ_PULL);
    if (zsock_bind (pull, "%s", args->config->reader) < 0) {
        zstr_sendx (pipe, "ERROR", "cannot bind the reader endpoint", NULL);
        zsock_destroy (&pull);
        char *command = zstr_recv (pipe);
        zstr_free (&command);
        return;
    }
    zstr_send (pipe, "READY");
    reply_cache_t *replies = reply_cache_new (args->allow, args->stats, 64, 30, 0, 1000);
    request_t *request = request_new ();
    reply_t *reply = reply_new ();
    zpoller_t *poller = zpoller_new (pipe, pull, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || !which)
            break;
        zmsg_t *msg = zmsg_recv (pull);
        if (!msg)
            continue;
        zframe_t *header = zmsg_first (msg);
        request_error_t error;
        int rc = request_decode (request, zframe_data (header), zframe_size (header), &error);
        if ((request->present & FIELD_CLIENT_ADDRESS) && reply_cache_allowed (replies, request->client_address)) {
            if (rc)
                reply_prepare (reply, request, error.result, error.message);
            else
            if (request->type == MSG_PING) {
                reply_prepare (reply, request, RESULT_SUCCESS, NULL);
                reply->fields |= REPLY_FIELD_NODE_NAME | REPLY_FIELD_VERSION | REPLY_FIELD_UPTIME;
                snprintf (reply->node_name, sizeof (reply->node_name), "%s", args->config->name);
                snprintf (reply->version, sizeof (reply->version), "%s", STRATA_VERSION);
                reply->uptime_seconds = node_stats_uptime (args->stats);
            }
            else
                reply_prepare (reply, request, RESULT_NOT_FOUND, "retrieval not available yet");
            node_stats_result (args->stats, reply->result);
            reply_cache_send (replies, reply, NULL);
        }
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    reply_destroy (&reply);
    request_destroy (&request);
    reply_cache_destroy (&replies);
    zsock_destroy (&pull);
}
