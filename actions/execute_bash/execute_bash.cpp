// ExecuteBash: every command goes into one script, run by bash; its exit code is
// the step's result (no `set -e`, as in AWSTOE).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "actions/common/process_step.h"

namespace kiln {

ActionResult run_execute_bash(ActionContext& context) {
  std::string script;
  for (const auto& command : context.inputs["commands"]) script += command.get<std::string>() + "\n";
  std::string path = context.work_directory + "/input.sh";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
  bool written = fd >= 0 && ::write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  int saved_errno = errno;
  if (fd >= 0) ::close(fd);
  if (!written) {
    ActionResult result;
    result.failure_message = "cannot write the script " + path + ": " + std::strerror(saved_errno);
    return result;
  }
  sys::ProcessSpec spec;
  spec.executable = "bash";
  spec.arguments = {path};
  return run_process_step(context, std::move(spec));
}

}  // namespace kiln
