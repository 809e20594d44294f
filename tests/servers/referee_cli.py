"""Command-line face of sigv4_referee for kiln's C++ tests: reads one request as JSON
({"method", "path", "headers": [[name, value]...], "body_hex", "secrets": {key: secret}})
from the file named on the command line and prints "OK" or "BAD <why>"."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_referee  # noqa: E402

with open(sys.argv[1]) as f:
    r = json.load(f)
body = bytes.fromhex(r["body_hex"]) if r.get("body_hex") is not None else None
ok, why = sigv4_referee.check(r["method"], r["path"], [tuple(h) for h in r["headers"]], body, r["secrets"],
                              max_skew_seconds=r.get("max_skew_seconds", 900))
print("OK" if ok else "BAD " + why)
