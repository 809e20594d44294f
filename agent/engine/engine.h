// The engine: runs validated documents phase by phase, step by step: `if`, loop
// expansion, {{ }} resolution, attempts with a timeout, the action, then onFailure.
// It records everything in the run log and returns the end-of-run summary.
#pragma once
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/document/diagnostic.h"
#include "agent/document/model.h"
#include "agent/state/run_journal.h"
#include "agent/state/run_state.h"

namespace kiln {

struct RunOptions {
  std::vector<std::string> phases;                // empty: every phase
  std::map<std::string, std::string> parameters;  // --parameters or the config's global list
  std::string execution_id;
  std::string log_directory = ".";
  std::string platform;
  std::set<std::string> blocked_actions;          // --blocked-action-modules
  bool trace = false;
  bool progress = false;                          // show steps as they run (a terminal)
  int max_reboots = 10;                           // --max-reboots: more fail the run
};

// Where the run keeps its crash-safe state, and what an earlier attempt left.
struct RunPersistence {
  RunJournal* journal = nullptr;      // null: no state kept (not used by the CLI)
  const RunState* resume = nullptr;   // the replayed journal when resuming
  nlohmann::json header;              // written first when the journal is new
};

struct DocumentToRun {
  Document document;
  std::map<std::string, std::string> parameters;  // the config file's per-document list
};

struct RunOutcome {
  int exit_code = 0;  // 0 success, 1 failed (or stopped), 2 bad arguments, 3 document refused, 194 reboot
  bool rebooting = false;   // state saved; the machine should reboot and the run resume
  bool finished = false;    // the execution is over (nothing to resume)
  std::string log_folder;
  nlohmann::json summary;
  Diagnostics diagnostics;  // why nothing ran (exit codes 2 and 3)
};

// Checks what validation cannot: that every action the selected phases use is
// implemented here and not blocked, and that every parameter has a value.
Diagnostics check_runnable(const Document& document, const std::vector<std::string>& phases,
                           const std::set<std::string>& blocked_actions);

// Runs the documents in order. `cancel` is raised by SIGINT/SIGTERM.
RunOutcome run_documents(std::vector<DocumentToRun>& documents, const RunOptions& options,
                         const std::atomic<bool>* cancel, RunPersistence persistence = {});

}  // namespace kiln
