// ExecuteBash: every command goes into one script, run by bash; its exit code is
// the step's result (no `set -e`, as in AWSTOE). The script is kept in the step's folder
// (input.sh) and bash runs it from there. A script holding a secret value never touches
// a filesystem (issue 10): the kept copy is masked, and bash reads the real one from a
// sealed memfd handed to it as /dev/fd/3. That memory is gone with the last process
// holding it, so a SIGKILL of kiln leaves no copy of the secret behind.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "actions/common/file_items.h"
#include "actions/common/process_step.h"

namespace kiln {

namespace {

bool write_script(const std::string& path, const std::string& script, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0700);
  int write_error = fd >= 0 ? files::write_all(fd, script) : errno;
  if (fd >= 0 && ::close(fd) != 0 && write_error == 0) write_error = errno;
  if (write_error != 0) error = files::errno_message("cannot write the script", path, write_error);
  return write_error == 0;
}

// An in-memory file holding `script`, sealed so that nothing can change it any more;
// close-on-exec, so only the child it is passed to gets it. -1 (and `error`) on failure.
int sealed_script(const std::string& script, std::string& error) {
  int fd = ::memfd_create("kiln-script", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    error = files::errno_message("cannot create the script in memory", "", errno);
    return -1;
  }
  int failure = files::write_all(fd, script);
  if (failure == 0 && ::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
    failure = errno;
  if (failure != 0) {
    error = files::errno_message("cannot write the script in memory", "", failure);
    ::close(fd);
    return -1;
  }
  return fd;
}

// Put before the first command, on its line (LINENO stays as written): bash has opened
// /dev/fd/3 as a descriptor of its own by then, and the script's commands need not
// inherit fd 3 (tools such as LVM's warn about descriptors they did not expect).
std::string close_passed_fd() {
  return "exec " + std::to_string(sys::kPassedFd) + "<&-; ";
}

}  // namespace

ActionResult run_execute_bash(ActionContext& context) {
  std::string script;
  for (const auto& command : context.inputs["commands"]) script += command.get<std::string>() + "\n";
  ActionResult failed;
  if (std::string error = context.create_work_directory(); !error.empty()) {
    failed.failure_message = error;
    return failed;
  }
  std::string kept = context.work_directory + "/input.sh";
  bool secret = context.secrets && context.secrets->contains_secret(script);
  if (!write_script(kept, secret ? context.secrets->mask(script) : script, failed.failure_message)) return failed;
  sys::ProcessSpec spec;
  spec.executable = "bash";
  spec.arguments = {kept};
  if (!secret) return run_process_step(context, std::move(spec));
  int fd = sealed_script(close_passed_fd() + script, failed.failure_message);
  if (fd < 0) return failed;
  spec.arguments = {"/dev/fd/" + std::to_string(sys::kPassedFd)};
  spec.passed_fd = fd;
  ActionResult result = run_process_step(context, std::move(spec));
  ::close(fd);
  return result;
}

}  // namespace kiln
