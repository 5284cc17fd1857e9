/*  =========================================================================
    strata-router - the front door of a Strata cluster

        strata-router --cluster FILE [--listen ENDPOINT]

    Loads the cluster file (nodes, erasure code, the `router` section),
    starts the router actor, and waits for SIGTERM or SIGINT (SIGHUP: reread
    the CURVE clients-dir). On SIGTERM or SIGINT
    the router stops taking requests (they are answered `unavailable`),
    aborts streamed uploads that are not finishing, lets the operations in
    flight finish (at most the node timeout), and the process exits 0.

    Exit codes: 0 after a clean stop (and for --help, --version); 2 for a
    bad flag or cluster file (one line on stderr); 1 when the router cannot
    start (an endpoint cannot be bound).
    =========================================================================
*/
#include <czmq.h>
#include <signal.h>
#include "router.h"
#include "router_config.h"
#include "actor_start.h"
#include "signals.h"
#include <systemd/sd-daemon.h>

int
main (int argc, char **argv)
{
    router_config_t config;
    cluster_config_t *cluster = NULL;
    char error [1024] = "";
    router_config_status_t status = router_config_load (&config, argc, argv, &cluster, error, sizeof error);
    if (status == ROUTER_CONFIG_EXIT_OK)
        return 0;
    if (status == ROUTER_CONFIG_ERROR) {
        fprintf (stderr, "strata-router: %s\n", error);
        return 2;
    }
    //  Signals are taken below, in this thread only: block them before any
    //  thread starts so no thread is interrupted by them.
    signals_t *signals = signals_new ("strata-router");
    if (!signals) {
        cluster_config_destroy (&cluster);
        return 1;
    }

    int exit_code = 1;
    router_args_t args = { .config = &config, .cluster = cluster };
    zmsg_t *ready = NULL;
    zactor_t *router = actor_start (router_actor, &args, "router", &ready, error, sizeof error);
    char *listen = ready? zmsg_popstr (ready): NULL;
    char *reply = ready? zmsg_popstr (ready): NULL;
    zmsg_destroy (&ready);
    if (!router)
        fprintf (stderr, "strata-router: %s\n", error);
    else {
        zsys_info ("router ready: cluster '%s' (k=%d, n=%d), clients on %s, node replies on %s",
                   cluster_config_name (cluster), cluster_config_data_shards (cluster),
                   cluster_config_total_shards (cluster), listen, reply);
        //  Under systemd (Type=notify): listening, serving
        sd_notify (0, "READY=1");
        while (true) {
            int signal_number = signals_wait (signals, 1000);
            if (signal_number == SIGTERM || signal_number == SIGINT) {
                zsys_info ("signal %d: stopping", signal_number);
                sd_notify (0, "STOPPING=1");
                break;
            }
            if (signal_number == SIGHUP)
                zstr_send (router, "RELOAD");
        }
        zstr_send (router, "STOP");
        char *stopped = zstr_recv (router);
        zstr_free (&stopped);
        exit_code = 0;
    }
    zstr_free (&listen);
    zstr_free (&reply);
    zactor_destroy (&router);
    cluster_config_destroy (&cluster);
    signals_destroy (&signals);
    zsys_shutdown ();
    return exit_code;
}
