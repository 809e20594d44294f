#include "actions/common/file_ownership.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>

#include "actions/common/file_items.h"

namespace kiln::files {
namespace {

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<unsigned long> parse_id(const std::string& text) {
  unsigned long value = 0;
  if (!all_digits(text)) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  // -1 is chown's "unchanged", never a real id.
  if (ec != std::errc() || end != text.data() + text.size() || value >= 0xFFFFFFFFul) return std::nullopt;
  return value;
}

// The _r lookups want a caller's buffer; grow it while they say ERANGE.
template <typename Entry, typename Key, typename Lookup>
int lookup(Lookup function, Key key, Entry& entry, std::vector<char>& buffer, Entry*& found) {
  buffer.resize(16384);
  for (;;) {
    found = nullptr;
    int error = function(key, &entry, buffer.data(), buffer.size(), &found);
    if (error != ERANGE || buffer.size() > (1u << 24)) return error;
    buffer.resize(buffer.size() * 2);
  }
}

// A user by name, else by numeric id. `primary_gid` is set when the user database knows it.
std::string resolve_user(const std::string& text, uid_t& uid, std::optional<gid_t>& primary_gid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer;
  int error = lookup(::getpwnam_r, text.c_str(), entry, buffer, found);
  if (error != 0 && error != ENOENT && error != ESRCH) return errno_message("cannot look up user", text, error);
  if (found) {
    uid = found->pw_uid;
    primary_gid = found->pw_gid;
    return "";
  }
  std::optional<unsigned long> id = parse_id(text);
  if (!id) return "unknown user '" + text + "' (no such user name, and not a numeric user id)";
  // A numeric id needs no entry (as with chown), but its entry gives the primary group.
  uid = static_cast<uid_t>(*id);
  if (lookup(::getpwuid_r, uid, entry, buffer, found) == 0 && found) primary_gid = found->pw_gid;
  return "";
}

std::string resolve_group(const std::string& text, gid_t& gid) {
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buffer;
  int error = lookup(::getgrnam_r, text.c_str(), entry, buffer, found);
  if (error != 0 && error != ENOENT && error != ESRCH) return errno_message("cannot look up group", text, error);
  if (found) {
    gid = found->gr_gid;
    return "";
  }
  std::optional<unsigned long> id = parse_id(text);
  if (!id) return "unknown group '" + text + "' (no such group name, and not a numeric group id)";
  gid = static_cast<gid_t>(*id);
  return "";
}

std::string optional_string(const nlohmann::json& item, const char* key, std::optional<std::string>& value) {
  if (!item.contains(key)) return "";
  if (!item[key].is_string()) return std::string("'") + key + "' must be a string";
  value = item[key].get<std::string>();
  return "";
}

}  // namespace

std::string parse_permissions(const std::string& text, mode_t& mode) {
  bool octal = (text.size() == 3 || text.size() == 4) &&
               std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!octal)
    return "permissions '" + text + "' are not an octal mode: give three or four octal digits as a string, " +
           "such as '0644', '755' or '1777'";
  mode = static_cast<mode_t>(std::stoul(text, nullptr, 8));
  return "";
}

std::string resolve_ownership(const std::optional<std::string>& owner, const std::optional<std::string>& group,
                              Ownership& ownership) {
  ownership = {};
  std::optional<gid_t> primary_gid;
  if (owner) {
    std::string error = resolve_user(*owner, ownership.uid, primary_gid);
    if (!error.empty()) return error;
  }
  if (group) return resolve_group(*group, ownership.gid);
  if (owner) {
    if (!primary_gid)
      return "user id " + *owner + " has no entry in the user database, so it has no primary group: give 'group' too";
    ownership.gid = *primary_gid;
  }
  return "";
}

std::string read_attributes(const nlohmann::json& item, Attributes& attributes) {
  std::optional<std::string> owner, group, permissions;
  std::string error = optional_string(item, "owner", owner);
  if (error.empty()) error = optional_string(item, "group", group);
  if (error.empty()) error = optional_string(item, "permissions", permissions);
  if (error.empty()) error = resolve_ownership(owner, group, attributes.ownership);
  if (!error.empty()) return error;
  if (permissions) {
    mode_t mode = 0;
    error = parse_permissions(*permissions, mode);
    if (!error.empty()) return error;
    attributes.mode = mode;
  }
  return "";
}

std::string apply_attributes(int fd, const std::string& path, const Attributes& attributes) {
  const Ownership& o = attributes.ownership;
  if (o.changes() && ::fchown(fd, o.uid, o.gid) != 0) return errno_message("cannot change the owner of", path, errno);
  if (attributes.mode && ::fchmod(fd, *attributes.mode) != 0)
    return errno_message("cannot change the permissions of", path, errno);
  return "";
}

std::string apply_attributes(const std::string& path, const Attributes& attributes, bool no_follow) {
  bool is_link = false;
  struct stat info {};
  if (no_follow && ::lstat(path.c_str(), &info) == 0) is_link = S_ISLNK(info.st_mode);
  const Ownership& o = attributes.ownership;
  if (o.changes()) {
    int rc = is_link ? ::lchown(path.c_str(), o.uid, o.gid) : ::chown(path.c_str(), o.uid, o.gid);
    if (rc != 0) return errno_message("cannot change the owner of", path, errno);
  }
  if (attributes.mode && !is_link && ::chmod(path.c_str(), *attributes.mode) != 0)
    return errno_message("cannot change the permissions of", path, errno);
  return "";
}

std::string list_tree(const std::string& folder, std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::error_code ec;
  paths = {folder};
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) paths.push_back(it->path().string());
  if (ec) return "cannot list " + folder + ": " + ec.message();
  std::reverse(paths.begin(), paths.end());
  return "";
}

std::string apply_to_tree(const std::string& path, const Attributes& attributes, bool recursive) {
  std::vector<std::string> paths = {path};
  if (recursive) {
    std::string error = list_tree(path, paths);
    if (!error.empty()) return error;
  }
  for (const auto& p : paths) {
    std::string error = apply_attributes(p, attributes, /*no_follow=*/p != path);
    if (!error.empty()) return error;
  }
  return "";
}

std::string check_kind(const std::string& path, bool want_folder) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return "does not exist";
    return errno_message("cannot stat", "", errno);
  }
  bool is_folder = S_ISDIR(info.st_mode);
  if (want_folder && !is_folder) return "is not a folder";
  if (!want_folder && is_folder) return "is a folder, not a file";
  return "";
}

ActionResult run_set_attributes(ActionContext& context, bool folder, const std::string& what) {
  return run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string path = item.at("path").get<std::string>();
    Attributes attributes;
    std::string error = read_attributes(item, attributes);
    if (error.empty()) error = check_kind(path, folder);
    if (error.empty()) error = apply_to_tree(path, attributes, folder && item.at("recursive").get<bool>());
    if (error.empty() && context.log) context.log("changed the " + what + " of " + path);
    return error;
  });
}

}  // namespace kiln::files
