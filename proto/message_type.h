/*  =========================================================================
    message_type - the request types of the wire protocol, with their names

    Each request type has a wire name ("archive-key-entire") and a reply
    type name ("archive-key-final-reply" for entire, "<type>-reply" for all
    others), as proto/PROTOCOL.md ("Replies") fixes.
    =========================================================================
*/
#ifndef STRATA_MESSAGE_TYPE_H_INCLUDED
#define STRATA_MESSAGE_TYPE_H_INCLUDED

typedef enum {
    MSG_UNKNOWN = 0,            //  not a type of the protocol
    MSG_ARCHIVE_KEY_ENTIRE,
    MSG_ARCHIVE_KEY_START,
    MSG_ARCHIVE_KEY_NEXT,
    MSG_ARCHIVE_KEY_FINAL,
    MSG_ARCHIVE_KEY_CANCEL,
    MSG_DESTROY_KEY,
    MSG_START_CONJOINED_ARCHIVE,
    MSG_ABORT_CONJOINED_ARCHIVE,
    MSG_FINISH_CONJOINED_ARCHIVE,
    MSG_WEB_WRITER_START,
    MSG_SYNC_VALUE_FILE,
    MSG_PING,
    MSG_STATS,
    MSG_RETRIEVE_KEY_START,
    MSG_RETRIEVE_KEY_NEXT,
    MSG_LIST_VERSIONS,          //  extension: reader endpoint, see PROTOCOL.md
    MSG_PURGE_HANDOFF,          //  extension: writer endpoint, see PROTOCOL.md
    MSG_COMPACT,                //  extension: writer endpoint, see PROTOCOL.md
    MSG_TYPE_COUNT              //  number of types; not a type
} message_type_t;

//  Return the wire name of a type ("archive-key-entire"); "unknown" for
//  MSG_UNKNOWN or a value outside the enum. Never NULL.
const char *
    message_type_name (message_type_t type);

//  Return the reply type name for a request type ("archive-key-final-reply"
//  for MSG_ARCHIVE_KEY_ENTIRE, "<name>-reply" otherwise; "error-reply" for
//  MSG_UNKNOWN). Never NULL.
const char *
    message_type_reply_name (message_type_t type);

//  Look up a type by wire name (size bytes, need not be null-terminated).
//  Returns MSG_UNKNOWN if the name is not a request type.
message_type_t
    message_type_from_name (const char *name, size_t size);

//  Look up a request type by its reply type name. MSG_UNKNOWN if none.
message_type_t
    message_type_from_reply_name (const char *name, size_t size);

#endif
