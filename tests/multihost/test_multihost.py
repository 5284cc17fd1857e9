"""test_multihost - a Strata cluster across hosts (network namespaces),
with partitions, a slow lossy link, kills and restarts, CURVE on

One namespace per node, one for the router, one for the client, joined by
a bridge (tests/multihost/netns.py); the real strata-node and
strata-router run inside them with endpoints on their own addresses.
Clients run inside the client's namespace (client_worker.py) and record
every operation; tests/multihost/history.py checks the history at the
end. Figures are printed as "figure: ..." lines.

Timeline (make test, about 4.5 minutes; STRATA_MULTIHOST_FULL=1, make
multihost, runs node01's 10 s, 60 s and 180 s partitions alone, one after
the other, then two nodes out and a third, then the router scenarios,
about 8 minutes):

    latency     puts and gets of 64 KiB on a clean link, then with node05
                behind a relay adding 80 ms and 1 % loss: p50 / p99
    t=0         node01 partitioned for 180 s (writes go on all the time)
    t=15        node02 partitioned for 10 s
    t=35        node02 partitioned for 60 s: two nodes out, writes and reads go on
    t=50        node03 partitioned for 8 s: a third: writes unavailable at
                once, reads as the shares allow, every command ends within
                2 x node-timeout-ms with a clear message
    t=100       the router partitioned from every node for 10 s
    t=120       the router restarted during reads
    t=135       node04 killed during a 30 MiB put, then restarted
    t=180       node01 healed; its handoff copies come back
For each partition: time until the router says unreachable, time until it
says reachable after the heal (target: 2 x ping-interval-ms + 1 s), time
until the handoff copies held for the node are back on it.

Runs as root where network namespaces can be made; otherwise prints one
"skipped: ..." line and exits 0.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import netns  # noqa: E402
import history  # noqa: E402

BUILD_DIR = os.environ.get("STRATA_BUILD_DIR", "/work/main/build")
FULL = os.environ.get("STRATA_MULTIHOST_FULL") == "1"
NODES = 5
DATA_SHARDS = 3
NODE_TIMEOUT_MS = 10000
PING_INTERVAL_MS = 1000
HEAL_TARGET_S = 2 * PING_INTERVAL_MS / 1000.0 + 1.0
WRITER_PORT, READER_PORT = 9100, 9101
ROUTER_PORT, REPLY_PORT = 9000, 9001
PYTHON = "/usr/bin/python3"


def log(text):
    print(text, flush=True)


def figure(text):
    print("figure: " + text, flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def write_cert(directory, name, public, secret):
    def text(with_secret):
        lines = ["#   ZeroMQ CURVE certificate (multihost test)", "metadata", "curve",
                 '    public-key = "%s"' % public.decode()]
        if with_secret:
            lines.append('    secret-key = "%s"' % secret.decode())
        return "\n".join(lines) + "\n"
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(text(False))
    with open(path + "_secret", "w") as handle:
        handle.write(text(True))
    return path


class Worker:
    """A client_worker.py inside the client namespace."""

    def __init__(self, test, name):
        self.name = name
        self.lock = threading.Lock()
        self.proc = test.net.popen("client", [PYTHON, os.path.join(HERE, "client_worker.py"),
                                              test.router_endpoint,
                                              os.path.join(test.workdir, "history-%s.jsonl" % name),
                                              test.keys_file],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=open(os.path.join(test.workdir, "worker-%s.log" % name), "w"),
                                   env=dict(os.environ, STRATA_WORKER_ADDRESS=test.net.address["client"],
                                            PYTHONDONTWRITEBYTECODE="1"))
        assert json.loads(self.proc.stdout.readline()).get("ready"), "worker %s did not start" % name

    def call(self, **command):
        with self.lock:
            self.proc.stdin.write((json.dumps(command) + "\n").encode())
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("worker %s died" % self.name)
        return json.loads(line)


class Multihost:
    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="strata-multihost-")
        self.node_names = ["node%02d" % (index + 1) for index in range(NODES)]
        self.net = netns.Network(["router", "client"] + self.node_names)
        self.procs = {}
        self.failures = []
        self.watch = []              # (time, {node: reachable})
        self.watch_stop = threading.Event()
        self.load_stop = threading.Event()
        self.relay_settings = os.path.join(self.workdir, "relay.settings")

    # -- set-up ---------------------------------------------------------------

    def make_keys(self):
        import zmq
        keys = os.path.join(self.workdir, "keys")
        clients = os.path.join(keys, "clients")
        os.makedirs(clients)
        cluster_public, cluster_secret = zmq.curve_keypair()
        self.cluster_cert = write_cert(keys, "cluster", cluster_public, cluster_secret)
        self.router_cert = write_cert(keys, "router", *zmq.curve_keypair())
        self.nodes_cert = write_cert(keys, "nodes", *zmq.curve_keypair())
        client_public, client_secret = zmq.curve_keypair()
        write_cert(keys, "client", client_public, client_secret)
        for name in ("router", "nodes", "client"):
            shutil.copy(os.path.join(keys, name), os.path.join(clients, name))
        self.clients_dir = clients
        self.keys_file = os.path.join(keys, "client.keys")
        with open(self.keys_file, "w") as handle:
            handle.write("%s %s %s\n" % (cluster_public.decode(), client_public.decode(),
                                         client_secret.decode()))

    def layout(self):
        address = self.net.address
        self.router_endpoint = "tcp://%s:%d" % (address["router"], ROUTER_PORT)
        lines = ["cluster", "    name = multihost", "    data-shards = %d" % DATA_SHARDS,
                 "    total-shards = %d" % NODES, "    nodes"]
        for name in self.node_names:
            lines += ["        %s" % name,
                      "            writer = tcp://%s:%d" % (address[name], WRITER_PORT),
                      "            reader = tcp://%s:%d" % (address[name], READER_PORT)]
        lines += ["router", "    listen = %s" % self.router_endpoint,
                  "    reply = tcp://%s:%d" % (address["router"], REPLY_PORT),
                  "    node-timeout-ms = %d" % NODE_TIMEOUT_MS,
                  "    ping-interval-ms = %d" % PING_INTERVAL_MS,
                  "    curve",
                  "        cert = %s_secret" % self.cluster_cert,
                  "        clients-dir = %s" % self.clients_dir,
                  "        client-cert = %s_secret" % self.router_cert]
        self.cluster_path = os.path.join(self.workdir, "cluster.cfg")
        with open(self.cluster_path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        for name in self.node_names:
            with open(os.path.join(self.workdir, "%s.cfg" % name), "w") as handle:
                handle.write("curve\n    cert = %s_secret\n    clients-dir = %s\n"
                             "    client-cert = %s_secret\n"
                             "reply\n    allow\n        a = 127.0.0.1\n        b = %s\n"
                             "        c = %s\n"
                             % (self.cluster_cert, self.clients_dir, self.nodes_cert,
                                address["router"], address["client"]))

    def start_node(self, name):
        command = [os.path.join(BUILD_DIR, "strata-node"), "--cluster", self.cluster_path,
                   "--name", name, "--data-dir", os.path.join(self.workdir, "data", name),
                   "--config", os.path.join(self.workdir, "%s.cfg" % name)]
        if name == "node05":
            #   Behind the relay: the node on its loopback, the relay on its address
            command += ["--writer", "tcp://127.0.0.1:%d" % WRITER_PORT,
                        "--reader", "tcp://127.0.0.1:%d" % READER_PORT]
        log_file = open(os.path.join(self.workdir, "%s.log" % name), "ab")
        self.procs[name] = self.net.popen(name, command, stdout=log_file, stderr=log_file)

    def start_router(self):
        log_file = open(os.path.join(self.workdir, "router.log"), "ab")
        self.procs["router"] = self.net.popen(
            "router", [os.path.join(BUILD_DIR, "strata-router"), "--cluster", self.cluster_path],
            stdout=log_file, stderr=log_file)

    def start(self):
        self.net.create()
        self.make_keys()
        self.layout()
        with open(self.relay_settings, "w") as handle:
            handle.write("0 0\n")
        node05 = self.net.address["node05"]
        self.relay = self.net.popen("node05", [
            PYTHON, os.path.join(HERE, "relay.py"), self.relay_settings,
            "%s:%d" % (node05, WRITER_PORT), "127.0.0.1:%d" % WRITER_PORT,
            "%s:%d" % (node05, READER_PORT), "127.0.0.1:%d" % READER_PORT],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.workdir, "relay.log"), "w"))
        assert b"ready" in self.relay.stdout.readline()
        for name in self.node_names:
            self.start_node(name)
        self.start_router()
        self.load = Worker(self, "load")
        self.probe = Worker(self, "probe")
        self.ops = Worker(self, "ops")
        self.wait_reachable(self.node_names, 30)

    def stop(self):
        self.watch_stop.set()
        self.load_stop.set()
        problems = []
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                problems.append("%s exited with %d" % (name, proc.returncode))
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                if proc.wait(timeout=20) != 0:
                    problems.append("%s exited %d on SIGTERM" % (name, proc.returncode))
            except subprocess.TimeoutExpired:
                proc.kill()
                problems.append("%s did not stop on SIGTERM" % name)
        return problems

    def logs(self):
        text = []
        for name in ["router"] + self.node_names:
            path = os.path.join(self.workdir, "%s.log" % name)
            try:
                with open(path, "rb") as handle:
                    tail = handle.read()[-3000:].decode("utf-8", "replace")
                text.append("===== %s\n%s" % (name, tail))
            except OSError:
                pass
        return "\n".join(text)

    # -- observing ------------------------------------------------------------

    def wait_reachable(self, names, timeout, reachable=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.ops.call(op="ping", timeout=2)
            nodes = reply.get("nodes") or {}
            if nodes and all(nodes.get(name) == reachable for name in names):
                return time.monotonic()
            time.sleep(0.1)
        raise AssertionError("the router did not see %s %s within %d s (last %r)"
                             % (names, "reachable" if reachable else "unreachable", timeout, nodes))

    def watcher(self):
        while not self.watch_stop.is_set():
            reply = self.probe.call(op="ping", timeout=2)
            if reply.get("nodes"):
                self.watch.append((reply["at"], dict(reply["nodes"])))
            time.sleep(0.1)

    def first_change(self, name, since, reachable):
        """First time after since the watcher saw name with that state."""
        for at, nodes in list(self.watch):
            if at >= since and nodes.get(name) == reachable:
                return at - since
        return None

    def handoff_held(self, owner):
        """Handoff copies held for owner over every other node (None if a
        node did not answer)."""
        total = 0
        for name in self.node_names:
            if name == owner or name in self.net.down:
                continue
            endpoint = "tcp://%s:%d" % (self.net.address[name], WRITER_PORT)
            stats = self.ops.call(op="stats", endpoint=endpoint, timeout=3).get("stats")
            if stats is None:
                return None
            owners = (stats.get("handoff") or {}).get("owners") or {}
            total += (owners.get(owner) or {}).get("held", 0)
        return total

    def wait_handoff_back(self, owner, since, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.handoff_held(owner) == 0:
                return time.monotonic() - since
            time.sleep(0.5)
        return None

    def check(self, condition, text):
        if not condition:
            self.failures.append(text)
            log("FAILED: " + text)

    # -- load -----------------------------------------------------------------

    def loader(self):
        """Writes all the time: new keys, overwrites, deletes, reads."""
        self.keys = []
        counter = 0
        while not self.load_stop.is_set():
            counter += 1
            key = "load-%06d" % counter
            self.load.call(op="put", key=key, size=16384 + counter % 5000, seed=counter, timeout=25)
            self.keys.append(key)
            if counter % 7 == 0 and len(self.keys) > 3:
                self.load.call(op="put", key=self.keys[-3], size=4096, seed=counter + 10 ** 6,
                               timeout=25)
            if counter % 11 == 0 and len(self.keys) > 5:
                self.load.call(op="rm", key=self.keys[-5], timeout=25)
            if counter % 3 == 0:
                self.load.call(op="get", key=self.keys[counter % len(self.keys)], timeout=25)
            time.sleep(0.05)

    # -- scenarios --------------------------------------------------------------

    def latency(self):
        def measure(label, count):
            puts, gets = [], []
            for index in range(count):
                key = "latency-%s-%d" % (label, index)
                put = self.ops.call(op="put", key=key, size=65536, seed=index)
                get = self.ops.call(op="get", key=key)
                self.check(put["result"] == "success" and get["result"] == "success",
                           "%s link: put/get %s: %s / %s" % (label, key, put, get))
                puts.append(put["end"] - put["start"])
                gets.append(get["end"] - get["start"])
            figure("%s link to node05: put p50 %.1f ms p99 %.1f ms, get p50 %.1f ms p99 %.1f ms "
                   "(%d each, 64 KiB)" % (label, 1000 * percentile(puts, 0.5), 1000 * percentile(puts, 0.99),
                                          1000 * percentile(gets, 0.5), 1000 * percentile(gets, 0.99), count))
        measure("clean", 40)
        with open(self.relay_settings, "w") as handle:
            handle.write("80 0.01\n")
        time.sleep(0.6)
        measure("80ms-1%loss", 40)
        with open(self.relay_settings, "w") as handle:
            handle.write("0 0\n")
        time.sleep(0.6)

    def partition(self, name, seconds, label, during=None):
        """Partition name for seconds; figures; runs during() meanwhile."""
        start = time.monotonic()
        self.net.cut(name)
        log("%s partitioned (%s)" % (name, label))
        if during:
            during()
        remaining = start + seconds - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return self.heal(name, start, label)

    def heal(self, name, start, label):
        healed = time.monotonic()
        self.net.mend(name)
        log("%s healed (%s)" % (name, label))
        deadline = healed + 15
        back = None
        while time.monotonic() < deadline and back is None:
            time.sleep(0.2)
            back = self.first_change(name, healed, True)
        lost = self.first_change(name, start, False)
        figure("%s: %s unreachable after %s s, reachable %s s after the heal (target %.1f s)"
               % (label, name, "%.1f" % lost if lost is not None else "never",
                  "%.1f" % back if back is not None else "not within 15",
                  HEAL_TARGET_S))
        self.check(lost is not None and lost <= NODE_TIMEOUT_MS / 1000.0 + 0.5,
                   "%s: unreachable after %s s (at most node-timeout-ms)" % (label, lost))
        self.check(back is not None and back <= HEAL_TARGET_S,
                   "%s: reachable %s s after the heal (target %.1f s)" % (label, back, HEAL_TARGET_S))
        return healed

    def third_node(self):
        """Called with two nodes out: cut a third; writes unavailable at
        once; reads as the shares allow; every command ends in time."""
        time.sleep(15)
        recent = self.keys[-2]          # written with node01 and node02 out
        self.net.cut("node03")
        cut = time.monotonic()
        self.wait_reachable(["node03"], NODE_TIMEOUT_MS / 1000.0 + 2, reachable=False)
        figure("third node out: node03 unreachable after %.1f s" % (time.monotonic() - cut))
        limit = 2 * NODE_TIMEOUT_MS / 1000.0
        put = self.ops.call(op="put", key="third-%s" % uuid.uuid4().hex, size=1000, seed=3)
        took = put["end"] - put["start"]
        figure("third node out: put answered %s in %.3f s: %s" % (put["result"], took, put["message"]))
        self.check(put["result"] == "unavailable" and took < 1.0,
                   "third node out: put should be unavailable at once: %s in %.3f s" % (put, took))
        for key in self.keys[:2] + [recent]:
            get = self.ops.call(op="get", key=key)
            took = get["end"] - get["start"]
            figure("third node out: get %s answered %s in %.3f s: %s"
                   % (key, get["result"], took, get["message"]))
            self.check(took <= limit and (get["result"] == "success" or get["message"]),
                       "third node out: get %s: %s in %.3f s" % (key, get, took))
        listing = self.ops.call(op="ls", key=self.keys[0])
        self.check(listing["end"] - listing["start"] <= limit,
                   "third node out: ls took %.3f s" % (listing["end"] - listing["start"]))
        figure("third node out: ls answered %s in %.3f s: %s"
               % (listing["result"], listing["end"] - listing["start"], listing["message"]))
        time.sleep(max(0, 8 - (time.monotonic() - cut)))
        self.heal("node03", cut, "third node 8 s")

    def two_nodes_out(self, window_start):
        """With node01 and node02 out, writes and reads went on."""
        def count(kind):
            done = [entry for entry in history.load([self.history_path("load")])
                    if entry["op"] == kind and entry["start"] >= window_start
                    and entry["end"] <= window_start + 14]
            return len([entry for entry in done if entry["result"] == "success"]), len(done)
        puts_ok, puts = count("put")
        gets_ok, gets = count("get")
        figure("two nodes out: %d of %d puts and %d of %d gets succeeded in 14 s"
               % (puts_ok, puts, gets_ok, gets))
        self.check(puts_ok > 0 and gets_ok > 0, "two nodes out: writes and reads should go on")

    def history_path(self, name):
        return os.path.join(self.workdir, "history-%s.jsonl" % name)

    def router_partition(self):
        start = time.monotonic()
        self.net.cut("router")
        log("router partitioned from every node")
        time.sleep(10)
        healed = time.monotonic()
        self.net.mend("router")
        others = [name for name in self.node_names if name != "node01"]
        try:
            back = self.wait_reachable(others, 15) - healed
        except AssertionError:
            back = None
        figure("router partitioned 10 s: nodes reachable again %s s after the heal (target %.1f s)"
               % ("%.1f" % back if back is not None else "not within 15", HEAL_TARGET_S))
        self.check(back is not None and back <= HEAL_TARGET_S + 0.5,
                   "router partition: nodes reachable %s s after the heal" % back)
        return start

    def router_restart(self):
        key = "restart-%s" % uuid.uuid4().hex
        put = self.ops.call(op="put", key=key, size=100000, seed=7)
        self.check(put["result"] == "success", "router restart: put before: %s" % put)
        self.procs["router"].send_signal(signal.SIGTERM)
        self.check(self.procs["router"].wait(timeout=30) == 0, "router exit code after SIGTERM")
        stopped = time.monotonic()
        self.start_router()
        results = []
        first_success = None
        #   node01 is still partitioned: reads are held for the first ping
        #   round, up to one node-timeout-ms, then served
        while time.monotonic() - stopped < NODE_TIMEOUT_MS / 1000.0 + 5:
            get = self.ops.call(op="get", key=key, timeout=2 * NODE_TIMEOUT_MS / 1000.0)
            results.append(get["result"])
            if get["result"] == "success" and first_success is None:
                first_success = time.monotonic() - stopped
            if get["result"] not in ("success", "no-reply"):
                self.check(False, "router restart: read answered %s: %s" % (get["result"], get["message"]))
        figure("router restarted during reads (%s): first read served %.2f s after the "
               "restart; results %s"
               % ("node01 partitioned, so the first ping round waits one node-timeout-ms"
                  if "node01" in self.net.down else "every node up",
                  first_success if first_success is not None else -1,
                  {result: results.count(result) for result in set(results)}))
        self.check(first_success is not None, "router restart: no read succeeded")

    def kill_during_put(self):
        key = "big-%s" % uuid.uuid4().hex
        answer = {}

        def big_put():
            answer.update(self.ops.call(op="stream", key=key, size=30 * 1024 * 1024, seed=30,
                                        chunk=1 << 20, pause=0.1, timeout=60))
        self.ops.call(op="prepare", size=30 * 1024 * 1024, seed=30)
        thread = threading.Thread(target=big_put)
        thread.start()
        time.sleep(2.0)             # 30 chunks of 1 MiB, 0.1 s apart: about half-way
        self.procs["node04"].kill()
        killed = time.monotonic()
        self.procs["node04"].wait()
        thread.join(90)
        figure("node04 killed during a 30 MiB put: put answered %s %.1f s after the kill "
               "(%.1f s in all): %s" % (answer.get("result"), answer.get("end", killed) - killed,
                                        answer.get("end", killed) - answer.get("start", killed),
                                        answer.get("message")))
        self.check(answer.get("result") in ("success", "timeout", "unavailable"),
                   "30 MiB put: unexpected answer %s" % answer)
        self.check(answer.get("end", killed) - killed < NODE_TIMEOUT_MS / 1000.0 + 5,
                   "30 MiB put: answered %.1f s after the kill" % (answer.get("end", killed) - killed))
        self.start_node("node04")
        if answer.get("result") == "success":
            get = self.ops.call(op="get", key=key, timeout=60)
            self.check(get["result"] == "success" and get["digest"] == answer["digest"],
                       "30 MiB put acknowledged but not read back: %s" % get)

    def final_reads(self):
        """Every key, read once more after everything healed (recorded)."""
        keys = sorted({entry["key"] for entry in history.load([self.history_path("load")])})
        for key in keys:
            self.load.call(op="get", key=key, timeout=25)

    def run(self):
        self.start()
        self.latency()
        watcher = threading.Thread(target=self.watcher, daemon=True)
        watcher.start()
        loader = threading.Thread(target=self.loader, daemon=True)
        loader.start()
        time.sleep(3)
        timeline_start = time.monotonic()
        if FULL:
            for seconds in (10, 60, 180):
                self.partition("node01", seconds, "one node %d s" % seconds)
                back = self.wait_handoff_back("node01", time.monotonic(), 120)
                figure("one node %d s: handoff copies back %s s after the heal"
                       % (seconds, "%.1f" % back if back is not None else "not within 120"))
            #   Two nodes out, then a third
            cut = time.monotonic()
            self.net.cut("node01")
            time.sleep(5)
            window = time.monotonic() + 4
            self.partition("node02", 40, "second node 40 s",
                           during=lambda: (self.third_node(), self.two_nodes_out(window)))
            self.heal("node01", cut, "first of two nodes")
            timeline_start = time.monotonic() - 100
        else:
            self.net.cut("node01")
            log("node01 partitioned (one node 180 s)")
            time.sleep(15)
            self.partition("node02", 10, "one node 10 s")
            back = self.wait_handoff_back("node02", time.monotonic(), 20)
            figure("one node 10 s: handoff copies back %s s after the heal"
                   % ("%.1f" % back if back is not None else "not within 20"))
            time.sleep(max(0, timeline_start + 35 - time.monotonic()))
            window = time.monotonic() + 4
            self.partition("node02", 60, "one node 60 s (second node out)",
                           during=lambda: (self.third_node(), self.two_nodes_out(window)))
            back = self.wait_handoff_back("node02", time.monotonic(), 30)
            figure("one node 60 s: handoff copies back %s s after the heal"
                   % ("%.1f" % back if back is not None else "not within 30"))
        time.sleep(max(0, timeline_start + 100 - time.monotonic()))
        self.router_partition()
        self.router_restart()
        self.kill_during_put()
        if not FULL:
            time.sleep(max(0, timeline_start + 180 - time.monotonic()))
            self.heal("node01", timeline_start, "one node 180 s")
            back = self.wait_handoff_back("node01", time.monotonic(), 60)
            figure("one node 180 s: handoff copies back %s s after the heal"
                   % ("%.1f" % back if back is not None else "not within 60"))
            self.check(back is not None, "node01's handoff copies did not come back within 60 s")
        self.load_stop.set()
        loader.join(60)
        self.watch_stop.set()
        watcher.join(10)
        self.final_reads()
        entries = history.load([self.history_path(name) for name in ("load", "ops")])
        violations = history.check(entries)
        figure("history: %d operations %s; %d violations"
               % (len(entries), json.dumps(history.summary(entries), sort_keys=True), len(violations)))
        for violation in violations[:20]:
            log("history violation: " + violation)
        self.check(not violations, "the history checker found %d violations" % len(violations))


def main():
    able, why = netns.can_run()
    if not able:
        print("skipped: %s" % why)
        return 0
    test = Multihost()
    status = 1
    try:
        test.run()
        problems = test.stop()
        for problem in problems:
            test.check(False, problem)
        status = 1 if test.failures else 0
    except BaseException as error:          # noqa: B902 - teardown below, then report
        log("ERROR: %r" % (error,))
        import traceback
        traceback.print_exc()
    finally:
        if status:
            log(test.logs())
        test.net.destroy()
        left = test.net.leftover()
        if left:
            log("FAILED: namespaces left after teardown: %s" % left)
            status = 1
        if os.environ.get("STRATA_KEEP_MULTIHOST") != "1":
            shutil.rmtree(test.workdir, ignore_errors=True)
    log("multihost: %s" % ("ok" if status == 0 else "FAILED: %s" % test.failures))
    return status


if __name__ == "__main__":
    sys.exit(main())
