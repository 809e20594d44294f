// The typed model of a validated component document. The engine runs this; it is
// only built for documents without errors.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/document/source_map.h"

namespace kiln {

// What a step's failure does (onFailure): stop the run, go on with the run failed, or go
// on as if the step had succeeded.
enum class OnFailure { Abort, Continue, Ignore };
std::string_view on_failure_name(OnFailure value);
std::optional<OnFailure> parse_on_failure(std::string_view name);

// What an `if` decides for its step (then/else): run it, skip it, or fail it (Abort).
enum class Branch { Execute, Skip, Abort };
std::string_view branch_name(Branch value);
std::optional<Branch> parse_branch(std::string_view name);

struct LoopSpec {
  std::string name;  // optional; "" when unnamed
  enum class Kind { For, ForEachList, ForEachString } kind = Kind::For;
  int64_t start = 0, end = 0, update_by = 1;  // For
  nlohmann::json items;                       // ForEachList: strings (may hold {{ }})
  std::string list;                           // ForEachString
  char delimiter = ',';
};

struct StepSpec {
  std::string name;
  std::string action;
  int64_t timeout_seconds = 7200;  // -1: none
  OnFailure on_failure = OnFailure::Abort;
  int64_t max_attempts = 1;
  bool has_inputs = false;
  nlohmann::json inputs;           // as written (plain scalars coerced), a map or a list
  bool inputs_have_expressions = false;  // resolved before each run, then checked again
  bool has_if = false;
  nlohmann::json if_condition;
  bool if_has_expressions = false;
  std::optional<LoopSpec> loop;
  std::string pointer;             // JSON pointer of the step, for locations
};

struct PhaseSpec {
  std::string name;
  std::vector<StepSpec> steps;
};

struct ParameterSpec {
  std::string name;
  std::string type = "string";
  std::optional<std::string> default_value;
  std::string description;
  bool secret = false;  // kiln extension: masked wherever kiln writes
};

struct Document {
  LoadedDocument source;
  std::string name;
  std::string description;
  std::vector<ParameterSpec> parameters;
  std::map<std::string, std::string> constants;
  std::vector<PhaseSpec> phases;
};

}  // namespace kiln
