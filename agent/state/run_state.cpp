#include "agent/state/run_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace kiln {

RunState RunState::replay(const std::vector<nlohmann::json>& records) {
  RunState state;
  for (const auto& r : records) {
    std::string type = r.value("type", "");
    std::string key = r.value("key", "");
    if (type == "header") {
      state.header = r;
    } else if (type == "stepStarted") {
      StepState& s = state.steps[key];
      int64_t attempt = r.value("attempt", int64_t{1});
      if (attempt != s.attempt) s.iterations.clear();
      s.attempt = attempt;
      state.awaiting_reboot = false;
    } else if (type == "condition") {
      state.steps[key].condition = r;
    } else if (type == "iteration") {
      StepState& s = state.steps[key];
      int64_t attempt = r.value("attempt", int64_t{1});
      if (attempt != s.attempt) {
        s.iterations.clear();
        s.attempt = attempt;
      }
      s.iterations.push_back(r);
    } else if (type == "child") {
      state.steps[key].child_execution_id = r.value("executionId", "");
    } else if (type == "stepFinished") {
      StepState& s = state.steps[key];
      s.finished = true;
      s.record = r.value("record", nlohmann::json::object());
      s.ran = r.value("ran", false);
      s.iterations.clear();
    } else if (type == "reboot") {
      state.reboots.push_back(r);
      StepState& s = state.steps[key];
      if (r.contains("attempt")) s.attempt = r["attempt"];
      state.awaiting_reboot = true;
      state.interrupted = false;
    } else if (type == "stepInterrupted") {
      state.interrupted = true;
    } else if (type == "runFinished") {
      state.finished = true;
      state.summary = r.value("summary", nlohmann::json::object());
      state.exit_code = r.value("exitCode", 0);
    }
  }
  return state;
}

bool RunState::kept_by_compaction(const std::string& type) {
  return type == "header" || type == "stepFinished" || type == "reboot" || type == "runFinished" ||
         type == "condition" || type == "child";
}

std::vector<nlohmann::json> RunState::compacted(const std::vector<nlohmann::json>& records) {
  std::vector<nlohmann::json> kept;
  for (const auto& r : records)
    if (kept_by_compaction(r.value("type", ""))) kept.push_back(r);
  return kept;
}

std::string default_state_directory() {
  if (const char* forced = std::getenv("KILN_STATE_DIRECTORY"); forced && *forced) return forced;
  if (::geteuid() == 0) return "/var/lib/kiln/state";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/kiln";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/kiln";
  return "/tmp/kiln-state-" + std::to_string(::geteuid());
}

std::string execution_folder(const std::string& state_directory, const std::string& execution_id) {
  std::string safe;
  for (char c : execution_id) safe += (c == '/' || c == '\\' || c == '\0' || c == '.') ? '_' : c;
  if (safe.empty()) safe = "_";
  return state_directory + "/" + safe;
}

std::vector<std::string> list_executions(const std::string& state_directory) {
  std::vector<std::string> folders;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_directory, ec))
    if (entry.is_directory(ec) && std::filesystem::exists(entry.path() / "journal", ec))
      folders.push_back(entry.path().string());
  std::sort(folders.begin(), folders.end());
  return folders;
}

std::string check_state_directory(const std::string& state_directory) {
  std::error_code ec;
  std::filesystem::path folder(state_directory);
  if (folder.has_parent_path()) std::filesystem::create_directories(folder.parent_path(), ec);
  if (::mkdir(state_directory.c_str(), 0700) != 0 && errno != EEXIST)
    return "cannot create the state directory " + state_directory + ": " + std::strerror(errno);
  struct stat st {};
  if (::lstat(state_directory.c_str(), &st) != 0)
    return "cannot read the state directory " + state_directory + ": " + std::strerror(errno);
  if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode))
    return "the state directory " + state_directory + " is not a plain folder (a symlink is refused)";
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return "the state directory " + state_directory +
           " is writable by other users, who could change what kiln resumes; run chmod go-w on it";
  if (st.st_uid != ::geteuid())
    return "the state directory " + state_directory + " belongs to another user (uid " + std::to_string(st.st_uid) + ")";
  return {};
}

void write_execution_status(const std::string& folder, const ExecutionStatus& status) {
  std::string temp = folder + "/status.tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << nlohmann::json{{"status", status.status}, {"identity", status.identity}}.dump() << "\n";
    if (!out) return;  // only a hint: the journal is the truth
  }
  std::rename(temp.c_str(), (folder + "/status").c_str());
}

ExecutionStatus read_execution_status(const std::string& folder) {
  std::ifstream in(folder + "/status");
  std::string line;
  std::getline(in, line);
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return {};
  return {j.value("status", ""), j.value("identity", "")};
}

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace kiln
