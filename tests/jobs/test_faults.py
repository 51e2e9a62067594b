#!/usr/bin/python3
"""test_faults.py - the print stage through faults of its peers: a printer
killed mid-run, the platform down for half the run, a printer out of media.

Why: a lab's printers crash, run out of ribbon and lose their network, and
its uplink goes down; none of it may cost a print or print one twice, and
work must move to the printers that can do it, or wait for one with a reason
a person can act on, never fail. Each test drives the real agent against
real peers (ippeveprinter, a minilab hot folder, the sandbox platform),
breaks one of them, and then reads what each printer printed (its job
script's ledger) and what the platform heard.

  killed printer   its unstarted jobs rerouted (job.rerouted, reason as the
                   agent reports it) to the other printer; jobs for a size
                   only it has held (job.held no_printer), not failed; the
                   copy it was printing never printed twice (uncertain at
                   most); restarted: the held jobs printed on it.
  platform down    jobs downloaded, then the API unreachable: printing goes
                   on; back up: every event delivered (job.printed for every
                   job, outbox empty, no contract violation).
  media empty      the copy aborted (job.copy_aborted), the printer
                   unavailable (printer.status: media_empty), its waiting
                   jobs rerouted; refilled: it prints again.

usage: test_faults.py LABAGENT EVENT_WRITER [unittest args]
"""

import collections
import sys
import time

import fleet
from fleet import wait_until

JOBS_CONFIG = "jobs:\n  poll_interval: 200ms\n  status_interval: 1s\n"
WAIT_PRINT = 150.0  # every job of a test printed (ASan included)
WAIT_STEP = 60.0  # one step of a scenario
MEDIA_8X10 = "na_govt-letter_8x10in"
PRODUCTS_8X10 = fleet.PRODUCTS + [{"sku": "print-8x10-glossy", "media": MEDIA_8X10}]
DONE = set(fleet.DONE_STATES)


def of_kind(events, kind, **body):
    """Events of kind whose body has every key=value of body."""
    return [e for e in events if e["kind"] == kind
            and all((e.get("body") or {}).get(k) == v for k, v in body.items())]


class FaultTest(fleet.FleetTestCase):
    def lab(self, sb, printers, products=None, **kw):
        ag = self.fleet_agent(sb, printers, products=products, workers=2, extra=JOBS_CONFIG, **kw)
        return ag

    # ------------------------------------------------------------ a) printer killed

    def test_printer_killed_work_rerouted_or_held_then_printed(self):
        sb = self.sandbox()
        # ds620 is slow (4 s a print) and the only one with 8x10 paper (an IPP Everywhere
        # model: a real DS620 has no 8x10).
        ds620 = self.ipp_printer("ds620", "ipp-everywhere", delay=4, extra_media=(MEDIA_8X10,))
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=0.2,
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        # ds620 weighs 3: the router gives it most of the work, so some waits there.
        ag = self.lab(sb, [ds620.config_entry(queue_depth=1, timeout="3s", weight=3),
                           cpd90.config_entry(queue_depth=1, timeout="5s")],
                      products=PRODUCTS_8X10)
        ag.start()
        small = sb.add_bulk_jobs(12, seed=11, prefix="s-", skus=("print-4x6-glossy",),
                                 quantities=(1,), width=600, height=900)
        # The 8x10 jobs accepted after the small ones: queued behind them at ds620.
        wait_until(lambda: len(ag.job_states()) == len(small), WAIT_STEP,
                   "the small jobs accepted", 0.05)
        big = sb.add_bulk_jobs(2, seed=12, prefix="big-", skus=("print-8x10-glossy",),
                               quantities=(1, 2), width=600, height=750)
        expected = {j["id"]: j["quantity"] for j in small + big}
        big_ids = {j["id"] for j in big}

        def at_ds620():
            """(copies being printed at ds620, jobs queued there with no copy sent)."""
            rows = ag.copies()
            busy = [(c["job_id"], c["copy"]) for c in rows if c["printer"] == "ds620"
                    and c["state"] in ("submitting", "printing")]
            per_job = collections.defaultdict(set)
            for c in rows:
                if c["printer"] == "ds620":
                    per_job[c["job_id"]].add(c["state"])
            waiting = sorted(j for j, s in per_job.items() if s == {"queued"})
            return busy, waiting

        # Kill it while it prints one copy and has the 8x10 jobs (and maybe more) waiting.
        def ready_to_kill():
            busy, waiting = at_ds620()
            inflight = [n for n in ds620.received_job_names()
                        if n not in ds620.printed_job_names()]
            return (busy and inflight and big_ids <= set(waiting)
                    and len(waiting) > len(big_ids)) and (busy, waiting, inflight)
        busy, waiting, inflight = wait_until(ready_to_kill, WAIT_STEP,
                                             "ds620 printing with jobs waiting", 0.1)
        ds620.kill()
        t_kill = time.monotonic()
        moved = sorted(set(waiting) - big_ids)
        print("killed ds620 printing %s (%s); waiting there: %s" % (busy, inflight, waiting),
              file=sys.stderr)

        # Its unstarted small jobs go to cpd90; the 8x10 jobs wait with a reason.
        wait_until(lambda: all(ag.jobs()[j]["state"] == "held" for j in big_ids)
                   and all(ag.jobs()[j]["state"] in DONE for j in moved), WAIT_STEP,
                   "8x10 jobs held, ds620's other waiting jobs printed elsewhere", 0.2)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.2)
        events = sb.events()
        rerouted = of_kind(events, "job.rerouted", **{"from": "ds620"})
        print("job.rerouted: %s" % sorted({(e["body"]["reason"], e["body"]["detail"][:80])
                                           for e in rerouted}), file=sys.stderr)
        self.assertEqual({e["job_id"] for e in rerouted}, set(waiting))
        for e in rerouted:
            self.assertEqual(e["body"]["reason"], "printer_unreachable", e)
            self.assertIn("ds620", e["body"]["detail"])
        jobs = ag.jobs()
        for j in moved:
            self.assertEqual(jobs[j]["printer"], "cpd90", jobs[j])
        for j in big_ids:
            self.assertEqual((jobs[j]["state"], jobs[j]["reason"]), ("held", "no_printer"))
            held = of_kind(events, "job.held")
            self.assertTrue([e for e in held if e["job_id"] == j], j)
            for e in held:
                self.assertEqual(e["body"]["reason"], "no_printer", e)
                self.assertIn("ds620", e["body"]["detail"])
                self.assertIn("cpd90", e["body"]["detail"])
        self.assertEqual(of_kind(events, "job.failed"), [])
        # The copy being printed is not sent anywhere else while its printer is gone.
        for job, copy in busy:
            row = [c for c in ag.copies() if (c["job_id"], c["copy"]) == (job, copy)][0]
            self.assertEqual((row["printer"], row["state"]), ("ds620", "printing"), row)

        # Down "for a while", then back on the same port: the held 8x10 jobs print there.
        time.sleep(max(0.0, 10.0 - (time.monotonic() - t_kill)))
        self.assertEqual([j for j in big_ids if ag.jobs()[j]["state"] != "held"], [])
        ds620.set_delay(0.2)
        ds620.start()
        final = DONE | {"uncertain"}
        wait_until(lambda: all(s in final for s in ag.job_states().values())
                   and len(ag.job_states()) == len(expected), WAIT_PRINT,
                   "every job printed (or uncertain) after ds620 came back", 0.5)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.2)
        jobs = ag.jobs()
        for j in big_ids:
            self.assertIn(jobs[j]["state"], DONE, jobs[j])
            self.assertEqual(jobs[j]["printer"], "ds620")
        copies = ag.copies()
        uncertain = {(c["job_id"], c["copy"]) for c in copies if c["state"] == "uncertain"}
        # Only the copy that was being printed may be uncertain; it never printed twice.
        self.assertLessEqual(uncertain, set(busy))
        printed = {p.name: p.printed_job_names() for p in (ds620, cpd90)}
        v = fleet.verdict(expected, printed, events=sb.events())
        self.assertEqual(v["duplicates"], [], fleet.format_verdict(v))
        self.assertEqual(v["unexpected"], [], fleet.format_verdict(v))
        self.assertEqual(sorted(set(v["missing"]) - uncertain), [], fleet.format_verdict(v))
        for key in busy:
            self.assertLessEqual(v["copies"][key]["printed"], 1)
        events = sb.events()
        for j in {j for j, _ in uncertain}:
            self.assertTrue(of_kind(events, "job.copy_uncertain", printer="ds620"))
            self.assertEqual(jobs[j]["state"], "uncertain")
            self.assertEqual(len([e for e in events if e["kind"] == "job.uncertain"
                                  and e["job_id"] == j]), 1)
        per_job = collections.Counter(e["job_id"] for e in events if e["kind"] == "job.printed")
        self.assertEqual(dict(per_job), {j: 1 for j in expected
                                         if j not in {k for k, _ in uncertain}})
        print("killed printer: rerouted %d job(s), held %d, uncertain copies %s"
              % (len(rerouted), len(big_ids), sorted(uncertain)), file=sys.stderr)
        self.assertEqual(ag.stop(), 0, ag.tail())

    # ------------------------------------------------------------ b) platform down

    def test_platform_down_half_the_run_printing_goes_on(self):
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620", delay=1.0)
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=1.0,
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        qss = self.minilab("qss-3701", model="noritsu-qss-3701", time_limit=250, hold_ms=1000)
        jobs = sb.add_bulk_jobs(24, seed=21, quantities=(1, 1, 2), width=600, height=900)
        expected = {j["id"]: j["quantity"] for j in jobs}
        ag = self.lab(sb, [ds620, cpd90, qss])
        t0 = time.monotonic()
        ag.start()
        # Accepted and downloaded first (the platform is needed for that).
        wait_until(lambda: len(ag.job_states()) == len(jobs) and not [
            s for s in ag.job_states().values()
            if s in ("claiming", "accepted", "downloading")],
            WAIT_STEP, "every job downloaded", 0.1)
        sb.down()
        t_down = time.monotonic()
        done_at_down = {j for j, s in ag.job_states().items() if s in DONE}
        self.assertTrue(sb.status()["down"])
        self.assertLess(len(done_at_down), len(jobs), "all printed before the outage: "
                        "nothing to show")

        # Printing goes on while the platform is unreachable.
        wait_until(lambda: all(s in DONE for s in ag.job_states().values()), WAIT_PRINT,
                   "every job printed while the platform is down", 0.2)
        t_printed = time.monotonic()
        self.assertTrue(sb.status()["down"])
        printed_while_down = set(expected) - done_at_down
        heard = {e["job_id"] for e in sb.events_of("job.printed")}
        self.assertEqual(heard & printed_while_down, set())
        self.assertGreater(ag.outbox(), 0)
        # Down for (at least) half the run.
        time.sleep(min(30.0, max(0.0, (t_down - t0) - (time.monotonic() - t_down))))
        self.assertTrue(sb.status()["down"])
        sb.up()
        t_up = time.monotonic()

        wait_until(lambda: ag.outbox() == 0, WAIT_STEP, "the outbox delivered after the outage",
                   0.2)
        events = sb.events()
        v = fleet.verdict(expected, {p.name: p.printed_job_names() for p in (ds620, cpd90, qss)},
                          events=events)
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        self.assertEqual(sorted(e["job_id"] for e in events if e["kind"] == "job.printed"),
                         sorted(expected))
        self.assertEqual(len([e for e in events if e["kind"] == "job.copy_printed"]),
                         sum(expected.values()))
        self.assertEqual(sb.violations(), [])
        print("platform down: %d of %d jobs printed while down; down %.1f s of %.1f s; "
              "outbox empty %.1f s after up" % (len(printed_while_down), len(jobs),
                                                t_up - t_down, t_up - t0,
                                                time.monotonic() - t_up), file=sys.stderr)
        self.assertGreater(t_printed, t_down)
        self.assertEqual(ag.stop(), 0, ag.tail())

    # ------------------------------------------------------------ c) media empty

    def test_media_empty_aborts_reroutes_and_refill_brings_it_back(self):
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620", delay=0.5, fault="media-empty")
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=1.0,
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        first = sb.add_bulk_jobs(8, seed=31, prefix="m-", skus=("print-4x6-glossy",),
                                 quantities=(1,), width=600, height=900)
        ag = self.lab(sb, [ds620.config_entry(queue_depth=1, timeout="5s"),
                           cpd90.config_entry(queue_depth=1, timeout="5s")])
        ag.start()

        def status_events(available):
            return [e for e in sb.events_of("printer.status")
                    if e["body"]["printer"] == "ds620" and e["body"]["available"] is available]

        wait_until(lambda: of_kind(sb.events(), "job.copy_aborted", printer="ds620"),
                   WAIT_STEP, "a copy aborted at ds620", 0.2)
        wait_until(lambda: status_events(False), WAIT_STEP, "ds620 reported unavailable", 0.2)
        wait_until(lambda: of_kind(sb.events(), "job.rerouted", **{"from": "ds620"}),
                   WAIT_STEP, "a job rerouted away from ds620", 0.2)
        events = sb.events()
        aborted = of_kind(events, "job.copy_aborted", printer="ds620")
        for e in aborted:
            self.assertEqual(e["body"]["reason"], "printer_aborted", e)
            self.assertTrue(e["body"]["job_name"].startswith(e["job_id"] + "/"), e)
            # The printer's fault when the attempt ended, read at once (ippeveprinter
            # has no job-printer-state-reasons), and its reasons for the job.
            self.assertEqual(e["body"]["fault"], "media_empty", e)
            self.assertIsInstance(e["body"]["job_state_reasons"], list, e)
        self.assertIn(fleet.parse_job_name(aborted[0]["body"]["job_name"]) and
                      aborted[0]["body"]["job_name"], ds620.failed_job_names())
        down = status_events(False)[0]["body"]
        print("printer.status ds620: %s" % down, file=sys.stderr)
        self.assertEqual(down["reason"].split(":")[0], "media_empty", down)
        rerouted = of_kind(events, "job.rerouted", **{"from": "ds620"})
        for e in rerouted:
            self.assertEqual(e["body"]["reason"], "media_empty", e)
        # Nothing reaches paper at ds620 while it is empty; cpd90 prints the rerouted work.
        wait_until(lambda: all(ag.jobs()[e["job_id"]]["state"] in DONE for e in rerouted),
                   WAIT_PRINT, "the rerouted jobs printed at cpd90", 0.2)
        for e in rerouted:
            self.assertEqual(ag.jobs()[e["job_id"]]["printer"], "cpd90")
        self.assertEqual(ds620.printed_job_names(), [])

        # Refilled: available again, and used again.
        ds620.set_fault(None)
        self.assertEqual(ds620.refill(), 200)
        wait_until(lambda: status_events(True)[-1:] and status_events(True)[-1]["seq"]
                   > status_events(False)[-1]["seq"], WAIT_STEP, "ds620 available again", 0.2)
        later = sb.add_bulk_jobs(8, seed=32, prefix="n-", skus=("print-4x6-glossy",),
                                 quantities=(1,), width=600, height=900)
        expected = {j["id"]: j["quantity"] for j in first + later}
        wait_until(lambda: len(ag.job_states()) == len(expected)
                   and all(s in DONE for s in ag.job_states().values()), WAIT_PRINT,
                   "every job printed", 0.3)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.2)
        printed = {p.name: p.printed_job_names() for p in (ds620, cpd90)}
        self.assertTrue(printed["ds620"], "ds620 not used after the refill")
        v = fleet.verdict(expected, printed, events=sb.events())
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        # An aborted attempt never came out; its copy printed once under a later attempt.
        for name in ds620.failed_job_names():
            self.assertNotIn(name, printed["ds620"] + printed["cpd90"])
        print("media empty: %d aborted, %d rerouted, ds620 printed %d after the refill"
              % (len(aborted), len(rerouted), len(printed["ds620"])), file=sys.stderr)
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_media_jam_fault_raised_on_printer_and_copy_then_cleared(self):
        """STATE: +media-jam-error from the printer: the aborted copy names media_jam and
        the printer takes nothing more at once (no attempt spent on a jammed printer), a
        printer.fault media_jam is raised (once, two status reads after it appeared), the
        work goes to the other printer; the printer restarted without the jam: cleared
        once, with how long it lasted."""
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620", delay=0.3, fault="media-jam")
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=0.3,
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        jobs = sb.add_bulk_jobs(6, seed=41, prefix="jam-", skus=("print-4x6-glossy",),
                                quantities=(1,), width=600, height=900)
        ag = self.lab(sb, [ds620.config_entry(queue_depth=1, timeout="5s", weight=10),
                           cpd90.config_entry(queue_depth=1, timeout="5s")])
        ag.start()

        def faults(state):
            return of_kind(sb.events(), "printer.fault", printer="ds620", fault="media_jam",
                           state=state)

        wait_until(lambda: of_kind(sb.events(), "job.copy_aborted", printer="ds620"),
                   WAIT_STEP, "a copy aborted at ds620", 0.2)
        aborted = of_kind(sb.events(), "job.copy_aborted", printer="ds620")[0]["body"]
        self.assertEqual(aborted["fault"], "media_jam", aborted)
        self.assertIsInstance(aborted["job_state_reasons"], list, aborted)
        wait_until(lambda: faults("raised"), WAIT_STEP, "printer.fault media_jam raised", 0.2)
        raised = faults("raised")[0]
        self.assertEqual(raised["class"], "job", raised)
        body = raised["body"]
        self.assertEqual((body["severity"], body["flapping"], body["duration_s"]),
                         ("error", False, 0), body)
        # ippeveprinter reports what the script said (+media-jam-error) as media-jam-report.
        self.assertTrue([r for r in body["ipp_reasons"] if r.startswith("media-jam-")], body)
        # Nothing more reaches paper at the jammed printer; the other prints it all.
        wait_until(lambda: all(s in DONE for s in ag.job_states().values())
                   and len(ag.job_states()) == len(jobs), WAIT_PRINT, "every job printed", 0.3)
        self.assertEqual(ds620.printed_job_names(), [])
        # The jam was read when the first copy came back aborted: the printer took nothing
        # more (no attempt spent on it), that copy printed at the other printer.
        self.assertEqual(len(of_kind(sb.events(), "job.copy_aborted", printer="ds620")), 1,
                         of_kind(sb.events(), "job.copy_aborted"))
        self.assertEqual(of_kind(sb.events(), "job.copy_failed"), [])

        # Cleared: the printer restarted without the jam.
        ds620.set_fault(None)
        ds620.restart()
        wait_until(lambda: faults("cleared"), WAIT_STEP, "printer.fault media_jam cleared", 0.2)
        cleared = faults("cleared")[0]["body"]
        self.assertEqual(cleared["since"], body["since"], cleared)
        self.assertGreaterEqual(cleared["duration_s"], 1, cleared)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.2)
        self.assertEqual((len(faults("raised")), len(faults("cleared"))), (1, 1),
                         of_kind(sb.events(), "printer.fault"))
        self.assertEqual(sb.violations(), [])
        print("media jam: raised %s, cleared after %d s" % (body["since"], cleared["duration_s"]),
              file=sys.stderr)
        self.assertEqual(ag.stop(), 0, ag.tail())


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
