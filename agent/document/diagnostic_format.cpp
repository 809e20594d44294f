#include "agent/document/diagnostic_format.h"

namespace kiln {

std::string format_diagnostic(const Diagnostic& d, const SourceLineLookup& lookup, bool color) {
  const char* bold = color ? "\033[1m" : "";
  const char* red = color ? "\033[1;31m" : "";
  const char* magenta = color ? "\033[1;35m" : "";
  const char* green = color ? "\033[1;32m" : "";
  const char* reset = color ? "\033[0m" : "";
  std::string out = bold + d.location.file;
  if (d.location.line > 0) out += ":" + std::to_string(d.location.line);
  if (d.location.column > 0) out += ":" + std::to_string(d.location.column);
  out += ": ";
  out += reset;
  out += d.severity == Severity::Error ? std::string(red) + "error: " : std::string(magenta) + "warning: ";
  out += reset;
  out += bold + d.message + reset + "\n";
  if (d.location.line > 0 && lookup) {
    std::string line = lookup(d.location.file, d.location.line);
    if (!line.empty()) {
      out += "  " + line + "\n  ";
      // Keep tabs so the caret lines up under the spot.
      for (int i = 1; i < d.location.column && static_cast<size_t>(i - 1) < line.size(); ++i)
        out += line[static_cast<size_t>(i - 1)] == '\t' ? '\t' : ' ';
      out += std::string(green) + "^" + reset + "\n";
    }
  }
  if (!d.hint.empty()) out += "  hint: " + d.hint + "\n";
  return out;
}

nlohmann::json diagnostic_to_json(const Diagnostic& d) {
  return {{"file", d.location.file},
          {"line", d.location.line},
          {"column", d.location.column},
          {"severity", d.severity == Severity::Error ? "error" : "warning"},
          {"message", d.message},
          {"hint", d.hint}};
}

}  // namespace kiln
