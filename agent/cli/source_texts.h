// The texts of every file the CLI read (documents, the config file), so that its
// diagnostics can quote the offending line under FILE:LINE:COL.
#pragma once
#include <map>
#include <string>

#include "agent/document/diagnostic.h"

namespace kiln {

struct SourceTexts {
  std::map<std::string, std::string> texts;  // file as given -> its text
  std::string line(const std::string& file, int line_number) const;
};

// Prints diagnostics to stderr, compiler-style, in colour on a terminal.
void print_diagnostics(const Diagnostics& diagnostics, const SourceTexts& sources);

}  // namespace kiln
