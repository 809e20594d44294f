// One step, top-down: a step finished before a reboot or crash is replayed from the
// journal; otherwise its `if` is evaluated, its attempts run, and finish_step records
// the outcome (onFailure applied) and asks for the reboot a Reboot action wants.
#include "agent/document/condition.h"
#include "agent/engine/execution.h"

namespace kiln {

Recorded Execution::run_step(DocumentRun& run, const std::string& key, const std::string& phase,
                                   const StepSpec& spec, Counters& counters) {
  StepRun s{run, spec, key, {phase, spec.name, spec.action}, resumed(key), run.traces[phase + "\n" + spec.name], {},
            {}};
  if (s.before && s.before->finished) return replay_finished(s, *s.before, counters);
  // The context map (a fresh uuid and time for each step) is made only for a step
  // that can refer to it.
  if (spec.loop || spec.inputs_have_expressions || spec.if_has_expressions)
    s.context = context_for(run, phase, spec.name);
  s.scope = ResolveScope{&run.variables, &run.traces, &s.context, std::nullopt, external_};

  StepOutcome outcome;
  outcome.record = base_record(spec);
  outcome.record["startTime"] = utc_timestamp();
  int64_t first_attempt = s.before && s.before->attempt > 0 ? s.before->attempt : 1;
  save(StepStartedRecord{key, first_attempt}, false);
  reporter_.step_started(s.label, s.before != nullptr);
  if (spec.has_if) evaluate_if(s, outcome);
  if (!outcome.status) run_attempts(s, outcome);
  return finish_step(s, outcome, counters);
}

// Done before a reboot or crash: never run again; its inputs and outputs are chained.
Recorded Execution::replay_finished(StepRun& s, const StepState& before, Counters& counters) {
  // The record holds inputs and outputs as JSON text (AWSTOE's shape); chaining needs them parsed.
  s.trace.inputs = nlohmann::json::parse(before.record.value("inputs", "[]"), nullptr, false);
  s.trace.outputs = nlohmann::json::parse(before.record.value("outputs", "[]"), nullptr, false);
  s.trace.ran = before.ran;
  std::optional<RunStatus> status = parse_status(before.record.value("status", ""));
  if (status) counters.count(*status);
  reporter_.step_replayed(s.label);
  return {status, before.record};
}

// The `if`: evaluated once, even across reboots (its verdict is in the journal).
void Execution::evaluate_if(StepRun& s, StepOutcome& outcome) {
  ConditionRecord verdict;
  if (s.before && s.before->condition) {
    verdict = *s.before->condition;
  } else {
    nlohmann::json condition = s.spec.if_condition;
    std::string error = resolve_json(condition, s.scope);
    ConditionOutcome evaluated;
    if (error.empty()) evaluated = evaluate_condition(condition);
    verdict.key = s.key;
    verdict.evaluated = error.empty() && evaluated.error.empty();
    verdict.verdict = evaluated.value;
    if (verdict.evaluated) {
      verdict.branch = parse_branch(condition_branch(condition, evaluated.value)).value_or(Branch::Abort);
      verdict.detail = evaluated.detail;
    } else {
      verdict.branch = Branch::Abort;
      verdict.detail = "cannot evaluate 'if': " + (error.empty() ? evaluated.error : error);
    }
    save(verdict);
  }
  outcome.record["if"] = {
      {"verdict", verdict.verdict}, {"branch", branch_name(verdict.branch)}, {"detail", verdict.detail}};
  reporter_.condition_evaluated(s.label, verdict.verdict, branch_name(verdict.branch), verdict.detail);
  if (verdict.branch == Branch::Skip) {
    outcome.status = RunStatus::Skipped;
  } else if (verdict.branch == Branch::Abort) {
    outcome.status = RunStatus::Failed;
    outcome.failure = verdict.evaluated ? "the 'if' condition chose Abort" : verdict.detail;
  }
}

// Up to maxAttempts attempts; each may succeed, fail, ask for a reboot or be stopped.
void Execution::run_attempts(StepRun& s, StepOutcome& outcome) {
  int64_t first_attempt = s.before && s.before->attempt > 0 ? s.before->attempt : 1;
  for (int64_t attempt = first_attempt; attempt <= s.spec.max_attempts; ++attempt) {
    outcome.record["attempts"] = attempt;
    if (attempt != first_attempt) save(StepStartedRecord{s.key, attempt}, false);
    reporter_.attempt_started(s.label, attempt, s.spec.max_attempts, s.spec.timeout_seconds);
    AttemptResult result = run_attempt(s, attempt);
    outcome.record["inputs"] = result.inputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    s.trace.inputs = std::move(result.inputs);
    s.trace.outputs = nlohmann::json::array();
    s.trace.outputs.push_back(std::move(result.outputs));  // moved: outputs can hold megabytes
    s.trace.ran = true;
    outcome.record["outputs"] = s.trace.outputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!result.loop.is_null()) outcome.record["loop"] = result.loop;
    if (!result.detailed_output.empty()) outcome.record["detailedOutput"] = result.detailed_output;
    if (result.end == AttemptEnd::Reboot) {
      if (request_reboot(s, result.failure, ResumeAt::SameStep, attempt)) {
        outcome.end = StepEnd::RebootBefore;
        return;
      }
      result.end = AttemptEnd::FailedFinal;
      result.failure = reboot_cap_message();
    }
    if (result.end == AttemptEnd::Stopped || (interrupted() && result.end != AttemptEnd::Succeeded)) {
      outcome.end = StepEnd::Stopped;
      outcome.failure = result.failure.empty() ? "interrupted" : result.failure;
      return;
    }
    if (result.end == AttemptEnd::Succeeded) {
      outcome.status = RunStatus::Success;
      outcome.failure.clear();
      if (result.reboot_after_step) outcome.end = StepEnd::RebootAfter;
      return;
    }
    outcome.status = RunStatus::Failed;
    outcome.failure = result.failure;
    reporter_.attempt_failed(s.label, {attempt, s.spec.max_attempts, result.failure, result.exit_code, result.timed_out,
                                       result.end != AttemptEnd::FailedFinal && attempt < s.spec.max_attempts});
    if (result.end == AttemptEnd::FailedFinal) return;
  }
}

// Records the step's end: rebooting and interrupted steps run again later; others are
// finished for good, with onFailure applied and the Reboot action's reboot asked for.
Recorded Execution::finish_step(StepRun& s, StepOutcome& outcome, Counters& counters) {
  nlohmann::json& record = outcome.record;
  record["endTime"] = utc_timestamp();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - s.started).count();
  if (outcome.end == StepEnd::RebootBefore) {  // runs again from its start: not finished, not counted
    record["status"] = status_name(RunStatus::Rebooting);
    reporter_.step_rebooting(s.label);
    return {RunStatus::Rebooting, std::move(record)};
  }
  if (outcome.end == StepEnd::Stopped) {
    record["status"] = status_name(RunStatus::Interrupted);
    record["failureMessage"] = outcome.failure;
    save(StepInterruptedRecord{s.key});
    reporter_.step_interrupted(s.label, outcome.failure);
    return {RunStatus::Interrupted, std::move(record)};
  }
  RunStatus status = outcome.status.value_or(RunStatus::Failed);
  if (outcome.end == StepEnd::RebootAfter && static_cast<int>(reboots_.size()) >= options_.max_reboots) {
    status = RunStatus::Failed;  // the Reboot action ran, but one more reboot would pass the cap
    outcome.failure = reboot_cap_message();
    outcome.end = StepEnd::Finished;
  }
  if (status == RunStatus::Failed && s.spec.on_failure == OnFailure::Ignore) status = RunStatus::IgnoredFailure;
  counters.count(status);
  record["status"] = status_name(status);
  record["failureMessage"] = outcome.failure;
  // The record goes into the journal and comes back out: no copy of its outputs.
  record = std::move(save(StepFinishedRecord{s.key, std::move(record), s.trace.ran})["record"]);
  reporter_.step_finished(s.label, status, ms, outcome.failure);
  if (outcome.end == StepEnd::RebootAfter) request_reboot(s, "Reboot action", ResumeAt::NextStep, 0);
  log_.flush();
  return {status, std::move(record)};
}

}  // namespace kiln
