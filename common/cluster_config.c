/*  =========================================================================
    cluster_config - the cluster configuration file (ZPL)

    Loaded with czmq's zconfig; see cluster_config.h for the shape. The
    loaded values are copied into plain arrays so lookups are cheap and the
    zconfig tree can be freed.
    =========================================================================
*/
#include <czmq.h>
#include "config_keys.h"
#include "cluster_config.h"
#include "endpoint.h"
#include "protocol_limits.h"
#include "digest.h"

typedef struct {
    char *name;                 //  node name
    char *writer;               //  writer endpoint
    char *reader;               //  reader endpoint
} s_node_t;

struct _cluster_config_t {
    char *name;                 //  cluster name
    int data_shards;            //  k
    int total_shards;           //  n
    size_t node_count;          //  entries in nodes
    s_node_t *nodes;            //  in segment-num order
    char *router_listen;        //  router/listen, or NULL
    uint64_t slice_size;        //  router/slice-size
    char fingerprint [LIMIT_FINGERPRINT_MAX + 1];
};

static int
s_parse_int (const char *text, int *value_p)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || value < 0 || value > 1000000)
        return -1;
    *value_p = (int) value;
    return 0;
}

//  First 8 hex digits of an MD5
static void
s_hex8 (const void *data, size_t size, char out [9])
{
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5 (data, size, md5);
    snprintf (out, 9, "%02x%02x%02x%02x", md5 [0], md5 [1], md5 [2], md5 [3]);
}

static void
s_make_fingerprint (cluster_config_t *self)
{
    digest_md5_t *digest = digest_md5_new ();
    assert (digest);
    for (size_t index = 0; index < self->node_count; index++) {
        digest_md5_update (digest, self->nodes [index].name, strlen (self->nodes [index].name));
        digest_md5_update (digest, "\n", 1);
    }
    uint8_t md5 [DIGEST_MD5_SIZE];
    digest_md5_final (digest, md5);
    digest_md5_destroy (&digest);
    char name [50];
    if (strlen (self->name) > 48) {
        name [0] = '#';
        s_hex8 (self->name, strlen (self->name), name + 1);
    }
    else
        snprintf (name, sizeof name, "%s", self->name);
    snprintf (self->fingerprint, sizeof self->fingerprint, "%s:k%d:n%d:s%llu:%02x%02x%02x%02x",
              name, self->data_shards, self->total_shards, (unsigned long long) self->slice_size,
              md5 [0], md5 [1], md5 [2], md5 [3]);
}

cluster_config_t *
cluster_config_load (const char *path, char *error, size_t error_size)
{
    assert (path);
    assert (error);
    config_keys_t *keys = config_keys_load (path, "cluster file", error, error_size);
    if (!keys)
        return NULL;
    //  The router section is the router's (router_config checks it)
    config_keys_ignore (keys, "router");
    cluster_config_t *self = (cluster_config_t *) zmalloc (sizeof (cluster_config_t));
    char where [1100];
    const char *name = config_keys_get (keys, "cluster/name");
    const char *k_text = config_keys_get (keys, "cluster/data-shards");
    const char *n_text = config_keys_get (keys, "cluster/total-shards");
    const char *listen = zconfig_get (config_keys_root (keys), "router/listen", NULL);
    zconfig_t *nodes = zconfig_locate (config_keys_root (keys), "cluster/nodes");
    //  Check for unknown keys first: "data-shard = 6" must not start a
    //  cluster with the default k. Node entries are known by their keys.
    if (nodes)
        for (zconfig_t *node = zconfig_child (nodes); node; node = zconfig_next (node)) {
            char node_path [300];
            snprintf (node_path, sizeof node_path, "cluster/nodes/%s/writer", zconfig_name (node));
            config_keys_get (keys, node_path);
            snprintf (node_path, sizeof node_path, "cluster/nodes/%s/reader", zconfig_name (node));
            config_keys_get (keys, node_path);
        }
    if (config_keys_check (keys, error, error_size))
        goto failed;
    if (!name || !*name) {
        snprintf (error, error_size, "%s: cluster/name: expected the cluster's name, it is missing",
                  config_keys_where (keys, "cluster/name", where, sizeof where));
        goto failed;
    }
    self->name = strdup (name);
    if (s_parse_int (k_text? k_text: "8", &self->data_shards)
    ||  s_parse_int (n_text? n_text: "10", &self->total_shards)
    ||  self->data_shards < 1 || self->total_shards < self->data_shards || self->total_shards > 255) {
        snprintf (error, error_size,
                  "%s: cluster/data-shards and total-shards: expected numbers with 1 <= k <= n <= 255, "
                  "not k = %s, n = %s",
                  config_keys_where (keys, k_text && s_parse_int (k_text, &self->data_shards)
                                           ? "cluster/data-shards": "cluster/total-shards",
                                     where, sizeof where),
                  k_text? k_text: "8 (default)", n_text? n_text: "10 (default)");
        goto failed;
    }
    if (listen) {
        if (endpoint_parse (listen, NULL) != 0) {
            snprintf (error, error_size, "%s: router/listen: expected tcp://HOST:PORT or ipc://PATH, not '%s'",
                      config_keys_where (keys, "router/listen", where, sizeof where), listen);
            goto failed;
        }
        self->router_listen = strdup (listen);
    }
    size_t count = 0;
    zconfig_t *node = nodes? zconfig_child (nodes): NULL;
    for (; node; node = zconfig_next (node))
        count++;
    if (count != (size_t) self->total_shards) {
        snprintf (error, error_size, "%s: cluster/nodes lists %zu nodes, expected total-shards = %d",
                  config_keys_where (keys, "cluster/nodes", where, sizeof where), count,
                  self->total_shards);
        goto failed;
    }
    self->nodes = (s_node_t *) zmalloc (count * sizeof (s_node_t));
    for (node = zconfig_child (nodes); node; node = zconfig_next (node)) {
        const char *node_name = zconfig_name (node);
        const char *writer = zconfig_get (node, "writer", NULL);
        const char *reader = zconfig_get (node, "reader", NULL);
        char node_path [300];
        snprintf (node_path, sizeof node_path, "cluster/nodes/%s", node_name? node_name: "");
        if (!node_name || !*node_name || strlen (node_name) > LIMIT_NODE_NAME_MAX) {
            snprintf (error, error_size, "%s: node %zu has an empty or too long name", path, self->node_count + 1);
            goto failed;
        }
        if (cluster_config_node_index (self, node_name) >= 0) {
            snprintf (error, error_size, "%s: node '%s' is listed twice",
                      config_keys_where (keys, node_path, where, sizeof where), node_name);
            goto failed;
        }
        if (!writer || endpoint_parse (writer, NULL) != 0
        ||  !reader || endpoint_parse (reader, NULL) != 0) {
            snprintf (error, error_size, "%s: node '%s' needs valid writer and reader endpoints "
                      "(expected tcp://HOST:PORT or ipc://PATH)",
                      config_keys_where (keys, node_path, where, sizeof where), node_name);
            goto failed;
        }
        s_node_t *entry = &self->nodes [self->node_count++];
        entry->name = strdup (node_name);
        entry->writer = strdup (writer);
        entry->reader = strdup (reader);
    }
    const char *slice_text = zconfig_get (config_keys_root (keys), "router/slice-size", NULL);
    self->slice_size = 10 * 1024 * 1024;
    if (slice_text) {
        //  router_config checks the range; here only the value matters
        char *end;
        unsigned long long slice = strtoull (slice_text, &end, 10);
        if (*slice_text && !*end)
            self->slice_size = slice;
    }
    s_make_fingerprint (self);
    config_keys_destroy (&keys);
    return self;

failed:
    config_keys_destroy (&keys);
    cluster_config_destroy (&self);
    return NULL;
}

void
cluster_config_destroy (cluster_config_t **self_p)
{
    assert (self_p);
    cluster_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->node_count; index++) {
        free (self->nodes [index].name);
        free (self->nodes [index].writer);
        free (self->nodes [index].reader);
    }
    free (self->nodes);
    free (self->name);
    free (self->router_listen);
    free (self);
    *self_p = NULL;
}

const char *
cluster_config_name (cluster_config_t *self)
{
    assert (self);
    return self->name;
}

int
cluster_config_data_shards (cluster_config_t *self)
{
    assert (self);
    return self->data_shards;
}

int
cluster_config_total_shards (cluster_config_t *self)
{
    assert (self);
    return self->total_shards;
}

size_t
cluster_config_node_count (cluster_config_t *self)
{
    assert (self);
    return self->node_count;
}

const char *
cluster_config_node_name (cluster_config_t *self, size_t index)
{
    assert (self && index < self->node_count);
    return self->nodes [index].name;
}

const char *
cluster_config_node_writer (cluster_config_t *self, size_t index)
{
    assert (self && index < self->node_count);
    return self->nodes [index].writer;
}

const char *
cluster_config_node_reader (cluster_config_t *self, size_t index)
{
    assert (self && index < self->node_count);
    return self->nodes [index].reader;
}

int
cluster_config_node_index (cluster_config_t *self, const char *name)
{
    assert (self);
    for (size_t index = 0; index < self->node_count; index++)
        if (self->nodes [index].name && streq (self->nodes [index].name, name))
            return (int) index;
    return -1;
}

uint64_t
cluster_config_slice_size (cluster_config_t *self)
{
    assert (self);
    return self->slice_size;
}

const char *
cluster_config_fingerprint (cluster_config_t *self)
{
    assert (self);
    return self->fingerprint;
}

const char *
cluster_config_router_listen (cluster_config_t *self)
{
    assert (self);
    return self->router_listen;
}
