// `nspawn:/path/to/root`: the root folder is booted as a container with systemd as PID 1
// (`systemd-nspawn --boot --register=no --keep-unit --console=passive -D ROOT`, in its own
// session, registered nowhere, in kilnctl's own unit) and commands run inside it with
// `nsenter -t <container PID 1> -m -u -i -p`. connect() boots it and waits until systemd
// reports the system running (`systemctl is-system-running --wait`; degraded is accepted and
// reported). A reboot is a real one: the container's systemd reboots, systemd-nspawn exits
// with 133, and the root is booted again. disconnect() powers the container off (SIGTERM to
// systemd-nspawn: an orderly halt of the container), then kills what is left; nspawn mounts
// only in its own mount namespace, so nothing is left mounted on the host.
//
// Files go in and out through the folder itself (the container writes straight into it).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "controller/phase_runner.h"  // Printer
#include "controller/target_kinds.h"

namespace kiln::ctl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr int kRebootExit = 133;  // systemd-nspawn's exit status when the container rebooted

std::string find_tool(const std::string& name) {
  for (const char* folder : {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"}) {
    std::string path = std::string(folder) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string seconds_text(Clock::duration duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", std::chrono::duration<double>(duration).count());
  return text;
}

class NspawnTarget final : public Target {
 public:
  NspawnTarget(std::string root, std::string reboot_mode, std::chrono::seconds boot_timeout,
               const std::atomic<bool>* cancel)
      : root_(std::move(root)),
        name_(std::filesystem::path(root_).filename().string()),
        reboot_mode_(std::move(reboot_mode)),
        boot_timeout_(boot_timeout),
        cancel_(cancel) {
    if (name_.empty()) name_ = "root";
  }
  ~NspawnTarget() override { disconnect(); }

  const std::string& name() const override { return name_; }
  std::string agent_reboot_mode() const override { return reboot_mode_; }

  TargetStatus connect() override {
    nspawn_tool_ = find_tool("systemd-nspawn");
    nsenter_tool_ = find_tool("nsenter");
    if (nspawn_tool_.empty())
      return TargetStatus::fail(TargetFailure::Other, "no systemd-nspawn on this machine (install systemd-container)");
    if (nsenter_tool_.empty()) return TargetStatus::fail(TargetFailure::Other, "no nsenter on this machine");
    if (::access((root_ + "/lib/systemd/systemd").c_str(), X_OK) != 0 &&
        ::access((root_ + "/usr/lib/systemd/systemd").c_str(), X_OK) != 0)
      return TargetStatus::fail(TargetFailure::Other, root_ + " has no systemd (/lib/systemd/systemd) to boot");
    int reboots = 0;
    Printer out(name_);
    return boot_until_running(boot_timeout_, [&](std::string_view text) { out.line(text); }, reboots);
  }

  CommandOutcome run(const std::string& command, const sys::OutputSink& sink) override {
    CommandOutcome outcome;
    if (!container_alive()) {
      outcome.status = TargetStatus::fail(TargetFailure::ConnectionLost, "the container is not running");
      return outcome;
    }
    sys::ProcessResult result = enter(command, sink, std::chrono::milliseconds(-1));
    if (result.cancelled) {
      outcome.status = TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
    } else if (!result.started) {
      outcome.status = TargetStatus::fail(TargetFailure::Other, result.error);
    } else if (result.signal != 0 || !container_alive()) {
      // Its PID namespace went away under it: the container shut down (a reboot).
      outcome.status = TargetStatus::fail(TargetFailure::ConnectionLost, "the container went down");
    } else if (result.exit_code == 1 && container_going_down()) {
      outcome.status = TargetStatus::fail(TargetFailure::ConnectionLost, "the container is going down");
    }
    outcome.exit_code = result.exit_code;
    return outcome;
  }

  TargetStatus upload(const std::string& local_file, const std::string& remote_path) override {
    return copy_file_into(local_file, root_ + remote_path);
  }
  TargetStatus download_folder(const std::string& remote_folder, const std::string& local_folder) override {
    return copy_folder_contents(root_ + remote_folder, local_folder);
  }

  // kilnctl reboots (--reboot-mode exit): `systemctl reboot` inside, then as after the
  // agent's own reboot.
  TargetStatus reboot_and_wait(std::chrono::seconds timeout, const ProgressSink& progress) override {
    progress("rebooting the container (systemctl reboot)");
    if (container_alive()) enter("systemctl --no-block reboot", [](sys::OutputStream, std::string_view) {},
                                 std::chrono::milliseconds(30000));
    int reboots = 0;
    return wait_for_reboot(timeout, progress, reboots);
  }

  TargetStatus wait_for_reboot(std::chrono::seconds timeout, const ProgressSink& progress, int& reboots) override {
    const auto went = Clock::now();
    if (TargetStatus down = wait_until_exited(timeout); !down.ok()) return down;
    if (exit_status_ != kRebootExit)
      return TargetStatus::fail(TargetFailure::Other, "the container stopped (systemd-nspawn exited " +
                                                          std::to_string(exit_status_) + ") instead of rebooting");
    ++reboots;
    progress("the container rebooted (down in " + seconds_text(Clock::now() - went) + "); booting it again");
    return boot_until_running(timeout, progress, reboots);
  }

  // After a lost command: if the container went down, boot it again.
  TargetStatus reconnect(std::chrono::seconds timeout, const ProgressSink& progress) override {
    if (container_alive()) return {};
    reap(false);
    int reboots = 0;
    progress("the container is down; booting it again");
    return boot_until_running(timeout, progress, reboots);
  }

  // Powers the container off: SIGTERM makes systemd-nspawn halt it in order; SIGKILL to
  // nspawn and the container's PID 1 (which takes its whole PID namespace down) if that
  // takes longer than 30 s.
  void disconnect() override {
    if (nspawn_ <= 0) return;
    if (container_alive()) {
      settle_entered_processes();
      ::kill(nspawn_, SIGTERM);
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      while (container_alive() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (container_alive()) {
        if (leader_ > 0) ::kill(leader_, SIGKILL);
        ::kill(-nspawn_, SIGKILL);
      }
    }
    reap(true);
    ::unlink(console_log_.c_str());
  }

 private:
  sys::ProcessResult enter(const std::string& command, const sys::OutputSink& sink, std::chrono::milliseconds timeout) {
    sys::ProcessSpec spec;
    spec.executable = nsenter_tool_;
    spec.arguments = {"-t", std::to_string(leader_), "-m", "-u", "-i", "-p", "--", "/usr/bin/env", "-i", kPath,
                      "HOME=/root", "LANG=C.UTF-8", "/bin/sh", "-c", command};
    spec.kill_grace = std::chrono::milliseconds(5000);  // kiln records the interruption on SIGTERM
    spec.timeout = timeout;
    // When the container shuts down, systemd stops every process in it (SIGSTOP, then
    // SIGTERM and SIGCONT). nsenter, outside, sees its child stopped and stops itself too
    // (it mirrors job control), where no SIGCONT reaches it: it never reaps its child, and
    // the container's systemd-shutdown waits 90 s for that zombie. Stopped nsenters of ours
    // are continued while a command runs.
    std::mutex mutex;
    std::condition_variable wake;
    bool done = false;
    std::thread keep_going([&] {
      std::unique_lock lock(mutex);
      // Every 20 ms (a few small reads): the stopped nsenter holds up the container's reboot.
      while (!wake.wait_for(lock, std::chrono::milliseconds(20), [&] { return done; })) continue_stopped_nsenters();
    });
    sys::ProcessResult result = sys::run_process(spec, sink, cancel_);
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    wake.notify_one();
    keep_going.join();
    return result;
  }

  // SIGCONT to every stopped nsenter that is a child of this process. Only our children are
  // read (/proc/self/task/*/children), so a scan costs a few small reads.
  static void continue_stopped_nsenters() {
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      std::istringstream children(read_text(task.path().string() + "/children"));
      for (pid_t pid = 0; children >> pid;) {
        // /proc/PID/stat: "PID (COMM) STATE ...".
        const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
        const auto close = stat.rfind(')');
        if (stat.find("(nsenter)") != std::string::npos && close != std::string::npos && close + 2 < stat.size() &&
            stat[close + 2] == 'T')
          ::kill(pid, SIGCONT);
      }
    }
  }


  // Processes in the container's PID namespace that do not descend from its PID 1: what
  // nsenter started (a kiln still finishing after SIGTERM). systemd's final SIGTERM round
  // cannot reap those (their parent is out here) and waits 10 s for them, so they are given
  // up to 5 s to end on their own (kiln records an interruption), then SIGKILLed.
  std::vector<pid_t> entered_processes() {
    std::vector<pid_t> found;
    std::error_code ec;
    const std::string namespace_id = link_target("/proc/" + std::to_string(leader_) + "/ns/pid");
    if (leader_ <= 0 || namespace_id.empty()) return found;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = std::atoi(name.c_str());
      if (pid == leader_ || link_target(entry.path().string() + "/ns/pid") != namespace_id) continue;
      pid_t up = pid;
      for (int depth = 0; depth < 64 && up > 1 && up != leader_; ++depth) up = parent_of(up);
      if (up != leader_) found.push_back(pid);
    }
    return found;
  }

  void settle_entered_processes() {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    std::vector<pid_t> left = entered_processes();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      left = entered_processes();
    }
    for (pid_t pid : left) ::kill(pid, SIGKILL);
  }

  static std::string link_target(const std::string& path) {
    std::error_code ec;
    return std::filesystem::read_symlink(path, ec).string();
  }

  static pid_t parent_of(pid_t pid) {
    std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("PPid:", 0) == 0) return std::atoi(line.c_str() + 5);
    return 0;
  }

  // Whether systemd-nspawn still runs (reaps it and keeps its exit status when not).
  bool container_alive() {
    if (nspawn_ <= 0 || exited_) return false;
    int status = 0;
    pid_t done = ::waitpid(nspawn_, &status, WNOHANG);
    if (done == 0) return true;
    exited_ = true;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }

  bool container_going_down() {
    std::string state;
    enter("systemctl is-system-running",
          [&](sys::OutputStream stream, std::string_view text) {
            if (stream == sys::OutputStream::Stdout) state.append(text);
          },
          std::chrono::milliseconds(10000));
    state = trim(state);
    return state == "stopping" || !container_alive();
  }

  // Waits (blocking) until systemd-nspawn is gone, then forgets it.
  void reap(bool kill_group) {
    if (nspawn_ <= 0) return;
    if (!exited_) {
      int status = 0;
      if (::waitpid(nspawn_, &status, 0) == nspawn_)
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      exited_ = true;
    }
    // Anything left in its session/group (it runs in its own) goes too.
    if (kill_group) ::kill(-nspawn_, SIGKILL);
    nspawn_ = -1;
    leader_ = -1;
  }

  TargetStatus wait_until_exited(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (container_alive()) {
      if (cancel_ && cancel_->load()) return TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
      if (Clock::now() >= deadline)
        return TargetStatus::fail(TargetFailure::Unreachable, "the container did not go down within " +
                                                                  std::to_string(timeout.count()) + " s");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    reap(true);
    return {};
  }

  TargetStatus start() {
    if (console_log_.empty()) {
      char path[] = "/tmp/kilnctl-nspawn-XXXXXX";
      int fd = ::mkstemp(path);
      if (fd < 0) return TargetStatus::fail(TargetFailure::Other, "cannot create a console log in /tmp");
      ::close(fd);
      console_log_ = path;
    }
    std::vector<std::string> words = {nspawn_tool_,        "--boot", "--register=no", "--keep-unit",
                                      "--console=passive", "--quiet", "-D",           root_};
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    int log = ::open(console_log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t child = ::fork();
    if (child == 0) {
      ::setsid();  // its own session: a terminal's Ctrl-C reaches kilnctl only, which powers it off
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log);
    ::close(null);
    if (child < 0) return TargetStatus::fail(TargetFailure::Other, "cannot start systemd-nspawn");
    nspawn_ = child;
    exited_ = false;
    leader_ = -1;
    return {};
  }

  // The container's PID 1 as seen here: a child of systemd-nspawn whose innermost pid is 1.
  pid_t find_leader() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = std::atoi(name.c_str());
      if (parent_of(pid) != nspawn_) continue;
      std::istringstream status(read_text(entry.path().string() + "/status"));
      std::string line;
      while (std::getline(status, line)) {
        if (line.rfind("NSpid:", 0) != 0) continue;
        auto last = line.find_last_of(" \t");
        if (last != std::string::npos && line.substr(last + 1) == "1") return pid;
      }
    }
    return -1;
  }

  std::string console_tail() {
    std::string text = read_text(console_log_);
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    return trim(text);
  }

  // Boots the root and waits until systemd says running (or degraded). If the container
  // reboots on its own before that (a resume unit that asks for another reboot), it is
  // booted again and `reboots` counts it.
  TargetStatus boot_until_running(std::chrono::seconds timeout, const ProgressSink& progress, int& reboots) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto started = Clock::now();
      if (TargetStatus spawned = start(); !spawned.ok()) return spawned;
      std::string state;
      while (state.empty()) {
        if (cancel_ && cancel_->load()) return TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
        if (Clock::now() >= deadline)
          return TargetStatus::fail(TargetFailure::Unreachable,
                                    "the container did not reach 'running' within " +
                                        std::to_string(timeout.count()) + " s");
        if (!container_alive()) break;
        if (leader_ <= 0) leader_ = find_leader();
        if (leader_ <= 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        std::string out;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        sys::ProcessResult result = enter("systemctl is-system-running --wait",
                                          [&](sys::OutputStream stream, std::string_view text) {
                                            if (stream == sys::OutputStream::Stdout) out.append(text);
                                          },
                                          left);
        if (result.cancelled) return TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
        out = trim(out);
        if (out == "running" || out == "degraded") {
          state = out;
          break;
        }
        // Not up yet (no bus), or going down again: look again shortly.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (!state.empty()) {
        std::string text = "container booted (systemd: " + state + ") in " + seconds_text(Clock::now() - started);
        if (state == "degraded") {
          std::string failed;
          enter("systemctl --failed --no-legend --plain | cut -d' ' -f1 | tr '\\n' ' '",
                [&](sys::OutputStream stream, std::string_view chunk) {
                  if (stream == sys::OutputStream::Stdout) failed.append(chunk);
                },
                std::chrono::milliseconds(10000));
          text += "; failed units: " + trim(failed);
        }
        progress(text);
        return {};
      }
      reap(true);
      if (exit_status_ != kRebootExit)
        return TargetStatus::fail(TargetFailure::Other, "systemd-nspawn exited " + std::to_string(exit_status_) +
                                                            " while booting: " + console_tail());
      ++reboots;
      progress("the container rebooted while booting (" + seconds_text(Clock::now() - started) +
               " after start); booting it again");
    }
  }

  std::string root_;
  std::string name_;
  std::string reboot_mode_;
  std::chrono::seconds boot_timeout_;
  const std::atomic<bool>* cancel_;
  std::string nspawn_tool_, nsenter_tool_;
  std::string console_log_;
  pid_t nspawn_ = -1;
  pid_t leader_ = -1;
  bool exited_ = false;
  int exit_status_ = -1;
};

}  // namespace

std::unique_ptr<Target> make_nspawn_target(const std::string& root, const std::string& reboot_mode,
                                           std::chrono::seconds boot_timeout, const std::atomic<bool>* cancel) {
  return std::make_unique<NspawnTarget>(root, reboot_mode, boot_timeout, cancel);
}

}  // namespace kiln::ctl
