// Crash safety: kiln is killed with SIGKILL at random moments (seeded, so a failure can
// be replayed) and resumed each time until the document finishes. The oracle is the
// ledger the steps write themselves (a start line, the side effect, an end line), never
// kiln's own journal or summary:
// - every step's side effect happens at least once;
// - a step seen finished at a kill (its end line, then the next step's start line: kiln
//   starts a step only once the previous one is recorded) never starts again;
// - a step starts more than once only when kills landed while it was running (its start
//   line was the last one in the ledger), at most once more per such kill.
// Also: a state directory on a filesystem that fills up.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/skip.h"
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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string ledger_document(const TempDir& dir, int steps) {
  std::string doc = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n";
  std::string ledger = dir.file("ledger");
  for (int i = 0; i < steps; ++i) {
    std::string n = std::to_string(i);
    doc += "      - {name: S" + n + ", action: ExecuteBash, inputs: {commands: [\"echo start " + n + " >> " + ledger +
           "\", \"echo effect " + n + " >> " + ledger + "\", \"echo end " + n + " >> " + ledger + "\"]}}\n";
  }
  return dir.write("ledger.yml", doc);
}

// What one snapshot of the ledger says: how often each step started, whether it was seen
// finished, and which step was running (the last one started; -1: none yet).
struct LedgerView {
  std::map<int, int> starts;
  std::map<int, bool> finished;
  int running = -1;
};

LedgerView read_ledger(const std::string& text) {
  LedgerView view;
  std::map<int, bool> ended;
  for (const std::string& line : lines_of(text)) {
    std::istringstream words(line);
    std::string kind;
    int step = -1;
    words >> kind >> step;
    if (kind == "start") {
      ++view.starts[step];
      if (step > 0 && ended[step - 1]) view.finished[step - 1] = true;
      view.running = step;
    } else if (kind == "end") {
      ended[step] = true;
    }
  }
  return view;
}

// Kills kiln and waits for it and for the step it left running (which it had put in its
// own process group): the test process is their subreaper, so the ledger is settled
// when this returns.
void kill_and_settle(pid_t pid, int& status) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments, resumed each time: by the steps' own ledger, at-least-once") {
  constexpr int kSteps = 24;
  constexpr int kExecutions = 8;
  constexpr int kWantedKills = 200;  // more executions until this many kills (not a check)
  std::mt19937 random(20261127);  // fixed seed: the same kill times on every run
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  struct NoSubreaper {
    ~NoSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
  } no_subreaper;
  int kills = 0, kills_mid_step = 0, repeats = 0, resumes = 0;
  for (int execution = 0; execution < kExecutions || (kills < kWantedKills && execution < 100); ++execution) {
    CAPTURE(execution);
    TempDir dir;
    std::string doc = ledger_document(dir, kSteps);
    std::string id = "crash-" + std::to_string(execution);
    std::vector<std::string> args = {"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"), "-i", id};
    std::map<int, int> kills_while_running;  // step -> kills that landed while it ran
    std::vector<LedgerView> at_kill;         // the ledger after each kill
    bool finished = false;
    for (int round = 0; round < 200 && !finished; ++round) {
      pid_t pid = kiln::test::spawn_kiln(args, dir.file("out"), dir.file("err"));
      REQUIRE(pid > 0);
      // Kill somewhere in the run: a 24-step run takes ~60-150 ms here. Every fifth
      // round is left alone so that the execution makes progress and finishes.
      int status = 0;
      if (round % 5 != 4) {
        std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(random)));
        kill_and_settle(pid, status);
      } else {
        ::waitpid(pid, &status, 0);
      }
      if (WIFSIGNALED(status)) {
        ++kills;
        LedgerView view = read_ledger(read_file(dir.file("ledger")));
        if (view.running >= 0) {  // the last step started is never seen finished yet
          ++kills_while_running[view.running];
          ++kills_mid_step;
        }
        at_kill.push_back(view);
      } else {
        finished = WIFEXITED(status);
      }
      if (round > 0) ++resumes;
    }
    INFO("kiln said: " << read_file(dir.file("out")) << read_file(dir.file("err")));
    REQUIRE(finished);
    std::string text = read_file(dir.file("ledger"));
    LedgerView end = read_ledger(text);
    auto counts = count_lines(text);
    for (int i = 0; i < kSteps; ++i) {
      std::string n = std::to_string(i);
      CHECK_MESSAGE(counts["effect " + n] >= 1, "step " << n << "'s side effect never happened");
      CHECK_MESSAGE(counts["end " + n] >= 1, "step " << n << " never finished");
      CHECK_MESSAGE(end.starts[i] <= 1 + kills_while_running[i],
                    "step " << n << " started " << end.starts[i] << " times, but only " << kills_while_running[i]
                            << " kills landed while it ran");
      repeats += end.starts[i] - 1;
    }
    for (size_t k = 0; k < at_kill.size(); ++k)
      for (const auto& entry : at_kill[k].finished) {
        int step = entry.first;
        bool seen_finished = entry.second;
        if (seen_finished)
          CHECK_MESSAGE(end.starts[step] == at_kill[k].starts[step],
                        "step " << step << " was seen finished at kill " << k << " but started again later");
      }
  }
  MESSAGE("crash test: " << kills << " SIGKILLs (" << kills_mid_step << " while a step ran), " << resumes
                         << " resumes, " << repeats << " steps started again after a kill mid-step");
}

TEST_CASE("crash: a state directory on a full filesystem stops the run clearly; it resumes once space is freed" *
          KILN_SKIP_UNLESS(::geteuid() == 0, "mounts a small tmpfs: needs root (CI runs as root)")) {
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
