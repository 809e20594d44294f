// Diagnostics: document problems are values with a location, never exceptions.
// They print compiler-style (FILE:LINE:COL: error: MESSAGE, the source line, a caret,
// a hint) so editors and CI understand them.
#pragma once
#include <string>
#include <vector>

namespace kiln {

struct SourceLocation {
  std::string file;  // as given on the command line
  int line = 0;      // 1-based; 0 = unknown
  int column = 0;    // 1-based; 0 = unknown
};

enum class Severity { Error, Warning };

// What kind of problem a diagnostic reports. Code decides on this (exit codes, message
// shapes), never on the wording of `message`; `--format json` shows it as "code".
enum class DiagnosticCode {
  General,                // not classified (the default); nothing branches on it
  Unreadable,             // the file cannot be read as text: missing, I/O error, too large, NUL, not UTF-8
  Syntax,                 // not valid YAML/JSON, or YAML kiln refuses (duplicate keys, several documents, limits)
  Schema,                 // a value breaks the schema: type, enum, bound, required key
  UnknownKey,             // a key the schema does not allow (the hint names the allowed ones)
  Semantic,               // valid by schema, wrong in meaning: duplicate names, references, loop bounds,
                          // an unknown action or one not on this platform, a setting the action fixes
  MissingParameterValue,  // a parameter without default got no value (`kiln run`: exit 2, a usage error)
  NotRunnable,            // valid, but this run cannot execute it: blocked, not implemented, unsupported
  Internal,               // a defect in kiln itself
};

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLocation location;
  std::string message;  // what is wrong
  std::string hint;     // how to fix it (may be empty)
  DiagnosticCode code = DiagnosticCode::General;
};

// "general", "unreadable", "syntax", "schema", "unknownKey", "semantic",
// "missingParameterValue", "notRunnable", "internal".
const char* diagnostic_code_name(DiagnosticCode code);

using Diagnostics = std::vector<Diagnostic>;

bool has_errors(const Diagnostics& diagnostics);

}  // namespace kiln
