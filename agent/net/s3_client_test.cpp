// The S3 client against a real S3-compatible server (s3rver) behind the verifying proxy,
// which checks every signature with botocore; the AWS CLI is the oracle for what is stored.
#include "agent/net/s3_client.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "agent/base/hash.h"
#include "tests/support/s3_server.h"

using namespace kiln::net;
using kiln::Status;
using kiln::s3test::S3Server;
using kiln::s3test::ScopedEnvironment;
using kiln::test::TempDir;

namespace {

#define NEEDS_S3 \
  KILN_SKIP_UNLESS(kiln::s3test::have_s3_tools_or_ci(), "needs s3rver, /usr/bin/aws and python3-botocore")

std::vector<std::string> client_environment(const S3Server& s3, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env = s3.environment();
  for (const char* unset : {"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_ENDPOINT_URL=", "AWS_DEFAULT_REGION="})
    env.push_back(unset);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xFF);
  return out;
}

std::string sha_of_file(const std::string& path) {
  return kiln::file_digest_hex(path, kiln::DigestAlgorithm::Sha256).hex;
}

// Every request the proxy saw was correctly signed.
bool all_signed(const S3Server& s3) {
  auto log = s3.proxy_log();
  return !log.empty() && std::all_of(log.begin(), log.end(), [](const auto& r) { return r.value("signed_ok", false); });
}

S3Location loc(const std::string& key) {
  return {kiln::s3test::kBucket, key};
}

}  // namespace

TEST_CASE("S3: parse_s3_url names what is wrong") {
  auto ok = parse_s3_url("s3://my-bucket/dir/file.txt");
  REQUIRE(ok);
  CHECK(ok->bucket == "my-bucket");
  CHECK(ok->key == "dir/file.txt");
  CHECK(parse_s3_url("s3://my.bucket").value().key.empty());
  CHECK(parse_s3_url("https://x/y").error() == "'https://x/y' is not an S3 URL (expected s3://bucket/key)");
  CHECK(parse_s3_url("s3:///key").error() == "'s3:///key' names no bucket (expected s3://bucket/key)");
  CHECK(parse_s3_url("s3://bad bucket!/k").error().find("'bad bucket!' is not a valid bucket name") !=
        std::string::npos);
  CHECK(parse_s3_url("s3://Legacy_Bucket/k").value().bucket == "Legacy_Bucket");  // pre-2018 us-east-1 names
}

TEST_CASE("S3: virtual-hosted URLs on AWS, path-style for an overridden endpoint or a bucket with dots") {
  S3Location object{"my-bucket", "dir/a b+c~.txt"};
  CHECK(s3_object_url("https://s3.eu-west-1.amazonaws.com", false, object) ==
        "https://my-bucket.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc~.txt");
  CHECK(s3_object_url("http://127.0.0.1:9000", true, object) == "http://127.0.0.1:9000/my-bucket/dir/a%20b%2Bc~.txt");
  CHECK(s3_object_url("https://s3.us-east-1.amazonaws.com", true, {"my.bucket", ""}) ==
        "https://s3.us-east-1.amazonaws.com/my.bucket/");
}

TEST_CASE("S3: keys that could land outside the destination folder are refused, naming the key") {
  CHECK(local_path_for_key("/dest", "p/", "p/a/b.txt").value() == "/dest/a/b.txt");
  CHECK(local_path_for_key("/dest/", "", "a//./b").value() == "/dest/a/b");
  CHECK(local_path_for_key("/dest", "p/", "p/").value().empty());         // the prefix itself
  CHECK(local_path_for_key("/dest", "p/", "p/folder/").value().empty());  // a folder marker
  for (std::string key : {"p/a/../../escape", "p/../x", "p/..", "p/a/.."}) {
    auto r = local_path_for_key("/dest", "p/", key);
    REQUIRE(!r);
    CHECK(r.error() == "refused key '" + key + "': it has a '..' component; it could be written outside /dest");
  }
  CHECK(local_path_for_key("/dest", "", "/etc/passwd").error().find("refused key '/etc/passwd': it is absolute") == 0);
  CHECK(!local_path_for_key("/dest", "p/", "q/x"));
}

TEST_CASE("S3: put, get and list through the verifying proxy; pages of 2 keys" * NEEDS_S3) {
  S3Server s3;
  ScopedEnvironment env(client_environment(s3));
  TempDir dir;
  AwsEnvironment aws;
  S3ClientOptions options;
  options.max_keys = 2;
  std::vector<std::string> log_lines;
  options.log = [&](const std::string& line) { log_lines.push_back(line); };
  S3Client client(aws, options);

  std::vector<S3Transfer> uploads;
  for (int i = 0; i < 7; ++i) {
    std::string name = "f" + std::to_string(i) + (i == 3 ? " with space+plus&amp.txt" : ".txt");
    uploads.push_back({loc("list/" + name), dir.write("up/" + name, random_bytes(1000 + i, i))});
  }
  uploads.push_back({loc("list/sub/empty"), dir.write("up/sub/empty", "")});
  S3BatchResult put = client.put_objects(uploads, "");
  INFO(put.summary("files", "uploaded"));
  CHECK(put.ok());
  CHECK(put.done.size() == 8);

  auto listed = client.list_objects(kiln::s3test::kBucket, "list/", "");
  REQUIRE_MESSAGE(listed, listed.error());
  std::vector<std::string> keys;
  for (const auto& o : *listed) keys.push_back(o.key);
  std::sort(keys.begin(), keys.end());
  CHECK(keys == s3.keys("list/"));  // the AWS CLI sees the same keys
  CHECK(keys.size() == 8);
  int pages = 0;
  for (const auto& r : s3.proxy_log())
    if (r.value("path", "").find("list-type=2") != std::string::npos) ++pages;
  CHECK(pages == 4);

  std::vector<S3Transfer> downloads;
  for (const auto& u : uploads) downloads.push_back({u.object, dir.file("down/" + u.object.key)});
  S3BatchResult got = client.get_objects(downloads, "");
  CHECK(got.ok());
  for (const auto& u : uploads) CHECK(sha_of_file(dir.file("down/" + u.object.key)) == sha_of_file(u.file));
  CHECK(kiln::test::read_file(dir.file("down/list/f3 with space+plus&amp.txt")) ==
        s3.get_text("list/f3 with space+plus&amp.txt"));
  CHECK(all_signed(s3));
  CHECK(!log_lines.empty());
  for (const auto& line : log_lines) CHECK(line.find("S3RVER") == std::string::npos);

  auto text = client.get_object_text(loc("list/f0.txt"), "", 1 << 20);
  CHECK(text.value_or("") == random_bytes(1000, 0));
  CHECK(client.get_object_text(loc("list/f0.txt"), "", 10).error() ==
        "s3://kiln-test/list/f0.txt: larger than 10 bytes");
  auto missing = client.get_object(loc("list/nope"), dir.file("nope"), "");
  REQUIRE(!missing);
  CHECK(missing.error() == "s3://kiln-test/list/nope: NoSuchKey: The specified key does not exist. (HTTP 404)");
  CHECK(!std::filesystem::exists(dir.file("nope")));
  CHECK(!std::filesystem::exists(dir.file(".nope.kiln-partial")));
}

TEST_CASE("S3: multipart upload above the threshold; the AWS CLI downloads the same bytes, and the reverse" *
          NEEDS_S3) {
  S3Server s3;
  ScopedEnvironment env(client_environment(s3));
  TempDir dir;
  AwsEnvironment aws;
  S3ClientOptions options;
  options.multipart_threshold = 6u << 20;
  options.part_size = 5u << 20;
  S3Client client(aws, options);
  std::string big = dir.write("big.bin", random_bytes((12u << 20) + 123, 7));
  Status put = client.put_object(big, loc("mp/big.bin"), "");
  REQUIRE_MESSAGE(put, put.error());
  int parts = 0, creates = 0, completes = 0;
  for (const auto& r : s3.proxy_log()) {
    std::string path = r.value("path", "");
    if (path.find("partNumber=") != std::string::npos) ++parts;
    if (path.find("?uploads") != std::string::npos) ++creates;
    if (r.value("method", "") == "POST" && path.find("uploadId=") != std::string::npos) ++completes;
  }
  CHECK(parts == 3);
  CHECK(creates == 1);
  CHECK(completes == 1);
  CHECK(all_signed(s3));
  // kiln uploaded, the AWS CLI downloads.
  auto r = s3.aws({"s3", "cp", s3.url("mp/big.bin"), dir.file("by-aws.bin")});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(sha_of_file(dir.file("by-aws.bin")) == sha_of_file(big));
  // The AWS CLI uploads (itself in parts), kiln downloads.
  std::string other = dir.write("other.bin", random_bytes((9u << 20) + 5, 9));
  REQUIRE(s3.put_file("mp/other.bin", other));
  uint64_t bytes = 0;
  Status got = client.get_object(loc("mp/other.bin"), dir.file("by-kiln/other.bin"), "", &bytes);
  REQUIRE_MESSAGE(got, got.error());
  CHECK(bytes == (9u << 20) + 5);
  CHECK(sha_of_file(dir.file("by-kiln/other.bin")) == sha_of_file(other));
}

TEST_CASE("S3: a wrong secret is refused by the proxy and surfaces as SignatureDoesNotMatch" * NEEDS_S3) {
  S3Server s3;
  ScopedEnvironment env(client_environment(s3, {"AWS_SECRET_ACCESS_KEY=not-the-secret"}));
  TempDir dir;
  AwsEnvironment aws;
  S3ClientOptions options;
  options.retry.attempts = 1;
  S3Client client(aws, options);
  Status put = client.put_object(dir.write("f", "x"), loc("bad/f"), "");
  REQUIRE(!put);
  CHECK(put.error().rfind("s3://kiln-test/bad/f: SignatureDoesNotMatch: The request signature we calculated", 0) == 0);
  CHECK(put.error().find("(HTTP 403)") != std::string::npos);
  CHECK(put.error().find("not-the-secret") == std::string::npos);
  CHECK(s3.keys("bad/").empty());
}

TEST_CASE("S3: a session token is sent and signed" * NEEDS_S3) {
  S3Server s3;
  ScopedEnvironment env(client_environment(s3, {"AWS_SESSION_TOKEN=FwoGZXIvYXdzE-session-token"}));
  TempDir dir;
  AwsEnvironment aws;
  S3Client client(aws);
  REQUIRE(client.put_object(dir.write("f", "with token"), loc("tok/f"), ""));
  auto log = s3.proxy_log();
  REQUIRE(!log.empty());
  auto headers = log.back()["headers"];
  CHECK(std::find(headers.begin(), headers.end(), "x-amz-security-token") != headers.end());
  CHECK(all_signed(s3));
  CHECK(s3.get_text("tok/f") == "with token");
}

TEST_CASE("S3: x-amz-expected-bucket-owner is sent; the proxy refuses a wrong owner" * NEEDS_S3) {
  kiln::s3test::S3ServerOptions server_options;
  server_options.owner = "111122223333";
  S3Server s3(server_options);
  ScopedEnvironment env(client_environment(s3));
  TempDir dir;
  AwsEnvironment aws;
  S3Client client(aws);
  REQUIRE(client.put_object(dir.write("f", "owned"), loc("own/f"), "111122223333"));
  Status wrong = client.get_object(loc("own/f"), dir.file("g"), "999988887777");
  REQUIRE(!wrong);
  CHECK(wrong.error() == "s3://kiln-test/own/f: AccessDenied: Access Denied (HTTP 403)");
  REQUIRE(client.get_object(loc("own/f"), dir.file("g"), "111122223333"));
  CHECK(kiln::test::read_file(dir.file("g")) == "owned");
  auto log = s3.proxy_log();
  REQUIRE(log.size() >= 3);
  CHECK(log[1].value("expected_owner", "") == "999988887777");
}

TEST_CASE("S3: upload_folder puts every file under the prefix with its relative path" * NEEDS_S3) {
  S3Server s3;
  ScopedEnvironment env(client_environment(s3));
  TempDir dir;
  dir.write("logs/TOE_1/application.log", "app");
  dir.write("logs/TOE_1/sub/deeper/x.json", "{}");
  dir.write("logs/top.txt", "top");
  AwsEnvironment aws;
  S3Client client(aws);
  Status st = client.upload_folder(dir.file("logs"), *parse_s3_url("s3://kiln-test/run-logs"), "");
  REQUIRE_MESSAGE(st, st.error());
  CHECK(s3.keys("run-logs/") == std::vector<std::string>{"run-logs/TOE_1/application.log",
                                                         "run-logs/TOE_1/sub/deeper/x.json", "run-logs/top.txt"});
  CHECK(s3.get_text("run-logs/TOE_1/sub/deeper/x.json") == "{}");
  Status missing = client.upload_folder(dir.file("nope"), *parse_s3_url("s3://kiln-test/x/"), "");
  CHECK(missing.error().find("cannot read " + dir.file("nope")) == 0);
}

TEST_CASE("S3: a raised cancel flag stops transfers; the batch names what was not transferred" * NEEDS_S3) {
  S3Server s3;
  ScopedEnvironment env(client_environment(s3));
  TempDir dir;
  REQUIRE(s3.put_text("c/a", "a"));
  AwsEnvironment aws;
  std::atomic<bool> cancel{true};
  S3ClientOptions options;
  options.cancel = &cancel;
  S3Client client(aws, options);
  S3BatchResult got = client.get_objects({{loc("c/a"), dir.file("a")}, {loc("c/b"), dir.file("b")}}, "");
  CHECK(got.summary("objects", "downloaded") ==
        "0 of 2 objects downloaded (0 bytes); not downloaded: s3://kiln-test/c/a (cancelled), s3://kiln-test/c/b "
        "(cancelled)");
  Status single = client.get_object(loc("c/a"), dir.file("a"), "");
  CHECK(!single);
  CHECK(!std::filesystem::exists(dir.file("a")));
}

TEST_CASE("S3: a failed part aborts the multipart upload; nothing is left under the key" * NEEDS_S3) {
  kiln::s3test::S3ServerOptions server_options;
  server_options.fail = "partNumber=2&";  // the proxy refuses part 2 (400, not retried)
  S3Server s3(server_options);
  ScopedEnvironment env(client_environment(s3));
  TempDir dir;
  AwsEnvironment aws;
  S3ClientOptions options;
  options.multipart_threshold = 6u << 20;
  options.part_size = 5u << 20;
  S3Client client(aws, options);
  Status put = client.put_object(dir.write("big.bin", random_bytes((11u << 20), 5)), loc("abort/big.bin"), "");
  REQUIRE(!put);
  CHECK(put.error() ==
        "s3://kiln-test/abort/big.bin (part 2): InvalidRequest: Injected failure for a test (HTTP 400) "
        "(multipart upload aborted)");
  // kiln sends AbortMultipartUpload, signed; s3rver 3.7 does not implement it (405), so
  // whether the parts are freed cannot be checked here.
  bool abort_sent = false;
  for (const auto& r : s3.proxy_log())
    if (r.value("method", "") == "DELETE" && r.value("path", "").find("?uploadId=") != std::string::npos)
      abort_sent = r.value("signed_ok", false);
  CHECK(abort_sent);
  CHECK(s3.keys("abort/").empty());
}
