// An image recipe (`kilnctl image build RECIPE`): read from YAML/JSON with the document
// loader, checked against schemas/recipe.schema.json, and resolved (component paths made
// absolute from the recipe's folder). Problems are diagnostics with FILE:LINE:COL, as for
// component documents; nothing here touches a root filesystem.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "agent/document/diagnostic.h"

namespace kiln::image {

// Where components run: a root booted with systemd (systemd-nspawn) or entered with chroot.
enum class InstanceKind { Auto, Booted, Chroot };

struct ComponentParameter {
  std::string name;
  std::string value;
};

struct RecipeComponent {
  std::string source;     // as written: a path or an http(s) URL
  std::string path;       // local file: absolute; empty for a URL until it is fetched
  bool is_url = false;
  int line = 0;           // where the entry was written in the recipe (for messages)
  std::vector<ComponentParameter> parameters;
  // From the validated document (local files; a URL's once fetched).
  std::vector<std::string> phases;
  std::map<std::string, int> step_lines;  // "phase.step" -> line in the document
  bool has_phase(const std::string& phase) const;
  // For kiln's --parameters: N=V,... (empty when there are none).
  std::string parameters_argument() const;
  // The file's name without folders and extension ("install-nginx"), for logs and tables.
  std::string label() const;
};

enum class ParentKind { Tarball, OciLayout, Debootstrap };

struct Recipe {
  std::string file;  // as given
  std::string name;
  std::string version;  // semanticVersion
  std::string description;
  ParentKind parent_kind = ParentKind::Tarball;
  std::string parent;  // absolute path, or the Debian suite for debootstrap
  std::vector<RecipeComponent> components;
  std::vector<RecipeComponent> test_components;
  InstanceKind instance = InstanceKind::Auto;
  bool remove_apt_lists = false;
  bool write_rootfs_tarball = true;
  bool write_oci_layout = true;
};

// Loads and checks `path`. Returns false with diagnostics (FILE:LINE:COL) when it cannot
// be used; `recipe` is filled as far as it could be read.
bool load_recipe(const std::string& path, Recipe& recipe, Diagnostics& diagnostics);

// Validates the component document at `component.path` with kiln's validator, fills its
// phases and step lines, and checks that the recipe's parameters are ones it declares.
// Diagnostics point into the document (or, for an unknown parameter, the recipe).
bool check_component(const Recipe& recipe, RecipeComponent& component, Diagnostics& diagnostics);

// The diagnostics as compiler-style text, with the recipe's source lines and carets.
std::string format_recipe_diagnostics(const std::string& path, const Diagnostics& diagnostics);

// "auto" / "booted" / "chroot".
const char* instance_kind_name(InstanceKind kind);
bool parse_instance_kind(const std::string& text, InstanceKind& kind);

}  // namespace kiln::image
