#include "controller/target.h"

#include <filesystem>

#include "controller/target_kinds.h"

namespace kiln::ctl {

namespace {

bool parse_ssh(std::string_view rest, SshAddress& address, std::string& error) {
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    address.user = std::string(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    std::string port(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      error = "ssh target: '" + port + "' is not a port";
      return false;
    }
    address.port = std::stoi(port);
  }
  address.host = std::string(rest);
  if (address.host.empty() || address.host.find('/') != std::string::npos) {
    error = "ssh target: no host (ssh://user@host[:port])";
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Target> make_target(const std::string& spec, const RunOptions& options, const std::atomic<bool>* cancel,
                                    std::string& error) {
  const bool nspawn = spec.rfind("nspawn:", 0) == 0;
  if (options.reboot_mode == "system" && !nspawn) {
    error = "--reboot-mode system needs an nspawn target (the others reboot through kilnctl)";
    return nullptr;
  }
  if (spec == "local") return make_local_target(cancel);
  if (spec.rfind("chroot:", 0) == 0 || nspawn) {
    const std::string kind = nspawn ? "nspawn" : "chroot";
    std::string root = spec.substr(kind.size() + 1);
    std::error_code ec;
    if (root.empty() || root[0] != '/' || !std::filesystem::is_directory(root, ec)) {
      error = kind + " target: '" + root + "' is not an absolute path to a folder";
      return nullptr;
    }
    // As /proc/self/mounts spells it (symlinks resolved), so mounts are recognised there.
    root = std::filesystem::canonical(root, ec).string();
    if (ec || root == "/") {
      error = kind + " target: '" + spec.substr(kind.size() + 1) + "' cannot be used as a root";
      return nullptr;
    }
    if (nspawn)
      return make_nspawn_target(root, options.reboot_mode.empty() ? "system" : options.reboot_mode,
                                std::chrono::seconds(options.reboot_timeout_seconds), cancel);
    return make_chroot_target(root, cancel);
  }
  if (spec.rfind("ssh://", 0) == 0) {
    SshAddress address;
    if (!parse_ssh(std::string_view(spec).substr(6), address, error)) return nullptr;
    return make_ssh_target(address, options, cancel);
  }
  error = "unknown target '" + spec + "': use local, chroot:/path/to/root, nspawn:/path/to/root or ssh://user@host[:port]";
  return nullptr;
}

}  // namespace kiln::ctl
