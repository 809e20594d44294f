// HttpClient against real servers on loopback: nginx, the scripted fault server (plain and
// TLS) and tinyproxy. The servers' own request logs are the oracles.
#include "agent/net/http.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "agent/base/hash.h"
#include "tests/support/http_servers.h"
#include "tests/support/skip.h"

using namespace kiln::net;
using kiln::test::FaultServer;
using kiln::test::have_tool;
using kiln::test::NginxServer;
using kiln::test::pattern_bytes;
using kiln::test::ProxyServer;
using kiln::test::ScopedEnv;

namespace {

HttpRequest get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  return r;
}

RetryPolicy quick_retries() {
  RetryPolicy p;
  p.first_delay = std::chrono::milliseconds(10);
  return p;
}

// No proxy from the machine's environment leaks into a test.
struct NoProxyEnvironment {
  ScopedEnv a{"http_proxy", nullptr}, b{"HTTP_PROXY", nullptr}, c{"https_proxy", nullptr}, d{"HTTPS_PROXY", nullptr},
      e{"no_proxy", nullptr}, f{"NO_PROXY", nullptr};
};

#define NEEDS_PYTHON KILN_SKIP_UNLESS(have_tool(kiln::test::kPython), "needs /usr/bin/python3")
#define NEEDS_NGINX KILN_SKIP_UNLESS(have_tool(kiln::test::kNginx), "needs nginx (nginx-light)")

}  // namespace

TEST_CASE("http: redirects are followed; the headers and URL are the final response's" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  HttpResponse r = client.perform(get(server.url("/redirect/3/100")));
  CHECK(r.ok());
  CHECK(r.status == 200);
  CHECK(r.body == pattern_bytes(100));
  CHECK(r.body_bytes == 100);
  CHECK(r.effective_url == server.url("/data/100"));
  CHECK(r.header("location").empty());
  CHECK(r.header("content-length") == "100");
  CHECK(server.requests().size() == 4);  // three redirects and the data

  HttpRequest no_follow = get(server.url("/redirect/1/100"));
  no_follow.follow_redirects = false;
  HttpResponse moved = client.perform(no_follow);
  CHECK(moved.status == 302);
  CHECK(!moved.ok());
  CHECK(moved.header("Location") == "/data/100");
}

TEST_CASE("http: a redirect loop fails after one attempt, not retried" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  HttpResponse r = perform_with_retries(client, get(server.url("/loop/a")), quick_retries());
  CHECK(r.error == TransferError::Redirects);
  CHECK(!r.ok());
  CHECK(!is_retryable(r));
  CHECK(r.attempts == 1);
  CHECK(server.requests_for("/loop/a").size() == 11);  // the request and the 10 redirects curl follows
}

TEST_CASE("http: a 404 is a status, not a success, and not retried" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  HttpResponse r = perform_with_retries(client, get(server.url("/status/404")), quick_retries());
  CHECK(r.status == 404);
  CHECK(r.error == TransferError::None);
  CHECK(!r.ok());
  CHECK(r.body == "status 404");  // an error's body is kept for its message
  CHECK(r.attempts == 1);
  CHECK(!is_retryable(r));
  CHECK(server.requests_for("/status/404").size() == 1);
}

TEST_CASE("http: 500 twice then success: retried, and the server counted three requests" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  int hooks = 0;
  HttpResponse r = perform_with_retries(client, get(server.url("/flaky/2/64")), quick_retries(),
                                        [&](HttpRequest&, const HttpResponse& failed) {
                                          CHECK(failed.status == 500);
                                          ++hooks;
                                          return true;
                                        });
  CHECK(r.ok());
  CHECK(r.attempts == 3);
  CHECK(hooks == 2);
  CHECK(r.body == pattern_bytes(64));
  CHECK(server.requests_for("/flaky/2/64").size() == 3);

  // Out of attempts: the last failure comes back, after exactly `attempts` requests.
  RetryPolicy two = quick_retries();
  two.attempts = 2;
  HttpResponse failed = perform_with_retries(client, get(server.url("/flaky/9/64")), two);
  CHECK(failed.status == 500);
  CHECK(failed.attempts == 2);
  CHECK(server.requests_for("/flaky/9/64").size() == 2);
}

TEST_CASE("http: throttling (429, 503, a 400 naming SlowDown) is retried; before_retry can stop it" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  for (std::string code : {"429", "503", "400"}) {
    INFO(code);
    std::string path = "/throttle/" + code + "/2/32";
    HttpResponse r = perform_with_retries(client, get(server.url(path)), quick_retries());
    CHECK(r.ok());
    CHECK(r.attempts == 3);
    CHECK(server.requests_for(path).size() == 3);
  }
  HttpResponse stopped = perform_with_retries(client, get(server.url("/throttle/503/3/32/x")), quick_retries(),
                                              [](HttpRequest&, const HttpResponse&) { return false; });
  CHECK(stopped.status == 503);
  CHECK(stopped.attempts == 1);
  HttpResponse plain_400;
  plain_400.status = 400;
  plain_400.body = "<Code>InvalidArgument</Code>";
  CHECK(!is_retryable(plain_400));
}

TEST_CASE("http: a body slower than the low-speed limit times out" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  HttpRequest r = get(server.url("/slow/100000"));
  r.low_speed_bytes = 1000;
  r.low_speed_time = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  HttpResponse response = client.perform(r);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(response.error == TransferError::Timeout);
  CHECK(response.status == 0);
  CHECK(!response.ok());
  CHECK(is_retryable(response));
  CHECK(took < std::chrono::seconds(10));  // the server stalls for 60 s
}

TEST_CASE("http: cancel stops a stalled transfer" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  std::atomic<bool> cancel{false};
  HttpRequest r = get(server.url("/slow/100000"));
  r.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  HttpResponse response = perform_with_retries(client, r, quick_retries());
  canceller.join();
  CHECK(response.error == TransferError::Aborted);
  CHECK(response.error_message == "cancelled");
  CHECK(response.attempts == 1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("http: a refused connection is a Connect error, retryable" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  HttpClient client;
  int port = kiln::test::free_port();
  HttpResponse r = client.perform(get("http://127.0.0.1:" + std::to_string(port) + "/x"));
  CHECK(r.error == TransferError::Connect);
  CHECK(r.status == 0);
  CHECK(!r.error_message.empty());
  CHECK(is_retryable(r));
}

TEST_CASE("http: a self-signed certificate is refused, and accepted with verify_tls off" *
          KILN_SKIP_UNLESS(have_tool(kiln::test::kPython) && have_tool(kiln::test::kOpenssl),
                           "needs python3 and openssl")) {
  NoProxyEnvironment env;
  FaultServer server(/*tls=*/true);
  HttpClient client;
  HttpResponse refused = perform_with_retries(client, get(server.url("/data/10")), quick_retries());
  CHECK(refused.error == TransferError::Tls);
  CHECK(refused.attempts == 1);  // TLS errors are not retried
  CHECK(server.requests().empty());
  HttpRequest lenient = get(server.url("/data/10"));
  lenient.verify_tls = false;
  HttpResponse accepted = client.perform(lenient);
  CHECK(accepted.ok());
  CHECK(accepted.body == pattern_bytes(10));
  CHECK(server.requests_for("/data/10").size() == 1);
}

TEST_CASE("http: HTTP_PROXY (uppercase) is used for http URLs; NO_PROXY bypasses it" *
          KILN_SKIP_UNLESS(have_tool(kiln::test::kNginx) && have_tool(kiln::test::kTinyproxy),
                           "needs nginx and tinyproxy")) {
  NoProxyEnvironment env;
  NginxServer nginx;
  ProxyServer proxy;
  std::string via = nginx.serve("via-proxy.txt", "through tinyproxy");
  std::string direct = nginx.serve("direct.txt", "not through tinyproxy");
  HttpClient client;
  {
    ScopedEnv http_proxy("HTTP_PROXY", proxy.url().c_str());
    HttpResponse r = client.perform(get(via));
    CHECK(r.ok());
    CHECK(r.body == "through tinyproxy");
    CHECK(proxy.log().find("/via-proxy.txt") != std::string::npos);
    ScopedEnv no_proxy("NO_PROXY", "127.0.0.1");
    HttpResponse d = client.perform(get(direct));
    CHECK(d.ok());
    CHECK(d.body == "not through tinyproxy");
  }
  CHECK(proxy.log().find("/direct.txt") == std::string::npos);
  CHECK(kiln::test::wait_until([&] { return nginx.access_log().find("GET /direct.txt 200") != std::string::npos; }));
  // An https proxy variable does not apply to http URLs.
  ScopedEnv https_proxy("HTTPS_PROXY", proxy.url().c_str());
  std::string other = nginx.serve("other.txt", "x");
  CHECK(client.perform(get(other)).ok());
  CHECK(proxy.log().find("/other.txt") == std::string::npos);
}

TEST_CASE("http: perform_all runs many requests, responses in request order" * NEEDS_NGINX) {
  NoProxyEnvironment env;
  NginxServer nginx;
  std::vector<HttpRequest> requests;
  for (int i = 0; i < 40; ++i)
    requests.push_back(
        get(nginx.serve("f" + std::to_string(i), "content " + std::to_string(i) + std::string(i * 97, 'x'))));
  requests.push_back(get(nginx.url("/missing")));
  HttpClient client;
  std::vector<HttpResponse> responses = client.perform_all(requests, 4);
  REQUIRE(responses.size() == 41);
  for (int i = 0; i < 40; ++i) {
    INFO(i);
    CHECK(responses[i].status == 200);
    CHECK(responses[i].body == "content " + std::to_string(i) + std::string(i * 97, 'x'));
  }
  CHECK(responses[40].status == 404);
  CHECK(kiln::test::wait_until([&] {
    std::string log = nginx.access_log();
    return static_cast<size_t>(std::count(log.begin(), log.end(), '\n')) == 41;
  }));
  // Connections were reused: 41 requests over at most a few connections (nginx's serials).
  std::set<std::string> connections;
  std::istringstream lines(nginx.access_log());
  for (std::string line; std::getline(lines, line);) connections.insert(line.substr(line.rfind(' ') + 1));
  CHECK(connections.size() <= 6);
  // The same client again: connections are reused, the results are the same.
  CHECK(client.perform_all(requests, 8)[7].body == responses[7].body);
}

TEST_CASE("http: max_body_in_memory is an error, not a huge allocation; a streamed body has no bound" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  HttpRequest r = get(server.url("/data/50000"));
  r.max_body_in_memory = 1000;
  HttpResponse bounded = perform_with_retries(client, r, quick_retries());
  CHECK(bounded.error == TransferError::Aborted);
  CHECK(bounded.error_message.find("larger than 1000 bytes") != std::string::npos);
  CHECK(bounded.body.size() <= 1000);
  CHECK(bounded.attempts == 1);

  std::string streamed;
  r.on_body = [&](std::string_view chunk) {
    streamed.append(chunk);
    return true;
  };
  HttpResponse ok = client.perform(r);
  CHECK(ok.ok());
  CHECK(ok.body.empty());
  CHECK(ok.body_bytes == 50000);
  CHECK(streamed == pattern_bytes(50000));

  r.on_body = [](std::string_view) { return false; };
  HttpResponse refused = client.perform(r);
  CHECK(refused.error == TransferError::Aborted);
}

TEST_CASE("http: Range from resume_from; a request body from a file slice, with no Expect header" * NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  HttpClient client;
  HttpRequest ranged = get(server.url("/data/1000"));
  ranged.resume_from = 600;
  HttpResponse partial = client.perform(ranged);
  CHECK(partial.status == 206);
  CHECK(partial.body == pattern_bytes(1000, 600));
  CHECK(server.requests_for("/data/1000").at(0)["range"] == "bytes=600-");

  kiln::test::TempDir dir;
  std::string content = pattern_bytes(300000);
  std::string file = dir.write("upload.bin", content);
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url("/upload");
  put.body.file = file;
  put.body.offset = 1000;
  put.body.length = 200000;
  HttpResponse r = client.perform(put);
  CHECK(r.status == 200);
  CHECK(r.body == "200000");
  auto logged = server.requests_for("/upload");
  REQUIRE(logged.size() == 1);
  CHECK(logged[0]["method"] == "PUT");
  CHECK(logged[0]["sha256"] == kiln::sha256_hex(content.substr(1000, 200000)));
  CHECK(logged[0]["expect"] == "");

  HttpRequest post;
  post.method = "POST";
  post.url = server.url("/post");
  post.body.text = "Action=Test";
  HttpResponse posted = client.perform(post);
  CHECK(posted.body == "11");
  CHECK(server.requests_for("/post").at(0)["sha256"] == kiln::sha256_hex("Action=Test"));
}

TEST_CASE("http: HTTPS_PROXY tunnels https URLs; only the final response's headers are kept" *
          KILN_SKIP_UNLESS(have_tool(kiln::test::kPython) && have_tool(kiln::test::kOpenssl) &&
                               have_tool(kiln::test::kTinyproxy),
                           "needs python3, openssl and tinyproxy")) {
  NoProxyEnvironment env;
  FaultServer server(/*tls=*/true);
  ProxyServer proxy;
  ScopedEnv https_proxy("HTTPS_PROXY", proxy.url().c_str());
  HttpClient client;
  HttpRequest r = get(server.url("/data/10"));
  r.verify_tls = false;
  HttpResponse response = client.perform(r);
  CHECK(response.ok());
  CHECK(response.body == pattern_bytes(10));
  CHECK(response.header("Proxy-agent").empty());  // the CONNECT answer's header block was dropped
  CHECK(response.header("Content-Length") == "10");
  CHECK(proxy.log().find("CONNECT") != std::string::npos);
  CHECK(server.requests_for("/data/10").size() == 1);
}

TEST_CASE("http: a proxy's credentials never appear in an error message") {
  NoProxyEnvironment env;
  int port = kiln::test::free_port();
  std::string proxy = "http://kiln-user:s3cr3t-pw@127.0.0.1:" + std::to_string(port);
  ScopedEnv http_proxy("HTTP_PROXY", proxy.c_str());
  HttpClient client;
  HttpResponse r = client.perform(get("http://example.invalid/file"));
  CHECK(r.error == TransferError::Connect);
  CHECK(!r.error_message.empty());
  CHECK(r.error_message.find("s3cr3t") == std::string::npos);
  CHECK(r.error_message.find("kiln-user") == std::string::npos);
}

TEST_CASE("http: a 307 makes the file body be sent again from its start; a missing body file is an error" *
          NEEDS_PYTHON) {
  NoProxyEnvironment env;
  FaultServer server;
  kiln::test::TempDir dir;
  std::string content = pattern_bytes(100000);
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url("/r307/landed");
  put.body.file = dir.write("body.bin", content);
  put.body.offset = 10;
  put.body.length = 90000;
  HttpClient client;
  HttpResponse r = client.perform(put);
  CHECK(r.status == 200);
  CHECK(r.effective_url == server.url("/landed"));
  auto landed = server.requests_for("/landed");
  REQUIRE(landed.size() == 1);
  CHECK(landed[0]["method"] == "PUT");
  CHECK(landed[0]["sha256"] == kiln::sha256_hex(content.substr(10, 90000)));
  CHECK(server.requests_for("/r307/landed").size() == 1);

  std::vector<HttpRequest> requests(2);
  requests[0] = put;
  requests[0].body.file = dir.file("missing.bin");
  requests[1] = get(server.url("/data/5"));
  std::vector<HttpResponse> responses = client.perform_all(requests, 2);
  CHECK(responses[0].error == TransferError::Other);
  CHECK(responses[0].error_message.find("cannot open " + dir.file("missing.bin")) == 0);
  CHECK(responses[1].ok());
  CHECK(responses[1].body == pattern_bytes(5));
}
