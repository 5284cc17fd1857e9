/*  =========================================================================
    get_op - read one slice of an object

    Every request the op sends belongs to a slot: which node was asked for
    which share. Slots 0..n-1 are the owners (node i for share i); the
    handoff fallback adds slots asking another node for the copy it holds
    for a share's owner. A slot is in one state: waiting for its answer,
    have (a share of some version), not-found, bad (answered a failure or
    something unusable), or missing (not reachable, or no answer in time).
    After every answer s_decide counts shares, not slots (a share is had if
    any of its slots has it) and looks whether the slice can be rebuilt
    now, whether waiting can still help, whether handoff copies should be
    asked for, or whether the read has failed; see get_op.h for the rules.
    A request's cookie is (slot << 32) | the slot's round.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include "get_op.h"
#include "meta_stamp.h"

typedef enum {
    S_WAITING = 0,                  //  asked, no answer yet
    S_HAVE,                         //  answered with a share
    S_NOT_FOUND,                    //  answered not-found
    S_BAD,                          //  answered a failure, or something unusable
    S_MISSING                       //  not reachable, or no answer in time
} s_state_t;

//  One node asked for one share, and what it said
typedef struct {
    s_state_t state;                //  see above
    size_t node;                    //  the node asked
    size_t share;                   //  the share (segment-num share + 1)
    bool handoff;                   //  asked for the copy held for the share's owner
    bool timed_out;                 //  missing because it did not answer in time
    bool reasked;                   //  asked again for an explicit version
    uint32_t round;                 //  requests sent for this slot (cookie low half)
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
    char why [160];                 //  for bad or missing: what was wrong
} s_slot_t;

//  Shares counted for one version
typedef struct {
    size_t have;                    //  shares some slot has of the version
    size_t higher;                  //  other shares with a higher version not yet re-asked
    size_t waiting;                 //  other shares with a slot still waiting
} s_tally_t;

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
    size_t node_count;              //  n, also the number of shares
    size_t k;                       //  shares needed
    s_slot_t *slots;                //  owners first, then handoff copies
    size_t slot_count;              //  slots in use
    size_t slot_room;               //  slots allocated
    bool fell_back;                 //  handoff copies were asked for
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
    assert (self->node_count <= ERASURE_MAX_SHARES);
    self->slot_room = self->node_count;
    self->slots = (s_slot_t *) calloc (self->slot_room, sizeof (s_slot_t));
    self->request = request_new ();
    if (!self->slots || !self->request) {
        free (self->slots);
        request_destroy (&self->request);
        free (self);
        return NULL;
    }
    for (size_t index = 0; index < self->node_count; index++) {
        self->slots [index].node = index;
        self->slots [index].share = index;
    }
    self->slot_count = self->node_count;
    self->client = *client_p;
    *client_p = NULL;
    if (md5_p) {
        self->md5 = *md5_p;
        *md5_p = NULL;
    }
    return self;
}

static void
s_slot_clear (s_slot_t *slot)
{
    free (slot->meta);
    slot->meta = NULL;
    slot->meta_size = 0;
    zmsg_destroy (&slot->data);
}

void
get_op_destroy (get_op_t **self_p)
{
    assert (self_p);
    get_op_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->slot_count; index++)
        s_slot_clear (&self->slots [index]);
    free (self->slots);
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
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    op_client_fail (&self->client, self->env, result, message);
    self->done = true;
}

//  A new slot asking node for the copy it holds of share's owner. Returns
//  its index, or -1 out of memory.
static ssize_t
s_add_slot (get_op_t *self, size_t node, size_t share)
{
    if (self->slot_count == self->slot_room) {
        size_t room = self->slot_room * 2;
        s_slot_t *slots = (s_slot_t *) realloc (self->slots, room * sizeof (s_slot_t));
        if (!slots)
            return -1;
        self->slots = slots;
        self->slot_room = room;
    }
    s_slot_t *slot = &self->slots [self->slot_count];
    memset (slot, 0, sizeof (*slot));
    slot->node = node;
    slot->share = share;
    slot->handoff = true;
    return (ssize_t) self->slot_count++;
}

//  Ask the slot's node for its share (or the copy it holds for the
//  share's owner): of the target version if known, else of its visible
//  version. Marks the slot missing if the node cannot be asked.
static void
s_ask (get_op_t *self, size_t index)
{
    s_slot_t *slot = &self->slots [index];
    request_t *request = self->request;
    request_reset (request);
    request->type = self->slice_num == 0? MSG_RETRIEVE_KEY_START: MSG_RETRIEVE_KEY_NEXT;
    request->collection_id = self->collection_id;
    memcpy (request->key, self->key, self->key_size + 1);
    request->key_size = self->key_size;
    request->segment_num = (uint8_t) (slot->share + 1);
    snprintf (request->user_request_id, sizeof request->user_request_id, "%s", self->request_id);
    request->present = FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM | FIELD_USER_REQUEST_ID;
    if (slot->handoff) {
        snprintf (request->handoff_node_name, sizeof request->handoff_node_name, "%s",
                  s_name (self, slot->share));
        request->present |= FIELD_HANDOFF_NODE_NAME;
    }
    if (self->target_known) {
        request->unified_id = self->target;
        request->present |= FIELD_UNIFIED_ID;
    }
    if (self->slice_num > 0) {
        request->sequence_num = self->slice_num;
        request->present |= FIELD_SEQUENCE_NUM;
    }
    slot->round++;
    slot->state = S_WAITING;
    uint64_t cookie = ((uint64_t) index << 32) | slot->round;
    if (self->env->send (self->env, self, slot->node, NODE_READER, request, NULL, cookie)) {
        slot->state = S_MISSING;
        snprintf (slot->why, sizeof slot->why, "not reachable");
    }
}

//  Owner slots in state
static size_t
s_count_owners (get_op_t *self, s_state_t state)
{
    size_t count = 0;
    for (size_t index = 0; index < self->node_count; index++)
        if (self->slots [index].state == state)
            count++;
    return count;
}

//  Shares with a slot still waiting
static size_t
s_shares_waiting (get_op_t *self)
{
    bool waiting [ERASURE_MAX_SHARES] = { false };
    size_t count = 0;
    for (size_t index = 0; index < self->slot_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_WAITING && !waiting [slot->share]) {
            waiting [slot->share] = true;
            count++;
        }
    }
    return count;
}

//  Count the shares of version: had, had in a higher version that could
//  be asked again, or still waiting (each share counted once, first match)
static s_tally_t
s_tally (get_op_t *self, uint64_t version)
{
    uint8_t flags [ERASURE_MAX_SHARES] = { 0 };     //  1 have, 2 higher, 4 waiting
    for (size_t index = 0; index < self->slot_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_HAVE && slot->unified_id == version)
            flags [slot->share] |= 1;
        else
        if (slot->state == S_HAVE && slot->unified_id > version && !slot->reasked)
            flags [slot->share] |= 2;
        else
        if (slot->state == S_WAITING)
            flags [slot->share] |= 4;
    }
    s_tally_t tally = { 0, 0, 0 };
    for (size_t share = 0; share < self->node_count; share++) {
        if (flags [share] & 1)
            tally.have++;
        else
        if (flags [share] & 2)
            tally.higher++;
        else
        if (flags [share] & 4)
            tally.waiting++;
    }
    return tally;
}

//  Owners alone cannot give k shares: ask every other reachable node for
//  the copy it may hold of each share whose owner is missing, has nothing,
//  or has only an older version. Returns true if anything was asked.
static bool
s_fall_back (get_op_t *self)
{
    self->fell_back = true;
    //  The version the copies should have: the target, else the highest seen
    bool any = self->target_known;
    uint64_t best = self->target;
    if (!any)
        for (size_t index = 0; index < self->slot_count; index++) {
            s_slot_t *slot = &self->slots [index];
            if (slot->state == S_HAVE && (!any || slot->unified_id > best)) {
                best = slot->unified_id;
                any = true;
            }
        }
    bool lacking [ERASURE_MAX_SHARES];
    for (size_t share = 0; share < self->node_count; share++) {
        s_slot_t *owner = &self->slots [share];
        lacking [share] = owner->state == S_MISSING || owner->state == S_NOT_FOUND
                       || (owner->state == S_HAVE && any && owner->unified_id < best);
    }
    for (size_t index = 0; index < self->slot_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_HAVE && any && slot->unified_id == best)
            lacking [slot->share] = false;
    }
    size_t asked = 0;
    for (size_t share = 0; share < self->node_count; share++) {
        if (!lacking [share])
            continue;
        //  The likely holders (the next nodes after the owner) first
        for (size_t step = 1; step < self->node_count; step++) {
            size_t node = (share + step) % self->node_count;
            if (!self->env->reachable (self->env, node))
                continue;
            ssize_t index = s_add_slot (self, node, share);
            if (index < 0)
                return asked > 0;
            s_ask (self, (size_t) index);
            if (self->slots [index].state == S_WAITING)
                asked++;
        }
    }
    return asked > 0;
}

//  The read cannot succeed with what was asked: ask for handoff copies
//  once, else say why
static void
s_give_up (get_op_t *self)
{
    size_t not_found = s_count_owners (self, S_NOT_FOUND);
    if (not_found >= self->node_count - self->k + 1) {
        if (self->target_known)
            s_fail (self, ROUTER_NOT_FOUND, "unified-id: version %" PRIu64 " of the key not found "
                    "(%zu of %zu nodes answered not-found: it is not on the %zu needed)",
                    self->target, not_found, self->node_count, self->k);
        else
            s_fail (self, ROUTER_NOT_FOUND, "key: not found (%zu of %zu nodes answered not-found: "
                    "no version is on the %zu needed)", not_found, self->node_count, self->k);
        return;
    }
    //  Handoff copies, asked for once every owner has answered (one that
    //  has not may still say not-found, or have the share); not for bad
    //  shares, so useless when more than n-k are bad
    if (!self->fell_back && s_count_owners (self, S_BAD) <= self->node_count - self->k) {
        if (s_count_owners (self, S_WAITING) > 0)
            return;
        if (s_fall_back (self))
            return;             //  wait for the copies' answers
    }

    //  Shares that could not be read: owner missing, and no copy found
    bool had [ERASURE_MAX_SHARES] = { false };
    bool timed_out = false;
    for (size_t index = 0; index < self->slot_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_HAVE)
            had [slot->share] = true;
        if (slot->timed_out)
            timed_out = true;
    }
    size_t missing = 0;
    for (size_t share = 0; share < self->node_count; share++)
        if (self->slots [share].state == S_MISSING && !had [share])
            missing++;
    char details [240] = "";
    size_t used = 0;
    for (size_t index = 0; index < self->node_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if ((slot->state == S_BAD || slot->state == S_MISSING) && used < sizeof details - 1) {
            int written = snprintf (details + used, sizeof details - used, "%s%s: %s",
                                    used? "; ": "", s_name (self, index), slot->why);
            used = written > 0? used + (size_t) written: used;
            if (used >= sizeof details)
                used = sizeof details - 1;
        }
    }
    size_t not_yet = 0;
    for (size_t share = 0; share < self->node_count; share++)
        if (self->slots [share].state == S_MISSING && !had [share]
        &&  op_env_not_yet_reached (self->env, share))
            not_yet++;
    if (missing > self->node_count - self->k && not_yet == missing)
        s_fail (self, ROUTER_UNAVAILABLE,
                "%zu of %zu nodes are not yet reachable (none of them has answered since the router "
                "started) and no handoff copies of their shares were found; %zu shares are needed: %s",
                missing, self->node_count, self->k, details);
    else
    if (missing > self->node_count - self->k)
        s_fail (self, timed_out? ROUTER_TIMEOUT: ROUTER_UNAVAILABLE,
                "%zu of %zu nodes could not be read and no handoff copies of their shares were "
                "found; %zu shares are needed: %s", missing, self->node_count, self->k, details);
    else
        s_fail (self, ROUTER_DATA_ERROR, "fewer than %zu good shares of slice %" PRIu32 ": %s",
                self->k, self->slice_num, details [0]? details: "the nodes disagree about the version");
}

static void s_decide (get_op_t *self);

//  Mark a slot's share unusable
static void
s_bad (s_slot_t *slot, const char *why)
{
    s_slot_clear (slot);
    slot->state = S_BAD;
    snprintf (slot->why, sizeof slot->why, "%s", why);
}

//  Rebuild the slice from k shares of the target version and answer
static void
s_rebuild (get_op_t *self)
{
    //  The first share is the reference; shares that disagree with it are bad
    s_slot_t *reference = NULL;
    for (size_t index = 0; index < self->slot_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state != S_HAVE || slot->unified_id != self->target)
            continue;
        if (!reference) {
            reference = slot;
            continue;
        }
        if (slot->segment_size != reference->segment_size || slot->padding != reference->padding
        ||  slot->sequence_count != reference->sequence_count || slot->completed != reference->completed
        ||  slot->file_size != reference->file_size
        ||  memcmp (slot->file_hash, reference->file_hash, DIGEST_MD5_SIZE))
            s_bad (slot, "its share disagrees with the other nodes' (size, padding or object)");
    }
    if (s_tally (self, self->target).have < self->k) {
        s_decide (self);
        return;
    }
    //  Written by a router of another cluster (other k, n, node order or
    //  slice size)? Then decoding would only make garbage: say so. The
    //  stamp itself is not the client's meta.
    char stamp [LIMIT_FINGERPRINT_MAX + 1];
    uint8_t *stripped = NULL;
    size_t stripped_size = 0;
    meta_stamp_take (reference->meta, reference->meta_size, stamp, sizeof stamp, &stripped, &stripped_size);
    free (reference->meta);
    reference->meta = stripped;
    reference->meta_size = stripped_size;
    const char *own = cluster_config_fingerprint (self->env->cluster);
    if (*stamp && strcmp (stamp, own) != 0) {
        s_fail (self, ROUTER_DATA_ERROR, "cluster-mismatch: version %" PRIu64 " was written by a "
                "router of cluster '%s', this router is in cluster '%s' (name:k:n:slice-size:nodes); "
                "read it through a router with that cluster file", self->target, stamp, own);
        return;
    }
    const uint8_t *shares [ERASURE_MAX_SHARES];
    int share_nums [ERASURE_MAX_SHARES];
    bool taken [ERASURE_MAX_SHARES] = { false };
    size_t used = 0;
    for (size_t index = 0; index < self->slot_count && used < self->k; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state != S_HAVE || slot->unified_id != self->target || taken [slot->share])
            continue;
        //  Replies carry one data frame; anything else is joined into one
        if (slot->data && zmsg_size (slot->data) > 1) {
            zframe_t *joined = zframe_new (NULL, (size_t) slot->segment_size);
            size_t offset = 0;
            for (zframe_t *frame = zmsg_first (slot->data); frame; frame = zmsg_next (slot->data)) {
                if (zframe_size (frame))
                    memcpy (zframe_data (joined) + offset, zframe_data (frame), zframe_size (frame));
                offset += zframe_size (frame);
            }
            zmsg_destroy (&slot->data);
            slot->data = zmsg_new ();
            zmsg_append (slot->data, &joined);
        }
        taken [slot->share] = true;
        shares [used] = slot->data? zframe_data (zmsg_first (slot->data)): NULL;
        share_nums [used] = (int) slot->share;
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

//  Ask the slots that answered with a higher version for version
static void
s_reask (get_op_t *self, uint64_t version)
{
    self->target_known = true;
    self->target = version;
    for (size_t index = 0; index < self->slot_count; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_HAVE && slot->unified_id > version && !slot->reasked) {
            s_slot_clear (slot);
            slot->reasked = true;
            s_ask (self, index);
        }
    }
}

static void
s_decide (get_op_t *self)
{
    if (self->done)
        return;
    if (self->target_known) {
        s_tally_t tally = s_tally (self, self->target);
        if (tally.have >= self->k)
            s_rebuild (self);
        else
        if (tally.waiting == 0 && tally.have + tally.higher >= self->k) {
            s_reask (self, self->target);
            s_decide (self);
        }
        else
        if (tally.have + tally.higher + tally.waiting < self->k)
            s_give_up (self);
        return;
    }
    //  Resolving: an unseen version could still win while k shares are silent
    if (s_shares_waiting (self) >= self->k)
        return;
    //  The highest version that k shares may still give
    uint64_t ceiling = UINT64_MAX;
    while (true) {
        bool found = false;
        uint64_t version = 0;
        for (size_t index = 0; index < self->slot_count; index++) {
            s_slot_t *slot = &self->slots [index];
            if (slot->state == S_HAVE && slot->unified_id < ceiling
            &&  (!found || slot->unified_id > version)) {
                version = slot->unified_id;
                found = true;
            }
        }
        if (!found)
            break;
        s_tally_t tally = s_tally (self, version);
        if (tally.have + tally.higher + tally.waiting >= self->k) {
            if (tally.have >= self->k) {
                self->target_known = true;
                self->target = version;
                s_rebuild (self);
            }
            else
            if (tally.waiting == 0) {
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
    //  Owners that are not reachable are missing; handoff copies of their
    //  shares are asked for if the others cannot give k shares
    for (size_t index = 0; index < self->node_count; index++) {
        if (self->env->reachable (self->env, index))
            s_ask (self, index);
        else {
            self->slots [index].state = S_MISSING;
            snprintf (self->slots [index].why, sizeof self->slots [index].why, "%s",
                      op_env_not_yet_reached (self->env, index)
                      ? "not yet reachable (no answer since the router started)": "not reachable");
        }
    }
    s_decide (self);
}

void
get_op_on_event (get_op_t *self, node_event_t *event)
{
    assert (self && event);
    size_t index = (size_t) (event->cookie >> 32);
    if (self->done || index >= self->slot_count)
        return;
    s_slot_t *slot = &self->slots [index];
    if (slot->node != event->node || slot->state != S_WAITING
    ||  (uint32_t) (event->cookie & 0xffffffffu) != slot->round)
        return;
    reply_t *reply = event->reply;
    if (!reply) {
        slot->state = S_MISSING;
        slot->timed_out = true;
        if (event->lost)
            snprintf (slot->why, sizeof slot->why, "connection lost (heartbeat)");
        else
            snprintf (slot->why, sizeof slot->why, "no answer within %d ms", self->env->config->node_timeout_ms);
    }
    else
    if (reply->result == RESULT_NOT_FOUND) {
        slot->state = S_NOT_FOUND;
        snprintf (slot->why, sizeof slot->why, "not-found");
    }
    else
    if (reply->result != RESULT_SUCCESS) {
        char why [160];
        snprintf (why, sizeof why, "%s: %s", result_name (reply->result),
                  reply->error_message [0]? reply->error_message: "(no message)");
        s_bad (slot, why);
    }
    else {
        const uint32_t needed = REPLY_FIELD_UNIFIED_ID | REPLY_FIELD_FILE_SIZE | REPLY_FIELD_FILE_HASH
                              | REPLY_FIELD_SEQUENCE_COUNT | REPLY_FIELD_SEQUENCE_NUM
                              | REPLY_FIELD_SEGMENT_SIZE | REPLY_FIELD_ZFEC_PADDING_SIZE
                              | REPLY_FIELD_COMPLETED | REPLY_FIELD_SEGMENT_NUM;
        size_t data_size = event->data? zmsg_content_size (event->data): 0;
        if ((reply->fields & needed) != needed)
            s_bad (slot, "reply lacks retrieval fields");
        else
        if (reply->segment_num != slot->share + 1 || reply->sequence_num != self->slice_num)
            s_bad (slot, "reply names another segment or sequence");
        else
        if (self->target_known && reply->unified_id != self->target)
            s_bad (slot, "reply names another version");
        else
        if (data_size != reply->segment_size)
            s_bad (slot, "reply data size differs from its segment-size");
        else {
            slot->state = S_HAVE;
            slot->unified_id = reply->unified_id;
            slot->timestamp = reply->timestamp;
            slot->file_size = reply->file_size;
            memcpy (slot->file_hash, reply->file_hash, DIGEST_MD5_SIZE);
            slot->sequence_count = reply->sequence_count;
            slot->sequence_num = reply->sequence_num;
            slot->segment_size = reply->segment_size;
            slot->padding = reply->zfec_padding_size;
            slot->completed = reply->completed;
            if (reply->meta && reply->meta_size) {
                slot->meta = (uint8_t *) malloc (reply->meta_size);
                if (slot->meta) {
                    memcpy (slot->meta, reply->meta, reply->meta_size);
                    slot->meta_size = reply->meta_size;
                }
            }
            slot->data = event->data;
            event->data = NULL;
        }
    }
    s_decide (self);
}
