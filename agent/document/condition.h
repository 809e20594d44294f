// Conditions: the expressions under a step's `if` and the inputs of Assert.
// One comparison operator (stringEquals, numberLessThan, fileExists, ...) or one
// logical operator (and/or/not), nested at most 4 logical levels deep.
// Ordering operators read `value OP baseline` (numberLessThan: 2, value: 1 is true).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// A problem found while checking a condition's shape. `pointer` is a JSON pointer
// relative to the condition's root ("" = the root itself, "/and/1/value" ...).
struct ConditionProblem {
  std::string pointer;
  std::string message;
  std::string hint;
  bool warning = false;  // accepted (AWSTOE accepts it too), but worth saying
};

// Checks the shape of a condition without evaluating it. When `allow_branches` is
// true (a step's `if`), the root may also hold `then` and `else` (Abort|Execute|Skip).
// Written next to a nested operator instead (`not: {fileExists: x, then: Skip}`, as an
// Amazon-managed component has it), they apply to the whole `if` all the same, with a
// warning; the same key given two different values is an error.
// An `if` may also be written as a one-item list holding that mapping.
std::vector<ConditionProblem> check_condition(const nlohmann::json& condition,
                                              bool allow_branches);

struct ConditionOutcome {
  bool value = false;
  std::string error;   // non-empty: evaluation could not be done (treated as failure)
  std::string detail;  // human text for logs, e.g. "numberLessThan: 1 < 2 -> true"
};

// Evaluates a condition whose {{ }} expressions are already resolved. Scalars may be
// strings, numbers or booleans; they are coerced as the reference describes (a number
// operator parses strings; a string operator formats numbers). `then`/`else` keys at
// the root are ignored here.
ConditionOutcome evaluate_condition(const nlohmann::json& condition);

// The `then`/`else` branch decision of a step's `if`: "Execute", "Skip" or "Abort".
// A branch key at the root wins; else the first one next to a nested operator counts.
std::string condition_branch(const nlohmann::json& if_value, bool verdict);

// Every operator name: the 20 comparisons, then and/or/not. This table is the source of
// truth; schemas/condition.schema.json (published for editors) is checked against it by
// tests/unit/condition_schema_test.cpp.
std::vector<std::string_view> condition_operator_names();

}  // namespace kiln
