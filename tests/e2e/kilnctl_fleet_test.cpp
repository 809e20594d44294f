// kilnctl run --targets FILE against three private sshd on loopback at once (one key for
// all): each target runs its step once in its own work folder, the table lists them in FILE
// order, --parallel bounds how many run at once (seen in the steps' own timestamps), and an
// unreachable target among good ones fails alone (the exit code: the first failed target's);
// SIGTERM stops the running target and skips the rest.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/kilnctl_process.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_server.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::SshdServer;
using kiln::test::TempDir;

bool have_sshd() {
  return kiln::test::have_tool(kiln::test::kSshd) && kiln::test::have_tool(kiln::test::kSsh);
}

// A step that appends "start T" and "end T" (seconds since the epoch) to LEDGERS/<port>,
// the port being the sshd's end of the connection the agent was started through.
std::string timed_document(const std::string& ledgers, int sleep_seconds) {
  return "name: Timed\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
         "      - name: Timed\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - |\n"
         "              port=${SSH_CONNECTION##* }\n"
         "              echo \"start $(date +%s.%N)\" >> " +
         ledgers + "/$port\n              sleep " + std::to_string(sleep_seconds) +
         "\n"
         "              echo \"end $(date +%s.%N)\" >> " +
         ledgers + "/$port\n";
}

struct Interval {
  double start = 0, end = 0;
  int starts = 0, ends = 0;
};

Interval interval_in(const std::string& ledger) {
  Interval interval;
  std::istringstream in(read_file(ledger));
  std::string word;
  double when = 0;
  while (in >> word >> when) {
    if (word == "start") interval.start = when, ++interval.starts;
    if (word == "end") interval.end = when, ++interval.ends;
  }
  return interval;
}

// The table row of `name` (after the TARGET header), or "".
std::string table_row(const std::string& output, const std::string& name) {
  auto table = output.rfind("  TARGET ");
  if (table == std::string::npos) return {};
  std::istringstream in(output.substr(table));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  " + name + " ", 0) == 0) return line;
  return {};
}

std::vector<std::string> fleet_flags(const TempDir& dir, const SshdServer& keys, const std::string& targets,
                                     const std::string& document, const std::string& id) {
  std::vector<std::string> flags = {"run",          "--targets",   targets,          "--documents",
                                    document,       "--install",   KILN_BINARY,      "--work-directory",
                                    dir.file("remote"), "--logs", dir.file("logs"), "--execution-id",
                                    id,             "--phases",    "build"};
  for (const auto& flag : keys.client_flags()) flags.push_back(flag);
  return flags;
}

std::string name_of(const SshdServer& server) {
  return "127.0.0.1_" + std::to_string(server.port());
}

}  // namespace

TEST_CASE("kilnctl fleet: three sshd targets in parallel, bounded by --parallel" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  std::vector<std::unique_ptr<SshdServer>> servers;
  for (int i = 0; i < 3; ++i) servers.push_back(std::make_unique<SshdServer>());
  for (int i = 1; i < 3; ++i) servers[i]->authorize(servers[0]->client_key() + ".pub");
  const std::string targets = dir.write("targets.txt", "# the fleet\n" + servers[0]->target() + "\n\n  " +
                                                           servers[1]->target() + "  \n# last one\n" +
                                                           servers[2]->target() + "\n");
  int parallel = 3;
  SUBCASE("--parallel 3: the steps overlap") {
    parallel = 3;
  }
  SUBCASE("--parallel 1: one target after the other") {
    parallel = 1;
  }
  const std::string ledgers = dir.file("ledgers");
  std::filesystem::create_directories(ledgers);
  auto flags = fleet_flags(dir, *servers[0], targets, dir.write("timed.yml", timed_document(ledgers, 1)),
                           "fleet-" + std::to_string(parallel));
  flags.insert(flags.end(), {"--parallel", std::to_string(parallel)});
  auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 0);
  std::vector<Interval> intervals;
  for (const auto& server : servers) {
    Interval interval = interval_in(ledgers + "/" + std::to_string(server->port()));
    CHECK(interval.starts == 1);  // each target's step ran once, on that target
    CHECK(interval.ends == 1);
    intervals.push_back(interval);
    CHECK(table_row(result.output, name_of(*server)).find(" success ") != std::string::npos);
    CHECK(result.output.find("[" + name_of(*server) + "] phase build:") != std::string::npos);
    CHECK(std::filesystem::is_directory(dir.file("logs") + "/" + name_of(*server)));
  }
  // The table is in FILE order.
  auto row = [&](int i) { return result.output.rfind("  " + name_of(*servers[i]) + " "); };
  CHECK(row(0) < row(1));
  CHECK(row(1) < row(2));
  CHECK(result.output.find("3 of 3 targets succeeded") != std::string::npos);
  int overlapping_pairs = 0;
  for (size_t a = 0; a < intervals.size(); ++a)
    for (size_t b = a + 1; b < intervals.size(); ++b)
      overlapping_pairs += intervals[a].start < intervals[b].end && intervals[b].start < intervals[a].end;
  if (parallel == 3)
    CHECK(overlapping_pairs >= 2);  // all three at once, allowing one late starter on a loaded machine
  else
    CHECK(overlapping_pairs == 0);
}

TEST_CASE("kilnctl fleet: an unreachable target among good ones fails alone; exit code of the first failure" *
          KILN_NEEDS_ROOT * KILN_SKIP_UNLESS(have_sshd(), "needs openssh-server (scripts/setup.sh --tests)")) {
  TempDir dir;
  SshdServer first, second;
  second.authorize(first.client_key() + ".pub");
  const int nobody = kiln::test::free_loopback_port();
  const std::string unreachable = "127.0.0.1_" + std::to_string(nobody);
  const std::string targets = dir.write("targets.txt", first.target() + "\nssh://root@127.0.0.1:" +
                                                           std::to_string(nobody) + "\n" + second.target() + "\n");
  const std::string ledgers = dir.file("ledgers");
  std::filesystem::create_directories(ledgers);
  auto flags = fleet_flags(dir, first, targets, dir.write("timed.yml", timed_document(ledgers, 0)), "mixed-1");
  auto result = kiln::test::run_kilnctl(flags, dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 10);  // the only failure: unreachable
  for (const SshdServer* server : {&first, &second}) {
    CHECK(interval_in(ledgers + "/" + std::to_string(server->port())).ends == 1);
    CHECK(table_row(result.output, name_of(*server)).find(" success ") != std::string::npos);
  }
  const std::string row = table_row(result.output, unreachable);
  CHECK(row.find(" unreachable ") != std::string::npos);
  CHECK(row.find("Connection refused") != std::string::npos);
  CHECK(result.output.find("2 of 3 targets succeeded") != std::string::npos);
}

TEST_CASE("kilnctl fleet: a bad line or a repeated name in FILE is a usage error naming FILE:LINE") {
  TempDir dir;
  const std::string document = dir.write("a.yml", "name: A\nschemaVersion: 1.0\nphases: []\n");
  auto run = [&](const std::string& content) {
    const std::string targets = dir.write("targets.txt", content);
    return kiln::test::run_kilnctl({"run", "--targets", targets, "-d", document}, dir.file("out"));
  };
  auto bad = run("# header\nlocal\n\nftp://x\n");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("targets.txt:4: unknown target 'ftp://x'") != std::string::npos);
  auto twice = run("ssh://root@h:22\nssh://admin@h:22\n");
  CHECK(twice.exit_code == 2);
  CHECK(twice.output.find("targets.txt:2: target 'ssh://admin@h:22' has the same name 'h_22' as line 1") !=
        std::string::npos);
  auto both = kiln::test::run_kilnctl({"run", "--target", "local", "--targets", dir.file("targets.txt"), "-d", document},
                                      dir.file("out"));
  CHECK(both.exit_code == 2);
  CHECK(both.output.find("exactly one of --target and --targets") != std::string::npos);
  auto empty = run("# nothing\n\n");
  CHECK(empty.exit_code == 2);
  CHECK(empty.output.find("no targets in the file") != std::string::npos);
}

TEST_CASE("kilnctl fleet: SIGTERM stops the running target and skips the ones not started (143)") {
  TempDir dir;
  const std::string started = dir.file("started");
  const std::string document = dir.write(
      "slow.yml", "name: Slow\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                  "      - name: Slow\n        action: ExecuteBash\n        inputs:\n          commands:\n"
                  "            - touch " +
                      started + "\n            - sleep 30\n");
  // local runs first (--parallel 1); the second target must never be tried.
  const std::string targets = dir.write("targets.txt", "local\nssh://root@127.0.0.1:1\n");
  kiln::test::KilnctlProcess kilnctl({"run", "--targets", targets, "-d", document, "--install", KILN_BINARY,
                                      "--work-directory", dir.file("remote"), "--logs", dir.file("logs"), "-p",
                                      "build", "--parallel", "1"},
                                     dir.file("out"));
  for (int i = 0; i < 600 && !std::filesystem::exists(started); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(std::filesystem::exists(started));
  kilnctl.signal(SIGTERM);
  const int exit_code = kilnctl.wait(std::chrono::seconds(30));
  INFO(kilnctl.output());
  CHECK(exit_code == 143);
  CHECK(table_row(kilnctl.output(), "local").find(" interrupted ") != std::string::npos);
  CHECK(table_row(kilnctl.output(), "127.0.0.1_1").find("interrupted before it started") != std::string::npos);
}
