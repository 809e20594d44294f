#include "agent/document/validator.h"

#include <algorithm>
#include <cstdint>
#include <regex>
#include <set>

#include "agent/document/expression.h"
#include "agent/document/schema_check.h"
#include "agent/document/schema_registry.h"
#include "agent/document/suggest.h"
#include "agent/document/yaml_pitfalls.h"
#include "agent/document/condition.h"

namespace kiln {
namespace {

struct StepRef {
  size_t phase = 0, step = 0;
  const ActionSchema* action = nullptr;
};

// timeoutSeconds has no documented maximum; past ~9.2e9 s a deadline on a nanosecond
// clock overflows, so kiln stops at 2^31-1 s (68 years).
constexpr int64_t kMaxTimeoutSeconds = 2'147'483'647;

// Integers past int64 (YAML reads up to 2^64-1) are refused by the schema check; the
// semantic checks skip them rather than read 2^64-1 as -1.
bool fits_int64(const nlohmann::json& value) {
  return !value.is_number_unsigned() || value.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
}

// |b - a| without overflow (start -2^63, end 2^63-1 is a valid, if huge, loop).
uint64_t loop_span(int64_t a, int64_t b) {
  return a < b ? static_cast<uint64_t>(b) - static_cast<uint64_t>(a) : static_cast<uint64_t>(a) - static_cast<uint64_t>(b);
}

class Checker {
 public:
  Checker(LoadedDocument& doc, const ValidateOptions& options, Diagnostics& diagnostics)
      : doc_(doc), options_(options), diagnostics_(diagnostics), registry_(SchemaRegistry::instance()) {}

  void run() {
    nlohmann::json& root = doc_.root;
    if (!root.is_object()) {
      error(DiagnosticCode::Schema, "", false, "a component document must be a mapping with schemaVersion and phases",
            "start the file with 'schemaVersion: 1.0' and a 'phases:' list");
      return;
    }
    for (auto& p : check_against_schema(root, registry_.component_schema(), registry_.compiled_component(),
                                        doc_.source_map, ""))
      // The schema's enum of versions is for editors; check_schema_version says it better.
      if (p.pointer != "/schemaVersion" || p.kind == SchemaProblemKind::TypeMismatch) schema_error("", p);
    check_schema_version();
    check_variables();
    if (!root.contains("phases") || !root["phases"].is_array()) return;
    index_steps();
    for (size_t pi = 0; pi < root["phases"].size(); ++pi) check_phase(pi);
  }

 private:
  void error(DiagnosticCode code, const std::string& pointer, bool at_key, std::string message, std::string hint) {
    SourceLocation location = at_key ? doc_.key_at(pointer) : here(pointer);
    if (location.line == 0) location = {doc_.path, 1, 1};
    diagnostics_.push_back({Severity::Error, location, std::move(message), std::move(hint), code});
  }
  // Most checks here are about meaning; schema and condition-shape problems say so.
  void error(const std::string& pointer, bool at_key, std::string message, std::string hint) {
    error(DiagnosticCode::Semantic, pointer, at_key, std::move(message), std::move(hint));
  }
  void schema_error(const std::string& pointer, const SchemaProblem& p) {
    if (p.kind == SchemaProblemKind::TypeMismatch && explain_type(pointer + p.pointer, p)) return;
    error(p.kind == SchemaProblemKind::UnknownKey ? DiagnosticCode::UnknownKey : DiagnosticCode::Schema,
          pointer + p.pointer, p.at_key, p.message(), p.hint);
  }
  // A value of the wrong type that YAML's reading of an unquoted scalar explains: the
  // same message, the hint names YAML's rule and the caret is on what caused it.
  bool explain_type(const std::string& pointer, const SchemaProblem& p) {
    nlohmann::json::json_pointer at(pointer);
    if (!doc_.root.contains(at)) return false;
    const nlohmann::json& value = doc_.root.at(at);
    auto wants = [&](const char* type) {
      return std::find(p.expected_types.begin(), p.expected_types.end(), type) != p.expected_types.end();
    };
    if (wants("string")) {
      if (std::optional<YamlPitfall> pitfall = explain_not_text(doc_, pointer, value)) {
        diagnostics_.push_back({Severity::Error, {doc_.path, pitfall->line, pitfall->column}, p.message(),
                                std::move(pitfall->hint), DiagnosticCode::Schema});
        return true;
      }
    }
    if (wants("boolean")) {
      if (std::optional<std::string> hint = explain_not_boolean(doc_, pointer, value)) {
        error(DiagnosticCode::Schema, pointer, false, p.message(), std::move(*hint));
        return true;
      }
    }
    return false;
  }

  // Text YAML silently dropped from an input's unquoted value (a ' #' comment after it,
  // a tag or an anchor before it): a warning on each, once per place in the file.
  void check_dropped_text(const nlohmann::json& value, const std::string& pointer) {
    if (value.is_object()) {
      for (const auto& [k, v] : value.items()) check_dropped_text(v, pointer_append(pointer, k));
    } else if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) check_dropped_text(value[i], pointer_append(pointer, i));
    } else if (value.is_string()) {
      std::optional<DroppedText> dropped = explain_dropped_text(doc_, pointer);
      if (dropped && dropped_seen_.emplace(dropped->line, dropped->column).second)
        diagnostics_.push_back({Severity::Warning, {doc_.path, dropped->line, dropped->column},
                                std::move(dropped->message), std::move(dropped->hint), DiagnosticCode::Semantic});
    }
  }

  void warning(const std::string& pointer, std::string message, std::string hint) {
    diagnostics_.push_back(
        {Severity::Warning, here(pointer), std::move(message), std::move(hint), DiagnosticCode::Semantic});
  }

  // Where a diagnostic points: the value at `pointer`, or, while an expression is
  // checked, its "{{" (on its own line inside a multi-line script).
  SourceLocation here(const std::string& pointer) const {
    if (expression_text_.empty()) return doc_.at(pointer);
    return doc_.text_at(pointer, expression_offset_, expression_text_);
  }

  void check_schema_version() {
    const nlohmann::json& root = doc_.root;
    auto it = root.find("schemaVersion");
    if (it == root.end()) return;  // reported by the schema
    bool ok = (it->is_string() && (*it == "1.0" || *it == "1")) || (it->is_number() && it->get<double>() == 1.0);
    if (!ok)
      error(DiagnosticCode::Schema, "/schemaVersion", false,
            "schemaVersion " + (it->is_string() ? it->get<std::string>() : it->dump()) + " is not supported",
            "write 'schemaVersion: 1.0'");
  }

  void check_variables() {
    static const std::regex name_rule("^[A-Za-z0-9_-]{3,128}$");
    std::map<std::string, std::string> seen;  // name -> pointer of the first
    for (const char* section : {"parameters", "constants"}) {
      auto it = doc_.root.find(section);
      if (it == doc_.root.end() || !it->is_array()) continue;
      for (size_t i = 0; i < it->size(); ++i) {
        const nlohmann::json& entry = (*it)[i];
        if (!entry.is_object()) continue;
        for (const auto& [name, decl] : entry.items()) {
          std::string pointer = pointer_append(pointer_append(std::string("/") + section, i), name);
          if (!std::regex_match(name, name_rule))
            error(pointer, true, "invalid " + std::string(section == std::string("parameters") ? "parameter" : "constant") +
                                     " name '" + name + "'",
                  "names are 3 to 128 characters of A-Z, a-z, 0-9, _ and -");
          if (options_.strict && decl.is_object() && decl.contains("secret"))
            error(pointer_append(pointer, "secret"), true, "'secret' is a kiln extension, refused by --strict",
                  "remove it, or validate without --strict");
          if (auto [first, inserted] = seen.emplace(name, pointer); !inserted)
            error(pointer, true, "duplicate parameter/constant name '" + name + "' (first declared at line " +
                                     std::to_string(doc_.key_at(first->second).line) + ")",
                  "parameter and constant names must be unique across both lists");
          else
            variables_.insert(name);
        }
      }
    }
  }

  void index_steps() {
    const nlohmann::json& phases = doc_.root["phases"];
    for (size_t pi = 0; pi < phases.size(); ++pi) {
      const nlohmann::json& phase = phases[pi];
      if (!phase.is_object() || !phase.contains("name") || !phase["name"].is_string()) continue;
      std::string phase_name = phase["name"];
      if (!phase.contains("steps") || !phase["steps"].is_array()) continue;
      for (size_t si = 0; si < phase["steps"].size(); ++si) {
        const nlohmann::json& step = phase["steps"][si];
        if (!step.is_object() || !step.contains("name") || !step["name"].is_string()) continue;
        StepRef ref{pi, si, nullptr};
        if (step.contains("action") && step["action"].is_string()) ref.action = registry_.action(step["action"]);
        steps_.emplace(phase_name + "\n" + step["name"].get<std::string>(), ref);
        phase_names_.insert(phase_name);
      }
    }
  }

  void check_phase(size_t pi) {
    nlohmann::json& phase = doc_.root["phases"][pi];
    std::string pointer = pointer_append("/phases", pi);
    if (!phase.is_object()) return;
    if (phase.contains("name") && phase["name"].is_string()) {
      std::string name = phase["name"];
      if (auto [first, inserted] = phase_seen_.emplace(name, pi); !inserted)
        error(pointer + "/name", false, "duplicate phase name '" + name + "'", "phase names must be unique");
    }
    if (!phase.contains("steps") || !phase["steps"].is_array()) return;
    std::set<std::string> step_names, loop_names;
    for (size_t si = 0; si < phase["steps"].size(); ++si) {
      nlohmann::json& step = phase["steps"][si];
      std::string sp = pointer_append(pointer + "/steps", si);
      if (!step.is_object()) continue;
      if (step.contains("name") && step["name"].is_string() && !step_names.insert(step["name"]).second)
        error(sp + "/name", false,
              "duplicate step name '" + step["name"].get<std::string>() + "' in phase '" +
                  phase.value("name", std::string()) + "'",
              "step names must be unique within a phase");
      if (step.contains("loop") && step["loop"].is_object() && step["loop"].contains("name") &&
          step["loop"]["name"].is_string() && !step["loop"]["name"].get<std::string>().empty() &&
          !loop_names.insert(step["loop"]["name"]).second)
        error(sp + "/loop/name", false, "duplicate loop name '" + step["loop"]["name"].get<std::string>() + "'",
              "loop names must be unique within a phase");
      check_step(step, sp, pi, si);
    }
  }

  void check_step(nlohmann::json& step, const std::string& sp, size_t pi, size_t si) {
    const ActionSchema* action = nullptr;
    if (step.contains("action") && step["action"].is_string()) {
      std::string name = step["action"];
      action = registry_.action(name);
      if (!action) {
        std::string guess = nearest(name, registry_.action_names());
        error(sp + "/action", false, "unknown action '" + name + "'",
              guess.empty() ? "see docs/actions.md for the list of actions" : "did you mean '" + guess + "'?");
      } else if (options_.strict && action->schema.value("x-kiln-extension", false)) {
        error(sp + "/action", false, name + " is a kiln extension, refused by --strict",
              "AWSTOE does not have this action; validate without --strict to use it");
      } else if (!action->supports(options_.platform)) {
        error(sp + "/action", false, name + " is not available on " + options_.platform,
              name + " runs on " + join_words(action->platforms) +
                  "; validate for another platform with --os-platforms");
      }
    }
    if (auto it = step.find("timeoutSeconds"); it != step.end() && it->is_number_integer() && fits_int64(*it)) {
      int64_t t = it->get<int64_t>();
      if (t > kMaxTimeoutSeconds)
        error(sp + "/timeoutSeconds", false,
              "timeoutSeconds " + std::to_string(t) + " is too large; the limit is " + std::to_string(kMaxTimeoutSeconds),
              "use -1 for no timeout");
      else if (t == 0 || t < -1)
        error(sp + "/timeoutSeconds", false, "timeoutSeconds must be a positive number of seconds or -1",
              "-1 means no timeout; the default is 7200");
      else if (action && action->no_timeout && t != -1)
        error(sp + "/timeoutSeconds", false, action->name + " steps cannot set timeoutSeconds",
              "remove it: " + action->name + " steps always run without a timeout");
    }
    if (auto it = step.find("maxAttempts"); it != step.end() && it->is_number_integer() && fits_int64(*it) && action &&
                                            action->single_attempt && it->get<int64_t>() != 1)
      error(sp + "/maxAttempts", false, action->name + " steps cannot set maxAttempts",
            "remove it: " + action->name + " steps run once");
    if (action) check_inputs(step, sp, *action);
    if (auto it = step.find("if"); it != step.end())
      for (const auto& p : check_condition(*it, true)) {
        if (p.warning)
          diagnostics_.push_back({Severity::Warning, doc_.key_at(sp + "/if" + p.pointer), p.message, p.hint,
                                  DiagnosticCode::Schema});
        else
          error(DiagnosticCode::Schema, sp + "/if" + p.pointer, false, p.message, p.hint);
      }
    if (auto it = step.find("loop"); it != step.end() && it->is_object()) check_loop(*it, sp + "/loop");
    // References in everything that may hold expressions.
    std::string loop_name;
    bool has_loop = step.contains("loop") && step["loop"].is_object();
    if (has_loop && step["loop"].contains("name") && step["loop"]["name"].is_string()) loop_name = step["loop"]["name"];
    for (const char* key : {"inputs", "if", "loop"})
      if (step.contains(key)) check_references(step[key], sp + "/" + key, pi, si, has_loop, loop_name);
  }

  void check_inputs(nlohmann::json& step, const std::string& sp, const ActionSchema& action) {
    auto it = step.find("inputs");
    if (it == step.end() || it->is_null()) {
      if (action.inputs_required)
        error(DiagnosticCode::Schema, it == step.end() ? sp : sp + "/inputs", it != step.end(),
              it == step.end() ? action.name + " step is missing 'inputs'" : action.name + " step has empty 'inputs'",
              "add the inputs " + action.name + " needs; see docs/actions.md");
      return;
    }
    if (action.condition_inputs) {
      for (const auto& p : check_condition(*it, false))
        error(DiagnosticCode::Schema, sp + "/inputs" + p.pointer, false, p.message, p.hint);
      return;
    }
    for (auto p : check_against_schema(*it, action.schema, action.compiled(), doc_.source_map, sp + "/inputs")) {
      if (p.pointer.empty() && p.about_value()) p.subject = action.name + " inputs";  // not "''"
      schema_error(sp + "/inputs", p);
    }
    check_dropped_text(*it, sp + "/inputs");
    if (options_.platform == "windows" && !action.not_on_windows_inputs.empty()) {
      auto check_item = [&](const nlohmann::json& item, const std::string& ip) {
        if (!item.is_object()) return;
        for (const auto& key : action.not_on_windows_inputs)
          if (item.contains(key))
            error(pointer_append(ip, key), true, "'" + key + "' is not supported on windows",
                  "remove it from the Windows document");
      };
      if (it->is_array())
        for (size_t i = 0; i < it->size(); ++i) check_item((*it)[i], pointer_append(sp + "/inputs", i));
      else
        check_item(*it, sp + "/inputs");
    }
  }

  void check_loop(const nlohmann::json& loop, const std::string& lp) {
    if (auto it = loop.find("for"); it != loop.end() && it->is_object()) {
      const auto& f = *it;
      if (!f.contains("start") || !f.contains("end") || !f.contains("updateBy")) return;
      if (!f["start"].is_number_integer() || !f["end"].is_number_integer() || !f["updateBy"].is_number_integer())
        return;
      if (!fits_int64(f["start"]) || !fits_int64(f["end"]) || !fits_int64(f["updateBy"])) return;
      int64_t start = f["start"], end = f["end"], by = f["updateBy"];
      if (by == 0)
        error(lp + "/for/updateBy", false, "updateBy cannot be 0: the loop would never end",
              "use a positive step to count up or a negative one to count down");
      else if ((by > 0 && start > end) || (by < 0 && start < end))
        error(lp + "/for/updateBy", false,
              "updateBy " + std::to_string(by) + " moves away from end: start " + std::to_string(start) +
                  (by > 0 ? " is already past end " : " is already below end ") + std::to_string(end),
              by > 0 ? "count down with a negative updateBy, or swap start and end"
                     : "count up with a positive updateBy, or swap start and end");
      else if (loop_span(start, end) / loop_span(0, by) > 1'000'000)
        error(lp + "/for", false, "the loop runs more than 1,000,000 iterations", "use a larger updateBy");
    }
  }

  void check_references(const nlohmann::json& value, const std::string& pointer, size_t pi, size_t si,
                        bool has_loop, const std::string& loop_name) {
    if (value.is_object()) {
      for (const auto& [k, v] : value.items())
        if (k != "delimiter") check_references(v, pointer_append(pointer, k), pi, si, has_loop, loop_name);
      return;
    }
    if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i)
        check_references(value[i], pointer_append(pointer, i), pi, si, has_loop, loop_name);
      return;
    }
    if (!value.is_string()) return;
    const std::string& text = value.get_ref<const std::string&>();
    for (const auto& e : find_expressions(text)) {
      expression_text_ = text.substr(e.begin, e.end - e.begin);
      expression_offset_ = e.begin;
      check_expression(e, pointer, pi, si, has_loop, loop_name);
      expression_text_.clear();
    }
  }

  void check_expression(const Expression& e, const std::string& pointer, size_t pi, size_t si, bool has_loop,
                        const std::string& loop_name) {
    const std::string shown = "{{ " + e.text + " }}";
    switch (e.kind) {
      case ExpressionKind::Invalid:
        // AWSTOE leaves text it cannot read as an expression as it is (Amazon's own
        // components have such lines); kiln does the same, and says so.
        if (e.unterminated)
          warning(pointer, "'{{' is never closed; the text stays as written",
                  "close it with '}}' if an expression was meant (--warnings-as-errors refuses this)");
        else
          warning(pointer, "'" + shown_as_written(e) + "' is not an expression; the text stays as written",
                  "expressions are {{ Name }}, {{ phase.step.outputs.key }}, {{ loop.value }}, {{ env:NAME }} or "
                  "{{ context:KEY }} (--warnings-as-errors refuses this)");
        return;
      case ExpressionKind::Variable:
        if (!variables_.count(e.key)) {
          std::string guess = nearest(e.key, {variables_.begin(), variables_.end()});
          error(pointer, false, "'" + shown + "' refers to an undeclared parameter or constant '" + e.key + "'",
                guess.empty() ? "declare it under 'parameters:' or 'constants:'" : "did you mean '" + guess + "'?");
        }
        return;
      case ExpressionKind::LoopValue:
        if (!has_loop && (e.phase == "loop" || e.phase == loop_name))
          warning(pointer, "'" + shown + "' is outside a loop and stays as written", "");
        else if (e.phase != "loop" && e.phase != loop_name)
          warning(pointer, "'" + shown + "' names no loop of this step and stays as written",
                  loop_name.empty() ? "use {{ loop." + e.key + " }}" : "the loop here is '" + loop_name + "'");
        return;
      case ExpressionKind::Chaining:
        check_chaining(e, pointer, pi, si, shown);
        return;
      case ExpressionKind::Context:
        if (std::find(context_keys().begin(), context_keys().end(), e.key) == context_keys().end()) {
          std::string guess = nearest(e.key, context_keys());
          error(pointer, false, "unknown context key '" + e.key + "'",
                guess.empty() ? "context keys: " + join_words(context_keys()) : "did you mean 'context:" + guess + "'?");
        }
        return;
      case ExpressionKind::Imds:
        if (e.key.rfind("iam/", 0) == 0 || e.key.rfind("identity-credentials/", 0) == 0 || e.key == "iam")
          error(pointer, false, "instance metadata path '" + e.key + "' is not allowed",
                "credentials paths (iam/, identity-credentials/) cannot be read from documents");
        return;
      case ExpressionKind::Environment:
      case ExpressionKind::Ssm:
        return;
    }
  }

  // The expression as the document has it, cut short when long (a script's braces).
  std::string shown_as_written(const Expression&) const {
    constexpr size_t kShown = 60;
    std::string shown = expression_text_;
    if (shown.size() > kShown) {
      size_t cut = kShown;
      while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
      shown = shown.substr(0, cut) + "...";
    }
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    return shown;
  }

  void check_chaining(const Expression& e, const std::string& pointer, size_t pi, size_t si, const std::string& shown) {
    auto it = steps_.find(e.phase + "\n" + e.step);
    if (it == steps_.end()) {
      if (!phase_names_.count(e.phase))
        error(pointer, false, "'" + shown + "' refers to an unknown phase '" + e.phase + "'",
              "phases here: " + join_words({phase_names_.begin(), phase_names_.end()}));
      else
        error(pointer, false, "'" + shown + "' refers to an unknown step '" + e.step + "' in phase '" + e.phase + "'",
              "chaining can only name steps of this document");
      return;
    }
    const StepRef& ref = it->second;
    if (ref.phase > pi || (ref.phase == pi && ref.step >= si)) {
      error(pointer, false,
            "'" + shown + "' refers to " + (ref.phase == pi && ref.step == si ? "its own step" : "a later step") +
                ", which has not run yet",
            "a step can only use inputs and outputs of steps that run before it");
      return;
    }
    if (!ref.action) return;
    if (e.section == "outputs" && !ref.action->outputs.empty() &&
        std::find(ref.action->outputs.begin(), ref.action->outputs.end(), e.key) == ref.action->outputs.end()) {
      error(pointer, false, "'" + shown + "': " + ref.action->name + " has no output '" + e.key + "'",
            "its outputs: " + join_words(ref.action->outputs));
    } else if (e.section == "outputs" && ref.action->outputs.empty()) {
      error(pointer, false, "'" + shown + "': " + ref.action->name + " has no outputs", "");
    } else if (e.section == "inputs" && !ref.action->condition_inputs) {
      const nlohmann::json& item = ref.action->item_schema();
      if (item.contains("properties") && !item["properties"].contains(e.key)) {
        std::vector<std::string> keys;
        for (const auto& [k, _] : item["properties"].items()) keys.push_back(k);
        error(pointer, false, "'" + shown + "': " + ref.action->name + " has no input '" + e.key + "'",
              "its inputs: " + join_words(keys));
      }
    }
  }

  LoadedDocument& doc_;
  const ValidateOptions& options_;
  Diagnostics& diagnostics_;
  const SchemaRegistry& registry_;
  std::set<std::string> variables_;
  std::map<std::string, StepRef> steps_;  // "phase\nstep" -> position
  std::set<std::string> phase_names_;
  std::map<std::string, size_t> phase_seen_;
  std::set<std::pair<int, int>> dropped_seen_;  // line, column of each dropped-text warning
  std::string expression_text_;  // the expression being checked, to place its diagnostics
  size_t expression_offset_ = 0;  // where it starts in its string
};

LoopSpec build_loop(const nlohmann::json& loop) {
  LoopSpec spec;
  spec.name = loop.value("name", std::string());
  if (loop.contains("for")) {
    spec.kind = LoopSpec::Kind::For;
    spec.start = loop["for"]["start"];
    spec.end = loop["for"]["end"];
    spec.update_by = loop["for"]["updateBy"];
  } else if (loop["forEach"].is_array()) {
    spec.kind = LoopSpec::Kind::ForEachList;
    spec.items = loop["forEach"];
  } else {
    spec.kind = LoopSpec::Kind::ForEachString;
    spec.list = loop["forEach"]["list"];
    std::string delimiter = loop["forEach"].value("delimiter", std::string(","));
    spec.delimiter = delimiter.empty() ? ',' : delimiter[0];
  }
  return spec;
}

void build_model(LoadedDocument& source, Document& out) {
  const nlohmann::json& root = source.root;
  out.name = root.value("name", std::string());
  out.description = root.value("description", std::string());
  if (auto it = root.find("parameters"); it != root.end())
    for (const auto& entry : *it)
      for (const auto& [name, decl] : entry.items()) {
        ParameterSpec p;
        p.name = name;
        p.type = decl.value("type", std::string("string"));
        if (decl.contains("default") && decl["default"].is_string()) p.default_value = decl["default"];
        p.description = decl.value("description", std::string());
        p.secret = decl.value("secret", false);
        out.parameters.push_back(p);
      }
  if (auto it = root.find("constants"); it != root.end())
    for (const auto& entry : *it)
      for (const auto& [name, decl] : entry.items()) out.constants[name] = decl.value("value", std::string());
  const nlohmann::json& phases = root["phases"];
  for (size_t pi = 0; pi < phases.size(); ++pi) {
    PhaseSpec phase;
    phase.name = phases[pi]["name"];
    const nlohmann::json& steps = phases[pi]["steps"];
    for (size_t si = 0; si < steps.size(); ++si) {
      const nlohmann::json& s = steps[si];
      StepSpec step;
      step.name = s["name"];
      step.action = s["action"];
      step.timeout_seconds = s.value("timeoutSeconds", int64_t{7200});
      // The schema's enum has been checked: an unknown value cannot reach here.
      step.on_failure = parse_on_failure(s.value("onFailure", std::string("Abort"))).value_or(OnFailure::Abort);
      step.max_attempts = s.value("maxAttempts", int64_t{1});
      if (const ActionSchema* traits = SchemaRegistry::instance().action(step.action)) {
        if (traits->no_timeout) step.timeout_seconds = -1;
        if (traits->single_attempt) step.max_attempts = 1;
      }
      step.has_inputs = s.contains("inputs") && !s["inputs"].is_null();
      if (step.has_inputs) step.inputs = s["inputs"];
      step.inputs_have_expressions = holds_expression(step.inputs);
      step.has_if = s.contains("if");
      if (step.has_if) step.if_condition = s["if"];
      step.if_has_expressions = holds_expression(step.if_condition);
      if (s.contains("loop") && s["loop"].is_object()) step.loop = build_loop(s["loop"]);
      step.pointer = pointer_append(pointer_append(pointer_append("/phases", pi), "steps"), si);
      phase.steps.push_back(std::move(step));
    }
    out.phases.push_back(std::move(phase));
  }
  out.source = std::move(source);
}

}  // namespace

Diagnostics validate_document(LoadedDocument source, const ValidateOptions& options, Document& out) {
  Diagnostics diagnostics;
  Checker(source, options, diagnostics).run();
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.location.line, a.location.column) < std::tie(b.location.line, b.location.column);
  });
  if (options.warnings_as_errors)
    for (Diagnostic& d : diagnostics)
      if (d.severity == Severity::Warning) {
        d.severity = Severity::Error;
        d.message += " [--warnings-as-errors]";
      }
  if (!has_errors(diagnostics)) {
    try {
      build_model(source, out);
    } catch (const std::exception& e) {
      diagnostics.push_back({Severity::Error, {source.path, 1, 1},
                             std::string("internal error while reading the document: ") + e.what(),
                             "please report this with the document", DiagnosticCode::Internal});
    }
  }
  return diagnostics;
}

}  // namespace kiln
