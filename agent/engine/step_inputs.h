// What the engine does to a step's inputs and outputs around the action: inputs get
// their defaults and are checked again once expressions are resolved; outputs are made
// valid UTF-8 for the JSON records.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "agent/base/utf8.h"
#include "agent/document/schema_registry.h"

namespace kiln {

// Fills defaults from the action's schema and turns "true"/"12" from resolved
// expressions into booleans/integers where the schema wants them; when `resolved`
// (the inputs held expressions), checks them against the schema again. Returns "" or
// why the inputs cannot be used.
std::string prepare_inputs(const ActionSchema& action, bool has_inputs, bool resolved, nlohmann::json& inputs);

// Step outputs are JSON strings, which must be UTF-8: a byte that does not belong to a
// valid sequence (a binary or Latin-1 output) becomes U+FFFD, as JSON encoders do.
// Every string inside `value`; make_valid_utf8(std::string&) is in agent/base/utf8.h.
void make_valid_utf8(nlohmann::json& value);

}  // namespace kiln
