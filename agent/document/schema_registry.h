// The built-in schemas: the component document schema, the condition schema, and
// one input schema per action with its metadata (platforms, input shape, outputs).
// Actions are described to the validator by these schemas alone.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/base/expected.h"
#include "agent/document/json_schema.h"

namespace kiln {

struct ActionSchema {
  std::string name;
  std::vector<std::string> platforms;  // "linux", "windows", "darwin"
  bool list_inputs = false;            // inputs are a list of items (else one map)
  bool inputs_required = true;
  bool condition_inputs = false;       // Assert: inputs are a condition expression
  std::vector<std::string> outputs;
  std::vector<std::string> not_on_windows_inputs;
  // Traits: step settings the action fixes, so the validator and the model need no
  // action names. "x-kiln-no-timeout": timeoutSeconds is always -1 (a step that runs a
  // whole child document). "x-kiln-single-attempt": maxAttempts is always 1.
  bool no_timeout = false;
  bool single_attempt = false;
  nlohmann::json schema;               // the inputs schema

  // Compiled on first use: most runs touch a few actions, and startup should stay fast.
  const JsonSchema& compiled() const;

  bool supports(const std::string& platform) const;
  // The schema of one input item (the map itself, or the list's item schema).
  const nlohmann::json& item_schema() const;

 private:
  mutable std::shared_ptr<JsonSchema> compiled_;
};

// An action's description from its schema file's x-kiln-* members, or what is wrong
// with them (a build defect: every embedded schema is read when kiln starts).
Expected<ActionSchema> read_action_schema(nlohmann::json schema);

class SchemaRegistry {
 public:
  static const SchemaRegistry& instance();  // parsed once, on first use

  const nlohmann::json& component_schema() const { return component_; }
  const JsonSchema& compiled_component() const;
  const ActionSchema* action(const std::string& name) const;
  const std::map<std::string, ActionSchema>& actions() const { return actions_; }
  std::vector<std::string> action_names() const;

 private:
  SchemaRegistry();
  nlohmann::json component_;
  mutable std::unique_ptr<JsonSchema> compiled_component_;
  std::map<std::string, ActionSchema> actions_;
};

}  // namespace kiln
