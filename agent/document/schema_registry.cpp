#include "agent/document/schema_registry.h"

#include <algorithm>
#include <stdexcept>

#include "agent/document/embedded_schemas.h"

namespace kiln {

bool ActionSchema::supports(const std::string& platform) const {
  return std::find(platforms.begin(), platforms.end(), platform) != platforms.end();
}

const nlohmann::json& ActionSchema::item_schema() const {
  if (list_inputs && schema.contains("items")) return schema["items"];
  return schema;
}

const JsonSchema& ActionSchema::compiled() const {
  if (!compiled_) compiled_ = std::make_shared<JsonSchema>(schema);
  return *compiled_;
}

const JsonSchema& SchemaRegistry::compiled_component() const {
  if (!compiled_component_) compiled_component_ = std::make_unique<JsonSchema>(component_);
  return *compiled_component_;
}

const SchemaRegistry& SchemaRegistry::instance() {
  static const SchemaRegistry registry;
  return registry;
}

static std::vector<std::string> string_list(const nlohmann::json& schema, const char* key) {
  std::vector<std::string> out;
  if (auto it = schema.find(key); it != schema.end() && it->is_array())
    for (const auto& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

SchemaRegistry::SchemaRegistry() {
  for (const auto& file : embedded_schemas()) {
    nlohmann::json schema = nlohmann::json::parse(file.text);  // a defect here is a build bug
    std::string path(file.path);
    if (path == "component.schema.json") {
      component_ = schema;
    } else if (path.rfind("actions/", 0) == 0) {
      ActionSchema action;
      action.name = schema.value("x-kiln-action", "");
      action.platforms = string_list(schema, "x-kiln-platforms");
      action.list_inputs = schema.value("x-kiln-input-shape", "map") == "list";
      action.inputs_required = schema.value("x-kiln-inputs-required", true);
      action.condition_inputs = schema.value("x-kiln-condition", false);
      action.outputs = string_list(schema, "x-kiln-outputs");
      action.not_on_windows_inputs = string_list(schema, "x-kiln-not-on-windows-inputs");
      action.schema = std::move(schema);
      actions_[action.name] = std::move(action);
    }
  }
  if (component_.is_null()) throw std::runtime_error("component.schema.json is missing from the build");
}

const ActionSchema* SchemaRegistry::action(const std::string& name) const {
  auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : &it->second;
}

std::vector<std::string> SchemaRegistry::action_names() const {
  std::vector<std::string> names;
  for (const auto& [name, _] : actions_) names.push_back(name);
  return names;
}

}  // namespace kiln
