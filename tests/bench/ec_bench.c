/*  =========================================================================
    strata-ec-bench - erasure-coding throughput (cluster/erasure)

    Encodes and decodes one slice of random data over and over and prints
    the throughput in GB/s (10^9 bytes of slice data per second), next to a
    memcpy of the same slice in the same run as a baseline for the machine.
    Decoding is timed with the first two data shares missing, so two data
    chunks of every block are rebuilt from parity; it also checks that the
    slice comes back intact.

        strata-ec-bench [--seconds S] [--k K] [--n N] [--slice-size BYTES]

    Defaults: 1 second per measure, k=8, n=10, 10 MiB slices.
    =========================================================================
*/

#include "erasure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Seconds on the monotonic clock
static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: strata-ec-bench [--seconds S] [--k K] [--n N] [--slice-size BYTES]\n");
    exit (2);
}

//  What one measure needs
typedef struct {
    erasure_t *coder;           //  The coder under test
    uint8_t *slice;             //  Random slice data
    size_t slice_size;          //  Its size
    uint8_t **shares;           //  n share buffers
    const uint8_t **present;    //  The k shares handed to the decoder
    int *present_nums;          //  Their share numbers
    size_t share_size;          //  Bytes per share
    uint32_t padding;           //  zfec-padding-size of the slice
    uint8_t *out;               //  Decoded slice, or memcpy target
} bench_t;

typedef enum { MEASURE_MEMCPY, MEASURE_ENCODE, MEASURE_DECODE } measure_t;

//  Run one operation for at least seconds; returns GB/s
static double
s_measure (bench_t *bench, measure_t measure, double seconds)
{
    size_t rounds = 0;
    double start = s_now (), elapsed;
    do {
        int rc = 0;
        if (measure == MEASURE_MEMCPY) {
            memcpy (bench->out, bench->slice, bench->slice_size);
            //  Keep the compiler from dropping the copy
            __asm__ volatile ("" : : "r" (bench->out) : "memory");
        }
        else
        if (measure == MEASURE_ENCODE)
            rc = erasure_encode_slice (bench->coder, bench->slice, bench->slice_size,
                                       bench->shares, NULL);
        else
            rc = erasure_decode_slice (bench->coder, bench->present, bench->present_nums,
                                       bench->share_size, bench->padding,
                                       bench->out, bench->slice_size, NULL);
        if (rc != 0) {
            fprintf (stderr, "strata-ec-bench: coder failed\n");
            exit (1);
        }
        rounds++;
        elapsed = s_now () - start;
    } while (elapsed < seconds);
    return (double) bench->slice_size * (double) rounds / elapsed / 1e9;
}

int
main (int argc, char **argv)
{
    double seconds = 1.0;
    int k = ERASURE_DATA_SHARES;
    int n = ERASURE_TOTAL_SHARES;
    size_t slice_size = ERASURE_SLICE_SIZE;
    for (int index = 1; index < argc; index++) {
        if (index + 1 >= argc)
            s_usage ();
        const char *value = argv [++index];
        if (strcmp (argv [index - 1], "--seconds") == 0)
            seconds = atof (value);
        else
        if (strcmp (argv [index - 1], "--k") == 0)
            k = atoi (value);
        else
        if (strcmp (argv [index - 1], "--n") == 0)
            n = atoi (value);
        else
        if (strcmp (argv [index - 1], "--slice-size") == 0)
            slice_size = (size_t) strtoull (value, NULL, 10);
        else
            s_usage ();
    }
    if (seconds <= 0 || slice_size == 0)
        s_usage ();
    bench_t bench = { .slice_size = slice_size };
    bench.coder = erasure_new (k, n);
    if (!bench.coder) {
        fprintf (stderr, "strata-ec-bench: invalid k=%d n=%d\n", k, n);
        return 2;
    }
    bench.share_size = erasure_share_size (bench.coder, slice_size);
    bench.slice = malloc (slice_size);
    bench.out = malloc (slice_size);
    bench.shares = calloc ((size_t) n, sizeof (uint8_t *));
    bench.present = calloc ((size_t) k, sizeof (uint8_t *));
    bench.present_nums = calloc ((size_t) k, sizeof (int));
    if (!bench.slice || !bench.out || !bench.shares || !bench.present || !bench.present_nums) {
        fprintf (stderr, "strata-ec-bench: out of memory\n");
        return 2;
    }
    for (int index = 0; index < n; index++)
        if (!(bench.shares [index] = malloc (bench.share_size))) {
            fprintf (stderr, "strata-ec-bench: out of memory\n");
            return 2;
        }
    srandom (42);
    for (size_t index = 0; index < slice_size; index++)
        bench.slice [index] = (uint8_t) random ();

    //  Decode from the last k shares: the first n-k data shares are missing
    erasure_encode_slice (bench.coder, bench.slice, slice_size, bench.shares, &bench.padding);
    for (int index = 0; index < k; index++) {
        bench.present_nums [index] = n - k + index;
        bench.present [index] = bench.shares [n - k + index];
    }
    printf ("strata-ec-bench: k=%d n=%d, %zu-byte slices, %zu-byte shares, "
            "decode without shares 0..%d\n",
            k, n, slice_size, bench.share_size, n - k - 1);
    double copy = s_measure (&bench, MEASURE_MEMCPY, seconds);
    double encode = s_measure (&bench, MEASURE_ENCODE, seconds);
    double decode = s_measure (&bench, MEASURE_DECODE, seconds);
    if (memcmp (bench.out, bench.slice, slice_size) != 0) {
        fprintf (stderr, "strata-ec-bench: decoded slice differs from the original\n");
        return 1;
    }
    printf ("memcpy  %6.2f GB/s\n", copy);
    printf ("encode  %6.2f GB/s\n", encode);
    printf ("decode  %6.2f GB/s\n", decode);

    for (int index = 0; index < n; index++)
        free (bench.shares [index]);
    free (bench.shares);
    free (bench.present);
    free (bench.present_nums);
    free (bench.slice);
    free (bench.out);
    erasure_destroy (&bench.coder);
    return 0;
}
