// Unit tests of the bundled component schema (agent/document/schema_bundle): it compiles
// as one document with kiln's own draft-07 validator (valijson) and applies each action's
// inputs schema and the condition grammar by the step's action. tests/e2e/
// schema_ajv_test.cpp checks it again with ajv against the whole corpus.
#include "agent/document/schema_bundle.h"

#include <doctest/doctest.h>

#include "agent/document/json_schema.h"
#include "agent/document/yaml_loader.h"

namespace kiln {
namespace {

using json = nlohmann::json;

// The violations of a component document (YAML) against the bundle.
std::vector<SchemaViolation> violations(const std::string& steps) {
  static const JsonSchema bundle(bundled_component_schema());
  LoadedDocument doc;
  Diagnostics diagnostics;
  REQUIRE(load_yaml_text("doc.yaml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n" + steps, doc,
                         diagnostics));
  return bundle.validate(doc.root);
}

bool has_violation_at(const std::vector<SchemaViolation>& found, const std::string& pointer) {
  for (const auto& v : found)
    if (v.pointer == pointer) return true;
  return false;
}

TEST_CASE("schema bundle: every action's inputs are checked by the step's action") {
  CHECK(violations("      - {name: A, action: ExecuteBash, inputs: {commands: [echo hi]}}\n").empty());
  auto missing = violations("      - {name: A, action: ExecuteBash, inputs: {command: [echo hi]}}\n");
  CHECK(has_violation_at(missing, "/phases/0/steps/0/inputs"));  // `commands` required, `command` unknown
  CHECK_FALSE(violations("      - {name: A, action: ExecuteBash}\n").empty());  // inputs required
  // Inputs optional (Reboot): none, an empty `inputs:`, or a valid map; a bad value is not.
  CHECK(violations("      - {name: A, action: Reboot}\n").empty());
  CHECK(violations("      - name: A\n        action: Reboot\n        inputs:\n").empty());
  CHECK(violations("      - {name: A, action: Reboot, inputs: {delaySeconds: 5}}\n").empty());
  CHECK(has_violation_at(violations("      - {name: A, action: Reboot, inputs: {delaySeconds: -1}}\n"),
                         "/phases/0/steps/0/inputs/delaySeconds"));
  // A list-shaped action.
  CHECK(violations("      - {name: A, action: CreateFolder, inputs: [{path: /tmp/x}]}\n").empty());
  CHECK_FALSE(violations("      - {name: A, action: CreateFolder, inputs: [{path: /tmp/x, mode: 1}]}\n").empty());
  // An action kiln does not know is a semantic error, not the schema's (kiln suggests a name).
  CHECK(violations("      - {name: A, action: ExecuteBsh, inputs: {anything: 1}}\n").empty());
}

TEST_CASE("schema bundle: Assert inputs and a step's if follow the condition grammar") {
  CHECK(violations("      - {name: A, action: Assert, inputs: {stringEquals: a, value: a}}\n").empty());
  CHECK_FALSE(violations("      - {name: A, action: Assert, inputs: {stringEqual: a, value: a}}\n").empty());
  std::string step = "      - name: A\n        action: ExecuteBash\n        inputs: {commands: [echo]}\n";
  CHECK(violations(step + "        if: {fileExists: /etc/hosts, then: Execute}\n").empty());
  CHECK(violations(step + "        if:\n          - {fileExists: /etc/hosts}\n").empty());  // one-item list form
  CHECK_FALSE(violations(step + "        if: {fileExists: /etc/hosts, then: Run}\n").empty());
  CHECK_FALSE(violations(step + "        if: {and: [{fileExists: /a}]}\n").empty());  // and takes 2 or more
}

TEST_CASE("schema bundle: one document, no reference outside it, no kiln metadata") {
  json bundle = bundled_component_schema();
  std::string text = bundle.dump();
  CHECK(text.find("x-kiln-") == std::string::npos);
  CHECK(text.find("\"$ref\":\"condition.schema.json") == std::string::npos);
  CHECK(bundle["definitions"].contains("condition-condition"));
  CHECK(bundle["definitions"]["step"]["properties"]["action"]["examples"].size() ==
        bundle["definitions"]["step"]["allOf"].size());
}

TEST_CASE("schema bundle: one action's schema alone") {
  Expected<json> bash = bundled_action_schema("ExecuteBash");
  REQUIRE(bash);
  CHECK((*bash)["required"] == json::array({"commands"}));
  CHECK((*bash)["$schema"] == "http://json-schema.org/draft-07/schema#");
  Expected<json> assert_schema = bundled_action_schema("Assert");
  REQUIRE(assert_schema);
  CHECK((*assert_schema)["definitions"].contains("condition"));
  Expected<json> unknown = bundled_action_schema("Nope");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().find("ExecuteBash") != std::string::npos);  // names the known actions
}

}  // namespace
}  // namespace kiln
