#!/usr/bin/python3
"""test_tls_name.py - a server with the wrong name never sees the lab's
client certificate.

Why: libcurl with OpenSSL checks the server's host name after the handshake,
so a server holding a certificate from the lab's own CA, but for another
name, used to complete the handshake and receive the lab's certificate
before the agent refused it. The agent now puts the name into the
handshake's own certificate check. This test watches from the server's side
(Python's ssl module, asking for a client certificate): with TLS 1.3 and
with TLS 1.2, every handshake with the wrong-name server fails and no client
certificate arrives, while the same server with the right certificate does
get one (so the test can see what it looks for).

usage: test_tls_name.py LABAGENT EVENT_WRITER [unittest args]
"""

import os
import socket
import ssl
import sys
import threading
import time

import test_link as tl


class WatchingServer:
    """A TLS server on 127.0.0.1 that records, per connection, whether the
    handshake completed, the client certificate it got, and any bytes after."""

    def __init__(self, cert, tls_max):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.maximum_version = tls_max
        self.ctx.load_cert_chain(os.path.join(tl.CERTS, cert + ".pem"),
                                 os.path.join(tl.CERTS, cert + ".key"))
        self.ctx.load_verify_locations(os.path.join(tl.CERTS, "ca.pem"))
        self.ctx.verify_mode = ssl.CERT_OPTIONAL  # ask; record what comes
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        deadline = time.monotonic() + 120  # bounded, whatever the test does
        while not self.stopping and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(5)
            entry = {"handshake": False, "client_cert": None, "bytes": 0, "error": None}
            try:
                tls = self.ctx.wrap_socket(conn, server_side=True)
                entry["handshake"] = True
                cert = tls.getpeercert()
                entry["client_cert"] = dict(x[0] for x in cert["subject"]) if cert else None
                try:
                    entry["bytes"] = len(tls.recv(65536))
                except (OSError, ssl.SSLError):
                    pass
                tls.close()
            except (OSError, ssl.SSLError) as e:
                entry["error"] = getattr(e, "reason", None) or str(e)
                conn.close()
            with self.lock:
                self.seen.append(entry)

    def entries(self):
        with self.lock:
            return list(self.seen)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


class TlsNameTest(tl.AgentTestCase):

    def run_agent_against(self, cert, tls_max, tag, host="localhost"):
        server = WatchingServer(cert, tls_max)
        self.addCleanup(server.stop)
        work = os.path.join(self.dir, tag)
        os.mkdir(work)
        ag = tl.Agent(work, server.port)
        if host != "localhost":
            with open(ag.config) as f:
                text = f.read()
            with open(ag.config, "w") as f:
                f.write(text.replace("https://localhost:", "https://%s:" % host))
        ag.start()
        # The link and the outbox each try, then back off: two attempts come within seconds.
        tl.wait_until(lambda: len(server.entries()) >= 2, 30, "two connections from the agent")
        self.assertEqual(ag.stop(), 0)
        return server.entries(), ag.log()

    def test_wrong_name_fails_the_handshake_before_the_client_certificate(self):
        for name, tls_max in (("TLS 1.3", ssl.TLSVersion.TLSv1_3),
                              ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
            with self.subTest(tls=name):
                seen, log = self.run_agent_against("wronghost-server", tls_max,
                                                   "wrong-" + name[-3:])
                for entry in seen:
                    self.assertFalse(entry["handshake"], "the server completed a handshake: %r"
                                     % entry)
                    self.assertIsNone(entry["client_cert"])
                    self.assertEqual(entry["bytes"], 0)
                    self.assertIsNotNone(entry["error"])
                self.assertIn("platform_tls_verify_failed", log)
                self.assertIn("hostname mismatch", log.lower())

    def test_address_is_checked_as_an_address(self):
        """A URL with an IP address: the certificate's IP SAN must hold it."""
        seen, _ = self.run_agent_against("server", ssl.TLSVersion.TLSv1_3, "ip-right",
                                         host="127.0.0.1")
        self.assertTrue([e for e in seen if e["handshake"] and e["client_cert"]], seen)
        seen, log = self.run_agent_against("wronghost-server", ssl.TLSVersion.TLSv1_3,
                                           "ip-wrong", host="127.0.0.1")
        self.assertEqual([e for e in seen if e["handshake"]], [], seen)
        self.assertIn("ip address mismatch", log.lower())

    def test_right_name_gets_the_client_certificate(self):
        """The control: the same watcher does see a client certificate and a request."""
        for name, tls_max in (("TLS 1.3", ssl.TLSVersion.TLSv1_3),
                              ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
            with self.subTest(tls=name):
                seen, _ = self.run_agent_against("server", tls_max, "right-" + name[-3:])
                done = [e for e in seen if e["handshake"]]
                self.assertTrue(done, seen)
                self.assertEqual(done[0]["client_cert"].get("commonName"), "test-lab", done[0])
                self.assertGreater(done[0]["bytes"], 0)


if __name__ == "__main__":
    sys.exit(tl.main(module="__main__", doc=__doc__))
