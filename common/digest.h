/*  =========================================================================
    digest - MD5 (OpenSSL EVP), CRC32C (ISA-L), Adler-32 (zlib) and base64
    (OpenSSL EVP) behind one small interface

    Nothing here is hand-written: each function is a thin, bounds-checked
    wrapper over the library that does the work.
    =========================================================================
*/
#ifndef STRATA_DIGEST_H_INCLUDED
#define STRATA_DIGEST_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define DIGEST_MD5_SIZE     16
//  Base64 text of an MD5 digest: 24 characters plus the terminating null
#define DIGEST_MD5_BASE64_SIZE  25

typedef struct _digest_md5_t digest_md5_t;

//  Compute the MD5 of one buffer into out. data may be NULL when size is 0.
void
    digest_md5 (const void *data, size_t size, uint8_t out [DIGEST_MD5_SIZE]);

//  Create an incremental MD5 context. Returns NULL only on out-of-memory.
digest_md5_t *
    digest_md5_new (void);

//  Destroy an MD5 context and set the caller's pointer to NULL. Accepts NULL.
void
    digest_md5_destroy (digest_md5_t **self_p);

//  Feed bytes to the context.
void
    digest_md5_update (digest_md5_t *self, const void *data, size_t size);

//  Finish the digest into out and reset the context for reuse.
void
    digest_md5_final (digest_md5_t *self, uint8_t out [DIGEST_MD5_SIZE]);

//  Continue a CRC32C (Castagnoli) over data, starting from crc (0 to begin).
//  Matches the standard check value: crc32c ("123456789") = 0xE3069283.
uint32_t
    digest_crc32c (uint32_t crc, const void *data, size_t size);

//  Continue an Adler-32 over data, starting from adler (1 to begin, as zlib).
uint32_t
    digest_adler32 (uint32_t adler, const void *data, size_t size);

//  Encode size bytes as standard base64 (with padding) into out, which has
//  room for out_size bytes including the terminating null. Returns the
//  length of the text, or -1 if out is too small.
int
    digest_base64_encode (const uint8_t *data, size_t size, char *out, size_t out_size);

//  Decode standard base64 text (length text_size, padding required,
//  no whitespace) into out (room for out_size bytes). Returns the number of
//  decoded bytes, or -1 if the text is not valid base64 or out is too small.
int
    digest_base64_decode (const char *text, size_t text_size, uint8_t *out, size_t out_size);

//  Format an MD5 digest as base64 text into out.
void
    digest_md5_to_base64 (const uint8_t md5 [DIGEST_MD5_SIZE], char out [DIGEST_MD5_BASE64_SIZE]);

#endif
