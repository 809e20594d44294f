#include "agent/report/run_reporter.h"

#include <iostream>

namespace kiln {
namespace {

std::string label_of(const StepLabel& s) { return s.phase + "/" + s.step; }
std::string with_failure(const std::string& failure) { return failure.empty() ? "" : ": " + failure; }

}  // namespace

void RunReporter::terminal(const std::string& text) {
  if (terminal_) std::cerr << log_.masker().mask(text) << std::flush;
}

void RunReporter::run_started(const std::string& execution_id) {
  log_.event({{"event", "runStarted"}, {"executionId", execution_id}, {"logFolder", log_.folder()}});
  log_.application("info", "kiln " KILN_VERSION " run " + execution_id + " started; log folder " + log_.folder());
}

void RunReporter::run_resumed(const std::string& execution_id, const std::string& how) {
  log_.application("info", "resuming execution " + execution_id + " " + how);
  log_.console("Info", "", "Resuming execution " + execution_id + " " + how);
  log_.event({{"event", "runResumed"}, {"executionId", execution_id}, {"how", how}});
}

void RunReporter::run_finished(RunStatus status, const nlohmann::json& summary) {
  log_.event({{"event", "runFinished"}, {"status", status_name(status)}, {"summary", summary}});
}

void RunReporter::run_completed(RunStatus status, const std::string& failure) {
  if (status == RunStatus::Rebooting)
    log_.console("Info", "", "TOE is rebooting the machine; the execution resumes afterwards");
  else if (status == RunStatus::Interrupted)
    log_.console("Error", "", "TOE stopped: " + failure);
  else if (status == RunStatus::Failed)
    log_.console("Info", "", "TOE has completed execution with failure - " + failure);
  else
    log_.console("Info", "", "TOE has completed execution successfully");
}

void RunReporter::document_started(const std::string& path, const std::string& execution_id) {
  log_.event({{"event", "documentStarted"}, {"document", path}, {"executionId", execution_id}});
  log_.application("info", "document " + path + " started (execution " + execution_id + ")");
}

void RunReporter::document_finished(const std::string& path, RunStatus status) {
  log_.event({{"event", "documentFinished"}, {"document", path}, {"status", status_name(status)}});
}

void RunReporter::phase_started(const std::string& document, const std::string& phase) {
  log_.event({{"event", "phaseStarted"}, {"document", document}, {"phase", phase}});
}

void RunReporter::phase_finished(const std::string& phase, RunStatus status) {
  log_.event({{"event", "phaseFinished"}, {"phase", phase}, {"status", status_name(status)}});
}

void RunReporter::step_started(const StepLabel& s, bool again) {
  log_.event({{"event", "stepStarted"}, {"phase", s.phase}, {"step", s.step}, {"action", s.action}});
  log_.application("info", "step " + label_of(s) + " (" + s.action + ") started" +
                               (again ? " again after an interruption or reboot" : ""));
  log_.console("Info", "", "Phase " + s.phase + ", step " + s.step + " (" + s.action + ")");
  terminal("\033[1m▶\033[0m " + label_of(s) + " (" + s.action + ")\n");
}

void RunReporter::step_replayed(const StepLabel& s) {
  log_.application("info", "step " + label_of(s) + " finished before; not run again");
}

void RunReporter::condition_evaluated(const StepLabel& s, bool verdict, std::string_view branch,
                                      const std::string& detail) {
  log_.application("info", "step " + label_of(s) + " if: " + detail + " -> " + std::string(branch));
  log_.event({{"event", "conditionEvaluated"},
              {"phase", s.phase},
              {"step", s.step},
              {"verdict", verdict},
              {"branch", branch}});
}

void RunReporter::attempt_started(const StepLabel& s, int64_t attempt) {
  log_.event({{"event", "attemptStarted"}, {"phase", s.phase}, {"step", s.step}, {"attempt", attempt}});
}

void RunReporter::attempt_failed(const StepLabel& s, int64_t attempt, const std::string& message) {
  log_.application("warn", "step " + label_of(s) + " attempt " + std::to_string(attempt) + " failed: " + message);
  log_.event({{"event", "attemptFailed"},
              {"phase", s.phase},
              {"step", s.step},
              {"attempt", attempt},
              {"message", message}});
}

void RunReporter::step_finished(const StepLabel& s, RunStatus status, int64_t duration_ms, const std::string& failure) {
  std::string name(status_name(status));
  log_.event({{"event", "stepFinished"},
              {"phase", s.phase},
              {"step", s.step},
              {"status", name},
              {"durationMs", duration_ms},
              {"failureMessage", failure}});
  bool failed = status == RunStatus::Failed;
  log_.application(failed ? "error" : "info", "step " + label_of(s) + " " + name + with_failure(failure));
  log_.console(failed ? "Error" : "Info", "", "Step " + s.step + " " + name + with_failure(failure));
  if (status == RunStatus::Success) {
    terminal("  \033[32m✓\033[0m " + label_of(s) + " " + std::to_string(duration_ms) + " ms\n");
  } else if (status == RunStatus::Skipped) {
    terminal("  \033[33m-\033[0m " + label_of(s) + " skipped\n");
  } else {
    terminal("  \033[31m✗\033[0m " + label_of(s) + " " + name + ": " + failure + "\n");
    for (const auto& line : last_stderr_) terminal("    | " + line + "\n");
  }
}

void RunReporter::step_interrupted(const StepLabel& s, const std::string&) {
  log_.event({{"event", "stepInterrupted"}, {"phase", s.phase}, {"step", s.step}});
  log_.console("Error", "", "Step " + s.step + " interrupted; the execution can be resumed");
  terminal("  \033[31m■\033[0m " + label_of(s) + " interrupted\n");
}

void RunReporter::step_rebooting(const StepLabel& s) {
  terminal("  \033[33m↻\033[0m " + label_of(s) + " reboot requested\n");
}

void RunReporter::reboot_requested(const StepLabel& s, const std::string& reason) {
  log_.event({{"event", "rebootRequested"}, {"step", s.step}, {"reason", reason}});
  log_.console("Info", "", "Step " + s.step + " requested a reboot (" + reason + ")");
}

void RunReporter::remember_stderr(std::string_view chunk) {
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    last_stderr_.emplace_back(chunk.substr(0, nl));
    if (last_stderr_.size() > 10) last_stderr_.pop_front();
    if (nl == std::string_view::npos) break;
    chunk.remove_prefix(nl + 1);
  }
}

}  // namespace kiln
