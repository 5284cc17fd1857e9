/*  =========================================================================
    test_erasure - zfec-compatible erasure coding of slices

    Known zfec easyfec vectors (zfec 1.5.2), size arithmetic, round trips
    for sizes around the block and chunk boundaries with every choice of
    k shares (small sizes) or random choices (large ones), and refusal of
    inconsistent input. The byte-for-byte cross-check with zfec over many
    sizes is tests/integration/test_zfec_compat.py.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "erasure.h"

//  Deterministic pseudo-random bytes (xorshift), so failures reproduce
static void
s_fill (uint8_t *buffer, size_t size, uint64_t seed)
{
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t index = 0; index < size; index++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        buffer [index] = (uint8_t) (state >> 24);
    }
}

//  A slice encoded into its n shares
typedef struct {
    uint8_t *slice;             //  The original data
    size_t size;                //  Its size
    uint8_t *shares [ERASURE_MAX_SHARES];   //  n shares
    size_t share_size;          //  Bytes per share
    uint32_t padding;           //  zfec-padding-size
} encoded_t;

static void
s_encode (erasure_t *coder, size_t size, uint64_t seed, encoded_t *encoded)
{
    memset (encoded, 0, sizeof *encoded);
    encoded->size = size;
    encoded->slice = malloc (size + 1);
    cr_assert_not_null (encoded->slice);
    s_fill (encoded->slice, size, seed);
    encoded->share_size = erasure_share_size (coder, size);
    for (int index = 0; index < erasure_n (coder); index++) {
        encoded->shares [index] = malloc (encoded->share_size + 1);
        cr_assert_not_null (encoded->shares [index]);
    }
    encoded->padding = 12345;
    cr_assert_eq (erasure_encode_slice (coder, encoded->slice, size, encoded->shares,
                                        &encoded->padding), 0);
    cr_assert_eq (encoded->padding, erasure_padding (coder, size));
    //  Shares 0..k-1 are the data itself (systematic code)
    int k = erasure_k (coder);
    size_t chunk = (size % ERASURE_BLOCK_SIZE + k - 1) / k;
    if (size > 0 && size < ERASURE_BLOCK_SIZE)
        for (int index = 0; index < k; index++) {
            size_t start = index * chunk;
            size_t bytes = start >= size? 0: size - start < chunk? size - start: chunk;
            cr_assert_eq (memcmp (encoded->shares [index], encoded->slice + start, bytes), 0,
                          "share %d of %zu bytes is not the data chunk", index, size);
        }
}

static void
s_free (erasure_t *coder, encoded_t *encoded)
{
    for (int index = 0; index < erasure_n (coder); index++)
        free (encoded->shares [index]);
    free (encoded->slice);
}

//  Decode from the given share numbers (in the given order) and compare
static void
s_check_decode (erasure_t *coder, encoded_t *encoded, const int *share_nums)
{
    int k = erasure_k (coder);
    const uint8_t *shares [ERASURE_MAX_SHARES];
    for (int index = 0; index < k; index++)
        shares [index] = encoded->shares [share_nums [index]];
    size_t out_size = encoded->size + 7;
    uint8_t *out = malloc (out_size);
    cr_assert_not_null (out);
    memset (out, 0xA5, out_size);
    size_t slice_size = 0;
    int rc = erasure_decode_slice (coder, shares, share_nums, encoded->share_size,
                                   encoded->padding, out, out_size, &slice_size);
    cr_assert_eq (rc, 0, "decode of %zu bytes failed", encoded->size);
    cr_assert_eq (slice_size, encoded->size);
    cr_assert_eq (memcmp (out, encoded->slice, encoded->size), 0,
                  "decoded %zu bytes differ (first shares %d %d)",
                  encoded->size, share_nums [0], share_nums [1]);
    //  Nothing written past the slice
    for (size_t index = encoded->size; index < out_size; index++)
        cr_assert_eq (out [index], 0xA5);
    free (out);
}

//  Decode from every choice of k shares out of n, each in reverse order
static void
s_check_all_choices (erasure_t *coder, size_t size)
{
    int k = erasure_k (coder), n = erasure_n (coder);
    encoded_t encoded;
    s_encode (coder, size, size + 1, &encoded);
    int choices = 0;
    for (uint32_t mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount (mask) != k)
            continue;
        int share_nums [ERASURE_MAX_SHARES], count = 0;
        for (int index = n - 1; index >= 0; index--)
            if (mask & (1u << index))
                share_nums [count++] = index;
        s_check_decode (coder, &encoded, share_nums);
        choices++;
    }
    cr_assert_gt (choices, 0);
    s_free (coder, &encoded);
}

//  Decode from random choices of k shares, in random order
static void
s_check_random_choices (erasure_t *coder, size_t size, int rounds)
{
    int k = erasure_k (coder), n = erasure_n (coder);
    encoded_t encoded;
    s_encode (coder, size, size + 3, &encoded);
    srandom ((unsigned) size);
    for (int round = 0; round < rounds; round++) {
        int order [ERASURE_MAX_SHARES];
        for (int index = 0; index < n; index++)
            order [index] = index;
        for (int index = n - 1; index > 0; index--) {
            int other = (int) (random () % (index + 1));
            int swap = order [index];
            order [index] = order [other];
            order [other] = swap;
        }
        //  Round 0: all data shares; round 1: the last k shares
        if (round == 0)
            for (int index = 0; index < k; index++)
                order [index] = index;
        if (round == 1)
            for (int index = 0; index < k; index++)
                order [index] = n - k + index;
        s_check_decode (coder, &encoded, order);
    }
    s_free (coder, &encoded);
}

Test (erasure, new_checks_parameters)
{
    cr_assert_null (erasure_new (0, 10));
    cr_assert_null (erasure_new (-1, 10));
    cr_assert_null (erasure_new (8, 7));
    cr_assert_null (erasure_new (8, 256));
    cr_assert_null (erasure_new (256, 256));
    int pairs [][2] = { { 1, 1 }, { 1, 255 }, { 8, 10 }, { 255, 255 }, { 100, 255 } };
    for (size_t index = 0; index < sizeof pairs / sizeof pairs [0]; index++) {
        erasure_t *coder = erasure_new (pairs [index][0], pairs [index][1]);
        cr_assert_not_null (coder, "k=%d n=%d", pairs [index][0], pairs [index][1]);
        cr_assert_eq (erasure_k (coder), pairs [index][0]);
        cr_assert_eq (erasure_n (coder), pairs [index][1]);
        erasure_destroy (&coder);
        cr_assert_null (coder);
    }
    erasure_t *none = NULL;
    erasure_destroy (&none);
    cr_assert_null (none);
}

Test (erasure, zfec_known_vectors)
{
    //  zfec.easyfec.Encoder (8, 10).encode (bytes (range (16)))
    erasure_t *coder = erasure_new (8, 10);
    uint8_t block [16];
    for (int index = 0; index < 16; index++)
        block [index] = (uint8_t) index;
    uint8_t buffers [10][2];
    uint8_t *shares [10];
    for (int index = 0; index < 10; index++)
        shares [index] = buffers [index];
    uint32_t padding = 99;
    cr_assert_eq (erasure_encode_slice (coder, block, 16, shares, &padding), 0);
    cr_assert_eq (padding, 0);
    for (int index = 0; index < 8; index++) {
        cr_assert_eq (buffers [index][0], 2 * index);
        cr_assert_eq (buffers [index][1], 2 * index + 1);
    }
    cr_assert_eq (buffers [8][0], 0x29);
    cr_assert_eq (buffers [8][1], 0x28);
    cr_assert_eq (buffers [9][0], 0x5f);
    cr_assert_eq (buffers [9][1], 0x5e);

    //  Encoder (8, 10).encode (b"a"): 'a', seven zeros, 0x84, 0xb9
    cr_assert_eq (erasure_encode_slice (coder, (const uint8_t *) "a", 1, shares, &padding), 0);
    cr_assert_eq (padding, 7);
    cr_assert_eq (buffers [0][0], 'a');
    for (int index = 1; index < 8; index++)
        cr_assert_eq (buffers [index][0], 0);
    cr_assert_eq (buffers [8][0], 0x84);
    cr_assert_eq (buffers [9][0], 0xb9);
    erasure_destroy (&coder);

    //  Encoder (3, 5).encode (b"abcdefg")
    coder = erasure_new (3, 5);
    uint8_t wide [5][3];
    for (int index = 0; index < 5; index++)
        shares [index] = wide [index];
    cr_assert_eq (erasure_encode_slice (coder, (const uint8_t *) "abcdefg", 7, shares, &padding), 0);
    cr_assert_eq (padding, 2);
    const uint8_t expected [5][3] = {
        { 'a', 'b', 'c' }, { 'd', 'e', 'f' }, { 'g', 0, 0 },
        { 0x5d, 0x0b, 0x1c }, { 0xd9, 0x3e, 0x43 }
    };
    cr_assert_eq (memcmp (wide, expected, sizeof expected), 0);
    erasure_destroy (&coder);
}

Test (erasure, sizes_and_padding)
{
    erasure_t *coder = erasure_new (8, 10);
    cr_assert_eq (erasure_block_share_size (coder), 4096);
    struct { size_t slice, share; uint32_t padding; } cases [] = {
        { 0, 0, 0 }, { 1, 1, 7 }, { 7, 1, 1 }, { 8, 1, 0 }, { 9, 2, 7 },
        { 32767, 4096, 1 }, { 32768, 4096, 0 }, { 32769, 4097, 7 },
        { 1048576 + 3, 131073, 5 }, { ERASURE_SLICE_SIZE, 1310720, 0 },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        cr_assert_eq (erasure_share_size (coder, cases [index].slice), cases [index].share,
                      "share size of %zu", cases [index].slice);
        cr_assert_eq (erasure_padding (coder, cases [index].slice), cases [index].padding,
                      "padding of %zu", cases [index].slice);
    }
    erasure_destroy (&coder);

    cr_assert_eq (erasure_slice_count (0, ERASURE_SLICE_SIZE), 1);
    cr_assert_eq (erasure_slice_count (1, ERASURE_SLICE_SIZE), 1);
    cr_assert_eq (erasure_slice_count (ERASURE_SLICE_SIZE, ERASURE_SLICE_SIZE), 1);
    cr_assert_eq (erasure_slice_count (ERASURE_SLICE_SIZE + 1ull, ERASURE_SLICE_SIZE), 2);
    cr_assert_eq (erasure_slice_count (3ull * ERASURE_SLICE_SIZE + 5, ERASURE_SLICE_SIZE), 4);
}

//  erasure_slice_size inverts (share size, padding) for every slice size,
//  also when k does not divide the block size (every block padded)
Test (erasure, slice_size_inverts_share_size)
{
    int ks [] = { 1, 3, 7, 8, 10 };
    for (size_t kindex = 0; kindex < sizeof ks / sizeof ks [0]; kindex++) {
        erasure_t *coder = erasure_new (ks [kindex], ks [kindex] + 2);
        for (size_t size = 0; size < 3 * ERASURE_BLOCK_SIZE + 100;
             size += size < 200 || (size % ERASURE_BLOCK_SIZE) < 40
                  || (size % ERASURE_BLOCK_SIZE) > ERASURE_BLOCK_SIZE - 40? 1: 997) {
            size_t back = SIZE_MAX;
            cr_assert_eq (erasure_slice_size (coder, erasure_share_size (coder, size),
                                              erasure_padding (coder, size), &back), 0,
                          "k=%d size %zu", ks [kindex], size);
            cr_assert_eq (back, size, "k=%d size %zu gave %zu", ks [kindex], size, back);
        }
        erasure_destroy (&coder);
    }
}

Test (erasure, empty_slice)
{
    erasure_t *coder = erasure_new (8, 10);
    uint32_t padding = 5;
    cr_assert_eq (erasure_share_size (coder, 0), 0);
    cr_assert_eq (erasure_encode_slice (coder, NULL, 0, NULL, &padding), 0);
    cr_assert_eq (padding, 0);
    const uint8_t *shares [8] = { NULL };
    int share_nums [8] = { 2, 3, 4, 5, 6, 7, 8, 9 };
    size_t slice_size = 77;
    cr_assert_eq (erasure_decode_slice (coder, shares, share_nums, 0, 0, NULL, 0, &slice_size), 0);
    cr_assert_eq (slice_size, 0);
    //  Padding without data is impossible
    cr_assert_eq (erasure_decode_slice (coder, shares, share_nums, 0, 1, NULL, 0, &slice_size), -1);
    erasure_destroy (&coder);
}

Test (erasure, round_trip_small_every_choice)
{
    erasure_t *coder = erasure_new (8, 10);
    size_t sizes [] = { 1, 7, 8, 9, 100, 32767, 32768, 32769, 65536 + 9 };
    for (size_t index = 0; index < sizeof sizes / sizeof sizes [0]; index++)
        s_check_all_choices (coder, sizes [index]);
    erasure_destroy (&coder);
}

Test (erasure, round_trip_large_random_choices)
{
    erasure_t *coder = erasure_new (8, 10);
    s_check_random_choices (coder, 1048576 + 3, 12);
    s_check_random_choices (coder, ERASURE_SLICE_SIZE, 6);
    s_check_random_choices (coder, ERASURE_SLICE_SIZE - 1, 3);
    erasure_destroy (&coder);
}

Test (erasure, round_trip_other_parameters)
{
    //  k not dividing the block size pads every block; k = n has no parity
    int pairs [][2] = { { 3, 5 }, { 7, 9 }, { 1, 3 }, { 4, 4 }, { 10, 14 } };
    size_t sizes [] = { 1, 2, 3, 32767, 32768, 32769, 3 * 32768 + 2 };
    for (size_t pindex = 0; pindex < sizeof pairs / sizeof pairs [0]; pindex++) {
        erasure_t *coder = erasure_new (pairs [pindex][0], pairs [pindex][1]);
        for (size_t sindex = 0; sindex < sizeof sizes / sizeof sizes [0]; sindex++)
            s_check_all_choices (coder, sizes [sindex]);
        erasure_destroy (&coder);
    }
    //  Many parity shares
    erasure_t *coder = erasure_new (20, 200);
    s_check_random_choices (coder, 200000, 5);
    erasure_destroy (&coder);
}

//  Every refusal leaves out untouched
static void
s_check_refused (erasure_t *coder, encoded_t *encoded, const int *share_nums,
                 size_t share_size, uint32_t padding, size_t out_size, const char *why)
{
    const uint8_t *shares [ERASURE_MAX_SHARES];
    for (int index = 0; index < erasure_k (coder); index++)
        shares [index] = encoded->shares [share_nums [index] >= 0
                                          && share_nums [index] < erasure_n (coder)?
                                          share_nums [index]: 0];
    uint8_t *out = malloc (out_size + 1);
    cr_assert_not_null (out);
    memset (out, 0x5A, out_size + 1);
    size_t slice_size = 4242;
    cr_assert_eq (erasure_decode_slice (coder, shares, share_nums, share_size, padding,
                                        out, out_size, &slice_size), -1, "%s", why);
    cr_assert_eq (slice_size, 4242, "%s", why);
    for (size_t index = 0; index <= out_size; index++)
        cr_assert_eq (out [index], 0x5A, "%s: out written", why);
    free (out);
}

Test (erasure, decode_refuses_inconsistent_input)
{
    erasure_t *coder = erasure_new (8, 10);
    encoded_t encoded;
    s_encode (coder, 1000, 9, &encoded);
    cr_assert_eq (encoded.share_size, 125);
    int good [8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
    size_t size = encoded.size;

    int duplicate [8] = { 0, 1, 2, 3, 4, 5, 6, 6 };
    s_check_refused (coder, &encoded, duplicate, 125, 0, size, "duplicate share number");
    int too_big [8] = { 0, 1, 2, 3, 4, 5, 6, 10 };
    s_check_refused (coder, &encoded, too_big, 125, 0, size, "share number >= n");
    int negative [8] = { -1, 1, 2, 3, 4, 5, 6, 7 };
    s_check_refused (coder, &encoded, negative, 125, 0, size, "negative share number");
    s_check_refused (coder, &encoded, good, 125, 8, size, "padding >= k");
    s_check_refused (coder, &encoded, good, 125, UINT32_MAX, size, "huge padding");
    s_check_refused (coder, &encoded, good, 0, 3, size, "padding without data");
    s_check_refused (coder, &encoded, good, 125, 0, size - 1, "out too small");
    s_check_refused (coder, &encoded, good, 124, 0, 100, "out too small for a shorter share");
    s_check_refused (coder, &encoded, good, SIZE_MAX, 0, size, "share size overflows");

    //  The sizes alone: impossible or overflowing pairs
    size_t slice_size;
    cr_assert_eq (erasure_slice_size (coder, SIZE_MAX, 0, &slice_size), -1);
    cr_assert_eq (erasure_slice_size (coder, SIZE_MAX / 8 + 1, 0, &slice_size), -1);
    cr_assert_eq (erasure_slice_size (coder, 4096 * 3, 7, &slice_size), 0);
    cr_assert_eq (slice_size, 3 * 32768 - 7);
    s_free (coder, &encoded);
    erasure_destroy (&coder);

    //  k = 3: a full block's chunk (10923 bytes) holds at most 32768 bytes,
    //  so with padding 0 it would claim 32769: impossible
    coder = erasure_new (3, 5);
    cr_assert_eq (erasure_block_share_size (coder), 10923);
    cr_assert_eq (erasure_slice_size (coder, 10923, 0, &slice_size), -1);
    cr_assert_eq (erasure_slice_size (coder, 10923, 1, &slice_size), 0);
    cr_assert_eq (slice_size, 32768);
    cr_assert_eq (erasure_slice_size (coder, 2 * 10923, 1, &slice_size), 0);
    cr_assert_eq (slice_size, 65536);
    erasure_destroy (&coder);
}

Test (erasure, corrupt_share_changes_output)
{
    //  The coder does not detect corruption; the caller's digest must
    erasure_t *coder = erasure_new (8, 10);
    encoded_t encoded;
    s_encode (coder, 5000, 4, &encoded);
    encoded.shares [9][3] ^= 0x01;
    int share_nums [8] = { 1, 2, 3, 4, 5, 6, 7, 9 };
    const uint8_t *shares [8];
    for (int index = 0; index < 8; index++)
        shares [index] = encoded.shares [share_nums [index]];
    uint8_t out [5000];
    size_t slice_size;
    cr_assert_eq (erasure_decode_slice (coder, shares, share_nums, encoded.share_size,
                                        encoded.padding, out, sizeof out, &slice_size), 0);
    cr_assert_neq (memcmp (out, encoded.slice, sizeof out), 0);
    s_free (coder, &encoded);
    erasure_destroy (&coder);
}
