"""The figures of strata-bench --peer redis and --fill are on its lines
(docs/performance.md, "Against Redis" and "A filled node").

Runs the real strata-bench (which starts its own strata-node and, when
installed, redis-server) for one second per run and checks what it prints:
- the W1 line carries the Redis figure and a ratio that is the quotient of
  the two rates, with the target, and the peer's own line follows; where
  redis-server is not installed, one clear `skipped:` line instead;
- with PATH not holding redis-server, the skip line, and the run succeeds;
- --fill stores at least N segments, then W1 runs in turn on the filled
  node and on a fresh node started beside it, and the ratio is that of
  the means;
- node CPU per ack is on the W1 lines, and the four target lines close the
  run; redis-server is gone when the bench has exited;
- bad --peer / --fill values are refused with one line and exit code 2.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/bench/test_bench_peer_fill.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD_DIR = os.environ.get("STRATA_BUILD_DIR", "build")
BENCH = os.path.join(BUILD_DIR, "tests", "bench", "strata-bench")
RUN_TIMEOUT = 120           # seconds one bench run may take
FILL = 3000


def number(pattern, text):
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def processes_naming(text):
    """Process ids whose command line contains text"""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                if text.encode() in file.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


class BenchPeerFillTest(unittest.TestCase):

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="strata-bench-test-", dir="/tmp")

    def tearDown(self):
        shutil.rmtree(self.data, ignore_errors=True)

    def bench(self, *args, env=None):
        result = subprocess.run([BENCH, "--quick", "--data-dir", self.data, *args],
                                capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)
        print(result.stdout, end="")
        return result

    def test_peer_and_fill(self):
        result = self.bench("--workloads", "W1", "--window", "4", "--peer", "redis",
                            "--fill", str(FILL))
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        out = result.stdout
        w1 = [line for line in out.splitlines() if line.startswith("W1 4KiB entire")]
        self.assertEqual(len(w1), 1, out)
        acks = number(r"acks/s=(\d+)", w1[0])
        self.assertGreater(acks, 0)
        per_ack = number(r"node-cpu/ack=([\d.]+)us target<=25us (?:MET|MISSED)", w1[0])
        self.assertIsNotNone(per_ack, w1[0])
        self.assertGreater(per_ack, 0)
        self.assertRegex(out, r"\n    node-cpu/ack by thread: \S+=[\d.]+us")
        if shutil.which("redis-server"):
            redis = number(r"redis=(\d+)SET/s", w1[0])
            ratio = number(r"redis=\d+SET/s ratio=([\d.]+) target>=1\.2xredis (?:MET|MISSED)", w1[0])
            self.assertIsNotNone(ratio, w1[0])
            self.assertGreater(redis, 0)
            self.assertAlmostEqual(ratio, acks / redis, delta=0.01 + 0.01 * ratio)
            self.assertRegex(out, r"\n    redis peer: 16 connections x 4 in flight, SET 4 KiB, "
                                  r"appendfsync always  SET/s=\d+")
            self.assertRegex(out, r"target W1/redis>=1\.2 +ratio=[\d.]+ \(best window: 4\)  (MET|MISSED)")
        else:
            self.assertIn("skipped: redis-server not installed (apt-get install redis-server)", out)
        fill = re.search(r"^FILL +segments=(\d+) time=[\d.]+s rate=(\d+)/s", out, re.M)
        self.assertIsNotNone(fill, out)
        self.assertGreaterEqual(int(fill.group(1)), FILL)
        # W1 on the filled node and on a fresh node beside it, in turn
        # (filled, fresh, fresh, filled), then the ratio of the means
        runs = [line.split()[0:3] for line in out.splitlines()
                if line.startswith("W1 filled ") or line.startswith("W1 fresh beside it")]
        self.assertEqual([run[1] for run in runs], ["filled", "fresh", "fresh", "filled"], out)
        filled = [number(r"acks/s=(\d+)", line) for line in out.splitlines() if line.startswith("W1 filled ")]
        fresh = [number(r"acks/s=(\d+)", line) for line in out.splitlines()
                 if line.startswith("W1 fresh beside it")]
        summary = [line for line in out.splitlines() if line.startswith("W1 filled/fresh")]
        self.assertEqual(len(summary), 1, out)
        mean_filled = number(r"filled=(\d+)", summary[0])
        mean_fresh = number(r"fresh=(\d+)", summary[0])
        self.assertAlmostEqual(mean_filled, sum(filled) / 2, delta=1)
        self.assertAlmostEqual(mean_fresh, sum(fresh) / 2, delta=1)
        self.assertEqual(number(r"before-the-fill=(\d+)", summary[0]), acks)
        ratio = number(r"ratio=([\d.]+) target>=0\.8xfresh (?:MET|MISSED)", summary[0])
        self.assertAlmostEqual(ratio, mean_filled / mean_fresh, delta=0.01 + 0.01 * ratio)
        targets = [line for line in out.splitlines() if line.startswith("target ")]
        self.assertEqual([line.split()[1] for line in targets],
                         ["W1/redis>=1.2", "node-cpu/ack<=25us", "W3-p99<=2ms", "W1-filled/fresh>=0.8"])
        self.assertIn("not measured: W3 not in --workloads", targets[2])
        self.assertRegex(targets[3], r"ratio=[\d.]+ \(best window: 4\) after \d+ segments")
        self.assertEqual(processes_naming(self.data), [], "redis-server or a node outlived the bench")

    def test_no_redis_server(self):
        env = dict(os.environ, PATH="/nonexistent")
        result = self.bench("--workloads", "W1", "--window", "1", "--peer", "redis", env=env)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        skipped = [line for line in result.stdout.splitlines() if "skipped:" in line]
        self.assertEqual(len(skipped), 1, result.stdout)
        self.assertTrue(skipped[0].endswith("skipped: redis-server not installed (apt-get install redis-server)"))
        self.assertRegex(result.stdout, r"target W1/redis>=1\.2 +not measured: redis-server not installed")
        self.assertRegex(result.stdout, r"W1 4KiB entire .* acks/s=\d+")

    def test_bad_options(self):
        for args, says in ((["--peer", "memcached"], "--peer: 'memcached'"),
                           (["--fill", "ten"], "--fill: 'ten'"),
                           (["--fill", "-5"], "--fill: '-5'"),
                           (["--fill", "5", "--workloads", "W2"], "add W1 to --workloads")):
            result = self.bench(*args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(says, result.stderr)
            self.assertEqual(result.stdout, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
