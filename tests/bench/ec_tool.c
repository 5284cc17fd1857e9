/*  =========================================================================
    strata-ec-tool - drive cluster/erasure from the command line

    A test tool: tests/integration/test_zfec_compat.py uses it to compare
    Strata's shares with zfec's, byte for byte, in both directions.

        strata-ec-tool encode K N DIR [SLICE_SIZE] < object
            Cuts the object into slices (default 10 MiB; an empty object is
            one empty slice), encodes each, and writes share i of slice s to
            DIR/s.i. Prints one line per slice:
                slice S size BYTES share-size BYTES padding P

        strata-ec-tool decode K N PADDING NUM:FILE ... > slice
            Rebuilds one slice from k share files (share number NUM, any
            order, all the same size) and writes it to stdout.

    Exit status: 0 done, 1 the coder refused the input (decode returned -1),
    2 usage or I/O error.
    =========================================================================
*/

#include "erasure.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__ ((noreturn))
s_usage (void)
{
    fprintf (stderr,
        "usage: strata-ec-tool encode K N DIR [SLICE_SIZE] < object\n"
        "       strata-ec-tool decode K N PADDING NUM:FILE ... > slice\n");
    exit (2);
}

//  Parse a non-negative decimal number or exit with usage
static unsigned long long
s_number (const char *text)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || end == text || *end || *text == '-')
        s_usage ();
    return value;
}

//  Read up to size bytes from file; returns the count (short only at EOF)
static size_t
s_read_full (FILE *file, uint8_t *buffer, size_t size)
{
    size_t total = 0;
    while (total < size) {
        size_t got = fread (buffer + total, 1, size - total, file);
        if (got == 0)
            break;
        total += got;
    }
    if (ferror (file)) {
        perror ("strata-ec-tool: read");
        exit (2);
    }
    return total;
}

static int
s_encode (erasure_t *coder, const char *dir, size_t slice_size)
{
    int n = erasure_n (coder);
    uint8_t *slice = malloc (slice_size);
    size_t share_capacity = erasure_share_size (coder, slice_size);
    uint8_t *shares [ERASURE_MAX_SHARES];
    if (!slice) {
        fprintf (stderr, "strata-ec-tool: out of memory\n");
        return 2;
    }
    for (int index = 0; index < n; index++) {
        shares [index] = malloc (share_capacity? share_capacity: 1);
        if (!shares [index]) {
            fprintf (stderr, "strata-ec-tool: out of memory\n");
            return 2;
        }
    }
    for (unsigned long slice_num = 0; ; slice_num++) {
        size_t size = s_read_full (stdin, slice, slice_size);
        if (size == 0 && slice_num > 0)
            break;
        uint32_t padding;
        if (erasure_encode_slice (coder, slice, size, shares, &padding) != 0) {
            fprintf (stderr, "strata-ec-tool: encode failed\n");
            return 1;
        }
        size_t share_size = erasure_share_size (coder, size);
        for (int index = 0; index < n; index++) {
            char path [4096];
            snprintf (path, sizeof path, "%s/%lu.%d", dir, slice_num, index);
            FILE *file = fopen (path, "wb");
            if (!file
            ||  fwrite (shares [index], 1, share_size, file) != share_size
            ||  fclose (file) != 0) {
                fprintf (stderr, "strata-ec-tool: cannot write %s\n", path);
                return 2;
            }
        }
        printf ("slice %lu size %zu share-size %zu padding %u\n",
                slice_num, size, share_size, padding);
        if (size < slice_size)
            break;
    }
    for (int index = 0; index < n; index++)
        free (shares [index]);
    free (slice);
    return 0;
}

static int
s_decode (erasure_t *coder, uint32_t padding, int argc, char **argv)
{
    int k = erasure_k (coder);
    if (argc != k) {
        fprintf (stderr, "strata-ec-tool: decode needs exactly %d shares\n", k);
        return 2;
    }
    const uint8_t *shares [ERASURE_MAX_SHARES];
    int share_nums [ERASURE_MAX_SHARES];
    size_t share_size = 0;
    for (int index = 0; index < k; index++) {
        char *colon = strchr (argv [index], ':');
        if (!colon)
            s_usage ();
        *colon = 0;
        share_nums [index] = (int) s_number (argv [index]);
        FILE *file = fopen (colon + 1, "rb");
        if (!file) {
            fprintf (stderr, "strata-ec-tool: cannot open %s\n", colon + 1);
            return 2;
        }
        fseek (file, 0, SEEK_END);
        long size = ftell (file);
        rewind (file);
        if (size < 0 || (index > 0 && (size_t) size != share_size)) {
            fprintf (stderr, "strata-ec-tool: share files differ in size\n");
            return 2;
        }
        share_size = (size_t) size;
        uint8_t *buffer = malloc (share_size? share_size: 1);
        if (!buffer || s_read_full (file, buffer, share_size) != share_size) {
            fprintf (stderr, "strata-ec-tool: cannot read %s\n", colon + 1);
            return 2;
        }
        fclose (file);
        shares [index] = buffer;
    }
    size_t out_size = share_size * (size_t) k;
    uint8_t *out = malloc (out_size? out_size: 1);
    size_t slice_size;
    if (!out) {
        fprintf (stderr, "strata-ec-tool: out of memory\n");
        return 2;
    }
    int rc = 0;
    if (erasure_decode_slice (coder, shares, share_nums, share_size, padding,
                              out, out_size, &slice_size) != 0) {
        fprintf (stderr, "strata-ec-tool: decode refused the input\n");
        rc = 1;
    }
    else
    if (fwrite (out, 1, slice_size, stdout) != slice_size || fflush (stdout) != 0) {
        perror ("strata-ec-tool: write");
        rc = 2;
    }
    for (int index = 0; index < k; index++)
        free ((void *) shares [index]);
    free (out);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc < 5)
        s_usage ();
    int k = (int) s_number (argv [2]);
    int n = (int) s_number (argv [3]);
    erasure_t *coder = erasure_new (k, n);
    if (!coder) {
        fprintf (stderr, "strata-ec-tool: invalid k=%d n=%d\n", k, n);
        return 2;
    }
    int rc;
    if (strcmp (argv [1], "encode") == 0 && argc <= 6) {
        size_t slice_size = argc == 6? (size_t) s_number (argv [5]): ERASURE_SLICE_SIZE;
        if (slice_size == 0)
            s_usage ();
        rc = s_encode (coder, argv [4], slice_size);
    }
    else
    if (strcmp (argv [1], "decode") == 0) {
        unsigned long long padding = s_number (argv [4]);
        if (padding > UINT32_MAX)
            s_usage ();
        rc = s_decode (coder, (uint32_t) padding, argc - 5, argv + 5);
    }
    else
        s_usage ();
    erasure_destroy (&coder);
    return rc;
}
