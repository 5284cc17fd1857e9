/*  =========================================================================
    erasure - zfec-compatible erasure coding of slices (nimbus.io layout)

    An object is cut into slices (ERASURE_SLICE_SIZE, one sequence on each
    node); a slice into blocks of ERASURE_BLOCK_SIZE bytes (the last may be
    shorter); each block is encoded on its own exactly as zfec's easyfec
    Encoder (k, n) does: zero-padded to a multiple of k, split into k equal
    chunks (shares 0..k-1, systematic) plus n-k parity chunks. Share i of a
    slice is share i of every block, concatenated; node i stores it. Any k
    shares rebuild the slice. See docs/erasure.md.

    Coding runs on ISA-L with zfec's generator matrix. An erasure_t is
    read-only after erasure_new: several threads may encode and decode with
    the same object at once.
    =========================================================================
*/
#ifndef STRATA_ERASURE_H_INCLUDED
#define STRATA_ERASURE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Bytes of slice data per independently encoded block
#define ERASURE_BLOCK_SIZE      32768
//  Default slice size: one sequence on each node
#define ERASURE_SLICE_SIZE      (10 * 1024 * 1024)
//  Default k (data shares) and n (total shares), as nimbus.io
#define ERASURE_DATA_SHARES     8
#define ERASURE_TOTAL_SHARES    10
//  Largest n: share numbers map to segment-nums 1..255
#define ERASURE_MAX_SHARES      255

typedef struct _erasure_t erasure_t;

//  Create a coder for k data shares out of n in total. Returns NULL if not
//  1 <= k <= n <= ERASURE_MAX_SHARES, or on out-of-memory.
erasure_t *
    erasure_new (int k, int n);

//  Destroy a coder and set the caller's pointer to NULL. Accepts NULL.
void
    erasure_destroy (erasure_t **self_p);

//  k: the number of shares that rebuild a slice
int
    erasure_k (erasure_t *self);

//  n: the number of shares a slice is encoded into
int
    erasure_n (erasure_t *self);

//  Share bytes of one full block: ceil (ERASURE_BLOCK_SIZE / k) (4096 for
//  k = 8). In every share of a slice, block b occupies bytes
//  [b * this, min ((b + 1) * this, share size)); the router sends each
//  such range as one data frame.
size_t
    erasure_block_share_size (erasure_t *self);

//  Bytes each node stores for a slice of slice_size bytes: the sum over
//  its blocks of ceil (block size / k). 0 for an empty slice.
size_t
    erasure_share_size (erasure_t *self, size_t slice_size);

//  zfec-padding-size of a slice of slice_size bytes: the zero bytes
//  appended to its last block, (k - last block size % k) % k, in 0..k-1.
//  0 for an empty slice.
uint32_t
    erasure_padding (erasure_t *self, size_t slice_size);

//  Number of slices of an object of object_size bytes cut into slices of
//  slice_size bytes (slice_size > 0): ceil (object_size / slice_size), but
//  at least 1. An empty object is one empty slice, whose shares are empty
//  (zfec easyfec encodes b"" to n empty shares with padding 0), so that
//  every node holds a segment for every object.
uint64_t
    erasure_slice_count (uint64_t object_size, size_t slice_size);

//  Work out a slice's size from what a node stores: share_size bytes of
//  share and the slice's zfec-padding-size. The slice has
//  ceil (share_size / B) blocks (B = erasure_block_share_size); all but the
//  last are full (ERASURE_BLOCK_SIZE bytes), the last has c = share_size -
//  (blocks - 1) * B bytes of share and k * c - padding bytes of data. So
//  slice_size = (blocks - 1) * ERASURE_BLOCK_SIZE + k * c - padding.
//  Returns 0 and sets *slice_size_p, or -1 if the pair is impossible
//  (padding >= k, padding > 0 with share_size 0, last block longer than
//  ERASURE_BLOCK_SIZE, or overflow). Safe on any values from the network.
int
    erasure_slice_size (erasure_t *self, size_t share_size, uint32_t padding,
                        size_t *slice_size_p);

//  Encode a slice of slice_size bytes (slice may be NULL when slice_size
//  is 0). out holds n buffers of erasure_share_size (slice_size) bytes;
//  out [i] receives share i of every block, concatenated. Sets *padding_p
//  (if not NULL) to erasure_padding (slice_size). Returns 0, or -1 on
//  out-of-memory (before writing anything).
int
    erasure_encode_slice (erasure_t *self, const uint8_t *slice, size_t slice_size,
                          uint8_t **out, uint32_t *padding_p);

//  Rebuild a slice from k of its shares. shares [j] (j = 0..k-1) is the
//  whole share of number share_nums [j] (node order, 0..n-1, any order),
//  share_size bytes each; padding is the slice's zfec-padding-size. Writes
//  the slice (its size derived as erasure_slice_size) into out, which has
//  room for out_size bytes, and sets *slice_size_p (if not NULL). Returns 0,
//  or -1 without writing anything if the inputs are inconsistent: a share
//  number out of 0..n-1 or repeated, share_size and padding impossible
//  together, out_size too small; or on out-of-memory. The data of the
//  shares is not checked: a corrupt share gives a wrong slice (the caller
//  checks digests).
int
    erasure_decode_slice (erasure_t *self, const uint8_t **shares, const int *share_nums,
                          size_t share_size, uint32_t padding,
                          uint8_t *out, size_t out_size, size_t *slice_size_p);

#endif
