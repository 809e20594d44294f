// Debian 12 root filesystems for kilnctl's chroot: and nspawn: tests: made once with
// debootstrap (minbase plus the packages a test names), cached as a tarball under
// /var/cache/kiln-test/roots/ (CI keeps that folder between runs), and extracted afresh for
// each test. The built kiln runs inside through --install, so the root holds the Debian 12
// packages of the libraries it links (kKilnRuntimePackages).
#pragma once
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/http_servers.h"  // run_quietly
#include "tests/support/test_support.h"

namespace kiln::test {

inline constexpr const char* kDebootstrap = "/usr/sbin/debootstrap";
inline constexpr const char* kRootCache = "/var/cache/kiln-test/roots";
// The Debian 12 packages holding the libraries build/kiln needs (ldd, then dpkg -S).
inline constexpr const char* kKilnRuntimePackages =
    "libarchive13,libboost-program-options1.74.0,libcurl4,libfmt9,libre2-9,libspdlog1.10,libssl3,libstdc++6,"
    "libyaml-cpp0.7";

// Mount points at or under `folder`, from /proc/self/mounts.
inline std::vector<std::string> mounts_under(const std::string& folder) {
  std::vector<std::string> found;
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_point, rest;
  while (mounts >> device >> mount_point && std::getline(mounts, rest))
    if (mount_point == folder || mount_point.rfind(folder + "/", 0) == 0) found.push_back(mount_point);
  return found;
}

// Processes whose command line names systemd-nspawn and `root`.
inline std::vector<int> nspawn_processes(const std::string& root) {
  std::vector<int> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string command_line = read_file(entry.path().string() + "/cmdline");
    for (auto& c : command_line)
      if (c == '\0') c = ' ';
    if (command_line.find("systemd-nspawn") != std::string::npos && command_line.find(root) != std::string::npos)
      found.push_back(std::stoi(name));
  }
  return found;
}

// The tarball kRootCache/<name>.tar of a bookworm minbase root with `packages` included,
// made the first time (under a lock, so two test processes do not both build it). Its path,
// or "" when debootstrap failed (its log is printed).
inline std::string cached_debian_root(const std::string& name, const std::string& packages) {
  const std::string tarball = std::string(kRootCache) + "/" + name + ".tar";
  std::filesystem::create_directories(kRootCache);
  int lock = ::open((std::string(kRootCache) + "/.kilnctl.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ::flock(lock, LOCK_EX);
  if (!std::filesystem::exists(tarball)) {
    TempDir build;
    const std::string root = build.file("root");
    int rc = run_quietly({kDebootstrap, "--variant=minbase", "--include=" + packages, "bookworm", root,
                          "http://deb.debian.org/debian"},
                         build.file("debootstrap.log"));
    if (rc == 0) rc = run_quietly({"/bin/tar", "-C", root, "-cf", tarball + ".tmp", "."}, build.file("tar.log"));
    if (rc == 0)
      std::filesystem::rename(tarball + ".tmp", tarball);
    else
      std::fprintf(stderr, "debootstrap failed:\n%s\n", read_file(build.file("debootstrap.log")).c_str());
  }
  ::close(lock);
  return std::filesystem::exists(tarball) ? tarball : "";
}

// The sanitizer build's kiln needs its runtime (libasan, libubsan), which the Debian root
// does not have: what ldd resolves for those is copied into the root at the same path.
inline void copy_sanitizer_runtime(const std::string& root) {
  FILE* pipe = ::popen(("/usr/bin/ldd '" + std::string(KILN_BINARY) + "'").c_str(), "r");
  if (!pipe) return;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe)) {
    std::string text(line);
    size_t arrow = text.find("=> /");
    if (text.find("san.so") == std::string::npos || arrow == std::string::npos) continue;
    std::string library = text.substr(arrow + 3, text.find(' ', arrow + 3) - arrow - 3);
    std::filesystem::path target = root + library;
    std::filesystem::create_directories(target.parent_path());
    std::filesystem::copy_file(library, target, std::filesystem::copy_options::overwrite_existing);
  }
  ::pclose(pipe);
}

// A root extracted from a cached tarball into a scratch folder. Before the folder is
// removed, `before_removal` runs (a test stops what it left running there) and anything
// still mounted in it is detached: removing a folder with /dev bound inside would remove
// the host's /dev.
class ExtractedRoot {
 public:
  explicit ExtractedRoot(const std::string& tarball, std::function<void(const std::string&)> before_removal = {})
      : before_removal_(std::move(before_removal)) {
    std::filesystem::create_directories(path());
    ok_ = !tarball.empty() && run_quietly({"/bin/tar", "-C", path(), "-xf", tarball}, dir_.file("tar.log")) == 0;
    if (ok_) copy_sanitizer_runtime(path());
  }
  ~ExtractedRoot() {
    if (before_removal_) before_removal_(path());
    auto left = mounts_under(path());
    for (auto it = left.rbegin(); it != left.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    if (!mounts_under(path()).empty()) std::abort();  // never remove_all through a mount
  }
  ExtractedRoot(const ExtractedRoot&) = delete;
  ExtractedRoot& operator=(const ExtractedRoot&) = delete;
  bool ok() const { return ok_; }
  std::string path() const { return dir_.file("root"); }

 private:
  TempDir dir_;
  std::function<void(const std::string&)> before_removal_;
  bool ok_ = false;
};

}  // namespace kiln::test
