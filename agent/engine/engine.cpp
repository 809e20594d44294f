#include "agent/engine/engine.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>

#include "actions/action.h"
#include "agent/document/diagnostic_format.h"
#include "agent/document/expression.h"
#include "agent/document/schema_registry.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/document/condition.h"
#include "agent/engine/loop.h"
#include "agent/engine/resolver.h"
#include "agent/engine/run_setup.h"
#include "agent/engine/step_inputs.h"
#include "agent/report/run_log.h"
#include "agent/state/run_state.h"
#include "agent/sys/host.h"

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxDocumentNesting = 3;  // ExecuteDocument levels below the top document
constexpr size_t kCompactAboveBytes = 1 << 20;


struct Counters {
  int executed = 0, failed = 0, ignored = 0;
};

// Aggregates child statuses into a phase/document/run status.
struct StatusTally {
  bool failed = false, ignored = false;
  void add(const std::string& status) {
    if (status == "failed") failed = true;
    if (status == "ignoredFailure" || status == "successWithIgnoredFailure") ignored = true;
  }
  std::string status() const { return failed ? "failed" : ignored ? "successWithIgnoredFailure" : "success"; }
};

// Why a step stopped short of a result: the machine reboots (and the run resumes), or
// the run is stopping (a signal, or the state journal cannot be written).
enum class StepEnd { Done, Reboot, Stopped };

class Execution {
 public:
  Execution(RunLog& log, const RunOptions& options, const std::atomic<bool>* cancel, RunPersistence persistence)
      : log_(log), options_(options), cancel_(cancel), persistence_(persistence) {
    if (persistence_.resume) reboots_ = persistence_.resume->reboots;
  }

  bool aborted() const { return aborted_; }
  bool rebooting() const { return rebooting_; }
  bool stopping() const {
    return rebooting_ || interrupted() || !journal_error_.empty() || !log_.write_error().empty();
  }
  // Why the run stopped short (for the summary), when it was not a reboot or a signal.
  std::string stop_reason() const { return !journal_error_.empty() ? journal_error_ : log_.write_error(); }
  const std::string& journal_error() const { return journal_error_; }
  const nlohmann::json& reboots() const { return reboots_; }
  // Bytes this run appended to the journal that compaction would drop.
  size_t droppable_bytes() const { return droppable_bytes_; }

  // Appends a state record. A durable record is on disk before this returns; if it
  // cannot be written the run stops (it stays resumable once the disk has room).
  void save(const nlohmann::json& r, bool durable = true) {
    if (!persistence_.journal || !journal_error_.empty()) return;
    // Secrets stay out of the state too (a chained secret output is masked after a resume).
    const SecretMasker& masker = log_.masker();
    size_t before = persistence_.journal->bytes();
    std::string error = persistence_.journal->append(masker.empty() ? r : masker.mask_json(r), durable);
    if (auto type = r.find("type"); type != r.end() && type->is_string() &&
                                    !RunState::kept_by_compaction(type->get_ref<const std::string&>()))
      droppable_bytes_ += persistence_.journal->bytes() - before;
    if (!error.empty()) {
      journal_error_ = error;
      log_.application("error", error);
      log_.console("Error", "", error);
    }
  }

  // Runs one document; returns its record. `depth` 0 is a top-level document.
  nlohmann::json run_document(const Document& doc, const std::map<std::string, std::string>& variables,
                              const std::vector<std::string>& phases, const std::string& execution_id, int depth,
                              std::vector<std::string> ancestors, const std::string& key_prefix, Counters& counters) {
    DocumentRun run{doc, variables, {}, execution_id, depth, std::move(ancestors), key_prefix};
    nlohmann::json record = {
        {"name", doc.name},     {"filePath", doc.source.path},      {"description", doc.description},
        {"status", "success"},  {"startTime", utc_timestamp()},     {"endTime", ""},
        {"failureMessage", ""}, {"phases", nlohmann::json::array()}};
    log_.event({{"event", "documentStarted"}, {"document", doc.source.path}, {"executionId", execution_id}});
    log_.application("info", "document " + doc.source.path + " started (execution " + execution_id + ")");
    StatusTally tally;
    bool stopped = false;  // an Abort, a reboot, or a signal inside this document
    for (size_t pi = 0; pi < doc.phases.size(); ++pi) {
      const PhaseSpec& phase = doc.phases[pi];
      if (!phase_selected(phases, phase.name)) continue;
      nlohmann::json phase_record = {{"name", phase.name}, {"status", "success"},  {"startTime", utc_timestamp()},
                                     {"endTime", ""},      {"failureMessage", ""}, {"steps", nlohmann::json::array()}};
      StatusTally phase_tally;
      if (stopped)
        phase_record["status"] = "notRun";
      else
        log_.event({{"event", "phaseStarted"}, {"document", doc.source.path}, {"phase", phase.name}});
      for (size_t si = 0; si < phase.steps.size(); ++si) {
        const StepSpec& step = phase.steps[si];
        nlohmann::json step_record;
        if (stopped) {
          step_record = base_record(step);
        } else {
          std::string key = key_prefix + "p" + std::to_string(pi) + "/s" + std::to_string(si);
          step_record = run_step(run, key, phase.name, step, counters);
          std::string status = step_record["status"];
          phase_tally.add(status);
          if (status == "failed" && step.on_failure == "Abort") {
            stopped = true;
            phase_record["failureMessage"] = "step " + step.name + " failed";
          }
          if (stopping()) stopped = true;
        }
        phase_record["steps"].push_back(std::move(step_record));
      }
      phase_record["endTime"] = utc_timestamp();
      if (phase_record["status"] != "notRun") {
        phase_record["status"] = phase_tally.status();
        if (phase_tally.failed && phase_record["failureMessage"] == "")
          phase_record["failureMessage"] = "one or more steps failed";
        log_.event({{"event", "phaseFinished"}, {"phase", phase.name}, {"status", phase_record["status"]}});
      }
      tally.add(phase_record["status"]);
      record["phases"].push_back(std::move(phase_record));
    }
    record["status"] = tally.status();
    if (stopping()) record["status"] = rebooting_ ? "rebooting" : "interrupted";
    record["endTime"] = utc_timestamp();
    if (tally.failed) record["failureMessage"] = "Document " + doc.source.path + " failed!";
    if (stopped && depth == 0 && !stopping()) aborted_ = true;
    log_.event({{"event", "documentFinished"}, {"document", doc.source.path}, {"status", record["status"]}});
    return record;
  }

  nlohmann::json not_run_document_record(const Document& doc, const std::vector<std::string>& phases) {
    nlohmann::json record = {{"name", doc.name},
                             {"filePath", doc.source.path},
                             {"description", doc.description},
                             {"status", "notRun"},
                             {"startTime", ""},
                             {"endTime", ""},
                             {"failureMessage", ""},
                             {"phases", nlohmann::json::array()}};
    for (const auto& phase : doc.phases) {
      if (!phase_selected(phases, phase.name)) continue;
      nlohmann::json p = {{"name", phase.name}, {"status", "notRun"},   {"startTime", ""},
                          {"endTime", ""},      {"failureMessage", ""}, {"steps", nlohmann::json::array()}};
      for (const auto& step : phase.steps) p["steps"].push_back(base_record(step));
      record["phases"].push_back(std::move(p));
    }
    return record;
  }

 private:
  struct DocumentRun {
    const Document& doc;
    const std::map<std::string, std::string>& variables;
    std::map<std::string, StepTrace> traces;
    std::string execution_id;
    int depth;
    std::vector<std::string> ancestors;  // canonical paths of the documents above, and this one
    std::string key_prefix;              // journal keys of this document's steps start with this
  };

  bool interrupted() const { return cancel_ && cancel_->load(); }

  const StepState* resumed(const std::string& key) const {
    if (!persistence_.resume) return nullptr;
    auto it = persistence_.resume->steps.find(key);
    return it == persistence_.resume->steps.end() ? nullptr : &it->second;
  }

  static nlohmann::json base_record(const StepSpec& step) {
    // Assigned one by one: an initializer list builds a temporary array per pair.
    nlohmann::json r = nlohmann::json::object();
    r["name"] = step.name;
    r["action"] = step.action;
    r["status"] = "notRun";
    r["failureMessage"] = "";
    r["timeoutSeconds"] = step.timeout_seconds;
    r["onFailure"] = step.on_failure;
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

  // The context: values of a step. Facts about the host are read once per run; date,
  // time and uuid are fresh for every step.
  std::map<std::string, std::string> context_for(const DocumentRun& run, const std::string& phase,
                                                 const std::string& step) {
    if (host_facts_.empty()) {
      const char* region = std::getenv("AWS_REGION");
      if (!region) region = std::getenv("AWS_DEFAULT_REGION");
      host_facts_ = {{"accountId", ""},
                     {"region", region ? region : ""},
                     {"osPlatform", options_.platform},
                     {"osName", sys::os_release_field("NAME")},
                     {"osVersion", sys::os_release_field("VERSION_ID")},
                     {"hostname", sys::hostname()}};
    }
    std::map<std::string, std::string> context = host_facts_;
    context["executionId"] = run.execution_id;
    context["date"] = sys::utc_date();
    context["dateTime"] = sys::utc_date_time();
    context["uuid"] = sys::random_uuid();
    context["phase"] = phase;
    context["step"] = step;
    return context;
  }

  void progress(const std::string& text) {
    if (options_.progress) std::cerr << log_.masker().mask(text) << std::flush;
  }

  static void count(const std::string& status, Counters& counters) {
    if (status != "skipped" && status != "notRun") ++counters.executed;
    if (status == "failed") ++counters.failed;
    if (status == "ignoredFailure") ++counters.ignored;
  }

  // Records a reboot request; false when the cap is reached (the step then fails).
  bool request_reboot(const std::string& key, const StepSpec& step, const std::string& reason, const char* resume_at,
                      int64_t attempt) {
    if (static_cast<int>(reboots_.size()) >= options_.max_reboots) return false;
    nlohmann::json r = {
        {"type", "reboot"},      {"key", key},         {"step", step.name},       {"reason", reason},
        {"resumeAt", resume_at}, {"attempt", attempt}, {"time", utc_timestamp()}, {"bootId", current_boot_id()}};
    save(r);
    reboots_.push_back({{"time", r["time"]}, {"step", step.name}, {"reason", reason}});
    rebooting_ = true;
    log_.event({{"event", "rebootRequested"}, {"step", step.name}, {"reason", reason}});
    log_.console("Info", "", "Step " + step.name + " requested a reboot (" + reason + ")");
    return true;
  }

  std::string reboot_cap_message() const {
    return "the execution already rebooted " + std::to_string(reboots_.size()) + " times, the limit (--max-reboots " +
           std::to_string(options_.max_reboots) + "); stopping instead of rebooting again to avoid a reboot loop";
  }

  nlohmann::json run_step(DocumentRun& run, const std::string& key, const std::string& phase, const StepSpec& step,
                          Counters& counters) {
    StepTrace& trace = run.traces[phase + "\n" + step.name];
    const StepState* before = resumed(key);
    if (before && before->finished) {  // done before a reboot or crash: never run again
      // The record holds inputs and outputs as JSON text (AWSTOE's shape); chaining needs them parsed.
      trace.inputs = nlohmann::json::parse(before->record.value("inputs", "[]"), nullptr, false);
      trace.outputs = nlohmann::json::parse(before->record.value("outputs", "[]"), nullptr, false);
      trace.ran = before->ran;
      count(before->record.value("status", ""), counters);
      log_.application("info", "step " + phase + "/" + step.name + " finished before; not run again");
      return before->record;
    }
    nlohmann::json record = base_record(step);
    record["startTime"] = utc_timestamp();
    std::string label = phase + "/" + step.name;
    int64_t first_attempt = before && before->attempt > 0 ? before->attempt : 1;
    save({{"type", "stepStarted"}, {"key", key}, {"attempt", first_attempt}}, false);
    log_.event({{"event", "stepStarted"}, {"phase", phase}, {"step", step.name}, {"action", step.action}});
    log_.application("info", "step " + label + " (" + step.action + ") started" +
                                 (before ? " again after an interruption or reboot" : ""));
    log_.console("Info", "", "Phase " + phase + ", step " + step.name + " (" + step.action + ")");
    progress("\033[1m▶\033[0m " + label + " (" + step.action + ")\n");
    auto started = Clock::now();
    // The context map (a fresh uuid and time for each step) is made only for a step
    // that can refer to it.
    std::map<std::string, std::string> context;
    if (step.loop || step.inputs_have_expressions || step.if_has_expressions)
      context = context_for(run, phase, step.name);
    ResolveScope scope{&run.variables, &run.traces, &context, std::nullopt};

    std::string status, failure;
    if (step.has_if) {
      nlohmann::json verdict;
      if (before && before->condition) {
        verdict = *before->condition;  // an `if` is evaluated once, even across reboots
      } else {
        nlohmann::json condition = step.if_condition;
        std::string error = resolve_json(condition, scope);
        ConditionOutcome outcome;
        if (error.empty()) outcome = evaluate_condition(condition);
        bool ok = error.empty() && outcome.error.empty();
        verdict = {
            {"type", "condition"},
            {"key", key},
            {"verdict", outcome.value},
            {"branch", ok ? condition_branch(condition, outcome.value) : "Abort"},
            {"detail", ok ? outcome.detail : "cannot evaluate 'if': " + (error.empty() ? outcome.error : error)}};
        save(verdict);
      }
      std::string branch = verdict["branch"];
      record["if"] = {{"verdict", verdict["verdict"]}, {"branch", branch}, {"detail", verdict["detail"]}};
      log_.application("info", "step " + label + " if: " + verdict["detail"].get<std::string>() + " -> " + branch);
      log_.event({{"event", "conditionEvaluated"},
                  {"phase", phase},
                  {"step", step.name},
                  {"verdict", verdict["verdict"]},
                  {"branch", branch}});
      if (branch == "Skip") {
        status = "skipped";
      } else if (branch == "Abort") {
        std::string detail = verdict["detail"];
        failure = detail.rfind("cannot evaluate", 0) == 0 ? detail : "the 'if' condition chose Abort";
        status = "failed";
      }
    }
    StepEnd end = StepEnd::Done;
    if (status.empty()) {
      for (int64_t attempt = first_attempt; attempt <= step.max_attempts; ++attempt) {
        record["attempts"] = attempt;
        if (attempt != first_attempt) save({{"type", "stepStarted"}, {"key", key}, {"attempt", attempt}}, false);
        log_.event({{"event", "attemptStarted"}, {"phase", phase}, {"step", step.name}, {"attempt", attempt}});
        const std::vector<nlohmann::json>* done_iterations =
            before && before->attempt == attempt ? &before->iterations : nullptr;
        AttemptResult result = run_attempt(run, key, phase, step, scope, attempt, done_iterations);
        record["inputs"] = result.inputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        trace.inputs = std::move(result.inputs);
        trace.outputs = nlohmann::json::array();
        trace.outputs.push_back(std::move(result.outputs));  // moved: outputs can hold megabytes
        trace.ran = true;
        record["outputs"] = trace.outputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (!result.loop.is_null()) record["loop"] = result.loop;
        if (!result.detailed_output.empty()) record["detailedOutput"] = result.detailed_output;
        if (result.end == StepEnd::Reboot && !result.reboot_after_step) {
          if (request_reboot(key, step, result.failure_message, "same", attempt)) {
            end = StepEnd::Reboot;
            break;
          }
          result.success = false;
          result.failure_message = reboot_cap_message();
          result.no_retry = true;
        }
        if (result.end == StepEnd::Stopped || (interrupted() && !result.success)) {
          end = StepEnd::Stopped;
          failure = result.failure_message.empty() ? "interrupted" : result.failure_message;
          break;
        }
        if (result.success) {
          status = "success";
          failure.clear();
          if (result.reboot_after_step) end = StepEnd::Reboot;
          break;
        }
        failure = result.failure_message;
        status = "failed";
        log_.application("warn", "step " + label + " attempt " + std::to_string(attempt) + " failed: " + failure);
        log_.event({{"event", "attemptFailed"},
                    {"phase", phase},
                    {"step", step.name},
                    {"attempt", attempt},
                    {"message", failure}});
        if (result.no_retry) break;
      }
    }
    record["endTime"] = utc_timestamp();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (end == StepEnd::Reboot && status.empty()) {
      // Runs again from its start after the reboot: not finished, not counted.
      record["status"] = "rebooting";
      progress("  \033[33m↻\033[0m " + label + " reboot requested\n");
      return record;
    }
    if (end == StepEnd::Stopped) {
      record["status"] = "interrupted";
      record["failureMessage"] = failure;
      save({{"type", "stepInterrupted"}, {"key", key}});
      log_.event({{"event", "stepInterrupted"}, {"phase", phase}, {"step", step.name}});
      log_.console("Error", "", "Step " + step.name + " interrupted; the execution can be resumed");
      progress("  \033[31m■\033[0m " + label + " interrupted\n");
      return record;
    }
    if (end == StepEnd::Reboot && static_cast<int>(reboots_.size()) >= options_.max_reboots) {
      status = "failed";  // the Reboot action ran, but one more reboot would pass the cap
      failure = reboot_cap_message();
      end = StepEnd::Done;
    }
    if (status == "failed" && step.on_failure == "Ignore") status = "ignoredFailure";
    count(status, counters);
    record["status"] = status;
    record["failureMessage"] = failure;
    nlohmann::json finished = {{"type", "stepFinished"}, {"key", key}, {"ran", trace.ran}};
    finished["record"] = std::move(record);
    save(finished);
    record = std::move(finished["record"]);
    log_.event({{"event", "stepFinished"},
                {"phase", phase},
                {"step", step.name},
                {"status", status},
                {"durationMs", ms},
                {"failureMessage", failure}});
    log_.application(status == "failed" ? "error" : "info",
                     "step " + label + " " + status + (failure.empty() ? "" : ": " + failure));
    log_.console(status == "failed" ? "Error" : "Info", "",
                 "Step " + step.name + " " + status + (failure.empty() ? "" : ": " + failure));
    if (status == "success")
      progress("  \033[32m✓\033[0m " + label + " " + std::to_string(ms) + " ms\n");
    else if (status == "skipped")
      progress("  \033[33m-\033[0m " + label + " skipped\n");
    else {
      progress("  \033[31m✗\033[0m " + label + " " + status + ": " + failure + "\n");
      for (const auto& line : last_stderr_) progress("    | " + line + "\n");
    }
    if (end == StepEnd::Reboot) request_reboot(key, step, "Reboot action", "next", 0);
    log_.flush();
    return record;
  }

  struct AttemptResult {
    bool success = false;
    bool no_retry = false;
    bool reboot_after_step = false;
    StepEnd end = StepEnd::Done;
    std::string failure_message;
    nlohmann::json inputs = nlohmann::json::array();
    nlohmann::json outputs = nlohmann::json::object();
    nlohmann::json loop;
    nlohmann::json detailed_output = nlohmann::json::array();  // one child run per (looped) ExecuteDocument
  };

  // Loop iterations' outputs: strings are joined with "\n", other values replaced.
  static void merge_outputs(nlohmann::json& into, const nlohmann::json& outputs) {
    for (auto& [key, value] : outputs.items()) {
      if (into.contains(key) && value.is_string() && into[key].is_string())
        into[key].get_ref<std::string&>().append("\n").append(value.get_ref<const std::string&>());
      else
        into[key] = value;
    }
  }

  static void append_inputs(nlohmann::json& into, const nlohmann::json& inputs) {
    if (inputs.is_array())
      for (const auto& item : inputs) into.push_back(item);
    else
      into.push_back(inputs);
  }

  AttemptResult run_attempt(DocumentRun& run, const std::string& key, const std::string& phase, const StepSpec& step,
                            ResolveScope scope, int64_t attempt, const std::vector<nlohmann::json>* done_iterations) {
    AttemptResult result;
    const ActionSchema* schema = SchemaRegistry::instance().action(step.action);
    const ActionEntry* entry = find_action(step.action);
    if (!schema || !entry) {  // check_runnable refuses these before the run starts
      result.failure_message = "action " + step.action + " is not implemented";
      result.no_retry = true;
      return result;
    }
    std::optional<Clock::time_point> deadline;
    // Clamped: a deadline beyond ~68 years would overflow the clock (validation refuses it too).
    if (step.timeout_seconds > 0)
      deadline = Clock::now() + std::chrono::seconds(std::min<int64_t>(step.timeout_seconds, INT32_MAX));

    // Loop iterations: values are computed (and lists read) once, when the loop starts.
    std::vector<LoopFrame> frames;
    if (step.loop) {
      if (std::string error = expand_loop(*step.loop, scope, frames); !error.empty()) {
        result.failure_message = error;
        return result;
      }
      result.loop = {
          {"name", step.loop->name}, {"iterations", frames.size()}, {"failedIterations", nlohmann::json::array()}};
    } else {
      frames.push_back({});
    }

    result.success = true;
    for (size_t i = 0; i < frames.size(); ++i) {
      // Iterations finished before a reboot are not run again; their results stand.
      if (done_iterations && i < done_iterations->size() &&
          (*done_iterations)[i].value("index", -1) == static_cast<int>(i)) {
        const nlohmann::json& done = (*done_iterations)[i];
        append_inputs(result.inputs, done.value("inputs", nlohmann::json::array()));
        merge_outputs(result.outputs, done.value("outputs", nlohmann::json::object()));
        if (done.contains("detailedOutput") && !done["detailedOutput"].is_null())
          result.detailed_output.push_back(done["detailedOutput"]);
        continue;
      }
      if (step.loop) scope.loop = frames[i];
      nlohmann::json inputs = step.inputs;
      std::string error = resolve_json(inputs, scope);
      if (error.empty()) error = prepare_inputs(*schema, step.has_inputs, step.inputs_have_expressions, inputs);
      ActionResult action_result;
      if (!error.empty()) {
        action_result.failure_message = error;
      } else {
        action_result = invoke(run, key, phase, step, *entry, inputs, deadline, attempt, i);
        make_valid_utf8(action_result.outputs);
        make_valid_utf8(action_result.failure_message);
      }
      append_inputs(result.inputs, inputs);
      if (!action_result.detailed_output.is_null()) result.detailed_output.push_back(action_result.detailed_output);
      if (action_result.reboot_requested) {
        result.success = false;
        result.end = StepEnd::Reboot;
        result.failure_message =
            rebooting_ ? "a child document requested a reboot" : "exit code 194 requested a reboot";
        return result;
      }
      if (stopping() && !action_result.success) {
        result.success = false;
        result.end = StepEnd::Stopped;
        result.failure_message = action_result.failure_message;
        return result;
      }
      if (!action_result.success) {
        result.success = false;
        if (step.loop) {
          result.loop["failedIterations"].push_back(i);
          result.failure_message =
              action_result.timed_out
                  ? "the loop timed out at iteration " + std::to_string(i) + ": " + action_result.failure_message
                  : "loop iteration " + std::to_string(i) + " failed: " + action_result.failure_message;
        } else {
          result.failure_message = action_result.failure_message;
          result.outputs = std::move(action_result.outputs);  // kept: exitCode/stderr explain the failure
        }
        break;
      }
      bool last = i + 1 == frames.size();
      if (step.loop && !last)
        save({{"type", "iteration"},
              {"key", key},
              {"attempt", attempt},
              {"index", i},
              {"inputs", inputs},
              {"outputs", action_result.outputs},
              {"detailedOutput", action_result.detailed_output}});
      if (step.loop)
        merge_outputs(result.outputs, action_result.outputs);
      else
        result.outputs = std::move(action_result.outputs);
      if (action_result.reboot_after_step) {
        if (last) {
          result.reboot_after_step = true;  // the step is done; reboot after recording it
        } else {
          // A Reboot inside a loop: this iteration is done; after the reboot the loop
          // goes on with the next one.
          result.success = false;
          result.end = StepEnd::Reboot;
          result.failure_message = "Reboot action (loop iteration " + std::to_string(i) + ")";
          return result;
        }
      }
      if (!journal_error_.empty()) {
        result.success = false;
        result.end = StepEnd::Stopped;
        result.failure_message = journal_error_;
        return result;
      }
    }
    return result;
  }

  ActionResult invoke(DocumentRun& run, const std::string& key, const std::string& phase, const StepSpec& step,
                      const ActionEntry& entry, const nlohmann::json& inputs,
                      const std::optional<Clock::time_point>& deadline, int64_t attempt, size_t iteration) {
    ActionContext context;
    context.action = step.action;
    context.inputs = inputs;
    context.cancel = cancel_;
    context.secrets = &log_.masker();
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        ActionResult timed_out;
        timed_out.timed_out = true;
        timed_out.failure_message = "timed out after " + std::to_string(step.timeout_seconds) + " s";
        return timed_out;
      }
      context.timeout = left;
    }
    // Each attempt gets its own folder in the log folder, so scripts can be inspected.
    context.work_directory = log_.folder() + "/steps/" + std::to_string(++step_serial_) + "-" + sanitize(phase) + "-" +
                             sanitize(step.name) + "-a" + std::to_string(attempt) +
                             (step.loop ? "-i" + std::to_string(iteration) : "");
    context.create_work_directory = [this, folder = context.work_directory] {
      ::mkdir((log_.folder() + "/steps").c_str(), 0700);
      if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST)
        return "cannot create " + folder + ": " + std::strerror(errno);
      return std::string();
    };
    last_stderr_.clear();
    context.output = [this](sys::OutputStream stream, std::string_view chunk) {
      bool is_err = stream == sys::OutputStream::Stderr;
      log_.console("Info", is_err ? "Stderr: " : "Stdout: ", chunk);
      if (is_err) remember_stderr(chunk);
    };
    context.log = [this, &step](const std::string& line) { log_.application("info", step.name + ": " + line); };
    std::string child_prefix = key + "#" + std::to_string(iteration) + ">";
    context.run_document = [this, &run, &step, child_prefix](const ChildDocumentRequest& request) {
      return run_child(run, step, child_prefix, request);
    };
    log_.flush();  // what led up to the action is on disk before it runs (it may hang or reboot)
    try {
      return entry.run(context);
    } catch (const std::exception& e) {  // actions report failures as values; this is a safety net
      ActionResult failed;
      failed.failure_message = std::string("internal error in ") + step.action + ": " + e.what();
      return failed;
    }
  }

  void remember_stderr(std::string_view chunk) {
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      last_stderr_.emplace_back(chunk.substr(0, nl));
      if (last_stderr_.size() > 10) last_stderr_.pop_front();
      if (nl == std::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
    }
  }

  static std::string sanitize(const std::string& name) {
    std::string out;
    for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return out.substr(0, 60);
  }

  ChildDocumentResult run_child(DocumentRun& parent, const StepSpec& step, const std::string& key_prefix,
                                const ChildDocumentRequest& request) {
    namespace fs = std::filesystem;
    ChildDocumentResult result;
    fs::path path = request.document;
    if (path.is_relative()) path = fs::path(parent.doc.source.path).parent_path() / path;
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(path, ec);
    std::string key = ec ? path.string() : canonical.string();
    if (parent.depth + 1 > kMaxDocumentNesting) {
      result.failure_message = "ExecuteDocument nesting is limited to " + std::to_string(kMaxDocumentNesting) +
                               " levels; " + path.string() + " would be level " + std::to_string(parent.depth + 1);
      return result;
    }
    if (!step.loop && std::find(parent.ancestors.begin(), parent.ancestors.end(), key) != parent.ancestors.end()) {
      std::string chain;
      for (const auto& a : parent.ancestors) chain += a + " -> ";
      result.failure_message = "ExecuteDocument cycle: " + chain + key;
      return result;
    }
    LoadedDocument loaded;
    Diagnostics diagnostics;
    Document child;
    if (load_yaml_file(path.string(), loaded, diagnostics)) {
      ValidateOptions validate_options;
      validate_options.platform = options_.platform;
      for (auto& d : validate_document(std::move(loaded), validate_options, child)) diagnostics.push_back(d);
    }
    std::vector<std::string> phases = split_nonempty(request.phases, ',');
    for (auto& p : phases) p = trim(p);
    if (!has_errors(diagnostics))
      for (auto& d : check_runnable(child, phases, options_.blocked_actions)) diagnostics.push_back(d);
    std::map<std::string, std::string> variables;
    if (!has_errors(diagnostics)) {
      std::map<std::string, std::string> given;
      for (const auto& p : request.parameters)
        if (p.is_object()) given[p.value("name", "")] = p.value("value", "");
      for (auto& d : bind_variables(child, given, variables)) diagnostics.push_back(d);
      add_secrets(child, variables, log_.masker());
    }
    if (has_errors(diagnostics)) {
      for (const auto& d : diagnostics) {
        if (d.severity != Severity::Error) continue;
        std::string text = format_diagnostic(d, nullptr, false);
        log_.application("error", text);
        if (result.failure_message.empty()) result.failure_message = "child document refused: " + text;
      }
      while (!result.failure_message.empty() && result.failure_message.back() == '\n')
        result.failure_message.pop_back();
      return result;
    }
    // The child keeps its execution id across reboots, like its parent.
    std::string child_id;
    if (const StepState* s = resumed(key_prefix); s && !s->child_execution_id.empty()) {
      child_id = s->child_execution_id;
    } else {
      child_id = sys::random_uuid();
      save({{"type", "child"}, {"key", key_prefix}, {"executionId", child_id}});
      log_.save_document("document-" + std::to_string(++document_serial_) + "-" + path.filename().string(),
                         child.source.text);
    }
    Counters counters;
    std::vector<std::string> ancestors = parent.ancestors;
    ancestors.push_back(key);
    nlohmann::json record =
        run_document(child, variables, phases, child_id, parent.depth + 1, ancestors, key_prefix, counters);
    std::string status = record["status"];
    if (rebooting_) {
      result.reboot_requested = true;
      return result;
    }
    result.success = status != "failed" && status != "interrupted";
    if (!result.success) result.failure_message = record["failureMessage"];
    if (status == "interrupted" && result.failure_message.empty()) result.failure_message = "interrupted";
    result.summary = {{"executedStepCount", counters.executed},
                      {"executionId", child_id},
                      {"failedStepCount", counters.failed},
                      {"failureMessage", record["failureMessage"]},
                      {"ignoredFailedStepCount", counters.ignored},
                      {"logUrl", log_.folder()},
                      {"status", status}};
    result.detailed_output = {{"executionId", child_id},
                              {"status", status},
                              {"startTime", record["startTime"]},
                              {"endTime", record["endTime"]},
                              {"failureMessage", record["failureMessage"]},
                              {"documents", nlohmann::json::array({record})}};
    return result;
  }

  static std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }

 private:
  RunLog& log_;
  const RunOptions& options_;
  const std::atomic<bool>* cancel_;
  RunPersistence persistence_;
  bool aborted_ = false;
  bool rebooting_ = false;
  std::string journal_error_;
  nlohmann::json reboots_ = nlohmann::json::array();
  std::deque<std::string> last_stderr_;
  int step_serial_ = 0;
  size_t droppable_bytes_ = 0;
  int document_serial_ = 0;
  std::map<std::string, std::string> host_facts_;
};

}  // namespace

RunOutcome run_documents(std::vector<DocumentToRun>& documents, const RunOptions& options,
                         const std::atomic<bool>* cancel, RunPersistence persistence) {
  RunOutcome outcome;
  // Everything that can be refused is refused before anything runs.
  std::vector<std::map<std::string, std::string>> variables(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    for (auto& d : check_runnable(documents[i].document, options.phases, options.blocked_actions))
      outcome.diagnostics.push_back(d);
    std::map<std::string, std::string> given = options.parameters;
    for (const auto& [k, v] : documents[i].parameters) given[k] = v;
    for (auto& d : bind_variables(documents[i].document, given, variables[i]))
      outcome.diagnostics.push_back(d);
  }
  if (has_errors(outcome.diagnostics)) {
    outcome.exit_code = 3;
    for (const auto& d : outcome.diagnostics)
      if (d.message.find("no value was given") != std::string::npos) outcome.exit_code = 2;
    return outcome;
  }
  const RunState* resume = persistence.resume;
  RunLog log;
  log.set_trace(options.trace);
  std::string earlier_folder = resume ? resume->header.value("logFolder", "") : "";
  if (std::string error = log.open(options.log_directory, options.execution_id, earlier_folder); !error.empty()) {
    outcome.exit_code = 1;
    outcome.diagnostics.push_back({Severity::Error, {"kiln", 0, 0}, error, "choose another --log-directory"});
    return outcome;
  }
  outcome.log_folder = log.folder();
  for (size_t i = 0; i < documents.size(); ++i)
    add_secrets(documents[i].document, variables[i], log.masker());
  Execution execution(log, options, cancel, persistence);
  if (persistence.journal && !resume) {
    nlohmann::json header = persistence.header;
    header["type"] = "header";
    header["logFolder"] = log.folder();
    header["startTime"] = utc_timestamp();
    header["bootId"] = current_boot_id();
    execution.save(header);
  }
  if (!resume) {
    for (size_t i = 0; i < documents.size(); ++i) {
      std::string name = std::filesystem::path(documents[i].document.source.path).filename().string();
      log.save_document(documents.size() == 1 ? "document.yaml" : "document-" + std::to_string(i + 1) + "-" + name,
                        documents[i].document.source.text);
    }
  } else {
    std::string boot = current_boot_id();
    bool rebooted = !resume->reboots.empty() && resume->reboots.back().value("bootId", "") != boot;
    std::string how = resume->awaiting_reboot ? (rebooted ? "after a reboot" : "after a reboot request (same boot)")
                                              : "after an interruption";
    log.application("info", "resuming execution " + options.execution_id + " " + how);
    log.console("Info", "", "Resuming execution " + options.execution_id + " " + how);
    log.event({{"event", "runResumed"}, {"executionId", options.execution_id}, {"how", how}});
  }
  std::string start_time = resume ? resume->header.value("startTime", utc_timestamp()) : utc_timestamp();
  nlohmann::json run = {{"executionId", options.execution_id},
                        {"status", "success"},
                        {"startTime", start_time},
                        {"endTime", ""},
                        {"failureMessage", ""},
                        {"documents", nlohmann::json::array()}};
  log.event({{"event", "runStarted"}, {"executionId", options.execution_id}, {"logFolder", log.folder()}});
  log.application("info", "kiln " KILN_VERSION " run " + options.execution_id + " started; log folder " + log.folder());
  Counters counters;
  StatusTally tally;
  std::string failed_document;
  for (size_t i = 0; i < documents.size(); ++i) {
    const Document& doc = documents[i].document;
    nlohmann::json record;
    if (execution.aborted() || execution.stopping()) {
      record = execution.not_run_document_record(doc, options.phases);
    } else {
      std::error_code ec;
      std::string canonical = std::filesystem::weakly_canonical(doc.source.path, ec).string();
      record = execution.run_document(doc, variables[i], options.phases, options.execution_id, 0, {canonical},
                                      "d" + std::to_string(i) + "/", counters);
    }
    tally.add(record["status"]);
    if (record["status"] == "failed" && failed_document.empty()) failed_document = doc.source.path;
    run["documents"].push_back(std::move(record));
  }
  run["status"] = tally.status();
  run["endTime"] = utc_timestamp();
  run["reboots"] = execution.reboots();
  if (!failed_document.empty()) run["failureMessage"] = "Document " + failed_document + " failed!";
  if (execution.rebooting()) {
    run["status"] = "rebooting";
    run["failureMessage"] = "";
  } else if (execution.stopping()) {
    run["status"] = "interrupted";
    run["failureMessage"] = cancel && cancel->load()
                                ? "interrupted by a signal; resume with the same --execution-id"
                                : execution.stop_reason() + "; resume with the same --execution-id once fixed";
  }
  if (std::string error = log.write_detailed_output(run); !error.empty()) log.application("error", error);
  outcome.summary =
      nlohmann::json{{"executionId", options.execution_id},        {"status", run["status"]},
                     {"failedStepCount", counters.failed},         {"executedStepCount", counters.executed},
                     {"ignoredFailedStepCount", counters.ignored}, {"rebootCount", execution.reboots().size()},
                     {"failureMessage", run["failureMessage"]},    {"logUrl", log.folder()}};
  outcome.summary = log.masker().mask_json(outcome.summary);
  log.event({{"event", "runFinished"}, {"status", run["status"]}, {"summary", outcome.summary}});
  if (execution.rebooting()) {
    outcome.rebooting = true;
    outcome.exit_code = 194;
    log.console("Info", "", "TOE is rebooting the machine; the execution resumes afterwards");
  } else if (execution.stopping()) {
    outcome.exit_code = 1;
    log.console("Error", "", "TOE stopped: " + run["failureMessage"].get<std::string>());
  } else {
    outcome.finished = true;
    outcome.exit_code = run["status"] == "failed" ? 1 : 0;
    log.console("Info", "",
                run["status"] == "failed"
                    ? "TOE has completed execution with failure - " + run["failureMessage"].get<std::string>()
                    : "TOE has completed execution successfully");
    if (persistence.journal) {
      execution.save({{"type", "runFinished"}, {"summary", outcome.summary}, {"exitCode", outcome.exit_code}});
      // A large finished journal is compacted to what `kiln status` needs when that drops
      // a good part of it (step starts, loop iterations); a small one, or one that is mostly
      // records compaction keeps (a step with a large output), is left as it is: reading it
      // back would cost more than it saves.
      if (execution.journal_error().empty() && persistence.journal->bytes() > kCompactAboveBytes &&
          execution.droppable_bytes() > persistence.journal->bytes() / 4)
        if (std::vector<nlohmann::json> records; persistence.journal->read_all_records(records).empty())
          if (std::string error = persistence.journal->compact(RunState::compacted(records)); !error.empty())
            log.application("warn", error);
    }
  }
  log.flush();
  return outcome;
}

}  // namespace kiln
