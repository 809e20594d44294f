#include "actions/common/file_items.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "actions/common/path_ops.h"

namespace kiln::files {

ActionResult run_each_item(ActionContext& context,
                           const std::function<std::string(const nlohmann::json& item, ActionResult& result)>& run_item) {
  ActionResult result;
  // Map-form inputs never reach these actions (their schemas say list), but be lenient.
  nlohmann::json items = context.inputs.is_array() ? context.inputs : nlohmann::json::array({context.inputs});
  // Between items, as path_ops::run_items does: the step's budget and the cancel flag.
  path_ops::Interrupt interrupt(context);
  for (size_t i = 0; i < items.size(); ++i) {
    const nlohmann::json& item = items[i];
    std::string path = item.is_object() ? item.value("path", "") : "";
    std::string error = interrupt.check();
    if (!error.empty()) {
      result.timed_out = interrupt.timed_out();
    } else {
      try {
        if (item.is_object() && item.contains("path") && path.empty())
          error = "'path' is empty";
        else
          error = run_item(item, result);
      } catch (const std::exception& e) {  // std::filesystem and friends: a failure, not a crash
        error = e.what();
      }
    }
    if (!error.empty()) {
      result.success = false;
      result.failure_message = "item " + std::to_string(i) + " (" + path + "): " + error;
      return result;
    }
  }
  result.success = true;
  return result;
}

std::string errno_message(const std::string& what, const std::string& path, int error) {
  return what + (path.empty() ? "" : " " + path) + ": " + std::strerror(error);
}

std::string read_whole_file(const std::string& path, std::string& content, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? "does not exist" : errno_message("cannot open", "", errno);
  struct stat info {};
  std::string error;
  if (::fstat(fd, &info) != 0) {
    error = errno_message("cannot stat", "", errno);
  } else if (S_ISDIR(info.st_mode)) {
    error = "is a folder, not a file";
  } else if (static_cast<unsigned long long>(info.st_size) > limit) {
    error = "is " + std::to_string(info.st_size) + " bytes, more than the " + std::to_string(limit) +
            " bytes a step may keep in memory";
  } else {
    content.clear();
    char buffer[65536];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = errno_message("cannot read", "", errno);
        break;
      }
      if (n == 0) break;
      content.append(buffer, static_cast<size_t>(n));
      if (content.size() > limit) {  // the file grew while we read it
        error = "is more than the " + std::to_string(limit) + " bytes a step may keep in memory";
        break;
      }
    }
  }
  ::close(fd);
  return error;
}

int write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace kiln::files
