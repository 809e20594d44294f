"""The referee for kiln's AWS signatures: recomputes a request's SigV4 with botocore
(Debian's python3-botocore, AWS's own signing code) and says whether it matches.
Used by the S3 verifying proxy and by the SSM and CloudWatch Logs stand-ins.

    ok, why = check(method, raw_path_and_query, headers, body, secrets)
headers: list of (name, value) as received; body: bytes (or None when the payload hash
header is UNSIGNED-PAYLOAD / not checked); secrets: {access_key_id: secret_access_key}.
"""
import datetime
import hashlib
import re

from botocore.auth import SigV4Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})$")


def check(method, path, headers, body, secrets, max_skew_seconds=900):
    lower = {}
    for name, value in headers:
        lower.setdefault(name.lower(), value)
    auth = lower.get("authorization")
    if not auth:
        return False, "no Authorization header"
    m = _AUTH.match(auth.strip())
    if not m:
        return False, "Authorization header is not SigV4: " + auth[:40]
    key = m.group("key")
    if key not in secrets:
        return False, "unknown access key " + key
    amz_date = lower.get("x-amz-date")
    if not amz_date:
        return False, "no x-amz-date"
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    skew = abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds())
    if skew > max_skew_seconds:
        return False, "x-amz-date is %d s away from now" % skew
    if m.group("date") != amz_date[:8]:
        return False, "credential scope date differs from x-amz-date"
    signed = m.group("signed").split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return False, required + " is not signed"
    if "x-amz-security-token" in lower and "x-amz-security-token" not in signed:
        return False, "x-amz-security-token is not signed"
    payload_hash = lower.get("x-amz-content-sha256")
    if body is not None and payload_hash and payload_hash != "UNSIGNED-PAYLOAD":
        if hashlib.sha256(body).hexdigest() != payload_hash:
            return False, "x-amz-content-sha256 does not match the body"
    service = m.group("service")
    request = AWSRequest(method=method, url="http://" + lower.get("host", "") + path,
                         data=body if body is not None else b"")
    for name in signed:
        if name not in lower:
            return False, "signed header %s is missing" % name
        request.headers[name] = lower[name]
    if payload_hash is None and service != "s3":
        # botocore hashes the body itself when the header is absent
        pass
    creds = Credentials(key, secrets[key], lower.get("x-amz-security-token"))
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(creds, service, m.group("region"))
    request.context["timestamp"] = amz_date
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != m.group("sig"):
        return False, "signature mismatch; canonical request was:\n" + canonical
    return True, ""
