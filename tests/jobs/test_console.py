#!/usr/bin/python3
"""test_console.py - the technicians' console end to end: labctl against the
real agent, printing on real IPP printers (ippeveprinter), fed by the
sandbox platform.

Why: a technician must see what is printing and what is stuck, pause a
printer to reload paper without losing or doubling a print, and have a bad
print made again; lab IT must be able to say who may do that. Each test
drives the real labctl binary (and, for hostile input, the raw socket) and
checks the outcome where it happens: the printers' own records, the store,
the platform's events, the audit log.

usage: test_console.py LABAGENT EVENT_WRITER [unittest args]
       (LABCTL in the environment: the labctl binary)
"""

import grp
import json
import os
import pty
import select
import socket
import sqlite3
import subprocess
import sys
import time

import fleet
from fleet import wait_until

LABCTL = os.environ.get("LABCTL", "")
WAIT_PRINT = 120.0
CMD_TIMEOUT = 20


def labctl(sock, *args, user=None, groups=None, json_out=False):
    """fleet.labctl with its output as text (CMD_TIMEOUT)."""
    return fleet.labctl(sock, *args, user=user, groups=groups, json_out=json_out,
                        timeout=CMD_TIMEOUT, parse=False)


def labctl_json(sock, *args, **kw):
    return fleet.labctl_json(sock, *args, timeout=CMD_TIMEOUT, **kw)


class RawClient:
    """The console socket spoken to directly: one JSON line out, one in."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A blocking connect: with a timeout set, Python connects non-blocking and a
        # unix socket with a full backlog says EAGAIN instead of waiting its turn.
        self.s.connect(path)
        self.s.settimeout(timeout)
        self.buf = b""

    def send_raw(self, data):
        self.s.sendall(data)

    def read_answer(self):
        """The next answer line as an object; None when the daemon closed the connection."""
        deadline = time.monotonic() + 10
        while b"\n" not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError("no answer within 10 s")
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                return None  # hung up on with our unread bytes in its buffer
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, req):
        self.send_raw((json.dumps(req) + "\n").encode())
        return self.read_answer()

    def close(self):
        self.s.close()


class ConsoleTest(fleet.FleetTestCase):
    def agent(self, sb, printers, extra="", **kw):
        ag = self.fleet_agent(sb, printers, workers=1, extra=extra, **kw)
        ag.sock = os.path.join(self.dir, "control.sock")
        if extra:
            # A test that names its own control section names the socket too.
            for line in extra.splitlines():
                if line.strip().startswith("socket:"):
                    ag.sock = line.split(":", 1)[1].strip()
        return ag

    def wait_states(self, ag, ids, states=("reported",), what="jobs reported"):
        wait_until(lambda: len(set(ids) & set(ag.job_states())) == len(ids)
                   and all(ag.job_states()[i] in states for i in ids),
                   WAIT_PRINT, what)

    def check_top(self, ag):
        """labctl top: --batch frames for scripts, and the live view on a terminal."""
        rc, out, err = labctl(ag.sock, "top", "--batch", "2", "--interval", "0.5")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(out.count("ds620"), 2, out)  # the printer, once a frame
        self.assertRegex(out, r"\n-{10,}\n")       # frames are separated
        # The live view in a pseudo-terminal: it draws the printer, q quits.
        pid, fd = pty.fork()
        if pid == 0:
            os.environ["TERM"] = "xterm"
            os.execv(LABCTL, [LABCTL, "--socket", ag.sock, "top", "--interval", "0.5"])
        screen = b""
        try:
            deadline = time.monotonic() + 10
            while b"ds620" not in screen and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    try:
                        screen += os.read(fd, 65536)
                    except OSError:
                        break
            self.assertIn(b"ds620", screen)
            os.write(fd, b"q")
            deadline = time.monotonic() + 10
            status = None
            while status is None and time.monotonic() < deadline:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
                else:
                    try:  # keep the pty drained so the view can finish drawing
                        if select.select([fd], [], [], 0.2)[0]:
                            os.read(fd, 65536)
                    except OSError:
                        time.sleep(0.1)
            self.assertIsNotNone(status, "labctl top did not quit on q")
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        finally:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(fd)

    def test_pause_keeps_the_queue_and_routes_new_work_elsewhere(self):
        """A paused printer is sent nothing new, its queued copies wait for it (never
        sent elsewhere, never lost), the platform hears it, the pause outlives a restart,
        and on resume everything prints exactly once."""
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=1.5)
        ag = self.agent(sb, [ds620.config_entry(), cpd90.config_entry(queue_depth=1)])
        ag.start()
        rc, out, err = labctl(ag.sock, "pause", "ds620", "--reason", "reloading 4x6 paper")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("ds620", out)
        p = {x["name"]: x for x in labctl_json(ag.sock, "printers")["printers"]}
        self.assertFalse(p["ds620"]["available"])
        self.assertEqual(p["ds620"]["paused"]["by"], "root")
        self.assertEqual(p["ds620"]["paused"]["reason"], "reloading 4x6 paper")
        self.assertTrue(p["ds620"]["reason"].startswith("printer_paused: "), p["ds620"])
        self.assertIsNone(p["cpd90"]["paused"])

        # New work goes to the other printer only.
        jobs = sb.add_bulk_jobs(5, seed=11, prefix="pz-", skus=("print-4x6-glossy",),
                                quantities=(1,))
        ids = [j["id"] for j in jobs]
        # While cpd90 (1.5 s a print, one at a time) works, copies queue up at it.
        # Every job rendered and queued (nothing on its way to the queue), some still waiting.
        wait_until(lambda: len(ag.copies()) == len(ids)
                   and [c for c in ag.copies() if c["state"] == "queued"],
                   60, "copies queued at cpd90")
        # Pause cpd90 too: what is queued there stays there.
        self.assertEqual(labctl(ag.sock, "pause", "cpd90")[0], 0)
        queued = sorted((c["job_id"], c["copy"]) for c in ag.copies()
                        if c["state"] == "queued")
        self.assertGreaterEqual(len(queued), 1)
        # Restart: the pauses are in the store.
        self.assertEqual(ag.stop(), 0, ag.tail())
        ag.start()
        time.sleep(4)  # a few poll and health rounds with both paused
        p = {x["name"]: x for x in labctl_json(ag.sock, "printers")["printers"]}
        self.assertIsNotNone(p["ds620"]["paused"])
        self.assertIsNotNone(p["cpd90"]["paused"])
        still = sorted((c["job_id"], c["copy"]) for c in ag.copies()
                       if c["state"] == "queued")
        self.assertEqual(still, queued, "queued copies moved while their printer was paused")
        self.assertEqual({c["printer"] for c in ag.copies()}, {"cpd90"})
        self.assertEqual(ds620.printed_job_names(), [])
        self.assertEqual(p["cpd90"]["queued"], len(queued))

        # status shows both, and the queued jobs are not "stuck" (they are not old).
        st = labctl_json(ag.sock, "status")
        self.assertEqual(st["role"], "operator")
        self.assertEqual([x["name"] for x in st["printers"]], ["ds620", "cpd90"])
        rc, out, err = labctl(ag.sock, "status")
        self.assertEqual(rc, 0, err)
        self.assertIn("ds620", out)
        self.assertIn("cpd90", out)

        # Resume both: every job printed exactly once.
        for name in ("cpd90", "ds620"):
            rc, out, err = labctl(ag.sock, "resume", name)
            self.assertEqual(rc, 0, out + err)
        self.wait_states(ag, ids)
        printed = {pr.name: pr.printed_job_names() for pr in (ds620, cpd90)}
        v = fleet.verdict({i: 1 for i in ids}, printed, events=sb.events())
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        # The platform heard the pause (printer.status, reason printer_paused).
        paused_events = [e for e in sb.events_of("printer.status")
                         if e["body"]["reason"].startswith("printer_paused: ")]
        self.assertEqual({e["body"]["printer"] for e in paused_events}, {"ds620", "cpd90"})
        self.assertTrue(all(not e["body"]["available"] for e in paused_events))
        # Who did it, in the audit log.
        acts = [(r["actor"], r["action"]) for r in ag.query(
            "SELECT actor, action FROM audit WHERE action LIKE 'printer.%' ORDER BY id")]
        self.assertEqual(acts, [("labctl:root(uid=0)", "printer.pause")] * 2
                         + [("labctl:root(uid=0)", "printer.resume")] * 2)
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_reprint_and_uncertain_copies(self):
        """A bad print is made again as a new copy (new job name at the printer, the
        platform told job.defect and job.printed again); an uncertain copy is either
        confirmed printed or, not printed, sent again under a new attempt."""
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        ag = self.agent(sb, [ds620])
        jobs = sb.add_bulk_jobs(3, seed=5, prefix="rp-", skus=("print-4x6-glossy",),
                                quantities=(1,))
        two = sb.add_bulk_jobs(1, seed=6, prefix="rq-", skus=("print-4x6-glossy",),
                               quantities=(2,))
        ids = [j["id"] for j in jobs + two]
        ag.start()
        self.wait_states(ag, ids)
        a, b, c = [j["id"] for j in jobs]
        q = two[0]["id"]
        self.check_top(ag)

        rc, out, err = labctl(ag.sock, "reprint", a, "--defect", "banding", "--note",
                              "cyan stripe at the top")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("copy 2", out)
        self.wait_states(ag, [a], what="the reprint reported")
        self.assertEqual(sorted(n for n in ds620.printed_job_names() if n.startswith(a)),
                         [a + "/1/1", a + "/2/1"])
        d = [e for e in sb.events_of("job.defect") if e["job_id"] == a]
        self.assertEqual(len(d), 1)
        self.assertEqual(d[0]["body"], {"copy": 1, "defect": "banding", "by": "root",
                                        "note": "cyan stripe at the top", "reprint_copy": 2,
                                        "printer": "ds620", "sku": "print-4x6-glossy",
                                        "media": "na_index-4x6_4x6in"})
        printed = [e["body"] for e in sb.events_of("job.printed") if e["job_id"] == a]
        self.assertEqual([(x["copies"], x["quantity"]) for x in printed], [(1, 1), (2, 2)])

        # Refusals: which copy (the job has two), no such job, no such copy, bad defect.
        rc, out, err = labctl(ag.sock, "reprint", q, "--defect", "crease")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_copy", err)
        rc, out, err = labctl(ag.sock, "reprint", "no-such-job", "--defect", "crease")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_job", err)
        rc, out, err = labctl(ag.sock, "reprint", q, "--copy", "9", "--defect", "crease")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_copy", err)
        rc, out, err = labctl(ag.sock, "reprint", q, "--copy", "1", "--defect", "fingerprint")
        self.assertEqual(rc, 2, out + err)
        rc, out, err = labctl(ag.sock, "printed", q, "--copy", "1")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("not_uncertain", err)

        # Two copies the printer could not account for (as after a crash with the
        # printer's history gone): made uncertain in the store while the agent is down.
        self.assertEqual(ag.stop(), 0, ag.tail())
        conn = sqlite3.connect(os.path.join(ag.state, "labagent.db"), timeout=10)
        with conn:
            conn.execute("UPDATE copies SET state = 'uncertain' WHERE job_id IN (?, ?)", (b, c))
            conn.execute("UPDATE jobs SET state = 'uncertain' WHERE id IN (?, ?)", (b, c))
        conn.close()
        ag.start()
        st = labctl_json(ag.sock, "status")
        self.assertEqual(sorted(j["id"] for j in st["stuck"]), sorted([b, c]))
        self.assertEqual(st["counts"].get("uncertain"), 2)
        rc, out, err = labctl(ag.sock, "jobs", "--state", "uncertain")
        self.assertEqual(rc, 0, err)
        self.assertIn(b, out)
        # b: found in the output tray.
        rc, out, err = labctl(ag.sock, "printed", b, "--copy", "1")
        self.assertEqual(rc, 0, out + err)
        # c: never came out: the same copy again, attempt 2.
        rc, out, err = labctl(ag.sock, "reprint", c, "--defect", "not_printed")
        self.assertEqual(rc, 0, out + err)
        self.wait_states(ag, [b, c], what="the uncertain jobs reported")
        self.assertEqual(sorted(n for n in ds620.printed_job_names() if n.startswith(c)),
                         [c + "/1/1", c + "/1/2"])
        self.assertEqual([n for n in ds620.printed_job_names() if n.startswith(b)], [b + "/1/1"])
        cp = [e["body"] for e in sb.events_of("job.copy_printed") if e["job_id"] == b]
        self.assertEqual(cp[-1].get("by"), "root")
        job = labctl_json(ag.sock, "job", c)["job"]
        self.assertEqual([(x["copy"], x["state"], x["attempt"], x["job_name"])
                          for x in job["copies_detail"]], [(1, "printed", 2, c + "/1/2")])
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_who_may_do_what(self):
        """Roles come from the caller's groups as the kernel reports them: viewers look,
        operators act, others get nothing; every refusal is not_authorized (exit 77)."""
        self.assertEqual(os.geteuid(), 0, "this test creates groups and needs root (CI is)")
        suffix = str(os.getpid())
        groups = {}
        for role in ("ops", "view", "other"):
            name = "labtest-%s-%s" % (role, suffix)
            subprocess.run(["groupadd", "--system", name], check=True)
            self.addCleanup(subprocess.run, ["groupdel", name], check=False)
            groups[role] = grp.getgrnam(name).gr_gid
        os.chmod(self.dir, 0o755)  # nobody must reach the socket (the daemon decides)
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        sock = os.path.join(self.dir, "console.sock")
        ag = self.agent(sb, [ds620], extra="control:\n  socket: %s\n  operators_group: %s\n"
                        "  viewers_group: %s\n" % (sock, "labtest-ops-" + suffix,
                                                   "labtest-view-" + suffix))
        ag.start()
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o666)
        nobody = 65534
        # No role: nothing, not even a look.
        rc, out, err = labctl(sock, "status", user=nobody, groups=[groups["other"]])
        self.assertEqual(rc, 77, out + err)
        self.assertIn("not_authorized", err)
        # Viewer: looks, may not act.
        rc, out, err = labctl(sock, "status", user=nobody, groups=[groups["view"]])
        self.assertEqual(rc, 0, out + err)
        st = labctl_json(sock, "status", user=nobody, groups=[groups["view"]])
        self.assertEqual(st["role"], "viewer")
        for args in (("pause", "ds620"), ("resume", "ds620"),
                     ("reprint", "x", "--copy", "1", "--defect", "banding"),
                     ("printed", "x", "--copy", "1")):
            rc, out, err = labctl(sock, *args, user=nobody, groups=[groups["view"]])
            self.assertEqual(rc, 77, "%s: %s%s" % (args, out, err))
            self.assertIn("not_authorized", err)
        p = {x["name"]: x for x in labctl_json(sock, "printers")["printers"]}
        self.assertIsNone(p["ds620"]["paused"])
        # Operator (by a supplementary group): acts, and the audit log names them.
        rc, out, err = labctl(sock, "pause", "ds620", "--reason", "ribbon change",
                              user=nobody, groups=[groups["other"], groups["ops"]])
        self.assertEqual(rc, 0, out + err)
        p = {x["name"]: x for x in labctl_json(sock, "printers")["printers"]}
        self.assertEqual(p["ds620"]["paused"]["by"], "nobody")
        rows = ag.query("SELECT actor, action, detail FROM audit WHERE action = "
                        "'printer.pause'")
        self.assertEqual([(r["actor"], r["action"]) for r in rows],
                         [("labctl:nobody(uid=65534)", "printer.pause")])
        self.assertEqual(json.loads(rows[0]["detail"]),
                         {"printer": "ds620", "reason": "ribbon change"})
        # An unknown printer is named as such.
        rc, out, err = labctl(sock, "pause", "ds9")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_printer", err)
        self.assertEqual(ag.stop(), 0, ag.tail())
        self.assertFalse(os.path.exists(sock), "the socket outlived the agent")

    def test_hostile_clients_do_not_stop_the_daemon(self):
        """Garbage, an endless line, a flood of connections and a client that never
        reads: each gets a clear answer or is hung up on; labctl keeps working and the
        agent keeps printing. A socket left by a crash is replaced; a path that is not
        a socket is left alone and the agent prints without a console."""
        sb = self.sandbox()
        ds620 = self.ipp_printer("ds620", "dnp-ds620")
        ag = self.agent(sb, [ds620])
        ag.start()

        c = RawClient(ag.sock)
        for line, keyword in ((b"hello\n", "bad_request"), (b"[1,2]\n", "bad_request"),
                              (b'{"cmd":"rm -rf"}\n', "bad_request"),
                              (b'{"cmd":"pause","printer":7}\n', "bad_request"),
                              (b'{"cmd":"jobs","limit":100000}\n', "bad_request"),
                              (b'{"cmd":"reprint","job":"j","defect":"dust"}\n', "bad_defect"),
                              (b'{"cmd":"job","id":"a\\u0001b"}\n', "bad_request"),
                              (b'{"cmd":"status","cmd":"status"}\n', "bad_request")):
            c.send_raw(line)
            a = c.read_answer()
            self.assertIsNotNone(a, line)
            self.assertEqual((a["ok"], a["error"]), (False, keyword), line)
            self.assertTrue(a["message"], line)
        # The same connection still answers properly.
        self.assertTrue(c.ask({"cmd": "status"})["ok"])
        c.close()

        # A line over 64 KiB without a newline: one answer, then the daemon hangs up.
        c = RawClient(ag.sock)
        c.send_raw(b"x" * 70000)
        a = c.read_answer()
        self.assertEqual(a["error"], "bad_request")
        self.assertIsNone(c.read_answer())
        c.close()

        # 40 connections at once: 32 are served, the rest closed at once.
        flood = [RawClient(ag.sock) for _ in range(40)]
        answered = 0
        for f in flood:
            try:
                answered += bool(f.ask({"cmd": "printers"}))
            except (ConnectionError, OSError, TypeError):
                pass
        self.assertEqual(answered, 32)
        for f in flood:
            f.close()

        # A client that asks and never reads: hung up on past 4 MiB of answers.
        slow = RawClient(ag.sock)
        slow.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        closed = False
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            try:
                slow.s.sendall(b"x\n" * 5000)  # 5000 answers (bad_request) a round
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            except socket.timeout:
                break
        self.assertTrue(closed, "the daemon kept a client that never reads")
        slow.close()

        # Meanwhile the console and the printing go on.
        st = labctl_json(ag.sock, "status")
        self.assertTrue(st["ok"])
        jobs = sb.add_bulk_jobs(2, seed=9, prefix="hz-", skus=("print-4x6-glossy",),
                                quantities=(1,))
        self.wait_states(ag, [j["id"] for j in jobs])

        # A crash leaves the socket file: the next start replaces it.
        ag.kill()
        self.assertTrue(os.path.exists(ag.sock))
        ag.start()
        self.assertTrue(labctl_json(ag.sock, "status")["ok"])
        self.assertEqual(ag.stop(), 0, ag.tail())
        # A regular file where the socket should be: left alone, logged, printing goes on.
        with open(ag.sock, "w") as f:
            f.write("not a socket\n")
        ag.start()
        self.assertIn("control_socket_failed", ag.log())
        with open(ag.sock) as f:
            self.assertEqual(f.read(), "not a socket\n")
        rc, out, err = labctl(ag.sock, "status")
        self.assertEqual(rc, 69, out + err)
        more = sb.add_bulk_jobs(1, seed=10, prefix="hy-", skus=("print-4x6-glossy",),
                                quantities=(1,))
        self.wait_states(ag, [j["id"] for j in more])
        self.assertEqual(ag.stop(), 0, ag.tail())


if __name__ == "__main__":
    if not LABCTL or not os.access(LABCTL, os.X_OK):
        print("test_console.py: LABCTL must name the labctl binary", file=sys.stderr)
        sys.exit(2)
    sys.exit(fleet.main(__doc__))
