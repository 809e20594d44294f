// Micro-benchmarks (Google Benchmark) for the costs the whole-process rows cannot isolate:
//  - RunJournal::append, durable (write + fdatasync) and not, on the disk of
//    $KILN_BENCH_DIR (bench/run.sh points it at a folder on the real disk);
//  - one spawn + wait through sys::run_process while the agent holds 0 / 256 / 1024 MiB
//    of touched memory, next to fork()+exec for contrast (fork copies page tables);
//  - RunLog::console, the per-line formatting of step output into console.log.
// Run: build-bench/kiln_micro [--benchmark_filter=REGEX]
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/report/run_log.h"
#include "agent/state/run_journal.h"
#include "agent/sys/process.h"

namespace {

std::string bench_folder(const std::string& name) {
  const char* base = std::getenv("KILN_BENCH_DIR");
  std::string root = base && *base ? base : "/var/tmp";
  std::string folder = root + "/kiln-micro-" + std::to_string(::getpid()) + "-" + name;
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

// What the engine appends when a step finishes (the durable record of a step).
nlohmann::json step_finished_record(int64_t n) {
  nlohmann::json record = {{"name", "step" + std::to_string(n)},
                           {"action", "ExecuteBash"},
                           {"status", "success"},
                           {"failureMessage", ""},
                           {"timeoutSeconds", 7200},
                           {"onFailure", "Abort"},
                           {"maxAttempts", 1},
                           {"attempts", 1},
                           {"startTime", "2026-11-27T10:41:02Z"},
                           {"endTime", "2026-11-27T10:41:02Z"},
                           {"inputs", R"([{"commands":["true"]}])"},
                           {"outputs", R"([{"durationMs":2,"exitCode":0,"stderr":"","stdout":""}])"},
                           {"loop", nullptr},
                           {"detailedOutput", nullptr}};
  return {{"type", "stepFinished"},
          {"key", "d0/p0/s" + std::to_string(n)},
          {"record", record},
          {"trace",
           {{"inputs", nlohmann::json::array({{{"commands", {"true"}}}})},
            {"outputs", nlohmann::json::array({{{"stdout", ""}, {"exitCode", 0}}})},
            {"ran", true}}}};
}

void BM_JournalAppend(benchmark::State& state) {
  const bool durable = state.range(0) != 0;
  std::string folder = bench_folder(durable ? "journal-durable" : "journal-buffered");
  int64_t n = 0;
  {
    kiln::RunJournal journal;
    if (std::string error = journal.open(folder); !error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    for (auto _ : state) {
      std::string error = journal.append(step_finished_record(n++), durable);
      if (!error.empty()) {
        state.SkipWithError(error.c_str());
        break;
      }
    }
    // sync_time() is what the journal itself measured around write (+ fdatasync).
    state.counters["journal_us_per_append"] =
        static_cast<double>(journal.sync_time().count()) / static_cast<double>(std::max<size_t>(journal.appends(), 1));
  }
  std::filesystem::remove_all(folder);
}
BENCHMARK(BM_JournalAppend)->ArgName("durable")->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

// The floor under a durable append: write() of a line of the same size + fdatasync(),
// with nothing else (no JSON, no checksum).
void BM_RawAppendFdatasync(benchmark::State& state) {
  std::string folder = bench_folder("raw-fdatasync");
  std::string line = kiln::journal_line(step_finished_record(0));
  int fd = ::open((folder + "/journal").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    state.SkipWithError("cannot open the file");
    return;
  }
  for (auto _ : state) {
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
  }
  ::close(fd);
  state.counters["line_bytes"] = static_cast<double>(line.size());
  std::filesystem::remove_all(folder);
}
BENCHMARK(BM_RawAppendFdatasync)->Unit(benchmark::kMicrosecond);

// Memory the agent holds while spawning, every page touched (so it is really mapped).
std::vector<char> make_ballast(int64_t mib) {
  std::vector<char> ballast(static_cast<size_t>(mib) << 20);
  for (size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = static_cast<char>(i);
  return ballast;
}

void BM_RunProcessTrue(benchmark::State& state) {
  std::vector<char> ballast = make_ballast(state.range(0));
  kiln::sys::ProcessSpec spec;
  spec.executable = "/bin/true";
  kiln::sys::OutputSink sink = [](kiln::sys::OutputStream, std::string_view) {};
  for (auto _ : state) {
    kiln::sys::ProcessResult r = kiln::sys::run_process(spec, sink);
    if (!r.started || r.exit_code != 0) {
      state.SkipWithError("run_process failed");
      break;
    }
  }
  benchmark::DoNotOptimize(ballast.data());
}
BENCHMARK(BM_RunProcessTrue)->ArgName("agent_MiB")->Arg(0)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond)->Iterations(300);

// What the cost would be with fork()+exec (Boost.Process v1, std::system-like code).
void BM_ForkExecTrue(benchmark::State& state) {
  std::vector<char> ballast = make_ballast(state.range(0));
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/true", "/bin/true", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  benchmark::DoNotOptimize(ballast.data());
}
BENCHMARK(BM_ForkExecTrue)->ArgName("agent_MiB")->Arg(0)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond)->Iterations(300);

// console.log formatting: one chunk of complete lines, as run_process delivers them.
void BM_ConsoleLog(benchmark::State& state) {
  const size_t line_length = static_cast<size_t>(state.range(0));
  std::string line(line_length - 1, 'x');
  line += '\n';
  std::string chunk;
  while (chunk.size() + line.size() <= 192 * 1024) chunk += line;
  std::string folder = bench_folder("console");
  {
    kiln::RunLog log;
    if (std::string error = log.open(folder, "bench"); !error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    for (auto _ : state) log.console("Info", "Stdout: ", chunk);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(chunk.size()));
  }
  std::filesystem::remove_all(folder);
}
BENCHMARK(BM_ConsoleLog)->ArgName("line_bytes")->Arg(20)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
