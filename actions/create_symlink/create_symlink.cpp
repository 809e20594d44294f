// CreateSymlink: a symbolic link at `path` (made absolute) to `target` (written as given).
// The target must exist as the link will see it: a relative target is looked up from the
// link's folder. Parent folders are created. Only an existing link may be replaced, and
// only with force: true; the replacement is a rename, so the path is never missing.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "actions/common/file_items.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// Creates the link under a temporary name beside `path`, then renames it over `path`.
std::string replace_link(const std::string& target, const fs::path& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path temporary = path;
    temporary += ".kiln-" + std::to_string(::getpid()) + "-" + std::to_string(attempt);
    if (::symlink(target.c_str(), temporary.c_str()) != 0) {
      if (errno == EEXIST) continue;
      return files::errno_message("cannot create a link beside", path.string(), errno);
    }
    if (::rename(temporary.c_str(), path.c_str()) == 0) return "";
    int error = errno;
    ::unlink(temporary.c_str());
    return files::errno_message("cannot replace the link", path.string(), error);
  }
  return "cannot find a free temporary name beside " + path.string();
}

std::string create_symlink(const nlohmann::json& item) {
  std::error_code ec;
  fs::path path = fs::absolute(item.at("path").get<std::string>(), ec);
  if (ec) return "cannot make the path absolute: " + ec.message();
  std::string target = item.at("target").get<std::string>();
  if (target.empty()) return "'target' is empty";

  fs::path seen_target = fs::path(target).is_absolute() ? fs::path(target) : path.parent_path() / target;
  struct stat info {};
  if (::stat(seen_target.c_str(), &info) != 0)
    return "the target " + seen_target.string() + " does not exist (" + std::strerror(errno) + ")";

  fs::create_directories(path.parent_path(), ec);
  if (ec) return "cannot create the folder " + path.parent_path().string() + ": " + ec.message();

  if (::lstat(path.c_str(), &info) == 0) {
    if (!S_ISLNK(info.st_mode)) return std::string("exists and is not a symbolic link (only links are replaced)");
    if (!item.at("force").get<bool>()) return std::string("a symbolic link already exists (force: true replaces it)");
    return replace_link(target, path);
  }
  if (::symlink(target.c_str(), path.c_str()) != 0) return files::errno_message("cannot create the link", "", errno);
  return "";
}

}  // namespace

ActionResult run_create_symlink(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = create_symlink(item);
    if (error.empty() && context.log)
      context.log("linked " + item.at("path").get<std::string>() + " -> " + item.at("target").get<std::string>());
    return error;
  });
}

}  // namespace kiln
