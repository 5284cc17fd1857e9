"""Runs cluster/client/examples/strata_client.py, the example of another service
talking to strata-router with pyzmq + msgpack, against ten nodes and the
router: its demonstration, its put and get commands, and objects crossing
between it and the `strata` CLI in both directions.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_example_client.py
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import ClusterTestCase, new_key, payload, run_main  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "cluster", "client", "examples", "strata_client.py")
MIB = 1024 * 1024


class ExampleClientTest(ClusterTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-example-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def example(self, *args, env=None):
        environment = dict(os.environ)
        environment.update(env or {})
        command = [sys.executable, EXAMPLE] + list(args)
        if env is None:
            command[2:2] = ["--router", self.cluster.router_endpoint]
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120, env=environment)

    def assertSucceeded(self, result):
        self.assertEqual(result.returncode, 0, "example failed: stdout %r stderr %r"
                         % (result.stdout[-2000:], result.stderr[-2000:]))

    def test_demonstration(self):
        result = self.example()
        self.assertSucceeded(result)
        text = result.stdout.decode()
        self.assertIn("10 of 10 nodes reachable", text)
        self.assertIn("archived", text)
        self.assertIn("streamed and read back", text)
        self.assertIn("not-found", text)

    def test_router_from_the_environment(self):
        result = self.example(env={"STRATA_ROUTER": self.cluster.router_endpoint})
        self.assertSucceeded(result)

    def test_put_and_get_commands(self):
        for size in (0, 5, 3 * MIB + 17):
            with self.subTest(size=size):
                key = new_key("example")
                data = payload(size, seed=size % 97)
                source = os.path.join(self.tmp, "source")
                target = os.path.join(self.tmp, "target")
                with open(source, "wb") as handle:
                    handle.write(data)
                result = self.example("put", key, source)
                self.assertSucceeded(result)
                self.assertRegex(result.stdout.decode(), r"^\d+\n$")
                result = self.example("get", key, target)
                self.assertSucceeded(result)
                with open(target, "rb") as handle:
                    self.assertTrue(handle.read() == data, "the object came back different")

    def test_objects_cross_between_the_example_and_the_cli(self):
        data = payload(2 * MIB + 3, seed=5)
        source = os.path.join(self.tmp, "source")
        with open(source, "wb") as handle:
            handle.write(data)
        # example -> CLI
        key = new_key("to-cli")
        self.assertSucceeded(self.example("put", key, source))
        result = self.cluster.strata("get", key)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout == data)
        # CLI -> example
        key = new_key("from-cli")
        result = self.cluster.strata("put", key, source)
        self.assertEqual(result.returncode, 0, result.stderr)
        target = os.path.join(self.tmp, "target")
        self.assertSucceeded(self.example("get", key, target))
        with open(target, "rb") as handle:
            self.assertTrue(handle.read() == data)

    def test_missing_key_fails_with_a_message(self):
        result = self.example("get", new_key("never"), os.path.join(self.tmp, "x"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("not-found", result.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))


if __name__ == "__main__":
    run_main()
