// {{ aws:ssm:... }} variables and console.log streaming to CloudWatch Logs, through the
// real kiln binary. SSM and CloudWatch Logs have no local counterpart: these tests use
// the stand-ins in tests/servers (named as such), which recompute every request's SigV4
// signature with botocore and enforce the service's batch limits. The oracles are what
// the scripts write themselves and what the stand-ins recorded, not kiln's own logs.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_helpers.h"
#include "tests/support/skip.h"
#include "tests/support/standin_server.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;
using kiln::test::PythonServer;
using kiln::test::read_file;
using kiln::test::TempDir;

constexpr const char* kAccessKey = "AKIDKILNTEST";
constexpr const char* kSecretKey = "kiln-test-secret";

bool botocore_here() {
  bool here = kiln::test::have_botocore();
  if (!here && std::getenv("CI")) FAIL("python3-botocore is missing in CI (scripts/setup.sh installs it)");
  return here;
}

std::vector<std::string> aws_environment(const std::string& endpoint_variable, const std::string& url,
                                         const std::string& secret = kSecretKey) {
  return {endpoint_variable + "=" + url,  std::string("AWS_ACCESS_KEY_ID=") + kAccessKey,
          "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN=",
          "AWS_REGION=us-east-1",         "AWS_EC2_METADATA_DISABLED=true",
          "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_CONFIG_FILE=/nonexistent"};
}

std::vector<nlohmann::json> json_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line, nullptr, false));
  return out;
}

// Every file under `root` whose bytes contain `needle`.
std::vector<std::string> files_containing(const std::string& root, const std::string& needle) {
  std::vector<std::string> hits;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && read_file(it->path().string()).find(needle) != std::string::npos)
      hits.push_back(it->path().string());
  return hits;
}

kiln::e2e::KilnRun run_with(const TempDir& dir, const std::string& yaml, const std::vector<std::string>& environment,
                            const std::vector<std::string>& extra = {}) {
  kiln::e2e::KilnRun run;
  std::string document = dir.write("doc.yml", yaml);
  run.log_directory = dir.file("logs");
  std::vector<std::string> args = {"run", "--documents", document, "--log-directory", run.log_directory,
                                   "--state-directory", dir.file("state")};
  args.insert(args.end(), extra.begin(), extra.end());
  run.result = kiln::test::run_kiln(args, dir.path(), environment);
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  run.summary = run.result.summary();
  return run;
}

struct SsmStandIn {
  TempDir dir;
  std::string log = dir.file("requests.jsonl");
  std::unique_ptr<PythonServer> server;
  SsmStandIn() {
    dir.write("parameters.json", R"({
      "/kiln/plain": {"Type": "String", "Value": "plain-value-17"},
      "/kiln/list": {"Type": "StringList", "Value": "a,b,c"},
      "/kiln/secure": {"Type": "SecureString", "Value": "s3cr3t-Value-Never-Logged"},
      "/kiln/pointer": {"Type": "String", "Value": "/kiln/plain"}})");
    server = std::make_unique<PythonServer>(
        "ssm_standin.py", std::vector<std::string>{"--log", log, "--parameters", dir.file("parameters.json")});
  }
  std::vector<nlohmann::json> requests() const { return json_lines(log); }
};

}  // namespace

TEST_CASE("aws:ssm (SSM stand-in): String, StringList and SecureString values reach the step; a SecureString is in no log" *
          KILN_SKIP_UNLESS(botocore_here(), "needs Debian's python3-botocore (the SigV4 referee)")) {
  SsmStandIn ssm;
  REQUIRE_MESSAGE(ssm.server->running(), ssm.server->error());
  TempDir dir;
  std::string out = dir.file("seen.txt");
  auto run = run_with(dir, R"(name: ssm
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Use
        action: ExecuteBash
        inputs:
          commands:
            - printf '%s|%s|%s\n' '{{ aws:ssm:/kiln/plain }}' '{{ aws:ssm:/kiln/list }}' '{{ aws:ssm:/kiln/secure }}' > )" +
                                out + R"(
            - echo "the secret is {{ aws:ssm:/kiln/secure }}"
      - name: Again
        action: ExecuteBash
        inputs:
          commands:
            - echo '{{ aws:ssm:/kiln/plain }}' >> )" + out + "\n",
                      aws_environment("AWS_ENDPOINT_URL_SSM", ssm.server->url()));
  CHECK_MESSAGE(run.exit_code() == 0, run.result.err);
  CHECK(read_file(out) == "plain-value-17|a,b,c|s3cr3t-Value-Never-Logged\nplain-value-17\n");
  auto requests = ssm.requests();
  CHECK(requests.size() == 3);  // one GetParameter per name, not per use
  for (const auto& r : requests) {
    CHECK(r.value("signed", false));
    CHECK(r.value("target", "") == "AmazonSSM.GetParameter");
  }
  CHECK(files_containing(run.folder, "s3cr3t-Value-Never-Logged").empty());
  CHECK(files_containing(dir.file("state"), "s3cr3t-Value-Never-Logged").empty());
  CHECK(run.result.out.find("s3cr3t-Value-Never-Logged") == std::string::npos);
  CHECK(run.result.err.find("s3cr3t-Value-Never-Logged") == std::string::npos);
  CHECK(read_file(run.folder + "/console.log").find("the secret is ****") != std::string::npos);
  CHECK(files_containing(run.folder, kSecretKey).empty());
}

TEST_CASE("aws:ssm (SSM stand-in): resolve() takes the name from a parameter or another SSM reference" *
          KILN_SKIP_UNLESS(botocore_here(), "needs Debian's python3-botocore (the SigV4 referee)")) {
  SsmStandIn ssm;
  REQUIRE_MESSAGE(ssm.server->running(), ssm.server->error());
  TempDir dir;
  std::string out = dir.file("seen.txt");
  auto run = run_with(dir, R"(name: ssm
schemaVersion: 1.0
parameters:
  - Which:
      type: string
      default: /kiln/list
phases:
  - name: build
    steps:
      - name: Use
        action: ExecuteBash
        inputs:
          commands:
            - echo '{{ aws:ssm:resolve(Which) }} {{ aws:ssm:resolve(aws:ssm:/kiln/pointer) }}' > )" +
                                out + "\n",
                      aws_environment("AWS_ENDPOINT_URL_SSM", ssm.server->url()));
  CHECK_MESSAGE(run.exit_code() == 0, run.result.err);
  CHECK(read_file(out) == "a,b,c plain-value-17\n");
}

TEST_CASE("aws:ssm (SSM stand-in): a missing parameter or a wrong signature fails the step and says why" *
          KILN_SKIP_UNLESS(botocore_here(), "needs Debian's python3-botocore (the SigV4 referee)")) {
  SsmStandIn ssm;
  REQUIRE_MESSAGE(ssm.server->running(), ssm.server->error());
  const std::string yaml = R"(name: ssm
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Use
        action: ExecuteBash
        inputs:
          commands:
            - echo '{{ aws:ssm:/kiln/NAME }}' > ran.txt
)";
  SUBCASE("missing") {
    TempDir dir;
    std::string doc = yaml;
    doc.replace(doc.find("NAME"), 4, "absent");
    auto run = run_with(dir, doc, aws_environment("AWS_ENDPOINT_URL_SSM", ssm.server->url()));
    CHECK(run.exit_code() == 1);
    CHECK(kiln::e2e::failure_of(run, "Use").find("ParameterNotFound") != std::string::npos);
    CHECK(kiln::e2e::failure_of(run, "Use").find("/kiln/absent") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.file("ran.txt")));
  }
  SUBCASE("wrong secret key") {
    TempDir dir;
    std::string doc = yaml;
    doc.replace(doc.find("NAME"), 4, "plain");
    auto run = run_with(dir, doc, aws_environment("AWS_ENDPOINT_URL_SSM", ssm.server->url(), "a-wrong-secret-key"));
    CHECK(run.exit_code() == 1);
    CHECK(kiln::e2e::failure_of(run, "Use").find("InvalidSignatureException") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.file("ran.txt")));
    CHECK(files_containing(run.folder, "a-wrong-secret-key").empty());
    auto requests = ssm.requests();
    REQUIRE_FALSE(requests.empty());
    CHECK_FALSE(requests[0].value("signed", true));
  }
}

namespace {

struct CloudWatchStandIn {
  TempDir dir;
  std::string log = dir.file("requests.jsonl");
  std::string events = dir.file("events.jsonl");
  std::unique_ptr<PythonServer> server;
  explicit CloudWatchStandIn(int throttle = 0) {
    server = std::make_unique<PythonServer>(
        "cloudwatch_logs_standin.py",
        std::vector<std::string>{"--log", log, "--events", events, "--groups", "kiln-test", "--throttle",
                                 std::to_string(throttle)});
  }
  std::vector<nlohmann::json> received() const { return json_lines(events); }
  std::vector<nlohmann::json> requests() const { return json_lines(log); }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> cw_flags(const std::string& stream) {
  return {"--cw-log-group", "kiln-test", "--cw-log-stream", stream};
}

}  // namespace

TEST_CASE("CloudWatch Logs (stand-in): console.log lines arrive while a step still runs, and all of them in order" *
          KILN_SKIP_UNLESS(botocore_here(), "needs Debian's python3-botocore (the SigV4 referee)")) {
  CloudWatchStandIn cw;
  REQUIRE_MESSAGE(cw.server->running(), cw.server->error());
  TempDir dir;
  std::string document = dir.write("doc.yml", R"(name: cw
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Early
        action: ExecuteBash
        inputs:
          commands:
            - echo marker-before-the-hang
      - name: Hang
        action: ExecuteBash
        inputs:
          commands:
            - sleep 5
)");
  std::vector<std::string> args = {"run", "--documents", document, "--log-directory", dir.file("logs"),
                                   "--state-directory", dir.file("state")};
  for (auto& f : cw_flags("live")) args.push_back(f);
  auto environment = aws_environment("AWS_ENDPOINT_URL_LOGS", cw.server->url());
  int pid = kiln::test::spawn_kiln(args, dir.file("out.txt"), dir.file("err.txt"), environment, dir.path());
  REQUIRE(pid > 0);
  bool seen_while_running = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  while (std::chrono::steady_clock::now() < deadline && !seen_while_running) {
    for (const auto& e : cw.received())
      if (e.value("message", "").find("marker-before-the-hang") != std::string::npos) seen_while_running = true;
    if (!seen_while_running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int status = 0;
  bool still_running = ::waitpid(pid, &status, WNOHANG) == 0;
  CHECK(seen_while_running);
  CHECK(still_running);
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, read_file(dir.file("err.txt")));

  std::vector<std::string> messages;
  for (const auto& e : cw.received()) {
    CHECK(e.value("stream", "") == "kiln-test/live");
    messages.push_back(e.value("message", ""));
  }
  std::string folder = kiln::test::find_log_folder(dir.file("logs"));
  CHECK(messages == lines_of(read_file(folder + "/console.log")));
  for (const auto& r : cw.requests()) CHECK(r.value("signed", false));
}

TEST_CASE("CloudWatch Logs (stand-in): 3 MB of output and a 300 KB line go out in batches the service accepts, throttling retried" *
          KILN_SKIP_UNLESS(botocore_here(), "needs Debian's python3-botocore (the SigV4 referee)")) {
  CloudWatchStandIn cw(/*throttle=*/2);
  REQUIRE_MESSAGE(cw.server->running(), cw.server->error());
  TempDir dir;
  auto run = run_with(dir, R"(name: cw
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Loud
        action: ExecuteBash
        inputs:
          commands:
            - for i in $(seq 1 30000); do printf 'line %05d %090d\n' $i 0; done
            - head -c 300000 /dev/zero | tr '\0' 'x'; echo
)",
                      aws_environment("AWS_ENDPOINT_URL_LOGS", cw.server->url()), cw_flags("bulk"));
  CHECK_MESSAGE(run.exit_code() == 0, run.result.err);
  size_t refused = 0, batches = 0, throttled = 0;
  for (const auto& r : cw.requests()) {
    if (r.value("target", "") != "Logs_20140328.PutLogEvents") continue;
    std::string error = r.value("error", "");
    if (error == "ThrottlingException") ++throttled;
    else if (!error.empty()) ++refused;
    else ++batches;
  }
  CHECK(refused == 0);
  CHECK(throttled == 2);
  CHECK(batches >= 4);  // > 3 MB cannot go in fewer batches of at most 1 MiB
  // Every line, in order; the 300 KB line arrives in pieces of at most 256 KiB - 26 bytes.
  std::string sent, written;
  for (const auto& e : cw.received()) {
    std::string m = e.value("message", "");
    CHECK(m.size() <= 262144 - 26);
    sent += m;
  }
  for (const auto& line : lines_of(read_file(run.folder + "/console.log"))) written += line;
  CHECK(sent.size() == written.size());
  CHECK(sent == written);
}

TEST_CASE("CloudWatch Logs (stand-in): a group that does not exist refuses the run before any step, unless --cw-ignore-failures" *
          KILN_SKIP_UNLESS(botocore_here(), "needs Debian's python3-botocore (the SigV4 referee)")) {
  CloudWatchStandIn cw;
  REQUIRE_MESSAGE(cw.server->running(), cw.server->error());
  const std::string yaml = R"(name: cw
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Touch
        action: ExecuteBash
        inputs:
          commands:
            - touch ran.txt
)";
  auto environment = aws_environment("AWS_ENDPOINT_URL_LOGS", cw.server->url());
  std::vector<std::string> flags = {"--cw-log-group", "no-such-group", "--cw-log-stream", "s"};
  {
    TempDir dir;
    auto run = run_with(dir, yaml, environment, flags);
    CHECK(run.exit_code() == 1);
    CHECK(run.result.err.find("ResourceNotFoundException") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.file("ran.txt")));
  }
  {
    TempDir dir;
    flags.push_back("--cw-ignore-failures");
    auto run = run_with(dir, yaml, environment, flags);
    CHECK_MESSAGE(run.exit_code() == 0, run.result.err);
    CHECK(fs::exists(dir.file("ran.txt")));
  }
}
