#!/usr/bin/python3
"""recovery_time - how long strata-node takes to come back after SIGKILL
when it holds several GiB (issue 5: recovery time must not grow with the
data stored).

    /usr/bin/python3 tests/bench/recovery_time.py [--gib 4] [--dir DIR]
        [--senders 4] [--window 8] [--value-file-mib N] [--check] [--keep]

1. Starts strata-node (STRATA_BUILD_DIR, default build/) on free loopback
   ports in a fresh data directory, and writes --gib GiB as 1 MiB
   archive-key-entire segments from --senders threads, each keeping
   --window requests in flight.
2. With the load still running, sends SIGKILL: the value file being
   written is left open with unacknowledged bytes past its synced size.
3. Restarts the node and measures the time from exec to the first ping
   reply on the writer endpoint (pinged every 5 ms), and prints the node's
   "recovery:" log line.
4. Does the same on a small node (64 MiB) for comparison, and a clean
   (SIGTERM) restart of the big one.
5. With --check, times `strata-node --check` on the big node (it reads
   every record: it does grow with the data).

Not part of ctest. Needs --gib GiB free (plus 64 MiB reserve).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from strata_harness import (  # noqa: E402
    NODE_BINARY, Client, Segment, free_port, new_key, new_unified_id,
)

MiB = 1024 * 1024


class BenchNode:
    """One strata-node process, started and timed by hand."""

    def __init__(self, workdir, name, config=None):
        self.workdir = workdir
        self.name = name
        self.config = config
        self.data_dir = os.path.join(workdir, "data-" + name)
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.writer = self.reader = None

    def command(self):
        command = [NODE_BINARY, "--name", self.name, "--data-dir", self.data_dir,
                   "--writer", self.writer, "--reader", self.reader]
        if self.config:
            path = os.path.join(self.workdir, self.name + ".cfg")
            with open(path, "w") as handle:
                handle.write(self.config)
            command += ["--config", path]
        return command

    def start(self, timeout=120.0):
        """Start; returns seconds from exec to the first ping reply."""
        self.writer = "tcp://127.0.0.1:%d" % free_port()
        self.reader = "tcp://127.0.0.1:%d" % free_port()
        context = zmq.Context.instance()
        pull = context.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push = context.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.setsockopt(zmq.RECONNECT_IVL, 2)
        push.setsockopt(zmq.RECONNECT_IVL_MAX, 5)
        push.connect(self.writer)
        ping = {"message-type": "ping", "message-id": "ready",
                "client-tag": "recovery-bench",
                "client-address": "tcp://127.0.0.1:%d" % port}
        frame = msgpack.packb(ping, use_bin_type=True)
        with open(self.log_path, "ab") as log:
            log.write(("\n=== %s\n" % " ".join(self.command())).encode())
            log.flush()
            began = time.monotonic()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        try:
            while time.monotonic() - began < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError("strata-node exited %d; see %s"
                                       % (self.proc.returncode, self.log_path))
                if push.poll(0, zmq.POLLOUT):
                    push.send(frame, zmq.DONTWAIT)
                if pull.poll(5):
                    pull.recv_multipart()
                    return time.monotonic() - began
            raise RuntimeError("no ping reply within %.0f s" % timeout)
        finally:
            push.close(0)
            pull.close(0)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)

    def last_recovery_line(self):
        with open(self.log_path, errors="replace") as handle:
            lines = [line.strip() for line in handle if "recovery:" in line]
        return lines[-1] if lines else "(no recovery line: nothing was open)"


def load(node, total_bytes, senders, window, stop_event=None):
    """Write total_bytes as 1 MiB entire segments; returns (bytes
    acknowledged, seconds). With stop_event, keeps writing until it is set
    (the bytes count is then what was acknowledged before)."""
    payloads = [os.urandom(MiB) for _ in range(4)]
    bases = [Segment().entire(payload) for payload in payloads]
    count = total_bytes // MiB
    lock = threading.Lock()
    state = {"next": 0, "acked": 0}
    context = zmq.Context.instance()

    def take():
        """A segment number to send, or None when the load is over."""
        with lock:
            if stop_event is not None:
                if stop_event.is_set():
                    return None
            elif state["next"] >= count:
                return None
            state["next"] += 1
            return state["next"]

    def sender(index):
        client = Client(context, node.writer, tag="load-%d" % index)
        outstanding = 0
        try:
            while True:
                number = take() if outstanding < window else None
                if number is not None:
                    which = number % len(payloads)
                    header = dict(bases[which])
                    header["key"] = new_key("bench")
                    header["unified-id"] = new_unified_id()
                    client.send(header, [payloads[which]])
                    outstanding += 1
                    continue
                if outstanding == 0:
                    return
                if stop_event is not None and stop_event.is_set():
                    return
                if client.pull.poll(200):
                    reply, _ = client.recv(1)
                    outstanding -= 1
                    if reply.get("result") != "success":
                        raise RuntimeError("write failed: %r" % (reply,))
                    with lock:
                        state["acked"] += MiB
        finally:
            client.close()

    began = time.monotonic()
    threads = [threading.Thread(target=sender, args=(index,), daemon=True)
               for index in range(senders)]
    for thread in threads:
        thread.start()
    if stop_event is not None:
        return threads, state
    for thread in threads:
        thread.join()
    return state["acked"], time.monotonic() - began


def kill_under_load(node, senders, window, seconds=0.3):
    stop = threading.Event()
    threads, state = load(node, 0, senders, window, stop)
    time.sleep(seconds)
    node.kill()
    stop.set()
    for thread in threads:
        thread.join(10)
    return state["acked"]


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=4.0, help="GiB to store (default 4)")
    parser.add_argument("--dir", help="work directory (default: a new one in /tmp)")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--value-file-mib", type=int,
                        help="node/value-file-max-bytes in MiB (default: the node's, 1024)")
    parser.add_argument("--check", action="store_true", help="also time --check")
    parser.add_argument("--keep", action="store_true", help="keep the data")
    args = parser.parse_args()

    workdir = args.dir or tempfile.mkdtemp(prefix="strata-recovery-")
    os.makedirs(workdir, exist_ok=True)
    print("strata-node: %s\nwork directory: %s" % (NODE_BINARY, workdir))
    try:
        results = []
        for name, size in (("small", 64 * MiB), ("big", int(args.gib * 1024) * MiB)):
            config = None
            if args.value_file_mib:
                config = "node\n    value-file-max-bytes = %d\n" % (args.value_file_mib * MiB)
            node = BenchNode(workdir, name, config)
            node.start()
            acked, seconds = load(node, size, args.senders, args.window)
            print("%s: wrote %.2f GiB in %.1f s (%.0f MiB/s)"
                  % (name, acked / 1024 / MiB, seconds, acked / MiB / max(seconds, 1e-9)))
            more = kill_under_load(node, args.senders, args.window)
            stored = du(node.data_dir)
            print("%s: SIGKILL under load (%.0f MiB more acknowledged); %.2f GiB on disk"
                  % (name, more / MiB, stored / 1024 / MiB))
            recovery = node.start()
            print("%s: restart after SIGKILL: first ping reply after %.3f s\n    %s"
                  % (name, recovery, node.last_recovery_line()))
            node.stop()
            clean = node.start()
            print("%s: restart after a clean stop: first ping reply after %.3f s"
                  % (name, clean))
            node.stop()
            results.append((name, stored, recovery, clean))
            if args.check and name == "big":
                began = time.monotonic()
                done = subprocess.run([NODE_BINARY, "--check"] + node.command()[1:],
                                      capture_output=True, text=True)
                print("%s: --check exit %d in %.1f s: %s"
                      % (name, done.returncode, time.monotonic() - began,
                         (done.stdout.strip().splitlines() or ["?"])[-1]))
        print("\nsummary (seconds from exec to first ping reply):")
        for name, stored, recovery, clean in results:
            print("  %-5s %7.2f GiB  after SIGKILL %.3f s  after SIGTERM %.3f s"
                  % (name, stored / 1024 / MiB, recovery, clean))
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
