/*  =========================================================================
    message_type - the request types of the wire protocol, with their names

    One static table maps each message_type_t to its wire name and its reply
    type name. Lookups by name compare lengths first, so a name need not be
    null-terminated and a name with an embedded null never matches.

    Every type answers "<name>-reply" except archive-key-entire, which
    answers "archive-key-final-reply" as in nimbus.io (proto/PROTOCOL.md, "Archiving (writer endpoint)").
    Looking that reply name up gives MSG_ARCHIVE_KEY_FINAL.
    =========================================================================
*/

#include <string.h>

#include "message_type.h"

//  Names of one request type
typedef struct {
    const char *name;           //  wire name of the request type
    const char *reply_name;     //  wire name of its reply type
} s_names_t;

//  Indexed by message_type_t; entry 0 is MSG_UNKNOWN
static const s_names_t s_names [MSG_TYPE_COUNT] = {
    [MSG_UNKNOWN]                   = { "unknown", "error-reply" },
    [MSG_ARCHIVE_KEY_ENTIRE]        = { "archive-key-entire", "archive-key-final-reply" },
    [MSG_ARCHIVE_KEY_START]         = { "archive-key-start", "archive-key-start-reply" },
    [MSG_ARCHIVE_KEY_NEXT]          = { "archive-key-next", "archive-key-next-reply" },
    [MSG_ARCHIVE_KEY_FINAL]         = { "archive-key-final", "archive-key-final-reply" },
    [MSG_ARCHIVE_KEY_CANCEL]        = { "archive-key-cancel", "archive-key-cancel-reply" },
    [MSG_DESTROY_KEY]               = { "destroy-key", "destroy-key-reply" },
    [MSG_START_CONJOINED_ARCHIVE]   = { "start-conjoined-archive", "start-conjoined-archive-reply" },
    [MSG_ABORT_CONJOINED_ARCHIVE]   = { "abort-conjoined-archive", "abort-conjoined-archive-reply" },
    [MSG_FINISH_CONJOINED_ARCHIVE]  = { "finish-conjoined-archive", "finish-conjoined-archive-reply" },
    [MSG_WEB_WRITER_START]          = { "web-writer-start", "web-writer-start-reply" },
    [MSG_SYNC_VALUE_FILE]           = { "sync-value-file", "sync-value-file-reply" },
    [MSG_PING]                      = { "ping", "ping-reply" },
    [MSG_STATS]                     = { "stats", "stats-reply" },
    [MSG_RETRIEVE_KEY_START]        = { "retrieve-key-start", "retrieve-key-start-reply" },
    [MSG_RETRIEVE_KEY_NEXT]         = { "retrieve-key-next", "retrieve-key-next-reply" },
    [MSG_LIST_VERSIONS]             = { "list-versions", "list-versions-reply" },
    [MSG_PURGE_HANDOFF]             = { "purge-handoff", "purge-handoff-reply" },
    [MSG_COMPACT]                   = { "compact", "compact-reply" },
};


//  --------------------------------------------------------------------------
//  True if text (size bytes) equals the null-terminated name

static int
s_equal (const char *text, size_t size, const char *name)
{
    return strlen (name) == size && memcmp (text, name, size) == 0;
}


//  --------------------------------------------------------------------------
//  Return the wire name of a type; "unknown" for MSG_UNKNOWN or out of range

const char *
message_type_name (message_type_t type)
{
    if ((int) type <= MSG_UNKNOWN || type >= MSG_TYPE_COUNT)
        return s_names [MSG_UNKNOWN].name;
    return s_names [type].name;
}


//  --------------------------------------------------------------------------
//  Return the reply type name of a request type; "error-reply" for unknown

const char *
message_type_reply_name (message_type_t type)
{
    if ((int) type <= MSG_UNKNOWN || type >= MSG_TYPE_COUNT)
        return s_names [MSG_UNKNOWN].reply_name;
    return s_names [type].reply_name;
}


//  --------------------------------------------------------------------------
//  Look up a request type by wire name; MSG_UNKNOWN if none

message_type_t
message_type_from_name (const char *name, size_t size)
{
    if (!name)
        return MSG_UNKNOWN;
    for (int type = MSG_UNKNOWN + 1; type < MSG_TYPE_COUNT; type++)
        if (s_equal (name, size, s_names [type].name))
            return (message_type_t) type;
    return MSG_UNKNOWN;
}


//  --------------------------------------------------------------------------
//  Look up a request type by its reply name; MSG_UNKNOWN if none.
//  "archive-key-final-reply" gives MSG_ARCHIVE_KEY_FINAL (entire shares it).

message_type_t
message_type_from_reply_name (const char *name, size_t size)
{
    if (!name)
        return MSG_UNKNOWN;
    if (s_equal (name, size, s_names [MSG_ARCHIVE_KEY_FINAL].reply_name))
        return MSG_ARCHIVE_KEY_FINAL;
    for (int type = MSG_UNKNOWN + 1; type < MSG_TYPE_COUNT; type++)
        if (s_equal (name, size, s_names [type].reply_name))
            return (message_type_t) type;
    return MSG_UNKNOWN;
}
