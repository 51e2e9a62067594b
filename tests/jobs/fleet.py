#!/usr/bin/python3
"""fleet.py - a harness for end-to-end tests of the whole agent: the real
labagent binary, the sandbox platform, real IPP printers (ippeveprinter) and
a test minilab on a hot folder, all on loopback (standard library only).

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
                through ipptool.
  Minilab       tests/printer-hotfolder/minilab.py on its own hot folder
                (format generic by default), with a time limit; consumed(),
                printed_job_names() (items it finished), violations().
  agent_config  the labagent.yaml text for a sandbox port, certificates dir,
                printers (IppPrinter / Minilab .config_entry() dicts),
                products, render.workers, profiles.directory = the repo's
                profiles/.
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
  parse_kept_name / parse_job_name / item_to_job_name
                file names and hot-folder items back to (job id, copy, attempt).
  verdict       pure: expected copies + what each printer printed (+ what it
                received, + the sandbox's events) -> per (job, copy) counts,
                duplicates, missing, unexpected, and the job.printed events
                per job. format_verdict() for an assertion message.
  FleetTestCase unittest base (test_link.AgentTestCase): self.sandbox(),
                self.ipp_printer(), self.minilab(), self.fleet_agent(); all
                cleaned up in tearDown.
  main(doc)     run a test file: peers up, certificates, unittest, peers down.

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
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
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
# killed before it did not print.
JOB_SCRIPT = """\
#!/bin/sh
# fleet.py job script: simulated print time, faults, and the print ledger.
here=$(dirname "$0")
delay=$(cat "$here/delay" 2>/dev/null || echo 0)
fault=$(cat "$here/fault" 2>/dev/null || true)
name=$(basename "$1")
case "$fault" in
media-empty)
        echo 'STATE: +media-empty-error' >&2
        echo 'ERROR: Ribbon end' >&2
        echo "$name" >>"$here/failed.log"
        exit 1 ;;
esac
if [ "$delay" != 0 ]; then
        sleep "$delay"
fi
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


def ipp_request(port, operation, attrs, timeout=IPP_TIMEOUT, path="/ipp/print"):
    """One IPP request to 127.0.0.1:port; attrs: [(tag, name, value(s))] after the
    charset/language/printer-uri. Returns (status code, [(group tag, {name: [values]})]).
    Integers/enums/booleans are decoded, strings as str, the rest raw bytes
    (collection members are folded into the attribute before them)."""
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
        elif tag in IPP_TAGS_STR:
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
        """None, or 'media-empty': each document is aborted with media-empty-error ("Ribbon end").
        After a media-empty the printer holds every further job until refill()."""
        if fault not in (None, "media-empty"):
            raise ValueError("unknown fault %r" % fault)
        with open(os.path.join(self.dir, "fault"), "w") as f:
            f.write((fault or "") + "\n")

    def refill(self):
        """Clear media-empty (the /media web form with a full tray): held jobs go on."""
        return http_get(self.port, "/media?size0=na_index-4x6_4x6in&type0=photographic-glossy"
                        "&level0=700")

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
        if fmt == "generic":  # labagent makes them too; minilab.py needs them to take work up
            for area in ("processing", "done", "error", "canceled"):
                os.mkdir(os.path.join(self.folder, area))
        elif fmt == "dnp":
            for size in ("4x6", "5x7"):
                os.mkdir(os.path.join(self.folder, size))
        self.proc = None
        self.exit_codes = []

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
        """Job names of the items it finished successfully (done)."""
        return self._names_in("done")

    def failed_job_names(self):
        return self._names_in("error")


# ---------------------------------------------------------------- agent config

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+-][A-Za-z0-9_./:@%+ -]*$")
_NOT_PLAIN = re.compile(r"^(true|false|null|~|yes|no|on|off|[-+]?[0-9.].*)$", re.I)


def _scalar(v):
    """A YAML scalar the strict loader takes for the value's type."""
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
                 platform=None, extra="", log_level="debug"):
        super().__init__(workdir, sandbox.api_port, "", client)  # paths, then our own config
        self.log_level = log_level  # --log-level of every start
        with open(self.config, "w") as f:
            f.write(agent_config(sandbox.api_port, tl.CERTS, self.state, printers, products,
                                 workers, client=client, platform=platform, extra=extra))
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

    def tearDown(self):
        failed = not self._outcome_ok()
        for a in self.agents:
            if failed and os.path.exists(a.stderr_path):
                print("---- agent log tail (%s) ----\n%s" % (a.stderr_path, a.tail(30)),
                      file=sys.stderr)
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


def main(doc):
    """Run the calling test file: usage 'FILE LABAGENT EVENT_WRITER [unittest args]'.
    Starts D-Bus/avahi if nobody did (and stops only those), makes certificates."""
    state_dir = tempfile.mkdtemp(prefix="labagent-fleet-peers-")
    peers = Peers(os.path.join(state_dir, "peers.state"))
    try:
        if len(sys.argv) >= 3:
            peers.start()
        return tl.main(module="__main__", doc=doc)
    finally:
        peers.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
