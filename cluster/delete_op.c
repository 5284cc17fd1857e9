/*  =========================================================================
    delete_op - delete a key, or one version of it

    One destroy-key per target (placement.h: the owner, or the two holders
    of an absent owner's share), all answered or the first failure. A
    request's cookie is its target index. See delete_op.h.
    =========================================================================
*/
#include "delete_op.h"
#include "timestamp.h"

struct _delete_op_t {
    op_env_t *env;                  //  borrowed
    op_client_t *client;            //  waiting for the answer
    request_t *request;             //  node request being built, reused
    uint32_t collection_id;         //  collection-id
    char key [LIMIT_KEY_MAX + 1];   //  key
    size_t key_size;                //  bytes of key
    char request_id [LIMIT_ID_MAX + 1];     //  sent as user-request-id
    bool one_version;               //  delete only version
    uint64_t version;               //  the version to delete
    uint64_t tombstone;             //  the tombstone's unified-id
    placement_target_t *targets;    //  who stores which share's tombstone
    size_t target_count;            //  entries in targets
    size_t handoffs;                //  owners whose tombstone went to holders
    size_t acked;                   //  targets that answered success
    size_t expected;                //  answers needed (targets minus those lost and replaced)
    size_t replaced;                //  lost owners whose tombstone went to holders midway
    int64_t timestamp;              //  the tombstones' timestamp
    bool succeeded;                 //  every target answered success
    bool done;                      //  client answered
};

delete_op_t *
delete_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p)
{
    assert (env && request && client_p && *client_p);
    delete_op_t *self = (delete_op_t *) calloc (1, sizeof (delete_op_t));
    if (!self)
        return NULL;
    self->request = request_new ();
    self->targets = (placement_target_t *) calloc (
        PLACEMENT_MAX_TARGETS (cluster_config_node_count (env->cluster)), sizeof (placement_target_t));
    if (!self->request || !self->targets) {
        request_destroy (&self->request);
        free (self->targets);
        free (self);
        return NULL;
    }
    self->env = env;
    self->collection_id = request->collection_id;
    memcpy (self->key, request->key, request->key_size + 1);
    self->key_size = request->key_size;
    snprintf (self->request_id, sizeof self->request_id, "%s", request->request_id);
    self->one_version = (request->present & ROUTER_FIELD_UNIFIED_ID) != 0;
    self->version = request->unified_id;
    self->client = *client_p;
    *client_p = NULL;
    return self;
}

void
delete_op_destroy (delete_op_t **self_p)
{
    assert (self_p);
    delete_op_t *self = *self_p;
    if (!self)
        return;
    op_client_destroy (&self->client);
    request_destroy (&self->request);
    free (self->targets);
    free (self);
    *self_p = NULL;
}

bool
delete_op_done (delete_op_t *self)
{
    assert (self);
    return self->done;
}

size_t
delete_op_handoffs (delete_op_t *self)
{
    assert (self);
    return self->succeeded? self->handoffs: 0;
}

static void
s_fail (delete_op_t *self, router_result_t result, const char *message)
{
    op_client_fail (&self->client, self->env, result, message);
    self->done = true;
}

static const char *
s_name (delete_op_t *self, size_t node)
{
    return cluster_config_node_name (self->env->cluster, node);
}

//  The target's node name, and whose share it holds if a handoff holder
static void
s_target_name (delete_op_t *self, size_t target, char *out, size_t size)
{
    placement_target_t *place = &self->targets [target];
    if (place->handoff)
        snprintf (out, size, "%s (holding %s's share)", s_name (self, place->node),
                  s_name (self, place->share));
    else
        snprintf (out, size, "%s", s_name (self, place->node));
}

//  Send target's destroy-key; 0, or -1 if its node cannot take it now
static int
s_send_target (delete_op_t *self, size_t target)
{
    request_t *request = self->request;
    placement_target_t *place = &self->targets [target];
    const char *owner = s_name (self, place->share);
    request_reset (request);
    request->type = MSG_DESTROY_KEY;
    request->collection_id = self->collection_id;
    memcpy (request->key, self->key, self->key_size + 1);
    request->key_size = self->key_size;
    request->unified_id = self->tombstone;
    request->timestamp = self->timestamp;
    request->segment_num = (uint8_t) (place->share + 1);
    snprintf (request->source_node_name, sizeof request->source_node_name, "%s", owner);
    snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
    request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP
                     | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME | FIELD_USER_REQUEST_ID;
    if (place->handoff) {
        snprintf (request->handoff_node_name, sizeof request->handoff_node_name, "%s", owner);
        request->present |= FIELD_HANDOFF_NODE_NAME;
    }
    if (self->one_version) {
        request->unified_id_to_delete = self->version;
        request->present |= FIELD_UNIFIED_ID_TO_DELETE;
    }
    return self->env->send (self->env, self, place->node, NODE_WRITER, request, NULL, target);
}

//  An owner was lost midway (not connected, or no answer in time): send
//  its tombstone to two handoff holders instead, as if it had been down
//  from the start. Returns true if done, false if not possible (the lost
//  target was a holder, the owners-or-holders left are too few, or two
//  owners were replaced already).
static bool
s_replace (delete_op_t *self, size_t target)
{
    if (target >= self->target_count || self->targets [target].handoff || self->replaced >= 2)
        return false;
    op_env_t *env = self->env;
    size_t node_count = cluster_config_node_count (env->cluster);
    size_t lost = self->targets [target].node;
    bool reachable [256];
    for (size_t node = 0; node < node_count && node < 256; node++)
        reachable [node] = node != lost && env->reachable (env, node);
    placement_target_t placed [2 * 256];
    size_t count = 0;
    if (placement_compute (node_count, (size_t) cluster_config_data_shards (env->cluster), reachable,
                           placed, &count, NULL, NULL) != PLACEMENT_OK
    ||  self->target_count + PLACEMENT_HOLDERS > PLACEMENT_MAX_TARGETS (node_count))
        return false;
    size_t added = 0;
    for (size_t index = 0; index < count; index++)
        if (placed [index].share == self->targets [target].share && placed [index].handoff) {
            self->targets [self->target_count] = placed [index];
            if (s_send_target (self, self->target_count))
                return false;
            self->target_count++;
            added++;
        }
    if (added != PLACEMENT_HOLDERS)
        return false;
    zsys_warning ("delete '%s': %s lost midway; its tombstone goes to two handoff holders",
                  self->key, s_name (self, lost));
    self->replaced++;
    self->handoffs++;
    self->expected += PLACEMENT_HOLDERS - 1;
    return true;
}

void
delete_op_start (delete_op_t *self)
{
    assert (self);
    char message [512];
    if (op_env_place (self->env, "delete", self->targets, &self->target_count, message, sizeof message)) {
        s_fail (self, ROUTER_UNAVAILABLE, message);
        return;
    }
    for (size_t target = 0; target < self->target_count; target++)
        if (self->targets [target].handoff)
            self->handoffs++;
    self->handoffs /= PLACEMENT_HOLDERS;
    self->tombstone = self->env->new_id (self->env);
    self->timestamp = timestamp_now ();
    size_t initial = self->target_count;
    self->expected = initial;
    for (size_t target = 0; target < initial; target++) {
        if (s_send_target (self, target) && !s_replace (self, target)) {
            char who [LIMIT_NODE_NAME_MAX * 2 + 40];
            s_target_name (self, target, who, sizeof who);
            snprintf (message, sizeof message, "%s: lost during the delete (not connected); "
                      "send it again", who);
            s_fail (self, ROUTER_TIMEOUT, message);
            return;
        }
    }
}

void
delete_op_on_event (delete_op_t *self, node_event_t *event)
{
    assert (self && event);
    if (self->done)
        return;
    char who [LIMIT_NODE_NAME_MAX * 2 + 40];
    if (event->cookie < self->target_count && self->targets [event->cookie].node == event->node)
        s_target_name (self, (size_t) event->cookie, who, sizeof who);
    else
        snprintf (who, sizeof who, "%s", s_name (self, event->node));
    char message [512];
    if (!event->reply) {
        if (s_replace (self, (size_t) event->cookie))
            return;
        if (event->lost)
            snprintf (message, sizeof message, "%s: connection lost", who);
        else
            snprintf (message, sizeof message, "%s: no answer within %d ms", who,
                      self->env->config->node_timeout_ms);
        s_fail (self, ROUTER_TIMEOUT, message);
        return;
    }
    if (event->reply->result != RESULT_SUCCESS) {
        snprintf (message, sizeof message, "%s: %s: %s", who, result_name (event->reply->result),
                  event->reply->error_message [0]? event->reply->error_message: "(no message)");
        s_fail (self, event->reply->result == RESULT_OVERLOADED? ROUTER_OVERLOADED: ROUTER_IO_ERROR,
                message);
        return;
    }
    if (++self->acked < self->expected)
        return;
    self->succeeded = true;
    router_reply_t *reply = op_client_reply (self->client);
    if (reply) {
        router_reply_add_uint (reply, "unified-id", self->tombstone);
        op_client_answer (&self->client, self->env, &reply, NULL);
    }
    else
        op_client_destroy (&self->client);
    self->done = true;
}
