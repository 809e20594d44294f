// The concrete targets behind make_target() (target.cpp); each lives in its own file.
#pragma once
#include "controller/target.h"

namespace kiln::ctl {

std::unique_ptr<Target> make_local_target(const std::atomic<bool>* cancel);
// `root`: an absolute folder holding a root filesystem.
std::unique_ptr<Target> make_chroot_target(const std::string& root, const std::atomic<bool>* cancel);
// `root`: an absolute folder holding a root filesystem with systemd; `reboot_mode`: the
// agent's --reboot-mode, "system" or "exit"; `boot_timeout`: how long the first boot may take.
std::unique_ptr<Target> make_nspawn_target(const std::string& root, const std::string& reboot_mode,
                                           std::chrono::seconds boot_timeout, const std::atomic<bool>* cancel);

struct SshAddress {
  std::string user;  // empty: ssh's default
  std::string host;
  int port = 0;  // 0: ssh's default
};
std::unique_ptr<Target> make_ssh_target(const SshAddress& address, const RunOptions& options,
                                        const std::atomic<bool>* cancel);

// Copies, for local and chroot targets (std::filesystem; mode bits kept).
TargetStatus copy_file_into(const std::string& from, const std::string& to);
TargetStatus copy_folder_contents(const std::string& from, const std::string& to);
// `sh -c command` as a local child (optionally through `chroot ROOT`).
CommandOutcome run_shell(const std::string& chroot_root, const std::string& command, const sys::OutputSink& sink,
                         const std::atomic<bool>* cancel);

}  // namespace kiln::ctl
