#include "agent/engine/remote_access.h"

#include <filesystem>

#include "agent/net/s3_client.h"
#include "agent/net/ssm_client.h"

namespace kiln {
namespace {

// Documents are small; this bounds what a wrong URL (an ISO image) can cost.
constexpr size_t kMaxDocumentBytes = 16 * 1024 * 1024;

std::string s3_key_join(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return prefix.back() == '/' ? prefix + name : prefix + "/" + name;
}

}  // namespace

Expected<std::string> fetch_remote_text(const std::string& location, const std::string& s3_bucket_owner) {
  if (location.rfind("arn:", 0) == 0)
    return unexpected("Image Builder component ARNs cannot be read by kiln (that needs the Image Builder API)");
  if (location.rfind("s3://", 0) == 0) {
    Expected<net::S3Location> where = net::parse_s3_url(location);
    if (!where) return unexpected(where.error());
    net::S3Client s3(net::shared_aws_environment());
    return s3.get_object_text(*where, s3_bucket_owner, kMaxDocumentBytes);
  }
  net::HttpClient http;
  net::HttpRequest request;
  request.url = location;
  request.max_body_in_memory = kMaxDocumentBytes;
  request.total_timeout = std::chrono::seconds(120);
  net::HttpResponse response = net::perform_with_retries(http, request, {});
  if (response.error != net::TransferError::None) return unexpected(location + ": " + response.error_message);
  if (!response.ok()) return unexpected(location + ": HTTP " + std::to_string(response.status));
  return std::move(response.body);
}

Expected<std::string> AwsExternalValues::ssm_parameter(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = ssm_.find(name); it != ssm_.end()) return it->second;
  if (!http_) http_ = std::make_unique<net::HttpClient>();
  Expected<net::SsmParameter> parameter = net::get_ssm_parameter(*http_, net::shared_aws_environment(), name);
  if (!parameter) return unexpected(parameter.error());
  if (parameter->type == net::SsmParameterType::SecureString) masker_.add(parameter->value);
  return ssm_[name] = parameter->value;
}

Expected<std::string> AwsExternalValues::instance_metadata(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (auto it = imds_.find(path); it != imds_.end()) return it->second;
  net::ImdsClient& imds = net::shared_aws_environment().imds();
  if (imds.disabled()) return unexpected("instance metadata is turned off (AWS_EC2_METADATA_DISABLED)");
  Expected<std::string> value = imds.get("meta-data/" + path);
  if (!value) return unexpected("instance metadata '" + path + "': " + value.error());
  return imds_[path] = *value;
}

RemoteLogs::~RemoteLogs() {
  if (streamer_) log_.set_console_tap({});
}

Status RemoteLogs::start() {
  if (!destinations_.streams_to_cloudwatch()) return {};
  auto streamer = std::make_unique<net::CloudWatchStreamer>(net::shared_aws_environment(), destinations_.cw_log_group,
                                                            destinations_.cw_log_stream, destinations_.cw_log_region);
  if (Status started = streamer->start(); !started) return started;
  streamer_ = std::move(streamer);
  net::CloudWatchStreamer* sink = streamer_.get();
  log_.set_console_tap([sink](std::string_view lines) { sink->append(lines); });
  return {};
}

Status RemoteLogs::finish_streaming() {
  if (!streamer_) return {};
  log_.set_console_tap({});
  return streamer_->finish();
}

std::string RemoteLogs::log_url() const {
  if (!destinations_.uploads_to_s3()) return log_.folder();
  std::string folder = std::filesystem::path(log_.folder()).filename().string();
  return "s3://" + destinations_.s3_bucket + "/" + s3_key_join(destinations_.s3_key_prefix, folder) + "/";
}

Status RemoteLogs::upload() {
  if (!destinations_.uploads_to_s3()) return {};
  Expected<net::S3Location> prefix = net::parse_s3_url(log_url());
  if (!prefix) return unexpected(prefix.error());
  net::S3Client s3(net::shared_aws_environment());
  return s3.upload_folder(log_.folder(), *prefix, destinations_.s3_bucket_owner);
}

}  // namespace kiln
