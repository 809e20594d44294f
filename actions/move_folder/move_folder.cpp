// MoveFolder: rename(2), or a recursive copy + delete across filesystems. An existing
// target folder is replaced when overwrite is true.
#include "actions/common/path_ops.h"

namespace kiln {

ActionResult run_move_folder(ActionContext& context) {
  path_ops::Interrupt interrupt(context);
  return path_ops::run_items(context, "source", [&interrupt](const nlohmann::json& item) {
    return path_ops::transfer_item(
        item, path_ops::Kind::RealFolder, [&interrupt](const std::string& from, const std::string& to, bool overwrite) {
          return path_ops::move_folder(from, to, overwrite, interrupt);
        });
  });
}

}  // namespace kiln
