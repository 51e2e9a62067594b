#!/usr/bin/python3
"""minilab.py - a test minilab for the hot-folder driver (standard library only).

Why: the driver's tests need a real peer on the other side of the folder that
behaves like a minilab front-end: it polls the hot folder, takes up every
ready item of its format, and answers as docs/hotfolders.md says (succeed,
fail with an error text, or ignore the work so the printer stalls). It also
checks the driver's promise that a ready item is always complete: every item
it sees in the ready area must be whole (sidecar bytes/sha256, a complete
DPOF job file, JPEG start and end markers), otherwise it exits 3. Like a
real minilab it ignores every name starting with '.': the driver's
temporary files and its own memory, .labagent/, are never work (nor, for
dnp, a size folder).

Usage: minilab.py --format generic|noritsu|dnp --folder DIR
                  --mode succeed|fail|ignore|accept [--error TEXT]
                  [--items N] [--time-limit S] [--poll MS] [--hold MS]
  succeed  take up each item and mark it printed
  fail     take up each item and mark it failed with --error TEXT
  accept   take up each item and hold it (processing) until the time limit
  ignore   only look (still checks completeness): work is never taken up
Exits 0 after --items items were handled (or at the time limit when --items
is not given, or in ignore/accept mode), 2 at the time limit with items
missing, 3 on an incomplete ready item. The loop always ends at --time-limit.
"""

import argparse
import hashlib
import json
import os
import re
import signal
import sys
import time

DNP_COPY = re.compile(r"^[A-Za-z0-9-][A-Za-z0-9._%-]*~[1-9][0-9]{0,2}\.(jpg|tif)$")


class Violation(Exception):
    """A ready item was not complete."""


def jpeg_whole(path):
    """True when the file starts with SOI and ends with EOI (our fake JPEGs do)."""
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size < 4:
            return False
        f.seek(size - 2)
        tail = f.read(2)
    return head == b"\xff\xd8" and tail == b"\xff\xd9"


def write_atomic(path, text):
    """Write a reply file under a temporary name and rename it into place."""
    tmp = os.path.join(os.path.dirname(path), ".minilab-" + os.path.basename(path))
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def sleep_ms(ms):
    if ms > 0:
        time.sleep(ms / 1000.0)


class Generic:
    """<item>.<ext> + <item>.json in the folder; processing/, done/, error/."""

    def __init__(self, folder):
        self.folder = folder

    def ready(self):
        out = []
        for name in sorted(os.listdir(self.folder)):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            path = os.path.join(self.folder, name)
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                continue  # canceled under our feet
            try:
                side = json.loads(raw)
            except ValueError as e:
                raise Violation("sidecar %s does not parse: %s" % (name, e))
            for key in ("job_name", "item", "copies", "media", "file", "bytes", "sha256"):
                if key not in side:
                    raise Violation("sidecar %s lacks %s" % (name, key))
            fpath = os.path.join(self.folder, side["file"])
            try:
                with open(fpath, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                if not os.path.exists(path):
                    continue  # canceled: sidecar and file went away
                raise Violation("sidecar %s is there but not its file %s" % (name, side["file"]))
            if len(data) != side["bytes"] or hashlib.sha256(data).hexdigest() != side["sha256"]:
                raise Violation("%s: %d bytes, sidecar says %d (or sha256 differs)"
                                % (side["file"], len(data), side["bytes"]))
            out.append((name[:-5], side))
        return out

    def take(self, item, side):
        try:
            os.rename(os.path.join(self.folder, item + ".json"),
                      os.path.join(self.folder, "processing", item + ".json"))
        except FileNotFoundError:
            return False  # the agent canceled it first
        os.rename(os.path.join(self.folder, side["file"]),
                  os.path.join(self.folder, "processing", side["file"]))
        return True

    def finish(self, item, side, ok, text):
        area = "done" if ok else "error"
        if not ok:
            write_atomic(os.path.join(self.folder, "error", item + ".error"), text)
        os.rename(os.path.join(self.folder, "processing", side["file"]),
                  os.path.join(self.folder, area, side["file"]))
        os.rename(os.path.join(self.folder, "processing", item + ".json"),
                  os.path.join(self.folder, area, item + ".json"))


class Noritsu:
    """Order folders <item>/ (IMAGE/, MISC/AUTPRINT.MRK); renamed _acc_, _done_, _err_."""

    def __init__(self, folder):
        self.folder = folder

    def ready(self):
        out = []
        for name in sorted(os.listdir(self.folder)):
            if name.startswith("_") or name.startswith("."):
                continue
            path = os.path.join(self.folder, name)
            if not os.path.isdir(path):
                continue
            try:
                with open(os.path.join(path, "MISC", "AUTPRINT.MRK"), "rb") as f:
                    mrk = f.read().decode("ascii")
            except FileNotFoundError:
                if not os.path.exists(path):
                    continue
                raise Violation("order folder %s has no MISC/AUTPRINT.MRK" % name)
            lines = mrk.split("\r\n")
            if lines[0] != "[HDR]" or "GEN REV = 01.10" not in lines or "[JOB]" not in lines \
                    or "VUQ RGN = END" not in lines:
                raise Violation("order folder %s: incomplete AUTPRINT.MRK" % name)
            src = [l for l in lines if l.startswith("<IMG SRC = ")]
            m = re.match(r'^<IMG SRC = "\.\./IMAGE/([A-Z0-9]{1,8}\.(JPG|TIF))">$', src[0] if src else "")
            if not m:
                raise Violation("order folder %s: no IMG SRC" % name)
            if not jpeg_whole(os.path.join(path, "IMAGE", m.group(1))):
                raise Violation("order folder %s: IMAGE/%s is not whole" % (name, m.group(1)))
            out.append((name, None))
        return out

    def take(self, item, _):
        try:
            os.rename(os.path.join(self.folder, item), os.path.join(self.folder, "_acc_" + item))
        except FileNotFoundError:
            return False
        return True

    def finish(self, item, _, ok, text):
        acc = os.path.join(self.folder, "_acc_" + item)
        if ok:
            os.rename(acc, os.path.join(self.folder, "_done_" + item))
        else:
            write_atomic(os.path.join(acc, "ERROR.TXT"), text)
            os.rename(acc, os.path.join(self.folder, "_err_" + item))


class Dnp:
    """<size>/<item>~<k>.jpg; renamed .printing, .printed, .error (+ .error.txt)."""

    def __init__(self, folder):
        self.folder = folder

    def ready(self):
        out = []
        for size in sorted(os.listdir(self.folder)):
            sdir = os.path.join(self.folder, size)
            if size.startswith(".") or not os.path.isdir(sdir):
                continue
            for name in sorted(os.listdir(sdir)):
                if not DNP_COPY.match(name):
                    continue
                try:
                    whole = jpeg_whole(os.path.join(sdir, name))
                except FileNotFoundError:
                    continue
                if not whole:
                    raise Violation("%s/%s is not whole" % (size, name))
                out.append((os.path.join(size, name), None))
        return out

    def take(self, item, _):
        path = os.path.join(self.folder, item)
        try:
            os.rename(path, path + ".printing")
        except FileNotFoundError:
            return False
        return True

    def finish(self, item, _, ok, text):
        path = os.path.join(self.folder, item)
        if ok:
            os.rename(path + ".printing", path + ".printed")
        else:
            write_atomic(path + ".error.txt", text)
            os.rename(path + ".printing", path + ".error")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", required=True, choices=["generic", "noritsu", "dnp"])
    ap.add_argument("--folder", required=True)
    ap.add_argument("--mode", required=True, choices=["succeed", "fail", "ignore", "accept"])
    ap.add_argument("--error", default="minilab error")
    ap.add_argument("--items", type=int, default=-1)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--poll", type=int, default=10)
    ap.add_argument("--hold", type=int, default=0)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    lab = {"generic": Generic, "noritsu": Noritsu, "dnp": Dnp}[a.format](a.folder)
    deadline = time.monotonic() + a.time_limit
    handled = 0
    seen = set()
    while time.monotonic() < deadline:
        try:
            ready = lab.ready()
        except Violation as e:
            print("minilab: VIOLATION: %s" % e, file=sys.stderr)
            return 3
        except FileNotFoundError:
            ready = []  # the folder itself went away; keep looking
        for item, side in ready:
            if a.mode == "ignore":
                if item not in seen:
                    seen.add(item)
                    print("minilab: saw %s (ignoring)" % item, file=sys.stderr)
                continue
            if not lab.take(item, side):
                continue
            print("minilab: took up %s" % item, file=sys.stderr)
            if a.mode == "accept":
                continue
            sleep_ms(a.hold)
            lab.finish(item, side, a.mode == "succeed", a.error)
            handled += 1
            if a.items >= 0 and handled >= a.items:
                return 0
        sleep_ms(a.poll)
    if a.items >= 0 and a.mode in ("succeed", "fail") and handled < a.items:
        print("minilab: time limit with %d of %d items handled" % (handled, a.items),
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
