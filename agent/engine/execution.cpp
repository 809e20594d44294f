// The document and phase level of a run, the journal writes and the reboot bookkeeping.
#include <filesystem>

#include "agent/base/time.h"
#include "agent/engine/execution.h"
#include "agent/engine/remote_access.h"
#include "agent/engine/run_setup.h"
#include "agent/sys/host.h"

namespace kiln {

Execution::Execution(RunLog& log, const RunOptions& options, const std::atomic<bool>* cancel,
                     RunPersistence persistence)
    : log_(log), reporter_(log, options.progress, TerminalStyle::from_environment(options.trace)), options_(options), cancel_(cancel), persistence_(persistence) {
  external_ = options.external_values;
  if (!external_) external_ = (own_external_ = std::make_unique<AwsExternalValues>(log.masker())).get();
  if (persistence_.resume)
    for (const auto& r : persistence_.resume->reboots)
      reboots_.push_back({{"time", r.time}, {"step", r.step}, {"reason", r.reason}});
}

nlohmann::json Execution::save(JournalRecord record, bool durable) {
  bool kept = kept_by_compaction(record);
  nlohmann::json json = to_json(std::move(record));
  if (!persistence_.journal || !journal_error_.empty()) return json;
  // Secrets stay out of the state too (a chained secret output is masked after a resume).
  const SecretMasker& masker = log_.masker();
  size_t before = persistence_.journal->bytes();
  std::string error = persistence_.journal->append(masker.empty() ? json : masker.mask_json(json), durable);
  if (!kept) droppable_bytes_ += persistence_.journal->bytes() - before;
  if (!error.empty()) {
    journal_error_ = error;
    log_.application("error", error);
    log_.console("Error", "", error);
  }
  return json;
}

const StepState* Execution::resumed(const std::string& key) const {
  if (!persistence_.resume) return nullptr;
  auto it = persistence_.resume->steps.find(key);
  return it == persistence_.resume->steps.end() ? nullptr : &it->second;
}

Recorded Execution::run_document(DocumentRun& run, const std::vector<std::string>& phases,
                                       Counters& counters) {
  const Document& doc = run.doc;
  nlohmann::json record = {{"name", doc.name},   {"filePath", doc.source.path},  {"description", doc.description},
                           {"status", status_name(RunStatus::Success)}, {"startTime", utc_timestamp()}, {"endTime", ""},
                           {"failureMessage", ""}, {"phases", nlohmann::json::array()}};
  reporter_.document_started(doc.source.path, run.execution_id);
  StatusTally tally;
  bool stopped = false;  // an Abort, a reboot, or a signal inside this document
  for (size_t pi = 0; pi < doc.phases.size(); ++pi) {
    const PhaseSpec& phase = doc.phases[pi];
    if (!phase_selected(phases, phase.name)) continue;
    nlohmann::json phase_record = {{"name", phase.name}, {"status", status_name(RunStatus::Success)}, {"startTime", utc_timestamp()},
                                   {"endTime", ""},      {"failureMessage", ""}, {"steps", nlohmann::json::array()}};
    RunStatus status = run_phase(run, pi, counters, phase_record, stopped);
    phase_record["status"] = status_name(status);
    tally.add(status);
    record["phases"].push_back(std::move(phase_record));
  }
  RunStatus status = stopping() ? (rebooting_ ? RunStatus::Rebooting : RunStatus::Interrupted) : tally.status();
  record["status"] = status_name(status);
  record["endTime"] = utc_timestamp();
  if (tally.failed()) record["failureMessage"] = "Document " + doc.source.path + " failed!";
  if (stopped && run.depth == 0 && !stopping()) aborted_ = true;
  reporter_.document_finished(doc.source.path, status);
  return {status, std::move(record)};
}

// Runs the steps of one phase (or records them notRun once the document has stopped).
RunStatus Execution::run_phase(DocumentRun& run, size_t pi, Counters& counters, nlohmann::json& phase_record,
                            bool& stopped) {
  const PhaseSpec& phase = run.doc.phases[pi];
  bool was_stopped = stopped;
  if (!was_stopped) reporter_.phase_started(run.doc.source.path, phase.name);
  StatusTally tally;
  for (size_t si = 0; si < phase.steps.size(); ++si) {
    const StepSpec& step = phase.steps[si];
    // Left out by --steps / --start-at: reported skipped, never journaled (the plan is
    // made again from the header on resume, so it leaves out the same steps).
    if (run.depth == 0 && options_.plan)
      if (StepChoice choice = options_.plan->choice(run.document_index, pi, si); choice != StepChoice::Run) {
        phase_record["steps"].push_back(left_out(phase.name, step, choice));
        continue;
      }
    if (stopped) {
      phase_record["steps"].push_back(base_record(step));
      continue;
    }
    std::string key = run.key_prefix + "p" + std::to_string(pi) + "/s" + std::to_string(si);
    auto [status, step_record] = run_step(run, key, phase.name, step, counters);
    if (status) tally.add(*status);
    if (status == RunStatus::Failed && run.depth == 0 && !first_failed_)
      first_failed_ = StepPosition{run.document_index, pi, si};
    if (status == RunStatus::Failed && step.on_failure == OnFailure::Abort) {
      stopped = true;
      phase_record["failureMessage"] = "step " + step.name + " failed";
    }
    if (stopping()) stopped = true;
    phase_record["steps"].push_back(std::move(step_record));
  }
  phase_record["endTime"] = utc_timestamp();
  if (was_stopped) return RunStatus::NotRun;
  if (tally.failed() && phase_record["failureMessage"] == "") phase_record["failureMessage"] = "one or more steps failed";
  reporter_.phase_finished(phase.name, tally.status());
  return tally.status();
}

nlohmann::json Execution::not_run_document_record(const Document& doc, const std::vector<std::string>& phases) {
  nlohmann::json record = {{"name", doc.name},       {"filePath", doc.source.path}, {"description", doc.description},
                           {"status", status_name(RunStatus::NotRun)}, {"startTime", ""},             {"endTime", ""},
                           {"failureMessage", ""},   {"phases", nlohmann::json::array()}};
  for (const auto& phase : doc.phases) {
    if (!phase_selected(phases, phase.name)) continue;
    nlohmann::json p = {{"name", phase.name}, {"status", status_name(RunStatus::NotRun)}, {"startTime", ""},
                        {"endTime", ""},      {"failureMessage", ""}, {"steps", nlohmann::json::array()}};
    for (const auto& step : phase.steps) p["steps"].push_back(base_record(step));
    record["phases"].push_back(std::move(p));
  }
  return record;
}

nlohmann::json Execution::left_out(const std::string& phase, const StepSpec& step, StepChoice choice) {
  nlohmann::json record = base_record(step);
  record["status"] = status_name(RunStatus::Skipped);
  std::string reason = "not selected (" + std::string(step_choice_flag(choice)) + ")";
  record["skipReason"] = reason;  // kiln's: why a step of a debugging run did not run
  reporter_.step_finished({phase, step.name, step.action}, RunStatus::Skipped, 0, reason);
  return record;
}

nlohmann::json Execution::base_record(const StepSpec& step) {
  // Assigned one by one: an initializer list builds a temporary array per pair.
  nlohmann::json r = nlohmann::json::object();
  r["name"] = step.name;
  r["action"] = step.action;
  r["status"] = status_name(RunStatus::NotRun);
  r["failureMessage"] = "";
  r["timeoutSeconds"] = step.timeout_seconds;
  r["onFailure"] = on_failure_name(step.on_failure);
  r["maxAttempts"] = step.max_attempts;
  r["attempts"] = 0;
  r["startTime"] = "";
  r["endTime"] = "";
  r["inputs"] = "[]";
  r["outputs"] = "[]";
  r["loop"] = nullptr;
  r["detailedOutput"] = nullptr;
  return r;
}

std::map<std::string, std::string> host_context(const std::string& platform) {
  const char* region = std::getenv("AWS_REGION");
  if (!region) region = std::getenv("AWS_DEFAULT_REGION");
  return {{"accountId", ""},
          {"region", region ? region : ""},
          {"osPlatform", platform},
          {"osName", sys::os_release_field("NAME")},
          {"osVersion", sys::os_release_field("VERSION_ID")},
          {"hostname", sys::hostname()}};
}

// The context: values of a step. Facts about the host are read once per run; date,
// time and uuid are fresh for every step.
std::map<std::string, std::string> Execution::context_for(const DocumentRun& run, const std::string& phase,
                                                          const std::string& step) {
  if (host_facts_.empty()) host_facts_ = host_context(options_.platform);
  std::map<std::string, std::string> context = host_facts_;
  context["executionId"] = run.execution_id;
  context["date"] = utc_date();
  context["dateTime"] = utc_timestamp();
  context["uuid"] = sys::random_uuid();
  context["phase"] = phase;
  context["step"] = step;
  return context;
}

bool Execution::request_reboot(StepRun& s, const std::string& reason, ResumeAt resume_at, int64_t attempt) {
  if (static_cast<int>(reboots_.size()) >= options_.max_reboots) return false;
  RebootRecord r{s.key, s.spec.name, reason, resume_at, attempt, utc_timestamp(), sys::boot_id()};
  save(r);
  reboots_.push_back({{"time", r.time}, {"step", r.step}, {"reason", reason}});
  rebooting_ = true;
  reporter_.reboot_requested(s.label, reason);
  return true;
}

std::string Execution::reboot_cap_message() const {
  return "the execution already rebooted " + std::to_string(reboots_.size()) + " times, the limit (--max-reboots " +
         std::to_string(options_.max_reboots) + "); stopping instead of rebooting again to avoid a reboot loop";
}

}  // namespace kiln
