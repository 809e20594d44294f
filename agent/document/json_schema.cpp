#include "agent/document/json_schema.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "agent/document/source_map.h"

namespace kiln {

struct JsonSchema::Impl {
  valijson::Schema schema;
};

JsonSchema::JsonSchema(const nlohmann::json& schema) : impl_(std::make_unique<Impl>()) {
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter adapter(schema);
  try {
    parser.populateSchema(adapter, impl_->schema);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("invalid built-in schema: ") + e.what());
  }
}

JsonSchema::~JsonSchema() = default;

// valijson names a path as {"<root>", "[phases]", "[0]", ...}: "[0]" may be an index or
// a key named "0", so walk the document to tell which.
static std::string context_to_pointer(const std::vector<std::string>& context, const nlohmann::json& root) {
  std::string pointer;
  const nlohmann::json* node = &root;
  for (size_t i = 1; i < context.size(); ++i) {
    std::string part = context[i];
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') part = part.substr(1, part.size() - 2);
    if (node && node->is_array()) {
      size_t index = std::strtoul(part.c_str(), nullptr, 10);
      pointer = pointer_append(pointer, index);
      node = index < node->size() ? &(*node)[index] : nullptr;
    } else {
      pointer = pointer_append(pointer, part);
      node = (node && node->is_object() && node->contains(part)) ? &(*node)[part] : nullptr;
    }
  }
  return pointer;
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json& value) const {
  std::vector<SchemaViolation> all;
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(value);
  try {
    if (validator.validate(impl_->schema, adapter, &results)) return {};
  } catch (const std::exception& e) {
    return {{"", std::string("schema check failed: ") + e.what()}};
  }
  valijson::ValidationResults::Error error;
  while (results.popError(error)) all.push_back({context_to_pointer(error.context, value), error.description});
  // Keep the innermost errors: drop those whose pointer is a prefix of another's.
  std::vector<SchemaViolation> leaves;
  for (const auto& v : all) {
    bool wrapper = false;
    for (const auto& other : all)
      if (other.pointer.size() > v.pointer.size() && other.pointer.compare(0, v.pointer.size(), v.pointer) == 0 &&
          other.pointer[v.pointer.size()] == '/')
        wrapper = true;
    if (!wrapper) leaves.push_back(v);
  }
  return leaves;
}

}  // namespace kiln
