/*  =========================================================================
    active_set - the active segments, keyed by identity

    A zhashx from "unified-id/conjoined-part/segment-num" to the entry.
    =========================================================================
*/
#include "active_set.h"
#include "timestamp.h"

struct _active_set_t {
    zhashx_t *entries;              //  identity text -> active_segment_t
};

static void
s_identity (char *buffer, size_t size, uint64_t unified_id, uint32_t conjoined_part,
            uint8_t segment_num)
{
    snprintf (buffer, size, "%" PRIu64 "/%" PRIu32 "/%u", unified_id, conjoined_part, segment_num);
}

static void
s_entry_destroy (active_segment_t **active_p)
{
    active_segment_t *active = *active_p;
    if (active) {
        free (active->key);
        free (active);
        *active_p = NULL;
    }
}

active_set_t *
active_set_new (void)
{
    active_set_t *self = (active_set_t *) zmalloc (sizeof (active_set_t));
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, (zhashx_destructor_fn *) s_entry_destroy);
    return self;
}

void
active_set_destroy (active_set_t **self_p)
{
    assert (self_p);
    active_set_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->entries);
    free (self);
    *self_p = NULL;
}

active_segment_t *
active_set_find (active_set_t *self, uint64_t unified_id, uint32_t conjoined_part,
                 uint8_t segment_num)
{
    assert (self);
    char identity [64];
    s_identity (identity, sizeof (identity), unified_id, conjoined_part, segment_num);
    return (active_segment_t *) zhashx_lookup (self->entries, identity);
}

active_segment_t *
active_set_add (active_set_t *self, const active_segment_t *fields)
{
    assert (self);
    assert (fields);
    active_segment_t *active = (active_segment_t *) zmalloc (sizeof (active_segment_t));
    *active = *fields;
    active->key = strdup (fields->key? fields->key: "");
    if (!active->last_activity_us)
        active->last_activity_us = timestamp_now ();
    char identity [64];
    s_identity (identity, sizeof (identity), active->unified_id, active->conjoined_part,
                active->segment_num);
    zhashx_update (self->entries, identity, active);
    return active;
}

void
active_set_remove (active_set_t *self, active_segment_t *active)
{
    assert (self);
    assert (active);
    char identity [64];
    s_identity (identity, sizeof (identity), active->unified_id, active->conjoined_part,
                active->segment_num);
    zhashx_delete (self->entries, identity);
}

void
active_set_purge (active_set_t *self)
{
    assert (self);
    zhashx_purge (self->entries);
}

size_t
active_set_remove_parts (active_set_t *self, uint32_t collection_id, const char *key,
                         uint64_t unified_id, int64_t handoff_node_id)
{
    assert (self);
    assert (key);
    zlistx_t *doomed = zlistx_new ();
    for (active_segment_t *active = (active_segment_t *) zhashx_first (self->entries); active;
         active = (active_segment_t *) zhashx_next (self->entries))
        if (active->unified_id == unified_id && active->conjoined_part >= 1
        &&  active->handoff_node_id == handoff_node_id
        &&  active->collection_id == collection_id && streq (active->key, key))
            zlistx_add_end (doomed, active);
    size_t count = zlistx_size (doomed);
    for (active_segment_t *active = (active_segment_t *) zlistx_first (doomed); active;
         active = (active_segment_t *) zlistx_next (doomed))
        active_set_remove (self, active);
    zlistx_destroy (&doomed);
    return count;
}

zlistx_t *
active_set_stale (active_set_t *self, int64_t cutoff_us)
{
    assert (self);
    zlistx_t *found = zlistx_new ();
    for (active_segment_t *active = (active_segment_t *) zhashx_first (self->entries); active;
         active = (active_segment_t *) zhashx_next (self->entries))
        if (active->last_activity_us < cutoff_us)
            zlistx_add_end (found, active);
    return found;
}

zlistx_t *
active_set_older_from (active_set_t *self, int64_t source_node_id, int64_t timestamp_us)
{
    assert (self);
    zlistx_t *found = zlistx_new ();
    for (active_segment_t *active = (active_segment_t *) zhashx_first (self->entries); active;
         active = (active_segment_t *) zhashx_next (self->entries))
        if (active->source_node_id == source_node_id && active->timestamp_us < timestamp_us)
            zlistx_add_end (found, active);
    return found;
}
