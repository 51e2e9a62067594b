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

import os
import sqlite3
import sys
import time

import fleet
from fleet import wait_until

WAIT_PRINT = 180.0


def cpu_seconds(pid):
    """CPU time (user + system) the process used so far, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


    def test_reconcile_after_a_crash_mid_send(self):
        """A crash while a copy was being sent leaves it `submitting`. At start the agent
        looks for it at the printer by name; not there, it is sent again only if the
        printer has been up since before the send and its list reaches back past it
        (here: the send is younger than printers[].job_history). One "sent" two hours
        ago, before this printer started, may have printed on a printer that then
        restarted: a technician decides (uncertain, printer_restarted), it is never sent
        again."""
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        t_printer = time.monotonic()
        jobs = sb.add_bulk_jobs(2, seed=3, prefix="rc-", skus=("print-4x6-glossy",),
                                quantities=(1,))
        ag = self.fleet_agent(sb, [ds620], workers=1)
        ag.start()
        wait_until(lambda: len(ag.job_states()) == 2
                   and all(s in ("printed", "reported") for s in ag.job_states().values()),
                   WAIT_PRINT, "both jobs printed")
        self.assertEqual(ag.stop(), 0, ag.tail())
        before = len(ds620.printed_job_names())
        # A printer up for only a second or two at the "send" cannot be told apart from
        # one that restarted after it (the rule's clock slack): up 5 s, as any real one.
        time.sleep(max(0.0, 5.0 - (time.monotonic() - t_printer)))

        # As a SIGKILL mid-send leaves them: the copy "submitting" under a new attempt
        # the printer never got; one sent just now, one sent two hours ago.
        old, new = sorted(j["id"] for j in jobs)
        conn = sqlite3.connect(os.path.join(ag.state, "labagent.db"), timeout=10)
        with conn:
            for job_id, at in ((new, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())),
                               (old, time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                   time.gmtime(time.time() - 7200)))):
                conn.execute("UPDATE copies SET state = 'submitting', attempt = 7, "
                             "handle = NULL, updated_at = ? WHERE job_id = ?", (at, job_id))
                conn.execute("UPDATE jobs SET state = 'submitting' WHERE id = ?", (job_id,))
        conn.close()

        ag.start()
        wait_until(lambda: ag.job_states()[old] == "uncertain"
                   and ag.job_states()[new] in ("printed", "reported"), WAIT_PRINT,
                   "the recent send printed again, the old one held uncertain")
        copies = {c["job_id"]: c for c in ag.copies()}
        self.assertEqual(copies[old]["state"], "uncertain")
        self.assertEqual(copies[old]["reason"], "printer_restarted")
        self.assertEqual(copies[new]["attempt"], 8)
        # Exactly one more print: the recent one, under its new attempt's name.
        self.assertEqual(ds620.printed_job_names()[before:], ["%s/1/8" % new])
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered")
        self.assertEqual([e["job_id"] for e in sb.events_of("job.copy_uncertain")], [old])
        self.assertEqual([e["job_id"] for e in sb.events_of("job.uncertain")], [old])
        self.assertEqual(ag.stop(), 0, ag.tail())

        # The printer gone while a copy is on its way there: the agent asks again at the
        # health checks' pace, not in a loop (a loop here once ate a whole core).
        conn = sqlite3.connect(os.path.join(ag.state, "labagent.db"), timeout=10)
        with conn:
            conn.execute("UPDATE copies SET state = 'submitting', attempt = 9, "
                         "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE job_id = ?",
                         (new,))
            conn.execute("UPDATE jobs SET state = 'submitting' WHERE id = ?", (new,))
        conn.close()
        ds620.kill()
        # Counted from before the start: the first try may be over by the ready line.
        log_before = ag.log().count("reconcile not answered")
        ag.start()
        cpu_before = cpu_seconds(ag.proc.pid)
        time.sleep(6)
        tries = ag.log().count("reconcile not answered") - log_before
        cpu = cpu_seconds(ag.proc.pid) - cpu_before
        self.assertGreaterEqual(tries, 1, ag.tail())
        self.assertLessEqual(tries, 4, "reconcile retried %d times in 6 s" % tries)
        self.assertLess(cpu, 1.5, "the agent used %.1f CPU s in 6 s with a printer gone" % cpu)
        self.assertEqual({c["job_id"]: c["state"] for c in ag.copies()}[new], "submitting")
        self.assertEqual(ag.stop(), 0, ag.tail())


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
