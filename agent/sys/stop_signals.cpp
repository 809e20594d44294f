#include "agent/sys/stop_signals.h"

#include <signal.h>

namespace kiln::sys {
namespace {

StopRequest g_request;

extern "C" void on_stop_signal(int signal_number) {
  g_request.signal.store(signal_number);
  g_request.requested.store(true);
}

}  // namespace

StopRequest& install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return g_request;
}

}  // namespace kiln::sys
