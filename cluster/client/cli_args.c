/*  =========================================================================
    cli_args - the command line of strata: its commands, their options,
    their help

    Which options each command takes is a table (s_commands); an option
    that does not apply to the command, a value out of range or a missing
    argument is a usage error (exit 2) naming the option. See cli.h.
    =========================================================================
*/

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "cli.h"
#include "wire.h"

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


//  --------------------------------------------------------------------------
//  Messages

int
cli_usage_error (const cli_args_t *args, const char *format, ...)
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
    return CLI_EXIT_USAGE;
}

int
cli_failure (const cli_args_t *args, int code, const char *format, ...)
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
int
cli_exit_code (client_result_t result)
{
    return result == CLIENT_OK? CLI_EXIT_OK: result == CLIENT_NOT_FOUND? CLI_EXIT_NOT_FOUND: CLI_EXIT_FAILURE;
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
s_add_meta (cli_args_t *args, const char *text)
{
    if (s_meta_copy_count == 0)
        atexit (s_free_meta);
    const char *equals = strchr (text, '=');
    if (!equals || equals == text)
        return cli_usage_error (args, "--meta: '%s' is not KEY=VALUE", text);
    if (args->meta_count == LIMIT_META_ENTRIES)
        return cli_usage_error (args, "--meta: at most %d entries", LIMIT_META_ENTRIES);
    size_t name_size = (size_t) (equals - text);
    if (name_size > LIMIT_META_STRING_MAX || strlen (equals + 1) > LIMIT_META_STRING_MAX)
        return cli_usage_error (args, "--meta: KEY and VALUE are at most %d bytes each", LIMIT_META_STRING_MAX);
    char *copy = strdup (text);
    if (!copy)
        return cli_failure (args, CLI_EXIT_FAILURE, "out of memory");
    copy [name_size] = 0;
    if (!wire_utf8_valid (copy, name_size, false) || !wire_utf8_valid (copy + name_size + 1,
                                                                        strlen (copy + name_size + 1), false)) {
        free (copy);
        return cli_usage_error (args, "--meta: KEY and VALUE must be UTF-8");
    }
    for (size_t index = 0; index < args->meta_count; index++)
        if (streq (args->meta [2 * index], copy)) {
            free (copy);
            return cli_usage_error (args, "--meta: '%.*s' is given twice", (int) name_size, text);
        }
    args->meta_text [args->meta_count] = copy;
    s_meta_copies [s_meta_copy_count++] = copy;
    args->meta [2 * args->meta_count] = copy;
    args->meta [2 * args->meta_count + 1] = copy + name_size + 1;
    args->meta_count++;
    args->meta [2 * args->meta_count] = NULL;
    return CLI_EXIT_OK;
}

int
cli_args_parse (int argc, char *argv [], cli_args_t *args, bool *help_p)
{
    memset (args, 0, sizeof *args);
    args->router = getenv ("STRATA_ROUTER");
    if (!args->router || !*args->router)
        args->router = CLIENT_DEFAULT_ENDPOINT;
    args->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    args->garbage_ratio = -1;
    args->cert = getenv ("STRATA_CERT");
    args->server_cert = getenv ("STRATA_SERVER_CERT");
    *help_p = false;

    const s_command_t *command = NULL;
    for (const s_command_t *entry = s_commands; entry->name; entry++)
        if (streq (argv [1], entry->name))
            command = entry;
    if (!command) {
        char safe [80];
        wire_sanitize (argv [1], strlen (argv [1]), safe, sizeof safe);
        return cli_usage_error (NULL, "unknown command '%s'", safe);
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
            return cli_usage_error (args, "unknown option '%s' (a KEY that starts with '-' goes after '--')",
                                    safe);
        if (option == ':')
            return cli_usage_error (args, "option '%s' needs a value", safe);
        if (option == 'h') {
            *help_p = true;
            return CLI_EXIT_OK;
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
            return cli_usage_error (args, "option '%s' does not apply to %s", safe, command->name);
        uint64_t value;
        switch (option) {
            case 'r':
                args->router = optarg;
                break;
            case 'c':
                if (s_parse_uint (optarg, UINT32_MAX, &value) != 0)
                    return cli_usage_error (args, "--collection: '%s' is not a number 0..4294967295", optarg);
                args->collection_id = (uint32_t) value;
                break;
            case 'u':
                if (s_parse_uint (optarg, UINT64_MAX, &args->version) != 0)
                    return cli_usage_error (args, "--version: '%s' is not a unified-id (a decimal number)", optarg);
                args->has_version = true;
                break;
            case 't':
                if (s_parse_seconds (optarg, &args->timeout_ms) != 0)
                    return cli_usage_error (args, "--timeout: '%s' is not a number of seconds (0 < s <= 86400)",
                                            optarg);
                args->timeout_given = true;
                break;
            case 'm': {
                int code = s_add_meta (args, optarg);
                if (code != CLI_EXIT_OK)
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
                    return cli_usage_error (args, "--prefix: longer than %d bytes", LIMIT_KEY_MAX);
                args->prefix = optarg;
                break;
            case 'g':
            {
                char *end = NULL;
                errno = 0;
                args->garbage_ratio = strtod (optarg, &end);
                if (errno || end == optarg || *end
                ||  !(args->garbage_ratio >= 0.0 && args->garbage_ratio <= 1.0))
                    return cli_usage_error (args, "--garbage-ratio: '%s' is not a number in 0..1", optarg);
                break;
            }
            case 'N':
                if (s_parse_uint (optarg, 1000000000, &args->count) != 0 || args->count == 0)
                    return cli_usage_error (args, "--count: '%s' is not a number of screens (1..1000000000)",
                                            optarg);
                break;
        }
        if (option == 't')
            args->has_timeout = true;
    }
    int positional = sub_argc - optind;
    if (positional < command->min_args)
        return cli_usage_error (args, "KEY is missing (expected %s)", command->arguments);
    if (positional > command->max_args)
        return cli_usage_error (args, "too many arguments (expected %s)", command->arguments);
    if (positional >= 1 && streq (command->name, "keygen")) {
        args->key = sub_argv [optind];
        if (!*args->key || strchr (args->key, '/') || args->key [0] == '.' || strlen (args->key) > 200)
            return cli_usage_error (args, "NAME must be a file name (no '/', not starting with '.')");
    }
    else
    if (positional >= 1) {
        args->key = sub_argv [optind];
        if (!client_key_valid (args->key))
            return cli_usage_error (args, "KEY must be 1..%d bytes of UTF-8", LIMIT_KEY_MAX);
    }
    if (positional >= 2)
        args->file = sub_argv [optind + 1];
    //  --node is required where it is the only way (stat), optional where
    //  the router is the other (ping)
    if (command->node && !args->node && !command->router)
        return cli_usage_error (args, "--node ENDPOINT is required");
    if (command->node && command->router && args->node) {
        for (int index = 1; index < sub_argc; index++)
            if (streq (sub_argv [index], "--")) 
                break;
            else
            if (strncmp (sub_argv [index], "--router", 8) == 0)
                return cli_usage_error (args, "--router and --node do not go together");
    }
    if (args->reply && !args->node)
        return cli_usage_error (args, "--reply goes with --node");
    //  One node, directly: a short default wait
    if (args->node && !args->timeout_given)
        args->timeout_ms = 5000;
    if (command->curve) {
        if (args->cert && !*args->cert)
            args->cert = NULL;
        if (args->server_cert && !*args->server_cert)
            args->server_cert = NULL;
        if (!args->cert != !args->server_cert)
            return cli_usage_error (args, "--cert and --server-cert go together (or $STRATA_CERT and "
                                    "$STRATA_SERVER_CERT)");
    }
    return CLI_EXIT_OK;
}


const char *
cli_args_help (const char *command)
{
    for (const s_command_t *entry = s_commands; command && entry->name; entry++)
        if (streq (entry->name, command) && entry->help)
            return entry->help;
    return s_usage;
}
