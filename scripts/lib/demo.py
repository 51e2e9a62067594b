#!/usr/bin/python3
"""demo.py - the body of scripts/demo: a small photo lab on loopback, run for
real, and what happened, shown (standard library only).

Why: the README's first command must show the product doing its job, not a
slide. So the real labagent binary (the release build) pulls a few dozen
orders from the sandbox platform over mutual TLS, downloads, renders and
prints them on two simulated IPP photo printers (ippeveprinter) and a
simulated hot-folder minilab, while this script shows live progress; then it
shows the lab-IT facts around it (config checker, single instance, a bad
reload refused, clean stop, `labagent render` by hand) and a summary where
every figure is read from what actually happened: the agent's store (opened
read-only), the printers' own records and the sandbox's record of requests
and events. Nothing here is hard-coded but the orders offered.

The peers and the agent are started through the end-to-end test harness
(tests/jobs/fleet.py, and through it tests/platform-link/test_link.py), so
the demo runs the lab the tests run.

usage: demo.py --labagent BIN [--work DIR] [--jobs N] [--wait S]

Everything it starts is stopped on exit, also on Ctrl-C (SIGINT), SIGTERM
or failure; D-Bus and avahi-daemon only when it started them. Every wait is
bounded. Exit status: 0 when every expected copy was printed exactly once
and the agent stopped cleanly; 1 on a failure (with the tail of the agent's
log); 130 when interrupted. The work dir is kept for a look.
"""

import argparse
import collections
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback

sys.dont_write_bytecode = True  # leave no __pycache__ in tests/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "jobs"))

import fleet  # noqa: E402  (and through it test_link)

tl = fleet.tl

# Bounds of the waits here (the harness bounds its own: ports, ready, stop).
WAIT_CERTS = 120.0  # make-certs.sh
WAIT_RELOAD = 10.0  # config_reload_failed in the log after SIGHUP
WAIT_OUTBOX = 30.0  # every event delivered after the last print
WAIT_CLI = 60.0  # one labagent --check-config / render / second instance

# The simulated print time: slow enough to watch, fast enough to wait for.
IPP_DELAY = 0.4  # seconds per document, in ippeveprinter's job script
# The minilab's 152 mm paper roll, in metres: a 4x6 print takes 4 in of it, a 5x7 5 in.
MINILAB_PAPER = [{"name": "paper-152", "kind": "paper", "unit": "metres", "capacity": 176,
                  "low": 15, "uses": {"na_index-4x6_4x6in": 0.1016, "na_5x7_5x7in": 0.127}}]
MINILAB_HOLD = 400  # milliseconds per item, in minilab.py

# Job states of the agent's store, grouped for the progress line.
BUCKETS = [("accepted", ("claiming", "accepted", "downloading")),
           ("downloaded", ("downloaded", "rendering")),
           ("rendered", ("rendered", "queued")),
           ("printing", ("submitting", "printing")),
           ("printed", ("printed", "reported"))]
PRINTED = ("printed", "reported")
# A job in one of these never prints.
DEAD = ("failed", "rejected", "canceled", "dropped")


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived."""


class DemoFailure(Exception):
    """Something did not happen as it should; the message says what."""


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def step(title):
    print("\n==> %s" % title, flush=True)


def rel(path):
    """A path relative to the repository, for shorter lines."""
    try:
        r = os.path.relpath(path, ROOT)
        return path if r.startswith("..") else r
    except ValueError:
        return path


def cut(text, width=200):
    return "\n".join(line[:width] for line in text.rstrip("\n").split("\n"))


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.rstrip("\n").split("\n")) if text else ""


def parse_at(text):
    """An RFC 3339 time ('2026-11-28T16:40:01.123Z') -> seconds since the epoch."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fmt_s(seconds):
    return "%.1f s" % seconds


# ---------------------------------------------------------------- the lab

class Lab:
    """What the demo started, so that everything is stopped whatever happens."""

    def __init__(self, work, labagent):
        self.work = work
        self.labagent = labagent
        self.peers = None
        self.peers_started = []  # what peers.sh started (dbus, avahi), stopped at the end
        self.platform = None
        self.printers = []  # fleet.IppPrinter
        self.minilabs = []  # fleet.Minilab
        self.agent = None  # fleet.FleetAgent

    def all_printers(self):
        return self.printers + self.minilabs

    def start_peers(self):
        self.peers = fleet.Peers(os.path.join(self.work, "peers.state"))
        out = self.peers.start()
        with open(os.path.join(self.work, "peers.state")) as f:
            self.peers_started = [line.split()[0] for line in f if line.strip()]
        return out, self.peers_started

    def cleanup(self):
        """Stop the agent, the printers, the minilabs, the sandbox, then D-Bus/avahi
        if we started them. Every step is bounded and runs whatever the others did."""
        stopped = []
        if self.agent is not None and self.agent.proc is not None:
            try:
                if self.agent.running():
                    self.agent.stop()
                    stopped.append("agent")
            except AssertionError:  # it did not stop within 10 s of SIGTERM: killed
                self.agent.kill()
                stopped.append("agent (killed)")
            except Exception as e:  # noqa: BLE001
                print("demo: stopping the agent: %s" % e, file=sys.stderr)
                self.agent.kill()
        for p in self.printers + self.minilabs:
            try:
                if p.running():
                    stopped.append(p.name)
                p.stop()
            except Exception as e:  # noqa: BLE001
                print("demo: stopping %s: %s" % (p.name, e), file=sys.stderr)
        if self.platform is not None:
            try:
                self.platform.stop()
                stopped.append("sandbox")
            except Exception as e:  # noqa: BLE001
                print("demo: stopping the sandbox: %s" % e, file=sys.stderr)
        if self.peers is not None and self.peers.started:
            try:
                self.peers.stop()
                if self.peers_started:
                    stopped.append(" and ".join(self.peers_started) + " (the demo started them)")
            except Exception as e:  # noqa: BLE001
                print("demo: stopping D-Bus/avahi: %s" % e, file=sys.stderr)
        left = [name for name, proc in self.processes() if proc.poll() is None]
        return stopped, left

    def processes(self):
        out = []
        if self.agent is not None and self.agent.proc is not None:
            out.append(("agent", self.agent.proc))
        if self.platform is not None:
            out.append(("sandbox", self.platform.proc))
        for p in self.printers + self.minilabs:
            if p.proc is not None:
                out.append((p.name, p.proc))
        return out

    def agent_tail(self, lines=40):
        if self.agent is None or not os.path.exists(self.agent.stderr_path):
            return ""
        return cut(self.agent.tail(lines), 240)


# ---------------------------------------------------------------- progress

class Progress:
    """One compact line, refreshed about every second: the jobs by state from the
    agent's store (read-only) and the copies each printer's own record says it printed."""

    def __init__(self, lab, total_copies):
        self.lab = lab
        self.total = total_copies
        self.tty = sys.stdout.isatty()
        self.t0 = time.monotonic()
        self.shown = False
        self.printed = None  # the last line printed (not a terminal)
        self.last_time = 0.0
        self.states = {}

    def read(self):
        try:
            self.states = self.lab.agent.job_states()
        except Exception:  # noqa: BLE001  (store busy or not created yet: keep the last)
            pass
        return self.states

    def printed_per_printer(self):
        return [(p.name, len(p.printed_job_names())) for p in self.lab.all_printers()]

    def line(self):
        counts = collections.Counter(self.states.values())
        parts = ["%s %d" % (name, sum(counts[s] for s in group)) for name, group in BUCKETS]
        grouped = {s for _, g in BUCKETS for s in g}
        parts += ["%s %d" % (s, n) for s, n in sorted(counts.items()) if s not in grouped]
        per = self.printed_per_printer()
        return "%5.0fs  jobs: %s | copies %d/%d: %s" % (
            time.monotonic() - self.t0, " ".join(parts), sum(n for _, n in per), self.total,
            " ".join("%s %d" % kv for kv in per))

    def show(self, force=False):
        """On a terminal: rewrite the line in place, about every second (cut to the
        terminal's width, so it never wraps). Otherwise: a new line when it changed,
        at most every 3 s."""
        line = self.line()
        now = time.monotonic()
        if self.tty:
            if force or now - self.last_time >= 1.0:
                width = shutil.get_terminal_size((120, 24)).columns - 1
                sys.stdout.write("\r" + line[:max(width, 20)] + "\033[K")
                sys.stdout.flush()
                self.shown = True
                self.last_time = now
            return
        changed = line.split("s", 1)[1] != (self.printed or "s").split("s", 1)[1]
        if changed and (force or now - self.last_time >= 3.0):
            print(line, flush=True)
            self.printed = line
            self.last_time = now

    def clear(self):
        """Take the line away before other output (a TTY only)."""
        if self.tty and self.shown:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()
            self.shown = False

    def note(self, text):
        self.clear()
        print(text, flush=True)
        self.last_time = 0.0

    def done(self):
        if self.tty:
            self.show(force=True)
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.shown = False
        else:
            self.show(force=True)


# ---------------------------------------------------------------- steps

def run_cli(args, timeout=WAIT_CLI):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def check_config_steps(lab):
    example = os.path.join(ROOT, "packaging", "labagent.yaml")
    step("1. The example configuration passes the checker")
    out = run_cli([lab.labagent, "--check-config", example])
    print(indent(cut(rel_paths(out.stdout + out.stderr))))
    if out.returncode != 0:
        raise DemoFailure("labagent --check-config refused the example configuration "
                          "(exit %d)" % out.returncode)

    step("2. A mistake in it is refused with its file:line:column and key path")
    with open(example) as f:
        text = f.read()
    text = re.sub(r"(?m)^(\s*)poll_wait: .*$", r"\g<1>poll_wait: 25", text, count=1)
    text = re.sub(r"(?m)^(\s*)id: ", r"\g<1>idd: ", text, count=1)
    broken = os.path.join(lab.work, "broken.yaml")
    with open(broken, "w") as f:
        f.write(text)
    out = run_cli([lab.labagent, "--check-config", broken])
    print(indent(cut(rel_paths(out.stdout + out.stderr))))
    print("    (exit status %d)" % out.returncode)
    if out.returncode != 1:  # README: exit 0 if valid, 1 if not (like nginx -t)
        raise DemoFailure("labagent --check-config did not refuse a broken config with 1")


def rel_paths(text):
    return text.replace(ROOT + "/", "")


def start_lab(lab):
    step("3. The lab: the sandbox platform, two IPP photo printers, a hot-folder minilab")
    certs = os.path.join(lab.work, "certs")
    out = run_cli(["bash", tl.MAKE_CERTS, certs], timeout=WAIT_CERTS)
    if out.returncode != 0:
        raise DemoFailure("make-certs.sh failed (exit %d):\n%s"
                          % (out.returncode, cut(out.stdout + out.stderr)))
    tl.CERTS = certs
    tl.LABAGENT = lab.labagent
    print("test certificates (CA, platform server, lab client) made now by openssl: %s"
          % rel(certs))
    lab.platform = fleet.Platform(lab.work)
    print("sandbox platform: API https://localhost:%d (mutual TLS), control %s"
          % (lab.platform.api_port, lab.platform.control))
    _, started = lab.start_peers()
    print("D-Bus and avahi-daemon (ippeveprinter needs them): %s"
          % ("started by the demo: " + ", ".join(started) if started
             else "already running, left alone"))
    for name, model, make in (("ds620", "dnp-ds620", "DNP DS620 (labagent demo)"),
                              ("cpd90", "mitsubishi-cp-d90", "Mitsubishi CP-D90 (labagent demo)")):
        p = fleet.IppPrinter(lab.work, name, model, delay=IPP_DELAY, make=make)
        lab.printers.append(p)
        p.start()
        print("printer %-8s ippeveprinter %s, %s, %.1f s per print, keeps what it gets in %s"
              % (name, p.uri, model, IPP_DELAY, rel(p.spool)))
    m = fleet.Minilab(lab.work, "qss-3701", model="noritsu-qss-3701", hold_ms=MINILAB_HOLD,
                      time_limit=3600)
    lab.minilabs.append(m)
    m.start()
    print("printer %-8s minilab.py on the hot folder %s (generic format), %.1f s per print"
          % (m.name, rel(m.folder), MINILAB_HOLD / 1000.0))


def offer_jobs(lab, n_jobs):
    """Offer the orders; returns (specs, printable ids, {fault: job id})."""
    step("4. %d sample orders wait at the platform" % n_jobs)
    sb = lab.platform
    n_rush = 2
    n_plain = max(1, n_jobs - n_rush - 3)
    skus = tuple(p["sku"] for p in fleet.PRODUCTS)
    jobs = sb.add_bulk_jobs(n_plain, seed=2024, skus=skus, quantities=(1, 1, 2, 3))
    jobs += sb.add_bulk_jobs(n_rush, seed=7, prefix="rush-", skus=skus, quantities=(1, 2),
                             priority="rush")
    faults = {"resume": "job-resume", "corrupt": "job-corrupt", "taken": "job-taken"}
    extra = [
        {"id": faults["resume"], "order_id": "ord-big", "sku": "print-5x7-glossy",
         "quantity": 2, "asset_bytes": 2500000, "width": 1500, "height": 2100},
        {"id": faults["corrupt"], "order_id": "ord-bad", "sku": "print-4x6-glossy",
         "quantity": 1},
        {"id": faults["taken"], "order_id": "ord-moved", "sku": "print-4x6-matte",
         "quantity": 1},
    ]
    sb.add_jobs(extra)
    jobs += extra
    sb.fault(method="GET", path="^/v1/assets/a-%s$" % faults["resume"],
             drop_after_bytes=1000000, count=1)
    sb.fault(method="GET", path="^/v1/assets/a-%s$" % faults["corrupt"], corrupt=True,
             count=10)
    sb.fault(method="POST", path="^/v1/jobs/%s/accept$" % faults["taken"], status=409,
             code="job_reassigned", count=100)
    printable = [j["id"] for j in jobs if j["id"] not in (faults["corrupt"], faults["taken"])]
    by_sku = collections.Counter()
    copies = collections.Counter()
    for j in jobs:
        by_sku[j["sku"]] += 1
        copies[j["sku"]] += j["quantity"]
    for sku in sorted(by_sku):
        print("  %-17s %2d jobs, %3d copies" % (sku, by_sku[sku], copies[sku]))
    print("  quantities %s; %d rush jobs (%s)"
          % ("/".join(str(q) for q in sorted({j["quantity"] for j in jobs})), n_rush,
             ", ".join(j["id"] for j in jobs if j.get("priority") == "rush")))
    print("and three faults: %s's download is cut after 1 MB (the agent resumes it),"
          % faults["resume"])
    print("%s's print master arrives corrupted every time (it must never print), and"
          % faults["corrupt"])
    print("%s is taken back by the platform (409 on accept: never claimed, never printed)"
          % faults["taken"])
    return jobs, printable, faults


def second_instance(lab, progress):
    a = lab.agent
    out = run_cli([lab.labagent, "--config", a.config, "--state-dir", a.state], timeout=15)
    text = out.stdout + out.stderr
    progress.note("  [while it runs] a second labagent on the same state directory is "
                  "refused (exit status %d):\n%s" % (out.returncode, indent(cut(rel_paths(
                      text)), "      ")))
    if out.returncode != 75:
        raise DemoFailure("a second labagent on the same state directory exited %d, not 75"
                          % out.returncode)


def bad_reload(lab, progress):
    a = lab.agent
    with open(a.config) as f:
        good = f.read()
    broken = re.sub(r"(?m)^(\s*)poll_wait: .*$", r"\g<1>poll_wait: 2", good, count=1)
    if broken == good:
        raise DemoFailure("no poll_wait line in %s to break" % a.config)
    offset = os.path.getsize(a.stderr_path)
    with open(a.config, "w") as f:
        f.write(broken)
    try:
        os.kill(a.proc.pid, signal.SIGHUP)

        def refused():
            with open(a.stderr_path, errors="replace") as f:
                f.seek(offset)
                return "config_reload_failed" in f.read()
        try:
            fleet.wait_until(refused, WAIT_RELOAD, "config_reload_failed", 0.1)
        except AssertionError:
            raise DemoFailure("SIGHUP with a broken config: no config_reload_failed in the "
                              "agent's log within %.0f s" % WAIT_RELOAD)
    finally:
        with open(a.config, "w") as f:
            f.write(good)
    with open(a.stderr_path, errors="replace") as f:
        f.seek(offset)
        lines = [line for line in f.read().splitlines()
                 if " debug: " not in line and ("poll_wait" in line or "reload" in line)]
    progress.note("  [while it runs] SIGHUP with a broken config: refused, the running "
                  "config kept, printing goes on:\n%s"
                  % indent(cut(rel_paths("\n".join(lines[:4])), 200), "      "))


def print_jobs(lab, jobs, printable, faults, wait_s):
    step("5. The agent starts, pulls the orders over mutual TLS, downloads, renders and "
         "prints them")
    sb = lab.platform
    # The minilab's paper roll is stock no device reports: the agent counts what each
    # print uses (docs/configuration.md, "Consumables").
    entries = [p.config_entry(consumables=MINILAB_PAPER) if isinstance(p, fleet.Minilab)
               else p.config_entry() for p in lab.all_printers()]
    lab.agent = fleet.FleetAgent(lab.work, sb, entries, workers=2)
    lab.agent.sock = os.path.join(lab.work, "control.sock")  # fleet.agent_config's socket
    qty = {j["id"]: j["quantity"] for j in jobs}
    total_copies = sum(qty[j] for j in printable)
    t_start = time.time()
    lab.agent.start()
    print("labagent pid %d, config %s, store %s, log %s" % (
        lab.agent.proc.pid, rel(lab.agent.config),
        rel(os.path.join(lab.agent.state, "labagent.db")), rel(lab.agent.stderr_path)))
    # A technician puts a new roll in the minilab (what the agent counts down from).
    out = run_cli([os.path.join(os.path.dirname(lab.labagent), "labctl"), "--socket",
                   lab.agent.sock, "stock", "load", "qss-3701", MINILAB_PAPER[0]["name"],
                   "%g" % MINILAB_PAPER[0]["capacity"], "--note", "new roll"])
    print("$ labctl stock load qss-3701 %s %g --note 'new roll'\n%s"
          % (MINILAB_PAPER[0]["name"], MINILAB_PAPER[0]["capacity"],
             indent((out.stdout + out.stderr).rstrip())))
    if out.returncode != 0:
        raise DemoFailure("labctl stock load exited %d" % out.returncode)
    progress = Progress(lab, total_copies)
    did_second = did_reload = False
    deadline = time.monotonic() + wait_s
    printable_set = set(printable)
    while True:
        if not lab.agent.running():
            progress.clear()
            raise DemoFailure("the agent exited with status %s while printing"
                              % lab.agent.proc.returncode)
        for p in lab.all_printers():
            if not p.running():
                progress.clear()
                if (not lab.peers_started and "Avahi server crashed"
                        in fleet.tail_of(p.log_path, 5)):
                    raise DemoFailure(
                        "printer %s exited because avahi-daemon went away: the demo found "
                        "D-Bus/avahi already running and did not start them, and something "
                        "else on this machine stopped them mid-run (a test run's peers.sh "
                        "stop?). Run the demo again when nothing else uses them." % p.name)
                raise DemoFailure("printer %s stopped (exit %s); the end of its log %s:\n%s" % (
                    p.name, p.proc.returncode if p.proc else "?", rel(p.log_path),
                    indent(cut(fleet.tail_of(p.log_path, 5)))))
        states = progress.read()
        progress.show()
        if not did_second and states:
            second_instance(lab, progress)
            did_second = True
        printed_copies = sum(n for _, n in progress.printed_per_printer())
        if not did_reload and printed_copies * 3 >= total_copies:
            bad_reload(lab, progress)
            did_reload = True
        dead = sorted((j, states[j]) for j in printable_set if states.get(j) in DEAD)
        if dead:
            progress.clear()
            raise DemoFailure("job(s) that should print ended instead: %s" % ", ".join(
                "%s %s" % d for d in dead))
        if (all(states.get(j) in PRINTED for j in printable_set)
                and states.get(faults["corrupt"]) in DEAD):
            break
        if time.monotonic() > deadline:
            progress.done()
            waiting = collections.defaultdict(list)
            for j in sorted(printable_set | {faults["corrupt"]}):
                s = states.get(j, "not accepted")
                if s not in PRINTED and s not in DEAD:
                    waiting[s].append(j)
            raise DemoFailure("not every job was done within %.0f s; still waiting: %s"
                              % (wait_s, "; ".join("%s %d (%s%s)" % (
                                  s, len(js), " ".join(js[:6]), " ..." if len(js) > 6 else "")
                                  for s, js in sorted(waiting.items()))))
        time.sleep(0.25)
    t_done = time.time()
    progress.done()
    if not did_reload:
        bad_reload(lab, progress)
    try:
        fleet.wait_until(lambda: lab.agent.outbox() == 0, WAIT_OUTBOX,
                         "the outbox to be delivered", 0.2)
    except AssertionError:
        raise DemoFailure("events still waiting in the agent's outbox %.0f s after the last "
                          "print: %d" % (WAIT_OUTBOX, lab.agent.outbox()))
    print("every job done in %s; every event delivered" % fmt_s(t_done - t_start))
    return t_start, t_done, total_copies


def exactly_once(lab, jobs, printable):
    step("6. Exactly once: the printers' own records against the orders")
    qty = {j["id"]: j["quantity"] for j in jobs}
    printed = {p.name: p.printed_job_names() for p in lab.all_printers()}
    received = {p.name: p.received_job_names() for p in lab.printers}
    events = lab.platform.events()
    v = fleet.verdict({j: qty[j] for j in printable}, printed, received, events)
    resubmitted = sum(1 for r in v["copies"].values() if r["received"] > 1)
    print("%d copies expected; printed exactly once: %d; duplicates %d; missing %d; "
          "unexpected %d; copies sent twice to an IPP printer: %d"
          % (len(v["copies"]), sum(1 for r in v["copies"].values() if r["printed"] == 1),
             len(v["duplicates"]), len(v["missing"]), len(v["unexpected"]), resubmitted))
    print("job.printed events: one per job for %d of %d jobs"
          % (sum(1 for j in printable if v["events"][j]["printed"] == 1), len(printable)))
    if not v["ok"]:
        raise DemoFailure("the agent broke exactly-once:\n" + fleet.format_verdict(v))
    return v


def console(lab):
    """What a technician sees and does with labctl, against the running agent."""
    step("7. The technicians' console: labctl status, pause a printer, resume it, stock")
    labctl = os.path.join(os.path.dirname(lab.labagent), "labctl")
    sock = lab.agent.sock

    def run(*args):
        p = subprocess.run([labctl, "--socket", sock] + list(args), capture_output=True,
                           text=True, timeout=WAIT_CLI, stdin=subprocess.DEVNULL)
        print("$ labctl %s" % " ".join(args))
        print(indent((p.stdout + p.stderr).rstrip()))
        if p.returncode != 0:
            raise DemoFailure("labctl %s exited %d" % (" ".join(args), p.returncode))
        return p.stdout
    run("status")
    name = lab.printers[0].name
    out = run("pause", name, "--reason", "reloading 4x6 paper")
    if "paused" not in out:
        raise DemoFailure("labctl pause did not say the printer is paused")
    run("printers")
    run("resume", name)
    # What the printers report of their ribbons and trays, and the minilab's roll the
    # agent counted down: exactly what the prints used.
    run("stock")


def clean_stop(lab):
    step("8. SIGTERM: clean stop")
    offset = os.path.getsize(lab.agent.stderr_path)
    rc = lab.agent.stop()
    with open(lab.agent.stderr_path, errors="replace") as f:
        f.seek(offset)
        lines = [line for line in f.read().splitlines() if " debug: " not in line]
    print(indent(cut(rel_paths("\n".join(lines[-6:])), 200)))
    print("(exit status %s)" % rc)
    if rc != 0:
        raise DemoFailure("the agent exited %s on SIGTERM, not 0" % rc)


def render_by_hand(lab):
    """labagent render on a job's print master, for the printer and product the daemon
    used: the same bytes as the daemon's render (its audit record in the store)."""
    step("9. labagent render by hand reproduces the daemon's render (same bytes)")
    a = lab.agent
    rows = a.query("SELECT r.job_id, r.printer, r.audit, j.sku, j.asset_path FROM renders r "
                   "JOIN jobs j ON j.id = r.job_id ORDER BY r.id")
    picked, seen = [], set()
    for r in rows:
        if r["printer"] not in seen and r["asset_path"] and os.path.exists(r["asset_path"]):
            seen.add(r["printer"])
            picked.append(r)
    if not picked:
        print("no print master left in the spool to render again")
        return 0, 0
    same = 0
    for r in picked:
        daemon = json.loads(r["audit"])
        out = os.path.join(lab.work, "render-by-hand-%s-%s" % (r["printer"], r["job_id"]))
        res = run_cli([lab.labagent, "render", "--config", a.config, "--printer", r["printer"],
                       "--product", r["sku"], r["asset_path"], out])
        if res.returncode != 0:
            print("%-9s %-8s %-17s: labagent render exited %d: %s" % (
                r["job_id"], r["printer"], r["sku"], res.returncode, cut(res.stderr, 160)))
            continue
        mine = json.loads(res.stdout)
        match = mine.get("output_sha256") == daemon.get("output_sha256")
        same += match
        print("%-9s %-8s %-17s -> %sx%s %s, %s intent, gamut out %.1f%%, sha256 %s... %s" % (
            r["job_id"], r["printer"], r["sku"], mine.get("width"), mine.get("height"),
            "turned 90deg" if mine.get("rotated") else "upright", mine.get("intent"),
            100 * (mine.get("gamut_share") or 0), (mine.get("output_sha256") or "")[:12],
            "= the daemon's" if match else "!= the daemon's %s..." % (
                daemon.get("output_sha256") or "")[:12]))
    return same, len(picked)


def summary(lab, jobs, printable, faults, t_start, t_done, total_copies, renders_same):
    step("Summary (read from the agent's store, the printers' records and the sandbox)")
    a, sb = lab.agent, lab.platform
    store = a.jobs()
    copies = a.copies()
    spec = {j["id"]: j for j in jobs}

    # Jobs and copies per printer.
    print("%-9s %-10s %-18s %5s %7s %7s  %s" % ("printer", "driver", "model", "jobs", "copies",
                                               "(store)", "printed files"))
    for p in lab.all_printers():
        e = p.config_entry()
        njobs = sum(1 for j in store.values() if j.get("printer") == p.name
                    and j["state"] in PRINTED)
        ledger = len(p.printed_job_names())
        in_store = sum(1 for c in copies if c["printer"] == p.name and c["state"] == "printed")
        if isinstance(p, fleet.IppPrinter):
            where = "%s/ (%d files kept by ippeveprinter)" % (rel(p.spool), len(p.kept_files()))
        else:
            done_dir = os.path.join(p.folder, "done")
            where = "%s/ (%d items)" % (rel(done_dir), len(p.printed_job_names()))
        print("%-9s %-10s %-18s %5d %7d %7d  %s" % (p.name, e["driver"], e["model"], njobs,
                                                   ledger, in_store, where))
    # Products.
    per_sku = collections.defaultdict(lambda: [0, 0])
    for j in printable:
        per_sku[spec[j]["sku"]][0] += 1
        per_sku[spec[j]["sku"]][1] += spec[j]["quantity"]
    print("products printed: " + ", ".join("%s %d jobs/%d copies" % (s, n, c)
                                          for s, (n, c) in sorted(per_sku.items())))
    # The minilab's roll: what the agent counted, against its consumption ledger.
    item = a.query("SELECT remaining FROM stock_items WHERE printer = 'qss-3701' AND item = ?",
                   MINILAB_PAPER[0]["name"])
    used = a.query("SELECT count(*) AS n, total(amount) AS m FROM stock_ledger "
                   "WHERE printer = 'qss-3701'")[0]
    if item:
        print("qss-3701 %s: %g m loaded, %d prints used %.2f m (consumption ledger), "
              "%.2f m left" % (MINILAB_PAPER[0]["name"], MINILAB_PAPER[0]["capacity"],
                               used["n"], used["m"], item[0]["remaining"]))

    # Timings, from the agent's own event times.
    events = sb.events()
    first = {}
    for e in events:
        if e.get("job_id") and e.get("at"):
            first.setdefault((e["kind"], e["job_id"]), parse_at(e["at"]))
    spans = {j: first[("job.printed", j)] - first[("job.accepted", j)] for j in printable
             if ("job.printed", j) in first and ("job.accepted", j) in first}
    print()
    print("timings: agent start -> last job printed %s (%d copies, %.1f copies/min)"
          % (fmt_s(t_done - t_start), total_copies, 60.0 * total_copies / (t_done - t_start)))
    if spans:
        rush = [s for j, s in spans.items() if spec[j].get("priority") == "rush"]
        std = [s for j, s in spans.items() if spec[j].get("priority") != "rush"]
        print("  per job, accepted -> printed (agent's event times): median %s, min %s, max %s"
              % (fmt_s(statistics.median(spans.values())), fmt_s(min(spans.values())),
                 fmt_s(max(spans.values()))))
        if rush and std:
            print("  rush jobs median %s, standard jobs median %s"
                  % (fmt_s(statistics.median(rush)), fmt_s(statistics.median(std))))

    # The faults.
    print()
    log = sb.requests()
    ranges = [r for r in log if r["headers"].get("Range")
              and r["path"].endswith("a-" + faults["resume"])]
    rj = store.get(faults["resume"], {})
    print("%s: download cut after 1 MB, resumed with %s; %s (download attempts: %s)"
          % (faults["resume"], ", ".join("Range " + r["headers"]["Range"] for r in ranges)
             or "no Range request", rj.get("state"), rj.get("download_attempts")))
    cj = store.get(faults["corrupt"], {})
    gets = [r for r in log if r["method"] == "GET"
            and r["path"].endswith("a-" + faults["corrupt"])]
    print("%s: %s (%s) after %d downloads; copies sent to a printer: %d"
          % (faults["corrupt"], cj.get("state"), cj.get("reason"), len(gets),
             sum(1 for c in copies if c["job_id"] == faults["corrupt"])))
    accepts = [r for r in log if r["path"] == "/v1/jobs/%s/accept" % faults["taken"]]
    print("%s: accept requests %d, answered %s; in the agent's store: %s"
          % (faults["taken"], len(accepts),
             "/".join(sorted({str(r.get("status")) for r in accepts})) or "-",
             store.get(faults["taken"], {}).get("state", "no")))

    # What the platform received.
    print()
    kinds = collections.Counter(e["kind"] for e in events)
    deliveries = sum(e.get("receipts", 1) for e in events)
    print("platform received %d requests on %d connections, and %d events (%d deliveries, "
          "each applied once):" % (len(log), len({r["conn"] for r in log}), len(events),
                                   deliveries))
    for kind, n in sorted(kinds.items()):
        print("  %-22s %4d" % (kind, n))
    print("events still in the agent's outbox: %d; contract violations seen by the "
          "sandbox: %d" % (a.outbox(), len(sb.violations())))
    if renders_same[1]:
        print("renders by hand identical to the daemon's: %d of %d" % renders_same)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labagent", required=True, help="the labagent binary")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "demo"),
                    help="the work dir (emptied first, kept after)")
    ap.add_argument("--jobs", type=int, default=36, help="orders offered (default 36)")
    ap.add_argument("--wait", type=float, default=300.0,
                    help="at most this many seconds for every job to be done (default 300)")
    args = ap.parse_args()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    lab = Lab(work, os.path.abspath(args.labagent))
    rc = 1
    try:
        check_config_steps(lab)
        start_lab(lab)
        jobs, printable, faults = offer_jobs(lab, args.jobs)
        t_start, t_done, total = print_jobs(lab, jobs, printable, faults, args.wait)
        exactly_once(lab, jobs, printable)
        console(lab)
        clean_stop(lab)
        same = render_by_hand(lab)
        summary(lab, jobs, printable, faults, t_start, t_done, total, same)
        rc = 0
    except Interrupted as e:
        print("\ndemo: interrupted (%s): stopping everything it started" % e, flush=True)
        rc = 130
    except (DemoFailure, AssertionError, OSError, subprocess.SubprocessError) as e:
        print("\ndemo: FAILED: %s" % e, file=sys.stderr, flush=True)
        if not isinstance(e, DemoFailure):
            traceback.print_exc()
        tail = lab.agent_tail()
        if tail:
            print("---- the last lines of the agent's log (%s) ----\n%s"
                  % (rel(lab.agent.stderr_path), tail), file=sys.stderr)
        rc = 1
    except Exception:  # noqa: BLE001  (a bug here: still clean up, still say where)
        traceback.print_exc()
        rc = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not stop the cleanup
        stopped, left = lab.cleanup()
        print("\nstopped: %s" % (", ".join(stopped) or "nothing was running"))
        if left:
            print("demo: still running after cleanup: %s" % ", ".join(left), file=sys.stderr)
            rc = rc or 1
        print("left for a look in %s: the store (state/labagent.db), print masters "
              "(state/spool/), renders (state/render/), agent.log, sandbox-server.log, "
              "labagent.yaml, "
              "printers/*/ (ippeveprinter's kept files and logs), minilabs/*/ (the hot folder)"
              % work)
    return rc


if __name__ == "__main__":
    sys.exit(main())
