// The statuses of steps, phases, documents and runs, as AWSTOE's JSON spells them.
// Everything inside kiln passes these as values; the strings exist only at the edges
// (detailedoutput.json, events.jsonl, the summary and the journal).
#pragma once
#include <optional>
#include <string_view>

namespace kiln {

enum class RunStatus {
  Success,
  Failed,
  IgnoredFailure,             // a step that failed with onFailure: Ignore
  Skipped,                    // a step whose `if` chose Skip
  NotRun,                     // after an Abort, or never reached
  SuccessWithIgnoredFailure,  // a phase/document/run holding an ignored failure
  Interrupted,                // stopped by a signal or a state write error; resumable
  Rebooting,                  // waiting for a reboot; resumes afterwards
};

std::string_view status_name(RunStatus status);
std::optional<RunStatus> parse_status(std::string_view name);

// Whether a step with this status counts as executed in the summary.
inline bool counts_as_executed(RunStatus s) { return s != RunStatus::Skipped && s != RunStatus::NotRun; }

// Aggregates children's statuses into a phase/document/run status.
class StatusTally {
 public:
  void add(RunStatus s) {
    if (s == RunStatus::Failed) failed_ = true;
    if (s == RunStatus::IgnoredFailure || s == RunStatus::SuccessWithIgnoredFailure) ignored_ = true;
  }
  bool failed() const { return failed_; }
  RunStatus status() const {
    return failed_ ? RunStatus::Failed : ignored_ ? RunStatus::SuccessWithIgnoredFailure : RunStatus::Success;
  }

 private:
  bool failed_ = false, ignored_ = false;
};

}  // namespace kiln
