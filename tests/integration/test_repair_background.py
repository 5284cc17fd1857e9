"""Background repair in the router (router/repair/interval-seconds,
cluster/ROUTER.md `repair`): with it on, a node wiped and restarted empty
gets back every share it owned, in every collection, without an operator,
and the deleted keys are skipped; the node's list-collections message.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_repair_background.py
"""

import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import Cluster, payload, run_main  # noqa: E402
from test_repair import share_digests  # noqa: E402


class BackgroundRepairTest(unittest.TestCase):

    def test_wiped_node_healed_in_the_background(self):
        extra = "    repair\n        interval-seconds = 2\n        bytes-per-second = 8388608\n"
        with Cluster(nodes=10, data_shards=8, router_extra=extra) as cluster:
            client = cluster.router_client()
            live = {}
            for collection in (0, 7, 4000000000):
                for number in range(12):
                    key = "bg/%d/%02d" % (collection, number)
                    data = payload(number * 40000, seed=collection + number)
                    self.assertEqual(client.put(key, data, collection_id=collection)["result"], "success")
                    live[(collection, key)] = data
            self.assertEqual(client.delete("bg/7/03", collection_id=7)["result"], "success")
            del live[(7, "bg/7/03")]
            node = cluster.node(4)
            reply = node._request({"message-type": "list-collections"}, node.reader, 10)
            self.assertEqual((reply["result"], reply["collections"]), ("success", [0, 7, 4000000000]))
            before = share_digests(node)
            node.stop()
            shutil.rmtree(node.data_dir)
            node.start()
            cluster.wait_router()
            wanted = {where: digest for where, digest in before.items()
                      if any(where[0] == key for _, key in live)}
            deadline = time.monotonic() + 90
            after = {}
            while time.monotonic() < deadline:
                after = share_digests(node)
                if all(after.get(where) == digest for where, digest in wanted.items()):
                    break
                time.sleep(1)
            missing = [where for where, digest in wanted.items() if after.get(where) != digest]
            self.assertEqual(missing, [])
            self.assertNotIn("bg/7/03", [where[0] for where in after])
            # The sweep logs its end once it has walked every collection: a
            # moment after the last share it rebuilt
            deadline = time.monotonic() + 30
            while ("repair: background sweep done" not in cluster.router.log_text()
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            self.assertIn("repair: background sweep done", cluster.router.log_text())


if __name__ == "__main__":
    run_main()
