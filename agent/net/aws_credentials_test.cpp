// The credential, region and endpoint chain: environment, shared files and profiles, and
// IMDSv2 through tests/servers/imds_standin.py (a stand-in: IMDS exists only on EC2, no
// local counterpart).
#include "agent/net/aws_credentials.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <optional>

#include "tests/support/s3_server.h"

using namespace kiln::net;
using kiln::test::TempDir;

namespace {

const char* const kVariables[] = {"AWS_ACCESS_KEY_ID",
                                  "AWS_SECRET_ACCESS_KEY",
                                  "AWS_SESSION_TOKEN",
                                  "AWS_PROFILE",
                                  "AWS_SHARED_CREDENTIALS_FILE",
                                  "AWS_CONFIG_FILE",
                                  "AWS_REGION",
                                  "AWS_DEFAULT_REGION",
                                  "AWS_ENDPOINT_URL",
                                  "AWS_ENDPOINT_URL_S3",
                                  "AWS_ENDPOINT_URL_SSM",
                                  "AWS_ENDPOINT_URL_LOGS",
                                  "AWS_EC2_METADATA_DISABLED",
                                  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                  "HOME"};

// Clears every AWS variable for the test (HOME to an empty folder) and restores them after.
class CleanAwsEnvironment {
 public:
  CleanAwsEnvironment() {
    for (const char* name : kVariables) {
      const char* value = std::getenv(name);
      if (value) saved_[name] = value;
      ::unsetenv(name);
    }
    ::setenv("HOME", home_.path().c_str(), 1);
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  }
  ~CleanAwsEnvironment() {
    for (const char* name : kVariables) {
      ::unsetenv(name);
      if (saved_.count(name)) ::setenv(name, saved_[name].c_str(), 1);
    }
  }
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
  void unset(const char* name) { ::unsetenv(name); }
  const TempDir& home() const { return home_; }

 private:
  std::map<std::string, std::string> saved_;
  TempDir home_;
};

// The IMDS stand-in on a loopback port, with AWS_EC2_METADATA_SERVICE_ENDPOINT set to it.
class ImdsStandIn {
 public:
  ImdsStandIn(CleanAwsEnvironment& env, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {kiln::s3test::kPython,
                                     kiln::s3test::servers_dir() + "/imds_standin.py",
                                     "--port-file",
                                     dir_.file("port"),
                                     "--counts",
                                     dir_.file("counts")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<kiln::s3test::Background>(argv, dir_.file("out"));
    REQUIRE_MESSAGE(kiln::s3test::wait_for([&] { return !kiln::test::read_file(dir_.file("port")).empty(); }),
                    "IMDS stand-in did not start: " << kiln::test::read_file(dir_.file("out")));
    env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + kiln::test::read_file(dir_.file("port")));
    env.unset("AWS_EC2_METADATA_DISABLED");
  }
  int count(const std::string& what) const {
    auto j = nlohmann::json::parse(kiln::test::read_file(dir_.file("counts")), nullptr, false);
    return j.is_object() ? j.value(what, -1) : -1;
  }

 private:
  TempDir dir_;
  std::unique_ptr<kiln::s3test::Background> server_;
};

}  // namespace

TEST_CASE("AWS credentials: the environment comes first, with its session token") {
  CleanAwsEnvironment env;
  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  env.set("AWS_SESSION_TOKEN", "env-token");
  env.home().write(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n");
  AwsEnvironment aws;
  auto c = aws.credentials();
  REQUIRE(c);
  CHECK(c->access_key_id == "AKIDENV");
  CHECK(c->secret_access_key == "env-secret");
  CHECK(c->session_token == "env-token");
  CHECK(c->source == "environment");
}

TEST_CASE("AWS credentials: shared credentials file, AWS_PROFILE, then [profile x] in the config file") {
  CleanAwsEnvironment env;
  env.home().write(".aws/credentials",
                   "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n"
                   "\n[work]\naws_access_key_id=AKIDWORK\naws_secret_access_key=work-secret\n"
                   "aws_session_token = work-token\n");
  std::string config = env.home().write("cfg",
                                        "[default]\nregion = eu-central-1\n[profile other]\nregion = ap-south-1\n"
                                        "s3 =\n  addressing_style = path\naws_access_key_id = AKIDCONFIG\n"
                                        "aws_secret_access_key = config-secret\n");
  env.set("AWS_CONFIG_FILE", config);
  {
    AwsEnvironment aws;
    auto c = aws.credentials();
    REQUIRE(c);
    CHECK(c->access_key_id == "AKIDDEFAULT");
    CHECK(c->source == "shared credentials file " + env.home().file(".aws/credentials") + " (profile default)");
    CHECK(aws.region().value_or("?") == "eu-central-1");
  }
  env.set("AWS_PROFILE", "work");
  {
    AwsEnvironment aws;
    auto c = aws.credentials();
    REQUIRE(c);
    CHECK(c->access_key_id == "AKIDWORK");
    CHECK(c->session_token == "work-token");
  }
  env.set("AWS_PROFILE", "other");
  {
    AwsEnvironment aws;
    auto c = aws.credentials();
    REQUIRE(c);
    CHECK(c->access_key_id == "AKIDCONFIG");
    CHECK(c->secret_access_key == "config-secret");
    CHECK(aws.region().value_or("?") == "ap-south-1");
  }
  env.set("AWS_SHARED_CREDENTIALS_FILE", env.home().write("creds2",
                                                          "[other]\naws_access_key_id = AKIDCREDS2\n"
                                                          "aws_secret_access_key = s2\n"));
  {
    AwsEnvironment aws;
    CHECK(aws.credentials().value().access_key_id == "AKIDCREDS2");
  }
}

TEST_CASE("AWS credentials: with nothing found the error names every source and no secret") {
  CleanAwsEnvironment env;
  env.set("AWS_ACCESS_KEY_ID", "AKIDHALF");
  env.set("AWS_CONFIG_FILE", env.home().write("cfg", "[profile x]\naws_secret_access_key = SECRET-IN-FILE\n"));
  env.set("AWS_PROFILE", "x");
  AwsEnvironment aws;
  auto c = aws.credentials();
  REQUIRE(!c);
  INFO(c.error());
  CHECK(c.error().find("environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not") != std::string::npos);
  CHECK(c.error().find("shared credentials file " + env.home().file(".aws/credentials") + ": not readable") !=
        std::string::npos);
  CHECK(c.error().find("config file " + env.home().file("cfg") + ": profile x has no aws_access_key_id") !=
        std::string::npos);
  CHECK(c.error().find("instance role: IMDS is disabled (AWS_EC2_METADATA_DISABLED=true)") != std::string::npos);
  CHECK(c.error().find("SECRET-IN-FILE") == std::string::npos);
}

TEST_CASE("AWS credentials: a machine without IMDS answers fast") {
  CleanAwsEnvironment env;
  env.unset("AWS_EC2_METADATA_DISABLED");
  // A loopback port nobody listens on: refused at once; the 1 s connect timeout bounds the rest.
  env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
  AwsEnvironment aws;
  auto start = std::chrono::steady_clock::now();
  auto c = aws.credentials();
  CHECK(!c);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(c.error().find("instance role: IMDS at http://127.0.0.1:9: no session token") != std::string::npos);
}

TEST_CASE("AWS credentials: IMDSv2 instance role through the IMDS stand-in, refreshed before expiry" *
          KILN_SKIP_UNLESS(kiln::s3test::have_botocore_or_ci(), "needs /usr/bin/python3")) {
  CleanAwsEnvironment env;
  // Expiring in 6 minutes: inside the 5-minute window only after a minute; 4 minutes: at once.
  ImdsStandIn imds(env, {"--role", "kiln-role", "--access-key", "AKIDROLE", "--secret", "role-secret",
                         "--expiry-seconds", "360", "--paths", R"({"meta-data/placement/region": "eu-west-3"})"});
  AwsEnvironment aws;
  auto c = aws.credentials();
  REQUIRE_MESSAGE(c, c.error());
  CHECK(c->access_key_id == "AKIDROLE");
  CHECK(c->secret_access_key == "role-secret");
  CHECK(c->session_token == "IMDS-SESSION-TOKEN-1");
  CHECK(c->source == "instance role kiln-role");
  REQUIRE(c->expires);
  CHECK(*c->expires > std::chrono::system_clock::now() + std::chrono::minutes(5));
  CHECK(aws.credentials().value().session_token == "IMDS-SESSION-TOKEN-1");  // cached
  CHECK(imds.count("credentials") == 1);
  CHECK(imds.count("token") == 1);  // one IMDS token serves every GET
  CHECK(imds.count("unauthorized") == 0);
  CHECK(aws.region().value_or("?") == "eu-west-3");
  CHECK(aws.imds().get("meta-data/no/such/path").error().find("HTTP 404") != std::string::npos);

  CleanAwsEnvironment env2;
  ImdsStandIn short_lived(env2, {"--role", "r", "--expiry-seconds", "240"});
  AwsEnvironment aws2;
  CHECK(aws2.credentials().value().session_token == "IMDS-SESSION-TOKEN-1");
  CHECK(aws2.credentials().value().session_token == "IMDS-SESSION-TOKEN-2");  // within 5 min of expiry: refreshed
  CHECK(short_lived.count("credentials") == 2);
}

TEST_CASE("AWS credentials: IMDS requests without the token are refused by the stand-in, and kiln sends it" *
          KILN_SKIP_UNLESS(kiln::s3test::have_botocore_or_ci(), "needs /usr/bin/python3")) {
  CleanAwsEnvironment env;
  ImdsStandIn imds(env, {"--paths", R"({"meta-data/instance-id": "i-0123456789abcdef0"})"});
  AwsEnvironment aws;
  CHECK(aws.imds().get("meta-data/instance-id").value_or("?") == "i-0123456789abcdef0");
  CHECK(imds.count("unauthorized") == 0);
  auto r = kiln::s3test::run(
      {"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
       std::string(std::getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")) + "/latest/meta-data/instance-id"});
  CHECK(r.out == "401");
  auto c = aws.credentials();
  REQUIRE(!c);
  CHECK(c.error().find("instance role: the instance has no IAM role") == std::string::npos);  // 404 instead
  CHECK(c.error().find("meta-data/iam/security-credentials/: HTTP 404") != std::string::npos);
}

TEST_CASE("AWS region: explicit, AWS_REGION, AWS_DEFAULT_REGION, profile, then IMDS") {
  CleanAwsEnvironment env;
  env.set("AWS_CONFIG_FILE", env.home().write("cfg", "[default]\nregion = eu-north-1\n"));
  AwsEnvironment aws;
  CHECK(aws.region("sa-east-1").value_or("?") == "sa-east-1");
  CHECK(aws.region().value_or("?") == "eu-north-1");
  env.set("AWS_DEFAULT_REGION", "us-west-1");
  CHECK(aws.region().value_or("?") == "us-west-1");
  env.set("AWS_REGION", "us-west-2");
  CHECK(aws.region().value_or("?") == "us-west-2");
  env.unset("AWS_REGION");
  env.unset("AWS_DEFAULT_REGION");
  env.unset("AWS_CONFIG_FILE");
  auto none = aws.region();
  REQUIRE(!none);
  CHECK(none.error().find("AWS_REGION and AWS_DEFAULT_REGION are not set") != std::string::npos);
  CHECK(none.error().find("IMDS is disabled") != std::string::npos);
}

TEST_CASE("AWS endpoints: per-service variable, then AWS_ENDPOINT_URL, then the public endpoint") {
  CleanAwsEnvironment env;
  AwsEnvironment aws;
  CHECK(aws.endpoint(AwsService::S3, "eu-west-1") == "https://s3.eu-west-1.amazonaws.com");
  CHECK(aws.endpoint(AwsService::Logs, "eu-west-1") == "https://logs.eu-west-1.amazonaws.com");
  CHECK(aws.endpoint(AwsService::Ssm, "eu-west-1") == "https://ssm.eu-west-1.amazonaws.com");
  CHECK(!aws.endpoint_overridden(AwsService::S3));
  env.set("AWS_ENDPOINT_URL", "http://localhost:4566/");
  CHECK(aws.endpoint(AwsService::Ssm, "eu-west-1") == "http://localhost:4566");
  CHECK(aws.endpoint_overridden(AwsService::Logs));
  env.set("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000");
  env.set("AWS_ENDPOINT_URL_LOGS", "http://127.0.0.1:9001");
  env.set("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9002");
  CHECK(aws.endpoint(AwsService::S3, "x") == "http://127.0.0.1:9000");
  CHECK(aws.endpoint(AwsService::Logs, "x") == "http://127.0.0.1:9001");
  CHECK(aws.endpoint(AwsService::Ssm, "x") == "http://127.0.0.1:9002");
}
