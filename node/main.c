/*  =========================================================================
    strata-node - a Strata storage node

    Starts the writer actor (storage), then the dispatcher (writer endpoint)
    and the reader (reader endpoint), then, with a cluster file, the handoff
    forwarder (unless handoff/enabled = 0), then waits for SIGTERM or
    SIGINT. SIGHUP makes zauth read the CURVE clients-dir again (new
    handshakes only; docs/security.md, "Revoking a key"). On SIGTERM or
    SIGINT: the forwarder stops (a replay in flight resumes
    after the next start), the dispatcher stops taking requests and hands
    over what has arrived, the writer stores and syncs it and sends the
    replies it owes, and the process exits 0. If any of its actors ends
    on its own while the node runs (the writer after a fatal poll error,
    say), the node logs which one and exits 1 at once: half a node must
    not keep taking requests it cannot serve.

    Exit codes: 0 after a clean stop; 2 for a bad flag or configuration;
    1 when the node cannot start or fails while running.
    =========================================================================
*/
#include <czmq.h>
#include <signal.h>
#include "node_config.h"
#include "node_stats.h"
#include "writer.h"
#include "dispatcher.h"
#include "reader.h"
#include "scrub.h"
#include "handoff.h"
#include "index_check.h"
#include "index_rebuild.h"
#include "node_http.h"
#include "actor_start.h"
#include "signals.h"
#include <sys/file.h>
#include <systemd/sd-daemon.h>

//  Take the data directory's lock, so two nodes (or a node and --check)
//  never use one directory at once. Returns the locked fd, or -1 with a
//  line on stderr.
static int
s_lock_data_dir (const char *data_dir)
{
    if (zsys_dir_create ("%s", data_dir)) {
        fprintf (stderr, "strata-node: %s: cannot create the data directory: %s\n",
                 data_dir, strerror (errno));
        return -1;
    }
    char path [1100];
    snprintf (path, sizeof (path), "%s/lock", data_dir);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf (stderr, "strata-node: %s: %s\n", path, strerror (errno));
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB)) {
        fprintf (stderr, "strata-node: %s is in use by another strata-node process\n", data_dir);
        close (fd);
        return -1;
    }
    return fd;
}

//  Start an actor and wait for its READY / ERROR line
static zactor_t *
s_start (zactor_fn *actor_fn, void *args, const char *what)
{
    char error [1024];
    zactor_t *actor = actor_start (actor_fn, args, what, NULL, error, sizeof (error));
    if (!actor)
        fprintf (stderr, "strata-node: %s\n", error);
    return actor;
}

//  The actors main watches while the node runs
typedef struct {
    zactor_t *actor;                //  NULL: not running
    const char *what;               //  its name, for the log
} s_watched_t;

//  Wait for a signal or for an actor to end (its pipe becomes readable:
//  no actor sends anything unasked while running, and czmq signals the
//  pipe when an actor function returns). Returns the signal's number, 0
//  on a timeout, or -1 with *dead_p naming the actor that ended.
static int
s_wait (signals_t *signals, s_watched_t *watched, size_t count, const char **dead_p)
{
    zmq_pollitem_t items [8];
    assert (count + 1 <= sizeof (items) / sizeof (items [0]));
    items [0] = (zmq_pollitem_t) { NULL, signals_fd (signals), ZMQ_POLLIN, 0 };
    size_t used = 1;
    s_watched_t *polled [8];
    for (size_t index = 0; index < count; index++)
        if (watched [index].actor) {
            polled [used] = &watched [index];
            items [used++] = (zmq_pollitem_t) { zsock_resolve (watched [index].actor), 0, ZMQ_POLLIN, 0 };
        }
    if (zmq_poll (items, (int) used, 1000) <= 0)
        return 0;
    for (size_t index = 1; index < used; index++)
        if (items [index].revents & ZMQ_POLLIN) {
            *dead_p = polled [index]->what;
            return -1;
        }
    return signals_take (signals);
}

int
main (int argc, char **argv)
{
    node_config_t *config = (node_config_t *) calloc (1, sizeof (node_config_t));
    assert (config);
    cluster_config_t *cluster = NULL;
    char error [1024] = "";
    node_config_status_t status = node_config_load (config, argc, argv, &cluster, error, sizeof (error));
    if (status == NODE_CONFIG_EXIT_OK) {
        free (config);
        return 0;
    }
    if (status == NODE_CONFIG_ERROR) {
        fprintf (stderr, "strata-node: %s\n", error);
        free (config);
        return 2;
    }
    if ((config->check || config->rebuild_index) && !zsys_file_exists (config->data_dir)) {
        //  Nothing to check or rebuild: never create it
        fprintf (stderr, "strata-node: %s: no such data directory (nothing to %s)\n",
                 config->data_dir, config->check? "check": "rebuild");
        cluster_config_destroy (&cluster);
        free (config);
        return 1;
    }
    int lock_fd = s_lock_data_dir (config->data_dir);
    if (lock_fd < 0) {
        cluster_config_destroy (&cluster);
        free (config);
        return 1;
    }
    if (config->check || config->rebuild_index) {
        zsys_set_logstream (stderr);
        int rc = config->check? index_check_run (config, stdout): index_rebuild_run (config, stdout);
        close (lock_fd);
        cluster_config_destroy (&cluster);
        free (config);
        zsys_shutdown ();
        return rc == 0? 0: 1;
    }
    //  Signals are taken below, in this thread only: block them before any
    //  thread starts so no actor is interrupted by them.
    signals_t *signals = signals_new ("strata-node");
    if (!signals) {
        cluster_config_destroy (&cluster);
        free (config);
        close (lock_fd);
        return 1;
    }
    if (config->log_syslog)
        zsys_set_logsystem (true);

    //  CURVE: load the certificates, then install the zauth policy before
    //  any socket exists (without it CURVE would only encrypt)
    zactor_t *auth = NULL;
    if (*config->curve_cert) {
        char curve_error [1200] = "";
        config->curve = curve_new (config->curve_cert, config->curve_client_cert, NULL,
                                   curve_error, sizeof (curve_error));
        if (config->curve)
            auth = curve_auth_new (config->curve_clients_dir, config->log_verbose,
                                   curve_error, sizeof (curve_error));
        if (!auth) {
            fprintf (stderr, "strata-node: %s\n", curve_error);
            curve_destroy (&config->curve);
            cluster_config_destroy (&cluster);
            free (config);
            close (lock_fd);
            signals_destroy (&signals);
            zsys_shutdown ();
            return 2;
        }
        zsys_info ("CURVE on: cluster key %s, clients from %s",
                   curve_server_public (config->curve), config->curve_clients_dir);
    }
    //  Authorization: only router, node and admin keys of the policy may
    //  send anything to this node
    if (*config->auth_policy) {
        char auth_error [1200] = "";
        config->auth = auth_new (config->auth_policy, auth_error, sizeof (auth_error));
        if (!config->auth) {
            fprintf (stderr, "strata-node: %s\n", auth_error);
            zactor_destroy (&auth);
            curve_destroy (&config->curve);
            cluster_config_destroy (&cluster);
            free (config);
            close (lock_fd);
            signals_destroy (&signals);
            zsys_shutdown ();
            return 2;
        }
        zsys_info ("authorization on: policy %s (router, node and admin keys only)",
                   config->auth_policy);
    }
    node_stats_t *stats = node_stats_new ();
    config->reply_budget = reply_budget_new (config->reply_max_bytes);
    node_stats_set_volumes (stats, (const char (*) [1024]) config->volumes, config->volume_count);
    //  The HTTP endpoint first, so /readyz tells while recovery runs
    node_http_t *http = NULL;
    if (*config->metrics_listen) {
        char http_error [512] = "";
        http = node_http_new (config, stats, http_error, sizeof http_error);
        if (!http) {
            fprintf (stderr, "strata-node: %s\n", http_error);
            node_stats_destroy (&stats);
            reply_budget_destroy (&config->reply_budget);
            auth_destroy (&config->auth);
            zactor_destroy (&auth);
            curve_destroy (&config->curve);
            cluster_config_destroy (&cluster);
            free (config);
            close (lock_fd);
            signals_destroy (&signals);
            zsys_shutdown ();
            return 1;
        }
        zsys_info ("metrics on http://%s/ (port %d): /metrics /healthz /readyz", config->metrics_listen,
                   node_http_port (http));
    }
    endpoint_allow_t *allow = node_config_reply_allow (config, cluster);
    char queue_endpoint [64];
    snprintf (queue_endpoint, sizeof (queue_endpoint), "inproc://strata-writer-queue-%p", (void *) stats);
    char scrub_endpoint [64];
    snprintf (scrub_endpoint, sizeof (scrub_endpoint), "inproc://strata-scrub-%p", (void *) stats);
    writer_link_t *link = writer_link_new ();
    writer_args_t writer_args = {
        .config = config, .cluster = cluster, .stats = stats, .link = link, .allow = allow,
        .queue_endpoint = queue_endpoint, .scrub_endpoint = scrub_endpoint
    };
    scrub_args_t scrub_args = {
        .config = config, .stats = stats, .allow = allow, .request_endpoint = scrub_endpoint
    };
    dispatcher_args_t dispatcher_args = {
        .config = config, .stats = stats, .link = link, .allow = allow, .queue_endpoint = queue_endpoint
    };
    reader_args_t reader_args = {
        .config = config, .cluster = cluster, .stats = stats, .link = link, .allow = allow
    };
    handoff_args_t handoff_args = {
        .config = config, .cluster = cluster, .stats = stats
    };
    int exit_code = 1;
    zactor_t *writer = s_start (writer_actor, &writer_args, "writer");
    zactor_t *dispatcher = writer? s_start (dispatcher_actor, &dispatcher_args, "dispatcher"): NULL;
    zactor_t *reader = dispatcher? s_start (reader_actor, &reader_args, "reader"): NULL;
    bool forwarding = cluster && config->handoff_enabled;
    zactor_t *handoff = reader && forwarding? s_start (handoff_actor, &handoff_args, "handoff forwarder"): NULL;
    zactor_t *scrub = reader && (handoff || !forwarding)? s_start (scrub_actor, &scrub_args, "scrub"): NULL;
    if (scrub) {
        zsys_info ("node '%s' ready: writer %s, reader %s, data %s", config->name,
                   config->writer, config->reader, config->data_dir);
        //  Under systemd (Type=notify): listening, serving
        sd_notify (0, "READY=1");
        //  Wait for a signal, or for an actor to die
        s_watched_t watched [] = {
            { writer, "writer" }, { dispatcher, "dispatcher" }, { reader, "reader" },
            { handoff, "handoff forwarder" }, { scrub, "scrub" },
        };
        while (true) {
            const char *dead = NULL;
            int signal_number = s_wait (signals, watched, sizeof (watched) / sizeof (watched [0]), &dead);
            if (dead) {
                //  Half a node must not keep answering: a node without its
                //  writer (say) would take requests it can never store
                zsys_error ("the %s stopped unexpectedly: stopping the node (exit 1)", dead);
                sd_notify (0, "STOPPING=1");
                _exit (1);
            }
            if (signal_number == SIGTERM || signal_number == SIGINT) {
                zsys_info ("signal %d: stopping", signal_number);
                atomic_store (&stats->stopping, true);
                sd_notify (0, "STOPPING=1");
                exit_code = 0;
                break;
            }
            if (signal_number == SIGHUP) {
                if (auth) {
                    curve_auth_reload (auth, config->curve_clients_dir);
                    zsys_info ("SIGHUP: CURVE clients reloaded from %s (new handshakes only)",
                               config->curve_clients_dir);
                }
                else
                    zsys_info ("SIGHUP: CURVE is off, nothing to reload");
                if (config->auth) {
                    char auth_error [1200] = "";
                    if (auth_reload (config->auth, auth_error, sizeof (auth_error)))
                        zsys_error ("SIGHUP: %s; the previous policy stays", auth_error);
                    else
                        zsys_info ("SIGHUP: policy reloaded from %s (new requests)", config->auth_policy);
                }
            }
        }
        zactor_destroy (&scrub);
        zactor_destroy (&handoff);
        zstr_send (dispatcher, "STOP");
        char *stopped = zstr_recv (dispatcher);
        zstr_free (&stopped);
    }
    zactor_destroy (&scrub);
    zactor_destroy (&handoff);
    zactor_destroy (&reader);
    zactor_destroy (&dispatcher);
    zactor_destroy (&writer);      //  drains, commits, replies
    zactor_destroy (&auth);
    curve_destroy (&config->curve);
    auth_destroy (&config->auth);
    endpoint_allow_destroy (&allow);
    writer_link_destroy (&link);
    node_http_destroy (&http);
    node_stats_destroy (&stats);
    reply_budget_destroy (&config->reply_budget);  //  messages still lingering keep it alive
    cluster_config_destroy (&cluster);
    free (config);
    close (lock_fd);
    signals_destroy (&signals);
    zsys_shutdown ();
    return exit_code;
}
