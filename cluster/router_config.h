/*  =========================================================================
    router_config - strata-router's settings: embedded defaults, overridden
    by the `router` section of the cluster file, overridden by flags

        strata-router --cluster FILE [--listen ENDPOINT] [--metrics HOST:PORT]
                      [--help] [--version]

    Keys of the cluster file's `router` section (all optional):

        router
            listen = tcp://127.0.0.1:8000   # ROUTER socket for clients
            reply = tcp://127.0.0.1:*       # PULL socket the nodes answer to
            id = 0                          # 0..1023, low bits of unified-ids
            slice-size = 10485760           # bytes per slice (one sequence)
            max-put-bytes = 67108864        # largest `put`; larger ones stream
            node-timeout-ms = 10000         # a node's answer is late after this
            upload-timeout-seconds = 60     # idle streaming uploads are aborted
            ping-interval-ms = 1000         # liveness pings to every node
            max-operations = 32             # operations in flight at once
            max-buffered-bytes = 1073741824 # object bytes held at once
            metrics                         # HTTP endpoint (absent: off)
                listen = 127.0.0.1:9200     # HOST:PORT for /metrics /healthz /readyz /
            log
                access = 0                  # 1: one line per operation (op, key, size, result, time)
                slow-ms = 1000              # log operations slower than this (0: never)
            curve                           # CurveZMQ (absent: plaintext)
                cert = keys/cluster_secret  # the cluster's secret cert
                clients-dir = keys/clients  # public certs of authorized clients
                client-cert = keys/router_secret  # own client cert, to the nodes

    The reply endpoint is both bound and sent to the nodes as client-address,
    so its host must be one the nodes may connect to (loopback, or the host
    of a node of the cluster, or one in their reply/allow); a port of "*"
    binds an ephemeral port.
    =========================================================================
*/
#ifndef STRATA_ROUTER_CONFIG_H_INCLUDED
#define STRATA_ROUTER_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "cluster_config.h"

typedef struct {
    char cluster_path [1024];           //  --cluster FILE
    char listen [300];                  //  client endpoint (bind)
    char reply [300];                   //  node reply endpoint (bind; port may be *)
    int router_id;                      //  0..1023
    uint64_t slice_size;                //  bytes per slice
    uint64_t max_put_bytes;             //  largest object in one `put`
    int node_timeout_ms;                //  longest wait for a node's answer
    int upload_timeout_seconds;         //  idle uploads aborted after this
    int ping_interval_ms;               //  ping every node this often
    int max_operations;                 //  operations in flight at once
    uint64_t max_buffered_bytes;        //  object bytes held by operations at once
    char curve_cert [1024];             //  router/curve/cert, "" without CURVE
    char curve_clients_dir [1024];      //  router/curve/clients-dir
    char curve_client_cert [1024];      //  router/curve/client-cert
    char metrics_listen [300];          //  router/metrics/listen (HTTP HOST:PORT), "" = off
    bool access_log;                    //  router/log/access: log every operation
    int slow_ms;                        //  router/log/slow-ms: log operations slower (0: off)
} router_config_t;

typedef enum {
    ROUTER_CONFIG_RUN = 0,              //  run the router
    ROUTER_CONFIG_EXIT_OK,              //  --help or --version was printed
    ROUTER_CONFIG_ERROR                 //  error was written; exit 2
} router_config_status_t;

//  Fill *config with the embedded defaults (no cluster file).
void
    router_config_defaults (router_config_t *config);

//  Apply the `router` section of the cluster file at path to *config.
//  Returns 0, or -1 with one line in error.
int
    router_config_read_file (router_config_t *config, const char *path,
                             char *error, size_t error_size);

//  Fill *config from defaults, the cluster file (--cluster, required) and
//  the flags in argv; load the cluster into *cluster_p (caller destroys).
//  --help and --version print to stdout. On error writes one line into
//  error.
router_config_status_t
    router_config_load (router_config_t *config, int argc, char **argv,
                        cluster_config_t **cluster_p, char *error, size_t error_size);

#endif
