// MoveFile: rename(2), or copy + delete when the target is on another filesystem. A
// symlink is moved as the link itself.
#include "actions/common/path_ops.h"

namespace kiln {

ActionResult run_move_file(ActionContext& context) {
  return path_ops::run_items(context, "source", [](const nlohmann::json& item) {
    return path_ops::transfer_item(item, path_ops::Kind::NonFolder, path_ops::move_file);
  });
}

}  // namespace kiln
