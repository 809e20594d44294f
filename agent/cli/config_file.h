// The --config file (§6.3 of the reference): JSON (or YAML), read with positions so
// that its errors point at FILE:LINE:COL. Its values fill what the command line left
// unset; a flag given on the command line wins.
#pragma once
#include <string>

#include "agent/cli/options.h"
#include "agent/cli/source_texts.h"
#include "agent/document/diagnostic.h"

namespace kiln {

// Reads `path` into `cli`. False when it has errors (appended to `diagnostics`).
bool read_config(const std::string& path, CliOptions& cli, Diagnostics& diagnostics, SourceTexts& sources);

}  // namespace kiln
