#!/usr/bin/python3
"""test_textfile.py - the agent's metrics writer against the real node_exporter (Debian 12's
prometheus-node-exporter, textfile collector only, on 127.0.0.1).

Why: node_exporter drops a whole textfile it cannot parse (node_textfile_scrape_error 1),
and a file read while it is being written is such a file. The agent writes PATH.tmp,
fsyncs and renames it over PATH; this test proves it with the agent's own writer and
formatter (metrics-rewrite, linked to labagent's code): 100 rewrites of changing size and
content while node_exporter is scraped in a loop, and every scrape must parse, say
node_textfile_scrape_error 0 and show one whole rewrite (its figures agree with each other)
and never an older one than the scrape before. A reader of the file itself does the same
checks. Then: the file's mode is 0644 under the service's UMask=0027 (node_exporter runs
as another user), no temporary file is left, a missing directory is an error a person can
act on, and a broken file does give scrape_error 1 (so the check can fail).

usage: test_textfile.py METRICS_REWRITE [unittest args]
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import nodeexporter
from nodeexporter import NodeExporter, parse, value

REWRITER = None
REWRITES = 100
INTERVAL_MS = 30  # between rewrites: 100 take about 3 s
WAIT_RUN = 120.0  # the whole rewrite run, scrapes included
MAX_SCRAPES = 20000


def check_rewrite(samples, where):
    """The figures of one whole rewrite i agree with each other; returns i."""
    i = value(samples, "labagent_prints_total", printer="ds620")
    if i is None:
        raise AssertionError("%s: no labagent_prints_total{printer=\"ds620\"}" % where)
    i = int(i)
    if not 1 <= i <= REWRITES:
        raise AssertionError("%s: prints_total %d out of 1..%d" % (where, i, REWRITES))
    want = {
        ("labagent_prints_total", (("printer", 'q"uote\\d\nname'),)): 2 * i,
        ("labagent_defects_total", (("printer", "ds620"),)): i // 10,
        ("labagent_render_seconds_bucket", (("le", "+Inf"),)): i,
        ("labagent_render_seconds_count", ()): i,
    }
    for key, v in want.items():
        if samples.get(key) != v:
            raise AssertionError("%s: rewrite %d: %s is %r, not %r" % (where, i, key,
                                                                       samples.get(key), v))
    got_sum = samples.get(("labagent_render_seconds_sum", ()))
    if got_sum is None or abs(got_sum - 0.1 * i * (i - 1) / 2) > 1e-6:
        raise AssertionError("%s: rewrite %d: render sum %r" % (where, i, got_sum))
    stock = [k for k in samples if k[0] == "labagent_stock_remaining"]
    if len(stock) != 1 + i % 17:
        raise AssertionError("%s: rewrite %d: %d stock lines, not %d"
                             % (where, i, len(stock), 1 + i % 17))
    return i


class TextfileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="labagent-metrics-")
        self.textdir = os.path.join(self.dir, "textfile")
        os.mkdir(self.textdir)
        self.path = os.path.join(self.textdir, "labagent.prom")
        self.exporter = None

    def tearDown(self):
        if self.exporter:
            self.exporter.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def rewrite(self, path, count, interval_ms, umask=None):
        def child():
            if umask is not None:
                os.umask(umask)
        return subprocess.Popen([REWRITER, path, str(count), str(interval_ms)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=child)

    def test_rewrites_while_scraped(self):
        """100 rewrites while node_exporter is scraped and the file read: every scrape
        parses, scrape_error 0, one whole rewrite, never going back."""
        self.exporter = NodeExporter(self.textdir, os.path.join(self.dir, "node_exporter.log"))
        # Before the first rewrite: no file, no error.
        samples, _ = self.exporter.scrape()
        self.assertEqual(value(samples, "node_textfile_scrape_error"), 0)

        reads = {"n": 0, "seen": set(), "error": None}
        stop = threading.Event()

        def reader():
            last = 0
            try:
                while not stop.is_set() and reads["n"] < MAX_SCRAPES:
                    try:
                        with open(self.path) as f:
                            text = f.read()
                    except FileNotFoundError:
                        continue  # before the first rename only
                    i = check_rewrite(parse(text), "file read %d" % reads["n"])
                    if i < last:
                        raise AssertionError("file read went back from %d to %d" % (last, i))
                    last = i
                    reads["n"] += 1
                    reads["seen"].add(i)
                    time.sleep(0.0005)
            except Exception as e:  # noqa: BLE001  (handed to the main thread)
                reads["error"] = e

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        proc = self.rewrite(self.path, REWRITES, INTERVAL_MS, umask=0o027)
        scrapes, seen, last = 0, set(), 0
        deadline = time.monotonic() + WAIT_RUN
        try:
            while proc.poll() is None:
                self.assertLess(time.monotonic(), deadline, "the rewrites took too long")
                self.assertLess(scrapes, MAX_SCRAPES)
                samples, text = self.exporter.scrape()
                scrapes += 1
                err = value(samples, "node_textfile_scrape_error")
                self.assertEqual(err, 0, "scrape %d: scrape_error %r:\n%s" % (scrapes, err, text))
                if value(samples, "labagent_prints_total", printer="ds620") is None:
                    self.assertEqual(seen, set(), "scrape %d: the metrics went away" % scrapes)
                    continue  # before the first rewrite
                i = check_rewrite(samples, "scrape %d" % scrapes)
                self.assertGreaterEqual(i, last, "scrape %d went back" % scrapes)
                last = i
                seen.add(i)
            out, err = proc.communicate(timeout=30)
        finally:
            stop.set()
            t.join(timeout=30)
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.split("\n")[-2], "wrote %d" % REWRITES)
        self.assertIsNone(reads["error"], reads["error"])
        # The scrapes and reads really ran through the rewrites.
        self.assertGreaterEqual(scrapes, 20, "only %d scrapes during the rewrites" % scrapes)
        self.assertGreaterEqual(len(seen), 10, "scrapes saw only rewrites %s" % sorted(seen))
        self.assertGreaterEqual(len(reads["seen"]), 10, sorted(reads["seen"]))
        print("%d scrapes saw %d of %d rewrites; %d file reads saw %d"
              % (scrapes, len(seen), REWRITES, reads["n"], len(reads["seen"])), file=sys.stderr)
        # After the last one: node_exporter serves it whole.
        samples, _ = self.exporter.scrape()
        self.assertEqual(value(samples, "node_textfile_scrape_error"), 0)
        self.assertEqual(check_rewrite(samples, "final scrape"), REWRITES)
        self.assertIsNotNone(value(samples, "node_textfile_mtime_seconds", file=self.path)
                             or value(samples, "node_textfile_mtime_seconds",
                                      file="labagent.prom"), samples.keys())
        # Readable by node_exporter's user whatever the UMask; nothing left behind.
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o644)
        self.assertEqual(os.listdir(self.textdir), ["labagent.prom"])

        # The check can fail: a broken file beside it makes node_exporter say so.
        with open(os.path.join(self.textdir, "broken.prom"), "w") as f:
            f.write("# TYPE x counter\nx{a=\"unterminated} 1\n")
        samples, _ = self.exporter.scrape()
        self.assertEqual(value(samples, "node_textfile_scrape_error"), 1)
        os.unlink(os.path.join(self.textdir, "broken.prom"))
        samples, _ = self.exporter.scrape()
        self.assertEqual(value(samples, "node_textfile_scrape_error"), 0)

    def test_unwritable(self):
        """No directory, or a file where the directory should be: a sentence a person can
        act on, the keyword metrics_write_failed, nothing written."""
        for path in (os.path.join(self.dir, "missing", "labagent.prom"),
                     os.path.join(self.dir, "afile", "labagent.prom")):
            with open(os.path.join(self.dir, "afile"), "w"):
                pass
            proc = self.rewrite(path, 1, 0)
            out, err = proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, 1, out + err)
            self.assertIn("error metrics_write_failed: cannot create a file beside " + path, err)
            self.assertIn("does not exist; create it (node_exporter's "
                          "--collector.textfile.directory)", err)
            self.assertFalse(os.path.exists(path))


def main():
    global REWRITER
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    REWRITER = sys.argv.pop(1)
    missing = nodeexporter.installed()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
