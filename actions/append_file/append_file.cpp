// AppendFile: appends text in the chosen encoding (no BOM) to a file that must exist.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "actions/common/file_items.h"
#include "actions/common/text_encoding.h"

namespace kiln {
namespace {

std::string append_file(const nlohmann::json& item) {
  std::string path = item.at("path").get<std::string>();
  std::string encoding_name = item.at("encoding").get<std::string>();
  auto encoding = files::parse_encoding(encoding_name);
  if (!encoding) return "unknown encoding '" + encoding_name + "'";
  std::string bytes;
  std::string error = files::encode_text(item.at("content").get<std::string>(), *encoding, bytes);
  if (!error.empty()) return error;

  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);  // no O_CREAT: the file must exist
  if (fd < 0) {
    if (errno == ENOENT) return std::string("does not exist (AppendFile never creates files; use CreateFile)");
    if (errno == EISDIR) return std::string("is a folder, not a file");
    return files::errno_message("cannot open", "", errno);
  }
  int write_error = files::write_all(fd, bytes);
  if (write_error != 0) error = files::errno_message("cannot append", "", write_error);
  if (::close(fd) != 0 && error.empty()) error = files::errno_message("cannot append", "", errno);
  return error;
}

}  // namespace

ActionResult run_append_file(ActionContext& context) {
  return files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string error = append_file(item);
    if (error.empty() && context.log) context.log("appended to " + item.at("path").get<std::string>());
    return error;
  });
}

}  // namespace kiln
