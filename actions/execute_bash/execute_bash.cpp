// ExecuteBash: every command goes into one script, run by bash; its exit code is
// the step's result (no `set -e`, as in AWSTOE).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "actions/common/process_step.h"

namespace kiln {

namespace {

bool write_script(const std::string& path, const std::string& script, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0700);
  bool written = fd >= 0 && ::write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  int saved_errno = errno;
  if (fd >= 0 && ::close(fd) != 0) written = false;
  if (!written) error = "cannot write the script " + path + ": " + std::strerror(saved_errno);
  return written;
}

}  // namespace

ActionResult run_execute_bash(ActionContext& context) {
  std::string script;
  for (const auto& command : context.inputs["commands"]) script += command.get<std::string>() + "\n";
  ActionResult failed;
  // The script is kept in the step's folder for debugging. One holding a secret value is
  // kept there masked, and the real one runs from a private folder removed afterwards.
  if (std::string error = context.create_work_directory(); !error.empty()) {
    failed.failure_message = error;
    return failed;
  }
  std::string kept = context.work_directory + "/input.sh";
  bool secret = context.secrets && context.secrets->contains_secret(script);
  if (!write_script(kept, secret ? context.secrets->mask(script) : script, failed.failure_message)) return failed;
  std::string path = kept;
  std::string private_folder;
  if (secret) {
    std::string pattern = "/tmp/kiln-script-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      failed.failure_message = std::string("cannot create a private folder for the script: ") + std::strerror(errno);
      return failed;
    }
    private_folder = pattern;
    path = private_folder + "/input.sh";
    if (!write_script(path, script, failed.failure_message)) {
      ::rmdir(private_folder.c_str());
      return failed;
    }
  }
  sys::ProcessSpec spec;
  spec.executable = "bash";
  spec.arguments = {path};
  ActionResult result = run_process_step(context, std::move(spec));
  if (!private_folder.empty()) {
    ::unlink(path.c_str());
    ::rmdir(private_folder.c_str());
  }
  return result;
}

}  // namespace kiln
