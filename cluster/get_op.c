/*  =========================================================================
    get_op - read one slice of an object

    Each node is in one state: waiting for its answer, have (a share of some
    version), not-found, bad (answered a failure or something unusable), or
    missing (not reachable, or no answer in time). After every answer
    s_decide looks whether the slice can be rebuilt now, whether waiting
    can still help, or whether the read has failed; see get_op.h for the
    rules.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include "get_op.h"

typedef enum {
    S_WAITING = 0,                  //  asked, no answer yet
    S_HAVE,                         //  answered with a share
    S_NOT_FOUND,                    //  answered not-found
    S_BAD,                          //  answered a failure, or something unusable
    S_MISSING                       //  not reachable, or no answer in time
} s_state_t;

//  What one node said
typedef struct {
    s_state_t state;                //  see above
    bool timed_out;                 //  missing because it did not answer in time
    bool reasked;                   //  asked again for an explicit version
    uint64_t round;                 //  cookie of the request we wait for
    uint64_t unified_id;            //  version of the share
    int64_t timestamp;              //  its timestamp
    uint64_t file_size;             //  the object's size
    uint8_t file_hash [DIGEST_MD5_SIZE];    //  the object's MD5
    uint8_t *meta;                  //  raw meta, owned; NULL if none
    size_t meta_size;               //  bytes of meta
    uint32_t sequence_count;        //  slices of the object
    uint32_t sequence_num;          //  this slice
    uint64_t segment_size;          //  bytes of share
    uint32_t padding;               //  zfec-padding-size
    bool completed;                 //  last slice
    zmsg_t *data;                   //  the share
    char why [160];                 //  for bad: what was wrong
} s_node_t;

struct _get_op_t {
    op_env_t *env;                  //  borrowed
    op_client_t *client;            //  waiting for the answer
    router_msg_t type;              //  get or get-next
    uint32_t collection_id;         //  collection-id
    char key [LIMIT_KEY_MAX + 1];   //  key
    size_t key_size;                //  bytes of key
    char request_id [LIMIT_ID_MAX + 1];     //  sent as user-request-id
    uint32_t slice_num;             //  slice to read
    bool target_known;              //  the version is fixed
    uint64_t target;                //  the version
    size_t node_count;              //  n
    size_t k;                       //  shares needed
    s_node_t *nodes;                //  per node
    digest_md5_t *md5;              //  the object's MD5 so far, or NULL
    bool done;                      //  client answered
    bool continues;                 //  answered a slice that was not the last
    request_t *request;             //  node request being built, reused
};

get_op_t *
get_op_new (op_env_t *env, router_request_t *request, op_client_t **client_p, digest_md5_t **md5_p)
{
    assert (env && request && client_p && *client_p);
    get_op_t *self = (get_op_t *) calloc (1, sizeof (get_op_t));
    if (!self)
        return NULL;
    self->env = env;
    self->type = request->type;
    self->collection_id = request->collection_id;
    memcpy (self->key, request->key, request->key_size + 1);
    self->key_size = request->key_size;
    snprintf (self->request_id, sizeof self->request_id, "%s", request->request_id);
    self->slice_num = request->type == ROUTER_MSG_GET_NEXT? request->slice_num: 0;
    if (request->present & ROUTER_FIELD_UNIFIED_ID) {
        self->target_known = true;
        self->target = request->unified_id;
    }
    self->node_count = cluster_config_node_count (env->cluster);
    self->k = (size_t) cluster_config_data_shards (env->cluster);
    self->nodes = (s_node_t *) calloc (self->node_count, sizeof (s_node_t));
    self->request = request_new ();
    if (!self->nodes || !self->request) {
        free (self->nodes);
        request_destroy (&self->request);
        free (self);
        return NULL;
    }
    self->client = *client_p;
    *client_p = NULL;
    if (md5_p) {
        self->md5 = *md5_p;
        *md5_p = NULL;
    }
    return self;
}

static void
s_node_clear (s_node_t *node)
{
    free (node->meta);
    node->meta = NULL;
    node->meta_size = 0;
    zmsg_destroy (&node->data);
}

void
get_op_destroy (get_op_t **self_p)
{
    assert (self_p);
    get_op_t *self = *self_p;
    if (!self)
        return;
    for (size_t node = 0; node < self->node_count; node++)
        s_node_clear (&self->nodes [node]);
    free (self->nodes);
    digest_md5_destroy (&self->md5);
    op_client_destroy (&self->client);
    request_destroy (&self->request);
    free (self);
    *self_p = NULL;
}

bool
get_op_done (get_op_t *self)
{
    assert (self);
    return self->done;
}

digest_md5_t *
get_op_continuation (get_op_t *self, uint64_t *unified_id_p, uint32_t *next_slice_p)
{
    assert (self && unified_id_p && next_slice_p);
    if (!self->done || !self->continues || !self->md5)
        return NULL;
    *unified_id_p = self->target;
    *next_slice_p = self->slice_num + 1;
    digest_md5_t *md5 = self->md5;
    self->md5 = NULL;
    return md5;
}

static const char *
s_name (get_op_t *self, size_t node)
{
    return cluster_config_node_name (self->env->cluster, node);
}

static void
s_fail (get_op_t *self, router_result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (get_op_t *self, router_result_t result, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    op_client_fail (&self->client, self->env, result, message);
    self->done = true;
}

//  Ask node for its share: of the target version if known, else of its
//  visible version. Marks it missing if it cannot be asked.
static void
s_ask (get_op_t *self, size_t index)
{
    s_node_t *node = &self->nodes [index];
    request_t *request = self->request;
    request_reset (request);
    request->type = self->slice_num == 0? MSG_RETRIEVE_KEY_START: MSG_RETRIEVE_KEY_NEXT;
    request->collection_id = self->collection_id;
    memcpy (request->key, self->key, self->key_size + 1);
    request->key_size = self->key_size;
    request->segment_num = (uint8_t) (index + 1);
    snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
    request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM | FIELD_USER_REQUEST_ID;
    if (self->target_known) {
        request->unified_id = self->target;
        request->present |= FIELD_UNIFIED_ID;
    }
    if (self->slice_num > 0) {
        request->sequence_num = self->slice_num;
        request->present |= FIELD_SEQUENCE_NUM;
    }
    node->round++;
    node->state = S_WAITING;
    if (self->env->send (self->env, self, index, NODE_READER, request, NULL, node->round)) {
        node->state = S_MISSING;
        snprintf (node->why, sizeof node->why, "not reachable");
    }
}

static size_t
s_count (get_op_t *self, s_state_t state)
{
    size_t count = 0;
    for (size_t node = 0; node < self->node_count; node++)
        if (self->nodes [node].state == state)
            count++;
    return count;
}

//  Nodes that have a share of version, and that have one of a higher version
static void
s_count_version (get_op_t *self, uint64_t version, size_t *have_p, size_t *higher_p)
{
    *have_p = *higher_p = 0;
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        if (node->state != S_HAVE)
            continue;
        if (node->unified_id == version)
            (*have_p)++;
        else
        if (node->unified_id > version && !node->reasked)
            (*higher_p)++;
    }
}

//  The read cannot succeed: say why
static void
s_give_up (get_op_t *self)
{
    size_t not_found = s_count (self, S_NOT_FOUND);
    size_t missing = s_count (self, S_MISSING);
    bool timed_out = false;
    char details [200] = "";
    size_t used = 0;
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        if (node->timed_out)
            timed_out = true;
        if ((node->state == S_BAD || node->state == S_MISSING) && used < sizeof details - 1) {
            int written = snprintf (details + used, sizeof details - used, "%s%s: %s",
                                    used? "; ": "", s_name (self, index), node->why);
            used = written > 0? used + (size_t) written: used;
            if (used >= sizeof details)
                used = sizeof details - 1;
        }
    }
    if (not_found >= self->node_count - self->k + 1) {
        if (self->target_known)
            s_fail (self, ROUTER_NOT_FOUND, "unified-id: version %" PRIu64 " of the key not found "
                    "(%zu of %zu nodes answered not-found: it is not on the %zu needed)",
                    self->target, not_found, self->node_count, self->k);
        else
            s_fail (self, ROUTER_NOT_FOUND, "key: not found (%zu of %zu nodes answered not-found: "
                    "no version is on the %zu needed)", not_found, self->node_count, self->k);
    }
    else
    if (missing > self->node_count - self->k)
        s_fail (self, timed_out? ROUTER_TIMEOUT: ROUTER_UNAVAILABLE,
                "%zu of %zu nodes could not be read, %zu shares are needed: %s",
                missing, self->node_count, self->k, details);
    else
        s_fail (self, ROUTER_DATA_ERROR, "fewer than %zu good shares of slice %" PRIu32 ": %s",
                self->k, self->slice_num, details [0]? details: "the nodes disagree about the version");
}

static void s_decide (get_op_t *self);

//  Mark a node's share unusable and look again
static void
s_bad (s_node_t *node, const char *why)
{
    s_node_clear (node);
    node->state = S_BAD;
    snprintf (node->why, sizeof node->why, "%s", why);
}

//  Rebuild the slice from k shares of the target version and answer
static void
s_rebuild (get_op_t *self)
{
    //  The first share is the reference; shares that disagree with it are bad
    s_node_t *reference = NULL;
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        if (node->state != S_HAVE || node->unified_id != self->target)
            continue;
        if (!reference) {
            reference = node;
            continue;
        }
        if (node->segment_size != reference->segment_size || node->padding != reference->padding
        ||  node->sequence_count != reference->sequence_count || node->completed != reference->completed
        ||  node->file_size != reference->file_size
        ||  memcmp (node->file_hash, reference->file_hash, DIGEST_MD5_SIZE))
            s_bad (node, "its share disagrees with the other nodes' (size, padding or object)");
    }
    size_t have, higher;
    s_count_version (self, self->target, &have, &higher);
    if (have < self->k) {
        s_decide (self);
        return;
    }
    const uint8_t *shares [ERASURE_MAX_SHARES];
    int share_nums [ERASURE_MAX_SHARES];
    size_t used = 0;
    for (size_t index = 0; index < self->node_count && used < self->k; index++) {
        s_node_t *node = &self->nodes [index];
        if (node->state != S_HAVE || node->unified_id != self->target)
            continue;
        //  Replies carry one data frame; anything else is joined into one
        if (node->data && zmsg_size (node->data) > 1) {
            zframe_t *joined = zframe_new (NULL, (size_t) node->segment_size);
            size_t offset = 0;
            for (zframe_t *frame = zmsg_first (node->data); frame; frame = zmsg_next (node->data)) {
                if (zframe_size (frame))
                    memcpy (zframe_data (joined) + offset, zframe_data (frame), zframe_size (frame));
                offset += zframe_size (frame);
            }
            zmsg_destroy (&node->data);
            node->data = zmsg_new ();
            zmsg_append (node->data, &joined);
        }
        shares [used] = node->data? zframe_data (zmsg_first (node->data)): NULL;
        share_nums [used] = (int) index;
        used++;
    }
    size_t slice_size = 0;
    if (erasure_slice_size (self->env->erasure, (size_t) reference->segment_size, reference->padding,
                            &slice_size)) {
        s_fail (self, ROUTER_DATA_ERROR, "slice %" PRIu32 ": the nodes' share size %" PRIu64
                " and padding %" PRIu32 " are impossible", self->slice_num,
                reference->segment_size, reference->padding);
        return;
    }
    zframe_t *slice = zframe_new (NULL, slice_size);
    if (!slice) {
        s_fail (self, ROUTER_OVERLOADED, "router: out of memory");
        return;
    }
    if (slice_size > 0
    &&  erasure_decode_slice (self->env->erasure, shares, share_nums, (size_t) reference->segment_size,
                              reference->padding, zframe_data (slice), slice_size, NULL)) {
        zframe_destroy (&slice);
        s_fail (self, ROUTER_DATA_ERROR, "slice %" PRIu32 " could not be decoded", self->slice_num);
        return;
    }
    if (self->md5) {
        digest_md5_update (self->md5, zframe_data (slice), slice_size);
        if (reference->completed) {
            uint8_t digest [DIGEST_MD5_SIZE];
            digest_md5_final (self->md5, digest);
            digest_md5_destroy (&self->md5);
            if (memcmp (digest, reference->file_hash, DIGEST_MD5_SIZE)) {
                zframe_destroy (&slice);
                s_fail (self, ROUTER_DATA_ERROR, "the rebuilt object's MD5 differs from its "
                        "file-hash: the object is damaged");
                return;
            }
        }
    }
    router_reply_t *reply = op_client_reply (self->client);
    if (!reply) {
        zframe_destroy (&slice);
        op_client_destroy (&self->client);
        self->done = true;
        return;
    }
    router_reply_add_uint (reply, "unified-id", self->target);
    router_reply_add_timestamp (reply, "timestamp", reference->timestamp);
    router_reply_add_uint (reply, "size", reference->file_size);
    router_reply_add_digest (reply, "file-hash", reference->file_hash);
    router_reply_add_raw (reply, "meta", reference->meta, reference->meta_size);
    router_reply_add_uint (reply, "slice-count", reference->sequence_count);
    router_reply_add_uint (reply, "slice-num", self->slice_num);
    router_reply_add_bool (reply, "completed", reference->completed);
    zmsg_t *data = zmsg_new ();
    if (slice_size > 0)
        zmsg_append (data, &slice);
    zframe_destroy (&slice);
    self->continues = !reference->completed;
    op_client_answer (&self->client, self->env, &reply, &data);
    self->done = true;
}

//  Ask the nodes that answered with a higher version for version
static void
s_reask (get_op_t *self, uint64_t version)
{
    self->target_known = true;
    self->target = version;
    for (size_t index = 0; index < self->node_count; index++) {
        s_node_t *node = &self->nodes [index];
        if (node->state == S_HAVE && node->unified_id > version && !node->reasked) {
            s_node_clear (node);
            node->reasked = true;
            s_ask (self, index);
        }
    }
}

static void
s_decide (get_op_t *self)
{
    if (self->done)
        return;
    size_t waiting = s_count (self, S_WAITING);
    if (self->target_known) {
        size_t have, higher;
        s_count_version (self, self->target, &have, &higher);
        if (have >= self->k)
            s_rebuild (self);
        else
        if (waiting == 0 && have + higher >= self->k) {
            s_reask (self, self->target);
            s_decide (self);
        }
        else
        if (have + higher + waiting < self->k)
            s_give_up (self);
        return;
    }
    //  Resolving: an unseen version could still win while k nodes are silent
    if (waiting >= self->k)
        return;
    //  The highest version that k nodes may still give
    uint64_t ceiling = UINT64_MAX;
    while (true) {
        bool found = false;
        uint64_t version = 0;
        for (size_t index = 0; index < self->node_count; index++) {
            s_node_t *node = &self->nodes [index];
            if (node->state == S_HAVE && node->unified_id < ceiling
            &&  (!found || node->unified_id > version)) {
                version = node->unified_id;
                found = true;
            }
        }
        if (!found)
            break;
        size_t have, higher;
        s_count_version (self, version, &have, &higher);
        if (have + higher + waiting >= self->k) {
            if (have >= self->k) {
                self->target_known = true;
                self->target = version;
                s_rebuild (self);
            }
            else
            if (waiting == 0) {
                s_reask (self, version);
                s_decide (self);
            }
            return;             //  else wait for the silent nodes
        }
        ceiling = version;
    }
    s_give_up (self);
}

void
get_op_start (get_op_t *self)
{
    assert (self);
    size_t reachable = 0;
    for (size_t index = 0; index < self->node_count; index++)
        if (self->env->reachable (self->env, index))
            reachable++;
    if (reachable < self->k) {
        char names [200];
        op_env_unreachable_names (self->env, names, sizeof names);
        s_fail (self, ROUTER_UNAVAILABLE, "only %zu of %zu nodes are reachable (down: %s); "
                "%zu are needed to read", reachable, self->node_count, names, self->k);
        return;
    }
    for (size_t index = 0; index < self->node_count; index++) {
        if (self->env->reachable (self->env, index))
            s_ask (self, index);
        else {
            self->nodes [index].state = S_MISSING;
            snprintf (self->nodes [index].why, sizeof self->nodes [index].why, "not reachable");
        }
    }
    s_decide (self);
}

void
get_op_on_event (get_op_t *self, node_event_t *event)
{
    assert (self && event);
    if (self->done || event->node >= self->node_count)
        return;
    s_node_t *node = &self->nodes [event->node];
    if (node->state != S_WAITING || event->cookie != node->round)
        return;
    reply_t *reply = event->reply;
    if (!reply) {
        node->state = S_MISSING;
        node->timed_out = true;
        snprintf (node->why, sizeof node->why, "no answer within %d ms", self->env->config->node_timeout_ms);
    }
    else
    if (reply->result == RESULT_NOT_FOUND) {
        node->state = S_NOT_FOUND;
        snprintf (node->why, sizeof node->why, "not-found");
    }
    else
    if (reply->result != RESULT_SUCCESS) {
        char why [160];
        snprintf (why, sizeof why, "%s: %s", result_name (reply->result),
                  reply->error_message [0]? reply->error_message: "(no message)");
        s_bad (node, why);
    }
    else {
        const uint32_t needed = REPLY_FIELD_UNIFIED_ID | REPLY_FIELD_FILE_SIZE | REPLY_FIELD_FILE_HASH
                              | REPLY_FIELD_SEQUENCE_COUNT | REPLY_FIELD_SEQUENCE_NUM
                              | REPLY_FIELD_SEGMENT_SIZE | REPLY_FIELD_ZFEC_PADDING_SIZE
                              | REPLY_FIELD_COMPLETED | REPLY_FIELD_SEGMENT_NUM;
        size_t data_size = event->data? zmsg_content_size (event->data): 0;
        if ((reply->fields & needed) != needed)
            s_bad (node, "reply lacks retrieval fields");
        else
        if (reply->segment_num != event->node + 1 || reply->sequence_num != self->slice_num)
            s_bad (node, "reply names another segment or sequence");
        else
        if (self->target_known && reply->unified_id != self->target)
            s_bad (node, "reply names another version");
        else
        if (data_size != reply->segment_size)
            s_bad (node, "reply data size differs from its segment-size");
        else {
            node->state = S_HAVE;
            node->unified_id = reply->unified_id;
            node->timestamp = reply->timestamp;
            node->file_size = reply->file_size;
            memcpy (node->file_hash, reply->file_hash, DIGEST_MD5_SIZE);
            node->sequence_count = reply->sequence_count;
            node->sequence_num = reply->sequence_num;
            node->segment_size = reply->segment_size;
            node->padding = reply->zfec_padding_size;
            node->completed = reply->completed;
            if (reply->meta && reply->meta_size) {
                node->meta = (uint8_t *) malloc (reply->meta_size);
                if (node->meta) {
                    memcpy (node->meta, reply->meta, reply->meta_size);
                    node->meta_size = reply->meta_size;
                }
            }
            node->data = event->data;
            event->data = NULL;
        }
    }
    s_decide (self);
}
