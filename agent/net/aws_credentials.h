// Where kiln's AWS access comes from, resolved as the AWS SDKs and CLI resolve it:
//   credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN), then the shared
//     credentials and config files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_PROFILE,
//     default ~/.aws/credentials and ~/.aws/config), then the instance role through IMDSv2
//     (a token first; refreshed before it expires).
//   region: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then IMDS's placement/region.
//   endpoints: AWS_ENDPOINT_URL_<SERVICE> (S3, LOGS, SSM), then AWS_ENDPOINT_URL, then the
//     service's public endpoint for the region.
//   IMDS: AWS_EC2_METADATA_DISABLED=true turns it off; AWS_EC2_METADATA_SERVICE_ENDPOINT
//     points it elsewhere (default http://169.254.169.254).
// Nothing here logs or writes a secret key, session token or IMDS token.
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/base/expected.h"

namespace kiln::net {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                                     // empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expires;  // instance-role credentials
  std::string source;  // "environment", "shared credentials file (profile x)", "instance role y": for messages
};

enum class AwsService { S3, Ssm, Logs };

// IMDSv2 (token, then GET with the token). `path` is relative to /latest/ ("meta-data/placement/region").
class ImdsClient {
 public:
  ImdsClient();
  bool disabled() const;
  Expected<std::string> get(const std::string& path);

 private:
  std::string endpoint_;
  bool disabled_ = false;
  std::string token_;
  std::chrono::steady_clock::time_point token_expires_;
  std::mutex mutex_;
};

// The process's view of AWS, shared by every client in a run (thread-safe).
class AwsEnvironment {
 public:
  AwsEnvironment();
  // Credentials from the chain above; instance-role credentials are refreshed 5 minutes
  // before they expire. The error names each source tried and why it gave nothing.
  Expected<AwsCredentials> credentials();
  // The region for a service call; `explicit_region` (e.g. --cw-log-region) wins.
  Expected<std::string> region(const std::string& explicit_region = "");
  // "https://s3.us-east-1.amazonaws.com" or the AWS_ENDPOINT_URL* override (no trailing '/').
  std::string endpoint(AwsService service, const std::string& region) const;
  // True when an endpoint override is set for the service (path-style S3 addressing then).
  bool endpoint_overridden(AwsService service) const;
  ImdsClient& imds() { return imds_; }

 private:
  std::mutex mutex_;
  std::optional<AwsCredentials> cached_;
  std::optional<std::string> cached_region_;  // from IMDS only (the environment is read each time)
  ImdsClient imds_;
};

// The process's AwsEnvironment (created on first use): actions, document loading and log
// upload share its cached credentials, region and IMDS token.
AwsEnvironment& shared_aws_environment();

}  // namespace kiln::net
