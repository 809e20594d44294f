// A compiled JSON Schema (draft-07), checked with valijson. valijson is a heavy
// header library, so it is confined to json_schema.cpp behind this small interface.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln {

struct SchemaViolation {
  std::string pointer;  // JSON pointer of the offending value
  std::string message;  // valijson's description
};

class JsonSchema {
 public:
  // Throws std::runtime_error if the schema itself is malformed (a build defect).
  explicit JsonSchema(const nlohmann::json& schema);
  ~JsonSchema();
  JsonSchema(const JsonSchema&) = delete;
  JsonSchema& operator=(const JsonSchema&) = delete;

  // Every violation, innermost first; wrapper errors for ancestors are dropped.
  std::vector<SchemaViolation> validate(const nlohmann::json& value) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
