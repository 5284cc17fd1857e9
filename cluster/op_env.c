/*  =========================================================================
    op_env - what a router operation may do, and whom it answers

    The client side helpers: building and sending an operation's reply.
    =========================================================================
*/
#include "op_env.h"

op_client_t *
op_client_new (zframe_t *routing_id, router_request_t *request)
{
    assert (routing_id && request);
    op_client_t *self = (op_client_t *) calloc (1, sizeof (op_client_t));
    if (!self)
        return NULL;
    self->routing_id = zframe_dup (routing_id);
    snprintf (self->request_id, sizeof self->request_id, "%s", request->request_id);
    snprintf (self->reply_type, sizeof self->reply_type, "%s", router_request_reply_type (request));
    self->type = request->type;
    self->key = strdup (request->key);
    self->received_us = zclock_usecs ();
    if (!self->key) {
        op_client_destroy (&self);
        return NULL;
    }
    return self;
}

void
op_client_destroy (op_client_t **self_p)
{
    assert (self_p);
    op_client_t *self = *self_p;
    if (!self)
        return;
    zframe_destroy (&self->routing_id);
    free (self->key);
    free (self);
    *self_p = NULL;
}

router_reply_t *
op_client_reply (op_client_t *self)
{
    assert (self);
    return router_reply_new (self->reply_type, self->request_id);
}

void
op_client_answer (op_client_t **self_p, op_env_t *env, router_reply_t **reply_p, zmsg_t **data_p)
{
    assert (self_p && *self_p && env && reply_p && *reply_p);
    op_client_t *self = *self_p;
    if (env->answered)
        env->answered (env, self, *reply_p, data_p && *data_p? zmsg_content_size (*data_p): 0);
    zmsg_t *msg = router_reply_encode (*reply_p, data_p);
    if (!msg) {
        //  Out of memory building the reply: say so, without the fields
        router_reply_t *fallback = op_client_reply (self);
        router_reply_set_result (fallback, ROUTER_OVERLOADED, "router: out of memory");
        msg = router_reply_encode (fallback, NULL);
        router_reply_destroy (&fallback);
    }
    if (msg)
        env->answer (env, self->routing_id, &msg);
    zmsg_destroy (&msg);
    if (data_p)
        zmsg_destroy (data_p);
    router_reply_destroy (reply_p);
    op_client_destroy (self_p);
}

void
op_client_fail (op_client_t **self_p, op_env_t *env, router_result_t result, const char *message)
{
    assert (self_p && *self_p && env && message);
    router_reply_t *reply = op_client_reply (*self_p);
    if (!reply) {
        op_client_destroy (self_p);
        return;
    }
    router_reply_set_result (reply, result, "%s", message);
    op_client_answer (self_p, env, &reply, NULL);
}

size_t
op_env_reachable_count (op_env_t *env)
{
    assert (env);
    size_t count = 0;
    size_t nodes = cluster_config_node_count (env->cluster);
    for (size_t node = 0; node < nodes; node++)
        if (env->reachable (env, node))
            count++;
    return count;
}

void
op_env_unreachable_names (op_env_t *env, char *out, size_t size)
{
    assert (env && out && size);
    out [0] = 0;
    size_t used = 0;
    size_t nodes = cluster_config_node_count (env->cluster);
    for (size_t node = 0; node < nodes; node++) {
        if (env->reachable (env, node))
            continue;
        int written = snprintf (out + used, size - used, "%s%s", used? ", ": "",
                                cluster_config_node_name (env->cluster, node));
        if (written < 0 || (size_t) written >= size - used) {
            out [size - 1] = 0;
            break;
        }
        used += (size_t) written;
    }
}

int
op_env_place (op_env_t *env, const char *what, placement_target_t *targets, size_t *count_p,
              char *error, size_t error_size)
{
    assert (env && what && targets && count_p && error);
    size_t nodes = cluster_config_node_count (env->cluster);
    size_t k = (size_t) cluster_config_data_shards (env->cluster);
    bool reachable [ERASURE_MAX_SHARES];
    assert (nodes <= ERASURE_MAX_SHARES);
    for (size_t node = 0; node < nodes; node++)
        reachable [node] = env->reachable (env, node);
    size_t up = 0, absent = 0;
    placement_result_t rc = placement_compute (nodes, k, reachable, targets, count_p, &up, &absent);
    if (rc == PLACEMENT_OK)
        return 0;
    char names [200];
    op_env_unreachable_names (env, names, sizeof names);
    if (rc == PLACEMENT_TOO_FEW)
        snprintf (error, error_size, "only %zu of %zu nodes are reachable (down: %s); a %s needs "
                  "at least %zu (data-shards)", up, nodes, names, what, k);
    else
        snprintf (error, error_size, "%s is not reachable and its share cannot be handed off: "
                  "%zu of %zu nodes are reachable (down: %s), a %s needs %d holders for it",
                  cluster_config_node_name (env->cluster, absent), up, nodes, names, what,
                  PLACEMENT_HOLDERS);
    return -1;
}
