// SetFileOwner: changes the owner (a user name or id) and group (the user's primary group
// when omitted) of files; symlinks are followed, so the target changes.
#include "actions/common/file_ownership.h"

namespace kiln {

ActionResult run_set_file_owner(ActionContext& context) {
  return files::run_set_attributes(context, /*folder=*/false, "owner");
}

}  // namespace kiln
