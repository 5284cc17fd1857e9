/*  =========================================================================
    intake - receive one request from a node endpoint and judge it

    socket -> frames (limits) -> request_decode -> allow-list -> size/MD5
    -> work item. See intake.h for the rules.
    =========================================================================
*/
#include "intake.h"
#include "timestamp.h"

struct _intake_t {
    const char *who;                //  thread name for log lines
    const node_config_t *config;    //  limits
    node_stats_t *stats;            //  counters
    endpoint_allow_t *allow;        //  reply allow-list
    bool keep_payload;              //  keep and verify data frames
    digest_md5_t *md5;              //  MD5 context, reused
    uint64_t dropped_logged;        //  dropped requests seen (for rate-limited logs)
    bool mismatch_logged;           //  a cluster-mismatch was logged
};

intake_t *
intake_new (const char *who, const node_config_t *config, node_stats_t *stats,
            endpoint_allow_t *allow, bool keep_payload)
{
    assert (who && config && stats && allow);
    intake_t *self = (intake_t *) zmalloc (sizeof (intake_t));
    self->who = who;
    self->config = config;
    self->stats = stats;
    self->allow = allow;
    self->keep_payload = keep_payload;
    self->md5 = digest_md5_new ();
    return self;
}

void
intake_destroy (intake_t **self_p)
{
    assert (self_p);
    intake_t *self = *self_p;
    if (!self)
        return;
    digest_md5_destroy (&self->md5);
    free (self);
    *self_p = NULL;
}

static void
s_dropped (intake_t *self, const char *why, const char *address)
{
    atomic_fetch_add (&self->stats->requests_dropped, 1);
    //  The first few, then one in a thousand: a flood must not flood the log
    if (self->dropped_logged < 10 || self->dropped_logged % 1000 == 0)
        zsys_warning ("%s: request dropped (%s)%s%s", self->who, why,
                      address? ": client-address ": "", address? address: "");
    self->dropped_logged++;
}

static bool
s_is_archive (message_type_t type)
{
    return type == MSG_ARCHIVE_KEY_ENTIRE || type == MSG_ARCHIVE_KEY_START
        || type == MSG_ARCHIVE_KEY_NEXT || type == MSG_ARCHIVE_KEY_FINAL;
}

//  Check the payload of an archive request against its header
static void
s_verify_payload (intake_t *self, work_t *work)
{
    request_t *request = &work->request;
    if (work->payload_size != request->segment_size) {
        work_fail (work, RESULT_SIZE_MISMATCH,
                   "segment-size: header says %" PRIu64 " bytes, payload has %" PRIu64,
                   request->segment_size, work->payload_size);
        return;
    }
    uint8_t md5 [DIGEST_MD5_SIZE];
    for (zframe_t *frame = zmsg_first (work->payload); frame; frame = zmsg_next (work->payload))
        digest_md5_update (self->md5, zframe_data (frame), zframe_size (frame));
    digest_md5_final (self->md5, md5);
    if (memcmp (md5, request->segment_md5, DIGEST_MD5_SIZE) != 0)
        work_fail (work, RESULT_MD5_MISMATCH, "segment-md5-digest: does not match the payload's MD5");
}

//  Receive the rest of the request whose header frame came, and judge it
static work_t *
s_receive (intake_t *self, zsock_t *socket, zframe_t *header)
{
    work_t *work = work_new ();
    work->received_us = timestamp_now ();
    size_t frames = 1;
    uint64_t bytes = zframe_size (header);
    bool too_many = false, too_big = false;
    bool more = zframe_more (header);
    while (more) {
        zframe_t *frame = zframe_recv (socket);
        if (!frame)
            break;
        more = zframe_more (frame);
        frames++;
        bytes += zframe_size (frame);
        if (frames > (size_t) self->config->max_frames)
            too_many = true;
        if (bytes > self->config->max_message_bytes)
            too_big = true;
        if (too_many || too_big || !self->keep_payload) {
            zframe_destroy (&frame);        //  keep nothing past the limit
            continue;
        }
        work->payload_size += zframe_size (frame);
        zmsg_append (work->payload, &frame);
    }
    //  The sender's key, proved in the CURVE handshake (never a field)
    bool allowed = true;
    if (self->config->auth) {
        const char *user = zframe_meta (header, "User-Id");
        auth_role_t role = auth_role (self->config->auth, user);
        allowed = role == AUTH_ROLE_ROUTER || role == AUTH_ROLE_NODE || role == AUTH_ROLE_ADMIN;
    }
    request_error_t error;
    int rc = request_decode (&work->request, zframe_data (header), zframe_size (header), &error);
    zframe_destroy (&header);
    request_t *request = &work->request;
    node_stats_request (self->stats, request->type);

    bool has_address = (request->present & FIELD_CLIENT_ADDRESS) != 0;
    if (has_address && !endpoint_allow_check (self->allow, request->client_address)) {
        s_dropped (self, "reply address not allowed", request->client_address);
        work_destroy (&work);
        return NULL;
    }
    if (!allowed) {
        if (!has_address) {
            s_dropped (self, "key not allowed (auth/policy)", NULL);
            work_destroy (&work);
            return NULL;
        }
        work_fail (work, RESULT_FORBIDDEN, "key not allowed: a node serves only router, node "
                   "and admin keys (auth/policy)");
    }
    else
    if (rc != 0) {
        if (!has_address) {
            s_dropped (self, error.message, NULL);
            work_destroy (&work);
            return NULL;
        }
        work_fail (work, error.result, "%s", error.message);
    }
    else
    if (*self->config->cluster_fingerprint && (request->present & FIELD_CLUSTER_FINGERPRINT)
    &&  strcmp (request->cluster_fingerprint, self->config->cluster_fingerprint) != 0) {
        if (!self->mismatch_logged)
            zsys_warning ("%s: refusing requests of cluster '%s' (this node: '%s'); "
                          "logged once", self->who, request->cluster_fingerprint,
                          self->config->cluster_fingerprint);
        self->mismatch_logged = true;
        work_fail (work, RESULT_CLUSTER_MISMATCH, "cluster-fingerprint: the sender is in cluster '%s', "
                   "node '%s' is in cluster '%s' (name:k:n:slice-size:nodes)",
                   request->cluster_fingerprint, self->config->name, self->config->cluster_fingerprint);
    }
    else
    if (too_many)
        work_fail (work, RESULT_INVALID_REQUEST, "message: more than %d frames", self->config->max_frames);
    else
    if (too_big)
        work_fail (work, RESULT_INVALID_REQUEST, "message: more than %" PRIu64 " bytes",
                   self->config->max_message_bytes);
    else
    if (self->keep_payload && s_is_archive (request->type))
        s_verify_payload (self, work);

    if (work->verdict != RESULT_SUCCESS && zmsg_size (work->payload)) {
        //  Nothing of a failed request is kept
        zmsg_destroy (&work->payload);
        work->payload = zmsg_new ();
        work->payload_size = 0;
    }
    if (self->config->log_verbose)
        zsys_info ("%s: %s %s", self->who, message_type_name (request->type), request->message_id);
    work->stages.at [NODE_STAGE_VERIFIED] = timestamp_now ();
    return work;
}

work_t *
intake_receive (intake_t *self, zsock_t *socket)
{
    assert (self);
    zframe_t *header = zframe_recv (socket);
    return header? s_receive (self, socket, header): NULL;
}

work_t *
intake_receive_waiting (intake_t *self, zsock_t *socket, bool *taken_p)
{
    assert (self && taken_p);
    //  zframe_recv_nowait is what czmq offers for a receive that does not
    //  wait; asking ZMQ_EVENTS first would cost a poll and a getpid system
    //  call per request (docs/performance.md, "System calls")
    zframe_t *header = zframe_recv_nowait (socket);
    *taken_p = header != NULL;
    return header? s_receive (self, socket, header): NULL;
}
