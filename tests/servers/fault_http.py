"""A scripted HTTP(S) server for kiln's download tests (python3 stdlib only).

    fault_http.py READY_FILE LOG_FILE [CERT KEY]

Listens on 127.0.0.1 on a free port, writes the port to READY_FILE once it accepts
connections, and appends one JSON line per request to LOG_FILE:
{"method", "path", "range", "expect"} (the Range and Expect headers, "" if none; a PUT
or POST adds the body's "length" and "sha256" and answers 200 with the length). With CERT and KEY it
speaks TLS. Routes (by path):

  /data/<n>[/<name>]        n bytes of the pattern byte(i) = (i * 31 + 7) % 256; honours Range (206)
  /redirect/<k>/<n>         302 -> /redirect/<k-1>/<n> ... -> /data/<n>
  /loop/<tag>               302 -> itself, forever
  /status/<code>            that status, body "status <code>"
  /flaky/<k>/<n>[/<tag>]    the first k requests (per path) answer 500, then /data/<n>
  /throttle/<code>/<k>/<n>  the first k requests answer <code> with an S3 SlowDown body, then /data/<n>
  /slow/<n>                 announces n bytes, sends 10, then stalls 60 s
  /truncate/<n>[/<tag>]     first request: Content-Length n but only n/2 bytes, then the
                            connection closes; later requests: /data/<n> (Range honoured)
  /truncate-norange/<n>[/<tag>]  as /truncate, but later requests ignore Range (200, whole body)
  /wrong-range/<n>[/<tag>]  as /truncate, but a Range request gets a 206 from byte 0
  PUT/POST /r307/<path>     307 to /<path> (the client must send its body again)
"""
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time

READY, LOG = sys.argv[1], sys.argv[2]
TLS = sys.argv[3:5] if len(sys.argv) >= 5 else None
_lock = threading.Lock()
_counts = {}


_PERIOD = bytes((i * 31 + 7) % 256 for i in range(256))


def pattern(start, end):
    """Bytes [start, end) of the pattern; it repeats every 256 bytes (fast for tens of MiB)."""
    if end <= start:
        return b""
    offset = start % 256
    return (_PERIOD * ((end - start + offset) // 256 + 1))[offset:offset + end - start]


def count(path):
    with _lock:
        _counts[path] = _counts.get(path, 0) + 1
        return _counts[path]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, extra=None):
        entry = {"method": self.command, "path": self.path, "range": self.headers.get("Range", ""),
                 "expect": self.headers.get("Expect", "")}
        entry.update(extra or {})
        line = json.dumps(entry)
        with _lock, open(LOG, "a") as f:
            f.write(line + "\n")

    def send_body(self, code, body, headers=()):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_data(self, n, honour_range=True, force_start=None):
        rng = self.headers.get("Range", "")
        if honour_range and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1]) if force_start is None else force_start
            if start < n:
                self.send_body(206, pattern(start, n), [("Content-Range", "bytes %d-%d/%d" % (start, n - 1, n))])
                return
        self.send_body(200, pattern(0, n))

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.record({"length": len(body), "sha256": hashlib.sha256(body).hexdigest()})
        if self.path.startswith("/r307/"):
            self.send_body(307, b"again", [("Location", self.path[len("/r307"):])])
        else:
            self.send_body(200, b"%d" % len(body))

    do_POST = do_PUT

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        parts = self.path.split("?")[0].strip("/").split("/")
        kind = parts[0]
        try:
            if kind == "data":
                self.send_data(int(parts[1]))
            elif kind == "redirect":
                k, n = int(parts[1]), int(parts[2])
                target = "/redirect/%d/%d" % (k - 1, n) if k > 1 else "/data/%d" % n
                self.send_body(302, b"moved", [("Location", target)])
            elif kind == "loop":
                self.send_body(302, b"moved", [("Location", self.path)])
            elif kind == "status":
                code = int(parts[1])
                self.send_body(code, b"status %d" % code)
            elif kind == "flaky":
                k, n = int(parts[1]), int(parts[2])
                if count(self.path) <= k:
                    self.send_body(500, b"flaky: failing on purpose")
                else:
                    self.send_data(n)
            elif kind == "throttle":
                code, k, n = int(parts[1]), int(parts[2]), int(parts[3])
                if count(self.path) <= k:
                    self.send_body(code, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
                else:
                    self.send_data(n)
            elif kind == "slow":
                n = int(parts[1])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                self.wfile.write(pattern(0, 10))
                self.wfile.flush()
                time.sleep(60)
                self.close_connection = True
            elif kind in ("truncate", "truncate-norange", "wrong-range"):
                n = int(parts[1])
                if count(self.path) == 1:
                    self.send_response(200)
                    self.send_header("Content-Length", str(n))
                    self.end_headers()
                    self.wfile.write(pattern(0, n // 2))
                    self.wfile.flush()
                    self.close_connection = True
                elif kind == "truncate":
                    self.send_data(n)
                elif kind == "truncate-norange":
                    self.send_data(n, honour_range=False)
                else:
                    self.send_data(n, force_start=0)
            else:
                self.send_body(404, b"no such route")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if TLS:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS[0], TLS[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    tmp = READY + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, READY)
    server.serve_forever()


if __name__ == "__main__":
    main()
