// Reboot and resume through the real binary: exit code 194, the Reboot action, reboots
// inside loops and child documents, the reboot cap, refusing a changed document, the
// boot triggers that system mode writes, and SIGTERM leaving a resumable execution.
// A real reboot cannot happen in a test; the reboot command is replaced (that is the
// one stand-in here), and "the machine came back" is kiln being run again.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::RunResult;
using kiln::test::TempDir;

struct Rerun {
  std::vector<int> exit_codes;
  RunResult last;
};

// Runs the same command line until it stops asking for a reboot (at most `limit` times),
// as SSM or kilnctl would after each reboot.
Rerun run_until_done(const std::vector<std::string>& args, int limit = 10,
                     const std::vector<std::string>& environment = {}) {
  Rerun r;
  for (int i = 0; i < limit; ++i) {
    r.last = kiln::test::run_kiln(args, "", environment);
    r.exit_codes.push_back(r.last.exit_code);
    if (r.last.exit_code != 194) break;
  }
  return r;
}

std::vector<std::string> run_args(const TempDir& dir, const std::string& document, const std::string& id,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"run",           "--documents", document,      "--log-directory", dir.file("logs"),
                                   "--state-directory", dir.file("state"), "--execution-id", id,
                                   "--reboot-mode",  "exit"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

nlohmann::json detailed(const TempDir& dir) { return kiln::test::read_detailed_output(dir.file("logs")); }

// Files and symlinks (not folders) under `folder`.
std::vector<std::string> files_in(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder))
    if (!entry.is_directory()) out.push_back(entry.path().string());
  return out;
}

}  // namespace

TEST_CASE("reboot: exit code 194 reruns the same step after the reboot; a later step chains its new output") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Before
        action: ExecuteBash
        inputs:
          commands: ["echo before >> )" + dir.file("ledger") + R"("]
      - name: NeedsReboot
        action: ExecuteBash
        maxAttempts: 1
        inputs:
          commands:
            - |
              if [ -f )" + dir.file("marker") + R"( ]; then echo second-pass; exit 0; fi
              touch )" + dir.file("marker") + R"(; echo first-pass >> )" + dir.file("ledger") + R"(; exit 194
  - name: test
    steps:
      - name: After
        action: ExecuteBash
        inputs:
          commands: ["echo after {{ build.NeedsReboot.outputs.stdout }} >> )" + dir.file("ledger") + R"("]
)");
  auto first = kiln::test::run_kiln(run_args(dir, doc, "r194"));
  INFO(first.out << first.err);
  CHECK(first.exit_code == 194);
  CHECK(first.summary()["status"] == "rebooting");
  CHECK(first.summary()["rebootCount"] == 1);
  auto second = kiln::test::run_kiln(run_args(dir, doc, "r194"));
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  CHECK(second.summary()["status"] == "success");
  CHECK(read_file(dir.file("ledger")) == "before\nfirst-pass\nafter second-pass\n");
  auto record = detailed(dir);
  REQUIRE(record.is_object());
  CHECK(record["reboots"].size() == 1);
  CHECK(record["reboots"][0]["step"] == "NeedsReboot");
  CHECK(kiln::test::find_step(record, "NeedsReboot")["status"] == "success");
  CHECK(kiln::test::find_step(record, "Before")["status"] == "success");  // restored, not rerun
}

TEST_CASE("reboot: after a Reboot action the run continues with the next step; every step runs exactly once") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: A, action: ExecuteBash, inputs: {commands: ["echo A >> )" + ledger + R"("]}}
      - {name: FirstReboot, action: Reboot, inputs: {delaySeconds: 0}}
      - {name: B, action: ExecuteBash, inputs: {commands: ["echo B >> )" + ledger + R"("]}}
      - {name: SecondReboot, action: Reboot}
  - name: validate
    steps:
      - {name: C, action: ExecuteBash, inputs: {commands: ["echo C >> )" + ledger + R"("]}}
)");
  Rerun r = run_until_done(run_args(dir, doc, "reboot-action"));
  INFO(r.last.out << r.last.err);
  CHECK(r.exit_codes == std::vector<int>{194, 194, 0});
  CHECK(read_file(ledger) == "A\nB\nC\n");
  auto record = detailed(dir);
  CHECK(record["status"] == "success");
  CHECK(record["reboots"].size() == 2);
  CHECK(kiln::test::find_step(record, "FirstReboot")["status"] == "success");
  CHECK(r.last.summary()["executedStepCount"] == 5);
}

TEST_CASE("reboot: a 194 inside a loop resumes at that iteration; earlier iterations are not rerun") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Each
        action: ExecuteBash
        loop:
          forEach: [a, b, c]
        inputs:
          commands:
            - echo "{{ loop.value }}" >> )" + ledger + R"(
            - if [ "{{ loop.value }}" = b ] && [ ! -f )" + dir.file("m") + R"( ]; then touch )" + dir.file("m") + R"(; exit 194; fi
            - echo "out-{{ loop.value }}"
      - name: Joined
        action: ExecuteBash
        inputs:
          commands: ["echo '{{ build.Each.outputs.stdout }}' | tr '\\n' , >> )" + ledger + R"("]
)");
  Rerun r = run_until_done(run_args(dir, doc, "loop194"));
  INFO(r.last.out << r.last.err);
  CHECK(r.exit_codes == std::vector<int>{194, 0});
  // a ran once, b twice (its pass that asked for the reboot, then again), c once.
  CHECK(read_file(ledger) == "a\nb\nb\nc\nout-a,out-b,out-c,");
}

TEST_CASE("reboot: a Reboot action inside a loop goes on with the next iteration") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Reboots
        action: Reboot
        loop:
          for: {start: 1, end: 3, updateBy: 1}
      - {name: Done, action: ExecuteBash, inputs: {commands: ["echo done >> )" + ledger + R"("]}}
)");
  Rerun r = run_until_done(run_args(dir, doc, "loop-reboot"));
  INFO(r.last.out << r.last.err);
  CHECK(r.exit_codes == std::vector<int>{194, 194, 194, 0});
  CHECK(read_file(ledger) == "done\n");
  CHECK(detailed(dir)["reboots"].size() == 3);
}

TEST_CASE("reboot: a 194 inside a child document resumes inside the child") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  dir.write("child.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: X, action: ExecuteBash, inputs: {commands: ["echo X >> )" + ledger + R"("]}}
      - name: Y
        action: ExecuteBash
        inputs:
          commands:
            - echo Y >> )" + ledger + R"(
            - if [ ! -f )" + dir.file("m") + R"( ]; then touch )" + dir.file("m") + R"(; exit 194; fi
      - {name: Z, action: ExecuteBash, inputs: {commands: ["echo Z >> )" + ledger + R"("]}}
)");
  std::string doc = dir.write("parent.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: Before, action: ExecuteBash, inputs: {commands: ["echo Before >> )" + ledger + R"("]}}
      - {name: Child, action: ExecuteDocument, inputs: {document: child.yml}}
      - name: After
        action: ExecuteBash
        inputs:
          commands: ["echo After {{ build.Child.outputs.status }} {{ build.Child.outputs.executedStepCount }} >> )" +
                                          ledger + R"("]
)");
  Rerun r = run_until_done(run_args(dir, doc, "child194"));
  INFO(r.last.out << r.last.err);
  CHECK(r.exit_codes == std::vector<int>{194, 0});
  CHECK(read_file(ledger) == "Before\nX\nY\nY\nZ\nAfter success 3\n");
  auto child = kiln::test::find_step(detailed(dir), "Child");
  REQUIRE(child.is_object());
  CHECK(child["status"] == "success");
  CHECK(child["detailedOutput"][0]["documents"][0]["phases"][0]["steps"].size() == 3);
}

TEST_CASE("reboot: the reboot cap fails the run instead of rebooting forever") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: Forever, action: ExecuteBash, inputs: {commands: ["exit 194"]}}
      - {name: Never, action: ExecuteBash, inputs: {commands: ["echo never"]}}
)");
  Rerun r = run_until_done(run_args(dir, doc, "cap", {"--max-reboots", "2"}));
  INFO(r.last.out << r.last.err);
  CHECK(r.exit_codes == std::vector<int>{194, 194, 1});
  auto record = detailed(dir);
  auto step = kiln::test::find_step(record, "Forever");
  CHECK(step["status"] == "failed");
  CHECK(step["failureMessage"].get<std::string>().find("--max-reboots 2") != std::string::npos);
  CHECK(kiln::test::find_step(record, "Never")["status"] == "notRun");
  CHECK(record["reboots"].size() == 2);
}

TEST_CASE("resume: a changed document or argument list is refused, saying what changed") {
  TempDir dir;
  std::string text = R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: A, action: ExecuteBash, inputs: {commands: ["exit 194"]}}
)";
  std::string doc = dir.write("doc.yml", text);
  CHECK(kiln::test::run_kiln(run_args(dir, doc, "changed")).exit_code == 194);
  auto phases = kiln::test::run_kiln(run_args(dir, doc, "changed", {"--phases", "build,test"}));
  CHECK(phases.exit_code == 2);
  CHECK(phases.err.find("phases was [], now [\"build\",\"test\"]") != std::string::npos);
  dir.write("doc.yml", text + "      - {name: B, action: ExecuteBash, inputs: {commands: [\"true\"]}}\n");
  auto changed = kiln::test::run_kiln(run_args(dir, doc, "changed"));
  INFO(changed.err);
  CHECK(changed.exit_code == 2);
  CHECK(changed.err.find("document " + doc + " changed since the execution started") != std::string::npos);
  CHECK(changed.out.empty());  // nothing ran
}

TEST_CASE("resume: without --execution-id a re-run after a reboot resumes the execution that asked for it") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: A, action: ExecuteBash, inputs: {commands: ["echo A >> )" + ledger + R"("]}}
      - {name: R, action: Reboot}
      - {name: B, action: ExecuteBash, inputs: {commands: ["echo B >> )" + ledger + R"("]}}
)");
  std::vector<std::string> args = {"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"),
                                   "--reboot-mode", "exit"};
  auto first = kiln::test::run_kiln(args);
  CHECK(first.exit_code == 194);
  auto second = kiln::test::run_kiln(args);
  CHECK(second.exit_code == 0);
  CHECK(second.summary()["executionId"] == first.summary()["executionId"]);
  CHECK(read_file(ledger) == "A\nB\n");
}

TEST_CASE("reboot: system mode arms a systemd unit, runs the reboot command, and the trigger goes when the run ends") {
  for (std::string kind : {"systemd", "cron"}) {
    CAPTURE(kind);
    TempDir dir;
    std::string ledger = dir.file("ledger");
    std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: A, action: ExecuteBash, inputs: {commands: ["echo A >> )" + ledger + R"("]}}
      - {name: R, action: Reboot}
      - {name: B, action: ExecuteBash, inputs: {commands: ["echo B >> )" + ledger + R"("]}}
)");
    std::vector<std::string> env = {"KILN_SYSTEMD_UNIT_DIR=" + dir.file("systemd"), "KILN_CRON_DIR=" + dir.file("cron.d")};
    std::string state = dir.file("state");
    auto first = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "-s", state, "-i", "sys",
                                       "--reboot-mode", "system", "--resume-trigger", kind, "--reboot-command",
                                       "echo rebooted > " + dir.file("reboot-ran")},
                                      "", env);
    INFO(first.out << first.err);
    CHECK(first.exit_code == 194);
    CHECK(read_file(dir.file("reboot-ran")) == "rebooted\n");
    std::string trigger_folder = dir.file(kind == "systemd" ? "systemd" : "cron.d");
    std::vector<std::string> trigger_files = files_in(trigger_folder);
    REQUIRE(trigger_files.size() == (kind == "systemd" ? 2u : 1u));  // unit + enabling symlink, or the cron file
    std::string text;
    for (const auto& f : trigger_files)
      if (!std::filesystem::is_symlink(f)) text = read_file(f);
    CHECK(text.find(std::string(KILN_BINARY) + "' resume --state-directory '" + state + "'") != std::string::npos);
    if (kind == "systemd") {
      CHECK(text.find("[Service]\nType=oneshot\nExecStart=") != std::string::npos);
      CHECK(text.find("WantedBy=multi-user.target") != std::string::npos);
    } else {
      CHECK(text.find("@reboot root '") == text.find("@reboot"));
    }
    // "The machine boots": the trigger runs `kiln resume`, which finishes the run.
    auto resumed = kiln::test::run_kiln({"resume", "--state-directory", state}, "", env);
    INFO(resumed.out << resumed.err);
    CHECK(resumed.exit_code == 0);
    CHECK(read_file(ledger) == "A\nB\n");
    CHECK(files_in(trigger_folder).empty());
    auto status = kiln::test::run_kiln({"status", "--state-directory", state, "--format", "json"}, "", env);
    auto list = nlohmann::json::parse(status.out, nullptr, false);
    REQUIRE(list.is_array());
    REQUIRE(list.size() == 1);
    CHECK(list[0]["status"] == "success");
    CHECK(list[0]["reboots"] == 1);
  }
}

TEST_CASE("signals: SIGTERM stops the step's process group, records it interrupted, and the execution resumes") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: A, action: ExecuteBash, inputs: {commands: ["echo A >> )" + ledger + R"("]}}
      - name: Slow
        action: ExecuteBash
        inputs:
          commands:
            - echo Slow >> )" + ledger + R"(
            - if [ -f )" + dir.file("fast") + R"( ]; then exit 0; fi
            - sleep 1000.75 &
            - echo $! > )" + dir.file("pid") + R"(
            - wait
      - {name: B, action: ExecuteBash, inputs: {commands: ["echo B >> )" + ledger + R"("]}}
)");
  pid_t pid = kiln::test::spawn_kiln({"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"), "-i", "sig"},
                                     dir.file("out"), dir.file("err"));
  REQUIRE(pid > 0);
  for (int i = 0; i < 100 && read_file(dir.file("pid")).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string sleeper = read_file(dir.file("pid"));
  REQUIRE(!sleeper.empty());
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  auto summary = nlohmann::json::parse(read_file(dir.file("out")), nullptr, false);
  CHECK(summary["status"] == "interrupted");
  // The background sleep of the step was stopped with its process group.
  std::string stat = read_file("/proc/" + std::to_string(std::stoi(sleeper)) + "/stat");
  bool gone = stat.empty() || stat.find(") Z") != std::string::npos;
  CHECK(gone);
  CHECK(kiln::test::find_step(detailed(dir), "Slow")["status"] == "interrupted");
  // Resuming runs the interrupted step again from its start, and A not at all.
  dir.write("fast", "");
  auto again = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"), "-i", "sig"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(read_file(ledger) == "A\nSlow\nSlow\nB\n");
}
