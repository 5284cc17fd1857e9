/*  =========================================================================
    endpoint - parse ZeroMQ endpoints strictly, and the reply-address
    allow-list

    A node connects back to the `client-address` of requests. To make sure a
    request can never make it connect anywhere else, endpoints are parsed
    strictly (tcp://HOST:PORT with a plain host — no "src;dst" source
    syntax, no interface names with wildcards — or ipc://PATH) and the host
    must be in the allow-list.
    =========================================================================
*/
#ifndef STRATA_ENDPOINT_H_INCLUDED
#define STRATA_ENDPOINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    ENDPOINT_TCP = 1,
    ENDPOINT_IPC = 2
} endpoint_scheme_t;

typedef struct {
    endpoint_scheme_t scheme;   //  tcp or ipc
    char host [256];            //  tcp: host name or address (IPv6 without brackets); ipc: path
    int port;                   //  tcp: 1..65535, or 0 for "*" (bind only)
} endpoint_t;

//  Parse text as tcp://HOST:PORT (HOST: name, dotted IPv4, [IPv6], or "*"
//  for binding; PORT: 1..65535 or "*") or ipc://PATH (1..200 bytes). Fills
//  *endpoint if not NULL. Returns 0 if valid, -1 if not.
int
    endpoint_parse (const char *text, endpoint_t *endpoint);

typedef struct _endpoint_allow_t endpoint_allow_t;

//  Create an empty allow-list (allows nothing). NULL on out-of-memory.
endpoint_allow_t *
    endpoint_allow_new (void);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    endpoint_allow_destroy (endpoint_allow_t **self_p);

//  Allow tcp endpoints on host (compared case-insensitively; give IPv6
//  without brackets). Duplicates are ignored.
void
    endpoint_allow_add_host (endpoint_allow_t *self, const char *host);

//  Allow the host of every endpoint text (e.g. a cluster's node endpoints).
//  Returns 0, or -1 if endpoint is not valid.
int
    endpoint_allow_add_endpoint_host (endpoint_allow_t *self, const char *endpoint);

//  Allow or forbid ipc:// endpoints (any path: tests and trusted set-ups).
void
    endpoint_allow_set_ipc (endpoint_allow_t *self, bool allowed);

//  Allow ipc:// endpoints only for sockets inside directory dir (absolute;
//  NULL or "" forbids ipc). A path passes when it is dir/NAME... with no
//  "." or ".." component and the real path of its parent directory lies in
//  the real path of dir (symbolic links cannot lead out).
void
    endpoint_allow_set_ipc_dir (endpoint_allow_t *self, const char *dir);

//  True if endpoint is valid, connectable (no wildcard host or port) and
//  allowed.
bool
    endpoint_allow_check (endpoint_allow_t *self, const char *endpoint);

#endif
