// Secrets and safe files through the real binary: a secret parameter echoed by a script
// appears in no file kiln produces; --strict refuses the extension; log and state
// folders are private; an unwritable log directory or a log disk that fills up stops
// the run clearly and leaves it resumable.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "tests/e2e/e2e_helpers.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;
using kiln::test::read_file;
using kiln::test::TempDir;

// Regular files under `root` whose bytes contain `needle`. With `since`, only files changed
// since then (for a shared folder such as /tmp, where other tests come and go); files that
// vanish or cannot be read while we look are skipped.
std::vector<std::string> files_containing(const std::string& root, const std::string& needle,
                                          std::optional<fs::file_time_type> since = std::nullopt) {
  std::vector<std::string> hits;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec) || entry_ec) continue;
    if (since && (it->last_write_time(entry_ec) < *since || entry_ec)) continue;
    if (since && it->file_size(entry_ec) > (1u << 22)) continue;
    if (read_file(it->path().string()).find(needle) != std::string::npos) hits.push_back(it->path().string());
  }
  return hits;
}

const char* kSecret = "s3cr3t-Pa55w0rd-7f3a";

// A secret no other test run (of this or another checkout) uses, so that a search of the
// shared /tmp finds only what this run left there.
std::string unique_secret() {
  return std::string(kSecret) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

// The places a run may write to: a private TMPDIR, the logs, the state, the working folder.
struct RunPlaces {
  explicit RunPlaces(const TempDir& dir)
      : tmp(dir.file("tmp")), logs(dir.file("logs")), state(dir.file("state")), work(dir.file("work")) {
    fs::create_directories(tmp);
    fs::create_directories(work);
    ::chmod(tmp.c_str(), 0700);
  }
  std::string tmp, logs, state, work;
  fs::file_time_type started = fs::file_time_type::clock::now() - std::chrono::seconds(2);

  // Every file of those places, and every file of /tmp changed since the run started, that
  // holds `secret` (kiln could ignore TMPDIR and use /tmp).
  std::vector<std::string> holding(const std::string& secret) const {
    std::vector<std::string> hits;
    for (const std::string& root : {tmp, logs, state, work}) {
      auto found = files_containing(root, secret);
      hits.insert(hits.end(), found.begin(), found.end());
    }
    auto found = files_containing("/tmp", secret, started);
    hits.insert(hits.end(), found.begin(), found.end());
    std::sort(hits.begin(), hits.end());
    hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
    return hits;
  }
};

// A document with a secret parameter, Token, and one build phase whose steps follow.
const std::string kTokenDocument = R"(schemaVersion: 1.0
parameters:
  - Token:
      type: string
      secret: true
phases:
  - name: build
    steps:
)";

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

}  // namespace

TEST_CASE("secrets: a secret parameter echoed by scripts appears in no produced file") {
  TempDir dir;
  RunPlaces places(dir);
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
  auto run = kiln::test::run_kiln({"run", "-d", doc, "-l", places.logs, "-s", places.state, "-i", "sec", "--parameters",
                                   std::string("DbPassword=") + kSecret, "--trace"},
                                  places.work, {"TMPDIR=" + places.tmp});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  // The value really was used: the Assert comparing it passed, and the masked text shows.
  CHECK(run.summary()["ignoredFailedStepCount"] == 1);
  std::string folder = kiln::test::find_log_folder(dir.file("logs"));
  REQUIRE(!folder.empty());
  CHECK(read_file(folder + "/console.log").find("password is **** and visible-value") != std::string::npos);
  CHECK_MESSAGE(places.holding(kSecret).empty(), join_lines(places.holding(kSecret)));
  CHECK(run.out.find(kSecret) == std::string::npos);
  CHECK(run.err.find(kSecret) == std::string::npos);
  CHECK(files_containing(places.logs, "visible-value").size() >= 2);  // masking is not over-eager
  int produced = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) produced += e.is_regular_file();
  MESSAGE("secret masking: " << produced << " produced files searched, 0 hits");
}

// Issue 10, defect B: the resolved script of a step that uses a secret was written in
// plain text to /tmp/kiln-script-*/input.sh, which a SIGKILL of kiln left behind.
TEST_CASE("secrets: a script holding a secret touches no filesystem, also when kiln is SIGKILLed mid-step") {
  TempDir dir;
  RunPlaces places(dir);
  const std::string secret = unique_secret();
  std::string seen = secret;  // what the script writes: the value, with '-' made '_' (not the secret itself)
  std::replace(seen.begin(), seen.end(), '-', '_');
  const std::string pid_file = dir.file("bash.pid"), marker = dir.file("marker");
  std::string doc = dir.write("doc.yml", kTokenDocument + R"(      - name: Slow
        action: ExecuteBash
        inputs:
          commands:
            - echo $$ > )" + pid_file + R"(
            - token="{{ Token }}"
            - echo "${token//-/_}" > )" + marker +
                                             R"(
            - sleep 60
)");
  pid_t pid = kiln::test::spawn_kiln(
      {"run", "-d", doc, "-l", places.logs, "-s", places.state, "-i", "killed", "--parameters", "Token=" + secret},
      dir.file("out"), dir.file("err"), {"TMPDIR=" + places.tmp}, places.work);
  REQUIRE(pid > 0);
  // Whatever happens, neither kiln nor the step's bash (leader of its own group) outlives the test.
  struct Reaper {
    pid_t kiln;
    std::string pid_file;
    ~Reaper() {
      ::kill(kiln, SIGKILL);
      ::waitpid(kiln, nullptr, 0);
      int bash = std::atoi(read_file(pid_file).c_str());
      if (bash > 1) ::kill(-bash, SIGKILL);
    }
  } reaper{pid, pid_file};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (read_file(marker).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  INFO("kiln said: " << read_file(dir.file("out")) << read_file(dir.file("err")));
  REQUIRE_MESSAGE(read_file(marker) == seen + "\n", "the step did not start, or did not get the secret");
  CHECK_MESSAGE(places.holding(secret).empty(), "while the step runs:\n" << join_lines(places.holding(secret)));
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK_MESSAGE(places.holding(secret).empty(), "after SIGKILL of kiln:\n" << join_lines(places.holding(secret)));
  int bash = std::atoi(read_file(pid_file).c_str());
  REQUIRE(bash > 1);
  ::kill(-bash, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_MESSAGE(places.holding(secret).empty(), "after the step's bash was killed too:\n"
                                                    << join_lines(places.holding(secret)));
}

TEST_CASE("secrets: a script holding a secret runs as any other: bash, arguments, exit code, its folder") {
  TempDir dir;
  RunPlaces places(dir);
  std::string doc = dir.write("doc.yml", kTokenDocument + R"(      - name: Secret
        action: ExecuteBash
        onFailure: Continue
        inputs:
          commands:
            - echo "line $LINENO, $BASH_VERSION" | cut -c1-10
            - token="{{ Token }}"; echo "length ${#token}"
            - set -- a b; echo "args $# $1 $2"
            - ls /proc/$$/fd > fds.txt; tr '\n' ' ' < fds.txt; echo
            - readlink /proc/$$/fd/255
            - ls -l /proc/self/fd | grep -c memfd || true
            - exit 7
)");
  auto run = kiln::e2e::run_document(dir, doc, {"-s", places.state, "--parameters", std::string("Token=") + kSecret},
                                     "logs", places.work);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);  // the step failed; onFailure: Continue
  CHECK(kiln::e2e::failure_of(run, "Secret") == "exit code 7");
  std::string out = kiln::e2e::stdout_of(run.step("Secret"));
  CHECK(out.find("line 1, 5.") == 0);  // bash, and the first command is still line 1
  CHECK(out.find("length " + std::to_string(std::strlen(kSecret)) + "\n") != std::string::npos);
  CHECK(out.find("args 2 a b\n") != std::string::npos);
  // bash reads the script from memory (its fd 255), and past its first words holds no fd 3:
  // the commands it runs do not inherit the script. (ls writes to a file, not a pipe: with
  // `ls | tr`, bash may still hold the pipe's two ends while ls reads its fd list.)
  CHECK(out.find("\n0 1 2 255 \n/memfd:kiln-script (deleted)\n") != std::string::npos);
  CHECK(out.substr(out.rfind('\n') + 1) == "0");
  // The step's folder keeps the script, masked.
  std::string kept;
  for (const auto& e : fs::recursive_directory_iterator(run.folder))
    if (e.path().filename() == "input.sh") kept = read_file(e.path().string());
  CHECK(kept.find("token=\"****\"") != std::string::npos);
  CHECK_MESSAGE(places.holding(kSecret).empty(), join_lines(places.holding(kSecret)));
}

TEST_CASE("secrets: --strict refuses kiln extensions; without it they validate") {
  TempDir dir;
  std::string doc = dir.write(
      "doc.yml",
      kTokenDocument +
          R"(      - {name: Unpack, action: ExtractArchive, inputs: [{source: /tmp/a.tar, destination: /tmp/a}]}
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

TEST_CASE("files: a log disk that fills mid-run stops the run clearly; it resumes once space is freed" *
          KILN_SKIP_UNLESS(::geteuid() == 0, "mounts a small tmpfs: needs root (CI runs as root)")) {
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
  // --max-log-size 0: the default bound (a quarter of the free space) would drop the output
  // before the disk fills (tests/e2e/run_log_volume_test.cpp); this is the disk filling anyway.
  std::vector<std::string> args = {"run", "-d", path, "-l", logs, "-s", dir.file("state"), "-i", "logfull",
                                   "--max-log-size", "0"};
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
