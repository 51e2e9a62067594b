#!/usr/bin/python3
"""test_crash.py - crash torture: the agent SIGKILLed at random moments while
it prints 200 jobs, restarted each time; every copy still printed exactly once.

Why: "exactly once" is only a promise if it survives the agent dying at any
instruction: between recording an attempt and sending it, while the printer
answers, between a copy printing and the store saying so. Each copy carries
the job name "<job>/<copy>/<attempt>", the attempt is stored as submitting
before the driver call, and at every start the agent asks each printer for
what it had on its way before sending anything new. This test kills the
real agent (SIGKILL, no warning) at least MIN_KILLS times at moments drawn
from a seeded random.Random (CRASH_SEED in the environment picks another
seed; the seed is printed), over two IPP photo printers (ippeveprinter) and
a minilab hot folder, and then reads what came out of each printer.

It fails on any copy printed twice, any copy never printed that the agent
does not hold as `uncertain` (a copy it cannot prove either way: counted and
reported; the target is 0), any job without its job.printed (or, for those,
job.uncertain) event at the platform, or a job stuck anywhere else.

usage: test_crash.py LABAGENT EVENT_WRITER [unittest args]
"""

import collections
import os
import random
import sys
import time
import unittest

import fleet
from fleet import wait_until

N_JOBS = 200
MIN_KILLS = 20
MAX_KILLS = 40  # kills stop here even if work remains (bounded)
SEED = int(os.environ.get("CRASH_SEED", "20261128"))
# Time between a start's ready line and the next SIGKILL (seconds, uniform).
KILL_GAP = (0.3, 2.5)
# Sometimes the agent stays dead a moment (the printers go on meanwhile).
DEAD_GAP = (0.0, 0.5)
WAIT_ALL = 420.0  # every job finished after the last kill (ASan included)
SKUS = fleet.TORTURE_SKUS
JOBS_CONFIG = fleet.TORTURE_JOBS_CONFIG
FINAL = fleet.FINAL_STATES


class CrashTest(fleet.FleetTestCase):
    def test_sigkill_at_random_moments_every_copy_once(self):
        rng = random.Random(SEED)
        sb = self.sandbox()
        ds620, cpd90, qss = self.torture_printers()
        printers = (ds620, cpd90, qss)
        jobs = sb.add_bulk_jobs(N_JOBS, seed=SEED, skus=SKUS, quantities=(1, 1, 2, 3),
                                width=600, height=900)
        expected = {j["id"]: j["quantity"] for j in jobs}
        ids = set(expected)
        n_copies = sum(expected.values())
        entries = [ds620.config_entry(queue_depth=3, timeout="10s"),
                   cpd90.config_entry(queue_depth=3, timeout="10s"),
                   qss.config_entry(queue_depth=4, timeout="10s")]
        ag = self.fleet_agent(sb, entries, workers=2, extra=JOBS_CONFIG,
                              platform={"download_concurrency": 4})

        def states():
            return ag.job_states()

        def finished(st):
            return len(st) == N_JOBS and all(s in FINAL for s in st.values())

        t0 = time.monotonic()
        ag.start()
        # KNOWN AGENT BUG (see test_sigkill_during_accept_loses_no_job below): a SIGKILL
        # between the platform's 200 to an accept and the agent's store insert loses the
        # job for good. Until it is fixed, the kills start once every job is in the store.
        wait_until(lambda: len(ag.job_states()) == N_JOBS, 60, "all %d jobs accepted" % N_JOBS,
                   0.05)
        kills_busy = 0  # kills while work was outstanding
        kill_log = []
        while ag.kills < MAX_KILLS:
            gap = rng.uniform(*KILL_GAP)
            end = time.monotonic() + gap
            while time.monotonic() < end:
                time.sleep(min(0.1, max(0.0, end - time.monotonic())))
            st = states()
            done = finished(st)
            if done and ag.kills >= MIN_KILLS:
                break
            ag.kill()
            kills_busy += not done
            printed = sum(1 for s in st.values() if s in fleet.DONE_STATES)
            kill_log.append("%.1fs:%d" % (time.monotonic() - t0, printed))
            if ag.proc.returncode != -9:
                self.fail("the agent had exited by itself (%s) before kill %d:\n%s"
                          % (ag.proc.returncode, ag.kills, ag.tail()))
            time.sleep(rng.uniform(*DEAD_GAP))
            ag.start()
        kills = ag.kills

        wait_until(lambda: finished(states()), WAIT_ALL, "every job finished after %d kills"
                   % kills, 0.5)
        st = ag.jobs()
        by_state = collections.Counter(r["state"] for r in st.values())
        self.assertEqual(set(st), ids)
        wait_until(lambda: ag.outbox() == 0, 60, "the outbox delivered", 0.2)
        seconds = time.monotonic() - t0

        copies = ag.copies()
        uncertain = sorted((c["job_id"], c["copy"]) for c in copies if c["state"] == "uncertain")
        uncertain_jobs = {j for j, _ in uncertain}
        printed = {p.name: p.printed_job_names() for p in printers}
        received = {p.name: p.received_job_names() for p in (ds620, cpd90)}
        events = sb.events()
        v = fleet.verdict(expected, printed, received=received, events=events)
        missing = [m for m in v["missing"] if m not in set(uncertain)]
        resent = sum(1 for c in copies if c["attempt"] > 1)
        print("crash torture: seed %d, kills %d (%d while work was outstanding), copies %d, "
              "uncertain %d, duplicates %d, missing %d, resubmitted %d, seconds %.1f"
              % (SEED, kills, kills_busy, n_copies, len(uncertain), len(v["duplicates"]),
                 len(missing), resent, seconds), file=sys.stderr)
        print("kills at (s:jobs printed): " + " ".join(kill_log), file=sys.stderr)
        print("job states: %s; uncertain copies: %s" % (dict(by_state), uncertain[:20]),
              file=sys.stderr)

        # The torture happened: enough kills, and they landed while there was work.
        self.assertGreaterEqual(kills, MIN_KILLS)
        self.assertGreaterEqual(kills_busy, MIN_KILLS, kill_log)
        # Nothing printed twice (uncertain copies included), nothing foreign, nothing lost
        # that the agent does not own up to.
        self.assertEqual(v["duplicates"], [], fleet.format_verdict(v))
        self.assertEqual(v["unexpected"], [], fleet.format_verdict(v))
        self.assertEqual(missing, [], fleet.format_verdict(v))
        # Every job printed (or held as uncertain); nothing failed, rejected, left half-way.
        self.assertEqual({j: s["state"] for j, s in st.items()
                          if s["state"] not in fleet.DONE_STATES and j not in uncertain_jobs},
                         {})
        for j in uncertain_jobs:
            self.assertEqual(st[j]["state"], "uncertain", j)
        self.assertEqual(len(copies), n_copies)
        self.assertEqual(sorted((c["job_id"], c["copy"]) for c in copies
                                if c["state"] not in ("printed", "uncertain")), [])
        # The platform: exactly one job.printed per printed job, job.uncertain for the rest.
        per_job = collections.Counter(e["job_id"] for e in events if e["kind"] == "job.printed")
        self.assertEqual({j: n for j, n in per_job.items() if n != 1}, {})
        self.assertEqual(set(per_job), ids - uncertain_jobs)
        unc_events = {e["job_id"] for e in events if e["kind"] == "job.uncertain"}
        self.assertEqual(unc_events, uncertain_jobs)
        self.assertEqual(v["events_duplicate"], [])
        self.assertEqual(v["events_premature"], [])
        self.assertEqual([j for j in v["events_missing"] if j not in uncertain_jobs], [])
        cp = collections.Counter(e["job_id"] for e in events if e["kind"] == "job.copy_printed")
        self.assertEqual(sum(cp.values()), n_copies - len(uncertain))
        # Every printer took part; the agent survived it all without sanitizer reports.
        self.assertEqual(sorted(n for n, names in printed.items() if names),
                         ["cpd90", "ds620", "qss-3701"])
        self.assertEqual(qss.violations(), [])
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())
        self.assertEqual(ag.stop(), 0, ag.tail())
        # Target: no copy left to a person (reported above; not a failure by itself).
        if uncertain:
            print("NOTE: %d copies uncertain (target 0): %s" % (len(uncertain), uncertain),
                  file=sys.stderr)

    # The agent stores an offer as "claiming" before it sends the accept, and sends stored
    # claims again after a restart: SIGKILLed between the platform's 200 and the agent
    # hearing it, the job is still the lab's and is printed (found by this test first).
    def test_sigkill_during_accept_loses_no_job(self):
        sb = self.sandbox()
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=0.05,
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        jobs = sb.add_bulk_jobs(100, seed=SEED, prefix="acc-", skus=("print-4x6-glossy",),
                                quantities=(1,), width=600, height=900)
        ids = {j["id"] for j in jobs}
        ag = self.fleet_agent(sb, [cpd90.config_entry(queue_depth=3)], workers=1,
                              extra=JOBS_CONFIG)
        for attempt in range(3):  # kill while accepts are in flight (bounded tries)
            ag.start()

            def accepted_at_platform():
                return {j["id"] for j in sb.jobs() if j["accepted"]}
            wait_until(lambda: accepted_at_platform() or len(ag.job_states()) == len(ids),
                       30, "the first accept", 0.01)
            ag.kill()
            if len(accepted_at_platform() - set(ag.job_states())) > 0:
                break
        ag.start()
        wait_until(lambda: len({j["id"] for j in sb.jobs() if j["accepted"]}) == len(ids), 60,
                   "every job accepted at the platform", 0.2)
        time.sleep(5)  # two poll rounds: anything the agent would still pick up
        lost = sorted(ids - set(ag.job_states()))
        print("accepted at the platform, unknown to the agent after a SIGKILL: %d %s"
              % (len(lost), lost[:10]), file=sys.stderr)
        # Claims stored before the kill were sent again: none is left half-way, and the
        # platform got every job.accepted.
        wait_until(lambda: "claiming" not in ag.job_states().values(), 60,
                   "no claim left unanswered")
        wait_until(lambda: {e["job_id"] for e in sb.events_of("job.accepted")} >= ids, 60,
                   "job.accepted for every job at the platform")
        self.assertEqual(ag.stop(), 0, ag.tail())
        self.assertEqual(lost, [], "jobs accepted at the platform and lost by the agent")


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
