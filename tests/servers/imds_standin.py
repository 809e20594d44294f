"""IMDS stand-in for kiln's tests. The EC2 instance metadata service exists only on EC2
(169.254.169.254); there is no local counterpart, so this small server imitates the
IMDSv2 behaviour kiln relies on:

  PUT /latest/api/token  (needs X-aws-ec2-metadata-token-ttl-seconds) -> a session token
  GET /latest/<path>     (needs X-aws-ec2-metadata-token, 401 without or with a wrong one)
      meta-data/iam/security-credentials/        -> the role name (when --role is given)
      meta-data/iam/security-credentials/<role>  -> JSON credentials expiring in --expiry-seconds
      any other path                             -> the value from the --paths JSON map, or 404

    imds_standin.py --port-file F --counts F [--paths '{"meta-data/placement/region": "eu-west-3"}']
                    [--role kiln-role --access-key AKIA... --secret S --expiry-seconds 3600]

Each credentials answer carries a new session token ("<prefix>-<n>"). The counts file
(JSON: token, credentials, get, unauthorized) is rewritten after every request so tests
can see how often kiln asked.
"""
import argparse
import datetime
import http.server
import json
import os
import secrets
import socketserver
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body, content_type="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _count(self, what):
        s = self.server
        with s.lock:
            s.counts[what] = s.counts.get(what, 0) + 1
            tmp = s.counts_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(s.counts, f)
            os.replace(tmp, s.counts_path)

    def do_PUT(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path != "/latest/api/token":
            return self._reply(404, "not found")
        if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self._reply(400, "missing X-aws-ec2-metadata-token-ttl-seconds")
        token = secrets.token_hex(16)
        self.server.tokens.add(token)
        self._count("token")
        self._reply(200, token)

    def do_GET(self):
        s = self.server
        if self.headers.get("X-aws-ec2-metadata-token") not in s.tokens:
            self._count("unauthorized")
            return self._reply(401, "unauthorized")
        self._count("get")
        path = self.path[len("/latest/"):] if self.path.startswith("/latest/") else None
        if path is None:
            return self._reply(404, "not found")
        creds = "meta-data/iam/security-credentials/"
        if s.role and path == creds:
            return self._reply(200, s.role)
        if s.role and path == creds + s.role:
            self._count("credentials")
            with s.lock:
                s.issued += 1
                n = s.issued
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=s.expiry)
            return self._reply(200, json.dumps({
                "Code": "Success", "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Type": "AWS-HMAC", "AccessKeyId": s.access_key, "SecretAccessKey": s.secret,
                "Token": "%s-%d" % (s.token_prefix, n), "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}),
                "application/json")
        if path in s.paths:
            return self._reply(200, s.paths[path])
        self._reply(404, "not found")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--counts", required=True)
    p.add_argument("--paths", default="{}", help="JSON map: path under /latest/ -> body")
    p.add_argument("--role", default="")
    p.add_argument("--access-key", default="S3RVER")
    p.add_argument("--secret", default="S3RVER")
    p.add_argument("--token-prefix", default="IMDS-SESSION-TOKEN")
    p.add_argument("--expiry-seconds", type=int, default=3600)
    a = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.lock = threading.Lock()
    server.counts = {"token": 0, "credentials": 0, "get": 0, "unauthorized": 0}
    server.counts_path = a.counts
    server.paths = json.loads(a.paths)
    server.role, server.access_key, server.secret = a.role, a.access_key, a.secret
    server.token_prefix, server.expiry, server.issued = a.token_prefix, a.expiry_seconds, 0
    server.tokens = set()
    with open(a.counts, "w") as f:
        json.dump(server.counts, f)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
