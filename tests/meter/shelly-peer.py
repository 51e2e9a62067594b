#!/usr/bin/python3
"""shelly-peer.py - a Shelly Gen2 device's RPC over HTTP, for the meter tests.

Why: the Shelly meter driver (drivers/meter-shelly.c) must be tested
against the bytes a real device sends, and against what goes wrong with
one: a reboot, a measuring fault, a captive portal's HTML, a hung or
vanished device, a wrong password. Python's standard library serves it
(http.server, threading); nothing else is needed.

It listens on 127.0.0.1 only, on the port given as the first argument (0,
the default: one the kernel picks), prints that port on a line, then reads
commands on stdin, one a line, and answers each with "ok" (or "error ...").
End of stdin stops it. It serves
  /rpc/Switch.GetStatus?id=N    switch:0
  /rpc/EM1.GetStatus?id=N       em1:0, em1:1
  /rpc/EM1Data.GetStatus?id=N   em1data:0, em1data:1
in the shapes of Gen2 firmware 1.x; channel N's figures serve switch:N and
em1:N alike. Optional digest authentication as the devices do it (RFC 7616,
SHA-256, qop auth, the realm the device id).

Commands (ID defaults to 0):
  energy WH [ID]       set the cumulative counter (Wh)
  add WH [ID]          add energy to it
  power W [ID]         set the instant power
  reboot               every counter back to 0, source "init"
  errors E1,E2 [ID]    the status's "errors" array ("-": none)
  mode NAME            normal | html | text | noenergy | big | bigchunked |
                       close | unauthorized | redirect | nan
  slow SECONDS         wait that long before each answer (0: none; <= 60)
  auth USER PASSWORD   require digest authentication; "noauth" to stop
  requests             answer "ok N": the requests served so far

Every loop is bounded: commands by count, waits by time, the whole peer by
a watchdog (10 minutes).
"""

import hashlib
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

DEVICE_ID = "shellyplusplugs-e465b8b961a4"
WATCHDOG_S = 600
MAX_COMMANDS = 100000
MAX_SLOW_S = 60.0
BIG_BYTES = 70 * 1024
SWITCHES = 1
EM1S = 2
NONCES_KEPT = 64


class Device:
    """What the device knows, shared by the request threads (under lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.channels = {i: {"energy": 0.0, "power": 0.0, "errors": []}
                         for i in range(max(SWITCHES, EM1S))}
        self.source = "init"
        self.booted = time.time()
        self.mode = "normal"
        self.slow = 0.0
        self.auth = None  # (user, password)
        self.nonces = []
        self.requests = 0


DEV = Device()


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def switch_status(i, ch, mode):
    minute_ts = int(time.time()) // 60 * 60
    p = ch["power"]
    out = {
        "id": i,
        "source": DEV.source,
        "output": True,
        "apower": p,
        "voltage": 231.4,
        "freq": 50.0,
        "current": round(p / 231.4, 3),
        "aenergy": {"total": ch["energy"], "by_minute": [round(p * 1000 / 60, 3), 0.0, 0.0],
                    "minute_ts": minute_ts},
        "ret_aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": minute_ts},
        "temperature": {"tC": 41.2, "tF": 106.2},
    }
    if mode == "noenergy":
        del out["aenergy"]
    return out


def em1_status(i, ch, mode):
    p = ch["power"]
    return {"id": i, "current": round(p / 230.9, 3), "voltage": 230.9, "act_power": p,
            "aprt_power": round(p * 1.08, 1), "pf": 0.93, "freq": 50.0,
            "calibration": "factory"}


def em1data_status(i, ch, mode):
    out = {"id": i, "total_act_energy": ch["energy"], "total_act_ret_energy": 0.0}
    if mode == "noenergy":
        del out["total_act_energy"]
    return out


METHODS = {
    "Switch.GetStatus": (switch_status, SWITCHES),
    "EM1.GetStatus": (em1_status, EM1S),
    "EM1Data.GetStatus": (em1data_status, EM1S),
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def verify_request(self, request, client_address):
        # "close": the device accepts and hangs up without a word.
        with DEV.lock:
            return DEV.mode != "close"

    def handle_error(self, request, client_address):
        pass  # a client that gave up (its timeout) while we were slow


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShellyHTTP/1.0"
    timeout = 30  # an idle kept connection ends

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=(), chunked=False):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for off in range(0, len(data), 4096):
                part = data[off:off + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def challenge(self):
        nonce = str(int(time.time())) + secrets.token_hex(4)
        with DEV.lock:
            DEV.nonces = (DEV.nonces + [nonce])[-NONCES_KEPT:]
        self.send(401, json.dumps({"code": 401, "message": "unauthorized"}),
                  headers=[("WWW-Authenticate",
                            'Digest qop="auth", realm="%s", nonce="%s", algorithm=SHA-256'
                            % (DEVICE_ID, nonce))])

    def authorized(self, auth):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        f = {}
        for m in list(re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:]))[:32]:
            f[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
        user, password = auth
        with DEV.lock:
            known = f.get("nonce") in DEV.nonces
        if (f.get("username") != user or f.get("realm") != DEVICE_ID or not known
                or f.get("uri") != self.path or f.get("algorithm", "").upper() != "SHA-256"
                or f.get("qop") != "auth"):
            return False
        ha1 = sha256("%s:%s:%s" % (user, DEVICE_ID, password))
        ha2 = sha256("GET:%s" % self.path)
        want = sha256("%s:%s:%s:%s:%s:%s" % (ha1, f["nonce"], f.get("nc", ""),
                                             f.get("cnonce", ""), "auth", ha2))
        return f.get("response") == want

    def do_GET(self):
        with DEV.lock:
            DEV.requests += 1
            mode, slow, auth = DEV.mode, DEV.slow, DEV.auth
        end = time.monotonic() + slow
        while time.monotonic() < end and not DEV.stop.is_set():
            time.sleep(min(0.02, max(0.0, end - time.monotonic())))
        if mode == "unauthorized" or (auth and not self.authorized(auth)):
            return self.challenge()
        url = urllib.parse.urlsplit(self.path)
        method = url.path[len("/rpc/"):] if url.path.startswith("/rpc/") else None
        if method not in METHODS:
            return self.send(404, json.dumps({"code": 404,
                                              "message": "No handler for %s" % method}))
        query = urllib.parse.parse_qs(url.query)
        try:
            cid = int(query["id"][0])
        except (KeyError, ValueError):
            return self.send(500, json.dumps({"code": -103,
                                              "message": "Missing required argument 'id'!"}))
        build, count = METHODS[method]
        if not 0 <= cid < count:
            return self.send(500, json.dumps({
                "code": -105, "message": "Argument 'id', value %d not found!" % cid}))
        if mode == "html":
            return self.send(200, "<!DOCTYPE html><html><head><title>Wi-Fi login</title>"
                             "</head><body>Please sign in</body></html>\n", "text/html")
        if mode == "text":
            return self.send(200, "Internal error\n", "text/plain")
        if mode == "redirect":
            return self.send(302, "", "text/plain",
                             headers=[("Location", "http://127.0.0.1:1/rpc/" + method)])
        with DEV.lock:
            ch = DEV.channels[cid]
            status = build(cid, ch, mode)
            if ch["errors"]:
                status["errors"] = list(ch["errors"])
        if mode in ("big", "bigchunked"):
            status["pad"] = "x" * BIG_BYTES
        body = json.dumps(status)
        if mode == "nan":  # not JSON: what a broken firmware might print
            body = re.sub(r'"(total|total_act_energy)": [^,}]+', r'"\1": NaN', body)
        self.send(200, body, chunked=(mode == "bigchunked"))


def command(line):
    """Apply one command line; the answer to print."""
    words = line.split()
    if not words:
        return "error empty"
    cmd, args = words[0], words[1:]
    cid = int(args[1]) if len(args) > 1 and cmd in ("energy", "add", "power", "errors") else 0
    with DEV.lock:
        if cid not in DEV.channels:
            return "error no channel %d" % cid
        ch = DEV.channels[cid]
        if cmd == "energy":
            ch["energy"] = float(args[0])
        elif cmd == "add":
            ch["energy"] = round(ch["energy"] + float(args[0]), 6)
        elif cmd == "power":
            ch["power"] = float(args[0])
        elif cmd == "reboot":
            for c in DEV.channels.values():
                c["energy"] = 0.0
            DEV.source = "init"
            DEV.booted = time.time()
            DEV.nonces = []
        elif cmd == "errors":
            ch["errors"] = [] if args[0] == "-" else args[0].split(",")
        elif cmd == "mode":
            DEV.mode = args[0]
        elif cmd == "slow":
            DEV.slow = min(float(args[0]), MAX_SLOW_S)
        elif cmd == "auth":
            DEV.auth = (args[0], args[1])
        elif cmd == "noauth":
            DEV.auth = None
        elif cmd == "requests":
            return "ok %d" % DEV.requests
        else:
            return "error unknown command %s" % cmd
    return "ok"


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    threading.Timer(WATCHDOG_S, lambda: os._exit(3)).start()
    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    print(server.server_address[1], flush=True)
    for _ in range(MAX_COMMANDS):
        line = sys.stdin.readline()
        if not line:
            break
        try:
            answer = command(line)
        except (IndexError, ValueError) as e:
            answer = "error %s" % e
        print(answer, flush=True)
    DEV.stop.set()
    server.shutdown()
    server.server_close()
    os._exit(0)


if __name__ == "__main__":
    main()
