// Turns each state change of a run into its four renderings: the events.jsonl line,
// the application.log line, the console.log line and, when a person is watching, the
// terminal line. One call per state change, so the four cannot drift apart.
#pragma once
#include <cstdint>
#include <deque>
#include <string>

#include "agent/report/run_log.h"
#include "agent/report/status.h"

namespace kiln {

// Names a step in every rendering.
struct StepLabel {
  std::string phase;
  std::string step;
  std::string action;
};

class RunReporter {
 public:
  RunReporter(RunLog& log, bool terminal) : log_(log), terminal_(terminal) {}

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
  void attempt_started(const StepLabel& step, int64_t attempt);
  void attempt_failed(const StepLabel& step, int64_t attempt, const std::string& message);
  void step_finished(const StepLabel& step, RunStatus status, int64_t duration_ms, const std::string& failure);
  void step_interrupted(const StepLabel& step, const std::string& failure);
  void step_rebooting(const StepLabel& step);
  void reboot_requested(const StepLabel& step, const std::string& reason);

  // The step's stderr, whose last lines the terminal shows under a failed step.
  void remember_stderr(std::string_view chunk);
  void forget_stderr() { last_stderr_.clear(); }

 private:
  void terminal(const std::string& text);
  RunLog& log_;
  bool terminal_;
  std::deque<std::string> last_stderr_;
};

}  // namespace kiln
