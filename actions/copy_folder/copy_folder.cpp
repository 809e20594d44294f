// CopyFolder: copies folders recursively, keeping modes, times and symlinks (links inside
// the tree are copied as links, never followed). An existing target folder is replaced
// when overwrite is true, once the new copy is complete.
#include "actions/common/path_ops.h"

namespace kiln {

ActionResult run_copy_folder(ActionContext& context) {
  path_ops::Interrupt interrupt(context);
  return path_ops::run_items(context, "source", [&interrupt](const nlohmann::json& item) {
    return path_ops::transfer_item(
        item, path_ops::Kind::Folder, [&interrupt](const std::string& from, const std::string& to, bool overwrite) {
          return path_ops::copy_folder(from, to, overwrite, interrupt);
        });
  });
}

}  // namespace kiln
