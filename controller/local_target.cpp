// `local`: this machine. A reboot request is answered by running the agent again at
// once: kilnctl cannot reboot the machine it runs on and live to resume (use kiln's own
// --reboot-mode system for that).
#include <filesystem>

#include "controller/target_kinds.h"

namespace kiln::ctl {

namespace fs = std::filesystem;

TargetStatus copy_file_into(const std::string& from, const std::string& to) {
  std::error_code ec;
  // Beside the target, then renamed over it: a running kiln binary cannot be written over
  // ("Text file busy"), but can be replaced.
  const std::string partial = to + ".kilnctl-upload";
  fs::create_directories(fs::path(to).parent_path(), ec);
  if (!ec) fs::copy_file(from, partial, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::permissions(partial, fs::status(from).permissions(), ec);
  if (!ec) fs::rename(partial, to, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    return TargetStatus::fail(TargetFailure::Other, "cannot copy " + from + " to " + to + ": " + ec.message());
  }
  return {};
}

TargetStatus copy_folder_contents(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (!ec) fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) return TargetStatus::fail(TargetFailure::Other, "cannot copy " + from + " to " + to + ": " + ec.message());
  return {};
}

CommandOutcome run_shell(const std::string& chroot_root, const std::string& command, const sys::OutputSink& sink,
                         const std::atomic<bool>* cancel) {
  sys::ProcessSpec spec;
  if (chroot_root.empty()) {
    spec.executable = "/bin/sh";
    spec.arguments = {"-c", command};
  } else {
    spec.executable = "/usr/sbin/chroot";
    // A clean PATH: the host's may name folders the root does not have.
    spec.arguments = {chroot_root, "/usr/bin/env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "/bin/sh",   "-c",           command};
  }
  spec.kill_grace = std::chrono::milliseconds(5000);  // kiln records the interruption on SIGTERM
  sys::ProcessResult result = sys::run_process(spec, sink, cancel);
  CommandOutcome outcome;
  if (result.cancelled)
    outcome.status = TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
  else if (!result.started)
    outcome.status = TargetStatus::fail(TargetFailure::Other, result.error);
  else if (result.signal != 0)
    outcome.status = TargetStatus::fail(TargetFailure::Other, "killed by signal " + std::to_string(result.signal));
  outcome.exit_code = result.exit_code;
  return outcome;
}

namespace {

class LocalTarget final : public Target {
 public:
  explicit LocalTarget(const std::atomic<bool>* cancel) : cancel_(cancel) {}
  const std::string& name() const override { return name_; }
  TargetStatus connect() override { return {}; }
  CommandOutcome run(const std::string& command, const sys::OutputSink& sink) override {
    return run_shell("", command, sink, cancel_);
  }
  TargetStatus upload(const std::string& local_file, const std::string& remote_path) override {
    return copy_file_into(local_file, remote_path);
  }
  TargetStatus download_folder(const std::string& remote_folder, const std::string& local_folder) override {
    return copy_folder_contents(remote_folder, local_folder);
  }
  TargetStatus reboot_and_wait(std::chrono::seconds, const ProgressSink& progress) override {
    progress("local target: not rebooting this machine; running the agent again");
    return {};
  }
  TargetStatus reconnect(std::chrono::seconds, const ProgressSink&) override { return {}; }
  void disconnect() override {}

 private:
  std::string name_ = "local";
  const std::atomic<bool>* cancel_;
};

}  // namespace

std::unique_ptr<Target> make_local_target(const std::atomic<bool>* cancel) {
  return std::make_unique<LocalTarget>(cancel);
}

}  // namespace kiln::ctl
