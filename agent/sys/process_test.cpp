// Tests for run_process with real children (bash, coreutils). Processes that must die
// are recognised in /proc by a sleep argument made unique with our pid.
#include "agent/sys/process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kiln::sys::OutputStream;
using kiln::sys::ProcessResult;
using kiln::sys::ProcessSpec;
using kiln::sys::run_process;
using std::chrono::milliseconds;

namespace {

struct Captured {
  ProcessResult result;
  std::string out;
  std::string err;
  std::vector<std::string> out_chunks;
  long long wall_ms = 0;
};

ProcessSpec command(std::string executable, std::vector<std::string> arguments,
                    milliseconds timeout = milliseconds{-1}) {
  ProcessSpec spec;
  spec.executable = std::move(executable);
  spec.arguments = std::move(arguments);
  spec.timeout = timeout;
  return spec;
}

ProcessSpec bash(const std::string& script, milliseconds timeout = milliseconds{-1}) {
  return command("bash", {"-c", script}, timeout);
}

Captured run(const ProcessSpec& spec, const std::atomic<bool>* cancel = nullptr) {
  Captured c;
  auto sink = [&c](OutputStream stream, std::string_view chunk) {
    if (stream == OutputStream::Stdout) {
      c.out += chunk;
      c.out_chunks.emplace_back(chunk);
    } else {
      c.err += chunk;
    }
  };
  const auto start = std::chrono::steady_clock::now();
  c.result = run_process(spec, sink, cancel);
  c.wall_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
  return c;
}

// A sleep duration no other process on the machine uses, e.g. "1001.4242".
std::string unique_arg(int seconds) {
  return std::to_string(seconds) + "." + std::to_string(::getpid());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// /proc/N/stat after the ")" closing the command name: " STATE PPID PGRP ...".
struct ProcStat {
  char state = '?';
  pid_t pgrp = 0;
};

std::optional<ProcStat> proc_stat(const fs::path& dir) {
  const std::string stat = read_file(dir / "stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  ProcStat result;
  pid_t ppid = 0;
  fields >> result.state >> ppid >> result.pgrp;
  return result;
}

// Live (not zombie) processes matching a predicate. Zombies are skipped: in a container
// whose init does not reap, killed grandchildren stay zombies forever, harmlessly.
template <class Match>
std::vector<pid_t> live_processes(Match match) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto stat = proc_stat(entry.path());
    if (!stat || stat->state == 'Z' || stat->state == 'X') continue;
    if (match(entry.path(), *stat)) found.push_back(std::stoi(name));
  }
  return found;
}

std::vector<pid_t> live_with_argument(const std::string& arg) {
  return live_processes([&](const fs::path& dir, const ProcStat&) {
    const std::string cmdline = read_file(dir / "cmdline");
    std::size_t begin = 0;
    while (begin < cmdline.size()) {
      const std::size_t end = std::min(cmdline.find('\0', begin), cmdline.size());
      if (cmdline.compare(begin, end - begin, arg) == 0) return true;
      begin = end + 1;
    }
    return false;
  });
}

std::vector<pid_t> live_in_group(pid_t pgid) {
  return live_processes([&](const fs::path&, const ProcStat& stat) { return stat.pgrp == pgid; });
}

// Killed processes take a moment to disappear: poll for up to a second.
template <class Find>
bool gone_within_a_second(Find find) {
  for (int i = 0; i < 100; ++i) {
    if (find().empty()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

bool no_process_with_argument(const std::string& arg) {
  return gone_within_a_second([&] { return live_with_argument(arg); });
}

void kill_processes_with_argument(const std::string& arg) {
  for (pid_t pid : live_with_argument(arg)) ::kill(pid, SIGKILL);
}

// Every chunk but the last one of a stream ends with a newline.
bool whole_lines(const std::vector<std::string>& chunks) {
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i)
    if (chunks[i].empty() || chunks[i].back() != '\n') return false;
  return true;
}

}  // namespace

TEST_CASE("process: exit code, signal and duration") {
  Captured ok = run(command("/bin/true", {}));
  CHECK(ok.result.started);
  CHECK(ok.result.exit_code == 0);
  CHECK(ok.result.signal == 0);
  CHECK(ok.result.error.empty());
  CHECK_FALSE(ok.result.timed_out);
  CHECK_FALSE(ok.result.cancelled);

  Captured three = run(bash("exit 3"));
  CHECK(three.result.exit_code == 3);
  CHECK(three.result.signal == 0);

  Captured killed = run(bash("kill -TERM $$"));
  CHECK(killed.result.signal == SIGTERM);
  CHECK(killed.result.exit_code == -1);

  Captured huge_timeout = run(command("/bin/true", {}, milliseconds::max()));
  CHECK(huge_timeout.result.exit_code == 0);
  CHECK_FALSE(huge_timeout.result.timed_out);

  Captured slow = run(command("/bin/sleep", {"0.2"}));
  CHECK(slow.result.duration >= 200ms);
  CHECK(slow.result.duration < 2s);
}

TEST_CASE("process: stdout and stderr are separated and complete") {
  Captured c = run(bash("echo out1; echo err1 >&2; echo out2; printf err2 >&2"));
  CHECK(c.out == "out1\nout2\n");
  CHECK(c.err == "err1\nerr2");
  CHECK(c.result.exit_code == 0);
}

TEST_CASE("process: arguments arrive verbatim, without shell interpretation") {
  const std::vector<std::string> args = {"$HOME; rm -rf x", "a  b", "", "*", "`id`", "'\"\\"};
  std::vector<std::string> printf_args = {"%s|"};
  printf_args.insert(printf_args.end(), args.begin(), args.end());
  Captured c = run(command("/usr/bin/printf", printf_args));
  CHECK(c.out == "$HOME; rm -rf x|a  b||*|`id`|'\"\\|");

  Captured echo = run(command("/bin/echo", {"$HOME; rm -rf x"}));
  CHECK(echo.out == "$HOME; rm -rf x\n");
}

TEST_CASE("process: a last line without newline is delivered") {
  Captured c = run(command("/usr/bin/printf", {"a\\nb"}));
  CHECK(c.out == "a\nb");
  REQUIRE_FALSE(c.out_chunks.empty());
  CHECK(c.out_chunks.back() == "b");
  CHECK(whole_lines(c.out_chunks));
}

TEST_CASE("process: large output is delivered completely in whole lines") {
  Captured c = run(bash("yes 0123456789abcdef | head -c 2097152"));
  CHECK(c.result.exit_code == 0);
  CHECK(c.out.size() == 2097152);
  CHECK(whole_lines(c.out_chunks));
  CHECK(c.out.compare(0, 17, "0123456789abcdef\n") == 0);
  // 2097152 = 123361 * 17 + 15: the last partial line comes alone at EOF.
  CHECK(c.out_chunks.back() == "0123456789abcde");
}

TEST_CASE("process: a line longer than 64 KiB is delivered in pieces") {
  // Longer than the 256 KiB read buffer, so it cannot arrive in one chunk however the
  // reads fall (a shorter one can, when the child fills the pipe before we read).
  Captured c = run(bash("head -c 600000 /dev/zero | tr '\\0' x; echo; echo end"));
  CHECK(c.out.size() == 600000 + 5);
  CHECK(c.out.find_first_not_of('x') == 600000);
  CHECK(c.out.substr(600000) == "\nend\n");
  CHECK(c.out_chunks.size() >= 3);
  for (const std::string& chunk : c.out_chunks) CHECK(chunk.size() <= 256 * 1024);
}

TEST_CASE("process: spawn failures are reported, not thrown") {
  Captured missing = run(command("/no/such", {}));
  CHECK_FALSE(missing.result.started);
  CHECK(missing.result.error == "cannot run '/no/such': No such file or directory");

  Captured not_on_path = run(command("kiln-no-such-command", {}));
  CHECK_FALSE(not_on_path.result.started);
  CHECK(not_on_path.result.error == "cannot run 'kiln-no-such-command': No such file or directory");

  Captured not_executable = run(command("/etc/passwd", {}));
  CHECK_FALSE(not_executable.result.started);
  CHECK(not_executable.result.error == "cannot run '/etc/passwd': Permission denied");

  ProcessSpec bad_dir = command("/bin/true", {});
  bad_dir.working_directory = "/no/such/dir";
  Captured in_bad_dir = run(bad_dir);
  CHECK_FALSE(in_bad_dir.result.started);
  CHECK(in_bad_dir.result.error ==
        "cannot change to working directory '/no/such/dir': No such file or directory");
}

TEST_CASE("process: executable without '/' is searched on PATH") {
  Captured c = run(command("bash", {"-c", "echo \"$0 ran\""}));
  CHECK(c.result.started);
  CHECK(c.out == "bash ran\n");
}

TEST_CASE("process: working directory and extra environment") {
  char pattern[] = "/tmp/kiln-process-test-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const fs::path dir = fs::canonical(pattern);

  ProcessSpec spec = bash("pwd; echo \"$KILN_A|$KILN_B|$HOME|${PATH:+path set}\"");
  spec.working_directory = dir.string();
  spec.extra_environment = {"KILN_A=one two", "KILN_B=first", "HOME=/kiln-home", "KILN_B=last"};
  Captured c = run(spec);
  CHECK(c.out == dir.string() + "\none two|last|/kiln-home|path set\n");

  fs::remove(dir);
}

TEST_CASE("process: stdin is /dev/null, no other fd leaks, signals are reset") {
  Captured cat = run(command("cat", {}));
  CHECK(cat.result.exit_code == 0);
  CHECK(cat.out.empty());

  // An fd opened without O_CLOEXEC (a caller's mistake) is still not inherited.
  const int leaky = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaky >= 0);
  Captured fds = run(bash("cd /proc/self/fd && echo *"));
  ::close(leaky);
  CHECK(fds.out == "0 1 2 3\n");  // 3: the directory the glob is reading

  // The agent ignoring or blocking signals must not leak into its steps.
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGTERM, &ignore, &previous);
  sigset_t usr1;
  sigset_t old_mask;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
  Captured status = run(bash("grep -E '^Sig(Ign|Blk)' /proc/self/status"));
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGTERM, &previous, nullptr);
  // Standard signals only: glibc's posix_spawn itself leaves its two internal real-time
  // signals (32, 33) ignored in every child; glibc programs re-arm them as needed.
  REQUIRE(status.out.size() == 50);
  CHECK(status.out.substr(0, 25) == "SigBlk:\t0000000000000000\n");
  const unsigned long long ignored = std::stoull(status.out.substr(33, 16), nullptr, 16);
  CHECK((ignored & 0x7fffffffULL) == 0);  // bits 0..30: signals 1..31
}

TEST_CASE("process: a passed descriptor reaches that child as fd 3, and no other child") {
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  struct stat pipe_stat {};
  REQUIRE(::fstat(pipe_fds[0], &pipe_stat) == 0);
  const std::string pipe_name = "pipe:[" + std::to_string(pipe_stat.st_ino) + "]";
  // Ours as numbered by pipe2 (3 when that was free: dup2 onto the same number) and a high one.
  const int high = ::fcntl(pipe_fds[0], F_DUPFD_CLOEXEC, 10);
  REQUIRE(high >= 10);
  for (int passed : {pipe_fds[0], high}) {
    CAPTURE(passed);
    ProcessSpec with = bash("cd /proc/self/fd && echo * && readlink 3");
    with.passed_fd = passed;
    Captured given = run(with);
    CHECK(given.out == "0 1 2 3 4\n" + pipe_name + "\n");  // 4: the directory the glob is reading
    CHECK((::fcntl(passed, F_GETFD) & FD_CLOEXEC) != 0);   // ours stays close-on-exec
    Captured other = run(bash("cd /proc/self/fd && echo *"));
    CHECK(other.out == "0 1 2 3\n");  // 3: the directory the glob is reading
  }
  for (int fd : {high, pipe_fds[0], pipe_fds[1]}) ::close(fd);
}

TEST_CASE("process: timeout kills the whole process group") {
  const std::string a = unique_arg(1001), b = unique_arg(1002), c = unique_arg(1003);
  const std::string script =
      "sleep " + a + " & sleep " + b + " & (sleep " + c + "; echo never) & echo started $$; wait";
  Captured run1 = run(bash(script, 1000ms));
  MESSAGE("timeout 1 s with 3 background sleeps: run_process took " << run1.wall_ms << " ms");
  CHECK(run1.result.timed_out);
  CHECK_FALSE(run1.result.cancelled);
  CHECK(run1.result.signal == SIGTERM);
  CHECK(run1.result.duration >= 1000ms);
  CHECK(run1.wall_ms < 5000);
  REQUIRE(run1.out.rfind("started ", 0) == 0);
  const pid_t pgid = std::stoi(run1.out.substr(8));
  CHECK(run1.out == "started " + std::to_string(pgid) + "\n");
  // kill(-pgid, 0) would also count the zombies our non-reaping init keeps: use /proc.
  CHECK(gone_within_a_second([&] { return live_in_group(pgid); }));
  for (const std::string& arg : {a, b, c}) CHECK(no_process_with_argument(arg));
}

TEST_CASE("process: background grandchildren die when the step exits") {
  const std::string a = unique_arg(1011), b = unique_arg(1012);
  Captured c = run(bash("(sleep " + a + " &) ; sleep " + b + " & echo done"));
  MESSAGE("normal exit with background grandchildren: run_process took " << c.wall_ms << " ms");
  CHECK(c.result.exit_code == 0);
  CHECK(c.out == "done\n");
  CHECK(c.wall_ms < 5000);  // not the sleeps' 1011 s; wide: the tests run beside another shard
  CHECK(no_process_with_argument(a));
  CHECK(no_process_with_argument(b));
}

TEST_CASE("process: a child ignoring SIGTERM is killed after the grace period") {
  const std::string arg = unique_arg(1021);
  ProcessSpec spec = bash("trap '' TERM; echo ready; sleep " + arg, 500ms);
  spec.kill_grace = 500ms;
  Captured c = run(spec);
  MESSAGE("timeout 0.5 s + grace 0.5 s, SIGTERM ignored: run_process took " << c.wall_ms << " ms");
  CHECK(c.result.timed_out);
  CHECK(c.result.signal == SIGKILL);
  CHECK(c.out == "ready\n");
  CHECK(c.result.duration >= 1000ms);
  CHECK(c.wall_ms < 3000);
  CHECK(no_process_with_argument(arg));
}

TEST_CASE("process: raising the cancel flag stops the child") {
  const std::string arg = unique_arg(1031);
  std::atomic<bool> cancel{false};
  std::thread raiser([&cancel] {
    std::this_thread::sleep_for(300ms);
    cancel = true;
  });
  Captured c = run(command("sleep", {arg}), &cancel);
  raiser.join();
  MESSAGE("cancel raised after 0.3 s: run_process took " << c.wall_ms << " ms");
  CHECK(c.result.cancelled);
  CHECK_FALSE(c.result.timed_out);
  CHECK(c.result.signal == SIGTERM);
  CHECK(c.wall_ms >= 300);
  CHECK(c.wall_ms < 5000);  // not the sleep's 1031 s
  CHECK(no_process_with_argument(arg));
}

TEST_CASE("process: a setsid'd grandchild holding stdout does not hang the run") {
  const std::string arg = unique_arg(5);
  // The short sleep lets setsid happen before the group is killed, so the escape is real.
  Captured c = run(bash("setsid sleep " + arg + " & sleep 0.2; echo x"));
  MESSAGE("setsid'd grandchild holding stdout: run_process took " << c.wall_ms << " ms");
  CHECK(c.result.exit_code == 0);
  CHECK(c.out == "x\n");
  CHECK(c.wall_ms < 3500);  // the drain gave up well before the escaped sleep's 5 s
  CHECK_FALSE(live_with_argument(arg).empty());  // it did escape: the drain was exercised
  kill_processes_with_argument(arg);
  CHECK(no_process_with_argument(arg));
}

TEST_CASE("process: a throwing sink aborts the run without leaking the child") {
  const std::string arg = unique_arg(1041);
  auto sink = [](OutputStream, std::string_view) { throw std::runtime_error("disk full"); };
  ProcessResult r = run_process(bash("echo hi; sleep " + arg), sink);
  CHECK(r.started);
  CHECK(r.error == "process run aborted: disk full");
  CHECK(r.duration < 2s);
  CHECK(no_process_with_argument(arg));
}
