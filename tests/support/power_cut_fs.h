// A power_cut_fs (tests/tools/power_cut_fs: a FUSE filesystem that forgets what was not
// made durable) mounted on a scratch folder for one test, and small POSIX helpers to look
// at it. RAII: the destructor unmounts, so nothing stays mounted when a check fails.
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/skip.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace kiln::test {

inline bool fuse_available() {
  return ::geteuid() == 0 && ::access("/dev/fuse", R_OK | W_OK) == 0;
}

inline bool listed_in_mounts(const std::string& mountpoint) {
  std::ifstream in("/proc/self/mounts");
  std::string source, target, type, rest;
  while (in >> source >> target >> type && std::getline(in, rest))
    if (target == mountpoint && type == "fuse.power_cut_fs") return true;
  return false;
}

// The content of `path`, or nothing when it cannot be opened (errno says why).
inline std::optional<std::string> slurp(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
  int saved = errno;
  ::close(fd);
  if (n < 0) {
    errno = saved;
    return std::nullopt;
  }
  return out;
}

// Writes `content` with open(flags) + write + close, no fsync; 0 or the errno.
inline int put(const std::string& path, const std::string& content, int flags = O_WRONLY | O_CREAT | O_TRUNC) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int result = 0;
  if (!content.empty() && ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
    result = errno;
  ::close(fd);
  return result;
}

// fsync (or fdatasync) of a file or folder; 0 or the errno.
inline int sync_path(const std::string& path, bool datasync = false) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int result = (datasync ? ::fdatasync(fd) : ::fsync(fd)) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

// A power_cut_fs mounted on <scratch>/mnt over <scratch>/backing for one test case.
class PowerCutFs {
 public:
  explicit PowerCutFs(bool trace = false)
      : backing_(dir_.file("backing")), mountpoint_(dir_.file("mnt")), trace_(trace ? dir_.file("trace") : "") {
    std::filesystem::create_directory(backing_);
    std::filesystem::create_directory(mountpoint_);
    mount();
  }
  ~PowerCutFs() { unmount(); }
  PowerCutFs(const PowerCutFs&) = delete;
  PowerCutFs& operator=(const PowerCutFs&) = delete;

  std::string path(const std::string& name) const { return mountpoint_ + "/" + name; }
  const std::string& mountpoint() const { return mountpoint_; }
  std::string backing(const std::string& name) const { return backing_ + "/" + name; }
  const std::string& trace_file() const { return trace_; }
  std::string log() const { return kiln::test::read_file(dir_.file("fs.log")); }

  void mount() {
    std::vector<std::string> args{POWER_CUT_FS_BINARY, backing_, mountpoint_};
    if (!trace_.empty()) {
      args.push_back("--trace");
      args.push_back(trace_);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = dir_.file("fs.log");
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    if (::posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&files);
    REQUIRE(pid_ > 0);
    for (int i = 0; i < 500 && !listed_in_mounts(mountpoint_); ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("power_cut_fs exited before mounting: " << log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!listed_in_mounts(mountpoint_)) {
      unmount();  // the process ends here: a constructor that throws has no destructor
      FAIL("not mounted: " << this->log());
    }
  }

  // Unmounts (the filesystem writes everything to BACKING on a clean unmount) and waits
  // for the process to end; its exit code (-1: killed or not running).
  int unmount() {
    for (int i = 0; i < 200 && listed_in_mounts(mountpoint_); ++i) {
      if (::umount2(mountpoint_.c_str(), 0) == 0 || errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (listed_in_mounts(mountpoint_)) ::umount2(mountpoint_.c_str(), MNT_DETACH);
    return wait_exit();
  }

  // SIGTERM: the filesystem unmounts itself (cleanly); its exit code, as for unmount().
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int code = wait_exit();
    if (listed_in_mounts(mountpoint_)) ::umount2(mountpoint_.c_str(), MNT_DETACH);
    return code;
  }

  // Waits up to 5 s for the process to end (then kills it); its exit code or -1.
  int wait_exit() {
    if (pid_ <= 0) return -1;
    int status = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }

  // Writes a command to the control file; 0 or the errno of the write.
  int command(const std::string& line) { return put(path(".power_cut_fs"), line + "\n", O_WRONLY); }
  void cut() { REQUIRE(command("cut") == 0); }
  void power_on() { REQUIRE(command("power-on") == 0); }
  void cut_and_power_on() {
    cut();
    power_on();
  }
  std::string status() { return slurp(path(".power_cut_fs")).value_or("<unreadable>"); }

 private:
  TempDir dir_;
  std::string backing_, mountpoint_, trace_;
  pid_t pid_ = -1;
};

}  // namespace kiln::test

#define KILN_NEEDS_FUSE KILN_SKIP_UNLESS(::kiln::test::fuse_available(), "needs root and /dev/fuse")
