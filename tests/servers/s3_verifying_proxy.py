"""The S3 verifying proxy for kiln's tests: s3rver does not check SigV4 signatures (only
the access key id), so every request goes through this proxy first. It recomputes the
signature with botocore (sigv4_referee), answers 403 SignatureDoesNotMatch (S3's XML) when
it differs, optionally enforces x-amz-expected-bucket-owner (403 AccessDenied when the
header names another account), logs each request as one JSON line, and forwards the
original request unchanged to s3rver.

    s3_verifying_proxy.py --upstream http://127.0.0.1:PORT --port-file F --log F
                          --secrets '{"S3RVER": "S3RVER"}' [--owner 111122223333]
                          [--stall PATH-SUBSTRING --stall-seconds N] [--fail PATH-SUBSTRING]

--stall holds requests whose path contains the substring for N seconds before answering
(for timeout tests); --fail answers 400 InvalidRequest to requests whose path contains
the substring (for partial-failure and multipart-abort tests).

Bodies are spooled to a temporary file past a few MiB (the payload hash is computed while
reading), and responses stream back in chunks, so a 200 MB object is never held whole.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import os
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_referee  # noqa: E402

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te", "upgrade"}
MEMORY_LIMIT = 4 * 1024 * 1024
CHUNK = 256 * 1024


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiln-s3-verifying-proxy"

    def log_message(self, *args):  # quiet: the JSON log is the record
        pass

    def _upstream(self):
        local = self.server.local
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port,
                                                    timeout=120)
        return local.conn

    def _read_body(self):
        """Returns (bytes or None, spool file or None, sha256 hex, length)."""
        length = int(self.headers.get("Content-Length") or 0)
        digest = hashlib.sha256()
        if length <= MEMORY_LIMIT:
            data = self.rfile.read(length) if length else b""
            digest.update(data)
            return data, None, digest.hexdigest(), length
        spool = tempfile.TemporaryFile()
        left = length
        while left:
            chunk = self.rfile.read(min(CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            spool.write(chunk)
            left -= len(chunk)
        spool.seek(0)
        return None, spool, digest.hexdigest(), length

    def _error(self, status, code, message):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                "<Resource>%s</Resource></Error>" % (code, message.replace("&", "&amp;").replace("<", "&lt;"),
                                                     self.path.split("?")[0])).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _log(self, record):
        with self.server.log_lock, open(self.server.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def _handle(self):
        data, spool, body_hash, length = self._read_body()
        headers = list(self.headers.items())
        record = {"method": self.command, "path": self.path, "headers": sorted({n.lower() for n, _ in headers}),
                  "content_length": length}
        lower = {n.lower(): v for n, v in headers}
        claimed = lower.get("x-amz-content-sha256")
        ok, why = True, ""
        if claimed and claimed != "UNSIGNED-PAYLOAD" and not claimed.startswith("STREAMING-") and claimed != body_hash:
            ok, why = False, "x-amz-content-sha256 does not match the body"
        if ok:
            ok, why = sigv4_referee.check(self.command, self.path, headers, None, self.server.secrets)
        record["signed_ok"] = ok
        if not ok:
            record.update(status=403, why=why)
            self._log(record)
            # Like S3, the message does not echo the request (its headers may hold a session
            # token); the canonical request is in the proxy's log for whoever debugs.
            self._error(403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your key and signing method.")
            return
        owner = lower.get("x-amz-expected-bucket-owner")
        record["expected_owner"] = owner
        if self.server.owner and owner and owner != self.server.owner:
            record.update(status=403, why="expected bucket owner differs")
            self._log(record)
            self._error(403, "AccessDenied", "Access Denied")
            return
        if self.server.fail and self.server.fail in self.path:
            record.update(status=400, why="injected failure")
            self._log(record)
            self._error(400, "InvalidRequest", "Injected failure for a test")
            return
        if self.server.stall and self.server.stall in self.path:
            time.sleep(self.server.stall_seconds)
        forward = {n: v for n, v in headers if n.lower() not in HOP_BY_HOP}
        conn = self._upstream()
        try:
            conn.request(self.command, self.path, body=data if spool is None else spool, headers=forward)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            self.server.local.conn = None
            conn = self._upstream()
            if spool is not None:
                spool.seek(0)
            conn.request(self.command, self.path, body=data if spool is None else spool, headers=forward)
            response = conn.getresponse()
        record["status"] = response.status
        self._log(record)
        announced = response.getheader("Content-Length")
        body = None if announced is not None or self.command == "HEAD" else response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue
            self.send_header(name, value)
        if self.command == "HEAD":
            if announced is not None:
                self.send_header("Content-Length", announced)
            self.end_headers()
            response.read()
        elif body is None:
            self.send_header("Content-Length", announced)
            self.end_headers()
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                self.wfile.write(chunk)
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        if spool is not None:
            spool.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secrets", required=True, help="JSON map access key id -> secret")
    p.add_argument("--owner", default="")
    p.add_argument("--stall", default="")
    p.add_argument("--fail", default="")
    p.add_argument("--stall-seconds", type=float, default=0)
    a = p.parse_args()
    server = Server(("127.0.0.1", 0), Proxy)
    server.upstream = urllib.parse.urlparse(a.upstream)
    server.secrets = json.loads(a.secrets)
    server.owner = a.owner
    server.stall, server.stall_seconds, server.fail = a.stall, a.stall_seconds, a.fail
    server.log_path = a.log
    server.log_lock = threading.Lock()
    server.local = threading.local()
    open(a.log, "a").close()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
