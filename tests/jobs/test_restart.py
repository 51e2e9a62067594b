#!/usr/bin/python3
"""test_restart.py - the printer-restart torture: the agent SIGKILLed the instant
a printer has a copy, the printer finishes it and restarts before the agent
comes back; never printed twice.

Why: after a crash the agent asks each printer for the copy it was sending
(by its job name JOB/COPY/ATTEMPT). "Not in the printer's list" means "never
got there" only while the printer has kept its list the whole time since the
send: a restart, a CUPS purge or a hot folder emptied break that, and sending
the copy again then prints it twice (issue 12). This test makes that exact
sequence happen, deterministically, against real peers:

  - a KillOnReceiptProxy (fleet.py) between the agent and the printer SIGKILLs
    the agent when the printer's successful answer to a Print-Job passes,
    before one byte of it reaches the agent: the printer has the document,
    the store holds the copy `submitting` with no handle (checked every time);
    a HotFolderWatcher does the same when an item appears in a minilab's
    folder (a race with the agent's store write: checked, tried again);
  - the printer prints it (or, in some rounds, is killed before its job
    script ends: the paper never came out), then restarts on the same port
    and spool before the agent starts again.

The verdict comes from the printers' own records of paper out, never from
the agent's store: ippeveprinter's job-script ledger (written after the print
time), the minilab's done area. Expected (issue 12, "Must show"):

  direct IPP    ROUNDS rounds (RESTART_SEED in the environment picks the base
                seed, printed; RESTART_ROUNDS the count, default 13: 10 where
                the printer printed the copy, 3 where it never came out):
                the copy is `uncertain` with reason printer_restarted, 0
                duplicates; `labctl printed` (it printed) gives no new print,
                `labctl reprint --defect not_printed` (it did not) exactly one.
                The other side of the rule: killed while the Print-Job is on
                its way (the proxy stops it), the printer up all along: sent
                again, printed once, never uncertain.
  through cupsd cupsd (and the printer behind it) restarted cleanly: cupsd
                keeps its job history, the copy is found and recorded printed,
                never uncertain, printed once; cupsd crashed (SIGKILL): found
                if cupsd still lists it, else `uncertain` printer_forgot (a
                crash loses cupsd's recent jobs); the history purged (cancel
                -a -x): `uncertain` printer_forgot; printed once every time.
  hot folders   generic, noritsu, dnp: the minilab restarted (folder kept):
                found, printed once, not uncertain; its result files deleted:
                `uncertain` printer_forgot; the folder emptied with the
                agent's .labagent/: `uncertain` printer_restarted. Settled
                with labctl; every copy printed once.

usage: test_restart.py LABAGENT EVENT_WRITER [unittest args]
       (LABCTL in the environment: the labctl binary)
"""

import collections
import os
import random
import sys
import time

import fleet
from fleet import wait_until

SEED = int(os.environ.get("RESTART_SEED", "20261207"))
ROUNDS = int(os.environ.get("RESTART_ROUNDS", "13"))
JOBS_CONFIG = "jobs:\n  poll_interval: 200ms\n  status_interval: 2s\n"
WAIT_STEP = 60.0  # one step of a round (ASan included)
LOST_DELAY = 6.0  # print time in a round where the printer dies mid-print
HOTFOLDER_TRIES = 6  # kills on receipt tried before a hot-folder variant gives up
DONE = set(fleet.DONE_STATES)
SKUS = ("print-4x6-glossy", "print-5x7-matte")


def lost_round(r):
    """Rounds where the printer is killed before its job script ends (3 of 13)."""
    return r % 4 == 3


class RestartTest(fleet.FleetTestCase):
    # ------------------------------------------------------------ helpers

    def kill_cb(self, ag):
        """The kill-on-receipt callback: SIGKILL the agent (a crash, no warning)."""
        def cb(_job_name):
            ag.kill()
        return cb

    @staticmethod
    def copy_row(ag, job, copy):
        rows = [c for c in ag.copies() if (c["job_id"], c["copy"]) == (job, copy)]
        return rows[0] if rows else None

    @staticmethod
    def count(names, job, copy):
        """How many names in a printer record are (job, copy), any attempt."""
        return sum(1 for n in names if (fleet.parse_job_name(n) or (None, None))[:2]
                   == (job, copy))

    @staticmethod
    def log_of(ag, job, lines=15):
        return "\n".join([l for l in ag.log().splitlines() if job in l][-lines:])

    def store_at_kill(self, ag, job_name):
        """(precondition holds, summary): the agent is dead, and the store holds exactly
        the intercepted copy `submitting` (its attempt) with no handle, and no copy
        `printing`."""
        job, copy, attempt = fleet.parse_job_name(job_name)
        rows = ag.copies()
        sub = sorted((c["job_id"], c["copy"], c["attempt"], c["handle"]) for c in rows
                     if c["state"] == "submitting")
        printing = sorted((c["job_id"], c["copy"]) for c in rows if c["state"] == "printing")
        ok = not ag.running() and sub == [(job, copy, attempt, None)] and not printing
        return ok, "submitting %s, printing %s" % (sub, printing)

    def settled(self, ag, job, copy, attempt, what):
        """Wait (bounded) until the copy is uncertain, printed or failed, or was sent
        again under another attempt; returns its row."""
        def done():
            c = self.copy_row(ag, job, copy)
            return c if c and (c["state"] in ("uncertain", "printed", "failed")
                               or c["attempt"] != attempt) else None
        try:
            return wait_until(done, WAIT_STEP, what, 0.1)
        except AssertionError:
            raise AssertionError("%s: copy row %s\n%s" % (what, self.copy_row(ag, job, copy),
                                                          self.log_of(ag, job)))

    def assert_uncertain(self, ag, sb, job_name, reason, printed):
        """The copy is held uncertain with reason, never sent again, printed at most once
        so far; the platform heard job.copy_uncertain (with reason) and, once the job's
        other copies are done, job.uncertain."""
        job, copy, attempt = fleet.parse_job_name(job_name)
        c = self.settled(ag, job, copy, attempt, "%s uncertain or settled" % job_name)
        if c["attempt"] != attempt:  # sent again: show what came out of it
            try:
                wait_until(lambda: self.count(printed(), job, copy) > 1, 15,
                           "a second print of %s" % job_name, 0.1)
            except AssertionError:
                pass
        ledger = printed()
        self.assertLessEqual(self.count(ledger, job, copy), 1,
                             "PRINTED TWICE: %s in %s\n%s" % (job_name, ledger,
                                                             self.log_of(ag, job)))
        self.assertEqual((c["state"], c["reason"], c["attempt"]), ("uncertain", reason, attempt),
                         "copy %s: %s (expected uncertain, %s); printer record %s\n%s"
                         % (job_name, c, reason, [n for n in ledger if n.startswith(job + "/")],
                            self.log_of(ag, job)))
        # The job is uncertain once its other copies are done (they print meanwhile).
        wait_until(lambda: ag.job_states().get(job) == "uncertain", WAIT_STEP,
                   "job %s uncertain" % job, 0.1)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.1)
        events = sb.events()
        cu = [e for e in events if e["kind"] == "job.copy_uncertain" and e["job_id"] == job
              and e["body"].get("copy") == copy]
        self.assertEqual([e["body"].get("reason") for e in cu], [reason], cu)
        self.assertTrue([e for e in events if e["kind"] == "job.uncertain"
                         and e["job_id"] == job], "no job.uncertain for %s" % job)

    def assert_found_printed(self, ag, sb, job_name, printed):
        """The copy was found at the printer and recorded printed under the same attempt,
        never uncertain, printed once."""
        job, copy, attempt = fleet.parse_job_name(job_name)
        c = self.settled(ag, job, copy, attempt, "%s found and printed" % job_name)
        ledger = printed()
        self.assertEqual(self.count(ledger, job, copy), 1, "%s in %s\n%s"
                         % (job_name, ledger, self.log_of(ag, job)))
        self.assertEqual((c["state"], c["attempt"]), ("printed", attempt),
                         "copy %s: %s\n%s" % (job_name, c, self.log_of(ag, job)))
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.1)
        self.assertEqual([e for e in sb.events() if e["kind"] in ("job.copy_uncertain",
                                                                  "job.uncertain")
                          and e["job_id"] == job], [])

    def settle_with_labctl(self, ag, job_name, came_out):
        """What a technician does after looking in the tray: found it (labctl printed),
        or not (labctl reprint --defect not_printed)."""
        job, copy, _ = fleet.parse_job_name(job_name)
        if came_out:
            rc, out, err = ag.labctl("printed", job, "--copy", str(copy))
        else:
            rc, out, err = ag.labctl("reprint", job, "--copy", str(copy), "--defect",
                                     "not_printed", "--note", "not in the tray")
        self.assertEqual(rc, 0, "labctl for %s: %s%s" % (job_name, out, err))

    def wait_done(self, ag, ids, what):
        wait_until(lambda: all(ag.job_states().get(j) in DONE for j in ids), WAIT_STEP,
                   what, 0.1)

    def final_verdict(self, ag, sb, expected, printed, received=None):
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.1)
        v = fleet.verdict(expected, printed, received=received, events=sb.events())
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        per_job = collections.Counter(e["job_id"] for e in sb.events_of("job.printed"))
        self.assertEqual(dict(per_job), {j: 1 for j in expected})
        self.assertEqual({j: s for j, s in ag.job_states().items() if s not in DONE}, {})
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())
        return v

    # ------------------------------------------------------------ direct IPP

    def test_ipp_printer_restarted_before_the_agent_returns(self):
        """ROUNDS rounds with seeds SEED, SEED+1, ...: kill on receipt, the printer prints
        the copy (or dies printing it), restarts; the copy is uncertain printer_restarted,
        never printed twice; settled with labctl, exactly one print."""
        sb = self.sandbox()
        eve = self.ipp_printer("ds620", "dnp-ds620", delay=0.2)
        px = self.proxy(eve.port, "ds620")
        ag = self.fleet_agent(sb, [eve.config_entry(uri=px.uri(), queue_depth=1,
                                                    timeout="5s")],
                              workers=1, extra=JOBS_CONFIG)
        ag.start()
        expected = {}
        summary = []
        t_all = time.monotonic()
        print("ipp restart rounds: base seed %d (RESTART_SEED), %d rounds" % (SEED, ROUNDS),
              file=sys.stderr)
        for r in range(ROUNDS):
            t0 = time.monotonic()
            seed = SEED + r
            rng = random.Random(seed)
            lost = lost_round(r)
            eve.set_delay(LOST_DELAY if lost else rng.choice((0.1, 0.3, 0.8)))
            jobs = sb.add_bulk_jobs(rng.randint(1, 3), seed=seed, prefix="r%02d-" % r,
                                    skus=SKUS, quantities=(1, 1, 2), width=600, height=900)
            ids = [j["id"] for j in jobs]
            n = sum(j["quantity"] for j in jobs)
            expected.update({j["id"]: j["quantity"] for j in jobs})
            skip = rng.randrange(min(n, 3))
            px.arm(self.kill_cb(ag), skip=skip)
            name = px.wait_fired(WAIT_STEP)
            self.assertEqual(px.errors, [])
            self.assertFalse(ag.running(), "the agent outlived the kill")
            job, copy, attempt = fleet.parse_job_name(name)
            ok, why = self.store_at_kill(ag, name)
            self.assertTrue(ok, "round %d: not the precondition at the kill of %s: %s"
                            % (r, name, why))
            if lost:
                eve.kill()  # the job script dies with it: no paper
                self.assertEqual(self.count(eve.printed_job_names(), job, copy), 0)
                eve.set_delay(0.2)
                eve.start()
                how = "killed mid-print"
            else:
                wait_until(lambda: name in eve.printed_job_names(), WAIT_STEP,
                           "%s printed by the printer" % name, 0.05)
                sigkill = rng.random() < 0.5
                eve.restart(kill=sigkill)
                how = "printed, %s" % ("SIGKILL" if sigkill else "SIGTERM")
            ag.start()
            self.assert_uncertain(ag, sb, name, "printer_restarted", eve.printed_job_names)
            self.settle_with_labctl(ag, name, came_out=not lost)
            self.wait_done(ag, ids, "round %d: every job printed after the technician" % r)
            ledger = eve.printed_job_names()
            self.assertEqual(self.count(ledger, job, copy), 1, (name, ledger))
            for j in jobs:
                for c in range(1, j["quantity"] + 1):
                    self.assertEqual(self.count(ledger, j["id"], c), 1, (j["id"], c, ledger))
            # No other copy of the round was held for a technician.
            self.assertEqual([(e["job_id"], e["body"].get("copy"))
                              for e in sb.events_of("job.copy_uncertain") if e["job_id"] in ids
                              and (e["job_id"], e["body"].get("copy")) != (job, copy)], [])
            line = ("round %2d seed %d: %d job(s) %d copies, killed at %s (skipped %d), %s, "
                    "%s, %.1f s" % (r, seed, len(jobs), n, name, skip, how,
                                    "labctl reprint not_printed" if lost else "labctl printed",
                                    time.monotonic() - t0))
            summary.append(line)
            print(line, file=sys.stderr)
        v = self.final_verdict(ag, sb, expected, {"ds620": eve.printed_job_names()},
                               received={"ds620": eve.received_job_names()})
        print("ipp restart rounds: %d rounds, %d copies, 0 duplicates, %.1f s"
              % (ROUNDS, len(v["copies"]), time.monotonic() - t_all), file=sys.stderr)
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_ipp_copy_that_never_arrived_is_sent_again(self):
        """The other side of the rule: the agent killed while its Print-Job is on the way,
        the printer never got it and did not restart (its up-time goes on): the copy is
        sent again under a new attempt and printed once, never uncertain. An agent that
        held every copy it cannot find as uncertain would pass the rounds above, not this."""
        sb = self.sandbox()
        eve = self.ipp_printer("ds620", "dnp-ds620", delay=0.2)
        t_up = time.monotonic()
        px = self.proxy(eve.port, "ds620")
        ag = self.fleet_agent(sb, [eve.config_entry(uri=px.uri(), queue_depth=1,
                                                    timeout="5s")],
                              workers=1, extra=JOBS_CONFIG)
        ag.start()
        # printer-up-time is in whole seconds and the rule allows 2 s of clock slack: a
        # printer started within that of the send cannot prove it was up before it.
        time.sleep(max(0.0, 4.0 - (time.monotonic() - t_up)))
        expected = {}
        for r in range(3):
            seed = SEED + 50 + r
            rng = random.Random(seed)
            jobs = sb.add_bulk_jobs(rng.randint(1, 2), seed=seed, prefix="n%d-" % r,
                                    skus=SKUS, quantities=(1, 2), width=600, height=900)
            ids = [j["id"] for j in jobs]
            expected.update({j["id"]: j["quantity"] for j in jobs})
            px.arm(self.kill_cb(ag), skip=rng.randrange(2), when="send")
            name = px.wait_fired(WAIT_STEP)
            self.assertEqual(px.errors, [])
            job, copy, attempt = fleet.parse_job_name(name)
            ok, why = self.store_at_kill(ag, name)
            self.assertTrue(ok, "not the precondition at the kill of %s: %s" % (name, why))
            time.sleep(0.5)  # what the printer would do with it, it would have begun
            self.assertEqual(self.count(eve.received_job_names(), job, copy), 0,
                             "the printer got %s after all" % name)
            ag.start()
            c = self.settled(ag, job, copy, attempt, "%s sent again" % name)
            self.assertNotEqual(c["state"], "uncertain",
                                "copy %s held uncertain though the printer, up all along, "
                                "never got it: %s\n%s" % (name, c, self.log_of(ag, job)))
            wait_until(lambda: self.copy_row(ag, job, copy)["state"] == "printed", WAIT_STEP,
                       "%s printed" % name, 0.1)
            c = self.copy_row(ag, job, copy)
            self.assertEqual(c["attempt"], attempt + 1, c)
            self.wait_done(ag, ids, "round %d: every job printed" % r)
            self.assertEqual([n for n in eve.printed_job_names()
                              if n.startswith("%s/%d/" % (job, copy))],
                             ["%s/%d/%d" % (job, copy, attempt + 1)])
            self.assertEqual([e for e in sb.events() if e.get("job_id") in ids and e["kind"] in
                              ("job.copy_uncertain", "job.uncertain")], [])
            print("never arrived, seed %d: killed sending %s: sent again as attempt %d, "
                  "printed once" % (seed, name, attempt + 1), file=sys.stderr)
        self.final_verdict(ag, sb, expected, {"ds620": eve.printed_job_names()})
        self.assertEqual(ag.stop(), 0, ag.tail())

    # ------------------------------------------------------------ cupsd

    def test_cupsd_restart_keeps_history_purge_forgets(self):
        """Kill on receipt in front of cupsd, the copy printed by the printer behind it.
        cupsd restarted cleanly (SIGTERM), the printer too: found in cupsd's kept history,
        printed once, never uncertain. cupsd crashed (SIGKILL): found if cupsd still lists
        it, else uncertain printer_forgot; printed once either way. The history purged
        (cancel -a -x): uncertain printer_forgot, printed once."""
        sb = self.sandbox()
        eve = self.ipp_printer("ds620", "dnp-ds620", delay=0.2)
        cq = self.cups_queue("ds620q", eve)
        px = self.proxy(cq.port, "cupsd")
        ag = self.fleet_agent(sb, [cq.config_entry(uri=px.uri("/printers/ds620q"),
                                                   queue_depth=1, timeout="10s")],
                              workers=1, extra=JOBS_CONFIG)
        ag.start()
        expected = {}
        for k, scenario in enumerate(("sigterm", "sigkill", "purge")):
            t0 = time.monotonic()
            seed = SEED + 100 + k
            rng = random.Random(seed)
            jobs = sb.add_bulk_jobs(rng.randint(1, 2), seed=seed, prefix="c%d-" % k,
                                    skus=SKUS, quantities=(1, 2), width=600, height=900)
            ids = [j["id"] for j in jobs]
            expected.update({j["id"]: j["quantity"] for j in jobs})
            px.arm(self.kill_cb(ag), skip=rng.randrange(2))
            name = px.wait_fired(WAIT_STEP)
            self.assertEqual(px.errors, [])
            ok, why = self.store_at_kill(ag, name)
            self.assertTrue(ok, "cupsd %s: not the precondition at the kill of %s: %s"
                            % (scenario, name, why))
            wait_until(lambda: name in eve.printed_job_names(), WAIT_STEP,
                       "%s printed by the printer behind cupsd" % name, 0.05)
            # cupsd's job ends when its backend saw the printer's end: restarted before
            # that, cupsd would print it again on its own. Waited for as "nothing left
            # unfinished", not by name: after the crash of the round before, cupsd reused
            # job ids and has listed a finished job without its job-name (seen once).
            wait_until(lambda: not cq.get_jobs(which="not-completed"), WAIT_STEP,
                       "%s finished in cupsd (nothing left unfinished)" % name, 0.1)
            if scenario == "purge":
                cq.purge()
                wait_until(lambda: not [j for j in cq.get_jobs() if j["name"] == name], 30,
                           "%s purged from cupsd" % name, 0.1)
            else:
                cq.restart(kill=scenario == "sigkill")
                eve.restart(kill=True)
            listed = [j for j in cq.get_jobs() if j["name"] == name]
            if scenario == "sigterm":
                self.assertTrue(listed, "cupsd lost %s in a clean restart: %s"
                                % (name, cq.get_jobs()))
            ag.start()
            if listed:
                self.assert_found_printed(ag, sb, name, eve.printed_job_names)
                how = "still listed by cupsd: found, printed"
            else:
                self.assert_uncertain(ag, sb, name, "printer_forgot", eve.printed_job_names)
                self.settle_with_labctl(ag, name, came_out=True)
                how = "gone from cupsd's history: uncertain printer_forgot, labctl printed"
            self.wait_done(ag, ids, "cupsd %s: every job printed" % scenario)
            print("cupsd %s, seed %d: killed at %s, %s, %.1f s"
                  % (scenario, seed, name, how, time.monotonic() - t0), file=sys.stderr)
        self.final_verdict(ag, sb, expected, {"ds620q": eve.printed_job_names()})
        self.assertEqual(ag.stop(), 0, ag.tail())

    # ------------------------------------------------------------ hot folders

    def hotfolder_variants(self, fmt):
        """Kill on receipt at a minilab of format fmt, the minilab prints the item, then:
        restarted (found, printed once), results deleted (uncertain printer_forgot),
        folder emptied with .labagent/ (uncertain printer_restarted)."""
        sb = self.sandbox()
        lab = self.minilab("ml-" + fmt, model="noritsu-qss-3701", fmt=fmt, time_limit=600,
                           hold_ms=200)
        w = self.hotfolder_watcher(lab)
        ag = self.fleet_agent(sb, [lab.config_entry(queue_depth=1, timeout="5s")], workers=1,
                              extra=JOBS_CONFIG)
        ag.start()
        expected = {}
        tries_all = []
        for k, variant in enumerate(("restart", "forgot", "emptied")):
            t0 = time.monotonic()
            for attempt in range(HOTFOLDER_TRIES):
                seed = SEED + 200 + 10 * k + attempt
                jobs = sb.add_bulk_jobs(1, seed=seed, prefix="%s-%s%d-" % (fmt[0], variant[0],
                                                                           attempt),
                                        skus=SKUS, quantities=(1,), width=600, height=900)
                ids = [j["id"] for j in jobs]
                expected.update({j["id"]: j["quantity"] for j in jobs})
                w.arm(self.kill_cb(ag))
                name = w.wait_fired(WAIT_STEP)
                self.assertEqual(w.errors, [])
                ok, why = self.store_at_kill(ag, name)
                if ok:
                    break
                # The agent recorded the handle before the kill: nothing shown. Let it
                # finish this one and try again.
                print("%s %s: the agent was faster than the kill at %s (%s); again"
                      % (fmt, variant, name, why), file=sys.stderr)
                ag.start()
                self.wait_done(ag, ids, "%s printed after a late kill" % name)
            else:
                self.fail("%s %s: the agent always recorded the item before the kill (%d "
                          "tries)" % (fmt, variant, HOTFOLDER_TRIES))
            tries_all.append(attempt + 1)
            wait_until(lambda: name in lab.printed_job_names(), WAIT_STEP,
                       "%s printed by the minilab" % name, 0.05)
            lab.stop()
            if variant == "forgot":
                lab.delete_results(name)
            elif variant == "emptied":
                lab.wipe()
            lab.start()
            ag.start()
            if variant == "restart":
                self.assert_found_printed(ag, sb, name, lab.printed_job_names)
            else:
                reason = "printer_forgot" if variant == "forgot" else "printer_restarted"
                self.assert_uncertain(ag, sb, name, reason, lab.printed_job_names)
                self.settle_with_labctl(ag, name, came_out=True)
            self.wait_done(ag, ids, "%s %s: the job printed" % (fmt, variant))
            print("%s %s: killed at %s (try %d), %.1f s" % (fmt, variant, name, attempt + 1,
                                                            time.monotonic() - t0),
                  file=sys.stderr)
        self.final_verdict(ag, sb, expected, {lab.name: lab.printed_job_names()})
        self.assertEqual(lab.violations(), [])
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_hotfolder_generic(self):
        self.hotfolder_variants("generic")

    def test_hotfolder_noritsu(self):
        self.hotfolder_variants("noritsu")

    def test_hotfolder_dnp(self):
        self.hotfolder_variants("dnp")


if __name__ == "__main__":
    if not os.access(os.environ.get("LABCTL", ""), os.X_OK):
        print("test_restart.py: LABCTL must name the labctl binary", file=sys.stderr)
        sys.exit(2)
    sys.exit(fleet.main(__doc__))
