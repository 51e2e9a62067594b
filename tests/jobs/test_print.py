#!/usr/bin/python3
"""test_print.py - the print stage end to end: every copy of every job
printed exactly once on real printers, and the platform told.

Why: the product's promise. The real agent, fed by the sandbox platform,
renders and prints a few dozen copies over two IPP photo printers
(ippeveprinter) and a minilab hot folder; the printers' own records (what
came out of each) must show every copy exactly once, and the platform must
have every job's job.printed event.

usage: test_print.py LABAGENT EVENT_WRITER [unittest args]
"""

import sys
import time

import fleet
from fleet import wait_until

WAIT_PRINT = 180.0


class PrintTest(fleet.FleetTestCase):
    def test_every_copy_printed_once(self):
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90")
        qss = self.minilab("qss-3701", model="noritsu-qss-3701", time_limit=250)
        jobs = sb.add_bulk_jobs(12, seed=7, skus=("print-4x6-glossy", "print-5x7-matte"),
                                quantities=(1, 2, 3))
        ids = {j["id"] for j in jobs}
        ag = self.fleet_agent(sb, [ds620, cpd90, qss], workers=2)
        t0 = time.monotonic()
        ag.start()
        wait_until(lambda: {i for i, s in ag.job_states().items()
                            if s in ("printed", "reported")} >= ids
                   or [s for s in ag.job_states().values()
                       if s in ("rejected", "failed", "held", "uncertain")],
                   WAIT_PRINT, "every job printed")
        states = ag.job_states()
        self.assertEqual({i for i in ids if states[i] in ("printed", "reported")}, ids, ag.tail())
        print("%d copies printed in %.1f s" % (sum(j["quantity"] for j in jobs),
                                                time.monotonic() - t0), file=sys.stderr)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered")
        # Acknowledged by the platform: the end of each job's life at the lab.
        wait_until(lambda: all(ag.job_states()[i] == "reported" for i in ids), 30,
                   "every job reported")

        printed = {p.name: p.printed_job_names() for p in (ds620, cpd90, qss)}
        v = fleet.verdict({j["id"]: j["quantity"] for j in jobs}, printed, events=sb.events())
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        # Every printer took part (the router spreads the work).
        self.assertEqual(sorted(n for n, names in printed.items() if names),
                         ["cpd90", "ds620", "qss-3701"])
        # The platform heard job.printed once per job, and job.copy_printed once per copy.
        self.assertEqual(sorted(e["job_id"] for e in sb.events_of("job.printed")), sorted(ids))
        self.assertEqual(len(sb.events_of("job.copy_printed")),
                         sum(j["quantity"] for j in jobs))
        self.assertEqual(ag.stop(), 0, ag.tail())


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
