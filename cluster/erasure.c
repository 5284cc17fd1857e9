/*  =========================================================================
    erasure - zfec-compatible erasure coding of slices (nimbus.io layout)

    The shares must be byte-identical to zfec's easyfec, so the coder uses
    zfec's encoding matrix (fec.c, fec_new): start from the n x k
    Vandermonde matrix over GF(2^8) (polynomial 0x11d) whose row 0 is
    [1 0 ... 0] (the point 0) and whose row r >= 1 is [1 x x^2 ... x^(k-1)]
    for x = 2^(r-1); invert its top k x k part and multiply the whole
    matrix on the right by that inverse. The top k rows become the identity
    (shares 0..k-1 are the data chunks) and the bottom n-k rows generate the
    parity. Any k rows stay independent (they come from distinct Vandermonde
    points), so any k shares rebuild the data.

    The matrix is computed once, in erasure_new, with ISA-L's field
    primitives (gf_mul, gf_invert_matrix); the parity rows are expanded once
    into ISA-L tables (ec_init_tables), and every block is then coded by
    ec_encode_data. Decoding takes the rows of the k shares at hand, inverts
    them, and keeps only the rows of the missing data chunks: when all k
    data shares are present, it only copies.

    Blocks are coded one at a time, in place: data chunks are read straight
    from the slice and parity written straight into the share buffers. Only
    a block whose size is not a multiple of k (the slice's last, or every
    block when k does not divide ERASURE_BLOCK_SIZE) goes through a zeroed
    scratch buffer of k chunks.
    =========================================================================
*/

#include "erasure.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>

//  A coder for one (k, n); read-only after erasure_new
struct _erasure_t {
    int k;                      //  Data shares: any k rebuild a block
    int n;                      //  Total shares per block
    size_t block_share_size;    //  Share bytes of a full block, ceil (ERASURE_BLOCK_SIZE / k)
    uint8_t *matrix;            //  zfec encoding matrix, n rows of k; top k rows the identity
    uint8_t *parity_tables;     //  ISA-L tables of rows k..n-1, 32 * k * (n - k) bytes; NULL if n == k
};


//  --------------------------------------------------------------------------
//  Share bytes of a block of block_size bytes: ceil (block_size / k)

static size_t
s_chunk_size (erasure_t *self, size_t block_size)
{
    return block_size / (size_t) self->k + (block_size % (size_t) self->k != 0);
}


//  --------------------------------------------------------------------------
//  Fill matrix (n x k) with zfec's systematic encoding matrix. Returns 0, or
//  -1 on out-of-memory or if the top of the Vandermonde matrix could not be
//  inverted (which no valid k, n can cause).

static int
s_build_matrix (int k, int n, uint8_t *matrix)
{
    size_t k2 = (size_t) k * (size_t) k;
    uint8_t *vandermonde = malloc ((size_t) n * (size_t) k);
    uint8_t *top = malloc (k2);
    uint8_t *inverse = malloc (k2);
    int rc = -1;
    if (!vandermonde || !top || !inverse)
        goto done;

    //  Row 0 evaluates at 0; row r >= 1 evaluates at x = 2^(r-1)
    uint8_t point = 1;
    for (int row = 0; row < n; row++) {
        uint8_t *entry = vandermonde + (size_t) row * k;
        if (row == 0) {
            memset (entry, 0, (size_t) k);
            entry [0] = 1;
            continue;
        }
        if (row > 1)
            point = gf_mul (point, 2);
        entry [0] = 1;
        for (int col = 1; col < k; col++)
            entry [col] = gf_mul (entry [col - 1], point);
    }
    //  gf_invert_matrix destroys its input, so it works on a copy
    memcpy (top, vandermonde, k2);
    if (gf_invert_matrix (top, inverse, k) != 0)
        goto done;

    memset (matrix, 0, k2);
    for (int row = 0; row < k; row++)
        matrix [(size_t) row * k + row] = 1;
    for (int row = k; row < n; row++) {
        const uint8_t *lhs = vandermonde + (size_t) row * k;
        uint8_t *result = matrix + (size_t) row * k;
        for (int col = 0; col < k; col++) {
            uint8_t sum = 0;
            for (int index = 0; index < k; index++)
                sum ^= gf_mul (lhs [index], inverse [(size_t) index * k + col]);
            result [col] = sum;
        }
    }
    rc = 0;
done:
    free (vandermonde);
    free (top);
    free (inverse);
    return rc;
}


//  --------------------------------------------------------------------------
//  Create a coder for k data shares out of n

erasure_t *
erasure_new (int k, int n)
{
    if (k < 1 || n < k || n > ERASURE_MAX_SHARES)
        return NULL;
    erasure_t *self = calloc (1, sizeof (erasure_t));
    if (!self)
        return NULL;
    self->k = k;
    self->n = n;
    self->block_share_size = s_chunk_size (self, ERASURE_BLOCK_SIZE);
    self->matrix = malloc ((size_t) n * (size_t) k);
    if (!self->matrix || s_build_matrix (k, n, self->matrix) != 0) {
        erasure_destroy (&self);
        return NULL;
    }
    if (n > k) {
        self->parity_tables = malloc (32 * (size_t) k * (size_t) (n - k));
        if (!self->parity_tables) {
            erasure_destroy (&self);
            return NULL;
        }
        ec_init_tables (k, n - k, self->matrix + (size_t) k * k, self->parity_tables);
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy a coder

void
erasure_destroy (erasure_t **self_p)
{
    assert (self_p);
    erasure_t *self = *self_p;
    if (self) {
        free (self->matrix);
        free (self->parity_tables);
        free (self);
        *self_p = NULL;
    }
}


int
erasure_k (erasure_t *self)
{
    assert (self);
    return self->k;
}


int
erasure_n (erasure_t *self)
{
    assert (self);
    return self->n;
}


size_t
erasure_block_share_size (erasure_t *self)
{
    assert (self);
    return self->block_share_size;
}


//  --------------------------------------------------------------------------
//  Bytes each node stores for a slice

size_t
erasure_share_size (erasure_t *self, size_t slice_size)
{
    assert (self);
    size_t full_blocks = slice_size / ERASURE_BLOCK_SIZE;
    size_t tail = slice_size % ERASURE_BLOCK_SIZE;
    return full_blocks * self->block_share_size + s_chunk_size (self, tail);
}


//  --------------------------------------------------------------------------
//  zfec-padding-size of a slice: the padding of its last block

uint32_t
erasure_padding (erasure_t *self, size_t slice_size)
{
    assert (self);
    if (slice_size == 0)
        return 0;
    size_t last = slice_size % ERASURE_BLOCK_SIZE;
    if (last == 0)
        last = ERASURE_BLOCK_SIZE;
    size_t k = (size_t) self->k;
    return (uint32_t) ((k - last % k) % k);
}


//  --------------------------------------------------------------------------
//  Slices of an object: at least one

uint64_t
erasure_slice_count (uint64_t object_size, size_t slice_size)
{
    assert (slice_size > 0);
    if (object_size == 0)
        return 1;
    return object_size / slice_size + (object_size % slice_size != 0);
}


//  --------------------------------------------------------------------------
//  Slice size from share size and padding

int
erasure_slice_size (erasure_t *self, size_t share_size, uint32_t padding,
                    size_t *slice_size_p)
{
    assert (self);
    assert (slice_size_p);
    if (share_size == 0) {
        if (padding != 0)
            return -1;
        *slice_size_p = 0;
        return 0;
    }
    size_t k = (size_t) self->k;
    if (padding >= k)
        return -1;
    size_t unit = self->block_share_size;
    size_t blocks = share_size / unit + (share_size % unit != 0);
    size_t last_chunk = share_size - (blocks - 1) * unit;      //  1..unit
    size_t last_block = k * last_chunk - padding;               //  >= 1, as padding < k
    if (last_block > ERASURE_BLOCK_SIZE)
        return -1;
    if (blocks - 1 > (SIZE_MAX - last_block) / ERASURE_BLOCK_SIZE)
        return -1;
    *slice_size_p = (blocks - 1) * ERASURE_BLOCK_SIZE + last_block;
    return 0;
}


//  --------------------------------------------------------------------------
//  Encode a slice into n shares

int
erasure_encode_slice (erasure_t *self, const uint8_t *slice, size_t slice_size,
                      uint8_t **out, uint32_t *padding_p)
{
    assert (self);
    assert (slice || slice_size == 0);
    assert (out || slice_size == 0);
    size_t k = (size_t) self->k;
    size_t unit = self->block_share_size;

    //  A zeroed block of k chunks for blocks that need padding
    uint8_t *scratch = NULL;
    if (slice_size > 0
    && (k * unit != ERASURE_BLOCK_SIZE || erasure_padding (self, slice_size) != 0)) {
        scratch = malloc (k * unit);
        if (!scratch)
            return -1;
    }
    uint8_t *data [ERASURE_MAX_SHARES];     //  The k data chunks of a block
    uint8_t *parity [ERASURE_MAX_SHARES];   //  Where its n-k parity chunks go

    size_t offset = 0;                      //  Of the block in the slice
    size_t share_offset = 0;                //  Of the block in each share
    while (offset < slice_size) {
        size_t block_size = slice_size - offset;
        if (block_size > ERASURE_BLOCK_SIZE)
            block_size = ERASURE_BLOCK_SIZE;
        size_t chunk = s_chunk_size (self, block_size);
        //  ISA-L reads from its sources only; it takes them non-const
        uint8_t *source = (uint8_t *) slice + offset;
        if (k * chunk != block_size) {
            memcpy (scratch, source, block_size);
            memset (scratch + block_size, 0, k * chunk - block_size);
            source = scratch;
        }
        for (size_t index = 0; index < k; index++) {
            data [index] = source + index * chunk;
            memcpy (out [index] + share_offset, data [index], chunk);
        }
        if (self->n > self->k) {
            for (int index = self->k; index < self->n; index++)
                parity [index - self->k] = out [index] + share_offset;
            ec_encode_data ((int) chunk, self->k, self->n - self->k,
                            self->parity_tables, data, parity);
        }
        offset += block_size;
        share_offset += chunk;
    }
    free (scratch);
    if (padding_p)
        *padding_p = erasure_padding (self, slice_size);
    return 0;
}


//  --------------------------------------------------------------------------
//  Rebuild a slice from any k shares

int
erasure_decode_slice (erasure_t *self, const uint8_t **shares, const int *share_nums,
                      size_t share_size, uint32_t padding,
                      uint8_t *out, size_t out_size, size_t *slice_size_p)
{
    assert (self);
    assert (shares);
    assert (share_nums);
    size_t k = (size_t) self->k;
    size_t unit = self->block_share_size;

    //  Which of the given shares carries data chunk d, or -1
    int holder [ERASURE_MAX_SHARES];
    bool seen [ERASURE_MAX_SHARES] = { false };
    for (size_t index = 0; index < k; index++)
        holder [index] = -1;
    for (size_t index = 0; index < k; index++) {
        int share_num = share_nums [index];
        if (share_num < 0 || share_num >= self->n || seen [share_num])
            return -1;
        seen [share_num] = true;
        if (share_num < self->k)
            holder [share_num] = (int) index;
    }
    size_t slice_size;
    if (erasure_slice_size (self, share_size, padding, &slice_size) != 0)
        return -1;
    if (slice_size > out_size)
        return -1;
    if (slice_size > 0)
        assert (out);

    size_t missing [ERASURE_MAX_SHARES];    //  Data chunks to rebuild
    size_t missing_count = 0;
    for (size_t index = 0; index < k; index++)
        if (holder [index] < 0)
            missing [missing_count++] = index;

    //  Everything is allocated before out is touched
    uint8_t *scratch = NULL;                //  A block of k chunks, for padded blocks
    uint8_t *tables = NULL;                 //  ISA-L tables of the rows of missing chunks
    uint8_t *work = NULL;                   //  Submatrix, its inverse, the rows kept
    int rc = -1;
    if (slice_size > 0
    && (k * unit != ERASURE_BLOCK_SIZE || padding != 0)) {
        scratch = malloc (k * unit);
        if (!scratch)
            goto done;
    }
    if (missing_count > 0 && slice_size > 0) {
        size_t k2 = k * k;
        work = malloc (3 * k2);
        tables = malloc (32 * k * missing_count);
        if (!work || !tables)
            goto done;
        uint8_t *submatrix = work;
        uint8_t *inverse = work + k2;
        uint8_t *rows = work + 2 * k2;
        for (size_t index = 0; index < k; index++)
            memcpy (submatrix + index * k, self->matrix + (size_t) share_nums [index] * k, k);
        if (gf_invert_matrix (submatrix, inverse, (int) k) != 0)
            goto done;      //  Cannot happen: any k rows are independent
        for (size_t index = 0; index < missing_count; index++)
            memcpy (rows + index * k, inverse + missing [index] * k, k);
        ec_init_tables ((int) k, (int) missing_count, rows, tables);
    }

    uint8_t *sources [ERASURE_MAX_SHARES];  //  The k shares' chunks of a block
    uint8_t *rebuilt [ERASURE_MAX_SHARES];  //  Where the missing data chunks go
    size_t offset = 0;                      //  Of the block in the slice
    size_t share_offset = 0;                //  Of the block in each share
    while (offset < slice_size) {
        size_t block_size = slice_size - offset;
        if (block_size > ERASURE_BLOCK_SIZE)
            block_size = ERASURE_BLOCK_SIZE;
        size_t chunk = s_chunk_size (self, block_size);
        bool padded = k * chunk != block_size;
        uint8_t *target = padded? scratch: out + offset;
        for (size_t index = 0; index < k; index++)
            if (holder [index] >= 0)
                memcpy (target + index * chunk, shares [holder [index]] + share_offset, chunk);
        if (missing_count > 0) {
            for (size_t index = 0; index < k; index++)
                sources [index] = (uint8_t *) shares [index] + share_offset;
            for (size_t index = 0; index < missing_count; index++)
                rebuilt [index] = target + missing [index] * chunk;
            ec_encode_data ((int) chunk, (int) k, (int) missing_count, tables, sources, rebuilt);
        }
        if (padded)
            memcpy (out + offset, scratch, block_size);
        offset += block_size;
        share_offset += chunk;
    }
    if (slice_size_p)
        *slice_size_p = slice_size;
    rc = 0;
done:
    free (scratch);
    free (tables);
    free (work);
    return rc;
}
