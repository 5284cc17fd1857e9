/*  =========================================================================
    node_config - strata-node's settings: embedded defaults, overridden by a
    ZPL configuration file (--config), overridden by command-line flags

    config/strata-node.cfg lists every key with its default.
    =========================================================================
*/
#ifndef STRATA_NODE_CONFIG_H_INCLUDED
#define STRATA_NODE_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "cluster_config.h"
#include "endpoint.h"
#include "curve.h"
#include "reply_budget.h"
#include "auth_policy.h"
#include "protocol_limits.h"

#define NODE_CONFIG_MAX_VOLUMES 16

typedef struct {
    char name [129];                    //  node name
    char data_dir [1024];               //  holds index.db (and volume0 by default)
    char writer [300];                  //  writer endpoint (bind)
    char reader [300];                  //  reader endpoint (bind)
    char cluster_path [1024];           //  --cluster file, "" if none
    char cluster_fingerprint [LIMIT_FINGERPRINT_MAX + 1];   //  with --cluster: refuse others ("" = accept any)
    size_t volume_count;                //  entries in volumes
    char volumes [NODE_CONFIG_MAX_VOLUMES][1024];   //  value-file directories
    uint64_t value_file_max_bytes;      //  roll over past this size
    uint64_t reserve_bytes;             //  free space kept per volume
    uint64_t group_commit_delay_us;     //  longest a success waits for its sync
    uint64_t group_commit_bytes;        //  sync when this many bytes are unsynced
    uint64_t writeback_bytes;           //  start writeback every this many bytes (0 off)
    int queue_depth;                    //  dispatcher -> writer queue, in requests
    uint64_t queue_bytes;               //  dispatcher -> writer queue, in payload bytes
    int overload_wait_ms;               //  wait this long for queue room, then answer overloaded
    uint64_t max_message_bytes;         //  largest request accepted
    int max_frames;                     //  most frames in a request
    int receive_hwm;                    //  ZeroMQ receive HWM of the PULL sockets
    int reply_cache_size;               //  reply sockets kept open
    int reply_idle_seconds;             //  close reply sockets idle this long
    int reply_send_timeout_ms;          //  wait at most this to queue a reply
    int reply_hwm;                      //  replies queued per address
    bool reply_ipc;                     //  allow ipc:// reply addresses (under reply_ipc_dir)
    char reply_ipc_dir [200];           //  reply/ipc-dir: the only directory ipc replies may use
    uint64_t reply_max_bytes;           //  reply/max-bytes: bytes held for replies not yet taken
    reply_budget_t *reply_budget;       //  the process's budget of reply_max_bytes (main fills it)
    char auth_policy [1024];            //  auth/policy: who may do what (CURVE on); "" = none
    auth_t *auth;                       //  the loaded policy when auth/policy is set (main fills it)
    size_t reply_allow_count;           //  entries in reply_allow
    char reply_allow [32][256];         //  allowed reply hosts
    bool log_syslog;                    //  also log to syslog
    bool log_verbose;                   //  log every request
    char curve_cert [1024];             //  curve/cert: the cluster's secret cert file; "" = plaintext
    char curve_clients_dir [1024];      //  curve/clients-dir: authorized client public certs
    char curve_client_cert [1024];      //  curve/client-cert: this node's own secret client cert
    curve_t *curve;                     //  loaded certs when curve/cert is set (main fills it)
    bool handoff_enabled;               //  run the handoff forwarder (with a cluster)
    uint64_t handoff_interval_ms;       //  look for handoff copies to forward this often
    uint64_t handoff_rate_bytes;        //  replay at most this many payload bytes per second
    uint64_t handoff_timeout_ms;        //  wait at most this long for an owner's reply
    bool scrub_enabled;                 //  scrub/enabled: background passes
    uint64_t scrub_bytes_per_second;    //  scrub/bytes-per-second: read rate of a pass
    uint64_t scrub_interval_seconds;    //  scrub/interval-seconds: pause between passes
    uint64_t active_timeout_seconds;    //  cancel a segment active this long without a new sequence
                                        //  (0: never; node_config_load gives at least 1)
    double compact_garbage_ratio;       //  compact a closed value file at least this much garbage
    uint64_t compact_bytes_per_second;  //  compaction reads and writes at most this many bytes/s
    uint64_t compact_interval_ms;       //  look for files to compact this often
    uint64_t compact_tombstone_grace_seconds;   //  keep a tombstone at least this long
    bool compact_enabled;               //  run compaction passes in the background
    char metrics_listen [300];          //  metrics/listen: HTTP HOST:PORT; "" = off
    int test_sync_delay_ms;             //  STRATA_TEST_SYNC_DELAY_MS: sleep before each sync (tests)
    bool check;                         //  --check: verify and exit
    bool rebuild_index;                 //  --rebuild-index: rebuild and exit
} node_config_t;

//  Result of parsing the command line
typedef enum {
    NODE_CONFIG_RUN = 0,                //  run the node
    NODE_CONFIG_EXIT_OK,                //  --help, --version or --check-config was printed
    NODE_CONFIG_ERROR                   //  error was written; exit non-zero
} node_config_status_t;

//  Fill *config from defaults, the --config file and flags in argv. Writes
//  usage/version text to stdout for --help/--version. On error writes one
//  line into error (error_size bytes). Also loads the cluster file when
//  --cluster is given, returning it in *cluster_p (NULL otherwise; caller
//  destroys).
//  Fill volumes with pointers to the configured volume directories (into
//  config); returns how many (config->volume_count).
size_t
    node_config_volume_list (const node_config_t *config, const char *volumes [NODE_CONFIG_MAX_VOLUMES]);

node_config_status_t
    node_config_load (node_config_t *config, int argc, char **argv,
                      cluster_config_t **cluster_p, char *error, size_t error_size);

//  Build the reply allow-list the configuration describes: the configured
//  hosts, ipc if allowed, and every host of the cluster's endpoints.
endpoint_allow_t *
    node_config_reply_allow (const node_config_t *config, cluster_config_t *cluster);

//  Parse a ratio in 0..1 ("0.3"): 0, or -1 if text is not one.
int
    node_config_parse_ratio (const char *text, double *ratio_p);

#endif
