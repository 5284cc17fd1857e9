/*  =========================================================================
    meta_stamp - the cluster fingerprint an object was written with, kept
    in its meta

    The router adds one entry, META_STAMP_KEY = its cluster fingerprint, to
    the meta of every object it writes, so the nodes store it with the
    object (in the value files and the index, like any meta). A read takes
    it out again before the meta goes to the client, and compares it with
    the reading router's own fingerprint: an object written by a router
    with other k, n, node order or slice size is then reported as such
    instead of being decoded into garbage and called damaged.
    =========================================================================
*/
#ifndef STRATA_META_STAMP_H_INCLUDED
#define STRATA_META_STAMP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define META_STAMP_KEY "strata-cluster-fingerprint"

//  A new raw MessagePack map (*out_p, malloc'd, *out_size_p bytes): the
//  entries of meta (NULL/0: none) other than META_STAMP_KEY, plus
//  META_STAMP_KEY = fingerprint when there is room (the map already has
//  max_entries entries: no stamp). Returns 0, or -1 (out of memory, or
//  meta is not a map).
int
    meta_stamp_add (const uint8_t *meta, size_t meta_size, const char *fingerprint,
                    size_t max_entries, uint8_t **out_p, size_t *out_size_p);

//  Take the stamp out of meta: fingerprint (fingerprint_size bytes) gets
//  its value ("" when there is none); *out_p a new map without it (NULL
//  and 0 when nothing is left). Returns 0, or -1 (out of memory, or meta
//  is not a map: then *out_p is a copy of meta).
int
    meta_stamp_take (const uint8_t *meta, size_t meta_size, char *fingerprint,
                     size_t fingerprint_size, uint8_t **out_p, size_t *out_size_p);

#endif
