// AWS Signature Version 4 (OpenSSL HMAC-SHA256), for S3, SSM and CloudWatch Logs.
// kiln signs requests itself instead of using libcurl's CURLOPT_AWS_SIGV4: that option
// appeared in curl 7.75 (RHEL 8 ships 7.61), and in curl 7.88 it neither sorts the query
// string nor adds x-amz-content-sha256, and its canonical form has changed between curl
// releases. A signature that depends on the distribution's curl is not one a golden image
// can rely on. See docs/DECISIONS.md, "Signing".
#pragma once
#include <chrono>
#include <string>

#include "agent/net/aws_credentials.h"
#include "agent/net/http.h"

namespace kiln::net {

// The hex SHA-256 of an empty payload, and the marker for a payload that is not hashed.
inline constexpr const char* kEmptyPayloadSha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr const char* kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct SigningScope {
  std::string region;   // "us-east-1"
  std::string service;  // "s3", "ssm", "logs"
  // S3 requires x-amz-content-sha256; other services accept it. Off only for the generic
  // AWS test-suite vectors, whose signed headers are just host and x-amz-date.
  bool content_sha256_header = true;
};

// Adds host, x-amz-date, x-amz-content-sha256 (= payload_sha256), x-amz-security-token
// (when the credentials have a session token) and Authorization to `request`, signing its
// method, path, query (sorted here, so callers may build it in any order) and every header
// it already has. `payload_sha256` is the hex SHA-256 of the body, or kUnsignedPayload.
// `now` is injectable for the AWS test vectors. Headers with an empty value are left
// unsigned (an intermediary may drop an empty header, which would break the signature).
void sign_request(HttpRequest& request, const AwsCredentials& credentials, const SigningScope& scope,
                  const std::string& payload_sha256,
                  std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The canonical request sign_request() signs (for tests and for diagnosing a mismatch).
std::string canonical_request(const HttpRequest& request, const std::string& payload_sha256);

}  // namespace kiln::net
