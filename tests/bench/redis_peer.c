/*  =========================================================================
    redis_peer - Redis as the peer of W1 in strata-bench

    See redis_peer.h. The load loop mirrors strata-bench's closed loop:
    each worker thread polls the sockets of its group of connections,
    tops every connection up to `window` SETs in flight (appended to
    hiredis's output buffer, written without blocking), and takes every
    reply that has arrived in one wake-up. Replies on a connection come in
    the order of its requests, so each connection keeps its send times in
    a ring and a reply's latency is from the oldest one.
    =========================================================================
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "redis_peer.h"

#if defined (STRATA_BENCH_HIREDIS)
#include <hiredis/hiredis.h>
#endif

#define S_READY_TIMEOUT_MS  10000       //  redis-server must answer PING within this
#define S_REPLY_TIMEOUT_MS  30000       //  no reply on any connection for this long: lost
#define S_STOP_TIMEOUT_MS   30000       //  SIGTERM to exit, then SIGKILL

struct _redis_peer_t {
    pid_t pid;                          //  redis-server, 0 once gone
    int port;                           //  its loopback port
    char log_path [4096];               //  its log file
};

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void
s_sleep_ms (int ms)
{
    struct timespec wait = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&wait, &wait) == -1 && errno == EINTR)
        ;
}

bool
redis_peer_find_server (char *path, size_t size)
{
    assert (path && size);
    const char *env = getenv ("PATH");
    char *search = strdup (env && *env? env: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    bool found = false;
    char *save = NULL;
    for (char *dir = search? strtok_r (search, ":", &save): NULL; dir && !found;
         dir = strtok_r (NULL, ":", &save)) {
        snprintf (path, size, "%s/redis-server", *dir? dir: ".");
        found = access (path, X_OK) == 0;
    }
    free (search);
    if (!found)
        *path = 0;
    return found;
}

//  CPU seconds (user + system, all threads) of pid, or -1
double
bench_process_cpu_seconds (pid_t pid)
{
    char path [64], text [1024];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t size = fread (text, 1, sizeof (text) - 1, file);
    fclose (file);
    text [size] = 0;
    char *rest = strrchr (text, ')');
    unsigned long user = 0, system = 0;
    if (!rest || sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                         &user, &system) != 2)
        return -1;
    return (double) (user + system) / (double) sysconf (_SC_CLK_TCK);
}

#if defined (STRATA_BENCH_HIREDIS)

//  The last line of the server's log that says something, into text
static void
s_log_last_line (const redis_peer_t *self, char *text, size_t size)
{
    *text = 0;
    FILE *file = fopen (self->log_path, "r");
    if (!file)
        return;
    char line [512];
    while (fgets (line, sizeof (line), file)) {
        line [strcspn (line, "\r\n")] = 0;
        if (*line)
            snprintf (text, size, "%s", line);
    }
    fclose (file);
}


static double
s_self_cpu_seconds (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
         + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  A blocking control connection, or NULL
static redisContext *
s_control_connect (const redis_peer_t *self, int timeout_ms)
{
    struct timeval timeout = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *context = redisConnectWithTimeout ("127.0.0.1", self->port, timeout);
    if (context && context->err)
        redisFree (context);
    else
    if (context) {
        struct timeval command_timeout = { S_REPLY_TIMEOUT_MS / 1000, 0 };
        redisSetTimeout (context, command_timeout);
        return context;
    }
    return NULL;
}

//  Run one command on a new control connection; true if the reply is not
//  an error. The reply's text (status or bulk) goes to text when given.
static bool
s_control (const redis_peer_t *self, char *text, size_t size, const char *format, ...)
{
    redisContext *context = s_control_connect (self, 1000);
    if (!context)
        return false;
    va_list args;
    va_start (args, format);
    redisReply *reply = (redisReply *) redisvCommand (context, format, args);
    va_end (args);
    bool good = reply && reply->type != REDIS_REPLY_ERROR;
    if (text && size) {
        *text = 0;
        if (reply && reply->str)
            snprintf (text, size, "%s", reply->str);
    }
    if (reply)
        freeReplyObject (reply);
    redisFree (context);
    return good;
}

//  An integer field of INFO, or -1
static int64_t
s_info_value (const redis_peer_t *self, const char *section, const char *name)
{
    char *text = (char *) malloc (65536);
    int64_t value = -1;
    if (text && s_control (self, text, 65536, "INFO %s", section)) {
        size_t name_size = strlen (name);
        for (char *line = text; line && *line; line = strchr (line, '\n'), line = line? line + 1: NULL)
            if (strncmp (line, name, name_size) == 0 && line [name_size] == ':') {
                value = strtoll (line + name_size + 1, NULL, 10);
                break;
            }
    }
    free (text);
    return value;
}

#if defined (STRATA_BENCH_HIREDIS)
//  Empty the data set and rewrite the AOF, then wait (up to 60 s) until no
//  AOF rewrite is running or scheduled. 0, or -1 with why.
static int
s_settle (redis_peer_t *self, char *why, size_t why_size)
{
    char text [64];
    if (!s_control (self, text, sizeof (text), "FLUSHALL")
    ||  !s_control (self, text, sizeof (text), "BGREWRITEAOF")) {
        snprintf (why, why_size, "FLUSHALL/BGREWRITEAOF failed: %s", text);
        return -1;
    }
    int64_t settle = s_now_ns () + 60 * 1000000000LL;
    while (s_info_value (self, "persistence", "aof_rewrite_in_progress") != 0
    ||     s_info_value (self, "persistence", "aof_rewrite_scheduled") != 0) {
        if (s_now_ns () > settle) {
            snprintf (why, why_size, "an AOF rewrite did not end in 60 s");
            return -1;
        }
        s_sleep_ms (20);
    }
    return 0;
}
#endif

#endif

redis_peer_t *
redis_peer_new (const char *server_path, const char *dir, int port, char *why, size_t why_size)
{
    assert (server_path && dir && why && why_size);
    *why = 0;
#if !defined (STRATA_BENCH_HIREDIS)
    (void) port;
    snprintf (why, why_size, "strata-bench was built without hiredis "
              "(apt-get install libhiredis-dev, then rebuild)");
    return NULL;
#else
    //  An absolute path: redis-server changes to its dir before it opens
    //  its log
    char absolute [4096];
    if ((mkdir (dir, 0755) != 0 && errno != EEXIST) || !realpath (dir, absolute)) {
        snprintf (why, why_size, "cannot create %s: %s", dir, strerror (errno));
        return NULL;
    }
    dir = absolute;
    redis_peer_t *self = (redis_peer_t *) calloc (1, sizeof (redis_peer_t));
    if (!self) {
        snprintf (why, why_size, "out of memory");
        return NULL;
    }
    self->port = port;
    snprintf (self->log_path, sizeof (self->log_path), "%s/redis.log", dir);
    char port_text [16];
    snprintf (port_text, sizeof (port_text), "%d", port);
    //  Durable SETs as the issue weighs them: the AOF fsynced before every
    //  reply (grouped per event-loop turn); no RDB snapshots besides; the
    //  rest (AOF rewrites among them) as Redis ships it
    const char *argv [] = {
        server_path, "--port", port_text, "--bind", "127.0.0.1", "--protected-mode", "yes",
        "--dir", dir, "--logfile", self->log_path, "--daemonize", "no",
        "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        NULL
    };
    pid_t pid = fork ();
    if (pid < 0) {
        snprintf (why, why_size, "fork: %s", strerror (errno));
        free (self);
        return NULL;
    }
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        int null_fd = open ("/dev/null", O_RDWR);
        if (null_fd >= 0) {
            dup2 (null_fd, STDIN_FILENO);
            dup2 (null_fd, STDOUT_FILENO);
        }
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execv (server_path, (char *const *) argv);
        _exit (127);
    }
    self->pid = pid;
    int64_t deadline = s_now_ns () + S_READY_TIMEOUT_MS * 1000000LL;
    while (true) {
        int status;
        if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
            self->pid = 0;
            char last [400];
            s_log_last_line (self, last, sizeof (last));
            snprintf (why, why_size, "redis-server exited at start-up (%s %d)%s%s",
                      WIFEXITED (status)? "exit code": "signal",
                      WIFEXITED (status)? WEXITSTATUS (status): WTERMSIG (status),
                      *last? ": ": "", last);
            break;
        }
        char pong [16];
        if (s_control (self, pong, sizeof (pong), "PING") && strcmp (pong, "PONG") == 0)
            return self;
        if (s_now_ns () > deadline) {
            snprintf (why, why_size, "redis-server did not answer PING within %d s",
                      S_READY_TIMEOUT_MS / 1000);
            break;
        }
        s_sleep_ms (50);
    }
    redis_peer_destroy (&self);
    return NULL;
#endif
}

void
redis_peer_destroy (redis_peer_t **self_p)
{
    assert (self_p);
    redis_peer_t *self = *self_p;
    if (!self)
        return;
    if (self->pid) {
        kill (self->pid, SIGTERM);
        int64_t deadline = s_now_ns () + S_STOP_TIMEOUT_MS * 1000000LL;
        while (waitpid (self->pid, NULL, WNOHANG) == 0) {
            if (s_now_ns () > deadline) {
                kill (self->pid, SIGKILL);
                waitpid (self->pid, NULL, 0);
                break;
            }
            s_sleep_ms (10);
        }
    }
    free (self);
    *self_p = NULL;
}


#if defined (STRATA_BENCH_HIREDIS)

//  One load connection
typedef struct {
    redisContext *context;              //  non-blocking
    int window;                         //  SETs in flight at most
    uint64_t random;                    //  splitmix64 state: keys
    uint64_t next_value;                //  which value the next SET stores
    int64_t *sent;                      //  ring of send times (ns), window entries
    uint64_t issued, replied;           //  SETs sent, replies taken
    bool write_pending;                 //  hiredis's output buffer is not empty
    bool finished;                      //  nothing more owed
    uint64_t success, errors, lost;
    uint64_t *latency;                  //  ns per success
    size_t latency_count, latency_size;
    int64_t last_reply_ns;
    char error [300];
} s_connection_t;

//  A run, shared by its worker threads
typedef struct {
    const uint8_t *values;
    size_t value_count, value_size;
    int64_t deadline_ns;                //  no SET sent after this
} s_load_t;

typedef struct {
    const s_load_t *load;
    s_connection_t *connections;        //  first of the group
    int count;                          //  connections in the group
    pthread_t thread;
} s_worker_t;

static void
s_connection_failure (s_connection_t *self, const char *format, ...)
{
    self->errors++;
    if (*self->error)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

static uint64_t
s_random_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

//  Give up on a connection: its SETs in flight are lost
static void
s_connection_stop (s_connection_t *self)
{
    self->lost += self->issued - self->replied;
    self->replied = self->issued;
    self->finished = true;
}

//  Top the connection up to its window (before the deadline) and write
//  what hiredis holds. false if the connection broke.
static bool
s_connection_send (s_connection_t *self, const s_load_t *load, int64_t now)
{
    while (now < load->deadline_ns && self->issued - self->replied < (uint64_t) self->window) {
        char key [32];
        int key_size = snprintf (key, sizeof (key), "key:%016llx",
                                 (unsigned long long) s_random_next (&self->random));
        const uint8_t *value = load->values + (self->next_value++ % load->value_count) * load->value_size;
        const char *argv [3] = { "SET", key, (const char *) value };
        size_t sizes [3] = { 3, (size_t) key_size, load->value_size };
        if (redisAppendCommandArgv (self->context, 3, argv, sizes) != REDIS_OK) {
            s_connection_failure (self, "cannot queue a SET: %s", self->context->errstr);
            return false;
        }
        self->sent [self->issued % (uint64_t) self->window] = now;
        self->issued++;
        self->write_pending = true;
    }
    if (self->write_pending) {
        int done = 0;
        if (redisBufferWrite (self->context, &done) != REDIS_OK) {
            s_connection_failure (self, "write: %s", self->context->errstr);
            return false;
        }
        self->write_pending = !done;
    }
    return true;
}

//  Take every reply that has arrived. false if the connection broke.
static bool
s_connection_take (s_connection_t *self, int64_t now)
{
    if (redisBufferRead (self->context) != REDIS_OK) {
        s_connection_failure (self, "read: %s", self->context->errstr);
        return false;
    }
    while (true) {
        void *item = NULL;
        if (redisGetReply (self->context, &item) != REDIS_OK) {
            s_connection_failure (self, "reply: %s", self->context->errstr);
            return false;
        }
        if (!item)
            return true;
        redisReply *reply = (redisReply *) item;
        if (self->replied == self->issued)
            s_connection_failure (self, "a reply to no request");
        else {
            int64_t sent = self->sent [self->replied % (uint64_t) self->window];
            self->replied++;
            self->last_reply_ns = now;
            if (reply->type == REDIS_REPLY_STATUS && reply->str && strcmp (reply->str, "OK") == 0) {
                self->success++;
                if (self->latency_count == self->latency_size) {
                    size_t size = self->latency_size? self->latency_size * 2: 65536;
                    uint64_t *latency = (uint64_t *) realloc (self->latency, size * sizeof (uint64_t));
                    if (latency) {
                        self->latency = latency;
                        self->latency_size = size;
                    }
                }
                if (self->latency_count < self->latency_size)
                    self->latency [self->latency_count++] = (uint64_t) (now > sent? now - sent: 0);
            }
            else
                s_connection_failure (self, "SET answered %s",
                                      reply->type == REDIS_REPLY_ERROR && reply->str? reply->str: "not OK");
        }
        freeReplyObject (reply);
    }
}

static void *
s_worker (void *args)
{
    s_worker_t *worker = (s_worker_t *) args;
    struct pollfd *items = (struct pollfd *) calloc ((size_t) worker->count, sizeof (struct pollfd));
    int64_t last_progress = s_now_ns ();
    while (items) {
        int64_t now = s_now_ns ();
        int active = 0;
        for (int index = 0; index < worker->count; index++) {
            s_connection_t *connection = &worker->connections [index];
            items [index].fd = -1;
            if (connection->finished)
                continue;
            if (!s_connection_send (connection, worker->load, now)) {
                s_connection_stop (connection);
                continue;
            }
            if (connection->issued == connection->replied && now >= worker->load->deadline_ns) {
                connection->finished = true;
                continue;
            }
            items [index].fd = connection->context->fd;
            items [index].events = POLLIN | (connection->write_pending? POLLOUT: 0);
            active++;
        }
        if (!active)
            break;
        int rc = poll (items, (nfds_t) worker->count, 100);
        if (rc < 0 && errno == EINTR)
            continue;
        now = s_now_ns ();
        if (rc > 0)
            last_progress = now;
        if (rc < 0 || now - last_progress > S_REPLY_TIMEOUT_MS * 1000000LL) {
            for (int index = 0; index < worker->count; index++) {
                s_connection_t *connection = &worker->connections [index];
                if (!connection->finished) {
                    if (!*connection->error)
                        snprintf (connection->error, sizeof (connection->error),
                                  "%llu replies not received within %d s",
                                  (unsigned long long) (connection->issued - connection->replied),
                                  S_REPLY_TIMEOUT_MS / 1000);
                    s_connection_stop (connection);
                }
            }
            break;
        }
        for (int index = 0; index < worker->count; index++) {
            s_connection_t *connection = &worker->connections [index];
            if (items [index].fd < 0 || !items [index].revents)
                continue;
            if ((items [index].revents & (POLLIN | POLLERR | POLLHUP))
            &&  !s_connection_take (connection, now))
                s_connection_stop (connection);
        }
    }
    if (!items)
        for (int index = 0; index < worker->count; index++)
            s_connection_failure (&worker->connections [index], "out of memory");
    free (items);
    return NULL;
}

//  Connect without blocking and wait until the socket is connected. NULL
//  with the reason in why on failure.
static redisContext *
s_load_connect (const redis_peer_t *self, char *why, size_t why_size)
{
    redisContext *context = redisConnectNonBlock ("127.0.0.1", self->port);
    if (!context || context->err) {
        snprintf (why, why_size, "cannot connect to redis-server: %s", context? context->errstr: "out of memory");
        if (context)
            redisFree (context);
        return NULL;
    }
    struct pollfd item = { context->fd, POLLOUT, 0 };
    int error = 0;
    socklen_t size = sizeof (error);
    if (poll (&item, 1, 5000) != 1
    ||  getsockopt (context->fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error) {
        snprintf (why, why_size, "cannot connect to redis-server: %s", error? strerror (error): "timed out");
        redisFree (context);
        return NULL;
    }
    return context;
}

#endif

int
redis_peer_run (redis_peer_t *self, int connections, int window, int threads, double seconds,
                const uint8_t *values, size_t value_count, size_t value_size,
                redis_peer_result_t *result)
{
    assert (self && connections > 0 && window > 0 && threads > 0 && seconds > 0);
    assert (values && value_count && value_size && result);
    memset (result, 0, sizeof (*result));
    result->server_cpu = -1;
    result->forks = -1;
#if !defined (STRATA_BENCH_HIREDIS)
    (void) self; (void) connections; (void) window; (void) threads; (void) seconds;
    snprintf (result->error, sizeof (result->error), "built without hiredis");
    return -1;
#else
    //  Every run starts from an empty data set and a fresh AOF, so the
    //  runs of one bench see the same rewrite schedule
    if (s_settle (self, result->error, sizeof (result->error)))
        return -1;

    s_connection_t *links = (s_connection_t *) calloc ((size_t) connections, sizeof (s_connection_t));
    if (threads > connections)
        threads = connections;
    s_worker_t *workers = (s_worker_t *) calloc ((size_t) threads, sizeof (s_worker_t));
    int rc = links && workers? 0: -1;
    if (rc)
        snprintf (result->error, sizeof (result->error), "out of memory");
    for (int index = 0; index < connections && rc == 0; index++) {
        s_connection_t *link = &links [index];
        link->window = window;
        link->random = ((uint64_t) s_now_ns () << 8) + (uint64_t) index;
        link->next_value = (uint64_t) index;
        link->sent = (int64_t *) calloc ((size_t) window, sizeof (int64_t));
        link->context = s_load_connect (self, result->error, sizeof (result->error));
        if (!link->sent || !link->context)
            rc = -1;
    }
    s_load_t load = { values, value_count, value_size, 0 };
    int started = 0;
    if (rc == 0) {
        int64_t forks_before = s_info_value (self, "stats", "total_forks");
        double server_before = bench_process_cpu_seconds (self->pid);
        double client_before = s_self_cpu_seconds ();
        int64_t start = s_now_ns ();
        load.deadline_ns = start + (int64_t) (seconds * 1e9);
        for (int index = 0; index < threads; index++) {
            s_worker_t *worker = &workers [index];
            int first = index * connections / threads;
            worker->load = &load;
            worker->connections = &links [first];
            worker->count = (index + 1) * connections / threads - first;
            if (pthread_create (&worker->thread, NULL, s_worker, worker) != 0)
                break;
            started++;
        }
        for (int index = 0; index < started; index++)
            pthread_join (workers [index].thread, NULL);
        int64_t end = s_now_ns ();
        double wall = (end - start) / 1e9;
        double server_after = bench_process_cpu_seconds (self->pid);
        result->client_cpu = 100.0 * (s_self_cpu_seconds () - client_before) / wall;
        if (server_before >= 0 && server_after >= 0)
            result->server_cpu = 100.0 * (server_after - server_before) / wall;
        int64_t forks_after = s_info_value (self, "stats", "total_forks");
        if (forks_before >= 0 && forks_after >= 0)
            result->forks = forks_after - forks_before;
        int64_t last_reply = start;
        for (int index = 0; index < connections; index++)
            if (links [index].last_reply_ns > last_reply)
                last_reply = links [index].last_reply_ns;
        result->elapsed = (last_reply - start) / 1e9;
        if (result->elapsed <= 0)
            result->elapsed = wall;
        if (started < threads) {
            result->errors++;
            snprintf (result->error, sizeof (result->error), "could not start the load threads");
        }
    }
    //  Merge
    size_t latency_count = 0;
    for (int index = 0; links && index < connections; index++)
        latency_count += links [index].latency_count;
    uint64_t *latency = (uint64_t *) malloc ((latency_count? latency_count: 1) * sizeof (uint64_t));
    size_t merged = 0;
    for (int index = 0; links && index < connections; index++) {
        s_connection_t *link = &links [index];
        if (started) {
            result->success += link->success;
            result->errors += link->errors;
            result->lost += link->lost;
            if (!*result->error && *link->error)
                snprintf (result->error, sizeof (result->error), "%s", link->error);
        }
        if (latency && link->latency_count) {
            memcpy (latency + merged, link->latency, link->latency_count * sizeof (uint64_t));
            merged += link->latency_count;
        }
        free (link->latency);
        free (link->sent);
        if (link->context)
            redisFree (link->context);
    }
    if (latency && merged) {
        qsort (latency, merged, sizeof (uint64_t), s_compare_u64);
        result->p50_ms = latency [(size_t) ceil (0.50 * (double) merged) - 1] / 1e6;
        result->p99_ms = latency [(size_t) ceil (0.99 * (double) merged) - 1] / 1e6;
        result->max_ms = latency [merged - 1] / 1e6;
    }
    free (latency);
    free (links);
    free (workers);
    //  And ends the same way: an AOF rewrite the run started (Redis
    //  rewrites its AOF in a child process as it grows) must not go on
    //  beside the node's next workload, taking CPU and disk from it
    char why [200];
    if (s_settle (self, why, sizeof (why)) && rc == 0 && !*result->error)
        snprintf (result->error, sizeof (result->error), "%s", why);
    return rc;
#endif
}
