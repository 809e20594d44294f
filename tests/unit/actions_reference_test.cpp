// docs/actions.md must be exactly what the schemas generate, so the reference and the
// schemas cannot drift. Regenerate with KILN_UPDATE_DOCS=1 build/kiln_tests -tc='docs*'.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "actions/registry.h"
#include "agent/document/schema_registry.h"
#include "tests/support/test_support.h"

namespace kiln {
namespace {

std::string type_text(const nlohmann::json& property) {
  if (!property.contains("type")) {
    if (property.contains("oneOf") || property.contains("anyOf")) return "see description";
    return "any";
  }
  const auto& t = property["type"];
  std::string out;
  if (t.is_array()) {
    for (const auto& x : t) out += (out.empty() ? "" : " or ") + x.get<std::string>();
  } else {
    out = t.get<std::string>();
  }
  if (out == "array" && property.contains("items") && property["items"].contains("type") &&
      property["items"]["type"].is_string())
    out = "list of " + property["items"]["type"].get<std::string>();
  if (out == "object") out = "map";
  return out;
}

std::string escape_cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "none" : out;
}

}  // namespace

std::string render_actions_reference() {
  const SchemaRegistry& registry = SchemaRegistry::instance();
  std::string md =
      "# Actions reference\n\n"
      "Generated from `schemas/actions/*.json` (run `KILN_UPDATE_DOCS=1 build/kiln_tests "
      "-tc='docs*'` after changing a schema). \"Runs in this build\" says whether `kiln run` can "
      "execute the action yet; every action validates. How file actions treat existing files, "
      "owners and modes: [actions-files.md](actions-files.md); how paths are resolved: "
      "[actions-paths.md](actions-paths.md).\n\n"
      "| Action | Platforms | Inputs | Outputs | Runs in this build |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& [name, action] : registry.actions()) {
    std::string anchor = name;
    std::transform(anchor.begin(), anchor.end(), anchor.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    md += "| [" + name + "](#" + anchor + ") | " + join(action.platforms) + " | " +
          (action.list_inputs ? "list" : "map") + " | " + join(action.outputs) + " | " +
          (find_action(name) ? "yes" : "not yet") + " |\n";
  }
  for (const auto& [name, action] : registry.actions()) {
    md += "\n## " + name + "\n\n";
    if (action.schema.value("x-kiln-extension", false)) md += "**kiln extension** (not part of AWSTOE).\n\n";
    md += escape_cell(action.schema.value("description", "")) + "\n\n";
    md += "- Platforms: " + join(action.platforms) + "\n";
    md += "- Inputs: " + std::string(action.list_inputs ? "a list; each item is one operation, run in order"
                                                        : "a map") +
          (action.inputs_required ? "" : " (may be omitted)") + "\n";
    md += "- Outputs: " + join(action.outputs) + "\n";
    if (!action.not_on_windows_inputs.empty())
      md += "- Not allowed on Windows: " + join(action.not_on_windows_inputs) + "\n";
    if (action.condition_inputs) {
      md += "\nThe inputs are one condition expression (a comparison operator or and/or/not), as under "
            "a step's `if`; see `schemas/condition.schema.json`.\n";
      continue;
    }
    const nlohmann::json& item = action.item_schema();
    if (!item.contains("properties")) continue;
    std::vector<std::string> required;
    if (item.contains("required"))
      for (const auto& r : item["required"]) required.push_back(r);
    md += "\n| Input | Type | Required | Default | Description |\n| --- | --- | --- | --- | --- |\n";
    for (const auto& [input, property] : item["properties"].items()) {
      bool is_required = std::find(required.begin(), required.end(), input) != required.end();
      std::string def = property.contains("default") ? "`" + property["default"].dump() + "`" : "";
      std::string type = type_text(property);
      if (property.contains("enum")) {
        std::vector<std::string> values;
        for (const auto& v : property["enum"]) values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        type += " (" + join(values) + ")";
      }
      md += "| `" + input + "` | " + escape_cell(type) + " | " + (is_required ? "yes" : "no") + " | " +
            escape_cell(def) + " | " + escape_cell(property.value("description", "")) + " |\n";
    }
  }
  return md;
}

}  // namespace kiln

TEST_CASE("docs: docs/actions.md is generated from the schemas and up to date") {
  std::string generated = kiln::render_actions_reference();
  std::string path = std::string(KILN_SOURCE_DIR) + "/docs/actions.md";
  if (const char* update = std::getenv("KILN_UPDATE_DOCS"); update && std::string(update) == "1")
    std::ofstream(path, std::ios::binary) << generated;
  std::string on_disk = kiln::test::read_file(path);
  CHECK_MESSAGE(on_disk == generated, "docs/actions.md is stale: run KILN_UPDATE_DOCS=1 build/kiln_tests -tc='docs*'");
  // Every action and every input of every schema is named in the reference.
  for (const auto& entry : kiln::SchemaRegistry::instance().actions()) {
    const auto& name = entry.first;
    const auto& action = entry.second;
    CHECK(on_disk.find("## " + name + "\n") != std::string::npos);
    const auto& item = action.item_schema();
    if (item.contains("properties"))
      for (const auto& property : item["properties"].items()) {
        const auto& input = property.key();
        CHECK_MESSAGE(on_disk.find("| `" + input + "` |") != std::string::npos, name << "." << input);
      }
  }
}
