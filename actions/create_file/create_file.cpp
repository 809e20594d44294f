// CreateFile: writes text in the chosen encoding (no BOM), creating parent folders.
// An existing file is truncated in place (its mode and owner kept unless given) or,
// with overwrite: false, is an error. Explicit permissions are exact (no umask);
// without them a new file gets 0666 minus the umask.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "actions/common/file_items.h"
#include "actions/common/file_ownership.h"
#include "actions/common/text_encoding.h"

namespace kiln {
namespace {

std::string create_parents(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return "";
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  return ec ? "cannot create the folder " + parent.string() + ": " + ec.message() : "";
}

std::string create_file(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  std::string encoding_name = item.at("encoding").get<std::string>();
  auto encoding = files::parse_encoding(encoding_name);
  if (!encoding) return "unknown encoding '" + encoding_name + "'";
  files::Attributes attributes;
  std::string error = files::read_attributes(item, attributes);
  std::string bytes;
  if (error.empty()) error = files::encode_text(item.at("content").get<std::string>(), *encoding, bytes);
  if (error.empty()) error = create_parents(path);
  if (!error.empty()) return error;

  bool overwrite = item.at("overwrite").get<bool>();
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  // Created with the requested bits already (umask may narrow them; fchmod below makes them exact).
  mode_t create_mode = attributes.mode ? (*attributes.mode & 0777) : 0666;
  int fd = ::open(path.c_str(), flags, create_mode);
  if (fd < 0) {
    if (errno == EEXIST) return std::string("already exists and overwrite is false");
    if (errno == EISDIR) return std::string("is a folder, not a file");
    return files::errno_message("cannot create", "", errno);
  }
  int write_error = files::write_all(fd, bytes);
  if (write_error != 0) error = files::errno_message("cannot write", "", write_error);
  if (error.empty()) error = files::apply_attributes(fd, path, attributes);
  if (::close(fd) != 0 && error.empty()) error = files::errno_message("cannot write", "", errno);
  return error;
}

}  // namespace

ActionResult run_create_file(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = create_file(item);
    if (error.empty() && context.log) context.log("created file " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
