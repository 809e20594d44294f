// Printing diagnostics: compiler-style text (with the source line and a caret) or JSON.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/document/diagnostic.h"

namespace kiln {

// Returns the text of `line` in `file`, or "" when unknown.
using SourceLineLookup = std::function<std::string(const std::string& file, int line)>;

std::string format_diagnostic(const Diagnostic& d, const SourceLineLookup& lookup, bool color);
nlohmann::json diagnostic_to_json(const Diagnostic& d);

}  // namespace kiln
