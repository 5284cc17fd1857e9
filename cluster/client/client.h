/*  =========================================================================
    client - the C client of strata-router (cluster/ROUTER.md)

    One client_t is one DEALER socket connected to a router. Every call sends
    one request (or, for streamed transfers, a short series) and waits for
    the matching reply, matching replies by request-id so that a late reply
    to an earlier, abandoned call is recognised and dropped.

    Every call is bounded in time: before its first request it waits at most
    the connect timeout for a connection to the router, and then at most the
    timeout for each reply (a put of one message: one reply; a streamed put
    or a get of several slices: one wait per message). A router that goes
    away while a call waits for it ends the call at once (CLIENT_NO_REPLY).
    Callbacks (read, write, progress) are the caller's and not timed.

    Each call returns a client_result_t; CLIENT_OK (0) is success. After a
    failure client_error () holds one line saying why (for a router error,
    the router's result and error-message). A client is not thread-safe: use
    one per thread.

        client_t *client = client_new ("tcp://127.0.0.1:8000");
        uint64_t version;
        if (client_put (client, 0, "greeting", "hello", 5, NULL, &version))
            fprintf (stderr, "put: %s\n", client_error (client));
        client_destroy (&client);

    The calls that talk to one storage node directly, not to the router
    (`strata stat`, `ping --node`, `compact`, `scrub`), are in node_client.h.
    =========================================================================
*/
#ifndef STRATA_CLIENT_H_INCLUDED
#define STRATA_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "digest.h"
#include "protocol_limits.h"

//  Defaults
#define CLIENT_DEFAULT_ENDPOINT         "tcp://127.0.0.1:8000"
#define CLIENT_DEFAULT_TIMEOUT_MS       60000               //  per reply
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 5000              //  per connection
#define CLIENT_DEFAULT_MAX_PUT_BYTES    (64 * 1024 * 1024)  //  router/max-put-bytes
//  client_put_stream () reads this much before deciding between one `put`
//  (the whole object fitted) and a streamed upload
#define CLIENT_STREAM_PROBE_BYTES       (1024 * 1024)

typedef enum {
    CLIENT_OK = 0,
    CLIENT_NOT_FOUND,               //  not-found: no such key or version, or deleted
    CLIENT_INVALID_REQUEST,         //  invalid-request, or an argument refused before sending
    CLIENT_UNKNOWN_MESSAGE_TYPE,    //  unknown-message-type (router too old)
    CLIENT_UNAVAILABLE,             //  unavailable: too few nodes reachable
    CLIENT_DATA_ERROR,              //  data-error, or the client's own size/MD5 check failed
    CLIENT_IO_ERROR,                //  io-error: a node failed to store
    CLIENT_TIMEOUT,                 //  timeout: the router's nodes did not answer in time
    CLIENT_OVERLOADED,              //  overloaded: retry later
    CLIENT_NO_REPLY,                //  the router did not connect or answer in time
    CLIENT_PROTOCOL_ERROR,          //  a reply the client cannot use (malformed, unexpected)
    CLIENT_CALLBACK_ERROR,          //  the caller's read or write callback failed
    CLIENT_SYSTEM_ERROR,            //  out of memory, ZeroMQ failure, interrupted
    CLIENT_FORBIDDEN,               //  forbidden: this client's key has no grant for it
    CLIENT_RESULT_COUNT             //  number of codes; not a code
} client_result_t;

typedef struct _client_t client_t;

//  Supplies the next bytes of an object being put: fill buffer with up to
//  size bytes and return how many (fewer is fine), 0 at the end of the
//  object, or -1 on failure (the put is abandoned and cancelled).
typedef ssize_t (client_read_fn) (void *arg, void *buffer, size_t size);

//  Receives the next bytes of an object being got, in order. Returns 0, or
//  -1 to abandon the get.
typedef int (client_write_fn) (void *arg, const void *data, size_t size);

//  Told how many bytes of the object have been transferred so far; total is
//  the object's size, or 0 when not known (a streamed put).
typedef void (client_progress_fn) (void *arg, uint64_t done, uint64_t total);

//  The version that client_get () is reading
typedef struct {
    uint64_t unified_id;                    //  the version
    char timestamp [40];                    //  ISO 8601 UTC, as the router sent it
    uint64_t size;                          //  bytes of the whole object
    uint8_t file_hash [DIGEST_MD5_SIZE];    //  MD5 of the whole object
    uint32_t slice_count;                   //  slices the router sends it in
    uint8_t *meta;                          //  raw MessagePack map, owned; NULL if none
    size_t meta_size;                       //  bytes of meta
} client_object_t;

//  One entry of client_versions ()
typedef struct {
    uint64_t unified_id;                    //  the version
    char timestamp [40];                    //  ISO 8601 UTC
    uint64_t size;                          //  bytes
    uint8_t file_hash [DIGEST_MD5_SIZE];    //  MD5
} client_version_t;

//  One entry of client_list_keys ()
typedef struct {
    char key [LIMIT_KEY_MAX + 1];           //  the key (null-terminated; keys hold no NUL)
    size_t key_size;                        //  bytes of key
    uint64_t unified_id;                    //  its newest version, or its tombstone
    char timestamp [40];                    //  ISO 8601 UTC
    uint64_t size;                          //  bytes of the newest version (0 when deleted)
    bool deleted;                           //  the newest state is a tombstone
} client_key_t;

//  One node of a ping reply
typedef struct {
    char name [LIMIT_NODE_NAME_MAX + 1];    //  node name
    bool reachable;                         //  the router can reach it now
    char mismatch [256];                    //  cluster-mismatch: why the node refuses
                                            //  the router's cluster ("" if it does not)
    //  The node's figures from its last stats reply to the router, -1 when
    //  the router does not give them (it asks the nodes once pings come in)
    int64_t last_answer_ms;                 //  milliseconds since the node last answered
    int64_t free_bytes;                     //  free bytes over its volumes
    int64_t total_bytes;                    //  size of its volumes
    int64_t live_bytes;                     //  bytes still referenced
    int64_t garbage_bytes;                  //  bytes compaction can reclaim
    int64_t handoff_held;                   //  handoff copies it holds for others
    int64_t damaged_records;                //  damaged records found
} client_node_t;

//  What client_ping () learns about the cluster
typedef struct {
    char cluster [256];                     //  cluster name
    char version [64];                      //  router version
    int data_shards;                        //  k
    int total_shards;                       //  n
    size_t node_count;                      //  entries in nodes
    client_node_t *nodes;                   //  owned; free with client_ping_clear ()
    uint64_t handoff_writes;                //  writes stored with handoff copies (0 if
                                            //  the router does not say)
    char fingerprint [LIMIT_FINGERPRINT_MAX + 1];   //  the router's cluster fingerprint ("" if
                                                    //  the router does not say)
} client_ping_t;

//  Create a client of the router at endpoint (tcp://HOST:PORT or
//  ipc://PATH); the connection is made in the background. Returns NULL if
//  endpoint is not a connectable endpoint or the socket cannot be created.
client_t *
    client_new (const char *endpoint);

//  Destroy the client (closing its socket without waiting) and set the
//  caller's pointer to NULL. Accepts NULL.
void
    client_destroy (client_t **self_p);

//  Longest wait for any one reply (and for the router to take a message),
//  in milliseconds, > 0. Default CLIENT_DEFAULT_TIMEOUT_MS.
void
    client_set_timeout (client_t *self, int timeout_ms);

//  Longest wait for a connection to the router before a request, in
//  milliseconds, > 0. Default CLIENT_DEFAULT_CONNECT_TIMEOUT_MS.
void
    client_set_connect_timeout (client_t *self, int timeout_ms);

//  Objects larger than this are uploaded in a stream (the router's
//  router/max-put-bytes). Default CLIENT_DEFAULT_MAX_PUT_BYTES; >= 1.
void
    client_set_max_put_bytes (client_t *self, size_t max_put_bytes);

//  Talk CurveZMQ to the router: client_cert_path is this client's secret
//  cert file (zcert_save's NAME_secret), cluster_public_path a cert file
//  holding the cluster's public key. Call before the first request (a
//  connection already open is reopened). Returns 0, or -1 with one line in
//  client_error () naming the file that could not be used.
int
    client_set_curve (client_t *self, const char *client_cert_path,
                      const char *cluster_public_path);

//  Call progress (arg, done, total) as data moves (after each data frame of
//  a get, after each message of a put). NULL turns it off.
void
    client_set_progress (client_t *self, client_progress_fn *progress, void *arg);

//  The last failure, one line without newline; "" after a success.
const char *
    client_error (client_t *self);

//  Name of a result code ("ok", "not-found", "no-reply", ...); never NULL.
const char *
    client_result_name (client_result_t result);

//  Store size bytes at data (data may be NULL when size is 0) as a new
//  version of key (1..1024 bytes of UTF-8) in collection. meta is NULL or a
//  NULL-terminated array of alternating names and values (at most 64 pairs,
//  each string 1..1024 bytes of UTF-8 for names, 0..1024 for values). An
//  object larger than the max-put-bytes setting is streamed (put-start /
//  put-data / put-finish). On success sets *unified_id_p (if not NULL) to
//  the new version, after checking that the router stored exactly size
//  bytes with the MD5 of data (else CLIENT_DATA_ERROR).
client_result_t
    client_put (client_t *self, uint32_t collection_id, const char *key,
                const void *data, size_t size, const char *const *meta,
                uint64_t *unified_id_p);

//  Like client_put (), reading the object from read (arg, ...) until it
//  returns 0: an object that ends within CLIENT_STREAM_PROBE_BYTES goes in
//  one `put`; anything longer (or of unknown length, such as stdin) is
//  streamed, one put-data message of the router's slice-size at a time. On
//  any failure after put-start the upload is aborted on the router
//  (put-abort). The size and MD5 the router reports are checked against
//  what was read.
client_result_t
    client_put_stream (client_t *self, uint32_t collection_id, const char *key,
                       client_read_fn *read, void *arg, const char *const *meta,
                       uint64_t *unified_id_p);

//  Read a version of key: the newest visible one when unified_id is NULL,
//  else *unified_id. The object's bytes are passed to write (arg, ...) in
//  order as they arrive, slice after slice; its MD5 and size are checked
//  against the router's file-hash and size at the end, and a mismatch
//  returns CLIENT_DATA_ERROR (after write has seen the data: a caller that
//  must not keep unverified data writes to a temporary place). If object is
//  not NULL it is zeroed first (so clear a used one before) and filled from
//  the first reply before write is first called (write's arg may point to
//  it, e.g. for the size); call client_object_clear (object) when done with
//  it, whatever the result.
client_result_t
    client_get (client_t *self, uint32_t collection_id, const char *key,
                const uint64_t *unified_id, client_write_fn *write, void *arg,
                client_object_t *object);

//  Free what client_get () allocated in object (its meta) and zero it.
//  Accepts NULL.
void
    client_object_clear (client_object_t *object);

//  Delete every version of key (unified_id NULL) or only *unified_id. A key
//  that does not exist is not an error (the router says so). Sets
//  *tombstone_p (if not NULL) to the tombstone's unified-id.
client_result_t
    client_delete (client_t *self, uint32_t collection_id, const char *key,
                   const uint64_t *unified_id, uint64_t *tombstone_p);

//  List the visible versions of key, newest first, into a new array
//  *versions_p (free () it; NULL when the count is 0) of *count_p entries.
//  A key with no visible version gives CLIENT_OK and a count of 0 (or
//  CLIENT_NOT_FOUND, if that is what the router answers).
client_result_t
    client_versions (client_t *self, uint32_t collection_id, const char *key,
                     client_version_t **versions_p, size_t *count_p);

//  List one page of the keys of collection (router list-keys): the keys
//  with the prefix (prefix_size bytes, any bytes; 0 = every key) that come
//  after start_after (start_after_size bytes; 0 = from the first), in
//  bytewise order, at most limit (1..1000) of them, deleted ones included
//  (deleted true). *keys_p is a new array (free () it; NULL when the
//  count is 0) of *count_p entries; *truncated_p says another page may
//  follow: ask again with start_after = the last key of this page.
client_result_t
    client_list_keys (client_t *self, uint32_t collection_id, const char *prefix, size_t prefix_size,
                      const char *start_after, size_t start_after_size, uint32_t limit,
                      client_key_t **keys_p, size_t *count_p, bool *truncated_p);

//  What client_repair () did for one object
typedef struct {
    uint64_t versions;                      //  versions checked
    uint64_t rebuilt;                       //  shares rebuilt and stored
    uint64_t rebuilt_bytes;                 //  bytes of those shares
    size_t unrecoverable_count;             //  versions that could not be rebuilt
    uint64_t unrecoverable [16];            //  the first of their unified-ids
} client_repair_t;

//  Repair key in collection (router `repair`): rebuild the shares of its
//  versions that owners lack or hold damaged; only the shares of the node
//  named node when node is not NULL. Fills *repair.
client_result_t
    client_repair (client_t *self, uint32_t collection_id, const char *key, const char *node,
                   client_repair_t *repair);

//  Ping the router. Fills *ping (cleared first); free its node list with
//  client_ping_clear () whatever the result.
client_result_t
    client_ping (client_t *self, client_ping_t *ping);

//  Free the node list of a ping and zero it. Accepts NULL.
void
    client_ping_clear (client_ping_t *ping);

//  True if key is a usable key: 1..LIMIT_KEY_MAX bytes of valid UTF-8
//  without null bytes.
bool
    client_key_valid (const char *key);

#endif
