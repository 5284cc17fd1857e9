/*  =========================================================================
    fuzz_request_decode - libFuzzer target over request_decode ()

    Any bytes may arrive as frame 0 of a request. Besides "no crash, no
    leak, no undefined behaviour" (ASan + UBSan), each input checks:

    - a failure carries a result the node can send (invalid-request or
      unknown-message-type, or overloaded on out-of-memory) and a
      non-empty message;
    - a header that decodes re-encodes (request_encode) to one that decodes
      to the same request;
    - the error or success reply built from it (reply_prepare,
      reply_encode) decodes (reply_decode) with the same envelope.

    Build: CC=clang cmake -DSTRATA_FUZZ=ON; run: tests/fuzz/run.sh.
    =========================================================================
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Fail the run with a message
static void
s_fail (const char *what)
{
    fprintf (stderr, "fuzz_request_decode: %s\n", what);
    abort ();
}

//  True if two decoded requests are the same (meta compared by content)
static int
s_same (const request_t *a, const request_t *b)
{
    //  Copies with the meta pointers cleared, so memcmp sees only values;
    //  both came from request_reset (), so padding is zero in both
    request_t left, right;
    memcpy (&left, a, sizeof left);
    memcpy (&right, b, sizeof right);
    left.meta = right.meta = NULL;
    if (memcmp (&left, &right, sizeof left) != 0)
        return 0;
    if (a->meta_size && memcmp (a->meta, b->meta, a->meta_size) != 0)
        return 0;
    return 1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static request_t *request = NULL;
    static request_t *again = NULL;
    static reply_t *reply = NULL;
    static reply_t *reply_back = NULL;
    if (!request) {
        request = request_new ();
        again = request_new ();
        reply = reply_new ();
        reply_back = reply_new ();
        if (!request || !again || !reply || !reply_back)
            s_fail ("out of memory at start");
    }
    request_error_t error;
    int rc = request_decode (request, data, size, &error);
    if (rc == 0) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        if (request_encode (request, &buffer))
            s_fail ("a decoded request does not encode");
        request_error_t again_error;
        if (request_decode (again, buffer.data, buffer.size, &again_error)) {
            fprintf (stderr, "re-decode: %s\n", again_error.message);
            s_fail ("a re-encoded request does not decode");
        }
        if (!s_same (request, again))
            s_fail ("a re-encoded request decodes differently");
        msgpack_sbuffer_destroy (&buffer);
    }
    else {
        if (rc != -1)
            s_fail ("request_decode returned neither 0 nor -1");
        if (error.result != RESULT_INVALID_REQUEST
        &&  error.result != RESULT_UNKNOWN_MESSAGE_TYPE
        &&  error.result != RESULT_OVERLOADED)
            s_fail ("unexpected result code");
        if (!error.message [0] || !memchr (error.message, '\0', sizeof error.message))
            s_fail ("empty or unterminated error message");
    }

    reply_prepare (reply, request, rc? error.result: RESULT_SUCCESS, rc? error.message: NULL);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    reply_encode (reply, &buffer);
    if (reply_decode (reply_back, buffer.data, buffer.size))
        s_fail ("a reply does not decode");
    if (strcmp (reply->message_type, reply_back->message_type)
    ||  strcmp (reply->message_id, reply_back->message_id)
    ||  strcmp (reply->client_tag, reply_back->client_tag)
    ||  strcmp (reply->client_address, reply_back->client_address)
    ||  strcmp (reply->user_request_id, reply_back->user_request_id)
    ||  reply->result != reply_back->result
    ||  strcmp (reply->error_message, reply_back->error_message))
        s_fail ("a reply decodes with a different envelope");
    msgpack_sbuffer_destroy (&buffer);
    return 0;
}
