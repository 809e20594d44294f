// A default stated in an action's schema is what the action sees: the engine fills it
// in (map inputs and every item of list inputs) before run(), so actions read such
// inputs with at() and state no default of their own.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>

#include "agent/document/schema_registry.h"
#include "agent/engine/step_inputs.h"

namespace kiln {
namespace {

using json = nlohmann::json;

// The smallest item the schema accepts: its required keys, each with a value of its type.
json required_only(const json& item_schema) {
  json item = json::object();
  for (const auto& key : item_schema.value("required", json::array())) {
    const json& property = item_schema["properties"][key.get<std::string>()];
    const json type_member = property.value("type", json("string"));  // a name or a list of names
    std::string type = type_member.is_array() ? type_member[0].get<std::string>() : type_member.get<std::string>();
    item[key.get<std::string>()] = type == "array"     ? json::array()
                                   : type == "integer" ? json(1)
                                   : type == "boolean" ? json(false)
                                   : type == "object"  ? json::object()
                                                       : json("x");
  }
  return item;
}

}  // namespace

TEST_CASE("schema defaults: every default in an action schema reaches the action's inputs") {
  int defaults_seen = 0;
  for (const auto& entry : SchemaRegistry::instance().actions()) {
    const auto& name = entry.first;
    const auto& action = entry.second;
    if (action.condition_inputs) continue;
    const json& item_schema = action.item_schema();
    if (!item_schema.contains("properties")) continue;
    // Two list items, so that a default reaching only the first would be caught.
    json inputs = action.list_inputs ? json::array({required_only(item_schema), required_only(item_schema)})
                                     : required_only(item_schema);
    INFO(name << " inputs " << inputs.dump());
    CHECK(prepare_inputs(action, true, false, inputs).empty());
    for (const auto& property_entry : item_schema["properties"].items()) {
      const auto& key = property_entry.key();
      const auto& property = property_entry.value();
      if (!property.contains("default")) continue;
      ++defaults_seen;
      INFO(name << "." << key);
      if (action.list_inputs) {
        for (const auto& item : inputs) CHECK(item.at(key) == property["default"]);
      } else {
        CHECK(inputs.at(key) == property["default"]);
      }
    }
  }
  CHECK(defaults_seen > 30);  // the schemas state defaults for most optional inputs
}

TEST_CASE("schema defaults: a step without inputs gets its defaults too") {
  const ActionSchema* reboot = SchemaRegistry::instance().action("Reboot");
  REQUIRE(reboot != nullptr);
  json inputs;
  CHECK(prepare_inputs(*reboot, false, false, inputs).empty());
  CHECK(inputs.at("delaySeconds") == 0);
  // A value given wins over the default.
  const ActionSchema* create = SchemaRegistry::instance().action("CreateFile");
  REQUIRE(create != nullptr);
  json items = json::array({{{"path", "/a"}, {"overwrite", false}}, {{"path", "/b"}}});
  CHECK(prepare_inputs(*create, true, false, items).empty());
  CHECK(items[0]["overwrite"] == false);
  CHECK(items[1]["overwrite"] == true);
  CHECK(items[1]["encoding"] == "utf8");
  CHECK(items[1]["content"] == "");
}

TEST_CASE("schema defaults: actions do not restate a schema default in C++") {
  // `.value("overwrite", true)` next to a schema default of true is two sources of truth.
  std::set<std::string> keys_with_defaults;
  for (const auto& [name, action] : SchemaRegistry::instance().actions())
    if (action.item_schema().contains("properties"))
      for (const auto& [key, property] : action.item_schema()["properties"].items())
        if (property.contains("default")) keys_with_defaults.insert(key);
  static const std::regex read(R"re(\.value\("([A-Za-z0-9-]+)",)re");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(KILN_SOURCE_DIR) + "/actions")) {
    std::string path = entry.path().string();
    if (entry.path().extension() != ".cpp" || path.find("_test.cpp") != std::string::npos) continue;
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::sregex_iterator m(text.begin(), text.end(), read), end; m != end; ++m) {
      INFO(path << " reads ." << (*m)[1].str() << " with a default of its own");
      CHECK(keys_with_defaults.count((*m)[1].str()) == 0);
    }
  }
}

}  // namespace kiln
