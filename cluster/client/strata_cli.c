/*  =========================================================================
    strata - the command-line client of a Strata cluster

    put, get, rm, versions, ls, repair and ping talk to strata-router
    through the client library (client.h); the commands about the nodes
    (ping --node, stat, compact, scrub, top) are in cli_nodes.c, the command
    line in cli_args.c; keygen writes a CurveZMQ certificate (zcert_save). With
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
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
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

#include "cli.h"
#include "client.h"
#include "digest.h"
#include "request.h"             //  LIMIT_LIST_KEYS_MAX
#include "wire.h"

#define S_PROGRESS_MIN      (4 * 1024 * 1024)   //  smaller transfers show no bar
#define S_PROGRESS_EVERY_MS 100                 //  redraw at most this often
#define S_MIB               (1024.0 * 1024.0)

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
//  Commands

static client_t *
s_client (const cli_args_t *args)
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
s_not_found (const cli_args_t *args, client_t *client)
{
    char safe [200];
    wire_sanitize (args->key, strlen (args->key), safe, sizeof safe);
    char detail [600] = "";
    if (args->verbose && client && *client_error (client))
        snprintf (detail, sizeof detail, " (%s)", client_error (client));
    if (args->has_version)
        return cli_failure (args, CLI_EXIT_NOT_FOUND, "no such version %" PRIu64 " of key '%s'%s",
                            args->version, safe, detail);
    return cli_failure (args, CLI_EXIT_NOT_FOUND, "no such key '%s'%s", safe, detail);
}

//  A client failure: not-found in plain words, anything else as the client
//  says it
static int
s_client_failure (const cli_args_t *args, client_t *client, client_result_t result)
{
    if (result == CLIENT_NOT_FOUND)
        return s_not_found (args, client);
    return cli_failure (args, cli_exit_code (result), "%s", client_error (client));
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
s_fetch_meta (const cli_args_t *args, client_t *client, const uint64_t *version, client_object_t *object)
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
s_put (const cli_args_t *args, client_t *client)
{
    bool from_stdin = !args->file || streq (args->file, "-");
    s_file_t file = { STDIN_FILENO, "stdin", 0 };
    if (!from_stdin) {
        file.name = args->file;
        file.fd = open (args->file, O_RDONLY | O_CLOEXEC);
        if (file.fd < 0)
            return cli_failure (args, CLI_EXIT_FAILURE, "cannot open %s: %s", args->file, strerror (errno));
    }
    struct stat status;
    bool known = fstat (file.fd, &status) == 0;
    bool regular = known && S_ISREG (status.st_mode);
    if (known && S_ISDIR (status.st_mode)) {
        close (file.fd);
        return cli_failure (args, CLI_EXIT_FAILURE, "%s is a directory", file.name);
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
            return cli_failure (args, CLI_EXIT_FAILURE, "out of memory for %zu bytes", size);
        }
        if (file.error || filled != size || grew) {
            free (data);
            if (!from_stdin)
                close (file.fd);
            return cli_failure (args, CLI_EXIT_FAILURE, "reading %s: %s", file.name,
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
        return cli_failure (args, CLI_EXIT_FAILURE, "interrupted: the upload was aborted, nothing was stored");
    if (result == CLIENT_CALLBACK_ERROR && file.error)
        return cli_failure (args, CLI_EXIT_FAILURE, "reading %s: %s", file.name, strerror (file.error));
    if (result != CLIENT_OK)
        return cli_failure (args, cli_exit_code (result), "%s", client_error (client));
    printf ("%" PRIu64 "\n", version);
    if (fflush (stdout) != 0 || ferror (stdout))
        return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return CLI_EXIT_OK;
}

static int
s_get (const cli_args_t *args, client_t *client)
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
            return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
        return CLI_EXIT_OK;
    }
    s_file_t file = { STDOUT_FILENO, "stdout", 0 };
    if (!to_stdout) {
        struct stat status;
        if (stat (args->file, &status) == 0 && S_ISDIR (status.st_mode))
            return cli_failure (args, CLI_EXIT_FAILURE, "%s is a directory", args->file);
        char *copy_dir = strdup (args->file);
        char *copy_base = strdup (args->file);
        if (!copy_dir || !copy_base) {
            free (copy_dir);
            free (copy_base);
            return cli_failure (args, CLI_EXIT_FAILURE, "out of memory");
        }
        int length = snprintf (s_temp_path, sizeof s_temp_path, "%s/.%s.strata-XXXXXX",
                               dirname (copy_dir), basename (copy_base));
        free (copy_dir);
        free (copy_base);
        if (length < 0 || (size_t) length >= sizeof s_temp_path)
            return cli_failure (args, CLI_EXIT_FAILURE, "%s: path too long", args->file);
        file.fd = mkostemp (s_temp_path, O_CLOEXEC);
        if (file.fd < 0)
            return cli_failure (args, CLI_EXIT_FAILURE, "cannot create a temporary file for %s: %s",
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

    int code = CLI_EXIT_OK;
    if (result == CLIENT_CALLBACK_ERROR && file.error)
        code = cli_failure (args, CLI_EXIT_FAILURE, "writing %s: %s", file.name, strerror (file.error));
    else
    if (result != CLIENT_OK)
        code = s_client_failure (args, client, result);
    if (to_stdout)
        return code;

    //  To a file: make it durable and put it in place, or remove it
    if (code == CLI_EXIT_OK) {
        mode_t mask = umask (0);
        umask (mask);
        if (fchmod (file.fd, 0666 & ~mask) != 0 || fsync (file.fd) != 0)
            code = cli_failure (args, CLI_EXIT_FAILURE, "writing %s: %s", args->file, strerror (errno));
    }
    if (close (file.fd) != 0 && code == CLI_EXIT_OK)
        code = cli_failure (args, CLI_EXIT_FAILURE, "writing %s: %s", args->file, strerror (errno));
    if (code == CLI_EXIT_OK && rename (s_temp_path, args->file) != 0)
        code = cli_failure (args, CLI_EXIT_FAILURE, "cannot rename the temporary file to %s: %s",
                            args->file, strerror (errno));
    if (code != CLI_EXIT_OK)
        unlink (s_temp_path);
    s_temp_active = 0;
    return code;
}

static int
s_rm (const cli_args_t *args, client_t *client)
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
    return CLI_EXIT_OK;
}

static int
s_versions (const cli_args_t *args, client_t *client)
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
        return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return CLI_EXIT_OK;
}


static int
s_ping (const cli_args_t *args, client_t *client)
{
    client_ping_t ping;
    size_t reachable;
    int code = cli_ping_router (args, client, &ping, &reachable);
    if (code != CLI_EXIT_OK)
        return code;
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
        code = cli_failure (args, CLI_EXIT_FAILURE, "cluster degraded: %zu of %zu nodes unreachable: %s",
                            ping.node_count - reachable, ping.node_count, names);
    }
    client_ping_clear (&ping);
    return code;
}


//  ls: every page of the collection's keys, the live ones printed
static int
s_ls (const cli_args_t *args, client_t *client)
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
            return cli_failure (args, cli_exit_code (result), "%s", client_error (client));
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
        return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return CLI_EXIT_OK;
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
s_repair (const cli_args_t *args, client_t *client)
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
            return cli_failure (args, cli_exit_code (result), "listing keys: %s", client_error (client));
        for (size_t index = 0; index < count; index++) {
            const client_key_t *key = &keys [index];
            if (key->deleted)
                continue;
            client_repair_t repair;
            result = client_repair (client, args->collection_id, key->key, args->node, &repair);
            keys_done++;
            if (result == CLIENT_INVALID_REQUEST) {
                free (keys);
                return cli_failure (args, CLI_EXIT_FAILURE, "%s", client_error (client));
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
        return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return unrecoverable? CLI_EXIT_FAILURE: CLI_EXIT_OK;
}



//  keygen: a new certificate as DIR/NAME and DIR/NAME_secret
static int
s_keygen (const cli_args_t *args)
{
    const char *dir = args->dir? args->dir: ".";
    if (!zsys_file_exists (dir) || !(zsys_file_mode (dir) & S_IFDIR))
        return cli_failure (args, CLI_EXIT_FAILURE, "%s is not a directory", dir);
    char path [PATH_MAX], secret [PATH_MAX + 16];
    if (snprintf (path, sizeof path, "%s/%s", dir, args->key) >= (int) sizeof path)
        return cli_usage_error (args, "the path %s/%s is too long", dir, args->key);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (zsys_file_exists (path) || zsys_file_exists (secret))
        return cli_failure (args, CLI_EXIT_FAILURE, "%s exists already; not overwritten",
                            zsys_file_exists (path)? path: secret);
    zcert_t *cert = zcert_new ();
    if (!cert)
        return cli_failure (args, CLI_EXIT_FAILURE, "cannot make a key pair");
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
        return cli_failure (args, CLI_EXIT_FAILURE, "cannot write %s: %s", path, strerror (errno));
    }
    chmod (path, 0644);
    printf ("%s\n%s\n", path, secret);
    return CLI_EXIT_OK;
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
        return cli_usage_error (NULL, "a COMMAND is missing");
    if (streq (argv [1], "--help") || streq (argv [1], "-h") || streq (argv [1], "help")) {
        fputs (cli_args_help (NULL), stdout);
        return CLI_EXIT_OK;
    }
    if (streq (argv [1], "--version")) {
        printf ("strata %s\n", STRATA_VERSION);
        return CLI_EXIT_OK;
    }
    if (argv [1][0] == '-')
        return cli_usage_error (NULL, "COMMAND must come first, before '%s'", argv [1]);

    cli_args_t args;
    bool help = false;
    int code = cli_args_parse (argc, argv, &args, &help);
    if (code != CLI_EXIT_OK)
        return code;
    if (help) {
        fputs (cli_args_help (args.command), stdout);
        return CLI_EXIT_OK;
    }
    if (streq (args.command, "ping") && args.node)
        return cli_ping_node (&args);
    if (streq (args.command, "stat"))
        return cli_stat (&args);
    if (streq (args.command, "keygen"))
        return s_keygen (&args);
    if (streq (args.command, "scrub"))
        return cli_scrub (&args);
    if (streq (args.command, "compact"))
        return cli_compact (&args);

    client_t *client = s_client (&args);
    if (!client)
        return cli_usage_error (&args, "--router: '%s' is not a router endpoint (tcp://HOST:PORT or ipc://PATH)",
                                args.router);
    if (args.cert && client_set_curve (client, args.cert, args.server_cert) != 0) {
        code = cli_usage_error (&args, "%s", client_error (client));
        client_destroy (&client);
        return code;
    }
    //  The commands that go through the router
    static const struct {
        const char *name;
        int (*run) (const cli_args_t *args, client_t *client);
    } router_commands [] = {
        { "put", s_put }, { "get", s_get }, { "rm", s_rm }, { "versions", s_versions },
        { "ls", s_ls }, { "repair", s_repair }, { "top", cli_top }, { "ping", s_ping },
    };
    code = CLI_EXIT_USAGE;
    for (size_t index = 0; index < sizeof router_commands / sizeof router_commands [0]; index++)
        if (streq (args.command, router_commands [index].name))
            code = router_commands [index].run (&args, client);
    client_destroy (&client);
    return code;
}
