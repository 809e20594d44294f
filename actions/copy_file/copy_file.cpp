// CopyFile: copies files. A `*` in the source's last component copies every matching
// file into the destination folder. Symlinked sources are followed (their content is
// copied); the copy is written beside the target and renamed into place.
#include "actions/common/path_ops.h"

namespace kiln {

ActionResult run_copy_file(ActionContext& context) {
  return path_ops::run_items(context, "source", [](const nlohmann::json& item) {
    return path_ops::transfer_item(item, path_ops::Kind::RegularFile, path_ops::copy_file);
  });
}

}  // namespace kiln
