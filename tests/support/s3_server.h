// A real S3-compatible server for tests: s3rver (npm, loopback) behind the S3 verifying
// proxy (tests/servers/s3_verifying_proxy.py), which checks every request's SigV4 with
// botocore because s3rver does not. The AWS CLI (/usr/bin/aws) is the independent oracle
// for what is stored. Header-only so tests/support needs no new build entry.
//
//   kiln::s3test::S3Server s3;                       // both started, stopped with the object
//   s3.aws({"s3", "cp", file, s3.url("dir/a")});     // put with the AWS CLI
//   run_kiln(args, "", s3.kiln_environment());       // kiln pointed at the proxy
//
// Missing tools (node + s3rver, awscli, python3-botocore) skip a test outside CI; with CI
// set the test runs and fails.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/sys/process.h"
#include "tests/support/server_process.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace kiln::s3test {

inline const char* kPython = "/usr/bin/python3";
inline const char* kAws = "/usr/bin/aws";
inline const char* kBucket = "kiln-test";
inline const char* kAccessKey = "S3RVER";
inline const char* kSecretKey = "S3RVER";

inline std::string servers_dir() {
  return std::string(KILN_SOURCE_DIR) + "/tests/servers";
}

inline std::string s3rver_path() {
  const char* e = std::getenv("KILN_S3RVER");
  return e && *e ? e : "/var/cache/kiln-test/s3rver/node_modules/.bin/s3rver";
}

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci;
}

inline kiln::test::RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                                 int timeout_ms = 300'000) {
  sys::ProcessSpec spec;
  spec.executable = argv[0];
  spec.arguments.assign(argv.begin() + 1, argv.end());
  spec.extra_environment = env;
  spec.timeout = std::chrono::milliseconds(timeout_ms);
  kiln::test::RunResult result;
  sys::ProcessResult r = sys::run_process(spec, [&](sys::OutputStream s, std::string_view chunk) {
    (s == sys::OutputStream::Stdout ? result.out : result.err).append(chunk);
  });
  result.exit_code = !r.started ? 127 : r.signal ? 128 + r.signal : r.exit_code;
  return result;
}

inline bool have_botocore() {
  static const bool found = ::access(kPython, X_OK) == 0 && run({kPython, "-c", "import botocore"}).exit_code == 0;
  return found;
}
inline bool have_botocore_or_ci() {
  return in_ci() || have_botocore();
}

inline bool have_s3_tools() {
  static const bool found = have_botocore() && ::access(kAws, X_OK) == 0 && ::access(s3rver_path().c_str(), X_OK) == 0;
  return found;
}
inline bool have_s3_tools_or_ci() {
  return in_ci() || have_s3_tools();
}

// "OK" or "BAD <why>": the botocore referee's verdict on a request written as JSON
// (see tests/servers/referee_cli.py).
inline std::string run_referee(const std::string& request_file) {
  auto r = run({kPython, servers_dir() + "/referee_cli.py", request_file});
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return r.exit_code == 0 ? out : "referee failed: " + r.err;
}

// A server process of a test (tests/support/server_process.h).
using Background = kiln::test::ServerProcess;

// Polls until `predicate` holds or `seconds` pass.
template <typename F>
bool wait_for(F predicate, double seconds = 20) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return predicate();
}

// Sets "NAME=value" entries in this process's environment (an empty value unsets) and
// restores the previous values when it dies: for code under test that reads the
// environment itself (the AWS credential chain).
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::vector<std::string>& entries) {
    for (const auto& entry : entries) {
      std::string name = entry.substr(0, entry.find('=')), value = entry.substr(entry.find('=') + 1);
      const char* old = std::getenv(name.c_str());
      saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
      if (value.empty())
        ::unsetenv(name.c_str());
      else
        ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnvironment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

struct S3ServerOptions {
  std::string owner;       // the proxy refuses x-amz-expected-bucket-owner naming another account
  bool with_proxy = true;  // false: kiln talks to s3rver directly (benchmarks only)
  // The secret the proxy expects for access key S3RVER (s3rver itself checks no signature),
  // so a test can look for a distinctive secret in kiln's logs.
  std::string secret = kSecretKey;
  std::string stall;      // the proxy holds requests whose path contains this ...
  int stall_seconds = 0;  // ... for this long (timeout tests)
  std::string fail;       // the proxy answers 400 to requests whose path contains this
};

class S3Server {
 public:
  explicit S3Server(const S3ServerOptions& options = {}) : secret_(options.secret) {
    std::filesystem::create_directories(dir_.file("data"));
    s3rver_ = std::make_unique<Background>(
        std::vector<std::string>{s3rver_path(), "-d", dir_.file("data"), "-a", "127.0.0.1", "-p", "0",
                                 "--configure-bucket", kBucket, "--no-vhost-buckets"},
        dir_.file("s3rver.out"),
        // s3rver 3.7 makes ListObjectsV2 continuation tokens with DES, which node 20's
        // OpenSSL 3 only offers through its legacy provider (HTTP 500 otherwise).
        std::vector<std::string>{"NODE_OPTIONS=--openssl-legacy-provider"});
    std::string port;
    bool up = wait_for([&] {
      std::string out = kiln::test::read_file(dir_.file("s3rver.out"));
      size_t at = out.find("listening on 127.0.0.1:");
      if (at == std::string::npos) return false;
      std::istringstream(out.substr(at + 23)) >> port;
      return !port.empty();
    });
    REQUIRE_MESSAGE(up, "s3rver did not start: " << kiln::test::read_file(dir_.file("s3rver.out")));
    direct_ = "http://127.0.0.1:" + port;
    if (!options.with_proxy) {
      endpoint_ = direct_;
      return;
    }
    std::vector<std::string> argv = {kPython,       servers_dir() + "/s3_verifying_proxy.py",
                                     "--upstream",  direct_,
                                     "--port-file", dir_.file("proxy.port"),
                                     "--log",       dir_.file("proxy.log"),
                                     "--secrets",   nlohmann::json{{kAccessKey, options.secret}}.dump()};
    if (!options.owner.empty()) argv.insert(argv.end(), {"--owner", options.owner});
    if (!options.fail.empty()) argv.insert(argv.end(), {"--fail", options.fail});
    if (!options.stall.empty())
      argv.insert(argv.end(), {"--stall", options.stall, "--stall-seconds", std::to_string(options.stall_seconds)});
    proxy_ = std::make_unique<Background>(argv, dir_.file("proxy.out"));
    up = wait_for([&] { return !kiln::test::read_file(dir_.file("proxy.port")).empty(); });
    REQUIRE_MESSAGE(up, "the S3 verifying proxy did not start: " << kiln::test::read_file(dir_.file("proxy.out")));
    endpoint_ = "http://127.0.0.1:" + kiln::test::read_file(dir_.file("proxy.port"));
  }

  const std::string& endpoint() const { return endpoint_; }       // through the proxy
  const std::string& direct_endpoint() const { return direct_; }  // s3rver itself
  std::string url(const std::string& key) const { return std::string("s3://") + kBucket + "/" + key; }

  // What kiln (and the AWS CLI) need to reach this server.
  std::vector<std::string> environment() const { return environment(secret_); }
  std::vector<std::string> environment(const std::string& secret) const {
    return {"AWS_ENDPOINT_URL_S3=" + endpoint_,
            std::string("AWS_ACCESS_KEY_ID=") + kAccessKey,
            "AWS_SECRET_ACCESS_KEY=" + secret,
            "AWS_REGION=us-east-1",
            "AWS_DEFAULT_REGION=us-east-1",
            "AWS_EC2_METADATA_DISABLED=true",
            "AWS_SHARED_CREDENTIALS_FILE=/nonexistent-kiln",
            "AWS_CONFIG_FILE=/nonexistent-kiln"};
  }

  // The AWS CLI against s3rver directly (the oracle does not need the proxy's checks).
  kiln::test::RunResult aws(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kAws, "--endpoint-url", direct_, "--no-cli-pager"};
    argv.insert(argv.end(), args.begin(), args.end());
    // No progress meter in the captured output (only the transfer commands know the flag).
    if (args.size() > 1 && args[0] == "s3" && args[1] != "ls") argv.push_back("--only-show-errors");
    auto env = environment(kSecretKey);
    env.push_back("AWS_ENDPOINT_URL_S3=" + direct_);
    return run(argv, env);
  }
  bool put_file(const std::string& key, const std::string& file) const {
    auto r = aws({"s3", "cp", file, url(key)});
    if (r.exit_code != 0) MESSAGE("aws s3 cp failed: " << r.err);
    return r.exit_code == 0;
  }
  bool put_text(const std::string& key, const std::string& text) const {
    kiln::test::TempDir tmp;
    return put_file(key, tmp.write("object", text));
  }
  // The object's bytes as the AWS CLI downloads them ("<missing>" when it cannot).
  std::string get_text(const std::string& key) const {
    kiln::test::TempDir tmp;
    auto r = aws({"s3", "cp", url(key), tmp.file("object")});
    return r.exit_code == 0 ? kiln::test::read_file(tmp.file("object")) : "<missing>";
  }
  // Every key under `prefix`, sorted, from `aws s3api list-objects-v2`.
  std::vector<std::string> keys(const std::string& prefix = "") const {
    auto r = aws({"s3api", "list-objects-v2", "--bucket", kBucket, "--prefix", prefix, "--output", "json"});
    std::vector<std::string> out;
    auto j = nlohmann::json::parse(r.out.empty() ? "{}" : r.out, nullptr, false);
    if (j.is_object() && j.contains("Contents"))
      for (const auto& o : j["Contents"]) out.push_back(o["Key"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  }
  // The proxy's record of each request (method, path, status, signed_ok, headers, why).
  std::vector<nlohmann::json> proxy_log() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(kiln::test::read_file(dir_.file("proxy.log")));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line, nullptr, false));
    return out;
  }
  const std::string& data_dir() const { return dir_.path(); }

 private:
  kiln::test::TempDir dir_;
  std::unique_ptr<Background> s3rver_;
  std::unique_ptr<Background> proxy_;
  std::string secret_;
  std::string direct_, endpoint_;
};

}  // namespace kiln::s3test
