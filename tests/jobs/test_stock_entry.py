#!/usr/bin/python3
"""test_stock_entry.py - a technician's stock entry end to end: labctl stock
against the real agent, a test minilab on a hot folder with a declared
consumable, and the sandbox platform.

Why: the platform routes orders by each lab's stock, and for paper a
minilab cannot report, the only figures are what a technician enters and
what the agent counts from it. An entry must reach the platform exactly
once (stock.adjusted, never shed), only an operator may make one, a count
may never go below zero, and the listing must show what is not known as
unknown rather than as a number. Each test drives the real labctl binary as
root, as a viewer and as an operator (groups made for the test, as
test_console.py does) and checks the outcome where it happens: the console's
answers, the platform's events (and its contract check), the audit log.

usage: test_stock_entry.py LABAGENT EVENT_WRITER [unittest args]
       (LABCTL in the environment: the labctl binary)
"""

import grp
import json
import os
import sqlite3
import subprocess
import sys
import time

import fleet
from fleet import wait_until

LABCTL = os.environ.get("LABCTL", "")
CMD_TIMEOUT = 20  # one labctl run
WAIT_EVENT = 30.0  # an event at the sandbox, the outbox emptied
WAIT_STOCK = 30.0  # a figure the agent changes on its loop
WAIT_COPY = 60.0  # a copy rendered and taken up by the minilab
NOBODY = 65534
PAPER = "paper-4x6"
PAPER_ENTRY = ("{name: %s, kind: paper, unit: prints, capacity: 400, "
               "uses: {na_index-4x6_4x6in: 1}, low: 40}" % PAPER)


def labctl(sock, *args, user=None, groups=None, json_out=False):
    """fleet.labctl with its output as text (CMD_TIMEOUT)."""
    return fleet.labctl(sock, *args, user=user, groups=groups, json_out=json_out,
                        timeout=CMD_TIMEOUT, parse=False)


def labctl_json(sock, *args, **kw):
    return fleet.labctl_json(sock, *args, timeout=CMD_TIMEOUT, **kw)


def printers_yaml(minilab):
    """The printers section: the minilab with one declared, counted consumable (fleet's
    config writer has no lists inside a printer, so the section is written here)."""
    e = minilab.config_entry()
    return ("printers:\n"
            "  - name: %s\n    driver: hotfolder\n    folder: %s\n    format: %s\n"
            "    model: %s\n    consumables:\n      - %s\n"
            % (e["name"], json.dumps(e["folder"]), e["format"], e["model"], PAPER_ENTRY))


class StockEntryTest(fleet.FleetTestCase):
    def make_groups(self):
        """An operators' and a viewers' group for this run (removed after it)."""
        self.assertEqual(os.geteuid(), 0, "this test creates groups and needs root (CI is)")
        suffix = str(os.getpid())
        gids = {}
        for role in ("ops", "view"):
            name = "labstock-%s-%s" % (role, suffix)
            subprocess.run(["groupadd", "--system", name], check=True, timeout=CMD_TIMEOUT)
            self.addCleanup(subprocess.run, ["groupdel", name], check=False,
                            timeout=CMD_TIMEOUT)
            gids[role] = (name, grp.getgrnam(name).gr_gid)
        return gids

    def agent(self, sb, minilab, groups=None):
        """An agent with the minilab and its paper; with groups, a console socket nobody
        can reach and the two roles."""
        control = ""
        sock = os.path.join(self.dir, "control.sock")
        if groups:
            os.chmod(self.dir, 0o755)  # uid 65534 must reach the socket (the daemon decides)
            control = ("control:\n  socket: %s\n  operators_group: %s\n  viewers_group: %s\n"
                       % (sock, groups["ops"][0], groups["view"][0]))
        ag = self.fleet_agent(sb, [], workers=1, extra=printers_yaml(minilab) + control)
        ag.sock = sock if groups else ag.control_socket
        return ag

    def item(self, ag, name=PAPER, printer="minilab"):
        """The stock item as `labctl --json stock PRINTER` shows it (None if not listed)."""
        items = labctl_json(ag.sock, "stock", printer)["items"]
        found = [i for i in items if i["item"] == name]
        self.assertLessEqual(len(found), 1, items)
        return found[0] if found else None

    def adjusted(self, sb):
        return [e["body"] for e in sb.events_of("stock.adjusted")]

    def stock_audit(self, ag):
        return [dict(r) for r in ag.query(
            "SELECT actor, action, detail FROM audit WHERE action LIKE 'stock.%' ORDER BY id")]

    def test_entry_roles_and_limits(self):
        """Unknown before a load; a viewer looks but may not enter; an operator's load is
        told to the platform once with who and why; more than is left cannot be removed;
        the platform's contract is kept."""
        groups = self.make_groups()
        viewer = dict(user=NOBODY, groups=[groups["view"][1]])
        operator = dict(user=NOBODY, groups=[groups["ops"][1]])
        sb = self.sandbox()
        minilab = self.minilab("minilab")
        ag = self.agent(sb, minilab, groups)
        ag.start()

        # (a) Declared, nothing known yet: state unknown, the figures null, "-" in the table.
        it = wait_until(lambda: self.item(ag), WAIT_STOCK, "paper-4x6 declared")
        self.assertEqual((it["printer"], it["kind"], it["source"], it["unit"], it["state"]),
                         ("minilab", "paper", "counted", "prints", "unknown"), it)
        self.assertIsNone(it["remaining"], it)
        self.assertIsNone(it["as_of"], it)
        self.assertIsNone(it["drift"], it)
        self.assertEqual(it["capacity"], 400, it)
        self.assertEqual(it["threshold"], 40, it)
        self.assertEqual(it["media"], "na_index-4x6_4x6in", it)
        rc, out, err = labctl(ag.sock, "stock")
        self.assertEqual(rc, 0, out + err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[:4], ["PRINTER", "ITEM", "SOURCE", "REMAINING"], out)
        row = [ln.split() for ln in lines[1:] if PAPER in ln.split()]
        self.assertEqual(len(row), 1, out)
        # PRINTER ITEM SOURCE REMAINING UNIT LEVEL STATE AS-OF DRIFT
        self.assertEqual(row[0], ["minilab", PAPER, "counted", "-", "prints", "-", "unknown",
                                  "-", "-"], out)

        # (b) A viewer may look, not enter: refused, nothing changed anywhere.
        before = labctl_json(ag.sock, "stock", **viewer)
        self.assertTrue(before["ok"])
        rc, out, err = labctl(ag.sock, "stock", "add", "minilab", PAPER, "10", **viewer)
        self.assertEqual(rc, 77, out + err)
        self.assertIn("not_authorized", err)
        self.assertIn("viewers may only look", err)
        self.assertEqual(labctl_json(ag.sock, "stock"), before)
        self.assertEqual(self.stock_audit(ag), [])
        self.assertEqual(self.adjusted(sb), [])
        self.assertEqual(ag.query("SELECT count(*) AS n FROM events WHERE kind = "
                                  "'stock.adjusted'")[0]["n"], 0)

        # (c) An operator loads a new roll: ok at once, the platform told once.
        rc, out, err = labctl(ag.sock, "stock", "load", "minilab", PAPER, "400", "--note",
                              "new roll", **operator)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("loaded 400 prints; 400 prints left, ok", out)
        it = self.item(ag)
        self.assertEqual((it["remaining"], it["state"]), (400, "ok"), it)
        self.assertIsNotNone(it["as_of"], it)
        wait_until(lambda: self.adjusted(sb), WAIT_EVENT, "stock.adjusted at the platform")
        wait_until(lambda: ag.outbox() == 0, WAIT_EVENT, "the outbox delivered")
        self.assertEqual(self.adjusted(sb), [{
            "printer": "minilab", "item": PAPER, "action": "load", "amount": 400,
            "unit": "prints", "remaining": 400, "by": "nobody", "note": "new roll"}])
        audit = self.stock_audit(ag)
        self.assertEqual([(a["actor"], a["action"]) for a in audit],
                         [("labctl:nobody(uid=65534)", "stock.adjust")])
        detail = json.loads(audit[0]["detail"])
        self.assertEqual((detail["printer"], detail["item"], detail["action"], detail["amount"]),
                         ("minilab", PAPER, "load", 400), detail)
        # labctl printers: the printer's stock is ok now.
        p = {x["name"]: x for x in labctl_json(ag.sock, "printers")["printers"]}
        self.assertEqual(p["minilab"]["stock"], "ok", p)
        self.assertEqual(p["minilab"]["defect_rate_24h"], 0, p)
        rc, out, err = labctl(ag.sock, "printers")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("STOCK", out.splitlines()[0])
        self.assertIn("DEFECTS/24H", out.splitlines()[0])
        self.assertEqual(out.splitlines()[1].split()[-2:], ["ok", "0.0%"], out)

        # (d) More than is left: refused, saying how many are; nothing changed.
        rc, out, err = labctl(ag.sock, "stock", "remove", "minilab", PAPER, "500", **operator)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("stock_below_zero", err)
        self.assertIn("only 400 are left", err)
        self.assertEqual(self.item(ag)["remaining"], 400)
        # Other refusals: no such item (its items named), no such printer, a bad amount.
        rc, out, err = labctl(ag.sock, "stock", "add", "minilab", "ribbon", "1", **operator)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("stock_item_unknown", err)
        self.assertIn(PAPER, err)
        rc, out, err = labctl(ag.sock, "stock", "add", "ds9", PAPER, "1", **operator)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_printer", err)
        rc, out, err = labctl(ag.sock, "stock", "ds9")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown_printer", err)
        for amount in ("-5", "lots", "1e3", "nan"):
            rc, out, err = labctl(ag.sock, "stock", "add", "minilab", PAPER, amount, **operator)
            self.assertEqual(rc, 2, "%s: %s%s" % (amount, out, err))
        # A count that crosses the threshold: the item is low, the platform told both.
        rc, out, err = labctl(ag.sock, "stock", "set", "minilab", PAPER, "30", **operator)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("30 prints left, low", out)
        wait_until(lambda: len(self.adjusted(sb)) == 2 and sb.events_of("stock.low"),
                   WAIT_EVENT, "the count and stock.low at the platform")
        low = [e["body"] for e in sb.events_of("stock.low")]
        self.assertEqual([(b["printer"], b["item"], b["remaining"], b["source"]) for b in low],
                         [("minilab", PAPER, 30, "counted")])

        # (f) Whatever the sandbox checks of the contract held (tearDown checks it too).
        wait_until(lambda: ag.outbox() == 0, WAIT_EVENT, "the outbox delivered")
        self.assertEqual(len(self.adjusted(sb)), 2)
        self.assertEqual(sb.violations(), [])
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_printer_reported_item_cannot_be_set(self):
        """(e) An item the printer reports itself is its own figure: a technician's entry
        is stock_counted_by_printer. A hot folder reports no supplies: skipped unless one
        does (the IPP printers' supplies need ippeveprinter, D-Bus and avahi)."""
        sb = self.sandbox()
        minilab = self.minilab("minilab")
        ag = self.agent(sb, minilab)
        ag.start()
        wait_until(lambda: self.item(ag), WAIT_STOCK, "paper-4x6 declared")
        items = labctl_json(ag.sock, "stock")["items"]
        own = [i for i in items if i["source"] == "printer"]
        if not own:
            self.assertEqual(ag.stop(), 0, ag.tail())
            self.skipTest("a hot-folder printer reports no stock items of its own")
        rc, out, err = labctl(ag.sock, "stock", "set", own[0]["printer"], own[0]["item"], "5")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("stock_counted_by_printer", err)
        self.assertEqual(self.adjusted(sb), [])
        self.assertEqual(ag.stop(), 0, ag.tail())

    def test_confirmed_copy_counts_against_the_load(self):
        """A copy a technician confirms printed (labctl printed) used paper like one the
        printer reports printed: the load goes down by the product's use."""
        sb = self.sandbox()
        minilab = self.minilab("minilab", mode="accept")  # takes the item up, never finishes
        ag = self.agent(sb, minilab)
        ag.start()
        wait_until(lambda: self.item(ag), WAIT_STOCK, "paper-4x6 declared")
        rc, out, err = labctl(ag.sock, "stock", "load", "minilab", PAPER, "400")
        self.assertEqual(rc, 0, out + err)
        job = sb.add_bulk_jobs(1, seed=3, prefix="st-", skus=("print-4x6-glossy",),
                               quantities=(1,))[0]["id"]
        wait_until(lambda: [c for c in ag.copies() if c["job_id"] == job
                            and c["state"] == "printing"], WAIT_COPY, "the copy at the minilab")
        self.assertEqual(self.item(ag)["remaining"], 400)
        # The minilab never says: uncertain, as after a crash with its record gone (made so
        # in the store while the agent is down, as test_console.py does).
        self.assertEqual(ag.stop(), 0, ag.tail())
        conn = sqlite3.connect(os.path.join(ag.state, "labagent.db"), timeout=10)
        with conn:
            conn.execute("UPDATE copies SET state = 'uncertain' WHERE job_id = ?", (job,))
            conn.execute("UPDATE jobs SET state = 'uncertain' WHERE id = ?", (job,))
        conn.close()
        ag.start()
        rc, out, err = labctl(ag.sock, "printed", job, "--copy", "1")
        self.assertEqual(rc, 0, out + err)
        wait_until(lambda: self.item(ag)["remaining"] == 399, WAIT_STOCK,
                   "the confirmed copy counted (399 left)")
        # Once: confirming again is refused and counts nothing more.
        rc, out, err = labctl(ag.sock, "printed", job, "--copy", "1")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("not_uncertain", err)
        time.sleep(0.5)  # a loop turn for anything that would count again
        self.assertEqual(self.item(ag)["remaining"], 399)
        self.assertEqual(sb.violations(), [])
        self.assertEqual(ag.stop(), 0, ag.tail())


if __name__ == "__main__":
    if not LABCTL or not os.access(LABCTL, os.X_OK):
        print("test_stock_entry.py: LABCTL must name the labctl binary", file=sys.stderr)
        sys.exit(2)
    sys.exit(fleet.main(__doc__, peers=False))
