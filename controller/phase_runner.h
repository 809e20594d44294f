// Drives one target through a run: prepare it (agent, documents), run each phase as its own
// `kiln run --reboot-mode exit` (or, on a target that reboots for real and lets the agent do
// it, `--reboot-mode system`: then wait for each reboot and follow `kiln status` until the
// execution is finished), ride through reboot requests (exit 194) and dropped
// connections by re-running the same command line (kiln resumes from its journal), bring
// the log folders back, and report. A later `--targets FILE` calls run_target() once per
// target (each with its own Target and printer prefix) and tabulates the TargetReports.
#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "controller/exit_code.h"
#include "controller/options.h"
#include "controller/target.h"

namespace kiln::ctl {

enum class PhaseStatus { Success, Failed, NotRun };

struct PhaseReport {
  std::string phase;
  PhaseStatus status = PhaseStatus::NotRun;
  std::chrono::milliseconds duration{0};
  int reboots = 0;
  int reconnects = 0;
  std::string failing_step;     // "phase.step" from the fetched detailedoutput.json
  std::string failure_message;  // kiln's summary "failureMessage"
  std::string log_folder;       // TOE_... folder name (under LOGS/<target>/)
};

struct TargetReport {
  std::string target;
  ExitCode exit_code = ExitCode::Success;
  std::string message;  // why, when not Success
  std::vector<PhaseReport> phases;
  std::chrono::milliseconds duration{0};
};

// Prints "[target] line" lines; one mutex per process so parallel targets do not interleave
// within a line.
class Printer {
 public:
  explicit Printer(std::string prefix) : prefix_("[" + std::move(prefix) + "] ") {}
  void line(std::string_view text);
  void chunk(std::string_view text);  // whole lines (the sink's contract); each gets the prefix
 private:
  std::string prefix_;
  static std::mutex mutex_;
};

// Whether run_target() connects the target first and disconnects it at the end (one run),
// or finds it connected and leaves it so (the image pipeline runs one component after
// another in the same booted root).
enum class ConnectionUse { OpenAndClose, AlreadyOpen };

TargetReport run_target(Target& target, const RunOptions& options, const std::string& run_id,
                        ConnectionUse connection = ConnectionUse::OpenAndClose);

const char* exit_code_text(ExitCode code);  // "success", "failed", "unreachable", ...

std::string format_report(const TargetReport& report);  // the summary printed at the end

}  // namespace kiln::ctl
