// download_to_file against real servers on loopback. Oracles: the bytes the fault server's
// pattern defines, sha256sum of the served file, and the servers' request logs.
#include "agent/net/download.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "tests/support/http_servers.h"
#include "tests/support/skip.h"

using namespace kiln::net;
using kiln::test::FaultServer;
using kiln::test::have_tool;
using kiln::test::NginxServer;
using kiln::test::pattern_bytes;
using kiln::test::read_file;
using kiln::test::ScopedEnv;
using kiln::test::TempDir;

namespace {

DownloadOptions quick() {
  DownloadOptions o;
  o.retry.first_delay = std::chrono::milliseconds(10);
  return o;
}

// The folder holds exactly `names` (no partial file left behind).
std::vector<std::string> listing(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string sha256sum(const std::string& path) {
  TempDir dir;
  kiln::test::run_quietly({"/bin/sh", "-c", "sha256sum '" + path + "' | cut -d' ' -f1 > '" + dir.file("sum") + "'"},
                          "/dev/null");
  std::string sum = read_file(dir.file("sum"));
  while (!sum.empty() && sum.back() == '\n') sum.pop_back();
  return sum;
}

struct NoProxyEnvironment {
  ScopedEnv a{"http_proxy", nullptr}, b{"HTTP_PROXY", nullptr}, c{"no_proxy", nullptr}, d{"NO_PROXY", nullptr};
};

#define NEEDS_PYTHON KILN_SKIP_UNLESS(have_tool(kiln::test::kPython), "needs /usr/bin/python3")
#define NEEDS_NGINX KILN_SKIP_UNLESS(have_tool(kiln::test::kNginx), "needs nginx (nginx-light)")

}  // namespace

TEST_CASE("download: a file from nginx arrives whole, its checksum verified, no partial file left" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::string content = pattern_bytes(3 * 1024 * 1024 + 17);
  std::string url = nginx.serve("big.bin", content);
  TempDir dir;
  HttpClient client;
  DownloadOptions options = quick();
  options.algorithm = kiln::DigestAlgorithm::Sha256;
  options.checksum = sha256sum(nginx.docroot() + "/big.bin");
  REQUIRE(options.checksum.size() == 64);
  for (auto& c : options.checksum) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));  // any case
  DownloadResult r = download_to_file(client, url, dir.file("big.bin"), options);
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(r.bytes == content.size());
  CHECK(r.attempts == 1);
  CHECK(read_file(dir.file("big.bin")) == content);
  CHECK(listing(dir.path()) == std::vector<std::string>{"big.bin"});
}

TEST_CASE("download: a truncated body is resumed with Range from the bytes on disk" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  HttpClient client;
  std::vector<std::string> logged;
  DownloadOptions options = quick();
  options.log = [&](const std::string& line) { logged.push_back(line); };
  TempDir oracle;
  options.algorithm = kiln::DigestAlgorithm::Md5;  // the hash spans both attempts
  options.checksum =
      kiln::file_digest_hex(oracle.write("expected", pattern_bytes(100000)), options.algorithm.value()).hex;
  DownloadResult r = download_to_file(client, server.url("/truncate/100000"), dir.file("out"), options);
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(r.attempts == 2);
  CHECK(read_file(dir.file("out")) == pattern_bytes(100000));
  auto requests = server.requests_for("/truncate/100000");
  REQUIRE(requests.size() == 2);
  CHECK(requests[0]["range"] == "");
  CHECK(requests[1]["range"] == "bytes=50000-");
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].find("retrying from byte 50000") != std::string::npos);
  CHECK(listing(dir.path()) == std::vector<std::string>{"out"});
}

TEST_CASE("download: a server that ignores Range (200) makes the download start over" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  HttpClient client;
  DownloadOptions options = quick();
  options.algorithm = kiln::DigestAlgorithm::Sha1;
  options.checksum = kiln::file_digest_hex(dir.write("oracle", pattern_bytes(80000)), kiln::DigestAlgorithm::Sha1).hex;
  DownloadResult r = download_to_file(client, server.url("/truncate-norange/80000"), dir.file("out"), options);
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(r.attempts == 2);
  CHECK(r.bytes == 80000);
  CHECK(read_file(dir.file("out")) == pattern_bytes(80000));  // not 40000 + 80000
  auto requests = server.requests_for("/truncate-norange/80000");
  REQUIRE(requests.size() == 2);
  CHECK(requests[1]["range"] == "bytes=40000-");
}

// Larger than the 16 MiB windows whose writeback starts during the transfer: the first
// attempt ends halfway, past the first window; the file is then resumed or cut back to 0.
TEST_CASE("download: a body spanning several writeback windows survives a resume and a restart" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  HttpClient client;
  const size_t size = 40 * 1024 * 1024 + 5;
  const std::string expected = pattern_bytes(size);
  for (std::string route : {"/truncate/", "/truncate-norange/"}) {
    CAPTURE(route);
    std::string path = route + std::to_string(size);
    DownloadOptions options = quick();
    options.algorithm = kiln::DigestAlgorithm::Sha256;
    options.checksum = kiln::file_digest_hex(dir.write("oracle", expected), kiln::DigestAlgorithm::Sha256).hex;
    DownloadResult r = download_to_file(client, server.url(path), dir.file("out"), options);
    CHECK_MESSAGE(r.ok, r.message);
    CHECK(r.attempts == 2);
    CHECK(r.bytes == size);
    CHECK(read_file(dir.file("out")) == expected);
    auto requests = server.requests_for(path);
    REQUIRE(requests.size() == 2);
    CHECK(requests[1]["range"] == "bytes=" + std::to_string(size / 2) + "-");
  }
}

TEST_CASE("download: a 206 from the wrong byte fails; nothing is left behind" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  HttpClient client;
  DownloadResult r = download_to_file(client, server.url("/wrong-range/1000"), dir.file("out"), quick());
  CHECK(!r.ok);
  CHECK(r.message.find("Content-Range 'bytes 0-999/1000'") != std::string::npos);
  CHECK(listing(dir.path()).empty());
}

TEST_CASE("download: a checksum mismatch leaves the old file untouched and no partial file" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::string url = nginx.serve("file.txt", "the new content");
  TempDir dir;
  std::string target = dir.write("file.txt", "the old content");
  HttpClient client;
  DownloadOptions options = quick();
  options.algorithm = kiln::DigestAlgorithm::Sha256;
  options.checksum = std::string(64, 'a');
  DownloadResult r = download_to_file(client, url, target, options);
  CHECK(!r.ok);
  CHECK(r.message.find("checksum mismatch: expected " + std::string(64, 'a')) != std::string::npos);
  CHECK(r.message.find(sha256sum(nginx.docroot() + "/file.txt")) != std::string::npos);
  CHECK(r.message.find(url) != std::string::npos);
  CHECK(read_file(target) == "the old content");
  CHECK(listing(dir.path()) == std::vector<std::string>{"file.txt"});
  CHECK(r.attempts == 1);  // a mismatch is not a transport failure: not retried
}

TEST_CASE("download: 404 fails at once; five 500s fail after five attempts; nothing is written" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  HttpClient client;
  DownloadResult missing = download_to_file(client, server.url("/status/404"), dir.file("a"), quick());
  CHECK(!missing.ok);
  CHECK(missing.status == 404);
  CHECK(missing.attempts == 1);
  CHECK(missing.message == "GET " + server.url("/status/404") + ": HTTP 404 after 1 attempt");
  DownloadResult failing = download_to_file(client, server.url("/flaky/9/10"), dir.file("b"), quick());
  CHECK(!failing.ok);
  CHECK(failing.status == 500);
  CHECK(failing.attempts == 5);
  CHECK(failing.message.find("HTTP 500 after 5 attempts") != std::string::npos);
  CHECK(server.requests_for("/flaky/9/10").size() == 5);
  DownloadResult flaky = download_to_file(client, server.url("/flaky/2/10"), dir.file("c"), quick());
  CHECK(flaky.ok);
  CHECK(flaky.attempts == 3);
  CHECK(listing(dir.path()) == std::vector<std::string>{"c"});
}

TEST_CASE("download: the overall timeout bounds all attempts together" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  HttpClient client;
  DownloadOptions options = quick();
  options.timeout = std::chrono::milliseconds(1500);
  auto start = std::chrono::steady_clock::now();
  DownloadResult r = download_to_file(client, server.url("/slow/100000"), dir.file("out"), options);
  CHECK(!r.ok);
  CHECK(r.timed_out);
  CHECK(r.error == TransferError::Timeout);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(6));
  CHECK(listing(dir.path()).empty());
}

TEST_CASE("download: only http and https URLs; nothing is tried or written otherwise") {
  TempDir dir;
  HttpClient client;
  for (std::string url : {"ftp://127.0.0.1/x", "file:///etc/hostname", "127.0.0.1/x"}) {
    DownloadResult r = download_to_file(client, url, dir.file("out"), quick());
    CHECK(!r.ok);
    CHECK(r.attempts == 0);
    CHECK(r.message == "GET " + url + ": only http:// and https:// URLs can be downloaded");
  }
  CHECK(listing(dir.path()).empty());
}

TEST_CASE("download: file names from URLs") {
  CHECK(file_name_from_url("https://example.com/a/b/tool.tar.gz") == "tool.tar.gz");
  CHECK(file_name_from_url("https://example.com/a/my%20file.txt?sig=abc#frag") == "my file.txt");
  CHECK(file_name_from_url("https://example.com/") == "");
  CHECK(file_name_from_url("https://example.com") == "");
  CHECK(file_name_from_url("https://example.com/a/..") == "");
  CHECK(file_name_from_url("https://example.com/a/%2E%2E") == "");
  CHECK(file_name_from_url("https://example.com/a%2Fb") == "");
  CHECK(partial_path_for("/x/y/file.bin") == "/x/y/.file.bin.kiln-partial");
}
