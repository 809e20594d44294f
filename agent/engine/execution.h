// Internal to the engine: one execution's running state and the parts of a step's
// flow. A step reads top-down (step.cpp): replay_finished, or evaluate_if ->
// run_attempts -> finish_step, passing one StepOutcome along; an attempt runs the
// action once per loop iteration (attempt.cpp); ExecuteDocument children run through
// run_child (child_document.cpp).
#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actions/action.h"
#include "agent/engine/engine.h"
#include "agent/engine/resolver.h"
#include "agent/report/run_log.h"
#include "agent/report/run_reporter.h"
#include "agent/report/status.h"
#include "agent/state/records.h"

namespace kiln {

using Clock = std::chrono::steady_clock;

struct Counters {
  int executed = 0, failed = 0, ignored = 0;
  void count(RunStatus status) {
    if (counts_as_executed(status)) ++executed;
    if (status == RunStatus::Failed) ++failed;
    if (status == RunStatus::IgnoredFailure) ++ignored;
  }
};

// One document being run: a top-level document, or an ExecuteDocument child.
struct DocumentRun {
  const Document& doc;
  const std::map<std::string, std::string>& variables;
  std::map<std::string, StepTrace> traces;  // "phase\nstep" -> inputs/outputs, for chaining
  std::string execution_id;
  int depth = 0;
  std::vector<std::string> ancestors;  // canonical paths of the documents above, and this one
  std::string key_prefix;              // journal keys of this document's steps start with this
  size_t document_index = 0;           // of a top-level document, for the RunPlan
};

// A step's or a document's record in detailedoutput.json, with its status as a value
// (the record spells it too; a replayed record whose status kiln cannot read has none).
struct Recorded {
  std::optional<RunStatus> status;
  nlohmann::json record;
};

// A step being run: what its parts share. Built in place (the scope points into it).
struct StepRun {
  DocumentRun& run;
  const StepSpec& spec;
  std::string key;          // its journal key
  StepLabel label;          // phase, step, action
  const StepState* before;  // what an earlier attempt left (a reboot or crash), or null
  StepTrace& trace;         // its inputs/outputs for later steps
  std::map<std::string, std::string> context;  // context: values (only for steps that use them)
  ResolveScope scope;
  Clock::time_point started = Clock::now();
};

// How a step ends, besides its status.
enum class StepEnd {
  Finished,
  RebootBefore,  // the machine reboots and the step runs again from its start
  RebootAfter,   // the step is done (a Reboot action); the machine reboots, then the next step runs
  Stopped,       // a signal or a state write error; the step runs again on resume
};

// What a step's parts decide, passed from one to the next.
struct StepOutcome {
  std::optional<RunStatus> status;  // unset until decided (Success, Failed or Skipped)
  StepEnd end = StepEnd::Finished;
  std::string failure;
  nlohmann::json record;  // the step's detailedoutput.json record
};

enum class AttemptEnd {
  Succeeded,
  Failed,       // may be retried
  FailedFinal,  // retrying cannot help (the action is missing, the reboot cap is reached)
  Reboot,       // a reboot was asked for before the step finished (exit 194, a looped Reboot)
  Stopped,
};

struct AttemptResult {
  AttemptEnd end = AttemptEnd::Succeeded;
  bool reboot_after_step = false;  // a Reboot action ran as the step's last iteration
  std::string failure;
  std::optional<int> exit_code;  // of the failed process, for the terminal
  bool timed_out = false;
  nlohmann::json inputs = nlohmann::json::array();
  nlohmann::json outputs = nlohmann::json::object();
  nlohmann::json loop;
  nlohmann::json detailed_output = nlohmann::json::array();  // one child run per (looped) ExecuteDocument
};

// The context: values that are facts about the host (the same for every step of a run);
// a step adds executionId, phase, step, and a fresh date, dateTime and uuid.
std::map<std::string, std::string> host_context(const std::string& platform);

class Execution {
 public:
  Execution(RunLog& log, const RunOptions& options, const std::atomic<bool>* cancel, RunPersistence persistence);

  bool aborted() const { return aborted_; }
  bool rebooting() const { return rebooting_; }
  bool interrupted() const { return cancel_ && cancel_->load(); }
  bool stopping() const { return rebooting_ || interrupted() || !journal_error_.empty() || !log_.write_error().empty(); }
  // Why the run stopped short, when it was not a reboot or a signal.
  std::string stop_reason() const { return !journal_error_.empty() ? journal_error_ : log_.write_error(); }
  const std::string& journal_error() const { return journal_error_; }
  const nlohmann::json& reboots() const { return reboots_; }
  size_t droppable_bytes() const { return droppable_bytes_; }
  RunReporter& reporter() { return reporter_; }
  const std::optional<StepPosition>& first_failed() const { return first_failed_; }

  // Appends a state record. A durable record is on disk before this returns; if it
  // cannot be written the run stops (it stays resumable once the disk has room).
  // Returns the record's JSON form, into which its large members were moved.
  nlohmann::json save(JournalRecord record, bool durable = true);

  // Runs one document; returns its record. `depth` 0 is a top-level document.
  Recorded run_document(DocumentRun& run, const std::vector<std::string>& phases, Counters& counters);
  nlohmann::json not_run_document_record(const Document& doc, const std::vector<std::string>& phases);

 private:
  RunStatus run_phase(DocumentRun& run, size_t phase_index, Counters& counters, nlohmann::json& phase_record,
                   bool& stopped);
  Recorded run_step(DocumentRun& run, const std::string& key, const std::string& phase, const StepSpec& step,
                          Counters& counters);
  Recorded replay_finished(StepRun& s, const StepState& before, Counters& counters);
  void evaluate_if(StepRun& s, StepOutcome& outcome);
  void run_attempts(StepRun& s, StepOutcome& outcome);
  Recorded finish_step(StepRun& s, StepOutcome& outcome, Counters& counters);
  static nlohmann::json base_record(const StepSpec& step);
  nlohmann::json left_out(const std::string& phase, const StepSpec& step, StepChoice choice);

  AttemptResult run_attempt(StepRun& s, int64_t attempt);  // attempt.cpp
  bool end_iteration(StepRun& s, ActionResult& action, const nlohmann::json& inputs, int64_t attempt, size_t i,
                     bool last, AttemptResult& result);
  ActionResult invoke(StepRun& s, const ActionEntry& entry, const nlohmann::json& inputs,
                      const std::optional<Clock::time_point>& deadline, int64_t attempt, size_t iteration);
  ChildDocumentResult run_child(DocumentRun& parent, const StepSpec& step, const std::string& key_prefix,
                                const ChildDocumentRequest& request);  // child_document.cpp

  const StepState* resumed(const std::string& key) const;
  std::map<std::string, std::string> context_for(const DocumentRun& run, const std::string& phase,
                                                 const std::string& step);
  // Records a reboot request; false when the cap is reached (the step then fails).
  bool request_reboot(StepRun& s, const std::string& reason, ResumeAt resume_at, int64_t attempt);
  std::string reboot_cap_message() const;

  RunLog& log_;
  RunReporter reporter_;
  const RunOptions& options_;
  const std::atomic<bool>* cancel_;
  RunPersistence persistence_;
  bool aborted_ = false;
  bool rebooting_ = false;
  std::string journal_error_;
  nlohmann::json reboots_ = nlohmann::json::array();
  int step_serial_ = 0;
  size_t droppable_bytes_ = 0;
  int document_serial_ = 0;
  std::optional<StepPosition> first_failed_;
  std::map<std::string, std::string> host_facts_;
  std::unique_ptr<ExternalValues> own_external_;  // AWS, unless the options bring their own
  ExternalValues* external_ = nullptr;
};

}  // namespace kiln
