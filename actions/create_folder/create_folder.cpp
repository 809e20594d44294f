// CreateFolder: makes a folder and its parents, then applies owner/group/permissions.
// An existing folder is accepted and never emptied (overwrite: false makes it an error).
// Explicit permissions are exact (no umask) and apply to the folder itself, not to the
// parents created on the way (those get 0777 minus the umask).
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "actions/common/file_items.h"
#include "actions/common/file_ownership.h"

namespace kiln {
namespace {

std::string create_folder(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  files::Attributes attributes;
  std::string error = files::read_attributes(item, attributes);
  if (!error.empty()) return error;

  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) return std::string("exists and is not a folder");
    if (!item.at("overwrite").get<bool>()) return std::string("already exists and overwrite is false");
  } else if (errno != ENOENT) {
    return files::errno_message("cannot stat", "", errno);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return "cannot create: " + ec.message();
  }
  return files::apply_attributes(path, attributes);
}

}  // namespace

ActionResult run_create_folder(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = create_folder(item);
    if (error.empty() && context.log) context.log("created folder " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
