/*  =========================================================================
    meta_stamp - the cluster fingerprint an object was written with, kept
    in its meta
    =========================================================================
*/
#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "meta_stamp.h"
#include "wire.h"

static bool
s_is_stamp (const msgpack_object *key)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen (META_STAMP_KEY)
        && memcmp (key->via.str.ptr, META_STAMP_KEY, key->via.str.size) == 0;
}

//  Unpack meta as a map into unpacked; -1 if it is not one
static int
s_unpack (msgpack_unpacked *unpacked, const uint8_t *meta, size_t meta_size)
{
    const char *why = NULL;
    if (wire_unpack (unpacked, meta, meta_size, meta_size, &why) != 0
    ||  unpacked->data.type != MSGPACK_OBJECT_MAP)
        return -1;
    return 0;
}

//  Pack the map's entries except the stamp, plus extra (key, value) if not
//  NULL; the result is malloc'd into *out_p
static int
s_pack (const msgpack_object_map *map, const char *extra_value, uint8_t **out_p, size_t *out_size_p)
{
    size_t kept = 0;
    for (uint32_t index = 0; map && index < map->size; index++)
        if (!s_is_stamp (&map->ptr [index].key))
            kept++;
    *out_p = NULL;
    *out_size_p = 0;
    if (kept == 0 && !extra_value)
        return 0;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&packer, kept + (extra_value? 1: 0));
    for (uint32_t index = 0; rc == 0 && map && index < map->size; index++)
        if (!s_is_stamp (&map->ptr [index].key)) {
            rc = msgpack_pack_object (&packer, map->ptr [index].key);
            if (rc == 0)
                rc = msgpack_pack_object (&packer, map->ptr [index].val);
        }
    if (rc == 0 && extra_value) {
        rc = msgpack_pack_str_with_body (&packer, META_STAMP_KEY, strlen (META_STAMP_KEY));
        if (rc == 0)
            rc = msgpack_pack_str_with_body (&packer, extra_value, strlen (extra_value));
    }
    if (rc != 0 || !buffer.data) {
        msgpack_sbuffer_destroy (&buffer);
        return -1;
    }
    *out_p = (uint8_t *) buffer.data;      //  taken over from the buffer
    *out_size_p = buffer.size;
    return 0;
}

int
meta_stamp_add (const uint8_t *meta, size_t meta_size, const char *fingerprint,
                size_t max_entries, uint8_t **out_p, size_t *out_size_p)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object_map *map = NULL;
    if (meta && meta_size) {
        if (s_unpack (&unpacked, meta, meta_size)) {
            msgpack_unpacked_destroy (&unpacked);
            return -1;
        }
        map = &unpacked.data.via.map;
    }
    size_t kept = 0;
    for (uint32_t index = 0; map && index < map->size; index++)
        if (!s_is_stamp (&map->ptr [index].key))
            kept++;
    int rc = s_pack (map, kept < max_entries? fingerprint: NULL, out_p, out_size_p);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int
meta_stamp_take (const uint8_t *meta, size_t meta_size, char *fingerprint,
                 size_t fingerprint_size, uint8_t **out_p, size_t *out_size_p)
{
    *fingerprint = 0;
    *out_p = NULL;
    *out_size_p = 0;
    if (!meta || !meta_size)
        return 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    if (s_unpack (&unpacked, meta, meta_size)) {
        msgpack_unpacked_destroy (&unpacked);
        *out_p = (uint8_t *) malloc (meta_size);
        if (*out_p) {
            memcpy (*out_p, meta, meta_size);
            *out_size_p = meta_size;
        }
        return -1;
    }
    const msgpack_object_map *map = &unpacked.data.via.map;
    for (uint32_t index = 0; index < map->size; index++)
        if (s_is_stamp (&map->ptr [index].key) && map->ptr [index].val.type == MSGPACK_OBJECT_STR
        &&  map->ptr [index].val.via.str.size < fingerprint_size) {
            memcpy (fingerprint, map->ptr [index].val.via.str.ptr, map->ptr [index].val.via.str.size);
            fingerprint [map->ptr [index].val.via.str.size] = 0;
        }
    int rc = s_pack (map, NULL, out_p, out_size_p);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}
