// Turns each state change of a run into its four renderings: the events.jsonl line,
// the application.log line, the console.log line and, when a person is watching, the
// terminal line. One call per state change, so the four cannot drift apart.
//
// The terminal (only when a person is watching) also shows progress the logs keep in
// their own format: each failed attempt of a retried step with its exit code and last
// stderr lines, a looped step's `item i/n`, and a heartbeat for a step that has been
// silent for a while. The heartbeat comes from a small thread of the reporter, which
// sleeps on a condition variable: it sees every action (a process, a copy, a download)
// without a seam in each, and the process runner stays as it is.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/report/run_log.h"
#include "agent/report/status.h"

namespace kiln {

// Names a step in every rendering.
struct StepLabel {
  std::string phase;
  std::string step;
  std::string action;
};

// How the terminal may be drawn on, read once from the environment: colour unless
// NO_COLOR is set (non-empty) or TERM=dumb; a line redrawn in place with "\r" unless
// TERM=dumb; a heartbeat after KILN_HEARTBEAT_SECONDS (default 30; 0: none) of silence.
struct TerminalStyle {
  bool colour = true;
  bool redraw = true;
  std::chrono::seconds heartbeat{30};
  // `shared`: another writer uses the terminal too (--trace mirrors application.log to
  // stderr), so no line is left open to be redrawn.
  static TerminalStyle from_environment(bool shared = false);
};

// A failed attempt, for the terminal (the logs keep only the number and the message).
struct FailedAttempt {
  int64_t attempt = 1;
  int64_t max_attempts = 1;
  std::string message;
  std::optional<int> exit_code;  // when a process failed with one
  bool timed_out = false;
  bool retrying = false;  // another attempt follows (at once: the engine does not wait)
};

class RunReporter {
 public:
  RunReporter(RunLog& log, bool terminal, TerminalStyle style = TerminalStyle::from_environment());
  ~RunReporter();
  RunReporter(const RunReporter&) = delete;
  RunReporter& operator=(const RunReporter&) = delete;

  void run_started(const std::string& execution_id);
  void run_resumed(const std::string& execution_id, const std::string& how);
  void run_finished(RunStatus status, const nlohmann::json& summary);
  // The last console line: completed, stopped (resumable), or rebooting.
  void run_completed(RunStatus status, const std::string& failure);

  void document_started(const std::string& path, const std::string& execution_id);
  void document_finished(const std::string& path, RunStatus status);
  void phase_started(const std::string& document, const std::string& phase);
  void phase_finished(const std::string& phase, RunStatus status);

  void step_started(const StepLabel& step, bool again);
  void step_replayed(const StepLabel& step);  // finished before a reboot or crash
  void condition_evaluated(const StepLabel& step, bool verdict, std::string_view branch, const std::string& detail);
  // timeout_seconds: the attempt's budget (0: none), shown by the heartbeat.
  void attempt_started(const StepLabel& step, int64_t attempt, int64_t max_attempts, int64_t timeout_seconds);
  void attempt_failed(const StepLabel& step, const FailedAttempt& failed);
  void iteration_started(size_t item, size_t items);  // 1-based: `item 3/10`
  void step_finished(const StepLabel& step, RunStatus status, int64_t duration_ms, const std::string& failure);
  void step_interrupted(const StepLabel& step, const std::string& failure);
  void step_rebooting(const StepLabel& step);
  void reboot_requested(const StepLabel& step, const std::string& reason);

  // The step's output: resets the heartbeat's silence; the last stderr lines are shown
  // under a failed attempt or step.
  void step_output(bool is_stderr, std::string_view chunk);
  void forget_stderr() { last_stderr_.clear(); }

 private:
  using Clock = std::chrono::steady_clock;
  // A running step, for the heartbeat (innermost last: ExecuteDocument nests steps).
  struct Watched {
    std::string label;  // masked
    Clock::time_point attempt_started = Clock::now();
    Clock::time_point last_heartbeat;
    int64_t attempt = 1, max_attempts = 1, timeout_seconds = 0;
    size_t item = 0, items = 0;
  };
  void terminal(const std::string& text);
  void write_locked(const std::string& masked);
  std::string paint(const char* sgr, const std::string& text) const;
  void stderr_tail();
  void step_ended();
  void heartbeat_loop();

  RunLog& log_;
  bool terminal_;
  TerminalStyle style_;
  std::deque<std::string> last_stderr_;
  std::mutex mutex_;  // guards the terminal, watched_, open_line_ and stop_
  std::condition_variable wake_;
  std::vector<Watched> watched_;
  bool open_line_ = false;  // an `item i/n` line waits to be redrawn
  bool stop_ = false;
  std::atomic<Clock::rep> last_output_{0};  // Clock ticks; written per output chunk, so no lock
  std::thread heartbeat_;
};

}  // namespace kiln
