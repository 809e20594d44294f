// Documents and config files from s3:// and http(s)://, the log folder uploaded to S3,
// and {{ aws:imds:... }} variables, through the real kiln binary: s3rver behind the
// SigV4-checking proxy (tests/support/s3_server.h), nginx on loopback, and the IMDS
// stand-in (tests/servers/imds_standin.py; IMDS exists only on EC2). The oracles are the
// files the steps write, the AWS CLI's view of the bucket, and the servers' own logs.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/e2e/e2e_helpers.h"
#include "tests/support/http_servers.h"
#include "tests/support/s3_server.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;
using kiln::s3test::S3Server;
using kiln::test::read_file;
using kiln::test::TempDir;

std::string touching_document(const std::string& name, const std::string& file, const std::string& extra_steps = "") {
  return "name: " + name + "\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Touch\n"
         "        action: ExecuteBash\n        inputs:\n          commands:\n            - echo " + name + " >> " +
         file + "\n" + extra_steps;
}

kiln::e2e::KilnRun run_args(const TempDir& dir, std::vector<std::string> args, const std::vector<std::string>& env) {
  kiln::e2e::KilnRun run;
  run.log_directory = dir.file("logs");
  args.insert(args.end(), {"--log-directory", run.log_directory, "--state-directory", dir.file("state")});
  run.result = kiln::test::run_kiln(args, dir.path(), env);
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  run.summary = run.result.summary();
  return run;
}

}  // namespace

TEST_CASE("remote documents: an s3:// document and its relative ExecuteDocument child run; the requests are signed" *
          KILN_SKIP_UNLESS(kiln::s3test::have_s3_tools_or_ci(), "needs s3rver, awscli and python3-botocore")) {
  S3Server s3;
  TempDir dir;
  std::string out = dir.file("ran.txt");
  REQUIRE(s3.put_text("docs/child.yml", touching_document("child", out)));
  REQUIRE(s3.put_text("docs/main.yml", touching_document("main", out, R"(      - name: Child
        action: ExecuteDocument
        inputs:
          document: child.yml
)")));
  auto run = run_args(dir, {"run", "--documents", s3.url("docs/main.yml")}, s3.environment());
  CHECK_MESSAGE(run.exit_code() == 0, kiln::e2e::describe(run));
  CHECK(read_file(out) == "main\nchild\n");
  auto log = s3.proxy_log();
  REQUIRE(log.size() >= 2);
  for (const auto& r : log) CHECK(r.value("signed_ok", false));
}

TEST_CASE("remote documents: --config from s3://, a wrong bucket owner, a broken remote document named by its URL" *
          KILN_SKIP_UNLESS(kiln::s3test::have_s3_tools_or_ci(), "needs s3rver, awscli and python3-botocore")) {
  kiln::s3test::S3ServerOptions options;
  options.owner = "111122223333";
  S3Server s3(options);
  TempDir dir;
  std::string out = dir.file("ran.txt");
  REQUIRE(s3.put_text("docs/a.yml", touching_document("from-config", out)));
  REQUIRE(s3.put_text("config.json", R"({"documents": [{"path": ")" + s3.url("docs/a.yml") + R"("}]})"));
  SUBCASE("the config and its document, owner given") {
    auto run = run_args(dir, {"run", "--config", s3.url("config.json"), "--document-s3-bucket-owner", "111122223333"},
                        s3.environment());
    CHECK_MESSAGE(run.exit_code() == 0, kiln::e2e::describe(run));
    CHECK(read_file(out) == "from-config\n");
    size_t with_owner = 0;
    for (const auto& r : s3.proxy_log())
      if (r.dump().find("111122223333") != std::string::npos) ++with_owner;
    CHECK(with_owner >= 2);  // the config and the document each named the owner
  }
  SUBCASE("another owner: refused before anything runs") {
    auto run = run_args(dir, {"run", "--documents", s3.url("docs/a.yml"), "--document-s3-bucket-owner", "999999999999"},
                        s3.environment());
    CHECK(run.exit_code() == 3);
    CHECK(run.result.err.find(s3.url("docs/a.yml")) != std::string::npos);
    CHECK(run.result.err.find("AccessDenied") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
  SUBCASE("a YAML error in a remote document is located at URL:LINE:COL") {
    REQUIRE(s3.put_text("docs/bad.yml", "name: bad\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps: [\n"));
    auto run = run_args(dir, {"run", "--documents", s3.url("docs/bad.yml")}, s3.environment());
    CHECK(run.exit_code() == 3);
    CHECK_MESSAGE(run.result.err.find(s3.url("docs/bad.yml") + ":") != std::string::npos, run.result.err);
  }
}

TEST_CASE("remote documents: http:// from nginx; an unreachable URL says so" *
          KILN_SKIP_UNLESS(kiln::test::have_tool(kiln::test::kNginx), "needs nginx")) {
  kiln::test::NginxServer nginx;
  TempDir dir;
  std::string out = dir.file("ran.txt");
  std::string url = nginx.serve("components/web.yml", touching_document("web", out));
  auto run = run_args(dir, {"run", "--documents", url}, {});
  CHECK_MESSAGE(run.exit_code() == 0, kiln::e2e::describe(run));
  CHECK(read_file(out) == "web\n");
  auto missing = run_args(dir, {"run", "--documents", url + ".missing"}, {});
  CHECK(missing.exit_code() == 3);
  CHECK(missing.result.err.find("404") != std::string::npos);
}

TEST_CASE("log upload: the log folder goes to s3://bucket/prefix/TOE_.../ and logUrl says so; a failed upload fails the run" *
          KILN_SKIP_UNLESS(kiln::s3test::have_s3_tools_or_ci(), "needs s3rver, awscli and python3-botocore")) {
  S3Server s3;
  TempDir dir;
  std::string doc = dir.write("doc.yml", touching_document("logged", dir.file("ran.txt")));
  SUBCASE("uploaded") {
    auto run = run_args(dir, {"run", "--documents", doc, "-b", kiln::s3test::kBucket, "-k", "builds/x"},
                        s3.environment());
    CHECK_MESSAGE(run.exit_code() == 0, kiln::e2e::describe(run));
    std::string toe = fs::path(run.folder).filename().string();
    CHECK(run.summary.value("logUrl", "") == s3.url("builds/x/" + toe + "/"));
    std::vector<std::string> keys = s3.keys("builds/x/" + toe + "/");
    std::vector<std::string> local;
    for (const auto& entry : fs::recursive_directory_iterator(run.folder))
      if (entry.is_regular_file())
        local.push_back("builds/x/" + toe + "/" + fs::relative(entry.path(), run.folder).string());
    std::sort(local.begin(), local.end());
    CHECK(keys == local);
    CHECK(std::find(keys.begin(), keys.end(), "builds/x/" + toe + "/console.log") != keys.end());
    CHECK(s3.get_text("builds/x/" + toe + "/console.log") == read_file(run.folder + "/console.log"));
    CHECK(s3.get_text("builds/x/" + toe + "/detailedoutput.json") == read_file(run.folder + "/detailedoutput.json"));
  }
  SUBCASE("a wrong secret: the steps ran, the run fails, logUrl is the local folder, the secret is nowhere") {
    auto run = run_args(dir, {"run", "--documents", doc, "-b", kiln::s3test::kBucket},
                        s3.environment("a-wrong-secret-for-upload"));
    CHECK(run.exit_code() == 1);
    CHECK(read_file(dir.file("ran.txt")) == "logged\n");
    CHECK(run.summary.value("logUrl", "") == run.folder);
    CHECK(run.result.err.find("could not be uploaded") != std::string::npos);
    CHECK(run.result.err.find("SignatureDoesNotMatch") != std::string::npos);
    CHECK(s3.keys().empty());
    for (const auto& entry : fs::recursive_directory_iterator(dir.path()))
      if (entry.is_regular_file())
        CHECK_MESSAGE(read_file(entry.path().string()).find("a-wrong-secret-for-upload") == std::string::npos,
                      entry.path());
    CHECK(run.result.err.find("a-wrong-secret-for-upload") == std::string::npos);
  }
}

TEST_CASE("aws:imds (IMDS stand-in): metadata reaches the step through IMDSv2, each path fetched once" *
          KILN_SKIP_UNLESS(kiln::s3test::in_ci() || ::access("/usr/bin/python3", X_OK) == 0, "needs python3")) {
  TempDir servers;
  kiln::s3test::Background imds(
      {kiln::s3test::kPython, kiln::s3test::servers_dir() + "/imds_standin.py", "--port-file", servers.file("port"),
       "--counts", servers.file("counts"), "--paths",
       R"({"meta-data/instance-id": "i-0123456789abcdef0", "meta-data/placement/region": "eu-west-3"})"},
      servers.file("out"));
  REQUIRE(kiln::s3test::wait_for([&] { return !read_file(servers.file("port")).empty(); }));
  TempDir dir;
  std::string out = dir.file("seen.txt");
  std::string doc = dir.write("doc.yml", R"(name: imds
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Meta
        action: ExecuteBash
        inputs:
          commands:
            - echo '{{ aws:imds:instance-id }} {{ aws:imds:placement/region }} {{ aws:imds:instance-id }}' > )" +
                                                out + R"(
      - name: Missing
        action: ExecuteBash
        onFailure: Ignore
        inputs:
          commands:
            - echo '{{ aws:imds:no/such/path }}'
)");
  auto run = run_args(dir, {"run", "--documents", doc},
                      {"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:" + read_file(servers.file("port")),
                       "AWS_EC2_METADATA_DISABLED="});
  CHECK_MESSAGE(run.exit_code() == 0, kiln::e2e::describe(run));
  CHECK(read_file(out) == "i-0123456789abcdef0 eu-west-3 i-0123456789abcdef0\n");
  CHECK(kiln::e2e::failure_of(run, "Missing").find("no/such/path") != std::string::npos);
  auto counts = nlohmann::json::parse(read_file(servers.file("counts")), nullptr, false);
  CHECK(counts.value("unauthorized", -1) == 0);  // every GET carried the token
  CHECK(counts.value("token", 0) >= 1);
  CHECK(counts.value("get", 0) == 3);            // two paths once each, and the missing one
}
