// The state directory: one folder per execution, each holding its journal, a lock and
// a one-line status hint. ExecutionStore::open_execution() is the one call that starts a
// new execution or resumes an unfinished one; the OpenExecution it returns holds the
// execution's lock for as long as it lives, so two kiln processes never both run the
// steps of one execution.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "agent/state/records.h"
#include "agent/state/run_journal.h"
#include "agent/state/run_state.h"

namespace kiln {

// Where an execution stands, as the status hint says (the journal stays the truth).
enum class ExecutionPhase { Running, AwaitingReboot, Interrupted, Finished };
std::string_view execution_phase_name(ExecutionPhase phase);

// An execution opened to run: its lock, its journal, and what an earlier attempt left.
class OpenExecution {
 public:
  ~OpenExecution();
  OpenExecution(const OpenExecution&) = delete;
  OpenExecution& operator=(const OpenExecution&) = delete;

  const std::string& id() const { return id_; }
  const std::string& folder() const { return folder_; }
  RunJournal& journal() { return journal_; }
  // The replayed journal when this resumes an earlier attempt; null for a new execution.
  const RunState* resume() const { return resuming_ ? &earlier_ : nullptr; }
  // Writes the status hint durably (temp file, fsync, rename, fsync of the folder).
  void set_phase(ExecutionPhase phase);

 private:
  friend class ExecutionStore;
  OpenExecution() = default;
  std::string id_, folder_, identity_digest_;
  int lock_fd_ = -1;
  RunJournal journal_;
  RunState earlier_;
  bool resuming_ = false;
};

struct OpenResult {
  enum class Kind {
    Opened,           // `execution` is set (new, or resuming)
    AlreadyFinished,  // the same run finished before: `finished` holds its result
    Busy,             // another kiln process holds the execution
    IdentityChanged,  // an unfinished execution with this id was started differently
    Failed,           // the state could not be read or written
  };
  Kind kind = Kind::Failed;
  std::unique_ptr<OpenExecution> execution;
  RunState finished;
  std::string message;             // why (Busy, IdentityChanged, Failed)
  std::vector<std::string> notes;  // things the user should know (a torn record was dropped)
};

// One execution of the state directory, as `kiln status` and `kiln resume` see it.
struct StoredExecution {
  std::string folder;
  RunState state;
  std::string error;  // the journal could not be read
  bool locked = false;  // a kiln process is running it now
};

class ExecutionStore {
 public:
  // Opens (creating it if needed) a state directory. `given`: the user named it, so it
  // is used or refused; otherwise a default that cannot be used falls back to a private
  // folder under /tmp, and `note` says so. "" or an error.
  std::string open(const std::string& directory, bool given, std::string& note);
  // For reading only (`kiln status`): uses `directory` as it is, creating nothing.
  void open_for_reading(const std::string& directory);
  const std::string& directory() const { return directory_; }

  // The id of an unfinished execution awaiting a reboot that was started with the same
  // identity (a re-run after a reboot without --execution-id, as SSM does), or "".
  std::string find_awaiting_reboot(const RunIdentity& identity) const;
  // Opens execution `id` for a run with `identity`.
  OpenResult open_execution(const std::string& id, const RunIdentity& identity) const;

  std::vector<StoredExecution> list() const;
  // Whether any execution is not finished (the resume trigger stays armed while one is).
  bool has_unfinished() const;

 private:
  std::string directory_;
};

// The default --state-directory: /var/lib/kiln/state for root, else
// $XDG_STATE_HOME/kiln (or ~/.local/state/kiln). KILN_STATE_DIRECTORY overrides both.
std::string default_state_directory();

}  // namespace kiln
