"""test_cli_edges - the rough edges of the strata CLI and the programs' flags

On a small cluster (3 nodes, k = 2): rm of what does not exist exits 3;
not-found says "no such key" (the router's figures with -v); `--` ends the
options so keys starting with '-' work, and a stray one is named; versions
prints hex MD5 (base64 with --base64); put --meta / get --meta / versions
-l; ping --node; single-endpoint requests time out in 5 s by default and
say what they tried; -h and COMMAND --help everywhere; --check and
--rebuild-index never create a missing data directory.
"""

import base64
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import (CLI_BINARY, NODE_BINARY, ROUTER_BINARY, ClusterTestCase, new_key,
                             run_main)


class CliEdgesTest(ClusterTestCase):
    node_count = 3
    data_shards = 2

    def strata(self, *args, **options):
        return self.cluster.strata(*args, **options)

    def assertOneLine(self, result, *texts):
        lines = result.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for text in texts:
            self.assertIn(text, lines[0])
        return lines[0]

    def put(self, key, data, *options):
        result = self.strata("put", *(list(options) + ["--", key, "-"]), input=data)
        self.assertEqual(result.returncode, 0, result.stderr)
        return int(result.stdout)

    # -- not found ------------------------------------------------------------

    def test_rm_missing_exits_3(self):
        key = new_key("never")
        result = self.strata("rm", key)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertOneLine(result, "no such key '%s'" % key)
        version = self.put(key, b"one")
        result = self.strata("rm", "--version", str(version + 1), key)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertOneLine(result, "no such version %d of key '%s'" % (version + 1, key))
        self.assertEqual(self.strata("rm", "--version", str(version), key).returncode, 0)
        result = self.strata("rm", key)
        self.assertEqual(result.returncode, 3, "deleted: nothing left to remove")

    def test_not_found_is_plain(self):
        key = new_key("missing")
        result = self.strata("get", key)
        self.assertEqual(result.returncode, 3)
        line = self.assertOneLine(result, "no such key '%s'" % key)
        self.assertNotIn("answered", line)
        verbose = self.strata("get", "-v", key)
        self.assertEqual(verbose.returncode, 3)
        self.assertOneLine(verbose, "no such key", "not-found")
        versions = self.strata("versions", key)
        self.assertEqual(versions.returncode, 3)
        self.assertOneLine(versions, "no such key")

    # -- options --------------------------------------------------------------

    def test_double_dash_and_dash_keys(self):
        key = "-" + new_key("dash")
        self.put(key, b"dashing")
        result = self.strata("get", "--", key)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"dashing")
        # Without --: the error names the argument, not another one
        result = self.strata("get", key)
        self.assertEqual(result.returncode, 2)
        line = self.assertOneLine(result, "'%s'" % key[:40], "'--'")
        self.assertNotIn("'get'", line)
        result = self.strata("put", "-xyz", input=b"")
        self.assertEqual(result.returncode, 2)
        self.assertOneLine(result, "'-xyz'")

    def test_versions_md5_hex_and_base64(self):
        key = new_key("md5")
        data = os.urandom(5000)
        self.put(key, data)
        line = self.strata("versions", key).stdout.decode().splitlines()[0]
        self.assertEqual(line.split("\t")[3], hashlib.md5(data).hexdigest())
        line = self.strata("versions", "--base64", key).stdout.decode().splitlines()[0]
        self.assertEqual(line.split("\t")[3], base64.b64encode(hashlib.md5(data).digest()).decode())

    def test_meta(self):
        key = new_key("meta")
        self.put(key, b"with meta", "--meta", "colour=blue", "--meta", "owner=ops team")
        result = self.strata("get", "--meta", key)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(result.stdout.decode().splitlines()), ["colour=blue", "owner=ops team"])
        target = os.path.join(self.cluster.workdir, "meta-copy")
        result = self.strata("get", "--meta", key, target)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"colour=blue", result.stdout)
        with open(target, "rb") as handle:
            self.assertEqual(handle.read(), b"with meta")
        self.put(key, b"no meta")
        lines = self.strata("versions", "-l", key).stdout.decode().splitlines()
        self.assertEqual(lines[0].split("\t")[4], "-")
        self.assertEqual(sorted(lines[1].split("\t")[4].split(" ", 1)), ["colour=blue", "owner=ops team"])
        bad = self.strata("put", "--meta", "novalue", key, "-", input=b"x")
        self.assertEqual(bad.returncode, 2)
        self.assertOneLine(bad, "--meta", "KEY=VALUE")
        bad = self.strata("versions", "--meta", "a=b", key)
        self.assertEqual(bad.returncode, 2)

    # -- single endpoints -----------------------------------------------------

    def test_ping_node(self):
        node = self.cluster.node(1)
        result = self.strata("ping", "--node", node.writer, router=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout.decode(), r"^node node02 at %s: version " % node.writer)
        both = self.strata("ping", "--router", self.cluster.router_endpoint, "--node", node.writer,
                           router=False)
        self.assertEqual(both.returncode, 2)

    def test_single_endpoint_default_timeout(self):
        # The router's endpoint does not answer node requests: 5 s, then a
        # message naming what was tried
        for command in ("stat", "ping"):
            started = time.monotonic()
            result = self.strata(command, "--node", self.cluster.router_endpoint, router=False)
            took = time.monotonic() - started
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertGreater(took, 4.5)
            self.assertLess(took, 9, "the default wait is 5 s")
            self.assertOneLine(result, self.cluster.router_endpoint, "5.0 s")

    # -- help -----------------------------------------------------------------

    def test_help_everywhere(self):
        for program in (NODE_BINARY, ROUTER_BINARY, CLI_BINARY):
            for flag in ("-h", "--help"):
                result = subprocess.run([program, flag], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, timeout=10)
                self.assertEqual(result.returncode, 0, (program, flag, result.stderr))
                self.assertIn(b"usage:", result.stdout)
        for command in ("put", "get", "rm", "versions", "ping", "stat", "keygen"):
            for flag in ("-h", "--help"):
                result = subprocess.run([CLI_BINARY, command, flag], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, timeout=10)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertTrue(result.stdout.startswith(b"usage: strata %s " % command.encode()),
                                result.stdout[:80])

    # -- node flags -----------------------------------------------------------

    def test_check_never_creates_the_data_dir(self):
        for flag in ("--check", "--rebuild-index"):
            missing = os.path.join(self.cluster.workdir, "no-such-dir" + flag)
            result = subprocess.run([NODE_BINARY, flag, "--data-dir", missing], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(result.returncode, 1)
            self.assertIn(b"no such data directory", result.stderr)
            self.assertFalse(os.path.exists(missing))

    def test_config_directory_refused(self):
        result = subprocess.run([NODE_BINARY, "--config", self.cluster.workdir, "--check-config"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"is a directory", result.stderr)


if __name__ == "__main__":
    run_main()
