// SIGINT and SIGTERM ask the program to stop. The handler only raises a flag (and keeps the
// signal's number); whoever runs work polls it, stops the running child's process group and
// unwinds, so nothing is killed or freed from inside a handler. SIGPIPE is ignored: a
// closed pipe is then a write error, not death. Used by kiln (a stopped run can be resumed)
// and kilnctl (a chroot is unmounted on the way out).
#pragma once
#include <atomic>

namespace kiln::sys {

struct StopRequest {
  std::atomic<bool> requested{false};
  std::atomic<int> signal{0};  // the last stop signal's number, 0 if none came
};

// Installs the handlers (again is harmless) and returns the request they raise.
StopRequest& install_stop_signal_handlers();

}  // namespace kiln::sys
