// Validation of a loaded component document: the JSON Schema of documents, the input
// schema of each step's action, then the semantic rules (unique names, ranges,
// references, loops, conditions, platforms). Every problem is reported.
#pragma once
#include <string>

#include "agent/document/diagnostic.h"
#include "agent/document/model.h"

namespace kiln {

struct ValidateOptions {
  std::string platform = "linux";  // "linux", "windows" or "darwin"
  bool strict = false;             // --strict: refuse kiln extensions (secret parameters, ExtractArchive, ...)
};

// Validates `source` and, when it has no errors, fills `out` (which takes the source).
// Diagnostics are sorted by position.
Diagnostics validate_document(LoadedDocument source, const ValidateOptions& options, Document& out);

}  // namespace kiln
