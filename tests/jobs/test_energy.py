#!/usr/bin/python3
"""test_energy.py - energy meters end to end: the real agent reading a real Modbus TCP
meter (tests/meter/modbus-peer, libmodbus's own server, an Eastron SDM630 map), two
minilabs on hot folders as the metered printers, and the sandbox platform, which checks
every event against the protocol's contract after every test (FleetTestCase).

Why: the platform reports emissions per order and routes by cost, and the agent is its
only source. What it reports must add up exactly, whatever the meter or the agent does:

  area share    the meter stops answering while three 4x6 prints and one 8x12 are made
                on two printers on its circuit; it comes back 100 Wh later: one
                meter.fault (meter_timeout), one meter.recovered bridging 100 Wh, one
                interval of 100 Wh shared 1:1:1:4 by area (job.energy 14.286 / 57.143
                Wh), never a zero while it was down.
  whole run     a counter that moves every second while jobs print, the agent SIGKILLed
                twice mid-run: the energy.reading energies add up to the counter's own
                difference (to 0.001 Wh: no interval counted twice, none lost), and the
                job.energy energies plus the idle energy add up to the same total.
  slow meter    a meter that answers only after 10 s a request: while its read is in
                flight, jobs print and labctl answers as fast as without it; the read
                ends as one meter.fault (meter_timeout) and no reading.

usage: test_energy.py LABAGENT EVENT_WRITER [unittest args]
       (MODBUS_PEER and LABCTL in the environment)
"""

import os
import struct
import subprocess
import sys
import time

import fleet
from fleet import wait_until

MODBUS_PEER = os.environ.get("MODBUS_PEER", "")
WAIT_STEP = 90.0
JOBS_CONFIG = "jobs:\n  poll_interval: 200ms\n"
# The minilab model with an 8x12 paper as well (a QSS-3701 prints up to 8x12).
SIZE_8X12 = "custom_8x12_8x12in"
PRODUCTS = [{"sku": "print-4x6-glossy", "media": "na_index-4x6_4x6in"},
            {"sku": "print-8x12-glossy", "media": SIZE_8X12}]
TOL = 0.0015  # Wh: two roundings to the mWh


def f32(v):
    """v as the meter's float32 register holds it."""
    return struct.unpack("f", struct.pack("f", v))[0]


class ModbusPeer:
    """tests/meter/modbus-peer on a free loopback port, driven through its stdin."""

    def __init__(self):
        self.proc = subprocess.Popen([MODBUS_PEER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().strip())

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise AssertionError("modbus-peer: %r answered %r" % (line, answer))

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (BrokenPipeError, AssertionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc.stdin.close()
        self.proc.stdout.close()


def registry_with_8x12(workdir):
    """profiles/registry.yaml with an 8x12 media for the minilab model, in workdir."""
    src = os.path.join(fleet.PROFILES_DIR, "registry.yaml")
    with open(src) as f:
        text = f.read()
    line = "      - { name: na_5x7_5x7in, width: 1500, height: 2100, dpi: 300 }       # estimate\n"
    if line not in text:
        raise AssertionError("registry.yaml changed: no noritsu 5x7 line to extend")
    text = text.replace(line, line + "      - { name: %s, width: 2400, height: 3600, dpi: "
                        "300 }\n" % SIZE_8X12, 1)
    d = os.path.join(workdir, "profiles")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "registry.yaml"), "w") as f:
        f.write(text)
    return d


def meter_yaml(port, printers, interval="1s", timeout="500ms", report="1s"):
    return ("meters:\n  - name: panel\n    driver: modbus\n    address: 127.0.0.1:%d/1\n"
            "    preset: sdm630\n    printers: [%s]\n    interval: %s\n    timeout: %s\n"
            "energy:\n  report_interval: %s\n  grid_gco2e_per_kwh: 400\n"
            % (port, ", ".join(printers), interval, timeout, report))


class EnergyTest(fleet.FleetTestCase):
    def setUp(self):
        super().setUp()
        if not MODBUS_PEER:
            raise AssertionError("MODBUS_PEER is not set (tests/jobs/CMakeLists.txt sets it)")
        self.peer = ModbusPeer()
        self.addCleanup(self.peer.stop)

    def lab(self, sb, printers, extra):
        return self.fleet_agent(sb, printers, products=PRODUCTS, workers=2,
                                extra=JOBS_CONFIG + extra,
                                profiles_dir=registry_with_8x12(self.dir)).start()

    def saved_wh(self, ag):
        rows = ag.query("SELECT saved_wh FROM energy_meters WHERE name = 'panel'")
        return rows[0]["saved_wh"] if rows else None

    def wait_printed(self, ag, ids):
        wait_until(lambda: all(ag.jobs().get(i, {}).get("state") in fleet.DONE_STATES
                               for i in ids), WAIT_STEP, "jobs %s printed" % sorted(ids), 0.2)

    def events(self, sb, ag):
        wait_until(lambda: ag.outbox() == 0, 30, "the outbox delivered", 0.2)
        return sb.events()

    def test_area_share_across_an_outage(self):
        sb = self.sandbox()
        a = self.minilab("ml-a", time_limit=300)
        b = self.minilab("ml-b", time_limit=300)
        self.peer.send("energy 1.000")
        ag = self.lab(sb, [a, b], meter_yaml(self.peer.port, ["ml-a", "ml-b"]))
        wait_until(lambda: self.saved_wh(ag) is not None, 30, "the meter's first reading")
        self.peer.send("silent")
        wait_until(lambda: ag.query("SELECT state FROM energy_meters")[0]["state"] == "fault",
                   30, "the meter in fault")

        # Three 4x6 on ml-a, one 8x12 on ml-b, while the meter says nothing.
        sb.add_jobs([{"id": "e-a%d" % i, "order_id": "e-ord", "sku": "print-4x6-glossy",
                      "quantity": 1} for i in range(3)]
                    + [{"id": "e-b0", "order_id": "e-ord", "sku": "print-8x12-glossy",
                        "quantity": 1}])
        ids = {"e-a0", "e-a1", "e-a2", "e-b0"}
        self.wait_printed(ag, ids)
        time.sleep(2.5)  # samples fail for 3 intervals or more
        self.peer.send("energy 1.100")
        self.peer.send("answer")
        wait_until(lambda: len([e for e in sb.events() if e["kind"] == "job.energy"]) >= 4,
                   60, "job.energy for the 4 jobs", 0.2)
        wait_until(lambda: ag.query("SELECT count(*) AS n FROM energy_intervals WHERE "
                                    "reported = 0")[0]["n"] == 0, 30,
                   "every interval in an energy.reading", 0.2)
        ev = self.events(sb, ag)

        faults = [e for e in ev if e["kind"] == "meter.fault"]
        self.assertEqual(len(faults), 1, faults)
        self.assertEqual(faults[0]["body"]["reason"], "meter_timeout")
        rec = [e for e in ev if e["kind"] == "meter.recovered"]
        self.assertEqual(len(rec), 1, rec)
        self.assertAlmostEqual(rec[0]["body"]["bridged_wh"], 100.0, delta=TOL)
        self.assertGreaterEqual(rec[0]["body"]["outage_s"], 2)

        per_job = {e["job_id"]: e["body"] for e in ev if e["kind"] == "job.energy"}
        self.assertEqual(set(per_job), ids)
        for j in ("e-a0", "e-a1", "e-a2"):
            self.assertAlmostEqual(per_job[j]["energy_wh"], 100.0 / 7, delta=TOL)
            self.assertEqual(per_job[j]["quality"], "gap")
            self.assertEqual(per_job[j]["copies"], 1)
            self.assertEqual(per_job[j]["method"], "area_share")
        self.assertAlmostEqual(per_job["e-b0"]["energy_wh"], 400.0 / 7, delta=TOL)
        self.assertEqual(per_job["e-b0"]["meter"], "panel")
        self.assertAlmostEqual(sum(b["energy_wh"] for b in per_job.values()), 100.0, delta=1e-9)
        self.assertLessEqual({b["printer"] for b in per_job.values()}, {"ml-a", "ml-b"})

        # Never a zero for the outage: the readings add up to 100 Wh, the one that covers
        # it is a gap with every print in it, and none reports energy with no figures.
        readings = [e["body"] for e in ev if e["kind"] == "energy.reading"]
        self.assertAlmostEqual(sum(r["energy_wh"] for r in readings), 100.0, delta=TOL)
        gap = [r for r in readings if r["quality"] == "gap"]
        self.assertEqual(len(gap), 1, readings)
        self.assertEqual(gap[0]["prints"], 4)
        self.assertAlmostEqual(gap[0]["idle_wh"], 0.0, delta=1e-9)
        self.assertAlmostEqual(gap[0]["co2e_g"], gap[0]["energy_wh"] * 0.4, delta=1e-6)
        self.assertEqual(sb.violations(), [])

    def test_whole_run_adds_up_across_crashes(self):
        sb = self.sandbox()
        a = self.minilab("ml-a", time_limit=300)
        b = self.minilab("ml-b", time_limit=300)
        self.kwh = 1.0
        self.peer.send("energy %.6f" % self.kwh)
        self.peer.send("power 450")
        ag = self.lab(sb, [a, b], meter_yaml(self.peer.port, ["ml-a", "ml-b"]))
        wait_until(lambda: self.saved_wh(ag) is not None, 30, "the meter's first reading")
        start_wh = f32(self.kwh) * 1000
        self.assertAlmostEqual(self.saved_wh(ag), start_wh, delta=1e-6)
        jobs = []
        # Three batches of jobs while the counter moves 0.125 .. 4 Wh a quarter second;
        # between them the agent is SIGKILLed (closing intervals, sharing, reporting) and
        # started again at once.
        for batch in range(3):
            if batch:
                self.advance(2.0)
                ag.restart(kill=True)
            offered = sb.add_bulk_jobs(4, seed=3 + batch, prefix="w%d-" % batch,
                                       quantities=(1, 2),
                                       skus=("print-4x6-glossy", "print-8x12-glossy"))
            jobs += offered
            ids = {j["id"] for j in offered}
            self.advance(WAIT_STEP, lambda: all(
                ag.jobs().get(i, {}).get("state") in fleet.DONE_STATES for i in ids))
            self.wait_printed(ag, ids)
        self.advance(2.0)
        end_wh = f32(self.kwh) * 1000
        total_wh = end_wh - start_wh
        ids = {j["id"] for j in jobs}

        def all_reported():
            rows = ag.query("SELECT saved_wh, (SELECT count(*) FROM energy_intervals WHERE "
                            "reported = 0) AS open, (SELECT count(*) FROM energy_prints WHERE "
                            "reported = 0) AS prints FROM energy_meters")
            return (rows and rows[0]["saved_wh"] is not None
                    and abs(rows[0]["saved_wh"] - end_wh) < 1e-6
                    and rows[0]["open"] == 0 and rows[0]["prints"] == 0)
        wait_until(all_reported, 60, "the last reading counted and every interval reported",
                   0.2)
        ev = self.events(sb, ag)
        readings = [e["body"] for e in ev if e["kind"] == "energy.reading"]
        metered = sum(r["energy_wh"] for r in readings)
        self.assertAlmostEqual(metered, total_wh, delta=TOL)
        idle = sum(r["idle_wh"] for r in readings)
        per_job = [e for e in ev if e["kind"] == "job.energy"]
        self.assertEqual({e["job_id"] for e in per_job}, ids)
        self.assertEqual(len(per_job), len(ids), "one job.energy per job")
        self.assertAlmostEqual(sum(e["body"]["energy_wh"] for e in per_job) + idle, metered,
                               delta=TOL)
        copies = sum(j["quantity"] for j in jobs)
        self.assertEqual(sum(e["body"]["copies"] for e in per_job), copies)
        self.assertEqual(sum(r["prints"] for r in readings), copies)
        self.assertEqual([e for e in ev if e["kind"] == "meter.fault"], [])
        # The store agrees: what the meter counted since its first reading, once.
        counted = ag.query("SELECT counted_mwh FROM energy_meters")[0]["counted_mwh"]
        self.assertAlmostEqual(counted / 1000.0, total_wh, delta=TOL)
        self.assertEqual(sb.violations(), [])

    def advance(self, seconds, until=None):
        """Move the meter's counter every quarter second for seconds, or until until()."""
        deadline = time.monotonic() + seconds
        for step in range(int(seconds * 4) + 1):
            if time.monotonic() >= deadline or (until and until()):
                return
            self.kwh += 0.000125 * (1 + step % 32)
            self.peer.send("energy %.6f" % self.kwh)
            time.sleep(0.25)

    def test_slow_meter_delays_nothing(self):
        sb = self.sandbox()
        a = self.minilab("ml-a", time_limit=300)
        self.peer.send("energy 3.000")
        self.peer.send("slow 10000")
        ag = self.lab(sb, [a], meter_yaml(self.peer.port, ["ml-a"], interval="11s",
                                          timeout="10500ms"))
        # A read is in flight now and for the next 10 s: the console answers at once...
        time.sleep(1.0)
        t0 = time.monotonic()
        rc, out, err = ag.labctl("status")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertLess(elapsed, 2.0, "labctl status took %.1f s behind a slow meter" % elapsed)
        # ... and jobs print as they would without a meter.
        t0 = time.monotonic()
        jobs = sb.add_bulk_jobs(3, seed=5, prefix="s-", skus=("print-4x6-glossy",),
                                quantities=(1,))
        self.wait_printed(ag, {j["id"] for j in jobs})
        self.assertLess(time.monotonic() - t0, 9.0, "3 jobs took longer than a meter read")
        # The read that was in flight all along ended (the meter's two registers at 10 s
        # each overrun its 10.5 s timeout: meter_timeout, told once, never a zero).
        wait_until(lambda: ag.query("SELECT state FROM energy_meters")[0]["state"] == "fault",
                   30, "the slow meter's first read to end")
        faults = [e["body"] for e in self.events(sb, ag) if e["kind"] == "meter.fault"]
        self.assertEqual([f["reason"] for f in faults], ["meter_timeout"])
        self.assertEqual([e for e in sb.events() if e["kind"] == "energy.reading"], [])
        self.assertEqual(sb.violations(), [])


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__, peers=False))
