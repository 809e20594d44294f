// Runs one child process in its own process group with stdin from /dev/null,
// streaming its stdout/stderr to a sink, with a timeout that kills the whole
// group (SIGTERM, a grace period, then SIGKILL). Uses posix_spawn, so the cost of a
// spawn does not grow with the agent's own memory (fork() would copy page tables).
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::sys {

enum class OutputStream { Stdout, Stderr };

struct ProcessSpec {
  std::string executable;                // path; searched on PATH when it has no '/'
  std::vector<std::string> arguments;    // argv[1..]; argv[0] is the executable as given
  std::string working_directory;         // empty: inherit
  std::vector<std::string> extra_environment;  // "NAME=value" entries added to ours
  std::chrono::milliseconds timeout{-1};       // negative: no timeout
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM -> SIGKILL delay on timeout/cancel
  // A descriptor the child gets as kPassedFd (-1: none). Ours stays close-on-exec, so no
  // other child, spawned meanwhile by another thread, inherits it. ExecuteBash hands a
  // script that holds a secret to bash this way (/dev/fd/3), never through a file.
  int passed_fd = -1;
  // The child's stdin: this file, opened read-only (empty: /dev/null). kilnctl streams an
  // upload through one ssh session this way.
  std::string stdin_file;
};

// The number under which the child sees ProcessSpec::passed_fd.
inline constexpr int kPassedFd = 3;

struct ProcessResult {
  bool started = false;        // false: spawn failed, see error
  int exit_code = -1;          // valid when exited normally
  int signal = 0;              // non-zero when the child was killed by a signal
  bool timed_out = false;
  bool cancelled = false;      // the cancel flag was raised
  std::string error;           // spawn failure text, or why the run was aborted (the sink threw)
  std::chrono::milliseconds duration{0};
};

// Receives output in chunks made of whole lines (a final partial line, or a line
// longer than 64 KiB, may come without its newline). Called on the caller's thread.
using OutputSink = std::function<void(OutputStream, std::string_view)>;

// Blocks until the child exits and its output is drained. After the main child exits,
// anything left in its process group is killed too: no orphan survives a step. A
// descendant that escaped the group (setsid) but holds the pipes open is waited for
// at most a short drain period, then the pipes are closed.
ProcessResult run_process(const ProcessSpec& spec, const OutputSink& sink,
                          const std::atomic<bool>* cancel = nullptr);

}  // namespace kiln::sys
