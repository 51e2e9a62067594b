#!/usr/bin/python3
"""test_metrics.py - the metrics file (metrics.textfile) of the real agent, end to end,
read through the real node_exporter (issue 17, part 5).

Why: lab IT graphs and alerts on this file; a figure that disagrees with the store, a
counter that goes down or a file node_exporter refuses is worse than no file. The agent
prints on an ippeveprinter and a hot-folder minilab with counted paper and an energy
meter (a counter file), the sandbox platform takes its events, and node_exporter
(prometheus-node-exporter, textfile collector only, 127.0.0.1) is scraped every 0.25 s
through the whole run: every scrape must parse with node_textfile_scrape_error 0.

  figures      after copies printed on both printers and one defect reported (labctl
               reprint), the file's and node_exporter's labagent_prints_total,
               labagent_defects_total (by printer), labagent_jobs (every state, 0
               included) and labagent_outbox_events (by class) equal what sqlite3 reads
               from the store file (prints also equal printer_tally's rows, defects the
               audit log's job.reprint records); printer_up, stock, render count and the
               meter's joules agree with the store too
  meter fault  the counter file gone: labagent_meter_up 0, no power, the joules kept
  restart      SIGKILL and start: the same figures (read whole from the store this
               time), the render histogram since the start (0)
  reload       metrics.textfile renamed and SIGHUP: the new file written, the old one
               deleted (two files with the same metrics would make node_exporter refuse
               both), still scrape_error 0
  unwritable   a directory that does not exist: metrics_write_failed logged once, the
               agent keeps printing, the file appears once the directory does

usage: test_metrics.py LABAGENT EVENT_WRITER [unittest args]
       (LABCTL in the environment: the labctl binary)
"""

import os
import signal
import sys
import threading
import time

import fleet
from fleet import wait_until

sys.path.insert(0, os.path.join(fleet.SOURCE, "tests", "metrics"))
import nodeexporter  # noqa: E402  (node_exporter on loopback, the exposition parser)

# Every job-state keyword of agent/job/job-state.h.
JOB_STATES = ("claiming", "accepted", "downloading", "downloaded", "rendering", "rendered",
              "queued", "submitting", "printing", "printed", "reported", "rejected", "held",
              "rerouted", "uncertain", "canceled", "failed", "dropped")
PAPER = "paper-4x6"
CONSUMABLE = {"name": PAPER, "kind": "paper", "unit": "prints", "capacity": 400,
              "uses": {"na_index-4x6_4x6in": 1}, "low": 40}
CONFIG = ("jobs:\n  poll_interval: 200ms\n  status_interval: 2s\n"
          "stock:\n  report_interval: 2s\n")
METER = "minilab-plug"
WAIT_JOBS = 120.0  # jobs printed (ASan builds render slowly)
WAIT_FILE = 60.0  # the file catching up with the store: its 15 s tick, a few times over
WAIT_STATE = 30.0  # a meter fault, the outbox delivered
SCRAPE_EVERY = 0.25
MAX_SCRAPES = 20000


class Scraper(threading.Thread):
    """Scrape node_exporter every SCRAPE_EVERY s until stopped (at most MAX_SCRAPES):
    every scrape that fails, does not parse or says scrape_error other than 0 is kept."""

    def __init__(self, exporter):
        super().__init__(daemon=True)
        self.exporter = exporter
        self.stopping = threading.Event()
        self.scrapes = 0
        self.with_agent = 0  # scrapes that had the agent's metrics
        self.errors = []

    def run(self):
        while not self.stopping.is_set() and self.scrapes < MAX_SCRAPES:
            self.scrapes += 1
            try:
                samples, text = self.exporter.scrape()
                err = nodeexporter.value(samples, "node_textfile_scrape_error")
                if err != 0:
                    self.errors.append("scrape %d: node_textfile_scrape_error %r\n%s"
                                       % (self.scrapes, err, text))
                if nodeexporter.family(samples, "labagent_jobs"):
                    self.with_agent += 1
            except Exception as e:  # noqa: BLE001  (kept for the test's assertion)
                self.errors.append("scrape %d: %r" % (self.scrapes, e))
            self.stopping.wait(SCRAPE_EVERY)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def by_printer(rows):
    return {r["printer"]: r["n"] for r in rows}


class MetricsTest(fleet.FleetTestCase):
    def setUp(self):
        super().setUp()
        missing = nodeexporter.installed()
        if missing:
            self.fail(missing)
        self.textdir = os.path.join(self.dir, "textfile")
        os.mkdir(self.textdir)
        self.exporter = None
        self.scraper = None

    def tearDown(self):
        if self.scraper:
            self.scraper.stop()
        if self.exporter:
            self.exporter.stop()
        super().tearDown()

    def start_exporter(self):
        self.exporter = nodeexporter.NodeExporter(self.textdir,
                                                  os.path.join(self.dir, "node_exporter.log"))
        self.scraper = Scraper(self.exporter)
        self.scraper.start()

    # ------------------------------------------------------------ the store's side

    def expected(self, ag, printers, meters=True):
        """{(name, labels): value} of what the file must say, from sqlite3 on the store;
        prints and defects each read two ways that must agree."""
        prints = by_printer(ag.query("SELECT printer, count(*) AS n FROM copies "
                                     "WHERE state = 'printed' GROUP BY printer"))
        tallied = by_printer(ag.query("SELECT printer, count(*) AS n FROM printer_tally "
                                      "WHERE what = 'printed' GROUP BY printer"))
        self.assertEqual(prints, tallied, "copies printed and printer_tally disagree")
        defects = by_printer(ag.query("SELECT printer, count(*) AS n FROM printer_tally "
                                      "WHERE what = 'defect' GROUP BY printer"))
        audited = by_printer(ag.query(
            "SELECT json_extract(detail, '$.printer') AS printer, count(*) AS n FROM audit "
            "WHERE action = 'job.reprint' GROUP BY 1"))
        self.assertEqual(defects, audited, "printer_tally's defects and the audit disagree")
        want = {}
        for p in printers:
            want[("labagent_prints_total", (("printer", p),))] = prints.get(p, 0)
            want[("labagent_defects_total", (("printer", p),))] = defects.get(p, 0)
        jobs = {r["state"]: r["n"] for r in ag.query(
            "SELECT state, count(*) AS n FROM jobs GROUP BY state")}
        self.assertLessEqual(set(jobs), set(JOB_STATES), jobs)
        for s in JOB_STATES:
            want[("labagent_jobs", (("state", s),))] = jobs.get(s, 0)
        outbox = {r["class"]: r["n"] for r in ag.query(
            "SELECT class, count(*) AS n FROM events GROUP BY class")}
        for c in ("job", "telemetry"):
            want[("labagent_outbox_events", (("class", c),))] = outbox.get(c, 0)
        for r in ag.query("SELECT printer, item, unit, remaining, capacity, level "
                          "FROM stock_items"):
            labels = (("item", r["item"]), ("printer", r["printer"]))
            if r["unit"] != "percent":
                unit = labels + (("unit", r["unit"]),)
                want[("labagent_stock_remaining", tuple(sorted(unit)))] = r["remaining"]
                want[("labagent_stock_capacity", tuple(sorted(unit)))] = \
                    r["capacity"] if r["capacity"] and r["capacity"] > 0 else None
            want[("labagent_stock_level_ratio", labels)] = \
                r["level"] / 100 if r["level"] is not None and r["level"] >= 0 else None
        if meters:
            for r in ag.query("SELECT name, state, counted_mwh, power_w FROM energy_meters"):
                m = (("meter", r["name"]),)
                known = r["state"] != "unknown"
                want[("labagent_meter_up", m)] = {"ok": 1, "fault": 0}.get(r["state"])
                want[("labagent_meter_energy_joules_total", m)] = \
                    r["counted_mwh"] * 36 / 10 if known else None
                want[("labagent_meter_power_watts", m)] = \
                    r["power_w"] if r["state"] == "ok" and r["power_w"] is not None else None
        return want

    @staticmethod
    def differences(want, samples):
        """What samples say otherwise than want (None in want: must be absent)."""
        out = []
        for key, v in sorted(want.items(), key=repr):
            got = samples.get(key)
            if got != v:
                out.append("%s%s: file %r, store %r" % (key[0], dict(key[1]), got, v))
        for name in {k[0] for k in want}:
            extra = [k for k in samples if k[0] == name and k not in want]
            if extra:
                out.append("%s: not in the store: %s" % (name, extra))
        return out

    def file_samples(self, path):
        try:
            with open(path) as f:
                return nodeexporter.parse(f.read())
        except FileNotFoundError:
            return {}

    def wait_match(self, ag, path, printers, what, meters=True):
        """Wait (WAIT_FILE) until the file and node_exporter's scrape both say what the
        store says; returns the file's samples."""
        deadline = time.monotonic() + WAIT_FILE
        while True:
            want = self.expected(ag, printers, meters)
            samples = self.file_samples(path)
            diff = self.differences(want, samples)
            if not diff:
                scraped, _ = self.exporter.scrape()
                diff = ["node_exporter: " + d for d in self.differences(want, scraped)]
                if not diff:
                    return samples
            if time.monotonic() > deadline:
                self.fail("%s: the metrics file does not match the store after %.0f s:\n  %s"
                          % (what, WAIT_FILE, "\n  ".join(diff)))
            time.sleep(0.5)

    # ------------------------------------------------------------ the tests

    def test_file_equals_store(self):
        sb = self.sandbox()
        ds = self.ipp_printer("ds620", "dnp-ds620")
        mini = self.minilab("minilab")
        counter = os.path.join(self.dir, "energy1_input")
        with open(counter, "w") as f:
            f.write("1000000\n")  # mWh (scale 0.001): 1000 Wh
        path = os.path.join(self.textdir, "labagent.prom")
        extra = (CONFIG + "metrics:\n  textfile: %s\n" % path
                 + "meters:\n  - name: %s\n    driver: file\n    address: %s\n"
                   "    printers: [minilab]\n    interval: 1s\n    timeout: 500ms\n"
                   "    scale: 0.001\n"
                   % (METER, counter))
        printers = ["ds620", "minilab"]
        ag = self.fleet_agent(sb, [ds.config_entry(),
                                   mini.config_entry(consumables=[CONSUMABLE])],
                              workers=2, extra=extra)
        self.start_exporter()
        ag.start()
        rc, out, err = ag.labctl("stock", "load", "minilab", PAPER, "400")
        self.assertEqual(rc, 0, out + err)

        jobs = sb.add_bulk_jobs(8, seed=3, prefix="m-", skus=("print-4x6-glossy",),
                                quantities=(1, 2), width=600, height=900)
        ids = [j["id"] for j in jobs]
        time.sleep(1.5)
        with open(counter, "w") as f:
            f.write("1012345\n")  # 12.345 Wh while printing
        wait_until(lambda: all(ag.jobs().get(i, {}).get("state") in fleet.DONE_STATES
                               for i in ids), WAIT_JOBS, "8 jobs printed", 0.2)
        # One defect: the first job's copy made again.
        rc, out, err = ag.labctl("reprint", ids[0], "--copy", "1", "--defect", "banding")
        self.assertEqual(rc, 0, out + err)
        wait_until(lambda: all(c["state"] == "printed" for c in ag.copies()
                               if c["job_id"] == ids[0]), WAIT_JOBS, "the reprint printed",
                   0.2)
        with open(counter, "w") as f:
            f.write("1020000\n")
        wait_until(lambda: ag.outbox() == 0, WAIT_STATE, "the outbox delivered", 0.2)
        used = {c["printer"] for c in ag.copies() if c["state"] == "printed"}
        print("printed on %s" % sorted(used), file=sys.stderr)

        samples = self.wait_match(ag, path, printers, "after printing")
        total = sum(samples[("labagent_prints_total", (("printer", p),))] for p in printers)
        self.assertEqual(total, len(ag.query("SELECT 1 FROM copies WHERE state = 'printed'")))
        self.assertGreaterEqual(total, 9)
        self.assertEqual(sum(samples[("labagent_defects_total", (("printer", p),))]
                             for p in printers), 1)
        self.assertEqual(sum(v for k, v in samples.items() if k[0] == "labagent_jobs"),
                         len(ids))
        for p in printers:
            self.assertEqual(samples.get(("labagent_printer_up", (("printer", p),))), 1, p)
        renders = len(ag.query("SELECT 1 FROM renders"))
        self.assertEqual(samples[("labagent_render_seconds_count", ())], renders)
        self.assertEqual(samples[("labagent_render_seconds_bucket", (("le", "+Inf"),))],
                         renders)
        self.assertGreater(samples[("labagent_render_seconds_sum", ())], 0)
        paper = (("item", PAPER), ("printer", "minilab"), ("unit", "prints"))
        self.assertEqual(samples[("labagent_stock_remaining", paper)],
                         400 - by_printer(ag.query(
                             "SELECT printer, count(*) AS n FROM copies WHERE state = "
                             "'printed' GROUP BY printer")).get("minilab", 0))
        meter = (("meter", METER),)
        state = ag.query("SELECT state, counted_mwh FROM energy_meters WHERE name = ?",
                         METER)[0]
        self.assertEqual(state["state"], "ok")
        self.assertGreater(state["counted_mwh"], 0)
        self.assertEqual(samples[("labagent_meter_up", meter)], 1)
        self.assertNotIn(("labagent_meter_power_watts", meter), samples)  # a file has none
        with open(path) as f:
            text = f.read()
        self.assertNotIn("NaN", text)
        self.assertIn("# TYPE labagent_prints_total counter\n", text)
        self.assertIn("# TYPE labagent_render_seconds histogram\n", text)

        # The meter fails: up 0, no power, its joules kept (never 0 for unknown).
        os.unlink(counter)
        wait_until(lambda: ag.query("SELECT state FROM energy_meters WHERE name = ?",
                                    METER)[0]["state"] == "fault", WAIT_STATE,
                   "the meter in fault", 0.2)
        samples = self.wait_match(ag, path, printers, "meter in fault")
        self.assertEqual(samples[("labagent_meter_up", meter)], 0)
        self.assertEqual(samples[("labagent_meter_energy_joules_total", meter)],
                         state["counted_mwh"] * 36 / 10)
        self.assertNotIn(("labagent_meter_power_watts", meter), samples)

        # A crash and a start: the lifetime figures read whole from the store agree.
        before = {k: v for k, v in samples.items()
                  if k[0] in ("labagent_prints_total", "labagent_defects_total")}
        inode = os.stat(path).st_ino
        ag.kill()
        ag.start()
        wait_until(lambda: os.stat(path).st_ino != inode, WAIT_FILE,
                   "the file written by the new process", 0.2)
        samples = self.wait_match(ag, path, printers, "after a restart")
        self.assertEqual({k: v for k, v in samples.items() if k in before}, before)
        self.assertEqual(samples[("labagent_render_seconds_count", ())], 0)  # since start

        # Another file name at a reload: the new one written, the old one deleted.
        path2 = os.path.join(self.textdir, "labagent-lab.prom")
        with open(ag.config) as f:
            config = f.read()
        with open(ag.config, "w") as f:
            f.write(config.replace(path, path2))
        ag.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: os.path.exists(path2) and not os.path.exists(path), WAIT_FILE,
                   "the file renamed at the reload", 0.2)
        self.wait_match(ag, path2, printers, "after the reload")
        self.assertEqual(sorted(os.listdir(self.textdir)), ["labagent-lab.prom"])
        self.assertTrue(ag.running(), ag.tail())

        self.scraper.stop()
        self.assertEqual(self.scraper.errors, [], "\n".join(self.scraper.errors[:3]))
        self.assertGreaterEqual(self.scraper.with_agent, 20, "%d of %d scrapes had the file"
                                % (self.scraper.with_agent, self.scraper.scrapes))
        print("%d scrapes, %d with the agent's metrics, scrape_error 0 in every one"
              % (self.scraper.scrapes, self.scraper.with_agent), file=sys.stderr)
        self.assertEqual(ag.log().count("metrics_write_failed"), 0, ag.tail())
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_directory_missing(self):
        sb = self.sandbox()
        mini = self.minilab("minilab")
        path = os.path.join(self.dir, "not-yet", "labagent.prom")
        ag = self.fleet_agent(sb, [mini], workers=1,
                              extra=CONFIG + "metrics:\n  textfile: %s\n" % path)
        ag.start()
        # Two ticks at least: the failure logged once, the agent printing meanwhile.
        jobs = sb.add_bulk_jobs(2, seed=4, prefix="d-", skus=("print-4x6-glossy",),
                                quantities=(1,), width=600, height=900)
        wait_until(lambda: all(ag.jobs().get(j["id"], {}).get("state") in fleet.DONE_STATES
                               for j in jobs), WAIT_JOBS, "2 jobs printed", 0.2)
        wait_until(lambda: "metrics_write_failed" in ag.log(), WAIT_STATE,
                   "metrics_write_failed logged", 0.2)
        time.sleep(17)  # one more tick (15 s) at least: not logged again
        failed = [ln for ln in ag.log().splitlines() if "metrics_write_failed" in ln]
        self.assertEqual(len(failed), 1, failed)
        self.assertIn("the directory %s does not exist; create it (node_exporter's "
                      "--collector.textfile.directory)" % os.path.dirname(path), failed[0])
        self.assertTrue(ag.running(), ag.tail())
        self.assertFalse(os.path.exists(os.path.dirname(path)))
        os.mkdir(os.path.dirname(path))
        wait_until(lambda: os.path.exists(path), WAIT_FILE, "the file once the directory is "
                   "there", 0.2)
        self.assertIn("metrics: %s written again" % path, ag.log())
        samples = self.file_samples(path)
        self.assertEqual(samples[("labagent_prints_total", (("printer", "minilab"),))], 2)
        self.assertEqual(samples[("labagent_jobs", (("state", "printed"),))]
                         + samples[("labagent_jobs", (("state", "reported"),))], 2)
        self.assertEqual(ag.stop(), 0, ag.tail())


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
