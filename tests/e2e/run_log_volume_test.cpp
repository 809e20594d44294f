// End-to-end: bounded log volume (issue 16). A step's short lines cost at most ~1.5x
// their bytes on disk (console.log lines up to a budget, then the step's own stdout.log),
// normal output is written as before, --max-log-size ends a run on a small disk with a
// clear line and exit 0, and secrets stay masked in the step's raw output file.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "tests/e2e/e2e_helpers.h"
#include "tests/support/skip.h"

using kiln::e2e::run_yaml;
using kiln::test::read_file;
using kiln::test::TempDir;

namespace {

namespace fs = std::filesystem;

// What the log folder holds on disk: the sum of its files' sizes.
uint64_t folder_bytes(const std::string& folder) {
  uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

// The payload of console.log's "Stdout: " lines, one per line, in order.
std::string console_stdout(const std::string& console) {
  std::string out;
  std::istringstream lines(console);
  for (std::string line; std::getline(lines, line);) {
    size_t at = line.find(" Info Stdout: ");
    if (at != std::string::npos) out.append(line, at + 14).push_back('\n');
  }
  return out;
}

// The single attempt folder under <folder>/steps whose name holds `step`.
std::string step_folder(const std::string& folder, const std::string& step) {
  std::string found;
  if (!fs::is_directory(folder + "/steps")) return found;
  for (const auto& entry : fs::directory_iterator(folder + "/steps"))
    if (entry.path().filename().string().find("-" + step + "-") != std::string::npos) found = entry.path().string();
  return found;
}

std::string yes_document(const std::string& produced, uint64_t bytes, const std::string& then = "true") {
  return R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Yes
        action: ExecuteBash
        inputs:
          commands:
            - yes | head -c )" +
         std::to_string(bytes) + " > " + produced + R"(
            - cat )" +
         produced + R"(
      - name: After
        action: ExecuteBash
        inputs:
          commands: [")" +
         then + R"("]
)";
}

struct Tmpfs {
  std::string path;
  bool mounted = false;
  Tmpfs(std::string where, const std::string& size) : path(std::move(where)) {
    fs::create_directories(path);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  uint64_t free_bytes() const {
    struct statvfs s {};
    return ::statvfs(path.c_str(), &s) == 0 ? uint64_t{s.f_bavail} * s.f_frsize : 0;
  }
};

}  // namespace

TEST_CASE("log volume: 32 MiB of 2-byte lines cost at most 1.5x on disk, and the raw file holds every byte in order") {
  TempDir dir;
  const uint64_t kBytes = 32 << 20;
  auto run = run_yaml(dir, yes_document(dir.file("produced"), kBytes));
  REQUIRE(run.exit_code() == 0);
  CHECK(run.status("Yes") == "success");
  const std::string produced = read_file(dir.file("produced"));
  REQUIRE(produced.size() == kBytes);  // the oracle: what the step itself printed

  const uint64_t on_disk = folder_bytes(run.folder);
  MESSAGE("32 MiB of 2-byte lines: " << on_disk << " bytes in the log folder (" << double(on_disk) / kBytes << "x)");
  CHECK(on_disk <= kBytes * 3 / 2);

  const std::string folder = step_folder(run.folder, "Yes");
  REQUIRE_FALSE(folder.empty());
  const std::string raw = read_file(folder + "/stdout.log");
  const std::string console = run.console();
  // console.log's lines, then the file: the step's output, every byte, in order.
  CHECK(console_stdout(console) + raw == produced);
  CHECK(console_stdout(console).size() > 0);
  CHECK(console.find("Info Output: the rest of this step's stdout goes unprefixed to " + folder + "/stdout.log") !=
        std::string::npos);
  CHECK(console.find("Info Output: " + std::to_string(raw.size()) + " bytes of stdout went to " + folder +
                     "/stdout.log\n") != std::string::npos);
  CHECK_FALSE(fs::exists(folder + "/stderr.log"));
  // The chaining output keeps its in-memory bound.
  CHECK(kiln::e2e::stdout_of(run.step("Yes")).size() <= 4u << 20);
}

TEST_CASE("log volume: normal output is written to console.log exactly as before") {
  TempDir dir;
  // 200 KiB of 100-byte lines, short lines, and stderr: no step folder file, no notice.
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Normal
        action: ExecuteBash
        inputs:
          commands:
            - for i in $(seq 1 2048); do printf '%099d\n' $i; done
            - echo hi
            - echo oops >&2
            - printf 'no newline'
)");
  REQUIRE(run.exit_code() == 0);
  const std::string console = run.console();
  std::string expected;
  for (int i = 1; i <= 2048; ++i) {
    std::string n = std::to_string(i);
    expected += std::string(99 - n.size(), '0') + n + "\n";
  }
  expected += "hi\nno newline\n";
  CHECK(console_stdout(console) == expected);
  const std::regex line(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} Info Stdout: 0{95}\d{4})");
  std::istringstream lines(console);
  int stdout_lines = 0;
  for (std::string l; std::getline(lines, l);)
    if (l.find(" Stdout: 0") != std::string::npos) stdout_lines += std::regex_match(l, line) ? 1 : 0;
  CHECK(stdout_lines == 2048);
  CHECK(console.find(" Info Stderr: oops\n") != std::string::npos);
  CHECK(console.find("Output:") == std::string::npos);
  std::string folder = step_folder(run.folder, "Normal");
  CHECK_FALSE(fs::exists(folder + "/stdout.log"));
  CHECK_FALSE(fs::exists(folder + "/stderr.log"));
}

TEST_CASE("log volume: --max-log-size on a small tmpfs drops output with a clear line, and the run ends with exit 0" *
          KILN_SKIP_UNLESS(::geteuid() == 0, "mounts a small tmpfs: needs root (CI runs as root)")) {
  TempDir dir;
  Tmpfs disk(dir.file("disk"), "32m");
  REQUIRE_MESSAGE(disk.mounted, "cannot mount a tmpfs: " << std::strerror(errno));
  const uint64_t kBytes = 64 << 20;  // twice the disk
  std::vector<std::string> flags;
  uint64_t bound = 4 << 20;
  SUBCASE("--max-log-size 4M") {
    flags = {"--max-log-size", "4M"};
  }
  SUBCASE("the default: a quarter of the free space") {
    bound = disk.free_bytes() / 4;
  }
  auto run = run_yaml(dir, yes_document(dir.file("produced"), kBytes, "echo after"), flags, "doc.yml", "disk/logs");
  REQUIRE(run.exit_code() == 0);
  CHECK(run.status("Yes") == "success");
  CHECK(run.status("After") == "success");  // it ran; its output was dropped
  const std::string console = run.console();
  std::smatch said;
  REQUIRE(std::regex_search(console, said,
                            std::regex(R"( Warn Output: the log folder reached --max-log-size \((\d+) bytes\); )"
                                       R"(the steps' output from here on is dropped, and the steps go on running\n)")));
  const uint64_t reached = std::stoull(said[1].str());
  if (flags.empty())  // kiln looked at the free space a moment after the test did
    CHECK(reached == doctest::Approx(double(bound)).epsilon(0.01));
  else
    CHECK(reached == bound);
  bound = reached;
  CHECK(console.find(" bytes of this step's output were dropped (--max-log-size)\n") != std::string::npos);
  CHECK(console.find("Stdout: after") == std::string::npos);
  CHECK(console.find("TOE has completed execution successfully") != std::string::npos);
  // What the bound counts stays under it; detailedoutput.json (with the 4 MiB chaining
  // output) and application.log come on top.
  const std::string folder = step_folder(run.folder, "Yes");
  uint64_t counted = fs::file_size(run.folder + "/console.log") + fs::file_size(run.folder + "/events.jsonl") +
                     fs::file_size(folder + "/stdout.log");
  CHECK(counted <= bound);
  CHECK(fs::exists(run.folder + "/detailedoutput.json"));
  MESSAGE("tmpfs of 32 MiB: " << folder_bytes(run.folder) << " bytes in the log folder, " << disk.free_bytes()
                              << " bytes still free");
  CHECK(disk.free_bytes() > (8u << 20));
}

TEST_CASE("log volume: a secret in a step's short-line output is masked in its stdout.log") {
  TempDir dir;
  const std::string secret = "s3cr3t-" + std::to_string(::getpid()) + "-volume";
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
parameters:
  - Token:
      type: string
      secret: true
phases:
  - name: build
    steps:
      - name: Leaky
        action: ExecuteBash
        inputs:
          commands:
            - yes | head -c 4194304
            - echo "token={{ Token }}"
            - echo "token={{ Token }}" >&2
            - yes | head -c 4194304 >&2
)",
                      {"--parameters", "Token=" + secret});
  REQUIRE(run.exit_code() == 0);
  const std::string folder = step_folder(run.folder, "Leaky");
  const std::string raw = read_file(folder + "/stdout.log");
  CHECK(raw.find("\ntoken=****\n") != std::string::npos);
  CHECK(raw.find(secret) == std::string::npos);
  CHECK(run.console().find(" Info Stderr: token=****\n") != std::string::npos);
  CHECK(fs::exists(folder + "/stderr.log"));
  for (const auto& entry : fs::recursive_directory_iterator(run.folder))
    if (entry.is_regular_file()) CHECK_MESSAGE(read_file(entry.path()).find(secret) == std::string::npos, entry.path());
}

TEST_CASE("log volume: --max-log-size takes bytes or K, M, G, T and refuses anything else") {
  TempDir dir;
  std::string doc = dir.write("doc.yml",
                              "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                              "      - name: A\n        action: ExecuteBash\n        inputs:\n"
                              "          commands: [echo hi]\n");
  for (const char* good : {"0", "1048576", "512K", "64M", "1G", "1T"}) {
    auto r = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "--max-log-size", good});
    CHECK_MESSAGE(r.exit_code == 0, good << ": " << r.err);
  }
  for (const char* bad : {"", "1.5G", "-1", "12Q", "G", "99999999999999999T"}) {
    auto r = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "--max-log-size", bad});
    CHECK_MESSAGE(r.exit_code == 2, bad);
    CHECK(r.err.find("--max-log-size") != std::string::npos);
  }
}
