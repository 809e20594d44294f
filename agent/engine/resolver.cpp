#include "agent/engine/resolver.h"

#include <cstdlib>

#include "agent/base/text.h"
#include "agent/document/expression.h"

namespace kiln {
namespace {

std::string scalar_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

bool lookup(const std::map<std::string, std::string>* values, const std::string& key, std::string& out) {
  if (!values) return false;
  auto it = values->find(key);
  if (it == values->end()) return false;
  out = it->second;
  return true;
}

// {{ phase.step.outputs.key }} / {{ phase.step.inputs[i].key }}: from a step that ran before.
bool resolve_chaining(const Expression& e, const std::map<std::string, StepTrace>& steps, std::string& out,
                      std::string& error) {
  auto it = steps.find(e.phase + "\n" + e.step);
  if (it == steps.end()) {
    error = "'{{ " + e.text + " }}': step " + e.phase + "." + e.step + " has not run";
    return false;
  }
  const nlohmann::json& list = e.section == "inputs" ? it->second.inputs : it->second.outputs;
  size_t index = e.index.value_or(0);
  if (!list.is_array() || index >= list.size() || !list[index].is_object() || !list[index].contains(e.key)) {
    error = "'{{ " + e.text + " }}': " + e.phase + "." + e.step + " has no " + e.section.substr(0, e.section.size() - 1) +
            " '" + e.key + "'" + (e.index ? " at index " + std::to_string(index) : "") +
            (it->second.ran ? "" : " (the step did not run)");
    return false;
  }
  out = scalar_text(list[index][e.key]);
  return true;
}

// {{ aws:ssm:name }}, or {{ aws:ssm:resolve(x) }} whose parameter name is the value of
// the document parameter x or of another SSM reference (resolve(aws:ssm:/other)).
bool resolve_ssm(const Expression& e, std::string_view key, const ResolveScope& scope, std::string& out,
                 std::string& error) {
  if (!scope.external) {
    error = "'{{ " + e.text + " }}': AWS references cannot be resolved here";
    return false;
  }
  std::string name(key);
  constexpr std::string_view kResolve = "resolve(";
  if (key.substr(0, kResolve.size()) == kResolve) {
    if (key.back() != ')') {
      error = "'{{ " + e.text + " }}': resolve( is not closed";
      return false;
    }
    std::string inner(trim_ascii(key.substr(kResolve.size(), key.size() - kResolve.size() - 1)));
    if (inner.rfind("aws:ssm:", 0) == 0) {
      if (!resolve_ssm(e, std::string_view(inner).substr(8), scope, name, error)) return false;
    } else if (!lookup(scope.variables, inner, name)) {
      error = "'{{ " + e.text + " }}': '" + inner + "' is not a parameter of this document";
      return false;
    }
  }
  Expected<std::string> value = scope.external->ssm_parameter(name);
  if (!value) {
    error = "'{{ " + e.text + " }}': " + value.error();
    return false;
  }
  out = std::move(*value);
  return true;
}

// Returns true and sets `out` when `e` resolves; loop expressions outside their loop and
// text that is no expression stay as written (AWSTOE does the same), signalled by `keep`.
bool resolve_one(const Expression& e, const ResolveScope& scope, std::string& out, bool& keep, std::string& error) {
  keep = false;
  switch (e.kind) {
    case ExpressionKind::Variable:
      if (lookup(scope.variables, e.key, out)) return true;
      error = "'{{ " + e.text + " }}' has no value";
      return false;
    case ExpressionKind::LoopValue:
      if (scope.loop && (e.phase == "loop" || (!scope.loop->name.empty() && e.phase == scope.loop->name))) {
        out = e.key == "index" ? std::to_string(scope.loop->index) : scope.loop->value;
        return true;
      }
      keep = true;
      return true;
    case ExpressionKind::Chaining:
      if (!scope.steps) break;
      return resolve_chaining(e, *scope.steps, out, error);
    case ExpressionKind::Environment: {
      const char* v = std::getenv(e.key.c_str());
      out = v ? v : "";
      return true;
    }
    case ExpressionKind::Context:
      if (lookup(scope.context, e.key, out)) return true;
      error = "unknown context key '" + e.key + "'";
      return false;
    case ExpressionKind::Ssm:
      return resolve_ssm(e, e.key, scope, out, error);
    case ExpressionKind::Imds: {
      if (!scope.external) break;
      Expected<std::string> value = scope.external->instance_metadata(e.key);
      if (!value) {
        error = "'{{ " + e.text + " }}': " + value.error();
        return false;
      }
      out = std::move(*value);
      return true;
    }
    case ExpressionKind::Invalid:
      // Not an expression (`{{ .State.Running }}`, a '{{' never closed): the text stays
      // as written, as AWSTOE leaves it; validation warned about it.
      keep = true;
      return true;
  }
  error = "malformed expression '{{ " + e.text + " }}'";
  return false;
}

}  // namespace

std::string resolve_string(std::string& text, const ResolveScope& scope) {
  if (text.find("{{") == std::string::npos) return {};
  std::vector<Expression> expressions = find_expressions(text);
  std::string result;
  size_t last = 0;
  for (const auto& e : expressions) {
    result.append(text, last, e.begin - last);
    std::string value, error;
    bool keep = false;
    if (!resolve_one(e, scope, value, keep, error)) return error;
    if (keep) result.append(text, e.begin, e.end - e.begin);
    else result += value;
    last = e.end;
  }
  result.append(text, last, std::string::npos);
  text = std::move(result);
  return {};
}

std::string resolve_json(nlohmann::json& value, const ResolveScope& scope) {
  if (value.is_string()) return resolve_string(value.get_ref<std::string&>(), scope);
  if (value.is_array() || value.is_object())
    for (auto& item : value) {
      std::string error = resolve_json(item, scope);
      if (!error.empty()) return error;
    }
  return {};
}

}  // namespace kiln
