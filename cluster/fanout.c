/*  =========================================================================
    fanout - one read request to every node's reader, the answers gathered

    See fanout.h.
    =========================================================================
*/
#include "fanout.h"
#include "timestamp.h"
#include "wire.h"

int
fanout_read_entry (const msgpack_object *entry, uint64_t *unified_id_p, int64_t *timestamp_p,
                   uint64_t *size_p)
{
    assert (entry && unified_id_p && timestamp_p && size_p);
    const msgpack_object *id = wire_map_find (entry, "unified-id");
    const msgpack_object *stamp = wire_map_find (entry, "timestamp-repr");
    const msgpack_object *size = wire_map_find (entry, "file-size");
    return id && stamp && size
        && wire_get_uint (id, 0, UINT64_MAX, unified_id_p) == 0
        && stamp->type == MSGPACK_OBJECT_STR
        && timestamp_parse (stamp->via.str.ptr, stamp->via.str.size, timestamp_p) == 0
        && wire_get_uint (size, 0, UINT64_MAX, size_p) == 0? 0: -1;
}

int
fanout_init (fanout_t *self, op_env_t *env)
{
    assert (self && env);
    memset (self, 0, sizeof *self);
    self->env = env;
    self->node_count = cluster_config_node_count (env->cluster);
    self->k = (size_t) cluster_config_data_shards (env->cluster);
    self->states = (fanout_state_t *) calloc (self->node_count, sizeof (fanout_state_t));
    return self->states? 0: -1;
}

void
fanout_clear (fanout_t *self)
{
    assert (self);
    free (self->states);
    self->states = NULL;
}

//  Keep the first node failure for the messages
static void
s_note (fanout_t *self, size_t node, const char *why)
{
    if (!self->why [0])
        snprintf (self->why, sizeof self->why, "%s: %s",
                  cluster_config_node_name (self->env->cluster, node), why);
}

int
fanout_send (fanout_t *self, void *op, fanout_fill_fn *fill,
             router_result_t *result_p, char *error, size_t error_size)
{
    assert (self && fill && result_p && error);
    size_t reachable = op_env_reachable_count (self->env);
    if (reachable < self->k) {
        char names [200];
        op_env_unreachable_names (self->env, names, sizeof names);
        *result_p = ROUTER_UNAVAILABLE;
        snprintf (error, error_size, "only %zu of %zu nodes are reachable (down: %s); "
                  "%zu are needed", reachable, self->node_count, names, self->k);
        return -1;
    }
    request_t *request = request_new ();
    if (!request) {
        *result_p = ROUTER_OVERLOADED;
        snprintf (error, error_size, "router: out of memory");
        return -1;
    }
    for (size_t node = 0; node < self->node_count; node++) {
        if (!self->env->reachable (self->env, node)) {
            self->states [node] = FANOUT_MISSING;
            s_note (self, node, "not reachable");
            continue;
        }
        request_reset (request);
        fill (op, request);
        request->segment_num = (uint8_t) (node + 1);
        request->present |= FIELD_SEGMENT_NUM;
        if (self->env->send (self->env, op, node, NODE_READER, request, NULL, 0)) {
            self->states [node] = FANOUT_MISSING;
            s_note (self, node, "not reachable");
        }
    }
    request_destroy (&request);
    return 0;
}

int
fanout_event (fanout_t *self, node_event_t *event, reply_t **reply_p)
{
    assert (self && event && reply_p);
    *reply_p = NULL;
    if (event->node >= self->node_count || self->states [event->node] != FANOUT_WAITING)
        return -1;
    size_t node = event->node;
    reply_t *reply = event->reply;
    if (!reply) {
        self->states [node] = FANOUT_MISSING;
        self->timed_out = true;
        s_note (self, node, "no answer in time");
        return 0;
    }
    if (reply->result != RESULT_SUCCESS) {
        self->states [node] = FANOUT_FAILED;
        char why [160];
        snprintf (why, sizeof why, "%s: %s", result_name (reply->result), reply->error_message);
        s_note (self, node, why);
        return 0;
    }
    *reply_p = reply;
    return 1;
}

void
fanout_read (fanout_t *self, size_t node, bool usable, const char *what)
{
    assert (self && node < self->node_count && what);
    self->states [node] = usable? FANOUT_ANSWERED: FANOUT_FAILED;
    if (!usable)
        s_note (self, node, what);
}

bool
fanout_all_in (fanout_t *self)
{
    assert (self);
    for (size_t node = 0; node < self->node_count; node++)
        if (self->states [node] == FANOUT_WAITING)
            return false;
    return true;
}

size_t
fanout_answered (fanout_t *self)
{
    assert (self);
    size_t answered = 0;
    for (size_t node = 0; node < self->node_count; node++)
        if (self->states [node] == FANOUT_ANSWERED)
            answered++;
    return answered;
}

int
fanout_quorum (fanout_t *self, router_result_t *result_p, char *error, size_t error_size)
{
    assert (self && result_p && error);
    size_t answered = fanout_answered (self), missing = 0;
    for (size_t node = 0; node < self->node_count; node++)
        if (self->states [node] == FANOUT_MISSING)
            missing++;
    if (answered >= self->k)
        return 0;
    if (missing > self->node_count - self->k)
        *result_p = self->timed_out? ROUTER_TIMEOUT: ROUTER_UNAVAILABLE;
    else
        *result_p = ROUTER_IO_ERROR;
    snprintf (error, error_size, "only %zu of %zu nodes answered, %zu are needed: %s",
              answered, self->node_count, self->k, self->why);
    return -1;
}
