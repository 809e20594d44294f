// SigV4 against AWS's published vectors (checked again with botocore when they were
// written down), and end to end through the botocore referee (tests/servers/sigv4_referee.py).
#include "agent/net/aws_sigv4.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "agent/base/hash.h"
#include "tests/support/s3_server.h"

using namespace kiln::net;

namespace {

std::chrono::system_clock::time_point at(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

std::string header(const HttpRequest& r, const std::string& name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return "<absent>";
}

std::string signature_of(const HttpRequest& r) {
  std::string auth = header(r, "Authorization");
  size_t at_sig = auth.find("Signature=");
  return at_sig == std::string::npos ? auth : auth.substr(at_sig + 10);
}

// "OK" or "BAD <why>" from the botocore referee for `request` with `body`.
std::string referee(const HttpRequest& request, const std::string& body, const std::string& secret) {
  kiln::test::TempDir dir;
  size_t scheme = request.url.find("://");
  size_t path = request.url.find('/', scheme + 3);
  nlohmann::json r = {{"method", request.method},
                      {"path", path == std::string::npos ? "/" : request.url.substr(path)},
                      {"headers", nlohmann::json::array()},
                      {"body_hex", kiln::to_hex(body)},
                      {"secrets", {{"AKIDKILN", secret}}}};
  for (const auto& h : request.headers) r["headers"].push_back({h.name, h.value});
  return kiln::s3test::run_referee(dir.write("request.json", r.dump()));
}

}  // namespace

TEST_CASE("SigV4: the S3 documentation's GET Object example (Range header)") {
  HttpRequest r;
  r.url = "https://examplebucket.s3.amazonaws.com/test.txt";
  r.headers.push_back({"Range", "bytes=0-9"});
  AwsCredentials c{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", {}, "test"};
  sign_request(r, c, {"us-east-1", "s3"}, kEmptyPayloadSha256, at(2013, 5, 24, 0, 0, 0));
  CHECK(header(r, "host") == "examplebucket.s3.amazonaws.com");
  CHECK(header(r, "x-amz-date") == "20130524T000000Z");
  CHECK(header(r, "Authorization") ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("SigV4: aws-sig-v4-test-suite get-vanilla") {
  HttpRequest r;
  r.url = "https://example.amazonaws.com/";
  AwsCredentials c{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", {}, "test"};
  SigningScope scope{"us-east-1", "service"};
  scope.content_sha256_header = false;
  sign_request(r, c, scope, kEmptyPayloadSha256, at(2015, 8, 30, 12, 36, 0));
  CHECK(canonical_request(r, kEmptyPayloadSha256).find("host;x-amz-date\n") != std::string::npos);
  CHECK(signature_of(r) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST_CASE("SigV4: canonical form: sorted query, non-default port in host, trimmed headers, empty ones unsigned") {
  HttpRequest r;
  r.url = "http://127.0.0.1:4568/bucket/a%20b/c?prefix=dir%2F&list-type=2&continuation-token=x";
  r.headers.push_back({"X-Custom", "  two   spaces  "});
  r.headers.push_back({"Expect", ""});
  AwsCredentials c{"AKIDKILN", "secret", "", {}, "test"};
  sign_request(r, c, {"us-east-1", "s3"}, kEmptyPayloadSha256, at(2026, 1, 2, 3, 4, 5));
  std::string canonical = canonical_request(r, kEmptyPayloadSha256);
  CHECK(canonical.find("GET\n/bucket/a%20b/c\ncontinuation-token=x&list-type=2&prefix=dir%2F\n") == 0);
  CHECK(canonical.find("host:127.0.0.1:4568\n") != std::string::npos);
  CHECK(canonical.find("x-custom:two spaces\n") != std::string::npos);
  CHECK(canonical.find("expect") == std::string::npos);
  HttpRequest https;
  https.url = "https://example.com:443/x";
  sign_request(https, c, {"us-east-1", "s3"}, kEmptyPayloadSha256);
  CHECK(header(https, "host") == "example.com");
}

TEST_CASE("SigV4: the session token is sent and signed") {
  HttpRequest r;
  r.url = "https://s3.us-east-1.amazonaws.com/b/k";
  AwsCredentials c{"AKIDKILN", "secret", "TOKEN-123", {}, "test"};
  sign_request(r, c, {"us-east-1", "s3"}, kEmptyPayloadSha256);
  CHECK(header(r, "x-amz-security-token") == "TOKEN-123");
  CHECK(header(r, "Authorization").find("x-amz-security-token") != std::string::npos);
}

TEST_CASE("SigV4: botocore's referee accepts kiln's signatures and rejects a wrong secret" *
          KILN_SKIP_UNLESS(kiln::s3test::have_botocore_or_ci(), "needs python3-botocore (/usr/bin/python3)")) {
  AwsCredentials c{"AKIDKILN", "right-secret", "", {}, "test"};
  HttpRequest get;
  get.url = "http://127.0.0.1:9000/kiln-test/dir/a%20file%2B1.txt?versionId=3&acl=";
  get.headers.push_back({"Range", "bytes=0-9"});
  sign_request(get, c, {"us-east-1", "s3"}, kEmptyPayloadSha256);
  CHECK(referee(get, "", "right-secret") == "OK");
  CHECK(referee(get, "", "wrong-secret").rfind("BAD signature mismatch", 0) == 0);

  HttpRequest put;
  put.method = "PUT";
  put.url = "https://s3.eu-west-1.amazonaws.com/b/k?uploadId=abc&partNumber=2";
  put.headers.push_back({"Content-Type", "application/octet-stream"});
  std::string body = "hello, S3";
  AwsCredentials with_token{"AKIDKILN", "right-secret", "SESSION/TOKEN+=", {}, "test"};
  sign_request(put, with_token, {"eu-west-1", "s3"}, kiln::sha256_hex(body));
  CHECK(referee(put, body, "right-secret") == "OK");
  CHECK(referee(put, "another body", "right-secret") == "BAD x-amz-content-sha256 does not match the body");

  HttpRequest ssm;
  ssm.method = "POST";
  ssm.url = "https://ssm.us-east-1.amazonaws.com/";
  ssm.headers.push_back({"Content-Type", "application/x-amz-json-1.1"});
  ssm.headers.push_back({"X-Amz-Target", "AmazonSSM.GetParameter"});
  std::string json_body = R"({"Name":"/a/b"})";
  sign_request(ssm, c, {"us-east-1", "ssm"}, kiln::sha256_hex(json_body));
  CHECK(referee(ssm, json_body, "right-secret") == "OK");
}
