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

// Which rule a value broke. Callers decide on this, not on the message's wording.
enum class SchemaProblemKind {
  TypeMismatch,  // another type than the schema allows ("must be a list, not a map")
  NotInEnum,     // a string outside the schema's enum
  BelowMinimum,  // a number under "minimum"
  TooLarge,      // an integer past int64
  TooFewItems,   // a list under "minItems"
  OneOfKeys,     // not exactly one of the keys a oneOf asks for
  MissingKey,    // a required key is absent
  UnknownKey,    // a key a closed map does not allow
  Other,         // found by valijson alone; `complaint` is its wording
};

// A problem in parts, so a caller can name the value its own way: `message` is
// `subject` + " " + `complaint` ("'commands' must be a list, not a map"), or the
// complaint alone when the problem is not about one named value ("missing required key 'name'").
struct SchemaProblem {
  SchemaProblemKind kind = SchemaProblemKind::Other;
  std::string pointer;    // relative to the checked value
  bool at_key = false;    // point at the key rather than the value
  std::string subject;    // "'commands[0]'"; "" for the checked value itself or a keyless problem
  std::string complaint;  // "must be a list, not a map"
  std::string hint;
  std::vector<std::string> expected_types;  // TypeMismatch: the types the schema allows ("string", ...)

  // True when the problem is about the value at `pointer` itself (its type, bounds,
  // items or keys), so a caller may name that value differently.
  bool about_value() const;
  std::string message() const;
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
