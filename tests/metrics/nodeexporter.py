#!/usr/bin/python3
"""nodeexporter.py - node_exporter (Debian 12's prometheus-node-exporter) for the tests of
the metrics file: run on 127.0.0.1 with the textfile collector alone, scraped, and the
exposition text parsed (Python's standard library only).

Used by tests/metrics/test_textfile.py and tests/jobs/test_metrics.py.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

BINARY = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
WAIT_PORT = 15.0  # node_exporter listening
SCRAPE_TIMEOUT = 5.0

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse(text):
    """{(name, ((label, value), ...)): float} of an exposition text; ValueError on a line
    that is neither a comment nor a sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("not a sample line: %r" % line)
        labels = []
        rest = m.group(2) or ""
        pos = 0
        while pos < len(rest):
            lm = LABEL.match(rest, pos)
            if not lm:
                raise ValueError("bad labels in %r" % line)
            labels.append((lm.group(1), unescape(lm.group(2))))
            pos = lm.end()
        key = (m.group(1), tuple(sorted(labels)))
        if key in out:
            raise ValueError("sample twice: %r" % line)
        out[key] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """The value of name{labels} in parsed samples, or None."""
    return samples.get((name, tuple(sorted(labels.items()))))


def family(samples, name):
    """{labels dict as a sorted tuple: value} of every sample of name."""
    return {k[1]: v for k, v in samples.items() if k[0] == name}


def installed():
    """An error message when node_exporter is not installed, else None."""
    if os.access(BINARY, os.X_OK):
        return None
    return ("prometheus-node-exporter is not installed (a <!nocheck> Build-Depends of "
            "debian/control): apt-get install prometheus-node-exporter")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeExporter:
    """prometheus-node-exporter on 127.0.0.1 with the textfile collector alone."""

    def __init__(self, directory, log_path):
        self.port = free_port()
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [BINARY, "--collector.disable-defaults", "--collector.textfile",
             "--collector.textfile.directory=" + directory,
             "--web.listen-address=127.0.0.1:%d" % self.port, "--web.disable-exporter-metrics"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + WAIT_PORT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("node_exporter exited %d: %s"
                                     % (self.proc.returncode, open(log_path).read()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("node_exporter not listening after %.0f s" % WAIT_PORT)
                time.sleep(0.05)

    def scrape(self):
        """(parsed samples, text) of one scrape of /metrics."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                    timeout=SCRAPE_TIMEOUT) as r:
            if r.status != 200:
                raise AssertionError("HTTP %d from node_exporter" % r.status)
            text = r.read().decode("utf-8")
        return parse(text), text

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


