#!/usr/bin/python3
"""energy-bench.py - what reading energy meters (issue 17) costs the idle agent.

usage: energy-bench.py LABAGENT MODBUS_PEER [--window S] [--settle S] [--runs R]
                       [--json FILE]

LABAGENT should be a release build of this tree; MODBUS_PEER its
tests/meter/modbus-peer. Not a ctest. Three labs run side by side, each with
its own sandbox platform, one idle minilab (a hot folder: no jobs) and an
agent at the service's log level (info), so all three see the same machine:

  none   no meters;
  m60    three meters, one per networked or external driver, at the default
         interval (60 s): modbus (modbus-peer, an SDM630 map), shelly
         (tests/meter/shelly-peer.py, Switch.GetStatus) and command (a shell
         script printing {"energy_wh": ..., "power_w": ...});
  m1     the same three meters at 1 s.

The meters' counters move (each peer is told a new figure every 5 s), so
every reading closes an interval that is written to the store. After
--settle seconds, the CPU of each agent over --window seconds is read from
/proc/PID/stat: utime + stime, plus cutime + cstime (the command meter's
children, which the agent waits for), per hour; R runs, medians. The target
(issue 17): m60 at most 1 CPU-second per hour more than none.

Prints a table and the JSON (--json FILE saves it). Exits non-zero only when
something failed (a process ended, a wait timed out, the sandbox saw a
contract violation), never for a missed target. Every wait is bounded; every
process and temp dir is cleaned up. Talks only to loopback.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "jobs"))

import fleet  # noqa: E402
import test_link as tl  # noqa: E402  (fleet put tests/platform-link on the path)

SHELLY_PEER = os.path.join(SOURCE, "tests", "meter", "shelly-peer.py")
MAKE_CERTS = os.path.join(SOURCE, "tests", "platform", "make-certs.sh")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_CPU_S_PER_H = 1.0  # issue 17, at the defaults
MOVE_EVERY_S = 5.0


def proc_cpu(pid):
    """utime + stime + cutime + cstime of pid, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


class Peer:
    """A meter peer driven through its stdin (one command a line, "ok" back)."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.port = int(self.proc.stdout.readline().strip())
        self.lock = threading.Lock()

    def send(self, line):
        with self.lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError("peer %s: %r answered %r" % (self.proc.args, line, answer))

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc.stdout.close()


class IdleLab:
    """A sandbox, an idle minilab, the meters of `interval` (None: none) and an agent."""

    def __init__(self, label, binary, modbus_peer, interval):
        self.label, self.binary = label, binary
        self.work = tempfile.mkdtemp(prefix="labagent-energy-bench-%s-" % label)
        self.sb = fleet.Platform(self.work)
        self.minilab = fleet.Minilab(self.work, "ml", time_limit=7200)
        self.minilab.start()
        self.peers = []
        self.wh = 1000.0
        extra = ""
        if interval:
            self.modbus = Peer([modbus_peer])
            self.shelly = Peer([sys.executable, SHELLY_PEER])
            self.peers = [self.modbus, self.shelly]
            self.counter = os.path.join(self.work, "command-wh")
            script = os.path.join(self.work, "meter.sh")
            with open(script, "w") as f:
                f.write("#!/bin/sh\nprintf '{\"energy_wh\": %%s, \"power_w\": 120}\\n' "
                        "\"$(cat %s)\"\n" % self.counter)
            os.chmod(script, 0o755)
            self.move()
            extra = ("meters:\n"
                     "  - {name: m-modbus, driver: modbus, address: '127.0.0.1:%d/1', "
                     "preset: sdm630, printers: [ml], interval: %s, timeout: 500ms}\n"
                     "  - {name: m-shelly, driver: shelly, address: '127.0.0.1:%d', "
                     "interval: %s, timeout: 500ms}\n"
                     "  - {name: m-command, driver: command, address: '%s', interval: %s, "
                     "timeout: 500ms}\n"
                     % (self.modbus.port, interval, self.shelly.port, interval, script,
                        interval))
        self.ag = fleet.FleetAgent(self.work, self.sb, [self.minilab.config_entry()],
                                   workers=2, log_level="info", extra=extra)

    def move(self):
        """Every meter's counter a little further (so each reading closes an interval)."""
        if not self.peers:
            return
        self.wh += 0.5
        self.modbus.send("energy %.6f" % (self.wh / 1000))
        self.modbus.send("power 120")
        self.shelly.send("energy %.3f" % self.wh)
        self.shelly.send("power 120")
        with open(self.counter + ".tmp", "w") as f:
            f.write("%.3f\n" % self.wh)
        os.rename(self.counter + ".tmp", self.counter)

    def start(self):
        saved = tl.LABAGENT
        tl.LABAGENT = self.binary  # FleetAgent.start runs tl.LABAGENT
        try:
            self.ag.start()
        finally:
            tl.LABAGENT = saved

    def check(self):
        dead = [p.proc.args for p in self.peers if not p.running()]
        if dead or not self.ag.running() or not self.minilab.running():
            raise RuntimeError("%s: a peer %s, the minilab or the agent ended: %s"
                               % (self.label, dead, self.ag.tail(5) if self.ag.proc else ""))

    def close(self):
        if self.ag.running():
            self.ag.kill()
        for p in self.peers:
            p.stop()
        self.minilab.stop()
        self.sb.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def run(run_no, binary, modbus_peer, settle, window):
    labs = []
    try:
        for label, interval in (("none", None), ("m60", "60s"), ("m1", "1s")):
            labs.append(IdleLab(label, binary, modbus_peer, interval))
        for lab in labs:
            lab.start()
        end = time.monotonic() + settle
        while time.monotonic() < end:
            time.sleep(MOVE_EVERY_S)
            for lab in labs:
                lab.move()
        for lab in labs:
            lab.check()
        t0 = time.time()
        c0 = {lab.label: proc_cpu(lab.ag.proc.pid) for lab in labs}
        end = time.monotonic() + window
        while time.monotonic() < end:  # bounded by window; moves the counters every 5 s
            time.sleep(min(MOVE_EVERY_S, max(0.0, end - time.monotonic())))
            for lab in labs:
                lab.move()
                lab.check()
        c1 = {lab.label: proc_cpu(lab.ag.proc.pid) for lab in labs}
        t1 = time.time()
        out = {"run": run_no, "window_s": t1 - t0}
        for lab in labs:
            cpu = c1[lab.label] - c0[lab.label]
            rows = lab.ag.query("SELECT name, state, counted_mwh, (SELECT count(*) FROM "
                                "energy_intervals i WHERE i.meter = m.name) AS intervals "
                                "FROM energy_meters m ORDER BY name")
            out[lab.label] = {"cpu_s": cpu, "cpu_s_per_h": cpu * 3600.0 / (t1 - t0),
                              "meters": [dict(r) for r in rows],
                              "n_violations": len(lab.sb.violations())}
            lab.ag.stop()
        return out
    finally:
        for lab in labs:
            lab.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labagent")
    ap.add_argument("modbus_peer")
    ap.add_argument("--window", type=float, default=600.0)
    ap.add_argument("--settle", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not 0 < args.window <= 7200 or not 0 <= args.settle <= 600 or not 1 <= args.runs <= 20:
        ap.error("window up to 2 h, settle up to 10 min, 1..20 runs")
    certs = tempfile.mkdtemp(prefix="labagent-energy-bench-certs-")
    runs = []
    try:
        subprocess.run(["bash", MAKE_CERTS, certs], check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        tl.CERTS = certs
        for i in range(1, args.runs + 1):
            r = run(i, os.path.abspath(args.labagent), os.path.abspath(args.modbus_peer),
                    args.settle, args.window)
            runs.append(r)
            print("run %d: %.0f s: none %.2f, m60 %.2f, m1 %.2f CPU-s/h" % (
                i, r["window_s"], r["none"]["cpu_s_per_h"], r["m60"]["cpu_s_per_h"],
                r["m1"]["cpu_s_per_h"]), flush=True)
    finally:
        shutil.rmtree(certs, ignore_errors=True)
    med = {k: statistics.median(r[k]["cpu_s_per_h"] for r in runs) for k in ("none", "m60", "m1")}
    diff60 = statistics.median(r["m60"]["cpu_s_per_h"] - r["none"]["cpu_s_per_h"] for r in runs)
    diff1 = statistics.median(r["m1"]["cpu_s_per_h"] - r["none"]["cpu_s_per_h"] for r in runs)
    print("\n| lab | CPU-s/h (median of %d) | over none |" % len(runs))
    print("|---|---|---|")
    print("| no meters | %.2f | |" % med["none"])
    print("| 3 meters at 60 s | %.2f | %+.2f (target <= %.1f) |" % (med["m60"], diff60,
                                                                 TARGET_CPU_S_PER_H))
    print("| 3 meters at 1 s | %.2f | %+.2f |" % (med["m1"], diff1))
    report = {"runs": runs, "median": med, "m60_over_none": diff60, "m1_over_none": diff1,
              "nproc": os.cpu_count()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    bad = [r for r in runs for k in ("none", "m60", "m1") if r[k]["n_violations"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
