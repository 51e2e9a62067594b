#!/usr/bin/python3
"""test_link.py - the real labagent against the sandbox platform, over real
mutual TLS on loopback.

Why: the platform link's promises (jobs pulled, claimed and verified; resumed
downloads; no request to a server that cannot prove it is the platform;
every event delivered exactly once, in order, through outages and a SIGKILL;
a job lost to a 409 never goes further) are only worth what the real binary
shows against a faithful peer. The sandbox records every request and event;
the agent's SQLite store is read (read-only) to see its side.

usage: test_link.py LABAGENT EVENT_WRITER [unittest args]
"""

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
SANDBOX = os.path.join(SOURCE, "tests", "platform", "sandbox.py")
MAKE_CERTS = os.path.join(SOURCE, "tests", "platform", "make-certs.sh")
PYTHON = "/usr/bin/python3"

LABAGENT = None
EVENT_WRITER = None
CERTS = None

# Every wait in this file is bounded by one of these.
WAIT_READY = 20.0
WAIT_WORK = 60.0


def wait_until(predicate, timeout, what, interval=0.1):
    """Poll predicate until it returns a true value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Sandbox:
    """One sandbox platform process with a given server certificate."""

    def __init__(self, workdir, server="server"):
        self.log = open(os.path.join(workdir, "sandbox-%s.log" % server), "w")
        self.proc = subprocess.Popen(
            [PYTHON, SANDBOX, "--cert", os.path.join(CERTS, server + ".pem"),
             "--key", os.path.join(CERTS, server + ".key"),
             "--client-ca", os.path.join(CERTS, "ca.pem"),
             "--port", "0", "--control-port", "0", "--watch-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("sandbox did not start; see " + self.log.name)
        ports = json.loads(line)
        self.api_port = ports["api_port"]
        self.control = "http://127.0.0.1:%d" % ports["control_port"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
            return json.loads(text) if text else None

    def add_jobs(self, jobs):
        return self.call("POST", "/control/jobs", {"jobs": jobs})

    def fault(self, **fault):
        return self.call("POST", "/control/faults", fault)

    def requests(self):
        return self.call("GET", "/control/log")["requests"]

    def handshakes(self):
        """Connections attempted: failed TLS handshakes plus connections that got past TLS."""
        log = self.call("GET", "/control/log")
        return len(log["tls_failures"]) + log["connections"]

    def events(self):
        return self.call("GET", "/control/events")["events"]

    def jobs(self):
        return self.call("GET", "/control/jobs")["jobs"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stdin.close()
        self.log.close()


# A downloaded job moves on at once to the render stage; these link tests run
# without printers, so it is held there (no_printer) right after "downloaded".
AFTER_DOWNLOAD = ("downloaded", "held")


class Agent:
    """The labagent binary on its own state directory."""

    def __init__(self, workdir, api_port, extra="", client="client"):
        self.workdir = workdir
        self.state = os.path.join(workdir, "state")
        self.config = os.path.join(workdir, "labagent.yaml")
        self.stderr_path = os.path.join(workdir, "agent.log")
        with open(self.config, "w") as f:
            f.write("""lab:
  id: test-lab
platform:
  url: https://localhost:%d/
  ca_file: %s/ca.pem
  cert_file: %s/%s.pem
  key_file: %s/%s.key
  poll_wait: 2s
  connect_timeout: 2s
  download_attempts: 3
  download_concurrency: 2
products:
  - sku: print-4x6-glossy
    media: na_index-4x6_4x6in
  - sku: print-5x7-matte
    media: na_5x7_5x7in
    media_type: photographic-matte
%s%s""" % (api_port, CERTS, CERTS, client, CERTS, client, extra,
           "" if "\ncontrol:" in "\n" + extra
           else "control:\n  socket: %s/control.sock\n" % workdir))
        self.proc = None

    def start(self):
        self.readies = self.log().count("ready: lab test-lab") if os.path.exists(
            self.stderr_path) else 0
        self.err = open(self.stderr_path, "a")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("JOURNAL_STREAM", None)
        self.proc = subprocess.Popen(
            [LABAGENT, "--config", self.config, "--state-dir", self.state,
             "--log-level", "debug"], stderr=self.err, stdout=subprocess.DEVNULL, env=env)
        # The "ready" line of *this* start (the log keeps earlier runs).
        wait_until(lambda: self.log().count("ready: lab test-lab") > self.readies
                   or self.proc.poll() is not None, WAIT_READY, "the agent to be ready")
        self.readies = self.log().count("ready: lab test-lab")
        if self.proc.poll() is not None:
            raise AssertionError("agent exited %d:\n%s" % (self.proc.returncode, self.log()))

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.err.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent did not stop within 10 s of SIGTERM")
            self.err.close()
            return rc
        return self.proc.returncode if self.proc else None

    def db(self):
        path = os.path.join(self.state, "labagent.db")
        conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql, *args):
        conn = self.db()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def job_states(self):
        return {r["id"]: r["state"] for r in self.query("SELECT id, state FROM jobs")}

    def outbox(self):
        return self.query("SELECT count(*) AS n FROM events")[0]["n"]


class AgentTestCase(unittest.TestCase):
    """A temporary directory, sandboxes and agents that are cleaned up, and
    the sandbox's contract check after every test."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="labagent-link-")
        self.sandboxes = []
        self.agents = []

    def tearDown(self):
        # Whatever else a test checks: the agent kept the contract the sandbox enforces.
        for sb in self.sandboxes:
            if sb.proc.poll() is None and self._outcome_ok():
                violations = sb.call("GET", "/control/violations")["violations"]
                self.assertEqual(violations, [], "the agent broke docs/protocol.md")
        for a in self.agents:
            try:
                a.stop()
            except AssertionError:
                pass
        for s in self.sandboxes:
            s.stop()
        if self._outcome_ok():
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept for a look: " + self.dir, file=sys.stderr)

    def _outcome_ok(self):
        result = getattr(self, "_outcome", None)
        if result is None:
            return True
        errors = getattr(result, "errors", None)
        if errors is None:  # Python >= 3.11
            res = result.result
            return not any(t is self for t, _ in res.errors + res.failures)
        return not any(t is self and e for t, e in errors)

    def sandbox(self, server="server"):
        s = Sandbox(self.dir, server)
        self.sandboxes.append(s)
        return s

    def agent(self, sandbox, workdir=None, extra="", client="client"):
        a = Agent(workdir or self.dir, sandbox.api_port, extra, client)
        self.agents.append(a)
        return a

    def asset_gets(self, sandbox, job_id=""):
        """The GETs of job_id's asset (of every asset when job_id is empty)."""
        return [r for r in sandbox.requests()
                if r["method"] == "GET" and r["path"].startswith("/v1/assets/a-" + job_id)]



class LinkTest(AgentTestCase):
    # --- jobs -------------------------------------------------------------

    def test_jobs_pulled_accepted_downloaded_verified(self):
        sb = self.sandbox()
        jobs = [{"id": "job-a%d" % i, "order_id": "ord-%d" % i, "sku": "print-4x6-glossy",
                 "quantity": i + 1, "asset_bytes": 50000 + i * 1000} for i in range(3)]
        sb.add_jobs(jobs)
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: all(ag.job_states().get(j["id"]) in AFTER_DOWNLOAD for j in jobs),
                   WAIT_WORK, "3 jobs downloaded")
        rows = {r["id"]: r for r in ag.query("SELECT * FROM jobs")}
        platform = {j["id"]: j for j in sb.jobs()}
        for j in jobs:
            row = rows[j["id"]]
            with open(row["asset_path"], "rb") as f:
                data = f.read()
            self.assertEqual(hashlib.sha256(data).hexdigest(),
                             platform[j["id"]]["job"]["asset"]["sha256"])
            self.assertEqual(len(data), j["asset_bytes"])
            self.assertEqual(row["asset_type"], "image/jpeg")
            self.assertEqual(row["quantity"], j["quantity"])
            self.assertEqual(platform[j["id"]]["state"], "accepted")
        # The platform saw job.accepted and job.downloaded once per job.
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        kinds = [(e["kind"], e.get("job_id")) for e in sb.events()]
        for j in jobs:
            self.assertEqual(kinds.count(("job.accepted", j["id"])), 1)
            self.assertEqual(kinds.count(("job.downloaded", j["id"])), 1)
        # Connections are reused: far fewer connections than requests.
        reqs = sb.requests()
        self.assertLess(len({r["conn"] for r in reqs}), len(reqs) / 2, reqs)
        # Every mutating request carried an idempotency key; the lab id header matches.
        for r in reqs:
            if r["method"] in ("POST", "PUT"):
                self.assertTrue(r["headers"].get("Idempotency-Key"), r)
            self.assertEqual(r["headers"].get("X-Lab-Id"), "test-lab")
        self.assertEqual(ag.stop(), 0)

    def test_interrupted_download_resumes_with_range(self):
        sb = self.sandbox()
        sb.add_jobs([{"id": "job-big", "order_id": "ord-big", "sku": "print-5x7-matte",
                      "quantity": 1, "asset_bytes": 3 * 1024 * 1024}])
        sb.fault(method="GET", path="^/v1/assets/", drop_after_bytes=1024 * 1024, count=1)
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-big") in AFTER_DOWNLOAD, WAIT_WORK,
                   "the big job downloaded")
        gets = self.asset_gets(sb, "job-big")
        self.assertGreaterEqual(len(gets), 2, gets)
        self.assertIsNone(gets[0]["headers"]["Range"])
        m = re.fullmatch(r"bytes=(\d+)-", gets[1]["headers"].get("Range", ""))
        self.assertIsNotNone(m, gets[1])
        self.assertGreater(int(m.group(1)), 0)
        self.assertLessEqual(int(m.group(1)), 1024 * 1024)
        self.assertIn("resuming the download at byte", ag.log())

    def test_corrupted_asset_refused_retried_reported(self):
        sb = self.sandbox()
        sb.fault(method="GET", path="^/v1/assets/", corrupt=True, count=10)
        sb.add_jobs([{"id": "job-bad", "order_id": "ord-bad", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 40000}])
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-bad") == "failed", WAIT_WORK,
                   "the job to fail")
        row = ag.query("SELECT reason, download_attempts, asset_path FROM jobs "
                       "WHERE id = 'job-bad'")[0]
        self.assertEqual(row["reason"], "asset_checksum_mismatch")
        self.assertEqual(row["download_attempts"], 3)
        self.assertIsNone(row["asset_path"])
        self.assertEqual(len(self.asset_gets(sb, "job-bad")), 3)
        wait_until(lambda: any(e["kind"] == "job.failed" for e in sb.events()), WAIT_WORK,
                   "job.failed upstream")
        failed = [e for e in sb.events() if e["kind"] == "job.failed"]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["body"]["reason"], "asset_checksum_mismatch")
        self.assertFalse(os.path.exists(os.path.join(ag.state, "spool", "job-bad.asset")))

    def test_downloads_run_up_to_the_concurrency_limit(self):
        sb = self.sandbox()
        jobs = [{"id": "job-p%d" % i, "order_id": "ord-p", "sku": "print-4x6-glossy",
                 "quantity": 1, "asset_bytes": 20000} for i in range(5)]
        sb.fault(method="GET", path="^/v1/assets/", delay=1.5, count=5)
        sb.add_jobs(jobs)
        ag = self.agent(sb)  # download_concurrency: 2
        ag.start()
        wait_until(lambda: all(ag.job_states().get(j["id"]) in AFTER_DOWNLOAD for j in jobs),
                   WAIT_WORK, "5 jobs downloaded")

        def span(r):
            start = time.mktime(time.strptime(r["time"][:19], "%Y-%m-%dT%H:%M:%S")) + \
                float("0" + r["time"][19:-1])
            return start, start + r["duration_ms"] / 1000.0
        spans = [span(r) for r in self.asset_gets(sb)]
        self.assertEqual(len(spans), 5)
        overlap = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
        self.assertEqual(overlap, 2)

    def test_content_type_is_sniffed_not_trusted(self):
        import base64
        sb = self.sandbox()
        sb.add_jobs([{"id": "job-txt", "order_id": "ord-t", "sku": "print-4x6-glossy",
                      "quantity": 1, "content_type": "image/jpeg",
                      "asset_data_b64": base64.b64encode(b"%PDF-1.7 not a photo\n" * 50).decode()}])
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-txt") == "failed", WAIT_WORK,
                   "the job to fail")
        row = ag.query("SELECT reason FROM jobs WHERE id = 'job-txt'")[0]
        self.assertEqual(row["reason"], "unsupported_asset_type")
        self.assertFalse(os.path.exists(os.path.join(ag.state, "spool", "job-txt.asset")))

    def test_409_on_accept_never_downloads(self):
        sb = self.sandbox()
        sb.fault(method="POST", path="^/v1/jobs/job-gone/accept$", status=409,
                 code="lease_lost", count=100)
        sb.add_jobs([{"id": "job-gone", "order_id": "ord-gone", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 30000},
                     {"id": "job-kept", "order_id": "ord-kept", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 30000}])
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-kept") in AFTER_DOWNLOAD, WAIT_WORK,
                   "the other job downloaded")
        t0 = time.monotonic()
        time.sleep(4)
        # Claimed once: the offer the platform took back is not claimed again, and the
        # poll loop does not spin on the offer that stays listed.
        accepts = [r for r in sb.requests() if r["path"] == "/v1/jobs/job-gone/accept"]
        self.assertEqual(len(accepts), 1)
        polls = [r for r in sb.requests() if "/assignments" in r["path"]]
        self.assertLessEqual(len(polls), (time.monotonic() - t0) / 2 + 8, polls[-3:])
        self.assertNotIn("job-gone", ag.job_states())
        self.assertEqual(self.asset_gets(sb, "job-gone"), [])
        self.assertIn("job job-gone: not accepted, dropped without printing", ag.log())

    # --- offers the lab cannot take ----------------------------------------

    # Every request target the agent may send: the contract's calls with the lab's id,
    # accepts of grammar ids (':' percent-encoded), and the assets the platform named.
    API_TARGETS = [
        ("GET", re.compile(r"/v1/labs/test-lab/assignments\?wait=[0-9]+")),
        ("POST", re.compile(r"/v1/labs/test-lab/(events|active-jobs)")),
        ("PUT", re.compile(r"/v1/labs/test-lab/devices")),
        ("POST", re.compile(r"/v1/jobs/(?P<id>([A-Za-z0-9._-]|%3A){1,384})/accept")),
        ("GET", re.compile(r"/v1/assets/[A-Za-z0-9._-]+")),
    ]

    def assert_only_api_paths(self, sb, refused_ids):
        """Every request line the sandbox received names one of the API's calls, and no
        accept names an offer the agent had to refuse."""
        seen = 0
        for r in sb.requests():
            line = r["request_line"]
            m = re.fullmatch(r"([A-Z]+) (\S+) HTTP/1\.1", line)
            self.assertIsNotNone(m, line)
            method, target = m.groups()
            hits = [p.fullmatch(target) for meth, p in self.API_TARGETS if meth == method]
            hits = [h for h in hits if h]
            self.assertTrue(hits, "a request reached an unintended path: " + line)
            job = hits[0].groupdict().get("id")
            if job is not None:
                self.assertNotIn(urllib.parse.unquote(job), refused_ids, line)
            self.assertNotRegex(target, r"^/v1/accept|^/v1/jobs/[^/]*/[^/]*/|/\.\.?(/|$)", line)
            seen += 1
        self.assertGreater(seen, 0)

    def rejected_events(self, sb, job_id):
        return [e for e in sb.events() if e["kind"] == "job.rejected"
                and e.get("job_id") == job_id]

    def test_offer_ids_that_would_change_a_path_are_bad_jobs(self):
        sb = self.sandbox()
        bad = ["..", ".", "a%2Fb", "a?b=c"]
        sb.add_jobs([{"id": i, "raw": True, "order_id": "ord-raw", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 20000} for i in bad]
                    + [{"id": "no-id", "raw": True, "override": {"id": None}},
                       {"id": "job-ok", "order_id": "ord-ok", "sku": "print-4x6-glossy",
                        "quantity": 1, "asset_bytes": 20000}])
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-ok") in AFTER_DOWNLOAD, WAIT_WORK,
                   "the good job downloaded")
        wait_until(lambda: all(self.rejected_events(sb, i) for i in bad)
                   and self.rejected_events(sb, None), WAIT_WORK,
                   "job.rejected for each bad offer at the platform")
        time.sleep(5)  # a few more polls: the offer without an id stays listed
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        for i in bad + [None]:
            events = self.rejected_events(sb, i)
            self.assertEqual(len(events), 1, (i, events))
            body = events[0]["body"]
            self.assertEqual((body["reason"], body["field"]), ("bad_job", "id"), body)
            self.assertTrue(body["detail"], body)
        self.assertNotIn("job_id", self.rejected_events(sb, None)[0])
        states = {j["id"]: j for j in sb.jobs()}
        for i in bad:
            self.assertEqual(states[i]["state"], "rejected", states[i])
            self.assertEqual(states[i]["accept_count"], 0)
        self.assertEqual(states["job-ok"]["state"], "accepted")
        # Nothing reached an unintended path: no /v1/accept, no /v1/jobs/a/b/accept.
        self.assert_only_api_paths(sb, set(bad))
        # The agent kept no job for them; it remembers the offers.
        self.assertEqual(set(ag.job_states()), {"job-ok"})
        rows = ag.query("SELECT job_id, reason, field FROM rejected_offers")
        self.assertEqual(sorted((r["job_id"] or "", r["reason"], r["field"]) for r in rows),
                         sorted([(i, "bad_job", "id") for i in bad] + [("", "bad_job", "id")]))
        self.assertEqual(ag.stop(), 0)

    def test_bad_offer_reported_once_until_it_changes(self):
        sb = self.sandbox()
        # Listed on every poll even after job.rejected (a platform slow to act on events).
        sb.add_jobs([{"id": "job-badq", "order_id": "ord-q", "sku": "print-4x6-glossy",
                      "quantity": 0, "asset_bytes": 20000, "sticky": True}])
        ag = self.agent(sb)
        ag.start()

        def polls():
            return [r for r in sb.requests() if "/assignments" in r["path"]
                    and r["status"] == 200]

        def log_lines():
            return [line for line in ag.log().splitlines() if "job-badq" in line]

        wait_until(lambda: len(polls()) >= 20, WAIT_WORK * 2, "20 polls listing the bad offer")
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        events = self.rejected_events(sb, "job-badq")
        self.assertEqual(len(events), 1, events)
        self.assertEqual(events[0]["body"]["reason"], "bad_job")
        self.assertEqual(events[0]["body"]["field"], "quantity")
        self.assertIn("quantity", events[0]["body"]["detail"])
        self.assertEqual(len(log_lines()), 1, log_lines())

        # Remembered durably: a restarted agent does not report it again.
        self.assertEqual(ag.stop(), 0)
        n = len(polls())
        ag.start()
        wait_until(lambda: len(polls()) >= n + 3, WAIT_WORK, "3 more polls after a restart")
        self.assertEqual(len(self.rejected_events(sb, "job-badq")), 1)
        self.assertEqual(len(log_lines()), 1, log_lines())

        # The same id with another body is judged again, once.
        sb.call("POST", "/control/amend", {"job_id": "job-badq",
                                            "override": {"quantity": 1, "sku": 7}})
        wait_until(lambda: len(self.rejected_events(sb, "job-badq")) == 2, WAIT_WORK,
                   "the changed offer judged again")
        n = len(polls())
        wait_until(lambda: len(polls()) >= n + 3, WAIT_WORK, "3 more polls")
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        events = self.rejected_events(sb, "job-badq")
        self.assertEqual(len(events), 2, events)
        self.assertEqual(events[1]["body"]["field"], "sku")
        self.assertEqual(len(log_lines()), 2, log_lines())
        self.assertNotIn("job-badq", ag.job_states())
        self.assert_only_api_paths(sb, {"job-badq"})
        self.assertEqual(ag.stop(), 0)

    # --- TLS --------------------------------------------------------------

    def test_server_that_cannot_prove_identity_gets_nothing(self):
        cases = {
            "other-server": "unable to get local issuer certificate",
            "expired-server": "certificate has expired",
            "wronghost-server": "localhost",
        }
        for server, reason in cases.items():
            with self.subTest(server=server):
                sb = self.sandbox(server)
                work = os.path.join(self.dir, server)
                os.mkdir(work)
                ag = self.agent(sb, work)
                ag.start()
                time.sleep(8)
                self.assertEqual(sb.requests(), [], "a request reached a server that failed "
                                                    "verification")
                log = ag.log()
                self.assertIn("platform_tls_verify_failed: the server at https://localhost:%d"
                              % sb.api_port, log)
                self.assertIn(reason, log)
                # Backoff, not a busy loop: a handful of handshakes in 8 s, seen by both sides.
                attempts = len(re.findall(r"platform_tls_verify_failed.*retrying in", log))
                self.assertGreaterEqual(attempts, 2, log)
                self.assertLessEqual(attempts, 10, log)
                # The link and the outbox each back off on their own: together still a
                # handful, where a busy loop would make hundreds.
                self.assertGreaterEqual(sb.handshakes(), 2)
                self.assertLessEqual(sb.handshakes(), 16)
                self.assertEqual(ag.stop(), 0)

    def test_client_from_another_ca_is_refused(self):
        sb = self.sandbox()
        ag = self.agent(sb, client="other-client")
        ag.start()
        time.sleep(5)
        self.assertEqual(sb.requests(), [])
        self.assertGreaterEqual(len(sb.call("GET", "/control/log")["tls_failures"]), 1)
        self.assertIn("platform_tls_failed: TLS handshake with https://localhost:%d"
                      % sb.api_port, ag.log())
        self.assertEqual(ag.stop(), 0)

    def test_certificate_expiry_warned_upstream(self):
        for client, severity in (("month-client", "warning"), ("soon-client", "error")):
            with self.subTest(client=client):
                sb = self.sandbox()
                work = os.path.join(self.dir, client)
                os.mkdir(work)
                ag = self.agent(sb, work, client=client)
                ag.start()
                ev = wait_until(lambda: [e for e in sb.events()
                                         if e["kind"] == "lab.certificate_expiring"],
                                WAIT_WORK, "lab.certificate_expiring upstream")
                self.assertEqual(len(ev), 1)
                self.assertEqual(ev[0]["body"]["severity"], severity)
                days = 19 if client == "month-client" else 4
                self.assertIn(ev[0]["body"]["days_left"], (days, days + 1))
                self.assertIn("tls_cert_expiring", ag.log())
                self.assertEqual(ag.stop(), 0)

    def test_reload_takes_the_new_certificate(self):
        sb = self.sandbox()
        ag = self.agent(sb, client="month-client")
        ag.start()
        wait_until(lambda: any(e["kind"] == "lab.certificate_expiring" for e in sb.events()),
                   WAIT_WORK, "the expiry warning for the first certificate")
        # A reload with the same certificate does not repeat the event.
        ag.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "config: reloaded" in ag.log(), WAIT_READY, "the first reload")
        time.sleep(1)
        self.assertEqual(len([e for e in sb.events()
                              if e["kind"] == "lab.certificate_expiring"]), 1)
        # Lab IT installs a renewed certificate and reloads.
        with open(ag.config) as f:
            text = f.read()
        with open(ag.config, "w") as f:
            f.write(text.replace("month-client", "client"))
        conns_before = sb.call("GET", "/control/log")["connections"]
        ag.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "(generation 3)" in ag.log(), WAIT_READY, "the second reload")
        sb.add_jobs([{"id": "job-after-reload", "order_id": "o", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 20000}])
        wait_until(lambda: ag.job_states().get("job-after-reload") in AFTER_DOWNLOAD, WAIT_WORK,
                   "a job after the reload")
        # New connections were made, and no second warning: the new certificate is in use.
        self.assertGreater(sb.call("GET", "/control/log")["connections"], conns_before)
        self.assertEqual(len([e for e in sb.events()
                              if e["kind"] == "lab.certificate_expiring"]), 1)
        self.assertEqual(ag.stop(), 0)

    # --- cancellations and reconciliation ---------------------------------

    def test_backlog_full_leaves_offers_with_the_platform(self):
        sb = self.sandbox()
        sb.add_jobs([{"id": "job-b%d" % i, "order_id": "ord-b", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 20000} for i in range(4)])
        # No printers: accepted jobs stay in the backlog (held, no printer).
        ag = self.agent(sb, extra="jobs:\n  backlog_max: 2\n")
        ag.start()
        wait_until(lambda: [e for e in sb.events() if e["kind"] == "lab.accepting"],
                   WAIT_WORK, "lab.accepting upstream")
        time.sleep(3)  # several polls: the two other offers are still not claimed
        self.assertEqual(sorted(ag.job_states()), ["job-b0", "job-b1"])
        ev = [e for e in sb.events() if e["kind"] == "lab.accepting"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["body"]["accepting"], False)
        self.assertEqual(ev[0]["body"]["reason"], "backlog_full")
        self.assertEqual(ev[0]["body"]["backlog"], 2)
        accepts = [r for r in sb.requests() if r["path"].endswith("/accept")]
        self.assertEqual(sorted(r["path"] for r in accepts),
                         ["/v1/jobs/job-b0/accept", "/v1/jobs/job-b1/accept"])
        self.assertIn("not taking new offers: backlog_full", ag.log())

        # Room again (the limit raised by a reload): the rest are claimed, and the platform told.
        with open(ag.config) as f:
            text = f.read()
        with open(ag.config, "w") as f:
            f.write(text.replace("backlog_max: 2", "backlog_max: 10"))
        ag.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: len(ag.job_states()) == 4, WAIT_WORK, "all four jobs claimed")
        ev = wait_until(lambda: [e for e in sb.events() if e["kind"] == "lab.accepting"
                                 and e["body"]["accepting"]], WAIT_WORK, "accepting again")
        self.assertEqual(ev[0]["body"]["reason"], "")
        self.assertEqual(ag.stop(), 0)

    def test_cancellation_stops_a_job_before_the_printer(self):
        sb = self.sandbox()
        sb.add_jobs([{"id": "job-c", "order_id": "ord-c", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 30000}])
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-c") in AFTER_DOWNLOAD, WAIT_WORK,
                   "job-c downloaded")
        asset = ag.query("SELECT asset_path FROM jobs WHERE id = 'job-c'")[0]["asset_path"]
        self.assertTrue(os.path.exists(asset))
        sb.call("POST", "/control/cancel", {"job_id": "job-c", "reason": "customer_canceled"})
        wait_until(lambda: ag.job_states().get("job-c") == "canceled", WAIT_WORK,
                   "job-c canceled")
        self.assertFalse(os.path.exists(asset))
        ev = wait_until(lambda: [e for e in sb.events() if e["kind"] == "job.canceled"],
                        WAIT_WORK, "job.canceled upstream")
        self.assertEqual(ev[0]["body"], {"by": "platform", "reached_printer": False})
        # Confirmed: the platform stops listing the cancellation; the agent sends it once.
        time.sleep(3)
        self.assertEqual(len([e for e in sb.events() if e["kind"] == "job.canceled"]), 1)
        self.assertEqual(ag.stop(), 0)

    def test_reconcile_drops_a_job_moved_while_offline(self):
        sb = self.sandbox()
        sb.add_jobs([{"id": "job-m", "order_id": "ord-m", "sku": "print-4x6-glossy",
                      "quantity": 1, "asset_bytes": 30000}])
        sb.fault(method="GET", path="^/v1/assets/", status=503, retry_after=30, count=1000)
        ag = self.agent(sb)
        ag.start()
        wait_until(lambda: ag.job_states().get("job-m") == "downloading", WAIT_WORK,
                   "job-m accepted")
        ag.stop()
        sb.call("POST", "/control/reassign", {"job_id": "job-m", "to": "hamburg-02"})
        sb.call("POST", "/control/faults/clear", {})
        ag.start()
        wait_until(lambda: ag.job_states().get("job-m") == "dropped", WAIT_WORK,
                   "job-m dropped by the reconciliation")
        rec = [r for r in sb.requests() if r["path"] == "/v1/labs/test-lab/active-jobs"]
        self.assertIn({"id": "job-m", "state": "downloading"}, rec[-1]["body"]["jobs"])
        ev = wait_until(lambda: [e for e in sb.events() if e["kind"] == "job.dropped"],
                        WAIT_WORK, "job.dropped upstream")
        self.assertEqual(ev[0]["job_id"], "job-m")
        self.assertFalse(os.path.exists(os.path.join(ag.state, "spool", "job-m.part")))
        self.assertEqual(ag.stop(), 0)

    def test_413_halves_the_batch(self):
        sb = self.sandbox()
        ag = self.agent(sb)
        ag.start()
        ag.stop()
        seqs = self.write_events(ag, 120, "telemetry")
        before = len([r for r in sb.requests() if r["path"] == "/v1/labs/test-lab/events"])
        sb.fault(method="POST", path="^/v1/labs/test-lab/events$", status=413, code="too_large",
                 count=1)
        ag.start()
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        posts = [r for r in sb.requests() if r["path"] == "/v1/labs/test-lab/events"][before:]
        self.assertEqual(posts[0]["status"], 413)
        self.assertEqual(len(posts[1]["body"]["events"]), 50)
        got = [e["seq"] for e in sb.events() if e["kind"] == "test.sample"]
        self.assertEqual(got, seqs)
        self.assertIn("sending 50 event(s) per batch", ag.log())
        self.assertEqual(ag.stop(), 0)

    def test_retry_after_is_honoured(self):
        sb = self.sandbox()
        sb.fault(method="GET", path="^/v1/labs/test-lab/assignments$", status=429,
                 retry_after=3, count=1)
        ag = self.agent(sb)
        ag.start()
        polls = wait_until(lambda: len([r for r in sb.requests() if "/assignments" in r["path"]])
                           >= 2 and [r for r in sb.requests() if "/assignments" in r["path"]],
                           WAIT_WORK, "a second poll")
        self.assertEqual(polls[0]["status"], 429)

        def t(r):
            return time.mktime(time.strptime(r["time"][:19], "%Y-%m-%dT%H:%M:%S")) + \
                float("0" + r["time"][19:-1])
        self.assertGreaterEqual(t(polls[1]) - t(polls[0]), 2.9)
        self.assertEqual(ag.stop(), 0)

    # --- the outbox -------------------------------------------------------

    def write_events(self, agent, count, cls="telemetry"):
        out = subprocess.run([EVENT_WRITER, os.path.join(agent.state, "labagent.db"),
                              str(count), cls], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        seqs = [int(x) for x in out.stdout.split()]
        self.assertEqual(len(seqs), count)
        return seqs

    def test_1000_events_while_down_delivered_once_in_order(self):
        sb = self.sandbox()
        sb.call("POST", "/control/down")
        ag = self.agent(sb)
        ag.start()
        seqs = self.write_events(ag, 1000, "job")
        time.sleep(3)
        self.assertEqual([e for e in sb.events() if e["kind"] == "test.job"], [])
        self.assertGreaterEqual(ag.outbox(), 1000)
        sb.call("POST", "/control/up")
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        got = [e for e in sb.events() if e["kind"] == "test.job"]
        self.assertEqual([e["seq"] for e in got], seqs)
        self.assertEqual(len({e["uuid"] for e in got}), 1000)
        self.assertEqual([e["body"]["n"] for e in got], list(range(1000)))
        self.assertEqual(ag.stop(), 0)

    def test_outbox_cap_sheds_oldest_telemetry_never_job_events(self):
        sb = self.sandbox()
        sb.call("POST", "/control/down")
        ag = self.agent(sb)
        with open(ag.config) as f:
            text = f.read()
        with open(ag.config, "w") as f:
            f.write(text.replace("  download_attempts: 3\n",
                                 "  download_attempts: 3\n  outbox_max_events: 1000\n"))
        ag.start()
        tele_old = self.write_events(ag, 700, "telemetry")
        jobs = self.write_events(ag, 200, "job")
        tele_new = self.write_events(ag, 600, "telemetry")
        # Up only once the agent has shed after the last write (the outbox is back under the
        # cap): a batch it sent while down, in flight across "up", could otherwise arrive
        # between two sheds, and the later shed would rightly drop what was then the oldest.
        wait_until(lambda: ag.outbox() <= 1000, WAIT_WORK, "the agent to shed under the cap")
        sb.call("POST", "/control/up")
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        got = sb.events()
        self.assertEqual([e["seq"] for e in got if e["kind"] == "test.job"], jobs)
        shed = [e for e in got if e["kind"] == "lab.telemetry_shed"]
        self.assertGreaterEqual(len(shed), 1)
        dropped = sum(e["body"]["dropped"] for e in shed)
        tele = [e["seq"] for e in got if e["kind"] == "test.sample"]
        self.assertEqual(len(tele) + dropped, 1300)
        # The oldest went first: what arrived is the newest telemetry, in order.
        self.assertEqual(tele, (tele_old + tele_new)[dropped:])
        self.assertIn("telemetry_shed", ag.log())
        self.assertEqual(ag.stop(), 0)

    def test_sigkill_mid_batch_nothing_lost_nothing_twice(self):
        sb = self.sandbox()
        ag = self.agent(sb)
        ag.start()
        ag.stop()
        # 250 events wait; the first delivery is held by the platform for 4 s.
        seqs = self.write_events(ag, 250, "job")
        sb.fault(method="POST", path="^/v1/labs/test-lab/events$", delay=4, count=1)
        ag.start()
        # The fault is used up (and removed) when the batch arrives; the response is then held.
        wait_until(lambda: sb.call("GET", "/control/faults")["faults"] == [], WAIT_WORK,
                   "a batch in flight")
        time.sleep(0.5)
        ag.kill()
        ag.start()
        wait_until(lambda: ag.outbox() == 0, WAIT_WORK, "the outbox to drain")
        got = [e for e in sb.events() if e["kind"] == "test.job"]
        self.assertEqual([e["seq"] for e in got], seqs)
        self.assertEqual(len({e["uuid"] for e in got}), 250)
        # The killed batch reached the platform and was sent again after the restart (same
        # events, same Idempotency-Key): two deliveries of the first event, applied once.
        first = got[0]["uuid"]

        def posts():
            return [r for r in sb.requests() if r["path"] == "/v1/labs/test-lab/events"
                    and any(e.get("uuid") == first
                            for e in r.get("body", {}).get("events", []))]
        # The killed request is logged once the sandbox has finished holding it.
        both = wait_until(lambda: len(posts()) >= 2 and posts(), WAIT_WORK,
                          "both deliveries of the first batch in the sandbox's log")
        self.assertEqual(len({r["headers"]["Idempotency-Key"] for r in both}), 1,
                         "a resent batch must carry the same Idempotency-Key")
        got = [e for e in sb.events() if e["kind"] == "test.job"]
        self.assertEqual([e["seq"] for e in got], seqs)
        self.assertEqual(len({e["uuid"] for e in got}), 250)
        self.assertEqual(ag.stop(), 0)


def main(module="__main__", doc=__doc__):
    global LABAGENT, EVENT_WRITER, CERTS
    if len(sys.argv) < 3:
        print(doc, file=sys.stderr)
        return 2
    LABAGENT, EVENT_WRITER = sys.argv[1], sys.argv[2]
    CERTS = tempfile.mkdtemp(prefix="labagent-link-certs-")
    try:
        subprocess.run(["bash", MAKE_CERTS, CERTS], check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        prog = unittest.main(module=module, argv=[sys.argv[0]] + sys.argv[3:], exit=False,
                             verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
