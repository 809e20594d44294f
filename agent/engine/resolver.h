// Resolves {{ }} expressions in step inputs, loop lists and conditions: parameters
// and constants, chaining to earlier steps, loop variables, env:, context:, and the
// values that live outside the machine (aws:ssm:, aws:imds:) through ExternalValues.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/base/expected.h"

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

// {{ aws:ssm:name }} and {{ aws:imds:path }}: asked for only when a step refers to them.
class ExternalValues {
 public:
  virtual ~ExternalValues() = default;
  virtual Expected<std::string> ssm_parameter(const std::string& name) = 0;
  virtual Expected<std::string> instance_metadata(const std::string& path) = 0;
};

struct ResolveScope {
  const std::map<std::string, std::string>* variables = nullptr;  // parameters + constants
  const std::map<std::string, StepTrace>* steps = nullptr;        // "phase\nstep" -> trace
  const std::map<std::string, std::string>* context = nullptr;    // context: keys
  std::optional<LoopFrame> loop;
  ExternalValues* external = nullptr;  // null: aws:ssm / aws:imds references fail
};

// Replaces every expression in every string of `value`. Returns "" or an error text.
std::string resolve_json(nlohmann::json& value, const ResolveScope& scope);
std::string resolve_string(std::string& text, const ResolveScope& scope);

}  // namespace kiln
