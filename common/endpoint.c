/*  =========================================================================
    endpoint - parse ZeroMQ endpoints strictly, and the reply-address
    allow-list

    The parser accepts only the shapes Strata needs and rejects everything
    ZeroMQ would interpret in a surprising way (the "source;destination"
    form of tcp, interface names mixed with ports, empty parts).
    =========================================================================
*/
#include <czmq.h>
#include "endpoint.h"

struct _endpoint_allow_t {
    zlistx_t *hosts;            //  allowed tcp hosts (char *), lower case
    bool ipc;                   //  ipc:// allowed
    char *ipc_dir;              //  only under this directory (its real path), or NULL
};

static bool
s_host_char (char c)
{
    return isalnum ((unsigned char) c) || c == '.' || c == '-' || c == '_';
}

int
endpoint_parse (const char *text, endpoint_t *endpoint)
{
    endpoint_t local;
    if (!endpoint)
        endpoint = &local;
    memset (endpoint, 0, sizeof (*endpoint));
    if (!text)
        return -1;
    size_t size = strnlen (text, 1024);
    if (size >= 1024)
        return -1;

    if (strncmp (text, "ipc://", 6) == 0) {
        const char *path = text + 6;
        size_t path_size = size - 6;
        if (path_size < 1 || path_size > 200)
            return -1;
        for (size_t index = 0; index < path_size; index++)
            if (!isprint ((unsigned char) path [index]) || path [index] == ';')
                return -1;
        endpoint->scheme = ENDPOINT_IPC;
        memcpy (endpoint->host, path, path_size + 1);
        return 0;
    }
    if (strncmp (text, "tcp://", 6) != 0)
        return -1;
    const char *host = text + 6;
    const char *host_end;
    const char *port_text;
    if (*host == '[') {                 //  [IPv6]:port
        host_end = strchr (host, ']');
        if (!host_end || host_end [1] != ':')
            return -1;
        for (const char *c = host + 1; c < host_end; c++)
            if (!isxdigit ((unsigned char) *c) && *c != ':' && *c != '.')
                return -1;
        port_text = host_end + 2;
        host++;
    }
    else {
        host_end = strrchr (host, ':');
        if (!host_end)
            return -1;
        if (!(host_end - host == 1 && *host == '*'))
            for (const char *c = host; c < host_end; c++)
                if (!s_host_char (*c))
                    return -1;
        port_text = host_end + 1;
    }
    size_t host_size = (size_t) (host_end - host);
    if (host_size < 1 || host_size >= sizeof (endpoint->host))
        return -1;
    if (streq (port_text, "*"))
        endpoint->port = 0;
    else {
        if (!*port_text || strlen (port_text) > 5)
            return -1;
        int port = 0;
        for (const char *c = port_text; *c; c++) {
            if (!isdigit ((unsigned char) *c))
                return -1;
            port = port * 10 + (*c - '0');
        }
        if (port < 1 || port > 65535)
            return -1;
        endpoint->port = port;
    }
    endpoint->scheme = ENDPOINT_TCP;
    memcpy (endpoint->host, host, host_size);
    endpoint->host [host_size] = 0;
    return 0;
}

endpoint_allow_t *
endpoint_allow_new (void)
{
    endpoint_allow_t *self = (endpoint_allow_t *) zmalloc (sizeof (endpoint_allow_t));
    self->hosts = zlistx_new ();
    zlistx_set_destructor (self->hosts, (zlistx_destructor_fn *) zstr_free);
    return self;
}

void
endpoint_allow_destroy (endpoint_allow_t **self_p)
{
    assert (self_p);
    endpoint_allow_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->hosts);
    zstr_free (&self->ipc_dir);
    free (self);
    *self_p = NULL;
}

static bool
s_host_allowed (endpoint_allow_t *self, const char *host)
{
    for (char *entry = (char *) zlistx_first (self->hosts); entry;
         entry = (char *) zlistx_next (self->hosts))
        if (strcasecmp (entry, host) == 0)
            return true;
    return false;
}

void
endpoint_allow_add_host (endpoint_allow_t *self, const char *host)
{
    assert (self);
    assert (host);
    if (*host == '[') {             //  accept "[::1]" too
        char bare [256];
        snprintf (bare, sizeof (bare), "%s", host + 1);
        char *close = strchr (bare, ']');
        if (close)
            *close = 0;
        endpoint_allow_add_host (self, bare);
        return;
    }
    if (!s_host_allowed (self, host))
        zlistx_add_end (self->hosts, strdup (host));
}

int
endpoint_allow_add_endpoint_host (endpoint_allow_t *self, const char *endpoint)
{
    assert (self);
    endpoint_t parsed;
    if (endpoint_parse (endpoint, &parsed))
        return -1;
    if (parsed.scheme == ENDPOINT_TCP && !streq (parsed.host, "*"))
        endpoint_allow_add_host (self, parsed.host);
    return 0;
}

void
endpoint_allow_set_ipc (endpoint_allow_t *self, bool allowed)
{
    assert (self);
    self->ipc = allowed;
    zstr_free (&self->ipc_dir);
}

void
endpoint_allow_set_ipc_dir (endpoint_allow_t *self, const char *dir)
{
    assert (self);
    zstr_free (&self->ipc_dir);
    self->ipc = dir && *dir == '/';
    if (self->ipc) {
        //  The directory may not exist yet: then compare it as written
        char *real = realpath (dir, NULL);
        self->ipc_dir = real? real: strdup (dir);
        size_t size = strlen (self->ipc_dir);
        while (size > 1 && self->ipc_dir [size - 1] == '/')
            self->ipc_dir [--size] = 0;
    }
}

//  True if path is inside dir (both without a trailing slash)
static bool
s_inside (const char *path, const char *dir)
{
    size_t size = strlen (dir);
    if (streq (dir, "/"))
        return *path == '/';
    return strncmp (path, dir, size) == 0 && (path [size] == '/' || path [size] == 0);
}

static bool
s_ipc_path_allowed (endpoint_allow_t *self, const char *path)
{
    if (!self->ipc_dir)
        return self->ipc;
    if (*path != '/' || !s_inside (path, self->ipc_dir) || streq (path, self->ipc_dir))
        return false;
    //  No "." or ".." component, no empty one
    for (const char *part = path + 1; *part; ) {
        const char *end = strchr (part, '/');
        size_t size = end? (size_t) (end - part): strlen (part);
        if (size == 0 || (size == 1 && part [0] == '.') || (size == 2 && part [0] == '.' && part [1] == '.'))
            return false;
        part += size + (end? 1: 0);
        if (end && !*part)
            return false;               //  trailing slash
    }
    //  The parent directory, resolved, must still be inside
    char parent [256];
    snprintf (parent, sizeof (parent), "%s", path);
    *strrchr (parent, '/') = 0;
    char *real = realpath (*parent? parent: "/", NULL);
    if (!real)
        return false;                   //  no such directory: nobody listens there
    bool inside = s_inside (real, self->ipc_dir);
    free (real);
    return inside;
}

bool
endpoint_allow_check (endpoint_allow_t *self, const char *endpoint)
{
    assert (self);
    endpoint_t parsed;
    if (endpoint_parse (endpoint, &parsed))
        return false;
    if (parsed.scheme == ENDPOINT_IPC)
        return self->ipc && s_ipc_path_allowed (self, parsed.host);
    if (parsed.port == 0 || streq (parsed.host, "*"))
        return false;
    return s_host_allowed (self, parsed.host);
}
