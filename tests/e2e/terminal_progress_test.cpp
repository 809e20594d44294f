// End-to-end: what a person at a terminal sees of retries, loops and silent steps. The
// real kiln binary runs with its stderr on a pseudo-terminal (openpty), so isatty()
// turns progress on exactly as at a keyboard; the same run with stderr on a pipe, and
// the logs, must show none of it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.h"

extern char** environ;

using kiln::test::TempDir;

namespace {

// flaky fails twice with stderr; each loops over three items; quiet is silent for
// longer than the 1 s heartbeat the tests set.
constexpr const char* kDocument = R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: flaky
        action: ExecuteBash
        maxAttempts: 2
        onFailure: Continue
        inputs:
          commands:
            - "echo 'E: Unable to locate package foo' >&2"
            - echo "second line" >&2
            - exit 100
      - name: each
        action: ExecuteBash
        loop:
          forEach: [a, b, c]
        inputs:
          commands:
            - echo {{ loop.value }}
      - name: quiet
        action: ExecuteBash
        timeoutSeconds: 60
        inputs:
          commands:
            - sleep 2.5
)";

struct Transcript {
  int exit_code = -1;
  std::string text;  // what the terminal received, "\r\n" turned into "\n"
};

// Runs kiln with stderr on a pseudo-terminal and stdout on /dev/null. NO_COLOR, TERM
// and KILN_HEARTBEAT_SECONDS come only from `environment`, never from the test's own.
Transcript run_on_terminal(const std::vector<std::string>& arguments, const std::vector<std::string>& environment) {
  Transcript t;
  int master = -1, slave = -1;
  REQUIRE_MESSAGE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0, "openpty: ", std::strerror(errno));
  std::vector<std::string> args = {KILN_BINARY};
  args.insert(args.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = kiln::test::kiln_test_environment(environment);
  for (char** e = environ; *e; ++e) {
    std::string_view name(*e);
    name = name.substr(0, name.find('='));
    if (name != "NO_COLOR" && name != "TERM" && name != "KILN_HEARTBEAT_SECONDS") env_strings.push_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, slave, 2);
  posix_spawn_file_actions_addclose(&actions, master);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, KILN_BINARY, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(slave);
  REQUIRE(rc == 0);
  // Read until the last writer closes the terminal (EIO on Linux), at most 60 s.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string raw;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < give_up) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      raw.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  t.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    t.text.push_back(raw[i]);
  }
  return t;
}

std::vector<std::string> run_arguments(const TempDir& dir, const std::string& logs) {
  return {"run", "--documents", dir.write("doc.yml", kDocument), "--log-directory", dir.file(logs)};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The first whole line that holds `part` ("" if none).
std::string line_with(const std::string& text, const std::string& part) {
  size_t at = text.find(part);
  if (at == std::string::npos) return "";
  size_t start = text.rfind('\n', at);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, text.find('\n', at) - start);
}

}  // namespace

TEST_CASE("terminal progress: retries with exit code and stderr tail, loop items and a heartbeat") {
  TempDir dir;
  Transcript t = run_on_terminal(run_arguments(dir, "logs"), {"TERM=xterm-256color", "KILN_HEARTBEAT_SECONDS=1"});
  INFO(t.text);
  CHECK(t.exit_code == 1);  // flaky failed for good; onFailure: Continue ran the rest
  // Each failed attempt, its number, the total and the exit code; the first one's stderr under it.
  size_t first = t.text.find("build/flaky attempt 1/2 failed (exit 100), retrying now\n");
  size_t tail = t.text.find("    | E: Unable to locate package foo\n    | second line\n", first);
  size_t second = t.text.find("build/flaky attempt 2/2 failed (exit 100)\n", first);
  REQUIRE(first != std::string::npos);
  CHECK(tail != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(tail < second);
  CHECK(contains(t.text, "build/flaky failed: exit code 100\n"));
  // Loop items, redrawn in place with a carriage return.
  CHECK(contains(t.text, "\r    item 1/3\r    item 2/3\r    item 3/3\n"));
  // The silent step's heartbeat: how long, how long silent, its timeout.
  // (The seconds depend on the machine's load: the first beat comes after 1 s of silence.)
  std::string beat = line_with(t.text, "build/quiet still running: ");
  CHECK(beat.starts_with("  \033[2m…\033[0m build/quiet still running: "));
  CHECK(contains(beat, " s, no output for "));
  CHECK(beat.ends_with(" s, timeout 1m 00s"));
  CHECK(contains(t.text, "\033[32m"));  // colour, as neither NO_COLOR nor TERM=dumb is set

  // The logs keep their format: none of the terminal's lines, the retry as before.
  std::string folder = kiln::test::find_log_folder(dir.file("logs"));
  REQUIRE(!folder.empty());
  std::string console = kiln::test::read_file(folder + "/console.log");
  std::string application = kiln::test::read_file(folder + "/application.log");
  for (const std::string& log : {console, application}) {
    CHECK(!contains(log, "retrying now"));
    CHECK(!contains(log, "item 1/3"));
    CHECK(!contains(log, "still running"));
  }
  CHECK(contains(application, "step build/flaky attempt 1 failed: exit code 100"));
  CHECK(contains(console, "Stderr: E: Unable to locate package foo"));
}

TEST_CASE("terminal progress: a step with output gets no heartbeat") {
  TempDir dir;
  std::string doc = dir.write("chatty.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: chatty
        action: ExecuteBash
        inputs:
          commands:
            - for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.25; done
)");
  Transcript t = run_on_terminal({"run", "--documents", doc, "--log-directory", dir.file("logs")},
                                 {"TERM=xterm", "KILN_HEARTBEAT_SECONDS=1"});
  INFO(t.text);
  CHECK(t.exit_code == 0);
  CHECK(contains(t.text, "build/chatty ("));
  CHECK(!contains(t.text, "still running"));
}

TEST_CASE("terminal progress: with stderr not a terminal, none of it is printed") {
  TempDir dir;
  kiln::test::RunResult r = kiln::test::run_kiln(run_arguments(dir, "logs"), "", {"KILN_HEARTBEAT_SECONDS=1"});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  for (const char* part : {"▶", "attempt 1/2", "retrying", "item 1/3", "still running", "| E: Unable", "\033"})
    CHECK_MESSAGE(!contains(r.err, part), part);
}

TEST_CASE("terminal progress: NO_COLOR removes every escape code, the lines stay") {
  TempDir dir;
  Transcript t = run_on_terminal(run_arguments(dir, "logs"), {"TERM=xterm", "NO_COLOR=1", "KILN_HEARTBEAT_SECONDS=1"});
  INFO(t.text);
  CHECK(t.exit_code == 1);
  CHECK(!contains(t.text, "\033"));
  CHECK(contains(t.text, "  ! build/flaky attempt 1/2 failed (exit 100), retrying now\n"));
  CHECK(contains(t.text, "\r    item 3/3\n"));
  CHECK(contains(t.text, "  … build/quiet still running: "));
  CHECK(contains(t.text, "  ✓ build/each "));
}

TEST_CASE("terminal progress: TERM=dumb gets no colour and no redrawn line") {
  TempDir dir;
  Transcript t = run_on_terminal(run_arguments(dir, "logs"), {"TERM=dumb", "KILN_HEARTBEAT_SECONDS=1"});
  INFO(t.text);
  CHECK(t.exit_code == 1);
  CHECK(!contains(t.text, "\033"));
  CHECK(!contains(t.text, "\r"));
  CHECK(contains(t.text, "\n    item 1/3\n    item 2/3\n    item 3/3\n"));
  CHECK(contains(t.text, "build/flaky attempt 1/2 failed (exit 100), retrying now\n"));
  CHECK(contains(t.text, "build/quiet still running: "));
}

TEST_CASE("terminal progress: KILN_HEARTBEAT_SECONDS=0 turns the heartbeat off") {
  TempDir dir;
  Transcript t = run_on_terminal(run_arguments(dir, "logs"), {"TERM=xterm", "KILN_HEARTBEAT_SECONDS=0"});
  INFO(t.text);
  CHECK(t.exit_code == 1);
  CHECK(contains(t.text, "build/quiet ("));
  CHECK(!contains(t.text, "still running"));
}

TEST_CASE("terminal progress: --trace shares the terminal, so items get a line each") {
  TempDir dir;
  std::string doc = dir.write("loop.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: each
        action: ExecuteBash
        loop:
          forEach: [a, b]
        inputs:
          commands:
            - echo {{ loop.value }}
)");
  Transcript t = run_on_terminal({"run", "--trace", "--documents", doc, "--log-directory", dir.file("logs")},
                                 {"TERM=xterm", "NO_COLOR=1"});
  INFO(t.text);
  CHECK(t.exit_code == 0);
  CHECK(contains(t.text, "\n    item 1/2\n"));
  CHECK(contains(t.text, "\n    item 2/2\n"));
  CHECK(!contains(t.text, "\r"));
}
