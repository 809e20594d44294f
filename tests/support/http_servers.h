// Real HTTP servers for the download tests, each on loopback on a free port, each with
// its own temporary folder, stopped (its whole process group) when the object dies:
//   NginxServer   nginx in the foreground with its own config; Range-capable; an access log
//                 with the Range header per request (the tests' oracle for "no second GET").
//   FaultServer   tests/servers/fault_http.py: scripted faults (redirects, 500s, stalls,
//                 truncation, throttling), optionally over TLS with a self-signed cert made
//                 by the openssl CLI; it logs every request as a JSON line.
//   ProxyServer   tinyproxy in the foreground; its log shows each proxied request.
// Header-only so that the test target's source list (CMakeLists.txt) needs no new entry.
// A test that needs a tool skips with KILN_SKIP_UNLESS(have_tool(...)) outside CI; in CI
// (the CI environment variable set) have_tool() is always true, so a missing tool fails.
#pragma once
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/server_process.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace kiln::test {

inline constexpr const char* kNginx = "/usr/sbin/nginx";
inline constexpr const char* kTinyproxy = "/usr/bin/tinyproxy";
inline constexpr const char* kPython = "/usr/bin/python3";
inline constexpr const char* kOpenssl = "/usr/bin/openssl";

// The tool is installed, or this is CI (where a missing tool must fail, not skip).
inline bool have_tool(const char* path) {
  return std::getenv("CI") != nullptr || ::access(path, X_OK) == 0;
}

// The bytes fault_http.py serves for /data/<n>: byte i is (i * 31 + 7) % 256.
inline std::string pattern_bytes(size_t n, size_t from = 0) {
  std::string out(n - from, '\0');
  for (size_t i = from; i < n; ++i) out[i - from] = static_cast<char>((i * 31 + 7) % 256);
  return out;
}

inline int run_quietly(const std::vector<std::string>& argv, const std::string& log) {
  ServerProcess p(argv, log);
  return p.wait();
}

// A port nobody listens on right now (the kernel's choice; a small race with other users).
inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(s);
  return port;
}

inline bool accepts_connections(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(s);
  return ok;
}

inline bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready();
}

// Workers and tinyproxy run as nobody when we are root: they must reach the folder.
inline void open_to_everyone(const std::string& path) {
  ::chmod(path.c_str(), 0755);
}

class NginxServer {
 public:
  NginxServer() {
    open_to_everyone(dir_.path());
    std::filesystem::create_directories(dir_.file("www"));
    std::filesystem::create_directories(dir_.file("tmp"));
    open_to_everyone(dir_.file("www"));
    port_ = free_port();
    std::string d = dir_.path();
    dir_.write(
        "nginx.conf",
        "daemon off; worker_processes 1; pid " + d + "/nginx.pid; error_log " + d +
            "/error.log;\n"
            "events { worker_connections 64; }\n"
            "http { log_format kiln '$request_method $uri $status \"$http_range\" $body_bytes_sent $connection';\n"
            "  access_log " +
            d +
            "/access.log kiln;\n"
            "  client_body_temp_path " +
            d + "/tmp; proxy_temp_path " + d + "/tmp; fastcgi_temp_path " + d + "/tmp; uwsgi_temp_path " + d +
            "/tmp; scgi_temp_path " + d +
            "/tmp;\n"
            "  server { listen 127.0.0.1:" +
            std::to_string(port_) + "; root " + d + "/www; } }\n");
    process_.start({kNginx, "-c", d + "/nginx.conf", "-e", d + "/error.log", "-p", d}, d + "/nginx.out");
    bool up = wait_until([&] { return accepts_connections(port_); });
    REQUIRE_MESSAGE(up, "nginx did not start: " << read_file(d + "/error.log") << read_file(d + "/nginx.out"));
  }
  // Puts `content` at /<name> under the docroot (world-readable) and returns its URL.
  std::string serve(const std::string& name, const std::string& content) {
    std::string path = dir_.write("www/" + name, content);
    for (auto p = std::filesystem::path(path).parent_path(); p.string().size() > dir_.file("www").size();
         p = p.parent_path())
      open_to_everyone(p.string());
    ::chmod(path.c_str(), 0644);
    return url("/" + name);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::string docroot() const { return dir_.file("www"); }
  // One line per request: "GET /uri 200 "<Range header>" <bytes sent> <connection serial>". nginx writes it
  // when the response is finished, so wait for the lines you expect.
  std::string access_log() const { return read_file(dir_.file("access.log")); }
  int port() const { return port_; }

 private:
  TempDir dir_;
  int port_ = 0;
  ServerProcess process_;
};

class FaultServer {
 public:
  explicit FaultServer(bool tls = false) {
    std::vector<std::string> argv = {kPython, std::string(KILN_SOURCE_DIR) + "/tests/servers/fault_http.py",
                                     dir_.file("ready"), dir_.file("requests.log")};
    if (tls) {
      cert_ = dir_.file("cert.pem");
      std::string key = dir_.file("key.pem");
      int rc = run_quietly({kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert_,
                            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                           dir_.file("openssl.out"));
      REQUIRE_MESSAGE(rc == 0, "openssl failed: " << read_file(dir_.file("openssl.out")));
      argv.push_back(cert_);
      argv.push_back(key);
    }
    process_.start(argv, dir_.file("server.out"));
    bool up = wait_until([&] { return std::filesystem::exists(dir_.file("ready")); });
    REQUIRE_MESSAGE(up, "fault_http.py did not start: " << read_file(dir_.file("server.out")));
    port_ = std::stoi(read_file(dir_.file("ready")));
    scheme_ = tls ? "https" : "http";
  }
  std::string url(const std::string& path) const { return scheme_ + "://127.0.0.1:" + std::to_string(port_) + path; }
  // Every request so far, as {"method", "path", "range"}.
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_.file("requests.log"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  std::vector<nlohmann::json> requests_for(const std::string& path) const {
    std::vector<nlohmann::json> out;
    for (auto& r : requests())
      if (r["path"] == path) out.push_back(r);
    return out;
  }
  const std::string& certificate() const { return cert_; }

 private:
  TempDir dir_;
  ServerProcess process_;
  int port_ = 0;
  std::string scheme_;
  std::string cert_;
};

class ProxyServer {
 public:
  ProxyServer() {
    open_to_everyone(dir_.path());
    port_ = free_port();
    std::string log = dir_.file("tinyproxy.log");
    std::ofstream(log).close();
    ::chmod(log.c_str(), 0666);
    dir_.write("tinyproxy.conf",
               "Port " + std::to_string(port_) + "\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nLogFile \"" + log +
                   "\"\nLogLevel Connect\nMaxClients 20\n" + (::geteuid() == 0 ? "User nobody\nGroup nogroup\n" : ""));
    process_.start({kTinyproxy, "-d", "-c", dir_.file("tinyproxy.conf")}, dir_.file("tinyproxy.out"));
    bool up = wait_until([&] { return accepts_connections(port_); });
    REQUIRE_MESSAGE(up, "tinyproxy did not start: " << read_file(dir_.file("tinyproxy.out")) << read_file(log));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_file(dir_.file("tinyproxy.log")); }

 private:
  TempDir dir_;
  int port_ = 0;
  ServerProcess process_;
};

// Sets an environment variable for the life of the object (the previous value restored).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_.c_str(), old_.c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace kiln::test
