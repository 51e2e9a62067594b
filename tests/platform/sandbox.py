#!/usr/bin/python3
"""tests/platform/sandbox.py - the central platform, small enough to trust.

Why this exists: labagent is only as good as its behaviour against the
platform of docs/protocol.md, and the real platform cannot be told to lose a
response, reassign a job at the worst moment or cut a download in half. The
sandbox serves exactly that contract (mutual TLS, long poll, accept, assets
with Range, events, reconcile, devices, idempotency keys, problem+json) and a
second, plain-HTTP control listener on loopback through which a test adds
jobs, cancels and reassigns them, queues faults, takes the platform down and
reads back everything the agent sent.

The one idea: the sandbox is strict where the contract is strict (it rejects
what the platform would reject and records, under /control/violations, what a
real platform would only frown at), and every answer comes from explicit state
a test can inspect. It must never need anything beyond Python's standard
library, never listen on anything but the addresses it is given (the control
API only ever on 127.0.0.1), and never block without a bound.

Run: /usr/bin/python3 sandbox.py --cert server.pem --key server.key
         --client-ca ca.pem [--port 0] [--control-port 0]
It prints {"api_port": N, "control_port": M, ...} as one line on stdout once
both listeners are up. See README.md in this directory.
"""

import argparse
import base64
import calendar
import collections
import contextlib
import hashlib
import http.server
import json
import math
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse

MAX_BODY = 1024 * 1024  # request bodies, as the contract caps them
MAX_DRAIN = 16 * MAX_BODY  # an oversized body read and dropped before the 413
MAX_EVENTS = 100  # events per batch
MAX_WAIT = 300  # long-poll seconds
DEFAULT_WAIT = 25
MAX_ASSET = 256 * 1024 * 1024  # generated or uploaded print masters
MAX_CONTROL_BODY = 384 * 1024 * 1024  # base64 of MAX_ASSET, and then some
MAX_DELAY = 600  # seconds a "delay" fault may hold a response
LOG_MAX = 100000  # request log entries kept (oldest dropped)
DEVICE_PUTS_MAX = 1000  # device list PUTs kept with their bodies (oldest dropped)
HANDSHAKE_TIMEOUT = 10
PROBLEM_BASE = "https://labs.example-photo.com/problems/"
DEFAULT_SKU = "print-4x6-glossy"

PROBLEM_TITLES = {
    "bad_request": "The request is malformed",
    "unauthenticated": "No valid client certificate",
    "lab_mismatch": "The request is not for the certificate's lab",
    "certificate_revoked": "The lab's certificate was revoked",
    "job_not_found": "No such job for this lab",
    "asset_not_found": "No such asset for this lab",
    "not_found": "No such resource",
    "method_not_allowed": "Method not allowed here",
    "lease_lost": "The job's lease was lost",
    "job_reassigned": "The job was reassigned to another lab",
    "job_canceled": "The job was canceled",
    "idempotency_key_reused": "The Idempotency-Key was used for another request",
    "too_large": "The request is too large",
    "range_not_satisfiable": "The requested range is not satisfiable",
    "rate_limited": "Too many requests",
    "unavailable": "The platform is temporarily unavailable",
    "internal_error": "Internal error",
}
STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "lab_mismatch",
                404: "not_found", 409: "lease_lost", 413: "too_large",
                429: "rate_limited", 503: "unavailable"}

# Ids (job, asset, lab in paths): docs/protocol.md "Ids"; "." and ".." are no ids.
ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RAW_ID_MAX = 4096  # a raw offer's id: any string up to this long (a test's, never a path)
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?[Zz]")
SHA_RE = re.compile(r"[0-9a-f]{64}")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_log_lock = threading.Lock()


def log(msg):
    """Write one line to stderr (the sandbox's only diagnostic channel)."""
    with _log_lock:
        sys.stderr.write("sandbox: %s\n" % msg)
        sys.stderr.flush()


def rfc3339(ts, ms=False):
    """Format a POSIX time as RFC 3339 UTC, optionally with milliseconds."""
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    if ms:
        s += ".%03d" % int((ts % 1) * 1000)
    return s + "Z"


def parse_rfc3339(s):
    """Parse a UTC RFC 3339 time (Z suffix) to a POSIX time, or None."""
    if not isinstance(s, str) or not TIME_RE.fullmatch(s):
        return None
    try:
        base = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    return base + (float("0" + s[19:-1]) if s[19] == "." else 0.0)


def is_id(v):
    """True for an id of the contract's grammar."""
    return isinstance(v, str) and ID_RE.fullmatch(v) is not None and v not in (".", "..")


def is_int(v):
    """True for a JSON integer (bool is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def canonical(body):
    """A fingerprint of a request body: canonical JSON if it parses, else bytes."""
    try:
        obj = json.loads(body.decode("utf-8"))
        data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        data = body
    return hashlib.sha256(data).hexdigest()


def parse_json_body(body):
    """Parse a JSON request body; returns (object, error text)."""
    def no_constants(name):
        raise ValueError("%s is not JSON" % name)
    try:
        return json.loads(body.decode("utf-8"), parse_constant=no_constants), None
    except UnicodeDecodeError:
        return None, "body is not UTF-8"
    except ValueError as e:
        return None, "body is not JSON: %s" % e


# ---------------------------------------------------------------- responses

class Resp:
    """One HTTP response: status, headers (name, value) and body bytes."""

    def __init__(self, status, body=b"", ctype=None, headers=None):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        if ctype:
            self.headers.insert(0, ("Content-Type", ctype))
        self.replayed = False
        self.close = False  # close the connection without answering


def json_resp(status, obj, headers=None):
    """A JSON response."""
    return Resp(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)


def problem(status, code, detail, headers=None, **extra):
    """An RFC 9457 problem+json response with the contract's stable code."""
    obj = {"type": PROBLEM_BASE + code.replace("_", "-"),
           "title": PROBLEM_TITLES.get(code, code.replace("_", " ")),
           "status": status, "detail": detail, "code": code}
    obj.update(extra)
    return Resp(status, json.dumps(obj).encode(), "application/problem+json", headers)


# ---------------------------------------------------------------- assets

def _segment(marker, payload):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_parts(width, height):
    """A baseline greyscale JPEG of WIDTHxHEIGHT, mid grey, split before COM.

    Every 8x8 block codes DC difference 0 and end-of-block, so the scan is
    two zero bits a block; the Huffman tables hold one 1-bit code each.
    libjpeg decodes it without a warning."""
    head = b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    nbits = 2 * blocks
    scan = b"\x00" * (nbits // 8) + (bytes([0xFF >> (nbits % 8)]) if nbits % 8 else b"")
    tail = (_segment(0xDB, b"\x00" + b"\x01" * 64)
            + _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
            + _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
            + _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
            + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + scan + b"\xff\xd9")
    return head, tail


def make_jpeg(asset_id, size=None, width=1200, height=1800):
    """Deterministic print master for ASSET_ID: a valid JPEG padded with COM
    segments of pseudo-random bytes (seeded by the id) to exactly SIZE bytes.
    If SIZE is smaller than the smallest such JPEG, its first SIZE bytes
    (still starting with the JPEG signature, no longer decodable)."""
    rng = random.Random("labsandbox:" + asset_id)
    label = ("labagent sandbox asset %s " % asset_id).encode("ascii", "replace")[:200]
    head, tail = _jpeg_parts(width, height)
    if size is None:
        return head + _segment(0xFE, label + rng.randbytes(256)) + tail
    minimum = len(head) + 4 + len(label) + len(tail)
    if size < minimum:
        head, tail = _jpeg_parts(8, 8)
        minimum = len(head) + 4 + len(label) + len(tail)
        if size < minimum:
            whole = head + _segment(0xFE, label) + tail
            return whole[:size] if size <= len(whole) else whole
    extra = size - minimum
    cap = 65533 - len(label)  # what the label's COM segment still holds
    parts = [head]
    while extra > cap:
        n = min(65537, extra)  # a whole COM segment: 4 bytes + payload
        parts.append(_segment(0xFE, rng.randbytes(n - 4)))
        extra -= n
    parts.append(_segment(0xFE, label + rng.randbytes(extra)))
    parts.append(tail)
    data = b"".join(parts)
    assert len(data) == size
    return data


class Asset:
    """Bytes of one print master and what the job says about them."""

    def __init__(self, asset_id, lab, data, content_type):
        self.id = asset_id
        self.lab = lab
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.content_type = content_type


def parse_range(header, total):
    """Parse a Range header: (start, end) inclusive, None for 'serve all'
    (several ranges: allowed by RFC 9110), or 'bad' (answer 416)."""
    if "," in header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return "bad"
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0 or total == 0:
            return "bad"
        return max(0, total - n), total - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else total - 1
    if start >= total or end < start:
        return "bad"
    return start, min(end, total - 1)


# ---------------------------------------------------------------- jobs

class Job:
    """One job of the platform and where it stands with its lab."""

    def __init__(self, spec, asset, asset_url, now):
        self.id = spec["id"]
        self.lab = spec["lab"]
        self.spec = spec
        self.asset = asset
        self.asset_url = asset_url
        if "lease_expires_at" in spec:
            self.lease_expires = parse_rfc3339(spec["lease_expires_at"])
        else:
            self.lease_expires = now + spec.get("lease_seconds", 900)
        self.created_at = now
        self.accepted_at = None
        self.accept_count = 0
        self.cancel_reason = None
        self.cancel_confirmed = False
        self.reassigned_to = None
        self.lease_lost = False
        self.rejected = False
        self.dropped = False
        self.event_kinds = []
        self.raw = bool(spec.get("raw"))
        self.sticky = bool(spec.get("sticky"))

    def lease_expired(self, now):
        return self.lease_lost or now >= self.lease_expires

    def offered(self, now):
        """Listed under assignments: offered, not acted on, not withdrawn."""
        return (self.accepted_at is None and self.cancel_reason is None
                and self.reassigned_to is None
                and (not self.rejected or self.sticky)
                and not self.lease_expired(now))

    def cancellation_pending(self):
        """Listed under cancellations: accepted, canceled, not confirmed."""
        return (self.accepted_at is not None and self.cancel_reason is not None
                and not self.cancel_confirmed and self.reassigned_to is None)

    def state(self, now):
        if self.reassigned_to is not None:
            return "reassigned"
        if self.cancel_reason is not None:
            return "canceled"
        if self.rejected:
            return "rejected"
        if self.accepted_at is not None:
            return "accepted"
        if self.lease_expired(now):
            return "lease_lost"
        return "offered"

    def to_json(self):
        """The Job object of the protocol, with the test's overrides applied."""
        s = self.spec
        asset = {"url": self.asset_url,
                 "sha256": s.get("asset_sha256", self.asset.sha256),
                 "bytes": s.get("asset_claimed_bytes", len(self.asset.data))}
        if self.asset.content_type:
            asset["content_type"] = self.asset.content_type
        job = {"id": self.id,
               "order_id": s.get("order_id", "ord-" + self.id),
               "sku": s.get("sku", DEFAULT_SKU),
               "quantity": s.get("quantity", 1)}
        for key in ("priority", "deadline"):
            if key in s:
                job[key] = s[key]
        job["asset"] = asset
        for key in ("crop", "options"):
            if key in s:
                job[key] = s[key]
        job["lease_expires_at"] = rfc3339(self.lease_expires)
        for key, value in s.get("override", {}).items():
            if value is None:
                job.pop(key, None)
            else:
                job[key] = value
        return job

    def status(self, now):
        return {"id": self.id, "lab": self.lab, "state": self.state(now),
                "offered": self.offered(now),
                "accepted": self.accepted_at is not None,
                "accepted_at": rfc3339(self.accepted_at, True) if self.accepted_at else None,
                "accept_count": self.accept_count,
                "canceled": self.cancel_reason is not None,
                "cancel_reason": self.cancel_reason,
                "cancel_confirmed": self.cancel_confirmed,
                "cancellation_pending": self.cancellation_pending(),
                "reassigned": self.reassigned_to is not None,
                "reassigned_to": self.reassigned_to,
                "lease_expired": self.lease_expired(now),
                "rejected": self.rejected, "dropped": self.dropped,
                "raw": self.raw, "sticky": self.sticky,
                "events": list(self.event_kinds), "job": self.to_json()}


JOB_KEYS = {"id", "lab", "order_id", "sku", "quantity", "priority", "deadline",
            "crop", "options", "lease_seconds", "lease_expires_at", "asset_id",
            "asset_bytes", "asset_data_b64", "width", "height", "content_type",
            "asset_sha256", "asset_claimed_bytes", "override", "raw", "sticky"}


def check_job_spec(spec, default_lab):
    """Validate one job of POST /control/jobs; returns (spec, error)."""
    if not isinstance(spec, dict):
        return None, "each job must be an object"
    unknown = set(spec) - JOB_KEYS
    if unknown:
        return None, "unknown job keys %s (known: %s)" % (sorted(unknown), sorted(JOB_KEYS))
    spec = dict(spec)
    spec.setdefault("lab", default_lab)
    for key in ("raw", "sticky"):
        if key in spec and not isinstance(spec[key], bool):
            return None, "%s must be true or false" % key
    # A raw offer (a test of the lab's validation) may carry any string as its id;
    # every other id, and the raw offer's lab and asset, follow the grammar.
    for key in ("id", "lab", "asset_id"):
        if key == "id" and spec.get("raw"):
            if key in spec and not (isinstance(spec[key], str)
                                    and len(spec[key]) <= RAW_ID_MAX):
                return None, "a raw offer's id must be a string of at most %d characters" \
                    % RAW_ID_MAX
        elif key in spec and not is_id(spec[key]):
            return None, ("%s must be 1-128 characters from A-Z, a-z, 0-9, '.', '_', ':', '-', "
                          "and not '.' or '..'" % key)
    if "id" not in spec:
        return None, "a job needs an id"
    for key in ("order_id", "sku", "priority", "deadline", "content_type", "asset_sha256"):
        if key in spec and not isinstance(spec[key], str):
            return None, "%s must be a string" % key
    for key in ("crop", "options", "override"):
        if key in spec and not isinstance(spec[key], dict):
            return None, "%s must be an object" % key
    if "quantity" in spec and not is_int(spec["quantity"]):
        return None, "quantity must be an integer"  # out-of-range ones are allowed on purpose
    for key, low, high in (("asset_bytes", 1, MAX_ASSET), ("width", 1, 65535),
                           ("height", 1, 65535), ("lease_seconds", -86400, 86400 * 365),
                           ("asset_claimed_bytes", 0, 2 ** 62)):
        if key in spec and not (is_int(spec[key]) and low <= spec[key] <= high):
            return None, "%s must be an integer in %d..%d" % (key, low, high)
    if "lease_expires_at" in spec and parse_rfc3339(spec["lease_expires_at"]) is None:
        return None, "lease_expires_at must be an RFC 3339 UTC time"
    if "asset_data_b64" in spec:
        if "asset_bytes" in spec or "width" in spec or "height" in spec:
            return None, "asset_data_b64 excludes asset_bytes, width and height"
        try:
            spec["_data"] = base64.b64decode(spec["asset_data_b64"], validate=True)
        except (ValueError, TypeError):
            return None, "asset_data_b64 is not base64"
        if len(spec["_data"]) > MAX_ASSET:
            return None, "asset larger than %d bytes" % MAX_ASSET
    return spec, None


# ---------------------------------------------------------------- faults

FAULT_ACTIONS = {"status", "delay", "drop_after_bytes", "corrupt", "truncate",
                 "extra_bytes", "close", "duplicate_assignments"}
FAULT_KEYS = FAULT_ACTIONS | {"method", "path", "count", "retry_after", "code",
                              "detail", "raw_body", "content_type"}


class Fault:
    """A queued fault: applies to the next COUNT requests matching it."""

    def __init__(self, spec, n):
        self.n = n
        self.spec = spec
        self.method = spec.get("method", "*").upper()
        self.path = re.compile(spec.get("path", ""))
        self.count = spec.get("count", 1)
        self.hits = 0

    def matches(self, method, path):
        return (self.method in ("*", method)) and self.path.search(path) is not None

    def to_json(self):
        return dict(self.spec, id=self.n, remaining=self.count, hits=self.hits)


def check_fault(spec):
    """Validate one fault of POST /control/faults; returns an error or None."""
    if not isinstance(spec, dict):
        return "a fault must be an object"
    unknown = set(spec) - FAULT_KEYS
    if unknown:
        return "unknown fault keys %s (known: %s)" % (sorted(unknown), sorted(FAULT_KEYS))
    actions = set(spec) & FAULT_ACTIONS
    if not actions:
        return "a fault needs one of %s" % sorted(FAULT_ACTIONS)
    if "duplicate_assignments" in actions and len(actions) > 1:
        return "duplicate_assignments cannot be combined with other actions"
    try:
        re.compile(spec.get("path", ""))
    except re.error as e:
        return "path is not a regular expression: %s" % e
    if not isinstance(spec.get("method", "*"), str):
        return "method must be a string"
    if "count" in spec and not (is_int(spec["count"]) and 1 <= spec["count"] <= 1000000):
        return "count must be an integer in 1..1000000"
    if "status" in spec and not (is_int(spec["status"]) and 400 <= spec["status"] <= 599):
        return "status must be an integer in 400..599"
    if "retry_after" in spec and not ((is_int(spec["retry_after"]) and spec["retry_after"] >= 0)
                                      or isinstance(spec["retry_after"], str)):
        return "retry_after must be seconds (integer) or an HTTP date (string)"
    if "delay" in spec and not (isinstance(spec["delay"], (int, float))
                                and not isinstance(spec["delay"], bool)
                                and 0 <= spec["delay"] <= MAX_DELAY):
        return "delay must be seconds in 0..%d" % MAX_DELAY
    if "drop_after_bytes" in spec and not (is_int(spec["drop_after_bytes"])
                                           and spec["drop_after_bytes"] >= 0):
        return "drop_after_bytes must be an integer >= 0"
    if "extra_bytes" in spec and not (is_int(spec["extra_bytes"])
                                      and 1 <= spec["extra_bytes"] <= 8 * MAX_BODY):
        return "extra_bytes must be an integer in 1..%d" % (8 * MAX_BODY)
    for key in ("corrupt", "truncate", "close", "duplicate_assignments"):
        if key in spec and spec[key] is not True:
            return "%s must be true" % key
    for key in ("code", "detail", "raw_body", "content_type"):
        if key in spec and not isinstance(spec[key], str):
            return "%s must be a string" % key
    return None


# ---------------------------------------------------------------- events

def check_event(ev, i):
    """Validate the shape of one event; returns an error text or None."""
    where = "events[%d]" % i
    if not isinstance(ev, dict):
        return "%s is not an object" % where
    u = ev.get("uuid")
    if not (isinstance(u, str) and UUID_RE.fullmatch(u)):
        return "%s.uuid must be a UUID string" % where
    if not (is_int(ev.get("seq")) and ev["seq"] >= 0):
        return "%s.seq must be a non-negative integer" % where
    kind = ev.get("kind")
    if not (isinstance(kind, str) and 1 <= len(kind) <= 128):
        return "%s.kind must be a non-empty string" % where
    if ev.get("class") not in ("job", "telemetry"):
        return "%s.class must be \"job\" or \"telemetry\"" % where
    if parse_rfc3339(ev.get("at")) is None:
        return "%s.at must be an RFC 3339 UTC time" % where
    if not isinstance(ev.get("body"), dict):
        return "%s.body must be an object" % where
    if kind == "job.rejected":
        # An offer rejected because it is unusable carries its id as offered, as data:
        # any string, or none when the offer had no id that is a string.
        j = ev.get("job_id")
        if not (j is None or (isinstance(j, str) and len(j) <= 1024)):
            return "%s.job_id of job.rejected must be a string or absent" % where
    elif "job_id" in ev or kind.startswith("job."):
        j = ev.get("job_id")
        if not is_id(j):
            return "%s.job_id must be a job id (required for job.* kinds)" % where
    return None


# Body fields the contract gives the v1 kinds: a miss is a violation, not a 400.
EVENT_BODY = {
    "job.rejected": {"reason": str, "detail": str},
    "job.downloaded": {"bytes": int, "sha256": str, "sniffed_type": str},
    "job.failed": {"reason": str, "detail": str},
    "job.held": {"reason": str, "detail": str},
    "job.rendered": {"printer": str, "output": str, "audit": dict},
    "job.quality_warning": {"gamut_share": float, "threshold": float, "printer": str},
    "job.queued": {"printer": str, "copies": int},
    "job.printing": {"printer": str},
    "job.copy_printed": {"copy": int, "printer": str, "attempt": int, "job_name": str},
    "job.copy_aborted": {"copy": int, "printer": str, "attempt": int, "reason": str,
                         "job_state_reasons": list, "fault": (str, type(None))},
    "job.copy_failed": {"copy": int, "printer": str, "attempt": int, "reason": str,
                        "job_state_reasons": list, "fault": (str, type(None))},
    "job.copy_uncertain": {"copy": int, "printer": str, "attempt": int, "reason": str},
    "job.printed": {"printer": str, "copies": int, "quantity": int},
    "job.uncertain": {"printer": str, "uncertain": int, "printed": int},
    "job.rerouted": {"from": str, "reason": str, "detail": str},
    "job.deadline_at_risk": {"deadline": str, "prints_ahead": int},
    "job.defect": {"copy": int, "defect": str, "by": str, "reprint_copy": int, "printer": str,
                   "sku": str, "media": (str, type(None))},
    "lab.accepting": {"accepting": bool, "reason": str, "detail": str, "backlog": int},
    "job.canceled": {"by": str, "reached_printer": bool},
    "job.dropped": {"reason": str},
    "lab.started": {"version": str},
    "lab.certificate_expiring": {"not_after": str, "days_left": int, "severity": str},
    "lab.telemetry_shed": {"dropped": int},
}


def type_name(typ):
    """A contract type for a person: str, or "str or NoneType" for a tuple of types."""
    return " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__


# Members a kind may have; when present, of this type.
EVENT_BODY_OPTIONAL = {"job.rejected": {"field": str}}
EVENT_CLASS = {k: "job" for k in list(EVENT_BODY) + ["job.accepted"]}
# Printer health samples are telemetry: they may be shed, job events never.
EVENT_BODY["printer.status"] = {"printer": str, "available": bool, "state": str, "reason": str}
EVENT_CLASS["printer.status"] = "telemetry"
# A printer fault raised or cleared: job class, never shed.
EVENT_BODY["printer.fault"] = {"printer": str, "fault": str, "severity": str, "state": str,
                               "ipp_reasons": list, "message": str, "since": str,
                               "duration_s": int, "flapping": bool}
EVENT_CLASS["printer.fault"] = "job"


# ---------------------------------------------------------------- shapes
#
# The contract's nested bodies, checked member by member: the device list
# (PUT devices: a bad shape is a 400) and the stock and quality events (a bad
# body is an event_body violation). A shape is a Python type (int: a JSON
# integer, not a bool), NUMBER (an integer or a real), TIME (RFC 3339 UTC), or
# one of the tuples made by the helpers below. Objects stay open: members a
# shape does not name are allowed (both sides ignore what they do not know).

NUMBER = "number"
TIME = "time"
KEYWORD_RE = re.compile(r"[a-z][a-z0-9_]*")
SHAPE_NAMES = {str: "a string", bool: "true or false", list: "an array", dict: "an object"}


def nullable(shape):
    return ("null", shape)


def one_of(*values):
    return ("enum", values)


def list_of(shape):
    return ("list", shape)


def obj(required, optional=None):
    return ("obj", required, optional or {})


def at_least(low, shape=int):
    return ("min", low, shape)


def keyword_map(shape):
    """An object whose keys are snake_case keywords, each value of SHAPE."""
    return ("map", shape)


def check_shape(v, shape, where):
    """The first way V breaks SHAPE, as a sentence naming the member, or None."""
    if shape is int:
        return None if is_int(v) else "%s must be an integer" % where
    if shape is NUMBER:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return None if ok else "%s must be a number" % where
    if shape is TIME:
        return None if parse_rfc3339(v) is not None else \
            "%s must be an RFC 3339 UTC time" % where
    if isinstance(shape, type):
        return None if isinstance(v, shape) else "%s must be %s" % (where, SHAPE_NAMES[shape])
    tag = shape[0]
    if tag == "null":
        err = None if v is None else check_shape(v, shape[1], where)
        return err and err + " or null"
    if tag == "enum":
        return None if isinstance(v, str) and v in shape[1] else \
            "%s must be one of %s" % (where, ", ".join(shape[1]))
    if tag == "min":
        err = check_shape(v, shape[2], where)
        return err or (None if v >= shape[1] else "%s must be >= %s" % (where, shape[1]))
    if tag == "list":
        if not isinstance(v, list):
            return "%s must be an array" % where
        for i, item in enumerate(v):
            err = check_shape(item, shape[1], "%s[%d]" % (where, i))
            if err:
                return err
        return None
    if tag == "map":
        if not isinstance(v, dict):
            return "%s must be an object" % where
        for k, item in v.items():
            if not KEYWORD_RE.fullmatch(k):
                return "%s has the key %r, which is no keyword" % (where, k)
            err = check_shape(item, shape[1], "%s.%s" % (where, k))
            if err:
                return err
        return None
    if tag == "obj":
        if not isinstance(v, dict):
            return "%s must be an object" % where
        for name, sub in shape[1].items():
            if name not in v:
                return "%s.%s is missing" % (where, name)
            err = check_shape(v[name], sub, "%s.%s" % (where, name))
            if err:
                return err
        for name, sub in shape[2].items():
            if name in v:
                err = check_shape(v[name], sub, "%s.%s" % (where, name))
                if err:
                    return err
        return None
    raise ValueError("bad shape %r" % (shape,))


STOCK_KIND = one_of("paper", "ribbon", "ink", "toner", "packaging", "other")
STOCK_SOURCE = one_of("printer", "counted", "technician")
STOCK_UNIT = one_of("prints", "sheets", "metres", "percent")
MEDIA_LOADED = obj({"size": str, "type": str, "source": str})

# PUT /v1/labs/{lab}/devices (docs/protocol.md, "Devices").
DEVICES_SHAPE = obj({
    "printers": list_of(obj({
        "name": str,
        "driver": one_of("ipp", "hotfolder"),
        "make_model": nullable(str),
        "state": one_of("idle", "processing", "stopped", "unreachable", "unknown"),
        "available": bool,
        "reason": str,
        "media_supported": list_of(str),
        "media_loaded": list_of(MEDIA_LOADED),
        "supplies": list_of(obj({"name": str, "kind": str, "level": nullable(int),
                                 "remaining": nullable(NUMBER), "unit": str,
                                 "as_of": nullable(TIME)})),
        "consumables": list_of(obj({"item": str, "kind": str, "media": str, "unit": str,
                                    "capacity": nullable(NUMBER),
                                    "remaining": nullable(NUMBER), "state": str})),
        "impressions": nullable(int),
    })),
    "updated_at": TIME,
})

STOCK_THRESHOLD_BODY = obj({"printer": str, "item": str, "remaining": nullable(NUMBER),
                            "unit": STOCK_UNIT, "threshold": NUMBER, "source": STOCK_SOURCE})
QUALITY_WINDOW = obj({"printed": at_least(0), "defects": keyword_map(at_least(0)),
                      "aborted": at_least(0), "faults": at_least(0),
                      "defect_rate": at_least(0, NUMBER)})

# Event kinds whose body is checked member by member (class in EVENT_CLASS).
EVENT_SHAPE = {
    "stock.level": obj({
        "printer": str,
        "items": list_of(obj({"item": str, "kind": STOCK_KIND, "media": str,
                              "source": STOCK_SOURCE, "remaining": nullable(NUMBER),
                              "unit": STOCK_UNIT, "level": nullable(int),
                              "capacity": nullable(NUMBER),
                              "state": one_of("ok", "low", "out", "unknown"),
                              "as_of": nullable(TIME), "drift": nullable(NUMBER)})),
        "media_loaded": list_of(MEDIA_LOADED),
    }, {"suppressed": at_least(1)}),
    "stock.low": STOCK_THRESHOLD_BODY,
    "stock.out": STOCK_THRESHOLD_BODY,
    "stock.ok": STOCK_THRESHOLD_BODY,
    "stock.adjusted": obj({"printer": str, "item": str,
                           "action": one_of("load", "set", "add", "remove"),
                           "amount": NUMBER, "unit": STOCK_UNIT, "remaining": NUMBER, "by": str,
                           "note": nullable(str)}),
    "printer.quality": obj({"printer": str, "last_24h": QUALITY_WINDOW,
                            "last_7d": QUALITY_WINDOW}),
}
# Stock levels and quality figures are samples (telemetry, may be shed); crossing a
# threshold and a technician's count are job class, never shed.
EVENT_CLASS.update({"stock.level": "telemetry", "printer.quality": "telemetry",
                    "stock.low": "job", "stock.out": "job", "stock.ok": "job",
                    "stock.adjusted": "job"})

# Energy (docs/protocol.md, "Energy"): a meter's readings are samples (telemetry); a job's
# energy and a meter's faults are job class, never shed. A fault is never a zero: a
# reading always has a quality and figures, and energy is never negative.
ENERGY_QUALITY = one_of("ok", "gap", "meter_reset")
METER_REASON = one_of("meter_unreachable", "meter_timeout", "meter_protocol",
                      "meter_bad_value", "meter_reset", "meter_config")
EVENT_SHAPE.update({
    "energy.reading": obj({"meter": str, "from": TIME, "to": TIME,
                           "energy_wh": at_least(0, NUMBER), "total_wh": at_least(0, NUMBER),
                           "power_w": nullable(at_least(0, NUMBER)),
                           "power_w_max": nullable(at_least(0, NUMBER)),
                           "prints": at_least(0), "idle_wh": at_least(0, NUMBER),
                           "quality": ENERGY_QUALITY,
                           "co2e_g": nullable(at_least(0, NUMBER))}),
    "job.energy": obj({"printer": str, "meter": str, "energy_wh": at_least(0, NUMBER),
                       "copies": at_least(1), "method": one_of("area_share"),
                       "quality": ENERGY_QUALITY}),
    "meter.fault": obj({"meter": str, "reason": METER_REASON, "detail": str, "since": TIME}),
    "meter.recovered": obj({"meter": str, "outage_s": at_least(0),
                            "bridged_wh": at_least(0, NUMBER)}),
})
EVENT_CLASS.update({"energy.reading": "telemetry", "job.energy": "job", "meter.fault": "job",
                    "meter.recovered": "job"})


# ---------------------------------------------------------------- platform

class Platform:
    """All state of the sandbox and the protocol's rules over it.

    Every method takes the lock; long polls wait on the condition. Handlers
    do the I/O, the platform decides what to answer."""

    def __init__(self, default_lab):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.default_lab = default_lab
        self.api_base = None  # https://HOST:PORT[PREFIX], set once bound
        self.down = False
        self.down_epoch = 0
        self.live = set()  # TLS sockets of open API connections
        self.conn_seq = 0
        self.started = time.time()
        self.reset()

    def reset(self):
        """Forget everything (jobs, assets, events, keys, log, faults) and
        bring the API up."""
        with self.lock:
            self.jobs = collections.OrderedDict()
            self.assets = {}
            self.events = collections.OrderedDict()  # uuid -> stored event
            self.receipts = []
            self.highest_seq = {}
            self.seq_owner = {}  # (lab, seq) -> uuid
            self.idem = {}  # (lab, key) -> (method, path, fingerprint, Resp)
            self.requests = collections.deque(maxlen=LOG_MAX)
            self.request_seq = 0
            self.tls_failures = collections.deque(maxlen=1000)
            self.refused_while_down = 0
            self.faults = []
            self.fault_seq = 0
            self.devices = {}  # lab -> the newest device list, when, and how many PUTs
            self.device_puts = collections.deque(maxlen=DEVICE_PUTS_MAX)  # every PUT handled
            self.violations = collections.deque(maxlen=LOG_MAX)
            self.down = False
            self.cond.notify_all()

    # -- bookkeeping

    def violation(self, kind, detail, request=None):
        with self.lock:
            self.violations.append({"time": rfc3339(time.time(), True), "kind": kind,
                                    "detail": detail, "request": request})
        log("violation %s: %s" % (kind, detail))

    def next_request_number(self):
        with self.lock:
            self.request_seq += 1
            return self.request_seq

    def add_log(self, entry):
        """Publish a request log entry; returns the published copy."""
        with self.lock:
            published = dict(entry)
            self.requests.append(published)
            return published

    def sync_log(self, published, entry):
        """Bring a published log entry up to date with the handler's."""
        with self.lock:
            published.update(entry)

    def new_connection(self):
        with self.lock:
            self.conn_seq += 1
            return self.conn_seq

    def set_down(self, down):
        """Take the API down (drop every open connection, reset new ones) or up."""
        with self.lock:
            self.down = down
            if down:
                self.down_epoch += 1
                for s in list(self.live):
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(s, socket.SHUT_RDWR)
            self.cond.notify_all()

    # -- faults

    def add_faults(self, specs):
        with self.lock:
            added = []
            for spec in specs:
                self.fault_seq += 1
                f = Fault(spec, self.fault_seq)
                self.faults.append(f)
                added.append(f.to_json())
            return added

    def take_fault(self, method, path, duplicate=False):
        """The first queued fault matching METHOD and PATH, used up once."""
        with self.lock:
            for f in self.faults:
                if ("duplicate_assignments" in f.spec) != duplicate:
                    continue
                if f.matches(method, path):
                    f.count -= 1
                    f.hits += 1
                    if f.count <= 0:
                        self.faults.remove(f)
                    return dict(f.spec, id=f.n)
            return None

    # -- jobs (control side)

    def add_jobs(self, specs):
        """Offer jobs; all or none. Returns (list of Job JSON, error)."""
        with self.lock:
            now = time.time()
            seen = set()
            for spec in specs:
                if spec["id"] in self.jobs or spec["id"] in seen:
                    return None, "job %s already exists" % spec["id"]
                seen.add(spec["id"])
            made = []
            new_assets = {}
            for spec in specs:
                default_aid = "a-" + spec["id"]
                if not is_id(default_aid):  # a raw offer's id: a name from its digest
                    default_aid = "a-raw-" + hashlib.sha256(spec["id"].encode()).hexdigest()[:16]
                aid = spec.get("asset_id", default_aid)
                has_data = any(k in spec for k in ("asset_bytes", "asset_data_b64",
                                                   "width", "height"))
                asset = new_assets.get(aid) or self.assets.get(aid)
                if asset is not None and has_data:
                    return None, "asset %s already exists; omit its data to share it" % aid
                if asset is None:
                    if "_data" in spec:
                        data = spec["_data"]
                        ctype = spec.get("content_type")
                    else:
                        data = make_jpeg(aid, spec.get("asset_bytes"),
                                         spec.get("width", 1200), spec.get("height", 1800))
                        ctype = spec.get("content_type", "image/jpeg")
                    asset = Asset(aid, spec["lab"], data, ctype)
                    new_assets[aid] = asset
                spec = {k: v for k, v in spec.items() if not k.startswith("_")}
                url = "%s/v1/assets/%s" % (self.api_base, urllib.parse.quote(aid, safe=""))
                made.append(Job(spec, asset, url, now))
            self.assets.update(new_assets)
            for job in made:
                self.jobs[job.id] = job
            self.cond.notify_all()
            return [j.to_json() for j in made], None

    def control_job(self, job_id, action, arg=None):
        """cancel / reassign / expire / amend one job; returns (status JSON, error)."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None, "no job %s" % job_id
            if action == "amend":  # the same id, another body: arg merges into override
                job.spec = dict(job.spec, override=dict(job.spec.get("override", {}), **arg))
            elif action == "cancel":
                job.cancel_reason = arg or "customer_canceled"
            elif action == "reassign":
                job.reassigned_to = arg or "other-lab"
            elif action == "expire":
                job.lease_lost = True
            self.cond.notify_all()
            return job.status(time.time()), None

    # -- protocol

    def work_for(self, lab, now):
        """The assignments and cancellations a poll by LAB lists now."""
        offers = [j.to_json() for j in self.jobs.values() if j.lab == lab and j.offered(now)]
        cancels = [{"job_id": j.id, "reason": j.cancel_reason} for j in self.jobs.values()
                   if j.lab == lab and j.cancellation_pending()]
        return offers, cancels

    def poll(self, lab, wait, method, path):
        """GET assignments: wait up to WAIT s for work. None: drop the connection."""
        deadline = time.monotonic() + wait
        with self.cond:
            epoch = self.down_epoch
            while True:
                if self.down or self.down_epoch != epoch:
                    return None
                offers, cancels = self.work_for(lab, time.time())
                if offers or cancels:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Resp(204)
                self.cond.wait(min(remaining, 1.0))  # leases expire by the clock
        if self.take_fault(method, path, duplicate=True):
            offers = [o for o in offers for _ in (0, 1)]
            cancels = [c for c in cancels for _ in (0, 1)]
        return json_resp(200, {"assignments": offers, "cancellations": cancels})

    def accept(self, lab, job_id, body):
        obj, err = parse_json_body(body)
        if err or not isinstance(obj, dict):
            return problem(400, "bad_request", err or "body must be an object")
        if not isinstance(obj.get("lab"), str):
            return problem(400, "bad_request", "body.lab must be the lab id")
        if obj["lab"] != lab:
            return problem(403, "lab_mismatch", "body.lab %s is not the certificate's lab %s"
                           % (obj["lab"], lab))
        with self.lock:
            now = time.time()
            job = self.jobs.get(job_id)
            if job is None or job.lab != lab:
                return problem(404, "job_not_found", "job %s is not a job of lab %s" % (job_id, lab))
            if job.reassigned_to is not None:
                return problem(409, "job_reassigned", "job %s was reassigned to lab %s"
                               % (job_id, job.reassigned_to))
            if job.cancel_reason is not None:
                return problem(409, "job_canceled", "job %s was canceled: %s"
                               % (job_id, job.cancel_reason))
            if job.accepted_at is None:
                if job.rejected or job.lease_expired(now):
                    return problem(409, "lease_lost", "the offer of job %s expired at %s"
                                   % (job_id, rfc3339(job.lease_expires)))
                job.accepted_at = now
            job.accept_count += 1
            self.cond.notify_all()
            return json_resp(200, {"job": job.to_json()})

    def asset(self, lab, asset_id, range_header):
        with self.lock:
            a = self.assets.get(asset_id)
        if a is None or a.lab != lab:
            return problem(404, "asset_not_found", "no asset %s for lab %s" % (asset_id, lab))
        total = len(a.data)
        headers = [("Accept-Ranges", "bytes"), ("ETag", '"%s"' % a.sha256)]
        ctype = a.content_type or "application/octet-stream"
        if range_header is not None:
            r = parse_range(range_header, total)
            if r == "bad":
                return problem(416, "range_not_satisfiable", "range %r of %d bytes"
                               % (range_header, total),
                               headers=[("Content-Range", "bytes */%d" % total)])
            if r is not None:
                start, end = r
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, total)))
                return Resp(206, a.data[start:end + 1], ctype, headers)
        return Resp(200, a.data, ctype, headers)

    def post_events(self, lab, body, request_no):
        obj, err = parse_json_body(body)
        if err:
            return problem(400, "bad_request", err)
        if not isinstance(obj, dict) or not isinstance(obj.get("events"), list):
            return problem(400, "bad_request", "body must be {\"events\": [...]}")
        events = obj["events"]
        if len(events) > MAX_EVENTS:
            return problem(413, "too_large", "%d events in one batch; at most %d"
                           % (len(events), MAX_EVENTS))
        for i, ev in enumerate(events):
            err = check_event(ev, i)
            if err:
                return problem(400, "bad_request", err)
        with self.lock:
            now = time.time()
            acked = []
            prev = None
            for ev in events:
                u, seq = ev["uuid"], ev["seq"]
                key = u.lower()
                self.receipts.append({"uuid": u, "seq": seq, "kind": ev["kind"], "lab": lab,
                                      "received_at": rfc3339(now, True), "request": request_no})
                if prev is not None and seq <= prev:
                    self.violation("batch_not_in_seq_order", "seq %d after %d in one batch"
                                   % (seq, prev), request_no)
                prev = seq
                stored = self.events.get(key)
                if stored is not None:
                    stored["receipts"] += 1
                    stored["last_received_at"] = rfc3339(now, True)
                    sent = {k: v for k, v in stored.items() if k not in EVENT_META}
                    if json.dumps(sent, sort_keys=True) != json.dumps(ev, sort_keys=True):
                        self.violation("uuid_conflict", "event %s resent with other content"
                                       % u, request_no)
                    acked.append(u)
                    continue
                owner = self.seq_owner.get((lab, seq))
                if owner is not None and owner != key:
                    self.violation("seq_reused", "seq %d of event %s was event %s's"
                                   % (seq, u, owner), request_no)
                elif seq <= self.highest_seq.get(lab, -1):
                    self.violation("seq_not_increasing", "new event %s has seq %d <= %d seen"
                                   % (u, seq, self.highest_seq[lab]), request_no)
                self.seq_owner[(lab, seq)] = key
                self.highest_seq[lab] = max(seq, self.highest_seq.get(lab, -1))
                self.check_event_body(ev, request_no)
                self.events[key] = dict(ev, lab=lab, receipts=1, request=request_no,
                                        first_received_at=rfc3339(now, True),
                                        last_received_at=rfc3339(now, True))
                self.apply_event(lab, ev)
                acked.append(u)
            self.cond.notify_all()
        return json_resp(200, {"acknowledged": acked})

    def check_event_body(self, ev, request_no):
        kind = ev["kind"]
        if kind in EVENT_CLASS and ev["class"] != EVENT_CLASS[kind]:
            self.violation("event_class", "%s has class %s, not %s"
                           % (kind, ev["class"], EVENT_CLASS[kind]), request_no)
        for field, typ in EVENT_BODY.get(kind, {}).items():
            v = ev["body"].get(field)
            ok = is_int(v) if typ is int else isinstance(v, typ)
            if not ok or (field not in ev["body"]):
                self.violation("event_body", "%s event %s: body.%s missing or not %s"
                               % (kind, ev["uuid"], field, type_name(typ)), request_no)
        for field, typ in EVENT_BODY_OPTIONAL.get(kind, {}).items():
            if field in ev["body"] and not isinstance(ev["body"][field], typ):
                self.violation("event_body", "%s event %s: body.%s is not %s"
                               % (kind, ev["uuid"], field, type_name(typ)), request_no)
        if kind in EVENT_SHAPE:
            err = check_shape(ev["body"], EVENT_SHAPE[kind], "body")
            if err:
                self.violation("event_body", "%s event %s: %s" % (kind, ev["uuid"], err),
                               request_no)

    def apply_event(self, lab, ev):
        """What a first receipt of an event changes in the job it names."""
        job = self.jobs.get(ev.get("job_id", ""))
        if job is None or job.lab != lab:
            return
        kind = ev["kind"]
        job.event_kinds.append(kind)
        if kind == "job.canceled" and job.cancel_reason is not None:
            job.cancel_confirmed = True
        elif kind == "job.rejected" and job.accepted_at is None:
            job.rejected = True
        elif kind == "job.dropped":
            job.dropped = True

    def active_jobs(self, lab, body):
        obj, err = parse_json_body(body)
        if err:
            return problem(400, "bad_request", err)
        if not isinstance(obj, dict) or not isinstance(obj.get("jobs"), list):
            return problem(400, "bad_request", "body must be {\"jobs\": [...]}")
        for i, j in enumerate(obj["jobs"]):
            if not (isinstance(j, dict) and isinstance(j.get("id"), str)
                    and isinstance(j.get("state"), str)):
                return problem(400, "bad_request", "jobs[%d] must be {\"id\": string, "
                               "\"state\": string}" % i)
        answers = []
        with self.lock:
            now = time.time()
            for j in obj["jobs"]:
                job = self.jobs.get(j["id"])
                if job is None or job.lab != lab:
                    answers.append({"id": j["id"], "action": "drop", "reason": "job_not_found"})
                elif job.reassigned_to is not None:
                    answers.append({"id": job.id, "action": "drop", "reason": "job_reassigned"})
                elif job.cancel_reason is not None:
                    answers.append({"id": job.id, "action": "cancel", "reason": job.cancel_reason})
                elif job.accepted_at is None and (job.rejected or job.lease_expired(now)):
                    answers.append({"id": job.id, "action": "drop", "reason": "lease_lost"})
                else:
                    answers.append({"id": job.id, "action": "continue"})
        return json_resp(200, {"jobs": answers})

    def put_devices(self, lab, body, request_no):
        """Store the lab's device list (the newest wins) and note every PUT that was
        handled; a body of the wrong shape is a 400 and a devices_body violation."""
        obj, err = parse_json_body(body)
        if err or not isinstance(obj, dict):
            err = err or "body must be a JSON object (the device list)"
        else:
            err = check_shape(obj, DEVICES_SHAPE, "body")
        if err:
            self.violation("devices_body", err, request_no)
            return problem(400, "bad_request", err)
        with self.lock:
            now = rfc3339(time.time(), True)
            count = self.devices.get(lab, {}).get("count", 0) + 1
            self.devices[lab] = {"devices": obj, "received_at": now, "count": count,
                                 "request": request_no}
            self.device_puts.append({"lab": lab, "received_at": now, "request": request_no,
                                     "devices": obj})
            self.cond.notify_all()
        return Resp(204)


EVENT_META = {"lab", "receipts", "request", "first_received_at", "last_received_at"}


# ---------------------------------------------------------------- API handler

def peer_labs(cert):
    """The lab ids a verified client certificate stands for: CN, then DNS SANs."""
    cn = None
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    sans = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    ids = ([cn] if cn else []) + [s for s in sans if s != cn]
    return ids


class ApiHandler(http.server.BaseHTTPRequestHandler):
    """One TLS connection of a lab: keep-alive HTTP/1.1, every answer with a
    Content-Length, every error problem+json."""

    protocol_version = "HTTP/1.1"
    server_version = "labsandbox/1"

    def version_string(self):
        return self.server_version

    def setup(self):
        self.timeout = self.server.idle_timeout
        super().setup()
        cert = self.connection.getpeercert() or {}
        self.labs = peer_labs(cert)
        self.lab = self.labs[0] if self.labs else None
        self.conn_id = self.server.platform.new_connection()

    def handle(self):
        try:
            super().handle()
        except (OSError, ValueError) as e:  # the peer went away mid-request
            log("connection %d (%s): %s" % (self.conn_id, self.lab, e.__class__.__name__))

    def log_request(self, code="-", size="-"):
        pass  # dispatch() logs one line per request

    def log_message(self, fmt, *args):
        log("api %s: %s" % (self.address_string(), fmt % args))

    def send_error(self, code, message=None, explain=None):
        """Errors http.server raises itself (bad request line, 501...) as problems."""
        code_kw = STATUS_CODES.get(code, "bad_request" if code < 500 else "internal_error")
        if code == 501:
            code_kw = "method_not_allowed"
        self.close_connection = True
        self.write_response(problem(code, code_kw, message or "request refused"), None)

    def handle_expect_100(self):
        n = self.header_int("Content-Length")
        if n is not None and n > MAX_BODY:
            # No "100 Continue": the client holds the body back, so dispatch()
            # answers 413 at once instead of draining it.
            self.expect_refused = True
            return True
        return super().handle_expect_100()

    expect_refused = False

    def header_int(self, name):
        v = self.headers.get(name)
        if v is None:
            return None
        try:
            return int(v.strip())
        except ValueError:
            return -1

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = \
        lambda self: self.dispatch()

    # -- request body

    def read_body(self):
        """Read the body (Content-Length or chunked), at most MAX_BODY bytes.
        Returns (bytes, None) or (None, error Resp) and then closes."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            for _ in range(MAX_BODY + 1):  # bounded: each chunk is >= 1 byte
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None, problem(400, "bad_request", "bad chunk size")
                if n == 0:
                    for _ in range(100):  # trailers
                        if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                            break
                    return b"".join(chunks), None
                total += n
                if total > MAX_BODY:
                    return None, problem(413, "too_large", "body over %d bytes" % MAX_BODY)
                data = self.rfile.read(n)
                if len(data) != n:
                    raise ConnectionError("body cut short")
                chunks.append(data)
                self.rfile.readline(16)
            return None, problem(400, "bad_request", "too many chunks")
        n = self.header_int("Content-Length")
        if n is None:
            return b"", None
        if n < 0:
            return None, problem(400, "bad_request", "bad Content-Length")
        if n > MAX_BODY:
            # Read (and drop) what the client sends, so that closing does not
            # reset the connection before it reads the answer; past
            # MAX_DRAIN, just close.
            if n <= MAX_DRAIN and not self.expect_refused:
                left = n
                while left > 0:
                    got = self.rfile.read(min(left, 65536))
                    if not got:
                        break
                    left -= len(got)
            return None, problem(413, "too_large", "body of %d bytes; at most %d" % (n, MAX_BODY))
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("body cut short (%d of %d bytes)" % (len(data), n))
        return data, None

    # -- dispatch

    def dispatch(self):
        plat = self.server.platform
        t0 = time.time()
        method = self.command
        full = self.path
        path = full.split("?", 1)[0]
        no = plat.next_request_number()
        entry = {"n": no, "time": rfc3339(t0, True), "conn": self.conn_id, "cn": self.lab,
                 "method": method, "path": full,
                 # As received, before any decoding or normalisation.
                 "request_line": self.requestline,
                 "headers": {h: self.headers.get(h) for h in
                             ("Range", "Idempotency-Key", "X-Lab-Id", "User-Agent",
                              "Content-Type")},
                 "status": None, "request_bytes": 0, "response_bytes": 0}
        # Published now, updated in place: the entry is in the log before the
        # client can see an answer (a test that reads the log next finds it).
        published = plat.add_log(entry)
        fault = None
        sent = False

        def send(resp):
            nonlocal sent
            entry["status"] = resp.status
            entry["replayed"] = resp.replayed
            plat.sync_log(published, entry)
            sent = True
            self.write_response(resp, fault, method)

        try:
            if plat.down:
                self.close_connection = True
                entry["down"] = True
                return
            body, err = self.read_body()
            entry["request_bytes"] = len(body) if body is not None else 0
            if err is not None:
                self.close_connection = True
                send(err)
                return
            if body and len(body) <= 65536:
                obj, jerr = parse_json_body(body)
                if jerr is None:
                    entry["body"] = obj
            self.note_headers(no)
            fault = plat.take_fault(method, self.api_path(path) or path)
            resp = None
            if fault:
                entry["fault"] = fault
                plat.sync_log(published, entry)
                if fault.get("delay"):
                    time.sleep(fault["delay"])
                if fault.get("close"):
                    self.close_connection = True
                    entry["closed"] = True
                    return
                if "status" in fault:
                    resp = self.fault_response(fault)
            if resp is None:
                resp = self.route(method, path, full, body, no)
            if resp is None or resp.close:
                self.close_connection = True
                entry["closed"] = True
                return
            send(resp)
        except (OSError, ValueError) as e:
            self.close_connection = True
            entry["error"] = "%s: %s" % (e.__class__.__name__, e)
        except Exception as e:  # a sandbox bug: say so, keep serving
            self.close_connection = True
            entry["error"] = "%s: %s" % (e.__class__.__name__, e)
            log("internal error on %s %s:\n%s" % (method, full, traceback.format_exc()))
            if not sent:
                with contextlib.suppress(Exception):
                    send(problem(500, "internal_error", str(e)))
        finally:
            self.expect_refused = False
            if sent:
                entry["response_bytes"] = self.sent_bytes
            entry["duration_ms"] = int((time.time() - t0) * 1000)
            plat.sync_log(published, entry)
            log("%s %s %s conn=%d -> %s%s" % (self.lab, method, full, self.conn_id,
                                              entry["status"] or "closed",
                                              " (fault %s)" % fault if fault else ""))

    def note_headers(self, no):
        """Record what the contract asks of every request and this one lacks."""
        plat = self.server.platform
        xlab = self.headers.get("X-Lab-Id")
        if xlab is None:
            plat.violation("missing_x_lab_id", "%s %s" % (self.command, self.path), no)
        elif xlab not in self.labs:
            plat.violation("x_lab_id_mismatch", "X-Lab-Id %s, certificate lab %s"
                           % (xlab, self.lab), no)
        ua = self.headers.get("User-Agent") or ""
        if not ua.startswith("labagent/"):
            plat.violation("user_agent", "User-Agent %r is not labagent/VERSION" % ua, no)
        if self.command in ("POST", "PUT"):
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ct != "application/json":
                plat.violation("content_type", "%s %s with Content-Type %r"
                               % (self.command, self.path, ct), no)

    def api_path(self, path):
        """PATH without the configured prefix, or None if outside it."""
        prefix = self.server.prefix
        if not prefix:
            return path
        if path.startswith(prefix + "/"):
            return path[len(prefix):]
        return None

    def fault_response(self, fault):
        status = fault["status"]
        headers = []
        if "retry_after" in fault:
            headers.append(("Retry-After", str(fault["retry_after"])))
        if "raw_body" in fault:
            return Resp(status, fault["raw_body"].encode(),
                        fault.get("content_type", "text/html"), headers)
        code = fault.get("code") or STATUS_CODES.get(status) or \
            ("internal_error" if status >= 500 else "bad_request")
        return problem(status, code, fault.get("detail", "injected fault"), headers)

    def route(self, method, path, full, body, no):
        plat = self.server.platform
        rel = self.api_path(path)
        if rel is None:
            plat.violation("not_a_call", "%s %s is outside the API base" % (method, full), no)
            return problem(404, "not_found", "%s is outside the API base" % path)
        parts = [urllib.parse.unquote(p) for p in rel.split("/")]
        if any(p in (".", "..") for p in parts):
            # A server normalises these away: the request would reach another resource.
            plat.violation("dot_segment", "%s %s has a dot segment" % (method, full), no)
            return problem(404, "not_found", "no resource %s" % path)
        if len(parts) < 3 or parts[0] != "" or parts[1] != "v1":
            plat.violation("not_a_call", "%s %s is no call of the contract" % (method, full), no)
            return problem(404, "not_found", "no resource %s" % path)
        parts = parts[2:]
        query = urllib.parse.parse_qs(full.partition("?")[2], keep_blank_values=True)
        if len(parts) == 3 and parts[0] == "labs" and parts[2] in (
                "assignments", "events", "active-jobs", "devices"):
            allowed = {"assignments": "GET", "events": "POST", "active-jobs": "POST",
                       "devices": "PUT"}[parts[2]]
            if method != allowed and not (method == "HEAD" and allowed == "GET"):
                return problem(405, "method_not_allowed", "%s %s: use %s" % (method, path, allowed),
                               headers=[("Allow", allowed)])
            if parts[1] not in self.labs:
                return problem(403, "lab_mismatch", "path lab %s is not the certificate's lab %s"
                               % (parts[1], self.lab))
            lab = self.lab
            if parts[2] == "assignments":
                return self.poll(lab, query, method, rel)
            if parts[2] == "events":
                return self.idempotent(method, path, body, no,
                                       lambda: plat.post_events(lab, body, no))
            if parts[2] == "active-jobs":
                return self.idempotent(method, path, body, no,
                                       lambda: plat.active_jobs(lab, body))
            return self.idempotent(method, path, body, no,
                                   lambda: plat.put_devices(lab, body, no))
        if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "accept":
            if method != "POST":
                return problem(405, "method_not_allowed", "use POST", headers=[("Allow", "POST")])
            if not is_id(parts[1]):
                # Only an offer that passed the lab's validation may be claimed.
                plat.violation("accept_bad_id", "%s %s claims job %r, which is no id"
                               % (method, full, parts[1]), no)
                return problem(404, "job_not_found", "%r is no job id" % parts[1])
            return self.idempotent(method, path, body, no,
                                   lambda: plat.accept(self.lab, parts[1], body))
        if len(parts) == 2 and parts[0] == "assets":
            if method not in ("GET", "HEAD"):
                return problem(405, "method_not_allowed", "use GET",
                               headers=[("Allow", "GET, HEAD")])
            return plat.asset(self.lab, parts[1], self.headers.get("Range"))
        plat.violation("not_a_call", "%s %s is no call of the contract" % (method, full), no)
        return problem(404, "not_found", "no resource %s" % path)

    def poll(self, lab, query, method, rel):
        wait = DEFAULT_WAIT
        if "wait" in query:
            try:
                wait = int(query["wait"][-1])
            except ValueError:
                wait = -1
            if not 1 <= wait <= MAX_WAIT:
                return problem(400, "bad_request", "wait must be an integer in 1..%d" % MAX_WAIT)
        return self.server.platform.poll(lab, wait, method, rel)

    def idempotent(self, method, path, body, no, handler):
        """Run HANDLER once per Idempotency-Key; replay its answer after."""
        plat = self.server.platform
        key = self.headers.get("Idempotency-Key")
        if key is None:
            plat.violation("missing_idempotency_key", "%s %s" % (method, path), no)
            return problem(400, "bad_request", "%s needs an Idempotency-Key header" % method)
        key = key.strip()
        if not UUID_RE.fullmatch(key):
            return problem(400, "bad_request", "Idempotency-Key %r is not a UUID" % key)
        fp = canonical(body)
        with plat.lock:
            rec = plat.idem.get((self.lab, key.lower()))
            if rec is not None:
                if rec[0] == method and rec[1] == path and rec[2] == fp:
                    r = Resp(rec[3].status, rec[3].body, None,
                             rec[3].headers + [("Idempotent-Replayed", "true")])
                    r.replayed = True
                    return r
                return problem(409, "idempotency_key_reused",
                               "Idempotency-Key %s was used for %s %s with another body"
                               % (key, rec[0], rec[1]))
            resp = handler()
            if resp.status not in (400, 413):  # refused unread: the key stays free
                plat.idem[(self.lab, key.lower())] = (method, path, fp, resp)
            return resp

    # -- response

    def write_response(self, resp, fault, method="GET"):
        """Send RESP, applying a fault's body modifiers."""
        self.sent_bytes = 0
        body = resp.body
        fault = fault or {}
        if body and fault.get("truncate"):
            body = body[:len(body) // 2]
        if fault.get("extra_bytes"):
            body = body + random.Random(len(body)).randbytes(fault["extra_bytes"])
        if body and fault.get("corrupt"):
            b = bytearray(body)
            b[len(b) // 2] ^= 0xFF
            body = bytes(b)
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        if resp.status != 204:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD" or resp.status == 204:
            self.wfile.flush()
            return
        limit = fault.get("drop_after_bytes")
        if limit is not None:
            body = body[:limit]
            self.close_connection = True
        view = memoryview(body)
        for off in range(0, len(body), 65536):
            self.wfile.write(view[off:off + 65536])
            self.sent_bytes += len(view[off:off + 65536])
        self.wfile.flush()

    sent_bytes = 0


class ApiServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The HTTPS listener: TLS handshakes run in each connection's thread, so
    a slow or hostile client never stalls the accept loop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, platform, ctx, prefix, idle_timeout):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.platform = platform
        self.ctx = ctx
        self.prefix = prefix
        self.idle_timeout = idle_timeout
        super().__init__(addr, ApiHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # no getfqdn(): no DNS at start
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        plat = self.platform
        if plat.down:  # accept, then reset: the agent sees a connection error
            with contextlib.suppress(OSError):
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with plat.lock:
                plat.refused_while_down += 1
            request.close()
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or str(e)
            with plat.lock:
                plat.tls_failures.append({"time": rfc3339(time.time(), True),
                                          "peer": "%s:%s" % client_address[:2],
                                          "error": str(reason)})
            log("TLS handshake with %s:%s failed: %s" % (client_address[0], client_address[1], e))
            request.close()
            return
        with plat.lock:
            plat.live.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with plat.lock:
                plat.live.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request, client_address):
        log("connection from %s: %s" % (client_address[0], sys.exc_info()[1]))


# ---------------------------------------------------------------- control API

class ControlHandler(http.server.BaseHTTPRequestHandler):
    """The test's side: plain JSON over HTTP on 127.0.0.1."""

    protocol_version = "HTTP/1.1"
    server_version = "labsandbox-control/1"

    def version_string(self):
        return self.server_version

    timeout = 60

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        log("control: " + fmt % args)

    def reply(self, status, obj):
        data = json.dumps(obj, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        try:
            status, obj = self.route()
        except ValueError as e:  # a bad number or body: the test's mistake
            status, obj = 400, {"error": str(e)}
        except OSError as e:
            self.close_connection = True
            log("control %s %s: %s" % (self.command, self.path, e))
            return
        except Exception as e:
            log("control internal error on %s %s:\n%s" % (self.command, self.path,
                                                          traceback.format_exc()))
            status, obj = 500, {"error": "%s: %s" % (e.__class__.__name__, e)}
        if status >= 400:
            log("control %s %s -> %d %s" % (self.command, self.path, status, obj.get("error")))
        with contextlib.suppress(OSError):
            self.reply(status, obj)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_CONTROL_BODY or n < 0:
            self.close_connection = True  # the body stays unread
            raise ValueError("control body over %d bytes" % MAX_CONTROL_BODY)
        data = self.rfile.read(n) if n else b"{}"
        obj, err = parse_json_body(data)
        if err:
            return None, err
        if not isinstance(obj, dict):
            return None, "body must be a JSON object"
        return obj, None

    def route(self):
        plat = self.server.platform
        path, _, qs = self.path.partition("?")
        query = urllib.parse.parse_qs(qs)
        if self.command == "GET":
            with plat.lock:
                now = time.time()
                if path == "/control/log":
                    since = int(query.get("since", ["0"])[-1])  # ValueError: 400
                    return 200, {"requests": [dict(e) for e in plat.requests if e["n"] > since],
                                 "tls_failures": list(plat.tls_failures),
                                 "connections": plat.conn_seq,
                                 "refused_while_down": plat.refused_while_down}
                if path == "/control/events":
                    return 200, {"events": [dict(e) for e in plat.events.values()],
                                 "receipts": list(plat.receipts),
                                 "highest_seq": dict(plat.highest_seq)}
                if path == "/control/jobs":
                    return 200, {"jobs": [j.status(now) for j in plat.jobs.values()]}
                if path == "/control/faults":
                    return 200, {"faults": [f.to_json() for f in plat.faults]}
                if path == "/control/devices":
                    return 200, {"labs": dict(plat.devices), "puts": list(plat.device_puts)}
                if path == "/control/violations":
                    return 200, {"violations": list(plat.violations)}
                if path == "/control/status":
                    return 200, {"down": plat.down, "api_base": plat.api_base,
                                 "jobs": len(plat.jobs), "events": len(plat.events),
                                 "requests": plat.request_seq,
                                 "faults": len(plat.faults),
                                 "uptime_s": int(now - plat.started)}
            return 404, {"error": "no GET %s" % path}
        if self.command != "POST":
            return 405, {"error": "use GET or POST"}
        obj, err = self.body()
        if err:
            return 400, {"error": err}
        if path == "/control/jobs":
            jobs = obj.get("jobs")
            if not isinstance(jobs, list) or not jobs:
                return 400, {"error": "body must be {\"jobs\": [job, ...]}"}
            specs = []
            for j in jobs:
                spec, err = check_job_spec(j, plat.default_lab)
                if err:
                    return 400, {"error": err}
                specs.append(spec)
            made, err = plat.add_jobs(specs)
            if err:
                return 409, {"error": err}
            return 200, {"jobs": made}
        if path in ("/control/cancel", "/control/reassign", "/control/expire",
                    "/control/amend"):
            if not isinstance(obj.get("job_id"), str):
                return 400, {"error": "body must be {\"job_id\": id}"}
            if path == "/control/amend":
                arg = obj.get("override")
                if not isinstance(arg, dict) or not arg:
                    return 400, {"error": "amend needs {\"job_id\": id, \"override\": {...}}"}
            else:
                arg = obj.get("reason") if path == "/control/cancel" else obj.get("to")
                if arg is not None and not isinstance(arg, str):
                    return 400, {"error": "reason / to must be a string"}
            st, err = plat.control_job(obj["job_id"], path.rsplit("/", 1)[1], arg)
            if err:
                return 404, {"error": err}
            return 200, st
        if path == "/control/faults":
            specs = obj["faults"] if "faults" in obj else [obj]
            if not isinstance(specs, list) or not specs:
                return 400, {"error": "body must be a fault or {\"faults\": [fault, ...]}"}
            for s in specs:
                err = check_fault(s)
                if err:
                    return 400, {"error": err}
            return 200, {"faults": plat.add_faults(specs)}
        if path == "/control/faults/clear":
            with plat.lock:
                plat.faults = []
            return 200, {"faults": []}
        if path in ("/control/down", "/control/up"):
            plat.set_down(path.endswith("down"))
            return 200, {"down": plat.down}
        if path == "/control/reset":
            plat.reset()
            return 200, {"reset": True}
        return 404, {"error": "no POST %s" % path}


class ControlServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, platform):
        self.platform = platform
        super().__init__(addr, ControlHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        log("control connection: %s" % (sys.exc_info()[1],))


# ---------------------------------------------------------------- main

def tls_context(args):
    """Server context: TLS >= 1.2, client certificate required and verified."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=args.client_ca)
    return ctx


def main(argv=None):
    p = argparse.ArgumentParser(description="Sandbox platform for labagent (docs/protocol.md).")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--client-ca", required=True, help="CA that lab client certificates chain to")
    p.add_argument("--port", type=int, default=0, help="HTTPS API port (0: ephemeral)")
    p.add_argument("--control-port", type=int, default=0, help="control port (0: ephemeral)")
    p.add_argument("--bind", default="127.0.0.1",
                   help="address of the HTTPS API (default 127.0.0.1; the control API is "
                        "always on 127.0.0.1)")
    p.add_argument("--public-host", default="localhost",
                   help="host name in asset URLs (must match the server certificate)")
    p.add_argument("--prefix", default="",
                   help="base path the API is served under, e.g. /api (default: none)")
    p.add_argument("--lab", default="test-lab", help="lab of jobs added without a lab")
    p.add_argument("--idle-timeout", type=float, default=60,
                   help="seconds an idle keep-alive connection is kept (default 60)")
    p.add_argument("--tls-max", choices=("1.2", "1.3"), default="1.3",
                   help="highest TLS version offered (default 1.3)")
    p.add_argument("--watch-stdin", action="store_true",
                   help="exit when stdin reaches end of file (the parent died)")
    args = p.parse_args(argv)
    prefix = args.prefix.rstrip("/")
    if prefix and not prefix.startswith("/"):
        p.error("--prefix must start with /")

    try:
        ctx = tls_context(args)
    except (OSError, ssl.SSLError) as e:
        log("cannot set up TLS: %s" % e)
        return 1
    platform = Platform(args.lab)
    try:
        api = ApiServer((args.bind, args.port), platform, ctx, prefix, args.idle_timeout)
        control = ControlServer(("127.0.0.1", args.control_port), platform)
    except OSError as e:
        log("cannot listen: %s" % e)
        return 1
    api_port = api.server_address[1]
    host = "[%s]" % args.public_host if ":" in args.public_host else args.public_host
    platform.api_base = "https://%s:%d%s" % (host, api_port, prefix)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in (api, control)]
    for t in threads:
        t.start()
    if args.watch_stdin:
        def watch():  # os.read: a buffered read would block interpreter exit
            with contextlib.suppress(OSError):
                while os.read(0, 4096):
                    pass
            stop.set()
        threading.Thread(target=watch, daemon=True).start()

    sys.stdout.write(json.dumps({"api_port": api_port, "control_port": control.server_address[1],
                                 "api_url": platform.api_base,
                                 "control_url": "http://127.0.0.1:%d" % control.server_address[1]})
                     + "\n")
    sys.stdout.flush()
    log("API on https://%s:%d%s, control on http://127.0.0.1:%d, default lab %s"
        % (args.bind, api_port, prefix, control.server_address[1], args.lab))

    while not stop.wait(0.5):
        pass
    log("stopping")
    platform.set_down(True)  # wake long polls, drop open connections
    for s in (api, control):
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
