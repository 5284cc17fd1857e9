"""Integration test: Strata's erasure coding is byte-identical to zfec's
easyfec (docs/architecture.md, "Erasure coding"; docs/erasure.md).

Debian's python3-zfec is the oracle. strata-ec-tool (tests/bench/ec_tool.c)
runs cluster/erasure: it cuts an object into 10 MiB slices, each slice into
32 KiB blocks, and writes share i of every block of a slice, concatenated.
For every block, zfec.easyfec.Encoder(k, m).encode(block) must give the same
bytes; zfec must rebuild objects from Strata's shares, and Strata from
zfec's, for random choices of k shares.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_zfec_compat.py
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

from zfec.easyfec import Decoder, Encoder

BUILD_DIR = os.environ.get("STRATA_BUILD_DIR", "/work/main/build")
TOOL = os.path.join(BUILD_DIR, "tests", "bench", "strata-ec-tool")

BLOCK_SIZE = 32 * 1024
SLICE_SIZE = 10 * 1024 * 1024
K, N = 8, 10
KIB, MIB = 1024, 1024 * 1024


def div_ceil(a, b):
    return (a + b - 1) // b


def zfec_encode_slice(data, k, n):
    """zfec's shares of one slice: share i of every 32 KiB block,
    concatenated, and the padding of the last block."""
    shares = [bytearray() for _ in range(n)]
    encoder = Encoder(k, n)
    padding = 0
    for offset in range(0, len(data), BLOCK_SIZE):
        block = data[offset:offset + BLOCK_SIZE]
        for index, share in enumerate(encoder.encode(block)):
            shares[index] += share
        padding = (k - len(block) % k) % k
    return [bytes(share) for share in shares], padding


def zfec_decode_slice(shares, k, n, padding):
    """Rebuild a slice with zfec from {share_num: share bytes} (k entries),
    block by block; full blocks carry ceil(32768/k) bytes of each share."""
    nums = list(shares)
    share_size = len(shares[nums[0]])
    unit = div_ceil(BLOCK_SIZE, k)
    decoder = Decoder(k, n)
    out = bytearray()
    for offset in range(0, share_size, unit):
        pieces = [shares[num][offset:offset + unit] for num in nums]
        last = offset + unit >= share_size
        padlen = padding if last else k * unit - BLOCK_SIZE
        out += decoder.decode(pieces, nums, padlen)
    return bytes(out)


class ZfecCompatTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-zfec-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.rng = random.Random(self.id())

    # -- driving strata-ec-tool ------------------------------------------

    def strata_encode(self, data, k=K, n=N, slice_size=None):
        """Encode an object; returns [(size, share_size, padding, shares)]
        per slice."""
        out_dir = tempfile.mkdtemp(dir=self.tmp)
        args = [TOOL, "encode", str(k), str(n), out_dir]
        if slice_size is not None:
            args.append(str(slice_size))
        run = subprocess.run(args, input=data, capture_output=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr.decode())
        slices = []
        for line in run.stdout.decode().splitlines():
            words = line.split()
            self.assertEqual(words[0::2], ["slice", "size", "share-size", "padding"], line)
            num, size, share_size, padding = (int(word) for word in words[1::2])
            self.assertEqual(num, len(slices))
            shares = []
            for index in range(n):
                with open(os.path.join(out_dir, "%d.%d" % (num, index)), "rb") as file:
                    shares.append(file.read())
                self.assertEqual(len(shares[-1]), share_size)
            slices.append((size, share_size, padding, shares))
        shutil.rmtree(out_dir)
        return slices

    def strata_decode(self, shares, padding, k=K, n=N, expect_rc=0):
        """Rebuild a slice with strata-ec-tool from {share_num: bytes}."""
        args = [TOOL, "decode", str(k), str(n), str(padding)]
        for num, share in shares.items():
            path = os.path.join(self.tmp, "in.%d" % num)
            with open(path, "wb") as file:
                file.write(share)
            args.append("%d:%s" % (num, path))
        run = subprocess.run(args, capture_output=True, timeout=120)
        self.assertEqual(run.returncode, expect_rc, run.stderr.decode())
        return run.stdout

    def choose(self, n, k):
        """A random choice of k share numbers out of n, in random order."""
        return self.rng.sample(range(n), k)

    # -- checks ---------------------------------------------------------

    def check_object(self, size, k=K, n=N, slice_size=SLICE_SIZE, choices=3):
        """Encode an object of size bytes with Strata; compare every slice
        with zfec; decode each slice both ways from random choices of k
        shares, plus the data shares alone and the last k shares."""
        data = self.rng.randbytes(size)
        slices = self.strata_encode(data, k, n,
                                    None if slice_size == SLICE_SIZE else slice_size)
        expected_count = max(1, div_ceil(size, slice_size))
        self.assertEqual(len(slices), expected_count, "slices of %d bytes" % size)
        offset = 0
        for number, (slice_len, share_size, padding, shares) in enumerate(slices):
            piece = data[offset:offset + slice_size]
            offset += len(piece)
            where = "k=%d n=%d object %d slice %d (%d bytes)" % (k, n, size, number, len(piece))
            self.assertEqual(slice_len, len(piece), where)
            zfec_shares, zfec_padding = zfec_encode_slice(piece, k, n)
            self.assertEqual(padding, zfec_padding, where)
            for index in range(n):
                self.assertTrue(shares[index] == zfec_shares[index],
                                "%s: share %d differs from zfec" % (where, index))
            picks = [list(range(k)), list(range(n - k, n))]
            picks += [self.choose(n, k) for _ in range(choices)]
            for pick in picks:
                ours = {num: shares[num] for num in pick}
                self.assertTrue(zfec_decode_slice(ours, k, n, padding) == piece,
                                "%s: zfec cannot rebuild from Strata's shares %s" % (where, pick))
                theirs = {num: zfec_shares[num] for num in pick}
                self.assertTrue(self.strata_decode(theirs, zfec_padding, k, n) == piece,
                                "%s: Strata cannot rebuild from zfec's shares %s" % (where, pick))
        self.assertEqual(offset, size)

    # -- tests ----------------------------------------------------------

    def test_small_sizes(self):
        for size in (1, 7, 8, 9, 15, 16, 17, 100, 4095, 4096, 4097):
            self.check_object(size)

    def test_block_boundaries(self):
        for size in (BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1,
                     2 * BLOCK_SIZE - 1, 2 * BLOCK_SIZE, 5 * BLOCK_SIZE + 3):
            self.check_object(size)

    def test_multi_block_slices(self):
        for size in (MIB, MIB + 3, SLICE_SIZE - 1, SLICE_SIZE):
            self.check_object(size, choices=2)

    def test_multi_slice_objects(self):
        # several full 10 MiB slices plus a tail, and exact multiples
        self.check_object(3 * SLICE_SIZE + 12345, choices=1)
        self.check_object(2 * SLICE_SIZE, choices=1)
        self.check_object(SLICE_SIZE + 1, choices=1)

    def test_small_slices(self):
        # the slice size is a parameter; a slice that is not a whole number
        # of blocks is followed by more slices
        self.check_object(5 * BLOCK_SIZE + 77, slice_size=BLOCK_SIZE + 5)
        self.check_object(1000, slice_size=7)

    def test_other_parameters(self):
        # k not dividing 32 KiB pads every block; k == n has no parity
        for k, n in ((3, 5), (1, 1), (1, 3), (4, 4), (7, 12), (16, 20), (32, 64)):
            for size in (1, 2, k, k + 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1,
                         3 * BLOCK_SIZE + 2):
                self.check_object(size, k, n, choices=2)

    def test_empty_object(self):
        # zfec easyfec encodes b"" to n empty shares, padding 0; Strata's
        # empty object is one empty slice with exactly that
        self.assertEqual([bytes(share) for share in Encoder(K, N).encode(b"")], [b""] * N)
        slices = self.strata_encode(b"")
        self.assertEqual(slices, [(0, 0, 0, [b""] * N)])
        pick = self.choose(N, K)
        self.assertEqual(self.strata_decode({num: b"" for num in pick}, 0), b"")
        self.assertEqual(zfec_decode_slice({num: b"" for num in pick}, K, N, 0), b"")
        self.check_object(0)

    def test_decode_refuses_inconsistent_input(self):
        data = self.rng.randbytes(1001)
        (_, _, padding, shares), = self.strata_encode(data)
        self.assertEqual(padding, 7)
        pick = self.choose(N, K)
        good = {num: shares[num] for num in pick}
        self.assertEqual(self.strata_decode(good, padding), data)
        # padding must be below k
        self.strata_decode(good, 8, expect_rc=1)
        # share numbers must be below n
        bad = dict(good)
        bad[N] = bad.pop(pick[0])
        self.strata_decode(bad, padding, expect_rc=1)
        # a wrong padding gives a different size, not a crash
        shorter = self.strata_decode(good, 0)
        self.assertEqual(len(shorter), len(data) + padding)
        self.assertEqual(shorter[:len(data)], data)


if __name__ == "__main__":
    if not os.access(TOOL, os.X_OK):
        sys.stderr.write("FAIL: %s not found; build the strata-ec-tool target "
                         "or set STRATA_BUILD_DIR\n" % TOOL)
        sys.exit(2)
    program = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if program.result.wasSuccessful() else 1)
