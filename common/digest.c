/*  =========================================================================
    digest - MD5 (OpenSSL EVP), CRC32C (ISA-L), Adler-32 (zlib) and base64
    (OpenSSL EVP) behind one small interface

    Every function is a thin wrapper over the library that does the work;
    what this module adds is bounds checking and strictness:

    - digest_md5 is called per message on the hot path. It uses EVP_Digest
      with an MD5 implementation fetched once per process (OpenSSL 3 would
      otherwise look the algorithm up again on every call).
    - ISA-L's crc32_iscsi works on the raw CRC register (no initial or final
      inversion); digest_crc32c inverts on the way in and out, so a caller
      sees the standard CRC32C and can continue it over several buffers.
    - EVP_DecodeBlock is lax (it accepts '=' anywhere, surrounding
      whitespace, and never strips padding), so digest_base64_decode
      validates the text first, decodes the last quantum into a scratch
      buffer so it never writes past out_size, and rejects non-canonical
      padding bits by re-encoding the last quantum.

    A library failure that no input can cause (out of memory inside
    OpenSSL, MD5 unavailable) aborts: the MD5 functions have no error return
    and must never hand back a digest that was not computed.
    =========================================================================
*/

#include "digest.h"

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <zlib.h>

//  Incremental MD5 context
struct _digest_md5_t {
    EVP_MD_CTX *ctx;            //  OpenSSL digest context, initialised for MD5
};

//  MD5 implementation, fetched once for the whole process
static const EVP_MD *s_md5 = NULL;
//  Guards the one-time fetch of s_md5
static pthread_once_t s_md5_once = PTHREAD_ONCE_INIT;


//  --------------------------------------------------------------------------
//  Report a library failure that no input can cause, and abort.

static void
s_fatal (const char *what)
{
    fprintf (stderr, "strata: digest: %s failed\n", what);
    abort ();
}

static void
s_md5_fetch (void)
{
    //  An explicitly fetched EVP_MD saves the per-call implicit fetch; fall
    //  back to the built-in method if the default provider cannot give one
    EVP_MD *fetched = EVP_MD_fetch (NULL, "MD5", NULL);
    s_md5 = fetched? fetched: EVP_md5 ();
}

static const EVP_MD *
s_md5_method (void)
{
    if (pthread_once (&s_md5_once, s_md5_fetch) != 0)
        s_fatal ("pthread_once");
    return s_md5;
}


//  --------------------------------------------------------------------------
//  Compute the MD5 of one buffer into out. data may be NULL when size is 0.

void
digest_md5 (const void *data, size_t size, uint8_t out [DIGEST_MD5_SIZE])
{
    assert (out);
    assert (data || size == 0);
    static const uint8_t empty [1] = { 0 };
    unsigned int out_size = 0;  //  Bytes written by OpenSSL, always 16
    if (!EVP_Digest (size? data: empty, size, out, &out_size, s_md5_method (), NULL)
    ||  out_size != DIGEST_MD5_SIZE)
        s_fatal ("EVP_Digest");
}


//  --------------------------------------------------------------------------
//  Create an incremental MD5 context. Returns NULL only on out-of-memory.

digest_md5_t *
digest_md5_new (void)
{
    digest_md5_t *self = (digest_md5_t *) calloc (1, sizeof (digest_md5_t));
    if (!self)
        return NULL;
    self->ctx = EVP_MD_CTX_new ();
    if (!self->ctx
    ||  !EVP_DigestInit_ex (self->ctx, s_md5_method (), NULL)) {
        digest_md5_destroy (&self);
        return NULL;
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy an MD5 context and set the caller's pointer to NULL. Accepts NULL.

void
digest_md5_destroy (digest_md5_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    digest_md5_t *self = *self_p;
    EVP_MD_CTX_free (self->ctx);
    free (self);
    *self_p = NULL;
}


//  --------------------------------------------------------------------------
//  Feed bytes to the context.

void
digest_md5_update (digest_md5_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    if (size == 0)
        return;
    if (!EVP_DigestUpdate (self->ctx, data, size))
        s_fatal ("EVP_DigestUpdate");
}


//  --------------------------------------------------------------------------
//  Finish the digest into out and reset the context for reuse.

void
digest_md5_final (digest_md5_t *self, uint8_t out [DIGEST_MD5_SIZE])
{
    assert (self);
    assert (out);
    unsigned int out_size = 0;  //  Bytes written by OpenSSL, always 16
    if (!EVP_DigestFinal_ex (self->ctx, out, &out_size)
    ||  out_size != DIGEST_MD5_SIZE)
        s_fatal ("EVP_DigestFinal_ex");
    if (!EVP_DigestInit_ex (self->ctx, s_md5_method (), NULL))
        s_fatal ("EVP_DigestInit_ex");
}


//  --------------------------------------------------------------------------
//  Continue a CRC32C over data, starting from crc (0 to begin).

uint32_t
digest_crc32c (uint32_t crc, const void *data, size_t size)
{
    //  ISA-L keeps the register uninverted: invert in, feed, invert out.
    //  Its length is an int, so feed buffers larger than that in chunks.
    assert (data || size == 0);
    const unsigned char *bytes = (const unsigned char *) data;
    unsigned int state = ~crc;  //  Raw CRC register as ISA-L sees it
    while (size > 0) {
        size_t chunk = size > (size_t) INT_MAX? (size_t) INT_MAX: size;
        state = crc32_iscsi ((unsigned char *) bytes, (int) chunk, state);
        bytes += chunk;
        size -= chunk;
    }
    return (uint32_t) ~state;
}


//  --------------------------------------------------------------------------
//  Continue an Adler-32 over data, starting from adler (1 to begin).

uint32_t
digest_adler32 (uint32_t adler, const void *data, size_t size)
{
    assert (data || size == 0);
    if (size == 0)
        return adler;
    //  adler32_z takes a size_t length, so no chunking is needed
    return (uint32_t) adler32_z (adler, (const Bytef *) data, size);
}


//  --------------------------------------------------------------------------
//  Encode size bytes as standard base64 into out (out_size bytes including
//  the null). Returns the length of the text, or -1 if out is too small.

int
digest_base64_encode (const uint8_t *data, size_t size, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return -1;
    //  The text must fit an int (EVP_EncodeBlock's length and our return)
    if (size > (size_t) (INT_MAX / 4 - 1) * 3)
        return -1;
    size_t text_size = (size + 2) / 3 * 4;      //  Characters, no null
    if (out_size < text_size + 1)
        return -1;
    if (size == 0) {
        out [0] = '\0';
        return 0;
    }
    if (!data)
        return -1;
    int written = EVP_EncodeBlock ((unsigned char *) out, data, (int) size);
    if (written < 0 || (size_t) written != text_size)
        return -1;
    return written;
}


//  --------------------------------------------------------------------------
//  True if c is one of the 64 characters of the standard base64 alphabet.

static bool
s_base64_char (char c)
{
    return (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')
        || c == '+' || c == '/';
}


//  --------------------------------------------------------------------------
//  Decode standard base64 text (padding required, no whitespace) into out.
//  Returns the number of decoded bytes, or -1 if the text is not valid
//  base64 or out is too small. Never writes past out + out_size.

int
digest_base64_decode (const char *text, size_t text_size, uint8_t *out, size_t out_size)
{
    if (text_size == 0)
        return 0;
    if (!text || text_size % 4 != 0 || text_size > (size_t) INT_MAX)
        return -1;

    //  Padding: at most two '=' and only at the very end
    size_t pad = 0;             //  Number of trailing '='
    while (pad < 2 && text [text_size - 1 - pad] == '=')
        pad++;
    for (size_t index = 0; index < text_size - pad; index++)
        if (!s_base64_char (text [index]))
            return -1;          //  Bad character, stray '=', null, space

    size_t decoded = text_size / 4 * 3 - pad;   //  Exact output size
    if (decoded > out_size || !out)
        return -1;

    //  All quanta but the last decode straight into out: 3 bytes per 4
    size_t head_size = text_size - 4;           //  Text before last quantum
    if (head_size > 0) {
        int rc = EVP_DecodeBlock (out, (const unsigned char *) text, (int) head_size);
        if (rc < 0 || (size_t) rc != head_size / 4 * 3)
            return -1;
    }
    //  The last quantum goes through scratch, since EVP_DecodeBlock writes
    //  all three bytes whatever the padding
    const char *last = text + head_size;        //  Last four characters
    uint8_t scratch [3];        //  Decoded last quantum, padding included
    if (EVP_DecodeBlock (scratch, (const unsigned char *) last, 4) != 3)
        return -1;
    //  Reject non-canonical text ("QR==" for "QQ=="): the bits under the
    //  padding must be zero, i.e. re-encoding gives back the same text
    char again [5];             //  Re-encoded last quantum plus null
    if (EVP_EncodeBlock ((unsigned char *) again, scratch, (int) (3 - pad)) != 4
    ||  memcmp (again, last, 4) != 0)
        return -1;
    memcpy (out + head_size / 4 * 3, scratch, 3 - pad);
    return (int) decoded;
}


//  --------------------------------------------------------------------------
//  Format an MD5 digest as base64 text into out.

void
digest_md5_to_base64 (const uint8_t md5 [DIGEST_MD5_SIZE], char out [DIGEST_MD5_BASE64_SIZE])
{
    assert (md5);
    assert (out);
    if (EVP_EncodeBlock ((unsigned char *) out, md5, DIGEST_MD5_SIZE)
        != DIGEST_MD5_BASE64_SIZE - 1)
        s_fatal ("EVP_EncodeBlock");
}
