/*  =========================================================================
    auth_policy - who may do what, by CURVE public key

    The policy is a hash from Z85 key to an entry (name, role, and a small
    table of per-collection rights, `any` kept apart). It is immutable once
    parsed; auth_t swaps whole policies under a mutex.
    =========================================================================
*/
#include <czmq.h>
#include <libgen.h>
#include <pthread.h>
#include "auth_policy.h"

#define S_GRANTS_MAX    1024            //  collections granted per key
#define S_KEYS_MAX      10000           //  keys in one file

typedef struct {
    uint32_t collection_id;
    unsigned rights;
} s_grant_t;

typedef struct {
    char *name;                         //  as in the file
    auth_role_t role;
    unsigned any_rights;                //  rights on every collection (`any`)
    size_t grant_count;
    s_grant_t *grants;                  //  per collection
} s_entry_t;

struct _auth_policy_t {
    zhashx_t *entries;                  //  Z85 key -> s_entry_t
};

struct _auth_t {
    char *path;
    pthread_mutex_t mutex;
    auth_policy_t *policy;
};

static void
s_entry_destroy (void **item_p)
{
    s_entry_t *entry = (s_entry_t *) *item_p;
    if (entry) {
        free (entry->name);
        free (entry->grants);
        free (entry);
    }
    *item_p = NULL;
}

static bool
s_z85_key (const char *text)
{
    static const char *alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  ".-:+=^!/*?&<>()[]{}@%$#";
    if (!text || strlen (text) != AUTH_KEY_SIZE)
        return false;
    for (const char *c = text; *c; c++)
        if (!strchr (alphabet, *c))
            return false;
    return true;
}

static int
s_rights (const char *text, unsigned *rights_p)
{
    unsigned rights = 0;
    char buffer [256];
    if (!text || strlen (text) >= sizeof (buffer))
        return -1;
    snprintf (buffer, sizeof (buffer), "%s", text);
    char *save = NULL;
    for (char *word = strtok_r (buffer, " ,\t", &save); word; word = strtok_r (NULL, " ,\t", &save)) {
        if (streq (word, "read"))
            rights |= AUTH_READ;
        else
        if (streq (word, "write"))
            rights |= AUTH_WRITE;
        else
        if (streq (word, "delete"))
            rights |= AUTH_DELETE;
        else
        if (streq (word, "list"))
            rights |= AUTH_LIST;
        else
        if (streq (word, "*"))
            rights |= AUTH_ALL;
        else
            return -1;
    }
    *rights_p = rights;
    return 0;
}

static int
s_collection (const char *text, uint32_t *id_p)
{
    if (!text || !*text || strlen (text) > 10)
        return -1;
    for (const char *c = text; *c; c++)
        if (!isdigit ((unsigned char) *c))
            return -1;
    unsigned long long value = strtoull (text, NULL, 10);
    if (value > UINT32_MAX)
        return -1;
    *id_p = (uint32_t) value;
    return 0;
}

//  One entry of `keys`; fills key (AUTH_KEY_SIZE + 1). -1 with error.
static s_entry_t *
s_parse_entry (zconfig_t *node, const char *base_dir, char *key, char *error, size_t error_size)
{
    const char *name = zconfig_name (node);
    s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    entry->name = strdup (name? name: "");
    entry->role = AUTH_ROLE_SERVICE;
    const char *key_text = NULL, *cert_path = NULL, *role = NULL;
    zconfig_t *grants = NULL;
    for (zconfig_t *child = zconfig_child (node); child; child = zconfig_next (child)) {
        const char *field = zconfig_name (child);
        if (streq (field, "key"))
            key_text = zconfig_value (child);
        else
        if (streq (field, "cert"))
            cert_path = zconfig_value (child);
        else
        if (streq (field, "role"))
            role = zconfig_value (child);
        else
        if (streq (field, "grants"))
            grants = child;
        else {
            snprintf (error, error_size, "keys/%s: unknown setting '%s' (key, cert, role, grants)",
                      entry->name, field);
            goto failed;
        }
    }
    if ((key_text && *key_text) == (cert_path && *cert_path)) {
        snprintf (error, error_size, "keys/%s: give exactly one of key (Z85 public key) and cert (file)",
                  entry->name);
        goto failed;
    }
    if (key_text && *key_text) {
        if (!s_z85_key (key_text)) {
            snprintf (error, error_size, "keys/%s: key must be %d Z85 characters (a CURVE public key)",
                      entry->name, AUTH_KEY_SIZE);
            goto failed;
        }
        snprintf (key, AUTH_KEY_SIZE + 1, "%s", key_text);
    }
    else {
        if (!base_dir) {
            snprintf (error, error_size, "keys/%s: cert files are not read here", entry->name);
            goto failed;
        }
        char path [2048];
        if (*cert_path == '/')
            snprintf (path, sizeof (path), "%s", cert_path);
        else
            snprintf (path, sizeof (path), "%s/%s", base_dir, cert_path);
        zcert_t *cert = zsys_file_exists (path)? zcert_load (path): NULL;
        if (!cert) {
            snprintf (error, error_size, "keys/%s: cannot load the cert file %s", entry->name, path);
            goto failed;
        }
        snprintf (key, AUTH_KEY_SIZE + 1, "%s", zcert_public_txt (cert));
        zcert_destroy (&cert);
    }
    if (role) {
        if (streq (role, "service"))
            entry->role = AUTH_ROLE_SERVICE;
        else
        if (streq (role, "router"))
            entry->role = AUTH_ROLE_ROUTER;
        else
        if (streq (role, "node"))
            entry->role = AUTH_ROLE_NODE;
        else
        if (streq (role, "admin"))
            entry->role = AUTH_ROLE_ADMIN;
        else {
            snprintf (error, error_size, "keys/%s: role must be service, router, node or admin, not '%s'",
                      entry->name, role);
            goto failed;
        }
    }
    for (zconfig_t *grant = grants? zconfig_child (grants): NULL; grant; grant = zconfig_next (grant)) {
        unsigned rights = 0;
        uint32_t collection_id = 0;
        const char *which = zconfig_name (grant);
        if (s_rights (zconfig_value (grant), &rights)) {
            snprintf (error, error_size, "keys/%s/grants/%s: rights are read, write, delete, list or *",
                      entry->name, which);
            goto failed;
        }
        if (streq (which, "any"))
            entry->any_rights |= rights;
        else
        if (s_collection (which, &collection_id)) {
            snprintf (error, error_size, "keys/%s/grants: '%s' is not a collection-id or any",
                      entry->name, which);
            goto failed;
        }
        else {
            if (entry->grant_count == S_GRANTS_MAX) {
                snprintf (error, error_size, "keys/%s/grants: more than %d collections",
                          entry->name, S_GRANTS_MAX);
                goto failed;
            }
            entry->grants = (s_grant_t *) realloc (entry->grants,
                                                   (entry->grant_count + 1) * sizeof (s_grant_t));
            assert (entry->grants);
            entry->grants [entry->grant_count].collection_id = collection_id;
            entry->grants [entry->grant_count].rights = rights;
            entry->grant_count++;
        }
    }
    return entry;
failed:
    {
        void *item = entry;
        s_entry_destroy (&item);
    }
    return NULL;
}

static auth_policy_t *
s_parse_tree (zconfig_t *root, const char *base_dir, char *error, size_t error_size)
{
    auth_policy_t *self = (auth_policy_t *) zmalloc (sizeof (auth_policy_t));
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, s_entry_destroy);
    for (zconfig_t *section = zconfig_child (root); section; section = zconfig_next (section))
        if (!streq (zconfig_name (section), "keys")) {
            snprintf (error, error_size, "unknown section '%s' (only keys)", zconfig_name (section));
            goto failed;
        }
    zconfig_t *keys = zconfig_locate (root, "keys");
    for (zconfig_t *node = keys? zconfig_child (keys): NULL; node; node = zconfig_next (node)) {
        char key [AUTH_KEY_SIZE + 1];
        s_entry_t *entry = s_parse_entry (node, base_dir, key, error, error_size);
        if (!entry)
            goto failed;
        if (zhashx_size (self->entries) == S_KEYS_MAX || zhashx_insert (self->entries, key, entry)) {
            snprintf (error, error_size, "keys/%s: the same key is listed twice (or more than %d keys)",
                      entry->name, S_KEYS_MAX);
            void *item = entry;
            s_entry_destroy (&item);
            goto failed;
        }
    }
    return self;
failed:
    auth_policy_destroy (&self);
    return NULL;
}

auth_policy_t *
auth_policy_parse (const char *text, size_t size, const char *base_dir,
                   char *error, size_t error_size)
{
    assert (text || size == 0);
    zchunk_t *chunk = zchunk_new (text, size);
    zconfig_t *root = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    if (!root) {
        snprintf (error, error_size, "cannot parse the policy (ZPL)");
        return NULL;
    }
    auth_policy_t *self = s_parse_tree (root, base_dir, error, error_size);
    zconfig_destroy (&root);
    return self;
}

auth_policy_t *
auth_policy_load (const char *path, char *error, size_t error_size)
{
    assert (path);
    zchunk_t *chunk = zsys_file_exists (path)? zchunk_slurp (path, 0): NULL;
    if (!chunk) {
        snprintf (error, error_size, "%s: cannot read the policy file", path);
        return NULL;
    }
    char *copy = strdup (path);
    char local [512];
    auth_policy_t *self = auth_policy_parse ((const char *) zchunk_data (chunk), zchunk_size (chunk),
                                             dirname (copy), local, sizeof (local));
    free (copy);
    zchunk_destroy (&chunk);
    if (!self)
        snprintf (error, error_size, "%s: %s", path, local);
    return self;
}

void
auth_policy_destroy (auth_policy_t **self_p)
{
    assert (self_p);
    auth_policy_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->entries);
        free (self);
    }
    *self_p = NULL;
}

size_t
auth_policy_size (auth_policy_t *self)
{
    assert (self);
    return zhashx_size (self->entries);
}

static s_entry_t *
s_lookup (auth_policy_t *self, const char *key)
{
    return key && *key? (s_entry_t *) zhashx_lookup (self->entries, key): NULL;
}

auth_role_t
auth_policy_role (auth_policy_t *self, const char *key)
{
    assert (self);
    s_entry_t *entry = s_lookup (self, key);
    return entry? entry->role: AUTH_ROLE_NONE;
}

const char *
auth_policy_name (auth_policy_t *self, const char *key)
{
    assert (self);
    s_entry_t *entry = s_lookup (self, key);
    return entry? entry->name: NULL;
}

unsigned
auth_policy_rights (auth_policy_t *self, const char *key, uint32_t collection_id)
{
    assert (self);
    s_entry_t *entry = s_lookup (self, key);
    if (!entry)
        return 0;
    if (entry->role == AUTH_ROLE_ADMIN)
        return AUTH_ALL;
    unsigned rights = entry->any_rights;
    for (size_t index = 0; index < entry->grant_count; index++)
        if (entry->grants [index].collection_id == collection_id)
            rights |= entry->grants [index].rights;
    return rights;
}

const char *
auth_right_name (unsigned right)
{
    switch (right) {
        case AUTH_READ:     return "read";
        case AUTH_WRITE:    return "write";
        case AUTH_DELETE:   return "delete";
        case AUTH_LIST:     return "list";
        default:            return "access";
    }
}

auth_t *
auth_new (const char *path, char *error, size_t error_size)
{
    assert (path);
    auth_policy_t *policy = auth_policy_load (path, error, error_size);
    if (!policy)
        return NULL;
    auth_t *self = (auth_t *) zmalloc (sizeof (auth_t));
    self->path = strdup (path);
    self->policy = policy;
    pthread_mutex_init (&self->mutex, NULL);
    return self;
}

void
auth_destroy (auth_t **self_p)
{
    assert (self_p);
    auth_t *self = *self_p;
    if (self) {
        auth_policy_destroy (&self->policy);
        pthread_mutex_destroy (&self->mutex);
        free (self->path);
        free (self);
    }
    *self_p = NULL;
}

int
auth_reload (auth_t *self, char *error, size_t error_size)
{
    assert (self);
    auth_policy_t *policy = auth_policy_load (self->path, error, error_size);
    if (!policy)
        return -1;
    pthread_mutex_lock (&self->mutex);
    auth_policy_t *old = self->policy;
    self->policy = policy;
    pthread_mutex_unlock (&self->mutex);
    auth_policy_destroy (&old);
    return 0;
}

auth_role_t
auth_role (auth_t *self, const char *key)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    auth_role_t role = auth_policy_role (self->policy, key);
    pthread_mutex_unlock (&self->mutex);
    return role;
}

unsigned
auth_rights (auth_t *self, const char *key, uint32_t collection_id)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    unsigned rights = auth_policy_rights (self->policy, key, collection_id);
    pthread_mutex_unlock (&self->mutex);
    return rights;
}

const char *
auth_path (auth_t *self)
{
    assert (self);
    return self->path;
}
