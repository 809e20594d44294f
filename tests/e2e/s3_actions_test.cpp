// End-to-end: S3Download and S3Upload through the real kiln binary against s3rver behind
// the SigV4-verifying proxy; the AWS CLI puts and lists objects as the independent oracle.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "agent/base/hash.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/support/power_cut_fs.h"
#include "tests/support/s3_server.h"

using kiln::e2e::KilnRun;
using kiln::s3test::S3Server;
using kiln::test::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

#define NEEDS_S3 \
  KILN_SKIP_UNLESS(kiln::s3test::have_s3_tools_or_ci(), "needs s3rver, /usr/bin/aws and python3-botocore")

// Runs a one-step document (step "Step") with kiln pointed at `s3`.
KilnRun run_s3_step(const TempDir& dir, const S3Server& s3, const std::string& action, const json& inputs,
                    const std::vector<std::string>& extra_env = {}) {
  static int serial = 0;
  std::string n = std::to_string(++serial);
  std::string doc =
      "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Step\n        action: " + action +
      "\n        inputs: " + inputs.dump() + "\n";
  KilnRun run;
  run.log_directory = dir.file("logs-" + n);
  std::vector<std::string> env = s3.environment();
  env.insert(env.end(), {"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_ENDPOINT_URL="});
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  run.result = kiln::test::run_kiln(
      {"run", "--documents", dir.write("doc-" + n + ".yml", doc), "--log-directory", run.log_directory}, "", env);
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  return run;
}

std::string failure(const KilnRun& run) {
  return kiln::e2e::failure_of(run, "Step");
}
bool succeeded(const KilnRun& run) {
  return run.exit_code() == 0 && run.status("Step") == "success";
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xFF);
  return out;
}

std::vector<std::string> files_under(const std::string& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file()) out.push_back(it->path().lexically_relative(folder).generic_string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> keys(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

}  // namespace

TEST_CASE("S3Download: one object to a file (folders created) and a prefix recursively, bytes as the AWS CLI put them" *
          NEEDS_S3) {
  S3Server s3;
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> objects = {{"data/one.txt", "first object\n"},
                                                                    {"data/sub/two.bin", random_bytes(70000, 2)},
                                                                    {"data/sub/deeper/three with space.txt", "third"},
                                                                    {"data/sub/empty", ""},
                                                                    {"other/not-me.txt", "outside the prefix"}};
  for (const auto& [key, content] : objects) REQUIRE(s3.put_text(key, content));
  auto run =
      run_s3_step(dir, s3, "S3Download",
                  json::array({{{"source", s3.url("data/one.txt")}, {"destination", dir.file("single/a/b/one.txt")}},
                               {{"source", s3.url("data/*")}, {"destination", dir.file("tree")}},
                               {{"source", s3.url("data/sub/two.bin")}, {"destination", dir.file("into-folder/")}}}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(succeeded(run));
  CHECK(kiln::test::read_file(dir.file("single/a/b/one.txt")) == "first object\n");
  CHECK(files_under(dir.file("tree")) ==
        keys({"one.txt", "sub/deeper/three with space.txt", "sub/empty", "sub/two.bin"}));
  for (const auto& [key, content] : objects)
    if (key.rfind("data/", 0) == 0) CHECK(kiln::test::read_file(dir.file("tree/" + key.substr(5))) == s3.get_text(key));
  CHECK(kiln::test::read_file(dir.file("into-folder/two.bin")) == objects[1].second);
  auto log = s3.proxy_log();
  CHECK(std::all_of(log.begin(), log.end(), [](const json& r) { return r.value("signed_ok", false); }));
  // application.log records each transfer with its size.
  CHECK(kiln::test::read_file(run.folder + "/application.log").find("S3Download: S3 GET " + s3.url("data/one.txt")) !=
        std::string::npos);
}

TEST_CASE("S3Download: a key that would land outside the destination is refused; nothing is written" * NEEDS_S3) {
  S3Server s3;
  TempDir dir;
  REQUIRE(s3.put_text("evil/fine.txt", "fine"));
  // The AWS CLI sends the key as given; s3rver stores it when its path stays in its data folder.
  auto put = s3.aws({"s3api", "put-object", "--bucket", kiln::s3test::kBucket, "--key", "evil/a/../../escape.txt",
                     "--body", dir.write("payload", "escaped")});
  std::vector<std::string> stored = s3.keys("evil/");
  bool stored_escape = std::find(stored.begin(), stored.end(), "evil/a/../../escape.txt") != stored.end();
  if (!stored_escape) {
    // s3rver (or the CLI) normalised the key away: the refusal itself is unit-tested in
    // agent/net/s3_client_test.cpp ("keys that could land outside ...").
    MESSAGE("s3rver did not store a key with '..' (put exit " << put.exit_code << "); covered by the unit test");
    return;
  }
  auto run = run_s3_step(dir, s3, "S3Download",
                         json::array({{{"source", s3.url("evil/*")}, {"destination", dir.file("dest/inner")}}}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(failure(run).find("refused key 'evil/a/../../escape.txt': it has a '..' component") != std::string::npos);
  CHECK(!fs::exists(dir.file("escape.txt")));
  CHECK(!fs::exists(dir.file("dest/escape.txt")));
  CHECK(files_under(dir.file("dest")).empty());
}

TEST_CASE("S3Download: overwrite false keeps an existing file and fails naming it; true replaces it" * NEEDS_S3) {
  S3Server s3;
  TempDir dir;
  REQUIRE(s3.put_text("ow/file.txt", "from S3"));
  std::string existing = dir.write("existing.txt", "local");
  auto kept =
      run_s3_step(dir, s3, "S3Download",
                  json::array({{{"source", s3.url("ow/file.txt")}, {"destination", existing}, {"overwrite", false}}}));
  CHECK(kept.exit_code() == 1);
  CHECK(failure(kept) ==
        "item 0 (" + s3.url("ow/file.txt") + "): " + existing + " already exists and overwrite is false");
  CHECK(kiln::test::read_file(existing) == "local");
  dir.write("tree/file.txt", "local too");
  auto kept_prefix =
      run_s3_step(dir, s3, "S3Download",
                  json::array({{{"source", s3.url("ow/*")}, {"destination", dir.file("tree")}, {"overwrite", false}}}));
  CHECK(failure(kept_prefix).find(dir.file("tree/file.txt") + " already exists and overwrite is false") !=
        std::string::npos);
  auto replaced =
      run_s3_step(dir, s3, "S3Download", json::array({{{"source", s3.url("ow/file.txt")}, {"destination", existing}}}));
  CHECK(succeeded(replaced));
  CHECK(kiln::test::read_file(existing) == "from S3");
}

TEST_CASE("S3Download: a partial failure names what was and was not downloaded; a missing object names its error" *
          NEEDS_S3) {
  S3Server s3;
  TempDir dir;
  for (const char* key : {"part/a.txt", "part/blocked/b.txt", "part/c.txt"}) REQUIRE(s3.put_text(key, key));
  dir.write("dest/blocked", "a file where a folder is needed");
  auto run = run_s3_step(dir, s3, "S3Download",
                         json::array({{{"source", s3.url("part/*")}, {"destination", dir.file("dest")}}}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  std::string message = failure(run);
  CHECK(message.find("2 of 3 objects downloaded") != std::string::npos);
  CHECK(message.find("not downloaded: " + s3.url("part/blocked/b.txt")) != std::string::npos);
  CHECK(message.find("downloaded: " + s3.url("part/a.txt") + ", " + s3.url("part/c.txt")) != std::string::npos);
  CHECK(kiln::test::read_file(dir.file("dest/a.txt")) == "part/a.txt");
  auto missing =
      run_s3_step(dir, s3, "S3Download",
                  json::array({{{"source", s3.url("part/none.txt")}, {"destination", dir.file("none.txt")}}}));
  CHECK(failure(missing) == "item 0 (" + s3.url("part/none.txt") + "): " + s3.url("part/none.txt") +
                                ": NoSuchKey: The specified key does not exist. (HTTP 404)");
}

TEST_CASE("S3Upload: a file, a wildcard without and with recurse, a folder with recurse \"true\"" * NEEDS_S3) {
  S3Server s3;
  TempDir dir;
  dir.write("src/a.txt", "A");
  dir.write("src/b.bin", random_bytes(30000, 3));
  dir.write("src/sub/c.txt", "C");
  dir.write("src/sub/deeper/d.txt", "D");
  auto run =
      run_s3_step(dir, s3, "S3Upload",
                  json::array({{{"source", dir.file("src/a.txt")}, {"destination", s3.url("single/renamed.txt")}},
                               {{"source", dir.file("src/a.txt")}, {"destination", s3.url("into/")}},
                               {{"source", dir.file("src/*")}, {"destination", s3.url("flat/")}},
                               {{"source", dir.file("src/*")}, {"destination", s3.url("deep/")}, {"recurse", true}},
                               {{"source", dir.file("src")}, {"destination", s3.url("folder")}, {"recurse", "true"}}}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(succeeded(run));
  CHECK(s3.keys("single/") == keys({"single/renamed.txt"}));
  CHECK(s3.keys("into/") == keys({"into/a.txt"}));
  CHECK(s3.keys("flat/") == keys({"flat/a.txt", "flat/b.bin"}));  // sub-folder files not uploaded
  CHECK(s3.keys("deep/") == keys({"deep/a.txt", "deep/b.bin", "deep/sub/c.txt", "deep/sub/deeper/d.txt"}));
  CHECK(s3.keys("folder/") == keys({"folder/a.txt", "folder/b.bin", "folder/sub/c.txt", "folder/sub/deeper/d.txt"}));
  CHECK(s3.get_text("deep/b.bin") == kiln::test::read_file(dir.file("src/b.bin")));
  CHECK(s3.get_text("folder/sub/deeper/d.txt") == "D");

  auto folder_without_recurse =
      run_s3_step(dir, s3, "S3Upload", json::array({{{"source", dir.file("src")}, {"destination", s3.url("x/")}}}));
  CHECK(failure(folder_without_recurse).find(dir.file("src") + " is a folder; set recurse: true") != std::string::npos);
  auto bad_recurse =
      run_s3_step(dir, s3, "S3Upload",
                  json::array({{{"source", dir.file("src")}, {"destination", s3.url("x/")}, {"recurse", "yes"}}}));
  CHECK(failure(bad_recurse).find("recurse must be true or false, not 'yes'") != std::string::npos);
  CHECK(s3.keys("x/").empty());
}

TEST_CASE("S3Upload: a partial failure names what was and was not uploaded; uploaded objects stay" * NEEDS_S3) {
  kiln::s3test::S3ServerOptions options;
  options.fail = "/partial/b";  // the proxy refuses this one object (400, not retried)
  S3Server s3(options);
  TempDir dir;
  for (const char* name : {"a.txt", "b.txt", "c.txt"}) dir.write(std::string("src/") + name, name);
  auto run = run_s3_step(dir, s3, "S3Upload",
                         json::array({{{"source", dir.file("src/*")}, {"destination", s3.url("partial/")}}}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(failure(run) ==
        "item 0 (" + dir.file("src/*") + "): 2 of 3 files uploaded (10 bytes); not uploaded: " + dir.file("src/b.txt") +
            " (" + s3.url("partial/b.txt") + ": InvalidRequest: Injected failure for a test (HTTP 400)); uploaded: " +
            dir.file("src/a.txt") + ", " + dir.file("src/c.txt"));
  CHECK(s3.keys("partial/") == keys({"partial/a.txt", "partial/c.txt"}));
}

TEST_CASE("S3Upload: a bucket owner mismatch fails with S3's message; credentials never reach kiln's logs" * NEEDS_S3) {
  kiln::s3test::S3ServerOptions options;
  options.owner = "111122223333";
  options.secret = "kiln-distinctive-SECRET-4711";
  S3Server s3(options);
  TempDir dir;
  const std::string token = "kiln-distinctive-SESSION-TOKEN-0815";
  dir.write("src/f.txt", "payload");
  auto ok = run_s3_step(dir, s3, "S3Upload",
                        json::array({{{"source", dir.file("src/f.txt")},
                                      {"destination", s3.url("own/f.txt")},
                                      {"expectedBucketOwner", "111122223333"}}}),
                        {"AWS_SESSION_TOKEN=" + token});
  INFO(kiln::e2e::describe(ok));
  CHECK(succeeded(ok));
  auto wrong = run_s3_step(dir, s3, "S3Upload",
                           json::array({{{"source", dir.file("src/f.txt")},
                                         {"destination", s3.url("own/g.txt")},
                                         {"expectedBucketOwner", "999988887777"}}}),
                           {"AWS_SESSION_TOKEN=" + token});
  CHECK(wrong.exit_code() == 1);
  CHECK(failure(wrong).find(s3.url("own/g.txt") + ": AccessDenied: Access Denied (HTTP 403)") != std::string::npos);
  auto badsecret = run_s3_step(dir, s3, "S3Download",
                               json::array({{{"source", s3.url("own/f.txt")}, {"destination", dir.file("f")}}}),
                               {"AWS_SECRET_ACCESS_KEY=another-SECRET-9", "AWS_SESSION_TOKEN=" + token});
  CHECK(failure(badsecret).find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(s3.keys("own/") == keys({"own/f.txt"}));
  auto log = s3.proxy_log();
  CHECK(std::any_of(log.begin(), log.end(), [](const json& r) {
    auto h = r["headers"];
    return std::find(h.begin(), h.end(), "x-amz-security-token") != h.end() && r.value("signed_ok", false);
  }));
  for (const KilnRun* run : {&ok, &wrong, &badsecret}) {
    std::string everything = run->result.out + run->result.err;
    for (const auto& entry : fs::recursive_directory_iterator(run->log_directory))
      if (entry.is_regular_file()) everything += kiln::test::read_file(entry.path().string());
    CHECK(everything.find(options.secret) == std::string::npos);
    CHECK(everything.find("another-SECRET-9") == std::string::npos);
    CHECK(everything.find(token) == std::string::npos);
  }
}

TEST_CASE("S3Download: the step's timeoutSeconds stops a stalled transfer; no partial file is left" * NEEDS_S3) {
  kiln::s3test::S3ServerOptions options;
  options.stall = "/slow/";
  options.stall_seconds = 30;
  S3Server s3(options);
  TempDir dir;
  REQUIRE(s3.put_text("slow/object", "never arrives in time"));
  std::string doc =
      "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Step\n"
      "        action: S3Download\n        timeoutSeconds: 2\n        inputs:\n"
      "          - source: " +
      s3.url("slow/object") + "\n            destination: " + dir.file("out/object") + "\n";
  std::vector<std::string> env = s3.environment();
  env.insert(env.end(), {"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_ENDPOINT_URL="});
  auto start = std::chrono::steady_clock::now();
  auto result = kiln::test::run_kiln(
      {"run", "--documents", dir.write("doc.yml", doc), "--log-directory", dir.file("logs")}, "", env);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK(seconds < 10);  // 2 s budget; no retries after it ran out
  auto step = kiln::test::find_step(kiln::test::read_detailed_output(dir.file("logs")), "Step");
  CHECK(step.value("failureMessage", "") == "item 0 (" + s3.url("slow/object") + "): " + s3.url("slow/object") +
                                                ": timed out (the step's timeoutSeconds ran out)");
  CHECK(files_under(dir.file("out")).empty());
}

TEST_CASE("S3Download: instance-role credentials from IMDSv2 (the IMDS stand-in) sign kiln's requests" * NEEDS_S3) {
  // IMDS exists only on EC2; tests/servers/imds_standin.py stands in for it. It hands out
  // the proxy's key pair with a session token, which the proxy sees signed.
  kiln::s3test::S3ServerOptions options;
  options.secret = "role-SECRET-from-imds";
  S3Server s3(options);
  TempDir dir;
  REQUIRE(s3.put_text("role/object", "via the instance role"));
  kiln::s3test::Background imds(
      {kiln::s3test::kPython, kiln::s3test::servers_dir() + "/imds_standin.py", "--port-file", dir.file("imds.port"),
       "--counts", dir.file("imds.counts"), "--role", "kiln-build-role", "--access-key", kiln::s3test::kAccessKey,
       "--secret", options.secret, "--paths", R"({"meta-data/placement/region": "us-east-1"})"},
      dir.file("imds.out"));
  REQUIRE(kiln::s3test::wait_for([&] { return !kiln::test::read_file(dir.file("imds.port")).empty(); }));
  std::vector<std::string> env = {
      "AWS_ENDPOINT_URL_S3=" + s3.endpoint(),
      "AWS_ACCESS_KEY_ID=",
      "AWS_SECRET_ACCESS_KEY=",
      "AWS_SESSION_TOKEN=",
      "AWS_PROFILE=",
      "AWS_ENDPOINT_URL=",
      "AWS_REGION=",
      "AWS_DEFAULT_REGION=",
      "AWS_SHARED_CREDENTIALS_FILE=/nonexistent-kiln",
      "AWS_CONFIG_FILE=/nonexistent-kiln",
      "AWS_EC2_METADATA_DISABLED=",
      "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:" + kiln::test::read_file(dir.file("imds.port"))};
  std::string doc =
      "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Step\n"
      "        action: S3Download\n        inputs:\n          - source: " +
      s3.url("role/object") + "\n            destination: " + dir.file("object") + "\n";
  auto result = kiln::test::run_kiln(
      {"run", "--documents", dir.write("doc.yml", doc), "--log-directory", dir.file("logs")}, "", env);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(kiln::test::read_file(dir.file("object")) == "via the instance role");
  auto counts = json::parse(kiln::test::read_file(dir.file("imds.counts")), nullptr, false);
  CHECK(counts.value("credentials", 0) == 1);
  CHECK(counts.value("unauthorized", -1) == 0);
  auto log = s3.proxy_log();
  REQUIRE(!log.empty());
  CHECK(log.back().value("signed_ok", false));
  auto headers = log.back()["headers"];
  CHECK(std::find(headers.begin(), headers.end(), "x-amz-security-token") != headers.end());
}

TEST_CASE("S3Download: what a finished step downloaded survives a power cut (files and new folders synced)" *
          NEEDS_S3 * KILN_NEEDS_FUSE) {
  S3Server s3;
  TempDir dir;
  kiln::test::PowerCutFs disk;  // the destinations: a filesystem that forgets what was not synced
  REQUIRE(s3.put_text("data/one.txt", "first object\n"));
  REQUIRE(s3.put_text("data/sub/deeper/three.txt", "third"));  // sub/ holds no file of its own
  auto run = run_s3_step(dir, s3, "S3Download",
                         json::array({{{"source", s3.url("data/one.txt")}, {"destination", disk.path("single/one.txt")}},
                                      {{"source", s3.url("data/*")}, {"destination", disk.path("tree")}}}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(succeeded(run));
  disk.cut();
  disk.power_on();
  CHECK(kiln::test::slurp(disk.path("single/one.txt")).value_or("<lost>") == "first object\n");
  CHECK(kiln::test::slurp(disk.path("tree/one.txt")).value_or("<lost>") == "first object\n");
  CHECK(kiln::test::slurp(disk.path("tree/sub/deeper/three.txt")).value_or("<lost>") == "third");
}
