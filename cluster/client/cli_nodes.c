/*  =========================================================================
    cli_nodes - the strata commands about the nodes

    ping --node, stat, compact and scrub talk to one node's writer endpoint
    directly, with the node protocol (node_client.h); stat prints the
    node's stats map as JSON. top shows every node's figures as the router
    sees them (its ping reply), redrawn once a second. See cli.h.
    =========================================================================
*/

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <msgpack.h>

#include "cli.h"
#include "node_client.h"
#include "wire.h"

//  ping --node: one node, directly
int
cli_ping_node (const cli_args_t *args)
{
    client_node_ping_t ping;
    char error [1300];
    client_result_t result = client_node_ping_curve (args->node, args->reply, args->timeout_ms,
                                                     args->cert, args->server_cert, &ping,
                                                     error, sizeof error);
    if (result != CLIENT_OK)
        return cli_failure (args, cli_exit_code (result) == CLI_EXIT_NOT_FOUND? CLI_EXIT_FAILURE: cli_exit_code (result),
                            "%s", error);
    printf ("node %s at %s: version %s, up %" PRIu64 " s, answered in %.1f ms\n",
            *ping.name? ping.name: "?", args->node, *ping.version? ping.version: "?",
            ping.uptime_seconds, ping.round_trip_us / 1000.0);
    if (fflush (stdout) != 0 || ferror (stdout))
        return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return CLI_EXIT_OK;
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

int
cli_stat (const cli_args_t *args)
{
    uint8_t *stats = NULL;
    size_t stats_size = 0;
    char error [1300];
    client_result_t result = client_node_stats_curve (args->node, args->reply, args->timeout_ms,
                                                      args->cert, args->server_cert,
                                                      &stats, &stats_size, error, sizeof error);
    if (result != CLIENT_OK)
        return cli_failure (args, cli_exit_code (result), "%s", error);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    int code = CLI_EXIT_OK;
    if (wire_unpack (&unpacked, stats, stats_size, stats_size, &why) != 0)
        code = cli_failure (args, CLI_EXIT_FAILURE, "the node's stats are not MessagePack (%s)", why);
    else {
        s_json_value (stdout, &unpacked.data, 0);
        fputc ('\n', stdout);
        if (fflush (stdout) != 0 || ferror (stdout))
            code = cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    }
    msgpack_unpacked_destroy (&unpacked);
    free (stats);
    return code;
}



//  compact: one compaction pass on a node, then its result
int
cli_compact (const cli_args_t *args)
{
    uint64_t files = 0, bytes = 0;
    char error [1300];
    int timeout_ms = args->timeout_given? args->timeout_ms: 3600 * 1000;
    client_result_t result = client_node_compact_curve (args->node, args->reply, timeout_ms,
                                                        args->cert, args->server_cert,
                                                        args->garbage_ratio, &files, &bytes,
                                                        error, sizeof error);
    if (result != CLIENT_OK)
        return cli_failure (args, cli_exit_code (result), "%s", error);
    printf ("compacted %" PRIu64 " value files, reclaimed %" PRIu64 " bytes\n", files, bytes);
    if (fflush (stdout) != 0 || ferror (stdout))
        return cli_failure (args, CLI_EXIT_FAILURE, "writing to stdout: %s", strerror (errno));
    return CLI_EXIT_OK;
}

//  scrub: one pass on a node, now
int
cli_scrub (const cli_args_t *args)
{
    reply_t *reply = reply_new ();
    if (!reply)
        return cli_failure (args, CLI_EXIT_FAILURE, "out of memory");
    char error [1300];
    int timeout_ms = args->has_timeout? args->timeout_ms: 86400 * 1000;
    client_result_t result = client_node_request (args->node, args->reply, timeout_ms, args->cert,
                                                  args->server_cert, MSG_SCRUB, -1, reply, error, sizeof error);
    int code = CLI_EXIT_OK;
    if (result != CLIENT_OK)
        code = cli_failure (args, cli_exit_code (result), "%s", error);
    else {
        printf ("scrubbed %" PRIu64 " records (%" PRIu64 " bytes): %" PRIu64 " damaged\n",
                reply->records_checked, reply->bytes_checked, reply->damaged_found);
        fflush (stdout);
    }
    reply_destroy (&reply);
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

int
cli_ping_router (const cli_args_t *args, client_t *client, client_ping_t *ping, size_t *reachable_p)
{
    client_result_t result = client_ping (client, ping);
    if (result != CLIENT_OK) {
        client_ping_clear (ping);
        return cli_failure (args, cli_exit_code (result), "%s", client_error (client));
    }
    *reachable_p = 0;
    for (size_t index = 0; index < ping->node_count; index++)
        if (ping->nodes [index].reachable)
            (*reachable_p)++;
    return CLI_EXIT_OK;
}

int
cli_top (const cli_args_t *args, client_t *client)
{
    bool terminal = isatty (STDOUT_FILENO);
    for (uint64_t screen = 0; args->count == 0 || screen < args->count; screen++) {
        if (screen > 0)
            sleep (1);
        client_ping_t ping;
        size_t reachable;
        int code = cli_ping_router (args, client, &ping, &reachable);
        if (code != CLI_EXIT_OK)
            return code;
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
    return CLI_EXIT_OK;
}
