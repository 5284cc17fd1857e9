/*  =========================================================================
    request - the model of one protocol request, decoded from and encoded to
    its MessagePack header (frame 0)

    A request is a flat struct with one member per protocol field and a
    bitmask saying which fields were present. Strings are copied into fixed
    buffers sized by protocol_limits.h, so decoding allocates nothing but `meta`, which
    is kept as its validated raw MessagePack map (stored and returned as is).

    request_decode () validates everything proto/PROTOCOL.md says about the header
    of the request's own type: required fields present, types, integer ranges
    (any MessagePack int width; unified-id exact uint64), string lengths,
    digests (base64 string or 16-byte bin), timestamps, meta limits. Unknown
    keys are ignored; a field that the type does not use is ignored (not
    validated). On failure it says which field was wrong.

    Payload (data frames) is not part of the request: the caller checks it
    against segment-size and segment-md5-digest.
    =========================================================================
*/
#ifndef STRATA_REQUEST_H_INCLUDED
#define STRATA_REQUEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "protocol_limits.h"
#include "result.h"
#include "digest.h"
#include "message_type.h"

//  Field presence bits (request_t.present)
#define FIELD_MESSAGE_ID            (1ULL << 0)
#define FIELD_CLIENT_TAG            (1ULL << 1)
#define FIELD_CLIENT_ADDRESS        (1ULL << 2)
#define FIELD_USER_REQUEST_ID       (1ULL << 3)
#define FIELD_COLLECTION_ID         (1ULL << 4)
#define FIELD_KEY                   (1ULL << 5)
#define FIELD_UNIFIED_ID            (1ULL << 6)
#define FIELD_TIMESTAMP             (1ULL << 7)
#define FIELD_CONJOINED_PART        (1ULL << 8)
#define FIELD_SEGMENT_NUM           (1ULL << 9)
#define FIELD_SEQUENCE_NUM          (1ULL << 10)
#define FIELD_SEGMENT_SIZE          (1ULL << 11)
#define FIELD_ZFEC_PADDING_SIZE     (1ULL << 12)
#define FIELD_SEGMENT_MD5           (1ULL << 13)
#define FIELD_SEGMENT_ADLER32       (1ULL << 14)
#define FIELD_SOURCE_NODE_NAME      (1ULL << 15)
#define FIELD_HANDOFF_NODE_NAME     (1ULL << 16)    //  set only when a string, not nil
#define FIELD_FILE_SIZE             (1ULL << 17)
#define FIELD_FILE_ADLER32          (1ULL << 18)
#define FIELD_FILE_HASH             (1ULL << 19)
#define FIELD_META                  (1ULL << 20)
#define FIELD_UNIFIED_ID_TO_DELETE  (1ULL << 21)    //  set only when an int, not nil/absent
#define FIELD_PREFIX                (1ULL << 22)    //  list-keys: key prefix, any bytes
#define FIELD_START_AFTER           (1ULL << 23)    //  list-keys: list keys after this one
#define FIELD_LIMIT                 (1ULL << 24)    //  list-keys: most keys in the reply
#define FIELD_START_AFTER_ID        (1ULL << 25)    //  list-collections: ids after this one
#define FIELD_GARBAGE_RATIO         (1ULL << 26)    //  compact: a number in 0..1
#define FIELD_CLUSTER_FINGERPRINT   (1ULL << 40)    //  cluster-fingerprint (any type)

typedef struct {
    message_type_t type;                            //  MSG_UNKNOWN if not a protocol type
    uint64_t present;                               //  FIELD_* bits of the fields given
    char message_type_name [LIMIT_MESSAGE_TYPE_MAX + 1];    //  as sent, for unknown types
    char message_id [LIMIT_ID_MAX + 1];             //  message-id
    char client_tag [LIMIT_ID_MAX + 1];             //  client-tag
    char client_address [LIMIT_ADDRESS_MAX + 1];    //  client-address (ZeroMQ endpoint)
    char user_request_id [LIMIT_ID_MAX + 1];        //  user-request-id (trace id)
    uint32_t collection_id;                         //  collection-id
    char key [LIMIT_KEY_MAX + 1];                   //  key, UTF-8, null-terminated
    size_t key_size;                                //  bytes of key, without the null
    uint64_t unified_id;                            //  unified-id
    int64_t timestamp;                              //  timestamp-repr, usec since epoch UTC
    uint32_t conjoined_part;                        //  conjoined-part (0 when absent)
    uint8_t segment_num;                            //  segment-num, 1..255
    uint32_t sequence_num;                          //  sequence-num (0 for entire)
    uint64_t segment_size;                          //  segment-size: payload bytes of this message
    uint32_t zfec_padding_size;                     //  zfec-padding-size
    uint8_t segment_md5 [DIGEST_MD5_SIZE];          //  segment-md5-digest, raw
    uint32_t segment_adler32;                       //  segment-adler32 (int32 stored as its uint32 bits)
    char source_node_name [LIMIT_NODE_NAME_MAX + 1];    //  source-node-name
    char handoff_node_name [LIMIT_NODE_NAME_MAX + 1];   //  handoff-node-name ("" when nil/absent)
    uint64_t file_size;                             //  file-size
    uint32_t file_adler32;                          //  file-adler32 (int32 stored as its uint32 bits)
    uint8_t file_hash [DIGEST_MD5_SIZE];            //  file-hash, raw MD5
    uint8_t *meta;                                  //  meta: raw MessagePack map, owned; NULL if absent
    size_t meta_size;                               //  bytes of meta
    uint64_t unified_id_to_delete;                  //  unified-id-to-delete
    char prefix [LIMIT_KEY_MAX + 1];                //  prefix (list-keys): bytes, may be
    size_t prefix_size;                             //  any bytes (not null-terminated text)
    char start_after [LIMIT_KEY_MAX + 1];           //  start-after (list-keys): bytes
    size_t start_after_size;
    uint32_t limit;                                 //  limit (list-keys), 1..LIMIT_LIST_KEYS_MAX
    uint32_t start_after_id;                        //  start-after-id (list-collections)
    char cluster_fingerprint [LIMIT_FINGERPRINT_MAX + 1];   //  cluster-fingerprint, "" if absent
    double garbage_ratio;                           //  garbage-ratio (compact)
} request_t;

#define LIMIT_LIST_KEYS_MAX     1000                //  most keys one list-keys reply holds

//  Error detail of a failed decode: the result code and a human-readable
//  message naming the offending field ("segment-num: 0 is out of range 1..255").
typedef struct {
    result_t result;                                //  RESULT_INVALID_REQUEST or RESULT_UNKNOWN_MESSAGE_TYPE
                                                    //  (RESULT_OVERLOADED if copying meta ran out of memory)
    char message [256];                             //  null-terminated
} request_error_t;

//  Create an empty request (all zero, type MSG_UNKNOWN). NULL on out-of-memory.
request_t *
    request_new (void);

//  Destroy a request (and its meta) and set the caller's pointer to NULL.
//  Accepts NULL.
void
    request_destroy (request_t **self_p);

//  Reset a request to empty, freeing its meta; for reuse.
void
    request_reset (request_t *self);

//  Decode and validate a header. self is reset first. Returns 0 on success.
//  On failure returns -1 and fills *error; even then self holds whatever
//  echo fields (message-id, client-tag, client-address, user-request-id) and
//  message-type could be read, so the caller can still address an error
//  reply: check FIELD_CLIENT_ADDRESS in self->present. An unknown
//  message-type gives RESULT_UNKNOWN_MESSAGE_TYPE; everything else
//  RESULT_INVALID_REQUEST. A header that is not one complete MessagePack map
//  with string keys (trailing bytes included) is RESULT_INVALID_REQUEST.
//  Safe on any bytes: never asserts, aborts, or reads outside data..size.
int
    request_decode (request_t *self, const void *data, size_t size, request_error_t *error);

//  Encode the request's present fields (and message-type) as a MessagePack
//  map into buffer (appending). For senders: clients, the router, tests.
//  Digests are written as base64 strings, the timestamp as ISO 8601.
//  Returns 0, or -1 if the request's type is MSG_UNKNOWN.
int
    request_encode (const request_t *self, msgpack_sbuffer *buffer);

//  Validate that data..size is a MessagePack map within the meta limits
//  (≤ LIMIT_META_ENTRIES entries, string keys and values each
//  ≤ LIMIT_META_STRING_MAX bytes) and nothing else. Returns 0 if valid.
int
    request_meta_validate (const void *data, size_t size);

#endif
