// `chroot:/path/to/root`: the agent runs inside a root filesystem folder. /proc, /sys,
// /dev and /dev/pts are mounted into it while kilnctl works there and always unmounted
// again: by disconnect() (end of run, failure, and the destructor during an exception) and
// after SIGINT/SIGTERM, which cancel the child first (main.cpp). Only what this target
// mounted is unmounted: a mount someone else made inside the root is left alone.
// A "reboot" is leaving the root (unmount everything) and entering it again.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "controller/target_kinds.h"

namespace kiln::ctl {
namespace {

struct MountSpec {
  const char* source;
  const char* path;  // inside the root
  const char* type;  // nullptr: a bind mount
};

constexpr MountSpec kMounts[] = {
    {"proc", "/proc", "proc"},
    {"sysfs", "/sys", "sysfs"},
    {"/dev", "/dev", nullptr},
    {"/dev/pts", "/dev/pts", nullptr},
};

bool is_mount_point(const std::string& path) {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_point, rest;
  while (mounts >> device >> mount_point && std::getline(mounts, rest))
    if (mount_point == path) return true;
  return false;
}

class ChrootTarget final : public Target {
 public:
  ChrootTarget(std::string root, const std::atomic<bool>* cancel)
      : root_(std::move(root)), name_(std::filesystem::path(root_).filename().string()), cancel_(cancel) {
    if (name_.empty()) name_ = "root";
  }
  ~ChrootTarget() override { disconnect(); }

  const std::string& name() const override { return name_; }

  TargetStatus connect() override {
    for (const auto& spec : kMounts) {
      std::string path = root_ + spec.path;
      std::error_code ec;
      if (!std::filesystem::is_directory(path, ec) || is_mount_point(path)) continue;
      unsigned long flags = spec.type ? MS_NOSUID | MS_NODEV | MS_NOEXEC : MS_BIND;
      if (::mount(spec.source, path.c_str(), spec.type, flags, nullptr) != 0) {
        std::string error = "cannot mount " + std::string(spec.source) + " on " + path + ": " + std::strerror(errno);
        disconnect();
        return TargetStatus::fail(TargetFailure::Other, error);
      }
      mounted_.push_back(path);
    }
    return {};
  }

  CommandOutcome run(const std::string& command, const sys::OutputSink& sink) override {
    return run_shell(root_, command, sink, cancel_);
  }
  TargetStatus upload(const std::string& local_file, const std::string& remote_path) override {
    return copy_file_into(local_file, root_ + remote_path);
  }
  TargetStatus download_folder(const std::string& remote_folder, const std::string& local_folder) override {
    return copy_folder_contents(root_ + remote_folder, local_folder);
  }
  TargetStatus reboot_and_wait(std::chrono::seconds, const ProgressSink& progress) override {
    progress("leaving the root (unmounting) and entering it again");
    const std::vector<std::string> were_mounted = mounted_;
    disconnect();
    for (const auto& path : were_mounted)
      if (is_mount_point(path)) return TargetStatus::fail(TargetFailure::Other, "cannot unmount " + path);
    return connect();
  }
  TargetStatus reconnect(std::chrono::seconds, const ProgressSink&) override { return {}; }

  // Last mounted first. A mount still busy (a process left inside) is retried briefly,
  // then detached (MNT_DETACH): it disappears from the namespace at once and is freed
  // when the last user goes.
  void disconnect() override {
    while (!mounted_.empty()) {
      const std::string& path = mounted_.back();
      int attempts = 0;
      while (::umount2(path.c_str(), 0) != 0 && errno == EBUSY && ++attempts < 20)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (attempts >= 20) ::umount2(path.c_str(), MNT_DETACH);
      mounted_.pop_back();
    }
  }

 private:
  std::string root_;
  std::string name_;
  const std::atomic<bool>* cancel_;
  std::vector<std::string> mounted_;
};

}  // namespace

std::unique_ptr<Target> make_chroot_target(const std::string& root, const std::atomic<bool>* cancel) {
  return std::make_unique<ChrootTarget>(root, cancel);
}

}  // namespace kiln::ctl
