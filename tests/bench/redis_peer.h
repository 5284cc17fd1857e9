/*  =========================================================================
    redis_peer - Redis as the peer of W1 in strata-bench

    Starts Debian's redis-server with every SET durable before its reply
    (appendonly yes, appendfsync always; no RDB snapshots) on a loopback
    port, its data in a directory the caller gives (on the same disk as
    the node's), and drives it with the shape of a W1 run: the same number
    of connections, each keeping the same number of SETs of 4 KiB values
    in flight (pipelined through hiredis on non-blocking sockets, polled by
    a few worker threads), for the same time. Random keys, so every SET
    adds a key, as every W1 request adds a segment.

    Built without hiredis (libhiredis-dev), redis_peer_new always fails
    with a reason saying so.
    =========================================================================
*/
#ifndef STRATA_REDIS_PEER_H_INCLUDED
#define STRATA_REDIS_PEER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _redis_peer_t redis_peer_t;

//  What one run measured
typedef struct {
    double elapsed;                 //  seconds, start to last reply
    uint64_t success;               //  SETs answered +OK
    uint64_t errors;                //  error replies, broken connections
    uint64_t lost;                  //  SETs without a reply
    double p50_ms, p99_ms, max_ms;  //  from the send to the reply
    double server_cpu;              //  % of one core, redis-server (all threads); < 0 unknown
    double client_cpu;              //  % of one core, the calling process (all threads)
    int64_t forks;                  //  AOF rewrites (forks) during the run; < 0 unknown
    char error [300];               //  first failure
} redis_peer_result_t;

//  Look for redis-server in PATH. Returns true and its path in path, or
//  false if it is not installed.
bool
    redis_peer_find_server (char *path, size_t size);

//  Start server_path on 127.0.0.1:port with its files (appendonly dir, log)
//  in dir (created if missing), and wait up to 10 s for it to answer PING.
//  Returns the peer, or NULL with the reason in why (the server's own
//  words from its log when it exited).
redis_peer_t *
    redis_peer_new (const char *server_path, const char *dir, int port, char *why, size_t why_size);

//  Stop the server (SIGTERM, then SIGKILL after 30 s) and free the peer.
void
    redis_peer_destroy (redis_peer_t **self_p);

//  Empty the server (FLUSHALL, then an AOF rewrite waited for), untimed,
//  then run `connections` connections driven by `threads` threads, each
//  keeping `window` SETs in flight for `seconds`; values are taken in turn
//  from value_count values of value_size bytes at values. Fills result.
//  Returns 0, or -1 if the run could not start (reason in result->error).
int
    redis_peer_run (redis_peer_t *self, int connections, int window, int threads, double seconds,
                    const uint8_t *values, size_t value_count, size_t value_size,
                    redis_peer_result_t *result);

//  CPU seconds (user + system, all threads) a process has used, from
//  /proc/<pid>/stat, or -1 if unknown. Used for the node and the server.
double
    bench_process_cpu_seconds (pid_t pid);

#endif
