"""http_probe - talk to the HTTP endpoint of strata-node / strata-router

    status, body = fetch("http://127.0.0.1:9100/metrics")
    samples = parse_metrics(body)           # {(name, (("label", "value"), ...)): float}
    value(samples, "strata_node_up")        # one sample, labels matched by subset
    problem = promtool_check(body)          # None, or promtool's complaint

Only the standard library.
"""

import http.client
import os
import re
import shutil
import subprocess

PROMTOOL = shutil.which("promtool")

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def fetch(port, path="/", method="GET", host="127.0.0.1", timeout=10.0):
    """(status, body text) of one request."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def parse_metrics(text):
    """Samples of a Prometheus text exposition."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise AssertionError("not a metrics line: %r" % line)
        labels = tuple(sorted(_LABEL.findall(match.group(3) or "")))
        samples[(match.group(1), labels)] = float(match.group(4))
    return samples


def value(samples, name, default=None, **labels):
    """The one sample of name whose labels include labels (default when none)."""
    wanted = set(labels.items())
    found = [number for (sample, sample_labels), number in samples.items()
             if sample == name and wanted <= set(sample_labels)]
    if not found:
        return default
    if len(found) > 1:
        raise AssertionError("%s %r matches %d samples" % (name, labels, len(found)))
    return found[0]


def promtool_check(text):
    """None if `promtool check metrics` accepts text, else its output."""
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if result.returncode != 0:
        return result.stdout.decode("utf-8", "replace")
    return None


def rss_kib(pid):
    """Resident memory of a process, KiB."""
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def sanitized(pid):
    """True if the process runs with AddressSanitizer or ThreadSanitizer."""
    with open("/proc/%d/maps" % pid) as handle:
        maps = handle.read()
    return "libasan" in maps or "libtsan" in maps
