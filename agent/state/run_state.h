// What a journal says about an execution, rebuilt by replaying its typed records
// (agent/state/records.h): which steps finished, the `if` verdicts, loop progress, child
// execution ids, reboots, and whether the run is over.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/state/records.h"

namespace kiln {

struct StepState {
  bool finished = false;
  nlohmann::json record;                      // the step's detailedoutput.json record
  bool ran = false;                           // its action ran (its outputs can be chained)
  std::optional<ConditionRecord> condition;   // the `if` verdict, once evaluated
  int64_t attempt = 0;                        // the attempt in flight (0: none started)
  std::vector<IterationRecord> iterations;    // finished iterations of that attempt
  std::string child_execution_id;
};

struct RunState {
  std::optional<RunHeader> header;
  std::map<std::string, StepState> steps;
  std::vector<RebootRecord> reboots;
  bool finished = false;
  bool awaiting_reboot = false;  // the last state change was a reboot request
  bool interrupted = false;      // stopped by a signal
  nlohmann::json summary;
  int exit_code = 0;

  // Unknown or malformed records are skipped (a newer kiln's record kinds).
  static RunState replay(const std::vector<nlohmann::json>& records);
  // The records worth keeping when the journal is compacted.
  static std::vector<nlohmann::json> compacted(const std::vector<nlohmann::json>& records);
};

}  // namespace kiln
