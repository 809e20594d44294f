// One attempt of a step: the loop's iterations (or one run), each with its inputs
// resolved and checked, then the action through its ActionContext.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "agent/document/schema_registry.h"
#include "agent/engine/execution.h"
#include "agent/engine/loop.h"
#include "agent/engine/step_inputs.h"
#include "agent/report/step_output_log.h"

namespace kiln {
namespace {

// Loop iterations' outputs: strings are joined with "\n", other values replaced.
void merge_outputs(nlohmann::json& into, const nlohmann::json& outputs) {
  for (auto& [key, value] : outputs.items()) {
    if (into.contains(key) && value.is_string() && into[key].is_string())
      into[key].get_ref<std::string&>().append("\n").append(value.get_ref<const std::string&>());
    else
      into[key] = value;
  }
}

void append_inputs(nlohmann::json& into, const nlohmann::json& inputs) {
  if (inputs.is_array())
    for (const auto& item : inputs) into.push_back(item);
  else
    into.push_back(inputs);
}

std::string sanitize(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.substr(0, 60);
}

// An iteration finished before a reboot is not run again; its results stand.
bool replay_iteration(const StepState* before, int64_t attempt, size_t i, AttemptResult& result) {
  if (!before || before->attempt != attempt || i >= before->iterations.size()) return false;
  const IterationRecord& done = before->iterations[i];
  if (done.index != static_cast<int64_t>(i)) return false;
  append_inputs(result.inputs, done.inputs);
  merge_outputs(result.outputs, done.outputs);
  if (!done.detailed_output.is_null()) result.detailed_output.push_back(done.detailed_output);
  return true;
}

}  // namespace

AttemptResult Execution::run_attempt(StepRun& s, int64_t attempt) {
  AttemptResult result;
  const StepSpec& step = s.spec;
  const ActionSchema* schema = SchemaRegistry::instance().action(step.action);
  const ActionEntry* entry = options_.actions ? options_.actions->find(step.action) : nullptr;
  if (!schema || !entry) {  // check_runnable refuses these before the run starts
    result.end = AttemptEnd::FailedFinal;
    result.failure = "action " + step.action + " is not implemented";
    return result;
  }
  std::optional<Clock::time_point> deadline;
  // Clamped: a deadline beyond ~68 years would overflow the clock (validation refuses it too).
  if (step.timeout_seconds > 0)
    deadline = Clock::now() + std::chrono::seconds(std::min<int64_t>(step.timeout_seconds, INT32_MAX));

  // Loop iterations: values are computed (and lists read) once, when the loop starts.
  std::vector<LoopFrame> frames;
  if (step.loop) {
    if (std::string error = expand_loop(*step.loop, s.scope, frames); !error.empty()) {
      result.end = AttemptEnd::Failed;
      result.failure = error;
      return result;
    }
    result.loop = {
        {"name", step.loop->name}, {"iterations", frames.size()}, {"failedIterations", nlohmann::json::array()}};
  } else {
    frames.push_back({});
  }

  for (size_t i = 0; i < frames.size(); ++i) {
    if (replay_iteration(s.before, attempt, i, result)) continue;
    if (step.loop) {
      s.scope.loop = frames[i];
      reporter_.iteration_started(i + 1, frames.size());
    }
    nlohmann::json inputs = step.inputs;
    std::string error = resolve_json(inputs, s.scope);
    if (error.empty()) error = prepare_inputs(*schema, step.has_inputs, step.inputs_have_expressions, inputs);
    ActionResult action;
    if (!error.empty()) {
      action.failure_message = error;
    } else {
      action = invoke(s, *entry, inputs, deadline, attempt, i);
      make_valid_utf8(action.outputs);
      make_valid_utf8(action.failure_message);
    }
    if (!end_iteration(s, action, inputs, attempt, i, i + 1 == frames.size(), result)) return result;
  }
  return result;
}

// What one iteration's action result means for the attempt; false when the attempt
// ends here (a failure, a reboot, a stop).
bool Execution::end_iteration(StepRun& s, ActionResult& action, const nlohmann::json& inputs, int64_t attempt,
                              size_t i, bool last, AttemptResult& result) {
  const StepSpec& step = s.spec;
  append_inputs(result.inputs, inputs);
  if (!action.detailed_output.is_null()) result.detailed_output.push_back(action.detailed_output);
  if (action.reboot_requested) {
    result.end = AttemptEnd::Reboot;
    result.failure = rebooting_ ? "a child document requested a reboot" : "exit code 194 requested a reboot";
    return false;
  }
  if (stopping() && !action.success) {
    result.end = AttemptEnd::Stopped;
    result.failure = action.failure_message;
    return false;
  }
  if (!action.success) {
    result.end = AttemptEnd::Failed;
    if (auto code = action.outputs.find("exitCode"); code != action.outputs.end() && code->is_number_integer())
      result.exit_code = code->get<int>();
    result.timed_out = action.timed_out;
    if (step.loop) {
      result.loop["failedIterations"].push_back(i);
      result.failure = action.timed_out
                           ? "the loop timed out at iteration " + std::to_string(i) + ": " + action.failure_message
                           : "loop iteration " + std::to_string(i) + " failed: " + action.failure_message;
    } else {
      result.failure = action.failure_message;
      result.outputs = std::move(action.outputs);  // kept: exitCode/stderr explain the failure
    }
    return false;
  }
  if (step.loop && !last)
    save(IterationRecord{s.key, attempt, static_cast<int64_t>(i), inputs, action.outputs, action.detailed_output});
  if (step.loop)
    merge_outputs(result.outputs, action.outputs);
  else
    result.outputs = std::move(action.outputs);
  if (action.reboot_after_step) {
    if (last) {
      result.reboot_after_step = true;  // the step is done; reboot after recording it
    } else {
      // A Reboot inside a loop: this iteration is done; after the reboot the loop
      // goes on with the next one.
      result.end = AttemptEnd::Reboot;
      result.failure = "Reboot action (loop iteration " + std::to_string(i) + ")";
      return false;
    }
  }
  if (!journal_error_.empty()) {
    result.end = AttemptEnd::Stopped;
    result.failure = journal_error_;
    return false;
  }
  return true;
}

ActionResult Execution::invoke(StepRun& s, const ActionEntry& entry, const nlohmann::json& inputs,
                               const std::optional<Clock::time_point>& deadline, int64_t attempt, size_t iteration) {
  const StepSpec& step = s.spec;
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
  context.work_directory = log_.folder() + "/steps/" + std::to_string(++step_serial_) + "-" +
                           sanitize(s.label.phase) + "-" + sanitize(step.name) + "-a" + std::to_string(attempt) +
                           (step.loop ? "-i" + std::to_string(iteration) : "");
  context.create_work_directory = [this, folder = context.work_directory] {
    ::mkdir((log_.folder() + "/steps").c_str(), 0700);
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create " + folder + ": " + std::strerror(errno);
    return std::string();
  };
  reporter_.forget_stderr();
  // console.log lines while they are cheap, then the attempt's folder (bounded log volume).
  StepOutputLog output_log(log_, context.work_directory, context.create_work_directory);
  context.output = [this, &output_log](sys::OutputStream stream, std::string_view chunk) {
    bool is_err = stream == sys::OutputStream::Stderr;
    output_log.write(is_err, chunk);
    reporter_.step_output(is_err, chunk);
  };
  context.log = [this, &step](const std::string& line) { log_.application("info", step.name + ": " + line); };
  std::string child_prefix = s.key + "#" + std::to_string(iteration) + ">";
  context.run_document = [this, &s, child_prefix](const ChildDocumentRequest& request) {
    return run_child(s.run, s.spec, child_prefix, request);
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

}  // namespace kiln
