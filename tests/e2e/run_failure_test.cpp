// End-to-end: onFailure (Abort / Continue / Ignore), maxAttempts, timeoutSeconds and
// through the real kiln binary and real bash (exit code 194: tests/e2e/reboot_test.cpp).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::outputs_of;
using kiln::e2e::run_document;
using kiln::e2e::run_yaml;
using kiln::test::TempDir;

TEST_CASE("run: onFailure Abort stops later steps, later phases and later documents (notRun, exit 1)") {
  TempDir dir;
  std::string first = dir.write("first.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Before
        action: ExecuteBash
        inputs:
          commands: [echo before]
      - name: Breaks
        action: ExecuteBash
        inputs:
          commands: ["exit 3"]
      - name: AfterInPhase
        action: ExecuteBash
        inputs:
          commands: [echo MUST_NOT_RUN_1]
  - name: validate
    steps:
      - name: LaterPhase
        action: ExecuteBash
        inputs:
          commands: [echo MUST_NOT_RUN_2]
)");
  std::string second = dir.write("second.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: LaterDocument
        action: ExecuteBash
        inputs:
          commands: [echo MUST_NOT_RUN_3]
)");
  auto run = run_document(dir, first + "," + second);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  REQUIRE(run.detailed.is_object());
  CHECK(run.detailed["status"] == "failed");
  CHECK(run.status("Before") == "success");
  CHECK(run.status("Breaks") == "failed");
  CHECK(run.step("Breaks")["failureMessage"].get<std::string>().find("exit code 3") != std::string::npos);
  CHECK(run.status("AfterInPhase") == "notRun");
  CHECK(run.status("LaterPhase") == "notRun");
  CHECK(run.status("LaterDocument") == "notRun");
  REQUIRE(run.detailed["documents"].size() == 2);
  CHECK(run.detailed["documents"][0]["status"] == "failed");
  CHECK(run.detailed["documents"][0]["phases"][1]["status"] == "notRun");
  CHECK(run.detailed["documents"][1]["status"] == "notRun");
  CHECK(run.console().find("MUST_NOT_RUN") == std::string::npos);
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["status"] == "failed");
  CHECK(run.summary["failedStepCount"] == 1);
  CHECK(run.summary["executedStepCount"] == 2);
}

TEST_CASE("run: onFailure Continue runs the later steps, but the run fails (exit 1)") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Breaks
        action: ExecuteBash
        onFailure: Continue
        inputs:
          commands: ["exit 5"]
      - name: After
        action: ExecuteBash
        inputs:
          commands: [echo after-continue]
  - name: test
    steps:
      - name: LaterPhase
        action: ExecuteBash
        inputs:
          commands: [echo later-phase]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Breaks") == "failed");
  CHECK(run.status("After") == "success");
  CHECK(kiln::e2e::stdout_of(run.step("After")) == "after-continue");
  CHECK(run.status("LaterPhase") == "success");
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["status"] == "failed");
  CHECK(run.summary["failedStepCount"] == 1);
  CHECK(run.summary["executedStepCount"] == 3);
  CHECK(run.detailed["status"] == "failed");
  CHECK(run.detailed["documents"][0]["phases"][0]["status"] == "failed");
  CHECK(run.detailed["documents"][0]["phases"][1]["status"] == "success");
}

TEST_CASE("run: onFailure Ignore records ignoredFailure and the run succeeds with ignored failures (exit 0)") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Breaks
        action: ExecuteBash
        onFailure: Ignore
        inputs:
          commands: ["exit 4"]
      - name: After
        action: ExecuteBash
        inputs:
          commands: [echo after-ignore]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("Breaks") == "ignoredFailure");
  CHECK(run.step("Breaks")["failureMessage"].get<std::string>().find("exit code 4") != std::string::npos);
  CHECK(run.status("After") == "success");
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["status"] == "successWithIgnoredFailure");
  CHECK(run.summary["ignoredFailedStepCount"] == 1);
  CHECK(run.summary["failedStepCount"] == 0);
  CHECK(run.detailed["status"] == "successWithIgnoredFailure");
  CHECK(run.detailed["documents"][0]["status"] == "successWithIgnoredFailure");
}

namespace {
// A script that fails twice, then succeeds: the counter file survives attempts.
std::string flaky_document(const std::string& counter, int max_attempts) {
  return "schemaVersion: 1.0\n"
         "phases:\n"
         "  - name: build\n"
         "    steps:\n"
         "      - name: Flaky\n"
         "        action: ExecuteBash\n"
         "        maxAttempts: " +
         std::to_string(max_attempts) +
         "\n"
         "        inputs:\n"
         "          commands:\n"
         "            - n=$(cat " + counter + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + counter + "\n"
         "            - echo attempt-$n\n"
         "            - '[ $n -ge 3 ]'\n";
}
}  // namespace

TEST_CASE("run: maxAttempts 3 lets a script that fails twice succeed on the third attempt") {
  TempDir dir;
  auto run = run_yaml(dir, flaky_document(dir.file("counter"), 3));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("Flaky") == "success");
  CHECK(run.step("Flaky")["attempts"] == 3);
  CHECK(run.step("Flaky")["maxAttempts"] == 3);
  CHECK(kiln::e2e::stdout_of(run.step("Flaky")) == "attempt-3");
  CHECK(kiln::test::read_file(dir.file("counter")) == "3\n");
}

TEST_CASE("run: maxAttempts 2 is not enough for a script that fails twice") {
  TempDir dir;
  auto run = run_yaml(dir, flaky_document(dir.file("counter"), 2));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Flaky") == "failed");
  CHECK(run.step("Flaky")["attempts"] == 2);
  CHECK(kiln::test::read_file(dir.file("counter")) == "2\n");
}

namespace {
// The state letter of /proc/<pid>/stat, or 0 when the process is gone.
char process_state(const std::string& pid) {
  std::string stat = kiln::test::read_file("/proc/" + pid + "/stat");
  size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}
}  // namespace

TEST_CASE("run: timeoutSeconds stops the step and its whole process group within seconds") {
  TempDir dir;
  std::string pid_file = dir.file("grandchild.pid");
  auto started = std::chrono::steady_clock::now();
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Slow
        action: ExecuteBash
        timeoutSeconds: 1
        inputs:
          commands:
            - bash -c 'echo $$ > )" + pid_file + R"(; exec sleep 60' &
            - sleep 30 & sleep 31 & wait
      - name: After
        action: ExecuteBash
        inputs:
          commands: [echo MUST_NOT_RUN]
)");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(seconds < 10.0);
  CHECK(run.status("Slow") == "failed");
  CHECK(run.step("Slow")["timeoutSeconds"] == 1);
  std::string message = run.step("Slow")["failureMessage"];
  CHECK(message.find("timed out") != std::string::npos);
  CHECK(message.find("after 0 s") == std::string::npos);  // not what was left of the budget
  CHECK(run.status("After") == "notRun");
  std::string pid = kiln::test::read_file(pid_file);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  REQUIRE_MESSAGE(!pid.empty(), "the grandchild did not write its pid");
  // Zombies may remain here (PID 1 of this sandbox does not reap): 'Z' counts as dead.
  char state = process_state(pid);
  for (int i = 0; i < 20 && state != 0 && state != 'Z' && state != 'X'; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state = process_state(pid);
  }
  INFO("grandchild " << pid << " state '" << (state ? state : '-') << "'");
  CHECK((state == 0 || state == 'Z' || state == 'X'));
}

TEST_CASE("run: a loop's timeoutSeconds covers all its iterations; a retry gets a fresh budget") {
  TempDir dir;
  std::string seen = dir.file("seen");
  auto started = std::chrono::steady_clock::now();
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: SlowLoop
        action: ExecuteBash
        timeoutSeconds: 1
        maxAttempts: 2
        loop:
          forEach: [a, b, c]
        inputs:
          commands:
            - echo {{ loop.value }} >> )" + seen + R"(
            - sleep 0.6
)");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(seconds < 8.0);
  nlohmann::json step = run.step("SlowLoop");
  CHECK(step["status"] == "failed");
  CHECK(step["attempts"] == 2);
  std::string message = step["failureMessage"];
  CHECK(message.find("loop timed out") != std::string::npos);
  CHECK(message.find("iteration 1") != std::string::npos);
  CHECK(kiln::test::read_file(seen) == "a\nb\na\nb\n");  // each attempt restarts at iteration 0
}
