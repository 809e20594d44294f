#include "agent/cli/source_texts.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "agent/document/diagnostic_format.h"
#include "agent/document/source_map.h"

namespace kiln {

std::string SourceTexts::line(const std::string& file, int line_number) const {
  auto it = texts.find(file);
  if (it == texts.end()) return {};
  LoadedDocument d;
  d.text = it->second;
  return d.source_line(line_number);
}

void print_diagnostics(const Diagnostics& diagnostics, const SourceTexts& sources) {
  bool color = ::isatty(STDERR_FILENO) && std::getenv("NO_COLOR") == nullptr;
  for (const auto& d : diagnostics)
    std::cerr << format_diagnostic(d, [&](const std::string& f, int l) { return sources.line(f, l); }, color);
}

}  // namespace kiln
