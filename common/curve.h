/*  =========================================================================
    curve - CurveZMQ set-up shared by strata-node, strata-router and the
    client library: certificates, socket roles, the zauth policy, and a
    monitor that reports failed handshakes

    One cluster certificate (the cluster's identity, held by every node and
    the router) and one client certificate per client. Listening sockets
    are CURVE servers with the cluster certificate; connecting sockets that
    send requests are CURVE clients (own certificate + the cluster's public
    key). A node's reply PUSH connects but is a CURVE server, so the
    requester's bound PULL is a CURVE client. Certificates are czmq zcert
    files (zcert_save): NAME holds the public key, NAME_secret both keys.
    =========================================================================
*/
#ifndef STRATA_CURVE_H_INCLUDED
#define STRATA_CURVE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

typedef struct _curve_t curve_t;

//  The ZAP domain every Strata CURVE server uses
#define CURVE_ZAP_DOMAIN "strata"

//  Load the certificates. server_cert_path: the cluster's secret cert file
//  (NULL for a pure client). client_cert_path: this process's own secret
//  cert file (NULL if it never connects as a client). server_public_path:
//  a cert file holding the cluster's public key (NULL: take it from the
//  server cert). At least the server cert or the client cert plus a
//  cluster public key must be given. Returns NULL with one line in error
//  (naming the file) if a file is missing, unreadable or has no usable key.
curve_t *
    curve_new (const char *server_cert_path, const char *client_cert_path,
               const char *server_public_path, char *error, size_t error_size);

//  Free; set the caller's pointer to NULL. Accepts NULL.
void
    curve_destroy (curve_t **self_p);

//  Make socket a CURVE server with the cluster certificate and the Strata
//  ZAP domain (so the zauth policy is consulted). Use before bind/connect.
//  Returns -1 if this curve has no server certificate.
int
    curve_server (curve_t *self, zsock_t *socket);

//  Make socket a CURVE client with the own certificate and the cluster's
//  public key. Use before bind/connect. Returns -1 if there is no client
//  certificate.
int
    curve_client (curve_t *self, zsock_t *socket);

//  True if curve_client can be used
bool
    curve_has_client (curve_t *self);

//  The cluster's public key (Z85, 40 characters)
const char *
    curve_server_public (curve_t *self);

//  Start the zauth actor with a CURVE policy that allows the public certs
//  in clients_dir (czmq zcertstore: every cert file there). Applies to all
//  CURVE server sockets of this process (the czmq global context). verbose
//  makes zauth log every decision. Returns NULL with one line in error if
//  the directory does not exist or the actor cannot start. Destroy with
//  zactor_destroy after every socket that uses it.
zactor_t *
    curve_auth_new (const char *clients_dir, bool verbose, char *error, size_t error_size);

//  Make the zauth actor (from curve_auth_new) read clients_dir again now:
//  resends the CURVE command, which replaces its certificate store. zauth
//  also rereads the directory by itself on a handshake when the number,
//  total size or newest modification time (in seconds) of its files
//  changed; this catches what that misses (a file rewritten in place with
//  a same-size key within the same second). Only new handshakes are
//  affected: established sessions stay authenticated. Call from the thread
//  that owns auth.
void
    curve_auth_reload (zactor_t *auth, const char *clients_dir);

//  Called from the monitor thread for each failed handshake on a watched
//  socket (event is ZMQ_EVENT_HANDSHAKE_FAILED_*; address is the endpoint
//  libzmq names in the event: for a bound socket its own bound endpoint,
//  not the peer's, which libzmq's monitor events do not carry).
typedef void (curve_failure_fn) (void *arg, int event, const char *address);

//  Watch socket (call from the thread that owns it) for failed handshakes
//  (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL / _PROTOCOL / _AUTH) and call
//  failure for each, from a monitor actor. Returns the actor (destroy it
//  before the socket) or NULL.
zactor_t *
    curve_monitor_new (zsock_t *socket, curve_failure_fn *failure, void *arg);

//  Log a refused handshake (event and address as curve_failure_fn gets
//  them): "CURVE handshake refused on ENDPOINT (key not authorized |
//  protocol error | no detail)", at most one line per second per process,
//  with the number of lines left out since the last one. Thread-safe; the
//  node's and the router's failure callbacks both use it.
void
    curve_failure_log (int event, const char *address);

#endif
