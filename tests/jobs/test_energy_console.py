#!/usr/bin/python3
"""test_energy_console.py - `labctl energy` and the energy line of `labctl status` against
the real agent reading a real Modbus TCP meter (tests/meter/modbus-peer, through
test_energy.ModbusPeer) and a counter file, with a minilab on a hot folder as the metered
printer and the sandbox platform (its contract checked after the test, FleetTestCase).

Why: a technician asks the console, not the store, whether the meters are read and what a
print costs; what it shows must be the store's own figures, and what is not known must
show as unknown, never as 0. The agent runs in a zone 5 h 45 min east of UTC (a POSIX TZ,
no tzdata needed) with intervals written just before and after local midnight and 25 h
ago, so "today" is the lab's day and "24 h" is 24 hours.

  both ok       status: "Energy: 2 meters, 2 ok, 450 W now"; energy --json in config order
                (not the store's name order), the counter file's meter with no power (null).
  fault         the Modbus meter silent: state fault, fault meter_timeout and its last
                error in the JSON; W "-" and the error in the table; the status line names
                it and has no power (the file meter has none).
  figures       two prints (a 4x6 and an 8x12) while it is silent, then 70 Wh when it
                answers: kwh_today, wh_per_print_24h (35 Wh), prints_24h, idle_wh_24h and
                energy_wh_24h equal what sqlite3 reads from the agent's store.
  refusals      labctl energy nope: unknown_meter naming the meters, exit 1; a viewer may
                read the meters, a user with no role may not (exit 77).
  reload        a meter taken out of the config is not shown, though its row stays.

usage: test_energy_console.py LABAGENT EVENT_WRITER [unittest args]
       (LABCTL and MODBUS_PEER in the environment)
"""

import grp
import os
import signal
import sqlite3
import subprocess
import sys
import time

import fleet
import test_energy
from fleet import wait_until

CMD_TIMEOUT = 20  # one labctl run
WAIT_METER = 30.0  # a reading, a fault, a recovery (meters read every second)
WAIT_PRINT = 90.0  # jobs rendered and taken up by the minilab
NOBODY = 65534
TZ = "LAB-5:45"  # UTC+5:45, no DST: local midnight is not UTC's
JOBS_CONFIG = "jobs:\n  poll_interval: 200ms\n"
ATTIC_START_WH = 5000.0
ATTIC_END_WH = 5250.0
FAKE_MWH = {"before_midnight": 1000000, "after_midnight": 2000000, "day_before": 4000000}


def attic_yaml(path):
    """A second meter, a counter file in Wh, after the Modbus one in the config."""
    return ("  - name: attic\n    driver: file\n    address: %s\n    scale: 1\n"
            "    interval: 1s\n    timeout: 500ms\n" % path)


def local_midnight(now):
    """The last local midnight before now (unix seconds), as the agent computes it."""
    t = time.localtime(now)
    return int(time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1)))


class EnergyConsoleTest(fleet.FleetTestCase):
    def setUp(self):
        super().setUp()
        if not test_energy.MODBUS_PEER:
            raise AssertionError("MODBUS_PEER is not set (tests/jobs/CMakeLists.txt sets it)")
        self.assertEqual(os.geteuid(), 0, "this test creates a group and needs root (CI is)")
        old_tz = os.environ.get("TZ")
        os.environ["TZ"] = TZ  # the agent inherits it
        time.tzset()
        self.addCleanup(self.restore_tz, old_tz)
        self.peer = test_energy.ModbusPeer()
        self.addCleanup(self.peer.stop)

    @staticmethod
    def restore_tz(old):
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()

    def viewers_group(self):
        name = "labenergy-view-%d" % os.getpid()
        subprocess.run(["groupadd", "--system", name], check=True, timeout=CMD_TIMEOUT)
        self.addCleanup(subprocess.run, ["groupdel", name], check=False, timeout=CMD_TIMEOUT)
        return name, grp.getgrnam(name).gr_gid

    def labctl(self, *args, **kw):
        return fleet.labctl(self.sock, *args, timeout=CMD_TIMEOUT, parse=False, **kw)

    def energy(self, *args):
        return fleet.labctl_json(self.sock, "energy", *args, timeout=CMD_TIMEOUT)

    def status_line(self):
        rc, out, err = self.labctl("status")
        self.assertEqual(rc, 0, err)
        lines = [line for line in out.splitlines() if line.startswith("Energy:")]
        self.assertEqual(len(lines), 1, out)
        return lines[0]

    def table_row(self, name):
        """The words of the meter's row of `labctl energy` (and the header's)."""
        rc, out, err = self.labctl("energy")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(),
                         ["METER", "STATE", "W", "KWH-TODAY", "WH/PRINT-24H", "LAST-ERROR"])
        rows = [line.split() for line in lines[1:] if line.split()[0] == name]
        self.assertEqual(len(rows), 1, out)
        return rows[0]

    def meter(self, ag, name):
        rows = ag.query("SELECT * FROM energy_meters WHERE name = ?", name)
        return dict(rows[0]) if rows else {}

    def fake_intervals(self, ag):
        """Closed, reported intervals of the attic meter just before and after local
        midnight and 25 h ago (written while the agent runs, as one quick transaction)."""
        now = time.time()
        midnight = local_midnight(now)
        self.assertLessEqual(midnight + 1, now, "the test runs in the day's first second")
        ends = {"before_midnight": midnight - 1, "after_midnight": midnight + 1,
                "day_before": int(now) - 25 * 3600}
        conn = sqlite3.connect(os.path.join(ag.state, "labagent.db"), timeout=10)
        try:
            with conn:
                for key, end in ends.items():
                    conn.execute("INSERT INTO energy_intervals (meter, from_at, to_at, "
                                 "energy_mwh, idle_mwh, prints, total_wh, power_w, quality, "
                                 "reported) VALUES ('attic', ?, ?, ?, ?, 0, 0, NULL, 'ok', 1)",
                                 ((end - 60) * 1000000, end * 1000000, FAKE_MWH[key],
                                  FAKE_MWH[key]))
        finally:
            conn.close()

    def store_figures(self, ag, meter):
        """What the meter's figures are, read with sqlite3: (kwh today, {24 h sums})."""
        now = time.time()
        today = ag.query("SELECT coalesce(sum(energy_mwh), 0) AS mwh FROM energy_intervals "
                         "WHERE meter = ? AND to_at > ?", meter,
                         local_midnight(now) * 1000000)[0]["mwh"]
        day = dict(ag.query("SELECT coalesce(sum(energy_mwh), 0) AS mwh, "
                            "coalesce(sum(idle_mwh), 0) AS idle, coalesce(sum(prints), 0) AS "
                            "prints, coalesce(sum(energy_mwh - idle_mwh), 0) AS print_mwh "
                            "FROM energy_intervals WHERE meter = ? AND to_at > ?", meter,
                            int((now - 86400) * 1000000))[0])
        return today / 1e6, day

    def test_energy_console(self):
        sb = self.sandbox()
        lab = self.minilab("ml-a", time_limit=300)
        view_name, view_gid = self.viewers_group()
        counter = os.path.join(self.dir, "attic.counter")
        with open(counter, "w") as f:
            f.write("%.3f\n" % ATTIC_START_WH)
        self.peer.send("energy 1.000")
        self.peer.send("power 450")
        os.chmod(self.dir, 0o755)  # uid 65534 must reach the socket (the daemon decides)
        self.sock = os.path.join(self.dir, "control.sock")
        meters = test_energy.meter_yaml(self.peer.port, ["ml-a"])
        self.assertIn("\nenergy:\n", meters)
        attic = attic_yaml(counter)
        meters = meters.replace("\nenergy:\n", "\n" + attic + "energy:\n", 1)
        control = "control:\n  socket: %s\n  viewers_group: %s\n" % (self.sock, view_name)
        ag = self.fleet_agent(sb, [lab], products=test_energy.PRODUCTS, workers=2,
                              extra=JOBS_CONFIG + meters + control,
                              profiles_dir=test_energy.registry_with_8x12(self.dir)).start()
        wait_until(lambda: all(self.meter(ag, m).get("state") == "ok"
                               for m in ("panel", "attic")), WAIT_METER,
                   "both meters' first reading")

        # Both ok: config order, the file meter has no power (null, never 0).
        self.assertEqual(self.status_line(), "Energy: 2 meters, 2 ok, 450 W now")
        st = fleet.labctl_json(self.sock, "status", timeout=CMD_TIMEOUT)
        self.assertEqual(st["energy"], {"meters": 2, "ok": 2, "fault": 0, "unknown": 0,
                                        "power_w": 450.0, "faults": []})
        ans = self.energy()
        self.assertEqual([m["name"] for m in ans["meters"]], ["panel", "attic"])
        panel, attic_m = ans["meters"]
        self.assertEqual((panel["driver"], panel["printers"], panel["state"]),
                         ("modbus", ["ml-a"], "ok"))
        self.assertEqual(panel["power_w"], 450.0)
        self.assertEqual((attic_m["driver"], attic_m["printers"], attic_m["state"]),
                         ("file", [], "ok"))
        self.assertIsNone(attic_m["power_w"])
        self.assertIsNone(panel["fault"])
        self.assertIsNotNone(panel["last_ok_at"])
        self.assertEqual(self.table_row("attic")[1:3], ["ok", "-"])

        # The Modbus meter silent: a fault with its reason and last error, no power.
        self.peer.send("silent")
        wait_until(lambda: self.meter(ag, "panel").get("state") == "fault", WAIT_METER,
                   "the silent meter in fault")
        panel = self.energy("panel")["meters"]
        self.assertEqual([m["name"] for m in panel], ["panel"])
        panel = panel[0]
        self.assertEqual(panel["state"], "fault")
        self.assertIsNone(panel["power_w"])
        self.assertEqual(panel["fault"]["reason"], "meter_timeout")
        self.assertIsNotNone(panel["fault"]["since"])
        self.assertTrue(panel["last_error"]["text"].startswith("meter_timeout: "),
                        panel["last_error"])
        self.assertIsNotNone(panel["last_error"]["at"])
        row = self.table_row("panel")
        self.assertEqual(row[1:3], ["fault", "-"])
        self.assertEqual(row[5], "meter_timeout:", row)
        self.assertEqual(self.status_line(),
                         "Energy: 2 meters, 1 ok, 1 fault (panel: meter_timeout)")
        st = fleet.labctl_json(self.sock, "status", timeout=CMD_TIMEOUT)
        self.assertEqual(st["energy"]["faults"], [{"meter": "panel", "reason": "meter_timeout"}])
        self.assertIsNone(st["energy"]["power_w"])

        # Two prints while it is silent, then 70 Wh when it answers again; the attic
        # counts 250 Wh; intervals around midnight and of yesterday in the store.
        sb.add_jobs([{"id": "ec-4x6", "order_id": "ec", "sku": "print-4x6-glossy",
                      "quantity": 1},
                     {"id": "ec-8x12", "order_id": "ec", "sku": "print-8x12-glossy",
                      "quantity": 1}])
        wait_until(lambda: all(ag.jobs().get(i, {}).get("state") in fleet.DONE_STATES
                               for i in ("ec-4x6", "ec-8x12")), WAIT_PRINT, "the two prints",
                   0.2)
        self.fake_intervals(ag)
        with open(counter, "w") as f:
            f.write("%.3f\n" % ATTIC_END_WH)
        self.peer.send("energy 1.070")
        self.peer.send("answer")
        end_wh = test_energy.f32(1.070) * 1000

        def settled():
            p, a = self.meter(ag, "panel"), self.meter(ag, "attic")
            open_prints = ag.query("SELECT count(*) AS n FROM energy_prints WHERE "
                                   "interval_id IS NULL")[0]["n"]
            return (p.get("state") == "ok" and abs(p["saved_wh"] - end_wh) < 1e-6
                    and a.get("saved_wh") == ATTIC_END_WH and open_prints == 0)
        wait_until(settled, WAIT_METER, "the meters' last readings counted", 0.2)

        # The console's figures are the store's (intervals after this add no energy).
        ans = {m["name"]: m for m in self.energy()["meters"]}
        for name in ("panel", "attic"):
            kwh, day = self.store_figures(ag, name)
            m = ans[name]
            self.assertEqual(m["kwh_today"], kwh, name)
            self.assertEqual(m["prints_24h"], day["prints"], name)
            self.assertAlmostEqual(m["idle_wh_24h"], day["idle"] / 1000.0, delta=1e-9)
            self.assertAlmostEqual(m["energy_wh_24h"], day["mwh"] / 1000.0, delta=1e-9)
            if day["prints"]:
                self.assertAlmostEqual(m["wh_per_print_24h"],
                                       day["print_mwh"] / day["prints"] / 1000.0, delta=1e-9)
            else:
                self.assertIsNone(m["wh_per_print_24h"], name)
        # ... and what the meters counted: 70 Wh shared by 2 prints; the attic's 250 Wh
        # plus the 2 kWh after midnight (not the 1 kWh before it, nor yesterday's 4 kWh).
        p, a = ans["panel"], ans["attic"]
        bridged = end_wh - test_energy.f32(1.0) * 1000
        self.assertAlmostEqual(p["kwh_today"], bridged / 1000, delta=1e-6)
        self.assertEqual(p["prints_24h"], 2)
        self.assertAlmostEqual(p["wh_per_print_24h"], bridged / 2, delta=0.001)
        self.assertEqual(p["idle_wh_24h"], 0)
        self.assertAlmostEqual(a["kwh_today"], 2.25, delta=1e-9)
        self.assertAlmostEqual(a["energy_wh_24h"], 3250, delta=1e-9)
        self.assertEqual(a["prints_24h"], 0)
        self.assertIsNone(a["wh_per_print_24h"])
        self.assertEqual((p["state"], p["power_w"], p["fault"]), ("ok", 450.0, None))
        # The last error stays after the recovery: what went wrong, and when.
        self.assertTrue(p["last_error"]["text"].startswith("meter_timeout: "))
        row = self.table_row("panel")
        self.assertEqual(row[1:5], ["ok", "450", "%.3f" % p["kwh_today"],
                                    "%g" % round(p["wh_per_print_24h"], 2)])

        # Refusals: an unknown meter names the configured ones; roles.
        rc, out, err = self.labctl("energy", "nope")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_meter", err)
        self.assertIn("panel, attic", err)
        rc, out, err = self.labctl("energy", "nope", json_out=True)
        self.assertEqual(rc, 1, out + err)
        self.assertIn('"unknown_meter"', out)
        rc, out, err = self.labctl("energy", user=NOBODY, groups=[view_gid])
        self.assertEqual(rc, 0, err)
        self.assertIn("panel", out)
        rc, out, err = self.labctl("energy", user=NOBODY)
        self.assertEqual(rc, 77, out + err)
        self.assertIn("not_authorized", err)

        # A meter taken out of the config: not shown, its row (its history) kept.
        with open(ag.config) as f:
            text = f.read()
        self.assertIn(attic, text)
        with open(ag.config, "w") as f:
            f.write(text.replace(attic, "", 1))
        ag.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: [m["name"] for m in self.energy()["meters"]] == ["panel"],
                   WAIT_METER, "the reload without the attic meter", 0.2)
        self.assertTrue(self.meter(ag, "attic"), "the attic meter's row is kept")
        self.assertEqual(self.status_line(), "Energy: 1 meter, 1 ok, 450 W now")
        rc, out, err = self.labctl("energy", "attic")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_meter", err)
        self.assertEqual(sb.violations(), [])


if __name__ == "__main__":
    sys.exit(fleet.main(__doc__, peers=False))
