// run_process: posix_spawn + poll() loop. Notes for callers:
// - Every fd the agent opens must be O_CLOEXEC (std::fopen "e", open(O_CLOEXEC), pipe2,
//   accept4(SOCK_CLOEXEC), ...): a leaked pipe end in a child keeps another step's
//   output from reaching EOF. The child also closes every fd >= 3 before exec
//   (posix_spawn_file_actions_addclosefrom_np) as a second line of defence; only
//   ProcessSpec::passed_fd, given to that one child as fd 3, is kept.
// - PATH search for an executable without '/' uses the agent's PATH, not one given in
//   extra_environment (glibc's posix_spawnp reads the caller's environment).
// - A relative executable path is resolved in working_directory (the child changes
//   directory before exec).
// - Every catchable signal is reset to its default disposition in the child and its
//   signal mask is emptied, whatever the agent has installed or inherited.
#include "agent/sys/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <system_error>
#include <utility>

extern char** environ;

namespace kiln::sys {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long output is still read after the main child exited and its group was
// killed: only a descendant that left the group (setsid) can hold the pipes longer.
constexpr milliseconds kDrainPeriod{200};
// Poll period for the cancel flag, and for the child's exit when no pidfd is available.
constexpr milliseconds kCancelPollPeriod{100};
constexpr milliseconds kExitPollPeriod{20};

// Keeps deadline arithmetic on steady_clock's nanoseconds from overflowing.
milliseconds clamp_duration(milliseconds d) {
  constexpr milliseconds kLongest = std::chrono::hours(24 * 365 * 100);
  return std::clamp(d, milliseconds::zero(), kLongest);
}

std::string errno_text(int error) { return std::generic_category().message(error); }

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Returns 0 or an errno. Both ends are close-on-exec and numbered above 2: an agent
// started with stdio closed could otherwise get a pipe end at fd 1 or 2, which the
// child's dup2 onto 1 and 2 might overwrite before using it.
int make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  for (UniqueFd* end : {&read_end, &write_end}) {
    if (end->get() > 2) continue;
    int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return errno;
    end->reset(moved);
  }
  return 0;
}

// Best effort: a 1 MiB pipe instead of 64 KiB halves the time to stream bulk output
// (fewer context switches). Only for stdout, to spare the user's pipe-page budget, and
// only once the child has filled half the default pipe: most steps print a few lines.
void enlarge_pipe(const UniqueFd& fd) { ::fcntl(fd.get(), F_SETPIPE_SZ, 1 << 20); }

// /dev/null for the children's stdin, opened once (close-on-exec; the child's dup2 onto
// 0 clears that): opening it in every child cost a path lookup while the agent waits.
int dev_null() {
  static const int fd = [] {
    int opened = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (opened >= 0 && opened <= 2) {  // never one of our own stdio numbers
      int moved = ::fcntl(opened, F_DUPFD_CLOEXEC, 3);
      ::close(opened);
      opened = moved;
    }
    return opened;
  }();
  return fd;
}

std::string_view variable_name(std::string_view entry) { return entry.substr(0, entry.find('=')); }

// Our environment with extra entries added; an extra entry replaces any variable of the
// same name (ours or an earlier extra one).
std::vector<std::string> build_environment(const std::vector<std::string>& extra) {
  auto overridden_after = [&](std::string_view name, std::size_t first) {
    for (std::size_t i = first; i < extra.size(); ++i)
      if (variable_name(extra[i]) == name) return true;
    return false;
  };
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
    if (!overridden_after(variable_name(*entry), 0)) env.emplace_back(*entry);
  for (std::size_t i = 0; i < extra.size(); ++i)
    if (!overridden_after(variable_name(extra[i]), i + 1)) env.push_back(extra[i]);
  return env;
}

// posix_spawn wants a null-terminated char* array; it does not modify the strings.
std::vector<char*> c_array(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

class SpawnAttributes {
 public:
  SpawnAttributes() { ::posix_spawnattr_init(&attr_); }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class FileActions {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// Records the first non-zero return code of a sequence of posix_spawn* setup calls.
struct FirstError {
  int code = 0;
  void operator()(int rc) {
    if (code == 0) code = rc;
  }
};

// Own process group, empty signal mask, all signals at their default action.
int configure_attributes(posix_spawnattr_t* attr) {
  sigset_t empty;
  sigset_t all;
  ::sigemptyset(&empty);
  ::sigfillset(&all);
  FirstError error;
  error(::posix_spawnattr_setflags(
      attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  error(::posix_spawnattr_setpgroup(attr, 0));
  error(::posix_spawnattr_setsigmask(attr, &empty));
  error(::posix_spawnattr_setsigdefault(attr, &all));
  return error.code;
}

// stdin from /dev/null, stdout/stderr into our pipes, the passed descriptor (if any) as
// kPassedFd (dup2 clears the CLOEXEC of each), nothing else inherited. The passed one is
// duplicated after stdout and stderr, so that a pipe end numbered kPassedFd in the agent
// is already in place when it is overwritten; spawn_child keeps the passed one itself
// off that number.
int configure_file_actions(posix_spawn_file_actions_t* actions, int stdout_fd, int stderr_fd, int passed_fd,
                           const std::string& working_directory, const std::string& stdin_file) {
  FirstError error;
  if (!stdin_file.empty())
    error(::posix_spawn_file_actions_addopen(actions, STDIN_FILENO, stdin_file.c_str(), O_RDONLY, 0));
  else if (int null_fd = dev_null(); null_fd >= 0)
    error(::posix_spawn_file_actions_adddup2(actions, null_fd, STDIN_FILENO));
  else
    error(::posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0));
  error(::posix_spawn_file_actions_adddup2(actions, stdout_fd, STDOUT_FILENO));
  error(::posix_spawn_file_actions_adddup2(actions, stderr_fd, STDERR_FILENO));
  int first_closed = STDERR_FILENO + 1;
  if (passed_fd >= 0) {
    error(::posix_spawn_file_actions_adddup2(actions, passed_fd, kPassedFd));
    first_closed = kPassedFd + 1;
  }
  if (!working_directory.empty())
    error(::posix_spawn_file_actions_addchdir_np(actions, working_directory.c_str()));
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
  error(::posix_spawn_file_actions_addclosefrom_np(actions, first_closed));
#else
  (void)first_closed;
#endif
  return error.code;
}

// Starts the child; returns 0 or an errno. Exec failures are included: glibc's
// posix_spawn waits for the exec (CLONE_VFORK) and returns its errno.
int spawn_child(const ProcessSpec& spec, int stdout_fd, int stderr_fd, pid_t& pid) {
  SpawnAttributes attr;
  FileActions actions;
  if (int rc = configure_attributes(attr.get()); rc != 0) return rc;
  // dup2 onto its own number would keep CLOEXEC set in older C libraries: move it off kPassedFd.
  UniqueFd moved_passed_fd;
  int passed_fd = spec.passed_fd;
  if (passed_fd == kPassedFd) {
    moved_passed_fd.reset(::fcntl(passed_fd, F_DUPFD_CLOEXEC, kPassedFd + 1));
    if (!moved_passed_fd) return errno;
    passed_fd = moved_passed_fd.get();
  }
  if (int rc = configure_file_actions(actions.get(), stdout_fd, stderr_fd, passed_fd, spec.working_directory, spec.stdin_file); rc != 0)
    return rc;

  std::vector<std::string> argv_strings;
  argv_strings.reserve(spec.arguments.size() + 1);
  argv_strings.push_back(spec.executable);
  argv_strings.insert(argv_strings.end(), spec.arguments.begin(), spec.arguments.end());
  const std::vector<std::string> env_strings = build_environment(spec.extra_environment);
  std::vector<char*> argv = c_array(argv_strings);
  std::vector<char*> envp = c_array(env_strings);

  const bool search_path = spec.executable.find('/') == std::string::npos;
  auto spawn = search_path ? ::posix_spawnp : ::posix_spawn;
  return spawn(&pid, spec.executable.c_str(), actions.get(), attr.get(), argv.data(), envp.data());
}

// A failed chdir is reported by posix_spawn like a failed exec; name the real culprit.
std::string spawn_error_text(const ProcessSpec& spec, int error) {
  const std::string& dir = spec.working_directory;
  if (!dir.empty()) {
    struct stat info {};
    int dir_error = 0;
    if (::stat(dir.c_str(), &info) != 0)
      dir_error = errno;
    else if (!S_ISDIR(info.st_mode))
      dir_error = ENOTDIR;
    else if (::access(dir.c_str(), X_OK) != 0)
      dir_error = errno;
    if (dir_error != 0)
      return "cannot change to working directory '" + dir + "': " + errno_text(dir_error);
  }
  return "cannot run '" + spec.executable + "': " + errno_text(error);
}

// The spawned child, leader of its own process group (pgid == pid). It is reaped only
// after its group was killed, so the pgid cannot be reused while we signal it. The
// destructor kills and reaps whatever is left, so no path (exceptions included)
// leaves a zombie or a running group behind.
class Child {
 public:
  explicit Child(pid_t pid)
      : pid_(pid), pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  ~Child() {
    if (reaped_) return;
    kill_group(SIGKILL);
    reap();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Readable once the child exits; -1 when pidfds are unavailable (kernel < 5.3, seccomp).
  int exit_fd() const { return pidfd_.get(); }

  // Leaves the zombie in place (WNOWAIT) so the group id stays valid.
  bool has_exited() const {
    siginfo_t info{};
    int rc;
    do {
      rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return true;  // ECHILD: reaped behind our back (SIGCHLD set to SIG_IGN)
    return info.si_pid == pid_;
  }

  void kill_group(int signal) const { ::killpg(pid_, signal); }  // ESRCH is fine

  // The wait status, or nothing when the child was reaped elsewhere.
  std::optional<int> reap() {
    reaped_ = true;
    pidfd_.reset();
    int status = 0;
    pid_t rc;
    do {
      rc = ::waitpid(pid_, &status, 0);
    } while (rc < 0 && errno == EINTR);
    if (rc != pid_) return std::nullopt;
    return status;
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  bool reaped_ = false;
};

// One output pipe. Reads large blocks and hands the sink everything up to the last
// newline in one call; only the partial last line (under 64 KiB) is kept between reads.
class LineReader {
 public:
  LineReader(OutputStream stream, UniqueFd fd, bool enlarge_when_busy = false)
      : stream_(stream),
        fd_(std::move(fd)),
        buffer_(std::make_unique_for_overwrite<char[]>(kCapacity)),
        enlarge_when_busy_(enlarge_when_busy) {}

  int fd() const { return fd_.get(); }
  bool is_open() const { return static_cast<bool>(fd_); }

  // One read(); at EOF or on a read error the pipe is closed and the rest flushed.
  void read_some(const OutputSink& sink) {
    ssize_t n = ::read(fd_.get(), buffer_.get() + used_, kCapacity - used_);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      finish(sink);
      return;
    }
    if (enlarge_when_busy_ && n >= 32 * 1024) {
      enlarge_pipe(fd_);
      enlarge_when_busy_ = false;
    }
    const char* fresh = buffer_.get() + used_;
    used_ += static_cast<std::size_t>(n);
    const void* newline = ::memrchr(fresh, '\n', static_cast<std::size_t>(n));
    std::size_t complete =
        newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - buffer_.get()) + 1
                : 0;
    if (used_ - complete >= kMaxLine) complete = used_;  // overlong line: deliver as is
    deliver(sink, complete);
  }

  void finish(const OutputSink& sink) {
    fd_.reset();
    deliver(sink, used_);
  }

 private:
  static constexpr std::size_t kMaxLine = 64 * 1024;
  // Leaves room for reads of at least 192 KiB next to a kept partial line.
  static constexpr std::size_t kCapacity = 4 * kMaxLine;

  void deliver(const OutputSink& sink, std::size_t count) {
    if (count == 0) return;
    sink(stream_, std::string_view(buffer_.get(), count));
    used_ -= count;
    std::memmove(buffer_.get(), buffer_.get() + count, used_);
  }

  OutputStream stream_;
  UniqueFd fd_;
  std::unique_ptr<char[]> buffer_;
  bool enlarge_when_busy_ = false;
  std::size_t used_ = 0;
};

int poll_timeout_ms(Clock::time_point now, std::optional<Clock::time_point> wake) {
  if (!wake) return -1;
  if (*wake <= now) return 0;
  auto wait = std::chrono::ceil<milliseconds>(*wake - now).count();
  return static_cast<int>(std::min<decltype(wait)>(wait, 60'000));
}

// Drives one started child to its end: reads output, enforces timeout and cancel,
// and after the child's exit kills its group and drains the pipes briefly.
class Supervisor {
 public:
  Supervisor(const ProcessSpec& spec, const OutputSink& sink, const std::atomic<bool>* cancel,
             Clock::time_point started, pid_t pid, UniqueFd stdout_read, UniqueFd stderr_read)
      : spec_(spec),
        sink_(sink),
        cancel_(cancel),
        child_(pid),
        out_(OutputStream::Stdout, std::move(stdout_read), /*enlarge_when_busy=*/true),
        err_(OutputStream::Stderr, std::move(stderr_read)) {
    if (spec.timeout >= milliseconds::zero()) deadline_ = started + clamp_duration(spec.timeout);
  }

  void run(ProcessResult& result) {
    while (!finished(Clock::now())) {
      enforce_limits(Clock::now(), result);
      wait_and_read();
      if (!child_done() && child_may_have_exited_ && child_.has_exited()) on_child_exit();
    }
    out_.finish(sink_);
    err_.finish(sink_);
    record_status(result);
  }

 private:
  bool child_done() const { return drain_until_.has_value(); }

  bool finished(Clock::time_point now) const {
    if (!child_done()) return false;
    return (!out_.is_open() && !err_.is_open()) || now >= *drain_until_;
  }

  // Timeout or cancel: SIGTERM the group, SIGKILL it after the grace period.
  void enforce_limits(Clock::time_point now, ProcessResult& result) {
    if (child_done()) return;
    if (!kill_at_) {
      if (deadline_ && now >= *deadline_)
        result.timed_out = true;
      else if (cancel_ != nullptr && cancel_->load())
        result.cancelled = true;
      else
        return;
      child_.kill_group(SIGTERM);
      child_.kill_group(SIGCONT);  // a stopped process acts on SIGTERM only once continued
      kill_at_ = now + clamp_duration(spec_.kill_grace);
    }
    if (!killed_ && now >= *kill_at_) {
      child_.kill_group(SIGKILL);
      killed_ = true;
    }
  }

  std::optional<Clock::time_point> next_wake(Clock::time_point now) const {
    std::optional<Clock::time_point> wake;
    auto consider = [&wake](Clock::time_point t) {
      if (!wake || t < *wake) wake = t;
    };
    if (child_done()) {
      consider(*drain_until_);
      return wake;
    }
    if (kill_at_) {
      if (!killed_) consider(*kill_at_);
    } else {
      if (deadline_) consider(*deadline_);
      if (cancel_ != nullptr) consider(now + kCancelPollPeriod);
    }
    if (child_.exit_fd() < 0) consider(now + kExitPollPeriod);
    return wake;
  }

  void wait_and_read() {
    pollfd fds[3];
    nfds_t count = 0;
    auto add = [&](int fd) {
      fds[count] = pollfd{fd, POLLIN, 0};
      return count++;
    };
    const nfds_t none = 3;
    nfds_t out_index = out_.is_open() ? add(out_.fd()) : none;
    nfds_t err_index = err_.is_open() ? add(err_.fd()) : none;
    nfds_t exit_index = (!child_done() && child_.exit_fd() >= 0) ? add(child_.exit_fd()) : none;

    const auto now = Clock::now();
    int rc = ::poll(fds, count, poll_timeout_ms(now, next_wake(now)));
    child_may_have_exited_ = child_.exit_fd() < 0;
    if (rc <= 0) return;  // timeout, or EINTR: the loop re-checks everything

    auto ready = [&](nfds_t index) { return index != none && fds[index].revents != 0; };
    if (ready(out_index)) out_.read_some(sink_);
    if (ready(err_index)) err_.read_some(sink_);
    if (ready(exit_index)) child_may_have_exited_ = true;
  }

  // Kill leftovers in the group while the zombie still holds the group id, then reap.
  void on_child_exit() {
    child_.kill_group(SIGKILL);
    wait_status_ = child_.reap();
    drain_until_ = Clock::now() + kDrainPeriod;
  }

  void record_status(ProcessResult& result) const {
    if (!wait_status_) return;  // reaped elsewhere: status unknown
    int status = *wait_status_;
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }

  const ProcessSpec& spec_;
  const OutputSink& sink_;
  const std::atomic<bool>* cancel_;
  Child child_;
  LineReader out_;
  LineReader err_;
  std::optional<Clock::time_point> deadline_;  // timeout expiry
  std::optional<Clock::time_point> kill_at_;   // set once SIGTERM was sent
  bool killed_ = false;                        // SIGKILL sent after the grace
  bool child_may_have_exited_ = false;
  std::optional<Clock::time_point> drain_until_;  // set once the child is reaped
  std::optional<int> wait_status_;
};

void start_and_supervise(const ProcessSpec& spec, const OutputSink& sink,
                         const std::atomic<bool>* cancel, Clock::time_point started,
                         ProcessResult& result) {
  UniqueFd out_read, out_write, err_read, err_write;
  int error = make_pipe(out_read, out_write);
  if (error == 0) error = make_pipe(err_read, err_write);
  pid_t pid = -1;
  if (error == 0) error = spawn_child(spec, out_write.get(), err_write.get(), pid);
  if (error != 0) {
    result.error = spawn_error_text(spec, error);
    return;
  }
  result.started = true;
  // Our copies of the write ends must go, or the pipes never reach EOF.
  out_write.reset();
  err_write.reset();
  Supervisor supervisor(spec, sink, cancel, started, pid, std::move(out_read), std::move(err_read));
  supervisor.run(result);
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec, const OutputSink& sink,
                          const std::atomic<bool>* cancel) {
  ProcessResult result;
  const auto started = Clock::now();
  try {
    start_and_supervise(spec, sink, cancel, started, result);
  } catch (const std::exception& e) {
    // Most likely the sink threw; the child's group was killed and reaped on the way out.
    result.error = std::string("process run aborted: ") + e.what();
  } catch (...) {
    result.error = "process run aborted by an unknown exception";
  }
  result.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  return result;
}

}  // namespace kiln::sys
