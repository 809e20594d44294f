// SetFolderOwner: changes the owner and group (the user's primary group when omitted) of a
// folder and, unless recursive: false, of everything in it. Symlinks inside are not
// followed: the links themselves change owner.
#include "actions/common/file_ownership.h"

namespace kiln {

ActionResult run_set_folder_owner(ActionContext& context) {
  return files::run_set_attributes(context, /*folder=*/true, "owner");
}

}  // namespace kiln
