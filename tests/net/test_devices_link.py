#!/usr/bin/python3
"""test_devices_link.py - the device list PUT of the platform link
(lab_platform_set_devices, agent/platform/platform-devices.c) against the
sandbox platform, over real mutual TLS on loopback.

Why: "the newest body wins, nothing is lost, nothing is sent twice" is only
worth what a real link shows against a faithful peer that can fail on
command. The link runs alone (devices-link.c: the platform module on an
sd-event loop, commands on stdin), so the test does not wait for the daemon
to call it. The sandbox's /control/devices lists every PUT it handled; its
request log shows every attempt, faults included.

usage: test_devices_link.py DEVICES_LINK [unittest args]
"""

import calendar
import json
import os
import shutil
import queue
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
MAKE_CERTS = os.path.join(SOURCE, "tests", "platform", "make-certs.sh")
sys.path.insert(0, os.path.join(SOURCE, "tests", "platform-link"))
import test_link as tl  # noqa: E402  (Sandbox, AgentTestCase, wait_until)

DEVICES_LINK = None
CERTS = None
wait_until = tl.wait_until

# Every wait in this file is bounded by one of these.
WAIT_READY = 20.0
WAIT_PUT = 30.0
DEVICES_PATH = "/v1/labs/test-lab/devices"


def seconds(stamp):
    """A sandbox time (2026-11-28T16:40:01.123Z) as seconds since the epoch."""
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + \
        float("0" + stamp[19:-1])


def devices(tag, size="na_index-4x6_4x6in", remaining=160):
    """A device list of the contract's shape; TAG tells the bodies apart."""
    return {"printers": [{
        "name": "ds620", "driver": "ipp", "make_model": "DNP DS620", "state": "idle",
        "available": True, "reason": "",
        "media_supported": ["na_index-4x6_4x6in", "na_5x7_5x7in"],
        "media_loaded": [{"size": size, "type": "photographic-glossy", "source": tag}],
        "supplies": [{"name": "Ribbon", "kind": "ribbon", "level": remaining * 100 // 400,
                      "remaining": remaining, "unit": "prints",
                      "as_of": "2026-11-28T16:40:01Z"}],
        "consumables": [], "impressions": 1234}],
        "updated_at": "2026-11-28T16:40:01Z"}


class Sandbox(tl.Sandbox):
    """The sandbox platform, with what it recorded of the device list."""

    def puts(self):
        """Every device list PUT the sandbox handled, oldest first."""
        return self.call("GET", "/control/devices")["puts"]

    def bodies(self):
        return [p["devices"] for p in self.puts()]

    def attempts(self):
        """Every PUT of the device list that reached the sandbox, faults included."""
        return [r for r in self.requests()
                if r["method"] == "PUT" and r["path"] == DEVICES_PATH]


class Link:
    """devices-link: the platform link on its own loop, fed commands."""

    def __init__(self, workdir, api_port):
        self.state = os.path.join(workdir, "state")
        os.makedirs(self.state, exist_ok=True)
        self.config = os.path.join(workdir, "labagent.yaml")
        with open(self.config, "w") as f:
            f.write("""lab:
  id: test-lab
platform:
  url: https://localhost:%d/
  ca_file: %s/ca.pem
  cert_file: %s/client.pem
  key_file: %s/client.key
  poll_wait: 2s
  connect_timeout: 2s
products:
  - sku: print-4x6-glossy
    media: na_index-4x6_4x6in
""" % (api_port, CERTS, CERTS, CERTS))
        self.stderr_path = os.path.join(workdir, "link.log")
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([DEVICES_LINK, self.config, self.state],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        # A thread reads stdout line by line (bounded by the pipe's end), so that a
        # read never waits without a timeout.
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self.read_lines, daemon=True)
        self.reader.start()
        self.expect("ready")

    def read_lines(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self):
        try:
            return self.lines.get(timeout=WAIT_READY)
        except queue.Empty:
            return None

    def expect(self, word):
        line = self.next_line()
        if line != word:
            raise AssertionError("devices-link said %r, not %r; see %s"
                                 % (line, word, self.stderr_path))

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self.expect("ok")

    def set(self, body):
        self.command("set " + (body if isinstance(body, str)
                               else json.dumps(body, sort_keys=True)))

    def status(self):
        self.proc.stdin.write("status\n")
        self.proc.stdin.flush()
        line = self.next_line()
        self.expect("ok")
        return line or ""

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("devices-link did not stop within 10 s of EOF")
        else:
            rc = self.proc.returncode
        self.reader.join(10)
        self.proc.stdout.close()
        self.err.close()
        return rc


class DevicesLinkTest(tl.AgentTestCase):
    """A sandbox and the link alone; the sandbox's contract check after every test
    (tl.AgentTestCase: headers, Idempotency-Key, the device list's shape)."""

    def setUp(self):
        super().setUp()
        self.sb = Sandbox(self.dir)
        self.sandboxes.append(self.sb)
        self.link = None

    def start_link(self):
        self.link = Link(self.dir, self.sb.api_port)
        return self.link

    def tearDown(self):
        try:
            if self.link:
                self.assertEqual(self.link.stop(), 0)
        finally:
            super().tearDown()

    def wait_bodies(self, n, what):
        return wait_until(lambda: len(self.sb.puts()) >= n and self.sb.bodies(), WAIT_PUT, what)

    def test_sent_newest_wins_repeats_skipped(self):
        link = self.start_link()
        a, b = devices("a"), devices("b", size="na_5x7_5x7in")
        link.set(a)
        self.wait_bodies(1, "the first device list")
        latest = self.sb.call("GET", "/control/devices")["labs"]["test-lab"]
        self.assertEqual(latest["devices"], a)
        # The same body again is not sent; a new one is, and becomes the lab's list.
        link.set(a)
        link.set(b)
        self.assertEqual(self.wait_bodies(2, "the second device list"), [a, b])
        # A, B, then A again: a new request (the platform must not replay A's answer).
        link.set(a)
        self.assertEqual(self.wait_bodies(3, "the first list again"), [a, b, a])
        self.assertEqual(self.sb.call("GET", "/control/devices")["labs"]["test-lab"]["devices"], a)
        attempts = self.sb.attempts()
        self.assertEqual(len(attempts), 3, attempts)
        keys = [r["headers"]["Idempotency-Key"] for r in attempts]
        self.assertEqual(len(set(keys)), 3, keys)
        for r in attempts:
            self.assertTrue(r["headers"]["User-Agent"].startswith("labagent/"), r)
            self.assertEqual(r["headers"]["X-Lab-Id"], "test-lab")
            self.assertEqual(r["status"], 204)
            self.assertFalse(r["replayed"], r)

    def test_body_set_while_one_is_in_flight_goes_after_it(self):
        self.sb.fault(method="PUT", path="/devices$", delay=2, count=1)
        link = self.start_link()
        first, middle, newest = devices("1"), devices("2"), devices("3")
        link.set(first)
        wait_until(lambda: self.sb.attempts(), WAIT_PUT, "the first PUT to arrive")
        link.set(middle)  # replaced before it could go: never sent
        link.set(newest)
        self.assertEqual(self.wait_bodies(2, "the newest list after the slow one"),
                         [first, newest])
        time.sleep(1)  # nothing else follows
        self.assertEqual(len(self.sb.attempts()), 2)

    def test_503_for_a_while_then_delivered_once_logged_once(self):
        self.sb.fault(method="PUT", path="/devices$", status=503, count=3)
        link = self.start_link()
        body = devices("outage")
        link.set(body)
        self.assertEqual(self.wait_bodies(1, "the list after the 503s"), [body])
        statuses = [r["status"] for r in self.sb.attempts()]
        self.assertEqual(statuses, [503, 503, 503, 204])
        # The same key on every retry of one body.
        keys = {r["headers"]["Idempotency-Key"] for r in self.sb.attempts()}
        self.assertEqual(len(keys), 1, keys)
        log = link.log()
        self.assertEqual(log.count("devices: the device list was not delivered"), 1, log)
        self.assertIn("not delivered (platform_unavailable: ", log)
        self.assertIn("delivered after 3 failed attempt(s)", log)
        # Backoff, not a tight loop: each retry waits at least half a step (0.5 s, 1 s, 2 s).
        times = [seconds(r["time"]) for r in self.sb.attempts()]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for gap, least in zip(gaps, (0.45, 0.95, 1.95)):
            self.assertGreaterEqual(gap, least, gaps)

    def test_newer_body_set_during_the_outage_is_the_one_delivered(self):
        self.sb.call("POST", "/control/down", {})
        link = self.start_link()
        link.set(devices("old"))
        wait_until(lambda: "device list not delivered" in link.status(), WAIT_PUT,
                   "the link to see the platform down")
        newest = devices("new", remaining=150)
        link.set(newest)
        self.sb.call("POST", "/control/up", {})
        self.assertEqual(self.wait_bodies(1, "the list after the outage"), [newest])
        time.sleep(1)
        self.assertEqual(self.sb.bodies(), [newest])
        self.assertNotIn("device list not delivered", link.status())
        # One warning per kind of failure (a reset connection shows as "unreachable" or as
        # a TLS failure), not one per retry.
        log = link.log()
        warned = [line for line in log.splitlines()
                  if "devices: the device list was not delivered" in line]
        kinds = {line.split("(", 1)[1].split(":", 1)[0] for line in warned}
        self.assertEqual(len(warned), len(kinds), warned)
        self.assertIn("devices: the device list was delivered after", log)

    def test_link_back_sends_a_waiting_list_at_once(self):
        # The PUT is told to come back in a minute; then the whole platform goes away
        # and returns: the list goes as soon as the link is back, not a minute later.
        self.sb.fault(method="PUT", path="/devices$", status=503, retry_after=60, count=1)
        link = self.start_link()
        body = devices("back")
        link.set(body)
        wait_until(lambda: self.sb.attempts(), WAIT_PUT, "the first PUT to be refused")
        self.sb.call("POST", "/control/down", {})
        wait_until(lambda: "unreachable" in link.status(), WAIT_PUT, "the link to fail")
        self.sb.call("POST", "/control/up", {})
        t0 = time.monotonic()
        self.assertEqual(self.wait_bodies(1, "the list once the link is back"), [body])
        self.assertLess(time.monotonic() - t0, 30)
        self.assertIn("platform: reachable again", link.log())

    def test_rejected_body_stays_pending_and_is_retried(self):
        self.sb.fault(method="PUT", path="/devices$", status=400, count=2)
        link = self.start_link()
        body = devices("after-400")
        link.set(body)
        self.assertEqual(self.wait_bodies(1, "the list after two 400s"), [body])
        self.assertEqual([r["status"] for r in self.sb.attempts()], [400, 400, 204])
        self.assertIn("not delivered (platform_rejected_request: ", link.log())

    def test_reload_mid_put_sends_it_again(self):
        self.sb.fault(method="PUT", path="/devices$", close=True, delay=1, count=1)
        link = self.start_link()
        body = devices("reload")
        link.set(body)
        wait_until(lambda: self.sb.attempts(), WAIT_PUT, "the first PUT to arrive")
        link.command("reload")
        self.assertEqual(self.wait_bodies(1, "the list after the reload"), [body])
        # The first PUT was never answered (the sandbox closed it after the reload).
        wait_until(lambda: self.sb.attempts()[0].get("closed"), WAIT_PUT,
                   "the first PUT to be closed unanswered")
        attempts = self.sb.attempts()
        self.assertEqual(len(attempts), 2, attempts)
        self.assertIsNone(attempts[0]["status"])
        # The aborted PUT went again under the same Idempotency-Key.
        self.assertEqual(attempts[0]["headers"]["Idempotency-Key"],
                         attempts[1]["headers"]["Idempotency-Key"])

    def test_not_an_object_is_refused_and_not_sent(self):
        link = self.start_link()
        link.set("[1, 2]")
        link.set("{not json")
        good = devices("good")
        link.set(good)
        self.assertEqual(self.wait_bodies(1, "the good list"), [good])
        self.assertEqual(len(self.sb.attempts()), 1)
        log = link.log()
        self.assertEqual(log.count("devices: the device list is not a JSON object"), 2, log)

    def test_set_before_the_platform_answers_and_after_restart(self):
        # A new link (an agent restart) starts with nothing delivered: it sends again.
        link = self.start_link()
        body = devices("restart")
        link.set(body)
        self.wait_bodies(1, "the list")
        self.assertEqual(link.stop(), 0)
        self.link = self.start_link()
        self.link.set(body)
        self.assertEqual(self.wait_bodies(2, "the list after a restart"), [body, body])


def main():
    global DEVICES_LINK, CERTS
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    DEVICES_LINK = os.path.abspath(sys.argv[1])
    CERTS = tl.CERTS = tempfile.mkdtemp(prefix="labagent-devices-certs-")
    try:
        subprocess.run(["bash", MAKE_CERTS, CERTS], check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        prog = unittest.main(argv=[sys.argv[0]] + sys.argv[2:], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
