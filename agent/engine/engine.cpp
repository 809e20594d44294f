// run_documents: opens the run log, writes the journal header (or announces the
// resume), runs each document through an Execution, and writes the end of the run:
// detailedoutput.json, the summary, the runFinished record and, when it pays, a
// compacted journal.
#include "agent/engine/engine.h"

#include "agent/base/test_hooks.h"

#include <filesystem>

#include "agent/engine/execution.h"
#include "agent/engine/remote_access.h"
#include "agent/engine/run_setup.h"
#include "agent/sys/host.h"

namespace kiln {
namespace {

constexpr size_t kCompactAboveBytes = 1 << 20;

void start_run(Execution& execution, RunLog& log, const RunOptions& options, const RunPersistence& persistence,
               std::vector<DocumentToRun>& documents) {
  const RunState* resume = persistence.resume;
  if (persistence.journal && !resume) {
    RunHeader header = persistence.header;
    header.log_folder = log.folder();
    header.start_time = utc_timestamp();
    header.boot_id = sys::boot_id();
    execution.save(header);
  }
  if (!resume) {
    for (size_t i = 0; i < documents.size(); ++i) {
      std::string name = std::filesystem::path(documents[i].document.source.path).filename().string();
      log.save_document(documents.size() == 1 ? "document.yaml" : "document-" + std::to_string(i + 1) + "-" + name,
                        documents[i].document.source.text);
    }
  } else {
    bool rebooted = !resume->reboots.empty() && resume->reboots.back().boot_id != sys::boot_id();
    std::string how = resume->awaiting_reboot ? (rebooted ? "after a reboot" : "after a reboot request (same boot)")
                                              : "after an interruption";
    execution.reporter().run_resumed(options.execution_id, how);
  }
  execution.reporter().run_started(options.execution_id);
}

// Compacts a large finished journal to what `kiln status` needs when that drops a good
// part of it (step starts, loop iterations); a small one, or one that is mostly records
// compaction keeps (a step with a large output), is left as it is: reading it back
// would cost more than it saves.
void compact_if_worth_it(const Execution& execution, RunJournal& journal, RunLog& log) {
  if (!execution.journal_error().empty() || journal.bytes() <= test_hooks::compact_above_bytes(kCompactAboveBytes) ||
      execution.droppable_bytes() <= journal.bytes() / 4)
    return;
  std::vector<nlohmann::json> records;
  if (!journal.read_all_records(records).empty()) return;
  if (std::string error = journal.compact(RunState::compacted(records)); !error.empty()) log.application("warn", error);
}

// The run's status and failure message once its documents have run (or stopped).
RunStatus run_status(const Execution& execution, const StatusTally& tally, const std::atomic<bool>* cancel,
                  const std::string& failed_document, std::string& failure) {
  if (execution.rebooting()) {
    failure.clear();
    return RunStatus::Rebooting;
  }
  if (execution.stopping()) {
    failure = cancel && cancel->load() ? "interrupted by a signal; resume with the same --execution-id"
                                       : execution.stop_reason() + "; resume with the same --execution-id once fixed";
    return RunStatus::Interrupted;
  }
  failure = failed_document.empty() ? "" : "Document " + failed_document + " failed!";
  return tally.status();
}

// Ends CloudWatch streaming and uploads the log folder. A CloudWatch failure fails the
// run unless --cw-ignore-failures; a failed upload fails it too (the pipeline asked for
// the logs in S3, and they are not there), and logUrl then names the local folder.
void finish_remote_logs(RemoteLogs& remote_logs, const LogDestinations& destinations, bool upload, RunLog& log,
                        RunOutcome& outcome) {
  auto fail = [&](const std::string& message) {
    log.application("error", message);
    outcome.diagnostics.push_back({Severity::Error, {"kiln", 0, 0}, message, ""});
    if (outcome.exit_code == 0) {
      outcome.exit_code = 1;
      outcome.summary["status"] = status_name(RunStatus::Failed);
      outcome.summary["failureMessage"] = message;
    }
  };
  if (Status streamed = remote_logs.finish_streaming(); !streamed) {
    if (destinations.cw_ignore_failures) log.application("warn", streamed.error() + " (ignored: --cw-ignore-failures)");
    else fail(streamed.error());
  }
  if (!upload) return;
  log.flush();
  if (Status uploaded = remote_logs.upload(); !uploaded) {
    outcome.summary["logUrl"] = log.folder();
    fail("the log folder could not be uploaded: " + uploaded.error());
  }
}

}  // namespace

RunOutcome run_documents(std::vector<DocumentToRun>& documents, const RunOptions& options,
                         const std::atomic<bool>* cancel, RunPersistence persistence) {
  RunOutcome outcome;
  const RunState* resume = persistence.resume;
  RunLog log;
  log.set_trace(options.trace);
  std::string earlier_folder = resume && resume->header ? resume->header->log_folder : "";
  if (std::string error = log.open(options.log_directory, options.execution_id, earlier_folder); !error.empty()) {
    outcome.exit_code = 1;
    outcome.diagnostics.push_back({Severity::Error, {"kiln", 0, 0}, error, "choose another --log-directory"});
    return outcome;
  }
  outcome.log_folder = log.folder();
  log.set_max_log_size(options.max_log_size >= 0 ? static_cast<uint64_t>(options.max_log_size)
                                                 : RunLog::default_max_log_size(log.folder()));
  for (auto& d : documents) add_secrets(d.document, d.variables, log.masker());
  RemoteLogs remote_logs(options.log_destinations, log);
  if (Status streaming = remote_logs.start(); !streaming) {
    if (!options.log_destinations.cw_ignore_failures) {
      outcome.exit_code = 1;
      outcome.diagnostics.push_back({Severity::Error, {"kiln", 0, 0}, streaming.error(),
                                     "nothing was run; fix the CloudWatch Logs settings or pass --cw-ignore-failures"});
      return outcome;
    }
    log.application("warn", streaming.error() + " (ignored: --cw-ignore-failures)");
  }
  Execution execution(log, options, cancel, persistence);
  start_run(execution, log, options, persistence, documents);
  std::string start_time = resume && resume->header ? resume->header->start_time : utc_timestamp();
  nlohmann::json run = {{"executionId", options.execution_id}, {"status", status_name(RunStatus::Success)}, {"startTime", start_time},
                        {"endTime", ""}, {"failureMessage", ""}, {"documents", nlohmann::json::array()}};
  Counters counters;
  StatusTally tally;
  std::string failed_document;
  for (size_t i = 0; i < documents.size(); ++i) {
    const Document& doc = documents[i].document;
    Recorded document;
    if (execution.aborted() || execution.stopping()) {
      document = {RunStatus::NotRun, execution.not_run_document_record(doc, options.phases)};
    } else {
      std::error_code ec;
      std::string canonical = std::filesystem::weakly_canonical(doc.source.path, ec).string();
      DocumentRun document_run{doc, documents[i].variables, {}, options.execution_id, 0, {canonical},
                               "d" + std::to_string(i) + "/", i};
      // Steps the plan leaves out that the selected ones chain to (--outputs-from).
      if (options.plan) document_run.traces = options.plan->borrowed(i);
      document = execution.run_document(document_run, options.phases, counters);
    }
    if (document.status) tally.add(*document.status);
    if (document.status == RunStatus::Failed && failed_document.empty()) failed_document = doc.source.path;
    run["documents"].push_back(std::move(document.record));
  }
  std::string failure;
  RunStatus status = run_status(execution, tally, cancel, failed_document, failure);
  run["status"] = status_name(status);
  run["endTime"] = utc_timestamp();
  run["reboots"] = execution.reboots();
  run["failureMessage"] = failure;
  if (std::string error = log.write_detailed_output(run); !error.empty()) log.application("error", error);
  outcome.summary = nlohmann::json{{"executionId", options.execution_id},  {"status", status_name(status)},
                                   {"failedStepCount", counters.failed},   {"executedStepCount", counters.executed},
                                   {"ignoredFailedStepCount", counters.ignored},
                                   {"rebootCount", execution.reboots().size()},
                                   {"failureMessage", failure},            {"logUrl", log.folder()}};
  outcome.failed_step = execution.first_failed();
  outcome.rebooting = status == RunStatus::Rebooting;
  outcome.finished = status != RunStatus::Rebooting && status != RunStatus::Interrupted;
  // The logs go to S3 once the execution is over (not before a reboot: it goes on after).
  bool upload = outcome.finished && options.log_destinations.uploads_to_s3();
  if (upload) outcome.summary["logUrl"] = remote_logs.log_url();
  outcome.summary = log.masker().mask_json(outcome.summary);
  execution.reporter().run_finished(status, outcome.summary);
  execution.reporter().run_completed(status, failure);
  outcome.exit_code = outcome.rebooting ? 194 : (status == RunStatus::Failed || status == RunStatus::Interrupted) ? 1 : 0;
  finish_remote_logs(remote_logs, options.log_destinations, upload, log, outcome);
  if (outcome.finished && persistence.journal) {
    execution.save(RunFinishedRecord{outcome.summary, outcome.exit_code});
    compact_if_worth_it(execution, *persistence.journal, log);
  }
  log.flush();
  return outcome;
}

}  // namespace kiln
