// SetFileEncoding: re-encodes an existing UTF-8 file (a UTF-8 BOM is dropped) to the
// given encoding, without a BOM. The new bytes go to a temporary file beside the real
// one (symlinks resolved), which takes the original's mode and owner and is renamed
// over it: a crash leaves the old file or the new one, never half of each.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "actions/common/file_items.h"
#include "actions/common/text_encoding.h"
#include "agent/base/durable_file.h"

namespace kiln {
namespace {

constexpr size_t kMaxFileSize = size_t{1} << 30;  // the whole file is converted in memory

std::string replace_file(const std::string& path, const std::string& bytes) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return files::errno_message("cannot stat", path, errno);
  std::string temporary = path + ".kiln-XXXXXX";
  int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) return files::errno_message("cannot create a temporary file beside", path, errno);
  std::string error;
  int write_error = files::write_all(fd, bytes);
  if (write_error != 0) error = files::errno_message("cannot write", temporary, write_error);
  // Keep the original's owner (when it differs from ours) and mode.
  if (error.empty() && (info.st_uid != ::geteuid() || info.st_gid != ::getegid()) &&
      ::fchown(fd, info.st_uid, info.st_gid) != 0)
    error = files::errno_message("cannot keep the owner of", path, errno);
  if (error.empty() && ::fchmod(fd, info.st_mode & 07777) != 0)
    error = files::errno_message("cannot keep the permissions of", path, errno);
  if (error.empty() && sync_file(fd) != 0) error = files::errno_message("cannot write", temporary, errno);
  if (::close(fd) != 0 && error.empty()) error = files::errno_message("cannot write", temporary, errno);
  if (error.empty() && ::rename(temporary.c_str(), path.c_str()) != 0)
    error = files::errno_message("cannot replace", path, errno);
  if (!error.empty()) ::unlink(temporary.c_str());
  return error;
}

std::string set_file_encoding(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  std::string encoding_name = item.at("encoding").get<std::string>();
  auto encoding = files::parse_encoding(encoding_name);
  if (!encoding) return "unknown encoding '" + encoding_name + "'";
  std::string original, text, bytes;
  std::string error = files::read_whole_file(path, original, kMaxFileSize);
  if (error.empty()) error = files::decode_text(original, *files::parse_encoding("utf8"), text);
  if (error.empty()) error = files::encode_text(text, *encoding, bytes);
  if (!error.empty() || bytes == original) return error;
  std::error_code ec;
  std::string real_path = std::filesystem::canonical(path, ec).string();  // a symlink stays a symlink
  if (ec) return "cannot resolve " + path + ": " + ec.message();
  return replace_file(real_path, bytes);
}

}  // namespace

ActionResult run_set_file_encoding(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = set_file_encoding(item);
    if (error.empty() && context.log) context.log("re-encoded " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
