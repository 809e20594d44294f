// Every implemented action, one line each. An action with a schema but no line here is
// validated normally but refused by `run` before anything runs.
#include "actions/registry.h"

#include <array>

namespace kiln {

ActionResult run_assert(ActionContext& context);
ActionResult run_execute_bash(ActionContext& context);
ActionResult run_execute_binary(ActionContext& context);
ActionResult run_execute_document(ActionContext& context);
ActionResult run_reboot(ActionContext& context);
ActionResult run_copy_file(ActionContext& context);
ActionResult run_copy_folder(ActionContext& context);
ActionResult run_delete_file(ActionContext& context);
ActionResult run_delete_folder(ActionContext& context);
ActionResult run_extract_archive(ActionContext& context);
ActionResult run_list_files(ActionContext& context);
ActionResult run_move_file(ActionContext& context);
ActionResult run_move_folder(ActionContext& context);
ActionResult run_update_os(ActionContext& context);
ActionResult run_append_file(ActionContext& context);
ActionResult run_create_file(ActionContext& context);
ActionResult run_create_folder(ActionContext& context);
ActionResult run_create_symlink(ActionContext& context);
ActionResult run_read_file(ActionContext& context);
ActionResult run_s3_download(ActionContext& context);
ActionResult run_s3_upload(ActionContext& context);
ActionResult run_set_file_encoding(ActionContext& context);
ActionResult run_set_file_owner(ActionContext& context);
ActionResult run_set_file_permissions(ActionContext& context);
ActionResult run_set_folder_owner(ActionContext& context);
ActionResult run_set_folder_permissions(ActionContext& context);
ActionResult run_web_download(ActionContext& context);

namespace {
constexpr std::array kActions = {
    ActionEntry{"Assert", run_assert},
    ActionEntry{"ExecuteBash", run_execute_bash},
    ActionEntry{"ExecuteBinary", run_execute_binary},
    ActionEntry{"ExecuteDocument", run_execute_document},
    ActionEntry{"Reboot", run_reboot},
    ActionEntry{"CopyFile", run_copy_file},
    ActionEntry{"CopyFolder", run_copy_folder},
    ActionEntry{"DeleteFile", run_delete_file},
    ActionEntry{"DeleteFolder", run_delete_folder},
    ActionEntry{"ExtractArchive", run_extract_archive},
    ActionEntry{"ListFiles", run_list_files},
    ActionEntry{"MoveFile", run_move_file},
    ActionEntry{"MoveFolder", run_move_folder},
    ActionEntry{"UpdateOS", run_update_os},
    ActionEntry{"AppendFile", run_append_file},
    ActionEntry{"CreateFile", run_create_file},
    ActionEntry{"CreateFolder", run_create_folder},
    ActionEntry{"CreateSymlink", run_create_symlink},
    ActionEntry{"ReadFile", run_read_file},
    ActionEntry{"S3Download", run_s3_download},
    ActionEntry{"S3Upload", run_s3_upload},
    ActionEntry{"SetFileEncoding", run_set_file_encoding},
    ActionEntry{"SetFileOwner", run_set_file_owner},
    ActionEntry{"SetFilePermissions", run_set_file_permissions},
    ActionEntry{"SetFolderOwner", run_set_folder_owner},
    ActionEntry{"SetFolderPermissions", run_set_folder_permissions},
    ActionEntry{"WebDownload", run_web_download},
};
}  // namespace

const ActionTable& builtin_actions() {
  static const ActionTable table(kActions.data(), kActions.size());
  return table;
}

const ActionEntry* find_action(std::string_view name) { return builtin_actions().find(name); }

}  // namespace kiln
