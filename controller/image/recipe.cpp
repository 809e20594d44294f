#include "controller/image/recipe.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <fstream>
#include <sstream>

#include "agent/document/diagnostic_format.h"
#include "agent/document/embedded_schemas.h"
#include "agent/document/json_schema.h"
#include "agent/document/schema_check.h"
#include "agent/document/source_map.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"

namespace kiln::image {
namespace {

using nlohmann::json;

const json& recipe_schema() {
  static const json schema = [] {
    for (const auto& file : embedded_schemas())
      if (file.path == "recipe.schema.json") return json::parse(file.text);
    return json::object();  // not reached: the build embeds every file under schemas/
  }();
  return schema;
}

const JsonSchema& compiled_recipe_schema() {
  static const JsonSchema compiled(recipe_schema());
  return compiled;
}

class RecipeReader {
 public:
  RecipeReader(const LoadedDocument& doc, Recipe& recipe, Diagnostics& diagnostics)
      : doc_(doc), recipe_(recipe), diagnostics_(diagnostics) {}

  void read() {
    const json& root = doc_.root;
    recipe_.name = root.value("name", "");
    recipe_.version = root.value("semanticVersion", "");
    recipe_.description = root.value("description", "");
    read_parent(root.value("parentImage", ""));
    read_components("/components", recipe_.components);
    read_components("/testComponents", recipe_.test_components);
    if (root.contains("instance")) parse_instance_kind(root["instance"].get<std::string>(), recipe_.instance);
    if (root.contains("cleanup")) recipe_.remove_apt_lists = root["cleanup"].value("aptLists", false);
    if (root.contains("outputs")) {
      recipe_.write_rootfs_tarball = root["outputs"].value("rootfsTarball", true);
      recipe_.write_oci_layout = root["outputs"].value("ociLayout", true);
      if (!recipe_.write_rootfs_tarball && !recipe_.write_oci_layout)
        error("/outputs", true, "'outputs' turns off both the rootfs tarball and the OCI layout",
              "leave at least one of rootfsTarball and ociLayout true (both are on by default)");
    }
  }

 private:
  void error(const std::string& pointer, bool at_key, std::string message, std::string hint,
             DiagnosticCode code = DiagnosticCode::Semantic) {
    SourceLocation location = at_key ? doc_.key_at(pointer) : doc_.at(pointer);
    if (location.line == 0) location = {doc_.path, 1, 1};
    diagnostics_.push_back({Severity::Error, location, std::move(message), std::move(hint), code});
  }

  std::string resolve(const std::string& written) const {
    std::filesystem::path path(written);
    if (path.is_relative()) path = std::filesystem::absolute(std::filesystem::path(doc_.path).parent_path()) / path;
    return path.lexically_normal().string();
  }

  void read_parent(const std::string& written) {
    if (written.rfind("debootstrap:", 0) == 0) {
      recipe_.parent_kind = ParentKind::Debootstrap;
      recipe_.parent = written.substr(12);
      bool valid = !recipe_.parent.empty();
      for (char c : recipe_.parent) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '-');
      if (!valid)
        error("/parentImage", false, "'" + written + "' names no Debian suite",
              "write debootstrap:SUITE with a suite or codename, e.g. debootstrap:bookworm");
      return;
    }
    recipe_.parent = resolve(written);
    std::error_code ec;
    if (std::filesystem::is_directory(recipe_.parent, ec)) {
      recipe_.parent_kind = ParentKind::OciLayout;
      if (!std::filesystem::is_regular_file(recipe_.parent + "/oci-layout", ec))
        error("/parentImage", false, "'" + written + "' is a folder but not an OCI image layout (no oci-layout file)",
              "give a root filesystem tarball, an OCI image layout folder, or debootstrap:SUITE");
    } else if (std::filesystem::is_regular_file(recipe_.parent, ec)) {
      recipe_.parent_kind = ParentKind::Tarball;
    } else {
      error("/parentImage", false, "parent image '" + written + "' does not exist (looked for " + recipe_.parent + ")",
            "give a root filesystem tarball, an OCI image layout folder (relative to the recipe), or "
            "debootstrap:SUITE");
    }
  }

  void read_components(const std::string& list_pointer, std::vector<RecipeComponent>& into) {
    const json* list = doc_.root.contains(list_pointer.substr(1)) ? &doc_.root[list_pointer.substr(1)] : nullptr;
    if (!list || !list->is_array()) return;
    for (size_t i = 0; i < list->size(); ++i) {
      const json& entry = (*list)[i];
      const std::string pointer = pointer_append(list_pointer, i);
      RecipeComponent component;
      component.source = entry.value("component", "");
      component.line = doc_.at(pointer).line;
      component.is_url = component.source.rfind("http://", 0) == 0 || component.source.rfind("https://", 0) == 0;
      if (!component.is_url) {
        component.path = resolve(component.source);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(component.path, ec))
          error(pointer_append(pointer, "component"), false,
                "component '" + component.source + "' is not a file (looked for " + component.path + ")",
                "write the document's path relative to the recipe, or an http(s) URL");
      }
      if (entry.contains("parameters"))
        for (const auto& parameter : entry["parameters"])
          component.parameters.push_back({parameter["name"].get<std::string>(), parameter["value"][0].get<std::string>()});
      into.push_back(std::move(component));
    }
  }

  const LoadedDocument& doc_;
  Recipe& recipe_;
  Diagnostics& diagnostics_;
};

std::vector<std::string> file_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::string RecipeComponent::parameters_argument() const {
  std::string joined;
  for (const auto& parameter : parameters) joined += (joined.empty() ? "" : ",") + parameter.name + "=" + parameter.value;
  return joined;
}

std::string RecipeComponent::label() const {
  std::string name = std::filesystem::path(source).filename().string();
  for (const char* extension : {".yaml", ".yml", ".json"})
    if (name.size() > std::string(extension).size() && name.ends_with(extension))
      name.resize(name.size() - std::string(extension).size());
  return name.empty() ? "component" : name;
}

bool RecipeComponent::has_phase(const std::string& phase) const {
  for (const auto& name : phases)
    if (name == phase) return true;
  return false;
}

const char* instance_kind_name(InstanceKind kind) {
  switch (kind) {
    case InstanceKind::Auto:
      return "auto";
    case InstanceKind::Booted:
      return "booted";
    case InstanceKind::Chroot:
      return "chroot";
  }
  return "auto";
}

bool parse_instance_kind(const std::string& text, InstanceKind& kind) {
  for (InstanceKind candidate : {InstanceKind::Auto, InstanceKind::Booted, InstanceKind::Chroot})
    if (text == instance_kind_name(candidate)) {
      kind = candidate;
      return true;
    }
  return false;
}

bool load_recipe(const std::string& path, Recipe& recipe, Diagnostics& diagnostics) {
  recipe.file = path;
  LoadedDocument doc;
  if (!load_yaml_file(path, doc, diagnostics)) return false;
  if (!doc.root.is_object()) {
    diagnostics.push_back({Severity::Error, {path, 1, 1}, "a recipe is a map of keys, not " + json_type_name(doc.root),
                           "start with 'name:', 'semanticVersion:', 'parentImage:' and 'components:'",
                           DiagnosticCode::Schema});
    return false;
  }
  const size_t before = diagnostics.size();
  for (const auto& problem : check_against_schema(doc.root, recipe_schema(), compiled_recipe_schema(), doc.source_map, "")) {
    SourceLocation location = problem.at_key ? doc.key_at(problem.pointer) : doc.at(problem.pointer);
    if (location.line == 0) location = {path, 1, 1};
    std::string message = problem.message(), hint = problem.hint;
    if (problem.kind == SchemaProblemKind::Other && problem.pointer == "/semanticVersion") {
      message = "'semanticVersion' must be MAJOR.MINOR.PATCH";
      hint = "write three whole numbers, e.g. semanticVersion: 1.0.0";
    } else if (problem.kind == SchemaProblemKind::Other && problem.pointer == "/name") {
      message = "'name' may hold only letters, digits, '.', '_' and '-' (at most 128, starting with a letter or digit)";
      hint = "it names the OCI image and its files, e.g. name: web-server";
    }
    diagnostics.push_back({Severity::Error, location, std::move(message), std::move(hint),
                           problem.kind == SchemaProblemKind::UnknownKey ? DiagnosticCode::UnknownKey
                                                                         : DiagnosticCode::Schema});
  }
  std::stable_sort(diagnostics.begin() + static_cast<long>(before), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.location.line, a.location.column) < std::tie(b.location.line, b.location.column);
                   });
  if (diagnostics.size() != before) return false;  // the reader below trusts the schema's shapes
  RecipeReader(doc, recipe, diagnostics).read();
  return diagnostics.size() == before;
}

bool check_component(const Recipe& recipe, RecipeComponent& component, Diagnostics& diagnostics) {
  LoadedDocument source;
  if (!load_yaml_file(component.path, source, diagnostics)) return false;
  if (component.is_url) source.path = component.source;  // messages name what the user wrote
  Document document;
  Diagnostics found = validate_document(std::move(source), ValidateOptions{}, document);
  bool ok = !has_errors(found);
  for (auto& diagnostic : found)
    if (diagnostic.severity == Severity::Error) diagnostics.push_back(std::move(diagnostic));
  if (!ok) return false;
  component.phases.clear();
  component.step_lines.clear();
  for (const auto& phase : document.phases) {
    component.phases.push_back(phase.name);
    for (const auto& step : phase.steps)
      component.step_lines[phase.name + "." + step.name] = document.source.at(step.pointer).line;
  }
  for (const auto& parameter : component.parameters) {
    bool declared = false;
    for (const auto& spec : document.parameters) declared = declared || spec.name == parameter.name;
    if (!declared) {
      std::string names;
      for (const auto& spec : document.parameters) names += (names.empty() ? "" : ", ") + spec.name;
      diagnostics.push_back({Severity::Error, {recipe.file, component.line, 1},
                             "component '" + component.source + "' declares no parameter '" + parameter.name + "'",
                             names.empty() ? "remove the parameter: the document declares none"
                                           : "the document declares: " + names,
                             DiagnosticCode::Semantic});
      ok = false;
    }
  }
  return ok;
}

std::string format_recipe_diagnostics(const std::string& path, const Diagnostics& diagnostics) {
  std::map<std::string, std::vector<std::string>> files;
  SourceLineLookup lookup = [&](const std::string& file, int line) -> std::string {
    auto it = files.find(file);
    if (it == files.end()) it = files.emplace(file, file_lines(file)).first;
    return line >= 1 && static_cast<size_t>(line) <= it->second.size() ? it->second[line - 1] : std::string();
  };
  std::string out;
  for (const auto& diagnostic : diagnostics) out += format_diagnostic(diagnostic, lookup, false);
  (void)path;
  return out;
}

}  // namespace kiln::image
