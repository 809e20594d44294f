// kilnctl's nspawn target on a real Debian 12 root with systemd (debootstrap --variant=minbase
// --include=systemd,systemd-sysv,dbus and kiln's runtime libraries, cached as a tarball under
// /var/cache/kiln-test/roots/ and extracted per test), booted with systemd-nspawn, the built
// kiln installed into it by --install.
//
// With --reboot-mode system the container really reboots twice (a Reboot step, then a step
// that exits 194): systemd-nspawn exits, kilnctl boots the root again, and kiln's resume unit
// goes on at each boot. The steps write a ledger (step name, boot id, time, whether a systemd
// unit ran them) into the root, which shows that each step ran once on the right boot. After
// the run (and after SIGINT mid-step) nothing is mounted under the root and no systemd-nspawn
// is left. The boot time and the reboot-to-resumed-step times are printed.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/debian_root.h"
#include "tests/support/http_servers.h"  // have_tool, run_quietly
#include "tests/support/kilnctl_process.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::TempDir;

constexpr const char* kNspawn = "/usr/bin/systemd-nspawn";
using kiln::test::kDebootstrap;
using kiln::test::mounts_under;
using kiln::test::nspawn_processes;

bool have_tools() {
  return kiln::test::have_tool(kDebootstrap) && kiln::test::have_tool(kNspawn);
}

// systemd as PID 1, plus kiln's runtime libraries.
std::string cached_root() {
  return kiln::test::cached_debian_root("bookworm-minbase+systemd+kiln-runtime",
                                        std::string("systemd,systemd-sysv,dbus,") + kiln::test::kKilnRuntimePackages);
}

// A fresh root from the cache. Before its folder is removed, a container kilnctl left (a
// failed test) is killed.
struct BootableRoot : kiln::test::ExtractedRoot {
  BootableRoot()
      : ExtractedRoot(cached_root(), [](const std::string& root) {
          for (int pid : nspawn_processes(root)) ::kill(pid, SIGKILL);
          for (int i = 0; i < 100 && !nspawn_processes(root).empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }) {}
};

// `echo NAME <boot id> <time> unit=<yes when a systemd unit runs kiln> >> /ledger`
std::string ledger(const std::string& name) {
  return "echo " + name +
         " $(cat /proc/sys/kernel/random/boot_id) $(date +%s.%N) unit=${INVOCATION_ID:+yes} pid1=$(cat /proc/1/comm)"
         " >> /ledger";
}

std::string reboot_twice_document() {
  return "name: RebootTwice\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
         "      - name: First\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - " + ledger("First") + "\n"
         "      - name: RebootNow\n        action: Reboot\n"
         "      - name: AfterReboot\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - " + ledger("AfterReboot") + "\n"
         "      - name: Kernel\n        action: ExecuteBash\n        inputs:\n          commands:\n"
         "            - |\n"
         "              if [ -f /kernel-updated ]; then " + ledger("Kernel") + "; exit 0; fi\n"
         "              touch /kernel-updated\n"
         "              " + ledger("KernelRequest") + "\n"
         "              exit 194\n";
}

struct LedgerLine {
  std::string step, boot_id, unit, pid1;
  double time = 0;
};

std::vector<LedgerLine> read_ledger(const std::string& path) {
  std::vector<LedgerLine> lines;
  std::istringstream text(read_file(path));
  std::string line;
  while (std::getline(text, line)) {
    std::istringstream words(line);
    LedgerLine entry;
    words >> entry.step >> entry.boot_id >> entry.time >> entry.unit >> entry.pid1;
    lines.push_back(entry);
  }
  return lines;
}

}  // namespace

TEST_CASE("kilnctl nspawn: two real reboots with --reboot-mode system, resumed by kiln's unit at each boot" *
          KILN_NEEDS_ROOT * KILN_SKIP_UNLESS(have_tools(), "needs debootstrap and systemd-nspawn (systemd-container)")) {
  BootableRoot root;
  REQUIRE(root.ok());
  TempDir dir;
  kiln::test::KilnctlProcess kilnctl(
      {"run", "--target", "nspawn:" + root.path(), "--reboot-mode", "system", "--documents",
       dir.write("reboot.yml", reboot_twice_document()), "--phases", "build", "--install", KILN_BINARY, "--logs",
       dir.file("logs"), "--execution-id", "n-1", "--reboot-timeout", "120"},
      dir.file("out"));
  const int exit_code = kilnctl.wait(std::chrono::seconds(400));
  const std::string output = kilnctl.output();
  INFO(output);
  INFO(read_file(root.path() + "/ledger"));
  CHECK(exit_code == 0);

  auto lines = read_ledger(root.path() + "/ledger");
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].step == "First");
  CHECK(lines[1].step == "AfterReboot");
  CHECK(lines[2].step == "KernelRequest");
  CHECK(lines[3].step == "Kernel");
  // Three boots, in order: First on the first, AfterReboot and the 194 on the second, the
  // step's rerun on the third.
  CHECK(lines[0].boot_id != lines[1].boot_id);
  CHECK(lines[1].boot_id == lines[2].boot_id);
  CHECK(lines[2].boot_id != lines[3].boot_id);
  CHECK(lines[0].boot_id != lines[3].boot_id);
  for (const auto& line : lines) CHECK(line.pid1 == "pid1=systemd");
  // The first step ran from kilnctl (nsenter); the others from kiln's resume unit.
  CHECK(lines[0].unit == "unit=");
  CHECK(lines[1].unit == "unit=yes");
  CHECK(lines[3].unit == "unit=yes");

  // The resume unit is gone (and its enabling symlink).
  std::error_code ec;
  for (const char* folder : {"/etc/systemd/system", "/etc/systemd/system/multi-user.target.wants"})
    for (const auto& entry : std::filesystem::directory_iterator(root.path() + folder, ec))
      CHECK(entry.path().filename().string().rfind("kiln-resume-", 0) != 0);

  CHECK(output.find("2 reboots") != std::string::npos);
  CHECK(std::filesystem::exists(dir.file("logs") + "/root"));
  CHECK(mounts_under(root.path()).empty());
  CHECK(nspawn_processes(root.path()).empty());

  std::smatch boot;
  const std::string text = output;
  if (std::regex_search(text, boot, std::regex("container booted \\(systemd: (\\w+)\\) in ([0-9.]+) s")))
    MESSAGE("boot of the cached root to '" << boot[1] << "': " << boot[2] << " s");
  MESSAGE("Reboot step to the next step (AfterReboot): " << lines[1].time - lines[0].time << " s");
  MESSAGE("exit 194 to the step's rerun: " << lines[3].time - lines[2].time << " s");
}

TEST_CASE("kilnctl nspawn: --reboot-mode exit: kilnctl reboots the container and runs kiln again" *
          KILN_NEEDS_ROOT * KILN_SKIP_UNLESS(have_tools(), "needs debootstrap and systemd-nspawn (systemd-container)")) {
  BootableRoot root;
  REQUIRE(root.ok());
  TempDir dir;
  kiln::test::KilnctlProcess kilnctl(
      {"run", "--target", "nspawn:" + root.path(), "--reboot-mode", "exit", "--documents",
       dir.write("reboot.yml", reboot_twice_document()), "--phases", "build", "--install", KILN_BINARY, "--logs",
       dir.file("logs"), "--reboot-timeout", "120"},
      dir.file("out"));
  const int exit_code = kilnctl.wait(std::chrono::seconds(400));
  INFO(kilnctl.output());
  INFO(read_file(root.path() + "/ledger"));
  CHECK(exit_code == 0);
  auto lines = read_ledger(root.path() + "/ledger");
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].boot_id != lines[1].boot_id);
  CHECK(lines[1].boot_id == lines[2].boot_id);
  CHECK(lines[2].boot_id != lines[3].boot_id);
  for (const auto& line : lines) CHECK(line.unit == "unit=");  // every run came from kilnctl
  CHECK(kilnctl.output().find("rebooting the container (systemctl reboot)") != std::string::npos);
  CHECK(mounts_under(root.path()).empty());
  CHECK(nspawn_processes(root.path()).empty());
}

TEST_CASE("kilnctl nspawn: a step failing after the reboot fails the phase and names the step" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_tools(), "needs debootstrap and systemd-nspawn (systemd-container)")) {
  BootableRoot root;
  REQUIRE(root.ok());
  TempDir dir;
  const std::string document = dir.write(
      "fail.yml",
      "name: FailAfter\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
      "      - name: RebootNow\n        action: Reboot\n"
      "      - name: Broken\n        action: ExecuteBash\n        inputs:\n          commands:\n"
      "            - exit 3\n"
      "  - name: test\n    steps:\n"
      "      - name: Never\n        action: ExecuteBash\n        inputs:\n          commands:\n"
      "            - touch /never\n");
  kiln::test::KilnctlProcess kilnctl({"run", "--target", "nspawn:" + root.path(), "--documents", document, "--phases",
                                      "build,test", "--install", KILN_BINARY, "--logs", dir.file("logs")},
                                     dir.file("out"));
  const int exit_code = kilnctl.wait(std::chrono::seconds(300));
  const std::string output = kilnctl.output();
  INFO(output);
  CHECK(exit_code == 1);
  CHECK(output.find("phase build ended 'failed' after a reboot") != std::string::npos);
  CHECK(output.find("build.Broken") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(root.path() + "/never"));
  CHECK(nspawn_processes(root.path()).empty());
  CHECK(mounts_under(root.path()).empty());
}

TEST_CASE("kilnctl nspawn: SIGINT or SIGTERM mid-step exits 130/143 and leaves nothing mounted or running" *
          KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_tools(), "needs debootstrap and systemd-nspawn (systemd-container)")) {
  BootableRoot root;
  REQUIRE(root.ok());
  TempDir dir;
  const std::string document =
      dir.write("slow.yml",
                "name: Slow\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                "      - name: Slow\n        action: ExecuteBash\n        inputs:\n          commands:\n"
                "            - echo SlowStart >> /ledger\n            - sleep 120\n");
  int signal_number = SIGINT;
  SUBCASE("SIGINT") {
    signal_number = SIGINT;
  }
  SUBCASE("SIGTERM") {
    signal_number = SIGTERM;
  }
  kiln::test::KilnctlProcess kilnctl({"run", "--target", "nspawn:" + root.path(), "--documents", document, "--phases",
                                      "build", "--install", KILN_BINARY, "--logs", dir.file("logs")},
                                     dir.file("out"));
  REQUIRE(kiln::test::wait_for_text(root.path() + "/ledger", "SlowStart", std::chrono::seconds(120)));
  CHECK(nspawn_processes(root.path()).size() >= 1);
  const auto sent = std::chrono::steady_clock::now();
  kilnctl.signal(signal_number);
  int exit_code = kilnctl.wait(std::chrono::seconds(60));
  INFO(kilnctl.output());
  CHECK(exit_code == 128 + signal_number);
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  MESSAGE("signal " << signal_number << " to exit (container powered off): " << took << " s");
  CHECK(took < 10);
  CHECK(mounts_under(root.path()).empty());
  CHECK(nspawn_processes(root.path()).empty());
  CHECK(kilnctl.output().find("interrupted") != std::string::npos);
}

TEST_CASE("kilnctl nspawn: usage errors for --reboot-mode and the root") {
  TempDir dir;
  const std::string document = dir.write("a.yml", "x");
  auto bad_mode = kiln::test::run_kilnctl(
      {"run", "--target", "nspawn:/", "--reboot-mode", "later", "-d", document}, dir.file("o1"));
  CHECK(bad_mode.exit_code == 2);
  CHECK(bad_mode.output.find("--reboot-mode: 'later' is not system or exit") != std::string::npos);
  auto system_on_chroot = kiln::test::run_kilnctl(
      {"run", "--target", "chroot:" + dir.file(""), "--reboot-mode", "system", "-d", document}, dir.file("o2"));
  CHECK(system_on_chroot.exit_code == 2);
  CHECK(system_on_chroot.output.find("--reboot-mode system needs an nspawn target") != std::string::npos);
  auto relative = kiln::test::run_kilnctl({"run", "--target", "nspawn:relative/root", "-d", document}, dir.file("o3"));
  CHECK(relative.exit_code == 2);
  CHECK(relative.output.find("nspawn target: 'relative/root' is not an absolute path to a folder") !=
        std::string::npos);
}
