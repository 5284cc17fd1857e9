/*  =========================================================================
    curve - CurveZMQ set-up shared by strata-node, strata-router and the
    client library

    Loads zcert files once, applies the server or client role to sockets,
    starts the zauth actor (the policy that makes CURVE authenticate, not
    only encrypt) and watches listening sockets for failed handshakes.
    =========================================================================
*/
#include <inttypes.h>
#include <stdatomic.h>
#include "curve.h"

struct _curve_t {
    zcert_t *server;                //  the cluster cert with its secret key, or NULL
    zcert_t *client;                //  our own client cert with its secret key, or NULL
    char server_public [41];        //  the cluster's public key, Z85
};

//  Load a cert file; need_secret: it must hold a secret key
static zcert_t *
s_load (const char *path, bool need_secret, const char *what, char *error, size_t error_size)
{
    if (!zsys_file_exists (path)) {
        snprintf (error, error_size, "%s: %s: no such certificate file", what, path);
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (error, error_size, "%s: %s: not a CURVE certificate (ZPL with curve/public-key)",
                  what, path);
        return NULL;
    }
    if (need_secret) {
        const byte *secret = zcert_secret_key (cert);
        bool zero = true;
        for (int index = 0; index < 32; index++)
            if (secret [index])
                zero = false;
        if (zero) {
            snprintf (error, error_size, "%s: %s holds no secret key (use the _secret file)",
                      what, path);
            zcert_destroy (&cert);
            return NULL;
        }
    }
    return cert;
}

curve_t *
curve_new (const char *server_cert_path, const char *client_cert_path,
           const char *server_public_path, char *error, size_t error_size)
{
    curve_t *self = (curve_t *) zmalloc (sizeof (curve_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    if (server_cert_path && *server_cert_path) {
        self->server = s_load (server_cert_path, true, "cluster certificate", error, error_size);
        if (!self->server)
            goto failed;
        snprintf (self->server_public, sizeof (self->server_public), "%s",
                  zcert_public_txt (self->server));
    }
    if (client_cert_path && *client_cert_path) {
        self->client = s_load (client_cert_path, true, "client certificate", error, error_size);
        if (!self->client)
            goto failed;
    }
    if (server_public_path && *server_public_path) {
        zcert_t *cert = s_load (server_public_path, false, "cluster public certificate",
                                error, error_size);
        if (!cert)
            goto failed;
        snprintf (self->server_public, sizeof (self->server_public), "%s", zcert_public_txt (cert));
        zcert_destroy (&cert);
    }
    if (!self->server && !(self->client && *self->server_public)) {
        snprintf (error, error_size, "CURVE needs the cluster certificate, or a client "
                  "certificate and the cluster's public certificate");
        goto failed;
    }
    return self;

failed:
    curve_destroy (&self);
    return NULL;
}

void
curve_destroy (curve_t **self_p)
{
    assert (self_p);
    curve_t *self = *self_p;
    if (self) {
        zcert_destroy (&self->server);
        zcert_destroy (&self->client);
        free (self);
        *self_p = NULL;
    }
}

int
curve_server (curve_t *self, zsock_t *socket)
{
    assert (self);
    assert (socket);
    if (!self->server)
        return -1;
    zsock_set_zap_domain (socket, CURVE_ZAP_DOMAIN);
    zcert_apply (self->server, socket);
    zsock_set_curve_server (socket, 1);
    return 0;
}

int
curve_client (curve_t *self, zsock_t *socket)
{
    assert (self);
    assert (socket);
    if (!self->client || !*self->server_public)
        return -1;
    zcert_apply (self->client, socket);
    zsock_set_curve_serverkey (socket, self->server_public);
    return 0;
}

bool
curve_has_client (curve_t *self)
{
    assert (self);
    return self->client && *self->server_public;
}

const char *
curve_server_public (curve_t *self)
{
    assert (self);
    return self->server_public;
}

zactor_t *
curve_auth_new (const char *clients_dir, bool verbose, char *error, size_t error_size)
{
    assert (clients_dir);
    if (!zsys_file_exists (clients_dir)) {
        snprintf (error, error_size, "clients-dir %s: no such directory", clients_dir);
        return NULL;
    }
    zactor_t *auth = zactor_new (zauth, NULL);
    if (!auth) {
        snprintf (error, error_size, "cannot start the zauth actor");
        return NULL;
    }
    if (verbose) {
        zstr_send (auth, "VERBOSE");
        zsock_wait (auth);
    }
    zstr_sendx (auth, "CURVE", clients_dir, NULL);
    zsock_wait (auth);
    return auth;
}

void
curve_auth_reload (zactor_t *auth, const char *clients_dir)
{
    assert (auth);
    assert (clients_dir);
    zstr_sendx (auth, "CURVE", clients_dir, NULL);
    zsock_wait (auth);
}

//  The monitor actor: reads events from the monitored socket's PAIR
typedef struct {
    char endpoint [64];             //  the inproc endpoint zmq_socket_monitor bound
    curve_failure_fn *failure;      //  called per failed handshake
    void *arg;                      //  its argument
} s_monitor_args_t;

static void
s_monitor_actor (zsock_t *pipe, void *args_)
{
    s_monitor_args_t *args = (s_monitor_args_t *) args_;
    zsock_t *events = zsock_new (ZMQ_PAIR);
    if (!events || zsock_connect (events, "%s", args->endpoint)) {
        zsock_destroy (&events);
        zsock_signal (pipe, 0);
        free (args);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, events, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != events)
            break;              //  pipe ($TERM) or interrupted
        zmsg_t *msg = zmsg_recv (events);
        if (!msg)
            break;
        zframe_t *head = zmsg_first (msg);
        zframe_t *address = zmsg_next (msg);
        if (head && zframe_size (head) >= 2) {
            uint16_t event;
            memcpy (&event, zframe_data (head), 2);
            char *text = address? zframe_strdup (address): NULL;
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
            ||  event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            ||  event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                args->failure (args->arg, event, text? text: "");
            free (text);
        }
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&events);
    free (args);
}

zactor_t *
curve_monitor_new (zsock_t *socket, curve_failure_fn *failure, void *arg)
{
    assert (socket);
    assert (failure);
    s_monitor_args_t *args = (s_monitor_args_t *) zmalloc (sizeof (s_monitor_args_t));
    if (!args)
        return NULL;
    static _Atomic unsigned s_sequence = 0;
    snprintf (args->endpoint, sizeof (args->endpoint), "inproc://strata-curve-monitor-%p-%u",
              (void *) socket, ++s_sequence);
    args->failure = failure;
    args->arg = arg;
    if (zmq_socket_monitor (zsock_resolve (socket), args->endpoint,
                            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        free (args);
        return NULL;
    }
    zactor_t *actor = zactor_new (s_monitor_actor, args);
    if (!actor)
        free (args);
    return actor;
}

void
curve_failure_log (int event, const char *address)
{
    static _Atomic int64_t s_last_log_ms = 0;
    static _Atomic uint64_t s_suppressed = 0;
    int64_t now = zclock_mono ();
    int64_t last = atomic_load (&s_last_log_ms);
    if (now - last >= 1000 && atomic_compare_exchange_strong (&s_last_log_ms, &last, now)) {
        uint64_t suppressed = atomic_exchange (&s_suppressed, 0);
        char more [64] = "";
        if (suppressed)
            snprintf (more, sizeof (more), "; %" PRIu64 " more not logged", suppressed);
        zsys_warning ("CURVE handshake refused on %s (%s)%s", address? address: "",
                      event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH? "key not authorized":
                      event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL? "protocol error": "no detail",
                      more);
    }
    else
        atomic_fetch_add (&s_suppressed, 1);
}
