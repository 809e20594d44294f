// Power loss, not only SIGKILL: kiln runs with its state directory (or, in the other
// configuration, its log directory) on power_cut_fs, a FUSE filesystem that forgets every
// write and directory change that was not fsynced. At seeded points chosen from the
// operations kiln really makes (recorded once with the filesystem's trace), the filesystem
// cuts the power: it drops what is not durable and SIGKILLs kiln's process group before
// the operation happens. The filesystem is mounted again (only the durable state is back),
// the machine "boots" (the systemd resume trigger, if it survived, runs `kiln resume`) and
// the same command runs again, until the run ends.
//
// The oracle is a ledger outside the test filesystem that the steps append to themselves
// (and the stand-in reboot command): every step ran, in order; a step ran again only if it
// was the one in flight at a cut (the last line of the ledger when the power went); the
// run ends successfully; `kiln status` reads every execution and no journal was set aside
// as damaged. The same test with syncing turned off in kiln (KILN_TEST_SKIP_SYNC=1, a test
// hook) must find a violation: the proof that it sees a missing fsync.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/power_cut_fs.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using kiln::test::PowerCutFs;
using kiln::test::read_file;
using kiln::test::TempDir;

// What the ledger holds after a run with no cut, in order. The loop's iterations after the
// reboot make enough droppable records for the resumed run to compact its journal.
constexpr int kIterations = 20;
const std::vector<std::string> kExpected = [] {
  std::vector<std::string> lines = {"S1", "S2", "reboot", "S3"};
  for (int i = 1; i <= kIterations; ++i) lines.push_back("L" + std::to_string(i));
  for (const char* line : {"S4", "V1", "T1"}) lines.push_back(line);
  return lines;
}();

std::string document(const std::string& ledger) {
  auto step = [&](const std::string& name) {
    return "      - {name: " + name + ", action: ExecuteBash, inputs: {commands: [\"echo " + name + " >> " + ledger +
           "\"]}}\n";
  };
  return "name: power-cut\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" + step("S1") + step("S2") +
         "      - {name: R, action: Reboot}\n" + step("S3") +
         "      - name: L\n        action: ExecuteBash\n        loop: {for: {start: 1, end: " + std::to_string(kIterations) + ", updateBy: 1}}\n"
         "        inputs: {commands: [\"echo L{{ loop.value }} >> " +
         ledger + "\"]}\n" + step("S4") + "  - name: validate\n    steps:\n" + step("V1") +
         "  - name: test\n    steps:\n" + step("T1");
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A process group that outlives each kiln it holds, so that `arm N PGID` can name it
// before kiln starts: a sleeping leader, and every kiln started into its group.
class ProcessGroup {
 public:
  ProcessGroup() {
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    char sleep_path[] = "/bin/sleep", seconds[] = "3600";
    char* argv[] = {sleep_path, seconds, nullptr};
    if (::posix_spawn(&leader_, argv[0], nullptr, &attributes, argv, environ) != 0) leader_ = -1;
    posix_spawnattr_destroy(&attributes);
  }
  ~ProcessGroup() {
    if (leader_ > 0) {
      ::kill(-leader_, SIGKILL);
      ::waitpid(leader_, nullptr, 0);
    }
  }
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  pid_t id() const { return leader_; }

  struct Outcome {
    bool killed = false;  // by the power cut's SIGKILL
    int exit_code = -1;
    std::string output;
  };
  // Runs `arguments` in the group with `environment`, to its end.
  Outcome run(const std::vector<std::string>& arguments, const std::vector<std::string>& environment,
              const std::string& output_file) {
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, leader_);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    std::vector<std::string> args = arguments, env = environment;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    int spawned = ::posix_spawn(&pid, argv[0], &files, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attributes);
    Outcome outcome;
    if (spawned != 0) return outcome;
    int status = 0;
    ::waitpid(pid, &status, 0);
    outcome.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.output = read_file(output_file);
    return outcome;
  }

 private:
  pid_t leader_ = -1;
};

// Where kiln's state (with the resume trigger) and logs live: one of them on the test FS.
enum class OnTestFs { State, Logs };

// One machine: the test filesystem, the ledger beside it, and the commands of the run.
class Machine {
 public:
  Machine(OnTestFs on_fs, bool trace, bool skip_sync)
      : on_fs_(on_fs), fs_(std::make_unique<PowerCutFs>(trace)) {
    std::string durable_root = on_fs == OnTestFs::State ? fs_->mountpoint() : dir_.path();
    std::string other_root = on_fs == OnTestFs::State ? dir_.path() : fs_->mountpoint();
    state_ = durable_root + "/state";
    triggers_ = durable_root + "/systemd";
    logs_ = other_root + "/logs";
    ledger_ = dir_.file("ledger");
    doc_ = dir_.write("doc.yml", document(ledger_));
    environment_ = kiln::test::kiln_test_environment(
        {"KILN_SYSTEMD_UNIT_DIR=" + triggers_, "KILN_TEST_COMPACT_ABOVE_BYTES=1500"});
    if (skip_sync) environment_.push_back("KILN_TEST_SKIP_SYNC=1");
  }

  PowerCutFs& fs() { return *fs_; }
  const std::string& ledger() const { return ledger_; }
  const std::string& state() const { return state_; }

  std::vector<std::string> run_command() const {
    return {KILN_BINARY, "run", "-d", doc_, "-s", state_, "-l", logs_, "-i", "pc", "--phases", "build,validate,test",
            "--reboot-mode", "system", "--resume-trigger", "systemd", "--reboot-command",
            "echo reboot >> " + ledger_};
  }
  std::vector<std::string> resume_command() const { return {KILN_BINARY, "resume", "--state-directory", state_}; }
  // What boot runs: the trigger kiln armed, if it is there.
  bool trigger_armed() const {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(triggers_, ec))
      if (entry.path().extension() == ".service") return true;
    return false;
  }

  ProcessGroup::Outcome invoke(ProcessGroup& group, const std::vector<std::string>& command) {
    return group.run(command, environment_, dir_.file("kiln.out"));
  }
  // After a cut: mount again (the backing folder holds exactly the durable state).
  void remount() {
    fs_->unmount();
    fs_->mount();
  }
  std::string describe_files() const {
    std::ostringstream out;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(fs_->mountpoint(), ec))
      out << entry.path().string() << "\n";
    return out.str();
  }

 private:
  TempDir dir_;
  OnTestFs on_fs_;
  std::unique_ptr<PowerCutFs> fs_;
  std::string state_, triggers_, logs_, ledger_, doc_;
  std::vector<std::string> environment_;
};

// A kind of cut point: the operation cut, and what it touched.
std::string point_kind(const std::string& op, const std::string& path) {
  std::string what = path.find("/systemd") != std::string::npos      ? "resume trigger"
                     : path.find("journal.tmp") != std::string::npos ? "compaction"
                     : path.find("/journal") != std::string::npos    ? "journal"
                     : path.find("status") != std::string::npos      ? "status file"
                     : path.find("/logs") != std::string::npos       ? "log"
                     : path.find("lock") != std::string::npos        ? "lock"
                                                                     : "folder";
  return what + " " + op;
}

struct TraceOp {
  std::string op, path;
};
// The trace of one invocation (the filesystem's trace restarts its indexes at each `arm`).
using Trace = std::vector<TraceOp>;

// The invocations of a run without cuts: run (exits 194 after the reboot), resume, run
// again (already finished). Returns each invocation's trace.
std::vector<Trace> record(OnTestFs on_fs) {
  Machine machine(on_fs, true, false);
  ProcessGroup group;
  std::vector<Trace> traces;
  std::vector<std::vector<std::string>> commands = {machine.run_command(), machine.resume_command(),
                                                    machine.run_command()};
  for (const auto& command : commands) {
    std::string trace_file = machine.fs().trace_file();
    REQUIRE(machine.fs().command("arm 1000000000") == 0);  // restarts the trace's indexes
    size_t before = lines_of(trace_file).size();
    auto outcome = machine.invoke(group, command);
    INFO(outcome.output);
    REQUIRE_FALSE(outcome.killed);
    Trace trace;
    auto lines = lines_of(trace_file);
    for (size_t i = before; i < lines.size(); ++i) {
      std::istringstream in(lines[i]);
      size_t index = 0;
      TraceOp op;
      in >> index >> op.op >> op.path;
      trace.push_back(op);
    }
    traces.push_back(trace);
  }
  CHECK(lines_of(machine.ledger()) == kExpected);
  return traces;
}

struct Tally {
  int cuts = 0;
  std::set<std::string> kinds;
  int lost = 0, repeated = 0, wrong_status = 0, unreadable = 0, runs = 0;
  std::vector<std::string> findings;  // the first few, described
  bool clean() const { return lost == 0 && repeated == 0 && wrong_status == 0 && unreadable == 0; }
};

// One run with up to three cuts. `first` is the recorded invocation and operation index
// of the first cut; later cuts are random.
void trial(OnTestFs on_fs, bool skip_sync, const std::vector<Trace>& traces, size_t first_invocation,
           size_t first_index, std::mt19937& random, Tally& tally) {
  Machine machine(on_fs, false, skip_sync);
  ProcessGroup group;
  REQUIRE(group.id() > 0);
  std::vector<std::string> in_flight;  // the ledger's last line at each cut
  enum class Next { Run, Boot, RunAgain } next = Next::Run;
  size_t invocation = 0;
  int cuts = 0;
  bool done = false;
  std::string history;
  for (int round = 0; round < 20 && !done; ++round) {
    std::vector<std::string> command = machine.run_command();
    if (next == Next::Boot) command = machine.trigger_armed() ? machine.resume_command() : machine.run_command();
    // Arm a cut: the chosen one first, then at random in later invocations (at most 3).
    size_t arm_at = 1000000000;
    if (cuts == 0 && invocation == first_invocation) {
      arm_at = first_index;
    } else if (cuts > 0 && cuts < 3 && random() % 2 == 0) {
      const Trace& like = traces[std::min(invocation, traces.size() - 1)];
      arm_at = 1 + random() % std::max<size_t>(like.size(), 1);
    }
    REQUIRE(machine.fs().command("arm " + std::to_string(arm_at) + " " + std::to_string(group.id())) == 0);
    bool resuming = command[1] == "resume";
    auto outcome = machine.invoke(group, command);
    history += std::string(resuming ? "resume" : "run") + " -> " +
               (outcome.killed ? "cut at op " + std::to_string(arm_at) : "exit " + std::to_string(outcome.exit_code)) +
               "\n";
    ++invocation;
    if (outcome.killed) {
      ++cuts;
      ++tally.cuts;
      if (cuts == 1 && first_invocation < traces.size() && first_index <= traces[first_invocation].size()) {
        const TraceOp& op = traces[first_invocation][first_index - 1];
        tally.kinds.insert(point_kind(op.op, op.path));
      }
      auto ledger = lines_of(machine.ledger());
      in_flight.push_back(ledger.empty() ? "" : ledger.back());
      machine.remount();
      next = Next::Boot;
      continue;
    }
    if (outcome.exit_code == 194) {  // the reboot command ran: a clean reboot keeps everything
      next = Next::Boot;
    } else if (outcome.exit_code == 0 && next != Next::RunAgain) {
      next = Next::RunAgain;  // the pipeline runs the same command once more: nothing reruns
    } else if (outcome.exit_code == 0) {
      done = true;
    } else {
      ++tally.wrong_status;
      if (tally.findings.size() < 5)
        tally.findings.push_back("exit " + std::to_string(outcome.exit_code) + ":\n" + history + outcome.output);
      return;
    }
  }
  ++tally.runs;
  if (!done) {
    ++tally.wrong_status;
    if (tally.findings.size() < 5) tally.findings.push_back("did not finish:\n" + history);
    return;
  }
  // The ledger: every step in order (first runs), and repeats only of steps in flight.
  auto ledger = lines_of(machine.ledger());
  std::map<std::string, int> count, allowed;
  std::vector<std::string> first_runs;
  for (const auto& line : ledger)
    if (count[line]++ == 0) first_runs.push_back(line);
  for (const auto& line : in_flight) ++allowed[line];
  std::ostringstream finding;
  // A power cut is a reboot: a cut after the Reboot step asked for one (S2 done, the
  // reboot command not yet run) may stand for it, and kiln rightly goes on.
  bool cut_was_the_reboot = count["reboot"] == 0 && allowed["S2"] > 0;
  std::vector<std::string> expected = kExpected;
  if (cut_was_the_reboot) expected.erase(std::find(expected.begin(), expected.end(), "reboot"));
  if (first_runs != expected) {
    ++tally.lost;
    finding << "steps lost or out of order";
  }
  for (const auto& [name, n] : count)
    if (n - 1 > allowed[name]) {
      ++tally.repeated;
      finding << "; " << name << " ran " << n << " times (in flight at " << allowed[name] << " cut(s))";
    }
  // Every state file still reads: kiln status lists the execution as successful, and no
  // journal was set aside as damaged.
  auto status = kiln::test::run_kiln({"status", "--state-directory", machine.state(), "--format", "json"});
  auto list = nlohmann::json::parse(status.out, nullptr, false);
  bool readable = status.exit_code == 0 && list.is_array() && list.size() == 1 && list[0].value("status", "") == "success";
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(machine.state(), ec))
    if (entry.path().filename().string().find("damaged") != std::string::npos) readable = false;
  if (!readable) {
    ++tally.unreadable;
    finding << "; state unreadable: " << status.out << status.err;
  }
  if (!finding.str().empty() && tally.findings.size() < 5) {
    std::string ledger_text;
    for (const auto& line : ledger) ledger_text += line + " ";
    tally.findings.push_back(finding.str() + "\nledger: " + ledger_text + "\n" + history);
  }
}

// Every recorded operation, as (invocation, 1-based index), grouped by kind.
std::map<std::string, std::vector<std::pair<size_t, size_t>>> points_by_kind(const std::vector<Trace>& traces) {
  std::map<std::string, std::vector<std::pair<size_t, size_t>>> points;
  for (size_t i = 0; i < traces.size(); ++i)
    for (size_t j = 0; j < traces[i].size(); ++j)
      points[point_kind(traces[i][j].op, traces[i][j].path)].push_back({i, j + 1});
  return points;
}

// Runs trials, cycling through the kinds of points of both configurations, until
// `cut_goal` cuts were made (or, with `stop_at_finding`, the first finding).
Tally power_cuts(int cut_goal, bool skip_sync, bool stop_at_finding, unsigned seed) {
  Tally tally;
  std::mt19937 random(seed);
  struct Config {
    OnTestFs on_fs;
    std::vector<Trace> traces;
    std::vector<std::pair<size_t, size_t>> points;  // cycled through kind by kind
  };
  std::vector<Config> configs;
  for (OnTestFs on_fs : {OnTestFs::State, OnTestFs::Logs}) {
    Config config{on_fs, record(on_fs), {}};
    auto by_kind = points_by_kind(config.traces);
    // Round-robin over kinds, each kind's points shuffled: every kind early, all points later.
    for (auto& [kind, list] : by_kind) std::shuffle(list.begin(), list.end(), random);
    for (size_t i = 0;; ++i) {
      bool any = false;
      for (auto& [kind, list] : by_kind)
        if (i < list.size()) {
          config.points.push_back(list[i]);
          any = true;
        }
      if (!any) break;
    }
    configs.push_back(std::move(config));
  }
  for (size_t t = 0; tally.cuts < cut_goal && t < static_cast<size_t>(cut_goal) * 2; ++t) {
    Config& config = configs[t % configs.size()];
    auto [invocation, index] = config.points[(t / configs.size()) % config.points.size()];
    trial(config.on_fs, skip_sync, config.traces, invocation, index, random, tally);
    if (stop_at_finding && !tally.clean()) break;
  }
  return tally;
}

}  // namespace

TEST_CASE("power cut: at hundreds of seeded points kiln loses no finished step and repeats only the one in flight" *
          KILN_NEEDS_FUSE) {
  int goal = 300;
  if (const char* n = std::getenv("KILN_POWER_CUTS")) goal = std::max(1, std::atoi(n));
  Tally tally = power_cuts(goal, false, false, 20261201);
  MESSAGE("power cuts: " << tally.cuts << " in " << tally.runs << " runs, " << tally.kinds.size()
                         << " kinds of point; lost " << tally.lost << ", repeated " << tally.repeated
                         << ", wrong status " << tally.wrong_status << ", unreadable " << tally.unreadable);
  std::string kinds;
  for (const auto& kind : tally.kinds) kinds += (kinds.empty() ? "" : ", ") + kind;
  MESSAGE("kinds of point: " << kinds);
  for (const auto& finding : tally.findings) MESSAGE(finding);
  CHECK(tally.cuts >= goal);
  // The points the issue names: between a journal write and its sync, inside compaction,
  // while the resume trigger and the status file are written.
  for (const char* kind : {"journal write", "journal fdatasync", "compaction rename", "resume trigger create",
                           "status file fsync"})
    CHECK_MESSAGE(tally.kinds.count(kind) == 1, "no cut at a " << kind);
  CHECK(tally.kinds.size() >= 8);
  CHECK(tally.lost == 0);
  CHECK(tally.repeated == 0);
  CHECK(tally.wrong_status == 0);
  CHECK(tally.unreadable == 0);
}

TEST_CASE("power cut: with syncing turned off in kiln (KILN_TEST_SKIP_SYNC=1) the same test finds lost work" *
          KILN_NEEDS_FUSE) {
  Tally tally = power_cuts(150, true, true, 7);
  MESSAGE("without syncing: " << tally.cuts << " cuts until the first finding: lost " << tally.lost << ", repeated "
                              << tally.repeated << ", wrong status " << tally.wrong_status << ", unreadable "
                              << tally.unreadable);
  for (const auto& finding : tally.findings) MESSAGE(finding);
  CHECK_FALSE(tally.clean());
}

TEST_CASE("power cut: an fsync of the journal that fails (EIO) stops the run; the same command resumes it" *
          KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  TempDir dir;
  std::string ledger = dir.file("ledger"), armed = dir.file("armed");
  // S3 arms the filesystem's one-shot fsync failure (once): the next fsync kiln makes, the
  // journal's sync of S3's result, fails with EIO and its unsynced data is dropped.
  auto step = [&](const std::string& name, const std::string& before = "") {
    return "      - {name: " + name + ", action: ExecuteBash, inputs: {commands: [\"" + before + "echo " + name +
           " >> " + ledger + "\"]}}\n";
  };
  std::string doc = dir.write(
      "doc.yml", "name: fsync-eio\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" + step("S1") +
                     step("S2") +
                     step("S3", "[ -e " + armed + " ] || { touch " + armed + "; echo fail-fsync > " +
                                    fs.path(".power_cut_fs") + "; }; ") +
                     step("S4"));
  std::vector<std::string> command = {"run", "-d", doc, "-s", fs.path("state"), "-l", dir.file("logs"), "-i", "eio"};
  auto first = kiln::test::run_kiln(command);
  INFO(first.out << first.err);
  CHECK(first.exit_code != 0);
  CHECK(first.exit_code != 194);
  CHECK((first.out + first.err).find("cannot flush the state journal") != std::string::npos);
  CHECK((first.out + first.err).find("Input/output error") != std::string::npos);
  CHECK(lines_of(ledger) == std::vector<std::string>{"S1", "S2", "S3"});  // S4 did not run
  MESSAGE("kiln after the failed fsync (exit " << first.exit_code << "):\n" << first.out);
  // The fsync failed, so S3's result is not assumed kept: the same command runs S3 again
  // (the one in flight) and goes on; S1 and S2 do not run again.
  auto second = kiln::test::run_kiln(command);
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  CHECK(lines_of(ledger) == std::vector<std::string>{"S1", "S2", "S3", "S3", "S4"});
}
