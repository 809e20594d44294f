// kilnctl's command line: help in the shape help2man reads (Usage line, option lines,
// "Exit status:"), every option of the table in `run --help`, usage errors exit 2, and the
// local target end to end (a failing step named in the summary, logs copied back).
#include <doctest/doctest.h>

#include <filesystem>

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
