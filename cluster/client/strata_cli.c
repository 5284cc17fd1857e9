/*  =========================================================================
    strata - the command-line client of a Strata cluster

    put, get, rm, versions and ping talk to strata-router through the
    client library (client.h); stat asks one node for its stats with the
    node protocol; keygen writes a CurveZMQ certificate (zcert_save). With
    --cert and --server-cert (or $STRATA_CERT, $STRATA_SERVER_CERT) every
    connection is CurveZMQ. Names, flags and exit codes are fixed by docs/architecture.md
    ("Programs and exit codes"): 0 success, 2 usage error, 3 the key or
    version does not exist, 1 anything else, with one line on stderr
    saying why.

    get to a FILE writes a temporary file in the same directory and renames
    it over FILE only once the whole object arrived and its MD5 matched; to
    stdout it streams, so a failed verification there comes after the data.
    A progress bar is drawn on stderr for transfers over 4 MiB when stderr
    is a terminal.
    =========================================================================
*/

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <msgpack.h>

#include "client.h"
#include "node_client.h"
#include "digest.h"
#include "wire.h"

#define S_EXIT_OK           0
#define S_EXIT_FAILURE      1
#define S_EXIT_USAGE        2
#define S_EXIT_NOT_FOUND    3

#define S_PROGRESS_MIN      (4 * 1024 * 1024)   //  smaller transfers show no bar
#define S_PROGRESS_EVERY_MS 100                 //  redraw at most this often
#define S_MIB               (1024.0 * 1024.0)

static const char *s_usage =
    "usage: strata COMMAND [OPTIONS] ARGUMENTS\n"
    "\n"
    "Store and read objects in a Strata cluster through strata-router.\n"
    "\n"
    "  strata put      [--router ENDPOINT] [--collection ID] [--meta KEY=VALUE]... KEY [FILE|-]\n"
    "  strata get      [--router ENDPOINT] [--collection ID] [--version UNIFIED-ID] [--meta] KEY [FILE|-]\n"
    "  strata rm       [--router ENDPOINT] [--collection ID] [--version UNIFIED-ID] KEY\n"
    "  strata versions [--router ENDPOINT] [--collection ID] [-l] [--base64] KEY\n"
    "  strata ping     [--router ENDPOINT | --node ENDPOINT]\n"
    "  strata ls       [--router ENDPOINT] [--collection ID] [--prefix P] [-l]\n"
    "  strata scrub    --node ENDPOINT [--reply ENDPOINT]\n"
    "  strata repair   [--router ENDPOINT] [--collection ID] [--node NAME]\n"
    "  strata top      [--router ENDPOINT] [--count N]\n"
    "  strata stat     --node ENDPOINT [--reply ENDPOINT]\n"
    "  strata compact  --node ENDPOINT [--garbage-ratio R] [--reply ENDPOINT]\n"
    "  strata keygen   [--dir DIR] NAME\n"
    "\n"
    "put      stores FILE (or stdin, with '-' or no FILE) as a new version of KEY\n"
    "         and prints its unified-id on stdout.\n"
    "get      writes the newest version of KEY (or --version UNIFIED-ID) to FILE or\n"
    "         stdout. To a FILE it writes a temporary file next to it and renames it\n"
    "         only once the whole object arrived and its MD5 matched. To stdout it\n"
    "         streams: a failed verification then exits 1 after partial output.\n"
    "rm       deletes every version of KEY (or only --version UNIFIED-ID).\n"
    "versions lists the versions of KEY, newest first, one per line:\n"
    "         UNIFIED-ID TIMESTAMP SIZE MD5 (hex, as md5sum), separated by tabs.\n"
    "ping     shows the router's cluster and which nodes it reaches; exits 1\n"
    "         (naming them on stderr) when any node is unreachable or refuses the\n"
    "         router's cluster; with --node, pings that one node directly.\n"
    "top      one screen with every node's figures as the router sees them\n"
    "         (state, last answer, free/total disk, live and garbage bytes,\n"
    "         handoff backlog, damaged records), redrawn every second;\n"
    "         --count N stops after N screens.\n"
    "ls       lists the keys of the collection (with --prefix P: those that start\n"
    "         with the bytes P) whose newest version is not deleted, one per line,\n"
    "         in bytewise order; -l adds, tab-separated: KEY UNIFIED-ID TIMESTAMP SIZE.\n"
    "scrub    asks the node's writer ENDPOINT to re-read and verify every record\n"
    "         now, waits for the pass to end and prints what it checked and found\n"
    "         (exit 0 when the pass ran, damage or not). --timeout: 1 day here.\n"
    "repair   walks every key of the collection and rebuilds the shares of its\n"
    "         versions that owners lack or hold damaged (with --node NAME: only\n"
    "         that node's shares, e.g. after replacing its disk). Progress on\n"
    "         stderr; ends with 'checked N versions, rebuilt M shares, K\n"
    "         unrecoverable' on stdout; exit 1 when K > 0 (each listed on stderr).\n"
    "stat     prints a node's stats as JSON, asking the node's writer ENDPOINT\n"
    "         directly; --reply gives the endpoint to bind for its reply.\n"
    "compact  asks a node's writer ENDPOINT to compact its value files now (those\n"
    "         whose garbage is at least R of their size, default the node's\n"
    "         compact/garbage-ratio) and prints, when the pass is done, the files\n"
    "         compacted and the bytes reclaimed. --timeout defaults to 3600 here.\n"
    "keygen   writes a new CurveZMQ certificate: DIR/NAME (public key, for the\n"
    "         clients-dir of the router and nodes) and DIR/NAME_secret (both keys,\n"
    "         for --cert). Never overwrites.\n"
    "\n"
    "Options:\n"
    "  --router ENDPOINT   the router (default $STRATA_ROUTER, else " CLIENT_DEFAULT_ENDPOINT ")\n"
    "  --collection ID     collection-id, 0..4294967295 (default 0)\n"
    "  --version ID        a version (unified-id), for get and rm\n"
    "  --timeout SECONDS   longest wait for any one reply (default 60; 5 for stat\n"
    "                      and ping --node, which ask one node directly)\n"
    "  --meta KEY=VALUE    put: store this meta entry with the version (repeatable)\n"
    "  --meta              get: print the version's meta, KEY=VALUE lines, on stdout\n"
    "                      (instead of the data unless a FILE is given)\n"
    "  -l, --long          versions: add a column with each version's meta\n"
    "  --base64            versions: MD5 in base64 instead of hex\n"
    "  -v, --verbose       say more about a failure (the router's figures)\n"
    "  --cert FILE         own secret cert: talk CurveZMQ (default $STRATA_CERT)\n"
    "  --server-cert FILE  cert with the cluster's public key, with --cert\n"
    "                      (default $STRATA_SERVER_CERT)\n"
    "  --dir DIR           keygen: where to write (default .)\n"
    "  --prefix P          ls: only keys that start with the bytes P\n"
    "  -l                  ls: KEY UNIFIED-ID TIMESTAMP SIZE, tab-separated\n"
    "  --node NAME         repair: only the shares of this node (a name of the\n"
    "                      cluster file); stat, scrub: --node ENDPOINT\n"
    "  -h, --help          show this help (after COMMAND: that command's) and exit\n"
    "  --                  ends the options: a KEY starting with '-' goes after it\n"
    "  --version           (before COMMAND) show the program version and exit\n"
    "\n"
    "A progress bar is shown on stderr for transfers over 4 MiB when stderr is a\n"
    "terminal.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 the key or version\n"
    "does not exist. On failure one line on stderr says why.\n";

//  What the command line asked for
typedef struct {
    const char *command;            //  put, get, rm, versions, ping, stat
    const char *router;             //  router endpoint
    const char *node;               //  stat: the node's writer endpoint
    const char *reply;              //  stat: endpoint to bind for the reply
    uint32_t collection_id;         //  --collection
    bool has_version;               //  --version given
    uint64_t version;               //  --version
    int timeout_ms;                 //  --timeout
    const char *key;                //  KEY
    const char *file;               //  FILE, NULL or "-" for stdin/stdout
    const char *cert;               //  --cert: own secret cert, or NULL
    const char *server_cert;        //  --server-cert: cluster public key, or NULL
    const char *dir;                //  keygen: --dir
    const char *prefix;             //  ls: --prefix (bytes as given)
    bool has_timeout;               //  --timeout given
    const char *meta [2 * LIMIT_META_ENTRIES + 1];  //  put --meta: names and values, NULL-terminated
    size_t meta_count;              //  pairs in meta
    char *meta_text [LIMIT_META_ENTRIES];           //  the copies meta points into (live until exit)
    bool show_meta;                 //  get --meta
    bool long_listing;              //  versions -l, ls -l
    bool base64;                    //  versions --base64
    bool verbose;                   //  -v
    double garbage_ratio;           //  compact: --garbage-ratio, < 0 if not given
    bool timeout_given;             //  --timeout given
    uint64_t count;                 //  top: --count, screens to show (0: until interrupted)
} s_args_t;

//  A progress bar on stderr
typedef struct {
    bool terminal;                  //  stderr is a terminal
    bool shown;                     //  the bar has been drawn
    uint64_t total;                 //  bytes expected, 0 if not known
    int64_t started_ms;             //  when the transfer started
    int64_t drawn_ms;               //  when the bar was last drawn
} s_progress_t;

//  A file being read for put or written for get
typedef struct {
    int fd;                         //  the descriptor
    const char *name;               //  for messages
    int error;                      //  errno of a failed read or write, else 0
} s_file_t;

//  The temporary file of a get, removed if a signal ends the program
static char s_temp_path [PATH_MAX + 64];
static volatile sig_atomic_t s_temp_active;


//  --------------------------------------------------------------------------
//  Messages

static int
s_usage_error (const s_args_t *args, const char *format, ...)
{
    char message [600];
    va_list list;
    va_start (list, format);
    vsnprintf (message, sizeof message, format, list);
    va_end (list);
    if (args && args->command)
        fprintf (stderr, "strata %s: %s (see strata %s --help)\n", args->command, message, args->command);
    else
        fprintf (stderr, "strata: %s (see strata --help)\n", message);
    return S_EXIT_USAGE;
}

static int
s_failure (const s_args_t *args, int code, const char *format, ...)
{
    char message [700];
    va_list list;
    va_start (list, format);
    vsnprintf (message, sizeof message, format, list);
    va_end (list);
    //  One line: no newlines from anywhere inside the message
    for (char *at = message; *at; at++)
        if (*at == '\n' || *at == '\r')
            *at = ' ';
    fprintf (stderr, "strata %s: %s\n", args->command, message);
    return code;
}

//  The exit code for a client result
static int
s_exit_code (client_result_t result)
{
    return result == CLIENT_OK? S_EXIT_OK: result == CLIENT_NOT_FOUND? S_EXIT_NOT_FOUND: S_EXIT_FAILURE;
}


//  --------------------------------------------------------------------------
//  Progress bar

static void
s_progress_draw (s_progress_t *progress, uint64_t done, bool last)
{
    int64_t now = zclock_mono ();
    double seconds = (now - progress->started_ms) / 1000.0;
    double rate = seconds > 0? done / S_MIB / seconds: 0;
    char line [160];
    if (progress->total) {
        int percent = (int) (done * 100 / progress->total);
        int width = 30;
        int filled = (int) (done * width / progress->total);
        char bar [32];
        for (int index = 0; index < width; index++)
            bar [index] = index < filled? '=': index == filled? '>': ' ';
        bar [width] = 0;
        snprintf (line, sizeof line, "\r[%s] %3d%%  %.1f / %.1f MiB  %.1f MiB/s ", bar, percent,
                  done / S_MIB, progress->total / S_MIB, rate);
    }
    else
        snprintf (line, sizeof line, "\r%.1f MiB  %.1f MiB/s ", done / S_MIB, rate);
    fputs (line, stderr);
    if (last)
        fputs ("\n", stderr);
    fflush (stderr);
    progress->shown = true;
    progress->drawn_ms = now;
}

static void
s_progress_update (void *arg, uint64_t done, uint64_t total)
{
    s_progress_t *progress = (s_progress_t *) arg;
    if (total)
        progress->total = total;
    if (!progress->terminal)
        return;
    uint64_t size = progress->total? progress->total: done;
    if (size <= S_PROGRESS_MIN)
        return;
    if (!progress->shown || zclock_mono () - progress->drawn_ms >= S_PROGRESS_EVERY_MS
    ||  (progress->total && done == progress->total))
        s_progress_draw (progress, done, false);
}

//  End the bar's line, so what follows starts on a line of its own
static void
s_progress_end (s_progress_t *progress)
{
    if (progress->shown) {
        fputs ("\n", stderr);
        fflush (stderr);
        progress->shown = false;
    }
}

static void
s_progress_start (s_progress_t *progress, client_t *client, uint64_t total)
{
    memset (progress, 0, sizeof *progress);
    progress->terminal = isatty (STDERR_FILENO) == 1;
    progress->total = total;
    progress->started_ms = zclock_mono ();
    client_set_progress (client, s_progress_update, progress);
}


//  --------------------------------------------------------------------------
//  Reading and writing files

static ssize_t
s_file_read (void *arg, void *buffer, size_t size)
{
    s_file_t *file = (s_file_t *) arg;
    while (true) {
        ssize_t got = read (file->fd, buffer, size);
        if (got >= 0)
            return got;
        if (errno != EINTR) {
            file->error = errno;
            return -1;
        }
    }
}

static int
s_file_write (void *arg, const void *data, size_t size)
{
    s_file_t *file = (s_file_t *) arg;
    const uint8_t *bytes = (const uint8_t *) data;
    while (size > 0) {
        ssize_t written = write (file->fd, bytes, size);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            file->error = errno;
            return -1;
        }
        bytes += written;
        size -= (size_t) written;
    }
    return 0;
}

static volatile sig_atomic_t s_interrupted;
static volatile sig_atomic_t s_put_active;

static void
s_signal_handler (int signal_number)
{
    if (s_put_active && (signal_number == SIGINT || signal_number == SIGTERM) && !s_interrupted) {
        //  The put's read callback sees it and the upload is aborted
        s_interrupted = 1;
        return;
    }
    if (s_temp_active)
        unlink (s_temp_path);
    signal (signal_number, SIG_DFL);
    raise (signal_number);
}


//  --------------------------------------------------------------------------
//  Parsing numbers

//  Parse a decimal unsigned integer (no sign, no spaces) up to max
static int
s_parse_uint (const char *text, uint64_t max, uint64_t *value_p)
{
    if (!text || !*text || strspn (text, "0123456789") != strlen (text))
        return -1;
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno || value > max)
        return -1;
    *value_p = value;
    return 0;
}

static int
s_parse_seconds (const char *text, int *timeout_ms_p)
{
    char *end = NULL;
    errno = 0;
    double seconds = text && *text? strtod (text, &end): -1;
    if (errno || !end || *end || !(seconds > 0) || seconds > 86400 || isnan (seconds))
        return -1;
    *timeout_ms_p = (int) ceil (seconds * 1000);
    return 0;
}


//  --------------------------------------------------------------------------
//  Commands

static client_t *
s_client (const s_args_t *args)
{
    client_t *client = client_new (args->router);
    if (client) {
        client_set_timeout (client, args->timeout_ms);
        client_set_connect_timeout (client, args->timeout_ms < CLIENT_DEFAULT_CONNECT_TIMEOUT_MS?
                                            args->timeout_ms: CLIENT_DEFAULT_CONNECT_TIMEOUT_MS);
    }
    return client;
}

//  The key or version does not exist: say so plainly (the router's figures
//  with -v), exit 3
static int
s_not_found (const s_args_t *args, client_t *client)
{
    char safe [200];
    wire_sanitize (args->key, strlen (args->key), safe, sizeof safe);
    char detail [600] = "";
    if (args->verbose && client && *client_error (client))
        snprintf (detail, sizeof detail, " (%s)", client_error (client));
    if (args->has_version)
        return s_failure (args, S_EXIT_NOT_FOUND, "no such version %" PRIu64 " of key '%s'%s",
                          args->version, safe, detail);
    return s_failure (args, S_EXIT_NOT_FOUND, "no such key '%s'%s", safe, detail);
}

//  A client failure: not-found in plain words, anything else as the client
//  says it
static int
s_client_failure (const s_args_t *args, client_t *client, client_result_t result)
{
    if (result == CLIENT_NOT_FOUND)
        return s_not_found (args, client);
    return s_failure (args, s_exit_code (result), "%s", client_error (client));
}

//  Print a raw MessagePack meta map as KEY=VALUE entries, each followed by
//  separator; "-" and separator when there are none
static void
s_meta_print (FILE *out, const uint8_t *meta, size_t meta_size, const char *separator)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    size_t printed = 0;
    if (meta && meta_size && wire_unpack (&unpacked, meta, meta_size, meta_size, &why) == 0
    &&  unpacked.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &unpacked.data.via.map;
        for (uint32_t index = 0; index < map->size; index++) {
            const msgpack_object *name = &map->ptr [index].key;
            const msgpack_object *value = &map->ptr [index].val;
            if (name->type != MSGPACK_OBJECT_STR || value->type != MSGPACK_OBJECT_STR)
                continue;
            if (printed && strcmp (separator, "\n") != 0)
                fputs (separator, out);
            fprintf (out, "%.*s=%.*s", (int) name->via.str.size, name->via.str.ptr,
                     (int) value->via.str.size, value->via.str.ptr);
            if (strcmp (separator, "\n") == 0)
                fputs ("\n", out);
            printed++;
        }
    }
    if (!printed && strcmp (separator, "\n") != 0)
        fputs ("-", out);
    msgpack_unpacked_destroy (&unpacked);
}

//  Stop a get after its first reply: only the meta is wanted
static int
s_discard_write (void *arg, const void *data, size_t size)
{
    (void) arg;
    (void) data;
    (void) size;
    return -1;
}

//  The meta of a version (version NULL: the newest), read from the first
//  reply of a get (the data is not fetched). *object is filled; clear it.
static client_result_t
s_fetch_meta (const s_args_t *args, client_t *client, const uint64_t *version, client_object_t *object)
{
    client_result_t result = client_get (client, args->collection_id, args->key, version,
                                         s_discard_write, NULL, object);
    return result == CLIENT_CALLBACK_ERROR? CLIENT_OK: result;
}

//  SIGINT or SIGTERM during a put (s_signal_handler): the read callback
//  ends the upload, the client library sends put-abort, and the router
//  cancels what was sent

//  Read for a put, refusing once the user interrupted
static ssize_t
s_put_read (void *arg, void *buffer, size_t size)
{
    s_file_t *file = (s_file_t *) arg;
    while (!s_interrupted) {
        ssize_t got = read (file->fd, buffer, size);
        if (got >= 0)
            return got;
        if (errno != EINTR) {
            file->error = errno;
            return -1;
        }
    }
    file->error = EINTR;            //  a read waiting for stdin is cut short too
    return -1;
}

//  Worth one more try: the router or its nodes were briefly short
static bool
s_retryable (client_result_t result)
{
    return result == CLIENT_TIMEOUT || result == CLIENT_UNAVAILABLE || result == CLIENT_OVERLOADED
        || result == CLIENT_IO_ERROR;
}

static int
s_put (const s_args_t *args, client_t *client)
{
    bool from_stdin = !args->file || streq (args->file, "-");
    s_file_t file = { STDIN_FILENO, "stdin", 0 };
    if (!from_stdin) {
        file.name = args->file;
        file.fd = open (args->file, O_RDONLY | O_CLOEXEC);
        if (file.fd < 0)
            return s_failure (args, S_EXIT_FAILURE, "cannot open %s: %s", args->file, strerror (errno));
    }
    struct stat status;
    bool known = fstat (file.fd, &status) == 0;
    bool regular = known && S_ISREG (status.st_mode);
    if (known && S_ISDIR (status.st_mode)) {
        close (file.fd);
        return s_failure (args, S_EXIT_FAILURE, "%s is a directory", file.name);
    }
    s_progress_t progress;
    s_progress_start (&progress, client, regular? (uint64_t) status.st_size: 0);

    client_result_t result;
    uint64_t version = 0;
    if (regular && (uint64_t) status.st_size <= CLIENT_DEFAULT_MAX_PUT_BYTES) {
        //  Small enough for one message: read it whole
        size_t size = (size_t) status.st_size;
        uint8_t *data = (uint8_t *) malloc (size? size: 1);
        size_t filled = 0;
        bool grew = false;
        while (data && filled < size) {
            ssize_t got = s_file_read (&file, data + filled, size - filled);
            if (got <= 0)
                break;
            filled += (size_t) got;
        }
        if (data && filled == size) {
            char probe;             //  the file may have grown since fstat
            grew = s_file_read (&file, &probe, 1) > 0;
        }
        if (!data) {
            if (!from_stdin)
                close (file.fd);
            return s_failure (args, S_EXIT_FAILURE, "out of memory for %zu bytes", size);
        }
        if (file.error || filled != size || grew) {
            free (data);
            if (!from_stdin)
                close (file.fd);
            return s_failure (args, S_EXIT_FAILURE, "reading %s: %s", file.name,
                              file.error? strerror (file.error): "the file changed while being read");
        }
        result = client_put (client, args->collection_id, args->key, data, size, args->meta, &version);
        if (s_retryable (result)) {
            //  Once more, by itself: a node lost midway, a router briefly short
            fprintf (stderr, "strata put: %s; trying once more\n", client_error (client));
            result = client_put (client, args->collection_id, args->key, data, size, args->meta, &version);
        }
        free (data);
    }
    else {
        s_put_active = 1;
        result = client_put_stream (client, args->collection_id, args->key, s_put_read, &file, args->meta,
                                    &version);
        if (s_retryable (result) && regular && !s_interrupted && lseek (file.fd, 0, SEEK_SET) == 0) {
            fprintf (stderr, "strata put: %s; trying once more\n", client_error (client));
            result = client_put_stream (client, args->collection_id, args->key, s_put_read, &file,
                                        args->meta, &version);
        }
        s_put_active = 0;
    }
    s_progress_end (&progress);
    if (!from_stdin)
        close (file.fd);
    if (s_interrupted)
        return s_failure (args, S_EXIT_FAILURE, "interrupted: the upload was aborted, nothing was stored");
    if (result == CLIENT_CALLBACK_ERROR && file.error)
        return s_failure (args, S_EXIT_FAILURE, "reading %s: %s", file.name, strerror (file.error));
    if (result != CLIENT_OK)
        return s_failure (args, s_exit_code (result), "%s", client_error (client));
    printf ("%" PRIu64 "\n", version);
    if (fflush (stdout) != 0 || ferror (stdout))
        return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return S_EXIT_OK;
}

static int
s_get (const s_args_t *args, client_t *client)
{
    bool to_stdout = !args->file || streq (args->file, "-");
    if (args->show_meta && to_stdout) {
        //  The meta only: one reply, no data
        client_object_t object;
        client_result_t result = s_fetch_meta (args, client, args->has_version? &args->version: NULL,
                                               &object);
        if (result == CLIENT_OK)
            s_meta_print (stdout, object.meta, object.meta_size, "\n");
        client_object_clear (&object);
        if (result != CLIENT_OK)
            return s_client_failure (args, client, result);
        if (fflush (stdout) != 0 || ferror (stdout))
            return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
        return S_EXIT_OK;
    }
    s_file_t file = { STDOUT_FILENO, "stdout", 0 };
    if (!to_stdout) {
        struct stat status;
        if (stat (args->file, &status) == 0 && S_ISDIR (status.st_mode))
            return s_failure (args, S_EXIT_FAILURE, "%s is a directory", args->file);
        char *copy_dir = strdup (args->file);
        char *copy_base = strdup (args->file);
        if (!copy_dir || !copy_base) {
            free (copy_dir);
            free (copy_base);
            return s_failure (args, S_EXIT_FAILURE, "out of memory");
        }
        int length = snprintf (s_temp_path, sizeof s_temp_path, "%s/.%s.strata-XXXXXX",
                               dirname (copy_dir), basename (copy_base));
        free (copy_dir);
        free (copy_base);
        if (length < 0 || (size_t) length >= sizeof s_temp_path)
            return s_failure (args, S_EXIT_FAILURE, "%s: path too long", args->file);
        file.fd = mkostemp (s_temp_path, O_CLOEXEC);
        if (file.fd < 0)
            return s_failure (args, S_EXIT_FAILURE, "cannot create a temporary file for %s: %s",
                              args->file, strerror (errno));
        s_temp_active = 1;
        file.name = args->file;
    }
    s_progress_t progress;
    s_progress_start (&progress, client, 0);
    client_object_t object;
    client_result_t result = client_get (client, args->collection_id, args->key,
                                         args->has_version? &args->version: NULL, s_file_write, &file, &object);
    if (result == CLIENT_OK && args->show_meta)
        s_meta_print (stdout, object.meta, object.meta_size, "\n");
    client_object_clear (&object);
    s_progress_end (&progress);

    int code = S_EXIT_OK;
    if (result == CLIENT_CALLBACK_ERROR && file.error)
        code = s_failure (args, S_EXIT_FAILURE, "writing %s: %s", file.name, strerror (file.error));
    else
    if (result != CLIENT_OK)
        code = s_client_failure (args, client, result);
    if (to_stdout)
        return code;

    //  To a file: make it durable and put it in place, or remove it
    if (code == S_EXIT_OK) {
        mode_t mask = umask (0);
        umask (mask);
        if (fchmod (file.fd, 0666 & ~mask) != 0 || fsync (file.fd) != 0)
            code = s_failure (args, S_EXIT_FAILURE, "writing %s: %s", args->file, strerror (errno));
    }
    if (close (file.fd) != 0 && code == S_EXIT_OK)
        code = s_failure (args, S_EXIT_FAILURE, "writing %s: %s", args->file, strerror (errno));
    if (code == S_EXIT_OK && rename (s_temp_path, args->file) != 0)
        code = s_failure (args, S_EXIT_FAILURE, "cannot rename the temporary file to %s: %s",
                          args->file, strerror (errno));
    if (code != S_EXIT_OK)
        unlink (s_temp_path);
    s_temp_active = 0;
    return code;
}

static int
s_rm (const s_args_t *args, client_t *client)
{
    //  A key or version that does not exist is "not found" (exit 3), as for
    //  get; the router's delete alone would store a tombstone and succeed
    client_version_t *versions = NULL;
    size_t count = 0;
    client_result_t result = client_versions (client, args->collection_id, args->key, &versions, &count);
    bool exists = false;
    for (size_t index = 0; result == CLIENT_OK && index < count; index++)
        if (!args->has_version || versions [index].unified_id == args->version)
            exists = true;
    free (versions);
    if (result != CLIENT_OK)
        return s_client_failure (args, client, result);
    if (!exists)
        return s_not_found (args, client);
    result = client_delete (client, args->collection_id, args->key,
                            args->has_version? &args->version: NULL, NULL);
    if (result != CLIENT_OK)
        return s_client_failure (args, client, result);
    return S_EXIT_OK;
}

static int
s_versions (const s_args_t *args, client_t *client)
{
    client_version_t *versions = NULL;
    size_t count = 0;
    client_result_t result = client_versions (client, args->collection_id, args->key, &versions, &count);
    if (result != CLIENT_OK)
        return s_client_failure (args, client, result);
    if (count == 0)
        return s_not_found (args, client);
    for (size_t index = 0; index < count; index++) {
        char hash [DIGEST_MD5_BASE64_SIZE > 33? DIGEST_MD5_BASE64_SIZE: 33];
        if (args->base64)
            digest_md5_to_base64 (versions [index].file_hash, hash);
        else
            for (size_t byte = 0; byte < DIGEST_MD5_SIZE; byte++)
                snprintf (hash + 2 * byte, 3, "%02x", versions [index].file_hash [byte]);
        printf ("%" PRIu64 "\t%s\t%" PRIu64 "\t%s", versions [index].unified_id,
                *versions [index].timestamp? versions [index].timestamp: "-", versions [index].size, hash);
        if (args->long_listing) {
            //  The meta is in each version's first get reply
            client_object_t object;
            result = s_fetch_meta (args, client, &versions [index].unified_id, &object);
            fputc ('\t', stdout);
            if (result == CLIENT_OK)
                s_meta_print (stdout, object.meta, object.meta_size, " ");
            else
                fputs ("?", stdout);
            client_object_clear (&object);
        }
        fputc ('\n', stdout);
    }
    free (versions);
    if (fflush (stdout) != 0 || ferror (stdout))
        return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return S_EXIT_OK;
}

//  ping --node: one node, directly
static int
s_ping_node (const s_args_t *args)
{
    client_node_ping_t ping;
    char error [1300];
    client_result_t result = client_node_ping_curve (args->node, args->reply, args->timeout_ms,
                                                     args->cert, args->server_cert, &ping,
                                                     error, sizeof error);
    if (result != CLIENT_OK)
        return s_failure (args, s_exit_code (result) == S_EXIT_NOT_FOUND? S_EXIT_FAILURE: s_exit_code (result),
                          "%s", error);
    printf ("node %s at %s: version %s, up %" PRIu64 " s, answered in %.1f ms\n",
            *ping.name? ping.name: "?", args->node, *ping.version? ping.version: "?",
            ping.uptime_seconds, ping.round_trip_us / 1000.0);
    if (fflush (stdout) != 0 || ferror (stdout))
        return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return S_EXIT_OK;
}

static int
s_ping (const s_args_t *args, client_t *client)
{
    client_ping_t ping;
    client_result_t result = client_ping (client, &ping);
    if (result != CLIENT_OK) {
        client_ping_clear (&ping);
        return s_failure (args, s_exit_code (result), "%s", client_error (client));
    }
    size_t reachable = 0;
    for (size_t index = 0; index < ping.node_count; index++)
        if (ping.nodes [index].reachable)
            reachable++;
    printf ("cluster %s: %zu of %zu nodes reachable (data-shards %d, total-shards %d; router %s;"
            " %" PRIu64 " writes with handoff copies)%s%s\n",
            *ping.cluster? ping.cluster: "?", reachable, ping.node_count, ping.data_shards,
            ping.total_shards, *ping.version? ping.version: "?", ping.handoff_writes,
            *ping.fingerprint? " fingerprint ": "", ping.fingerprint);
    for (size_t index = 0; index < ping.node_count; index++)
        if (*ping.nodes [index].mismatch)
            printf ("%s\tcluster-mismatch: %s\n", ping.nodes [index].name, ping.nodes [index].mismatch);
        else
            printf ("%s\t%s\n", ping.nodes [index].name, ping.nodes [index].reachable? "reachable": "unreachable");
    fflush (stdout);
    int code = S_EXIT_OK;
    if (reachable < ping.node_count) {
        //  Degraded: say which, exit 1 so scripts can tell
        char names [1024] = "";
        size_t used = 0;
        for (size_t index = 0; index < ping.node_count; index++) {
            if (ping.nodes [index].reachable)
                continue;
            int written = snprintf (names + used, sizeof names - used, "%s%s", used? ", ": "",
                                    ping.nodes [index].name);
            if (written > 0 && (size_t) written < sizeof names - used)
                used += (size_t) written;
        }
        code = s_failure (args, S_EXIT_FAILURE, "cluster degraded: %zu of %zu nodes unreachable: %s",
                          ping.node_count - reachable, ping.node_count, names);
    }
    client_ping_clear (&ping);
    return code;
}


//  --------------------------------------------------------------------------
//  top: the nodes' figures, once a second

static void
s_top_bytes (char *out, size_t size, int64_t bytes)
{
    const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 0) {
        snprintf (out, size, "-");
        return;
    }
    double value = (double) bytes;
    int unit = 0;
    while (value >= 1024 && unit < 5) {
        value /= 1024;
        unit++;
    }
    snprintf (out, size, unit? "%.1f %s": "%.0f %s", value, units [unit]);
}

static void
s_top_count (char *out, size_t size, int64_t count)
{
    if (count < 0)
        snprintf (out, size, "-");
    else
        snprintf (out, size, "%" PRId64, count);
}

static int
s_top (const s_args_t *args, client_t *client)
{
    bool terminal = isatty (STDOUT_FILENO);
    for (uint64_t screen = 0; args->count == 0 || screen < args->count; screen++) {
        if (screen > 0)
            sleep (1);
        client_ping_t ping;
        client_result_t result = client_ping (client, &ping);
        if (result != CLIENT_OK) {
            client_ping_clear (&ping);
            return s_failure (args, s_exit_code (result), "%s", client_error (client));
        }
        size_t reachable = 0;
        for (size_t index = 0; index < ping.node_count; index++)
            reachable += ping.nodes [index].reachable;
        char now [64];
        time_t clock = time (NULL);
        strftime (now, sizeof now, "%Y-%m-%d %H:%M:%S", localtime (&clock));
        if (terminal)
            fputs ("\033[H\033[2J", stdout);     //  home, clear
        else
        if (screen > 0)
            fputc ('\n', stdout);
        printf ("cluster %s: %zu of %zu nodes up (k=%d, n=%d) - router %s - %" PRIu64
                " handoff writes - %s\n\n", *ping.cluster? ping.cluster: "?", reachable, ping.node_count,
                ping.data_shards, ping.total_shards, *ping.version? ping.version: "?", ping.handoff_writes, now);
        printf ("%-12s %-5s %9s %11s %11s %6s %11s %11s %8s %8s\n", "NODE", "STATE", "ANSWERED",
                "FREE", "TOTAL", "FREE%", "LIVE", "GARBAGE", "HANDOFF", "DAMAGED");
        for (size_t index = 0; index < ping.node_count; index++) {
            client_node_t *node = &ping.nodes [index];
            char answered [32], free_text [32], total [32], percent [16], live [32], garbage [32];
            char handoff [32], damaged [32];
            if (node->last_answer_ms >= 0)
                snprintf (answered, sizeof answered, "%.1fs ago", (double) node->last_answer_ms / 1000);
            else
                snprintf (answered, sizeof answered, "-");
            s_top_bytes (free_text, sizeof free_text, node->free_bytes);
            s_top_bytes (total, sizeof total, node->total_bytes);
            if (node->total_bytes > 0 && node->free_bytes >= 0)
                snprintf (percent, sizeof percent, "%.1f", 100.0 * (double) node->free_bytes
                                                            / (double) node->total_bytes);
            else
                snprintf (percent, sizeof percent, "-");
            s_top_bytes (live, sizeof live, node->live_bytes);
            s_top_bytes (garbage, sizeof garbage, node->garbage_bytes);
            s_top_count (handoff, sizeof handoff, node->handoff_held);
            s_top_count (damaged, sizeof damaged, node->damaged_records);
            printf ("%-12.12s %-5s %9s %11s %11s %6s %11s %11s %8s %8s\n", node->name,
                    node->reachable? "up": "DOWN", answered, free_text, total, percent, live, garbage,
                    handoff, damaged);
        }
        if (terminal)
            printf ("\n(every second; Ctrl-C quits)\n");
        fflush (stdout);
        client_ping_clear (&ping);
    }
    return S_EXIT_OK;
}


//  --------------------------------------------------------------------------
//  stat: MessagePack to JSON

static void
s_json_string (FILE *out, const char *text, size_t size)
{
    bool valid = wire_utf8_valid (text, size, true);
    fputc ('"', out);
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = (unsigned char) text [index];
        if (byte == '"' || byte == '\\')
            fprintf (out, "\\%c", byte);
        else
        if (byte == '\n')
            fputs ("\\n", out);
        else
        if (byte == '\t')
            fputs ("\\t", out);
        else
        if (byte < 0x20 || byte == 0x7f)
            fprintf (out, "\\u%04x", byte);
        else
        if (byte >= 0x80 && !valid)
            fputs ("\\ufffd", out);     //  not UTF-8: JSON cannot carry it
        else
            fputc (byte, out);
    }
    fputc ('"', out);
}

static void
s_json_indent (FILE *out, int depth)
{
    fputc ('\n', out);
    for (int index = 0; index < depth; index++)
        fputs ("  ", out);
}

static void
s_json_value (FILE *out, const msgpack_object *value, int depth)
{
    switch (value->type) {
        case MSGPACK_OBJECT_NIL:
            fputs ("null", out);
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            fputs (value->via.boolean? "true": "false", out);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            fprintf (out, "%" PRIu64, value->via.u64);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            fprintf (out, "%" PRId64, value->via.i64);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            if (isfinite (value->via.f64))
                fprintf (out, "%.17g", value->via.f64);
            else
                fputs ("null", out);
            break;
        case MSGPACK_OBJECT_STR:
            s_json_string (out, value->via.str.ptr, value->via.str.size);
            break;
        case MSGPACK_OBJECT_BIN: {
            //  As base64 text
            size_t room = (value->via.bin.size + 2) / 3 * 4 + 1;
            char *text = (char *) malloc (room);
            if (text && digest_base64_encode ((const uint8_t *) value->via.bin.ptr, value->via.bin.size,
                                              text, room) >= 0)
                s_json_string (out, text, strlen (text));
            else
                fputs ("null", out);
            free (text);
            break;
        }
        case MSGPACK_OBJECT_ARRAY:
            fputc ('[', out);
            for (uint32_t index = 0; index < value->via.array.size; index++) {
                if (index)
                    fputc (',', out);
                s_json_indent (out, depth + 1);
                s_json_value (out, &value->via.array.ptr [index], depth + 1);
            }
            if (value->via.array.size)
                s_json_indent (out, depth);
            fputc (']', out);
            break;
        case MSGPACK_OBJECT_MAP:
            fputc ('{', out);
            for (uint32_t index = 0; index < value->via.map.size; index++) {
                const msgpack_object_kv *entry = &value->via.map.ptr [index];
                if (index)
                    fputc (',', out);
                s_json_indent (out, depth + 1);
                if (entry->key.type == MSGPACK_OBJECT_STR)
                    s_json_string (out, entry->key.via.str.ptr, entry->key.via.str.size);
                else {
                    //  JSON keys are strings: write other keys as their JSON text
                    char *text = NULL;
                    size_t size = 0;
                    FILE *memory = open_memstream (&text, &size);
                    if (memory) {
                        s_json_value (memory, &entry->key, 0);
                        fclose (memory);
                        s_json_string (out, text, size);
                    }
                    else
                        fputs ("\"?\"", out);
                    free (text);
                }
                fputs (": ", out);
                s_json_value (out, &entry->val, depth + 1);
            }
            if (value->via.map.size)
                s_json_indent (out, depth);
            fputc ('}', out);
            break;
        default:
            fputs ("null", out);    //  ext types have no JSON form
            break;
    }
}

static int
s_stat (const s_args_t *args)
{
    uint8_t *stats = NULL;
    size_t stats_size = 0;
    char error [1300];
    client_result_t result = client_node_stats_curve (args->node, args->reply, args->timeout_ms,
                                                      args->cert, args->server_cert,
                                                      &stats, &stats_size, error, sizeof error);
    if (result != CLIENT_OK)
        return s_failure (args, s_exit_code (result), "%s", error);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int code = S_EXIT_OK;
    if (wire_unpack (&unpacked, stats, stats_size, stats_size, &why) != 0)
        code = s_failure (args, S_EXIT_FAILURE, "the node's stats are not MessagePack (%s)", why);
    else {
        s_json_value (stdout, &unpacked.data, 0);
        fputc ('\n', stdout);
        if (fflush (stdout) != 0 || ferror (stdout))
            code = s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    }
    msgpack_unpacked_destroy (&unpacked);
    free (stats);
    return code;
}


//  ls: every page of the collection's keys, the live ones printed
static int
s_ls (const s_args_t *args, client_t *client)
{
    char start_after [LIMIT_KEY_MAX + 1];
    size_t start_after_size = 0;
    size_t prefix_size = args->prefix? strlen (args->prefix): 0;
    while (true) {
        client_key_t *keys = NULL;
        size_t count = 0;
        bool truncated = false;
        client_result_t result = client_list_keys (client, args->collection_id, args->prefix, prefix_size,
                                                   start_after, start_after_size, LIMIT_LIST_KEYS_MAX,
                                                   &keys, &count, &truncated);
        if (result != CLIENT_OK)
            return s_failure (args, s_exit_code (result), "%s", client_error (client));
        for (size_t index = 0; index < count; index++) {
            const client_key_t *key = &keys [index];
            if (key->deleted)
                continue;
            fwrite (key->key, 1, key->key_size, stdout);
            if (args->long_listing)
                printf ("\t%" PRIu64 "\t%s\t%" PRIu64, key->unified_id,
                        *key->timestamp? key->timestamp: "-", key->size);
            fputc ('\n', stdout);
        }
        if (count > 0) {
            memcpy (start_after, keys [count - 1].key, keys [count - 1].key_size);
            start_after_size = keys [count - 1].key_size;
        }
        free (keys);
        if (!truncated || count == 0)
            break;
    }
    if (fflush (stdout) != 0 || ferror (stdout))
        return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return S_EXIT_OK;
}

//  compact: one compaction pass on a node, then its result
static int
s_compact (const s_args_t *args)
{
    uint64_t files = 0, bytes = 0;
    char error [1300];
    int timeout_ms = args->timeout_given? args->timeout_ms: 3600 * 1000;
    client_result_t result = client_node_compact_curve (args->node, args->reply, timeout_ms,
                                                        args->cert, args->server_cert,
                                                        args->garbage_ratio, &files, &bytes,
                                                        error, sizeof error);
    if (result != CLIENT_OK)
        return s_failure (args, s_exit_code (result), "%s", error);
    printf ("compacted %" PRIu64 " value files, reclaimed %" PRIu64 " bytes\n", files, bytes);
    if (fflush (stdout) != 0 || ferror (stdout))
        return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return S_EXIT_OK;
}

//  repair: every live key of the collection, one object at a time
static void
s_repair_progress (bool terminal, bool last, uint64_t keys, uint64_t versions, uint64_t rebuilt,
                   uint64_t bytes, int64_t started_ms)
{
    double seconds = (zclock_mono () - started_ms) / 1000.0;
    fprintf (stderr, "%srepair: %" PRIu64 " keys, %" PRIu64 " versions checked, %" PRIu64
             " shares rebuilt (%.1f MB, %.1f MB/s)%s", terminal? "\r": "", keys, versions, rebuilt,
             bytes / 1e6, seconds > 0? bytes / 1e6 / seconds: 0.0, terminal && !last? "": "\n");
    fflush (stderr);
}

static int
s_repair (const s_args_t *args, client_t *client)
{
    bool terminal = isatty (STDERR_FILENO);
    int64_t started_ms = zclock_mono (), drawn_ms = 0;
    uint64_t keys_done = 0, versions = 0, rebuilt = 0, bytes = 0, unrecoverable = 0;
    char start_after [LIMIT_KEY_MAX + 1];
    size_t start_after_size = 0;
    while (true) {
        client_key_t *keys = NULL;
        size_t count = 0;
        bool truncated = false;
        client_result_t result = client_list_keys (client, args->collection_id, NULL, 0,
                                                   start_after, start_after_size, LIMIT_LIST_KEYS_MAX,
                                                   &keys, &count, &truncated);
        if (result != CLIENT_OK)
            return s_failure (args, s_exit_code (result), "listing keys: %s", client_error (client));
        for (size_t index = 0; index < count; index++) {
            const client_key_t *key = &keys [index];
            if (key->deleted)
                continue;
            client_repair_t repair;
            result = client_repair (client, args->collection_id, key->key, args->node, &repair);
            keys_done++;
            if (result == CLIENT_INVALID_REQUEST) {
                free (keys);
                return s_failure (args, S_EXIT_FAILURE, "%s", client_error (client));
            }
            if (result != CLIENT_OK) {
                //  Nothing of the key could be checked: count it as one
                unrecoverable++;
                fprintf (stderr, "%sunrecoverable: %s: %s\n", terminal? "\n": "", key->key,
                         client_error (client));
                continue;
            }
            versions += repair.versions;
            rebuilt += repair.rebuilt;
            bytes += repair.rebuilt_bytes;
            unrecoverable += repair.unrecoverable_count;
            for (size_t which = 0; which < repair.unrecoverable_count && which < 16; which++)
                fprintf (stderr, "%sunrecoverable: %s\t%" PRIu64 "\n", terminal? "\n": "", key->key,
                         repair.unrecoverable [which]);
            int64_t now = zclock_mono ();
            if (now - drawn_ms >= (terminal? S_PROGRESS_EVERY_MS: 10000)) {
                s_repair_progress (terminal, false, keys_done, versions, rebuilt, bytes, started_ms);
                drawn_ms = now;
            }
        }
        if (count > 0) {
            memcpy (start_after, keys [count - 1].key, keys [count - 1].key_size);
            start_after_size = keys [count - 1].key_size;
        }
        free (keys);
        if (!truncated || count == 0)
            break;
    }
    s_repair_progress (terminal, true, keys_done, versions, rebuilt, bytes, started_ms);
    printf ("checked %" PRIu64 " versions, rebuilt %" PRIu64 " shares, %" PRIu64 " unrecoverable\n",
            versions, rebuilt, unrecoverable);
    if (fflush (stdout) != 0 || ferror (stdout))
        return s_failure (args, S_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return unrecoverable? S_EXIT_FAILURE: S_EXIT_OK;
}

//  scrub: one pass on a node, now
static int
s_scrub (const s_args_t *args)
{
    reply_t *reply = reply_new ();
    if (!reply)
        return s_failure (args, S_EXIT_FAILURE, "out of memory");
    char error [1300];
    int timeout_ms = args->has_timeout? args->timeout_ms: 86400 * 1000;
    client_result_t result = client_node_request (args->node, args->reply, timeout_ms, args->cert,
                                                  args->server_cert, MSG_SCRUB, -1, reply, error, sizeof error);
    int code = S_EXIT_OK;
    if (result != CLIENT_OK)
        code = s_failure (args, s_exit_code (result), "%s", error);
    else {
        printf ("scrubbed %" PRIu64 " records (%" PRIu64 " bytes): %" PRIu64 " damaged\n",
                reply->records_checked, reply->bytes_checked, reply->damaged_found);
        fflush (stdout);
    }
    reply_destroy (&reply);
    return code;
}


//  keygen: a new certificate as DIR/NAME and DIR/NAME_secret
static int
s_keygen (const s_args_t *args)
{
    const char *dir = args->dir? args->dir: ".";
    if (!zsys_file_exists (dir) || !(zsys_file_mode (dir) & S_IFDIR))
        return s_failure (args, S_EXIT_FAILURE, "%s is not a directory", dir);
    char path [PATH_MAX], secret [PATH_MAX + 16];
    if (snprintf (path, sizeof path, "%s/%s", dir, args->key) >= (int) sizeof path)
        return s_usage_error (args, "the path %s/%s is too long", dir, args->key);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (zsys_file_exists (path) || zsys_file_exists (secret))
        return s_failure (args, S_EXIT_FAILURE, "%s exists already; not overwritten",
                          zsys_file_exists (path)? path: secret);
    zcert_t *cert = zcert_new ();
    if (!cert)
        return s_failure (args, S_EXIT_FAILURE, "cannot make a key pair");
    zcert_set_meta (cert, "name", "%s", args->key);
    //  The secret file is created 0600, never readable by others even for
    //  a moment; the public one is then opened to 0644 (it is public)
    mode_t mask = umask (077);
    int rc = zcert_save (cert, path);
    umask (mask);
    zcert_destroy (&cert);
    if (rc != 0) {
        remove (path);
        remove (secret);
        return s_failure (args, S_EXIT_FAILURE, "cannot write %s: %s", path, strerror (errno));
    }
    chmod (path, 0644);
    printf ("%s\n%s\n", path, secret);
    return S_EXIT_OK;
}


//  --------------------------------------------------------------------------
//  Command line

//  Which options each command takes
typedef struct {
    const char *name;               //  command
    bool router;                    //  --router, --timeout
    bool collection;                //  --collection
    bool version;                   //  --version UNIFIED-ID
    bool node;                      //  --node, --reply
    bool curve;                     //  --cert, --server-cert
    int min_args;                   //  positional arguments
    int max_args;
    const char *arguments;          //  for messages
    const char *help;               //  `strata COMMAND --help` (NULL: the general help)
} s_command_t;

static const s_command_t s_commands [] = {
    { "put",      true,  true,  false, false, true,  1, 2, "KEY [FILE|-]",
      "usage: strata put [--router ENDPOINT] [--collection ID] [--meta KEY=VALUE]...\n"
      "                  [--timeout SECONDS] [--cert FILE --server-cert FILE] [--] KEY [FILE|-]\n"
      "\n"
      "Stores FILE (or stdin, with '-' or no FILE) as a new version of KEY and\n"
      "prints its unified-id on stdout. --meta KEY=VALUE (repeatable, at most 64)\n"
      "stores meta entries with it. A put the router answers timeout, unavailable,\n"
      "overloaded or io-error is tried once more (a file or stdin that fits in one\n"
      "message, or a regular file). Ctrl-C (SIGINT) or SIGTERM during an upload\n"
      "aborts it on the router, which cancels what the nodes received.\n"
      "Exit status: 0 stored, 1 failure, 2 usage error.\n" },
    { "get",      true,  true,  true,  false, true,  1, 2, "KEY [FILE|-]",
      "usage: strata get [--router ENDPOINT] [--collection ID] [--version UNIFIED-ID] [--meta]\n"
      "                  [--timeout SECONDS] [--cert FILE --server-cert FILE] [--] KEY [FILE|-]\n"
      "\n"
      "Writes the newest version of KEY (or --version UNIFIED-ID) to FILE or stdout.\n"
      "To a FILE it writes a temporary file next to it and renames it only once the\n"
      "whole object arrived and its MD5 matched. --meta prints the version's meta\n"
      "as KEY=VALUE lines on stdout: instead of the data, or with a FILE as well.\n"
      "Exit status: 0, 3 no such key or version (-v: the router's figures), 1 failure.\n" },
    { "rm",       true,  true,  true,  false, true,  1, 1, "KEY",
      "usage: strata rm [--router ENDPOINT] [--collection ID] [--version UNIFIED-ID]\n"
      "                 [--timeout SECONDS] [--cert FILE --server-cert FILE] [--] KEY\n"
      "\n"
      "Deletes every version of KEY (or only --version UNIFIED-ID).\n"
      "Exit status: 0 deleted, 3 no such key or version, 1 failure.\n" },
    { "versions", true,  true,  false, false, true,  1, 1, "KEY",
      "usage: strata versions [--router ENDPOINT] [--collection ID] [-l] [--base64]\n"
      "                       [--timeout SECONDS] [--cert FILE --server-cert FILE] [--] KEY\n"
      "\n"
      "Lists the versions of KEY, newest first, one per line, separated by tabs:\n"
      "UNIFIED-ID TIMESTAMP SIZE MD5, the MD5 in hex as md5sum prints it (--base64:\n"
      "in base64). -l adds the version's meta (KEY=VALUE entries separated by\n"
      "spaces, '-' when none; one more request per version).\n"
      "Exit status: 0, 3 no such key, 1 failure.\n" },
    { "ping",     true,  false, false, true,  true,  0, 0, "no arguments",
      "usage: strata ping [--router ENDPOINT | --node ENDPOINT [--reply ENDPOINT]]\n"
      "                   [--timeout SECONDS] [--cert FILE --server-cert FILE]\n"
      "\n"
      "Shows the router's cluster and fingerprint, and for each node whether the\n"
      "router reaches it (or why it refuses the router: cluster-mismatch).\n"
      "With --node, pings that node's endpoint directly (node protocol; default\n"
      "timeout 5 s) and prints its name, version and uptime.\n"
      "Exit status: 0 all nodes usable (or the node answered), 1 otherwise.\n" },
    { "top",      true,  false, false, false, true,  0, 0, "no arguments",
      "usage: strata top [--router ENDPOINT] [--count N] [--cert FILE --server-cert FILE]\n"
      "\n"
      "Shows every node's figures as the router sees them, redrawn each second\n"
      "(--count N: N screens, then exit). Ctrl-C ends it.\n" },
    { "stat",     false, false, false, true,  true,  0, 0, "no arguments",
      "usage: strata stat --node ENDPOINT [--reply ENDPOINT] [--timeout SECONDS]\n"
      "                   [--cert FILE --server-cert FILE]\n"
      "\n"
      "Prints a node's stats as JSON, asking the node's writer ENDPOINT directly\n"
      "(default timeout 5 s); --reply gives the endpoint to bind for its reply.\n" },
    { "compact",  false, false, false, true,  true,  0, 0, "no arguments",
      "usage: strata compact --node ENDPOINT [--garbage-ratio R] [--reply ENDPOINT]\n"
      "                      [--timeout SECONDS] [--cert FILE --server-cert FILE]\n"
      "\n"
      "Runs one compaction pass on the node now (files whose garbage ratio is at\n"
      "least R, default the node's compact/garbage-ratio) and prints the files\n"
      "compacted and the bytes reclaimed when it ends.\n" },
    { "keygen",   false, false, false, false, false, 1, 1, "NAME",
      "usage: strata keygen [--dir DIR] NAME\n"
      "\n"
      "Writes a new CurveZMQ certificate: DIR/NAME (public key, for the clients-dir\n"
      "of the router and nodes) and DIR/NAME_secret (both keys, for --cert).\n"
      "Never overwrites.\n" },
    { "ls",       true,  true,  false, false, true,  0, 0, "no arguments",
      "usage: strata ls [--router ENDPOINT] [--collection ID] [--prefix P] [-l]\n"
      "                 [--timeout SECONDS] [--cert FILE --server-cert FILE]\n"
      "\n"
      "Lists the keys whose newest version is not deleted, one per line, in\n"
      "bytewise order; -l adds UNIFIED-ID TIMESTAMP SIZE, tab-separated.\n"
      "Exit status: 0 (also when there is no key), 1 failure.\n" },
    { "scrub",    false, false, false, true,  true,  0, 0, "no arguments",
      "usage: strata scrub --node ENDPOINT [--reply ENDPOINT] [--timeout SECONDS]\n"
      "                    [--cert FILE --server-cert FILE]\n"
      "\n"
      "Runs a scrub pass on the node now (every record re-read and checked) and\n"
      "prints the records checked and the damage found when it ends.\n" },
    { "repair",   true,  true,  false, false, true,  0, 0, "no arguments",
      "usage: strata repair [--router ENDPOINT] [--collection ID] [--node NAME]\n"
      "                     [--cert FILE --server-cert FILE]\n"
      "\n"
      "Checks every version of the collection (or only the shares node NAME owns)\n"
      "and rebuilds missing or damaged shares; ends with 'checked N versions,\n"
      "rebuilt M shares, K unrecoverable'. Exit status: 0 when K is 0, else 1.\n" },
    { NULL,       false, false, false, false, false, 0, 0, NULL, NULL }
};

//  The --meta copies, freed at exit (main's arguments are gone by then)
static char *s_meta_copies [LIMIT_META_ENTRIES];
static size_t s_meta_copy_count;

static void
s_free_meta (void)
{
    for (size_t index = 0; index < s_meta_copy_count; index++)
        free (s_meta_copies [index]);
    s_meta_copy_count = 0;
}

//  Add a put --meta KEY=VALUE entry
static int
s_add_meta (s_args_t *args, const char *text)
{
    if (s_meta_copy_count == 0)
        atexit (s_free_meta);
    const char *equals = strchr (text, '=');
    if (!equals || equals == text)
        return s_usage_error (args, "--meta: '%s' is not KEY=VALUE", text);
    if (args->meta_count == LIMIT_META_ENTRIES)
        return s_usage_error (args, "--meta: at most %d entries", LIMIT_META_ENTRIES);
    size_t name_size = (size_t) (equals - text);
    if (name_size > LIMIT_META_STRING_MAX || strlen (equals + 1) > LIMIT_META_STRING_MAX)
        return s_usage_error (args, "--meta: KEY and VALUE are at most %d bytes each", LIMIT_META_STRING_MAX);
    char *copy = strdup (text);
    if (!copy)
        return s_failure (args, S_EXIT_FAILURE, "out of memory");
    copy [name_size] = 0;
    if (!wire_utf8_valid (copy, name_size, false) || !wire_utf8_valid (copy + name_size + 1,
                                                                        strlen (copy + name_size + 1), false)) {
        free (copy);
        return s_usage_error (args, "--meta: KEY and VALUE must be UTF-8");
    }
    for (size_t index = 0; index < args->meta_count; index++)
        if (streq (args->meta [2 * index], copy)) {
            free (copy);
            return s_usage_error (args, "--meta: '%.*s' is given twice", (int) name_size, text);
        }
    args->meta_text [args->meta_count] = copy;
    s_meta_copies [s_meta_copy_count++] = copy;
    args->meta [2 * args->meta_count] = copy;
    args->meta [2 * args->meta_count + 1] = copy + name_size + 1;
    args->meta_count++;
    args->meta [2 * args->meta_count] = NULL;
    return S_EXIT_OK;
}

static int
s_parse (int argc, char *argv [], s_args_t *args, bool *help_p)
{
    const s_command_t *command = NULL;
    for (const s_command_t *entry = s_commands; entry->name; entry++)
        if (streq (argv [1], entry->name))
            command = entry;
    if (!command) {
        char safe [80];
        wire_sanitize (argv [1], strlen (argv [1]), safe, sizeof safe);
        return s_usage_error (NULL, "unknown command '%s'", safe);
    }
    args->command = command->name;

    static const struct option options [] = {
        { "router",     required_argument, 0, 'r' },
        { "collection", required_argument, 0, 'c' },
        { "version",    required_argument, 0, 'u' },
        { "timeout",    required_argument, 0, 't' },
        { "node",       required_argument, 0, 'n' },
        { "reply",      required_argument, 0, 'R' },
        { "cert",       required_argument, 0, 'k' },
        { "server-cert", required_argument, 0, 'K' },
        { "dir",        required_argument, 0, 'd' },
        { "prefix",     required_argument, 0, 'p' },
        { "garbage-ratio", required_argument, 0, 'g' },
        { "count",      required_argument, 0, 'N' },
        { "help",       no_argument,       0, 'h' },
        { "long",       no_argument,       0, 'l' },
        { "base64",     no_argument,       0, 'b' },
        { "verbose",    no_argument,       0, 'V' },
        //  --meta: KEY=VALUE for put, a flag for get (the entry is
        //  switched below)
        { "meta",       required_argument, 0, 'm' },
        { 0, 0, 0, 0 }
    };
    struct option command_options [sizeof options / sizeof options [0]];
    memcpy (command_options, options, sizeof options);
    for (size_t index = 0; command_options [index].name; index++)
        if (streq (command_options [index].name, "meta") && streq (command->name, "get")) {
            command_options [index].has_arg = no_argument;
            command_options [index].val = 'M';
        }
    opterr = 0;
    optind = 1;
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    while (true) {
        int index = -1;
        int option = getopt_long (sub_argc, sub_argv, ":hlv", command_options, &index);
        if (option == -1)
            break;
        char safe [80];
        if (index >= 0)
            snprintf (safe, sizeof safe, "--%s", command_options [index].name);
        else {
            //  Name the argument the option came from: within a cluster of
            //  short options ("-key") getopt has not moved past it yet
            const char *given = sub_argv [optind - 1];
            if (optopt && optind < sub_argc && sub_argv [optind][0] == '-'
            &&  strchr (sub_argv [optind] + 1, optopt))
                given = sub_argv [optind];
            wire_sanitize (given, strlen (given), safe, sizeof safe);
        }
        if (option == '?')
            return s_usage_error (args, "unknown option '%s' (a KEY that starts with '-' goes after '--')",
                                  safe);
        if (option == ':')
            return s_usage_error (args, "option '%s' needs a value", safe);
        if (option == 'h') {
            *help_p = true;
            return S_EXIT_OK;
        }
        if (option == 'v')
            option = 'V';           //  -v is --verbose
        bool allowed = ((option == 'r' || option == 't') && command->router)
                    || (option == 'm' && streq (command->name, "put"))
                    || (option == 'M' && streq (command->name, "get"))
                    || ((option == 'l' || option == 'b') && streq (command->name, "versions"))
                    || option == 'V'
                    || (option == 'c' && command->collection)
                    || (option == 'u' && command->version)
                    || ((option == 'n' || option == 'R') && command->node)
                    || (option == 't' && command->node)
                    || ((option == 'k' || option == 'K') && command->curve)
                    || (option == 'd' && streq (command->name, "keygen"))
                    || ((option == 'p' || option == 'l') && streq (command->name, "ls"))
                    || (option == 'n' && streq (command->name, "repair"))
                    || (option == 'g' && streq (command->name, "compact"))
                    || (option == 'N' && streq (command->name, "top"));
        if (!allowed)
            return s_usage_error (args, "option '%s' does not apply to %s", safe, command->name);
        uint64_t value;
        switch (option) {
            case 'r':
                args->router = optarg;
                break;
            case 'c':
                if (s_parse_uint (optarg, UINT32_MAX, &value) != 0)
                    return s_usage_error (args, "--collection: '%s' is not a number 0..4294967295", optarg);
                args->collection_id = (uint32_t) value;
                break;
            case 'u':
                if (s_parse_uint (optarg, UINT64_MAX, &args->version) != 0)
                    return s_usage_error (args, "--version: '%s' is not a unified-id (a decimal number)", optarg);
                args->has_version = true;
                break;
            case 't':
                if (s_parse_seconds (optarg, &args->timeout_ms) != 0)
                    return s_usage_error (args, "--timeout: '%s' is not a number of seconds (0 < s <= 86400)",
                                          optarg);
                args->timeout_given = true;
                break;
            case 'm': {
                int code = s_add_meta (args, optarg);
                if (code != S_EXIT_OK)
                    return code;
                break;
            }
            case 'M':
                args->show_meta = true;
                break;
            case 'l':
                args->long_listing = true;
                break;
            case 'b':
                args->base64 = true;
                break;
            case 'V':
                args->verbose = true;
                break;
            case 'n':
                args->node = optarg;
                break;
            case 'R':
                args->reply = optarg;
                break;
            case 'k':
                args->cert = optarg;
                break;
            case 'K':
                args->server_cert = optarg;
                break;
            case 'd':
                args->dir = optarg;
                break;
            case 'p':
                if (strlen (optarg) > LIMIT_KEY_MAX)
                    return s_usage_error (args, "--prefix: longer than %d bytes", LIMIT_KEY_MAX);
                args->prefix = optarg;
                break;
            case 'g':
            {
                char *end = NULL;
                errno = 0;
                args->garbage_ratio = strtod (optarg, &end);
                if (errno || end == optarg || *end
                ||  !(args->garbage_ratio >= 0.0 && args->garbage_ratio <= 1.0))
                    return s_usage_error (args, "--garbage-ratio: '%s' is not a number in 0..1", optarg);
                break;
            }
            case 'N':
                if (s_parse_uint (optarg, 1000000000, &args->count) != 0 || args->count == 0)
                    return s_usage_error (args, "--count: '%s' is not a number of screens (1..1000000000)",
                                          optarg);
                break;
        }
        if (option == 't')
            args->has_timeout = true;
    }
    int positional = sub_argc - optind;
    if (positional < command->min_args)
        return s_usage_error (args, "KEY is missing (expected %s)", command->arguments);
    if (positional > command->max_args)
        return s_usage_error (args, "too many arguments (expected %s)", command->arguments);
    if (positional >= 1 && streq (command->name, "keygen")) {
        args->key = sub_argv [optind];
        if (!*args->key || strchr (args->key, '/') || args->key [0] == '.' || strlen (args->key) > 200)
            return s_usage_error (args, "NAME must be a file name (no '/', not starting with '.')");
    }
    else
    if (positional >= 1) {
        args->key = sub_argv [optind];
        if (!client_key_valid (args->key))
            return s_usage_error (args, "KEY must be 1..%d bytes of UTF-8", LIMIT_KEY_MAX);
    }
    if (positional >= 2)
        args->file = sub_argv [optind + 1];
    //  --node is required where it is the only way (stat), optional where
    //  the router is the other (ping)
    if (command->node && !args->node && !command->router)
        return s_usage_error (args, "--node ENDPOINT is required");
    if (command->node && command->router && args->node) {
        for (int index = 1; index < sub_argc; index++)
            if (streq (sub_argv [index], "--")) 
                break;
            else
            if (strncmp (sub_argv [index], "--router", 8) == 0)
                return s_usage_error (args, "--router and --node do not go together");
    }
    if (args->reply && !args->node)
        return s_usage_error (args, "--reply goes with --node");
    //  One node, directly: a short default wait
    if (args->node && !args->timeout_given)
        args->timeout_ms = 5000;
    if (command->curve) {
        if (args->cert && !*args->cert)
            args->cert = NULL;
        if (args->server_cert && !*args->server_cert)
            args->server_cert = NULL;
        if (!args->cert != !args->server_cert)
            return s_usage_error (args, "--cert and --server-cert go together (or $STRATA_CERT and "
                                  "$STRATA_SERVER_CERT)");
    }
    return S_EXIT_OK;
}

int
main (int argc, char *argv [])
{
    //  Default signal behaviour (czmq would catch SIGINT), plus clean-up of
    //  a get's temporary file
    zsys_handler_set (NULL);
    signal (SIGPIPE, SIG_IGN);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_signal_handler;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);

    if (argc < 2)
        return s_usage_error (NULL, "a COMMAND is missing");
    if (streq (argv [1], "--help") || streq (argv [1], "-h") || streq (argv [1], "help")) {
        fputs (s_usage, stdout);
        return S_EXIT_OK;
    }
    if (streq (argv [1], "--version")) {
        printf ("strata %s\n", STRATA_VERSION);
        return S_EXIT_OK;
    }
    if (argv [1][0] == '-')
        return s_usage_error (NULL, "COMMAND must come first, before '%s'", argv [1]);

    s_args_t args;
    memset (&args, 0, sizeof args);
    args.router = getenv ("STRATA_ROUTER");
    if (!args.router || !*args.router)
        args.router = CLIENT_DEFAULT_ENDPOINT;
    args.timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    args.garbage_ratio = -1;
    args.cert = getenv ("STRATA_CERT");
    args.server_cert = getenv ("STRATA_SERVER_CERT");
    bool help = false;
    int code = s_parse (argc, argv, &args, &help);
    if (code != S_EXIT_OK)
        return code;
    if (help) {
        const char *text = s_usage;
        for (const s_command_t *entry = s_commands; entry->name; entry++)
            if (streq (entry->name, args.command) && entry->help)
                text = entry->help;
        fputs (text, stdout);
        return S_EXIT_OK;
    }
    if (streq (args.command, "ping") && args.node)
        return s_ping_node (&args);
    if (streq (args.command, "stat"))
        return s_stat (&args);
    if (streq (args.command, "keygen"))
        return s_keygen (&args);
    if (streq (args.command, "scrub"))
        return s_scrub (&args);
    if (streq (args.command, "compact"))
        return s_compact (&args);

    client_t *client = s_client (&args);
    if (!client)
        return s_usage_error (&args, "--router: '%s' is not a router endpoint (tcp://HOST:PORT or ipc://PATH)",
                              args.router);
    if (args.cert && client_set_curve (client, args.cert, args.server_cert) != 0) {
        code = s_usage_error (&args, "%s", client_error (client));
        client_destroy (&client);
        return code;
    }
    if (streq (args.command, "put"))
        code = s_put (&args, client);
    else
    if (streq (args.command, "get"))
        code = s_get (&args, client);
    else
    if (streq (args.command, "rm"))
        code = s_rm (&args, client);
    else
    if (streq (args.command, "versions"))
        code = s_versions (&args, client);
    else
    if (streq (args.command, "ls"))
        code = s_ls (&args, client);
    else
    if (streq (args.command, "repair"))
        code = s_repair (&args, client);
    else
    if (streq (args.command, "top"))
        code = s_top (&args, client);
    else
        code = s_ping (&args, client);
    client_destroy (&client);
    return code;
}
