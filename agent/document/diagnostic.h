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

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLocation location;
  std::string message;  // what is wrong
  std::string hint;     // how to fix it (may be empty)
};

using Diagnostics = std::vector<Diagnostic>;

bool has_errors(const Diagnostics& diagnostics);

}  // namespace kiln
