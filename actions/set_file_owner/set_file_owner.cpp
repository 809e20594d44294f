// SetFileOwner: changes the owner (a user name or id) and group (the user's primary group
// when omitted) of files; symlinks are followed, so the target changes.
#include "actions/common/file_items.h"
#include "actions/common/file_ownership.h"

namespace kiln {
namespace {

std::string set_file_owner(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  files::Attributes attributes;
  std::string error = files::read_attributes(item, attributes);
  if (error.empty()) error = files::check_kind(path, /*want_folder=*/false);
  if (!error.empty()) return error;
  return files::apply_to_tree(path, attributes, /*recursive=*/false);
}

}  // namespace

ActionResult run_set_file_owner(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = set_file_owner(item);
    if (error.empty() && context.log) context.log("changed the owner of " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
