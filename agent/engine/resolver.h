// Resolves {{ }} expressions in step inputs, loop lists and conditions: parameters
// and constants, chaining to earlier steps, loop variables, env: and context:.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kiln {

// What a finished step leaves for chaining: its inputs and outputs, each a list of maps.
struct StepTrace {
  nlohmann::json inputs = nlohmann::json::array();
  nlohmann::json outputs = nlohmann::json::array();
  bool ran = false;  // false: skipped or not run (its outputs are not available)
};

struct LoopFrame {
  std::string name;  // "" when unnamed
  int64_t index = 0;
  std::string value;
};

struct ResolveScope {
  const std::map<std::string, std::string>* variables = nullptr;  // parameters + constants
  const std::map<std::string, StepTrace>* steps = nullptr;        // "phase\nstep" -> trace
  const std::map<std::string, std::string>* context = nullptr;    // context: keys
  std::optional<LoopFrame> loop;
};

// Replaces every expression in every string of `value`. Returns "" or an error text.
std::string resolve_json(nlohmann::json& value, const ResolveScope& scope);
std::string resolve_string(std::string& text, const ResolveScope& scope);

}  // namespace kiln
