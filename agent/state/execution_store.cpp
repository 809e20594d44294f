#include "agent/state/execution_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/base/durable_file.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string folder_for(const std::string& directory, const std::string& execution_id) {
  std::string safe;
  for (char c : execution_id) safe += (c == '/' || c == '\\' || c == '\0' || c == '.') ? '_' : c;
  if (safe.empty()) safe = "_";
  return directory + "/" + safe;
}

// Refuses a state directory other users can write to (they could plant records).
std::string check_directory(const std::string& directory) {
  std::error_code ec;
  fs::path folder(directory);
  if (folder.has_parent_path()) fs::create_directories(folder.parent_path(), ec);
  if (std::string error = create_folder_durably(directory); !error.empty())
    return "the state directory: " + error;
  struct stat st {};
  if (::lstat(directory.c_str(), &st) != 0)
    return "cannot read the state directory " + directory + ": " + std::strerror(errno);
  if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode))
    return "the state directory " + directory + " is not a plain folder (a symlink is refused)";
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return "the state directory " + directory +
           " is writable by other users, who could change what kiln resumes; run chmod go-w on it";
  if (st.st_uid != ::geteuid())
    return "the state directory " + directory + " belongs to another user (uid " + std::to_string(st.st_uid) + ")";
  return {};
}

std::vector<std::string> execution_folders(const std::string& directory) {
  std::vector<std::string> folders;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec))
    if (entry.is_directory(ec) && fs::exists(entry.path() / "journal", ec)) folders.push_back(entry.path().string());
  std::sort(folders.begin(), folders.end());
  return folders;
}

// The status hint beside the journal: {"status": <phase>, "identity": <digest>}.
struct StatusHint {
  std::string phase;  // "" when missing or unreadable: read the journal
  std::string identity;
};

StatusHint read_hint(const std::string& folder) {
  std::ifstream in(folder + "/status");
  std::string line;
  std::getline(in, line);
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return {};
  return {j.value("status", ""), j.value("identity", "")};
}

// A killed kiln can leave a child that is between fork and exec holding a copy of the
// lock's descriptor for a moment, so a busy lock is retried briefly.
// Returns the locked descriptor, or -1 with `busy` or `error` set.
int take_lock(const std::string& folder, bool& busy, std::string& error) {
  std::string path = folder + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = "cannot open the execution lock " + path + ": " + std::strerror(errno) + "; not running without it";
    return -1;
  }
  for (int tries = 0; ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (errno != EWOULDBLOCK || tries >= 100) {
      if (errno != EWOULDBLOCK) error = "cannot lock " + path + ": " + std::strerror(errno);
      busy = error.empty();
      ::close(fd);
      return -1;
    }
    ::usleep(20'000);
  }
  return fd;
}

bool is_locked(const std::string& folder) {
  int fd = ::open((folder + "/lock").c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return locked;
}

RunState replay_folder(const std::string& folder, std::string& error) {
  std::vector<nlohmann::json> records;
  error = RunJournal::read(folder, records);
  return RunState::replay(records);
}

}  // namespace

std::string_view execution_phase_name(ExecutionPhase phase) {
  switch (phase) {
    case ExecutionPhase::Running: return "running";
    case ExecutionPhase::AwaitingReboot: return "awaitingReboot";
    case ExecutionPhase::Interrupted: return "interrupted";
    case ExecutionPhase::Finished: return "finished";
  }
  return "";
}

OpenExecution::~OpenExecution() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void OpenExecution::set_phase(ExecutionPhase phase) {
  // Durable (temp file, fsync, rename, fsync of the folder): after a power cut the hint is
  // the old one or the new one, never empty. A failure is ignored: the journal is the truth.
  (void)write_file_durably(
      folder_ + "/status",
      nlohmann::json{{"status", execution_phase_name(phase)}, {"identity", identity_digest_}}.dump() + "\n", 0600);
}

std::string ExecutionStore::open(const std::string& directory, bool given, std::string& note) {
  std::error_code ec;
  fs::path absolute = fs::absolute(directory, ec);
  directory_ = ec ? directory : absolute.lexically_normal().string();
  std::string error = check_directory(directory_);
  if (error.empty() || given) return error;
  // The default could not be used (e.g. a user without a home folder): keep state in a
  // private folder under /tmp, and say so, rather than refusing to run.
  std::string fallback = "/tmp/kiln-state-" + std::to_string(::geteuid());
  if (std::string again = check_directory(fallback); !again.empty()) return error + "; and " + again;
  note = error + "; keeping state in " + fallback + " instead (use --state-directory)";
  directory_ = fallback;
  return {};
}

void ExecutionStore::open_for_reading(const std::string& directory) {
  std::error_code ec;
  fs::path absolute = fs::absolute(directory, ec);
  directory_ = ec ? directory : absolute.lexically_normal().string();
}

std::string ExecutionStore::find_awaiting_reboot(const RunIdentity& identity) const {
  std::string digest = identity.digest();
  for (const auto& folder : execution_folders(directory_)) {
    StatusHint hint = read_hint(folder);
    if (!hint.phase.empty() && (hint.phase != "awaitingReboot" || hint.identity != digest)) continue;
    std::string error;
    RunState state = replay_folder(folder, error);
    if (error.empty() && !state.finished && state.awaiting_reboot && state.header && state.header->identity == identity)
      return state.header->execution_id;
  }
  return {};
}

OpenResult ExecutionStore::open_execution(const std::string& id, const RunIdentity& identity) const {
  OpenResult result;
  std::string folder = folder_for(directory_, id);
  std::error_code ec;
  if (fs::exists(folder + "/journal", ec) && !is_locked(folder)) {
    // A finished execution is never run again: the same documents and arguments get its
    // recorded result (so a caller that re-runs after a crash at the very end is safe);
    // anything else with the same id starts afresh.
    std::string error;
    RunState done = replay_folder(folder, error);
    if (error.empty() && done.finished) {
      if (done.header && done.header->identity == identity) {
        result.kind = OpenResult::Kind::AlreadyFinished;
        result.finished = std::move(done);
        return result;
      }
      fs::remove_all(folder, ec);
    }
  }
  if (std::string error = create_folder_durably(folder); !error.empty()) {
    result.message = error;
    return result;
  }
  std::unique_ptr<OpenExecution> execution(new OpenExecution);
  execution->id_ = id;
  execution->folder_ = folder;
  execution->identity_digest_ = identity.digest();
  bool busy = false;
  execution->lock_fd_ = take_lock(folder, busy, result.message);
  if (execution->lock_fd_ < 0) {
    if (busy) {
      result.kind = OpenResult::Kind::Busy;
      result.message = "execution " + id + " is already running (" + folder + ")";
    }
    return result;
  }
  RunJournal& journal = execution->journal_;
  if (std::string error = journal.open(folder); !error.empty()) {
    result.message = error;
    return result;
  }
  if (journal.dropped_torn_record())
    result.notes.push_back("the last state record was incomplete (a crash while writing it) and was dropped");
  if (!journal.records().empty()) {
    execution->earlier_ = RunState::replay(journal.records());
    if (const auto& header = execution->earlier_.header) {
      if (header->identity != identity) {
        result.kind = OpenResult::Kind::IdentityChanged;
        result.message = "cannot resume execution " + id +
                         ": its documents or arguments changed:" + header->identity.describe_change_to(identity) +
                         "\n  run with the original ones to resume, or with another --execution-id to start afresh";
        return result;
      }
      execution->resuming_ = true;
    }
  }
  result.kind = OpenResult::Kind::Opened;
  result.execution = std::move(execution);
  return result;
}

std::vector<StoredExecution> ExecutionStore::list() const {
  std::vector<StoredExecution> all;
  for (const auto& folder : execution_folders(directory_)) {
    StoredExecution e;
    e.folder = folder;
    e.state = replay_folder(folder, e.error);
    e.locked = is_locked(folder);
    all.push_back(std::move(e));
  }
  return all;
}

bool ExecutionStore::has_unfinished() const {
  for (const auto& folder : execution_folders(directory_)) {
    std::string phase = read_hint(folder).phase;
    if (phase == "finished") continue;
    if (!phase.empty()) return true;
    std::string error;  // no status hint: ask the journal
    if (RunState state = replay_folder(folder, error); error.empty() && !state.finished) return true;
  }
  return false;
}

std::string default_state_directory() {
  if (const char* forced = std::getenv("KILN_STATE_DIRECTORY"); forced && *forced) return forced;
  if (::geteuid() == 0) return "/var/lib/kiln/state";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/kiln";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/kiln";
  return "/tmp/kiln-state-" + std::to_string(::geteuid());
}

}  // namespace kiln
