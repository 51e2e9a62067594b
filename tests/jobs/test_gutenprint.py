#!/usr/bin/python3
"""test_gutenprint.py - the real agent prints through real Gutenprint dye-sub
queues (issue 13).

Why: the colour promise ends at the printer's input. Only the real daemon,
fed a real photo by the sandbox platform and printing through cupsd with
Gutenprint's DNP DS620 and Mitsubishi CP-D90DW drivers (fleet.GutenprintCups),
shows that what the printer is told to print is exactly what the agent
rendered, and that the ways a vendor queue goes wrong reach the platform:

  1. every product of both models (4x6 and 5x7 glossy and matte, 6x8) from a
     6-megapixel master with an embedded ICC profile and an EXIF orientation
     (so the agent rotates and converts) comes out of each queue as printer
     data (dyesub.py) equal in every pixel to the agent's print file, portrait,
     at the printable size;
  2. a colour-altering queue default set behind the agent's back makes the
     printer unavailable (queue_colour_altered) within a status interval, the
     next job goes to the other printer, the reset brings it back;
     --check-config refuses colour options and media names the queue lacks;
  3. a product size the queue does not have is refused (printer_refused with
     the queue's sizes), nothing printed at a default size, the job held;
  4. a print file the CUPS filter cannot open: the job cupsd holds stopped is
     cancelled and the attempt fails (filter_failed) within a poll, while the
     other printer goes on printing;
  5. the agent killed the instant cupsd has a copy, cupsd restarted: the copy
     found by name, printed once;
  6. the real USB backend (test mode, 6x4 loaded) cancels a 5x7: media_mismatch.

One cupsd for the class; no D-Bus or avahi. Runs as root (cupsd writes its
device files 0600 root).

usage: test_gutenprint.py LABAGENT EVENT_WRITER [unittest args]
       (LABCTL in the environment names the labctl binary)
"""

import base64
import collections
import datetime
import os
import re
import subprocess
import sys
import time

import dyesub
import fleet
from fleet import wait_until

# The print master: stored landscape, shown portrait (EXIF 6), in ColorMatch RGB (no
# paper profile of the registry), so every render rotates and converts.
MASTER_SIZE = (3000, 2000)
MASTER_ORIENTATION = 6
MASTER_PROFILE = "/usr/share/color/icc/colord/ColorMatchRGB.icc"
MASTER_ASSET = "photo-master"

POLL = 0.2  # jobs.poll_interval, s
STATUS = 1.0  # jobs.status_interval, s
JOBS_CONFIG = "jobs:\n  poll_interval: 200ms\n  status_interval: 1s\n  max_attempts: 2\n"
PRODUCTS = fleet.PRODUCTS + [{"sku": "print-6x8-glossy", "media": "custom_6x8_6x8in"}]
# printers[].options: the rawest path (../shared/design/TEST-PEERS-gutenprint.md).
OPTIONS = {"dnp-ds620": {"StpColorCorrection": "Raw"},
           "mitsubishi-cp-d90": {"StpColorCorrection": "Raw", "StpUseLUT": "False",
                                 "StpSharpen": "0"}}
DNP_MEDIA_6X4 = 300  # what the USB backend's test mode says is loaded

# Bounds of the waits (ASan builds included).
WAIT_JOB = 90.0  # one job: offer, download, render of the master, print
WAIT_EVENT = 30.0  # an event recorded by the agent reaching the platform
WAIT_STATUS = STATUS + 2.0  # a queue change seen (one status interval) and told
FILTER_FAILS = 1.0  # cupsd starting a job whose filter cannot open its file, until stopped


class GutenprintAgentTest(fleet.GutenprintClass, fleet.FleetTestCase):
    USB_MEDIA = DNP_MEDIA_6X4

    @classmethod
    def set_up_class(cls):
        cls.master = os.path.join(cls.classdir, "master.jpg")
        dyesub.photo(cls.master, *MASTER_SIZE, profile=MASTER_PROFILE,
                     orientation=MASTER_ORIENTATION)
        with open(cls.master, "rb") as f:
            cls.master_b64 = base64.b64encode(f.read()).decode()

    # ------------------------------------------------------------ helpers

    def entry(self, queue, **extra):
        """queue of the class's cupsd as a printer of the agent: OPTIONS, one copy at a
        time."""
        extra.setdefault("options", OPTIONS[fleet.GUTENPRINT_MODELS[queue]])
        extra.setdefault("queue_depth", 1)
        return self.gp.config_entry(queue, **extra)

    def agent(self, sb, queues, extra=JOBS_CONFIG, **kw):
        """An agent printing to queues (names, or entry() dicts), selling PRODUCTS;
        started."""
        entries = [q if isinstance(q, dict) else self.entry(q) for q in queues]
        kw.setdefault("products", PRODUCTS)
        kw.setdefault("profiles_dir", fleet.PROFILES_DIR)
        return self.fleet_agent(sb, entries, workers=1, extra=extra, **kw).start()

    def offer(self, sb, job_id, sku):
        """Offer a job of one copy of the master (uploaded with the sandbox's first job)."""
        spec = {"id": job_id, "order_id": "o-" + job_id, "sku": sku, "quantity": 1,
                "asset_id": MASTER_ASSET}
        if not getattr(sb, "has_master", False):
            spec["asset_data_b64"] = self.master_b64
            sb.has_master = True
        sb.add_jobs([spec])

    def labctl(self, ag, *args):
        rc, out, err = ag.labctl(*args)
        self.assertEqual(rc, 0, "labctl %s: %s%s" % (" ".join(args), out, err))
        return out

    def wait_printers(self, ag, **available):
        """Wait until labctl printers shows each named printer (un)available."""
        def ok():
            rc, out, _ = ag.labctl("printers", json_out=True)
            return rc == 0 and all(p["available"] == available[p["name"]]
                                   for p in out["printers"] if p["name"] in available)
        wait_until(ok, WAIT_JOB, "printers %s" % available, 0.1)

    @staticmethod
    def copy_row(ag, job, copy=1):
        rows = [c for c in ag.copies() if (c["job_id"], c["copy"]) == (job, copy)]
        return rows[0] if rows else None

    def wait_copy(self, ag, job, states, copy=1, timeout=WAIT_JOB):
        """Wait (bounded) until the copy is in one of states: its row."""
        def there():
            c = self.copy_row(ag, job, copy)
            return c if c and c["state"] in states else None
        try:
            return wait_until(there, timeout, "%s copy %d %s" % (job, copy, states), 0.05)
        except AssertionError:
            raise AssertionError("%s copy %d not %s within %.0f s: %s\n%s"
                                 % (job, copy, states, timeout, self.copy_row(ag, job, copy),
                                    self.log_of(ag, job)))

    @staticmethod
    def log_of(ag, job, lines=20):
        return "\n".join([l for l in ag.log().splitlines() if job in l][-lines:])

    @staticmethod
    def events(sb, kind, job=None):
        return [e for e in sb.events() if e["kind"] == kind
                and (job is None or e.get("job_id") == job)]

    def wait_event(self, sb, kind, job=None, match=lambda body: True, timeout=WAIT_EVENT,
                   after=None):
        """Wait (bounded) for an event at the platform: the first that matches (and was
        recorded after the event after)."""
        return wait_until(lambda: next((e for e in self.events(sb, kind, job)
                                        if match(e["body"])
                                        and (after is None or e["seq"] > after["seq"])), None),
                          timeout, "%s%s at the platform" % (kind, " for " + job if job else ""),
                          0.05)

    @staticmethod
    def unix(stamp):
        """An RFC 3339 UTC time with milliseconds (the agent's) as a Unix time."""
        return datetime.datetime.strptime(stamp.replace("Z", "+0000"),
                                          "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()

    def at(self, event):
        """The agent's time of an event."""
        return self.unix(event["at"])

    def device_state(self, queue):
        data = self.gp.device_bytes(queue)
        return (len(data), hash(data)) if data is not None else None

    # ------------------------------------------------------------ 1. exact pixels

    def print_exact(self, sb, ag, queue, job, sku):
        """Offer job (sku) while only queue takes work; wait until the copy is printed
        and compare the queue's printer data with the agent's print file: the result
        dict (also in the class report)."""
        t0 = time.monotonic()
        self.offer(sb, job, sku)
        self.wait_copy(ag, job, ("printed",))
        seconds = time.monotonic() - t0
        stream = self.gp.device_bytes(queue)  # the queue's next job is not sent yet
        body = self.wait_event(sb, "job.rendered", job)["body"]
        audit = body["audit"]
        self.assertEqual(body["printer"], queue)
        got = dyesub.decode(stream)
        ref = dyesub.decode_jpeg(body["output"])
        media = next(p["media"] for p in PRODUCTS if p["sku"] == sku)
        # Compared where both have pixels (all of them unless the sizes differ).
        w, h = min(got[0], ref[0]), min(got[1], ref[1])
        both = dyesub.crop(got, 0, 0, w, h), dyesub.crop(ref, 0, 0, w, h)
        r = {"queue": queue, "sku": sku, "rendered": ref[:2], "printed": got[:2],
             "pixels": w * h, "differing": dyesub.compare(*both), "seconds": seconds}
        r["first"] = dyesub.first_difference(*both) if r["differing"] else None
        self.report.append("%-6s %-17s %-19s rendered %4dx%-4d printed %4dx%-4d %8d pixels, "
                           "%d differ, %.1f s" % (queue, sku, media, ref[0], ref[1], got[0],
                                                   got[1], r["pixels"], r["differing"],
                                                   seconds))
        # The agent turned the master upright (EXIF) and converted it from its embedded
        # profile.
        self.assertEqual((audit["input_width"], audit["input_height"], audit["orientation"],
                          audit["input_profile"]),
                         (MASTER_SIZE[1], MASTER_SIZE[0], MASTER_ORIENTATION,
                          "embedded: ColorMatch RGB"), audit)
        self.assertEqual((audit["width"], audit["height"]), ref[:2])
        return r

    def test_1_every_product_exact_on_both_printers(self):
        sb = self.sandbox()
        ag = self.agent(sb, ["ds620", "d90"])
        results = []
        for queue, other in (("ds620", "d90"), ("d90", "ds620")):
            self.labctl(ag, "pause", other, "--reason", "the test prints on %s" % queue)
            self.labctl(ag, "resume", queue)
            self.wait_printers(ag, **{queue: True, other: False})
            for k, product in enumerate(PRODUCTS):
                results.append(self.print_exact(sb, ag, queue, "x-%s-%d" % (queue, k),
                                                product["sku"]))
        bad = ["%(queue)s %(sku)s: rendered %(rendered)s, printed %(printed)s, %(differing)d of "
               "the %(pixels)d pixels both have differ (first: %(first)s)" % r
               + (" (the registry's media table is not the size the queue prints)"
                  if r["printed"] != r["rendered"] else "")
               for r in results if r["printed"] != r["rendered"] or r["differing"]
               or r["printed"][0] > r["printed"][1]]
        self.assertEqual(bad, [], "prints that are not the agent's print file, portrait, at "
                         "the printable size:\n  " + "\n  ".join(bad))
        wait_until(lambda: ag.outbox() == 0, WAIT_EVENT, "the outbox delivered", 0.1)
        printed = collections.Counter(e["job_id"] for e in self.events(sb, "job.copy_printed"))
        self.assertEqual(set(printed.values()), {1}, printed)
        self.assertEqual(len(printed), 2 * len(PRODUCTS))
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())

    # ------------------------------------------------------------ 2. colour

    def check_config(self, sb, printers, want_rc):
        """labagent --check-config on a config for printers: its stderr lines."""
        path = os.path.join(self.dir, "check-%d.yaml" % len(os.listdir(self.dir)))
        with open(path, "w") as f:
            f.write(fleet.agent_config(sb.api_port, fleet.tl.CERTS,
                                       os.path.join(self.dir, "check-state"), printers,
                                       PRODUCTS))
        p = subprocess.run([fleet.tl.LABAGENT, "--check-config", path], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, want_rc, "--check-config %s: %s%s"
                         % (printers, p.stdout, p.stderr))
        return p.stderr.splitlines()

    def test_2_colour_altering_queue_default(self):
        sb = self.sandbox()
        ag = self.agent(sb, [self.entry("ds620", weight=10), "d90"])
        self.wait_printers(ag, ds620=True, d90=True)
        # ds620 weighs more: an idle lab sends the job there.
        self.offer(sb, "colour-0", "print-5x7-matte")
        self.assertEqual(self.wait_copy(ag, "colour-0", ("printed",))["printer"], "ds620")
        ds620_before = self.device_state("ds620")
        altered = lambda b: (b["printer"] == "ds620" and not b["available"]  # noqa: E731
                             and b["reason"].startswith("queue_colour_altered"))
        try:
            self.gp.lpadmin_option("ds620", "StpGamma=1500")
            t_set = time.time()
            ev = self.wait_event(sb, "printer.status", match=altered, timeout=WAIT_STATUS)
            told = time.time() - t_set
            noticed = self.at(ev) - t_set
            self.assertIn("StpGamma=1500", ev["body"]["reason"])
            self.assertLessEqual(noticed, STATUS + 0.5, "noticed %.2f s after the change"
                                 % noticed)
            # The next job goes to d90; ds620 gets nothing.
            self.offer(sb, "colour-1", "print-5x7-matte")
            row = self.wait_copy(ag, "colour-1", ("printed",))
            self.assertEqual(row["printer"], "d90")
            self.assertEqual(self.device_state("ds620"), ds620_before)
            self.assertEqual([j for j in self.gp.jobs("ds620") if j[1].startswith("colour-1/")],
                             [])
            # --check-config warns about the queue (only printers with media are asked).
            lines = self.check_config(sb, [self.gp.config_entry(
                "ds620", media={"na_5x7_5x7in": "w360h504"})], 0)
            self.assertTrue([l for l in lines if "warning: queue_colour_altered" in l
                             and "StpGamma=1500" in l], lines)
        finally:
            self.gp.lpadmin_option("ds620", "StpGamma=None")
        t_reset = time.time()
        back = self.wait_event(sb, "printer.status", timeout=WAIT_STATUS, after=ev,
                               match=lambda b: b["printer"] == "ds620" and b["available"])
        self.report.append("queue_colour_altered: noticed %.2f s, at the platform %.2f s after "
                           "lpadmin; available again %.2f s after the reset"
                           % (noticed, told, self.at(back) - t_reset))
        # --check-config: a colour option refused; a media name the queue lacks refused with
        # the queue's sizes.
        lines = self.check_config(sb, [self.gp.config_entry(
            "ds620", options={"saturation": "150"})], 1)
        self.assertTrue([l for l in lines if "printers[0].options.saturation" in l
                         and l.endswith("[colour_managed_twice]")], lines)
        lines = self.check_config(sb, [self.gp.config_entry(
            "ds620", media={"na_5x7_5x7in": "w999"})], 1)
        refused = [l for l in lines if "printers[0].media.na_5x7_5x7in" in l
                   and l.endswith("[printer_refused]")]
        self.assertEqual(len(refused), 1, lines)
        for size in ("w288h432", "w360h504", "w432h576", "B7"):
            self.assertIn(size, refused[0])
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())

    # ------------------------------------------------------------ 3. no such size

    def test_3_size_the_queue_does_not_have(self):
        """The DS620's media table lists 8x10 (a copy of the registry), the queue has no
        such size: refused with the queue's sizes, nothing printed, the job held."""
        profiles = os.path.join(self.dir, "profiles")
        os.makedirs(profiles)
        with open(os.path.join(fleet.PROFILES_DIR, "registry.yaml")) as f:
            text = f.read()
        line = re.search(r"\n( *- \{ name: custom_6x8_6x8in, width: 1844, [^\n]*)\n", text)
        self.assertIsNotNone(line, "the registry's DS620 6x8 line")
        text = text.replace(line.group(0), "\n%s\n%s- { name: na_govt-letter_8x10in, "
                            "width: 2436, height: 3036, dpi: 300 }\n"
                            % (line.group(1), line.group(1)[:line.group(1).index("-")]), 1)
        with open(os.path.join(profiles, "registry.yaml"), "w") as f:
            f.write(text)
        sb = self.sandbox()
        before = self.device_state("ds620")
        products = PRODUCTS + [{"sku": "print-8x10", "media": "na_govt-letter_8x10in"}]
        ag = self.agent(sb, ["ds620"], products=products, profiles_dir=profiles)
        self.offer(sb, "big-1", "print-8x10")
        held = self.wait_event(sb, "job.held", "big-1", timeout=WAIT_JOB)["body"]
        self.assertEqual(held["reason"], "no_printer", held)
        # Known unfit from the queue's sizes (the router says so in the hold), or, when the
        # job was routed before they were read, refused at the send (job.rerouted).
        rerouted = self.events(sb, "job.rerouted", "big-1")
        self.assertEqual([e["body"]["reason"] for e in rerouted],
                         ["printer_refused"] * len(rerouted), rerouted)
        detail = rerouted[0]["body"]["detail"] if rerouted else held["detail"]
        self.assertIn("printer_refused: printer ds620 has no size that is", detail)
        for size in ("na_govt-letter_8x10in", "w288h432 (4x6)", "w360h504 (5x7)", "w432h576"):
            self.assertIn(size, detail)
        self.assertEqual(ag.job_states()["big-1"], "held")
        self.assertEqual(self.device_state("ds620"), before, "ds620 printed something")
        self.assertEqual([j for j in self.gp.jobs("ds620") if j[1].startswith("big-1/")], [])
        self.assertEqual(self.events(sb, "job.copy_printed", "big-1"), [])
        self.assertIn("printer ds620: na_govt-letter_8x10in (model dnp-ds620) is not sent to "
                      "it: printer_refused:", ag.log())
        self.report.append("8x10 on ds620: %s printer_refused: %s; job.held %s"
                           % ("job.rerouted" if rerouted else "routing", detail, held["reason"]))

    # ------------------------------------------------------------ 4. stuck filter

    def sent_at(self, ag, job_name):
        """The agent's log time of 'sent to PRINTER as JOB_NAME' as a Unix time."""
        for line in ag.log().splitlines():
            if line.endswith(")") and " as %s (handle " % job_name in line:
                return self.unix(line.split(" ", 1)[0])
        raise AssertionError("no 'sent ... as %s' in the agent's log" % job_name)

    def test_4_filter_that_cannot_open_the_print_file(self):
        """A print file imagetoraster cannot open (no APPn marker): a copy of a job printed
        on ds620 is reprinted from its overwritten print file (the agent sends what is on
        disk; a paused printer takes no routed work, so the reprint is the one way to send
        a chosen file to a chosen printer without a race). cupsd holds each attempt
        processing-stopped; the agent cancels it at its next poll and fails the attempt,
        filter_failed, while d90 prints another job."""
        sb = self.sandbox()
        # Health checks far apart: what fails the attempt is the poll.
        ag = self.agent(sb, ["ds620", "d90"], extra=JOBS_CONFIG.replace(
            "status_interval: 1s", "status_interval: 10s"))
        self.labctl(ag, "pause", "d90", "--reason", "f-1 goes to ds620")
        self.wait_printers(ag, ds620=True, d90=False)
        self.offer(sb, "f-1", "print-4x6-glossy")
        self.wait_copy(ag, "f-1", ("printed",))
        output = self.wait_event(sb, "job.rendered", "f-1")["body"]["output"]
        self.labctl(ag, "resume", "d90")
        self.wait_printers(ag, ds620=True, d90=True)
        with open(output, "rb") as f:
            data = f.read()
        with open(output, "wb") as f:
            f.write(dyesub.without_app_markers(data))
        self.labctl(ag, "reprint", "f-1", "--copy", "1", "--defect", "other", "--note",
                    "the test: a print file the CUPS filter cannot open")
        self.offer(sb, "f-2", "print-5x7-matte")
        t0 = time.time()
        failed = self.wait_event(sb, "job.copy_failed", "f-1", timeout=WAIT_JOB)
        aborted = self.events(sb, "job.copy_aborted", "f-1")
        self.assertEqual([(e["body"]["copy"], e["body"]["attempt"], e["body"]["reason"])
                          for e in aborted + [failed]],
                         [(2, 1, "filter_failed"), (2, 2, "filter_failed")], aborted + [failed])
        for e in aborted + [failed]:  # cupsd's words: the filter's, or its own after it
            self.assertIn(e["body"]["message"], ("The print file could not be opened.",
                                                 "Filter failed"), e)
            self.assertEqual(e["body"]["printer"], "ds620")
        # Each attempt aborted within one poll of cupsd stopping it (imagetoraster fails
        # within about 0.3 s of the job's start), not a status interval or stall_after later.
        delays = [self.at(e) - self.sent_at(ag, e["body"]["job_name"])
                  for e in aborted + [failed]]
        self.assertTrue(all(d <= POLL + FILTER_FAILS for d in delays),
                        "attempts aborted %s s after their sends (at most %.1f s)"
                        % (["%.2f" % d for d in delays], POLL + FILTER_FAILS))
        # cupsd holds none of them: each cancelled there (it can never print later).
        jobs = self.gp.jobs("ds620")
        held = [j for j in jobs if j[1].startswith("f-1/2/")]
        self.assertEqual(sorted(j[1:] for j in held),
                         [("f-1/2/1", "canceled"), ("f-1/2/2", "canceled")], jobs)
        # Meanwhile d90 printed the other job.
        row = self.wait_copy(ag, "f-2", ("printed",))
        self.assertEqual(row["printer"], "d90")
        printed_f2 = self.at(self.wait_event(sb, "job.copy_printed", "f-2"))
        self.report.append("filter_failed: send -> copy_aborted/failed %s s (poll %.1f s); "
                           "f-2 printed on d90 %.2f s after the reprint's first send; f-1 %s"
                           % (", ".join("%.2f" % d for d in delays), POLL,
                              printed_f2 - self.sent_at(ag, "f-1/2/1"),
                              ag.job_states()["f-1"]))
        self.assertLess(time.time() - t0, WAIT_JOB)
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())

    # ------------------------------------------------------------ 5. cupsd restart

    def test_5_killed_when_cupsd_has_the_copy_then_cupsd_restarted(self):
        sb = self.sandbox()
        px = self.proxy(self.gp.port, "cupsd")
        ag = self.agent(sb, [self.entry("ds620", uri=px.uri("/printers/ds620"))])
        px.arm(lambda _name: ag.kill())
        self.offer(sb, "r-1", "print-4x6-glossy")
        name = px.wait_fired(WAIT_JOB)
        self.assertEqual(px.errors, [])
        self.assertEqual(name, "r-1/1/1")
        row = self.copy_row(ag, "r-1")
        self.assertFalse(ag.running())
        self.assertEqual((row["state"], row["attempt"], row["handle"]), ("submitting", 1, None))
        wait_until(lambda: not self.gp.jobs("ds620", which="not-completed"), WAIT_JOB,
                   "%s finished in cupsd" % name, 0.05)
        stream = self.gp.device_bytes("ds620")
        self.gp.restart()  # SIGTERM: PreserveJobHistory keeps the job
        self.assertEqual([j[1:] for j in self.gp.jobs("ds620") if j[1] == name],
                         [(name, "completed")])
        ag.start()
        row = self.wait_copy(ag, "r-1", ("printed", "uncertain", "failed"))
        self.assertEqual((row["state"], row["attempt"]), ("printed", 1), row)
        wait_until(lambda: ag.outbox() == 0, WAIT_EVENT, "the outbox delivered", 0.1)
        printed = self.events(sb, "job.copy_printed", "r-1")
        self.assertEqual([e["body"]["job_name"] for e in printed], [name])
        self.assertEqual(self.events(sb, "job.copy_uncertain", "r-1"), [])
        self.assertEqual([j[1] for j in self.gp.jobs("ds620") if j[1].startswith("r-1/")],
                         [name])
        pages = [p for p in self.gp.page_log() if p[2].startswith("r-1/")]
        self.assertEqual([(p[0], p[2]) for p in pages], [("ds620", name)])
        self.assertEqual(self.gp.device_bytes("ds620"), stream)  # nothing printed since
        ref = dyesub.decode_jpeg(self.wait_event(sb, "job.rendered", "r-1")["body"]["output"])
        self.assertEqual(dyesub.compare(dyesub.decode(stream), ref), 0)
        self.report.append("cupsd restart: %s found by name after the restart, 1 cupsd job, "
                           "%d page_log line, %d job.copy_printed" % (name, len(pages),
                                                                      len(printed)))
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())

    # ------------------------------------------------------------ 6. media not loaded

    def test_6_media_not_loaded(self):
        """The real USB backend (test mode) with 6x4 loaded: a 5x7 is cancelled by the
        backend, media_mismatch with its words, on every attempt; a 4x6 prints."""
        sb = self.sandbox()
        ag = self.agent(sb, [fleet.GUTENPRINT_USB_QUEUE])
        self.offer(sb, "m-1", "print-5x7-glossy")
        failed = self.wait_event(sb, "job.copy_failed", "m-1", timeout=WAIT_JOB)
        events = self.events(sb, "job.copy_aborted", "m-1") + [failed]
        self.assertEqual([(e["body"]["attempt"], e["body"]["reason"]) for e in events],
                         [(1, "media_mismatch"), (2, "media_mismatch")], events)
        for e in events:
            self.assertIn("Incorrect media for job loaded (300 vs 3)", e["body"]["message"])
        self.offer(sb, "m-2", "print-4x6-matte")
        self.wait_copy(ag, "m-2", ("printed",))
        self.report.append("media_mismatch: %s" % failed["body"]["message"])
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__, peers=False))
