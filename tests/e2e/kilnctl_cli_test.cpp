// kilnctl's command line: help in the shape help2man reads (Usage line, option lines,
// "Exit status:"), every option of the table in `run --help`, usage errors exit 2, and the
// local target end to end (a failing step named in the summary, logs copied back).
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/support/kilnctl_process.h"
#include "tests/support/test_support.h"

using kiln::test::read_file;
using kiln::test::TempDir;

TEST_CASE("kilnctl cli: --help and run --help, usage errors exit 2") {
  TempDir dir;
  auto overview = kiln::test::run_kilnctl({"--help"}, dir.file("o1"));
  CHECK(overview.exit_code == 0);
  CHECK(overview.output.rfind("Usage: kilnctl run --target TARGET --documents LIST [OPTIONS]\n", 0) == 0);
  CHECK(overview.output.find("\nExit status:\n") != std::string::npos);
  auto run_help = kiln::test::run_kilnctl({"run", "--help"}, dir.file("o2"));
  CHECK(run_help.exit_code == 0);
  for (const char* line : {"      --target TARGET", "  -d, --documents LIST", "  -p, --phases LIST",
                           "      --parameters N=V,...", "  -i, --execution-id ID", "      --install PATH",
                           "  -l, --logs DIR", "      --reboot-command CMD", "      --reboot-timeout SECONDS",
                           "      --identity KEY", "      --ssh-option OPT", "  12   no kiln agent on the target"})
    CHECK_MESSAGE(run_help.output.find(std::string("\n") + line) != std::string::npos, line);
  for (size_t start = 0, end; (end = run_help.output.find('\n', start)) != std::string::npos; start = end + 1)
    CHECK(end - start <= 79);

  auto unknown = kiln::test::run_kilnctl({"run", "--target", "local", "--bogus"}, dir.file("o3"));
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.output.find("kilnctl: unknown option '--bogus'") != std::string::npos);
  auto no_documents = kiln::test::run_kilnctl({"run", "--target", "local"}, dir.file("o4"));
  CHECK(no_documents.exit_code == 2);
  auto bad_target =
      kiln::test::run_kilnctl({"run", "--target", "ftp://x", "-d", dir.write("a.yml", "x")}, dir.file("o5"));
  CHECK(bad_target.exit_code == 2);
  CHECK(bad_target.output.find("unknown target 'ftp://x'") != std::string::npos);
  auto bad_port =
      kiln::test::run_kilnctl({"run", "--target", "ssh://root@host:99999", "-d", dir.file("a.yml")}, dir.file("o7"));
  CHECK(bad_port.exit_code == 2);
  CHECK(bad_port.output.find("ssh target: '99999' is not a port") != std::string::npos);
  auto no_root =
      kiln::test::run_kilnctl({"run", "--target", "chroot:relative/root", "-d", dir.file("a.yml")}, dir.file("o8"));
  CHECK(no_root.exit_code == 2);
  CHECK(no_root.output.find("chroot target: 'relative/root' is not an absolute path to a folder") != std::string::npos);
  auto bad_timeout = kiln::test::run_kilnctl({"run", "--reboot-timeout", "soon"}, dir.file("o6"));
  CHECK(bad_timeout.exit_code == 2);
}

TEST_CASE("kilnctl cli: the local target runs phases in order and names the failing step") {
  TempDir dir;
  const std::string document = dir.write(
      "fails.yml",
      "name: Fails\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
      "      - name: Fine\n        action: ExecuteBash\n        inputs:\n          commands: [\"echo fine\"]\n"
      "  - name: validate\n    steps:\n"
      "      - name: Check\n        action: ExecuteBash\n        inputs:\n          commands: [\"exit 3\"]\n"
      "  - name: test\n    steps:\n"
      "      - name: Never\n        action: ExecuteBash\n        inputs:\n          commands: [\"touch " +
          dir.file("never") + "\"]\n");
  auto result = kiln::test::run_kilnctl({"run", "--target", "local", "-d", document, "--install", KILN_BINARY,
                                         "--work-directory", dir.file("work"), "--logs", dir.file("logs"), "-i", "l-1"},
                                        dir.file("out"));
  INFO(result.output);
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("[local] Fine") == std::string::npos);  // step output goes to kiln's logs
  CHECK(result.output.find("kilnctl: local: failed") != std::string::npos);
  CHECK(result.output.find("validate.Check: Document") != std::string::npos);
  CHECK(result.output.find("test         not run") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("never")));
  int folders = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("logs") + "/local")) {
    CHECK(std::filesystem::exists(entry.path() / "detailedoutput.json"));
    ++folders;
  }
  CHECK(folders == 2);
}

TEST_CASE("kilnctl cli: --install replaces a kiln binary that is running on the target") {
  TempDir dir;
  const std::string work = dir.file("work");
  const std::string running = work + "/bin/kiln";
  std::filesystem::create_directories(work + "/bin");
  std::filesystem::copy_file(KILN_BINARY, running);
  // A previous run's agent still running from WORK/bin/kiln: writing over it would fail
  // with "Text file busy".
  const std::string slow = dir.write(
      "slow.yml", "name: Slow\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                  "      - name: Wait\n        action: ExecuteBash\n        inputs:\n          commands: [\"sleep 20\"]\n");
  std::string pid_file = dir.file("running.pid");
  REQUIRE(std::system((running + " run -d " + slow + " -s " + dir.file("copy-state") + " -l " + dir.file("copy-logs") +
                       " > /dev/null 2>&1 & echo $! > " + pid_file)
                          .c_str()) == 0);
  int copy_pid = std::stoi(read_file(pid_file));
  for (int i = 0; i < 100 && std::filesystem::read_symlink("/proc/" + std::to_string(copy_pid) + "/exe").string() != running; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string hello = dir.write(
      "hello.yml", "name: Hello\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                   "      - name: Hi\n        action: ExecuteBash\n        inputs:\n          commands: [\"echo hi\"]\n");
  auto result = kiln::test::run_kilnctl({"run", "--target", "local", "-d", hello, "--install", KILN_BINARY,
                                         "--work-directory", work, "--logs", dir.file("logs"), "-i", "busy-1",
                                         "--phases", "build"},
                                        dir.file("out"));
  ::kill(copy_pid, SIGKILL);
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("Text file busy") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(running + ".kilnctl-upload"));
}
