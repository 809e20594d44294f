#include "controller/phase_runner.h"

#include "controller/document_files.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

namespace kiln::ctl {

std::mutex Printer::mutex_;

void Printer::line(std::string_view text) {
  std::lock_guard lock(mutex_);
  std::string out = prefix_ + std::string(text) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void Printer::chunk(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    auto newline = text.find('\n');
    std::string_view piece = text.substr(0, newline);
    out += prefix_;
    out += piece;
    out += '\n';
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  std::lock_guard lock(mutex_);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

ExitCode exit_code_for(TargetFailure failure) {
  switch (failure) {
    case TargetFailure::None:
      return ExitCode::Success;
    case TargetFailure::Unreachable:
    case TargetFailure::ConnectionLost:  // lost for good: reconnect() already gave up
      return ExitCode::Unreachable;
    case TargetFailure::Authentication:
      return ExitCode::AuthenticationFailed;
    case TargetFailure::Cancelled:
      return ExitCode::Interrupted;
    case TargetFailure::Other:
      return ExitCode::TargetError;
  }
  return ExitCode::TargetError;
}

const char* status_text(PhaseStatus status) {
  switch (status) {
    case PhaseStatus::Success:
      return "success";
    case PhaseStatus::Failed:
      return "failed";
    case PhaseStatus::NotRun:
      return "not run";
  }
  return "?";
}

// kiln's summary: the JSON object on its stdout (null when there is none).
json summary_from(const std::string& stdout_text) {
  auto open = stdout_text.find('{');
  if (open == std::string::npos) return nullptr;
  json parsed = json::parse(stdout_text.substr(open), nullptr, false);
  return parsed.is_object() ? parsed : json(nullptr);
}

std::string string_field(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return {};
  return object[key].get<std::string>();
}

// The first failed step in a TOE detailedoutput.json, as "phase.step".
std::string failing_step_in(const json& node, const std::string& phase) {
  if (node.is_array()) {
    for (const auto& item : node)
      if (auto found = failing_step_in(item, phase); !found.empty()) return found;
    return {};
  }
  if (!node.is_object()) return {};
  if (node.contains("steps")) {
    std::string name = string_field(node, "name");
    for (const auto& step : node["steps"])
      if (string_field(step, "status") == "failed") return name + "." + string_field(step, "name");
    return {};
  }
  for (const char* key : {"documents", "phases"})
    if (node.contains(key))
      if (auto found = failing_step_in(node[key], phase); !found.empty()) return found;
  return {};
}

class PhaseDriver {
 public:
  PhaseDriver(Target& target, const RunOptions& options, Printer& out, std::string agent, std::string work,
              std::vector<std::string> documents, std::string run_id)
      : target_(target),
        options_(options),
        out_(out),
        agent_(std::move(agent)),
        work_(std::move(work)),
        documents_(std::move(documents)),
        run_id_(std::move(run_id)) {}

  // Runs one phase to its end; returns the exit code that stops the run (Success: go on).
  ExitCode run(PhaseReport& report, std::string& message) {
    const auto started = Clock::now();
    const std::string execution_id = run_id_ + "-" + report.phase;
    const std::string command = phase_command(report.phase, execution_id);
    const auto timeout = std::chrono::seconds(options_.reboot_timeout_seconds);
    auto progress = [&](std::string_view text) { out_.line(text); };
    auto finish = [&](ExitCode code) {
      report.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      return code;
    };
    out_.line("phase " + report.phase + ": " + agent_ + " run ... --execution-id " + execution_id);
    if (target_.agent_reboot_mode() == "system") return finish(run_rebooting_itself(report, command, execution_id, message));
    for (;;) {
      std::string stdout_text;
      CommandOutcome outcome = target_.run(command, [&](sys::OutputStream stream, std::string_view text) {
        if (stream == sys::OutputStream::Stdout) stdout_text.append(text);
        out_.chunk(text);
      });
      if (outcome.status.failure == TargetFailure::ConnectionLost) {
        if (++report.reconnects + report.reboots > options_.max_reboots) {
          message = "connection lost " + std::to_string(report.reconnects) + " times in phase " + report.phase;
          return finish(ExitCode::Unreachable);
        }
        out_.line("connection lost during phase " + report.phase + "; reconnecting to resume it");
        if (TargetStatus back = target_.reconnect(timeout, progress); !back.ok()) {
          message = back.message;
          return finish(exit_code_for(back.failure));
        }
        if (ExitCode waited = wait_until_released(execution_id, message); waited != ExitCode::Success)
          return finish(waited);
        continue;
      }
      if (!outcome.status.ok()) {
        message = outcome.status.message;
        return finish(exit_code_for(outcome.status.failure));
      }
      if (outcome.exit_code == 194) {
        if (++report.reboots + report.reconnects > options_.max_reboots) {
          message = "more than " + std::to_string(options_.max_reboots) + " reboots in phase " + report.phase;
          report.status = PhaseStatus::Failed;
          return finish(ExitCode::Failed);
        }
        out_.line("the agent asked for a reboot (exit 194), reboot " + std::to_string(report.reboots));
        if (TargetStatus back = target_.reboot_and_wait(timeout, progress); !back.ok()) {
          message = back.message;
          return finish(exit_code_for(back.failure));
        }
        out_.line("the target is back; resuming phase " + report.phase);
        if (ExitCode waited = wait_until_released(execution_id, message); waited != ExitCode::Success)
          return finish(waited);
        continue;
      }
      // 2 is also what a second kiln gets while the first still holds the execution's lock
      // (a connection dropped but the agent went on): wait for it, then run again.
      if (outcome.exit_code == 2 && execution_running(execution_id)) {
        if (ExitCode waited = wait_until_released(execution_id, message); waited != ExitCode::Success)
          return finish(waited);
        continue;
      }
      return finish(finished(report, outcome.exit_code, stdout_text, message));
    }
  }

 private:
  std::string phase_command(const std::string& phase, const std::string& execution_id) const {
    std::string joined;
    for (const auto& document : documents_) joined += (joined.empty() ? "" : ",") + document;
    std::string command = "cd " + shell_quote(work_) + " && exec " + shell_quote(agent_) + " run --documents " +
                          shell_quote(joined) + " --phases " + shell_quote(phase) + " --execution-id " +
                          shell_quote(execution_id) + " --reboot-mode " + target_.agent_reboot_mode() +
                          " --log-directory " +
                          shell_quote(work_ + "/logs") + " --state-directory " + shell_quote(work_ + "/state");
    if (!options_.parameters.empty()) command += " --parameters " + shell_quote(options_.parameters);
    return command;
  }

  // --reboot-mode system: kiln reboots the target itself (exit 194, or killed as the target
  // goes down); its resume unit runs `kiln resume` at boot. kilnctl waits for the target to
  // come back and follows the execution in `kiln status` until it is finished.
  ExitCode run_rebooting_itself(PhaseReport& report, const std::string& command, const std::string& execution_id,
                                std::string& message) {
    const auto timeout = std::chrono::seconds(options_.reboot_timeout_seconds);
    auto progress = [&](std::string_view text) { out_.line(text); };
    std::string stdout_text;
    CommandOutcome outcome = target_.run(command, [&](sys::OutputStream stream, std::string_view text) {
      if (stream == sys::OutputStream::Stdout) stdout_text.append(text);
      out_.chunk(text);
    });
    if (!outcome.status.ok() && outcome.status.failure != TargetFailure::ConnectionLost) {
      message = outcome.status.message;
      return exit_code_for(outcome.status.failure);
    }
    if (outcome.status.ok() && outcome.exit_code != 194) return finished(report, outcome.exit_code, stdout_text, message);
    for (;;) {
      int reboots = 0;
      out_.line("the agent is rebooting the target; waiting for it to come back");
      TargetStatus back = target_.wait_for_reboot(timeout, progress, reboots);
      report.reboots += reboots;
      if (!back.ok()) {
        message = back.message;
        return exit_code_for(back.failure);
      }
      if (report.reboots > options_.max_reboots) {
        message = "more than " + std::to_string(options_.max_reboots) + " reboots in phase " + report.phase;
        report.status = PhaseStatus::Failed;
        return ExitCode::Failed;
      }
      out_.line("the target is back after reboot " + std::to_string(report.reboots) +
                "; following execution " + execution_id);
      const auto deadline = Clock::now() + timeout;
      for (;;) {
        json execution;
        TargetStatus asked = execution_status(execution_id, execution);
        if (asked.failure == TargetFailure::ConnectionLost) break;  // down again: another reboot
        if (!asked.ok()) {
          message = asked.message;
          return exit_code_for(asked.failure);
        }
        const std::string status = string_field(execution, "status");
        if (status == "awaitingReboot") break;  // the resumed agent asked for another reboot
        if (status == "running") {
          if (Clock::now() >= deadline) {
            message = "execution " + execution_id + " still running after " + std::to_string(timeout.count()) + " s";
            return ExitCode::Failed;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        report.log_folder = std::filesystem::path(string_field(execution, "logFolder")).filename().string();
        if (status == "success" || status == "successWithIgnoredFailure") {
          report.status = PhaseStatus::Success;
          out_.line("execution " + execution_id + ": " + status + " after " + std::to_string(report.reboots) +
                    " reboots");
          return ExitCode::Success;
        }
        report.status = PhaseStatus::Failed;
        message = "phase " + report.phase + " " +
                  (status.empty() ? std::string("unknown to kiln status") : "ended '" + status + "'") +
                  " after a reboot (execution " + execution_id + ")";
        return ExitCode::Failed;
      }
    }
  }

  ExitCode finished(PhaseReport& report, int exit_code, const std::string& stdout_text, std::string& message) {
    if (exit_code == 127) {
      message = "agent missing: no kiln at '" + agent_ + "' on the target (pass --install PATH)";
      return ExitCode::AgentMissing;
    }
    json summary = summary_from(stdout_text);
    report.failure_message = string_field(summary, "failureMessage");
    report.log_folder = std::filesystem::path(string_field(summary, "logUrl")).filename().string();
    report.status = exit_code == 0 ? PhaseStatus::Success : PhaseStatus::Failed;
    if (exit_code != 0) {
      message = "phase " + report.phase + " failed (kiln exited " + std::to_string(exit_code) + ")";
      return ExitCode::Failed;
    }
    return ExitCode::Success;
  }

  // The execution's entry in `kiln status --format json` (null when it is not listed).
  TargetStatus execution_status(const std::string& execution_id, json& found) {
    std::string text;
    CommandOutcome listed = target_.run(
        shell_quote(agent_) + " status --state-directory " + shell_quote(work_ + "/state") + " --format json",
        [&](sys::OutputStream stream, std::string_view chunk) {
          if (stream == sys::OutputStream::Stdout) text.append(chunk);
        });
    if (!listed.status.ok()) return listed.status;
    if (listed.exit_code != 0)
      return TargetStatus::fail(TargetFailure::Other, "kiln status exited " + std::to_string(listed.exit_code));
    json executions = json::parse(text, nullptr, false);
    found = nullptr;
    if (executions.is_array())
      for (const auto& execution : executions)
        if (string_field(execution, "executionId") == execution_id) found = execution;
    return {};
  }

  // Whether the agent reports the execution as held by a running process (its lock).
  bool execution_running(const std::string& execution_id) {
    json execution;
    return execution_status(execution_id, execution).ok() && string_field(execution, "status") == "running";
  }

  // A kiln left running by a dropped connection still holds the execution: wait for it.
  ExitCode wait_until_released(const std::string& execution_id, std::string& message) {
    const auto deadline = Clock::now() + std::chrono::seconds(options_.reboot_timeout_seconds);
    bool said = false;
    while (execution_running(execution_id)) {
      if (!said) out_.line("the previous agent still runs execution " + execution_id + "; waiting for it");
      said = true;
      if (Clock::now() >= deadline) {
        message = "execution " + execution_id + " still held by another agent process";
        return ExitCode::Failed;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return ExitCode::Success;
  }

  Target& target_;
  const RunOptions& options_;
  Printer& out_;
  std::string agent_, work_;
  std::vector<std::string> documents_;
  std::string run_id_;
};

}  // namespace

const char* exit_code_text(ExitCode code) {
  switch (code) {
    case ExitCode::Success:
      return "success";
    case ExitCode::Failed:
      return "failed";
    case ExitCode::Usage:
      return "usage error";
    case ExitCode::Unreachable:
      return "unreachable";
    case ExitCode::AuthenticationFailed:
      return "authentication failed";
    case ExitCode::AgentMissing:
      return "agent missing";
    case ExitCode::TargetError:
      return "target error";
    case ExitCode::TestFailed:
      return "test failed";
    case ExitCode::Interrupted:
      return "interrupted";
  }
  return "?";
}

TargetReport run_target(Target& target, const RunOptions& options, const std::string& run_id,
                        ConnectionUse connection) {
  const auto started = Clock::now();
  TargetReport report;
  report.target = target.name();
  Printer out(target.name());
  for (const auto& phase : options.phases) {
    report.phases.emplace_back();
    report.phases.back().phase = phase;
  }
  auto stop = [&](ExitCode code, const std::string& message) {
    report.exit_code = code;
    report.message = message;
    out.line("error: " + message);
  };
  const std::string work = options.work_directory + "/" + run_id;
  auto body = [&]() -> bool {
    if (connection == ConnectionUse::OpenAndClose)
      if (TargetStatus connected = target.connect(); !connected.ok()) {
        stop(exit_code_for(connected.failure), connected.message);
        return false;
      }
    std::string agent = options.agent;
    if (agent.empty()) agent = options.install.empty() ? "kiln" : options.work_directory + "/bin/kiln";
    if (!options.install.empty()) {
      if (TargetStatus copied = target.upload(options.install, agent); !copied.ok()) {
        stop(exit_code_for(copied.failure), copied.message);
        return false;
      }
    }
    // A missing agent is found by the first phase (the shell's 127), not by a check of its
    // own: one ssh session less per run.
    // The documents and the child documents they reference by relative paths, laid out
    // on the target as here so that those references resolve the same way.
    DocumentFiles files = document_files(options.documents);
    for (const auto& warning : files.warnings) out.line("warning: " + warning);
    for (const auto& file : files.files) {
      if (TargetStatus copied = target.upload(file.local, work + "/documents/" + file.relative); !copied.ok()) {
        stop(exit_code_for(copied.failure), copied.message);
        return false;
      }
    }
    std::vector<std::string> remote_documents;
    for (const auto& relative : files.documents) remote_documents.push_back(work + "/documents/" + relative);
    PhaseDriver driver(target, options, out, agent, work, remote_documents, run_id);
    for (auto& phase : report.phases) {
      std::string message;
      ExitCode code = driver.run(phase, message);
      if (code != ExitCode::Success) {
        stop(code, message);
        return code != ExitCode::AgentMissing;  // the agent ran: its logs are worth fetching
      }
    }
    return true;
  };
  bool fetch_logs = body();
  if (fetch_logs && report.exit_code != ExitCode::Interrupted) {
    const std::string local = options.logs + "/" + target.name();
    if (TargetStatus fetched = target.download_folder(work + "/logs", local); !fetched.ok()) {
      out.line("warning: logs not copied back: " + fetched.message);
    } else {
      out.line("logs copied to " + local + "/");
      for (auto& phase : report.phases) {
        if (phase.status != PhaseStatus::Failed || phase.log_folder.empty()) continue;
        std::ifstream detail(local + "/" + phase.log_folder + "/detailedoutput.json");
        json parsed = json::parse(detail, nullptr, false);
        phase.failing_step = failing_step_in(parsed, "");
      }
    }
  }
  if (connection == ConnectionUse::OpenAndClose) target.disconnect();
  report.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return report;
}

std::string format_report(const TargetReport& report) {
  auto seconds = [](std::chrono::milliseconds duration) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f s", static_cast<double>(duration.count()) / 1000.0);
    return std::string(text);
  };
  std::string out = "kilnctl: " + report.target + ": " + exit_code_text(report.exit_code) + " in " +
                    seconds(report.duration) + (report.message.empty() ? "" : " (" + report.message + ")") + "\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %-12s %-8s %10s  %7s  %10s  %s\n", "PHASE", "STATUS", "DURATION", "REBOOTS",
                "RECONNECTS", "FAILING STEP");
  out += line;
  for (const auto& phase : report.phases) {
    std::string failing = phase.failing_step;
    if (!phase.failure_message.empty()) failing += (failing.empty() ? "" : ": ") + phase.failure_message;
    std::snprintf(line, sizeof line, "  %-12s %-8s %10s  %7d  %10d  %s\n", phase.phase.c_str(),
                  status_text(phase.status),
                  phase.status == PhaseStatus::NotRun ? "-" : seconds(phase.duration).c_str(), phase.reboots,
                  phase.reconnects, failing.c_str());
    out += line;
  }
  return out;
}

}  // namespace kiln::ctl
