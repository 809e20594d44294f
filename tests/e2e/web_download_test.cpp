// End-to-end: WebDownload through the real kiln binary against nginx and the scripted
// fault server on loopback. Oracles: the files nginx serves (and sha256sum of them),
// nginx's access log, the fault server's request log.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "actions/common/file_test_support.h"
#include "tests/support/http_servers.h"
#include "tests/support/skip.h"

using namespace kiln::file_test;
using kiln::e2e::outputs_of;
using kiln::e2e::stdout_of;
using kiln::test::FaultServer;
using kiln::test::have_tool;
using kiln::test::NginxServer;
using kiln::test::pattern_bytes;
using kiln::test::read_file;
using kiln::test::ScopedEnv;
using kiln::test::TempDir;

namespace {

// kiln inherits our environment: no proxy of the machine's may stand between it and loopback.
struct NoProxyEnvironment {
  ScopedEnv a{"http_proxy", nullptr}, b{"HTTP_PROXY", nullptr}, c{"https_proxy", nullptr}, d{"HTTPS_PROXY", nullptr};
};

std::string sha256sum(const std::string& path) {
  TempDir dir;
  kiln::test::run_quietly({"/bin/sh", "-c", "sha256sum '" + path + "' | cut -d' ' -f1 > '" + dir.file("sum") + "'"},
                          "/dev/null");
  std::string sum = read_file(dir.file("sum"));
  while (!sum.empty() && sum.back() == '\n') sum.pop_back();
  return sum;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

bool listing_is(const std::string& folder, std::vector<std::string> expected) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  return names == expected;
}

std::string application_log(const kiln::e2e::KilnRun& run) {
  return read_file(run.folder + "/application.log");
}

#define NEEDS_NGINX KILN_SKIP_UNLESS(have_tool(kiln::test::kNginx), "needs nginx (nginx-light)")
#define NEEDS_PYTHON KILN_SKIP_UNLESS(have_tool(kiln::test::kPython), "needs /usr/bin/python3")

}  // namespace

TEST_CASE("WebDownload: file and folder destinations; the destination output chains into a later step" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::string a = nginx.serve("a.txt", "alpha\n");
  std::string b = nginx.serve("dir/b.bin", pattern_bytes(200000));
  TempDir dir;
  std::string file_target = dir.file("deep/er/a-copy.txt");
  std::string folder_target = dir.file("folder/");
  std::filesystem::create_directories(dir.file("existing"));
  json items = json::array({{{"source", a}, {"destination", file_target}},
                            {{"source", b}, {"destination", folder_target}},
                            {{"source", a}, {"destination", dir.file("existing")}}});
  auto run = run_steps(
      dir, json::array({step("Download", "WebDownload", items),
                        step("Use", "ExecuteBash",
                             {{"commands", json::array({"while read -r f; do wc -c < \"$f\"; done <<'EOF'\n"
                                                        "{{ build.Download.outputs.destination }}\nEOF"})}})}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(file_target) == "alpha\n");
  CHECK(read_file(dir.file("folder/b.bin")) == pattern_bytes(200000));
  CHECK(read_file(dir.file("existing/a.txt")) == "alpha\n");
  CHECK(outputs_of(run.step("Download"))["destination"] ==
        file_target + "\n" + dir.file("folder/b.bin") + "\n" + dir.file("existing/a.txt"));
  CHECK(stdout_of(run.step("Use")) == "6\n200000\n6");
  CHECK(contains(application_log(run), "bytes in"));
}

TEST_CASE("WebDownload: overwrite false fails on an existing file and leaves it intact" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::string url = nginx.serve("new.txt", "new");
  TempDir dir;
  std::string target = dir.write("target.txt", "old");
  auto run = run_steps(
      dir, json::array({step("Download", "WebDownload",
                             json::array({{{"source", url}, {"destination", target}, {"overwrite", false}}}))}));
  CHECK(run.exit_code() == 1);
  std::string message = failure_of(run, "Download");
  CHECK(contains(message, url));
  CHECK(contains(message, target + " exists and overwrite is false"));
  CHECK(read_file(target) == "old");
  CHECK(!contains(nginx.access_log(), "GET /new.txt"));
}

TEST_CASE("WebDownload: a file that already has the checksum is not downloaded again" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::string url = nginx.serve("tool.bin", pattern_bytes(5000));
  std::string sum = sha256sum(nginx.docroot() + "/tool.bin");
  REQUIRE(sum.size() == 64);
  TempDir dir;
  json items = json::array({{{"source", url},
                             {"destination", dir.file("tool.bin")},
                             {"checksum", sum},
                             {"algorithm", "sha256"}}});  // any case
  auto first = run_steps(dir, json::array({step("Download", "WebDownload", items)}), "first");
  INFO(kiln::e2e::describe(first));
  CHECK(first.exit_code() == 0);
  CHECK(kiln::test::wait_until([&] { return count_of(nginx.access_log(), "GET /tool.bin 200") == 1; }));
  auto second = run_steps(dir, json::array({step("Download", "WebDownload", items)}), "second");
  CHECK(second.exit_code() == 0);
  CHECK(contains(application_log(second), "already has the expected sha256 checksum; not downloaded again"));
  CHECK(outputs_of(second.step("Download"))["destination"] == dir.file("tool.bin"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a GET would be logged by now
  CHECK(count_of(nginx.access_log(), "GET /tool.bin") == 1);
  CHECK(read_file(dir.file("tool.bin")) == pattern_bytes(5000));

  // A different file at the destination is replaced.
  dir.write("tool.bin", "stale");
  auto third = run_steps(dir, json::array({step("Download", "WebDownload", items)}), "third");
  CHECK(third.exit_code() == 0);
  CHECK(read_file(dir.file("tool.bin")) == pattern_bytes(5000));
  CHECK(kiln::test::wait_until([&] { return count_of(nginx.access_log(), "GET /tool.bin 200") == 2; }));
}

TEST_CASE("WebDownload: a checksum mismatch fails the step clearly and writes nothing" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::string good = nginx.serve("good.txt", "good");
  std::string bad = nginx.serve("bad.txt", "tampered");
  TempDir dir;
  std::string wrong = std::string(32, '0');
  json items = json::array(
      {{{"source", good}, {"destination", dir.file("out/good.txt")}},
       {{"source", bad}, {"destination", dir.file("out/bad.txt")}, {"checksum", wrong}, {"algorithm", "MD5"}}});
  auto run = run_steps(dir, json::array({step("Download", "WebDownload", items)}));
  CHECK(run.exit_code() == 1);
  std::string message = failure_of(run, "Download");
  CHECK(contains(message, "item 1 (" + bad + ")"));
  CHECK(contains(message, "checksum mismatch: expected " + wrong));
  CHECK(contains(message, "downloaded before the failure: " + dir.file("out/good.txt")));
  CHECK(listing_is(dir.file("out"), {"good.txt"}));
}

TEST_CASE("WebDownload: HTTP errors name the URL, the status and the attempts; later items do not run" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  json items = json::array({{{"source", server.url("/status/404")}, {"destination", dir.file("x")}},
                            {{"source", server.url("/data/5")}, {"destination", dir.file("y")}}});
  auto run = run_steps(dir, json::array({step("Download", "WebDownload", items)}));
  CHECK(run.exit_code() == 1);
  std::string message = failure_of(run, "Download");
  CHECK(contains(message, server.url("/status/404")));
  CHECK(contains(message, "HTTP 404 after 1 attempt"));
  CHECK(contains(message, "downloaded before the failure: none"));
  CHECK(server.requests_for("/data/5").empty());
  CHECK(!exists(dir.file("x")));

  auto nameless =
      run_steps(dir,
                json::array({step("Download", "WebDownload",
                                  json::array({{{"source", server.url("/")}, {"destination", dir.file("f/")}}}))}),
                "nameless");
  CHECK(contains(failure_of(nameless, "Download"), "no usable file name"));
}

TEST_CASE("WebDownload: a self-signed certificate fails unless ignoreCertificateErrors" *
          KILN_SKIP_UNLESS(have_tool(kiln::test::kPython) && have_tool(kiln::test::kOpenssl),
                           "needs python3 and openssl")) {
  NoProxyEnvironment env;
  FaultServer server(/*tls=*/true);
  TempDir dir;
  std::string url = server.url("/data/3000/file.bin");
  auto strict = run_steps(
      dir,
      json::array({step("Download", "WebDownload", json::array({{{"source", url}, {"destination", dir.file("s/")}}}))}),
      "strict");
  CHECK(strict.exit_code() == 1);
  CHECK(contains(failure_of(strict, "Download"), "TLS failed"));
  CHECK(!exists(dir.file("s/file.bin")));
  auto lenient = run_steps(
      dir,
      json::array(
          {step("Download", "WebDownload",
                json::array({{{"source", url}, {"destination", dir.file("s/")}, {"ignoreCertificateErrors", true}}}))}),
      "lenient");
  INFO(kiln::e2e::describe(lenient));
  CHECK(lenient.exit_code() == 0);
  CHECK(read_file(dir.file("s/file.bin")) == pattern_bytes(3000));
  CHECK(server.requests_for("/data/3000/file.bin").size() == 1);
}

TEST_CASE("WebDownload: the step's timeoutSeconds bounds a stalled download and its retries" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  TempDir dir;
  json download = step("Download", "WebDownload",
                       json::array({{{"source", server.url("/slow/100000")}, {"destination", dir.file("out")}}}));
  download["timeoutSeconds"] = 2;
  auto start = std::chrono::steady_clock::now();
  auto run = run_steps(dir, json::array({download}));
  auto took = std::chrono::steady_clock::now() - start;
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Download") == "failed");
  CHECK(contains(failure_of(run, "Download"), "timed out"));
  CHECK(took < std::chrono::seconds(15));  // the server stalls for 60 s; retries would add more
  CHECK(!exists(dir.file("out")));
  CHECK(listing_is(dir.path(), {"run.yml", "run-logs"}));
}

TEST_CASE("WebDownload: kiln honours HTTP_PROXY (uppercase) from its environment" *
          KILN_SKIP_UNLESS(have_tool(kiln::test::kNginx) && have_tool(kiln::test::kTinyproxy),
                           "needs nginx and tinyproxy")) {
  NoProxyEnvironment env;
  ScopedEnv no_proxy_lower("no_proxy", nullptr), no_proxy_upper("NO_PROXY", nullptr);
  NginxServer nginx;
  kiln::test::ProxyServer proxy;
  std::string url = nginx.serve("proxied.txt", "via the proxy");
  TempDir dir;
  ScopedEnv http_proxy("HTTP_PROXY", proxy.url().c_str());
  auto run = run_steps(dir, json::array({step("Download", "WebDownload",
                                              json::array({{{"source", url}, {"destination", dir.file("p.txt")}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(dir.file("p.txt")) == "via the proxy");
  CHECK(contains(proxy.log(), "/proxied.txt"));
}
