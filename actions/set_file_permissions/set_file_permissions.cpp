// SetFilePermissions: sets the permission bits (an octal string such as '0644', applied
// exactly, no umask) of files; symlinks are followed, so the target changes.
#include "actions/common/file_ownership.h"

namespace kiln {

ActionResult run_set_file_permissions(ActionContext& context) {
  return files::run_set_attributes(context, /*folder=*/false, "permissions");
}

}  // namespace kiln
