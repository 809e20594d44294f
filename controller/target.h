// A Target is where kilnctl runs the agent: this machine, a root folder entered with
// chroot or booted with systemd-nspawn, or a host over SSH. The phase driver (phase_runner.h) knows only this seam:
// run a shell command streaming its output, upload a file, download a folder, reboot,
// wait until back. Failures are typed (TargetFailure), so exit codes are decided on a
// kind, never on a message. A later `--targets FILE` runs several of these in parallel:
// a Target holds no global state except the shared cancel flag it is given.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/base/text.h"  // shell_quote
#include "agent/sys/process.h"
#include "controller/options.h"

namespace kiln::ctl {

enum class TargetFailure {
  None,
  Unreachable,     // no connection could be made (or not within the timeout)
  Authentication,  // the target refused our credentials
  ConnectionLost,  // the connection dropped while a command ran: reconnect and run it again
  Cancelled,       // SIGINT/SIGTERM arrived
  Other,           // the target answered but the operation failed (upload, mount, ...)
};

struct TargetStatus {
  TargetFailure failure = TargetFailure::None;
  std::string message;
  bool ok() const { return failure == TargetFailure::None; }
  static TargetStatus fail(TargetFailure kind, std::string text) { return {kind, std::move(text)}; }
};

struct CommandOutcome {
  TargetStatus status;  // not ok: exit_code means nothing
  int exit_code = -1;
};

using ProgressSink = std::function<void(std::string_view)>;

class Target {
 public:
  virtual ~Target() = default;
  // Short name for the output prefix and the local log folder (DIR/<name>/).
  virtual const std::string& name() const = 0;
  // Mount / open the shared connection. Called once before anything else.
  virtual TargetStatus connect() = 0;
  // Runs `sh -c COMMAND` on the target; stdout and stderr go to `sink` as they come.
  virtual CommandOutcome run(const std::string& command, const sys::OutputSink& sink) = 0;
  // Copies a local file to `remote_path` (parents created), keeping its mode bits.
  virtual TargetStatus upload(const std::string& local_file, const std::string& remote_path) = 0;
  // Copies the contents of `remote_folder` into `local_folder` (created).
  virtual TargetStatus download_folder(const std::string& remote_folder, const std::string& local_folder) = 0;
  // Asks the target to reboot, then waits until it answers again (at most `timeout`).
  virtual TargetStatus reboot_and_wait(std::chrono::seconds timeout, const ProgressSink& progress) = 0;
  // The --reboot-mode the agent runs with: "exit" (it exits 194 and kilnctl reboots the
  // target) or "system" (it reboots the target itself; only targets that can boot for real).
  virtual std::string agent_reboot_mode() const { return "exit"; }
  // With "system": the agent rebooted the target (or is about to). Waits until it went down
  // and is up again, booted as many times as it rebooted on its own (counted in `reboots`).
  virtual TargetStatus wait_for_reboot(std::chrono::seconds, const ProgressSink&, int&) {
    return TargetStatus::fail(TargetFailure::Other, "this target cannot be rebooted by the agent");
  }
  // After ConnectionLost: waits until a command can run again (at most `timeout`).
  virtual TargetStatus reconnect(std::chrono::seconds timeout, const ProgressSink& progress) = 0;
  // Unmount / close the connection; idempotent, the destructor calls it too.
  virtual void disconnect() = 0;
};

// Makes the target named by `spec` (local, chroot:/root, nspawn:/root, ssh://user@host[:port]); nullptr
// and `error` set when the spec is malformed. `cancel` is raised by SIGINT/SIGTERM.
std::unique_ptr<Target> make_target(const std::string& spec, const RunOptions& options, const std::atomic<bool>* cancel,
                                    std::string& error);

}  // namespace kiln::ctl
