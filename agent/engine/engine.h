// The engine: runs prepared documents phase by phase, step by step: `if`, loop
// expansion, {{ }} resolution, attempts with a timeout, the action, then onFailure.
// It reaches actions only through the ActionTable it is given, records every state
// change in the journal (agent/state) and the run log (agent/report), and returns the
// end-of-run summary.
#pragma once
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "actions/action.h"
#include "agent/document/diagnostic.h"
#include "agent/document/model.h"
#include "agent/engine/plan.h"
#include "agent/engine/resolver.h"
#include "agent/state/records.h"
#include "agent/state/run_journal.h"
#include "agent/state/run_state.h"

namespace kiln {

struct RunOptions {
  std::vector<std::string> phases;                // empty: every phase
  std::string execution_id;
  std::string log_directory = ".";
  std::string platform;
  std::set<std::string> blocked_actions;          // --blocked-action-modules
  bool strict = false;                            // --strict reaches child documents too
  bool warnings_as_errors = false;                // and so does --warnings-as-errors
  bool trace = false;
  bool progress = false;                          // show steps as they run (a terminal)
  int max_reboots = 10;                           // --max-reboots: more fail the run
  int64_t max_log_size = -1;                      // --max-log-size in bytes; 0: none; -1: the default
  const ActionTable* actions = nullptr;           // what steps can run (required)
  LogDestinations log_destinations;               // --log-s3-*, --cw-*
  std::string document_s3_bucket_owner;          // reaches ExecuteDocument's s3:// children
  ExternalValues* external_values = nullptr;      // aws:ssm / aws:imds; null: AWS (tests inject)
  const RunPlan* plan = nullptr;                  // --steps / --start-at / --outputs-from; null: every step
};

// Where the run keeps its crash-safe state, and what an earlier attempt left.
struct RunPersistence {
  RunJournal* journal = nullptr;      // null: no state kept (engine tests)
  const RunState* resume = nullptr;   // the replayed journal when resuming
  RunHeader header;                   // written first when the journal is new
};

// A document ready to run: validated, runnable, its parameters bound.
struct DocumentToRun {
  Document document;
  std::map<std::string, std::string> variables;
};

struct RunOutcome {
  int exit_code = 0;  // 0 success, 1 failed (or stopped), 194 reboot
  bool rebooting = false;   // state saved; the machine should reboot and the run resume
  bool finished = false;    // the execution is over (nothing to resume)
  std::string log_folder;
  nlohmann::json summary;
  Diagnostics diagnostics;  // why nothing ran (the log folder could not be made)
  std::optional<StepPosition> failed_step;  // the first top-level step that failed (for the re-run hint)
};

// Runs the documents in order. `cancel` is raised by SIGINT/SIGTERM.
RunOutcome run_documents(std::vector<DocumentToRun>& documents, const RunOptions& options,
                         const std::atomic<bool>* cancel, RunPersistence persistence = {});

}  // namespace kiln
