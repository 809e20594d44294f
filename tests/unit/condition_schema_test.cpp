// schemas/condition.schema.json is the condition grammar published for editors; the
// operator table in agent/document/condition.cpp is what kiln checks and evaluates. This
// test keeps the two in step: the same operator names, each with the same second
// operand (none, `value` or `path`), in both the Assert form and a step's `if` form.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "agent/document/condition.h"
#include "agent/document/embedded_schemas.h"

namespace {

const nlohmann::json& condition_schema() {
  static const nlohmann::json schema = [] {
    for (const auto& file : kiln::embedded_schemas())
      if (file.path == "condition.schema.json") return nlohmann::json::parse(file.text);
    return nlohmann::json();
  }();
  return schema;
}

// operator -> its second operand ("" none, "value", "path"), from one oneOf list.
std::map<std::string, std::string> operators_in(const nlohmann::json& definition) {
  std::map<std::string, std::string> out;
  for (const auto& branch : definition.at("oneOf")) {
    std::vector<std::string> required = branch.at("required");
    REQUIRE(!required.empty());
    out[required[0]] = required.size() > 1 ? required[1] : "";
  }
  return out;
}

}  // namespace

TEST_CASE("condition schema: names the operators of the C++ table, with their operands") {
  const nlohmann::json& schema = condition_schema();
  REQUIRE(schema.is_object());
  std::set<std::string> from_code;
  for (std::string_view name : kiln::condition_operator_names()) from_code.emplace(name);
  for (const char* definition : {"condition", "ifCondition"}) {
    INFO(definition);
    std::map<std::string, std::string> from_schema = operators_in(schema["definitions"][definition]);
    std::set<std::string> names;
    for (const auto& [name, second] : from_schema) names.insert(name);
    CHECK(names == from_code);
    // The operand each operator wants, as the evaluator sees it.
    for (const auto& entry : from_schema) {
      const auto& name = entry.first;
      const auto& second = entry.second;
      INFO(name);
      nlohmann::json probe = {{name, "x"}};
      if (!second.empty()) probe[second] = "y";
      if (name == "and" || name == "or") probe = {{name, {{{"stringIsEmpty", ""}}, {{"stringIsEmpty", ""}}}}};
      if (name == "not") probe = {{name, {{"stringIsEmpty", ""}}}};
      CHECK(kiln::check_condition(probe, false).empty());
    }
  }
  // No second list of names beside the grammar itself.
  CHECK_FALSE(schema.contains("x-kiln-operators"));
}
