"""router_bench - put/get throughput through strata-router

Starts a local cluster (ten strata-node processes and strata-router on
loopback, tests/integration/cluster_harness.py) unless --router names a
running one, then times whole-object puts and gets of 1 MiB and 64 MiB
objects over a DEALER socket (ROUTER.md `put`, `get` / `get-next`), with
one client or several in parallel, and prints one line per workload:

    put   1 MiB x 200, 1 client : 41.2 MB/s, 41.2 objects/s (p50 24.1 ms, p99 31.0 ms)

Every get is checked byte for byte against what was put.

    /usr/bin/python3 tests/bench/router_bench.py [--build DIR] [--router ENDPOINT]
        [--small-count N] [--large-count N] [--clients N]

The figures depend on the machine: all eleven processes share its cores
and disk (each put is fsynced by all ten nodes).
"""

import argparse
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

MIB = 1024 * 1024


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.environ.get("STRATA_BUILD_DIR", "/work/main/build"),
                        help="build directory holding strata-node and strata-router")
    parser.add_argument("--router", help="endpoint of a running router (no cluster is started)")
    parser.add_argument("--small-count", type=int, default=200, help="1 MiB objects per run")
    parser.add_argument("--large-count", type=int, default=4, help="64 MiB objects per run")
    parser.add_argument("--clients", type=int, default=4, help="parallel clients in the parallel runs")
    return parser.parse_args()


def run(label, size, count, clients, work):
    """Run work(client_index, object_index) for count objects split over
    clients threads; print throughput and latency."""
    latencies = []
    errors = []
    lock = threading.Lock()

    def worker(client_index):
        for object_index in range(client_index, count, clients):
            started = time.perf_counter()
            try:
                work(client_index, object_index)
            except Exception as error:      # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(error))
                return
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        print("%-5s %3d MiB x %d, %d client%s: FAILED: %s" % (label, size // MIB, count, clients,
                                                             "" if clients == 1 else "s", errors[0]))
        return False
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print("%-5s %3d MiB x %d, %d client%s: %7.1f MB/s, %6.1f objects/s (p50 %.1f ms, p99 %.1f ms)"
          % (label, size // MIB, count, clients, "" if clients == 1 else "s",
             size * count / elapsed / 1e6, count / elapsed,
             statistics.median(latencies) * 1000, p99 * 1000))
    sys.stdout.flush()
    return True


def main():
    args = parse_args()
    os.environ["STRATA_BUILD_DIR"] = args.build
    import cluster_harness          # reads STRATA_BUILD_DIR at import
    cluster = None
    if args.router:
        endpoint = args.router
        import zmq
        context = zmq.Context()
    else:
        cluster = cluster_harness.Cluster(nodes=10)
        cluster.start()
        endpoint = cluster.router_endpoint
        context = cluster.context
        print("cluster: 10 nodes + router on loopback in %s" % cluster.workdir)
    ok = True
    try:
        clients = [cluster_harness.RouterClient(context, endpoint, timeout=120)
                   for _ in range(max(1, args.clients))]
        run_id = os.urandom(4).hex()
        for size, count in ((MIB, args.small_count), (64 * MIB, args.large_count)):
            data = cluster_harness.payload(size, seed=size)
            for parallel in (1, args.clients):
                if parallel < 1:
                    continue
                prefix = "bench-%s-%d-%d" % (run_id, size, parallel)

                def put(client_index, object_index):
                    reply = clients[client_index].put("%s-%d" % (prefix, object_index), data,
                                                      frame_size=size)
                    if reply.get("result") != "success":
                        raise RuntimeError("put: %s: %s" % (reply.get("result"),
                                                            reply.get("error-message")))

                def get(client_index, object_index):
                    reply, got = clients[client_index].get("%s-%d" % (prefix, object_index))
                    if got != data:
                        raise RuntimeError("get: %s: %s" % (reply.get("result"),
                                                            reply.get("error-message")))

                ok &= run("put", size, count, parallel, put)
                ok &= run("get", size, count, parallel, get)
                if parallel == args.clients:
                    break
        for client in clients:
            client.close()
    finally:
        if cluster is not None:
            problems = cluster.cleanup()
            if problems:
                print("cluster problems: %s" % "; ".join(problems))
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
