// kilnctl's chroot target on a real minimal Debian 12 root (debootstrap --variant=minbase,
// cached as a tarball under /var/cache/kiln-test/roots/ and extracted per test), with the
// built kiln installed into it by --install: a document that reboots once runs to success
// inside the root, and nothing stays mounted afterwards, also when kilnctl is interrupted
// with SIGINT or SIGTERM mid-step.
//
// kiln is linked dynamically against Debian 12 libraries; the cached root is made with
// debootstrap --include of the runtime packages that provide them (kKilnRuntime), once.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/http_servers.h"
#include "tests/support/kilnctl_process.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::TempDir;

constexpr const char* kDebootstrap = "/usr/sbin/debootstrap";
constexpr const char* kCacheFolder = "/var/cache/kiln-test/roots";
constexpr const char* kCachedRoot = "/var/cache/kiln-test/roots/bookworm-minbase+kiln-runtime.tar";
// The Debian 12 packages holding the libraries build/kiln needs (ldd, then dpkg -S).
constexpr const char* kKilnRuntime =
    "libarchive13,libboost-program-options1.74.0,libcurl4,libfmt9,libre2-9,libspdlog1.10,libssl3,libstdc++6,"
    "libyaml-cpp0.7";

bool have_debootstrap() {
  return kiln::test::have_tool(kDebootstrap);
}

// Mount points at or under `folder`, from /proc/self/mounts.
std::vector<std::string> mounts_under(const std::string& folder) {
  std::vector<std::string> found;
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_point, rest;
  while (mounts >> device >> mount_point && std::getline(mounts, rest))
    if (mount_point == folder || mount_point.rfind(folder + "/", 0) == 0) found.push_back(mount_point);
  return found;
}

// The cached root tarball, made once (under a lock, so two test processes do not both build it).
bool ensure_cached_root() {
  std::filesystem::create_directories(kCacheFolder);
  int lock = ::open((std::string(kCacheFolder) + "/.kilnctl.lock").c_str(), O_CREAT | O_RDWR, 0644);
  ::flock(lock, LOCK_EX);
  if (!std::filesystem::exists(kCachedRoot)) {
    TempDir build;
    const std::string root = build.file("root");
    int rc = kiln::test::run_quietly({kDebootstrap, "--variant=minbase", std::string("--include=") + kKilnRuntime,
                                      "bookworm", root, "http://deb.debian.org/debian"},
                                     build.file("debootstrap.log"));
    if (rc == 0)
      rc = kiln::test::run_quietly({"/bin/tar", "-C", root, "-cf", std::string(kCachedRoot) + ".tmp", "."},
                                   build.file("tar.log"));
    if (rc == 0)
      std::filesystem::rename(std::string(kCachedRoot) + ".tmp", kCachedRoot);
    else
      std::fprintf(stderr, "debootstrap failed:\n%s\n", read_file(build.file("debootstrap.log")).c_str());
  }
  ::close(lock);
  return std::filesystem::exists(kCachedRoot);
}

// The sanitizer build's kiln needs its runtime (libasan, libubsan), which the Debian root
// does not have: what ldd resolves for those is copied into the root at the same path.
void copy_sanitizer_runtime(const std::string& root) {
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

// A root extracted from the cache. Before its folder is removed, anything still mounted in
// it is detached: removing a folder with /dev bound inside would remove the host's /dev.
class ExtractedRoot {
 public:
  ExtractedRoot() {
    std::filesystem::create_directories(path());
    ok_ = kiln::test::run_quietly({"/bin/tar", "-C", path(), "-xf", kCachedRoot}, dir_.file("tar.log")) == 0;
    if (ok_) copy_sanitizer_runtime(path());
  }
  ~ExtractedRoot() {
    auto left = mounts_under(path());
    for (auto it = left.rbegin(); it != left.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    if (!mounts_under(path()).empty()) std::abort();  // never remove_all through a mount
  }
  bool ok() const { return ok_; }
  std::string path() const { return dir_.file("root"); }

 private:
  TempDir dir_;
  bool ok_ = false;
};

std::string reboot_once_document() {
  return "name: RebootOnce\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
         "      - name: Before\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - echo Before $(cat /etc/debian_version | cut -d. -f1) >> /ledger\n"
         "      - name: NeedsReboot\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - |\n"
         "              test -r /proc/self/stat || exit 9\n"
         "              if [ -f /kernel-updated ]; then echo Kernel >> /ledger; exit 0; fi\n"
         "              touch /kernel-updated\n"
         "              exit 194\n"
         "  - name: test\n    steps:\n"
         "      - name: After\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - echo After >> /ledger\n";
}

}  // namespace

TEST_CASE("kilnctl chroot: a document that reboots once runs to success inside a Debian root" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_debootstrap(), "needs debootstrap")) {
  REQUIRE(ensure_cached_root());
  ExtractedRoot root;
  REQUIRE(root.ok());
  TempDir dir;
  auto result = kiln::test::run_kilnctl(
      {"run", "--target", "chroot:" + root.path(), "--documents", dir.write("reboot.yml", reboot_once_document()),
       "--phases", "build,test", "--install", KILN_BINARY, "--logs", dir.file("logs"), "--execution-id", "c-1"},
      dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(read_file(root.path() + "/ledger") == "Before 12\nKernel\nAfter\n");
  CHECK(result.output.find("[root] leaving the root (unmounting) and entering it again") != std::string::npos);
  CHECK(std::filesystem::exists(dir.file("logs") + "/root"));
  CHECK(mounts_under(root.path()).empty());
}

TEST_CASE("kilnctl chroot: SIGINT or SIGTERM mid-step stops the agent and leaves nothing mounted" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_debootstrap(), "needs debootstrap")) {
  REQUIRE(ensure_cached_root());
  ExtractedRoot root;
  REQUIRE(root.ok());
  TempDir dir;
  const std::string document =
      dir.write("slow.yml",
                "name: Slow\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                "      - name: Slow\n        action: ExecuteBash\n        inputs:\n          commands:\n"
                "            - echo SlowStart >> /ledger\n            - sleep 60\n");
  int signal_number = SIGINT;
  SUBCASE("SIGINT") {
    signal_number = SIGINT;
  }
  SUBCASE("SIGTERM") {
    signal_number = SIGTERM;
  }
  kiln::test::KilnctlProcess kilnctl({"run", "--target", "chroot:" + root.path(), "--documents", document, "--install",
                                      KILN_BINARY, "--logs", dir.file("logs")},
                                     dir.file("out"));
  REQUIRE(kiln::test::wait_for_text(root.path() + "/ledger", "SlowStart"));
  CHECK(mounts_under(root.path()).size() >= 3);  // /proc, /sys, /dev (and /dev/pts) while inside
  const auto sent = std::chrono::steady_clock::now();
  kilnctl.signal(signal_number);
  int exit_code = kilnctl.wait(std::chrono::seconds(30));
  INFO(kilnctl.output());
  CHECK(exit_code == 128 + signal_number);
  CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(10));
  CHECK(mounts_under(root.path()).empty());
  CHECK(kilnctl.output().find("interrupted") != std::string::npos);
}
