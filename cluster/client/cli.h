/*  =========================================================================
    cli - what the parts of the strata CLI share

    strata_cli.c holds main () and the commands that go through the router
    (put, get, rm, versions, ls, repair, ping); cli_args.c the command line
    (the commands, their options and help); cli_nodes.c the commands about
    the nodes (ping --node, stat, compact and scrub, which talk to one node
    directly, and top). Exit codes and messages are the same everywhere: one
    line on stderr saying why.
    =========================================================================
*/
#ifndef STRATA_CLI_H_INCLUDED
#define STRATA_CLI_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "client.h"

#define CLI_EXIT_OK           0
#define CLI_EXIT_FAILURE      1
#define CLI_EXIT_USAGE        2
#define CLI_EXIT_NOT_FOUND    3

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
} cli_args_t;

//  Print "strata COMMAND: MESSAGE (see strata COMMAND --help)" (without a
//  command when args or its command is NULL) on stderr; returns
//  CLI_EXIT_USAGE.
int
    cli_usage_error (const cli_args_t *args, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Print "strata COMMAND: MESSAGE" on stderr as one line (newlines in the
//  message become spaces); returns code.
int
    cli_failure (const cli_args_t *args, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  The exit code for a client result: 0, 3 (not found) or 1.
int
    cli_exit_code (client_result_t result);

//  Fill args with the defaults ($STRATA_ROUTER, $STRATA_CERT,
//  $STRATA_SERVER_CERT, the default timeout), then read argv [1] (the
//  command, known to be one that does not start with '-') and its options
//  and arguments into it. Returns CLI_EXIT_OK, with *help_p set when
//  --help was asked for; else the usage error's exit code (the message
//  printed).
int
    cli_args_parse (int argc, char *argv [], cli_args_t *args, bool *help_p);

//  The help text of command (`strata COMMAND --help`), or the general one
//  (`strata --help`) when command is NULL or has none.
const char *
    cli_args_help (const char *command);

//  Ping the router into *ping (cleared first; client_ping_clear () it
//  after) and count the nodes it reaches into *reachable_p. Returns
//  CLI_EXIT_OK, or the exit code of a failure, its message printed.
int
    cli_ping_router (const cli_args_t *args, client_t *client, client_ping_t *ping, size_t *reachable_p);

//  The commands about the nodes (cli_nodes.c); each returns the exit code.
int
    cli_ping_node (const cli_args_t *args);
int
    cli_stat (const cli_args_t *args);
int
    cli_compact (const cli_args_t *args);
int
    cli_scrub (const cli_args_t *args);
int
    cli_top (const cli_args_t *args, client_t *client);

#endif
