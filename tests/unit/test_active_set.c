/*  Unit tests of active_set: the active segments by identity. */
#include <criterion/criterion.h>
#include "active_set.h"

static active_segment_t
s_segment (uint64_t unified_id, uint32_t part, uint8_t segment_num, const char *key,
           int64_t source, int64_t handoff, int64_t timestamp)
{
    active_segment_t segment = {
        .segment_id = (int64_t) unified_id * 10 + part,
        .unified_id = unified_id, .conjoined_part = part, .segment_num = segment_num,
        .collection_id = 7, .key = (char *) key, .timestamp_us = timestamp,
        .source_node_id = source, .handoff_node_id = handoff, .last_sequence_num = 0,
    };
    return segment;
}

Test (active_set, add_find_remove)
{
    active_set_t *set = active_set_new ();
    char key [] = "k";
    active_segment_t fields = s_segment (UINT64_MAX, 0, 255, key, 1, 0, 100);
    active_segment_t *added = active_set_add (set, &fields);
    cr_assert_neq (added->key, key, "the key is copied");
    key [0] = 'x';
    cr_assert_str_eq (added->key, "k");
    cr_assert_eq (active_set_find (set, UINT64_MAX, 0, 255), added);
    cr_assert_null (active_set_find (set, UINT64_MAX, 0, 254));
    cr_assert_null (active_set_find (set, UINT64_MAX, 1, 255));
    //  Same identity replaces
    fields.segment_id = 99;
    active_set_add (set, &fields);
    cr_assert_eq (active_set_find (set, UINT64_MAX, 0, 255)->segment_id, 99);
    active_set_remove (set, active_set_find (set, UINT64_MAX, 0, 255));
    cr_assert_null (active_set_find (set, UINT64_MAX, 0, 255));
    active_set_add (set, &fields);
    active_set_purge (set);
    cr_assert_null (active_set_find (set, UINT64_MAX, 0, 255));
    active_set_destroy (&set);
    cr_assert_null (set);
    active_set_destroy (&set);
}

Test (active_set, remove_parts_only_of_that_copy)
{
    active_set_t *set = active_set_new ();
    active_segment_t own_part = s_segment (5, 1, 1, "a", 1, 0, 0);
    active_segment_t own_base = s_segment (5, 0, 1, "a", 1, 0, 0);
    active_segment_t held_part = s_segment (5, 1, 7, "a", 1, 3, 0);
    active_segment_t other_key = s_segment (5, 2, 1, "b", 1, 0, 0);
    active_set_add (set, &own_part);
    active_set_add (set, &own_base);
    active_set_add (set, &held_part);
    active_set_add (set, &other_key);
    cr_assert_eq (active_set_remove_parts (set, 7, "a", 5, 0), 1);
    cr_assert_null (active_set_find (set, 5, 1, 1));
    cr_assert_not_null (active_set_find (set, 5, 0, 1), "part 0 is not a conjoined part");
    cr_assert_not_null (active_set_find (set, 5, 1, 7), "the copy held for node 3 stays");
    cr_assert_not_null (active_set_find (set, 5, 2, 1), "another key stays");
    cr_assert_eq (active_set_remove_parts (set, 7, "a", 5, 3), 1);
    active_set_destroy (&set);
}

Test (active_set, older_from)
{
    active_set_t *set = active_set_new ();
    active_segment_t old_a = s_segment (1, 0, 1, "k", 1, 0, 100);
    active_segment_t new_a = s_segment (2, 0, 1, "k", 1, 0, 300);
    active_segment_t old_b = s_segment (3, 0, 1, "k", 2, 0, 100);
    active_set_add (set, &old_a);
    active_set_add (set, &new_a);
    active_set_add (set, &old_b);
    zlistx_t *found = active_set_older_from (set, 1, 200);
    cr_assert_eq (zlistx_size (found), 1);
    cr_assert_eq (((active_segment_t *) zlistx_first (found))->unified_id, 1);
    zlistx_destroy (&found);
    found = active_set_older_from (set, 1, 100);
    cr_assert_eq (zlistx_size (found), 0, "not older than itself");
    zlistx_destroy (&found);
    active_set_destroy (&set);
}
