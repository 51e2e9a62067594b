#!/usr/bin/python3
"""test_combined.py - agent crashes and printer restarts together: 200 jobs over
two IPP printers and a minilab, the agent SIGKILLed and the printers killed
and restarted at seeded random moments; never a copy printed twice.

Why: test_crash.py kills only the agent, test_restart.py breaks one thing at
a time. A lab has both at once: the agent dies while a printer reboots, a
printer is power-cycled while the agent is sending to it, the agent comes
back to printers that forgot everything. Each of those may leave a copy the
agent cannot prove either way; the promise is that it never prints one
twice, holds every such copy `uncertain` for a technician with the reason
(printer_restarted: the printer's memory began after the send;
printer_forgot: it does not reach back far enough), and prints everything
else exactly once.

The agent's printers are KillOnReceiptProxy ports (fleet.py) in front of two
ippeveprinters, and a minilab hot folder. Every step is drawn from a
random.Random(COMBINED_SEED) (printed): the agent SIGKILLed at a random
moment or the instant a printer has a copy, a printer killed (SIGKILL) and
started on the same port and spool while the agent is dead or while it
runs, the minilab killed and started again (folder kept; what it had taken
up it finishes on its return, Minilab.resume_taken). The verdict comes
from the printers' own records of paper out (job-script ledgers, the
minilab's done area): 0 duplicates, nothing missing except copies the agent
holds `uncertain`, each with one of the two reasons, the platform told
job.printed exactly once per printed job. The count of uncertain copies and
of kills and restarts is printed.

usage: test_combined.py LABAGENT EVENT_WRITER [unittest args]
"""

import collections
import os
import random
import sys
import time

import fleet
from fleet import wait_until

N_JOBS = 200
SEED = int(os.environ.get("COMBINED_SEED", "20261209"))
MIN_KILLS = 15  # agent SIGKILLs
MIN_RESTARTS = 12  # printer / minilab restarts
MAX_STEPS = 70  # the chaos stops here even if work remains (bounded)
STEP_GAP = (0.3, 2.0)  # seconds between steps
DEAD_GAP = (0.0, 0.6)  # the agent stays dead this long (the printers go on)
PRINTER_DOWN = (0.0, 0.8)  # a killed printer stays down this long
WAIT_RECEIPT = 6.0  # a kill on receipt that finds no Print-Job by then is a plain kill
WAIT_ALL = 420.0
SKUS = fleet.TORTURE_SKUS
JOBS_CONFIG = fleet.TORTURE_JOBS_CONFIG
FINAL = fleet.FINAL_STATES
REASONS = ("printer_restarted", "printer_forgot")


class CombinedTest(fleet.FleetTestCase):
    def test_agent_kills_and_printer_restarts_never_print_twice(self):
        rng = random.Random(SEED)
        sb = self.sandbox()
        ds620, cpd90, qss = self.torture_printers()
        ipp = (ds620, cpd90)
        proxies = {p.name: self.proxy(p.port, p.name) for p in ipp}
        jobs = sb.add_bulk_jobs(N_JOBS, seed=SEED, skus=SKUS, quantities=(1, 1, 2, 3),
                                width=600, height=900)
        expected = {j["id"]: j["quantity"] for j in jobs}
        n_copies = sum(expected.values())
        entries = [p.config_entry(uri=proxies[p.name].uri(), queue_depth=3, timeout="5s")
                   for p in ipp] + [qss.config_entry(queue_depth=4, timeout="5s")]
        ag = self.fleet_agent(sb, entries, workers=2, extra=JOBS_CONFIG,
                              platform={"download_concurrency": 4})

        def finished():
            st = ag.job_states()
            return len(st) == N_JOBS and all(s in FINAL for s in st.values())

        def restart_printer(p, why):
            p.kill()
            time.sleep(rng.uniform(*PRINTER_DOWN))
            p.start()
            counts["printer restarts"] += 1
            steps.append("%.1fs:%s-restart(%s)" % (time.monotonic() - t0, p.name, why))

        counts = collections.Counter()
        steps = []
        t0 = time.monotonic()
        ag.start()
        # As in test_crash.py: kills start once every job is in the store (a SIGKILL during
        # the accept loses the job; a known agent bug, see test_crash.py).
        wait_until(lambda: len(ag.job_states()) == N_JOBS, 60, "all %d jobs accepted" % N_JOBS,
                   0.05)
        for _ in range(MAX_STEPS):
            gap = rng.uniform(*STEP_GAP)
            time.sleep(gap)
            done = finished()
            restarts = counts["printer restarts"] + counts["minilab restarts"]
            if done and ag.kills >= MIN_KILLS and restarts >= MIN_RESTARTS:
                break
            roll = rng.random()
            if roll < 0.55:  # the agent dies ...
                if rng.random() < 0.4:  # ... the instant a printer has a copy
                    p = rng.choice(ipp)
                    proxies[p.name].arm(lambda _n: ag.kill())
                    fired = proxies[p.name].fired.wait(WAIT_RECEIPT)
                    proxies[p.name].disarm()
                    if fired:
                        counts["kills on receipt"] += 1
                        steps.append("%.1fs:kill-on-receipt(%s %s)" % (
                            time.monotonic() - t0, p.name, proxies[p.name].fired_job_name))
                        if rng.random() < 0.7:  # the sequence: it restarts meanwhile
                            time.sleep(rng.uniform(0.0, 0.5))  # maybe printed, maybe not
                            restart_printer(p, "agent dead")
                ag.kill()
                if ag.proc.returncode != -9:
                    self.fail("the agent had exited by itself (%s):\n%s"
                              % (ag.proc.returncode, ag.tail()))
                steps.append("%.1fs:agent-kill" % (time.monotonic() - t0))
                if rng.random() < 0.4:
                    restart_printer(rng.choice(ipp), "agent dead")
                time.sleep(rng.uniform(*DEAD_GAP))
                ag.start()
            elif roll < 0.85:  # a printer power-cycled under the running agent
                restart_printer(rng.choice(ipp), "agent running")
            else:  # the minilab PC restarted (its folder stays); it resumes what it had
                qss.kill()  # taken up (the test minilab does not: resume_taken does)
                time.sleep(rng.uniform(*PRINTER_DOWN))
                resumed = qss.resume_taken()
                qss.start()
                counts["minilab restarts"] += 1
                counts["minilab items resumed"] += len(resumed)
                steps.append("%.1fs:minilab-restart%s" % (time.monotonic() - t0,
                                                          "(resumed %s)" % resumed
                                                          if resumed else ""))
        for px in proxies.values():
            px.disarm()
        for px in proxies.values():
            self.assertEqual(px.errors, [])
        counts["agent kills"] = ag.kills

        wait_until(finished, WAIT_ALL, "every job finished after the chaos", 0.5)
        wait_until(lambda: ag.outbox() == 0, 60, "the outbox delivered", 0.2)
        seconds = time.monotonic() - t0
        st = ag.jobs()
        copies = ag.copies()
        uncertain = {(c["job_id"], c["copy"]): c for c in copies if c["state"] == "uncertain"}
        uncertain_jobs = {j for j, _ in uncertain}
        printed = {p.name: p.printed_job_names() for p in (ds620, cpd90, qss)}
        received = {p.name: p.received_job_names() for p in ipp}
        events = sb.events()
        v = fleet.verdict(expected, printed, received=received, events=events)
        missing = [m for m in v["missing"] if m not in uncertain]
        came_out = sum(1 for k in uncertain if v["copies"][k]["printed"])
        by_reason = collections.Counter(c["reason"] for c in uncertain.values())
        print("combined: seed %d (COMBINED_SEED), %d jobs, %d copies, %s, uncertain %d %s "
              "(%d of them printed, %d not), duplicates %d, missing %d, %.1f s"
              % (SEED, N_JOBS, n_copies, dict(counts), len(uncertain), dict(by_reason),
                 came_out, len(uncertain) - came_out, len(v["duplicates"]), len(missing),
                 seconds), file=sys.stderr)
        print("steps: " + " ".join(steps), file=sys.stderr)

        # The chaos happened.
        self.assertGreaterEqual(ag.kills, MIN_KILLS, steps)
        self.assertGreaterEqual(counts["printer restarts"] + counts["minilab restarts"],
                                MIN_RESTARTS, steps)
        # Never twice; nothing foreign; nothing lost that the agent does not hold uncertain.
        self.assertEqual(v["duplicates"], [], fleet.format_verdict(v))
        self.assertEqual(v["unexpected"], [], fleet.format_verdict(v))
        self.assertEqual(missing, [], fleet.format_verdict(v))
        # Every uncertain copy says why, with one of the two reasons.
        self.assertEqual({k: c["reason"] for k, c in uncertain.items()
                          if c["reason"] not in REASONS}, {})
        cu = [e for e in events if e["kind"] == "job.copy_uncertain"]
        self.assertEqual({(e["job_id"], e["body"]["copy"]) for e in cu}, set(uncertain))
        self.assertEqual([e for e in cu if e["body"].get("reason") not in REASONS], [])
        # Every job printed or held uncertain; every copy printed or uncertain.
        self.assertEqual({j: r["state"] for j, r in st.items()
                          if r["state"] not in fleet.DONE_STATES and j not in uncertain_jobs},
                         {})
        for j in uncertain_jobs:
            self.assertEqual(st[j]["state"], "uncertain", j)
        self.assertEqual(len(copies), n_copies)
        self.assertEqual(sorted((c["job_id"], c["copy"], c["state"]) for c in copies
                                if c["state"] not in ("printed", "uncertain")), [])
        # The platform: one job.printed per printed job, job.uncertain for the others.
        per_job = collections.Counter(e["job_id"] for e in events if e["kind"] == "job.printed")
        self.assertEqual({j: n for j, n in per_job.items() if n != 1}, {})
        self.assertEqual(set(per_job), set(expected) - uncertain_jobs)
        self.assertEqual({e["job_id"] for e in events if e["kind"] == "job.uncertain"},
                         uncertain_jobs)
        self.assertEqual(v["events_duplicate"], [])
        self.assertEqual(v["events_premature"], [])
        self.assertEqual(qss.violations(), [])
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())
        self.assertEqual(ag.stop(), 0, ag.tail())
        if uncertain:
            print("NOTE: %d copies uncertain (allowed: %s): %s"
                  % (len(uncertain), "/".join(REASONS), sorted(uncertain)[:30]),
                  file=sys.stderr)


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
