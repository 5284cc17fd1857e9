/*  =========================================================================
    reply - the model of one protocol reply (frame 0 of a reply message),
    encoded by the node and decoded by senders (clients, router, tests)

    A reply always carries: message-type ("<request type>-reply", or
    "archive-key-final-reply" for archive-key-entire), message-id,
    client-tag, client-address (echoed; nil if the request had none),
    user-request-id (only when the request gave one), result, and
    error-message (nil on success). Other fields are written only when their
    REPLY_FIELD_* bit is set, so each reply type carries exactly the fields
    proto/PROTOCOL.md ("Replies") lists for it:

    destroy-key-reply       unified-id
    ping-reply              node-name, version, uptime-seconds
    stats-reply             stats (a raw MessagePack map)
    list-versions-reply     versions (a raw MessagePack array of maps)
    retrieve-key-*-reply    unified-id, timestamp-repr, conjoined-part,
                            segment-num, file-size, file-adler32, file-hash,
                            meta, sequence-count, sequence-num, segment-size,
                            zfec-padding-size, segment-md5-digest,
                            segment-adler32, completed (REPLY_FIELDS_RETRIEVE)
                            (file-adler32, segment-adler32 and meta are nil
                            when the archive did not give them)
    =========================================================================
*/
#ifndef STRATA_REPLY_H_INCLUDED
#define STRATA_REPLY_H_INCLUDED

#include "request.h"

#define REPLY_FIELD_UNIFIED_ID          (1U << 0)
#define REPLY_FIELD_TIMESTAMP           (1U << 1)
#define REPLY_FIELD_CONJOINED_PART      (1U << 2)
#define REPLY_FIELD_SEGMENT_NUM         (1U << 3)
#define REPLY_FIELD_FILE_SIZE           (1U << 4)
#define REPLY_FIELD_FILE_ADLER32        (1U << 5)   //  written always with retrieval; nil unless HAS_ bit
#define REPLY_FIELD_FILE_HASH           (1U << 6)
#define REPLY_FIELD_META                (1U << 7)   //  nil when meta is NULL
#define REPLY_FIELD_SEQUENCE_COUNT      (1U << 8)
#define REPLY_FIELD_SEQUENCE_NUM        (1U << 9)
#define REPLY_FIELD_SEGMENT_SIZE        (1U << 10)
#define REPLY_FIELD_ZFEC_PADDING_SIZE   (1U << 11)
#define REPLY_FIELD_SEGMENT_MD5         (1U << 12)
#define REPLY_FIELD_SEGMENT_ADLER32     (1U << 13)  //  nil unless HAS_ bit
#define REPLY_FIELD_COMPLETED           (1U << 14)
#define REPLY_FIELD_NODE_NAME           (1U << 15)
#define REPLY_FIELD_VERSION             (1U << 16)
#define REPLY_FIELD_UPTIME              (1U << 17)
#define REPLY_FIELD_STATS               (1U << 18)
#define REPLY_FIELD_VERSIONS            (1U << 19)  //  list-versions-reply: raw array
#define REPLY_FIELD_FILES_COMPACTED     (1U << 20)  //  compact-reply
#define REPLY_FIELD_BYTES_RECLAIMED     (1U << 21)  //  compact-reply
#define REPLY_HAS_FILE_ADLER32          (1U << 24)  //  file_adler32 holds a value
#define REPLY_HAS_SEGMENT_ADLER32       (1U << 25)  //  segment_adler32 holds a value

#define REPLY_FIELDS_RETRIEVE   (REPLY_FIELD_UNIFIED_ID | REPLY_FIELD_TIMESTAMP \
    | REPLY_FIELD_CONJOINED_PART | REPLY_FIELD_SEGMENT_NUM | REPLY_FIELD_FILE_SIZE \
    | REPLY_FIELD_FILE_ADLER32 | REPLY_FIELD_FILE_HASH | REPLY_FIELD_META \
    | REPLY_FIELD_SEQUENCE_COUNT | REPLY_FIELD_SEQUENCE_NUM | REPLY_FIELD_SEGMENT_SIZE \
    | REPLY_FIELD_ZFEC_PADDING_SIZE | REPLY_FIELD_SEGMENT_MD5 \
    | REPLY_FIELD_SEGMENT_ADLER32 | REPLY_FIELD_COMPLETED)

typedef struct {
    char message_type [LIMIT_MESSAGE_TYPE_MAX + 8]; //  reply type name, e.g. "ping-reply"
    char message_id [LIMIT_ID_MAX + 1];             //  echoed message-id
    char client_tag [LIMIT_ID_MAX + 1];             //  echoed client-tag
    char client_address [LIMIT_ADDRESS_MAX + 1];    //  echoed client-address ("" = nil)
    char user_request_id [LIMIT_ID_MAX + 1];        //  echoed; written only if non-empty
    result_t result;                                //  result code
    char error_message [256];                       //  "" = nil; must be non-empty on failure
    uint32_t fields;                                //  REPLY_FIELD_* / REPLY_HAS_* bits
    uint64_t unified_id;
    int64_t timestamp;                              //  usec since epoch, sent as ISO 8601
    uint32_t conjoined_part;
    uint8_t segment_num;
    uint64_t file_size;
    uint32_t file_adler32;
    uint8_t file_hash [DIGEST_MD5_SIZE];
    uint8_t *meta;                                  //  raw MessagePack map, owned; NULL = nil
    size_t meta_size;
    uint32_t sequence_count;
    uint32_t sequence_num;
    uint64_t segment_size;
    uint32_t zfec_padding_size;
    uint8_t segment_md5 [DIGEST_MD5_SIZE];
    uint32_t segment_adler32;
    bool completed;
    char node_name [LIMIT_NODE_NAME_MAX + 1];       //  ping-reply
    char version [32];                              //  ping-reply
    uint64_t uptime_seconds;                        //  ping-reply
    uint64_t files_compacted;                       //  compact-reply
    uint64_t bytes_reclaimed;                       //  compact-reply
    uint8_t *stats;                                 //  raw MessagePack map, owned (stats-reply)
    size_t stats_size;
    uint8_t *versions;                              //  raw MessagePack array, owned (list-versions-reply)
    size_t versions_size;
} reply_t;

//  Create an empty reply. NULL on out-of-memory.
reply_t *
    reply_new (void);

//  Destroy a reply (and its meta and stats) and set the caller's pointer to
//  NULL. Accepts NULL.
void
    reply_destroy (reply_t **self_p);

//  Reset to empty (frees meta and stats) and fill the envelope for a reply
//  to request: reply type name from the request's type (for MSG_UNKNOWN,
//  "<message-type as sent>-reply", or "error-reply" if none was readable),
//  echo fields copied, result set, error_message copied (NULL → nil).
//  request may be NULL (then only type "error-reply", result, message).
void
    reply_prepare (reply_t *self, const request_t *request, result_t result, const char *error_message);

//  Take a copy of a raw MessagePack map as the reply's meta (NULL/0 = nil).
//  Returns 0, or -1 on out-of-memory.
int
    reply_set_meta (reply_t *self, const uint8_t *meta, size_t meta_size);

//  Take a copy of a raw MessagePack map as the reply's stats. 0 or -1.
int
    reply_set_stats (reply_t *self, const uint8_t *stats, size_t stats_size);

//  Take a copy of a raw MessagePack array as the reply's versions
//  (list-versions-reply: maps of unified-id, timestamp-repr, file-size,
//  file-hash). 0 or -1.
int
    reply_set_versions (reply_t *self, const uint8_t *versions, size_t versions_size);

//  Fill the fields of a ping-reply: node-name, version (this build's),
//  uptime-seconds.
void
    reply_set_ping (reply_t *self, const char *node_name, uint64_t uptime_seconds);

//  Encode the reply as a MessagePack map into buffer (appending).
void
    reply_encode (const reply_t *self, msgpack_sbuffer *buffer);

//  Decode a reply header (for senders). Fills every field it finds and sets
//  the matching REPLY_FIELD_* bits; meta and stats are copied (raw). Returns
//  0, or -1 if the bytes are not a map with string keys carrying at least
//  message-type and a known result; never asserts on any bytes.
int
    reply_decode (reply_t *self, const void *data, size_t size);

#endif
