// kilnctl's chroot target on a real minimal Debian 12 root (debootstrap --variant=minbase,
// cached as a tarball under /var/cache/kiln-test/roots/ and extracted per test), with the
// built kiln installed into it by --install: a document that reboots once runs to success
// inside the root, and nothing stays mounted afterwards, also when kilnctl is interrupted
// with SIGINT or SIGTERM mid-step.
//
// kiln is linked dynamically against Debian 12 libraries; the cached root is made with
// debootstrap --include of the runtime packages that provide them (kiln::test::kKilnRuntimePackages), once.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/debian_root.h"
#include "tests/support/http_servers.h"
#include "tests/support/kilnctl_process.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::TempDir;

using kiln::test::ExtractedRoot;
using kiln::test::kDebootstrap;
using kiln::test::mounts_under;

// bookworm minbase with kiln's runtime libraries.
std::string cached_root() {
  return kiln::test::cached_debian_root("bookworm-minbase+kiln-runtime", kiln::test::kKilnRuntimePackages);
}

bool have_debootstrap() {
  return kiln::test::have_tool(kDebootstrap);
}

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
  ExtractedRoot root(cached_root());
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
  ExtractedRoot root(cached_root());
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
