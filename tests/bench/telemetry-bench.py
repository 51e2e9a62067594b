#!/usr/bin/python3
"""telemetry-bench.py - what telemetry (issue 16) costs: events and outbox bytes
per printer per day, and the agent's idle CPU with telemetry on against off.

usage: telemetry-bench.py LABAGENT [--base LABAGENT_OFF] [--k K]
                          [--events-seconds S] [--idle-seconds W] [--settle S]
                          [--runs R] [--only events|idle] [--json FILE]

LABAGENT should be a release build of this tree; LABAGENT_OFF a release build
of the commit before telemetry (b8d948c: printer.status, no stock, quality or
device list). Not a ctest. Two parts:

  events  time compressed by K (1..10; jobs.status_interval's 1 s minimum caps
          it): the agent with jobs.status_interval 10 s / K,
          stock.report_interval 5 m / K and stock.max_events_per_hour 12 x K
          (the other stock keys at their defaults), one ippeveprinter
          (dnp-ds620, 10 s / K print time), one job (4x6, quantity 1) offered
          every 60 s / K: a lab printer's one print a minute, K times faster.
          Two scenarios side by side, each with its own sandbox, printer and
          agent: "changing" sets the ribbon 1 % lower before every job
          (100, 99, .. 5, then 100 again: a ribbon change; the printer's low
          level 10 %), "quiet" prints the same jobs with the ribbon standing at
          80 %. Counted: every event the sandbox received whose "at" (the
          agent's clock) falls between the first job offered and the end of
          the last job's slot, by kind, with its bytes: the body as the agent
          stores it (compact JSON, sorted keys: the outbox's body column) and
          the whole event as it goes upstream. Per busy hour =
          count x 3600 / (S x K). The PUT /devices the sandbox handled from
          the agent's ready on are listed, not scaled (their 60 s debounce is
          real time).
  idle    4 ippeveprinters (2 dnp-ds620, 2 mitsubishi-cp-d90), no jobs, every
          interval at its default, the service's log level (info); the OFF and
          the ON agent run at the same time, each with its own sandbox and
          printers, so both see the same machine; after --settle seconds, the
          agent's utime + stime (/proc/PID/stat) over W seconds, per hour;
          and the events and device PUTs received in that window. R runs.

A day per printer: 10 busy hours (the events part) + 14 idle hours (the idle
part, ON agent, per printer). Prints a table and the JSON (--json FILE saves
it). Exits non-zero only when something failed (a process ended, a wait timed
out, the sandbox saw a contract violation from this tree's agent), never for
a missed target. Every wait is bounded; every process and temp dir is
cleaned up. Talks only to loopback.
"""

import argparse
import datetime
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

MAKE_CERTS = os.path.join(SOURCE, "tests", "platform", "make-certs.sh")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_STATUS_S = 10.0  # jobs.status_interval (agent/config/config-schema.c)
DEFAULT_REPORT_S = 300.0  # stock.report_interval
DEFAULT_MAX_PER_HOUR = 12  # stock.max_events_per_hour
DEVICES_DEBOUNCE_S = 60.0  # PUT /devices (not configurable)
JOBS_PER_HOUR = 60  # a lab printer: one print a minute ...
BUSY_HOURS = 10  # ... over a 10 h day
PRINT_SECONDS = 10.0  # a dye-sub 4x6, before compression
RIBBON_TOP, RIBBON_WRAP, RIBBON_LOW = 100, 5, 10
QUIET_LEVEL = 80  # photo.conf's ribbon
WAIT_DONE = 180.0  # the last jobs printed after the schedule (bounded)
TARGET_CPU_S_PER_H = 2.0  # issue 16
# What the sandbox adds to each event it keeps (tests/platform/sandbox.py EVENT_META).
EVENT_META = {"lab", "receipts", "request", "first_received_at", "last_received_at"}


def proc_cpu(pid):
    """utime + stime of pid, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def parse_at(text):
    """RFC 3339 (Z or offset, fractional seconds optional) -> epoch seconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def body_bytes(ev):
    """The body as the agent stores it (jansson JSON_COMPACT | JSON_SORT_KEYS)."""
    return len(json.dumps(ev.get("body") or {}, separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False).encode())


def wire_bytes(ev):
    """The whole event as the outbox sends it (without the sandbox's bookkeeping)."""
    sent = {k: v for k, v in ev.items() if k not in EVENT_META}
    return len(json.dumps(sent, separators=(",", ":"), ensure_ascii=False).encode())


def tally(events, t0, t1):
    """{kind: {"n", "body", "wire"}} of the events stamped in [t0, t1]."""
    out = {}
    for e in events:
        if not t0 <= parse_at(e["at"]) <= t1:
            continue
        k = out.setdefault(e["kind"], {"n": 0, "body": 0, "wire": 0})
        k["n"] += 1
        k["body"] += body_bytes(e)
        k["wire"] += wire_bytes(e)
    return out


def device_puts(sb, t0, t1):
    """(count, bytes of the compact body, [seconds after t0]) of the PUT /devices
    handled in [t0, t1]."""
    puts = [p for p in sb.call("GET", "/control/devices")["puts"]
            if t0 <= parse_at(p["received_at"]) <= t1]
    return (len(puts), sum(len(json.dumps(p["devices"], separators=(",", ":"))) for p in puts),
            [round(parse_at(p["received_at"]) - t0, 1) for p in puts])


def check_alive(ag, printers, what):
    dead = [p.name for p in printers if not p.running()]
    if dead or not ag.running():
        raise RuntimeError("%s: printer(s) %s or the agent ended: %s / %s"
                           % (what, dead, [fleet.tail_of(p.log_path, 3) for p in printers],
                              ag.tail(5) if ag.proc else ""))


# ---------------------------------------------------------------- events (compressed)

def events_scenario(name, k, seconds, result, errors):
    """One scenario of the events part, in its own thread: result[name] = figures."""
    work = tempfile.mkdtemp(prefix="labagent-telemetry-bench-")
    printer, sb, ag = None, None, None
    try:
        status_ms = int(DEFAULT_STATUS_S * 1000 / k)
        report_ms = int(DEFAULT_REPORT_S * 1000 / k)
        slot = 3600.0 / JOBS_PER_HOUR / k
        n_jobs = int(seconds / slot)
        sb = fleet.Platform(work)
        printer = fleet.IppPrinter(work, "ds620", "dnp-ds620", delay=PRINT_SECONDS / k)
        printer.start()
        extra = ("jobs:\n  status_interval: %dms\n"
                 "stock:\n  report_interval: %dms\n  max_events_per_hour: %d\n"
                 % (status_ms, report_ms, DEFAULT_MAX_PER_HOUR * k))
        ag = fleet.FleetAgent(work, sb, [printer.config_entry()], workers=1, extra=extra,
                              log_level="info")
        ag.start()
        ready = time.time()
        time.sleep(max(3.0, 2 * status_ms / 1000.0))  # the first status reads
        ids = set()
        t0 = time.time()
        mono0 = time.monotonic()
        for i in range(n_jobs):
            check_alive(ag, [printer], name)
            if name == "changing":
                printer.set_supply_level(RIBBON_TOP - i % (RIBBON_TOP - RIBBON_WRAP + 1),
                                         low=RIBBON_LOW)
            jobs = sb.add_bulk_jobs(1, seed=i, prefix="%s-%04d-" % (name[0], i),
                                    skus=("print-4x6-glossy",), quantities=(1,),
                                    width=600, height=900)
            ids.update(j["id"] for j in jobs)
            delay = mono0 + (i + 1) * slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        t1 = t0 + n_jobs * slot
        tl.wait_until(lambda: all(ag.jobs().get(j, {}).get("state") in fleet.DONE_STATES
                                  for j in ids), WAIT_DONE, "%s: every job printed" % name, 0.5)
        tl.wait_until(lambda: ag.outbox() == 0, 60, "%s: the outbox delivered" % name, 0.2)
        violations = sb.violations()
        kinds = tally(sb.events(), t0, t1)
        puts, put_bytes, put_at = device_puts(sb, ready, t1)
        result[name] = {"k": k, "run_s": t1 - t0, "jobs": n_jobs,
                        "ready_to_first_job_s": t0 - ready, "devices_put_s_after_ready": put_at,
                        "printed": len(printer.printed_job_names()),
                        "status_interval_ms": status_ms, "report_interval_ms": report_ms,
                        "kinds": kinds, "devices_puts": puts, "devices_bytes": put_bytes,
                        "violations": violations[:5], "n_violations": len(violations)}
        ag.stop()
    except Exception as e:  # reported by the main thread
        errors.append("%s: %s: %s" % (name, type(e).__name__, str(e)[:800]))
    finally:
        if ag is not None and ag.running():
            ag.kill()
        if printer is not None:
            printer.stop()
        if sb is not None:
            sb.stop()
        shutil.rmtree(work, ignore_errors=True)


def events_part(k, seconds):
    result, errors = {}, []
    threads = [threading.Thread(target=events_scenario, args=(n, k, seconds, result, errors))
               for n in ("changing", "quiet")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + WAIT_DONE + 300)
    if any(t.is_alive() for t in threads):
        errors.append("an events scenario did not end in time")
    if errors:
        raise RuntimeError("; ".join(errors))
    return result


# ---------------------------------------------------------------- idle CPU (real time)

class IdleLab:
    """One sandbox, 4 idle ippeveprinters and an agent binary at its defaults."""

    def __init__(self, label, binary, n_printers):
        self.label, self.binary = label, binary
        self.work = tempfile.mkdtemp(prefix="labagent-telemetry-bench-%s-" % label)
        self.sb = fleet.Platform(self.work)
        self.printers = []
        for i in range(n_printers):
            model = "dnp-ds620" if i % 2 == 0 else "mitsubishi-cp-d90"
            p = fleet.IppPrinter(self.work, "p%d" % (i + 1), model)
            self.printers.append(p)
            p.start()
        self.ag = fleet.FleetAgent(self.work, self.sb, [p.config_entry() for p in self.printers],
                                   workers=2, log_level="info")

    def start(self):
        saved = tl.LABAGENT
        tl.LABAGENT = self.binary  # FleetAgent.start runs tl.LABAGENT
        try:
            self.ag.start()
        finally:
            tl.LABAGENT = saved

    def close(self):
        if self.ag.running():
            self.ag.kill()
        for p in self.printers:
            p.stop()
        self.sb.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def idle_run(run_no, labs_spec, n_printers, settle, window):
    labs = []
    try:
        for label, binary in labs_spec:
            labs.append(IdleLab(label, binary, n_printers))
        for lab in labs:
            lab.start()
        time.sleep(settle)
        for lab in labs:
            check_alive(lab.ag, lab.printers, lab.label)
        t0 = time.time()
        c0 = {lab.label: proc_cpu(lab.ag.proc.pid) for lab in labs}
        end = time.monotonic() + window
        while time.monotonic() < end:  # bounded by window; checks every 10 s
            time.sleep(min(10.0, max(0.0, end - time.monotonic())))
            for lab in labs:
                check_alive(lab.ag, lab.printers, lab.label)
        c1 = {lab.label: proc_cpu(lab.ag.proc.pid) for lab in labs}
        t1 = time.time()
        out = {"run": run_no, "window_s": t1 - t0}
        for lab in labs:
            kinds = tally(lab.sb.events(), t0, t1)
            puts, put_bytes, put_at = device_puts(lab.sb, t0, t1)
            cpu = c1[lab.label] - c0[lab.label]
            out[lab.label] = {"cpu_s": cpu, "cpu_s_per_h": cpu * 3600.0 / (t1 - t0),
                              "devices_put_s_after_t0": put_at, "kinds": kinds,
                              "devices_puts": puts, "devices_bytes": put_bytes,
                              "n_violations": len(lab.sb.violations())}
            lab.ag.stop()
        return out
    finally:
        for lab in labs:
            lab.close()


# ---------------------------------------------------------------- report

def telemetry_kind(kind):
    return kind.startswith(("stock.", "printer."))


def per_hour(kinds, hours, printers=1):
    """{kind: (events, body bytes, wire bytes) per printer-hour}."""
    return {k: (v["n"] / hours / printers, v["body"] / hours / printers,
                v["wire"] / hours / printers) for k, v in kinds.items()}


def print_events(ev, idle_rate):
    out = {}
    for name, r in sorted(ev.items()):
        busy_h = r["run_s"] * r["k"] / 3600.0
        rate = per_hour(r["kinds"], busy_h)
        print("\n%s: %d jobs in %.0f s (x%d = %.2f busy h), printed %d, status %d ms, "
              "report %d ms, sandbox violations %d"
              % (name, r["jobs"], r["run_s"], r["k"], busy_h, r["printed"],
                 r["status_interval_ms"], r["report_interval_ms"], r["n_violations"]))
        print("%-22s %7s %9s %9s | %9s %11s %11s | %10s %12s" % (
            "kind", "in run", "body B", "wire B", "per day", "body B/day", "wire B/day",
            "bound/day", "bound B/day"))
        day = {}
        for kind in sorted(r["kinds"]):
            v = r["kinds"][kind]
            n_h, b_h, w_h = rate[kind]
            i_n, i_b, i_w = idle_rate.get(kind, (0.0, 0.0, 0.0))
            d = (n_h * BUSY_HOURS + i_n * (24 - BUSY_HOURS),
                 b_h * BUSY_HOURS + i_b * (24 - BUSY_HOURS),
                 w_h * BUSY_HOURS + i_w * (24 - BUSY_HOURS))
            day[kind] = d
            bound = bound_per_day(kind)
            mean_wire = v["wire"] / v["n"] if v["n"] else 0
            print("%-22s %7d %9d %9d | %9.1f %11.0f %11.0f | %10s %12s" % (
                kind, v["n"], v["body"], v["wire"], d[0], d[1], d[2],
                "-" if bound is None else "%d" % bound,
                "-" if bound is None else "%.0f" % (bound * mean_wire)))
        tel = [d for kk, d in day.items() if telemetry_kind(kk)]
        tot = [sum(x) for x in zip(*tel)] if tel else [0, 0, 0]
        print("telemetry per printer per day: %.0f events, %.0f body B, %.0f wire B"
              % (tot[0], tot[1], tot[2]))
        print("PUT /devices (whole lab, debounced %d s, real time: not scaled): %d from ready "
              "to the end, %d B, at %s s after ready"
              % (DEVICES_DEBOUNCE_S, r["devices_puts"], r["devices_bytes"],
                 r["devices_put_s_after_ready"]))
        out[name] = {"per_day": day, "telemetry_day": tot}
    return out


def bound_per_day(kind):
    """What the defaults allow per printer per day, by arithmetic (None: no bound)."""
    intervals = int(86400 / DEFAULT_REPORT_S)  # 288
    if kind in ("stock.level", "printer.quality"):
        return intervals
    if kind in ("stock.low", "stock.out", "stock.ok"):
        return DEFAULT_MAX_PER_HOUR * 24  # shared by the three
    return None


def idle_rates(runs, n_printers):
    """Per printer-hour, ON agent, summed over the runs' windows."""
    hours = sum(r["window_s"] for r in runs) / 3600.0
    kinds = {}
    for r in runs:
        for kind, v in r["on"]["kinds"].items():
            k = kinds.setdefault(kind, {"n": 0, "body": 0, "wire": 0})
            for f in ("n", "body", "wire"):
                k[f] += v[f]
    return per_hour(kinds, hours, n_printers)


def print_idle(runs, n_printers):
    print("\nidle, %d printers, defaults: CPU s per hour (utime+stime over each window)"
          % n_printers)
    print("%-4s %9s %10s %10s %10s" % ("run", "window s", "off", "on", "on - off"))
    for r in runs:
        print("%-4d %9.0f %10.2f %10.2f %+10.2f" % (
            r["run"], r["window_s"], r["off"]["cpu_s_per_h"], r["on"]["cpu_s_per_h"],
            r["on"]["cpu_s_per_h"] - r["off"]["cpu_s_per_h"]))
    off = statistics.median(r["off"]["cpu_s_per_h"] for r in runs)
    on = statistics.median(r["on"]["cpu_s_per_h"] for r in runs)
    diff = statistics.median(r["on"]["cpu_s_per_h"] - r["off"]["cpu_s_per_h"] for r in runs)
    print("median %14.2f %10.2f %+10.2f  (difference of medians %+.2f; target <= +%.1f: %s)"
          % (off, on, diff, on - off, TARGET_CPU_S_PER_H,
             "met" if diff <= TARGET_CPU_S_PER_H else "MISSED"))
    for label in ("off", "on"):
        kinds = {}
        for r in runs:
            for kind, v in r[label]["kinds"].items():
                kinds[kind] = kinds.get(kind, 0) + v["n"]
        puts = sum(r[label]["devices_puts"] for r in runs)
        print("idle events received (%s, all runs' windows): %s; PUT /devices %d"
              % (label, json.dumps(kinds, sort_keys=True), puts))
    return {"off_median": off, "on_median": on, "diff_median": diff,
            "diff_of_medians": on - off, "target_met": diff <= TARGET_CPU_S_PER_H}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("labagent", help="this tree's release build (telemetry on)")
    ap.add_argument("--base", help="the build before telemetry (off); needed for idle")
    ap.add_argument("--k", type=int, default=10, help="time compression, 1..10 (default 10)")
    ap.add_argument("--events-seconds", type=float, default=600.0,
                    help="events part, seconds (default 600: 100 jobs at K=10, one ribbon "
                         "100..5 %% and its change)")
    ap.add_argument("--idle-seconds", type=float, default=600.0, help="idle CPU window")
    ap.add_argument("--settle", type=float, default=60.0, help="idle: after start-up")
    ap.add_argument("--runs", type=int, default=2, help="idle runs (off and on together)")
    ap.add_argument("--printers", type=int, default=4, help="idle printers")
    ap.add_argument("--only", choices=("events", "idle"))
    ap.add_argument("--json")
    args = ap.parse_args()
    if not 1 <= args.k <= 10:
        ap.error("--k must be 1..10 (jobs.status_interval cannot go under 1 s)")
    if args.only != "events" and not args.base:
        ap.error("--base LABAGENT_OFF is needed for the idle part")
    if not 0 < args.events_seconds <= 7200 or not 0 < args.idle_seconds <= 7200 \
            or not 0 <= args.settle <= 600 or not 1 <= args.runs <= 20:
        ap.error("durations up to 2 h, settle up to 10 min, 1..20 runs")
    tl.LABAGENT = os.path.abspath(args.labagent)
    base = os.path.abspath(args.base) if args.base else None
    certs = tempfile.mkdtemp(prefix="labagent-telemetry-bench-certs-")
    state = tempfile.mkdtemp(prefix="labagent-telemetry-bench-peers-")
    peers = fleet.Peers(os.path.join(state, "peers.state"))
    report = {"k": args.k, "nproc": os.cpu_count()}
    failed = []
    try:
        subprocess.run(["bash", MAKE_CERTS, certs], check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        tl.CERTS = certs
        peers.start()
        idle = []
        if args.only != "idle":
            ev = events_part(args.k, args.events_seconds)
            print(json.dumps(ev, sort_keys=True), flush=True)
            report["events"] = ev
            for name, r in ev.items():
                if r["n_violations"]:
                    failed.append("%s: %d sandbox violations: %s"
                                  % (name, r["n_violations"], r["violations"]))
        if args.only != "events":
            for r in range(1, args.runs + 1):
                res = idle_run(r, [("off", base), ("on", tl.LABAGENT)], args.printers,
                               args.settle, args.idle_seconds)
                print(json.dumps(res, sort_keys=True), flush=True)
                idle.append(res)
                if res["on"]["n_violations"]:
                    failed.append("idle run %d: %d sandbox violations (on)"
                                  % (r, res["on"]["n_violations"]))
            report["idle_runs"] = idle
        if idle:
            report["idle"] = print_idle(idle, args.printers)
        if args.only != "idle":
            rate = idle_rates(idle, args.printers) if idle else {}
            if not idle:
                print("\n(no idle part: the 14 quiet hours of the day count as 0)")
            report["day"] = print_events(report["events"], rate)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1, sort_keys=True, default=str)
        for f in failed:
            print("FAILED: " + f, file=sys.stderr)
        return 1 if failed else 0
    finally:
        peers.stop()
        shutil.rmtree(certs, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
