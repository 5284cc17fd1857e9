/*  =========================================================================
    test_digest - MD5, CRC32C, Adler-32 and base64 wrappers

    Known vectors from the RFCs and the usual check values, incremental
    against one-shot, continuation of the running checksums, and base64's
    strictness and bounds.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"

//  Hex text of an MD5 digest, for readable comparisons
static void
s_hex (const uint8_t md5 [DIGEST_MD5_SIZE], char out [DIGEST_MD5_SIZE * 2 + 1])
{
    for (int index = 0; index < DIGEST_MD5_SIZE; index++)
        snprintf (out + index * 2, 3, "%02x", md5 [index]);
}

static void
s_check_md5 (const char *text, const char *expected_hex)
{
    uint8_t md5 [DIGEST_MD5_SIZE];
    char hex [DIGEST_MD5_SIZE * 2 + 1];
    digest_md5 (text, strlen (text), md5);
    s_hex (md5, hex);
    cr_assert_str_eq (hex, expected_hex, "md5 (\"%s\")", text);
}

Test (digest, md5_known_vectors)
{
    //  RFC 1321 appendix A.5
    s_check_md5 ("", "d41d8cd98f00b204e9800998ecf8427e");
    s_check_md5 ("a", "0cc175b9c0f1b6a831c399e269772661");
    s_check_md5 ("abc", "900150983cd24fb0d6963f7d28e17f72");
    s_check_md5 ("message digest", "f96b697d7cb7938d525a2f31aaf161d0");
    s_check_md5 ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                 "57edf4a22be3c955ac49da2e2107b67a");
}

Test (digest, md5_null_empty)
{
    uint8_t md5 [DIGEST_MD5_SIZE];
    char hex [DIGEST_MD5_SIZE * 2 + 1];
    digest_md5 (NULL, 0, md5);
    s_hex (md5, hex);
    cr_assert_str_eq (hex, "d41d8cd98f00b204e9800998ecf8427e");
}

Test (digest, md5_incremental_equals_one_shot)
{
    uint8_t data [10000];
    for (size_t index = 0; index < sizeof (data); index++)
        data [index] = (uint8_t) (index * 7 + 3);
    uint8_t one_shot [DIGEST_MD5_SIZE];
    digest_md5 (data, sizeof (data), one_shot);

    digest_md5_t *md5 = digest_md5_new ();
    cr_assert_not_null (md5);
    //  Feed in uneven pieces, including empty ones
    size_t pieces [] = { 0, 1, 63, 64, 65, 0, 1000, 3, 8804 };
    size_t offset = 0;
    for (size_t index = 0; index < sizeof (pieces) / sizeof (pieces [0]); index++) {
        digest_md5_update (md5, data + offset, pieces [index]);
        offset += pieces [index];
    }
    cr_assert_eq (offset, sizeof (data));
    uint8_t incremental [DIGEST_MD5_SIZE];
    digest_md5_final (md5, incremental);
    cr_assert_arr_eq (incremental, one_shot, DIGEST_MD5_SIZE);

    //  The context is reset by final and can be used again
    digest_md5_update (md5, "abc", 3);
    uint8_t again [DIGEST_MD5_SIZE];
    digest_md5_final (md5, again);
    uint8_t expected [DIGEST_MD5_SIZE];
    digest_md5 ("abc", 3, expected);
    cr_assert_arr_eq (again, expected, DIGEST_MD5_SIZE);

    //  Final with nothing fed is the empty digest
    digest_md5_final (md5, again);
    digest_md5 ("", 0, expected);
    cr_assert_arr_eq (again, expected, DIGEST_MD5_SIZE);

    digest_md5_destroy (&md5);
    cr_assert_null (md5);
    digest_md5_destroy (&md5);          //  Accepts NULL
    digest_md5_destroy (NULL);
}

Test (digest, md5_to_base64)
{
    uint8_t md5 [DIGEST_MD5_SIZE];
    char text [DIGEST_MD5_BASE64_SIZE];
    digest_md5 ("", 0, md5);
    digest_md5_to_base64 (md5, text);
    cr_assert_str_eq (text, "1B2M2Y8AsgTpgAmY7PhCfg==");
    digest_md5 ("abc", 3, md5);
    digest_md5_to_base64 (md5, text);
    cr_assert_str_eq (text, "kAFQmDzST7DWlj99KOF/cg==");

    uint8_t back [DIGEST_MD5_SIZE];
    cr_assert_eq (digest_base64_decode (text, strlen (text), back, sizeof (back)), DIGEST_MD5_SIZE);
    cr_assert_arr_eq (back, md5, DIGEST_MD5_SIZE);
}

Test (digest, crc32c_check_value_and_continuation)
{
    const char *check = "123456789";
    cr_assert_eq (digest_crc32c (0, check, 9), 0xE3069283u);
    cr_assert_eq (digest_crc32c (0, NULL, 0), 0u);
    cr_assert_eq (digest_crc32c (0xE3069283u, "", 0), 0xE3069283u);

    //  Any split continues to the same value
    for (size_t split = 0; split <= 9; split++) {
        uint32_t crc = digest_crc32c (0, check, split);
        crc = digest_crc32c (crc, check + split, 9 - split);
        cr_assert_eq (crc, 0xE3069283u, "split at %zu", split);
    }
    //  RFC 3720 B.4: 32 bytes of zeros, and of 0xFF
    uint8_t block [32];
    memset (block, 0, sizeof (block));
    cr_assert_eq (digest_crc32c (0, block, sizeof (block)), 0x8A9136AAu);
    memset (block, 0xFF, sizeof (block));
    cr_assert_eq (digest_crc32c (0, block, sizeof (block)), 0x62A8AB43u);

    //  Longer buffer, three pieces (exercises ISA-L's wide paths)
    uint8_t data [5000];
    for (size_t index = 0; index < sizeof (data); index++)
        data [index] = (uint8_t) (index ^ (index >> 8));
    uint32_t whole = digest_crc32c (0, data, sizeof (data));
    uint32_t crc = digest_crc32c (0, data, 1);
    crc = digest_crc32c (crc, data + 1, 2047);
    crc = digest_crc32c (crc, data + 2048, sizeof (data) - 2048);
    cr_assert_eq (crc, whole);
    cr_assert_neq (whole, digest_crc32c (0, data, sizeof (data) - 1));
}

Test (digest, adler32_known_and_continuation)
{
    cr_assert_eq (digest_adler32 (1, "Wikipedia", 9), 0x11E60398u);
    cr_assert_eq (digest_adler32 (1, NULL, 0), 1u);
    uint32_t adler = digest_adler32 (1, "Wiki", 4);
    adler = digest_adler32 (adler, "pedia", 5);
    cr_assert_eq (adler, 0x11E60398u);
}

Test (digest, base64_rfc4648_vectors)
{
    const char *plain [] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *coded [] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (int index = 0; index < 7; index++) {
        char text [16];
        int length = digest_base64_encode ((const uint8_t *) plain [index], strlen (plain [index]),
                                           text, sizeof (text));
        cr_assert_eq (length, (int) strlen (coded [index]));
        cr_assert_str_eq (text, coded [index]);

        uint8_t back [16];
        int size = digest_base64_decode (coded [index], strlen (coded [index]), back, sizeof (back));
        cr_assert_eq (size, (int) strlen (plain [index]));
        cr_assert_arr_eq (back, plain [index], (size_t) size);
    }
}

Test (digest, base64_round_trips_0_to_40)
{
    uint8_t data [40];
    for (size_t index = 0; index < sizeof (data); index++)
        data [index] = (uint8_t) (0xF3 - index * 37);       //  All bit patterns mixed
    for (size_t size = 0; size <= sizeof (data); size++) {
        char text [64];
        int length = digest_base64_encode (data, size, text, sizeof (text));
        cr_assert_eq (length, (int) ((size + 2) / 3 * 4), "size %zu", size);
        cr_assert_eq (strlen (text), (size_t) length);

        //  Exact-size output is enough; one byte less is refused untouched
        uint8_t back [40];
        memset (back, 0xAA, sizeof (back));
        int decoded = digest_base64_decode (text, (size_t) length, back, size);
        cr_assert_eq (decoded, (int) size, "size %zu", size);
        cr_assert_arr_eq (back, data, size);
        if (size < sizeof (back))
            cr_assert_eq (back [size], 0xAA, "wrote past out_size at size %zu", size);
        if (size > 0) {
            memset (back, 0xAA, sizeof (back));
            cr_assert_eq (digest_base64_decode (text, (size_t) length, back, size - 1), -1);
            cr_assert_eq (back [0], 0xAA, "wrote before refusing at size %zu", size);
        }
    }
}

Test (digest, base64_encode_out_too_small)
{
    char text [9];
    //  "foobar" needs 8 characters plus the null
    cr_assert_eq (digest_base64_encode ((const uint8_t *) "foobar", 6, text, 9), 8);
    cr_assert_eq (digest_base64_encode ((const uint8_t *) "foobar", 6, text, 8), -1);
    cr_assert_eq (digest_base64_encode ((const uint8_t *) "f", 1, text, 4), -1);
    cr_assert_eq (digest_base64_encode ((const uint8_t *) "", 0, text, 1), 0);
    cr_assert_str_eq (text, "");
    cr_assert_eq (digest_base64_encode ((const uint8_t *) "", 0, text, 0), -1);
}

static int
s_decode (const char *text, size_t size)
{
    uint8_t out [64];
    return digest_base64_decode (text, size, out, sizeof (out));
}

Test (digest, base64_rejects)
{
    //  Bad length
    cr_assert_eq (s_decode ("Zg", 2), -1);
    cr_assert_eq (s_decode ("Zg=", 3), -1);
    cr_assert_eq (s_decode ("Zm9vY", 5), -1);
    //  Bad characters: outside alphabet, URL-safe, whitespace
    cr_assert_eq (s_decode ("Zm9!", 4), -1);
    cr_assert_eq (s_decode ("Zm-_", 4), -1);
    cr_assert_eq (s_decode ("Zm9 ", 4), -1);
    cr_assert_eq (s_decode (" Zm9v", 5), -1);
    cr_assert_eq (s_decode ("Zm9v\n", 5), -1);
    cr_assert_eq (s_decode ("Zm\n9v", 5), -1);
    cr_assert_eq (s_decode ("Zm9v\r\nYg==", 10), -1);
    //  Embedded null (text is not null-terminated, size says 4)
    cr_assert_eq (s_decode ("Zm\0v", 4), -1);
    cr_assert_eq (s_decode ("Zg=\0", 4), -1);
    //  Padding where it does not belong, or too much of it
    cr_assert_eq (s_decode ("Z===", 4), -1);
    cr_assert_eq (s_decode ("====", 4), -1);
    cr_assert_eq (s_decode ("Zg=a", 4), -1);
    cr_assert_eq (s_decode ("Zg==Zg==", 8), -1);
    cr_assert_eq (s_decode ("=Zg=", 4), -1);
    //  Non-canonical: bits under the padding must be zero
    cr_assert_eq (s_decode ("Zh==", 4), -1);
    cr_assert_eq (s_decode ("Zm9=", 4), -1);
    cr_assert_eq (s_decode ("Zg==", 4), 1);
    cr_assert_eq (s_decode ("Zm8=", 4), 2);
    //  Output too small
    uint8_t out [2];
    cr_assert_eq (digest_base64_decode ("Zm9v", 4, out, 2), -1);
    cr_assert_eq (digest_base64_decode ("Zm9v", 4, NULL, 0), -1);
    cr_assert_eq (digest_base64_decode ("Zm8=", 4, out, 2), 2);
    //  Empty text is zero bytes
    cr_assert_eq (digest_base64_decode ("", 0, NULL, 0), 0);
}

Test (digest, base64_decode_reads_only_text_size)
{
    //  Valid prefix followed by junk past text_size: only the prefix counts
    const char *text = "Zm9vYmFy!!!!";
    uint8_t out [6];
    cr_assert_eq (digest_base64_decode (text, 8, out, sizeof (out)), 6);
    cr_assert_arr_eq (out, "foobar", 6);
}
