// Regression tests for the defects found when the run model was made typed (issue 10),
// through the real kiln binary where the defect is visible there:
//   A. --strict and the CLI's reading of remote paths reach ExecuteDocument children;
//   C. an execution never runs without its lock;
//   E. the status hint beside the journal is written durably (fsync before rename,
//      fsync of the folder after), checked with strace: the oracle is the system calls.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::describe;
using kiln::e2e::failure_of;
using kiln::e2e::run_yaml;
using kiln::test::TempDir;

namespace {

std::string parent_calling(const std::string& child) {
  return "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Call\n"
         "        action: ExecuteDocument\n        inputs:\n          document: " + child + "\n";
}

}  // namespace

TEST_CASE("defect A: --strict reaches an ExecuteDocument child that uses a kiln extension") {
  TempDir dir;
  std::string marker = dir.file("child-ran");
  dir.write("child.yml", "schemaVersion: 1.0\nparameters:\n  - Token:\n      type: string\n      default: x\n"
                         "      secret: true\nphases:\n  - name: build\n    steps:\n      - name: Touch\n"
                         "        action: ExecuteBash\n        inputs:\n          commands: [\"touch " + marker + "\"]\n");
  // Run directly with --strict, the child is refused (exit 3): the reference behaviour.
  auto direct = kiln::test::run_kiln({"run", "--strict", "--documents", dir.file("child.yml"), "--log-directory",
                                      dir.file("direct-logs")});
  CHECK_MESSAGE(direct.exit_code == 3, direct.err);
  CHECK_FALSE(std::filesystem::exists(marker));
  // Through a parent run with --strict, the child is refused the same way.
  auto run = run_yaml(dir, parent_calling("child.yml"), {"--strict"}, "parent.yml");
  CHECK_MESSAGE(run.exit_code() == 1, describe(run));
  CHECK(failure_of(run, "Call").find("secret") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(marker));
  // Without --strict the child runs.
  auto lenient = run_yaml(dir, parent_calling("child.yml"), {}, "parent.yml", "lenient-logs");
  CHECK_MESSAGE(lenient.exit_code() == 0, describe(lenient));
  CHECK(std::filesystem::exists(marker));
}

TEST_CASE("defect A: an unreachable remote or a folder ExecuteDocument child is refused as the CLI refuses it") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("folder.yml"));
  // Port 9 (discard) on loopback: nothing listens, so the fetch fails at once and the
  // child is refused with what went wrong.
  auto remote = run_yaml(dir, parent_calling("http://127.0.0.1:9/child.yml"));
  CHECK_MESSAGE(remote.exit_code() == 1, describe(remote));
  CHECK(failure_of(remote, "Call").find("127.0.0.1:9/child.yml") != std::string::npos);
  auto folder = run_yaml(dir, parent_calling("folder.yml"), {}, "parent.yml", "folder-logs");
  CHECK_MESSAGE(folder.exit_code() == 1, describe(folder));
  CHECK(failure_of(folder, "Call").find("is a folder") != std::string::npos);
}

TEST_CASE("defect C: an execution whose lock cannot be opened does not run") {
  TempDir dir;
  std::string marker = dir.file("ran");
  std::string state = dir.file("state");
  ::mkdir(state.c_str(), 0700);
  ::mkdir((state + "/locked-out").c_str(), 0700);
  // A folder where the lock file should be: open(O_RDWR) fails with EISDIR.
  ::mkdir((state + "/locked-out/lock").c_str(), 0700);
  auto run = run_yaml(dir,
                      "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Touch\n"
                      "        action: ExecuteBash\n        inputs:\n          commands: [\"touch " + marker + "\"]\n",
                      {"--state-directory", state, "--execution-id", "locked-out"});
  CHECK_MESSAGE(run.exit_code() == 1, describe(run));
  CHECK(run.result.err.find("lock") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("defect E: the execution's status hint is fsynced before its rename, and its folder after") {
  if (std::system("command -v strace >/dev/null 2>&1") != 0) {
    // CI installs strace (scripts/setup.sh), so there the test must run.
    if (std::getenv("CI")) FAIL("strace is missing in CI");
    MESSAGE("SKIPPED: strace is not installed (scripts/setup.sh installs it)");
    return;
  }
  TempDir dir;
  std::string document = dir.write("doc.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                                              "      - name: Say\n        action: ExecuteBash\n        inputs:\n"
                                              "          commands: [\"echo hi\"]\n");
  std::string trace = dir.file("trace");
  std::string state = dir.file("state");
  // LeakSanitizer cannot run under ptrace: an ASan build's kiln skips only that.
  std::string command = "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -qq -o " + trace +
                        " -e trace=openat,fsync,fdatasync,rename,renameat,renameat2 " KILN_BINARY
                        " run --documents " + document + " --log-directory " + dir.file("logs") +
                        " --state-directory " + state + " --execution-id durable >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  std::istringstream lines(kiln::test::read_file(trace));
  // For each rename of a temporary file onto `status`: the temp file's descriptor was
  // fsynced after it was opened, and the execution folder was opened and fsynced after
  // the rename.
  std::regex open_temp(R"re(openat\(.*"([^"]*/\.?status[.][^"/]*)".*O_CREAT.*= (\d+)$)re");
  std::regex open_folder(R"re(openat\(.*"([^"]*/durable)", O_RDONLY.*O_DIRECTORY.*= (\d+)$)re");
  std::regex fsync_fd(R"re(fsync\((\d+)\)\s+= 0)re");
  std::regex rename_status(R"re(rename.*/\.?status[.][^"/]*", .*/status")re");
  std::string temp_fd, folder_fd;
  bool temp_synced = false;
  int renames = 0, durable_renames = 0, folder_syncs_after_rename = 0;
  bool renamed_pending = false;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, open_temp)) {
      temp_fd = m[2];
      temp_synced = false;
    } else if (std::regex_search(line, m, open_folder)) {
      folder_fd = m[2];
    } else if (std::regex_search(line, m, fsync_fd)) {
      if (m[1] == temp_fd) temp_synced = true;
      if (m[1] == folder_fd && renamed_pending) {
        ++folder_syncs_after_rename;
        renamed_pending = false;
      }
    } else if (std::regex_search(line, rename_status)) {
      ++renames;
      durable_renames += temp_synced;
      renamed_pending = true;
    }
  }
  CHECK(renames >= 2);  // running, then finished
  CHECK(durable_renames == renames);
  CHECK(folder_syncs_after_rename == renames);
  CHECK(kiln::test::read_file(state + "/durable/status").find("finished") != std::string::npos);
}

TEST_CASE("defect A after a reboot: `kiln resume` keeps --strict for a child read after the reboot") {
  TempDir dir;
  std::string marker = dir.file("child-ran");
  dir.write("child.yml", "schemaVersion: 1.0\nparameters:\n  - Token:\n      type: string\n      default: x\n"
                         "      secret: true\nphases:\n  - name: build\n    steps:\n      - name: Touch\n"
                         "        action: ExecuteBash\n        inputs:\n          commands: [\"touch " + marker + "\"]\n");
  std::string parent = dir.write("parent.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                                               "      - name: R\n        action: Reboot\n"
                                               "      - name: Call\n        action: ExecuteDocument\n"
                                               "        inputs:\n          document: child.yml\n");
  std::string state = dir.file("state");
  std::vector<std::string> env = {"KILN_SYSTEMD_UNIT_DIR=" + dir.file("systemd"), "KILN_CRON_DIR=" + dir.file("cron.d")};
  auto first = kiln::test::run_kiln({"run", "--strict", "-d", parent, "-l", dir.file("logs"), "-s", state, "-i", "strict",
                                     "--reboot-mode", "system", "--resume-trigger", "cron", "--reboot-command", "true"},
                                    "", env);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 194);
  auto resumed = kiln::test::run_kiln({"resume", "--state-directory", state}, "", env);
  INFO(resumed.out << resumed.err);
  CHECK(resumed.exit_code == 1);  // the child is refused under --strict, as before the reboot
  CHECK_FALSE(std::filesystem::exists(marker));
}
