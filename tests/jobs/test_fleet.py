#!/usr/bin/python3
"""test_fleet.py - the whole agent against a small lab: the sandbox platform,
two IPP photo printers (ippeveprinter), a minilab on a hot folder, and the
real labagent binary; and the fleet.py harness checked on itself.

Why: tests/jobs/fleet.py is what the print-stage tests (exactly once through
crashes and outages) stand on; before they can be believed, the harness must
be shown to start, break, restart and read its peers correctly. This file
asserts only what the agent does today: jobs downloaded and rendered for one
of the configured printers, job.rendered delivered, printers reachable, a
clean stop. The print stage's tests go next to it.

usage: test_fleet.py LABAGENT EVENT_WRITER [unittest args]
"""

import hashlib
import json
import os
import random
import sys
import time

import fleet
from fleet import wait_until

WAIT_RENDER = 90.0  # 12 jobs, 2 workers, ASan included
WAIT_PRINT = 15.0


class FleetTest(fleet.FleetTestCase):
    def test_lab_renders_for_its_printers_and_stops_cleanly(self):
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90",
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        qss = self.minilab("qss-3701", model="noritsu-qss-3701", time_limit=100)
        names = {"ds620", "cpd90", "qss-3701"}

        jobs = sb.add_bulk_jobs(12, seed=42, skus=("print-4x6-glossy", "print-5x7-matte"),
                                quantities=(1, 2, 3))
        self.assertEqual({j["sku"] for j in jobs}, {"print-4x6-glossy", "print-5x7-matte"})
        self.assertGreater(len({j["quantity"] for j in jobs}), 1)
        # Deterministic from the seed.
        again = random.Random(42)
        self.assertEqual(jobs[0]["sku"], again.choice(["print-4x6-glossy", "print-5x7-matte"]))

        ag = self.fleet_agent(sb, [ds620, cpd90, qss], workers=2)
        t0 = time.monotonic()
        ag.start()
        ids = {j["id"] for j in jobs}
        # Rendered, and then on to the printers (test_print.py follows them there).
        later = ("rendered", "queued", "submitting", "printing", "printed", "reported")
        wait_until(lambda: {i for i, s in ag.job_states().items() if s in later} >= ids
                   or [s for s in ag.job_states().values()
                       if s in ("rejected", "failed", "held")],
                   WAIT_RENDER, "12 jobs rendered")
        states = ag.jobs()
        self.assertEqual({i for i in ids if states[i]["state"] in later}, ids, ag.tail())
        for j in jobs:
            self.assertEqual(states[j["id"]]["quantity"], j["quantity"])
        print("12 jobs rendered in %.1f s" % (time.monotonic() - t0), file=sys.stderr)

        # The render stage chose configured printers; the platform heard it once per job.
        renders = ag.renders()
        self.assertEqual({r["job_id"] for r in renders}, ids)
        self.assertLessEqual({r["printer"] for r in renders}, names)
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered")
        rendered = sb.events_of("job.rendered")
        self.assertEqual(sorted(e["job_id"] for e in rendered), sorted(ids))
        for e in rendered:
            self.assertIn(e["body"]["printer"], names)
            self.assertTrue(os.path.exists(e["body"]["output"]), e["body"]["output"])
        for kind in ("job.accepted", "job.downloaded"):
            self.assertEqual(sorted(e["job_id"] for e in sb.events_of(kind)), sorted(ids))
        # Whatever was printed so far was printed once.
        v = fleet.verdict({j["id"]: j["quantity"] for j in jobs},
                          {p.name: p.printed_job_names() for p in (ds620, cpd90)},
                          events=sb.events())
        self.assertEqual(v["duplicates"], [])
        self.assertEqual(v["unexpected"], [])
        self.assertEqual(len(v["copies"]), sum(j["quantity"] for j in jobs))

        # The printers answer IPP: raw Get-Printer-Attributes, and ipptool; idle once the
        # print stage has finished with them.
        wait_until(lambda: all(s in ("printed", "reported") for s in ag.job_states().values()),
                   WAIT_RENDER, "every job printed")
        for p in (ds620, cpd90):
            attrs = p.get_printer_attributes()
            self.assertEqual(attrs["printer-state"], [3], attrs)  # idle
            self.assertEqual(attrs["printer-is-accepting-jobs"], [True])
            rc, out = p.ipptool_check()
            self.assertEqual(rc, 0, out)
        self.assertTrue(qss.running())
        self.assertEqual(qss.violations(), [])

        # The platform can be taken down and brought back.
        sb.down()
        self.assertTrue(sb.status()["down"])
        sb.up()
        self.assertFalse(sb.status()["down"])

        self.assertEqual(ag.stop(), 0, ag.tail())
        self.assertNotIn("ERROR: AddressSanitizer", ag.log())

    def test_harness_printer_kill_restart_records_and_faults(self):
        p = self.ipp_printer("eve", "dnp-ds620")
        jpeg = os.path.join(self.dir, "photo.jpg")
        with open(jpeg, "wb") as f:
            f.write(fleet.make_jpeg("fleet-photo", width=300, height=450))
        uri = p.uri
        self.assertTrue(uri.startswith("ipp://127.0.0.1:"), uri)

        # A submitted job is kept as <id>-<name with '/' -> '_'>.jpg and parsed back.
        p.submit(jpeg, "job-x/1/2")
        wait_until(lambda: p.printed_job_names() == ["job-x/1/2"], WAIT_PRINT, "job-x printed")
        kept = p.kept_files()
        self.assertEqual([os.path.basename(k) for k in kept], ["1-job-x_1_2.jpg"])
        self.assertEqual(fleet.parse_kept_name(kept[0]), ("job-x", 1, 2))
        self.assertEqual(fleet.sha256_file(kept[0]), fleet.sha256_file(jpeg))
        self.assertEqual(p.received_job_names(), ["job-x/1/2"])
        self.assertEqual([(j["name"], j["state"]) for j in p.get_jobs()],
                         [("job-x/1/2", "completed")])

        # Killed: unreachable; restarted on the same port and spool: serves again, and the
        # new ippeveprinter's job 1 does not overwrite the old job 1's file.
        p.kill()
        self.assertFalse(p.reachable())
        p.restart()
        self.assertEqual(p.uri, uri)
        self.assertTrue(p.reachable())
        self.assertEqual(p.get_jobs(), [])  # ippeveprinter forgets its jobs
        p.submit(jpeg, "job-x/1/2")
        p.submit(jpeg, "job_a-b_7/3/1")
        wait_until(lambda: len(p.printed_job_names()) == 3, WAIT_PRINT, "two more printed")
        self.assertEqual(p.received_job_names(), ["job-x/1/2", "job-x/1/2", "job_a-b_7/3/1"])
        self.assertEqual(p.printed_job_names(), ["job-x/1/2", "job-x/1/2", "job_a-b_7/3/1"])
        v = fleet.verdict({"job-x": 1, "job_a-b_7": 3}, {"eve": p.printed_job_names()})
        self.assertEqual(v["duplicates"], [("job-x", 1, 2, ["eve", "eve"])])
        self.assertEqual(v["missing"], [("job_a-b_7", 1), ("job_a-b_7", 2)])
        self.assertFalse(v["ok"])

        # Killed mid-print: the document was received, the print never came out.
        p.set_delay(5)
        p.submit(jpeg, "job-k/1/1")
        wait_until(lambda: "job-k/1/1" in p.received_job_names(), WAIT_PRINT, "job-k received")
        time.sleep(0.5)
        p.kill()
        p.set_delay(0)
        p.start()
        time.sleep(0.5)
        self.assertNotIn("job-k/1/1", p.printed_job_names())

        # media-empty: the job is aborted, the printer says so and holds the next job
        # until refilled.
        p.set_fault("media-empty")
        p.submit(jpeg, "job-e/1/1")
        wait_until(lambda: p.failed_job_names() == ["job-e/1/1"], WAIT_PRINT, "job-e aborted")
        wait_until(lambda: [j for j in p.get_jobs() if j["state"] == "aborted"], WAIT_PRINT,
                   "job-e aborted at the printer")
        reasons = p.get_printer_attributes()["printer-state-reasons"]
        self.assertTrue(any(r.startswith("media-empty") for r in reasons), reasons)
        p.set_fault(None)
        p.submit(jpeg, "job-f/1/1")
        time.sleep(1.5)
        self.assertNotIn("job-f/1/1", p.printed_job_names())  # held by media-empty
        self.assertEqual(p.refill(), 200)
        wait_until(lambda: "job-f/1/1" in p.printed_job_names(), WAIT_PRINT,
                   "job-f printed after the refill")
        self.assertNotIn("job-e/1/1", p.printed_job_names())

    def test_harness_minilab_consumes_a_generic_item(self):
        m = self.minilab("mini", time_limit=30)
        data = fleet.make_jpeg("mini-photo", width=300, height=450)
        item = "job-m%2F1%2F1"
        with open(os.path.join(m.folder, item + ".jpg"), "wb") as f:
            f.write(data)
        side = {"version": 1, "job_name": "job-m/1/1", "item": item, "order_id": None,
                "copies": 1, "media": "na_index-4x6_4x6in", "media_size": "4x6",
                "media_type": "photographic-glossy", "width": 300, "height": 450, "dpi": 300,
                "file": item + ".jpg", "format": "image/jpeg", "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        tmp = os.path.join(m.folder, ".labtmp-" + item)
        with open(tmp, "w") as f:
            json.dump(side, f)
        os.rename(tmp, os.path.join(m.folder, item + ".json"))
        wait_until(lambda: m.printed_job_names() == ["job-m/1/1"], WAIT_PRINT,
                   "the minilab to print the item")
        self.assertEqual(m.consumed(), 1)
        self.assertEqual(m.violations(), [])
        self.assertEqual(fleet.item_to_job_name(item), "job-m/1/1")
        self.assertEqual(m.stop(), 0)


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__))
