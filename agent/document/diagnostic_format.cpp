#include "agent/document/diagnostic_format.h"

#include <algorithm>

namespace kiln {
namespace {

constexpr size_t kLongLine = 160;

}  // namespace

const char* diagnostic_code_name(DiagnosticCode code) {
  switch (code) {
    case DiagnosticCode::General: return "general";
    case DiagnosticCode::Unreadable: return "unreadable";
    case DiagnosticCode::Syntax: return "syntax";
    case DiagnosticCode::Schema: return "schema";
    case DiagnosticCode::UnknownKey: return "unknownKey";
    case DiagnosticCode::Semantic: return "semantic";
    case DiagnosticCode::MissingParameterValue: return "missingParameterValue";
    case DiagnosticCode::NotRunnable: return "notRunnable";
    case DiagnosticCode::Internal: return "internal";
  }
  return "general";
}

std::string format_diagnostic(const Diagnostic& d, const SourceLineLookup& lookup, bool color) {
  const char* bold = color ? "\033[1m" : "";
  const char* red = color ? "\033[1;31m" : "";
  const char* magenta = color ? "\033[1;35m" : "";
  const char* green = color ? "\033[1;32m" : "";
  const char* reset = color ? "\033[0m" : "";
  std::string out = bold + d.location.file;
  // Appended piece by piece: `":" + std::to_string(n)` trips GCC 12's -Wrestrict false
  // positive at -O3 (GCC bug 105651) and breaks the Release build.
  if (d.location.line > 0) (out += ':') += std::to_string(d.location.line);
  if (d.location.column > 0) (out += ':') += std::to_string(d.location.column);
  out += ": ";
  out += reset;
  out += d.severity == Severity::Error ? std::string(red) + "error: " : std::string(magenta) + "warning: ";
  out += reset;
  out += bold + d.message + reset + "\n";
  if (d.location.line > 0 && lookup) {
    std::string line = lookup(d.location.file, d.location.line);
    if (!line.empty()) {
      // A very long line (minified JSON, a 10,000-deep flow list) is shown as a window
      // around the spot.
      size_t caret = d.location.column > 0 ? static_cast<size_t>(d.location.column - 1) : 0;
      std::string shown = line;
      if (line.size() > kLongLine) {
        size_t start = caret > kLongLine / 2 ? caret - kLongLine / 2 : 0;
        while (start > 0 && (static_cast<unsigned char>(line[start]) & 0xC0) == 0x80) --start;  // not mid-character
        size_t end = std::min(line.size(), start + kLongLine);
        while (end < line.size() && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) ++end;
        shown = start > 0 ? "..." : "";
        shown.append(line, start, end - start);
        if (end < line.size()) shown += "...";
        caret = caret - start + (start > 0 ? 3 : 0);
      }
      out += "  " + shown + "\n  ";
      // Keep tabs so the caret lines up under the spot.
      for (size_t i = 0; i < caret && i < shown.size(); ++i) out += shown[i] == '\t' ? '\t' : ' ';
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
          {"code", diagnostic_code_name(d.code)},
          {"message", d.message},
          {"hint", d.hint}};
}

}  // namespace kiln
