// `kiln run --dry-run`: the plan of a run, resolved as far as it can be before anything
// runs, and nothing run. Parameters, constants, env:, the host's context: values, loops
// over known lists and `if`s over known values are resolved; what only the run can know
// (aws:ssm:, aws:imds:, outputs of steps not yet run, a step's date/time/uuid) stays as
// written and is listed as resolved at run time. Nothing here starts a process, touches
// a file or the network: it reads the prepared documents and the environment.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/document/model.h"
#include "agent/engine/plan.h"
#include "agent/report/secret_masker.h"

namespace kiln {

struct PlannedDocument {
  const Document* document = nullptr;
  const std::map<std::string, std::string>* variables = nullptr;  // parameters and constants, bound
  std::string path;                                               // absolute, as the run would record it
};

struct DryRunOptions {
  std::string execution_id;  // "" when none was given: context:executionId is known at run time only
  std::string platform;
  const RunPlan* plan = nullptr;         // required
  const SecretMasker* masker = nullptr;  // secret values are masked as in every log
};

// The plan as JSON: {"dryRun", "stepsToRun", "stepsLeftOut", "documents": [{"path", "name",
// "phases": [{"name", "leftOutBy"?, "steps": [{"phase", "name", "action", "runs", "leftOutBy"?,
// "timeoutSeconds", "maxAttempts", "onFailure", "inputs", "loop"?, "if"?, "atRunTime"}]}]}]}.
nlohmann::json describe_plan(const std::vector<PlannedDocument>& documents, const DryRunOptions& options);

// The same as text for a person: one block per step, inputs written out YAML-like.
std::string format_plan(const nlohmann::json& plan);

}  // namespace kiln
