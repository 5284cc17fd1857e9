/*  =========================================================================
    active_set - the active segments (started, not finished or cancelled),
    keyed by identity (unified-id, conjoined-part, segment-num)

    The writer keeps one to check duplicate, unknown and out-of-order
    sequences cheaply (the index is the durable copy, loaded at start-up);
    --rebuild-index keeps one while it replays value files. Both apply the
    same rules through this one class.
    =========================================================================
*/
#ifndef STRATA_ACTIVE_SET_H_INCLUDED
#define STRATA_ACTIVE_SET_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

//  One active segment
typedef struct {
    int64_t segment_id;             //  its index row
    uint64_t unified_id;            //  identity: unified-id
    uint32_t conjoined_part;        //  identity: conjoined-part
    uint8_t segment_num;            //  identity: segment-num
    uint32_t collection_id;         //  what its start said
    char *key;                      //  what its start said (owned)
    int64_t timestamp_us;           //  its timestamp
    int64_t source_node_id;         //  who sent it (node_name row)
    int64_t handoff_node_id;        //  held for this node, 0: the node's own
    int64_t last_sequence_num;      //  the next sequence must be this + 1
    int64_t last_activity_us;       //  start or last sequence (wall clock, usec; set by
                                    //  active_set_add when 0: loaded segments count from then)
} active_segment_t;

typedef struct _active_set_t active_set_t;

//  Create an empty set.
active_set_t *
    active_set_new (void);

//  Destroy the set and every entry; set the caller's pointer to NULL.
//  Accepts NULL.
void
    active_set_destroy (active_set_t **self_p);

//  The active segment with this identity, or NULL.
active_segment_t *
    active_set_find (active_set_t *self, uint64_t unified_id, uint32_t conjoined_part,
                     uint8_t segment_num);

//  Add a copy of *fields (key copied too), replacing any entry with the
//  same identity. Returns the stored entry.
active_segment_t *
    active_set_add (active_set_t *self, const active_segment_t *fields);

//  Remove (and free) an entry returned by find or add.
void
    active_set_remove (active_set_t *self, active_segment_t *active);

//  Remove every entry.
void
    active_set_purge (active_set_t *self);

//  Remove the active parts (conjoined-part >= 1) of an aborted conjoined
//  archive: same collection, key and unified-id, held for the same node.
//  Returns how many were removed.
size_t
    active_set_remove_parts (active_set_t *self, uint32_t collection_id, const char *key,
                             uint64_t unified_id, int64_t handoff_node_id);

//  A new list (caller destroys; entries are not owned) of the segments sent
//  by source_node_id with a timestamp older than timestamp_us
//  (web-writer-start).
zlistx_t *
    active_set_older_from (active_set_t *self, int64_t source_node_id, int64_t timestamp_us);

//  A new list (caller destroys; entries are not owned) of the segments
//  with no start or sequence since before cutoff_us (wall clock, usec).
zlistx_t *
    active_set_stale (active_set_t *self, int64_t cutoff_us);

#endif
