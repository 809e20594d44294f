// A private OpenSSH server on 127.0.0.1 for kilnctl's tests (toolchain-notes §4): host and
// client ed25519 keys generated into a scratch folder, public-key login as root only, an
// sftp subsystem (OpenSSH 9.2's scp speaks SFTP), the system sshd untouched. Also:
//  - kill_connections(): SIGKILL the per-connection sshd processes (children of the
//    listener): every open connection drops, as when a cable is pulled;
//  - reboot_script(): writes a stand-in reboot command that, detached, drops every
//    connection, stops sshd and starts it again on the same port a moment later (or never).
// The destructor stops whichever sshd is listening (the first, or the one the stand-in
// reboot started) and its connections.
#pragma once
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_servers.h"
#include "tests/support/server_process.h"
#include "tests/support/test_support.h"

namespace kiln::test {

inline constexpr const char* kSshd = "/usr/sbin/sshd";
inline constexpr const char* kSsh = "/usr/bin/ssh";

// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

inline bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// Children of `parent` (from /proc/*/stat).
inline std::vector<pid_t> child_processes(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent)
      children.push_back(std::stoi(name));
  }
  return children;
}

class SshdServer {
 public:
  SshdServer() : port_(free_loopback_port()) {
    keygen(scratch_.file("host_ed25519"));
    keygen(client_key());
    keygen(wrong_key());
    std::filesystem::copy_file(client_key() + ".pub", scratch_.file("authorized_keys"));
    scratch_.write("sshd_config", "Port " + std::to_string(port_) +
                                      "\nListenAddress 127.0.0.1\n"
                                      "HostKey " +
                                      scratch_.file("host_ed25519") + "\nPidFile " + pid_file() +
                                      "\nAuthorizedKeysFile " + scratch_.file("authorized_keys") +
                                      "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                                      "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
                                      "UsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\n");
    std::filesystem::create_directories("/run/sshd");  // privilege separation folder
    server_.start({kSshd, "-D", "-f", config(), "-E", log()}, scratch_.file("sshd.stdout"));
    wait_until_listening();
  }
  ~SshdServer() {
    for (int round = 0; round < 2; ++round) {  // the first sshd, then one a stand-in reboot started
      pid_t listener = listener_pid();
      if (listener <= 0) break;
      for (pid_t child : child_processes(listener)) ::kill(child, SIGKILL);
      ::kill(listener, SIGTERM);
      for (int i = 0; i < 50 && ::kill(listener, 0) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::filesystem::remove(pid_file());
    }
    server_.stop();
  }
  SshdServer(const SshdServer&) = delete;
  SshdServer& operator=(const SshdServer&) = delete;

  int port() const { return port_; }
  std::string target() const { return "ssh://root@127.0.0.1:" + std::to_string(port_); }
  std::string client_key() const { return scratch_.file("client_ed25519"); }
  std::string wrong_key() const { return scratch_.file("wrong_ed25519"); }
  std::string config() const { return scratch_.file("sshd_config"); }
  std::string log() const { return scratch_.file("sshd.log"); }
  std::string pid_file() const { return scratch_.file("sshd.pid"); }
  // The kilnctl flags that log in to this server (the host key is new each run).
  std::vector<std::string> client_flags() const {
    return {"--identity",   client_key(),
            "--ssh-option", "StrictHostKeyChecking=no",
            "--ssh-option", "UserKnownHostsFile=/dev/null"};
  }

  // Lets the key `public_key_file` (.pub) log in as well (tests that drive several servers
  // with one --identity).
  void authorize(const std::string& public_key_file) const {
    std::ofstream(scratch_.file("authorized_keys"), std::ios::app) << read_file(public_key_file);
  }

  pid_t listener_pid() const {
    std::ifstream in(pid_file());
    pid_t pid = 0;
    in >> pid;
    return pid > 0 && ::kill(pid, 0) == 0 ? pid : 0;
  }

  void wait_until_listening() const {
    for (int i = 0; i < 250 && !(port_accepts(port_) && listener_pid() > 0); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  // Drops every open connection (the listener stays).
  int kill_connections() const {
    pid_t listener = listener_pid();
    if (listener <= 0) return 0;
    auto children = child_processes(listener);
    for (pid_t child : children) ::kill(child, SIGKILL);
    return static_cast<int>(children.size());
  }

  // A stand-in for `shutdown -r now`: returns at once (as the real one does), then, detached,
  // kills every connection with all it started (an agent still running dies as in a reboot),
  // stops sshd and starts it again after `down_seconds` (< 0: never: a machine that does not
  // come back). The detached shell is no longer below sshd by then: its parent has exited.
  // With `boot_id_file`, a stand-in for /proc/sys/kernel/random/boot_id: written now when
  // missing, and rewritten with a new value just before sshd starts again (what Ansible's
  // reboot module reads through boot_time_command to see that the machine rebooted).
  std::string reboot_script(const std::string& marker, double down_seconds = 1.0,
                            const std::string& boot_id_file = "") const {
    std::string path = scratch_.file("reboot.sh");
    std::string restart;
    if (!boot_id_file.empty() && !std::filesystem::exists(boot_id_file))
      std::ofstream(boot_id_file) << "boot-first\n";
    if (down_seconds >= 0)
      restart = "  sleep " + std::to_string(down_seconds) + "\n" +
                (boot_id_file.empty() ? "" : "  echo boot-$(date +%s%N) > " + boot_id_file + "\n") + "  " + kSshd +
                " -f " + config() + " -E " + log() + "\n";
    std::string body = "#!/bin/sh\necho reboot >> '" + marker + "'\nsetsid sh -c '\n  sleep 0.3\n  pid=$(cat " +
                       pid_file() +
                       ")\n"
                       "  tree() { for c in $(pgrep -P $1); do tree $c; done; kill -9 $1; }\n"
                       "  for c in $(pgrep -P $pid); do tree $c; done\n  kill $pid\n" +
                       restart + "' </dev/null >/dev/null 2>&1 &\nexit 0\n";
    scratch_.write("reboot.sh", body);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

 private:
  void keygen(const std::string& path) {
    run_quietly({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path}, scratch_.file("keygen.log"));
  }

  TempDir scratch_;
  int port_;
  ServerProcess server_;
};

}  // namespace kiln::test
