// DeleteFile: deletes files (a symlink is deleted itself, not its target). A `*` in the
// file-name part deletes every matching non-folder entry of that one folder. Nothing to
// delete is success, so the step can be repeated. `force` is accepted and has no effect.
#include "actions/common/path_ops.h"

namespace kiln {

namespace {

std::string delete_one(ActionContext& context, const std::string& path) {
  bool existed = false;
  std::string error = path_ops::delete_file(path, existed);
  if (error.empty()) context.log(existed ? "deleted " + path : path + " does not exist; nothing to delete");
  return error;
}

}  // namespace

ActionResult run_delete_file(ActionContext& context) {
  return path_ops::run_items(context, "path", [&context](const nlohmann::json& item) {
    path_ops::SourcePattern pattern;
    std::string error = path_ops::parse_source(item.value("path", ""), pattern);
    if (!error.empty()) return error;
    if (!pattern.wildcard) return delete_one(context, pattern.path);
    std::vector<std::string> matches;
    error = path_ops::expand_wildcard(pattern, path_ops::Kind::NonFolder, matches);
    if (matches.empty() && error.empty()) context.log("no file matches " + pattern.path + "; nothing to delete");
    for (size_t i = 0; i < matches.size() && error.empty(); ++i) error = delete_one(context, matches[i]);
    return error;
  });
}

}  // namespace kiln
