// SetFolderOwner: changes the owner and group (the user's primary group when omitted) of a
// folder and, unless recursive: false, of everything in it. Symlinks inside are not
// followed: the links themselves change owner.
#include "actions/common/file_items.h"
#include "actions/common/file_ownership.h"

namespace kiln {
namespace {

std::string set_folder_owner(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  files::Attributes attributes;
  std::string error = files::read_attributes(item, attributes);
  if (error.empty()) error = files::check_kind(path, /*want_folder=*/true);
  if (!error.empty()) return error;
  return files::apply_to_tree(path, attributes, /*recursive=*/item.value("recursive", true));
}

}  // namespace

ActionResult run_set_folder_owner(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = set_folder_owner(item);
    if (error.empty() && context.log) context.log("changed the owner of " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
