// Fuzz target: {{ }} expressions and conditions. The input is used two ways:
// - as a string: find_expressions, then resolve_string with a small scope (parameters,
//   one finished step, context keys, a loop frame);
// - as JSON (when it parses): check_condition with and without branches, then
//   evaluate_condition when the shape is valid and the condition uses only pure
//   operators. fileExists, folderExists, binaryExists and the file hash operators read
//   the file system, so conditions that use them are checked but not evaluated.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "agent/document/expression.h"
#include "agent/document/condition.h"
#include "agent/engine/resolver.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool touches_files(const nlohmann::json& value) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      std::string_view k = key;
      if (k == "fileExists" || k == "folderExists" || k == "binaryExists" ||
          (k.substr(0, 4) == "file" && k.size() > 10 && k.substr(k.size() - 6) == "Equals"))
        return true;
      if (touches_files(item)) return true;
    }
  } else if (value.is_array()) {
    for (const auto& item : value)
      if (touches_files(item)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);

  for (const auto& e : kiln::find_expressions(text)) {
    require(e.begin < e.end && e.end <= text.size());
    require(text.compare(e.begin, 2, "{{") == 0);
  }

  static const std::map<std::string, std::string> variables = {{"Name", "value"}, {"Version", "1.2.3"}};
  static const std::map<std::string, std::string> context = {{"executionId", "id"}, {"osPlatform", "linux"}};
  static const std::map<std::string, kiln::StepTrace> steps = [] {
    kiln::StepTrace trace;
    trace.inputs = nlohmann::json::array({{{"commands", nlohmann::json::array({"echo hi"})}}});
    trace.outputs = nlohmann::json::array({{{"stdout", "hi"}, {"exitCode", 0}}});
    trace.ran = true;
    return std::map<std::string, kiln::StepTrace>{{"build\nStep", trace}};
  }();
  kiln::ResolveScope scope;
  scope.variables = &variables;
  scope.steps = &steps;
  scope.context = &context;
  scope.loop = kiln::LoopFrame{"items", 2, "b"};
  std::string resolved = text;
  (void)kiln::resolve_string(resolved, scope);

  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return 0;
  (void)kiln::check_condition(parsed, false);
  bool valid = kiln::check_condition(parsed, true).empty();
  (void)kiln::condition_branch(parsed, true);
  (void)kiln::condition_branch(parsed, false);
  if (touches_files(parsed)) return 0;
  kiln::ConditionOutcome outcome = kiln::evaluate_condition(parsed);
  // A checked condition evaluates without error, unless it holds {{ }} expressions: the
  // checker leaves those operands alone (they are resolved at run time, and what they
  // resolve to, such as a pattern, is checked then), and here they are evaluated unresolved.
  if (valid && kiln::find_expressions(text).empty()) require(outcome.error.empty());
  (void)kiln::resolve_json(parsed, scope);
  return 0;
}
