/*  =========================================================================
    fuzz_router_request - libFuzzer target over router_request_decode ()

    Any bytes may arrive from a client as frame 0 of a request to the
    router. Besides "no crash, no leak, no undefined behaviour" (ASan +
    UBSan), each input checks:

    - a failure carries a result the router can send (invalid-request,
      unknown-message-type, or overloaded on out-of-memory), a non-empty,
      one-line error, and keeps only the request-id of the fields;
    - a success has a known type, every field that type requires, none it
      does not take, and fields within their documented limits (key of
      1..LIMIT_KEY_MAX bytes without NUL, meta a map of strings);
    - the reply the router builds from it (the error reply of router.c's
      s_refuse, or an empty success reply) encodes and unpacks to a map
      whose message-type, request-id, result and error-message are the
      ones given.

    Build: CC=clang cmake -DSTRATA_FUZZ=ON; run: tests/fuzz/run.sh.
    =========================================================================
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router_request.h"
#include "router_reply.h"
#include "request.h"
#include "wire.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Fail the run with a message
static void
s_fail (const char *what)
{
    fprintf (stderr, "fuzz_router_request: %s\n", what);
    abort ();
}

//  The fields each type takes (required | optional), as ROUTER.md lists them
static uint32_t
s_allowed (router_msg_t type)
{
    switch (type) {
        case ROUTER_MSG_PUT:
        case ROUTER_MSG_PUT_START:
            return ROUTER_FIELD_KEY | ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_META;
        case ROUTER_MSG_PUT_DATA:
        case ROUTER_MSG_PUT_FINISH:
        case ROUTER_MSG_PUT_ABORT:
            return ROUTER_FIELD_UPLOAD_ID;
        case ROUTER_MSG_DELETE:
        case ROUTER_MSG_GET:
            return ROUTER_FIELD_KEY | ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_UNIFIED_ID;
        case ROUTER_MSG_GET_NEXT:
            return ROUTER_FIELD_KEY | ROUTER_FIELD_COLLECTION_ID | ROUTER_FIELD_UNIFIED_ID
                 | ROUTER_FIELD_SLICE_NUM;
        case ROUTER_MSG_LIST_VERSIONS:
            return ROUTER_FIELD_KEY | ROUTER_FIELD_COLLECTION_ID;
        case ROUTER_MSG_PING:
            return 0;
        default:
            return 0;
    }
}

//  True if map holds key with a str value equal to text (NULL: nil)
static int
s_has_str (const msgpack_object_map *map, const char *key, const char *text)
{
    for (uint32_t index = 0; index < map->size; index++) {
        const msgpack_object *name = &map->ptr [index].key;
        const msgpack_object *value = &map->ptr [index].val;
        if (name->type != MSGPACK_OBJECT_STR || name->via.str.size != strlen (key)
        ||  memcmp (name->via.str.ptr, key, strlen (key)))
            continue;
        if (!text)
            return value->type == MSGPACK_OBJECT_NIL;
        return value->type == MSGPACK_OBJECT_STR && value->via.str.size == strlen (text)
            && memcmp (value->via.str.ptr, text, strlen (text)) == 0;
    }
    return 0;
}

//  Build the reply the router would send and check its envelope
static void
s_check_reply (router_request_t *request, router_result_t result, const char *error)
{
    const char *reply_type = router_request_reply_type (request);
    const char *request_id = router_request_id (request);
    if (!reply_type || !reply_type [0])
        s_fail ("no reply type");
    router_reply_t *reply = router_reply_new (reply_type, request_id);
    if (!reply)
        s_fail ("out of memory");
    if (result != ROUTER_SUCCESS)
        router_reply_set_result (reply, result, "%s", error);
    zmsg_t *msg = router_reply_encode (reply, NULL);
    if (!msg)
        s_fail ("a reply does not encode");
    zframe_t *header = zmsg_first (msg);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *why = NULL;
    if (wire_unpack (&unpacked, zframe_data (header), zframe_size (header), LIMIT_HEADER_MAX,
                     &why) != 0
    ||  unpacked.data.type != MSGPACK_OBJECT_MAP)
        s_fail ("a reply is not one MessagePack map");
    const msgpack_object_map *map = &unpacked.data.via.map;
    if (!s_has_str (map, "message-type", reply_type))
        s_fail ("the reply's message-type is not the reply type");
    if (!s_has_str (map, "request-id", request_id))
        s_fail ("the reply does not echo the request-id");
    if (!s_has_str (map, "result", router_result_name (result)))
        s_fail ("the reply's result is not the one set");
    if (result != ROUTER_SUCCESS && !s_has_str (map, "error-message", router_reply_error (reply)))
        s_fail ("the reply's error-message is not the one set");
    msgpack_unpacked_destroy (&unpacked);
    zmsg_destroy (&msg);
    router_reply_destroy (&reply);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static router_request_t *request = NULL;
    if (!request) {
        request = router_request_new ();
        if (!request)
            s_fail ("out of memory at start");
    }
    router_result_t result = ROUTER_SUCCESS;
    char error [256];
    memset (error, 'x', sizeof error);
    int rc = router_request_decode (request, data, size, &result, error, sizeof error);
    if (!memchr (request->message_type, '\0', sizeof request->message_type)
    ||  !memchr (request->request_id, '\0', sizeof request->request_id)
    ||  !memchr (request->reply_type, '\0', sizeof request->reply_type))
        s_fail ("an unterminated string in the request");
    if ((request->present & ROUTER_FIELD_REQUEST_ID) && !request->request_id [0])
        s_fail ("an empty request-id marked present");

    if (rc == 0) {
        if (result != ROUTER_SUCCESS)
            s_fail ("success with a result that is not success");
        if (request->type <= ROUTER_MSG_UNKNOWN || request->type >= ROUTER_MSG_COUNT)
            s_fail ("success with an unknown type");
        if (!(request->present & ROUTER_FIELD_REQUEST_ID))
            s_fail ("success without a request-id");
        uint32_t allowed = s_allowed (request->type) | ROUTER_FIELD_REQUEST_ID;
        if (request->present & ~allowed)
            s_fail ("a field the type does not take is marked present");
        if ((allowed & ROUTER_FIELD_KEY) && !(request->present & ROUTER_FIELD_KEY))
            s_fail ("success without the key the type requires");
        if ((allowed & ROUTER_FIELD_UPLOAD_ID) && !(request->present & ROUTER_FIELD_UPLOAD_ID))
            s_fail ("success without the upload-id the type requires");
        if (request->type == ROUTER_MSG_GET_NEXT
        &&  (request->present & (ROUTER_FIELD_UNIFIED_ID | ROUTER_FIELD_SLICE_NUM))
            != (ROUTER_FIELD_UNIFIED_ID | ROUTER_FIELD_SLICE_NUM))
            s_fail ("get-next without unified-id and slice-num");
        if (request->present & ROUTER_FIELD_KEY) {
            if (request->key_size < 1 || request->key_size > LIMIT_KEY_MAX
            ||  strlen (request->key) != request->key_size)
                s_fail ("a key of bad length or with a NUL");
        }
        if (request->present & ROUTER_FIELD_UPLOAD_ID) {
            size_t length = strlen (request->upload_id);
            if (length < 1 || length > ROUTER_UPLOAD_ID_MAX)
                s_fail ("an upload-id of bad length");
        }
        if (((request->present & ROUTER_FIELD_META) != 0) != (request->meta != NULL))
            s_fail ("meta present without bytes, or bytes without meta");
        if (request->meta && request_meta_validate (request->meta, request->meta_size))
            s_fail ("accepted meta that does not validate");
        if (strcmp (router_msg_name (request->type), request->message_type))
            s_fail ("the type decoded is not the type sent");
    }
    else {
        if (rc != -1)
            s_fail ("router_request_decode returned neither 0 nor -1");
        if (result != ROUTER_INVALID_REQUEST && result != ROUTER_UNKNOWN_MESSAGE_TYPE
        &&  result != ROUTER_OVERLOADED)
            s_fail ("unexpected result code");
        if (!memchr (error, '\0', sizeof error) || !error [0] || strchr (error, '\n'))
            s_fail ("an empty, unterminated or multi-line error");
        if (request->present & ~ROUTER_FIELD_REQUEST_ID)
            s_fail ("a failed request keeps fields other than the request-id");
        if (request->meta)
            s_fail ("a failed request keeps its meta");
    }
    s_check_reply (request, result, error);
    return 0;
}
