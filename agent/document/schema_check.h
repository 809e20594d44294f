// Checks a value against one of kiln's schemas and says what is wrong in a user's
// words. Plain YAML scalars are first turned back into their text wherever the
// schema expects a string (AWSTOE's YAML decoding does the same). The friendly walk
// covers types, required and unknown keys, enums and bounds; valijson, the authority,
// then reports anything the walk did not explain.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/document/json_schema.h"
#include "agent/document/source_map.h"

namespace kiln {

struct SchemaProblem {
  std::string pointer;  // relative to the checked value
  bool at_key = false;  // point at the key rather than the value
  std::string message;
  std::string hint;
};

// `value` is modified in place (scalar coercion). `source_base` is the JSON pointer of
// `value` inside the document, to look up whether a scalar was written plain.
std::vector<SchemaProblem> check_against_schema(nlohmann::json& value, const nlohmann::json& schema,
                                                const JsonSchema& compiled, const SourceMap& source_map,
                                                const std::string& source_base);

// Converts plain scalars to their text wherever `schema` expects a string (no checks).
void coerce_plain_scalars(nlohmann::json& value, const nlohmann::json& schema, const SourceMap& source_map,
                          const std::string& source_base);

// "string", "integer", ... for messages.
std::string json_type_name(const nlohmann::json& value);

}  // namespace kiln
