// Helpers for end-to-end tests: temporary folders and running the real kiln binary.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::test {

// A temporary folder, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` (parents created) and returns its path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  nlohmann::json summary() const;  // stdout parsed as JSON (null if it is not)
};

// Runs the kiln binary with `arguments`, in `working_directory` (empty: ours).
// Tests never reboot the machine nor write into /etc: the environment points kiln's
// state, reboot command and trigger folders at a private temporary folder; entries of
// `environment` ("NAME=value") replace those defaults.
RunResult run_kiln(const std::vector<std::string>& arguments, const std::string& working_directory = "",
                   const std::vector<std::string>& environment = {});
// The environment run_kiln gives kiln, for tests that start it themselves.
std::vector<std::string> kiln_test_environment(const std::vector<std::string>& overrides = {});
// Starts kiln in the background (for tests that signal it), its stdout and stderr going
// to files, in `working_directory` (empty: ours), with `environment` as for run_kiln.
// Returns its pid, or -1.
int spawn_kiln(const std::vector<std::string>& arguments, const std::string& stdout_file,
               const std::string& stderr_file = "/dev/null", const std::vector<std::string>& environment = {},
               const std::string& working_directory = "");

std::string read_file(const std::string& path);
// The single TOE_* folder under `log_directory` ("" if not exactly one).
std::string find_log_folder(const std::string& log_directory);
nlohmann::json read_detailed_output(const std::string& log_directory);
// The first step record named `step` in a detailedoutput.json record.
nlohmann::json find_step(const nlohmann::json& detailed, const std::string& step);

}  // namespace kiln::test
