"""Lint: the layers link only what is below them.

common -> proto -> node | router (cluster/) | client (cluster/client/).
The `strata` CLI links the client library, the wire protocol and the
common modules only: neither the node library (nor SQLite) nor the router.
strata-router needs no node module either. Checked twice: no source of
cluster/ includes a header of node/, and the link lines CMake wrote for the
two programs (STRATA_BUILD_DIR) name no library they must not use.
"""
import os
import re
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("STRATA_BUILD_DIR", os.path.join(ROOT, "build"))


def headers(folder):
    return {name for name in os.listdir(os.path.join(ROOT, folder)) if name.endswith(".h")}


def sources(folder):
    for path, _, names in os.walk(os.path.join(ROOT, folder)):
        for name in names:
            if name.endswith((".c", ".h")):
                yield os.path.join(path, name)


def includes(path):
    with open(path, encoding="utf-8") as source:
        return re.findall(r'^\s*#\s*include\s+"([^"]+)"', source.read(), re.M)


def link_line(target):
    path = os.path.join(BUILD, "CMakeFiles", target + ".dir", "link.txt")
    with open(path, encoding="utf-8") as text:
        return text.read()


class LayeringTest(unittest.TestCase):
    def test_cluster_includes_no_node_header(self):
        node = headers("node") - headers("common") - headers("proto")
        for path in sources("cluster"):
            for name in includes(path):
                self.assertNotIn(name, node, "%s includes node/%s" % (os.path.relpath(path, ROOT), name))

    def test_client_includes_no_router_header(self):
        router = headers("cluster")
        for path in sources(os.path.join("cluster", "client")):
            for name in includes(path):
                self.assertNotIn(name, router - {"erasure.h"},
                                 "%s includes cluster/%s" % (os.path.relpath(path, ROOT), name))

    def test_cli_links_neither_node_nor_router(self):
        line = link_line("strata")
        self.assertIn("libstrata_client.a", line)
        for library in ("libstrata_node.a", "libstrata_router.a", "sqlite"):
            self.assertNotIn(library, line)

    def test_router_links_no_node(self):
        line = link_line("strata-router")
        self.assertIn("libstrata_router.a", line)
        for library in ("libstrata_node.a", "sqlite"):
            self.assertNotIn(library, line)


if __name__ == "__main__":
    unittest.main()
