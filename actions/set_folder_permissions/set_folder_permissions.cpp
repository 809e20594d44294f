// SetFolderPermissions: sets the permission bits (an octal string, applied exactly) of a
// folder and, unless recursive: false, of everything in it, files and sub-folders alike
// (as chmod -R). Symlinks inside are skipped: Linux links have no mode of their own.
#include "actions/common/file_items.h"
#include "actions/common/file_ownership.h"

namespace kiln {
namespace {

std::string set_folder_permissions(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  files::Attributes attributes;
  std::string error = files::read_attributes(item, attributes);
  if (error.empty()) error = files::check_kind(path, /*want_folder=*/true);
  if (!error.empty()) return error;
  return files::apply_to_tree(path, attributes, /*recursive=*/item.value("recursive", true));
}

}  // namespace

ActionResult run_set_folder_permissions(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = set_folder_permissions(item);
    if (error.empty() && context.log) context.log("changed the permissions of " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
