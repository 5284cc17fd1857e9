/*  =========================================================================
    strata-bench - measures one strata-node against the performance targets

    Starts its own strata-node (or uses a running one with --writer and
    --reader), runs the workloads below with real sockets, and prints one
    line per workload: the figure, the target, MET or MISSED, and the
    ratio against a baseline where there is one. It measures; it does not
    judge: the exit code is 0 whether targets are met or not, and non-zero
    only when the node failed (a non-success reply, a lost reply, a crash,
    an unclean exit).

    W1  4 KiB archive-key-entire, closed loop: each sender keeps --window
        requests in flight and sends the next when a reply comes back.
    W2  1 MiB sequences (start, next..., final; 16 per 16 MiB segment),
        closed loop, against a raw baseline measured just before each run
        (one thread appending 1 MiB blocks to a file in the same data dir,
        with an fdatasync every 16 MiB).
    W3  4 KiB entire, open loop at half of W1's rate: each sender sends at
        fixed intervals whatever the replies do; latency is measured from
        the scheduled send time, so a stalled node cannot hide its stall.
    W4  retrieve-key-start of 4 KiB segments stored during set-up.
    W5  retrieval of 1 MiB sequences (start/next) of 16 MiB segments stored
        during set-up, from the page cache.
    OVERLOAD  many senders, big windows, 1 MiB entire requests as fast as
        they go: the node's peak RSS against 128 MiB.
    RESTART  fill to --restart-gib stored, kill -9, restart, time to ping.
    SCRUB  fill to --scrub-gib stored, then a scrub pass (the node's
        `scrub` request) at the node's scrub/bytes-per-second (16 MiB/s by
        default): its time against bytes / rate, and W1 (largest window)
        while the pass runs against W1 alone, measured before and after.
    COMPACT  W1 alone, then: store 1300 MiB of 1 MiB objects (the first
        1100 MiB value file closes), delete every other one, and run W1 again
        while a `compact` request compacts that file: acks/s and p99
        against W1 alone, and the compaction's rate in MB/s (size of the
        files it replaced / time to its reply). Not in the default set.

    --peer redis runs, after each W1 run, the same shape against Debian's
    redis-server (appendonly yes, appendfsync always; redis_peer.c): as
    many connections as senders, as many SETs of 4 KiB in flight on each
    as W1's window, random keys, for as long; the W1 line gets Redis's
    SET/s and the ratio. Without redis-server one line says it was skipped.

    --fill N stores N small segments after W1 (64-byte payloads, random
    16-64-byte keys, unified-ids made as 16 routers would make them), then
    runs W1 in turn on that node and on a fresh node started beside it
    (filled, fresh, fresh, filled, per window): filled against fresh,
    both under whatever else the machine is doing at the time.

    Every W1 line also has the node's CPU time per ack (all its threads,
    /proc/<pid>/stat), with the line under it split by thread name; the
    run ends with one `target` line per target of the performance issue.

    --scrape-ms N starts the node with its HTTP endpoint (--metrics) and
    runs W1 four times in turn, without and with a Prometheus-style scraper
    (GET /metrics every N ms on its own thread), and prints the ratio of
    the rates with scraping to those without (docs/operations.md).

    Every request is a real protocol message (request_encode), every reply
    is decoded (reply_decode) and checked. Payloads and their MD5 digests
    are computed before timing; payload frames are sent without copying.
    Each sender has its own PUSH socket to the node and its own PULL socket
    bound on loopback, whose address travels in client-address. The
    senders are driven by --threads worker threads (default one per CPU;
    each worker polls its group of senders, two threads per worker in open
    loop: a pacer and a receiver): on a 2-core machine a thread per sender
    costs the bench more CPU in context switches than the messages
    themselves, CPU the node then lacks. The bench's own CPU time (all
    threads, as % of one core) is printed beside each figure, so a bench
    that is the bottleneck shows itself.
    =========================================================================
*/
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "request.h"
#include "reply.h"
#include "digest.h"
#include "timestamp.h"
#include "redis_peer.h"
#include "node_stats.h"
#include "metrics.h"

#define S_SMALL_SIZE        4096                //  W1/W3/W4 payload
#define S_SMALL_VARIANTS    64                  //  distinct 4 KiB payloads
#define S_LARGE_SIZE        (1024 * 1024)       //  one sequence of W2/W5, one overload request
#define S_SEQUENCES         16                  //  sequences per segment (16 MiB segments)
#define S_COLLECTION        1                   //  collection-id of everything stored
#define S_REPLY_TIMEOUT_MS  30000               //  a reply later than this is lost
#define S_READY_TIMEOUT_MS  20000               //  a node must answer ping within this
#define S_OPEN_LOOP_CAP     512                 //  open loop: most requests in flight per sender
#define S_MAX_WINDOWS       8                   //  values in --window
#define S_TARGET_RSS_MIB    128.0
#define S_MIB               (1024.0 * 1024.0)
#define S_FILL_SIZE         64                  //  --fill: payload bytes of each segment
#define S_FILL_KEY_MIN      16                  //  --fill: key bytes, at least
#define S_FILL_KEY_MAX      64                  //  --fill: key bytes, at most
#define S_FILL_WINDOW       16                  //  --fill: requests in flight per sender
#define S_ROUTER_BITS       10                  //  unified-id = time (us) << 10 | router id, as routers make them
#define S_TARGET_REDIS      1.2                 //  W1 against Redis, same shape
#define S_TARGET_CPU_US     25.0                //  node CPU per W1 ack
#define S_TARGET_W3_P99_MS  2.0                 //  W3 p99 at half of W1's rate
#define S_TARGET_FILLED     0.8                 //  W1 filled against W1 fresh
#define S_MAX_THREADS       128                 //  node threads followed for CPU per thread

//  Workloads, in the order they run
typedef enum {
    S_W1, S_W3, S_W2, S_W4, S_W5, S_OVERLOAD, S_RESTART, S_COMPACT, S_SCRUB, S_WORKLOAD_COUNT
} s_workload_t;

static const char *s_workload_names [S_WORKLOAD_COUNT] = {
    "W1", "W3", "W2", "W4", "W5", "OVERLOAD", "RESTART", "COMPACT", "SCRUB"
};

//  What one request of a workload is
typedef enum {
    S_KIND_ENTIRE,              //  archive-key-entire of payload_size bytes
    S_KIND_SEQUENCES,           //  start/next/final of 1 MiB sequences
    S_KIND_RETRIEVE_SMALL,      //  retrieve-key-start of a stored 4 KiB segment
    S_KIND_RETRIEVE_LARGE,      //  retrieve-key-start/next of a stored 1 MiB sequence
    S_KIND_FILL                 //  archive-key-entire of S_FILL_SIZE bytes, random key,
                                //  unified-id as a router (one per sender) makes it
} s_kind_t;

//  Command-line settings
typedef struct {
    char node_binary [PATH_MAX];        //  strata-node to start
    char node_config [PATH_MAX];        //  --config for it ("" = embedded defaults)
    char data_parent [PATH_MAX];        //  the data dir is made under this
    char writer [300];                  //  external node's writer endpoint ("" = start one)
    char reader [300];                  //  external node's reader endpoint
    bool keep;                          //  keep the data dir
    bool run [S_WORKLOAD_COUNT];        //  workloads selected
    double seconds;                     //  per workload
    int senders;                        //  sender threads
    int windows [S_MAX_WINDOWS];        //  closed-loop windows to run
    int window_count;                   //  entries in windows
    size_t frame_size;                  //  bytes per data frame
    int overload_senders;               //  OVERLOAD sender threads
    int overload_window;                //  OVERLOAD requests in flight per sender
    double restart_gib;                 //  RESTART: GiB stored before the kill
    double scrub_gib;                   //  SCRUB: GiB stored before the pass
    double scrub_rate;                  //  SCRUB: the node's scrub/bytes-per-second
    double w3_rate;                     //  W3 total rate (0 = half of W1)
    int io_threads;                     //  ZeroMQ I/O threads of the bench
    int threads;                        //  worker threads the senders share
    uint64_t small_keys;                //  W4: 4 KiB segments stored in set-up
    uint64_t large_segments;            //  W5: 16 MiB segments stored in set-up
    int scrape_ms;                      //  W1 with and without a GET /metrics this often (0: off)
    bool peer_redis;                    //  W1: the same shape against redis-server
    uint64_t fill;                      //  W1: segments stored between fresh and filled runs (0: none)
} s_options_t;

//  One requester: its sockets
typedef struct {
    zsock_t *writer;                    //  PUSH to the writer endpoint
    zsock_t *reader;                    //  PUSH to the reader endpoint
    zsock_t *pull;                      //  PULL bound on loopback: replies
    char address [64];                  //  endpoint of pull (client-address)
} s_client_t;

//  The whole run
typedef struct {
    s_options_t *options;               //  settings
    char data_dir [PATH_MAX];           //  made by mkdtemp, removed at the end
    char node_dir [PATH_MAX];           //  the node's --data-dir
    char log_path [PATH_MAX];           //  the node's stdout/stderr
    char compact_config [PATH_MAX];     //  COMPACT: the node's config ("" = none)
    char writer [300];                  //  writer endpoint in use
    char reader [300];                  //  reader endpoint in use
    pid_t node_pid;                     //  node we started, 0 if external or gone
    bool rss_reset;                     //  clear_refs works: RSS peaks are per workload
    s_client_t **clients;               //  sender sockets, reused by every workload
    int client_count;                   //  entries in clients
    s_client_t *control;                //  ping and stats
    uint64_t control_seq;               //  message-id counter of control requests
    uint8_t *small;                     //  S_SMALL_VARIANTS payloads of 4 KiB
    uint8_t small_md5 [S_SMALL_VARIANTS][DIGEST_MD5_SIZE];
    uint8_t *large;                     //  S_SEQUENCES payloads of 1 MiB
    uint8_t large_md5 [S_SEQUENCES][DIGEST_MD5_SIZE];
    uint8_t large_file_hash [DIGEST_MD5_SIZE];  //  MD5 of the 16 blocks in order
    int64_t timestamp;                  //  timestamp-repr of everything sent
    uint64_t uid_base;                  //  unified-id = uid_base + (generation << 40) + key number
    uint64_t generation;                //  workloads run so far
    uint64_t bytes_stored;              //  payload bytes acknowledged so far
    double w1_rate;                     //  best W1 acks/s measured
    uint64_t failures;                  //  node failures seen
    bool node_dead;                     //  the node died: stop
    atomic_bool abort;                  //  senders: stop now, the node is gone
    int metrics_port;                   //  the node's HTTP port (--scrape-ms), else 0
    atomic_bool scrape_stop;            //  the scraper: stop
    uint64_t scrapes;                   //  scrapes answered 200 (scraper thread)
    uint64_t scrape_failures;           //  scrapes not answered 200
    uint64_t scrape_bytes;              //  bytes received by the scraper
    uint8_t fill_md5 [S_SMALL_VARIANTS][DIGEST_MD5_SIZE];   //  first S_FILL_SIZE bytes of each small payload
    redis_peer_t *redis;                //  --peer redis: the server, once started
    bool redis_tried;                   //  its start was tried (redis_why says why it failed)
    char redis_why [300];               //  why there is no Redis figure
    //  The issue's targets, for the summary at the end (< 0: not measured)
    double best_redis_ratio;            //  W1 acks/s / Redis SET/s, best window
    int best_redis_window;
    double best_cpu_per_ack_us;         //  node CPU per W1 ack, best window
    int best_cpu_window;
    double w3_p99_ms, w3_rate;          //  W3
    double fresh_rates [S_MAX_WINDOWS]; //  W1 fresh, per window
    double filled_ratio;                //  W1 filled / fresh, best window
    int filled_window;
    uint64_t filled_segments;           //  segments the fill stored
} s_bench_t;

//  One workload, shared read-only by its sender threads
typedef struct {
    s_kind_t kind;                      //  what each request is
    int senders;                        //  senders (requesters, each with its own sockets)
    int window;                         //  closed loop: in flight per sender; open loop: the cap
    int threads;                        //  worker threads the senders share (<= senders)
    double rate;                        //  open loop: requests/s per sender; 0 = closed loop
    size_t payload_size;                //  entire: bytes per request
    uint64_t count;                     //  per sender: requests (entire) or segments (sequences); 0 = no limit
    double seconds;                     //  issue for this long; 0 = until count
    uint64_t generation;                //  workload number, first part of message-ids and keys
    uint64_t store_generation;          //  retrieval: the generation whose keys were stored
    uint64_t key_space;                 //  retrieval: keys (or segments) stored
    bool allow_overloaded;              //  `overloaded` replies are expected, not failures
    int64_t start_ns;                   //  issuing starts
    int64_t deadline_ns;                //  issuing stops (0 = none)
} s_spec_t;

//  One sender: a requester with its own sockets, driven by a worker thread
typedef struct {
    s_bench_t *bench;                   //  shared, read-only while running
    const s_spec_t *spec;               //  the workload
    s_client_t *client;                 //  this sender's sockets
    int index;                          //  0 .. senders-1
    request_t *request;                 //  request model, reused
    reply_t *reply;                     //  reply model, reused
    msgpack_sbuffer header;             //  encoded header, reused
    uint64_t random;                    //  splitmix64 state (retrieval keys)
    atomic_uint_fast64_t issued;        //  requests sent
    atomic_uint_fast64_t replied;       //  replies to them taken
    uint64_t success;                   //  success replies
    uint64_t overloaded;                //  overloaded replies
    uint64_t not_found;                 //  not-found replies (retrieval)
    uint64_t errors;                    //  any other failure
    uint64_t send_errors;               //  requests that could not be sent (pacer's own)
    uint64_t lost;                      //  requests without a reply
    uint64_t stale;                     //  replies to an earlier workload
    uint64_t bytes;                     //  payload bytes stored or retrieved
    uint64_t *latency;                  //  ns per success reply
    size_t latency_count;               //  entries in latency
    size_t latency_size;                //  room in latency
    int64_t last_reply_ns;              //  when the last reply came
    uint64_t router_usec;               //  fill: time part of this sender's last unified-id
    uint64_t next_number;               //  closed loop: number of the next request
    uint64_t outstanding;               //  closed loop: requests in flight
    bool broken;                        //  closed loop: cannot send, stopped
    bool finished;                      //  closed loop: done
    char error [300];                   //  first failure seen by the receiver
    char send_error [300];              //  first failure seen by the pacer
} s_sender_t;

//  One thread (closed loop) or two (open loop: pacer and receiver) and the
//  group of senders they drive
typedef struct {
    s_sender_t *senders;                //  first sender of the group
    int count;                          //  senders in the group
    int index;                          //  0 .. workers-1
    int workers;                        //  groups in the workload
    pthread_t thread;                   //  closed loop, or the open loop's receiver
    pthread_t pacer;                    //  open loop: the paced sender
    atomic_bool pacer_done;             //  open loop: nothing more will be sent
    atomic_int done;                    //  1 when the (receiving) thread has finished
} s_worker_t;

//  What a workload measured
typedef struct {
    double elapsed;                     //  seconds, start to last reply
    uint64_t issued, success, overloaded, not_found, errors, lost, stale, bytes;
    double p50_ms, p99_ms, max_ms;      //  ack latency
    double bench_cpu;                   //  % of one core, all bench threads
    double node_cpu;                    //  % of one core; < 0 unknown
    double node_cpu_seconds;            //  node CPU time during the run; < 0 unknown
    char node_threads [300];            //  node CPU per success by thread name ("" unknown)
    char node_stages [300];             //  the node's stage p50/p99 during the run ("" unknown)
    double node_rss_mib;                //  node's peak RSS during the workload; < 0 unknown
    int64_t syncs;                      //  node's group commits during it; < 0 unknown
    int64_t sync_p50_us, sync_p99_us;   //  node's last 1024 syncs (stats); < 0 unknown
    char error [300];                   //  first failure
} s_result_t;


//  --------------------------------------------------------------------------
//  Small helpers

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

//  splitmix64: fills payloads and picks keys; any fixed sequence will do
static uint64_t
s_random_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

//  Fill data with the splitmix64 sequence of seed
static void
s_random_fill (uint8_t *data, size_t size, uint64_t seed)
{
    for (size_t offset = 0; offset < size; offset += 8) {
        uint64_t value = s_random_next (&seed);
        memcpy (data + offset, &value, size - offset < 8? size - offset: 8);
    }
}

//  A TCP port on 127.0.0.1 that was free a moment ago, or -1
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (address);
    int port = -1;
    if (bind (fd, (struct sockaddr *) &address, sizeof (address)) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &size) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}

//  nftw callback of s_remove_tree
static int
s_remove_entry (const char *path, const struct stat *status, int flag, struct FTW *ftw)
{
    (void) status; (void) flag; (void) ftw;
    return remove (path) == 0? 0: -1;
}

//  Remove a directory tree. 0 or -1.
static int
s_remove_tree (const char *path)
{
    return nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

//  Bytes as decimal megabytes (10^6)
static double
s_mb (uint64_t bytes)
{
    return (double) bytes / 1e6;
}

//  CPU seconds (user + system) of every thread of the bench so far
static double
s_cpu_seconds_self (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
         + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}


//  A progress line on stderr (stdout has only the figures)
static void
s_note (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "strata-bench: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}


//  --------------------------------------------------------------------------
//  The node process: /proc figures, start, stop

//  CPU seconds the node has used, or -1 if unknown
static double
s_node_cpu_seconds (s_bench_t *self)
{
    if (!self->node_pid)
        return -1;
    return bench_process_cpu_seconds (self->node_pid);
}

//  One "Vm...:  N kB" figure of the node's /proc status in MiB, or -1
static double
s_node_status_mib (s_bench_t *self, const char *name)
{
    if (!self->node_pid)
        return -1;
    char path [64], line [256];
    snprintf (path, sizeof (path), "/proc/%d/status", (int) self->node_pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    double mib = -1;
    size_t name_size = strlen (name);
    while (fgets (line, sizeof (line), file)) {
        if (strncmp (line, name, name_size) == 0 && line [name_size] == ':') {
            mib = strtod (line + name_size + 1, NULL) / 1024.0;
            break;
        }
    }
    fclose (file);
    return mib;
}

//  CPU time of one node thread
typedef struct {
    int tid;
    char name [20];                     //  its comm: strata-writer, ZMQbg/IO/0, ...
    double seconds;                     //  user + system so far
} s_thread_cpu_t;

//  The CPU time of every thread of the node so far, into threads (at most
//  max). Returns how many, 0 if unknown.
static int
s_node_threads (s_bench_t *self, s_thread_cpu_t *threads, int max)
{
    if (!self->node_pid)
        return 0;
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/task", (int) self->node_pid);
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    int count = 0;
    struct dirent *entry;
    while (count < max && (entry = readdir (dir))) {
        if (*entry->d_name < '0' || *entry->d_name > '9')
            continue;
        char stat_path [300], text [1024];
        snprintf (stat_path, sizeof (stat_path), "%s/%s/stat", path, entry->d_name);
        FILE *file = fopen (stat_path, "r");
        if (!file)
            continue;
        size_t size = fread (text, 1, sizeof (text) - 1, file);
        fclose (file);
        text [size] = 0;
        char *open = strchr (text, '('), *close = strrchr (text, ')');
        unsigned long user = 0, system = 0;
        if (!open || !close || close < open
        ||  sscanf (close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &system) != 2)
            continue;
        s_thread_cpu_t *thread = &threads [count++];
        thread->tid = atoi (entry->d_name);
        snprintf (thread->name, sizeof (thread->name), "%.*s", (int) (close - open - 1), open + 1);
        thread->seconds = (double) (user + system) / (double) sysconf (_SC_CLK_TCK);
    }
    closedir (dir);
    return count;
}

//  Describe the CPU the node's threads used between two snapshots, per
//  success and by thread name, largest first ("strata-writer=30.1us ...";
//  names under 0.5 us per success left out), into text
static void
s_node_threads_text (const s_thread_cpu_t *before, int before_count, const s_thread_cpu_t *after,
                     int after_count, uint64_t successes, char *text, size_t size)
{
    *text = 0;
    if (!before_count || !after_count || !successes)
        return;
    s_thread_cpu_t names [S_MAX_THREADS];
    int name_count = 0;
    for (int index = 0; index < after_count; index++) {
        double used = after [index].seconds;
        for (int earlier = 0; earlier < before_count; earlier++)
            if (before [earlier].tid == after [index].tid)
                used -= before [earlier].seconds;
        int slot;
        for (slot = 0; slot < name_count; slot++)
            if (streq (names [slot].name, after [index].name))
                break;
        if (slot == name_count) {
            names [name_count] = after [index];
            names [name_count++].seconds = 0;
        }
        names [slot].seconds += used;
    }
    size_t length = 0;
    while (length < size) {
        int largest = -1;
        for (int slot = 0; slot < name_count; slot++)
            if (names [slot].seconds >= 0 && (largest < 0 || names [slot].seconds > names [largest].seconds))
                largest = slot;
        if (largest < 0)
            break;
        double per_success = 1e6 * names [largest].seconds / (double) successes;
        names [largest].seconds = -1;
        if (per_success < 0.5)
            break;
        int written = snprintf (text + length, size - length, "%s%s=%.1fus", length? " ": "",
                                names [largest].name, per_success);
        if (written < 0 || (size_t) written >= size - length)
            break;
        length += (size_t) written;
    }
}

//  Reset the node's peak RSS (VmHWM) to its current RSS, so the next
//  reading is the peak of what follows. Returns 0, or -1 if the kernel
//  does not allow it.
static int
s_node_rss_reset (s_bench_t *self)
{
    if (!self->node_pid)
        return -1;
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/clear_refs", (int) self->node_pid);
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = write (fd, "5", 1) == 1? 0: -1;
    close (fd);
    return rc;
}

//  Print the last lines of the node's log to stderr
static void
s_node_log_tail (s_bench_t *self, int lines)
{
    FILE *file = fopen (self->log_path, "r");
    if (!file)
        return;
    char **ring = (char **) calloc ((size_t) lines, sizeof (char *));
    char line [1024];
    int count = 0;
    while (ring && fgets (line, sizeof (line), file)) {
        free (ring [count % lines]);
        ring [count % lines] = strdup (line);
        count++;
    }
    fclose (file);
    if (!ring)
        return;
    fprintf (stderr, "strata-bench: last lines of %s:\n", self->log_path);
    for (int index = count > lines? count - lines: 0; index < count; index++)
        fprintf (stderr, "    %s", ring [index % lines]? ring [index % lines]: "\n");
    for (int index = 0; index < lines; index++)
        free (ring [index]);
    free (ring);
}

//  Start strata-node on self->writer/reader with data in node_dir, output
//  appended to log_path. Returns 0, or -1 if it could not be started.
static int
s_node_spawn (s_bench_t *self)
{
    const s_options_t *options = self->options;
    char *argv [16];
    int argc = 0;
    argv [argc++] = (char *) options->node_binary;
    if (*options->node_config) {
        argv [argc++] = (char *) "--config";
        argv [argc++] = (char *) options->node_config;
    }
    else
    if (*self->compact_config) {
        argv [argc++] = (char *) "--config";
        argv [argc++] = self->compact_config;
    }
    argv [argc++] = (char *) "--name";
    argv [argc++] = (char *) "bench";
    argv [argc++] = (char *) "--data-dir";
    argv [argc++] = self->node_dir;
    argv [argc++] = (char *) "--writer";
    argv [argc++] = self->writer;
    argv [argc++] = (char *) "--reader";
    argv [argc++] = self->reader;
    char metrics [64];
    if (self->metrics_port > 0) {
        snprintf (metrics, sizeof metrics, "127.0.0.1:%d", self->metrics_port);
        argv [argc++] = (char *) "--metrics";
        argv [argc++] = metrics;
    }
    argv [argc] = NULL;

    int log_fd = open (self->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf (stderr, "strata-bench: cannot open %s: %s\n", self->log_path, strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "strata-bench: fork: %s\n", strerror (errno));
        close (log_fd);
        return -1;
    }
    if (pid == 0) {
        //  Child: only async-signal-safe calls until exec
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        dup2 (log_fd, STDOUT_FILENO);
        dup2 (log_fd, STDERR_FILENO);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execv (argv [0], argv);
        _exit (127);
    }
    close (log_fd);
    self->node_pid = pid;
    return 0;
}

//  True (and the node forgotten) if the node we started has exited
static bool
s_node_exited (s_bench_t *self, int *status_p)
{
    if (!self->node_pid)
        return false;
    int status = 0;
    if (waitpid (self->node_pid, &status, WNOHANG) == self->node_pid) {
        self->node_pid = 0;
        if (status_p)
            *status_p = status;
        return true;
    }
    return false;
}

//  Describe a wait status
static const char *
s_exit_text (int status, char *text, size_t size)
{
    if (WIFEXITED (status))
        snprintf (text, size, "exit code %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status))
        snprintf (text, size, "killed by signal %d", WTERMSIG (status));
    else
        snprintf (text, size, "status 0x%x", status);
    return text;
}

//  SIGTERM the node and wait for it (SIGKILL after 60 s). Returns 0 if it
//  exited with code 0.
static int
s_node_stop (s_bench_t *self)
{
    if (!self->node_pid)
        return 0;
    kill (self->node_pid, SIGTERM);
    int status = 0;
    int64_t deadline = s_now_ns () + 60 * 1000000000LL;
    while (true) {
        pid_t pid = waitpid (self->node_pid, &status, WNOHANG);
        if (pid == self->node_pid)
            break;
        if (pid < 0) {
            self->node_pid = 0;
            return -1;
        }
        if (s_now_ns () > deadline) {
            fprintf (stderr, "strata-bench: node did not stop within 60 s of SIGTERM: killing it\n");
            kill (self->node_pid, SIGKILL);
            waitpid (self->node_pid, &status, 0);
            self->node_pid = 0;
            return -1;
        }
        zclock_sleep (10);
    }
    self->node_pid = 0;
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    char text [64];
    fprintf (stderr, "strata-bench: node stopped with %s\n", s_exit_text (status, text, sizeof (text)));
    return -1;
}


//  Start strata-node on two free loopback ports (self->writer/reader are
//  set) with its data in node_dir. Another process may take a probed port
//  before the node binds it; the node then exits 1 at once, and the bench
//  tries fresh ports (three attempts). 0, or -1 (the reason printed).
static int
s_node_start (s_bench_t *self)
{
    for (int attempt = 1; ; attempt++) {
        int writer_port = s_free_port ();
        int reader_port = s_free_port ();
        while (reader_port == writer_port && reader_port > 0)
            reader_port = s_free_port ();
        if (writer_port < 0 || reader_port < 0) {
            fprintf (stderr, "strata-bench: cannot find free loopback ports\n");
            return -1;
        }
        if (self->options->scrape_ms > 0)
            self->metrics_port = s_free_port ();
        snprintf (self->writer, sizeof (self->writer), "tcp://127.0.0.1:%d", writer_port);
        snprintf (self->reader, sizeof (self->reader), "tcp://127.0.0.1:%d", reader_port);
        if (s_node_spawn (self))
            return -1;
        int status = 0;
        bool exited = false;
        for (int tick = 0; tick < 20 && !exited; tick++) {
            usleep (50000);
            exited = s_node_exited (self, &status);
        }
        if (!exited)
            return 0;
        char text [64];
        if (attempt < 3 && WIFEXITED (status) && WEXITSTATUS (status) == 1) {
            fprintf (stderr, "strata-bench: node exited during start-up (%s); retrying on other ports\n",
                     s_exit_text (status, text, sizeof (text)));
            continue;
        }
        fprintf (stderr, "strata-bench: node exited during start-up (%s)\n",
                 s_exit_text (status, text, sizeof (text)));
        s_node_log_tail (self, 20);
        return -1;
    }
}


//  --------------------------------------------------------------------------
//  Clients: sockets of one requester

static void
s_client_destroy (s_client_t **self_p)
{
    assert (self_p);
    s_client_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->writer);
        zsock_destroy (&self->reader);
        zsock_destroy (&self->pull);
        free (self);
        *self_p = NULL;
    }
}

//  A PUSH socket to endpoint that never lingers and gives up a send after
//  the reply timeout (a dead node must not hang the bench)
static zsock_t *
s_push_new (const char *endpoint, int reconnect_ms)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    if (!push)
        return NULL;
    zsock_set_linger (push, 0);
    zsock_set_sndtimeo (push, S_REPLY_TIMEOUT_MS);
    zsock_set_sndhwm (push, 1000);
    if (reconnect_ms > 0)
        zsock_set_reconnect_ivl (push, reconnect_ms);
    if (zsock_connect (push, "%s", endpoint) != 0) {
        zsock_destroy (&push);
        return NULL;
    }
    return push;
}

//  Create a requester: PULL bound on a free loopback port, PUSH to the
//  writer and to the reader. NULL on failure.
static s_client_t *
s_client_new (const char *writer, const char *reader)
{
    s_client_t *self = (s_client_t *) calloc (1, sizeof (s_client_t));
    if (!self)
        return NULL;
    self->pull = zsock_new (ZMQ_PULL);
    if (self->pull) {
        zsock_set_linger (self->pull, 0);
        zsock_set_rcvhwm (self->pull, 10000);
    }
    int port = self->pull? zsock_bind (self->pull, "tcp://127.0.0.1:*"): -1;
    if (port > 0)
        snprintf (self->address, sizeof (self->address), "tcp://127.0.0.1:%d", port);
    self->writer = port > 0? s_push_new (writer, 0): NULL;
    self->reader = self->writer? s_push_new (reader, 0): NULL;
    if (!self->reader)
        s_client_destroy (&self);
    return self;
}


//  --------------------------------------------------------------------------
//  Sending requests, taking replies

//  Send the encoded header and payload (split into frame_size frames,
//  sent without copying: payload must outlive the send, which it does:
//  payloads live until the bench exits). 0 or -1 (errno from zmq).
static int
s_send (zsock_t *socket, const msgpack_sbuffer *header, const uint8_t *payload, size_t size,
        size_t frame_size)
{
    void *handle = zsock_resolve (socket);
    if (zmq_send (handle, header->data, header->size, size? ZMQ_SNDMORE: 0) < 0)
        return -1;
    size_t offset = 0;
    while (offset < size) {
        size_t part = size - offset < frame_size? size - offset: frame_size;
        zmq_msg_t frame;
        zmq_msg_init_data (&frame, (void *) (payload + offset), part, NULL, NULL);
        offset += part;
        if (zmq_msg_send (&frame, handle, offset < size? ZMQ_SNDMORE: 0) < 0) {
            zmq_msg_close (&frame);
            return -1;
        }
    }
    return 0;
}

static void
s_set_key (request_t *request, uint64_t generation, uint64_t key_number)
{
    int size = snprintf (request->key, sizeof (request->key), "bench-%" PRIu64 "-%" PRIu64,
                         generation, key_number);
    request->key_size = (size_t) size;
}

static uint64_t
s_unified_id (const s_bench_t *bench, uint64_t generation, uint64_t key_number)
{
    return bench->uid_base + (generation << 40) + key_number;
}

//  Build and send request number `number` of this sender, stamped with
//  `stamp` (ns: when it was, or was scheduled to be, sent). 0 or -1.
static int
s_issue (s_sender_t *self, uint64_t number, int64_t stamp)
{
    const s_spec_t *spec = self->spec;
    const s_bench_t *bench = self->bench;
    request_t *request = self->request;
    request_reset (request);
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
                     | FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM;
    snprintf (request->message_id, sizeof (request->message_id),
              "%" PRIu64 ".%" PRIu64 ".%" PRId64, spec->generation, number, stamp);
    snprintf (request->client_tag, sizeof (request->client_tag), "bench-%d", self->index);
    snprintf (request->client_address, sizeof (request->client_address), "%s", self->client->address);
    request->collection_id = S_COLLECTION;
    request->segment_num = 1;

    const uint8_t *payload = NULL;      //  data frames
    size_t payload_size = 0;
    zsock_t *socket = self->client->writer;
    if (spec->kind == S_KIND_ENTIRE || spec->kind == S_KIND_SEQUENCES || spec->kind == S_KIND_FILL) {
        request->present |= FIELD_UNIFIED_ID | FIELD_TIMESTAMP | FIELD_SEGMENT_SIZE
                          | FIELD_ZFEC_PADDING_SIZE | FIELD_SEGMENT_MD5 | FIELD_SOURCE_NODE_NAME;
        request->timestamp = bench->timestamp;
        request->zfec_padding_size = 0;
        snprintf (request->source_node_name, sizeof (request->source_node_name), "bench");
        uint64_t key_number;
        if (spec->kind == S_KIND_ENTIRE || spec->kind == S_KIND_FILL) {
            key_number = number * (uint64_t) spec->senders + (uint64_t) self->index;
            request->type = MSG_ARCHIVE_KEY_ENTIRE;
            request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
            const uint8_t *md5;
            if (spec->kind == S_KIND_FILL) {
                size_t variant = key_number % S_SMALL_VARIANTS;
                payload = bench->small + variant * S_SMALL_SIZE;
                md5 = bench->fill_md5 [variant];
            }
            else
            if (spec->payload_size == S_LARGE_SIZE) {
                size_t block = key_number % S_SEQUENCES;
                payload = bench->large + block * S_LARGE_SIZE;
                md5 = bench->large_md5 [block];
            }
            else {
                size_t variant = key_number % S_SMALL_VARIANTS;
                payload = bench->small + variant * S_SMALL_SIZE;
                md5 = bench->small_md5 [variant];
            }
            payload_size = spec->payload_size;
            request->file_size = payload_size;
            memcpy (request->segment_md5, md5, DIGEST_MD5_SIZE);
            memcpy (request->file_hash, md5, DIGEST_MD5_SIZE);
        }
        else {
            uint64_t segment = number / S_SEQUENCES;
            uint32_t sequence = (uint32_t) (number % S_SEQUENCES);
            key_number = segment * (uint64_t) spec->senders + (uint64_t) self->index;
            request->type = sequence == 0? MSG_ARCHIVE_KEY_START
                          : sequence == S_SEQUENCES - 1? MSG_ARCHIVE_KEY_FINAL
                          : MSG_ARCHIVE_KEY_NEXT;
            request->present |= FIELD_SEQUENCE_NUM;
            request->sequence_num = sequence;
            payload = bench->large + (size_t) sequence * S_LARGE_SIZE;
            payload_size = S_LARGE_SIZE;
            memcpy (request->segment_md5, bench->large_md5 [sequence], DIGEST_MD5_SIZE);
            if (request->type == MSG_ARCHIVE_KEY_FINAL) {
                request->present |= FIELD_FILE_SIZE | FIELD_FILE_HASH;
                request->file_size = (uint64_t) S_SEQUENCES * S_LARGE_SIZE;
                memcpy (request->file_hash, bench->large_file_hash, DIGEST_MD5_SIZE);
            }
        }
        request->segment_size = payload_size;
        if (spec->kind == S_KIND_FILL) {
            //  As a cluster writes: each sender is a router with its own
            //  id, whose unified-ids are its clock in microseconds (one
            //  more than its last when the clock has not moved), so the
            //  ids of the senders interleave; keys of 16-64 random bytes
            uint64_t usec = (uint64_t) timestamp_now ();
            self->router_usec = usec > self->router_usec? usec: self->router_usec + 1;
            request->unified_id = (self->router_usec << S_ROUTER_BITS)
                                | ((uint64_t) self->index & ((1u << S_ROUTER_BITS) - 1));
            static const char alphabet [] = "abcdefghijklmnopqrstuvwxyz0123456789/-_.";
            uint64_t random = s_random_next (&self->random);
            size_t size = S_FILL_KEY_MIN + (size_t) (random % (S_FILL_KEY_MAX - S_FILL_KEY_MIN + 1));
            for (size_t offset = 0; offset < size; offset++) {
                if (offset % 10 == 0)
                    random = s_random_next (&self->random);
                request->key [offset] = alphabet [random % (sizeof (alphabet) - 1)];
                random /= sizeof (alphabet) - 1;
            }
            request->key [size] = 0;
            request->key_size = size;
        }
        else {
            request->unified_id = s_unified_id (bench, spec->generation, key_number);
            s_set_key (request, spec->generation, key_number);
        }
    }
    else {
        socket = self->client->reader;
        uint64_t key_number;
        if (spec->kind == S_KIND_RETRIEVE_SMALL) {
            key_number = s_random_next (&self->random) % spec->key_space;
            request->type = MSG_RETRIEVE_KEY_START;
        }
        else {
            key_number = (number / S_SEQUENCES + (uint64_t) self->index) % spec->key_space;
            uint32_t sequence = (uint32_t) (number % S_SEQUENCES);
            request->type = sequence == 0? MSG_RETRIEVE_KEY_START: MSG_RETRIEVE_KEY_NEXT;
            request->present |= FIELD_UNIFIED_ID;
            request->unified_id = s_unified_id (bench, spec->store_generation, key_number);
            if (sequence > 0) {
                request->present |= FIELD_SEQUENCE_NUM;
                request->sequence_num = sequence;
            }
        }
        s_set_key (request, spec->store_generation, key_number);
    }
    msgpack_sbuffer_clear (&self->header);
    if (request_encode (request, &self->header) != 0)
        return -1;
    return s_send (socket, &self->header, payload, payload_size, bench->options->frame_size);
}

//  Record one failure with its cause (the first one is kept)
static void
s_failure (s_sender_t *self, const char *format, ...)
{
    self->errors++;
    if (*self->error)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

//  Check a success reply to a retrieval against what was stored
static bool
s_retrieval_good (s_sender_t *self, const reply_t *reply, uint64_t data_bytes)
{
    const s_spec_t *spec = self->spec;
    const s_bench_t *bench = self->bench;
    uint64_t first = s_unified_id (bench, spec->store_generation, 0);
    if (!(reply->fields & REPLY_FIELD_UNIFIED_ID) || reply->unified_id < first
    ||  reply->unified_id - first >= spec->key_space) {
        s_failure (self, "retrieval reply: unified-id %" PRIu64 " was not stored by the bench", reply->unified_id);
        return false;
    }
    uint64_t key_number = reply->unified_id - first;
    size_t expected_size;
    const uint8_t *expected_md5;
    if (spec->kind == S_KIND_RETRIEVE_SMALL) {
        expected_size = S_SMALL_SIZE;
        expected_md5 = bench->small_md5 [key_number % S_SMALL_VARIANTS];
    }
    else {
        if (reply->sequence_num >= S_SEQUENCES) {
            s_failure (self, "retrieval reply: sequence-num %" PRIu32 " out of range", reply->sequence_num);
            return false;
        }
        expected_size = S_LARGE_SIZE;
        expected_md5 = bench->large_md5 [reply->sequence_num];
    }
    if (data_bytes != expected_size || reply->segment_size != expected_size) {
        s_failure (self, "retrieval reply: %" PRIu64 " data bytes, segment-size %" PRIu64 ", expected %zu",
                   data_bytes, reply->segment_size, expected_size);
        return false;
    }
    if (memcmp (reply->segment_md5, expected_md5, DIGEST_MD5_SIZE) != 0) {
        s_failure (self, "retrieval reply: segment-md5-digest differs from what was stored");
        return false;
    }
    return true;
}

//  Take one reply if one is waiting (never blocks). Returns 1 when a reply
//  to this workload was taken, 2 for a reply to an earlier workload or an
//  undecodable one, 0 when there was none.
static int
s_take (s_sender_t *self)
{
    void *handle = zsock_resolve (self->client->pull);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&frame);
        return 0;
    }
    int64_t now = s_now_ns ();
    reply_t *reply = self->reply;
    int decoded = reply_decode (reply, zmq_msg_data (&frame), zmq_msg_size (&frame));
    uint64_t data_bytes = 0;
    while (zmq_msg_more (&frame)) {
        if (zmq_msg_recv (&frame, handle, 0) < 0)
            break;
        data_bytes += zmq_msg_size (&frame);
    }
    zmq_msg_close (&frame);

    //  message-id is "<generation>.<number>.<stamp ns>"
    char *cursor = reply->message_id;
    uint64_t generation = strtoull (cursor, &cursor, 10);
    if (*cursor == '.')
        strtoull (cursor + 1, &cursor, 10);
    int64_t stamp = *cursor == '.'? strtoll (cursor + 1, &cursor, 10): 0;
    if (decoded != 0 || *cursor || stamp <= 0) {
        //  Cannot tell which request it answers: a failure, not a reply
        s_failure (self, "undecodable reply (message-id '%s')", decoded == 0? reply->message_id: "?");
        return 2;
    }
    if (generation != self->spec->generation) {
        self->stale++;
        return 2;
    }
    atomic_fetch_add (&self->replied, 1);
    self->last_reply_ns = now;
    bool retrieval = self->spec->kind == S_KIND_RETRIEVE_SMALL
                  || self->spec->kind == S_KIND_RETRIEVE_LARGE;
    if (reply->result == RESULT_SUCCESS) {
        if (retrieval && !s_retrieval_good (self, reply, data_bytes))
            return 1;
        self->success++;
        self->bytes += retrieval? data_bytes
                     : self->spec->kind == S_KIND_SEQUENCES? S_LARGE_SIZE: self->spec->payload_size;
        if (self->latency_count == self->latency_size) {
            size_t size = self->latency_size? self->latency_size * 2: 65536;
            uint64_t *latency = (uint64_t *) realloc (self->latency, size * sizeof (uint64_t));
            if (latency) {
                self->latency = latency;
                self->latency_size = size;
            }
        }
        if (self->latency_count < self->latency_size)
            self->latency [self->latency_count++] = (uint64_t) (now > stamp? now - stamp: 0);
    }
    else
    if (reply->result == RESULT_OVERLOADED && self->spec->allow_overloaded)
        self->overloaded++;
    else
    if (reply->result == RESULT_NOT_FOUND && retrieval)
        self->not_found++;
    else
        s_failure (self, "%s: %s: %s", reply->message_type, result_name (reply->result),
                   *reply->error_message? reply->error_message: "(no error-message)");
    return 1;
}

//  May this closed-loop sender issue request number `number` now?
static bool
s_more (const s_sender_t *self, uint64_t number, int64_t now)
{
    const s_spec_t *spec = self->spec;
    if (spec->kind == S_KIND_SEQUENCES || spec->kind == S_KIND_RETRIEVE_LARGE) {
        //  Whole segments only: a started segment is always finished
        if (number % S_SEQUENCES)
            return true;
        if (spec->count && number / S_SEQUENCES >= spec->count)
            return false;
    }
    else
    if (spec->count && number >= spec->count)
        return false;
    return !spec->deadline_ns || now < spec->deadline_ns;
}

//  Closed loop: one thread drives a group of senders (by default a group of
//  one). Each sender keeps `window` requests in flight until the deadline
//  or its count, then waits for the replies still owed. A sender that
//  cannot send, or gets no reply for S_REPLY_TIMEOUT_MS, stops; its
//  requests still owed are lost.
static void *
s_closed_loop (void *args)
{
    s_worker_t *worker = (s_worker_t *) args;
    s_sender_t *senders = worker->senders;
    int count = worker->count;
    uint64_t window = (uint64_t) senders [0].spec->window;
    zmq_pollitem_t *items = (zmq_pollitem_t *) calloc ((size_t) count, sizeof (zmq_pollitem_t));
    if (!items) {
        for (int index = 0; index < count; index++)
            s_failure (&senders [index], "out of memory");
        atomic_fetch_add (&worker->done, 1);
        return NULL;
    }
    for (int index = 0; index < count; index++) {
        items [index].socket = zsock_resolve (senders [index].client->pull);
        items [index].events = ZMQ_POLLIN;
    }
    int64_t last_progress = s_now_ns ();   //  when a reply last came
    while (true) {
        int64_t now = s_now_ns ();
        int active = 0;
        for (int index = 0; index < count; index++) {
            s_sender_t *self = &senders [index];
            if (self->finished)
                continue;
            while (!self->broken && self->outstanding < window && s_more (self, self->next_number, now)) {
                if (s_issue (self, self->next_number, now) != 0) {
                    s_failure (self, "cannot send a request: %s", zmq_strerror (zmq_errno ()));
                    self->broken = true;
                    break;
                }
                self->next_number++;
                self->outstanding++;
                atomic_store (&self->issued, self->next_number);
            }
            if (self->broken || self->outstanding == 0) {
                self->lost += self->outstanding;
                self->outstanding = 0;
                self->finished = true;
                items [index].events = 0;
                continue;
            }
            active++;
        }
        if (!active)
            break;
        int rc = zmq_poll (items, count, 100);
        if (rc < 0 && zmq_errno () == EINTR)
            continue;
        now = s_now_ns ();
        if (rc > 0)
            last_progress = now;
        bool aborted = atomic_load (&senders [0].bench->abort);
        if (rc < 0 || aborted || now - last_progress > S_REPLY_TIMEOUT_MS * 1000000LL) {
            for (int index = 0; index < count; index++) {
                s_sender_t *self = &senders [index];
                if (self->finished)
                    continue;
                if (!*self->error)
                    snprintf (self->error, sizeof (self->error), aborted
                              ? "%" PRIu64 " replies not received: the node is gone"
                              : "%" PRIu64 " replies not received within %d s",
                              self->outstanding, S_REPLY_TIMEOUT_MS / 1000);
                self->lost += self->outstanding;
                self->outstanding = 0;
                self->finished = true;
            }
            break;
        }
        if (rc == 0)
            continue;
        for (int index = 0; index < count; index++) {
            if (!(items [index].revents & ZMQ_POLLIN))
                continue;
            s_sender_t *self = &senders [index];
            int taken;
            while ((taken = s_take (self)) != 0)
                if (taken == 1 && self->outstanding)
                    self->outstanding--;
        }
    }
    free (items);
    atomic_fetch_add (&worker->done, 1);
    return NULL;
}

//  Open loop, sending side: the worker's senders take turns to send, one
//  request every 1/(rate x senders in the group) s from the start to the
//  deadline, whatever the replies do (a sender with S_OPEN_LOOP_CAP
//  requests in flight waits; its requests keep their scheduled time).
static void *
s_pacer (void *args)
{
    s_worker_t *worker = (s_worker_t *) args;
    s_sender_t *senders = worker->senders;
    const s_spec_t *spec = senders [0].spec;
    int64_t interval = (int64_t) (1e9 / (spec->rate * worker->count));
    //  Stagger the groups over one interval
    int64_t next = spec->start_ns + interval * worker->index / worker->workers;
    uint64_t turn = 0;
    bool broken = false;
    while (next < spec->deadline_ns && !broken && !atomic_load (&senders [0].bench->abort)) {
        struct timespec wake = { (time_t) (next / 1000000000LL), (long) (next % 1000000000LL) };
        while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR)
            ;
        s_sender_t *self = &senders [turn++ % (uint64_t) worker->count];
        uint64_t issued = atomic_load (&self->issued);
        while (issued - atomic_load (&self->replied) >= (uint64_t) spec->window
        &&     !atomic_load (&self->bench->abort))
            zclock_sleep (1);
        if (s_issue (self, issued, next) != 0) {
            self->send_errors++;
            if (!*self->send_error)
                snprintf (self->send_error, sizeof (self->send_error),
                          "cannot send a request: %s", zmq_strerror (zmq_errno ()));
            broken = true;
            break;
        }
        atomic_store (&self->issued, issued + 1);
        next += interval;
    }
    atomic_store (&worker->pacer_done, true);
    return NULL;
}

//  Open loop, receiving side: take the group's replies as they come until
//  the pacer is done and every request has its reply
static void *
s_receiver (void *args)
{
    s_worker_t *worker = (s_worker_t *) args;
    s_sender_t *senders = worker->senders;
    int count = worker->count;
    zmq_pollitem_t *items = (zmq_pollitem_t *) calloc ((size_t) count, sizeof (zmq_pollitem_t));
    if (!items) {
        s_failure (&senders [0], "out of memory");
        while (!atomic_load (&worker->pacer_done))
            zclock_sleep (10);
        atomic_fetch_add (&worker->done, 1);
        return NULL;
    }
    for (int index = 0; index < count; index++) {
        items [index].socket = zsock_resolve (senders [index].client->pull);
        items [index].events = ZMQ_POLLIN;
    }
    int64_t last_progress = s_now_ns ();
    while (true) {
        bool done = atomic_load (&worker->pacer_done);
        bool owed = false;
        for (int index = 0; index < count && !owed; index++)
            owed = atomic_load (&senders [index].replied) < atomic_load (&senders [index].issued);
        if (done && !owed)
            break;
        int rc = zmq_poll (items, count, 100);
        int64_t now = s_now_ns ();
        if (rc > 0) {
            last_progress = now;
            for (int index = 0; index < count; index++)
                if (items [index].revents & ZMQ_POLLIN)
                    while (s_take (&senders [index]))
                        ;
        }
        bool aborted = atomic_load (&senders [0].bench->abort);
        if (aborted || (owed && now - last_progress > S_REPLY_TIMEOUT_MS * 1000000LL)) {
            //  Wait for the pacer, which may still be sending
            while (!atomic_load (&worker->pacer_done))
                zclock_sleep (10);
            for (int index = 0; index < count; index++) {
                s_sender_t *self = &senders [index];
                self->lost = atomic_load (&self->issued) - atomic_load (&self->replied);
                if (self->lost && !*self->error)
                    snprintf (self->error, sizeof (self->error), aborted
                              ? "%" PRIu64 " replies not received: the node is gone"
                              : "%" PRIu64 " replies not received within %d s",
                              self->lost, S_REPLY_TIMEOUT_MS / 1000);
            }
            break;
        }
    }
    free (items);
    atomic_fetch_add (&worker->done, 1);
    return NULL;
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}


//  --------------------------------------------------------------------------
//  Control requests (ping, stats) on the control client

//  Send a request of type (ping, stats) through client to the writer or
//  reader endpoint and wait up to timeout_ms for its reply, into reply. Replies that are not
//  its own are dropped. Returns 0, or -1 on timeout or send failure.
static int
s_control (s_bench_t *self, s_client_t *client, bool to_reader, message_type_t type, int timeout_ms,
           reply_t *reply)
{
    request_t *request = request_new ();
    msgpack_sbuffer header;
    msgpack_sbuffer_init (&header);
    assert (request);
    request->type = type;
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
    snprintf (request->message_id, sizeof (request->message_id), "0.%" PRIu64 ".1", ++self->control_seq);
    snprintf (request->client_tag, sizeof (request->client_tag), "bench-control");
    snprintf (request->client_address, sizeof (request->client_address), "%s", client->address);
    int rc = request_encode (request, &header);
    if (rc == 0)
        rc = s_send (to_reader? client->reader: client->writer, &header, NULL, 0, 1);
    int64_t deadline = s_now_ns () + (int64_t) timeout_ms * 1000000LL;
    while (rc == 0) {
        int64_t left_ms = (deadline - s_now_ns ()) / 1000000LL;
        if (left_ms <= 0) {
            rc = -1;
            break;
        }
        zmsg_t *msg = NULL;
        zmq_pollitem_t item = { zsock_resolve (client->pull), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left_ms) > 0)
            msg = zmsg_recv (client->pull);
        if (!msg)
            continue;
        zframe_t *first = zmsg_first (msg);
        if (first && reply_decode (reply, zframe_data (first), zframe_size (first)) == 0
        &&  streq (reply->message_id, request->message_id)) {
            zmsg_destroy (&msg);
            break;
        }
        zmsg_destroy (&msg);
    }
    msgpack_sbuffer_destroy (&header);
    request_destroy (&request);
    return rc;
}

//  The entry name of a map, or NULL
static const msgpack_object *
s_map_entry (const msgpack_object *map, const char *name)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t entry = 0; entry < map->via.map.size; entry++) {
        const msgpack_object *key = &map->via.map.ptr [entry].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen (name)
        &&  memcmp (key->via.str.ptr, name, key->via.str.size) == 0)
            return &map->via.map.ptr [entry].val;
    }
    return NULL;
}

//  The value of an unsigned integer of a stats reply, or -1: name is a
//  top-level key, or "map/key" for an entry of a top-level map
static int64_t
s_stats_value (const reply_t *reply, const char *name)
{
    if (!reply->stats)
        return -1;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int64_t value = -1;
    if (msgpack_unpack_next (&unpacked, (const char *) reply->stats, reply->stats_size, NULL)
        == MSGPACK_UNPACK_SUCCESS) {
        char outer [64];
        snprintf (outer, sizeof (outer), "%s", name);
        char *inner = strchr (outer, '/');
        if (inner)
            *inner++ = 0;
        const msgpack_object *val = s_map_entry (&unpacked.data, outer);
        if (inner)
            val = s_map_entry (val, inner);
        if (val && val->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            value = (int64_t) val->via.u64;
    }
    msgpack_unpacked_destroy (&unpacked);
    return value;
}

//  The node's group commits so far, or -1 if the stats reply does not say;
//  with the p50 and p99 of its last syncs (fdatasync + index commit, in
//  microseconds, -1 unknown) when sync_p50/sync_p99 are given
static int64_t
s_node_syncs (s_bench_t *self, int64_t *sync_p50, int64_t *sync_p99)
{
    reply_t *reply = reply_new ();
    int64_t syncs = -1;
    if (sync_p50)
        *sync_p50 = -1;
    if (sync_p99)
        *sync_p99 = -1;
    if (reply && s_control (self, self->control, false, MSG_STATS, 5000, reply) == 0 && reply->result == RESULT_SUCCESS) {
        syncs = s_stats_value (reply, "syncs");
        if (sync_p50)
            *sync_p50 = s_stats_value (reply, "sync-latency-us/p50");
        if (sync_p99)
            *sync_p99 = s_stats_value (reply, "sync-latency-us/p99");
    }
    reply_destroy (&reply);
    return syncs;
}

//  The node's per-bucket counts of each stage of its successful archive
//  requests so far (stats "stage-latency-us"). 0, or -1 if the reply does
//  not have them.
typedef uint64_t s_stage_counts_t [NODE_STAGE_COUNT][METRICS_BUCKETS + 1];

static int
s_node_stages (s_bench_t *self, s_stage_counts_t counts)
{
    reply_t *reply = reply_new ();
    int found = 0;
    memset (counts, 0, sizeof (s_stage_counts_t));
    if (reply && s_control (self, self->control, false, MSG_STATS, 5000, reply) == 0
    &&  reply->result == RESULT_SUCCESS && reply->stats) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        if (msgpack_unpack_next (&unpacked, (const char *) reply->stats, reply->stats_size, NULL)
            == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *stages = s_map_entry (&unpacked.data, "stage-latency-us");
            for (int stage = 0; stage < NODE_STAGE_COUNT; stage++) {
                const msgpack_object *buckets =
                    s_map_entry (s_map_entry (stages, node_stage_name ((node_stage_t) stage)), "buckets");
                if (!buckets || buckets->type != MSGPACK_OBJECT_ARRAY
                ||  buckets->via.array.size != METRICS_BUCKETS + 1)
                    continue;
                found++;
                for (uint32_t bucket = 0; bucket < buckets->via.array.size; bucket++)
                    if (buckets->via.array.ptr [bucket].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                        counts [stage][bucket] = buckets->via.array.ptr [bucket].via.u64;
            }
        }
        msgpack_unpacked_destroy (&unpacked);
    }
    reply_destroy (&reply);
    return found == NODE_STAGE_COUNT? 0: -1;
}

//  "verified=12/40 taken=..." (p50/p99 in microseconds of each stage over
//  the difference of two snapshots) into text; "" when there is nothing
static void
s_stages_text (s_stage_counts_t before, s_stage_counts_t after, char *text, size_t size)
{
    *text = 0;
    size_t used = 0;
    for (int stage = 0; stage < NODE_STAGE_COUNT; stage++) {
        uint64_t counts [METRICS_BUCKETS + 1], total = 0;
        for (int bucket = 0; bucket <= METRICS_BUCKETS; bucket++) {
            counts [bucket] = after [stage][bucket] >= before [stage][bucket]?
                              after [stage][bucket] - before [stage][bucket]: 0;
            total += counts [bucket];
        }
        if (total == 0) {
            *text = 0;
            return;
        }
        int wrote = snprintf (text + used, size - used, "%s%s=%" PRIu64 "/%" PRIu64 "us",
                              stage? " ": "", node_stage_name ((node_stage_t) stage),
                              metrics_buckets_quantile_us (counts, 0.5),
                              metrics_buckets_quantile_us (counts, 0.99));
        if (wrote < 0 || (size_t) wrote >= size - used)
            return;
        used += (size_t) wrote;
    }
}

//  Ping the writer until it answers or timeout_ms passes (or the node we
//  started exits). Returns 0 when it answered.
static int
s_wait_ready (s_bench_t *self, int timeout_ms)
{
    reply_t *reply = reply_new ();
    int64_t deadline = s_now_ns () + (int64_t) timeout_ms * 1000000LL;
    int rc = -1;
    while (rc != 0 && s_now_ns () < deadline) {
        int status;
        if (s_node_exited (self, &status)) {
            char text [64];
            fprintf (stderr, "strata-bench: node exited during start-up (%s)\n",
                     s_exit_text (status, text, sizeof (text)));
            break;
        }
        if (s_control (self, self->control, false, MSG_PING, 200, reply) == 0 && reply->result == RESULT_SUCCESS)
            rc = 0;
    }
    reply_destroy (&reply);
    return rc;
}


//  Ping the writer or the reader through every sender's sockets, so that
//  the connections both ways (ours to the node, the node's to our reply
//  address) exist before anything is timed. 0, or -1 if one got no reply.
static int
s_warm_up (s_bench_t *self, bool to_reader)
{
    reply_t *reply = reply_new ();
    int rc = reply? 0: -1;
    for (int index = 0; index < self->client_count && rc == 0; index++)
        if (s_control (self, self->clients [index], to_reader, MSG_PING, 10000, reply) != 0
        ||  reply->result != RESULT_SUCCESS)
            rc = -1;
    reply_destroy (&reply);
    if (rc)
        s_note ("warm-up: a ping to the %s got no success reply", to_reader? "reader": "writer");
    return rc;
}

//  --------------------------------------------------------------------------
//  Running one workload

//  Run spec with its sender threads and fill *result. Returns 0, or -1 if
//  the threads could not be started.
static int
s_run (s_bench_t *self, s_spec_t *spec, s_result_t *result)
{
    assert (spec->senders > 0 && spec->senders <= self->client_count);
    memset (result, 0, sizeof (*result));
    spec->generation = ++self->generation;
    s_sender_t *senders = (s_sender_t *) calloc ((size_t) spec->senders, sizeof (s_sender_t));
    if (!senders)
        return -1;
    for (int index = 0; index < spec->senders; index++) {
        s_sender_t *sender = &senders [index];
        sender->bench = self;
        sender->spec = spec;
        sender->client = self->clients [index];
        sender->index = index;
        sender->request = request_new ();
        sender->reply = reply_new ();
        sender->random = (spec->generation << 32) + (uint64_t) index;
        msgpack_sbuffer_init (&sender->header);
        assert (sender->request && sender->reply);
    }
    bool rss_reset = s_node_rss_reset (self) == 0;
    int64_t syncs_before = s_node_syncs (self, NULL, NULL);
    s_stage_counts_t stages_before, stages_after;
    bool stages_known = s_node_stages (self, stages_before) == 0;
    double node_cpu_before = s_node_cpu_seconds (self);
    s_thread_cpu_t threads_before [S_MAX_THREADS], threads_after [S_MAX_THREADS];
    int threads_before_count = s_node_threads (self, threads_before, S_MAX_THREADS);
    double cpu_before = s_cpu_seconds_self ();

    spec->start_ns = s_now_ns () + 2000000;         //  2 ms to start the threads
    spec->deadline_ns = spec->seconds > 0? spec->start_ns + (int64_t) (spec->seconds * 1e9): 0;
    //  Workers each drive a contiguous group of senders: one thread per
    //  worker in closed loop, a pacer and a receiver in open loop
    int started = 0;                    //  senders whose threads run
    int worker_count = spec->threads > 0 && spec->threads < spec->senders? spec->threads: spec->senders;
    s_worker_t *workers = (s_worker_t *) calloc ((size_t) worker_count, sizeof (s_worker_t));
    int workers_started = 0;
    for (int index = 0; workers && index < worker_count; index++) {
        s_worker_t *worker = &workers [index];
        int first = index * spec->senders / worker_count;
        worker->senders = &senders [first];
        worker->count = (index + 1) * spec->senders / worker_count - first;
        worker->index = index;
        worker->workers = worker_count;
        atomic_init (&worker->pacer_done, false);
        int rc;
        if (spec->rate > 0) {
            rc = pthread_create (&worker->thread, NULL, s_receiver, worker);
            if (rc == 0 && pthread_create (&worker->pacer, NULL, s_pacer, worker) != 0) {
                atomic_store (&worker->pacer_done, true);
                pthread_join (worker->thread, NULL);
                rc = -1;
            }
        }
        else
            rc = pthread_create (&worker->thread, NULL, s_closed_loop, worker);
        if (rc != 0)
            break;
        workers_started++;
        started += worker->count;
    }
    //  Watch the node while the workers run: if it dies, they stop at once
    //  instead of waiting out the reply timeout
    int status = 0;
    bool exited = false;
    for (int index = 0; index < workers_started; index++) {
        while (!atomic_load (&workers [index].done)) {
            if (!exited && s_node_exited (self, &status)) {
                exited = true;
                atomic_store (&self->abort, true);
            }
            zclock_sleep (20);
        }
        if (spec->rate > 0)
            pthread_join (workers [index].pacer, NULL);
        pthread_join (workers [index].thread, NULL);
    }
    free (workers);
    int64_t end_ns = s_now_ns ();
    double cpu_after = s_cpu_seconds_self ();
    double node_cpu_after = s_node_cpu_seconds (self);
    int threads_after_count = s_node_threads (self, threads_after, S_MAX_THREADS);
    int64_t syncs_after = exited? -1: s_node_syncs (self, &result->sync_p50_us, &result->sync_p99_us);
    if (stages_known && !exited && s_node_stages (self, stages_after) == 0)
        s_stages_text (stages_before, stages_after, result->node_stages, sizeof (result->node_stages));

    //  Merge what the senders saw
    size_t latency_count = 0;
    int64_t last_reply_ns = spec->start_ns;
    for (int index = 0; index < started; index++) {
        s_sender_t *sender = &senders [index];
        result->issued += atomic_load (&sender->issued);
        result->success += sender->success;
        result->overloaded += sender->overloaded;
        result->not_found += sender->not_found;
        result->errors += sender->errors + sender->send_errors;
        result->lost += sender->lost;
        result->stale += sender->stale;
        result->bytes += sender->bytes;
        latency_count += sender->latency_count;
        if (sender->last_reply_ns > last_reply_ns)
            last_reply_ns = sender->last_reply_ns;
        if (!*result->error && (*sender->send_error || *sender->error))
            snprintf (result->error, sizeof (result->error), "%s",
                      *sender->send_error? sender->send_error: sender->error);
    }
    if (started < spec->senders) {
        result->errors++;
        snprintf (result->error, sizeof (result->error), "could not start the sender threads");
    }
    uint64_t *latency = (uint64_t *) malloc ((latency_count? latency_count: 1) * sizeof (uint64_t));
    size_t merged = 0;
    for (int index = 0; index < spec->senders; index++) {
        s_sender_t *sender = &senders [index];
        if (latency && sender->latency_count) {
            memcpy (latency + merged, sender->latency, sender->latency_count * sizeof (uint64_t));
            merged += sender->latency_count;
        }
        free (sender->latency);
        msgpack_sbuffer_destroy (&sender->header);
        request_destroy (&sender->request);
        reply_destroy (&sender->reply);
    }
    free (senders);
    if (latency && merged) {
        qsort (latency, merged, sizeof (uint64_t), s_compare_u64);
        //  Nearest rank
        result->p50_ms = latency [(size_t) ceil (0.50 * (double) merged) - 1] / 1e6;
        result->p99_ms = latency [(size_t) ceil (0.99 * (double) merged) - 1] / 1e6;
        result->max_ms = latency [merged - 1] / 1e6;
    }
    free (latency);

    //  Throughput is over the time from the start to the last reply (the
    //  open loop's rate is its own, over the sending time)
    result->elapsed = (last_reply_ns - spec->start_ns) / 1e9;
    if (spec->rate > 0 && spec->deadline_ns)
        result->elapsed = (spec->deadline_ns - spec->start_ns) / 1e9;
    if (result->elapsed <= 0)
        result->elapsed = (end_ns - spec->start_ns) / 1e9;
    double wall = (end_ns - spec->start_ns) / 1e9;
    result->bench_cpu = wall > 0? 100.0 * (cpu_after - cpu_before) / wall: 0;
    result->node_cpu_seconds = node_cpu_before >= 0 && node_cpu_after >= 0
                             ? node_cpu_after - node_cpu_before: -1;
    result->node_cpu = result->node_cpu_seconds >= 0 && wall > 0
                     ? 100.0 * result->node_cpu_seconds / wall: -1;
    s_node_threads_text (threads_before, threads_before_count, threads_after, threads_after_count,
                         result->success, result->node_threads, sizeof (result->node_threads));
    result->node_rss_mib = s_node_status_mib (self, "VmHWM");
    if (!rss_reset && result->node_rss_mib >= 0)
        self->rss_reset = false;
    result->syncs = syncs_before >= 0 && syncs_after >= 0? syncs_after - syncs_before: -1;

    if (spec->kind == S_KIND_ENTIRE || spec->kind == S_KIND_SEQUENCES || spec->kind == S_KIND_FILL)
        self->bytes_stored += result->bytes;
    self->failures += result->errors + result->lost;
    if (exited || s_node_exited (self, &status)) {
        char text [64];
        fprintf (stderr, "strata-bench: the node exited during the workload (%s)\n",
                 s_exit_text (status, text, sizeof (text)));
        s_node_log_tail (self, 20);
        self->node_dead = true;
        self->failures++;
    }
    return 0;
}

//  A spec with the bench's defaults
static s_spec_t
s_spec (s_bench_t *self, s_kind_t kind, int senders, int window)
{
    s_spec_t spec = {
        .kind = kind,
        .senders = senders,
        .window = window,
        .threads = self->options->threads,
        .payload_size = S_SMALL_SIZE,
        .seconds = self->options->seconds,
    };
    return spec;
}


//  --------------------------------------------------------------------------
//  Reporting

//  The columns every workload line ends with
static void
s_print_tail (const s_bench_t *self, const s_result_t *result)
{
    printf ("  bench-cpu=%.0f%%", result->bench_cpu);
    if (result->node_cpu >= 0)
        printf (" node-cpu=%.0f%%", result->node_cpu);
    if (result->node_rss_mib >= 0)
        printf (" node-rss%s=%.1fMiB", self->rss_reset? "-peak": "-hwm", result->node_rss_mib);
    if (result->syncs > 0 && result->success > 0) {
        printf (" acks/sync=%.1f", (double) result->success / (double) result->syncs);
        if (result->sync_p50_us >= 0 && result->sync_p99_us >= 0)
            printf (" sync-p50=%.2fms sync-p99=%.2fms", result->sync_p50_us / 1000.0,
                    result->sync_p99_us / 1000.0);
    }
    if (result->errors || result->lost)
        printf ("  FAILURES errors=%" PRIu64 " lost=%" PRIu64, result->errors, result->lost);
    printf ("\n");
    if (*result->error)
        printf ("    first failure: %s\n", result->error);
    fflush (stdout);
}

static const char *
s_verdict (bool met)
{
    return met? "MET": "MISSED";
}

//  Latency columns
static void
s_print_latency (const s_result_t *result)
{
    printf ("  p50=%.2fms p99=%.2fms max=%.2fms", result->p50_ms, result->p99_ms, result->max_ms);
}


//  --------------------------------------------------------------------------
//  The workloads

//  Node CPU time per success of a run in microseconds, or -1 if unknown
static double
s_cpu_per_ack_us (const s_result_t *result)
{
    return result->node_cpu_seconds >= 0 && result->success > 0
         ? 1e6 * result->node_cpu_seconds / (double) result->success: -1;
}

//  The node-CPU-per-ack column of a W1 line, with its target
static void
s_print_cpu_per_ack (const s_result_t *result)
{
    double per_ack = s_cpu_per_ack_us (result);
    if (per_ack >= 0)
        printf ("  node-cpu/ack=%.1fus target<=%.0fus %s", per_ack, S_TARGET_CPU_US,
                s_verdict (per_ack <= S_TARGET_CPU_US));
}

//  The line under a W1 or W3 line: where a write's time went in the node
static void
s_print_stages (const s_result_t *result)
{
    if (*result->node_stages) {
        printf ("    node stages p50/p99: %s\n", result->node_stages);
        fflush (stdout);
    }
}

//  The line under a W1 line: the node's CPU per ack by thread
static void
s_print_threads (const s_result_t *result)
{
    if (*result->node_threads) {
        printf ("    node-cpu/ack by thread: %s\n", result->node_threads);
        fflush (stdout);
    }
}

//  --peer redis: start redis-server the first time (its files in the data
//  dir, on the node's disk). true when it runs; else false, with the reason
//  in redis_why, printed once.
static bool
s_redis_ready (s_bench_t *self)
{
    if (self->redis_tried)
        return self->redis != NULL;
    self->redis_tried = true;
    char server [PATH_MAX];
    if (!redis_peer_find_server (server, sizeof (server))) {
        snprintf (self->redis_why, sizeof (self->redis_why),
                  "redis-server not installed (apt-get install redis-server)");
        printf ("redis peer           skipped: %s\n", self->redis_why);
        fflush (stdout);
        return false;
    }
    char dir [PATH_MAX + 8];
    snprintf (dir, sizeof (dir), "%s/redis", self->data_dir);
    //  Another process may take the probed port first: three attempts
    for (int attempt = 0; attempt < 3 && !self->redis; attempt++) {
        int port = s_free_port ();
        if (port < 0) {
            snprintf (self->redis_why, sizeof (self->redis_why), "no free loopback port");
            break;
        }
        self->redis = redis_peer_new (server, dir, port, self->redis_why, sizeof (self->redis_why));
        if (self->redis)
            s_note ("redis peer: %s on 127.0.0.1:%d (appendonly yes, appendfsync always), files in %s",
                    server, port, dir);
    }
    if (!self->redis) {
        printf ("redis peer           not available: %s\n", self->redis_why);
        fflush (stdout);
    }
    return self->redis != NULL;
}

//  The Redis peer with W1's shape (connections, in flight, seconds). Returns
//  its SET/s, or -1 (with the reason printed) when there is no figure; the
//  peer's own line goes to peer_line.
static double
s_redis_w1 (s_bench_t *self, const s_spec_t *spec, char *peer_line, size_t peer_line_size)
{
    *peer_line = 0;
    if (!self->options->peer_redis || !s_redis_ready (self))
        return -1;
    s_note ("redis peer: SET of 4 KiB values, random keys, %d connections, %d in flight each, %.0f s",
            spec->senders, spec->window, spec->seconds);
    redis_peer_result_t result;
    int rc = redis_peer_run (self->redis, spec->senders, spec->window, spec->threads, spec->seconds,
                             self->small, S_SMALL_VARIANTS, S_SMALL_SIZE, &result);
    if (rc != 0 || result.success == 0 || result.errors || result.lost) {
        snprintf (peer_line, peer_line_size, "    redis peer FAILED: %" PRIu64 " SETs answered, %" PRIu64
                  " errors, %" PRIu64 " lost: %s\n", result.success, result.errors, result.lost,
                  *result.error? result.error: "no reply");
        return -1;
    }
    double rate = result.success / result.elapsed;
    int size = snprintf (peer_line, peer_line_size,
                         "    redis peer: %d connections x %d in flight, SET 4 KiB, appendfsync always  "
                         "SET/s=%.0f  p50=%.2fms p99=%.2fms max=%.2fms  bench-cpu=%.0f%%",
                         spec->senders, spec->window, rate, result.p50_ms, result.p99_ms, result.max_ms,
                         result.client_cpu);
    if (size > 0 && (size_t) size < peer_line_size && result.server_cpu >= 0)
        size += snprintf (peer_line + size, peer_line_size - (size_t) size,
                          " redis-cpu=%.0f%% redis-cpu/set=%.1fus", result.server_cpu,
                          result.server_cpu / 100.0 * result.elapsed * 1e6 / (double) result.success);
    if (size > 0 && (size_t) size < peer_line_size && result.forks >= 0)
        snprintf (peer_line + size, peer_line_size - (size_t) size, " aof-rewrites=%" PRId64 "\n",
                  result.forks);
    else
    if (size > 0 && (size_t) size < peer_line_size)
        snprintf (peer_line + size, peer_line_size - (size_t) size, "\n");
    return rate;
}

//  Bytes of the files under path (0 if there is none); one walk at a time
static uint64_t s_tree_bytes_total;
static int
s_tree_bytes_entry (const char *path, const struct stat *status, int flag, struct FTW *ftw)
{
    (void) path; (void) ftw;
    if (flag == FTW_F)
        s_tree_bytes_total += (uint64_t) status->st_size;
    return 0;
}

static uint64_t
s_tree_bytes (const char *path)
{
    s_tree_bytes_total = 0;
    nftw (path, s_tree_bytes_entry, 16, FTW_PHYS);
    return s_tree_bytes_total;
}

//  Bytes of the node's index (index.db and its WAL), 0 if not visible
static uint64_t
s_index_bytes (const s_bench_t *self)
{
    uint64_t bytes = 0;
    const char *names [] = { "index.db", "index.db-wal" };
    for (size_t index = 0; index < 2; index++) {
        char path [PATH_MAX + 32];
        struct stat status;
        snprintf (path, sizeof (path), "%s/%s", self->node_dir, names [index]);
        if (stat (path, &status) == 0)
            bytes += (uint64_t) status.st_size;
    }
    return bytes;
}

//  --fill: store `total` segments as fast as the node takes them (small
//  payloads, random 16-64-byte keys, unified-ids interleaved from every
//  sender), in chunks of about 15 s with a progress line after each.
//  0, or -1 if the node failed.
static int
s_fill_segments (s_bench_t *self, uint64_t total)
{
    const s_options_t *options = self->options;
    s_note ("fill: storing %" PRIu64 " segments (%d-byte payloads, random %d-%d-byte keys, "
            "%d senders x %d in flight); a progress line every ~15 s",
            total, S_FILL_SIZE, S_FILL_KEY_MIN, S_FILL_KEY_MAX, options->senders, S_FILL_WINDOW);
    uint64_t index_before = s_index_bytes (self);
    uint64_t done = 0;
    uint64_t chunk = 50000;
    double first_rate = -1, last_rate = -1;
    int64_t started = s_now_ns ();
    double node_cpu_before = s_node_cpu_seconds (self);
    while (done < total && !self->node_dead) {
        uint64_t count = total - done < chunk? total - done: chunk;
        s_spec_t spec = s_spec (self, S_KIND_FILL, options->senders, S_FILL_WINDOW);
        spec.payload_size = S_FILL_SIZE;
        spec.seconds = 0;
        spec.count = (count + (uint64_t) spec.senders - 1) / (uint64_t) spec.senders;
        s_result_t result;
        if (s_run (self, &spec, &result) || self->node_dead)
            return -1;
        if (result.errors || result.lost) {
            printf ("FILL                 FAILURES errors=%" PRIu64 " lost=%" PRIu64 " after %" PRIu64
                    " segments\n    first failure: %s\n", result.errors, result.lost, done + result.success,
                    result.error);
            fflush (stdout);
            return -1;
        }
        done += result.success;
        last_rate = result.success / result.elapsed;
        if (first_rate < 0)
            first_rate = last_rate;
        double seconds = (s_now_ns () - started) / 1e9;
        uint64_t index_bytes = s_index_bytes (self);
        s_note ("fill: %" PRIu64 " / %" PRIu64 " segments (%.0f %%) in %.0f s: %.0f/s now, %.0f/s on average,"
                " about %.1f min left; index %.0f MB", done, total, 100.0 * (double) done / (double) total,
                seconds, last_rate, done / seconds, done < total? (double) (total - done) / last_rate / 60: 0.0,
                s_mb (index_bytes));
        double next = last_rate * 15;
        chunk = next < 10000? 10000: next > 2000000? 2000000: (uint64_t) next;
    }
    double seconds = (s_now_ns () - started) / 1e9;
    double node_cpu_after = s_node_cpu_seconds (self);
    uint64_t index_bytes = s_index_bytes (self);
    self->filled_segments = done;
    printf ("FILL                 segments=%" PRIu64 " time=%.1fs rate=%.0f/s (first chunk %.0f/s, last %.0f/s)",
            done, seconds, done / seconds, first_rate, last_rate);
    if (node_cpu_before >= 0 && node_cpu_after >= 0)
        printf (" node-cpu/segment=%.1fus", 1e6 * (node_cpu_after - node_cpu_before) / (double) done);
    if (index_bytes)
        printf ("  index=%.0fMB (%.0f B/segment) node-data=%.0fMB", s_mb (index_bytes),
                (double) (index_bytes - index_before) / (double) done, s_mb (s_tree_bytes (self->node_dir)));
    printf ("\n");
    fflush (stdout);
    return 0;
}

//  The fields of the bench that belong to one node we started and our
//  connections to it: --fill swaps a second, fresh node in and out
typedef struct {
    pid_t node_pid;
    char writer [300], reader [300];
    char node_dir [PATH_MAX], log_path [PATH_MAX];
    s_client_t **clients;
    int client_count;
    s_client_t *control;
    bool rss_reset;
} s_node_slot_t;

static int s_clients_new (s_bench_t *self);
static void s_clients_destroy (s_bench_t *self);
static int s_store (s_bench_t *self, s_kind_t kind, uint64_t count_per_sender, uint64_t *generation_p);

//  Exchange the node the bench works with and the one in slot
static void
s_node_swap (s_bench_t *self, s_node_slot_t *slot)
{
    s_node_slot_t current;
    current.node_pid = self->node_pid;
    memcpy (current.writer, self->writer, sizeof (current.writer));
    memcpy (current.reader, self->reader, sizeof (current.reader));
    memcpy (current.node_dir, self->node_dir, sizeof (current.node_dir));
    memcpy (current.log_path, self->log_path, sizeof (current.log_path));
    current.clients = self->clients;
    current.client_count = self->client_count;
    current.control = self->control;
    current.rss_reset = self->rss_reset;
    self->node_pid = slot->node_pid;
    memcpy (self->writer, slot->writer, sizeof (self->writer));
    memcpy (self->reader, slot->reader, sizeof (self->reader));
    memcpy (self->node_dir, slot->node_dir, sizeof (self->node_dir));
    memcpy (self->log_path, slot->log_path, sizeof (self->log_path));
    self->clients = slot->clients;
    self->client_count = slot->client_count;
    self->control = slot->control;
    self->rss_reset = slot->rss_reset;
    *slot = current;
}

//  Start a fresh node beside the filled one, in slot: its data in
//  <data dir>/node-fresh, its log node-fresh.log, connected and warmed up
//  as the first. 0, or -1 (then nothing is left running).
static int
s_fresh_node_start (s_bench_t *self, s_node_slot_t *slot)
{
    memset (slot, 0, sizeof (*slot));
    s_node_swap (self, slot);           //  the filled node waits in slot
    snprintf (self->node_dir, sizeof (self->node_dir), "%s/node-fresh", self->data_dir);
    snprintf (self->log_path, sizeof (self->log_path), "%s/node-fresh.log", self->data_dir);
    self->rss_reset = true;
    int rc = s_node_start (self);
    if (rc == 0 && s_clients_new (self))
        rc = -1;
    if (rc == 0 && s_wait_ready (self, S_READY_TIMEOUT_MS))
        rc = -1;
    uint64_t generation;
    if (rc == 0 && s_warm_up (self, false))
        rc = -1;
    if (rc == 0 && s_store (self, S_KIND_ENTIRE, 32, &generation)) {
        fprintf (stderr, "strata-bench: the fresh node did not store the warm-up requests\n");
        rc = -1;
    }
    //  Then W1 for up to 2 s, untimed: "fresh" is to mean few segments,
    //  not just started (the index's WAL file grows to its working size
    //  in the first seconds, and a growing file costs every sync more)
    if (rc == 0) {
        s_note ("W1 fresh beside it: a new node, warmed up with W1 for %.0f s",
                self->options->seconds < 2? self->options->seconds: 2.0);
        s_spec_t spec = s_spec (self, S_KIND_ENTIRE, self->options->senders,
                                self->options->windows [self->options->window_count - 1]);
        spec.seconds = spec.seconds < 2? spec.seconds: 2;
        s_result_t result;
        if (s_run (self, &spec, &result) || self->node_dead || result.errors || result.lost) {
            fprintf (stderr, "strata-bench: W1 on the fresh node: %" PRIu64 " errors, %" PRIu64 " lost%s%s\n",
                     result.errors, result.lost, *result.error? ": ": "", result.error);
            rc = -1;
        }
    }
    if (rc) {
        fprintf (stderr, "strata-bench: the fresh node beside the filled one did not start\n");
        s_node_log_tail (self, 20);
        if (self->node_pid) {
            kill (self->node_pid, SIGKILL);
            waitpid (self->node_pid, NULL, 0);
            self->node_pid = 0;
        }
        s_clients_destroy (self);
    }
    s_node_swap (self, slot);           //  the filled node back; the fresh one in slot
    return rc;
}

//  Stop the fresh node in slot (SIGTERM, exit code 0 expected)
static void
s_fresh_node_stop (s_bench_t *self, s_node_slot_t *slot)
{
    s_node_swap (self, slot);
    if (self->node_pid && s_node_stop (self) != 0) {
        s_node_log_tail (self, 20);
        self->failures++;
    }
    s_clients_destroy (self);
    s_node_swap (self, slot);
}

//  One W1 run for W1 filled; its acks/s, or -1 if the run did not happen
static double
s_w1_filled_run (s_bench_t *self, int window, const char *label)
{
    s_spec_t spec = s_spec (self, S_KIND_ENTIRE, self->options->senders, window);
    s_note ("%s: 4 KiB archive-key-entire, %d senders, window %d, %.0f s", label, spec.senders,
            spec.window, spec.seconds);
    s_result_t result;
    if (s_run (self, &spec, &result) || self->node_dead)
        return -1;
    double rate = result.success / result.elapsed;
    printf ("%-19s senders=%d window=%d  acks/s=%.0f", label, spec.senders, spec.window, rate);
    s_print_latency (&result);
    s_print_cpu_per_ack (&result);
    s_print_tail (self, &result);
    s_print_threads (&result);
    return rate;
}

//  After the fill: W1 on the filled node against W1 on a fresh node
//  started beside it now, in turn (filled, fresh, fresh, filled for each
//  window), so that both see the same machine: other load on it shifts
//  both alike. Without a node of our own (--writer) the fresh figure is
//  W1's from before the fill.
static void
s_workload_w1_filled (s_bench_t *self)
{
    const s_options_t *options = self->options;
    s_node_slot_t fresh_node;
    bool beside = self->node_pid && s_fresh_node_start (self, &fresh_node) == 0;
    if (self->node_pid && !beside) {
        self->failures++;
        printf ("W1 filled            not available: the fresh node beside the filled one did not start\n");
        return;
    }
    for (int which = 0; which < options->window_count && !self->node_dead; which++) {
        int window = options->windows [which];
        double filled = 0, fresh = 0;
        int filled_runs = 0, fresh_runs = 0;
        for (int turn = 0; turn < (beside? 4: 1) && !self->node_dead; turn++) {
            bool on_fresh = turn == 1 || turn == 2;
            if (on_fresh)
                s_node_swap (self, &fresh_node);
            double rate = s_w1_filled_run (self, window, on_fresh? "W1 fresh beside it": "W1 filled");
            if (on_fresh)
                s_node_swap (self, &fresh_node);
            if (rate < 0)
                break;
            if (on_fresh) {
                fresh += rate;
                fresh_runs++;
            }
            else {
                filled += rate;
                filled_runs++;
            }
        }
        if (!beside && filled_runs) {
            fresh = self->fresh_rates [which];
            fresh_runs = 1;
        }
        if (!filled_runs || !fresh_runs || fresh <= 0)
            break;
        filled /= filled_runs;
        fresh /= fresh_runs;
        double ratio = filled / fresh;
        printf ("W1 filled/fresh      window=%d  filled=%.0f fresh=%.0f (%s) before-the-fill=%.0f"
                "  ratio=%.2f target>=%.1fxfresh %s\n", window, filled, fresh,
                beside? "means of 2 runs each, in turn": "fresh: W1 before the fill",
                self->fresh_rates [which], ratio, S_TARGET_FILLED, s_verdict (ratio >= S_TARGET_FILLED));
        fflush (stdout);
        if (ratio > self->filled_ratio) {
            self->filled_ratio = ratio;
            self->filled_window = window;
        }
    }
    if (beside)
        s_fresh_node_stop (self, &fresh_node);
}

//  W1 for every window: on a fresh node (with the Redis peer after each
//  run under --peer redis), then, under --fill N, again after storing N
//  segments, against the fresh figure of the same window
static void
s_workload_w1 (s_bench_t *self)
{
    const s_options_t *options = self->options;
    for (int which = 0; which < options->window_count && !self->node_dead; which++) {
        s_spec_t spec = s_spec (self, S_KIND_ENTIRE, options->senders, options->windows [which]);
        s_note ("W1: 4 KiB archive-key-entire, %d senders, window %d, %.0f s",
                spec.senders, spec.window, spec.seconds);
        s_result_t result;
        if (s_run (self, &spec, &result))
            return;
        double rate = result.success / result.elapsed;
        if (rate > self->w1_rate)
            self->w1_rate = rate;
        self->fresh_rates [which] = rate;
        char peer_line [600];
        double redis_rate = self->node_dead? -1: s_redis_w1 (self, &spec, peer_line, sizeof (peer_line));
        printf ("W1 4KiB entire      senders=%d window=%d  acks/s=%.0f", spec.senders, spec.window, rate);
        s_print_latency (&result);
        printf ("  target>=30000  %s", s_verdict (rate >= 30000));
        if (redis_rate > 0) {
            double ratio = rate / redis_rate;
            printf ("  redis=%.0fSET/s ratio=%.2f target>=%.1fxredis %s", redis_rate, ratio, S_TARGET_REDIS,
                    s_verdict (ratio >= S_TARGET_REDIS));
            if (ratio > self->best_redis_ratio) {
                self->best_redis_ratio = ratio;
                self->best_redis_window = spec.window;
            }
        }
        double per_ack = s_cpu_per_ack_us (&result);
        s_print_cpu_per_ack (&result);
        if (per_ack >= 0 && (self->best_cpu_per_ack_us < 0 || per_ack < self->best_cpu_per_ack_us)) {
            self->best_cpu_per_ack_us = per_ack;
            self->best_cpu_window = spec.window;
        }
        s_print_tail (self, &result);
        s_print_threads (&result);
        s_print_stages (&result);
        if (*peer_line) {
            printf ("%s", peer_line);
            fflush (stdout);
        }
    }
    if (!options->fill || self->node_dead)
        return;
    if (s_fill_segments (self, options->fill))
        return;
    s_workload_w1_filled (self);
}

//  The issue's targets, one line each, from what the workloads measured
static void
s_print_targets (const s_bench_t *self)
{
    const s_options_t *options = self->options;
    printf ("target W1/redis>=%.1f          ", S_TARGET_REDIS);
    if (self->best_redis_ratio >= 0)
        printf ("ratio=%.2f (best window: %d)  %s\n", self->best_redis_ratio, self->best_redis_window,
                s_verdict (self->best_redis_ratio >= S_TARGET_REDIS));
    else
        printf ("not measured: %s\n", !options->peer_redis? "give --peer redis"
                                    : *self->redis_why? self->redis_why: "no Redis figure (see above)");
    printf ("target node-cpu/ack<=%.0fus      ", S_TARGET_CPU_US);
    if (self->best_cpu_per_ack_us >= 0)
        printf ("%.1fus (best window: %d)  %s\n", self->best_cpu_per_ack_us, self->best_cpu_window,
                s_verdict (self->best_cpu_per_ack_us <= S_TARGET_CPU_US));
    else
        printf ("not measured: the node's process is not the bench's (--writer)\n");
    printf ("target W3-p99<=%.0fms            ", S_TARGET_W3_P99_MS);
    if (self->w3_p99_ms >= 0)
        printf ("p99=%.2fms at %.0f req/s  %s\n", self->w3_p99_ms, self->w3_rate,
                s_verdict (self->w3_p99_ms <= S_TARGET_W3_P99_MS));
    else
        printf ("not measured: %s\n", options->run [S_W3]? "W3 gave no figure": "W3 not in --workloads");
    printf ("target W1-filled/fresh>=%.1f   ", S_TARGET_FILLED);
    if (self->filled_ratio >= 0 && self->filled_segments)
        printf ("ratio=%.2f (best window: %d) after %" PRIu64 " segments%s  %s\n", self->filled_ratio,
                self->filled_window, self->filled_segments,
                self->filled_segments < 10000000? " (the target is for 10,000,000)": "",
                s_verdict (self->filled_ratio >= S_TARGET_FILLED));
    else
        printf ("not measured: %s\n", options->fill? "the fill did not finish"
                                    : "give --fill N (make bench-fill)");
    fflush (stdout);
}

//  The scraper: GET /metrics every scrape_ms, as Prometheus would (one
//  HTTP/1.0 request per connection; only the status line is looked at)
static void *
s_scraper (void *args)
{
    s_bench_t *self = (s_bench_t *) args;
    const char *request = "GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n";
    char buffer [65536];
    while (!atomic_load (&self->scrape_stop)) {
        int64_t started = zclock_mono ();
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) self->metrics_port) };
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        bool answered = false;
        if (fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address) == 0
        &&  write (fd, request, strlen (request)) == (ssize_t) strlen (request)) {
            ssize_t size, total = 0;
            while ((size = read (fd, buffer, sizeof buffer)) > 0) {
                if (total == 0 && size >= 12 && memcmp (buffer + 9, "200", 3) == 0)
                    answered = true;
                total += size;
            }
            self->scrape_bytes += (uint64_t) total;
        }
        if (fd >= 0)
            close (fd);
        if (answered)
            self->scrapes++;
        else
            self->scrape_failures++;
        int64_t wait = self->options->scrape_ms - (zclock_mono () - started);
        if (wait > 0)
            zclock_sleep ((int) wait);
    }
    return NULL;
}

//  W1 in turn without and with the scraper, same window: the ratio
static void
s_workload_w1_scrape (s_bench_t *self)
{
    const s_options_t *options = self->options;
    int window = options->windows [options->window_count - 1];
    double rates [2] = { 0, 0 };
    int runs [2] = { 0, 0 };
    for (int round = 0; round < 4 && !self->node_dead; round++) {
        bool scraping = round % 2 == 1;
        s_spec_t spec = s_spec (self, S_KIND_ENTIRE, options->senders, window);
        s_note ("W1 %s scraping: 4 KiB archive-key-entire, %d senders, window %d, %.0f s",
                scraping? "with": "without", spec.senders, spec.window, spec.seconds);
        pthread_t scraper;
        uint64_t scrapes_before = self->scrapes;
        if (scraping) {
            atomic_store (&self->scrape_stop, false);
            if (pthread_create (&scraper, NULL, s_scraper, self) != 0) {
                printf ("strata-bench: cannot start the scraper thread\n");
                return;
            }
        }
        s_result_t result;
        int rc = s_run (self, &spec, &result);
        if (scraping) {
            atomic_store (&self->scrape_stop, true);
            pthread_join (scraper, NULL);
        }
        if (rc)
            return;
        double rate = result.success / result.elapsed;
        rates [scraping] += rate;
        runs [scraping]++;
        printf ("W1 4KiB entire      senders=%d window=%d  acks/s=%.0f", spec.senders, spec.window, rate);
        s_print_latency (&result);
        if (scraping)
            printf ("  scrape every %d ms: %" PRIu64 " scrapes", options->scrape_ms, self->scrapes - scrapes_before);
        else
            printf ("  no scrape");
        printf ("\n");
        fflush (stdout);
    }
    if (runs [0] && runs [1])
        printf ("W1 with a scrape every %d ms / without: %.0f / %.0f acks/s = ratio %.3f "
                "(%" PRIu64 " scrapes, %" PRIu64 " failed, %.0f KiB each)\n", options->scrape_ms,
                rates [1] / runs [1], rates [0] / runs [0], (rates [1] / runs [1]) / (rates [0] / runs [0]),
                self->scrapes, self->scrape_failures,
                self->scrapes? (double) self->scrape_bytes / (double) self->scrapes / 1024: 0.0);
    if (self->scrape_failures)
        self->failures++;
}

static void
s_workload_w3 (s_bench_t *self)
{
    const s_options_t *options = self->options;
    double peak = options->w3_rate > 0? options->w3_rate * 2: self->w1_rate;
    if (peak <= 0) {
        //  W1 was not run: measure its peak first, quietly
        s_note ("W3: measuring W1's rate first (window %d)", options->windows [options->window_count - 1]);
        s_spec_t probe = s_spec (self, S_KIND_ENTIRE, options->senders,
                                 options->windows [options->window_count - 1]);
        s_result_t result;
        if (s_run (self, &probe, &result) || self->node_dead)
            return;
        peak = result.success / result.elapsed;
    }
    if (peak < 2) {
        printf ("W3 latency @half W1  not available: W1's rate is %.0f acks/s\n", peak);
        return;
    }
    s_spec_t spec = s_spec (self, S_KIND_ENTIRE, options->senders, S_OPEN_LOOP_CAP);
    spec.rate = peak / 2 / spec.senders;
    s_note ("W3: 4 KiB entire, open loop at %.0f requests/s (half of %.0f), %d senders, %.0f s",
            peak / 2, peak, spec.senders, spec.seconds);
    s_result_t result;
    if (s_run (self, &spec, &result))
        return;
    printf ("W3 latency @half W1  senders=%d rate=%.0f/s acks/s=%.0f", spec.senders, peak / 2,
            result.success / result.elapsed);
    s_print_latency (&result);
    printf ("  target p99<=2ms  %s", s_verdict (result.p99_ms <= 2.0 && result.success > 0));
    s_print_tail (self, &result);
    s_print_stages (&result);
    if (result.success > 0) {
        self->w3_p99_ms = result.p99_ms;
        self->w3_rate = peak / 2;
    }
}

//  The raw baseline of W2: one thread appending 1 MiB blocks to a file in
//  the data dir with an fdatasync every 16 MiB, for `seconds` (and at
//  least 64 MiB). Returns decimal MB/s, or -1 on an I/O error.
static double
s_baseline (s_bench_t *self, double seconds)
{
    char path [PATH_MAX + 32];
    snprintf (path, sizeof (path), "%s/baseline.dat", self->data_dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        s_note ("baseline: cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    int64_t start = s_now_ns ();
    int64_t deadline = start + (int64_t) (seconds * 1e9);
    uint64_t bytes = 0;
    bool failed = false;
    while (!failed && (s_now_ns () < deadline || bytes < 64 * 1024 * 1024)) {
        for (size_t block = 0; block < S_SEQUENCES && !failed; block++) {
            const uint8_t *data = self->large + block * S_LARGE_SIZE;
            size_t done = 0;
            while (done < S_LARGE_SIZE) {
                ssize_t written = write (fd, data + done, S_LARGE_SIZE - done);
                if (written < 0 && errno == EINTR)
                    continue;
                if (written <= 0) {
                    failed = true;
                    break;
                }
                done += (size_t) written;
            }
        }
        if (!failed && fdatasync (fd) != 0)
            failed = true;
        if (!failed)
            bytes += (uint64_t) S_SEQUENCES * S_LARGE_SIZE;
    }
    double elapsed = (s_now_ns () - start) / 1e9;
    if (failed)
        s_note ("baseline: write to %s failed: %s", path, strerror (errno));
    close (fd);
    unlink (path);
    return failed? -1: s_mb (bytes) / elapsed;
}

static void
s_workload_w2 (s_bench_t *self)
{
    const s_options_t *options = self->options;
    for (int which = 0; which < options->window_count && !self->node_dead; which++) {
        //  Each run is paired with a baseline measured just before it, so
        //  that both see the disk in the same state
        s_note ("W2: raw baseline (1 MiB writes, fdatasync every 16 MiB) for %.0f s", options->seconds);
        double baseline = s_baseline (self, options->seconds);
        s_spec_t spec = s_spec (self, S_KIND_SEQUENCES, options->senders, options->windows [which]);
        s_note ("W2: 1 MiB sequences of 16 MiB segments, %d senders, window %d, %.0f s",
                spec.senders, spec.window, spec.seconds);
        s_result_t result;
        if (s_run (self, &spec, &result))
            return;
        double rate = s_mb (result.bytes) / result.elapsed;
        printf ("W2 1MiB sequences   senders=%d window=%d  MB/s=%.1f baseline-MB/s=%.1f", spec.senders,
                spec.window, rate, baseline);
        if (baseline > 0)
            printf (" ratio=%.2f", rate / baseline);
        s_print_latency (&result);
        printf ("  target>=0.90xbaseline  %s", baseline > 0? s_verdict (rate >= 0.9 * baseline): "NO-BASELINE");
        s_print_tail (self, &result);
    }
}

//  Store what a retrieval workload reads. Returns 0 when everything was
//  stored; the generation used is in *generation_p.
static int
s_store (s_bench_t *self, s_kind_t kind, uint64_t count_per_sender, uint64_t *generation_p)
{
    s_spec_t spec = s_spec (self, kind, self->options->senders, 8);
    spec.seconds = 0;
    spec.count = count_per_sender;
    s_result_t result;
    if (s_run (self, &spec, &result))
        return -1;
    *generation_p = spec.generation;
    if (result.errors || result.lost) {
        s_note ("set-up failed: errors=%" PRIu64 " lost=%" PRIu64 ": %s",
                result.errors, result.lost, result.error);
        return -1;
    }
    return 0;
}

//  Retrieve one stored segment through the control client to see whether
//  the reader serves retrievals. Returns 0 if it does, else -1 with the
//  reason in why.
static int
s_probe_reader (s_bench_t *self, uint64_t generation, char *why, size_t why_size)
{
    s_client_t *client = self->control;
    request_t *request = request_new ();
    reply_t *reply = reply_new ();
    msgpack_sbuffer header;
    msgpack_sbuffer_init (&header);
    assert (request && reply);
    request->type = MSG_RETRIEVE_KEY_START;
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
                     | FIELD_COLLECTION_ID | FIELD_KEY | FIELD_SEGMENT_NUM;
    snprintf (request->message_id, sizeof (request->message_id), "0.%" PRIu64 ".1", ++self->control_seq);
    snprintf (request->client_tag, sizeof (request->client_tag), "bench-control");
    snprintf (request->client_address, sizeof (request->client_address), "%s", client->address);
    request->collection_id = S_COLLECTION;
    request->segment_num = 1;
    s_set_key (request, generation, 0);
    int rc = -1;
    snprintf (why, why_size, "no reply from the reader within 10 s");
    if (request_encode (request, &header) == 0
    &&  s_send (client->reader, &header, NULL, 0, 1) == 0) {
        int64_t deadline = s_now_ns () + 10000000000LL;
        while (s_now_ns () < deadline) {
            zmq_pollitem_t item = { zsock_resolve (client->pull), 0, ZMQ_POLLIN, 0 };
            if (zmq_poll (&item, 1, 100) <= 0)
                continue;
            zmsg_t *msg = zmsg_recv (client->pull);
            zframe_t *first = msg? zmsg_first (msg): NULL;
            if (first && reply_decode (reply, zframe_data (first), zframe_size (first)) == 0
            &&  streq (reply->message_id, request->message_id)) {
                if (reply->result == RESULT_SUCCESS)
                    rc = 0;
                else
                    snprintf (why, why_size, "the reader answered %s (%s)", result_name (reply->result),
                              *reply->error_message? reply->error_message: "no error-message");
                zmsg_destroy (&msg);
                break;
            }
            zmsg_destroy (&msg);
        }
    }
    msgpack_sbuffer_destroy (&header);
    reply_destroy (&reply);
    request_destroy (&request);
    return rc;
}

//  W4 and W5
static void
s_workload_retrieval (s_bench_t *self, bool large)
{
    const s_options_t *options = self->options;
    const char *label = large? "W5 1MiB retrieval   ": "W4 4KiB retrieval   ";
    uint64_t per_sender = large
        ? (options->large_segments + (uint64_t) options->senders - 1) / (uint64_t) options->senders
        : (options->small_keys + (uint64_t) options->senders - 1) / (uint64_t) options->senders;
    s_note ("%s: storing %" PRIu64 " %s", large? "W5": "W4", per_sender * (uint64_t) options->senders,
            large? "segments of 16 MiB": "segments of 4 KiB");
    uint64_t generation = 0;
    if (s_store (self, large? S_KIND_SEQUENCES: S_KIND_ENTIRE, per_sender, &generation)) {
        printf ("%s not available: could not store the data to read\n", label);
        return;
    }
    char why [300];
    if (s_probe_reader (self, generation, why, sizeof (why)) != 0) {
        printf ("%s not available: %s\n", label, why);
        fflush (stdout);
        return;
    }
    if (s_warm_up (self, true)) {
        self->failures++;
        return;
    }
    for (int which = 0; which < options->window_count && !self->node_dead; which++) {
        s_spec_t spec = s_spec (self, large? S_KIND_RETRIEVE_LARGE: S_KIND_RETRIEVE_SMALL,
                                options->senders, options->windows [which]);
        spec.store_generation = generation;
        spec.key_space = per_sender * (uint64_t) options->senders;
        s_note ("%s: retrieval, %d readers, window %d, %.0f s", large? "W5": "W4",
                spec.senders, spec.window, spec.seconds);
        s_result_t result;
        if (s_run (self, &spec, &result))
            return;
        if (result.not_found) {
            //  Everything was stored and acknowledged: not-found is a failure
            self->failures += result.not_found;
            result.errors += result.not_found;
            if (!*result.error)
                snprintf (result.error, sizeof (result.error), "%" PRIu64 " not-found replies for stored segments",
                          result.not_found);
        }
        if (large) {
            double rate = (double) result.bytes / result.elapsed / 1e9;
            printf ("%s readers=%d window=%d  GB/s=%.2f replies/s=%.0f", label, spec.senders, spec.window,
                    rate, result.success / result.elapsed);
            s_print_latency (&result);
            printf ("  target>=1GB/s  %s", s_verdict (rate >= 1.0));
        }
        else {
            double rate = result.success / result.elapsed;
            printf ("%s readers=%d window=%d  replies/s=%.0f", label, spec.senders, spec.window, rate);
            s_print_latency (&result);
            printf ("  target>=30000  %s", s_verdict (rate >= 30000));
        }
        s_print_tail (self, &result);
    }
}

static void
s_workload_overload (s_bench_t *self)
{
    const s_options_t *options = self->options;
    s_spec_t spec = s_spec (self, S_KIND_ENTIRE, options->overload_senders, options->overload_window);
    spec.payload_size = S_LARGE_SIZE;
    spec.allow_overloaded = true;
    s_note ("OVERLOAD: 1 MiB entire, %d senders, window %d, %.0f s", spec.senders, spec.window, spec.seconds);
    s_result_t result;
    if (s_run (self, &spec, &result))
        return;
    printf ("OVERLOAD 1MiB entire senders=%d window=%d  acks/s=%.0f MB/s=%.1f overloaded=%" PRIu64,
            spec.senders, spec.window, result.success / result.elapsed, s_mb (result.bytes) / result.elapsed,
            result.overloaded);
    if (result.node_rss_mib >= 0)
        printf ("  node-rss-peak=%.1fMiB  target<128MiB  %s", result.node_rss_mib,
                s_verdict (result.node_rss_mib < S_TARGET_RSS_MIB));
    else
        printf ("  node-rss-peak=unknown (external node)");
    s_print_tail (self, &result);
}

static void
s_workload_restart (s_bench_t *self)
{
    const s_options_t *options = self->options;
    if (!self->node_pid) {
        printf ("RESTART              not available: the node was not started by the bench\n");
        return;
    }
    uint64_t wanted = (uint64_t) (options->restart_gib * 1024 * 1024 * 1024);
    if (self->bytes_stored < wanted) {
        uint64_t segment = (uint64_t) S_SEQUENCES * S_LARGE_SIZE;
        uint64_t segments = (wanted - self->bytes_stored + segment - 1) / segment;
        uint64_t per_sender = (segments + (uint64_t) options->senders - 1) / (uint64_t) options->senders;
        s_note ("RESTART: storing %.2f GiB more first", (double) (per_sender * (uint64_t) options->senders * segment) / S_MIB / 1024);
        uint64_t generation;
        if (s_store (self, S_KIND_SEQUENCES, per_sender, &generation)) {
            printf ("RESTART              not available: could not store the data\n");
            return;
        }
    }
    s_note ("RESTART: kill -9 the node holding %.2f GiB, restart it, wait for ping",
            (double) self->bytes_stored / S_MIB / 1024);
    kill (self->node_pid, SIGKILL);
    waitpid (self->node_pid, NULL, 0);
    self->node_pid = 0;
    //  A fresh control client, quick to reconnect, so the measurement is
    //  not a ZeroMQ reconnect interval
    s_client_t *control = self->control;
    s_client_t *fresh = (s_client_t *) calloc (1, sizeof (s_client_t));
    assert (fresh);
    fresh->pull = control->pull;
    snprintf (fresh->address, sizeof (fresh->address), "%s", control->address);
    fresh->writer = s_push_new (self->writer, 2);
    fresh->reader = s_push_new (self->reader, 2);
    self->control = fresh;
    int64_t start = s_now_ns ();
    int rc = s_node_spawn (self);
    if (rc == 0)
        rc = s_wait_ready (self, S_READY_TIMEOUT_MS);
    double ready = (s_now_ns () - start) / 1e9;
    zsock_destroy (&control->writer);
    zsock_destroy (&control->reader);
    free (control);
    if (rc != 0) {
        printf ("RESTART after SIGKILL  stored=%.2fGiB  FAILURES: the node did not answer ping within %d s\n",
                (double) self->bytes_stored / S_MIB / 1024, S_READY_TIMEOUT_MS / 1000);
        s_node_log_tail (self, 20);
        self->failures++;
        self->node_dead = !self->node_pid;
        return;
    }
    printf ("RESTART after SIGKILL  stored=%.2fGiB  ready=%.3fs  target<=1s  %s\n",
            (double) self->bytes_stored / S_MIB / 1024, ready,
            self->bytes_stored >= 4ULL << 30? s_verdict (ready <= 1.0)
            : ready <= 1.0? "MET(<4GiB stored)": "MISSED(<4GiB stored)");
    fflush (stdout);
}


//  COMPACT: a compaction of at least 1 GiB under W1

//  The compaction request, in its own thread and with its own sockets
typedef struct {
    s_bench_t *bench;
    s_client_t *client;
    int rc;                             //  0 once a success reply came
    uint64_t files, bytes;              //  from compact-reply
    atomic_bool done;
    int64_t ended_ns;
} s_compact_run_t;

static void *
s_compact_thread (void *args)
{
    s_compact_run_t *run = (s_compact_run_t *) args;
    reply_t *reply = reply_new ();
    run->rc = -1;
    if (reply && s_control (run->bench, run->client, false, MSG_COMPACT, 3600 * 1000, reply) == 0
    &&  reply->result == RESULT_SUCCESS) {
        run->rc = 0;
        run->files = reply->files_compacted;
        run->bytes = reply->bytes_reclaimed;
    }
    run->ended_ns = s_now_ns ();
    reply_destroy (&reply);
    atomic_store (&run->done, true);
    return NULL;
}

//  Bytes of each value file of the node now: ids into ids, sizes into
//  sizes (room for max); returns the count
static size_t
s_value_files (s_bench_t *self, uint64_t *ids, uint64_t *sizes, size_t max)
{
    size_t count = 0;
    char directory [PATH_MAX + 32];
    snprintf (directory, sizeof (directory), "%s/volume0/values", self->node_dir);
    DIR *handle = opendir (directory);
    if (!handle)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (handle)) && count < max) {
        if (strlen (entry->d_name) != 20 || strcmp (entry->d_name + 16, ".val"))
            continue;
        char path [PATH_MAX + 64];
        snprintf (path, sizeof (path), "%s/%s", directory, entry->d_name);
        struct stat status;
        if (stat (path, &status) == 0) {
            ids [count] = strtoull (entry->d_name, NULL, 16);
            sizes [count++] = (uint64_t) status.st_size;
        }
    }
    closedir (handle);
    return count;
}

//  Delete every other key of a store generation (specific tombstones),
//  one request at a time through client. 0 or -1.
static int
s_delete_half (s_bench_t *self, s_client_t *client, uint64_t generation, uint64_t keys)
{
    request_t *request = request_new ();
    reply_t *reply = reply_new ();
    msgpack_sbuffer header;
    msgpack_sbuffer_init (&header);
    int rc = request && reply? 0: -1;
    for (uint64_t key_number = 0; key_number < keys && rc == 0; key_number += 2) {
        request_reset (request);
        request->type = MSG_DESTROY_KEY;
        request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS
                         | FIELD_COLLECTION_ID | FIELD_KEY | FIELD_UNIFIED_ID | FIELD_TIMESTAMP
                         | FIELD_SEGMENT_NUM | FIELD_SOURCE_NODE_NAME | FIELD_UNIFIED_ID_TO_DELETE;
        snprintf (request->message_id, sizeof (request->message_id), "0.%" PRIu64 ".1", ++self->control_seq);
        snprintf (request->client_tag, sizeof (request->client_tag), "bench-delete");
        snprintf (request->client_address, sizeof (request->client_address), "%s", client->address);
        request->collection_id = S_COLLECTION;
        s_set_key (request, generation, key_number);
        request->unified_id_to_delete = s_unified_id (self, generation, key_number);
        request->unified_id = request->unified_id_to_delete + 1;
        request->timestamp = self->timestamp;
        request->segment_num = 1;
        snprintf (request->source_node_name, sizeof (request->source_node_name), "bench");
        msgpack_sbuffer_clear (&header);
        rc = request_encode (request, &header) == 0
           && s_send (client->writer, &header, NULL, 0, 1) == 0? 0: -1;
        int64_t deadline = s_now_ns () + 10000000000LL;
        while (rc == 0) {
            int64_t left_ms = (deadline - s_now_ns ()) / 1000000LL;
            zmq_pollitem_t item = { zsock_resolve (client->pull), 0, ZMQ_POLLIN, 0 };
            if (left_ms <= 0 || zmq_poll (&item, 1, (long) left_ms) <= 0) {
                rc = -1;
                break;
            }
            zmsg_t *msg = zmsg_recv (client->pull);
            zframe_t *first = msg? zmsg_first (msg): NULL;
            bool ours = first && reply_decode (reply, zframe_data (first), zframe_size (first)) == 0
                     && streq (reply->message_id, request->message_id);
            zmsg_destroy (&msg);
            if (ours) {
                if (reply->result != RESULT_SUCCESS)
                    rc = -1;
                break;
            }
        }
    }
    msgpack_sbuffer_destroy (&header);
    request_destroy (&request);
    reply_destroy (&reply);
    return rc;
}

static void
s_workload_compact (s_bench_t *self)
{
    const s_options_t *options = self->options;
    bool quick = options->small_keys < 4096;
    s_spec_t w1 = s_spec (self, S_KIND_ENTIRE, options->senders, options->windows [options->window_count - 1]);
    s_note ("COMPACT: W1 alone (window %d, %.0f s)", w1.window, w1.seconds);
    s_result_t alone;
    if (s_run (self, &w1, &alone) || self->node_dead)
        return;

    //  1 MiB objects until the first value file (1100 MiB) closed, and a
    //  bit more
    uint64_t mib = quick? 48: 1300;
    s_spec_t fill = s_spec (self, S_KIND_ENTIRE, options->senders, 8);
    fill.payload_size = S_LARGE_SIZE;
    fill.seconds = 0;
    fill.count = (mib + (uint64_t) options->senders - 1) / (uint64_t) options->senders;
    s_note ("COMPACT: storing %" PRIu64 " MiB of 1 MiB objects, then deleting every other one",
            fill.count * (uint64_t) options->senders);
    s_result_t stored;
    if (s_run (self, &fill, &stored) || self->node_dead || stored.errors || stored.lost) {
        printf ("COMPACT  set-up failed: %s\n", stored.error);
        return;
    }
    s_client_t *client = s_client_new (self->writer, self->reader);
    if (!client || s_delete_half (self, client, fill.generation, fill.count * (uint64_t) options->senders)) {
        printf ("COMPACT  set-up failed: deleting did not succeed\n");
        self->failures++;
        if (client)
            s_client_destroy (&client);
        return;
    }
    uint64_t ids_before [4096], sizes_before [4096], ids_after [4096], sizes_after [4096];
    size_t before = s_value_files (self, ids_before, sizes_before, 4096);

    s_compact_run_t run = { .bench = self, .client = client };
    atomic_init (&run.done, false);
    pthread_t thread;
    int64_t started_ns = s_now_ns ();
    if (pthread_create (&thread, NULL, s_compact_thread, &run) != 0) {
        s_client_destroy (&client);
        return;
    }
    usleep (200000);                    //  the pass has picked its files
    s_note ("COMPACT: W1 while the compaction runs");
    s_result_t during;
    int rc = s_run (self, &w1, &during);
    bool overlapped = !atomic_load (&run.done);
    pthread_join (thread, NULL);
    s_client_destroy (&client);
    if (rc || self->node_dead)
        return;
    if (run.rc) {
        printf ("COMPACT  the compact request got no success reply\n");
        self->failures++;
        return;
    }
    size_t after = s_value_files (self, ids_after, sizes_after, 4096);
    uint64_t replaced = 0;
    for (size_t index = 0; index < before; index++) {
        bool kept = false;
        for (size_t other = 0; other < after && !kept; other++)
            kept = ids_after [other] == ids_before [index];
        if (!kept)
            replaced += sizes_before [index];
    }
    double seconds = (run.ended_ns - started_ns) / 1e9;
    double rate_alone = alone.success / alone.elapsed;
    double rate_during = during.success / during.elapsed;
    double throughput_ratio = rate_alone > 0? rate_during / rate_alone: 0;
    double p99_ratio = alone.p99_ms > 0? during.p99_ms / alone.p99_ms: 0;
    printf ("COMPACT W1 alone     senders=%d window=%d  acks/s=%.0f", w1.senders, w1.window, rate_alone);
    s_print_latency (&alone);
    printf ("\n");
    printf ("COMPACT W1 during    senders=%d window=%d  acks/s=%.0f (%.2fx)", w1.senders, w1.window,
            rate_during, throughput_ratio);
    s_print_latency (&during);
    printf (" (p99 %.2fx)  target>=0.8x p99<=2x  %s%s", p99_ratio,
            s_verdict (throughput_ratio >= 0.8 && p99_ratio <= 2.0),
            overlapped? "": " (the compaction ended before W1 did)");
    s_print_tail (self, &during);
    printf ("COMPACT compaction   files=%" PRIu64 " replaced=%.0fMB reclaimed=%.0fMB in %.1fs"
            "  rate=%.0fMB/s%s\n", run.files, s_mb (replaced), s_mb (run.bytes), seconds,
            seconds > 0? s_mb (replaced) / seconds: 0,
            replaced >= (1ULL << 30)? "": "  (less than 1 GiB compacted)");
    fflush (stdout);
}


//  Fill to at least gib stored (1 MiB sequences); 0 or -1
static int
s_fill (s_bench_t *self, double gib, const char *what)
{
    const s_options_t *options = self->options;
    uint64_t wanted = (uint64_t) (gib * 1024 * 1024 * 1024);
    if (self->bytes_stored >= wanted)
        return 0;
    uint64_t segment = (uint64_t) S_SEQUENCES * S_LARGE_SIZE;
    uint64_t segments = (wanted - self->bytes_stored + segment - 1) / segment;
    uint64_t per_sender = (segments + (uint64_t) options->senders - 1) / (uint64_t) options->senders;
    s_note ("%s: storing %.2f GiB more first", what,
            (double) (per_sender * (uint64_t) options->senders * segment) / S_MIB / 1024);
    uint64_t generation;
    return s_store (self, S_KIND_SEQUENCES, per_sender, &generation);
}

static void
s_workload_scrub (s_bench_t *self)
{
    const s_options_t *options = self->options;
    if (s_fill (self, options->scrub_gib, "SCRUB")) {
        printf ("SCRUB                not available: could not store the data\n");
        return;
    }
    //  W1 alone, then W1 during the pass, same spec
    int window = options->windows [options->window_count - 1];
    s_spec_t alone_spec = s_spec (self, S_KIND_ENTIRE, options->senders, window);
    s_note ("SCRUB: W1 alone (window %d, %.0f s)", window, alone_spec.seconds);
    s_result_t alone;
    if (s_run (self, &alone_spec, &alone) || self->node_dead)
        return;
    double alone_rate = alone.success / alone.elapsed;

    s_client_t *client = s_client_new (self->writer, self->reader);
    request_t *request = request_new ();
    reply_t *reply = reply_new ();
    msgpack_sbuffer header;
    msgpack_sbuffer_init (&header);
    assert (client && request && reply);
    request->type = MSG_SCRUB;
    request->present = FIELD_MESSAGE_ID | FIELD_CLIENT_TAG | FIELD_CLIENT_ADDRESS;
    snprintf (request->message_id, sizeof (request->message_id), "scrub.%" PRIu64, ++self->control_seq);
    snprintf (request->client_tag, sizeof (request->client_tag), "bench-scrub");
    snprintf (request->client_address, sizeof (request->client_address), "%s", client->address);
    zclock_sleep (200);                 //  the reply socket connected
    int rc = request_encode (request, &header);
    if (rc == 0)
        rc = s_send (client->writer, &header, NULL, 0, 1);
    int64_t started = s_now_ns ();
    s_note ("SCRUB: pass started over %.2f GiB; W1 during it", (double) self->bytes_stored / S_MIB / 1024);
    s_spec_t during_spec = s_spec (self, S_KIND_ENTIRE, options->senders, window);
    s_result_t during;
    bool ran = rc == 0 && s_run (self, &during_spec, &during) == 0 && !self->node_dead;
    //  The pass's reply (a pass reads 1 GiB in 64 s at 16 MiB/s: allow 4x)
    double expected = (double) self->bytes_stored / options->scrub_rate;
    int64_t deadline = started + (int64_t) ((expected * 4 + 60) * 1e9);
    bool answered = false;
    while (rc == 0 && !answered && s_now_ns () < deadline) {
        zmq_pollitem_t item = { zsock_resolve (client->pull), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 1000) <= 0)
            continue;
        zmsg_t *msg = zmsg_recv (client->pull);
        zframe_t *first = msg? zmsg_first (msg): NULL;
        answered = first && reply_decode (reply, zframe_data (first), zframe_size (first)) == 0
                && streq (reply->message_id, request->message_id);
        zmsg_destroy (&msg);
    }
    double seconds = (s_now_ns () - started) / 1e9;
    if (!answered || reply->result != RESULT_SUCCESS) {
        printf ("SCRUB pass           FAILURES: %s\n", answered? reply->error_message: "no scrub-reply in time");
        self->failures++;
    }
    else {
        double wanted = (double) reply->bytes_checked / options->scrub_rate;
        printf ("SCRUB pass           bytes=%.2fGiB records=%" PRIu64 " time=%.1fs rate=%.1fMiB/s"
                "  expected=%.1fs (at %.0f MiB/s)  target within 15%%  %s\n",
                reply->bytes_checked / S_MIB / 1024, reply->records_checked, seconds,
                reply->bytes_checked / S_MIB / seconds, wanted, options->scrub_rate / S_MIB,
                s_verdict (fabs (seconds - wanted) <= 0.15 * wanted));
    }
    if (ran && answered) {
        //  W1 alone again after the pass: the baseline is the mean of the
        //  runs before and after, so a load that drifts (other processes on
        //  the machine) weighs on both sides alike
        s_note ("SCRUB: W1 alone again (window %d, %.0f s)", window, alone_spec.seconds);
        s_spec_t after_spec = s_spec (self, S_KIND_ENTIRE, options->senders, window);
        s_result_t after;
        if (s_run (self, &after_spec, &after) == 0 && !self->node_dead)
            alone_rate = (alone_rate + after.success / after.elapsed) / 2;
    }
    if (ran) {
        double during_rate = during.success / during.elapsed;
        printf ("SCRUB W1 during pass senders=%d window=%d  acks/s=%.0f alone=%.0f  ratio=%.2f"
                "  target>=0.8  %s\n", during_spec.senders, window, during_rate, alone_rate,
                alone_rate > 0? during_rate / alone_rate: 0, s_verdict (during_rate >= 0.8 * alone_rate));
    }
    fflush (stdout);
    msgpack_sbuffer_destroy (&header);
    request_destroy (&request);
    reply_destroy (&reply);
    s_client_destroy (&client);
}


//  --------------------------------------------------------------------------
//  Set-up and the command line

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: strata-bench [options]\n"
        "\n"
        "Starts a strata-node on free loopback ports with a fresh data dir, runs the\n"
        "workloads, prints one line per workload (figure, target, MET/MISSED), stops\n"
        "the node and removes the data dir. Exit 0 unless the node failed (a\n"
        "non-success reply, a lost reply, a crash).\n"
        "\n"
        "  --workloads LIST      W1,W2,W3,W4,W5,OVERLOAD,RESTART,COMPACT,SCRUB or all\n"
        "                        (default W1,W2,W3,W4,W5,OVERLOAD)\n"
        "  --seconds S           per workload (default 5)\n"
        "  --senders N           concurrent senders, each with its own sockets (default 16)\n"
        "  --window LIST         requests in flight per sender, closed loop; each value\n"
        "                        is one run of W1, W2, W4, W5 (default 1,8)\n"
        "  --frame-size BYTES    split payloads into frames of this size (default: one frame)\n"
        "  --quick               1 s per workload, small set-ups (CI smoke run)\n"
        "  --overload            add OVERLOAD (1 MiB entire, many senders, big windows)\n"
        "  --overload-senders N  (default 32)   --overload-window N  (default 32)\n"
        "  --restart-test        add RESTART: fill to --restart-gib, kill -9, time to ping\n"
        "  --restart-gib G       GiB stored before the kill (default 4)\n"
        "  --scrub-test          add SCRUB: fill to --scrub-gib, time a scrub pass, W1\n"
        "                        during it against W1 alone\n"
        "  --scrub-gib G         GiB stored before the pass (default 1)\n"
        "  --scrub-rate B        the node's scrub/bytes-per-second, for the expected\n"
        "                        time (default 16777216, the node's default)\n"
        "  --w3-rate R           W3 total requests/s (default: half of W1's best rate)\n"
        "  --node-binary PATH    strata-node to start (default <bench dir>/../../strata-node)\n"
        "  --node-config FILE    pass --config FILE to the node (default: embedded defaults)\n"
        "  --data-dir DIR        make the temporary data dir under DIR (default .)\n"
        "  --keep                keep the data dir\n"
        "  --writer ENDPOINT     use a running node's writer endpoint (with --reader)\n"
        "  --reader ENDPOINT     use a running node's reader endpoint\n"
        "  --threads T           worker threads driving the senders (default: one per\n"
        "                        CPU; --threads N = --senders N gives each its own)\n"
        "  --io-threads N        ZeroMQ I/O threads of the bench (default 1)\n"
        "  --scrape-ms N         start the node with --metrics and run W1 four times,\n"
        "                        in turn without and with a GET /metrics every N ms;\n"
        "                        prints the ratio of the rates\n"
        "  --peer redis          after each W1 run, the same shape (connections, in\n"
        "                        flight, seconds) of 4 KiB SETs against redis-server\n"
        "                        (appendonly yes, appendfsync always, files in the data\n"
        "                        dir); the ratio goes on the W1 line\n"
        "  --fill N              after W1, store N small segments (random 16-64-byte\n"
        "                        keys, unified-ids from 16 'routers'), then run W1 in\n"
        "                        turn on that node and on a fresh one started beside\n"
        "                        it: filled against fresh (N may end in k or M)\n"
        "  --help\n");
}

//  Parse a comma-separated workload list into run []. 0 or -1.
static int
s_parse_workloads (const char *text, bool run [S_WORKLOAD_COUNT])
{
    memset (run, 0, sizeof (bool) * S_WORKLOAD_COUNT);
    char *copy = strdup (text);
    char *save = NULL;
    int rc = copy? 0: -1;
    for (char *name = copy? strtok_r (copy, ",", &save): NULL; name; name = strtok_r (NULL, ",", &save)) {
        if (strcasecmp (name, "all") == 0) {
            for (int index = 0; index < S_WORKLOAD_COUNT; index++)
                run [index] = true;
            continue;
        }
        int index;
        for (index = 0; index < S_WORKLOAD_COUNT; index++)
            if (strcasecmp (name, s_workload_names [index]) == 0)
                break;
        if (index == S_WORKLOAD_COUNT) {
            fprintf (stderr, "strata-bench: unknown workload '%s'\n", name);
            rc = -1;
            break;
        }
        run [index] = true;
    }
    free (copy);
    return rc;
}

//  Parse a positive integer option. 0 or -1 (with the message written).
static int
s_parse_int (const char *name, const char *text, long min, long max, long *value_p)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max) {
        fprintf (stderr, "strata-bench: --%s: '%s' is not a number in %ld..%ld\n", name, text, min, max);
        return -1;
    }
    *value_p = value;
    return 0;
}

static int
s_parse_double (const char *name, const char *text, double min, double *value_p)
{
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !(value >= min)) {
        fprintf (stderr, "strata-bench: --%s: '%s' is not a number >= %g\n", name, text, min);
        return -1;
    }
    *value_p = value;
    return 0;
}

//  Fill options from argv. Returns 0 to run, 1 after --help, -1 on error.
static int
s_parse_options (s_options_t *options, int argc, char **argv)
{
    enum {
        O_WORKLOADS = 1000, O_SECONDS, O_SENDERS, O_WINDOW, O_FRAME_SIZE, O_QUICK, O_OVERLOAD,
        O_OVERLOAD_SENDERS, O_OVERLOAD_WINDOW, O_RESTART_TEST, O_RESTART_GIB, O_W3_RATE,
        O_NODE_BINARY, O_NODE_CONFIG, O_DATA_DIR, O_KEEP, O_WRITER, O_READER, O_IO_THREADS, O_THREADS, O_HELP,
        O_SCRAPE_MS,
        O_SCRUB_TEST, O_SCRUB_GIB, O_SCRUB_RATE, O_PEER, O_FILL
    };
    static const struct option long_options [] = {
        { "workloads", required_argument, NULL, O_WORKLOADS },
        { "seconds", required_argument, NULL, O_SECONDS },
        { "senders", required_argument, NULL, O_SENDERS },
        { "window", required_argument, NULL, O_WINDOW },
        { "frame-size", required_argument, NULL, O_FRAME_SIZE },
        { "quick", no_argument, NULL, O_QUICK },
        { "overload", no_argument, NULL, O_OVERLOAD },
        { "overload-senders", required_argument, NULL, O_OVERLOAD_SENDERS },
        { "overload-window", required_argument, NULL, O_OVERLOAD_WINDOW },
        { "restart-test", no_argument, NULL, O_RESTART_TEST },
        { "restart-gib", required_argument, NULL, O_RESTART_GIB },
        { "w3-rate", required_argument, NULL, O_W3_RATE },
        { "node-binary", required_argument, NULL, O_NODE_BINARY },
        { "node-config", required_argument, NULL, O_NODE_CONFIG },
        { "data-dir", required_argument, NULL, O_DATA_DIR },
        { "keep", no_argument, NULL, O_KEEP },
        { "writer", required_argument, NULL, O_WRITER },
        { "reader", required_argument, NULL, O_READER },
        { "io-threads", required_argument, NULL, O_IO_THREADS },
        { "threads", required_argument, NULL, O_THREADS },
        { "help", no_argument, NULL, O_HELP },
        { "scrub-test", no_argument, NULL, O_SCRUB_TEST },
        { "scrub-gib", required_argument, NULL, O_SCRUB_GIB },
        { "scrub-rate", required_argument, NULL, O_SCRUB_RATE },
        { "scrape-ms", required_argument, NULL, O_SCRAPE_MS },
        { "peer", required_argument, NULL, O_PEER },
        { "fill", required_argument, NULL, O_FILL },
        { NULL, 0, NULL, 0 }
    };
    //  Defaults
    options->seconds = 5;
    options->senders = 16;
    options->windows [0] = 1;
    options->windows [1] = 8;
    options->window_count = 2;
    options->frame_size = S_LARGE_SIZE;
    options->overload_senders = 32;
    options->overload_window = 32;
    options->restart_gib = 4;
    options->scrub_gib = 1;
    bool scrub_test = false;
    options->scrub_rate = 16.0 * 1024 * 1024;
    options->io_threads = 1;
    options->small_keys = 8192;
    options->large_segments = 16;
    snprintf (options->data_parent, sizeof (options->data_parent), ".");
    bool workloads_given = false, quick = false, overload = false, restart = false;
    bool seconds_given = false, restart_gib_given = false;
    long number;
    int option;
    opterr = 0;
    while ((option = getopt_long (argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
            case O_WORKLOADS:
                if (s_parse_workloads (optarg, options->run))
                    return -1;
                workloads_given = true;
                break;
            case O_SECONDS:
                if (s_parse_double ("seconds", optarg, 0.1, &options->seconds))
                    return -1;
                seconds_given = true;
                break;
            case O_SENDERS:
                if (s_parse_int ("senders", optarg, 1, 1024, &number))
                    return -1;
                options->senders = (int) number;
                break;
            case O_WINDOW: {
                options->window_count = 0;
                char *copy = strdup (optarg), *save = NULL;
                for (char *item = copy? strtok_r (copy, ",", &save): NULL; item; item = strtok_r (NULL, ",", &save)) {
                    if (options->window_count == S_MAX_WINDOWS
                    ||  s_parse_int ("window", item, 1, 4096, &number)) {
                        free (copy);
                        if (options->window_count == S_MAX_WINDOWS)
                            fprintf (stderr, "strata-bench: --window: at most %d values\n", S_MAX_WINDOWS);
                        return -1;
                    }
                    options->windows [options->window_count++] = (int) number;
                }
                free (copy);
                if (options->window_count == 0) {
                    fprintf (stderr, "strata-bench: --window: give at least one value\n");
                    return -1;
                }
                break;
            }
            case O_FRAME_SIZE:
                if (s_parse_int ("frame-size", optarg, 1, S_LARGE_SIZE, &number))
                    return -1;
                options->frame_size = (size_t) number;
                break;
            case O_QUICK:
                quick = true;
                break;
            case O_OVERLOAD:
                overload = true;
                break;
            case O_OVERLOAD_SENDERS:
                if (s_parse_int ("overload-senders", optarg, 1, 1024, &number))
                    return -1;
                options->overload_senders = (int) number;
                break;
            case O_OVERLOAD_WINDOW:
                if (s_parse_int ("overload-window", optarg, 1, 4096, &number))
                    return -1;
                options->overload_window = (int) number;
                break;
            case O_RESTART_TEST:
                restart = true;
                break;
            case O_RESTART_GIB:
                if (s_parse_double ("restart-gib", optarg, 0, &options->restart_gib))
                    return -1;
                restart_gib_given = true;
                break;
            case O_W3_RATE:
                if (s_parse_double ("w3-rate", optarg, 1, &options->w3_rate))
                    return -1;
                break;
            case O_NODE_BINARY:
                snprintf (options->node_binary, sizeof (options->node_binary), "%s", optarg);
                break;
            case O_NODE_CONFIG:
                snprintf (options->node_config, sizeof (options->node_config), "%s", optarg);
                break;
            case O_DATA_DIR:
                snprintf (options->data_parent, sizeof (options->data_parent), "%s", optarg);
                break;
            case O_KEEP:
                options->keep = true;
                break;
            case O_SCRAPE_MS:
                options->scrape_ms = atoi (optarg);
                if (options->scrape_ms < 1 || options->scrape_ms > 60000) {
                    fprintf (stderr, "strata-bench: --scrape-ms must be 1..60000\n");
                    return -1;
                }
                break;
            case O_WRITER:
                snprintf (options->writer, sizeof (options->writer), "%s", optarg);
                break;
            case O_READER:
                snprintf (options->reader, sizeof (options->reader), "%s", optarg);
                break;
            case O_IO_THREADS:
                if (s_parse_int ("io-threads", optarg, 1, 64, &number))
                    return -1;
                options->io_threads = (int) number;
                break;
            case O_THREADS:
                if (s_parse_int ("threads", optarg, 1, 1024, &number))
                    return -1;
                options->threads = (int) number;
                break;
            case O_SCRUB_TEST:
                scrub_test = true;
                break;
            case O_SCRUB_GIB:
                if (s_parse_double ("scrub-gib", optarg, 0, &options->scrub_gib))
                    return -1;
                break;
            case O_SCRUB_RATE:
                if (s_parse_double ("scrub-rate", optarg, 1024, &options->scrub_rate))
                    return -1;
                break;
            case O_PEER:
                if (strcmp (optarg, "redis") != 0) {
                    fprintf (stderr, "strata-bench: --peer: '%s' is not a peer I know (redis)\n", optarg);
                    return -1;
                }
                options->peer_redis = true;
                break;
            case O_FILL: {
                char *end = NULL;
                errno = 0;
                unsigned long long count = strtoull (optarg, &end, 10);
                unsigned long long scale = end && *end == 'k'? 1000: end && *end == 'M'? 1000000: 1;
                if (scale > 1)
                    end++;
                if (errno || end == optarg || *end || *optarg == '-' || count > 1000000000ULL / scale) {
                    fprintf (stderr, "strata-bench: --fill: '%s' is not a number of segments "
                             "(0..1000000000, may end in k or M)\n", optarg);
                    return -1;
                }
                options->fill = (uint64_t) (count * scale);
                break;
            }
            case O_HELP:
                s_usage (stdout);
                return 1;
            default:
                fprintf (stderr, "strata-bench: unknown or incomplete option '%s' (see --help)\n",
                         argv [optind - 1]);
                return -1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "strata-bench: unexpected argument '%s' (see --help)\n", argv [optind]);
        return -1;
    }
    if (!*options->writer != !*options->reader) {
        fprintf (stderr, "strata-bench: --writer and --reader go together\n");
        return -1;
    }
    if ((options->fill || options->peer_redis) && workloads_given && !options->run [S_W1]) {
        fprintf (stderr, "strata-bench: --fill and --peer are about W1: add W1 to --workloads\n");
        return -1;
    }
    if ((options->fill || options->peer_redis) && options->scrape_ms > 0) {
        fprintf (stderr, "strata-bench: --scrape-ms runs its own W1s: not with --fill or --peer\n");
        return -1;
    }
    if (!workloads_given)
        for (int index = 0; index < S_WORKLOAD_COUNT; index++)
            options->run [index] = index != S_RESTART && index != S_COMPACT && index != S_SCRUB;
    if (scrub_test)
        options->run [S_SCRUB] = true;
    if (overload)
        options->run [S_OVERLOAD] = true;
    if (restart)
        options->run [S_RESTART] = true;
    if (quick) {
        if (!seconds_given)
            options->seconds = 1;
        options->small_keys = 1024;
        options->large_segments = 2;
        if (!restart_gib_given)
            options->restart_gib = 0.25;
    }
    if (options->threads == 0) {
        //  One worker thread per CPU: more threads only add context
        //  switches, which take CPU time from the node on the same machine
        long cpus = sysconf (_SC_NPROCESSORS_ONLN);
        options->threads = cpus > 0? (int) cpus: 1;
    }
    if (!*options->node_binary) {
        //  <dir of strata-bench>/../../strata-node
        char self [PATH_MAX];
        ssize_t size = readlink ("/proc/self/exe", self, sizeof (self) - 1);
        if (size <= 0) {
            fprintf (stderr, "strata-bench: cannot find my own path; give --node-binary\n");
            return -1;
        }
        self [size] = 0;
        snprintf (options->node_binary, sizeof (options->node_binary), "%s/../../strata-node", dirname (self));
    }
    return 0;
}

//  Make the payloads and their digests (before any timing)
static int
s_payloads_new (s_bench_t *self)
{
    self->small = (uint8_t *) malloc ((size_t) S_SMALL_VARIANTS * S_SMALL_SIZE);
    self->large = (uint8_t *) malloc ((size_t) S_SEQUENCES * S_LARGE_SIZE);
    if (!self->small || !self->large)
        return -1;
    for (size_t variant = 0; variant < S_SMALL_VARIANTS; variant++) {
        uint8_t *payload = self->small + variant * S_SMALL_SIZE;
        s_random_fill (payload, S_SMALL_SIZE, 0x5354524154410000ULL + variant);
        digest_md5 (payload, S_SMALL_SIZE, self->small_md5 [variant]);
        digest_md5 (payload, S_FILL_SIZE, self->fill_md5 [variant]);
    }
    digest_md5_t *whole = digest_md5_new ();
    if (!whole)
        return -1;
    for (size_t block = 0; block < S_SEQUENCES; block++) {
        uint8_t *payload = self->large + block * S_LARGE_SIZE;
        s_random_fill (payload, S_LARGE_SIZE, 0x4C41524745000000ULL + block);
        digest_md5 (payload, S_LARGE_SIZE, self->large_md5 [block]);
        digest_md5_update (whole, payload, S_LARGE_SIZE);
    }
    digest_md5_final (whole, self->large_file_hash);
    digest_md5_destroy (&whole);
    return 0;
}

//  Create the sockets of every sender and the control client, and make
//  sure each has reached the node (a ping on the writer through every one)
static int
s_clients_new (s_bench_t *self)
{
    const s_options_t *options = self->options;
    self->client_count = options->senders;
    if (options->run [S_OVERLOAD] && options->overload_senders > self->client_count)
        self->client_count = options->overload_senders;
    self->clients = (s_client_t **) calloc ((size_t) self->client_count, sizeof (s_client_t *));
    self->control = s_client_new (self->writer, self->reader);
    if (!self->clients || !self->control)
        return -1;
    for (int index = 0; index < self->client_count; index++) {
        self->clients [index] = s_client_new (self->writer, self->reader);
        if (!self->clients [index])
            return -1;
    }
    return 0;
}

static void
s_clients_destroy (s_bench_t *self)
{
    for (int index = 0; self->clients && index < self->client_count; index++)
        s_client_destroy (&self->clients [index]);
    free (self->clients);
    self->clients = NULL;
    s_client_destroy (&self->control);
}

int
main (int argc, char **argv)
{
    s_options_t *options = (s_options_t *) calloc (1, sizeof (s_options_t));
    s_bench_t *self = (s_bench_t *) calloc (1, sizeof (s_bench_t));
    assert (options && self);
    int rc = s_parse_options (options, argc, argv);
    if (rc != 0) {
        free (options);
        free (self);
        return rc > 0? 0: 2;
    }
    self->options = options;
    self->rss_reset = true;
    self->best_redis_ratio = -1;
    self->best_cpu_per_ack_us = -1;
    self->w3_p99_ms = -1;
    self->filled_ratio = -1;
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_set_io_threads ((size_t) options->io_threads);
    zsys_init ();

    int exit_code = 1;
    //  The data dir: under --data-dir, on the disk being measured
    snprintf (self->data_dir, sizeof (self->data_dir), "%s/bench-data-XXXXXX", options->data_parent);
    if (!mkdtemp (self->data_dir)) {
        fprintf (stderr, "strata-bench: cannot create %s: %s\n", self->data_dir, strerror (errno));
        goto done;
    }
    snprintf (self->node_dir, sizeof (self->node_dir), "%s/node", self->data_dir);
    snprintf (self->log_path, sizeof (self->log_path), "%s/node.log", self->data_dir);
    //  COMPACT: the compaction must be the one the workload starts, not a
    //  background pass; files of 1100 MiB (32 MiB with --quick), so the
    //  one compacted is more than 1 GiB
    if (options->run [S_COMPACT] && !*options->node_config) {
        snprintf (self->compact_config, sizeof (self->compact_config), "%s/node.cfg", self->data_dir);
        FILE *config = fopen (self->compact_config, "w");
        if (config) {
            fprintf (config, "node\n    value-file-max-bytes = %d\ncompact\n    enabled = 0\n",
                     options->small_keys < 4096? 32 << 20: 1100 << 20);
            fclose (config);
        }
        else
            *self->compact_config = 0;
    }
    if (s_payloads_new (self)) {
        fprintf (stderr, "strata-bench: out of memory\n");
        goto done;
    }
    self->timestamp = timestamp_now ();
    self->uid_base = (uint64_t) self->timestamp * 1000;

    if (*options->writer) {
        snprintf (self->writer, sizeof (self->writer), "%s", options->writer);
        snprintf (self->reader, sizeof (self->reader), "%s", options->reader);
    }
    else {
        if (access (options->node_binary, X_OK) != 0) {
            fprintf (stderr, "strata-bench: no strata-node at %s (give --node-binary)\n", options->node_binary);
            goto done;
        }
        if (s_node_start (self))
            goto done;
    }
    if (s_clients_new (self)) {
        fprintf (stderr, "strata-bench: cannot create the client sockets\n");
        goto done;
    }
    if (s_wait_ready (self, S_READY_TIMEOUT_MS)) {
        fprintf (stderr, "strata-bench: the node at %s did not answer ping within %d s\n",
                 self->writer, S_READY_TIMEOUT_MS / 1000);
        s_node_log_tail (self, 20);
        goto done;
    }
    printf ("strata-bench: node %s (writer %s, reader %s), data %s\n",
            self->node_pid? options->node_binary: "external", self->writer, self->reader, self->data_dir);
    printf ("strata-bench: %d senders on %d threads, %.1f s per workload, frame size %zu, %ld CPUs\n",
            options->senders, options->threads < options->senders? options->threads: options->senders,
            options->seconds, options->frame_size, sysconf (_SC_NPROCESSORS_ONLN));
    fflush (stdout);

    //  Warm up: every connection made, a value file open, the index warm
    uint64_t warm_generation;
    bool warm = s_warm_up (self, false) == 0 && s_store (self, S_KIND_ENTIRE, 32, &warm_generation) == 0;
    if (!warm) {
        printf ("strata-bench: warm-up failed: no workload run\n");
        self->failures++;
    }
    for (int workload = 0; workload < S_WORKLOAD_COUNT && warm && !self->node_dead; workload++) {
        if (!options->run [workload])
            continue;
        switch ((s_workload_t) workload) {
            case S_W1:
                if (options->scrape_ms > 0)
                    s_workload_w1_scrape (self);
                else
                    s_workload_w1 (self);
                break;
            case S_W3: s_workload_w3 (self); break;
            case S_W2: s_workload_w2 (self); break;
            case S_W4: s_workload_retrieval (self, false); break;
            case S_W5: s_workload_retrieval (self, true); break;
            case S_OVERLOAD: s_workload_overload (self); break;
            case S_RESTART: s_workload_restart (self); break;
            case S_SCRUB: s_workload_scrub (self); break;
            case S_COMPACT: s_workload_compact (self); break;
            case S_WORKLOAD_COUNT: break;
        }
    }
    if (warm && options->run [S_W1] && options->scrape_ms == 0)
        s_print_targets (self);
    redis_peer_destroy (&self->redis);
    if (self->node_pid && s_node_stop (self) != 0) {
        s_node_log_tail (self, 20);
        self->failures++;
    }
    if (self->failures)
        printf ("strata-bench: the node FAILED: %" PRIu64 " failures (errors, lost replies, crashes)\n",
                self->failures);
    else
        printf ("strata-bench: the node answered every request with success\n");
    exit_code = self->failures? 1: 0;

done:
    redis_peer_destroy (&self->redis);
    if (self->node_pid) {
        kill (self->node_pid, SIGKILL);
        waitpid (self->node_pid, NULL, 0);
    }
    s_clients_destroy (self);
    if (*self->data_dir && access (self->data_dir, F_OK) == 0) {
        if (options->keep || exit_code != 0)
            fprintf (stderr, "strata-bench: data kept in %s\n", self->data_dir);
        else
        if (s_remove_tree (self->data_dir) != 0)
            fprintf (stderr, "strata-bench: could not remove %s\n", self->data_dir);
    }
    free (self->small);
    free (self->large);
    free (self);
    free (options);
    zsys_shutdown ();
    return exit_code;
}
