// What a journal says about an execution, rebuilt by replaying its records, plus the
// state-directory helpers (default location, one folder per execution, listing).
//
// Record types (field "type"):
//   header          executionId, args, fingerprint, cwd, logFolder, bootId, startTime
//   stepStarted     key, attempt                         (not flushed: diagnosis only)
//   condition       key, verdict, branch, detail         (an `if` is never re-evaluated)
//   iteration       key, attempt, index, inputs, outputs, detailedOutput (loop progress)
//   child           key, executionId                     (ExecuteDocument's child id)
//   stepFinished    key, record, ran                     (never run again)
//   reboot          key, reason, attempt, resumeAt ("same" step or "next"), time, bootId
//   stepInterrupted key, signal
//   runFinished     summary, exitCode
// A key names a step: "d<doc>/p<phase>/s<step>", and for a step of a child document
// "<parent key>#<iteration>>p<phase>/s<step>".
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

struct StepState {
  bool finished = false;
  nlohmann::json record;                  // the step's detailedoutput.json record
  bool ran = false;                       // its action ran (its outputs can be chained)
  std::optional<nlohmann::json> condition;  // {verdict, branch, detail}
  int64_t attempt = 0;                    // the attempt in flight (0: none started)
  std::vector<nlohmann::json> iterations; // finished iterations of that attempt
  std::string child_execution_id;
};

struct RunState {
  nlohmann::json header;
  std::map<std::string, StepState> steps;
  std::vector<nlohmann::json> reboots;
  bool finished = false;
  bool awaiting_reboot = false;  // the last state change was a reboot request
  bool interrupted = false;      // stopped by a signal
  nlohmann::json summary;
  int exit_code = 0;

  static RunState replay(const std::vector<nlohmann::json>& records);
  // The records worth keeping when the journal is compacted.
  static std::vector<nlohmann::json> compacted(const std::vector<nlohmann::json>& records);
  // Whether a record of this type survives compaction ("stepStarted" and "iteration" do not).
  static bool kept_by_compaction(const std::string& type);
};

// The default --state-directory: /var/lib/kiln/state for root, else
// $XDG_STATE_HOME/kiln (or ~/.local/state/kiln). KILN_STATE_DIRECTORY overrides both.
std::string default_state_directory();
// The folder of one execution inside a state directory.
std::string execution_folder(const std::string& state_directory, const std::string& execution_id);
// Execution folders in a state directory (those with a journal).
std::vector<std::string> list_executions(const std::string& state_directory);
// Refuses a state directory other users can write to (they could plant records).
std::string check_state_directory(const std::string& state_directory);
// A one-line summary of an execution kept beside its journal (`status`), so that finding
// the execution to resume, or whether any is unfinished, does not read every journal.
// It is a hint: the journal stays the truth, and a missing status file means "read it".
struct ExecutionStatus {
  std::string status;    // running | awaitingReboot | interrupted | finished ("" if unknown)
  std::string identity;  // SHA-256 of the documents and arguments
};
void write_execution_status(const std::string& folder, const ExecutionStatus& status);
ExecutionStatus read_execution_status(const std::string& folder);

// This boot's id (/proc/sys/kernel/random/boot_id), to tell a reboot from a crash.
std::string current_boot_id();

}  // namespace kiln
