// Crash safety: kiln is killed with SIGKILL at random moments (seeded, so a failure can
// be replayed) and resumed each time until the document finishes. Afterwards every
// step is in the ledger exactly once, except that a step killed mid-flight may appear
// once more per such kill (at-least-once), and the state journal was readable after
// every kill.
// Also: a state directory on a filesystem that fills up.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "agent/state/run_journal.h"
#include "agent/state/run_state.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::TempDir;

std::map<std::string, int> count_lines(const std::string& text) {
  std::map<std::string, int> counts;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) ++counts[line];
  return counts;
}

std::string ledger_document(const TempDir& dir, int steps) {
  std::string doc = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n";
  for (int i = 0; i < steps; ++i)
    doc += "      - {name: S" + std::to_string(i) + ", action: ExecuteBash, inputs: {commands: [\"echo S" +
           std::to_string(i) + " >> " + dir.file("ledger") + "\"]}}\n";
  return dir.write("ledger.yml", doc);
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments, resumed each time: every step runs, at most twice if killed mid-flight") {
  constexpr int kSteps = 24;
  constexpr int kExecutions = 8;
  constexpr int kMinimumKills = 200;
  std::mt19937 random(20261127);  // fixed seed: the same kill times on every run
  int kills = 0, duplicates = 0, torn_records = 0, resumes = 0;
  for (int execution = 0; execution < kExecutions || kills < kMinimumKills; ++execution) {
    CAPTURE(execution);
    TempDir dir;
    std::string doc = ledger_document(dir, kSteps);
    std::string id = "crash-" + std::to_string(execution);
    std::vector<std::string> args = {"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"), "-i", id};
    int kills_here = 0;
    std::map<int, int> killed_in_flight;  // step -> kills while it was the next unfinished step
    bool finished = false;
    for (int round = 0; round < 200 && !finished; ++round) {
      pid_t pid = kiln::test::spawn_kiln(args, dir.file("out"), dir.file("err"));
      REQUIRE(pid > 0);
      // Kill somewhere in the run: a 24-step run takes ~60-150 ms here. Every third
      // round is left alone so that the execution makes progress and finishes.
      bool kill_it = round % 3 != 2;
      if (kill_it) {
        std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(random)));
        ::kill(pid, SIGKILL);
      }
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (WIFSIGNALED(status)) {
        ++kills;
        ++kills_here;
        // The state must be readable after every kill.
        std::vector<nlohmann::json> records;
        std::string folder = dir.file("state") + "/" + id;
        if (std::filesystem::exists(folder + "/journal")) {
          kiln::RunJournal journal;
          std::string error = journal.open(folder);
          CHECK_MESSAGE(error.empty(), error);
          torn_records += journal.dropped_torn_record();
          kiln::RunState state = kiln::RunState::replay(journal.records());
          for (int i = 0; i < kSteps; ++i) {
            auto it = state.steps.find("d0/p0/s" + std::to_string(i));
            if (it == state.steps.end() || !it->second.finished) {
              ++killed_in_flight[i];
              break;
            }
          }
        }
      } else {
        REQUIRE(WIFEXITED(status));
        INFO("kiln said: " << read_file(dir.file("out")) << read_file(dir.file("err")));
        CHECK(WEXITSTATUS(status) == 0);
        finished = true;
      }
      if (round > 0) ++resumes;
    }
    REQUIRE(finished);
    auto counts = count_lines(read_file(dir.file("ledger")));
    CHECK(counts.size() == static_cast<size_t>(kSteps));
    for (int i = 0; i < kSteps; ++i) {
      int seen = counts["S" + std::to_string(i)];
      CHECK_MESSAGE(seen >= 1, "S" << i << " never ran");
      // Each kill while the step was in flight may add one more run, never more.
      CHECK_MESSAGE(seen <= 1 + killed_in_flight[i], "S" << i << " ran " << seen << " times");
      duplicates += seen - 1;
    }
    CHECK(duplicates <= kills);  // each kill can interrupt at most one step
    auto summary = nlohmann::json::parse(read_file(dir.file("out")), nullptr, false);
    CHECK(summary["status"] == "success");
    CHECK(summary["executedStepCount"] == kSteps);
  }
  MESSAGE("crash test: " << kills << " SIGKILLs, " << resumes << " resumes, " << duplicates
                         << " steps ran twice (killed mid-flight), " << torn_records << " torn records dropped");
  CHECK(kills >= kMinimumKills);
}

TEST_CASE("crash: a state directory on a full filesystem stops the run clearly; it resumes once space is freed") {
  REQUIRE_MESSAGE(::geteuid() == 0, "this test mounts a small tmpfs and needs root (CI runs as root)");
  TempDir dir;
  std::string state = dir.file("state");
  std::filesystem::create_directories(state);
  REQUIRE_MESSAGE(::mount("tmpfs", state.c_str(), "tmpfs", 0, "size=96k,mode=0700") == 0,
                  "cannot mount a tmpfs: " << std::strerror(errno));
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{state};
  // Each step's outputs go into the journal: 20 steps of ~8 KiB fill 96 KiB.
  std::string doc = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n";
  for (int i = 0; i < 20; ++i)
    doc += "      - {name: S" + std::to_string(i) + ", action: ExecuteBash, inputs: {commands: [\"echo S" +
           std::to_string(i) + " >> " + dir.file("ledger") + "; head -c 6000 /dev/zero | tr '\\\\0' x\"]}}\n";
  std::string path = dir.write("big.yml", doc);
  std::vector<std::string> args = {"run", "-d", path, "-l", dir.file("logs"), "-s", state, "-i", "full"};
  auto first = kiln::test::run_kiln(args);
  INFO(first.out << first.err);
  CHECK(first.exit_code == 1);
  auto summary = first.summary();
  CHECK(summary["status"] == "interrupted");
  CHECK(summary["failureMessage"].get<std::string>().find("No space left on device") != std::string::npos);
  CHECK(summary["failureMessage"].get<std::string>().find("resume") != std::string::npos);
  auto partial = count_lines(read_file(dir.file("ledger")));
  CHECK(partial.size() < 20u);
  // Free space (a bigger filesystem), then resume the same execution.
  REQUIRE(::mount("tmpfs", state.c_str(), "tmpfs", MS_REMOUNT, "size=4m,mode=0700") == 0);
  auto second = kiln::test::run_kiln(args);
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  CHECK(second.summary()["status"] == "success");
  auto counts = count_lines(read_file(dir.file("ledger")));
  CHECK(counts.size() == 20u);
  int twice = 0;
  for (const auto& [line, n] : counts) {
    CHECK(n <= 2);
    twice += n - 1;
  }
  CHECK(twice <= 1);  // only the step whose record could not be written runs again
  MESSAGE("full disk: stopped after " << partial.size() << " of 20 steps; resumed to the end; " << twice
                                      << " step ran twice");
}
