// kilnctl against a real sshd on loopback (tests/support/sshd_server.h), with generated keys
// and the real kiln binary uploaded by --install: a full build/validate/test run, a reboot
// request ridden through with a stand-in reboot that drops every connection and restarts
// sshd, a connection cut mid-step resumed without running a finished step twice, and the
// exit codes for an unreachable host, a refused key and a missing agent.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/kilnctl_process.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_server.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::KilnctlProcess;
using kiln::test::read_file;
using kiln::test::SshdServer;
using kiln::test::TempDir;

bool have_sshd() {
  return kiln::test::have_tool(kiln::test::kSshd) && kiln::test::have_tool(kiln::test::kSsh);
}

size_t count(const std::string& text, const std::string& piece) {
  size_t n = 0;
  for (size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) ++n;
  return n;
}

// The flags every run here shares: the server's login, kiln uploaded, a private work folder.
std::vector<std::string> base_flags(const SshdServer& server, const TempDir& dir, const std::string& documents,
                                    const std::string& id) {
  std::vector<std::string> flags = {
      "run",       "--target",         server.target(),    "--documents", documents,        "--install",
      KILN_BINARY, "--work-directory", dir.file("remote"), "--logs",      dir.file("logs"), "--execution-id",
      id};
  for (const auto& flag : server.client_flags()) flags.push_back(flag);
  return flags;
}

// What a reboot does to the agent: SIGKILLs the processes whose argv[0] is `program` (the
// agent this test uploaded) with all their descendants (the step's bash, its sleep).
int kill_processes_of(const std::string& program) {
  std::vector<pid_t> doomed;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string command_line = read_file(entry.path().string() + "/cmdline");
    if (command_line.substr(0, command_line.find('\0')) == program) doomed.push_back(std::stoi(name));
  }
  const size_t agents = doomed.size();
  for (size_t i = 0; i < doomed.size(); ++i)
    for (pid_t child : kiln::test::child_processes(doomed[i])) doomed.push_back(child);
  for (pid_t pid : doomed) ::kill(pid, SIGKILL);
  return static_cast<int>(agents);
}

std::string ledger_step(const std::string& ledger, const std::string& name, const std::string& extra = "") {
  return "      - name: " + name + "\n        action: ExecuteBash\n        inputs:\n          commands:\n" +
         (extra.empty() ? "" : extra) + "            - echo " + name + " >> " + ledger + "\n";
}

}  // namespace

TEST_CASE("kilnctl ssh: build, validate and test run over one shared connection" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer server;
  const std::string ledger = dir.file("ledger");
  std::string document =
      "name: Ledger\nschemaVersion: 1.0\nparameters:\n  - Who:\n      type: string\n      default: nobody\n"
      "phases:\n";
  for (const char* phase : {"build", "validate", "test"})
    document += "  - name: " + std::string(phase) + "\n    steps:\n" + ledger_step(ledger, std::string(phase) + "Step");
  document += "            - echo '{{ Who }}' >> " + ledger + "\n";  // the test phase's step, once more
  auto flags = base_flags(server, dir, dir.write("ledger.yml", document), "full-1");
  flags.insert(flags.end(), {"--parameters", "Who=kilnctl"});
  auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(read_file(ledger) == "buildStep\nvalidateStep\ntestStep\nkilnctl\n");  // --parameters reached kiln
  const std::string prefix = "[127.0.0.1_" + std::to_string(server.port()) + "] ";
  CHECK(result.output.find(prefix + "phase build:") != std::string::npos);
  CHECK(result.output.find("kilnctl: 127.0.0.1_" + std::to_string(server.port()) + ": success") != std::string::npos);
  // One TOE folder per phase came back, each with its console log.
  const std::string logs = dir.file("logs") + "/127.0.0.1_" + std::to_string(server.port());
  int folders = 0;
  for (const auto& entry : std::filesystem::directory_iterator(logs)) {
    CHECK(std::filesystem::exists(entry.path() / "console.log"));
    ++folders;
  }
  CHECK(folders == 3);
  // One TCP connection carried the whole run (the master); sshd logs each accepted key once.
  CHECK(count(read_file(server.log()), "Accepted publickey") == 1);
}

TEST_CASE("kilnctl ssh: child documents named by relative paths are uploaded in the same layout" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer server;
  const std::string ledger = dir.file("ledger");
  auto execute_document = [](const std::string& name, const std::string& path) {
    return "      - name: " + name + "\n        action: ExecuteDocument\n        inputs:\n          document: " + path +
           "\n";
  };
  // project/main.yml -> project/parts/child.yml -> shared/leaf.yml (up and across), and an
  // s3:// child that is not a local file (never run: its step is in a phase not run).
  std::string main_doc = dir.write(
      "project/main.yml", "name: Main\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" +
                              ledger_step(ledger, "main") + execute_document("Child", "parts/child.yml") +
                              "  - name: test\n    steps:\n" + execute_document("Remote", "s3://bucket/x.yml"));
  dir.write("project/parts/child.yml", "name: Child\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" +
                                           ledger_step(ledger, "child") + execute_document("Leaf", "../../shared/leaf.yml"));
  dir.write("shared/leaf.yml",
            "name: Leaf\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" + ledger_step(ledger, "leaf"));
  auto flags = base_flags(server, dir, main_doc, "children-1");
  flags.insert(flags.end(), {"--phases", "build"});
  auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(read_file(ledger) == "main\nchild\nleaf\n");
  // Laid out under the closest folder holding all three, as here.
  const std::string uploaded = dir.file("remote") + "/children-1/documents/";
  CHECK(read_file(uploaded + "project/main.yml") == read_file(main_doc));
  CHECK(std::filesystem::exists(uploaded + "project/parts/child.yml"));
  CHECK(std::filesystem::exists(uploaded + "shared/leaf.yml"));
}

TEST_CASE("kilnctl ssh: a reboot request (exit 194) reboots, waits for sshd and resumes" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer server;
  const std::string ledger = dir.file("ledger");
  const std::string marker = dir.file("rebooted");
  std::string document =
      "name: Reboots\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" + ledger_step(ledger, "Before") +
      "      - name: NeedsReboot\n        action: ExecuteBash\n        inputs:\n          commands:\n"
      "            - |\n"
      "              if [ -f " +
      dir.file("kernel") + " ]; then echo Kernel >> " + ledger +
      "; exit 0; fi\n"
      "              touch " +
      dir.file("kernel") +
      "\n"
      "              exit 194\n" +
      ledger_step(ledger, "After");
  auto flags = base_flags(server, dir, dir.write("reboots.yml", document), "reboot-1");
  flags.insert(flags.end(),
               {"--phases", "build", "--reboot-command", server.reboot_script(marker, 1.5), "--reboot-timeout", "60"});
  auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
  INFO(result.output);
  INFO(read_file(server.log()));
  CHECK(result.exit_code == 0);
  CHECK(read_file(marker) == "reboot\n");                 // the reboot command ran once
  CHECK(read_file(ledger) == "Before\nKernel\nAfter\n");  // each step's work done once
  CHECK(result.output.find("the agent asked for a reboot (exit 194)") != std::string::npos);
  CHECK(result.output.find("resuming phase build") != std::string::npos);
  // Two connections: before the reboot, and after it.
  CHECK(count(read_file(server.log()), "Accepted publickey") == 2);
}

TEST_CASE("kilnctl ssh: a target that does not come back within --reboot-timeout is unreachable (10)" *
          KILN_NEEDS_ROOT * KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer server;
  std::string document =
      "name: Gone\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
      "      - name: Reboot\n        action: Reboot\n";
  auto flags = base_flags(server, dir, dir.write("gone.yml", document), "gone-1");
  flags.insert(flags.end(), {"--phases", "build", "--reboot-command", server.reboot_script(dir.file("marker"), -1),
                             "--reboot-timeout", "7"});
  const auto started = std::chrono::steady_clock::now();
  auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 10);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  CHECK(result.output.find("waiting for the target to answer (") != std::string::npos);  // progress
  CHECK(result.output.find("error: not back within --reboot-timeout 7 s after the reboot") != std::string::npos);
}

TEST_CASE("kilnctl ssh: a connection cut mid-step is resumed; no finished step runs twice" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer server;
  const std::string ledger = dir.file("ledger");
  std::string document = "name: Cut\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" +
                         ledger_step(ledger, "First") +
                         "      - name: Slow\n        action: ExecuteBash\n        inputs:\n          commands:\n"
                         "            - echo SlowStart >> " +
                         ledger +
                         "\n"
                         "            - sleep 3\n"
                         "            - echo SlowEnd >> " +
                         ledger + "\n" + ledger_step(ledger, "Last");
  auto flags = base_flags(server, dir, dir.write("cut.yml", document), "cut-1");
  flags.insert(flags.end(), {"--phases", "build", "--reboot-timeout", "60"});
  bool kill_agent = false;
  SUBCASE("the agent goes on without its connection") {
    kill_agent = false;
  }
  SUBCASE("the agent is killed with its connection") {
    kill_agent = true;
  }
  KilnctlProcess kilnctl(flags, dir.file("out"));
  REQUIRE(kiln::test::wait_for_text(ledger, "SlowStart"));
  CHECK(server.kill_connections() >= 1);
  if (kill_agent) CHECK(kill_processes_of(dir.file("remote") + "/bin/kiln") >= 1);
  int exit_code = kilnctl.wait();
  INFO(kilnctl.output());
  CHECK(exit_code == 0);
  CHECK(kilnctl.output().find("connection lost during phase build") != std::string::npos);
  const std::string steps = read_file(ledger);
  CHECK(count(steps, "First\n") == 1);
  CHECK(count(steps, "SlowEnd\n") == 1);
  CHECK(count(steps, "Last\n") == 1);
  CHECK(count(steps, "SlowStart\n") <= 2);  // the step in flight may run again (at-least-once)
}

TEST_CASE("kilnctl ssh: unreachable host, refused key and missing agent have their own exit codes" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer server;
  const std::string document =
      dir.write("one.yml", "name: One\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" +
                               ledger_step(dir.file("ledger"), "Only"));

  SUBCASE("unreachable: 10") {
    auto flags = base_flags(server, dir, document, "u-1");
    flags[2] = "ssh://root@127.0.0.1:" + std::to_string(kiln::test::free_loopback_port());
    auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
    INFO(result.output);
    CHECK(result.exit_code == 10);
    CHECK(result.output.find("error: unreachable: ") != std::string::npos);
    CHECK(result.output.find("Connection refused") != std::string::npos);
  }
  SUBCASE("wrong key: 11") {
    auto flags = base_flags(server, dir, document, "k-1");
    *std::find(flags.begin(), flags.end(), server.client_key()) = server.wrong_key();
    auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
    INFO(result.output);
    CHECK(result.exit_code == 11);
    CHECK(result.output.find("error: authentication refused: ") != std::string::npos);
    CHECK(result.output.find("Permission denied (publickey)") != std::string::npos);
  }
  SUBCASE("no agent: 12") {
    std::vector<std::string> flags = {
        "run",           "--target",          server.target(),    "--documents",      document,
        "--agent",       "/nonexistent/kiln", "--work-directory", dir.file("remote"), "--logs",
        dir.file("logs")};
    for (const auto& flag : server.client_flags()) flags.push_back(flag);
    auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
    INFO(result.output);
    CHECK(result.exit_code == 12);
    CHECK(result.output.find("agent missing: no kiln at '/nonexistent/kiln' on the target") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("ledger")));
}
