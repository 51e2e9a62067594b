#!/usr/bin/python3
"""jobs-bench.py - end-to-end throughput, latency and footprint of the agent:
1,000 small jobs from the sandbox platform to 4 simulated IPP printers.

usage: jobs-bench.py LABAGENT [--jobs N] [--runs R] [--printers P] [--json FILE]

LABAGENT should be a release build (cmake --preset release && cmake --build
--preset release: build/release/agent/labagent). Not a ctest. Each run:

  1. the sandbox platform, P ippeveprinters (tests/jobs/fleet.py IppPrinter,
     no print delay: the job script only writes its ledger), the agent with
     render.workers = number of CPUs, queue_depth 4, jobs.poll_interval 100ms;
  2. idle: the agent started with no work; after 3 s, VmRSS / VmHWM from
     /proc/PID/status and utime+stime from /proc/PID/stat over 10 s;
  3. load: N jobs (quantity 1, 4x6 glossy, 600x900 JPEG assets) offered at
     once; until every job is printed (every copy in the printers' ledgers
     and the job printed in the store): VmRSS sampled every 0.25 s (the
     maximum is reported), VmHWM at the end, CPU over the whole load phase;
  4. from the events the sandbox received (their "at", the agent's clock):
       latency    job.accepted -> job.printing of the same job (the offer is
                  claimed -> its first copy accepted by the printer: download,
                  render, queue and submit), p50/p95/p99 over the N jobs
       throughput N / (last job.printed - first job.accepted), jobs/s
  5. baseline (there is no reference tool for an agent like this): ipptool
     alone submitting the same N rendered files, one Print-Job each, to the
     same P printers (one submitter per printer, busy answers retried after
     10 ms), until every file is in the printers' ledgers: jobs/s. That is
     what the printers themselves manage; the agent's figure is compared
     with it.

Prints one JSON line per run and the medians over the runs (--json FILE
writes them). Every wait is bounded; every process and temp dir is cleaned up.
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

MAKE_CERTS = os.path.join(SOURCE, "tests", "platform", "make-certs.sh")
CLK_TCK = os.sysconf("SC_CLK_TCK")
WAIT_LOAD = 900.0  # every job printed (bounded)
IDLE_SECONDS = 10.0
# ipptool's words for ippeveprinter's server-error-busy (it prints the status message).
BUSY = ("server-error-busy", "Currently printing another job")


def proc_status(pid):
    """(VmRSS, VmHWM) in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out.get("VmRSS", 0), out.get("VmHWM", 0)


def proc_cpu(pid):
    """utime + stime of pid, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def parse_at(text):
    """RFC 3339 with milliseconds and Z -> epoch seconds."""
    import datetime
    return datetime.datetime.strptime(text.replace("Z", "+0000"),
                                      "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def baseline(printers, files, workdir):
    """ipptool alone: files spread over printers, one submitter each; jobs/s."""
    test = os.path.join(workdir, "print-job.test")
    with open(test, "w") as f:
        f.write(fleet.PRINT_JOB_TEST)
    before = {p.name: len(p.printed_job_names()) for p in printers}
    shares = [files[i::len(printers)] for i in range(len(printers))]
    errors = []

    def submit_all(p, share):
        for i, path in enumerate(share):
            name = "base-%s-%d/1/1" % (p.name, i)
            for _ in range(3000):  # busy answers: bounded retries
                out = subprocess.run(
                    ["ipptool", "-T", "10", "-d", "jobname=" + name, "-d", "format=image/jpeg",
                     "-f", path, p.uri, test], capture_output=True, text=True, timeout=30)
                if out.returncode == 0:
                    break
                if not any(b in out.stdout + out.stderr for b in BUSY):
                    errors.append(out.stdout[-300:] + out.stderr[-300:])
                    return
                time.sleep(0.01)

    t0 = time.monotonic()
    threads = [threading.Thread(target=submit_all, args=(p, s)) for p, s in zip(printers, shares)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT_LOAD)
    if errors:
        raise RuntimeError("ipptool failed: %s" % errors[:3])
    want = {p.name: before[p.name] + len(s) for p, s in zip(printers, shares)}
    tl.wait_until(lambda: all(len(p.printed_job_names()) >= want[p.name] for p in printers),
                  120, "the baseline's files printed", 0.05)
    seconds = time.monotonic() - t0
    if errors:
        raise RuntimeError("ipptool failed: %s" % errors[:3])
    return len(files) / seconds, seconds


def one_run(n_jobs, n_printers, run_no):
    work = tempfile.mkdtemp(prefix="labagent-jobs-bench-")
    printers, sb, ag = [], None, None
    try:
        sb = fleet.Platform(work)
        for i in range(n_printers):
            model = "dnp-ds620" if i % 2 == 0 else "mitsubishi-cp-d90"
            p = fleet.IppPrinter(work, "p%d" % (i + 1), model, delay=0)
            printers.append(p)
            p.start()
        entries = [p.config_entry(queue_depth=4, timeout="30s") for p in printers]
        ag = fleet.FleetAgent(work, sb, entries, workers=os.cpu_count() or 2,
                              platform={"download_concurrency": 4},
                              extra="jobs:\n  poll_interval: 100ms\n  status_interval: 10s\n",
                              log_level="info")  # the service's level, not the tests' debug
        ag.start()
        pid = ag.proc.pid
        time.sleep(3)
        c0 = proc_cpu(pid)
        time.sleep(IDLE_SECONDS)
        idle_cpu = (proc_cpu(pid) - c0) / IDLE_SECONDS
        idle_rss, idle_hwm = proc_status(pid)

        jobs = sb.add_bulk_jobs(n_jobs, seed=run_no, prefix="b-", skus=("print-4x6-glossy",),
                                quantities=(1,), width=600, height=900)
        ids = {j["id"] for j in jobs}
        t0 = time.monotonic()
        c0 = proc_cpu(pid)
        max_rss = 0
        deadline = t0 + WAIT_LOAD
        done = set()
        while time.monotonic() < deadline:
            dead = [p.name for p in printers if not p.running()]
            if dead or not ag.running():
                # e.g. avahi-daemon stopped under ippeveprinter by someone else's peers.sh
                raise RuntimeError("printer(s) %s or the agent ended during the load: %s"
                                   % (dead, [fleet.tail_of(p.log_path, 2) for p in printers]))
            max_rss = max(max_rss, proc_status(pid)[0])
            done = {j for j, s in ag.job_states().items() if s in fleet.DONE_STATES}
            if done >= ids:
                break
            time.sleep(0.25)
        load_seconds = time.monotonic() - t0
        load_cpu = proc_cpu(pid) - c0
        _, load_hwm = proc_status(pid)
        if not done >= ids:
            raise RuntimeError("only %d of %d jobs printed in %.0f s" % (len(done), n_jobs,
                                                                         WAIT_LOAD))
        tl.wait_until(lambda: ag.outbox() == 0, 60, "the outbox delivered", 0.2)
        events = sb.events()
        at = {}
        for e in events:
            if e.get("job_id") in ids and e["kind"] in ("job.accepted", "job.printing",
                                                         "job.printed"):
                at.setdefault((e["kind"], e["job_id"]), parse_at(e["at"]))
        lat = [at[("job.printing", j)] - at[("job.accepted", j)] for j in ids]
        first = min(at[("job.accepted", j)] for j in ids)
        last = min(max(at[("job.printed", j)] for j in ids), first + load_seconds + 60)
        printed = {p.name: p.printed_job_names() for p in printers}
        v = fleet.verdict({j: 1 for j in ids}, printed)
        if not v["ok"]:
            raise RuntimeError(fleet.format_verdict(v))
        ag.stop()

        files = sorted(os.path.join(ag.state, "render", f)
                       for f in os.listdir(os.path.join(ag.state, "render"))
                       if f.endswith(".jpg"))[:n_jobs]
        try:
            base_jps, base_s = baseline(printers, files, work)
            base_err = None
        except (RuntimeError, AssertionError) as e:  # the agent's figures still count
            base_jps, base_s, base_err = float("nan"), float("nan"), str(e)[:600]
        return {"baseline_error": base_err,"run": run_no, "jobs": n_jobs, "printers": n_printers,
                "throughput_jobs_s": n_jobs / (last - first),
                "wall_s": last - first,
                "latency_p50_s": percentile(lat, 50), "latency_p95_s": percentile(lat, 95),
                "latency_p99_s": percentile(lat, 99),
                "idle_rss_mib": idle_rss / 1024, "idle_hwm_mib": idle_hwm / 1024,
                "idle_cpu_pct": 100 * idle_cpu,
                "load_max_rss_mib": max_rss / 1024, "load_hwm_mib": load_hwm / 1024,
                "load_cpu_pct": 100 * load_cpu / load_seconds,
                "load_cpu_s_per_job": load_cpu / n_jobs,
                "baseline_ipptool_jobs_s": base_jps, "baseline_s": base_s,
                "printed_per_printer": {k: len(v) for k, v in printed.items()}}
    finally:
        if ag is not None and ag.running():
            ag.kill()
        for p in printers:
            p.stop()
        if sb is not None:
            sb.stop()
        shutil.rmtree(work, ignore_errors=True)


def baseline_only(n_jobs, n_printers, runs, labagent):
    """The baseline without the agent's load: print files rendered by `labagent render`
    (10 distinct 600x900 assets per model, as the load's jobs) cycled to n_jobs
    submissions over n_printers fresh printers; [jobs/s] per run."""
    out = []
    for r in range(1, runs + 1):
        work = tempfile.mkdtemp(prefix="labagent-jobs-bench-")
        printers = []
        try:
            for i in range(n_printers):
                model = "dnp-ds620" if i % 2 == 0 else "mitsubishi-cp-d90"
                printers.append(fleet.IppPrinter(work, "p%d" % (i + 1), model).start())
            conf = os.path.join(work, "render.yaml")
            with open(conf, "w") as f:
                f.write(fleet.agent_config(1, tl.CERTS, os.path.join(work, "state"),
                                           [p.config_entry() for p in printers[:2]]))
            files = {}
            for p in printers[:2]:
                for k in range(10):
                    src = os.path.join(work, "in-%d.jpg" % k)
                    with open(src, "wb") as f:
                        f.write(fleet.make_jpeg("b-%04d" % k, width=600, height=900))
                    dst = os.path.join(work, "%s-%d.jpg" % (p.model, k))
                    subprocess.run([labagent, "render", "--config", conf, "--printer", p.name,
                                    "--product", "print-4x6-glossy", src, dst], check=True,
                                   timeout=120, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                    files.setdefault(p.model, []).append(dst)
            # Each printer gets files of its own model, as the agent would send it.
            per = []
            for i, p in enumerate(printers):
                pool = files[p.model]
                per.append([pool[k % len(pool)] for k in range(n_jobs // n_printers)])
            flat = [f for group in zip(*per) for f in group]
            jps, secs = baseline(printers, flat, work)
            print(json.dumps({"run": r, "baseline_ipptool_jobs_s": jps, "baseline_s": secs}),
                  flush=True)
            out.append(jps)
        finally:
            for p in printers:
                p.stop()
            shutil.rmtree(work, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("labagent")
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--printers", type=int, default=4)
    ap.add_argument("--json")
    ap.add_argument("--baseline-only", action="store_true",
                    help="only the ipptool baseline (files from `labagent render`)")
    args = ap.parse_args()
    tl.LABAGENT = os.path.abspath(args.labagent)
    certs = tempfile.mkdtemp(prefix="labagent-jobs-bench-certs-")
    state = tempfile.mkdtemp(prefix="labagent-jobs-bench-peers-")
    peers = fleet.Peers(os.path.join(state, "peers.state"))
    try:
        subprocess.run(["bash", MAKE_CERTS, certs], check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        tl.CERTS = certs
        peers.start()
        if args.baseline_only:
            res = baseline_only(args.jobs, args.printers, args.runs, tl.LABAGENT)
            print("MEDIAN " + json.dumps({"baseline_ipptool_jobs_s": statistics.median(res),
                                          "runs": len(res)}))
            return 0
        runs = []
        for r in range(1, args.runs + 1):
            res = one_run(args.jobs, args.printers, r)
            print(json.dumps(res, sort_keys=True), flush=True)
            runs.append(res)
        keys = [k for k, v in runs[0].items() if isinstance(v, float)]
        med = {k: statistics.median(r[k] for r in runs) for k in keys}
        med["runs"] = len(runs)
        print("MEDIAN " + json.dumps(med, sort_keys=True))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"runs": runs, "median": med}, f, indent=1, sort_keys=True)
        return 0
    finally:
        peers.stop()
        shutil.rmtree(certs, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
