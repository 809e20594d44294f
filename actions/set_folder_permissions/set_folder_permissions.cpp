// SetFolderPermissions: sets the permission bits (an octal string, applied exactly) of a
// folder and, unless recursive: false, of everything in it, files and sub-folders alike
// (as chmod -R). Symlinks inside are skipped: Linux links have no mode of their own.
#include "actions/common/file_ownership.h"

namespace kiln {

ActionResult run_set_folder_permissions(ActionContext& context) {
  return files::run_set_attributes(context, /*folder=*/true, "permissions");
}

}  // namespace kiln
