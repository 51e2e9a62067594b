#!/usr/bin/python3
"""tests/platform/test_sandbox.py - the sandbox platform checked on its own.

Why this exists: every agent-against-platform test trusts the sandbox to
follow docs/protocol.md and to misbehave exactly when told to. This proves
it with Python's own ssl and http.client as the lab: mutual TLS (and its
refusals), long poll, accept, Range downloads, events, reconcile, idempotency
keys, problem+json errors and each fault. Standard library only, every socket
with a timeout, the whole run bounded (ctest: TIMEOUT 180).

Run: /usr/bin/python3 tests/platform/test_sandbox.py -v
"""

import base64
import faulthandler
import hashlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
LAB = "test-lab"
TIMEOUT = 15  # any one socket operation
OVERALL = 170  # the whole run; ctest kills at 180

CERTS = None  # temp dir with make-certs.sh output
SANDBOX = None  # the shared Sandbox


class Sandbox:
    """A sandbox.py subprocess, its ports, and helpers to drive it."""

    def __init__(self, certdir, cert="server", extra=()):
        self.certdir = certdir
        self.errlog = tempfile.NamedTemporaryFile(prefix="sandbox-", suffix=".log", delete=False)
        cmd = [PYTHON, os.path.join(HERE, "sandbox.py"),
               "--cert", os.path.join(certdir, cert + ".pem"),
               "--key", os.path.join(certdir, cert + ".key"),
               "--client-ca", os.path.join(certdir, "ca.pem"), "--watch-stdin"] + list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errlog)
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise RuntimeError("sandbox did not start:\n" + self.stderr())
        info = json.loads(line)
        self.api_port = info["api_port"]
        self.control_port = info["control_port"]

    def close(self):
        """Stop the sandbox and remove its log; returns (exit status, log)."""
        status = self.stop()
        text = self.stderr()
        os.unlink(self.errlog.name)
        return status, text

    def stderr(self):
        with open(self.errlog.name, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        """Stop the sandbox; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()
        return self.proc.returncode

    # -- the control API (plain HTTP, urllib)

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control_port, path),
                                     data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def ok(self, path, body=None):
        status, obj = self.control(path, body)
        if status != 200:
            raise AssertionError("control %s -> %d %s" % (path, status, obj))
        return obj

    # -- the lab's side (TLS, http.client)

    def context(self, client="client", ca="ca"):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certdir, ca + ".pem"))
        if client:
            ctx.load_cert_chain(os.path.join(self.certdir, client + ".pem"),
                                os.path.join(self.certdir, client + ".key"))
        return ctx

    def conn(self, client="client", timeout=TIMEOUT):
        return http.client.HTTPSConnection("localhost", self.api_port,
                                           context=self.context(client), timeout=timeout)


def lab_headers(body=False, key=None):
    """The headers labagent sends (docs/protocol.md, Transport)."""
    h = {"User-Agent": "labagent/0.1.0", "X-Lab-Id": LAB}
    if body:
        h["Content-Type"] = "application/json; charset=utf-8"
        h["Idempotency-Key"] = key or str(uuid.uuid4())
    return h


def request(conn, method, path, body=None, key=None, headers=None):
    """One request on CONN; returns (response, body bytes)."""
    h = lab_headers(body is not None, key)
    h.update(headers or {})
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    return r, r.read()


def event(seq, kind="job.accepted", job_id="job-x", cls="job", body=None):
    ev = {"uuid": str(uuid.uuid4()), "seq": seq, "kind": kind, "class": cls,
          "at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "body": body or {}}
    if job_id is not None:
        ev["job_id"] = job_id
    return ev


def devices_body():
    """A device list of the contract's shape (docs/protocol.md, "Devices")."""
    return {"printers": [{
        "name": "ds620", "driver": "ipp", "make_model": "DNP DS620", "state": "idle",
        "available": True, "reason": "",
        "media_supported": ["na_index-4x6_4x6in", "na_5x7_5x7in"],
        "media_loaded": [{"size": "na_index-4x6_4x6in", "type": "photographic-glossy",
                          "source": "main"}],
        "supplies": [{"name": "Ribbon", "kind": "ribbon", "level": 40, "remaining": 160,
                      "unit": "prints", "as_of": "2026-11-28T16:40:01Z"}],
        "consumables": [{"item": "ribbon-4x6", "kind": "ribbon", "media": "na_index-4x6_4x6in",
                         "unit": "prints", "capacity": 400, "remaining": 160.5, "state": "ok"}],
        "impressions": 1234}], "updated_at": "2026-11-28T16:40:01Z"}


def stock_level_body():
    return {"printer": "ds620",
            "items": [{"item": "ribbon-4x6", "kind": "ribbon", "media": "na_index-4x6_4x6in",
                       "source": "printer", "remaining": 160, "unit": "prints", "level": 40,
                       "capacity": 400, "state": "ok", "as_of": "2026-11-28T16:40:01Z",
                       "drift": None},
                      {"item": "paper-a4", "kind": "paper", "media": "iso_a4_210x297mm",
                       "source": "counted", "remaining": None, "unit": "sheets", "level": None,
                       "capacity": None, "state": "unknown", "as_of": None, "drift": -2.5}],
            "media_loaded": [{"size": "na_index-4x6_4x6in", "type": "photographic-glossy",
                              "source": "main"}]}


def stock_threshold_body():
    return {"printer": "ds620", "item": "ribbon-4x6", "remaining": 38, "unit": "prints",
            "threshold": 40, "source": "printer"}


def stock_adjusted_body():
    return {"printer": "ds620", "item": "ribbon-4x6", "action": "load", "amount": 400,
            "unit": "prints", "remaining": 400, "by": "anna", "note": None}


def quality_body():
    day = {"printed": 120, "defects": {"banding": 2, "colour_cast": 1}, "aborted": 1,
           "faults": 0, "defect_rate": 0.025}
    week = {"printed": 0, "defects": {}, "aborted": 0, "faults": 3, "defect_rate": 0}
    return {"printer": "ds620", "last_24h": day, "last_7d": week}


def wait_for(fn, timeout=5.0):
    """FN's first truthy result, polling for at most TIMEOUT s (else its last)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


def setUpModule():
    global CERTS, SANDBOX
    CERTS = tempfile.mkdtemp(prefix="labagent-certs-")
    subprocess.run(["bash", os.path.join(HERE, "make-certs.sh"), CERTS], check=True,
                   timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    SANDBOX = Sandbox(CERTS)


def tearDownModule():
    if SANDBOX is not None:
        status, text = SANDBOX.close()
        if status != 0:
            sys.stderr.write("sandbox exited %s; its log:\n%s" % (status, text))
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


class SandboxTest(unittest.TestCase):
    def setUp(self):
        self.sb = SANDBOX
        self.sb.ok("/control/reset", {})
        self.c = self.sb.conn()

    def tearDown(self):
        self.c.close()

    def add_job(self, job_id, **kw):
        spec = {"id": job_id, "order_id": "ord-" + job_id, "sku": "print-4x6-glossy",
                "quantity": 1}
        spec.update(kw)
        return self.sb.ok("/control/jobs", {"jobs": [spec]})["jobs"][0]

    def poll(self, wait=1, conn=None):
        return request(conn or self.c, "GET", "/v1/labs/%s/assignments?wait=%d" % (LAB, wait))

    def accept(self, job_id, key=None, lab=LAB):
        return request(self.c, "POST", "/v1/jobs/%s/accept" % job_id, {"lab": lab}, key)

    def assertProblem(self, resp, data, status, code):
        self.assertEqual(resp.status, status, data)
        self.assertEqual(resp.getheader("Content-Type"), "application/problem+json")
        p = json.loads(data)
        self.assertEqual(p["status"], status)
        self.assertEqual(p["code"], code)
        for k in ("type", "title", "detail"):
            self.assertIsInstance(p[k], str)
        return p


class TestProtocol(SandboxTest):
    def test_poll_empty_is_204_after_wait(self):
        t = time.monotonic()
        r, data = self.poll(1)
        self.assertEqual(r.status, 204)
        self.assertEqual(data, b"")
        self.assertGreaterEqual(time.monotonic() - t, 0.9)

    def test_job_offer_accept_download(self):
        offered = self.add_job("job-1", asset_bytes=200000, priority="rush")
        r, data = self.poll(1)
        self.assertEqual(r.status, 200)
        body = json.loads(data)
        self.assertEqual(body["cancellations"], [])
        self.assertEqual([j["id"] for j in body["assignments"]], ["job-1"])
        job = body["assignments"][0]
        self.assertEqual(job, offered)
        self.assertEqual(job["priority"], "rush")
        self.assertEqual(job["asset"]["bytes"], 200000)
        self.assertEqual(job["asset"]["url"],
                         "https://localhost:%d/v1/assets/a-job-1" % self.sb.api_port)
        # Repeat until acted on.
        r, data = self.poll(1)
        self.assertEqual(json.loads(data)["assignments"][0]["id"], "job-1")

        r1, d1 = self.accept("job-1")
        r2, d2 = self.accept("job-1")  # a new key: accepted already, 200 again
        self.assertEqual((r1.status, r2.status), (200, 200))
        self.assertEqual(json.loads(d1), json.loads(d2))
        self.assertEqual(json.loads(d1)["job"]["id"], "job-1")
        r, data = self.poll(1)
        self.assertEqual(r.status, 204, "an accepted job is no longer offered")

        path = "/v1/assets/a-job-1"
        r, whole = request(self.c, "GET", path)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(whole), 200000)
        self.assertEqual(hashlib.sha256(whole).hexdigest(), job["asset"]["sha256"])
        self.assertTrue(whole.startswith(b"\xff\xd8\xff"), "sniffs as image/jpeg")
        self.assertTrue(whole.endswith(b"\xff\xd9"))
        r, part = request(self.c, "GET", path, headers={"Range": "bytes=150000-"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.getheader("Content-Range"), "bytes 150000-199999/200000")
        self.assertEqual(part, whole[150000:])
        r, part = request(self.c, "GET", path, headers={"Range": "bytes=10-19"})
        self.assertEqual((r.status, part), (206, whole[10:20]))
        r, data = request(self.c, "GET", path, headers={"Range": "bytes=200000-"})
        self.assertProblem(r, data, 416, "range_not_satisfiable")
        self.assertEqual(r.getheader("Content-Range"), "bytes */200000")
        r, data = request(self.c, "GET", "/v1/assets/nope")
        self.assertProblem(r, data, 404, "asset_not_found")

        st = self.sb.ok("/control/jobs")["jobs"][0]
        self.assertEqual((st["state"], st["accept_count"]), ("accepted", 2))

    def test_asset_from_given_bytes(self):
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
        job = self.add_job("job-png", asset_data_b64=base64.b64encode(data).decode(),
                           content_type="image/png")
        self.assertEqual(job["asset"]["sha256"], hashlib.sha256(data).hexdigest())
        r, got = request(self.c, "GET", "/v1/assets/a-job-png")
        self.assertEqual((r.status, got, r.getheader("Content-Type")), (200, data, "image/png"))

    def test_long_poll_wakes_when_work_arrives(self):
        threading.Timer(0.5, lambda: self.add_job("job-late")).start()
        t = time.monotonic()
        r, data = self.poll(10)
        self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - t, 5)
        self.assertEqual(json.loads(data)["assignments"][0]["id"], "job-late")

    def test_poll_wait_out_of_range(self):
        r, data = request(self.c, "GET", "/v1/labs/%s/assignments?wait=301" % LAB)
        self.assertProblem(r, data, 400, "bad_request")

    def test_idempotency_key(self):
        self.add_job("job-i")
        key = str(uuid.uuid4())
        r1, d1 = self.accept("job-i", key)
        r2, d2 = self.accept("job-i", key)
        self.assertEqual((r1.status, r2.status, d1), (200, 200, d2))
        self.assertEqual(r2.getheader("Idempotent-Replayed"), "true")
        r, data = request(self.c, "POST", "/v1/jobs/job-i/accept",
                          {"lab": LAB, "note": "other body"}, key)
        self.assertProblem(r, data, 409, "idempotency_key_reused")
        r, data = request(self.c, "POST", "/v1/jobs/job-i/accept", {"lab": LAB},
                          headers={"Idempotency-Key": "not-a-uuid"})
        self.assertProblem(r, data, 400, "bad_request")
        log = self.sb.ok("/control/log")["requests"]
        self.assertEqual([e["replayed"] for e in log if e["status"] == 200], [False, True])
        self.assertEqual(self.sb.ok("/control/jobs")["jobs"][0]["accept_count"], 1)

    def test_events_acked_and_counted_once(self):
        batch = {"events": [event(1, "lab.started", None, body={"version": "0.1.0"}),
                            event(2, "job.accepted"),
                            event(3, "stock.sample", None, "telemetry", {"paper": 10})]}
        uuids = [e["uuid"] for e in batch["events"]]
        path = "/v1/labs/%s/events" % LAB
        key = str(uuid.uuid4())
        r, data = request(self.c, "POST", path, batch, key)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(data)["acknowledged"], uuids)
        r, data = request(self.c, "POST", path, batch, key)  # same key: replayed
        self.assertEqual(json.loads(data)["acknowledged"], uuids)
        r, data = request(self.c, "POST", path, batch)  # a resend under a new key
        self.assertEqual((r.status, json.loads(data)["acknowledged"]), (200, uuids))
        ev = self.sb.ok("/control/events")
        self.assertEqual([e["uuid"] for e in ev["events"]], uuids)
        self.assertEqual([e["receipts"] for e in ev["events"]], [2, 2, 2])
        self.assertEqual(len(ev["receipts"]), 6)
        self.assertEqual(ev["highest_seq"], {LAB: 3})
        self.assertEqual(self.sb.ok("/control/violations")["violations"], [])

    def test_events_malformed(self):
        path = "/v1/labs/%s/events" % LAB
        bad = event(1)
        del bad["seq"]
        cases = [{"events": [bad]}, {"events": [dict(event(1), seq="1")]},
                 {"events": [dict(event(1), **{"class": "other"})]},
                 {"events": [dict(event(1), at="yesterday")]},
                 {"events": [dict(event(1), body=[])]},
                 {"events": [dict(event(1), uuid="x")]},
                 {"events": [event(1, job_id=None)]},  # job.* without job_id
                 {"evts": []}, b"{not json"]
        for body in cases:
            r, data = request(self.c, "POST", path, body)
            self.assertProblem(r, data, 400, "bad_request")
        r, data = request(self.c, "POST", path, {"events": [event(i) for i in range(101)]})
        self.assertProblem(r, data, 413, "too_large")
        self.assertEqual(self.sb.ok("/control/events")["events"], [])

    def test_body_over_1mib_is_413(self):
        r, data = request(self.c, "POST", "/v1/labs/%s/devices" % LAB,
                          b'{"x":"' + b"a" * (1024 * 1024) + b'"}', headers={})
        self.assertProblem(r, data, 413, "too_large")

    def test_missing_idempotency_key_is_400(self):
        h = lab_headers()
        h["Content-Type"] = "application/json"
        self.c.request("PUT", "/v1/labs/%s/devices" % LAB, body=b"{}", headers=h)
        r = self.c.getresponse()
        self.assertProblem(r, r.read(), 400, "bad_request")
        kinds = [v["kind"] for v in self.sb.ok("/control/violations")["violations"]]
        self.assertIn("missing_idempotency_key", kinds)

    def test_devices_stored(self):
        path = "/v1/labs/%s/devices" % LAB
        body = devices_body()
        r, data = request(self.c, "PUT", path, body)
        self.assertEqual((r.status, data), (204, b""))
        dev = self.sb.ok("/control/devices")
        self.assertEqual(dev["labs"][LAB]["devices"], body)
        self.assertEqual(dev["labs"][LAB]["count"], 1)
        # Every PUT handled is kept with its time; the newest is the lab's list.
        loaded = devices_body()
        loaded["printers"][0]["media_loaded"] = [{"size": "na_5x7_5x7in",
                                                  "type": "photographic-matte",
                                                  "source": "main"}]
        loaded["updated_at"] = "2026-11-28T16:41:01Z"
        r, data = request(self.c, "PUT", path, loaded)
        self.assertEqual(r.status, 204, data)
        dev = self.sb.ok("/control/devices")
        self.assertEqual(dev["labs"][LAB]["devices"], loaded)
        self.assertEqual(dev["labs"][LAB]["count"], 2)
        self.assertEqual([p["devices"] for p in dev["puts"]], [body, loaded])
        for p in dev["puts"]:
            self.assertEqual(p["lab"], LAB)
            self.assertIsInstance(p["received_at"], str)
        self.assertEqual(self.sb.ok("/control/violations")["violations"], [])

    def test_devices_of_a_bad_shape_are_400(self):
        path = "/v1/labs/%s/devices" % LAB

        def spoiled(change):
            body = devices_body()
            change(body, body["printers"][0])
            return body
        cases = [
            [],  # not an object
            spoiled(lambda b, p: b.pop("updated_at")),
            spoiled(lambda b, p: b.update(updated_at="yesterday")),
            spoiled(lambda b, p: b.update(printers={})),
            spoiled(lambda b, p: p.update(driver="cups")),
            spoiled(lambda b, p: p.update(state="busy")),
            spoiled(lambda b, p: p.update(available="yes")),
            spoiled(lambda b, p: p.pop("reason")),
            spoiled(lambda b, p: p.update(media_supported=[4])),
            spoiled(lambda b, p: p["media_loaded"][0].pop("source")),
            spoiled(lambda b, p: p["supplies"][0].update(level=40.5)),
            spoiled(lambda b, p: p["supplies"][0].update(as_of="now")),
            spoiled(lambda b, p: p["consumables"][0].update(capacity="400")),
            spoiled(lambda b, p: p.update(impressions=True)),
            spoiled(lambda b, p: p.update(make_model=7)),
        ]
        for body in cases:
            r, data = request(self.c, "PUT", path, body)
            p = self.assertProblem(r, data, 400, "bad_request")
            self.assertTrue(p["detail"].startswith("body"), p)
        dev = self.sb.ok("/control/devices")
        self.assertEqual((dev["labs"], dev["puts"]), ({}, []))
        kinds = [v["kind"] for v in self.sb.ok("/control/violations")["violations"]]
        self.assertEqual(kinds, ["devices_body"] * len(cases))
        # Nullable members may be null; members the contract does not name are ignored.
        body = devices_body()
        body["printers"][0].update(make_model=None, impressions=None, future_field={"x": 1})
        body["printers"][0]["supplies"][0].update(level=None, remaining=None, as_of=None)
        body["printers"][0]["consumables"][0].update(capacity=None, remaining=None)
        r, data = request(self.c, "PUT", path, body)
        self.assertEqual(r.status, 204, data)

    def test_stock_and_quality_events_follow_the_contract(self):
        path = "/v1/labs/%s/events" % LAB
        good = [event(1, "stock.level", None, "telemetry", stock_level_body()),
                event(2, "stock.level", None, "telemetry", dict(stock_level_body(), suppressed=3)),
                event(3, "stock.low", None, body=stock_threshold_body()),
                event(4, "stock.out", None, body=dict(stock_threshold_body(), remaining=0)),
                event(5, "stock.ok", None, body=dict(stock_threshold_body(), remaining=None,
                                                     source="technician")),
                event(6, "stock.adjusted", None, body=stock_adjusted_body()),
                event(7, "printer.quality", None, "telemetry", quality_body())]
        r, data = request(self.c, "POST", path, {"events": good})
        self.assertEqual(r.status, 200, data)
        self.assertEqual(len(json.loads(data)["acknowledged"]), len(good))
        self.assertEqual(self.sb.ok("/control/violations")["violations"], [])

        def item(**kw):
            b = stock_level_body()
            b["items"][0].update(kw)
            return b
        q_bad = quality_body()
        q_bad["last_7d"]["defects"]["Banding"] = 1
        bad = [event(10, "stock.level", None, "telemetry", item(kind="film")),
               event(11, "stock.level", None, "telemetry", item(unit="metres", state="empty")),
               event(12, "stock.level", None, "telemetry", item(remaining="12")),
               event(13, "stock.level", None, "telemetry", item(as_of="today")),
               event(14, "stock.level", None, "telemetry", dict(stock_level_body(), suppressed=0)),
               event(15, "stock.level", None, "job", stock_level_body()),  # wrong class
               event(16, "stock.low", None, body=dict(stock_threshold_body(), threshold=None)),
               event(17, "stock.out", None, body=dict(stock_threshold_body(), source="guess")),
               event(18, "stock.ok", None, "telemetry", stock_threshold_body()),  # wrong class
               event(19, "stock.adjusted", None, body=dict(stock_adjusted_body(), action="eat")),
               event(20, "stock.adjusted", None, body=dict(stock_adjusted_body(), remaining=None)),
               event(21, "printer.quality", None, "telemetry", dict(quality_body(), last_7d={})),
               event(22, "printer.quality", None, "telemetry", q_bad)]
        r, data = request(self.c, "POST", path, {"events": bad})
        self.assertEqual(r.status, 200, data)  # a frown, not a refusal: stored and acked
        self.assertEqual(len(json.loads(data)["acknowledged"]), len(bad))
        v = self.sb.ok("/control/violations")["violations"]
        self.assertEqual([x["kind"] for x in v],
                         ["event_body"] * 5 + ["event_class"] + ["event_body"] * 2
                         + ["event_class"] + ["event_body"] * 4, v)
        self.assertIn("body.items[0].kind must be one of", v[0]["detail"])
        self.assertIn("body.suppressed must be >= 1", v[4]["detail"])
        self.assertIn("'Banding'", v[-1]["detail"])

    def test_lab_mismatch(self):
        r, data = request(self.c, "GET", "/v1/labs/berlin-01/assignments?wait=1")
        self.assertProblem(r, data, 403, "lab_mismatch")
        r, data = request(self.c, "POST", "/v1/labs/berlin-01/events", {"events": []})
        self.assertProblem(r, data, 403, "lab_mismatch")
        self.add_job("job-m")
        r, data = self.accept("job-m", lab="berlin-01")
        self.assertProblem(r, data, 403, "lab_mismatch")

    def test_job_of_another_lab_is_404(self):
        self.add_job("job-other", lab="berlin-01")
        r, data = self.poll(1)
        self.assertEqual(r.status, 204)
        r, data = self.accept("job-other")
        self.assertProblem(r, data, 404, "job_not_found")
        r, data = self.accept("job-nonexistent")
        self.assertProblem(r, data, 404, "job_not_found")

    def test_reassign_cancel_expire_and_reconcile(self):
        for j in ("job-r", "job-c", "job-e", "job-k"):
            self.add_job(j)
        self.assertEqual(self.accept("job-c")[0].status, 200)
        self.assertEqual(self.accept("job-k")[0].status, 200)
        self.sb.ok("/control/reassign", {"job_id": "job-r"})
        self.sb.ok("/control/cancel", {"job_id": "job-c", "reason": "customer_canceled"})
        self.sb.ok("/control/expire", {"job_id": "job-e"})
        r, data = self.accept("job-r")
        self.assertProblem(r, data, 409, "job_reassigned")
        r, data = self.accept("job-c")
        self.assertProblem(r, data, 409, "job_canceled")
        r, data = self.accept("job-e")
        self.assertProblem(r, data, 409, "lease_lost")

        r, data = self.poll(1)
        body = json.loads(data)
        self.assertEqual(body["assignments"], [])
        self.assertEqual(body["cancellations"],
                         [{"job_id": "job-c", "reason": "customer_canceled"}])

        active = {"jobs": [{"id": j, "state": "downloading"}
                           for j in ("job-r", "job-c", "job-e", "job-k", "job-zz")]}
        r, data = request(self.c, "POST", "/v1/labs/%s/active-jobs" % LAB, active)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(data)["jobs"], [
            {"id": "job-r", "action": "drop", "reason": "job_reassigned"},
            {"id": "job-c", "action": "cancel", "reason": "customer_canceled"},
            {"id": "job-e", "action": "drop", "reason": "lease_lost"},
            {"id": "job-k", "action": "continue"},
            {"id": "job-zz", "action": "drop", "reason": "job_not_found"}])

        # job.canceled confirms the cancellation: it stops being listed.
        ev = event(1, "job.canceled", "job-c", body={"by": "platform", "reached_printer": False})
        r, data = request(self.c, "POST", "/v1/labs/%s/events" % LAB, {"events": [ev]})
        self.assertEqual(r.status, 200)
        r, data = self.poll(1)
        self.assertEqual(r.status, 204)
        states = {j["id"]: j["state"] for j in self.sb.ok("/control/jobs")["jobs"]}
        self.assertEqual(states, {"job-r": "reassigned", "job-c": "canceled",
                                  "job-e": "lease_lost", "job-k": "accepted"})

    def test_keep_alive_and_request_log(self):
        for _ in range(3):
            r, _ = request(self.c, "GET", "/v1/assets/none", headers={"Range": "bytes=0-"})
            self.assertEqual(r.status, 404)
        log = self.sb.ok("/control/log")
        conns = {e["conn"] for e in log["requests"]}
        self.assertEqual(len(conns), 1, "three requests on one kept-alive connection")
        e = log["requests"][0]
        self.assertEqual(e["cn"], LAB)
        self.assertEqual(e["headers"]["Range"], "bytes=0-")
        self.assertEqual(e["headers"]["X-Lab-Id"], LAB)
        self.assertEqual(e["headers"]["User-Agent"], "labagent/0.1.0")
        self.assertEqual((e["method"], e["status"]), ("GET", 404))

    def test_request_line_recorded_as_received(self):
        for path in ("/v1/jobs/a%2Fb/accept", "/v1/labs/%s/assignments?wait=1" % LAB,
                     "/v1/jobs/..%2F/accept"):
            request(self.c, "GET", path)
        lines = [e["request_line"] for e in self.sb.ok("/control/log")["requests"]]
        self.assertEqual(lines, ["GET /v1/jobs/a%2Fb/accept HTTP/1.1",
                                 "GET /v1/labs/%s/assignments?wait=1 HTTP/1.1" % LAB,
                                 "GET /v1/jobs/..%2F/accept HTTP/1.1"])

    def test_paths_outside_the_contract_are_violations(self):
        cases = {"/v1/accept": "not_a_call", "/v1/jobs/a/b/accept": "not_a_call",
                 "/v2/labs/%s/events" % LAB: "not_a_call",
                 "/v1/jobs/../accept": "dot_segment", "/v1/jobs/%2E%2E/accept": "dot_segment",
                 "/v1/jobs/./accept": "dot_segment"}
        for path, kind in cases.items():
            with self.subTest(path=path):
                self.sb.ok("/control/reset", {})
                r, data = request(self.c, "POST", path, {"lab": LAB})
                self.assertEqual(r.status, 404, data)
                kinds = [v["kind"] for v in self.sb.ok("/control/violations")["violations"]]
                self.assertEqual(kinds, [kind])

    def test_ids_follow_the_grammar(self):
        for bad in ("..", ".", "a%2Fb", "a?b=c", "a b", "a/b", "x" * 129, "caf\u00e9", ""):
            status, obj = self.sb.control("/control/jobs", {"jobs": [{"id": bad}]})
            self.assertEqual(status, 400, (bad, obj))
            self.assertIn("not '.' or '..'", obj["error"])
        for good in ("a:b", "A.b_c-d", "...", "x" * 128):
            self.add_job(good)
        status, obj = self.sb.control("/control/jobs", {"jobs": [{"id": "j", "raw": 1}]})
        self.assertEqual(status, 400, obj)

    def test_raw_offer_sticky_amend(self):
        raw_ids = ["..", ".", "a%2Fb", "a?b=c", "a/b", "caf\u00e9", ""]
        made = self.sb.ok("/control/jobs", {"jobs": [{"id": i, "raw": True} for i in raw_ids]})
        self.assertEqual([j["id"] for j in made["jobs"]], raw_ids)
        # No id at all, or one that is not a string: through override.
        self.sb.ok("/control/jobs", {"jobs": [{"id": "no-id", "raw": True, "sticky": True,
                                               "override": {"id": None}},
                                              {"id": "int-id", "raw": True,
                                               "override": {"id": 42}}]})
        r, data = self.poll(1)
        offers = json.loads(data)["assignments"]
        self.assertEqual([o.get("id") for o in offers], raw_ids + [None, 42])
        for o in offers[:len(raw_ids)]:
            asset = o["asset"]["url"].rsplit("/", 1)[1]
            self.assertRegex(asset, r"^a-[A-Za-z0-9._:-]*$")
        # A raw offer is never to be claimed: an accept for an id outside the grammar.
        r, data = request(self.c, "POST", "/v1/jobs/a%3Fb%3Dc/accept", {"lab": LAB})
        self.assertProblem(r, data, 404, "job_not_found")
        kinds = [v["kind"] for v in self.sb.ok("/control/violations")["violations"]]
        self.assertEqual(kinds, ["accept_bad_id"])
        self.sb.ok("/control/reset", {})

        # job.rejected may carry the id as offered (any string) or none; it withdraws the
        # offer unless the offer is sticky.
        self.sb.ok("/control/jobs", {"jobs": [{"id": "..", "raw": True},
                                              {"id": "a?b=c", "raw": True, "sticky": True}]})
        path = "/v1/labs/%s/events" % LAB
        body = {"reason": "bad_job", "field": "id", "detail": "d"}
        r, data = request(self.c, "POST", path, {"events": [
            event(1, "job.rejected", "..", body=body),
            event(2, "job.rejected", "a?b=c", body=body),
            event(3, "job.rejected", None, body=body)]})
        self.assertEqual(r.status, 200, data)
        r, data = self.poll(1)
        self.assertEqual([o["id"] for o in json.loads(data)["assignments"]], ["a?b=c"])
        jobs = {j["id"]: j for j in self.sb.ok("/control/jobs")["jobs"]}
        self.assertEqual(jobs[".."]["state"], "rejected")
        self.assertTrue(jobs["a?b=c"]["sticky"] and jobs["a?b=c"]["offered"])
        # Another job.* kind still needs a grammar id; a field that is no string is frowned on.
        r, data = request(self.c, "POST", path, {"events": [event(4, "job.accepted", "..")]})
        self.assertProblem(r, data, 400, "bad_request")
        r, data = request(self.c, "POST", path, {"events": [
            event(5, "job.rejected", "x", body=dict(body, field=7))]})
        self.assertEqual(r.status, 200)
        kinds = [v["kind"] for v in self.sb.ok("/control/violations")["violations"]]
        self.assertEqual(kinds, ["event_body"])

        # Amend: the same id, another body, from the next poll on.
        st = self.sb.ok("/control/amend", {"job_id": "a?b=c", "override": {"quantity": 0}})
        self.assertEqual(st["job"]["quantity"], 0)
        r, data = self.poll(1)
        self.assertEqual(json.loads(data)["assignments"][0]["quantity"], 0)
        status, obj = self.sb.control("/control/amend", {"job_id": "a?b=c"})
        self.assertEqual(status, 400, obj)
        status, obj = self.sb.control("/control/amend", {"job_id": "nope",
                                                         "override": {"quantity": 2}})
        self.assertEqual(status, 404, obj)

    def test_client_disconnect_mid_request_leaves_server_up(self):
        raw = socket.create_connection(("127.0.0.1", self.sb.api_port), timeout=TIMEOUT)
        raw.close()  # before the handshake
        s = self.sb.context().wrap_socket(
            socket.create_connection(("127.0.0.1", self.sb.api_port), timeout=TIMEOUT),
            server_hostname="localhost")
        s.sendall(b"POST /v1/labs/test-lab/events HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"eve")
        s.close()  # mid-body
        r, data = self.poll(1)
        self.assertEqual(r.status, 204)


class TestTls(SandboxTest):
    def handshake_refused(self, client):
        """True if the sandbox refuses CLIENT (None: no certificate)."""
        conn = self.sb.conn(client)
        try:
            conn.request("GET", "/v1/labs/%s/assignments?wait=1" % LAB, headers=lab_headers())
            conn.getresponse().read()
        except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError):
            return True
        finally:
            conn.close()
        return False

    def test_no_client_certificate_refused(self):
        self.assertTrue(self.handshake_refused(None))
        self.assertEqual(self.sb.ok("/control/log")["requests"], [])
        # The alert can reach us before the sandbox's thread records it.
        failures = wait_for(lambda: self.sb.ok("/control/log")["tls_failures"])
        self.assertTrue(failures and "CERTIFICATE" in failures[-1]["error"].upper(), failures)

    def test_other_ca_client_refused(self):
        self.assertTrue(self.handshake_refused("other-client"))
        self.assertEqual(self.sb.ok("/control/log")["requests"], [])

    def test_near_expiry_clients_accepted(self):
        for client in ("soon-client", "month-client"):
            self.assertFalse(self.handshake_refused(client), client)

    def test_certificate_dates(self):
        def valid_for(name, days):
            return subprocess.run(
                ["openssl", "x509", "-noout", "-checkend", str(int(days * 86400)),
                 "-in", os.path.join(CERTS, name + ".pem")],
                stdout=subprocess.DEVNULL, timeout=TIMEOUT).returncode == 0
        self.assertFalse(valid_for("expired-server", 0))
        self.assertTrue(valid_for("soon-client", 4.9) and not valid_for("soon-client", 5.1))
        self.assertTrue(valid_for("month-client", 19.9) and not valid_for("month-client", 20.1))
        for name in ("ca", "client", "server"):
            self.assertEqual(os.stat(os.path.join(CERTS, name + ".key")).st_mode & 0o777, 0o600)

    def test_bad_server_certificates_rejected_by_a_verifying_client(self):
        for cert, reason in (("expired-server", "expired"), ("wronghost-server", "mismatch"),
                             ("other-server", "unable to get local issuer")):
            sb = Sandbox(CERTS, cert)
            try:
                conn = sb.conn()
                with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                    conn.request("GET", "/v1/labs/%s/assignments?wait=1" % LAB)
                self.assertIn(reason, str(cm.exception).lower())
                conn.close()
            finally:
                status, text = sb.close()
            self.assertEqual(status, 0, text)


class TestFaults(SandboxTest):
    def fault(self, **spec):
        return self.sb.ok("/control/faults", spec)["faults"][0]

    def test_status_once_then_ok(self):
        self.fault(method="GET", path="/assignments$", status=500, count=1)
        r, data = self.poll(1)
        self.assertProblem(r, data, 500, "internal_error")
        r, data = self.poll(1)
        self.assertEqual(r.status, 204)

    def test_retry_after(self):
        self.fault(path="/assignments", status=429, retry_after=2)
        r, data = self.poll(1)
        self.assertProblem(r, data, 429, "rate_limited")
        self.assertEqual(r.getheader("Retry-After"), "2")
        self.fault(path="/assignments", status=503, retry_after=1)
        r, data = self.poll(1)
        self.assertProblem(r, data, 503, "unavailable")
        self.assertEqual(r.getheader("Retry-After"), "1")

    def test_drop_after_bytes(self):
        self.add_job("job-d", asset_bytes=100000)
        self.fault(method="GET", path="^/v1/assets/", drop_after_bytes=1000)
        self.c.request("GET", "/v1/assets/a-job-d", headers=lab_headers())
        r = self.c.getresponse()
        self.assertEqual((r.status, r.getheader("Content-Length")), (200, "100000"))
        with self.assertRaises(http.client.IncompleteRead) as cm:
            r.read()
        self.assertEqual(len(cm.exception.partial), 1000)
        c2 = self.sb.conn()
        r, whole = request(c2, "GET", "/v1/assets/a-job-d", headers={"Range": "bytes=1000-"})
        c2.close()
        self.assertEqual((r.status, len(whole)), (206, 99000))

    def test_corrupt_truncate_extra(self):
        job = self.add_job("job-x", asset_bytes=5000)
        want = job["asset"]["sha256"]
        self.fault(path="^/v1/assets/", corrupt=True)
        r, data = request(self.c, "GET", "/v1/assets/a-job-x")
        self.assertEqual((r.status, len(data)), (200, 5000))
        self.assertNotEqual(hashlib.sha256(data).hexdigest(), want)
        self.fault(path="^/v1/assets/", truncate=True)
        r, data = request(self.c, "GET", "/v1/assets/a-job-x")
        self.assertEqual((r.status, len(data)), (200, 2500))
        self.fault(path="^/v1/assets/", extra_bytes=10)
        r, data = request(self.c, "GET", "/v1/assets/a-job-x")
        self.assertEqual(len(data), 5010)
        r, data = request(self.c, "GET", "/v1/assets/a-job-x")
        self.assertEqual(hashlib.sha256(data).hexdigest(), want)

    def test_close_and_delay(self):
        self.fault(path="/assignments", close=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.poll(1)
        self.c.close()
        self.fault(path="/assignments", delay=1, status=500)
        t = time.monotonic()
        r, data = self.poll(1)
        self.assertEqual(r.status, 500)
        self.assertGreaterEqual(time.monotonic() - t, 0.9)
        log = self.sb.ok("/control/log")["requests"]
        self.assertTrue(log[0].get("closed"))

    def test_lost_accept_response_is_replayed(self):
        self.add_job("job-lost")
        self.fault(path="/accept$", drop_after_bytes=0)
        key = str(uuid.uuid4())
        self.c.request("POST", "/v1/jobs/job-lost/accept", body=json.dumps({"lab": LAB}),
                       headers=lab_headers(True, key))
        r = self.c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        self.c.close()
        self.assertEqual(self.sb.ok("/control/jobs")["jobs"][0]["state"], "accepted")
        r, data = self.accept("job-lost", key)  # the agent's retry, same key
        self.assertEqual((r.status, r.getheader("Idempotent-Replayed")), (200, "true"))
        self.assertEqual(json.loads(data)["job"]["id"], "job-lost")

    def test_duplicate_assignments(self):
        self.add_job("job-dup")
        self.fault(path="/assignments", duplicate_assignments=True)
        r, data = self.poll(1)
        self.assertEqual([j["id"] for j in json.loads(data)["assignments"]],
                         ["job-dup", "job-dup"])
        r, data = self.poll(1)
        self.assertEqual([j["id"] for j in json.loads(data)["assignments"]], ["job-dup"])

    def test_fault_validation(self):
        for bad in ({"path": "x"}, {"status": 200}, {"bogus": 1, "status": 500},
                    {"path": "(", "status": 500}, {"duplicate_assignments": True, "delay": 1}):
            status, obj = self.sb.control("/control/faults", bad)
            self.assertEqual(status, 400, bad)

    def test_down_and_up(self):
        r, _ = self.poll(1)
        self.assertEqual(r.status, 204)
        self.sb.ok("/control/down", {})
        with self.assertRaises((ConnectionError, ssl.SSLError, http.client.HTTPException,
                                OSError)):
            self.poll(1)  # the kept-alive connection was dropped
        c2 = self.sb.conn()
        with self.assertRaises((ConnectionError, ssl.SSLError, http.client.HTTPException,
                                OSError)):
            self.poll(1, c2)  # a new one is reset
        c2.close()
        self.sb.ok("/control/up", {})
        c3 = self.sb.conn()
        r, _ = self.poll(1, c3)
        c3.close()
        self.assertEqual(r.status, 204)
        self.assertGreaterEqual(self.sb.ok("/control/log")["refused_while_down"], 1)


class TestLifecycle(unittest.TestCase):
    def test_prefix(self):
        sb = Sandbox(CERTS, extra=["--prefix", "/api"])
        try:
            job = sb.ok("/control/jobs", {"jobs": [{"id": "job-p"}]})["jobs"][0]
            self.assertEqual(job["asset"]["url"],
                             "https://localhost:%d/api/v1/assets/a-job-p" % sb.api_port)
            c = sb.conn()
            r, data = request(c, "GET", "/api/v1/labs/%s/assignments?wait=1" % LAB)
            self.assertEqual(r.status, 200)
            r, data = request(c, "GET", "/api/v1/assets/a-job-p")
            self.assertEqual(hashlib.sha256(data).hexdigest(), job["asset"]["sha256"])
            r, data = request(c, "GET", "/v1/labs/%s/assignments?wait=1" % LAB)
            self.assertEqual(r.status, 404)
            kinds = [v["kind"] for v in sb.ok("/control/violations")["violations"]]
            self.assertEqual(kinds, ["not_a_call"])
            c.close()
        finally:
            status, text = sb.close()
        self.assertEqual(status, 0, text)

    def test_sigterm_exits_cleanly_during_a_long_poll(self):
        sb = Sandbox(CERTS)
        try:
            conn = sb.conn()
            done = []

            def long_poll():
                try:
                    request(conn, "GET", "/v1/labs/%s/assignments?wait=60" % LAB)
                except Exception as e:
                    done.append(e)
            t = threading.Thread(target=long_poll, daemon=True)
            t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
        finally:
            status, text = sb.close()
        self.assertEqual(status, 0, text)
        self.assertLess(time.monotonic() - t0, 5)
        t.join(TIMEOUT)
        self.assertTrue(done, "the held poll ended with a connection error")
        conn.close()


if __name__ == "__main__":
    faulthandler.dump_traceback_later(OVERALL, exit=True)
    unittest.main()
