// ListFiles: lists the files under `path` (everything but folders; a symlink is listed
// as itself and never followed), optionally recursively, optionally only the names that
// match `fileNamePattern` (`*` wildcard). Paths are `path` joined with the names found,
// depth first, names in byte order within each folder.
//
// Outputs: `files` joins the paths with commas, as AWSTOE's example shows, so a name
// holding a comma is ambiguous there; kiln's `filesJson` holds the same paths as a JSON
// array. With several items the lists follow one another in item order.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "actions/common/path_ops.h"

namespace kiln {

namespace {

namespace fs = std::filesystem;

struct Listing {
  std::string pattern;  // empty: every name
  bool recursive = false;
  std::vector<std::string> files;
};

std::string join(const std::string& folder, const std::string& name) {
  return folder.empty() || folder.back() == '/' ? folder + name : folder + "/" + name;
}

std::string list_folder(const std::string& folder, Listing& listing) {
  std::vector<std::pair<std::string, bool>> entries;  // name, is a folder (not a link to one)
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_error;
    bool is_folder = it->symlink_status(type_error).type() == fs::file_type::directory;
    entries.emplace_back(it->path().filename().string(), is_folder);
  }
  if (ec) return "cannot read the folder " + folder + ": " + ec.message();
  std::sort(entries.begin(), entries.end());
  for (const auto& [name, is_folder] : entries) {
    std::string path = join(folder, name);
    if (is_folder) {
      if (!listing.recursive) continue;
      std::string error = list_folder(path, listing);
      if (!error.empty()) return error;
    } else if (listing.pattern.empty() || path_ops::wildcard_match(listing.pattern, name)) {
      listing.files.push_back(path);
    }
  }
  return {};
}

std::string list_item(const nlohmann::json& item, std::vector<std::string>& files) {
  std::string path = item.value("path", "");
  if (path.empty()) return "the path is empty";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return errno == ENOENT ? path + " does not exist" : "cannot inspect " + path + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return path + " is not a folder";
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  Listing listing;
  listing.pattern = item.value("fileNamePattern", "");
  listing.recursive = item.at("recursive").get<bool>();
  std::string error = list_folder(path, listing);
  files.insert(files.end(), listing.files.begin(), listing.files.end());
  return error;
}

}  // namespace

ActionResult run_list_files(ActionContext& context) {
  std::vector<std::string> files;
  ActionResult result = path_ops::run_items(
      context, "path", [&files](const nlohmann::json& item) { return list_item(item, files); });
  if (!result.success) return result;
  std::string joined;
  bool ambiguous = false;
  for (const auto& file : files) {
    if (!joined.empty()) joined += ",";
    joined += file;
    ambiguous = ambiguous || file.find(',') != std::string::npos;
  }
  if (ambiguous) context.log("a listed name contains a comma, so the files output is ambiguous; use filesJson");
  context.log("listed " + std::to_string(files.size()) + " files");
  result.outputs = {{"files", joined}, {"filesJson", files}};
  return result;
}

}  // namespace kiln
