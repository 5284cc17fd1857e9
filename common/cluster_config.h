/*  =========================================================================
    cluster_config - the cluster configuration file (ZPL)

    The shape is part of the contract (docs/architecture.md, "The cluster file"):

        cluster
            name = local
            data-shards = 8          # k
            total-shards = 10        # n
            nodes
                node01
                    writer = tcp://127.0.0.1:8100
                    reader = tcp://127.0.0.1:8101
                ...                  # in segment-num order
        router
            listen = tcp://127.0.0.1:8000

    Node i (0-based, in file order) stores segment-num i+1. Loading
    validates everything and reports the first problem in one line.
    =========================================================================
*/
#ifndef STRATA_CLUSTER_CONFIG_H_INCLUDED
#define STRATA_CLUSTER_CONFIG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _cluster_config_t cluster_config_t;

//  Load and validate a cluster file. On failure returns NULL and writes one
//  line saying what is wrong (with the file name) into error.
//  Rules: cluster/name non-empty; 1 <= data-shards <= total-shards <= 255;
//  exactly total-shards nodes; node names unique, 1..128 bytes; each node has
//  writer and reader endpoints that endpoint_parse accepts.
cluster_config_t *
    cluster_config_load (const char *path, char *error, size_t error_size);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    cluster_config_destroy (cluster_config_t **self_p);

//  The cluster name.
const char *
    cluster_config_name (cluster_config_t *self);

//  k and n of the erasure code.
int
    cluster_config_data_shards (cluster_config_t *self);
int
    cluster_config_total_shards (cluster_config_t *self);

//  Number of nodes (equals total-shards).
size_t
    cluster_config_node_count (cluster_config_t *self);

//  Name, writer and reader endpoint of node index (0-based; asserts range).
const char *
    cluster_config_node_name (cluster_config_t *self, size_t index);
const char *
    cluster_config_node_writer (cluster_config_t *self, size_t index);
const char *
    cluster_config_node_reader (cluster_config_t *self, size_t index);

//  Index of the node called name, or -1 if none.
int
    cluster_config_node_index (cluster_config_t *self, const char *name);

//  The slice size (router/slice-size, default 10485760): bytes of an
//  object per sequence, part of what decoding depends on.
uint64_t
    cluster_config_slice_size (cluster_config_t *self);

//  The cluster's fingerprint: what placement and decoding depend on, in
//  one short readable string, "NAME:k8:n10:s10485760:NODES" where NODES is
//  the first 8 hex digits of the MD5 of the node names in order (a name
//  longer than 48 bytes is replaced by '#' and its MD5's first 8 hex
//  digits). At most LIMIT_FINGERPRINT_MAX bytes. Equal fingerprints: the
//  same cluster as far as the data is concerned.
const char *
    cluster_config_fingerprint (cluster_config_t *self);

//  The router's listen endpoint, or NULL if the file gives none.
const char *
    cluster_config_router_listen (cluster_config_t *self);

#endif
