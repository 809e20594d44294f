// Turns YAML (or JSON, a YAML subset) text into JSON plus a source map.
// Rules: duplicate keys are errors; a quoted scalar is always a string; a plain
// scalar is typed by YAML 1.2 core rules (null, bool, int, float) but keeps its text
// so it can stand for a string where one is expected (`permissions: 0755` is "0755").
#pragma once
#include <string>

#include "agent/document/diagnostic.h"
#include "agent/document/source_map.h"

namespace kiln {

struct LoadLimits {
  size_t max_bytes = 16 * 1024 * 1024;  // the reference suggests a generous 16 MiB
  size_t max_nodes = 2'000'000;         // after alias expansion ("billion laughs")
  size_t max_expanded_bytes = 64 * 1024 * 1024;  // of scalars and keys, after alias expansion
  int max_depth = 256;                  // nesting of maps and lists
};

// Parses `text` (named `path` in diagnostics) into `out`. Returns false and appends
// diagnostics on failure.
bool load_yaml_text(const std::string& path, std::string text, LoadedDocument& out,
                    Diagnostics& diagnostics, const LoadLimits& limits = {});

// Reads a local file and parses it.
bool load_yaml_file(const std::string& path, LoadedDocument& out, Diagnostics& diagnostics,
                    const LoadLimits& limits = {});

}  // namespace kiln
