#include "agent/engine/dry_run.h"

#include <set>
#include <sstream>

#include "agent/document/condition.h"
#include "agent/document/expression.h"
#include "agent/engine/execution.h"
#include "agent/engine/loop.h"

namespace kiln {
namespace {

using json = nlohmann::json;

constexpr size_t kIterationsShown = 10;  // a long loop's plan names the first ones and counts the rest

// Resolves each expression of `text` that the scope can answer now; the others stay
// as written and are added to `later` ("{{ x }}: why"). Each expression is resolved on
// its own through the run's resolver, so a dry run reads values as the run will.
void resolve_known(std::string& text, const ResolveScope& scope, std::set<std::string>& later) {
  std::vector<Expression> expressions = find_expressions(text);
  std::string result;
  size_t last = 0;
  for (const auto& e : expressions) {
    result.append(text, last, e.begin - last);
    std::string piece = text.substr(e.begin, e.end - e.begin);
    std::string shown = "{{ " + e.text + " }}";
    std::string why;
    if (e.kind == ExpressionKind::Ssm)
      why = "an SSM parameter, fetched when the step runs";
    else if (e.kind == ExpressionKind::Imds)
      why = "instance metadata, fetched when the step runs";
    else if (e.kind == ExpressionKind::Chaining && (!scope.steps || !scope.steps->count(e.phase + "\n" + e.step)))
      why = "the " + e.section.substr(0, e.section.size() - 1) + " of " + e.phase + "." + e.step +
            ", known once it has run";
    else if (e.kind == ExpressionKind::LoopValue && !scope.loop)
      why = "a loop value, known when the loop runs";
    else if (std::string error = resolve_string(piece, scope); !error.empty())
      why = e.kind == ExpressionKind::Context ? "known when the step runs" : error;
    if (why.empty()) {
      result += piece;
    } else {
      result.append(text, e.begin, e.end - e.begin);
      later.insert(shown + ": " + why);
    }
    last = e.end;
  }
  result.append(text, last, std::string::npos);
  text = std::move(result);
}

void resolve_known(json& value, const ResolveScope& scope, std::set<std::string>& later) {
  if (value.is_string())
    resolve_known(value.get_ref<std::string&>(), scope, later);
  else if (value.is_array() || value.is_object())
    for (auto& item : value) resolve_known(item, scope, later);
}

json describe_if(const StepSpec& step, const ResolveScope& scope, std::set<std::string>& later) {
  json condition = step.if_condition;
  std::set<std::string> unknown;
  resolve_known(condition, scope, unknown);
  later.insert(unknown.begin(), unknown.end());
  if (!unknown.empty()) return {{"decidedAtRunTime", true}, {"condition", condition}};
  ConditionOutcome outcome = evaluate_condition(condition);
  if (!outcome.error.empty()) return {{"decidedAtRunTime", false}, {"error", outcome.error}, {"branch", "Abort"}};
  return {{"decidedAtRunTime", false},
          {"verdict", outcome.value},
          {"branch", condition_branch(condition, outcome.value)},
          {"detail", outcome.detail}};
}

// The loop's iterations when its list is known now, each with its resolved inputs.
json describe_loop(const StepSpec& step, ResolveScope scope, std::set<std::string>& later, json& inputs) {
  const LoopSpec& loop = *step.loop;
  json out = {{"name", loop.name}};
  std::set<std::string> unknown;
  json list = loop.kind == LoopSpec::Kind::ForEachList ? loop.items : json(loop.list);
  if (loop.kind != LoopSpec::Kind::For) resolve_known(list, scope, unknown);
  std::vector<LoopFrame> frames;
  std::string error = unknown.empty() ? expand_loop(loop, scope, frames) : "";
  if (!unknown.empty() || !error.empty()) {
    later.insert(unknown.begin(), unknown.end());
    if (!error.empty()) later.insert("loop: " + error);
    out["expandedAtRunTime"] = true;
    out["list"] = list;
    resolve_known(inputs, scope, later);
    return out;
  }
  out["expandedAtRunTime"] = false;
  out["count"] = frames.size();
  json iterations = json::array();
  for (size_t i = 0; i < frames.size() && i < kIterationsShown; ++i) {
    scope.loop = frames[i];
    json each = step.inputs;
    resolve_known(each, scope, later);
    iterations.push_back({{"index", frames[i].index}, {"value", frames[i].value}, {"inputs", each}});
  }
  out["iterations"] = iterations;
  scope.loop.reset();
  std::set<std::string> shape_only;          // its loop values are listed per iteration above, not as "later"
  resolve_known(inputs, scope, shape_only);  // as written, loop values kept: the step's shape
  return out;
}

json describe_step(const PlannedDocument& planned, const DryRunOptions& options, const StepPosition& at,
                   const std::map<std::string, std::string>& host) {
  const PhaseSpec& phase = planned.document->phases[at.phase];
  const StepSpec& step = phase.steps[at.step];
  StepChoice choice = options.plan->choice(at.document, at.phase, at.step);
  json out = {{"phase", phase.name},
              {"name", step.name},
              {"action", step.action},
              {"runs", choice == StepChoice::Run},
              {"timeoutSeconds", step.timeout_seconds},
              {"maxAttempts", step.max_attempts},
              {"onFailure", on_failure_name(step.on_failure)}};
  if (choice != StepChoice::Run) out["leftOutBy"] = step_choice_flag(choice);
  // What a step can read now: its parameters, the host's context (not the per-step
  // date/time/uuid), and the steps it borrows from --outputs-from.
  std::map<std::string, std::string> context = host;
  context["phase"] = phase.name;
  context["step"] = step.name;
  if (!options.execution_id.empty()) context["executionId"] = options.execution_id;
  const std::map<std::string, StepTrace>& borrowed = options.plan->borrowed(at.document);
  ResolveScope scope{planned.variables, &borrowed, &context, std::nullopt, nullptr};
  std::set<std::string> later;
  json inputs = step.has_inputs ? step.inputs : json::object();
  if (step.has_if) out["if"] = describe_if(step, scope, later);
  if (step.loop)
    out["loop"] = describe_loop(step, scope, later, inputs);
  else
    resolve_known(inputs, scope, later);
  out["inputs"] = inputs;
  out["atRunTime"] = later;
  // Only what came from the document and its values is masked, never the plan's own keys
  // (a one-letter secret would otherwise rewrite "maxAttempts").
  if (options.masker)
    for (const char* key : {"inputs", "if", "loop", "atRunTime"})
      if (out.contains(key)) out[key] = options.masker->mask_json(out[key]);
  return out;
}

std::string scalar(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Inputs, YAML-like: "key: value", lists as "- item", a multi-line text as its lines.
void render(std::ostringstream& out, const json& value, const std::string& indent) {
  auto text_lines = [&](const std::string& text, const std::string& pad) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) out << pad << line << "\n";
  };
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (item.is_string() && item.get<std::string>().find('\n') != std::string::npos) {
        out << indent << key << ": |\n";
        text_lines(item.get<std::string>(), indent + "  ");
      } else if (item.is_structured() && !item.empty()) {
        out << indent << key << ":\n";
        render(out, item, indent + "  ");
      } else {
        out << indent << key << ": " << (item.is_structured() ? item.dump() : scalar(item)) << "\n";
      }
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (item.is_string() && item.get<std::string>().find('\n') != std::string::npos) {
        out << indent << "- |\n";
        text_lines(item.get<std::string>(), indent + "  ");
      } else if (item.is_structured() && !item.empty()) {
        out << indent << "-\n";
        render(out, item, indent + "  ");
      } else {
        out << indent << "- " << (item.is_structured() ? item.dump() : scalar(item)) << "\n";
      }
    }
  } else {
    out << indent << scalar(value) << "\n";
  }
}

void format_step(std::ostringstream& out, const json& step) {
  std::string name = step["phase"].get<std::string>() + "." + step["name"].get<std::string>();
  std::string action = step["action"].get<std::string>();
  if (!step["runs"].get<bool>()) {
    out << "    [skip] " << name << " (" << action << ")  left out by " << step["leftOutBy"].get<std::string>() << "\n";
    return;
  }
  int64_t timeout = step["timeoutSeconds"].get<int64_t>();
  out << "    [run]  " << name << " (" << action << ")  timeout "
      << (timeout < 0 ? "none" : std::to_string(timeout) + " s") << ", maxAttempts "
      << step["maxAttempts"].get<int64_t>() << ", onFailure " << step["onFailure"].get<std::string>() << "\n";
  const std::string pad = "           ";
  if (step.contains("if")) {
    const json& c = step["if"];
    if (c.value("decidedAtRunTime", false))
      out << pad << "if: decided at run time\n";
    else if (c.contains("error"))
      out << pad << "if: cannot be evaluated (" << scalar(c["error"]) << "): the step fails\n";
    else
      out << pad << "if: " << (c["verdict"].get<bool>() ? "true" : "false") << " -> " << scalar(c["branch"]) << "  ("
          << scalar(c["detail"]) << ")\n";
  }
  if (step.contains("loop")) {
    const json& loop = step["loop"];
    if (loop.value("expandedAtRunTime", false)) {
      out << pad << "loop: expanded at run time\n";
    } else {
      size_t count = loop["count"].get<size_t>();
      out << pad << "loop: " << count << " iteration" << (count == 1 ? "" : "s") << "\n";
      for (const auto& it : loop["iterations"]) {
        out << pad << "  [" << it["index"].get<int64_t>() << "] " << scalar(it["value"]) << "\n";
        render(out, it["inputs"], pad + "      ");
      }
      if (count > loop["iterations"].size()) out << pad << "  ... " << count - loop["iterations"].size() << " more\n";
    }
  }
  if (!step.contains("loop") || step["loop"].value("expandedAtRunTime", false)) {
    if (!step["inputs"].empty()) {
      out << pad << "inputs:\n";
      render(out, step["inputs"], pad + "  ");
    }
  }
  for (const auto& later : step["atRunTime"]) out << pad << "at run time: " << later.get<std::string>() << "\n";
}

}  // namespace

json describe_plan(const std::vector<PlannedDocument>& documents, const DryRunOptions& options) {
  json out = {{"dryRun", true},
              {"stepsToRun", options.plan->steps_to_run()},
              {"stepsLeftOut", options.plan->steps_left_out()},
              {"documents", json::array()}};
  std::map<std::string, std::string> host = host_context(options.platform);
  for (size_t d = 0; d < documents.size(); ++d) {
    const Document& doc = *documents[d].document;
    json phases = json::array();
    for (size_t p = 0; p < doc.phases.size(); ++p) {
      json steps = json::array();
      for (size_t s = 0; s < doc.phases[p].steps.size(); ++s)
        steps.push_back(describe_step(documents[d], options, {d, p, s}, host));
      json phase = {{"name", doc.phases[p].name}, {"steps", steps}};
      if (!doc.phases[p].steps.empty() && options.plan->choice(d, p, 0) == StepChoice::PhaseLeftOut)
        phase["leftOutBy"] = "--phases";
      phases.push_back(std::move(phase));
    }
    out["documents"].push_back({{"path", documents[d].path}, {"name", doc.name}, {"phases", phases}});
  }
  return out;
}

std::string format_plan(const json& plan) {
  std::ostringstream out;
  size_t documents = plan["documents"].size();
  out << "Dry run: nothing is run. " << documents << " document" << (documents == 1 ? "" : "s") << "; "
      << plan["stepsToRun"].get<size_t>() << " step(s) would run, " << plan["stepsLeftOut"].get<size_t>()
      << " left out.\n";
  for (const auto& doc : plan["documents"]) {
    out << "\nDocument " << doc["path"].get<std::string>();
    if (!doc["name"].get<std::string>().empty()) out << " (" << doc["name"].get<std::string>() << ")";
    out << "\n";
    for (const auto& phase : doc["phases"]) {
      out << "  Phase " << phase["name"].get<std::string>();
      if (phase.contains("leftOutBy")) {
        out << "  left out by --phases (" << phase["steps"].size() << " step(s))\n";
        continue;
      }
      out << "\n";
      for (const auto& step : phase["steps"]) format_step(out, step);
    }
  }
  return out.str();
}

}  // namespace kiln
