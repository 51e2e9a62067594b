#!/usr/bin/python3
"""fleet.py - a harness for end-to-end tests of the whole agent: the real
labagent binary, the sandbox platform, real IPP printers (ippeveprinter),
CUPS queues (cupsd) and a test minilab on a hot folder, all on loopback
(standard library only).

Why: the agent's promise that counts is "every copy of every job printed
exactly once", through agent crashes, printer crashes and platform outages.
Only the real binary against real peers shows it, and a verdict is only as
good as the record of what the printers actually produced. This module
starts and breaks the peers, writes the agent's configuration, reads the
agent's store and the printers' records, and computes the exactly-once
verdict. Tests build on FleetTestCase (tests/jobs/test_fleet.py).

What it offers (every wait bounded in count and time; every process and
temp dir cleaned up, also on failure, when the dir is kept for a look):

  Peers         the system D-Bus and avahi-daemon ippeveprinter needs, through
                tests/printer-ipp/peers.sh (start with a state file; stop
                ends only what start started). Under ctest the fixture
                ipp-peers has done it already: then start() starts nothing.
  IppPrinter    one ippeveprinter as a photo printer (JPEG, 4x6 + 5x7,
                glossy + matte: the attribute lines of
                tests/printer-ipp/ipp-peer.c) on a free 127.0.0.1 port, with
                a -c job script that simulates print time (set_delay) and
                faults (set_fault("media-empty"); refill() clears it). kill()
                (SIGKILL of its process group: a print in progress is lost),
                extra_media=("na_govt-letter_8x10in", ...) adds sizes to what it
                offers (photo_conf(); EXTRA_MEDIA_SIZES),
                stop(), restart() on the same port and spool. Records:
                kept_files() / received_job_names() (documents it received,
                -k), printed_job_names() (documents its job script finished:
                the "paper out of the printer" ledger), failed_job_names().
                get_printer_attributes() / get_jobs() by raw IPP; submit()
                through ipptool. Supplies and media as a real printer reports
                them: set_supply_level(level, index, message, low, now) (the
                ribbon's printer-supply / marker-levels / marker-message and
                marker-supply-low/-empty, written by the job script from the
                next job, or at once through apply_now()'s service job; kept
                over a restart), set_job_attrs(lines, once) (any ATTR:/STATE:
                lines; ipp_attr_line() quotes them), set_media_level(level,
                size, media_type) (the /media form: tray level, media-ready,
                media-low/-empty), supplies_form() (the /supplies form, with its
                toner templates), web_form(), supply_status() (octetStrings
                as str); pwg_keyvalues() splits a PWG supply/tray string.
  Cupsd         cupsd in the foreground with its own files (User lp,
                PreserveJobHistory Yes, a loopback port; the recipe of
                tests/printer-ipp/ipp-peer.c): start() (the queues of a
                subclass once, then a clean restart), restart() (SIGTERM
                keeps the history; kill=True, SIGKILL, loses cupsd's recent
                jobs), client("lpadmin", ...) (a CUPS command on it),
                error_log(n).
  CupsQueue     a Cupsd with one queue (lpadmin -m everywhere) to an
                IppPrinter, whose ledger is the paper out; purge() (cancel
                -a -x), get_jobs(), config_entry(uri=...).
  GutenprintCups
                a Cupsd with real Gutenprint dye-sub queues (printer-driver-
                gutenprint): "ds620" (DNP DS620) and "d90" (Mitsubishi
                CP-D90DW) on file: devices out/<queue>.prn holding the
                printer data stream (dyesub.py decodes it); usb_media=300
                adds "ds620usb" on the real USB backend in its test mode
                with that media loaded (a 5x7 job is canceled: wrong media).
                uri(q), config_entry(q), submit(q, path, title, options)
                (lp), jobs(q) [(id, name, state)], job(q, id or name),
                page_log() [(queue, id, name)] (a line per page printed),
                wait_final / wait_completed(q, job, timeout), then
                device_bytes(q) (truncated at the queue's next job);
                printer(q), lpadmin_option(q, "StpGamma=1500"),
                queue_defaults(q), disable(q, reason) / enable(q), purge(q).
                GutenprintClass: a unittest mixin, one for a test class.
  Minilab       tests/printer-hotfolder/minilab.py on its own hot folder
                (format generic by default), with a time limit; consumed(),
                printed_job_names() (items it finished), violations();
                delete_results(job name) (its result files gone) and wipe()
                (the folder emptied, .labagent/ included, set up again): what
                they removed stays in printed_job_names(); resume_taken()
                finishes what a kill() left taken up (minilab.py does not).
  KillOnReceiptProxy
                a transparent TCP proxy in front of an IPP port (any number of
                connections, 100 Continue passed on) that, armed, calls a
                callback (a test SIGKILLs the agent) when a printer's
                successful answer to a Print-Job comes by, before one byte of
                it reaches the agent, then closes both sides: the printer has
                the document, the agent's copy is `submitting` with no handle.
                HttpFramer frames the HTTP streams for it.
  HotFolderWatcher
                the same for a minilab's folder (inotify): the callback runs
                the moment a new item is visible (a race with the agent's
                store write that a test checks and retries). Both are
                OneShot triggers: arm(callback, ...), disarm(), fired,
                fired_job_name, wait_fired(timeout), errors.
  agent_config  the labagent.yaml text for a sandbox port, certificates dir,
                printers (IppPrinter / Minilab .config_entry() dicts; a dict
                value such as options is written as a flow mapping),
                products, render.workers, profiles.directory (the repo's
                profiles/ unless FleetAgent(profiles_dir=) names another).
  FleetAgent    the labagent binary on one state dir (test_link.Agent, with
                the config above): start (bounded wait for "ready" written by
                *this* start), stop (SIGTERM, exit code), kill (SIGKILL),
                restart; read-only SQLite queries: job_states(), jobs(),
                renders(), copies() (the print stage's table, [] until it
                exists), log() / tail().
  Platform      the sandbox (test_link.Sandbox, same certificates) plus
                add_bulk_jobs() (mixed SKUs and quantities, deterministic
                from a seed), down() / up() (the API unreachable: connections
                reset), events_of(), status().
  parse_kept_name / parse_job_name / item_to_job_name / job_name_to_item
                file names and hot-folder items back to (job id, copy, attempt),
                and a job name to its hot-folder item.
  verdict       pure: expected copies + what each printer printed (+ what it
                received, + the sandbox's events) -> per (job, copy) counts,
                duplicates, missing, unexpected, and the job.printed events
                per job. format_verdict() for an assertion message.
  labctl        the labctl binary (LABCTL in the environment) on a console
                socket; FleetAgent.labctl() on the agent's own.
  FleetTestCase unittest base (test_link.AgentTestCase): self.sandbox(),
                self.ipp_printer(), self.minilab(), self.cups_queue(),
                self.gutenprint_cups(), self.proxy(),
                self.hotfolder_watcher(), self.fleet_agent(),
                self.torture_printers() (the crash tortures' two
                ippeveprinters and minilab); all cleaned up in tearDown.
  main(doc)     run a test file: peers up, certificates, unittest, peers down
                (peers=False: no D-Bus or avahi, for tests without ippeveprinter).

The record of a print: ippeveprinter -k keeps every document it *received*,
as SPOOL/<ipp job id>-<job name, '/' -> '_'>.<ext> (also for jobs that are
later aborted, or whose printer was killed mid-print), and its job ids start
again at 1 after a restart, so a new document can overwrite an old one of
the same name. So IppPrinter moves the spool's files aside into
kept/gen-N/ before each (re)start, and counts a copy as *printed* only when
its job script reached its end with exit 0 (a line in printed.log, written
last). A killed printer kills its job script too: that print never came out,
and the agent has to print it again.

Job names: the agent names each submission "<job id>/<copy>/<attempt>".
Job ids may contain '_' and '-' (never '/'), so a kept file name is parsed
from the right: the last two '_'-separated fields are copy and attempt.
"""

import hashlib
import http.client
import importlib.util
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "platform-link"))

import test_link as tl  # noqa: E402  (Sandbox, Agent, AgentTestCase, certificates, main)

PEERS_SH = os.path.join(SOURCE, "tests", "printer-ipp", "peers.sh")
MINILAB_PY = os.path.join(SOURCE, "tests", "printer-hotfolder", "minilab.py")
SANDBOX_PY = os.path.join(SOURCE, "tests", "platform", "sandbox.py")
PROFILES_DIR = os.path.join(SOURCE, "profiles")
PYTHON = "/usr/bin/python3"

wait_until = tl.wait_until

# Job states in which every copy is printed (printed, then reported once the
# platform has the job.printed event, where the agent records that).
DONE_STATES = ("printed", "reported")
# Job states a job ends in (torture runs wait for every job to reach one).
FINAL_STATES = set(DONE_STATES) | {"uncertain", "failed", "rejected", "canceled", "dropped"}

# The torture lab (test_crash, test_combined): every product, fast polls and
# health checks, five attempts per copy.
TORTURE_SKUS = ("print-4x6-glossy", "print-4x6-matte", "print-5x7-glossy", "print-5x7-matte")
TORTURE_JOBS_CONFIG = "jobs:\n  poll_interval: 200ms\n  status_interval: 2s\n  max_attempts: 5\n"

# Bounds of every wait in this file.
WAIT_PORT = 10.0  # a printer listening after (re)start
WAIT_STOP = 5.0  # a process ending after SIGTERM / SIGKILL
WAIT_READY = 30.0  # the agent's "ready" (ASan builds start slower)
IPP_TIMEOUT = 5.0  # one IPP request / web form

# The products the harness's agents sell (SKU -> media, media type).
PRODUCTS = [
    {"sku": "print-4x6-glossy", "media": "na_index-4x6_4x6in"},
    {"sku": "print-4x6-matte", "media": "na_index-4x6_4x6in",
     "media_type": "photographic-matte"},
    {"sku": "print-5x7-glossy", "media": "na_5x7_5x7in"},
    {"sku": "print-5x7-matte", "media": "na_5x7_5x7in", "media_type": "photographic-matte"},
]

# ippeveprinter -a lines: a photo printer that the IPP driver and cupsd accept.
# The lines of ipp_peer_photo_conf in tests/printer-ipp/ipp-peer.c (keep them
# in step), except: both sizes loaded (media-ready and media-col-ready: the
# agent routes a job only to a printer that has its size loaded), make-and-model per printer, a
# neutral ribbon name. JPEG first in document-format-supported, 4x6 and 5x7,
# glossy and matte, borderless media-col-database and media-size-supported, an
# input tray so the /media web form works, a ribbon as supply and marker.
PHOTO_CONF = """\
ATTR mimeMediaType document-format-supported image/jpeg,image/pwg-raster,image/urf
ATTR keyword media-supported na_index-4x6_4x6in,na_5x7_5x7in
ATTR keyword media-default na_index-4x6_4x6in
ATTR keyword media-ready na_index-4x6_4x6in,na_5x7_5x7in
ATTR keyword media-type-supported photographic-glossy,photographic-matte
ATTR keyword media-type-default photographic-glossy
ATTR boolean color-supported true
ATTR keyword print-color-mode-supported auto,color,monochrome
ATTR keyword print-color-mode-default color
ATTR resolution printer-resolution-supported 300dpi
ATTR resolution printer-resolution-default 300dpi
ATTR integer media-bottom-margin-supported 0
ATTR integer media-left-margin-supported 0
ATTR integer media-right-margin-supported 0
ATTR integer media-top-margin-supported 0
ATTR collection media-size-supported { MEMBER integer x-dimension 10160 MEMBER integer y-dimension 15240 },{ MEMBER integer x-dimension 12700 MEMBER integer y-dimension 17780 }
ATTR collection media-col-database { MEMBER collection media-size { MEMBER integer x-dimension 10160 MEMBER integer y-dimension 15240 } MEMBER integer media-bottom-margin 0 MEMBER integer media-left-margin 0 MEMBER integer media-right-margin 0 MEMBER integer media-top-margin 0 },{ MEMBER collection media-size { MEMBER integer x-dimension 12700 MEMBER integer y-dimension 17780 } MEMBER integer media-bottom-margin 0 MEMBER integer media-left-margin 0 MEMBER integer media-right-margin 0 MEMBER integer media-top-margin 0 }
ATTR resolution pwg-raster-document-resolution-supported 300dpi
ATTR keyword pwg-raster-document-type-supported srgb_8
ATTR keyword urf-supported V1.4,CP1,W8,SRGB24,RS300
ATTR text printer-make-and-model "%(make)s"
ATTR name marker-names "photo ribbon"
ATTR keyword marker-types ribbon-wax
ATTR name marker-colors "#FFFFFF"
ATTR integer marker-levels 80
ATTR text marker-message "310 native prints remaining"
ATTR octetString printer-supply "index=1;class=supplyThatIsConsumed;type=ribbonWax;unit=percent;maxcapacity=100;level=80;colorantname=multi-color;"
ATTR text printer-supply-description "photo ribbon"
ATTR keyword media-source-supported main
ATTR octetString printer-input-tray "type=sheetFeedAutoNonRemovableTray;mediafeed=0;mediaxfeed=0;maxcapacity=700;level=700;status=0;name=main;"
ATTR collection media-col-ready { MEMBER collection media-size { MEMBER integer x-dimension 10160 MEMBER integer y-dimension 15240 } MEMBER keyword media-size-name na_index-4x6_4x6in MEMBER keyword media-source main MEMBER keyword media-type photographic-glossy },{ MEMBER collection media-size { MEMBER integer x-dimension 12700 MEMBER integer y-dimension 17780 } MEMBER keyword media-size-name na_5x7_5x7in MEMBER keyword media-source main MEMBER keyword media-type photographic-glossy }
"""

# Media sizes extra_media may add: PWG name -> (x, y) in hundredths of mm.
EXTRA_MEDIA_SIZES = {
    "na_govt-letter_8x10in": (20320, 25400),
    "custom_6x8_6x8in": (15240, 20320),
    "custom_8x8_8x8in": (20320, 20320),
}


def photo_conf(make, extra_media=()):
    """PHOTO_CONF for make, with extra_media (names of EXTRA_MEDIA_SIZES) also in
    media-supported, media-ready, media-col-ready (loaded), media-size-supported
    and media-col-database."""
    text = PHOTO_CONF % {"make": make}
    for name in extra_media:
        x, y = EXTRA_MEDIA_SIZES[name]
        size = "{ MEMBER integer x-dimension %d MEMBER integer y-dimension %d }" % (x, y)
        col = ("{ MEMBER collection media-size %s MEMBER integer media-bottom-margin 0 "
               "MEMBER integer media-left-margin 0 MEMBER integer media-right-margin 0 "
               "MEMBER integer media-top-margin 0 }" % size)
        out = []
        for line in text.splitlines():
            if line.startswith(("ATTR keyword media-supported ", "ATTR keyword media-ready ")):
                line += "," + name
            elif line.startswith("ATTR collection media-size-supported "):
                line += "," + size
            elif line.startswith("ATTR collection media-col-database "):
                line += "," + col
            elif line.startswith("ATTR collection media-col-ready "):
                line += (",{ MEMBER collection media-size %s MEMBER keyword media-size-name %s "
                         "MEMBER keyword media-source main MEMBER keyword media-type "
                         "photographic-glossy }" % (size, name))
            out.append(line)
        text = "\n".join(out) + "\n"
    return text


# The -c command: runs once per document (argument: the kept spool file).
# Reads its behaviour from files next to it at every job, so a test changes
# it without a restart. The printed.log line is written last: a job script
# killed before it did not print. Status lines for ippeveprinter (ATTR:,
# STATE:, ...; IppPrinter.set_supply_level / set_job_attrs) come from
# supply-attrs and job-attrs at every job, job-attrs.once at one job only
# (taken by mv), written to stderr just before the ledger line (a faulted job:
# before its fault). Without those files the script does what it always did.
# A service job (IppPrinter.apply_now, kept as <id>-fleet-service-<n>.<ext>,
# never an agent job's name: those end in _<copy>_<attempt>) only writes the
# status lines: no fault, no delay, no ledger line.
JOB_SCRIPT = """\
#!/bin/sh
# fleet.py job script: simulated print time, faults, status lines, and the
# print ledger.
here=$(dirname "$0")
delay=$(cat "$here/delay" 2>/dev/null || echo 0)
fault=$(cat "$here/fault" 2>/dev/null || true)
name=$(basename "$1")
status_lines() {
        for f in supply-attrs job-attrs; do
                if [ -s "$here/$f" ]; then
                        cat "$here/$f" >&2
                fi
        done
        if mv "$here/job-attrs.once" "$here/job-attrs.once.$$" 2>/dev/null; then
                cat "$here/job-attrs.once.$$" >&2
                rm -f "$here/job-attrs.once.$$"
        fi
}
stem=${name#*-}
stem=${stem%.*}
case "${stem#fleet-service-}" in
"$stem" | "" | *[!0-9]*) ;;
*)
        status_lines
        exit 0 ;;
esac
case "$fault" in
media-empty)
        status_lines
        echo 'STATE: +media-empty-error' >&2
        echo 'ERROR: Ribbon end' >&2
        echo "$name" >>"$here/failed.log"
        exit 1 ;;
media-jam)
        status_lines
        echo 'STATE: +media-jam-error' >&2
        echo 'ERROR: Paper jam' >&2
        echo "$name" >>"$here/failed.log"
        exit 1 ;;
esac
if [ "$delay" != 0 ]; then
        sleep "$delay"
fi
status_lines
echo "$name" >>"$here/printed.log"
exit 0
"""

# ipptool test for submit(): Print-Job with a job name.
PRINT_JOB_TEST = """\
{
        NAME "fleet.py Print-Job"
        OPERATION Print-Job
        GROUP operation-attributes-tag
        ATTR charset attributes-charset utf-8
        ATTR language attributes-natural-language en
        ATTR uri printer-uri $uri
        ATTR name requesting-user-name $user
        ATTR name job-name $jobname
        ATTR mimeMediaType document-format $format
        FILE $filename
        STATUS successful-ok
        EXPECT job-id
}
"""

# ipptool test for ipptool_check(): a reduced Get-Printer-Attributes (the stock
# get-printer-attributes.test fails on ippeveprinter -a: document-format-supported
# comes twice, and it expects media-col-default).
GET_PRINTER_TEST = """\
{
        NAME "fleet.py Get-Printer-Attributes"
        OPERATION Get-Printer-Attributes
        GROUP operation-attributes-tag
        ATTR charset attributes-charset utf-8
        ATTR language attributes-natural-language en
        ATTR uri printer-uri $uri
        ATTR name requesting-user-name $user
        ATTR keyword requested-attributes printer-state,printer-state-reasons,printer-is-accepting-jobs,media-supported
        STATUS successful-ok
        EXPECT printer-state OF-TYPE enum
        EXPECT printer-is-accepting-jobs OF-TYPE boolean WITH-VALUE true
        EXPECT media-supported WITH-VALUE na_index-4x6_4x6in
}
"""


# ---------------------------------------------------------------- processes

def _pdeathsig():
    """preexec_fn: the child gets SIGKILL when the test process dies."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001  (best effort: cleanup also runs in tearDown)
        pass


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    """True when 127.0.0.1:port accepts a connection (within 1 s)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _end_group(proc, sig):
    """Send sig to proc's process group (it leads one), then wait for proc (bounded)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=WAIT_STOP)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=WAIT_STOP)


def tail_of(path, lines=40):
    """The last lines of a text file ('' when it does not exist)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------- peers

class Peers:
    """dbus-daemon --system + avahi-daemon through peers.sh, ended only if we started them."""

    def __init__(self, state_file):
        self.state_file = state_file
        self.started = False

    def start(self):
        out = subprocess.run(["sh", PEERS_SH, "start", self.state_file], capture_output=True,
                             text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError("peers.sh start failed:\n" + out.stdout + out.stderr)
        self.started = True
        return out.stdout.strip()

    def stop(self):
        if self.started:
            subprocess.run(["sh", PEERS_SH, "stop", self.state_file], capture_output=True,
                           timeout=30)
            self.started = False


# ---------------------------------------------------------------- job names

KEPT_RE = re.compile(r"^(\d+)-(.+)\.([A-Za-z0-9]+)$")


def parse_job_name(name):
    """'<job id>/<copy>/<attempt>' -> (job id, copy, attempt); None when it is not one."""
    parts = name.rsplit("/", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def parse_kept_name(filename):
    """A file ippeveprinter kept ('12-job-0007_1_1.jpg', a path or a bare name)
    -> (job id, copy, attempt), or None when it is not an agent job's file.
    The job id may itself contain '_' and '-': copy and attempt are the last
    two '_'-separated fields; the leading digits up to the first '-' are
    ippeveprinter's job id."""
    m = KEPT_RE.match(os.path.basename(filename))
    if not m:
        return None
    parts = m.group(2).rsplit("_", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def kept_to_job_name(filename):
    """A kept file -> the agent's job name '<job id>/<copy>/<attempt>' (None if not one)."""
    f = parse_kept_name(filename)
    return "%s/%d/%d" % f if f else None


def item_to_job_name(item):
    """A hot-folder item name (docs/hotfolders.md: %XX-encoded) -> the job name."""
    return urllib.parse.unquote(item)


def job_name_to_item(name):
    """A job name -> its hot-folder item name (docs/hotfolders.md): A-Z a-z 0-9 - kept,
    . and _ kept except as the first character, every other byte %XX (uppercase)."""
    out = []
    for i, b in enumerate(name.encode()):
        c = chr(b)
        if (c.isascii() and c.isalnum()) or c == "-" or (c in "._" and i > 0):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


# ---------------------------------------------------------------- raw IPP

IPP_TAGS_STR = {0x41, 0x42, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49}


def _ipp_attr(tag, name, values):
    out = b""
    for i, v in enumerate(values if isinstance(values, (list, tuple)) else [values]):
        if isinstance(v, bool):
            data = b"\x01" if v else b"\x00"
        elif isinstance(v, int):
            data = struct.pack(">i", v)
        else:
            data = v.encode()
        n = name.encode() if i == 0 else b""
        out += struct.pack(">bH", tag, len(n)) + n + struct.pack(">H", len(data)) + data
    return out


def ipp_request(port, operation, attrs, timeout=IPP_TIMEOUT, path="/ipp/print", octets=False):
    """One IPP request to 127.0.0.1:port; attrs: [(tag, name, value(s))] after the
    charset/language/printer-uri. Returns (status code, [(group tag, {name: [values]})]).
    Integers/enums/booleans are decoded, strings as str, the rest raw bytes
    (collection members are folded into the attribute before them). octets=True:
    octetStrings (printer-supply, printer-input-tray, printer-alert) decoded as str
    too, every value kept; ask for no collection then (its octetString members would
    be folded in)."""
    uri = "ipp://127.0.0.1:%d%s" % (port, path)
    body = struct.pack(">bbHi", 2, 0, operation, 1) + b"\x01"
    body += _ipp_attr(0x47, "attributes-charset", "utf-8")
    body += _ipp_attr(0x48, "attributes-natural-language", "en")
    body += _ipp_attr(0x45, "printer-uri", uri)
    for tag, name, value in attrs:
        body += _ipp_attr(tag, name, value)
    body += b"\x03"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/ipp"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    if len(data) < 9:
        raise OSError("short IPP response (%d bytes)" % len(data))
    status = struct.unpack(">H", data[2:4])[0]
    groups, i, last = [], 8, None
    while i < len(data):
        tag = data[i]
        i += 1
        if tag == 0x03:
            break
        if tag < 0x10:
            groups.append((tag, {}))
            continue
        nlen = struct.unpack(">H", data[i:i + 2])[0]
        name = data[i + 2:i + 2 + nlen].decode(errors="replace")
        i += 2 + nlen
        vlen = struct.unpack(">H", data[i:i + 2])[0]
        raw = data[i + 2:i + 2 + vlen]
        i += 2 + vlen
        if tag in (0x21, 0x23) and vlen == 4:
            value = struct.unpack(">i", raw)[0]
        elif tag == 0x22 and vlen == 1:
            value = raw != b"\x00"
        elif tag in IPP_TAGS_STR or (octets and tag == 0x30):
            value = raw.decode(errors="replace")
        else:
            value = raw
        if not groups:
            groups.append((0, {}))
        attrs_of = groups[-1][1]
        if name:
            last = name
            attrs_of.setdefault(name, []).append(value)
        elif last is not None and tag not in (0x37, 0x4A) and not isinstance(value, bytes):
            attrs_of.setdefault(last, []).append(value)
    return status, groups


def http_get(port, path, timeout=IPP_TIMEOUT):
    """GET a web page of ippeveprinter (its forms act while it writes the page); returns the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        try:
            resp.read()
        except (socket.timeout, http.client.IncompleteRead):
            pass
        return resp.status
    finally:
        conn.close()


# Attributes a job script's "ATTR:" line may set on ippeveprinter 2.4 (others are
# logged "Ignoring update of attribute" and dropped): marker-* (any name), printer-supply,
# printer-supply-description, printer-alert, printer-alert-description (and the job's
# job-impressions, job-impressions-completed). Of these only marker-message keeps a
# comma: the others split at every comma, quoted or escaped.
ATTR_SINGLE_VALUED = ("marker-message",)
ATTR_LINE_MAX = 2000  # ippeveprinter drops a job's stderr from a line of 2047+ bytes on


def ipp_attr_line(attrs):
    """One 'ATTR: name=value ...' line for an ippeveprinter -c command, from attrs
    ({name: value} or [(name, value)], order kept); a value is an int, a str, or a list of
    them (several values). Every str is written "quoted" with \\ and " escaped, so spaces
    are kept. ValueError for a comma in a value of a multi-valued attribute (it would split),
    a newline, or a line over ATTR_LINE_MAX."""
    items = attrs.items() if isinstance(attrs, dict) else attrs
    parts = []
    for name, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        out = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                raise ValueError("%s: %r is neither an int nor a str" % (name, v))
            if isinstance(v, int):
                out.append(str(v))
                continue
            if "\n" in v or "\r" in v:
                raise ValueError("%s: a newline in %r" % (name, v))
            if "," in v and name not in ATTR_SINGLE_VALUED:
                raise ValueError("%s: ippeveprinter splits %r at its comma" % (name, v))
            out.append('"%s"' % v.replace("\\", "\\\\").replace('"', '\\"'))
        parts.append("%s=%s" % (name, ",".join(out)))
    line = "ATTR: " + " ".join(parts)
    if len(line) > ATTR_LINE_MAX:
        raise ValueError("ATTR line of %d bytes (ippeveprinter reads lines up to 2046)"
                         % len(line))
    return line


def pwg_keyvalues(value):
    """A PWG 5100.13 octetString ('index=1;class=...;level=80;...;', printer-supply,
    printer-input-tray, printer-alert; str or bytes) -> {key: value} (str)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    out = {}
    for part in value.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v
    return out


def _write_atomic(path, text):
    """Write a file a job script may read at the same moment (rename over it)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# A kept document of IppPrinter.apply_now()'s service jobs.
SERVICE_KEPT_RE = re.compile(r"^\d+-fleet-service-\d+\.[A-Za-z0-9]+$")


# ---------------------------------------------------------------- IPP printer

class IppPrinter:
    """One ippeveprinter as a photo printer on its own loopback port (see the module doc)."""

    JOB_STATES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
                  7: "canceled", 8: "aborted", 9: "completed"}

    def __init__(self, workdir, name, model="dnp-ds620", delay=0.0, fault=None,
                 make="DNP DS620 (labagent fleet)", extra_media=()):
        self.name = name
        self.model = model
        self.dir = os.path.join(workdir, "printers", name)
        self.spool = os.path.join(self.dir, "spool")
        self.archive = os.path.join(self.dir, "kept")
        self.conf = os.path.join(self.dir, "photo.conf")
        self.script = os.path.join(self.dir, "job.sh")
        self.ledger = os.path.join(self.dir, "printed.log")
        self.failed_ledger = os.path.join(self.dir, "failed.log")
        os.makedirs(self.spool)
        os.makedirs(self.archive)
        os.chmod(self.dir, 0o755)
        with open(self.conf, "w") as f:
            f.write(photo_conf(make, extra_media))
        with open(self.script, "w") as f:
            f.write(JOB_SCRIPT)
        os.chmod(self.script, 0o755)
        for path in (self.ledger, self.failed_ledger):
            open(path, "a").close()
        self.set_delay(delay)
        self.set_fault(fault)
        self.port = None
        self.proc = None
        self.generation = 0
        self.log_path = None
        self.service_jobs = 0  # apply_now() calls
        # The supplies as photo.conf declares them (set_supply_level changes both).
        self.supplies = self._conf_values("ATTR octetString printer-supply ")
        self.marker_levels = [int(v) for v in
                              self._conf_values("ATTR integer marker-levels ", quoted=False)]
        self.marker_message = None

    @property
    def uri(self):
        """What the agent's config names: 127.0.0.1 (the driver resolves names without a timeout)."""
        return "ipp://127.0.0.1:%d/ipp/print" % self.port

    def config_entry(self, **extra):
        """This printer as an element of the agent's printers: list."""
        return dict({"name": self.name, "driver": "ipp", "uri": self.uri, "model": self.model},
                    **extra)

    # -- behaviour, read by the job script at every document

    def set_delay(self, seconds):
        """Simulated print time of each document (seconds, may be fractional)."""
        with open(os.path.join(self.dir, "delay"), "w") as f:
            f.write("%g\n" % seconds)

    def set_fault(self, fault):
        """None, 'media-empty' or 'media-jam': each document is aborted with
        media-empty-error ("Ribbon end") or media-jam-error ("Paper jam"). After a
        media-empty the printer holds every further job until refill(); a jam stays in
        printer-state-reasons until the printer restarts."""
        if fault not in (None, "media-empty", "media-jam"):
            raise ValueError("unknown fault %r" % fault)
        with open(os.path.join(self.dir, "fault"), "w") as f:
            f.write((fault or "") + "\n")

    def refill(self):
        """Clear media-empty (the /media web form with a full tray): held jobs go on.
        The form loads one size per tray: media-ready is na_index-4x6_4x6in alone after it
        (see set_media_level); a restart loads photo.conf's media again."""
        return http_get(self.port, "/media?size0=na_index-4x6_4x6in&type0=photographic-glossy"
                        "&level0=700")

    # -- media, supplies and status lines (FINDINGS: ippeveprinter 2.4.2 as observed)

    def web_form(self, path, params):
        """GET one of ippeveprinter's web forms ('/media', '/supplies') with params (a dict
        or [(name, value)], URL-encoded): it acts before it answers, so the next
        Get-Printer-Attributes shows the change. No session, cookie or CSRF token (a POST
        is answered 400: only IPP is POSTed). Returns the page (str); AssertionError on a
        status other than 200 or a page saying "Error: ..." (nothing changed)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=IPP_TIMEOUT)
        try:
            conn.request("GET", path + "?" + urllib.parse.urlencode(params))
            resp = conn.getresponse()
            page = resp.read().decode(errors="replace")
        finally:
            conn.close()
        errors = re.findall(r"<p>Error: ([^<]*)</p>", page)
        if resp.status != 200 or errors:
            raise AssertionError("%s %s: HTTP %d %s" % (self.name, path, resp.status, errors))
        return page

    def set_media_level(self, level, size="na_index-4x6_4x6in", media_type="photographic-glossy"):
        """Load size (a PWG media name) of media_type with level sheets in the printer's
        one tray (source main) through the /media form, at once:
          media-ready [size] alone (one size per tray: the other size is no longer ready),
          media-col-ready that one entry, printer-input-tray
          "type=sheetFeedAutoRemovableTray;mediafeed=<length>;mediaxfeed=<width>;
          maxcapacity=250;level=<level>;status=0;name=main;" (hundredths of mm);
          printer-state-reasons: level 0 media-empty (+ media-needed while a job waits:
          every job is held until a level other than 0), 1..24 media-low, 25 and more or
          -2 (unknown) neither; -report while idle, -warning while printing. It first clears
          media-empty, media-low and media-needed however they came (set_fault's STATE:
          too). Not kept over a restart (photo.conf's media again: both sizes, level 700).
        Returns the page (AssertionError when the form refused)."""
        if not size:
            # Without size0 the form leaves media-col-ready without a value, and every later
            # /media form says "No media-col-ready defined" until a restart.
            raise ValueError("set_media_level needs a media size")
        return self.web_form("/media", [("size0", size), ("type0", media_type or ""),
                                        ("level0", str(int(level)))])

    def supplies_form(self, levels):
        """ippeveprinter's own /supplies form: levels {position (0-based): level}. Beware:
        it rewrites printer-supply from its built-in template (position 0
        "index=1;class=receptacleThatIsFilled;type=wasteToner;...", 1..4 "index=N;
        class=supplyThatIsConsumed;type=toner;...;colorantname=black|cyan|magenta|yellow;"),
        drops every position not given, leaves marker-levels and the descriptions as they
        are, first clears marker-supply-low/-empty, marker-waste-*, toner-low/-empty, then
        raises only marker-waste-almost-full (position 0 above 90), marker-waste-full
        (position 0 at 100), toner-low (1..4 below 10), toner-empty (1..4 at 0). A ribbon
        keeps its type with set_supply_level. The supply and description counts must
        match, or the form refuses (AssertionError)."""
        if not levels:
            raise ValueError("supplies_form: no level (the form would drop every supply)")
        return self.web_form("/supplies", [("supply%d" % i, str(int(v)))
                                           for i, v in sorted(levels.items())])

    def _conf_values(self, prefix, quoted=True):
        with open(self.conf) as f:
            for line in f:
                if line.startswith(prefix):
                    rest = line[len(prefix):].strip()
                    return re.findall(r'"([^"]*)"', rest) if quoted else rest.split(",")
        return []

    def _set_conf_line(self, prefix, value_text):
        """photo.conf's line for prefix (e.g. "ATTR integer marker-levels ") replaced in
        place, or added at the end; read at the next start."""
        with open(self.conf) as f:
            lines = f.read().splitlines()
        new = prefix + value_text
        if any(l.startswith(prefix) for l in lines):
            lines = [new if l.startswith(prefix) else l for l in lines]
        else:
            lines.append(new)
        _write_atomic(self.conf, "\n".join(lines) + "\n")

    def set_supply_level(self, level, index=0, message=None, low=10, now=False):
        """The supply at position index (0-based) of printer-supply, and the marker at the
        same position, at level (percent), the way the printer's own status would tell
        it: from the next job on (or at once with now=True: apply_now()), every job writes
          ATTR: printer-supply="<each supply, this one with level=<level>>",...
                marker-levels=<...> marker-low-levels=<low> [marker-message="<message>"]
          STATE: +marker-supply-empty  and  STATE: -marker-supply-low   (a consumed
                 supply at 0), else +marker-supply-low / -marker-supply-empty (one at
                 1..low), else -marker-supply-empty,marker-supply-low
        (idempotent lines, from the file supply-attrs). Class, type and colorant stay as
        photo.conf declares them (the /supplies form would make the ribbon "wasteToner").
        message (None: as it was) is the marker-message text (may hold spaces and commas).
        photo.conf is rewritten too, so a restart keeps the level and message; the state
        reason comes back with the next job. Returns the lines."""
        if not 0 <= index < len(self.supplies):
            raise ValueError("no supply at position %d (%d declared)"
                             % (index, len(self.supplies)))
        if message is not None and ('"' in message or "\\" in message or "\n" in message):
            raise ValueError("marker-message: no double quote, backslash or newline")
        level = int(level)
        self.supplies[index] = re.sub(r"(^|;)level=-?\d+", r"\g<1>level=%d" % level,
                                      self.supplies[index])
        if index < len(self.marker_levels):
            self.marker_levels[index] = level
        if message is not None:
            self.marker_message = message
        attrs = [("printer-supply", list(self.supplies))]
        if self.marker_levels:
            attrs += [("marker-levels", list(self.marker_levels)),
                      ("marker-low-levels", [int(low)] * len(self.marker_levels))]
        if self.marker_message is not None:
            attrs.append(("marker-message", self.marker_message))
        consumed = [int(kv.get("level", -2)) for kv in map(pwg_keyvalues, self.supplies)
                    if kv.get("class") == "supplyThatIsConsumed"]
        if any(v == 0 for v in consumed):
            state = ["STATE: +marker-supply-empty", "STATE: -marker-supply-low"]
        elif any(0 < v <= low for v in consumed):
            state = ["STATE: +marker-supply-low", "STATE: -marker-supply-empty"]
        else:
            state = ["STATE: -marker-supply-empty,marker-supply-low"]
        lines = [ipp_attr_line(attrs)] + state
        _write_atomic(os.path.join(self.dir, "supply-attrs"), "\n".join(lines) + "\n")
        self._set_conf_line("ATTR octetString printer-supply ",
                            ",".join('"%s"' % v for v in self.supplies))
        if self.marker_levels:
            self._set_conf_line("ATTR integer marker-levels ",
                                ",".join(str(v) for v in self.marker_levels))
            self._set_conf_line("ATTR integer marker-low-levels ",
                                ",".join([str(int(low))] * len(self.marker_levels)))
        if self.marker_message is not None:
            self._set_conf_line("ATTR text marker-message ", '"%s"' % self.marker_message)
        if now:
            self.apply_now()
        return lines

    def set_job_attrs(self, lines, once=False):
        """Status lines the job script writes to ippeveprinter ("ATTR: ..." (ipp_attr_line),
        "STATE: +reason", "STATE: -reason", "INFO: ...", "ERROR: ..." (job-state-message),
        "DEBUG: ..."), at the end of every later job (file job-attrs), or of the next job only
        (once=True, file job-attrs.once), after set_supply_level's; a faulted job writes
        them before its fault. None or []: none (that file removed). apply_now() runs them
        at once. Returns the path written."""
        path = os.path.join(self.dir, "job-attrs.once" if once else "job-attrs")
        lines = list(lines or [])
        for line in lines:
            if not line.startswith(("ATTR:", "STATE:", "INFO:", "ERROR:", "DEBUG:")) \
                    or "\n" in line or len(line) > ATTR_LINE_MAX:
                raise ValueError("not a status line for ippeveprinter: %r" % line[:80])
        if not lines:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return path
        _write_atomic(path, "\n".join(lines) + "\n")
        return path

    def apply_now(self, timeout=WAIT_PORT):
        """Run a service job at once so that the job script writes its status lines
        (set_supply_level's, set_job_attrs', a once file used up) without printing: named
        "fleet-service-<n>" (no agent job's name), no fault, no delay, no ledger line;
        kept_files() and received_job_names() leave it out, get_jobs() lists it. Retried
        while the printer is busy; returns when ippeveprinter reports it completed (its
        lines applied). A media-empty printer holds it like any job: AssertionError after
        timeout (it runs after the refill)."""
        self.service_jobs += 1
        name = "fleet-service-%d" % self.service_jobs
        doc = os.path.join(self.dir, "service.jpg")
        if not os.path.exists(doc):
            with open(doc, "wb") as f:
                f.write(b"\xff\xd8\xff\xd9")  # an empty JPEG: SOI, EOI
        self.submit(doc, name, wait_busy=timeout)
        wait_until(lambda: [j for j in self.get_jobs() if j["name"] == name
                            and j["state"] in ("completed", "aborted", "canceled")],
                   timeout, "service job %s of %s completed (media-empty holds it)"
                   % (name, self.name), 0.05)

    # -- process

    def _archive_spool(self):
        """Move kept documents aside: ippeveprinter's job ids restart at 1 after a
        restart, and a new document could overwrite an old one of the same name."""
        names = sorted(os.listdir(self.spool))
        if not names:
            return
        dest = os.path.join(self.archive, "gen-%d" % self.generation)
        os.makedirs(dest, exist_ok=True)
        for n in names:
            os.rename(os.path.join(self.spool, n), os.path.join(dest, n))

    def start(self):
        """Start ippeveprinter (a fresh free port the first time, the same port after)."""
        if self.running():
            raise AssertionError("printer %s is already running" % self.name)
        self._archive_spool()
        self.generation += 1
        first = self.port is None
        for attempt in range(3 if first else 10):
            if first and attempt > 0 or self.port is None:
                self.port = free_port()
            self.log_path = os.path.join(self.dir, "eve-%d.log" % self.generation)
            log = open(self.log_path, "a")
            try:
                self.proc = subprocess.Popen(
                    ["ippeveprinter", "-r", "off", "-n", "localhost", "-p", str(self.port),
                     "-a", self.conf, "-c", self.script, "-d", self.spool, "-k",
                     "Fleet %s" % self.name],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                    preexec_fn=_pdeathsig)
            finally:
                log.close()
            deadline = time.monotonic() + WAIT_PORT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_open(self.port):
                    return self
                time.sleep(0.05)
            _end_group(self.proc, signal.SIGKILL)
            self.proc = None
            time.sleep(0.2 * (attempt + 1))  # a port still held by the old process, or taken
        raise AssertionError("ippeveprinter %s did not listen on %d:\n%s"
                             % (self.name, self.port, tail_of(self.log_path)))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL ippeveprinter and its job script (a print in progress never comes out)."""
        _end_group(self.proc, signal.SIGKILL)
        self.proc = None

    def stop(self):
        """SIGTERM (SIGKILL after WAIT_STOP), and any job script left behind."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            _end_group(self.proc, signal.SIGTERM)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def restart(self, kill=False):
        """Stop (or kill) and start again on the same port and spool."""
        (self.kill if kill else self.stop)()
        return self.start()

    # -- records

    def kept_files(self):
        """Paths of every document ippeveprinter kept (-k), over all its runs, oldest run
        first; without the .prn files the job script's stdout goes to."""
        dirs = [os.path.join(self.archive, d) for d in
                sorted(os.listdir(self.archive), key=lambda d: int(d.split("-")[1]))]
        out = []
        for d in dirs + [self.spool]:
            names = sorted(os.listdir(d))
            stems = {os.path.splitext(n)[0] for n in names if not n.endswith(".prn")}
            for n in names:
                if n.startswith("."):
                    continue
                if n.endswith(".prn") and os.path.splitext(n)[0] in stems:
                    continue  # the -c command's output next to its document
                if SERVICE_KEPT_RE.match(n):
                    continue  # apply_now()'s service job
                out.append(os.path.join(d, n))
        return out

    def received_job_names(self):
        """Job names of every document received (kept), in order; not agent names skipped."""
        return [n for n in (kept_to_job_name(p) for p in self.kept_files()) if n]

    def _ledger(self, path):
        with open(path) as f:
            return [n for n in (kept_to_job_name(l.strip()) for l in f if l.strip()) if n]

    def printed_job_names(self):
        """Job names of every document whose print finished (the job script's ledger), in order."""
        return self._ledger(self.ledger)

    def failed_job_names(self):
        """Job names of documents aborted by a fault (media-empty)."""
        return self._ledger(self.failed_ledger)

    # -- asking the printer

    def get_printer_attributes(self, names=("printer-state", "printer-state-reasons",
                                            "printer-is-accepting-jobs")):
        """Get-Printer-Attributes: {name: [values]}; raises OSError when unreachable."""
        status, groups = ipp_request(self.port, 0x000B, [(0x44, "requested-attributes",
                                                          list(names))])
        if status >= 0x0100:
            raise OSError("Get-Printer-Attributes: status 0x%04x" % status)
        out = {}
        for tag, attrs in groups:
            if tag == 0x04:
                out.update(attrs)
        return out

    SUPPLY_ATTRS = ("printer-state", "printer-state-reasons", "printer-supply",
                    "printer-supply-description", "marker-names", "marker-types",
                    "marker-colors", "marker-levels", "marker-low-levels",
                    "marker-high-levels", "marker-message", "printer-input-tray",
                    "media-ready", "printer-alert", "printer-alert-description")

    def supply_status(self, names=SUPPLY_ATTRS):
        """Get-Printer-Attributes of supply and media status: {name: [values]}, every value
        of the octetStrings (printer-supply, printer-input-tray, printer-alert) as str.
        media-ready after a /media form without a size is [b""] (no-value). Names of
        collection attributes are refused (their members would be folded in)."""
        if "media-col-ready" in names or "media-col-database" in names:
            raise ValueError("supply_status reads no collection")
        status, groups = ipp_request(self.port, 0x000B, [(0x44, "requested-attributes",
                                                          list(names))], octets=True)
        if status >= 0x0100:
            raise OSError("Get-Printer-Attributes: status 0x%04x" % status)
        out = {}
        for tag, attrs in groups:
            if tag == 0x04:
                out.update(attrs)
        return out

    def reachable(self):
        try:
            self.get_printer_attributes()
            return True
        except OSError:
            return False

    def get_jobs(self):
        """Get-Jobs which-jobs=all: [{"id", "name", "state", "reasons"}] (ippeveprinter forgets
        completed jobs after about 60 s, and every job when it restarts)."""
        status, groups = ipp_request(self.port, 0x000A, [
            (0x44, "which-jobs", "all"),
            (0x44, "requested-attributes", ["job-id", "job-name", "job-state",
                                            "job-state-reasons"])])
        if status >= 0x0100:
            raise OSError("Get-Jobs: status 0x%04x" % status)
        return [{"id": a.get("job-id", [None])[0], "name": a.get("job-name", [None])[0],
                 "state": self.JOB_STATES.get(a.get("job-state", [0])[0], "unknown"),
                 "reasons": a.get("job-state-reasons", [])}
                for tag, a in groups if tag == 0x02]

    def _ipptool(self, test_name, text, args, timeout=30):
        test = os.path.join(self.dir, test_name)
        if not os.path.exists(test):
            with open(test, "w") as f:
                f.write(text)
        return subprocess.run(["ipptool", "-T", "10", "-t"] + args + [self.uri, test],
                              capture_output=True, text=True, timeout=timeout)

    def submit(self, path, job_name, fmt="image/jpeg", wait_busy=WAIT_PORT):
        """Print-Job through ipptool (as another IPP client would); returns ipptool's
        output. ippeveprinter answers server-error-busy while it prints another job:
        retried for up to wait_busy seconds."""
        deadline = time.monotonic() + wait_busy
        for _ in range(1000):
            out = self._ipptool("print-job.test", PRINT_JOB_TEST,
                                ["-d", "jobname=" + job_name, "-d", "format=" + fmt,
                                 "-f", path])
            if out.returncode == 0:
                return out.stdout
            if "server-error-busy" not in out.stdout or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        raise AssertionError("ipptool Print-Job to %s failed:\n%s%s"
                             % (self.name, out.stdout, out.stderr))

    def ipptool_check(self):
        """Get-Printer-Attributes through ipptool -t: (exit code, output)."""
        out = self._ipptool("get-printer.test", GET_PRINTER_TEST, [])
        return out.returncode, out.stdout + out.stderr


# ---------------------------------------------------------------- CUPS queues

# cupsd.conf of Cupsd: the recipe of ipp_peer_start_cupsd (tests/printer-ipp/ipp-peer.c).
# cupsd writes printers.conf and its job cache DirtyCleanInterval (30 s) after a change:
# a SIGKILL before that loses recent jobs (and, right after lpadmin, the queue).
CUPSD_CONF = """\
Listen 127.0.0.1:%(port)d
Listen %(dir)s/run/cups.sock
LogLevel debug
IdleExitTimeout 0
PreserveJobHistory Yes
PreserveJobFiles No
Browsing No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow localhost
</Location>
<Location /admin>
  Order allow,deny
  Allow localhost
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """\
User lp
Group lp
ServerRoot %(dir)s/etc
RequestRoot %(dir)s/spool
CacheDir %(dir)s/cache
StateDir %(dir)s/state
TempDir %(dir)s/tmp
AccessLog %(dir)s/log/access_log
ErrorLog %(dir)s/log/error_log
PageLog %(dir)s/log/page_log
"""

# IPP job states a job ends in.
JOB_FINAL_STATES = ("completed", "canceled", "aborted")


class Cupsd:
    """cupsd in the foreground with its own files under workdir/cups/<name> on a free
    loopback port: what every CUPS peer shares. Subclasses add their queues in
    _add_queues(), run once after the first start; a clean restart follows, so that
    printers.conf is on disk (a later SIGKILL keeps the queues, as in a lab whose cupsd
    has run a while). Jobs are kept after they end (PreserveJobHistory Yes) and survive a
    clean restart (restart(): SIGTERM); a crash (restart(kill=True): SIGKILL) loses the
    jobs of the last DirtyCleanInterval (30 s) and keeps older ones, as
    docs/printers-ipp.md says."""

    JOB_STATES = IppPrinter.JOB_STATES
    SUBDIRS = ("run", "spool", "cache", "state", "log", "tmp", "spool/tmp", "etc/ppd")

    def __init__(self, workdir, name):
        self.name = name
        self.dir = os.path.join(workdir, "cups", name)
        self.conf = os.path.join(self.dir, "etc", "cupsd.conf")
        self.files_conf = os.path.join(self.dir, "etc", "cups-files.conf")
        self.port = None
        self.proc = None
        self.generation = 0
        self.log_path = None
        # cupsd runs its filters and backends as lp: every folder above its files must be
        # traversable.
        for d in (workdir, os.path.join(workdir, "cups")):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)

    def _conf_extra(self):
        """Lines added to (cupsd.conf, cups-files.conf)."""
        return "", ""

    def _add_queues(self):
        """Add the queues (lpadmin), once, after the first start."""
        raise NotImplementedError

    def _setup(self):
        import pwd
        lp = pwd.getpwnam("lp")
        os.makedirs(os.path.join(self.dir, "etc"))
        os.chmod(self.dir, 0o755)
        for sub in self.SUBDIRS:
            path = os.path.join(self.dir, sub)
            os.makedirs(path, exist_ok=True)
            os.chown(path, lp.pw_uid, lp.pw_gid)
            os.chmod(path, 0o755)
        values = {"port": self.port, "dir": self.dir}
        for path, text, extra in zip((self.conf, self.files_conf),
                                     (CUPSD_CONF, CUPS_FILES_CONF), self._conf_extra()):
            with open(path, "w") as f:
                f.write(text % values + extra)
            os.chmod(path, 0o644)

    def start(self):
        """Start cupsd (the first time: files, a free port, the queues; later: the same
        port, files and queues)."""
        if self.running():
            raise AssertionError("cupsd %s is already running" % self.name)
        first = self.port is None
        if first:
            self.port = free_port()
            self._setup()
        self.generation += 1
        for attempt in range(5):
            self.log_path = os.path.join(self.dir, "cupsd-%d.out" % self.generation)
            log = open(self.log_path, "a")
            try:
                self.proc = subprocess.Popen(
                    ["cupsd", "-f", "-c", self.conf, "-s", self.files_conf],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                    preexec_fn=_pdeathsig)
            finally:
                log.close()
            deadline = time.monotonic() + WAIT_PORT
            while time.monotonic() < deadline and self.proc.poll() is None:
                if port_open(self.port):
                    break
                time.sleep(0.05)
            if self.proc.poll() is None and port_open(self.port):
                break
            _end_group(self.proc, signal.SIGKILL)
            self.proc = None
            time.sleep(0.3 * (attempt + 1))  # the old cupsd's port not free yet
        else:
            raise AssertionError("cupsd %s did not listen on %d:\n%s\n%s"
                                 % (self.name, self.port, tail_of(self.log_path),
                                    self.error_log()))
        if first:
            self._add_queues()
            self.restart()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """End cupsd and its filters and backends (SIGTERM, SIGKILL after WAIT_STOP)."""
        if self.proc is not None:
            _end_group(self.proc, sig)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # a backend left behind
            except ProcessLookupError:
                pass
        self.proc = None

    def restart(self, kill=False):
        """cupsd ended (SIGTERM, or SIGKILL: a crash) and started again on the same port
        and files: its queues and job history stay."""
        self.stop(signal.SIGKILL if kill else signal.SIGTERM)
        return self.start()

    def client(self, *args, timeout=60):
        """Run a CUPS client command (lpadmin, lp, cancel, cupsenable, ...) on this cupsd
        (-h 127.0.0.1:PORT): its stdout; AssertionError with the error_log tail when it
        fails."""
        cmd = [args[0], "-h", "127.0.0.1:%d" % self.port] + list(args[1:])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise AssertionError("%s failed (exit %d): %s%s\n%s"
                                 % (" ".join(cmd), out.returncode, out.stdout, out.stderr,
                                    self.error_log(20)))
        return out.stdout

    def _purge(self, queue):
        """cancel -a -x: every job of queue canceled and purged from the history."""
        self.client("cancel", "-a", "-x", queue, timeout=30)

    def _get_jobs(self, queue, which="all"):
        """Get-Jobs on queue: [{"id", "name", "state"}]. time-at-completed is asked for
        too: cupsd 2.4 unloads a finished job's attributes about a minute after it ended
        and lists it without job-name to a Get-Jobs asking only job-id, job-name and
        job-state (also right after a cancel, seen); asking for time-at-completed (or
        job-printer-state-message, as the agent does) makes it load them."""
        status, groups = ipp_request(self.port, 0x000A, [
            (0x42, "requesting-user-name", "root"),
            (0x44, "which-jobs", which),
            (0x44, "requested-attributes", ["job-id", "job-name", "job-state",
                                            "time-at-completed"])],
            path="/printers/" + queue)
        if status >= 0x0100:
            raise OSError("Get-Jobs: status 0x%04x" % status)
        return [{"id": a.get("job-id", [None])[0], "name": a.get("job-name", [None])[0],
                 "state": self.JOB_STATES.get(a.get("job-state", [0])[0], "unknown")}
                for tag, a in groups if tag == 0x02]

    def error_log(self, lines=40):
        """The last lines of cupsd's error_log (LogLevel debug)."""
        return tail_of(os.path.join(self.dir, "log", "error_log"), lines)


class CupsQueue(Cupsd):
    """A Cupsd with one queue <name> (lpadmin -m everywhere) to an IppPrinter: what a lab
    printing through a local CUPS has. purge() empties the history (cancel -a -x). The
    paper out is the IppPrinter's ledger behind it (the ipp backend passes the job name
    on)."""

    def __init__(self, workdir, name, printer, model=None):
        super().__init__(workdir, name)
        self.printer = printer
        self.model = model or printer.model

    @property
    def uri(self):
        return "ipp://127.0.0.1:%d/printers/%s" % (self.port, self.name)

    def config_entry(self, uri=None, **extra):
        """The queue as an element of the agent's printers: (driver ipp); uri: another uri
        to name (a KillOnReceiptProxy's in front of this cupsd)."""
        return dict({"name": self.name, "driver": "ipp", "uri": uri or self.uri,
                     "model": self.model}, **extra)

    def _add_queues(self):
        self.client("lpadmin", "-p", self.name, "-E", "-v", self.printer.uri,
                    "-m", "everywhere")

    def purge(self):
        """cancel -a -x: every job of the queue canceled and purged from the history."""
        self._purge(self.name)

    def get_jobs(self, which="all"):
        """Get-Jobs on the queue: [{"id", "name", "state"}]."""
        return self._get_jobs(self.name, which)


# The Gutenprint dye-sub queues of GutenprintCups: name -> (PPD, the queue defaults
# lpadmin sets). PageSize: the PPDs' own default is not 4x6 (B7 on the DS620, 2x6 on the
# D90). StpColorCorrection=Raw: no Stp* option sent later can alter pixels. D90: the
# printer-side LUT and sharpening off, the rawest path
# (../shared/design/TEST-PEERS-gutenprint.md).
GUTENPRINT_QUEUES = {
    "ds620": ("gutenprint.5.3://dnp-ds620/expert",
              ("PageSize=w288h432", "StpColorCorrection=Raw")),
    "d90": ("gutenprint.5.3://mitsubishi-d90dw/expert",
            ("PageSize=w288h432", "StpColorCorrection=Raw", "StpUseLUT=False",
             "StpSharpen=0")),
}
# The agent's model (profiles/registry.yaml) of each queue.
GUTENPRINT_MODELS = {"ds620": "dnp-ds620", "d90": "mitsubishi-cp-d90",
                     "ds620usb": "dnp-ds620"}
# The DS620 queue on the real backend in its test mode (GutenprintCups usb_media=).
GUTENPRINT_USB_QUEUE = "ds620usb"
GUTENPRINT_USB_URI = "gutenprint53+usb://dnp-ds620/TEST0001"
# The backend's test mode: no USB printer, a DS620 (USB 1452:8b01) with the media whose
# DNP code is MEDIA_CODE loaded (200 = 5x3.5, 210 = 5x7, 300 = 6x4, 310 = 6x8, 400 = 6x9).
# SetEnv reaches every queue's backend; the file: queues run none.
GUTENPRINT_USB_ENV = ("SetEnv TEST_MODE 2\nSetEnv EXTRA_VID 1452\nSetEnv EXTRA_PID 8b01\n"
                      "SetEnv MEDIA_CODE %d\n")
GUTENPRINT_DRIVER = "/usr/lib/cups/driver/gutenprint.5.3"
WAIT_JOB = 60.0  # a Gutenprint job to end (about 0.4-0.9 s each on 2 cores)


class GutenprintCups(Cupsd):
    """A Cupsd with real Gutenprint dye-sub queues (the vendor driver labs use): "ds620"
    (DNP DS620) and "d90" (Mitsubishi CP-D90DW), each on the device file
    out/<queue>.prn, which holds exactly the printer data stream the USB backend would
    send (tests/jobs/dyesub.py decodes it). cupsd writes that file (0600 root) and
    truncates it at the start of every job: wait for a job with wait_completed(), then
    read device_bytes() before the queue starts another. usb_media=300 (a DNP media code)
    adds the queue "ds620usb" on the real gutenprint53+usb backend in its test mode with
    that media loaded: a 4x6 job completes, a 5x7 job ends canceled with
    "Incorrect media for job loaded (300 vs 3)" (the stream is discarded)."""

    def __init__(self, workdir, name="gutenprint", queues=("ds620", "d90"), usb_media=None):
        super().__init__(workdir, name)
        self.queues = list(queues)
        self.usb_media = usb_media
        if usb_media is not None:
            self.queues.append(GUTENPRINT_USB_QUEUE)
        self.out = os.path.join(self.dir, "out")

    def _conf_extra(self):
        # MaxLogSize 0: error_log never rotates (a rotation would land mid-job: each job
        # logs about 56 KB at LogLevel debug). FileDevice Yes: the file: device queues.
        files = "FileDevice Yes\n"
        if self.usb_media is not None:
            files += GUTENPRINT_USB_ENV % self.usb_media
        return "MaxLogSize 0\n", files

    def start(self):
        if not os.access(GUTENPRINT_DRIVER, os.X_OK):
            raise AssertionError(
                "printer-driver-gutenprint is not installed (%s missing): the Gutenprint "
                "test peer needs it; apt-get install --no-install-recommends "
                "printer-driver-gutenprint (a <!nocheck> Build-Depends of debian/control)"
                % GUTENPRINT_DRIVER)
        if os.geteuid() != 0:
            raise AssertionError("the Gutenprint peer runs as root: cupsd writes its "
                                 "device files 0600 root")
        return super().start()

    def _add_queues(self):
        os.makedirs(self.out, exist_ok=True)
        for queue in self.queues:
            if queue == GUTENPRINT_USB_QUEUE:
                ppd, options = GUTENPRINT_QUEUES["ds620"]
                device = GUTENPRINT_USB_URI
            else:
                ppd, options = GUTENPRINT_QUEUES[queue]
                device = "file://" + self.device_path(queue)
            args = ["lpadmin", "-p", queue, "-E", "-v", device, "-m", ppd]
            for option in options:
                args += ["-o", option]
            self.client(*args)  # warns "Printer drivers are deprecated": the queue works

    def uri(self, queue):
        return "ipp://127.0.0.1:%d/printers/%s" % (self.port, queue)

    def config_entry(self, queue, uri=None, **extra):
        """queue as an element of the agent's printers (driver ipp, the agent's model)."""
        return dict({"name": queue, "driver": "ipp", "uri": uri or self.uri(queue),
                     "model": GUTENPRINT_MODELS[queue]}, **extra)

    def device_path(self, queue):
        return os.path.join(self.out, queue + ".prn")

    def device_bytes(self, queue):
        """What the queue's last (or current) job wrote to its device file; None when no
        job has written it yet."""
        try:
            with open(self.device_path(queue), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def submit(self, queue, path, title=None, options=()):
        """lp -d queue [-t title] [-o option ...] path: the new job's id."""
        args = ["lp", "-d", queue] + (["-t", title] if title else [])
        for option in options:
            args += ["-o", option]
        out = self.client(*(args + [path]))
        m = re.search(r"request id is %s-(\d+)" % re.escape(queue), out)
        if not m:
            raise AssertionError("lp to %s: no job id in %r" % (queue, out))
        return int(m.group(1))

    def jobs(self, queue, which="all"):
        """Get-Jobs on queue: [(id, name, state)], state an IPP keyword ("completed", ...);
        which="not-completed": the jobs not ended yet. A job Get-Jobs lists without its
        name (cupsd does, now and then, for a job it has just cancelled) is asked for it
        by Get-Job-Attributes."""
        out = []
        for j in self._get_jobs(queue, which):
            if j["name"] is None:
                j = dict(j, name=(self.job(queue, j["id"]) or {}).get("name"))
            out.append((j["id"], j["name"], j["state"]))
        return out

    def page_log(self):
        """cupsd's page_log: [(queue, job id, job name)], one per page a filter reported
        (PageLogFormat's default: printer, user, job id, time, page, copies, billing,
        host, job name, media, sides)."""
        try:
            with open(os.path.join(self.dir, "log", "page_log"), errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            m = re.match(r"(\S+) \S+ (\d+) \[[^]]*\] \S+ \S+ \S+ \S+ (\S+)", line)
            if m:
                out.append((m.group(1), int(m.group(2)), m.group(3)))
        return out

    def job(self, queue, job):
        """One job (its id, or its name: the newest job of that name) by
        Get-Job-Attributes: {"id", "name", "state", "reasons", "message"}; the message is
        job-printer-state-message (a filter's or backend's last word). None when the
        queue has no such job."""
        if not isinstance(job, int):
            ids = [i for i, name, _ in self.jobs(queue) if name == job]
            if not ids:
                return None
            job = max(ids)
        status, groups = ipp_request(self.port, 0x0009, [
            (0x21, "job-id", job),
            (0x42, "requesting-user-name", "root"),
            (0x44, "requested-attributes", ["job-id", "job-name", "job-state",
                                            "job-state-reasons",
                                            "job-printer-state-message"])],
            path="/printers/" + queue)
        if status == 0x0406:  # client-error-not-found
            return None
        if status >= 0x0100:
            raise OSError("Get-Job-Attributes %s-%d: status 0x%04x" % (queue, job, status))
        a = next((a for tag, a in groups if tag == 0x02), {})
        return {"id": job, "name": a.get("job-name", [None])[0],
                "state": self.JOB_STATES.get(a.get("job-state", [0])[0], "unknown"),
                "reasons": a.get("job-state-reasons", []),
                "message": a.get("job-printer-state-message", [""])[0]}

    def wait_final(self, queue, job, timeout=WAIT_JOB, interval=0.02):
        """Wait (bounded) until job (id or name) is completed, canceled or aborted: its
        job() dict. AssertionError when it is not there by then (a job stuck in
        processing-stopped, e.g. a JPEG imagetoraster cannot open, stays so)."""
        deadline = time.monotonic() + timeout
        last = None
        for _ in range(int(timeout / interval) + 1):
            last = self.job(queue, job)
            if last is not None and last["state"] in JOB_FINAL_STATES:
                return last
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        raise AssertionError("job %s on %s not ended within %.0f s: %s\n%s"
                             % (job, queue, timeout, last, self.error_log(30)))

    def wait_completed(self, queue, job, timeout=WAIT_JOB):
        """wait_final(), and AssertionError unless the job completed; then its device
        file holds the job's stream (device_bytes()) until the queue's next job."""
        info = self.wait_final(queue, job, timeout)
        if info["state"] != "completed":
            raise AssertionError("job %s on %s ended %s: %s\n%s"
                                 % (job, queue, info["state"], info, self.error_log(30)))
        return info

    def printer(self, queue):
        """Get-Printer-Attributes: {"state", "reasons", "message", "accepting"}."""
        status, groups = ipp_request(self.port, 0x000B, [
            (0x42, "requesting-user-name", "root"),
            (0x44, "requested-attributes", ["printer-state", "printer-state-reasons",
                                            "printer-state-message",
                                            "printer-is-accepting-jobs"])],
            path="/printers/" + queue)
        if status >= 0x0100:
            raise OSError("Get-Printer-Attributes %s: status 0x%04x" % (queue, status))
        a = next((a for tag, a in groups if tag == 0x04), {})
        return {"state": {3: "idle", 4: "processing", 5: "stopped"}.get(
                    a.get("printer-state", [0])[0], "unknown"),
                "reasons": a.get("printer-state-reasons", []),
                "message": a.get("printer-state-message", [""])[0],
                "accepting": a.get("printer-is-accepting-jobs", [None])[0]}

    def lpadmin_option(self, queue, *options):
        """lpadmin -p queue -o NAME=VALUE ...: change the queue's defaults (the PPD's
        *DefaultNAME), e.g. behind the agent's back."""
        args = ["lpadmin", "-p", queue]
        for option in options:
            args += ["-o", option]
        self.client(*args)

    def queue_defaults(self, queue):
        """lpoptions -p queue -l: {option keyword: its default choice}."""
        out = self.client("lpoptions", "-p", queue, "-l")
        defaults = {}
        for line in out.splitlines():
            key, _, choices = line.partition(":")
            marked = [c[1:] for c in choices.split() if c.startswith("*")]
            if marked:
                defaults[key.split("/", 1)[0]] = marked[0]
        return defaults

    def disable(self, queue, reason=None):
        """cupsdisable: the queue stops (jobs wait); reason is its printer-state-message."""
        self.client("cupsdisable", *((["-r", reason] if reason else []) + [queue]))

    def enable(self, queue):
        self.client("cupsenable", queue)

    def purge(self, queue):
        """cancel -a -x: every job of queue canceled and purged from the history."""
        self._purge(queue)


class GutenprintClass:
    """unittest mixin (put it first among the bases): one GutenprintCups for the whole
    class (queues ds620, d90 and, with USB_MEDIA, ds620usb) in cls.classdir, as cls.gp.
    set_up_class() (a classmethod hook) makes more class fixtures once cupsd runs.
    cls.report: lines printed after the class's last test. A failing test prints the
    tail of cupsd's error_log and keeps the dir for a look."""

    USB_MEDIA = 300  # the DNP media code the USB backend's test mode says is loaded (6x4)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.classdir = tempfile.mkdtemp(prefix="labagent-gutenprint-")
        cls.failed = False
        cls.report = []
        cls.gp = GutenprintCups(cls.classdir, usb_media=cls.USB_MEDIA)
        try:
            cls.gp.start()
            cls.set_up_class()
        except BaseException:
            cls.gp.stop()
            print("kept for a look: " + cls.classdir, file=sys.stderr)
            raise

    @classmethod
    def set_up_class(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        cls.gp.stop()
        for line in cls.report:
            print(line, file=sys.stderr)
        if cls.failed:
            print("kept for a look: " + cls.classdir, file=sys.stderr)
        else:
            shutil.rmtree(cls.classdir, ignore_errors=True)
        super().tearDownClass()

    def tearDown(self):
        if not tl.AgentTestCase._outcome_ok(self):
            type(self).failed = True
            print("---- cupsd error_log tail ----\n" + self.gp.error_log(30), file=sys.stderr)
        super().tearDown()


# ---------------------------------------------------------------- minilab

class Minilab:
    """tests/printer-hotfolder/minilab.py on its own hot folder (see the module doc)."""

    def __init__(self, workdir, name, model="noritsu-qss-3701", fmt="generic", mode="succeed",
                 time_limit=300.0, hold_ms=0, poll_ms=20, error="minilab error"):
        self.name = name
        self.model = model
        self.format = fmt
        self.mode = mode
        self.time_limit = time_limit
        self.hold_ms = hold_ms
        self.poll_ms = poll_ms
        self.error = error
        self.dir = os.path.join(workdir, "minilabs", name)
        self.folder = os.path.join(self.dir, "hot")
        self.log_path = os.path.join(self.dir, "minilab.log")
        os.makedirs(self.folder)
        self._skeleton()
        self.proc = None
        self.exit_codes = []
        self.forgotten = []  # job names it printed whose result files a test deleted

    def _skeleton(self):
        os.makedirs(self.folder, exist_ok=True)
        if self.format == "generic":  # labagent makes them too; minilab.py needs them
            for area in ("processing", "done", "error", "canceled"):
                os.makedirs(os.path.join(self.folder, area), exist_ok=True)
        elif self.format == "dnp":
            for size in ("4x6", "5x7"):
                os.makedirs(os.path.join(self.folder, size), exist_ok=True)

    def config_entry(self, **extra):
        return dict({"name": self.name, "driver": "hotfolder", "folder": self.folder,
                     "format": self.format, "model": self.model}, **extra)

    def start(self, mode=None):
        if self.running():
            raise AssertionError("minilab %s is already running" % self.name)
        if mode:
            self.mode = mode
        log = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen(
                [PYTHON, MINILAB_PY, "--format", self.format, "--folder", self.folder,
                 "--mode", self.mode, "--error", self.error, "--time-limit", str(self.time_limit),
                 "--poll", str(self.poll_ms), "--hold", str(self.hold_ms)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_pdeathsig)
        finally:
            log.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (it exits 0); returns its exit code (None if it was not started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            _end_group(self.proc, signal.SIGTERM)
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self.proc = None
        return rc

    def kill(self):
        _end_group(self.proc, signal.SIGKILL)
        if self.proc is not None:
            self.exit_codes.append(self.proc.returncode)
        self.proc = None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def violations(self):
        """Incomplete ready items the minilab saw (it exits 3 on the first)."""
        return re.findall(r"minilab: VIOLATION: (.*)", self.log())

    def consumed(self):
        """How many items it took up (over all its runs)."""
        return len(re.findall(r"^minilab: took up ", self.log(), re.M))

    def _names_in(self, area):
        if self.format == "generic":
            d = os.path.join(self.folder, area)
            names = []
            for n in sorted(os.listdir(d)):
                if n.endswith(".json") and not n.startswith("."):
                    try:
                        with open(os.path.join(d, n)) as f:
                            names.append(json.load(f)["job_name"])
                    except (OSError, ValueError, KeyError):
                        names.append(item_to_job_name(n[:-5]))
            return names
        if self.format == "noritsu":
            prefix = {"done": "_done_", "error": "_err_", "processing": "_acc_"}[area]
            return [item_to_job_name(n[len(prefix):]) for n in sorted(os.listdir(self.folder))
                    if n.startswith(prefix)]
        suffix = {"done": ".printed", "error": ".error", "processing": ".printing"}[area]
        out = []
        for size in sorted(os.listdir(self.folder)):
            sdir = os.path.join(self.folder, size)
            if os.path.isdir(sdir):
                out += [item_to_job_name(n[:-len(suffix)].rsplit("~", 1)[0])
                        for n in sorted(os.listdir(sdir)) if n.endswith(suffix)]
        return out

    def printed_job_names(self):
        """Job names of the items it finished successfully (done), also those whose
        result files delete_results() or wipe() removed afterwards."""
        return self.forgotten + self._names_in("done")

    def _result_paths(self, job_name):
        """The paths an item's results (done, error, processing) are at now."""
        item = job_name_to_item(job_name)
        f = self.folder
        if self.format == "generic":
            return [os.path.join(f, area, n) for area in ("processing", "done", "error")
                    for n in sorted(os.listdir(os.path.join(f, area)))
                    if n.rsplit(".", 1)[0] == item]
        if self.format == "noritsu":
            return [os.path.join(f, p + item) for p in ("_acc_", "_done_", "_err_")
                    if os.path.lexists(os.path.join(f, p + item))]
        out = []
        for size in sorted(os.listdir(f)):
            d = os.path.join(f, size)
            if os.path.isdir(d) and not size.startswith("."):
                out += [os.path.join(d, n) for n in sorted(os.listdir(d))
                        if n.rsplit("~", 1)[0] == item and n.endswith(
                            (".printing", ".printed", ".error", ".error.txt"))]
        return out

    @staticmethod
    def _remove(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def delete_results(self, job_name):
        """Delete what the minilab left of an item it took up (its done / error /
        processing files), as a cleanup that ran too early: the job is then in none of
        the folder's places. A printed one stays in printed_job_names(). Returns the
        paths removed (AssertionError when there are none)."""
        printed = self._names_in("done").count(job_name)
        paths = self._result_paths(job_name)
        if not paths:
            raise AssertionError("minilab %s has no results of %s" % (self.name, job_name))
        for path in paths:
            self._remove(path)
        self.forgotten += [job_name] * printed
        return paths

    def resume_taken(self):
        """Finish, as printed, the items the minilab took up and never finished (what a
        kill() between its take and its finish leaves: minilab.py does not look at them
        again after a restart), as a minilab that resumes its work after a crash would.
        Call it while the minilab is stopped. Returns their job names."""
        if self.running():
            raise AssertionError("minilab %s is running: it could be finishing them" % self.name)
        f = self.folder
        names = []
        if self.format == "generic":
            proc, done = os.path.join(f, "processing"), os.path.join(f, "done")
            for n in sorted(os.listdir(proc)):
                if not n.endswith(".json") or n.startswith("."):
                    continue
                with open(os.path.join(proc, n)) as fh:
                    side = json.load(fh)
                for d in (proc, f):  # the print file follows the sidecar into processing/
                    if os.path.exists(os.path.join(d, side["file"])):
                        os.rename(os.path.join(d, side["file"]), os.path.join(done, side["file"]))
                        break
                os.rename(os.path.join(proc, n), os.path.join(done, n))
                names.append(side["job_name"])
        elif self.format == "noritsu":
            for n in sorted(os.listdir(f)):
                if n.startswith("_acc_"):
                    os.rename(os.path.join(f, n), os.path.join(f, "_done_" + n[5:]))
                    names.append(item_to_job_name(n[5:]))
        else:
            for size in sorted(os.listdir(f)):
                d = os.path.join(f, size)
                if size.startswith(".") or not os.path.isdir(d):
                    continue
                for n in sorted(os.listdir(d)):
                    if n.endswith(".printing"):
                        os.rename(os.path.join(d, n), os.path.join(d, n[:-9] + ".printed"))
                        names.append(item_to_job_name(n[:-9].rsplit("~", 1)[0]))
        return names

    def wipe(self):
        """Empty the folder, labagent's own files (.labagent/, ...) included, and set it
        up again as new (a minilab PC replaced, or its share reformatted); what it printed
        stays in printed_job_names()."""
        self.forgotten += self._names_in("done")
        for n in os.listdir(self.folder):
            self._remove(os.path.join(self.folder, n))
        self._skeleton()

    def failed_job_names(self):
        return self._names_in("error")


# ---------------------------------------------------------------- kill on receipt

class HttpFramer:
    """Incremental framing of one direction of an HTTP/1.1 connection (requests, or
    responses), without changing a byte: each message's start line, headers, stream
    offsets (start, end of head, end) and the first BODY_KEEP bytes of its body with any
    chunked encoding undone. A stream it cannot frame stops being parsed (broken)."""

    BODY_KEEP = 65536
    HEAD_MAX = 65536

    def __init__(self, requests):
        self.requests = requests
        self.buf = bytearray()
        self.offset = 0  # stream offset of buf[0]
        self.state = "head"
        self.remaining = 0
        self.msg = None
        self.messages = []
        self.broken = False

    def _consume(self, n):
        del self.buf[:n]
        self.offset += n

    def _body(self, n):
        keep = self.BODY_KEEP - len(self.msg["body"])
        if keep > 0:
            self.msg["body"] += self.buf[:min(n, keep)]
        self._consume(n)

    def _end(self):
        self.msg["end"] = self.offset
        self.state = "head"

    def _head(self):
        while self.buf.startswith(b"\r\n"):  # stray line ends between messages
            self._consume(2)
        i = self.buf.find(b"\r\n\r\n")
        if i < 0:
            if len(self.buf) > self.HEAD_MAX:
                self.broken = True
            return False
        start = self.offset
        lines = bytes(self.buf[:i]).decode("latin-1").split("\r\n")
        self._consume(i + 4)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        parts = lines[0].split(" ", 2)
        self.msg = msg = {"line": lines[0], "headers": headers, "start": start,
                          "head_end": self.offset, "end": None, "body": bytearray(),
                          "method": None, "status": None}
        self.messages.append(msg)
        if self.requests:
            msg["method"] = parts[0]
        else:
            try:
                msg["status"] = int(parts[1])
            except (IndexError, ValueError):
                self.broken = True
                return False
        if not self.requests and (msg["status"] < 200 or msg["status"] in (204, 304)):
            self._end()
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "chunk-size"
        elif "content-length" in headers:
            try:
                self.remaining = int(headers["content-length"])
            except ValueError:
                self.broken = True
                return False
            if self.remaining == 0:
                self._end()
            else:
                self.state = "body"
        elif self.requests:
            self._end()
        else:
            self.state = "close"  # a response body that ends with the connection
        return True

    def feed(self, data):
        self.buf += data
        while not self.broken and self.buf:
            if self.state == "head":
                if not self._head():
                    return
            elif self.state in ("body", "chunk-data"):
                n = min(len(self.buf), self.remaining)
                self._body(n)
                self.remaining -= n
                if self.remaining == 0:
                    if self.state == "body":
                        self._end()
                    else:
                        self.state = "chunk-end"
            elif self.state == "chunk-end":
                if len(self.buf) < 2:
                    return
                self._consume(2)
                self.state = "chunk-size"
            elif self.state in ("chunk-size", "trailer"):
                i = self.buf.find(b"\r\n")
                if i < 0:
                    if len(self.buf) > self.HEAD_MAX:
                        self.broken = True
                    return
                line = bytes(self.buf[:i])
                self._consume(i + 2)
                if self.state == "trailer":
                    if not line:
                        self._end()
                    continue
                try:
                    self.remaining = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.broken = True
                    return
                self.state = "chunk-data" if self.remaining else "trailer"
            else:  # "close"
                self._body(len(self.buf))


def ipp_message_attrs(message):
    """The attributes of an IPP message (its bytes from the start; it may be cut short):
    {name: first value}, strings decoded; stops at the end-of-attributes tag."""
    out, i = {}, 8
    while i < len(message):
        tag = message[i]
        i += 1
        if tag == 0x03:
            break
        if tag < 0x10:
            continue
        if i + 2 > len(message):
            break
        nlen = struct.unpack(">H", message[i:i + 2])[0]
        name = bytes(message[i + 2:i + 2 + nlen]).decode(errors="replace")
        i += 2 + nlen
        if i + 2 > len(message):
            break
        vlen = struct.unpack(">H", message[i:i + 2])[0]
        raw = bytes(message[i + 2:i + 2 + vlen])
        if i + 2 + vlen > len(message):
            break
        i += 2 + vlen
        if name and name not in out:
            out[name] = raw.decode(errors="replace") if tag in IPP_TAGS_STR else raw
    return out


class OneShot:
    """A trigger armed with a callback that fires once, for the kill-on-receipt peers
    below: fired (an Event), fired_job_name, fired_at, errors (callback exceptions)."""

    def __init__(self, what):
        self.what = what  # for messages: "proxy ds620", "watcher qss"
        self.errors = []
        self.fired = threading.Event()
        self.fired_job_name = None
        self.fired_at = None
        self._lock = threading.Lock()
        self._armed = False
        self._callback = None

    def _arm(self, callback):
        """Arm (the caller holds self._lock)."""
        self.fired.clear()
        self.fired_job_name = None
        self.fired_at = None
        self._callback = callback
        self._armed = True

    def disarm(self):
        with self._lock:
            self._armed = False

    def armed(self):
        with self._lock:
            return self._armed

    def _take(self, job_name):
        """Disarm and record job_name if armed (the caller holds self._lock); whether it was."""
        fire = self._armed
        self._armed = False
        if fire:
            self.fired_job_name = job_name
        return fire

    def _fire(self, job_name):
        """Call the callback (outside the lock), then set fired."""
        self.fired_at = time.time()
        try:
            self._callback(job_name)
        except Exception as e:  # noqa: BLE001  (reported to the test through errors)
            self.errors.append("callback: %r" % e)
        finally:
            self.fired.set()

    def _seen(self):
        """What it saw lately, for the timeout message."""
        return []

    def wait_fired(self, timeout):
        """The job name it fired on; AssertionError after timeout seconds."""
        if not self.fired.wait(timeout):
            raise AssertionError("%s: did not fire within %.0f s (seen lately: %s)"
                                 % (self.what, timeout, self._seen()))
        return self.fired_job_name


class KillOnReceiptProxy(OneShot):
    """A transparent TCP proxy on a free 127.0.0.1 port in front of an IPP server's port
    (ippeveprinter, cupsd), for any number of connections, that can kill the agent the
    instant a printer has received a document (standard library only).

    The agent's printer uri names the proxy's port (uri(), same resource path). Bytes go
    through unchanged both ways, also the HTTP/1.1 100 Continue interim answers. Armed
    (arm(callback, skip=N)), it lets N successful Print-Jobs pass and then, at the next
    Print-Job request (POST, IPP version 1.x or 2.x, operation 0x0002) whose answer is
    successful, calls callback(job_name) BEFORE one byte of that answer reaches the
    client, and then closes both sides. The printer has the whole document; the agent,
    killed in the callback, never heard so: its copy is `submitting` with no handle.
    It fires once, then is disarmed. A Print-Job the printer refuses (server-error-busy)
    goes through and does not count. arm(..., when="send") fires instead when a
    Print-Job's IPP header reaches the proxy, before those bytes are passed on: the
    printer never gets that request (a copy that truly never arrived).

    Records: print_jobs ([(job name, IPP status)] of every Print-Job answered through
    it), fired / fired_job_name / fired_at, connections, errors (callback exceptions).
    While the printer behind it is down, a new connection is accepted and closed at once
    (the agent sees the printer unreachable). stop() ends every thread (bounded)."""

    def __init__(self, target_port, name="proxy"):
        super().__init__("proxy %s" % name)
        self.target_port = target_port
        self.name = name
        self.port = None
        self.connections = 0
        self.print_jobs = []
        self._skip = 0
        self._when = "answer"
        self._stop = threading.Event()
        self._threads = []
        self._socks = set()
        self._listener = None

    def uri(self, resource="/ipp/print"):
        return "ipp://127.0.0.1:%d%s" % (self.port, resource)

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name="proxy-%s" % self.name, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def arm(self, callback, skip=0, when="answer"):
        """Fire callback(job_name) at the (skip+1)-th Print-Job from now. when="answer":
        at its successful answer (the printer has the document); when="send": as soon as
        its IPP request reaches the proxy, before it is passed on (the printer never gets
        it: a send that truly never arrived)."""
        if when not in ("answer", "send"):
            raise ValueError("when is 'answer' or 'send', not %r" % when)
        with self._lock:
            self._arm(callback)
            self._skip = skip
            self._when = when

    def _seen(self):
        return self.print_jobs[-5:]

    def stop(self):
        self._stop.set()
        self.disarm()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=WAIT_STOP)

    # -- threads

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(client,), daemon=True,
                                 name="proxy-%s-%d" % (self.name, self.connections))
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _track(self, *socks, drop=False):
        with self._lock:
            for s in socks:
                (self._socks.discard if drop else self._socks.add)(s)

    @staticmethod
    def _is_print_job(req):
        b = req["body"] if req else b""
        return (req is not None and req["method"] == "POST" and len(b) >= 8 and b[0] in (1, 2)
                and struct.unpack(">H", b[2:4])[0] == 0x0002)

    def _judge(self, req, resp):
        """What to do with a final response to req: 'pass', 'wait' (more of it first) or
        'fire'."""
        if not self._is_print_job(req):
            return "pass"
        body = resp["body"]
        if len(body) < 8 and resp["end"] is None:
            return "wait"
        status = struct.unpack(">H", body[2:4])[0] if len(body) >= 4 else None
        name = ipp_message_attrs(req["body"]).get("job-name")
        with self._lock:
            self.print_jobs.append((name, status))
            if (not self._armed or self._when != "answer" or status is None
                    or status >= 0x0100 or self._stop.is_set()):
                return "pass"
            if self._skip > 0:
                self._skip -= 1
                return "pass"
            return "fire" if self._take(name) else "pass"

    def _stop_send(self, req):
        """Armed with when="send": is req (its IPP header seen) the Print-Job to stop?"""
        if not self._is_print_job(req):
            return False
        with self._lock:
            if not self._armed or self._when != "send" or self._stop.is_set():
                return False
            if self._skip > 0:
                self._skip -= 1
                return False
            return self._take(ipp_message_attrs(req["body"]).get("job-name"))

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.settimeout(10)  # sendall to a peer that stopped reading fails, never hangs
        self._track(client, upstream)
        requests, responses = HttpFramer(True), HttpFramer(False)
        pending = bytearray()  # server -> client bytes not forwarded yet
        pending_at = 0  # their stream offset
        looked = 0  # response messages judged
        answered = 0  # final responses matched to requests
        sent_checked = 0  # requests judged for when="send"
        try:
            while not self._stop.is_set():
                r, _, _ = select.select([client, upstream], [], [], 0.2)
                if client in r:
                    data = client.recv(65536)
                    if not data:
                        break
                    requests.feed(data)
                    # when="send": judged before the bytes go on (the IPP header first).
                    while sent_checked < len(requests.messages):
                        m = requests.messages[sent_checked]
                        if len(m["body"]) < 8 and m["end"] is None:
                            break
                        sent_checked += 1
                        if self._stop_send(m):
                            self._fire(self.fired_job_name)
                            return
                    upstream.sendall(data)
                eof = False
                if upstream in r:
                    data = upstream.recv(65536)
                    if data:
                        pending += data
                        responses.feed(data)
                    else:
                        eof = True
                limit = pending_at + len(pending)
                while looked < len(responses.messages) and not responses.broken:
                    m = responses.messages[looked]
                    if m["status"] < 200:  # 100 Continue: goes through
                        looked += 1
                        continue
                    req = (requests.messages[answered] if answered < len(requests.messages)
                           else None)
                    what = self._judge(req, m)
                    if what == "wait":
                        limit = m["start"]
                        break
                    if what == "fire":
                        if m["start"] > pending_at:
                            client.sendall(pending[:m["start"] - pending_at])
                        self._fire(self.fired_job_name)
                        return
                    looked += 1
                    answered += 1
                if limit > pending_at:
                    client.sendall(pending[:limit - pending_at])
                    del pending[:limit - pending_at]
                    pending_at = limit
                if eof:
                    break
        except OSError:
            pass
        finally:
            self._track(client, upstream, drop=True)
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass



# inotify (linux/inotify.h), through ctypes.
IN_MODIFY = 0x002
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
DNP_FIRST_COPY = re.compile(r"^(?P<item>[A-Za-z0-9-][A-Za-z0-9._%-]*)~1\.(jpg|tif)$")


class HotFolderWatcher(OneShot):
    """Kill on receipt for a hot folder: watches a Minilab's folder with inotify and, armed
    (arm(callback)), calls callback(job_name) the moment a new item becomes visible there
    (generic: <item>.json; noritsu: the order folder <item>; dnp: <size>/<item>~1.jpg),
    once, then disarms. It races the agent's own store write after its publish: a test
    checks from the store that the copy is still `submitting` with no handle, and tries
    again when the agent was faster. Records: fired, fired_job_name, items (every item seen
    appear). stop() ends the thread (bounded)."""

    def __init__(self, minilab):
        import ctypes
        super().__init__("watcher %s" % minilab.name)
        self.minilab = minilab
        self.format = minilab.format
        self.items = []
        self._libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self._stop = threading.Event()
        self._fd = -1
        self._thread = None

    def start(self):
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError("inotify_init1 failed")
        self._add_watches()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="watch-%s" % self.minilab.name)
        self._thread.start()
        return self

    def _add_watches(self):
        """Watch the folder (dnp: its size folders, also ones made again since)."""
        folder = self.minilab.folder
        if self.format == "dnp":
            dirs = [os.path.join(folder, d) for d in sorted(os.listdir(folder))
                    if not d.startswith(".") and os.path.isdir(os.path.join(folder, d))]
        else:
            dirs = [folder]
        for d in dirs:
            if self._libc.inotify_add_watch(self._fd, d.encode(), IN_MOVED_TO | IN_CREATE) < 0:
                raise OSError("inotify_add_watch %s failed" % d)

    def arm(self, callback):
        """Fire callback(job_name) at the next new item."""
        self._add_watches()
        with self._lock:
            self._arm(callback)

    def _seen(self):
        return self.items[-5:]

    def stop(self):
        self._stop.set()
        self.disarm()
        if self._thread is not None:
            self._thread.join(timeout=WAIT_STOP)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _item(self, name, mask):
        """The item a new directory entry makes visible, or None."""
        if name.startswith((".", "_")):
            return None
        if self.format == "generic":
            return name[:-5] if name.endswith(".json") and not mask & IN_ISDIR else None
        if self.format == "noritsu":
            return name if mask & IN_ISDIR else None
        m = DNP_FIRST_COPY.match(name)
        return m.group("item") if m and not mask & IN_ISDIR else None

    def _loop(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self._fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            i = 0
            while i + 16 <= len(data):
                _, mask, _, length = struct.unpack_from("iIII", data, i)
                name = data[i + 16:i + 16 + length].rstrip(b"\0").decode(errors="replace")
                i += 16 + length
                item = self._item(name, mask)
                if item is None:
                    continue
                job_name = item_to_job_name(item)
                self.items.append(job_name)
                with self._lock:
                    fire = self._take(job_name)
                if fire:
                    self._fire(job_name)


# ---------------------------------------------------------------- agent config

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+-][A-Za-z0-9_./:@%+ -]*$")
_NOT_PLAIN = re.compile(r"^(true|false|null|~|yes|no|on|off|[-+]?[0-9.].*)$", re.I)


def _scalar(v):
    """A YAML scalar the strict loader takes for the value's type; a dict is a flow
    mapping of such scalars ({StpColorCorrection: Raw, StpUseLUT: "False"}), a list a flow
    sequence of them ([{name: paper-4x6, capacity: 400}])."""
    if isinstance(v, (list, tuple)):
        return "[%s]" % ", ".join(_scalar(x) for x in v)
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%s: %s" % (_scalar(k), _scalar(x)) for k, x in v.items())
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    v = str(v)
    if _PLAIN.match(v) and not _NOT_PLAIN.match(v) and not v.endswith(" ") and ": " not in v:
        return v
    return json.dumps(v)


def _list_of_maps(key, items):
    out = "%s:\n" % key
    for item in items:
        first = True
        for k, v in item.items():
            out += "  %s %s: %s\n" % ("-" if first else " ", k, _scalar(v))
            first = False
    return out


def agent_config(api_port, certs, state_dir, printers, products=None, workers=2,
                 profiles_dir=PROFILES_DIR, client="client", poll_wait="2s",
                 log_level="debug", platform=None, extra=""):
    """The text of a labagent.yaml: lab test-lab against the sandbox on api_port with the
    certificates in certs (make-certs.sh), printers = config_entry() dicts, products
    (default PRODUCTS), render.workers, profiles.directory. platform: extra platform keys
    (e.g. {"download_concurrency": 4}); extra: more YAML appended as is."""
    plat = {"url": "https://localhost:%d/" % api_port,
            "ca_file": os.path.join(certs, "ca.pem"),
            "cert_file": os.path.join(certs, client + ".pem"),
            "key_file": os.path.join(certs, client + ".key"),
            "poll_wait": poll_wait, "connect_timeout": "2s", "download_attempts": 3,
            "download_concurrency": 2}
    plat.update(platform or {})
    text = "lab:\n  id: test-lab\nplatform:\n"
    text += "".join("  %s: %s\n" % (k, _scalar(v)) for k, v in plat.items())
    text += "storage:\n  state_dir: %s\n" % _scalar(state_dir)
    text += "logging:\n  level: %s\n" % log_level
    text += _list_of_maps("products", products if products is not None else PRODUCTS)
    if printers:
        text += _list_of_maps("printers", printers)
    text += "profiles:\n  directory: %s\n" % _scalar(profiles_dir)
    text += "render:\n  workers: %d\n" % workers
    # The console socket beside the state dir: never the system's /run/labagent.
    if "\ncontrol:" not in "\n" + extra:
        text += "control:\n  socket: %s\n" % _scalar(
            os.path.join(os.path.dirname(state_dir.rstrip("/")), "control.sock"))
    return text + extra


# ---------------------------------------------------------------- agent process

class FleetAgent(tl.Agent):
    """The labagent binary on one state dir, configured by agent_config()."""

    def __init__(self, workdir, sandbox, printers, products=None, workers=2, client="client",
                 platform=None, extra="", log_level="debug", profiles_dir=PROFILES_DIR):
        super().__init__(workdir, sandbox.api_port, "", client)  # paths, then our own config
        self.log_level = log_level  # --log-level of every start
        with open(self.config, "w") as f:
            f.write(agent_config(sandbox.api_port, tl.CERTS, self.state, printers, products,
                                 workers, profiles_dir=profiles_dir, client=client,
                                 platform=platform, extra=extra))
        self.starts = 0
        self.kills = 0
        self.err = None

    def _log_size(self):
        try:
            return os.path.getsize(self.stderr_path)
        except FileNotFoundError:
            return 0

    def start(self, timeout=WAIT_READY):
        """Start and wait (bounded) for the ready line this start writes."""
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError("the agent is already running")
        offset = self._log_size()
        self.err = open(self.stderr_path, "a")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("JOURNAL_STREAM", None)
        self.proc = subprocess.Popen(
            [tl.LABAGENT, "--config", self.config, "--state-dir", self.state,
             "--log-level", self.log_level], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self.err, env=env, preexec_fn=_pdeathsig)
        self.starts += 1

        def ready():
            with open(self.stderr_path, errors="replace") as f:
                f.seek(offset)
                return "ready: lab test-lab" in f.read() or self.proc.poll() is not None
        wait_until(ready, timeout, "the agent to be ready (start %d)" % self.starts, 0.05)
        if self.proc.poll() is not None:
            raise AssertionError("agent exited %d at start %d:\n%s"
                                 % (self.proc.returncode, self.starts, self.tail()))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def control_socket(self):
        """The console socket agent_config() names (beside the state dir)."""
        return os.path.join(os.path.dirname(self.state.rstrip("/")), "control.sock")

    def labctl(self, *args, json_out=False):
        """labctl (LABCTL in the environment) on this agent's console as root:
        (exit code, stdout, stderr)."""
        return labctl(self.control_socket, *args, json_out=json_out)

    def kill(self):
        """SIGKILL (a crash); no-op when it is not running."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.kills += 1
            self.proc.wait(timeout=WAIT_STOP)
        if self.err:
            self.err.close()
            self.err = None

    def stop(self):
        """SIGTERM; returns the exit code (AssertionError when it takes over 10 s)."""
        rc = super().stop()
        if self.err:
            self.err.close()
            self.err = None
        return rc

    def restart(self, kill=False):
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def log(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def tail(self, lines=40):
        return tail_of(self.stderr_path, lines)

    def has_table(self, name):
        try:
            return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                   "AND name = ?", name))
        except sqlite3.OperationalError:
            return False

    def jobs(self):
        """{id: row} of the jobs table (id, state, reason, detail, quantity, sku, ...)."""
        return {r["id"]: dict(r) for r in self.query("SELECT * FROM jobs")}

    def renders(self):
        """[row] of the renders table (job_id, printer, output_path, audit)."""
        return [dict(r) for r in self.query("SELECT * FROM renders ORDER BY id")]

    def copies(self):
        """[row] of the print stage's copies table (job_id, copy, state, printer, attempt,
        handle, ...); [] while this build has no such table."""
        if not self.has_table("copies"):
            return []
        return [dict(r) for r in self.query("SELECT * FROM copies")]


def labctl(sock, *args, json_out=False, timeout=20, user=None, groups=None, parse=True):
    """Run labctl (the binary LABCTL in the environment names) on a console socket, as
    root, or as uid/gid user with the supplementary gids groups (none: no group):
    (exit code, stdout, stderr); --json output parsed when json_out, parse and it
    exits 0."""
    binary = os.environ.get("LABCTL", "")
    if not binary or not os.access(binary, os.X_OK):
        raise AssertionError("LABCTL must name the labctl binary (it is %r)" % binary)
    cmd = [binary, "--socket", sock] + (["--json"] if json_out else []) + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user,
               "--groups=%s" % ",".join(str(g) for g in groups) if groups else "--clear-groups",
               "--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    out = p.stdout
    if json_out and parse and p.returncode == 0:
        out = json.loads(p.stdout)
    return p.returncode, out, p.stderr


def labctl_json(sock, *args, **kw):
    """labctl --json's answer (parsed); AssertionError when it exits other than 0."""
    rc, out, err = labctl(sock, *args, json_out=True, **kw)
    if rc != 0:
        raise AssertionError("labctl %s exited %d: %s%s" % (" ".join(args), rc, out, err))
    return out


# ---------------------------------------------------------------- platform

class Platform(tl.Sandbox):
    """The sandbox platform (test_link.Sandbox) with bulk jobs and outages."""

    def add_bulk_jobs(self, n, seed=1, prefix="job-", skus=("print-4x6-glossy",
                                                            "print-5x7-matte"),
                      quantities=(1, 1, 2, 3), orders=None, **spec):
        """Offer n jobs '<prefix>0001'.. with SKUs and quantities drawn from a
        random.Random(seed) (so a seed always gives the same jobs), grouped into
        orders of up to 3 jobs; spec keys (e.g. asset_bytes) go into each job.
        Returns the job specs offered ({"id", "order_id", "sku", "quantity", ...})."""
        rng = random.Random(seed)
        jobs = []
        for i in range(1, n + 1):
            j = {"id": "%s%04d" % (prefix, i),
                 "order_id": "%sord-%d" % (prefix, (i - 1) // (orders or 3)),
                 "sku": rng.choice(list(skus)), "quantity": rng.choice(list(quantities))}
            j.update(spec)
            jobs.append(j)
        for k in range(0, len(jobs), 200):  # bounded control bodies
            self.add_jobs(jobs[k:k + 200])
        return jobs

    def down(self):
        """The API unreachable: open connections shut, new ones reset (port kept)."""
        return self.call("POST", "/control/down")

    def up(self):
        return self.call("POST", "/control/up")

    def status(self):
        return self.call("GET", "/control/status")

    def violations(self):
        return self.call("GET", "/control/violations")["violations"]

    def events_of(self, kind):
        """Events of one kind, in order of first receipt."""
        return [e for e in self.events() if e["kind"] == kind]


# ---------------------------------------------------------------- verdict

def verdict(expected, printed, received=None, events=None):
    """The exactly-once verdict (pure).

    expected  {job id: number of copies} that must each be printed exactly once
    printed   {printer name: [job name '<job>/<copy>/<attempt>', ...]} what came out
    received  optional, same shape: what each printer received (kept files),
              to show resubmissions (extra attempts are fine, extra prints are not)
    events    optional: the sandbox's events ([{"kind", "job_id", ...}])

    Returns a dict:
      copies      {(job, copy): {"printed": n, "printers": [..], "attempts": [..],
                                 "received": n}} for every expected copy and every
                  copy that printed
      duplicates  [(job, copy, n, printers)] printed more than once
      missing     [(job, copy)] expected, never printed
      unexpected  [(printer, name)] printed but not expected (unknown job, copy out of
                  range, or not a job name)
      events      {job: {"printed": number of job.printed events, "kinds": [kinds]}}
                  for every expected job (only when events is given)
      events_missing    jobs with every copy printed but no job.printed event
      events_duplicate  jobs with more than one job.printed event
      events_premature  jobs with a job.printed event but copies missing
      ok          True when no duplicates, missing, unexpected, and (with events)
                  every job with exactly one job.printed
    """
    copies = {}
    for job, n in expected.items():
        for c in range(1, n + 1):
            copies[(job, c)] = {"printed": 0, "printers": [], "attempts": [], "received": 0}
    unexpected = []
    for printer in sorted(printed):
        for name in printed[printer]:
            f = parse_job_name(name)
            if f is None or f[0] not in expected or not 1 <= f[1] <= expected[f[0]]:
                unexpected.append((printer, name))
                if f is None:
                    continue
            rec = copies.setdefault((f[0], f[1]), {"printed": 0, "printers": [],
                                                   "attempts": [], "received": 0})
            rec["printed"] += 1
            rec["printers"].append(printer)
            rec["attempts"].append(f[2])
    for printer in sorted(received or {}):
        for name in received[printer]:
            f = parse_job_name(name)
            if f and (f[0], f[1]) in copies:
                copies[(f[0], f[1])]["received"] += 1
    duplicates = [(j, c, r["printed"], r["printers"]) for (j, c), r in sorted(copies.items())
                  if r["printed"] > 1]
    missing = [(j, c) for (j, c), r in sorted(copies.items())
               if j in expected and c <= expected[j] and r["printed"] == 0]
    out = {"copies": copies, "duplicates": duplicates, "missing": missing,
           "unexpected": unexpected}
    ok = not duplicates and not missing and not unexpected
    if events is not None:
        per_job = {job: {"printed": 0, "kinds": []} for job in expected}
        for e in events:
            job = e.get("job_id")
            if job in per_job:
                per_job[job]["kinds"].append(e["kind"])
                if e["kind"] == "job.printed":
                    per_job[job]["printed"] += 1
        done = {job for job in expected
                if all(copies[(job, c)]["printed"] >= 1 for c in range(1, expected[job] + 1))}
        out["events"] = per_job
        out["events_missing"] = sorted(j for j in done if per_job[j]["printed"] == 0)
        out["events_duplicate"] = sorted(j for j in per_job if per_job[j]["printed"] > 1)
        out["events_premature"] = sorted(j for j in per_job
                                         if per_job[j]["printed"] and j not in done)
        ok = ok and not (out["events_missing"] or out["events_duplicate"]
                         or out["events_premature"])
    out["ok"] = ok
    return out


def format_verdict(v, limit=20):
    """A short human-readable account of a verdict, for assertion messages."""
    lines = ["exactly-once verdict: %s (%d copies)" % ("ok" if v["ok"] else "FAILED",
                                                       len(v["copies"]))]
    for key in ("duplicates", "missing", "unexpected", "events_missing", "events_duplicate",
                "events_premature"):
        items = v.get(key) or []
        if items:
            lines.append("  %s (%d): %s%s" % (key, len(items), items[:limit],
                                              " ..." if len(items) > limit else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------- test case

class FleetTestCase(tl.AgentTestCase):
    """A temp dir, a sandbox, printers, minilabs and agents, all ended in tearDown
    (the dir kept and named on failure); the sandbox's contract check after every test."""

    def setUp(self):
        super().setUp()
        os.rmdir(self.dir)
        self.dir = tempfile.mkdtemp(prefix="labagent-fleet-")
        self.printers = []
        self.minilabs = []
        self.cups = []
        self.watchers = []  # KillOnReceiptProxy / HotFolderWatcher

    def tearDown(self):
        failed = not self._outcome_ok()
        for a in self.agents:
            if failed and os.path.exists(a.stderr_path):
                print("---- agent log tail (%s) ----\n%s" % (a.stderr_path, a.tail(30)),
                      file=sys.stderr)
        for w in self.watchers:
            try:
                w.stop()
            except Exception as e:  # noqa: BLE001
                print("stopping %s: %s" % (w, e), file=sys.stderr)
        for c in self.cups:
            if failed:
                print("---- cupsd %s error_log tail ----\n%s" % (c.name, c.error_log(20)),
                      file=sys.stderr)
            try:
                c.stop()
            except Exception as e:  # noqa: BLE001
                print("stopping cupsd %s: %s" % (c.name, e), file=sys.stderr)
        for p in self.printers:
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001  (every peer is stopped whatever happens)
                print("stopping printer %s: %s" % (p.name, e), file=sys.stderr)
        for m in self.minilabs:
            try:
                m.stop()
            except Exception as e:  # noqa: BLE001
                print("stopping minilab %s: %s" % (m.name, e), file=sys.stderr)
        for a in self.agents:
            if a.proc is not None and a.proc.poll() is None:
                try:
                    a.stop()
                except AssertionError:
                    a.kill()
        super().tearDown()

    def sandbox(self, server="server"):
        s = Platform(self.dir, server)
        self.sandboxes.append(s)
        return s

    def ipp_printer(self, name, model="dnp-ds620", start=True, **kw):
        p = IppPrinter(self.dir, name, model, **kw)
        self.printers.append(p)
        return p.start() if start else p

    def minilab(self, name, start=True, **kw):
        m = Minilab(self.dir, name, **kw)
        self.minilabs.append(m)
        return m.start() if start else m

    def cups_queue(self, name, printer, start=True, **kw):
        """A cupsd with queue name to printer (an IppPrinter), stopped in tearDown."""
        c = CupsQueue(self.dir, name, printer, **kw)
        self.cups.append(c)
        return c.start() if start else c

    def gutenprint_cups(self, start=True, **kw):
        """A GutenprintCups (queues ds620 and d90; usb_media=300 adds ds620usb), stopped
        in tearDown."""
        c = GutenprintCups(self.dir, **kw)
        self.cups.append(c)
        return c.start() if start else c

    def proxy(self, target_port, name="proxy"):
        """A KillOnReceiptProxy in front of 127.0.0.1:target_port, stopped in tearDown."""
        p = KillOnReceiptProxy(target_port, name)
        self.watchers.append(p)
        return p.start()

    def hotfolder_watcher(self, minilab):
        """A HotFolderWatcher on a Minilab's folder, stopped in tearDown."""
        w = HotFolderWatcher(minilab)
        self.watchers.append(w)
        return w.start()

    def torture_printers(self):
        """The torture lab's printers: two fast ippeveprinters (ds620, cpd90) and a
        Noritsu minilab (qss-3701), started."""
        ds620 = self.ipp_printer("ds620", "dnp-ds620", delay=0.05)
        cpd90 = self.ipp_printer("cpd90", "mitsubishi-cp-d90", delay=0.05,
                                 make="Mitsubishi CP-D90DW (labagent fleet)")
        qss = self.minilab("qss-3701", model="noritsu-qss-3701", time_limit=900)
        return ds620, cpd90, qss

    def fleet_agent(self, sandbox, printers, **kw):
        """An agent for printers (IppPrinter / Minilab objects or config_entry() dicts)."""
        entries = [p if isinstance(p, dict) else p.config_entry() for p in printers]
        a = FleetAgent(self.dir, sandbox, entries, **kw)
        self.agents.append(a)
        return a


def make_jpeg(asset_id, size=None, width=1200, height=1800):
    """The sandbox's deterministic JPEG (a real baseline JPEG), for files a test submits."""
    spec = importlib.util.spec_from_file_location("labsandbox", SANDBOX_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_jpeg(asset_id, size, width, height)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(doc, peers=True):
    """Run the calling test file: usage 'FILE LABAGENT EVENT_WRITER [unittest args]'.
    Starts D-Bus/avahi if nobody did (and stops only those; peers=False: never, for
    tests without ippeveprinter), makes certificates."""
    state_dir = tempfile.mkdtemp(prefix="labagent-fleet-peers-")
    need = peers
    peers = Peers(os.path.join(state_dir, "peers.state"))
    try:
        if need and len(sys.argv) >= 3:
            peers.start()
        return tl.main(module="__main__", doc=doc)
    finally:
        peers.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
