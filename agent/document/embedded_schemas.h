// The schema files under schemas/, compiled into the binary (see cmake/embed_schemas.cmake).
#pragma once
#include <string_view>
#include <vector>

namespace kiln {

struct EmbeddedSchema {
  std::string_view path;  // relative to schemas/, e.g. "actions/ExecuteBash.json"
  std::string_view text;
};

const std::vector<EmbeddedSchema>& embedded_schemas();

}  // namespace kiln
