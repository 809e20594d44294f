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

namespace {

std::vector<std::string> string_list(const nlohmann::json& schema, const char* key) {
  std::vector<std::string> out;
  if (auto it = schema.find(key); it != schema.end() && it->is_array())
    for (const auto& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// A boolean x-kiln-* member; absent is `fallback`, anything but a boolean is a defect.
Expected<bool> flag(const nlohmann::json& schema, const char* key, bool fallback) {
  auto it = schema.find(key);
  if (it == schema.end()) return fallback;
  if (!it->is_boolean()) return unexpected(std::string(key) + " must be true or false, not " + it->dump());
  return it->get<bool>();
}

}  // namespace

Expected<ActionSchema> read_action_schema(nlohmann::json schema) {
  ActionSchema action;
  auto name = schema.find("x-kiln-action");
  if (name == schema.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    return unexpected("x-kiln-action (the action's name) is missing");
  action.name = name->get<std::string>();
  std::string shape = schema.value("x-kiln-input-shape", "map");
  if (shape != "map" && shape != "list")
    return unexpected(action.name + ": x-kiln-input-shape must be map or list, not " + shape);
  action.list_inputs = shape == "list";
  action.platforms = string_list(schema, "x-kiln-platforms");
  action.outputs = string_list(schema, "x-kiln-outputs");
  action.not_on_windows_inputs = string_list(schema, "x-kiln-not-on-windows-inputs");
  struct Flag {
    const char* key;
    bool fallback;
    bool* into;
  };
  for (const Flag& f : {Flag{"x-kiln-inputs-required", true, &action.inputs_required},
                        Flag{"x-kiln-condition", false, &action.condition_inputs},
                        Flag{"x-kiln-no-timeout", false, &action.no_timeout},
                        Flag{"x-kiln-single-attempt", false, &action.single_attempt}}) {
    Expected<bool> value = flag(schema, f.key, f.fallback);
    if (!value) return unexpected(action.name + ": " + value.error());
    *f.into = *value;
  }
  action.schema = std::move(schema);
  return action;
}

SchemaRegistry::SchemaRegistry() {
  for (const auto& file : embedded_schemas()) {
    nlohmann::json schema = nlohmann::json::parse(file.text);  // a defect here is a build bug
    std::string path(file.path);
    if (path == "component.schema.json") {
      component_ = schema;
    } else if (path.rfind("actions/", 0) == 0) {
      Expected<ActionSchema> action = read_action_schema(std::move(schema));
      if (!action) throw std::runtime_error("schemas/" + path + ": " + action.error());
      std::string name = action->name;
      actions_.emplace(std::move(name), std::move(*action));
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
