// Helpers for the file actions' end-to-end tests: a one-step document built from JSON
// inputs (JSON is YAML), run by the real kiln binary, and small filesystem probes.
#pragma once
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/sys/process.h"
#include "tests/e2e/e2e_helpers.h"

namespace kiln::action_test {

using kiln::e2e::KilnRun;
using kiln::test::TempDir;

// A document whose build phase has one step, named "Step".
inline std::string one_step_document(const std::string& action, const nlohmann::json& inputs) {
  return "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Step\n        action: " + action +
         "\n        inputs: " + inputs.dump() + "\n";
}

// Each run gets its own document and log folder, so one TempDir can hold several runs.
inline KilnRun run_step(const TempDir& dir, const std::string& action, const nlohmann::json& inputs) {
  static int serial = 0;
  std::string n = std::to_string(++serial);
  return kiln::e2e::run_yaml(dir, one_step_document(action, inputs), {}, "doc-" + n + ".yml", "logs-" + n);
}

// The failure message of the one step, named "Step".
inline std::string failure_of(const KilnRun& run) { return kiln::e2e::failure_of(run, "Step"); }

inline bool succeeded(const KilnRun& run) { return run.exit_code() == 0 && run.status("Step") == "success"; }

// True when the step failed and its message contains every one of `parts`.
inline bool failed_with(const KilnRun& run, const std::vector<std::string>& parts) {
  if (run.exit_code() != 1 || run.status("Step") != "failed") return false;
  std::string message = failure_of(run);
  for (const auto& part : parts)
    if (message.find(part) == std::string::npos) return false;
  return true;
}

inline bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

inline bool is_symlink(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

inline bool is_folder(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline unsigned mode_of(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 07777) : 0u;
}

inline std::string link_target(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

inline bool is_empty_folder(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) && std::filesystem::is_empty(path, ec);
}

// Writes `content` to `path` (parents created) and sets its mode.
inline std::string make_file(const std::string& path, const std::string& content, unsigned mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), mode);
  return path;
}

// A folder on another filesystem than TempDir's, for moves across devices (EXDEV): a small
// tmpfs mounted for the test when root (so CI always has one), else a fresh folder in
// /dev/shm when that is another filesystem. Unmounted or removed with the object.
class OtherFilesystem {
 public:
  // Whether this machine can give one (decide with it whether to skip the test).
  static bool available() { return ::geteuid() == 0 || shm_is_separate(); }
  OtherFilesystem() {
    if (::geteuid() == 0) {
      REQUIRE_MESSAGE(::mount("tmpfs", mount_point_.path().c_str(), "tmpfs", 0, "size=16m") == 0,
                      "cannot mount a tmpfs: " << std::strerror(errno));
      path_ = mount_point_.path();
      mounted_ = true;
      return;
    }
    std::string pattern = "/dev/shm/kiln-move-XXXXXX";
    REQUIRE(shm_is_separate());
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~OtherFilesystem() {
    if (mounted_) {
      ::umount2(path_.c_str(), MNT_DETACH);
    } else {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  OtherFilesystem(const OtherFilesystem&) = delete;
  OtherFilesystem& operator=(const OtherFilesystem&) = delete;
  const std::string& path() const { return path_; }

 private:
  static bool shm_is_separate() {
    struct stat tmp, shm;
    return ::stat(std::filesystem::temp_directory_path().c_str(), &tmp) == 0 && ::stat("/dev/shm", &shm) == 0 &&
           tmp.st_dev != shm.st_dev;
  }
  TempDir mount_point_;
  std::string path_;
  bool mounted_ = false;
};

// Runs a command (not through a shell) and collects its output, for tests that must run
// kiln as another user or with another PATH.
inline kiln::test::RunResult run_command(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& environment = {}) {
  sys::ProcessSpec spec;
  spec.executable = argv[0];
  spec.arguments.assign(argv.begin() + 1, argv.end());
  spec.extra_environment = environment;
  spec.timeout = std::chrono::milliseconds(300'000);
  kiln::test::RunResult result;
  sys::ProcessResult r = sys::run_process(spec, [&](sys::OutputStream s, std::string_view chunk) {
    (s == sys::OutputStream::Stdout ? result.out : result.err).append(chunk);
  });
  result.exit_code = r.signal ? 128 + r.signal : r.exit_code;
  return result;
}

}  // namespace kiln::action_test
