// One self-contained JSON Schema (draft-07) for component documents, for editors and
// other validators: the component schema with each action's inputs schema applied by
// the step's `action` (an allOf of `if {action: const X} then {inputs: ...}`) and the
// condition schema under definitions, so no other file is needed. Built from the
// schemas embedded in the binary; `kiln schema` prints it and the build installs it as
// share/kiln/schemas/kiln-component.schema.json.
//
// kiln itself validates with the separate files (schema_registry.h) and adds semantic
// rules a schema cannot express; a document this schema accepts may still be refused
// for meaning (docs/schema.md lists the differences).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "agent/base/expected.h"

namespace kiln {

// The file name packages install the bundle under (share/kiln/schemas/).
inline constexpr const char* kBundledSchemaFileName = "kiln-component.schema.json";

nlohmann::json bundled_component_schema();

// One action's inputs schema, standalone (the condition schema for Assert); an error
// naming the known actions when there is no such action.
Expected<nlohmann::json> bundled_action_schema(const std::string& action);

}  // namespace kiln
