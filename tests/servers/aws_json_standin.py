"""Shared plumbing for the stand-ins of AWS JSON-protocol services (SSM, CloudWatch Logs).
These services have no local counterpart, so kiln's tests talk to these small stand-ins,
which check what the real service would refuse: the SigV4 signature (recomputed with
botocore by sigv4_referee), the X-Amz-Target, and the service's own limits.

serve(handlers, service) parses --port, --credentials AK:SK[,...], --log FILE, starts a
threaded HTTP server on 127.0.0.1 and prints "PORT <n>" on stdout once it listens.
Each handler gets (body_json, log) and returns (status, answer_json).
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_referee  # noqa: E402


class ServiceError(Exception):
    def __init__(self, code, message="", status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def serve(handlers, service, extra_args=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--credentials", default="AKIDKILNTEST:kiln-test-secret")
    parser.add_argument("--log", required=True)
    for name, kwargs in (extra_args or []):
        parser.add_argument(name, **kwargs)
    args = parser.parse_args()
    secrets = dict(pair.split(":", 1) for pair in args.credentials.split(","))
    lock = threading.Lock()
    log_file = open(args.log, "a", buffering=1)

    def log(entry):
        with lock:
            log_file.write(json.dumps(entry) + "\n")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            target = self.headers.get("X-Amz-Target", "")
            ok, why = sigv4_referee.check("POST", self.path, list(self.headers.items()), body, secrets)
            entry = {"target": target, "signed": ok}
            if ok and ("/%s/" % service) not in self.headers.get("Authorization", ""):
                ok, why = False, "signed for another service"
            if not ok:
                entry["why"] = why
                log(entry)
                # The service's own words; the canonical request stays in the stand-in's log.
                return self.answer(403, {"__type": "InvalidSignatureException",
                                         "message": "The request signature we calculated does not match the "
                                                    "signature you provided."})
            operation = target.split(".")[-1]
            handler = handlers.get(operation)
            if handler is None:
                log(entry)
                return self.answer(400, {"__type": "UnknownOperationException", "message": target})
            try:
                request = json.loads(body or b"{}")
                status, answer = handler(args, request, entry)
            except ServiceError as e:
                entry["error"] = e.code
                log(entry)
                return self.answer(e.status, {"__type": e.code, "message": e.message})
            log(entry)
            return self.answer(status, answer)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()
