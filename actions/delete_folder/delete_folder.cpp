// DeleteFolder: deletes a folder; one with contents only with `force: true`. A missing
// folder is success (the step can be repeated). A symlink is refused rather than
// guessed at: DeleteFile removes links.
#include "actions/common/path_ops.h"

namespace kiln {

ActionResult run_delete_folder(ActionContext& context) {
  return path_ops::run_items(context, "path", [&context](const nlohmann::json& item) {
    std::string path = item.value("path", "");
    if (path.empty()) return std::string("the path is empty");
    bool existed = false;
    std::string error = path_ops::delete_folder(path, item.at("force").get<bool>(), existed);
    if (error.empty()) context.log(existed ? "deleted " + path : path + " does not exist; nothing to delete");
    return error;
  });
}

}  // namespace kiln
