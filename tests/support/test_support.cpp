#include "tests/support/test_support.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "agent/sys/process.h"

namespace kiln::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "kiln-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string path = file(name);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

nlohmann::json RunResult::summary() const {
  return nlohmann::json::parse(out, nullptr, false);
}

// Tests keep kiln's crash-safe state out of the machine's default state directory: one
// private folder for the whole test process, removed when it ends.
static const std::string& test_state_directory() {
  static TempDir folder;
  return folder.path();
}

std::vector<std::string> kiln_test_environment(const std::vector<std::string>& overrides) {
  // Nothing a test runs may reboot this machine or write boot triggers into /etc.
  std::vector<std::string> environment = {"KILN_STATE_DIRECTORY=" + test_state_directory() + "/state",
                                          "KILN_REBOOT_COMMAND=true",
                                          "KILN_SYSTEMD_UNIT_DIR=" + test_state_directory() + "/systemd",
                                          "KILN_CRON_DIR=" + test_state_directory() + "/cron.d"};
  for (const auto& entry : overrides) {
    std::string name = entry.substr(0, entry.find('='));
    std::erase_if(environment, [&](const std::string& e) { return e.substr(0, e.find('=')) == name; });
    environment.push_back(entry);
  }
  return environment;
}

RunResult run_kiln(const std::vector<std::string>& arguments, const std::string& working_directory,
                   const std::vector<std::string>& environment) {
  sys::ProcessSpec spec;
  spec.extra_environment = kiln_test_environment(environment);
  spec.executable = KILN_BINARY;
  spec.arguments = arguments;
  spec.working_directory = working_directory;
  spec.timeout = std::chrono::milliseconds(120'000);
  RunResult result;
  sys::ProcessResult r = sys::run_process(spec, [&](sys::OutputStream s, std::string_view chunk) {
    (s == sys::OutputStream::Stdout ? result.out : result.err).append(chunk);
  });
  result.exit_code = r.signal ? 128 + r.signal : r.exit_code;
  return result;
}

int spawn_kiln(const std::vector<std::string>& arguments, const std::string& stdout_file,
               const std::string& stderr_file, const std::vector<std::string>& environment,
               const std::string& working_directory) {
  std::vector<std::string> args = {KILN_BINARY};
  args.insert(args.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // getenv returns the first match, so the test settings go before our own environment.
  std::vector<std::string> env_strings = kiln_test_environment(environment);
  for (char** e = environ; *e; ++e) env_strings.push_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!working_directory.empty()) posix_spawn_file_actions_addchdir_np(&actions, working_directory.c_str());
  pid_t pid = 0;
  int rc = posix_spawn(&pid, KILN_BINARY, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string find_log_folder(const std::string& log_directory) {
  std::string found;
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(log_directory, ec))
    if (entry.is_directory() && entry.path().filename().string().rfind("TOE_", 0) == 0) {
      found = entry.path().string();
      ++count;
    }
  return count == 1 ? found : "";
}

nlohmann::json read_detailed_output(const std::string& log_directory) {
  std::string folder = find_log_folder(log_directory);
  if (folder.empty()) return nullptr;
  return nlohmann::json::parse(read_file(folder + "/detailedoutput.json"), nullptr, false);
}

nlohmann::json find_step(const nlohmann::json& detailed, const std::string& step) {
  for (const auto& doc : detailed.value("documents", nlohmann::json::array()))
    for (const auto& phase : doc.value("phases", nlohmann::json::array()))
      for (const auto& s : phase.value("steps", nlohmann::json::array()))
        if (s.value("name", "") == step) return s;
  return nullptr;
}

}  // namespace kiln::test
