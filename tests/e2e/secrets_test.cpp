// Secrets and safe files through the real binary: a secret parameter echoed by a script
// appears in no file kiln produces; --strict refuses the extension; log and state
// folders are private; an unwritable log directory or a log disk that fills up stops
// the run clearly and leaves it resumable.
#include <doctest/doctest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::TempDir;

// Files under `root` whose bytes contain `needle`.
std::vector<std::string> files_containing(const std::string& root, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
    if (entry.is_regular_file() && read_file(entry.path().string()).find(needle) != std::string::npos)
      hits.push_back(entry.path().string());
  return hits;
}

const char* kSecret = "s3cr3t-Pa55w0rd-7f3a";

}  // namespace

TEST_CASE("secrets: a secret parameter echoed by scripts appears in no produced file") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
parameters:
  - DbPassword:
      type: string
      secret: true
      description: never logged
  - Plain:
      type: string
      default: visible-value
phases:
  - name: build
    steps:
      - name: Echo
        action: ExecuteBash
        inputs:
          commands:
            - echo "password is {{ DbPassword }} and {{ Plain }}"
            - echo "to stderr {{ DbPassword }}" >&2
      - name: Chain
        action: ExecuteBash
        inputs:
          commands: ["echo 'again: {{ build.Echo.outputs.stdout }}'"]
      - name: Check
        action: Assert
        inputs:
          stringEquals: "password is {{ DbPassword }} and visible-value"
          value: "{{ build.Echo.outputs.stdout }}"
      - name: Fails
        action: ExecuteBash
        onFailure: Ignore
        inputs:
          commands: ["echo 'bad {{ DbPassword }}' >&2; exit 3"]
)");
  auto run = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"), "-i", "sec",
                                   "--parameters", std::string("DbPassword=") + kSecret, "--trace"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  // The value really was used: the Assert comparing it passed, and the masked text shows.
  CHECK(run.summary()["ignoredFailedStepCount"] == 1);
  std::string folder = kiln::test::find_log_folder(dir.file("logs"));
  REQUIRE(!folder.empty());
  CHECK(read_file(folder + "/console.log").find("password is **** and visible-value") != std::string::npos);
  CHECK(files_containing(dir.path() + "/logs", kSecret).empty());
  CHECK(files_containing(dir.path() + "/state", kSecret).empty());
  CHECK(run.out.find(kSecret) == std::string::npos);
  CHECK(run.err.find(kSecret) == std::string::npos);
  CHECK(files_containing(dir.path() + "/logs", "visible-value").size() >= 2);  // masking is not over-eager
  int produced = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
    produced += e.is_regular_file();
  MESSAGE("secret masking: " << produced << " produced files searched, 0 hits");
}

TEST_CASE("secrets: --strict refuses kiln extensions; without it they validate") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
parameters:
  - Token:
      type: string
      secret: true
phases:
  - name: build
    steps:
      - {name: Unpack, action: ExtractArchive, inputs: [{source: /tmp/a.tar, destination: /tmp/a}]}
)");
  CHECK(kiln::test::run_kiln({"validate", "-d", doc}).exit_code == 0);
  auto strict = kiln::test::run_kiln({"validate", "--strict", "-d", doc});
  CHECK(strict.exit_code == 3);
  CHECK(strict.err.find(doc + ":5:7: error: 'secret' is a kiln extension") != std::string::npos);
  CHECK(strict.err.find("ExtractArchive is a kiln extension") != std::string::npos);
}

TEST_CASE("files: log and state folders are private; planted symlinks are not followed") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", "schemaVersion: 1.0\nphases:\n  - name: b\n    steps:\n"
                                         "      - {name: S, action: ExecuteBash, inputs: {commands: [\"echo hi\"]}}\n");
  auto run = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state"), "-i", "perm"});
  REQUIRE(run.exit_code == 0);
  std::string folder = kiln::test::find_log_folder(dir.file("logs"));
  auto mode = [](const std::string& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st.st_mode & 07777;
  };
  CHECK(mode(folder) == 0700);
  for (const char* f : {"console.log", "application.log", "detailedoutput.json", "events.jsonl", "document.yaml"})
    CHECK_MESSAGE(mode(folder + "/" + f) == 0600, f);
  CHECK(mode(dir.file("state")) == 0700);
  CHECK(mode(dir.file("state") + "/perm/journal") == 0600);
  // A state directory that others can write to is refused before anything runs.
  std::filesystem::create_directories(dir.file("open-state"));
  ::chmod(dir.file("open-state").c_str(), 0777);
  auto refused = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs2"), "-s", dir.file("open-state")});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("writable by other users") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("logs2")));
  // A symlink planted where the journal goes is not followed.
  std::filesystem::create_directories(dir.file("state/planted"));
  ::chmod(dir.file("state/planted").c_str(), 0700);
  std::filesystem::create_symlink(dir.file("victim"), dir.file("state/planted/journal"));
  auto planted = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs3"), "-s", dir.file("state"), "-i", "planted"});
  CHECK(planted.exit_code != 0);
  CHECK_FALSE(std::filesystem::exists(dir.file("victim")));
}

TEST_CASE("files: an unwritable log directory is an error before the first step") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", "schemaVersion: 1.0\nphases:\n  - name: b\n    steps:\n"
                                         "      - {name: S, action: ExecuteBash, inputs: {commands: [\"echo x >> " +
                                             ledger + "\"]}}\n");
  dir.write("not-a-folder", "a file");
  auto run = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("not-a-folder/logs"), "-s", dir.file("state")});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("cannot create the log directory") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(ledger));
}

TEST_CASE("files: a log disk that fills mid-run stops the run clearly; it resumes once space is freed") {
  REQUIRE_MESSAGE(::geteuid() == 0, "this test mounts a small tmpfs and needs root (CI runs as root)");
  TempDir dir;
  std::string logs = dir.file("logs");
  std::filesystem::create_directories(logs);
  REQUIRE_MESSAGE(::mount("tmpfs", logs.c_str(), "tmpfs", 0, "size=256k") == 0, std::strerror(errno));
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{logs};
  std::string ledger = dir.file("ledger");
  std::string doc = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n";
  for (int i = 0; i < 12; ++i)
    doc += "      - {name: S" + std::to_string(i) + ", action: ExecuteBash, inputs: {commands: [\"echo S" +
           std::to_string(i) + " >> " + ledger + "; head -c 40000 /dev/zero | tr '\\\\0' 'y' | fold -w 100\"]}}\n";
  std::string path = dir.write("doc.yml", doc);
  std::vector<std::string> args = {"run", "-d", path, "-l", logs, "-s", dir.file("state"), "-i", "logfull"};
  auto first = kiln::test::run_kiln(args);
  INFO(first.out << first.err);
  CHECK(first.exit_code == 1);
  CHECK(first.summary()["status"] == "interrupted");
  CHECK(first.summary()["failureMessage"].get<std::string>().find("No space left on device") != std::string::npos);
  std::string folder = kiln::test::find_log_folder(logs);
  CHECK_FALSE(std::filesystem::exists(folder + "/detailedoutput.json.tmp"));
  REQUIRE(::mount("tmpfs", logs.c_str(), "tmpfs", MS_REMOUNT, "size=8m") == 0);
  auto second = kiln::test::run_kiln(args);
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  std::string text = read_file(ledger);
  for (int i = 0; i < 12; ++i) CHECK(text.find("S" + std::to_string(i) + "\n") != std::string::npos);
}
