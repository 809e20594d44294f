#include "agent/report/run_reporter.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace kiln {
namespace {

std::string label_of(const StepLabel& s) { return s.phase + "/" + s.step; }
std::string with_failure(const std::string& failure) { return failure.empty() ? "" : ": " + failure; }

// 45 s, 2m 05s, 1h 02m.
std::string duration_text(int64_t seconds) {
  auto two = [](int64_t n) { return (n < 10 ? "0" : "") + std::to_string(n); };
  if (seconds < 60) return std::to_string(seconds) + " s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m " + two(seconds % 60) + "s";
  return std::to_string(seconds / 3600) + "h " + two(seconds / 60 % 60) + "m";
}

}  // namespace

TerminalStyle TerminalStyle::from_environment(bool shared) {
  TerminalStyle style;
  const char* no_color = std::getenv("NO_COLOR");  // no-color.org: set and not empty
  const char* term = std::getenv("TERM");
  bool dumb = term && std::string_view(term) == "dumb";
  style.colour = !(no_color && *no_color) && !dumb;
  style.redraw = !dumb && !shared;
  if (const char* beat = std::getenv("KILN_HEARTBEAT_SECONDS")) {
    char* end = nullptr;
    long seconds = std::strtol(beat, &end, 10);
    // Capped at a day: a larger value would overflow the clock's nanoseconds.
    if (*beat && end && !*end && seconds >= 0) style.heartbeat = std::chrono::seconds(std::min(seconds, 86400L));
  }
  return style;
}

RunReporter::RunReporter(RunLog& log, bool terminal, TerminalStyle style)
    : log_(log), terminal_(terminal), style_(style) {
  if (terminal_ && style_.heartbeat.count() > 0) heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

RunReporter::~RunReporter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

// Masked on the caller's thread: the masker is not shared with the heartbeat thread.
void RunReporter::terminal(const std::string& text) {
  if (!terminal_) return;
  std::string masked = log_.masker().mask(text);
  std::lock_guard lock(mutex_);
  write_locked(masked);
}

void RunReporter::write_locked(const std::string& masked) {
  if (open_line_) std::cerr << '\n';
  open_line_ = false;
  std::cerr << masked << std::flush;
}

std::string RunReporter::paint(const char* sgr, const std::string& text) const {
  return style_.colour ? std::string("\033[") + sgr + "m" + text + "\033[0m" : text;
}

void RunReporter::stderr_tail() {
  for (const auto& line : last_stderr_) terminal("    | " + line + "\n");
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
  terminal(paint("1", "▶") + " " + label_of(s) + " (" + s.action + ")\n");
  if (!terminal_) return;
  Watched watched;
  watched.label = log_.masker().mask(label_of(s));
  std::lock_guard lock(mutex_);
  watched_.push_back(std::move(watched));
}

// The innermost running step ended (finished, interrupted, or rebooting).
void RunReporter::step_ended() {
  if (!terminal_) return;
  std::lock_guard lock(mutex_);
  if (!watched_.empty()) watched_.pop_back();
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

void RunReporter::attempt_started(const StepLabel& s, int64_t attempt, int64_t max_attempts,
                                  int64_t timeout_seconds) {
  log_.event({{"event", "attemptStarted"}, {"phase", s.phase}, {"step", s.step}, {"attempt", attempt}});
  if (!terminal_) return;
  std::lock_guard lock(mutex_);
  if (watched_.empty()) return;
  Watched& w = watched_.back();
  w.attempt_started = Clock::now();
  w.attempt = attempt;
  w.max_attempts = max_attempts;
  w.timeout_seconds = timeout_seconds;
  w.item = w.items = 0;
}

void RunReporter::attempt_failed(const StepLabel& s, const FailedAttempt& failed) {
  log_.application("warn", "step " + label_of(s) + " attempt " + std::to_string(failed.attempt) +
                               " failed: " + failed.message);
  log_.event({{"event", "attemptFailed"},
              {"phase", s.phase},
              {"step", s.step},
              {"attempt", failed.attempt},
              {"message", failed.message}});
  if (failed.max_attempts <= 1) return;  // the step's ✗ line says it all
  std::string reason = failed.exit_code   ? "exit " + std::to_string(*failed.exit_code)
                       : failed.timed_out ? "timed out"
                                          : failed.message;
  std::string line = "attempt " + std::to_string(failed.attempt) + "/" + std::to_string(failed.max_attempts) +
                     " failed (" + reason + ")";
  terminal("  " + paint("33", "!") + " " + label_of(s) + " " + line + (failed.retrying ? ", retrying now" : "") +
           "\n");
  // The last attempt's stderr comes under the step's ✗ line.
  if (failed.retrying) stderr_tail();
}

void RunReporter::iteration_started(size_t item, size_t items) {
  if (!terminal_) return;
  std::string text = "    item " + std::to_string(item) + "/" + std::to_string(items);
  std::lock_guard lock(mutex_);
  if (!watched_.empty()) {
    watched_.back().item = item;
    watched_.back().items = items;
  }
  if (!style_.redraw) {
    write_locked(text + "\n");
    return;
  }
  // Redrawn in place: the text never gets shorter (i grows, n stays), so "\r" is
  // enough, and no escape code is needed.
  std::cerr << '\r' << text << std::flush;
  open_line_ = true;
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
    terminal("  " + paint("32", "✓") + " " + label_of(s) + " " + std::to_string(duration_ms) + " ms\n");
  } else if (status == RunStatus::Skipped) {
    terminal("  " + paint("33", "-") + " " + label_of(s) + " skipped\n");
  } else {
    terminal("  " + paint("31", "✗") + " " + label_of(s) + " " + name + ": " + failure + "\n");
    stderr_tail();
  }
  step_ended();
}

void RunReporter::step_interrupted(const StepLabel& s, const std::string&) {
  log_.event({{"event", "stepInterrupted"}, {"phase", s.phase}, {"step", s.step}});
  log_.console("Error", "", "Step " + s.step + " interrupted; the execution can be resumed");
  terminal("  " + paint("31", "■") + " " + label_of(s) + " interrupted\n");
  step_ended();
}

void RunReporter::step_rebooting(const StepLabel& s) {
  terminal("  " + paint("33", "↻") + " " + label_of(s) + " reboot requested\n");
  step_ended();
}

void RunReporter::reboot_requested(const StepLabel& s, const std::string& reason) {
  log_.event({{"event", "rebootRequested"}, {"step", s.step}, {"reason", reason}});
  log_.console("Info", "", "Step " + s.step + " requested a reboot (" + reason + ")");
}

void RunReporter::step_output(bool is_stderr, std::string_view chunk) {
  last_output_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  if (!is_stderr) return;
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    last_stderr_.emplace_back(chunk.substr(0, nl));
    if (last_stderr_.size() > 10) last_stderr_.pop_front();
    if (nl == std::string_view::npos) break;
    chunk.remove_prefix(nl + 1);
  }
}

// Wakes a few times per heartbeat interval; speaks for the innermost running step once
// it has been silent (no output, no heartbeat) for the interval.
void RunReporter::heartbeat_loop() {
  auto tick = std::min<Clock::duration>(style_.heartbeat / 4, std::chrono::seconds(1));
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, tick);
    if (stop_ || watched_.empty()) continue;
    Watched& w = watched_.back();
    Clock::time_point now = Clock::now();
    Clock::time_point output{Clock::duration(last_output_.load(std::memory_order_relaxed))};
    Clock::time_point quiet_since = std::max({w.attempt_started, output, w.last_heartbeat});
    if (now - quiet_since < style_.heartbeat) continue;
    w.last_heartbeat = now;
    auto seconds = [](Clock::duration d) {
      return std::chrono::duration_cast<std::chrono::seconds>(d).count();
    };
    std::string text = "  " + paint("2", "…") + " " + w.label + " still running: " +
                       duration_text(seconds(now - w.attempt_started));
    if (w.max_attempts > 1) text += ", attempt " + std::to_string(w.attempt) + "/" + std::to_string(w.max_attempts);
    if (w.items > 0) text += ", item " + std::to_string(w.item) + "/" + std::to_string(w.items);
    text += ", no output for " + duration_text(seconds(now - std::max(w.attempt_started, output)));
    text += w.timeout_seconds > 0 ? ", timeout " + duration_text(w.timeout_seconds) : ", no timeout";
    write_locked(text + "\n");
  }
}

}  // namespace kiln
