#include "agent/engine/step_inputs.h"

namespace kiln {

void make_valid_utf8(nlohmann::json& value) {
  if (value.is_string()) make_valid_utf8(value.get_ref<std::string&>());
  else if (value.is_array() || value.is_object())
    for (auto& item : value) make_valid_utf8(item);
}

// Default values from the schema, string booleans/integers from resolved expressions,
// then the schema check: inputs are right before run() sees them. Inputs without
// expressions were checked with the document and are not checked again.
std::string prepare_inputs(const ActionSchema& action, bool has_inputs, bool resolved, nlohmann::json& inputs) {
  if (action.condition_inputs) return {};
  if (!has_inputs) inputs = action.list_inputs ? nlohmann::json::array() : nlohmann::json::object();
  const nlohmann::json& item_schema = action.item_schema();
  auto prepare_item = [&](nlohmann::json& item) {
    if (!item.is_object() || !item_schema.contains("properties")) return;
    for (const auto& [key, property] : item_schema["properties"].items()) {
      if (!item.contains(key)) {
        if (property.contains("default")) item[key] = property["default"];
        continue;
      }
      nlohmann::json& value = item[key];
      if (!value.is_string()) continue;
      std::string type =
          property.contains("type") && property["type"].is_string() ? property["type"].get<std::string>() : "";
      const std::string& text = value.get_ref<const std::string&>();
      if (type == "boolean" && (text == "true" || text == "false"))
        value = (text == "true");
      else if (type == "integer") {
        try {
          size_t used = 0;
          long long n = std::stoll(text, &used);
          if (used == text.size()) value = n;
        } catch (...) {
        }
      }
    }
  };
  if (inputs.is_array())
    for (auto& item : inputs) prepare_item(item);
  else
    prepare_item(inputs);
  if (!resolved) return {};
  auto violations = action.compiled().validate(inputs);
  if (violations.empty()) return {};
  std::string message = "inputs of " + action.name + " are invalid after resolving expressions:";
  for (const auto& v : violations) message += " " + (v.pointer.empty() ? "/" : v.pointer) + ": " + v.message;
  return message;
}

}  // namespace kiln
