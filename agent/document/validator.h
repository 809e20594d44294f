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
  bool warnings_as_errors = false;  // --warnings-as-errors: the strict reading where kiln is lenient
};

// Validates `source` and, when it has no errors, fills `out` (which takes the source).
// Diagnostics are sorted by position. With `warnings_as_errors` every warning is
// reported as an error (its message says so) and the document is invalid.
Diagnostics validate_document(LoadedDocument source, const ValidateOptions& options, Document& out);

}  // namespace kiln
