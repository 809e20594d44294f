// The engine's door to the network (agent/net): documents and config files read from
// s3:// and https://, the values of {{ aws:ssm:... }} and {{ aws:imds:... }}, and the run's
// logs sent to S3 (after the run) and CloudWatch Logs (while it runs).
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/base/expected.h"
#include "agent/engine/resolver.h"
#include "agent/net/aws_credentials.h"
#include "agent/net/cloudwatch_logs.h"
#include "agent/net/http.h"
#include "agent/report/run_log.h"
#include "agent/report/secret_masker.h"
#include "agent/state/records.h"

namespace kiln {

// The text of a document or config file at s3://bucket/key (from a bucket owned by
// `s3_bucket_owner` when given) or http(s)://...; an ARN is refused with a hint.
Expected<std::string> fetch_remote_text(const std::string& location, const std::string& s3_bucket_owner);

// aws:ssm and aws:imds values for one run: each name is fetched once and kept; a
// SecureString's value is added to `masker`, so it is masked wherever secrets are.
class AwsExternalValues : public ExternalValues {
 public:
  explicit AwsExternalValues(SecretMasker& masker) : masker_(masker) {}
  Expected<std::string> ssm_parameter(const std::string& name) override;
  Expected<std::string> instance_metadata(const std::string& path) override;

 private:
  SecretMasker& masker_;
  std::mutex mutex_;
  std::unique_ptr<net::HttpClient> http_;
  std::map<std::string, std::string> ssm_, imds_;
};

// --cw-* and --log-s3-*: streams console.log to CloudWatch Logs from start() to
// finish_streaming(), and uploads the log folder with upload().
class RemoteLogs {
 public:
  RemoteLogs(const LogDestinations& destinations, RunLog& log) : destinations_(destinations), log_(log) {}
  ~RemoteLogs();
  // Creates the log stream and starts streaming. A failure is returned (the caller refuses
  // the run unless --cw-ignore-failures).
  Status start();
  // Sends what is left; the first streaming failure, if any.
  Status finish_streaming();
  // s3://bucket/prefix/TOE_.../ when uploading, else the local folder.
  std::string log_url() const;
  // Uploads every file of the log folder under log_url().
  Status upload();

 private:
  const LogDestinations& destinations_;
  RunLog& log_;
  std::unique_ptr<net::CloudWatchStreamer> streamer_;
};

}  // namespace kiln
