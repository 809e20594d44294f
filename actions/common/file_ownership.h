// Owners, groups and permission bits, shared by CreateFile, CreateFolder,
// SetFile/FolderOwner and SetFile/FolderPermissions.
#pragma once
#include "actions/action.h"
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln::files {

// Parses "0755" / "755" / "4755": three or four octal digits, nothing else.
// Returns "" or an error text naming the accepted forms.
std::string parse_permissions(const std::string& text, mode_t& mode);

// Who should own a path. -1 (as for chown) means "leave unchanged".
struct Ownership {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  bool changes() const { return uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1); }
};

// Resolves owner and group (names or numeric ids; either may be absent). A given owner
// with no group means the owner's primary group. Returns "" or an error text.
std::string resolve_ownership(const std::optional<std::string>& owner, const std::optional<std::string>& group,
                              Ownership& ownership);

// The optional "owner"/"group"/"permissions" inputs of an item, resolved and parsed.
struct Attributes {
  Ownership ownership;
  std::optional<mode_t> mode;
};
std::string read_attributes(const nlohmann::json& item, Attributes& attributes);

// Applies ownership, then the mode (in this order: chown clears set-user-ID bits).
// Through a descriptor, or by path (symlinks followed unless `no_follow`; a symlink's
// mode is never changed, as Linux gives links none).
std::string apply_attributes(int fd, const std::string& path, const Attributes& attributes);
std::string apply_attributes(const std::string& path, const Attributes& attributes, bool no_follow = false);

// `folder` and everything under it, children before their folder (so a folder made
// unreadable is changed last), without following symlinks to folders. Returns "" or an error.
std::string list_tree(const std::string& folder, std::vector<std::string>& paths);

// Applies `attributes` to `path` (symlink followed) and, when `recursive`, to everything
// under it (symlinks inside are not followed: their own owner changes, never their mode).
std::string apply_to_tree(const std::string& path, const Attributes& attributes, bool recursive);

// "" if `path` exists (following symlinks) and is a folder (want_folder) or not a folder;
// else an error naming no path (callers report the item's path).
std::string check_kind(const std::string& path, bool want_folder);

// The body of SetFileOwner, SetFolderOwner, SetFilePermissions and SetFolderPermissions:
// for each item, apply its owner/group/permissions to a file, or to a folder (and, unless
// `recursive: false`, everything in it). `what` names the change for the log ("owner").
ActionResult run_set_attributes(ActionContext& context, bool folder, const std::string& what);

}  // namespace kiln::files
