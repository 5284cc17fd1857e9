/*  =========================================================================
    fanout - one read request to every node's reader, the answers gathered

    The listings (list_op: list-versions, keys_op: list-keys) ask every
    reachable node the same question (segment-num i+1 for node i) and wait
    for all of them or the node timeout; they need k answers. fanout_t is
    that part, embedded in the operation: the state of each node, the
    first node failure (for messages), and the quorum rule:

        fanout_init (&self->fanout, env)                  in _new
        fanout_send (&self->fanout, self, fill, ...)      in _start
        switch (fanout_event (&self->fanout, event, &reply))  in _on_event
        fanout_quorum (&self->fanout, ...)                when all are in

    What each node answered (the page, the versions) is the operation's.
    =========================================================================
*/
#ifndef STRATA_FANOUT_H_INCLUDED
#define STRATA_FANOUT_H_INCLUDED

#include "op_env.h"

typedef enum {
    FANOUT_WAITING = 0,             //  asked, no answer yet
    FANOUT_ANSWERED,                //  answered, and the answer was usable
    FANOUT_FAILED,                  //  answered a failure, or something unusable
    FANOUT_MISSING                  //  not reachable, or no answer in time
} fanout_state_t;

typedef struct {
    op_env_t *env;                  //  borrowed
    size_t node_count;              //  n
    size_t k;                       //  answers needed
    fanout_state_t *states;         //  per node, owned
    bool timed_out;                 //  a node did not answer in time
    char why [200];                 //  the first node failure, for messages
} fanout_t;

//  Fills the request (reset) for every node: type and fields but
//  segment-num, which fanout_send sets
typedef void (fanout_fill_fn) (void *op, request_t *request);

//  Read the fields every entry of a node's listing carries (list-versions,
//  list-keys: unified-id, timestamp-repr, file-size). 0, or -1 when entry
//  is not a map holding all three, usable.
int
    fanout_read_entry (const msgpack_object *entry, uint64_t *unified_id_p, int64_t *timestamp_p,
                       uint64_t *size_p);

//  Set up for env's cluster (every node waiting). 0, or -1 out of memory.
int
    fanout_init (fanout_t *self, op_env_t *env);

//  Free what fanout_init allocated. Accepts a zeroed fanout_t.
void
    fanout_clear (fanout_t *self);

//  Send the request fill makes to every reachable node's reader, answers
//  coming back to op; a node that is not reachable is missing. Returns 0;
//  or, when fewer than k nodes are reachable (nothing sent) or out of
//  memory, -1 with the result and one line for the client.
int
    fanout_send (fanout_t *self, void *op, fanout_fill_fn *fill,
                 router_result_t *result_p, char *error, size_t error_size);

//  Take a node's event: -1 if it is not for a node still waiting (ignore
//  it); 0 if it settled the node (no answer in time, or a failure); 1 with
//  *reply_p the node's success reply, for the operation to read and then
//  call fanout_read.
int
    fanout_event (fanout_t *self, node_event_t *event, reply_t **reply_p);

//  After fanout_event returned 1: the node's answer was usable, or not
//  (what: "malformed versions").
void
    fanout_read (fanout_t *self, size_t node, bool usable, const char *what);

//  True when no node is waiting any more.
bool
    fanout_all_in (fanout_t *self);

//  Number of nodes whose answer was usable.
size_t
    fanout_answered (fanout_t *self);

//  Once all are in: 0 if k nodes answered usably; else -1 with the result
//  (timeout or unavailable when too many are missing, io-error when they
//  failed) and one line for the client.
int
    fanout_quorum (fanout_t *self, router_result_t *result_p, char *error, size_t error_size);

#endif
