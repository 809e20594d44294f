#include "agent/net/aws_credentials.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/base/text.h"
#include "agent/net/http.h"

namespace kiln::net {
namespace {

using Clock = std::chrono::system_clock;
constexpr auto kRefreshBefore = std::chrono::minutes(5);
constexpr auto kImdsTokenTtl = std::chrono::seconds(21600);

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(trim_ascii(value)) : std::string();
}

std::string home_file(const char* relative) {
  std::string home = env("HOME");
  return (home.empty() ? std::string("/root") : home) + "/" + relative;
}

// An AWS shared config/credentials file: section -> key -> value. Indented lines (a
// service's nested settings such as "s3 =\n  addressing_style = path") are skipped.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;

bool read_ini(const std::string& path, IniFile& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) continue;
    std::string_view text = trim_ascii(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      section = std::string(trim_ascii(text.substr(1, text.size() - 2)));
      out[section];
      continue;
    }
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || section.empty()) continue;
    out[section][lowercase_ascii(trim_ascii(text.substr(0, eq)))] = std::string(trim_ascii(text.substr(eq + 1)));
  }
  return true;
}

std::string profile_name() {
  std::string profile = env("AWS_PROFILE");
  return profile.empty() ? "default" : profile;
}

std::string credentials_file() {
  std::string f = env("AWS_SHARED_CREDENTIALS_FILE");
  return f.empty() ? home_file(".aws/credentials") : f;
}

std::string config_file() {
  std::string f = env("AWS_CONFIG_FILE");
  return f.empty() ? home_file(".aws/config") : f;
}

// The profile's section: [name] in the credentials file; [profile name] (or [default]) in config.
const std::map<std::string, std::string>* find_profile(const IniFile& ini, const std::string& profile, bool config) {
  auto it = ini.find(config && profile != "default" ? "profile " + profile : profile);
  if (it == ini.end() && config) it = ini.find("profile " + profile);  // [profile default] is allowed too
  return it == ini.end() ? nullptr : &it->second;
}

// Credentials from one shared file, or why not (appended to `why`).
std::optional<AwsCredentials> from_file(const std::string& path, bool config, const std::string& profile,
                                        std::string& why) {
  std::string label = std::string(config ? "config file " : "shared credentials file ") + path;
  IniFile ini;
  if (!read_ini(path, ini)) {
    why += "; " + label + ": not readable";
    return std::nullopt;
  }
  const auto* section = find_profile(ini, profile, config);
  if (!section) {
    why += "; " + label + ": no profile " + profile;
    return std::nullopt;
  }
  auto value = [&](const char* key) {
    auto it = section->find(key);
    return it == section->end() ? std::string() : it->second;
  };
  AwsCredentials c;
  c.access_key_id = value("aws_access_key_id");
  c.secret_access_key = value("aws_secret_access_key");
  c.session_token = value("aws_session_token");
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    why += "; " + label + ": profile " + profile + " has no aws_access_key_id/aws_secret_access_key";
    return std::nullopt;
  }
  c.source = label + " (profile " + profile + ")";
  return c;
}

std::optional<Clock::time_point> parse_iso8601(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  return Clock::from_time_t(::timegm(&tm));
}

}  // namespace

ImdsClient::ImdsClient() {
  endpoint_ = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint_.empty()) endpoint_ = "http://169.254.169.254";
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  disabled_ = lowercase_ascii(env("AWS_EC2_METADATA_DISABLED")) == "true";
}

bool ImdsClient::disabled() const {
  return disabled_;
}

Expected<std::string> ImdsClient::get(const std::string& path) {
  if (disabled_) return unexpected("IMDS is disabled (AWS_EC2_METADATA_DISABLED=true)");
  std::lock_guard lock(mutex_);
  HttpClient client;
  // Short limits: off EC2 nothing answers at 169.254.169.254, and a run must not wait for it.
  auto base_request = [&](const std::string& method, const std::string& url) {
    HttpRequest r;
    r.method = method;
    r.url = url;
    r.connect_timeout = std::chrono::seconds(1);
    r.total_timeout = std::chrono::seconds(2);
    r.follow_redirects = false;
    r.max_body_in_memory = 1024 * 1024;
    return r;
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (token_.empty() || std::chrono::steady_clock::now() >= token_expires_) {
      HttpRequest put = base_request("PUT", endpoint_ + "/latest/api/token");
      put.headers.push_back({"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(kImdsTokenTtl.count())});
      HttpResponse r = client.perform(put);
      if (r.error != TransferError::None && attempt == 0) continue;  // one more try on a transport error
      if (!r.ok())
        return unexpected("IMDS at " + endpoint_ + ": no session token (" +
                          (r.status ? "HTTP " + std::to_string(r.status) : r.error_message) + ")");
      token_ = std::string(trim_ascii(r.body));
      token_expires_ = std::chrono::steady_clock::now() + kImdsTokenTtl - std::chrono::minutes(1);
    }
    HttpRequest get = base_request("GET", endpoint_ + "/latest/" + path);
    get.headers.push_back({"X-aws-ec2-metadata-token", token_});
    HttpResponse r = client.perform(get);
    if (r.status == 401) {  // the token expired or the service restarted: a new token, once
      token_.clear();
      continue;
    }
    if (r.error != TransferError::None && attempt == 0) continue;
    if (!r.ok())
      return unexpected("IMDS at " + endpoint_ + ": " + path + ": " +
                        (r.status ? "HTTP " + std::to_string(r.status) : r.error_message));
    return r.body;
  }
  return unexpected("IMDS at " + endpoint_ + ": " + path + ": no answer after 2 attempts");
}

AwsEnvironment::AwsEnvironment() = default;

Expected<AwsCredentials> AwsEnvironment::credentials() {
  std::lock_guard lock(mutex_);
  if (cached_ && (!cached_->expires || Clock::now() < *cached_->expires - kRefreshBefore)) return *cached_;
  std::string why;

  std::string key = env("AWS_ACCESS_KEY_ID"), secret = env("AWS_SECRET_ACCESS_KEY");
  if (!key.empty() && !secret.empty()) {
    cached_ = AwsCredentials{key, secret, env("AWS_SESSION_TOKEN"), std::nullopt, "environment"};
    return *cached_;
  }
  why += key.empty() && secret.empty() ? "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
         : key.empty()                 ? "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
                                       : "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not";

  std::string profile = profile_name();
  for (bool config : {false, true}) {
    if (auto c = from_file(config ? config_file() : credentials_file(), config, profile, why)) {
      cached_ = *c;
      return *cached_;
    }
  }

  if (imds_.disabled()) {
    why += "; instance role: IMDS is disabled (AWS_EC2_METADATA_DISABLED=true)";
  } else {
    auto roles = imds_.get("meta-data/iam/security-credentials/");
    std::string role = roles ? std::string(trim_ascii(roles->substr(0, roles->find('\n')))) : "";
    if (!roles) {
      why += "; instance role: " + roles.error();
    } else if (role.empty()) {
      why += "; instance role: the instance has no IAM role";
    } else if (auto doc = imds_.get("meta-data/iam/security-credentials/" + role); !doc) {
      why += "; instance role " + role + ": " + doc.error();
    } else {
      auto j = nlohmann::json::parse(*doc, nullptr, false);
      AwsCredentials c;
      if (j.is_object() && j.value("Code", "Success") == "Success") {
        c.access_key_id = j.value("AccessKeyId", "");
        c.secret_access_key = j.value("SecretAccessKey", "");
        c.session_token = j.value("Token", "");
        c.expires = parse_iso8601(j.value("Expiration", ""));
      }
      if (c.access_key_id.empty() || c.secret_access_key.empty()) {
        why += "; instance role " + role + ": IMDS answered without usable credentials" +
               (j.is_object() && j.contains("Code") ? " (Code " + j.value("Code", "") + ")" : "");
      } else {
        c.source = "instance role " + role;
        cached_ = c;
        return *cached_;
      }
    }
  }
  return unexpected("no AWS credentials found: " + why);
}

Expected<std::string> AwsEnvironment::region(const std::string& explicit_region) {
  if (!explicit_region.empty()) return explicit_region;
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"})
    if (std::string r = env(name); !r.empty()) return r;
  std::string why = "AWS_REGION and AWS_DEFAULT_REGION are not set";
  std::string profile = profile_name();
  IniFile ini;
  if (read_ini(config_file(), ini)) {
    const auto* section = find_profile(ini, profile, true);
    if (section && section->count("region") && !section->at("region").empty()) return section->at("region");
    why += "; config file " + config_file() + ": no region in profile " + profile;
  } else {
    why += "; config file " + config_file() + ": not readable";
  }
  {
    std::lock_guard lock(mutex_);
    if (cached_region_) return *cached_region_;
  }
  if (imds_.disabled())
    return unexpected("no AWS region: " + why + "; IMDS is disabled (AWS_EC2_METADATA_DISABLED=true)");
  auto r = imds_.get("meta-data/placement/region");
  if (!r || trim_ascii(*r).empty())
    return unexpected("no AWS region: " + why + "; " + (r ? "IMDS gave an empty placement/region" : r.error()));
  std::lock_guard lock(mutex_);
  cached_region_ = std::string(trim_ascii(*r));
  return *cached_region_;
}

std::string AwsEnvironment::endpoint(AwsService service, const std::string& region) const {
  const char* name = service == AwsService::S3    ? "AWS_ENDPOINT_URL_S3"
                     : service == AwsService::Ssm ? "AWS_ENDPOINT_URL_SSM"
                                                  : "AWS_ENDPOINT_URL_LOGS";
  std::string url = env(name);
  if (url.empty()) url = env("AWS_ENDPOINT_URL");
  if (url.empty()) {
    const char* host = service == AwsService::S3 ? "s3" : service == AwsService::Ssm ? "ssm" : "logs";
    url = std::string("https://") + host + "." + region + ".amazonaws.com";
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

bool AwsEnvironment::endpoint_overridden(AwsService service) const {
  const char* name = service == AwsService::S3    ? "AWS_ENDPOINT_URL_S3"
                     : service == AwsService::Ssm ? "AWS_ENDPOINT_URL_SSM"
                                                  : "AWS_ENDPOINT_URL_LOGS";
  return !env(name).empty() || !env("AWS_ENDPOINT_URL").empty();
}

AwsEnvironment& shared_aws_environment() {
  static AwsEnvironment environment;
  return environment;
}

}  // namespace kiln::net
