// `ssh://user@host[:port]`: the system OpenSSH client over one shared connection.
//
// kilnctl starts and owns the connection master itself (`ssh -o ControlMaster=yes -N`, ControlPersist=no, in
// its own process group, stderr to a file in a private 0700 temp folder that also holds
// the ControlPath socket). Every command, upload (cat on stdin) and tar download goes through
// that socket (a client that finds no master connects on its own).
// Owning the master rather than letting ControlPersist fork one into the background means
// kilnctl knows when the connection died (the master exits), can start a new one after a
// reboot, and leaves no master behind when it exits. Cost measured here: ~430 ms per
// fresh `ssh true`, ~210 ms through a master (toolchain-notes §4).
//
// Why a command failed is read from ssh's own exit code (255: ssh itself failed) and, for
// connect failures only, from the master's stderr (publickey refusal vs. no route); that
// text lives in classify_connect_error() alone.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "controller/target_kinds.h"

extern char** environ;

namespace kiln::ctl {
namespace {

using Clock = std::chrono::steady_clock;

TargetStatus classify_connect_error(const std::string& stderr_text) {
  std::string last_line = stderr_text;
  while (!last_line.empty() && last_line.back() == '\n') last_line.pop_back();
  if (auto newline = last_line.rfind('\n'); newline != std::string::npos) last_line = last_line.substr(newline + 1);
  for (const char* marker : {"Permission denied", "Too many authentication failures", "Host key verification failed",
                             "no matching host key type", "Authentication failed"})
    if (stderr_text.find(marker) != std::string::npos)
      return TargetStatus::fail(TargetFailure::Authentication, "authentication refused: " + last_line);
  return TargetStatus::fail(TargetFailure::Unreachable,
                            "unreachable: " + (last_line.empty() ? "ssh failed" : last_line));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SshTarget final : public Target {
 public:
  SshTarget(const SshAddress& address, const RunOptions& options, const std::atomic<bool>* cancel)
      : address_(address), options_(options), cancel_(cancel) {
    name_ = address.host + (address.port ? "_" + std::to_string(address.port) : "");
    char folder[] = "/tmp/kilnctl-XXXXXX";
    if (::mkdtemp(folder) != nullptr) private_folder_ = folder;
    destination_ = (address.user.empty() ? "" : address.user + "@") + address.host;
  }
  ~SshTarget() override {
    disconnect();
    if (!private_folder_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(private_folder_, ec);
    }
  }

  const std::string& name() const override { return name_; }

  TargetStatus connect() override {
    if (private_folder_.empty()) return TargetStatus::fail(TargetFailure::Other, "cannot create a private temp folder");
    return start_master();
  }

  CommandOutcome run(const std::string& command, const sys::OutputSink& sink) override {
    std::vector<std::string> arguments = common_options("-p");
    arguments.insert(arguments.end(), {"-T", destination_, "--", command});
    CommandOutcome outcome = spawn("ssh", arguments, sink);
    // 255: ssh itself failed, so the connection dropped (its stderr may read "Master refused
    // session request: Permission denied" when the master is going down: not an auth
    // failure). reconnect() starts a new master and tells an auth failure from a dead host.
    if (outcome.status.ok() && outcome.exit_code == 255)
      outcome.status = TargetStatus::fail(TargetFailure::ConnectionLost, "connection lost");
    return outcome;
  }

  // One session per file: the file on ssh's stdin, written beside the target and renamed
  // over it. A kiln binary that is running there (a previous run's agent) cannot be written
  // over ("Text file busy"), but can be replaced.
  TargetStatus upload(const std::string& local_file, const std::string& remote_path) override {
    std::error_code ec;
    const auto permissions = std::filesystem::status(local_file, ec).permissions();
    if (ec) return TargetStatus::fail(TargetFailure::Other, "cannot read " + local_file + ": " + ec.message());
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(permissions) & 0777u);
    const std::string parent = std::filesystem::path(remote_path).parent_path().string();
    const std::string partial = remote_path + ".kilnctl-upload";
    const std::string command = "mkdir -p " + shell_quote(parent) + " && cat > " + shell_quote(partial) +
                                " && chmod " + mode + " " + shell_quote(partial) + " && mv -f " + shell_quote(partial) +
                                " " + shell_quote(remote_path);
    std::vector<std::string> arguments = common_options("-p");
    arguments.insert(arguments.end(), {"-T", destination_, "--", command});
    std::string errors;
    CommandOutcome copied = spawn(
        "ssh", arguments,
        [&](sys::OutputStream stream, std::string_view text) {
          if (stream == sys::OutputStream::Stderr) errors.append(text);
        },
        local_file);
    if (!copied.status.ok()) return copied.status;
    if (copied.exit_code == 255) return TargetStatus::fail(TargetFailure::ConnectionLost, "connection lost");
    if (copied.exit_code != 0)
      return TargetStatus::fail(TargetFailure::Other,
                                "upload of " + local_file + " to " + remote_path + " failed: " + errors);
    return {};
  }

  // tar through the same connection: one round trip, modes and nesting kept, and the
  // contents land in `local_folder` itself (scp -r would nest a folder on a second run).
  TargetStatus download_folder(const std::string& remote_folder, const std::string& local_folder) override {
    std::error_code ec;
    std::filesystem::create_directories(local_folder, ec);
    std::string ssh_line = "ssh";
    for (const auto& argument : common_options("-p")) ssh_line += " " + shell_quote(argument);
    ssh_line +=
        " -T " + shell_quote(destination_) + " -- " + shell_quote("tar -C " + shell_quote(remote_folder) + " -cf - .");
    std::string pipeline =
        "set -o pipefail 2>/dev/null; " + ssh_line + " | tar -C " + shell_quote(local_folder) + " -xf -";
    std::string errors;
    CommandOutcome copied =
        spawn("/bin/bash", {"-c", pipeline}, [&](sys::OutputStream, std::string_view text) { errors.append(text); });
    if (!copied.status.ok()) return copied.status;
    if (copied.exit_code != 0)
      return TargetStatus::fail(TargetFailure::Other, "download of " + remote_folder + " failed: " + errors);
    return {};
  }

  // The reboot command usually takes the connection down with it (exit 255 is expected).
  // Then: wait until the target has gone down (the master exits) or its boot id changed,
  // and until a new master connects.
  TargetStatus reboot_and_wait(std::chrono::seconds timeout, const ProgressSink& progress) override {
    std::string boot_before = boot_id();
    progress("rebooting with: " + options_.reboot_command);
    auto quiet = [](sys::OutputStream, std::string_view) {};
    CommandOutcome rebooted = run(options_.reboot_command, quiet);
    if (rebooted.status.failure == TargetFailure::Cancelled) return rebooted.status;
    if (rebooted.status.ok() && rebooted.exit_code != 0)
      return TargetStatus::fail(TargetFailure::Other,
                                "the reboot command exited " + std::to_string(rebooted.exit_code));
    const auto deadline = Clock::now() + timeout;
    auto next_report = Clock::now() + std::chrono::seconds(5);
    const auto started = Clock::now();
    while (master_alive()) {
      if (cancelled()) return TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
      if (Clock::now() >= deadline)
        return TargetStatus::fail(TargetFailure::Unreachable, "the target did not go down within the reboot timeout");
      std::string now_boot = boot_id();
      if (!boot_before.empty() && !now_boot.empty() && now_boot != boot_before) return {};
      report(progress, started, timeout, next_report, "waiting for the target to go down");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
    TargetStatus back = reconnect(std::max(left, std::chrono::seconds(1)), progress);
    if (back.failure == TargetFailure::Unreachable)
      back.message = "not back within --reboot-timeout " + std::to_string(timeout.count()) + " s after the reboot (" +
                     back.message + ")";
    return back;
  }

  TargetStatus reconnect(std::chrono::seconds timeout, const ProgressSink& progress) override {
    stop_master();
    const auto started = Clock::now();
    const auto deadline = started + timeout;
    auto next_report = started + std::chrono::seconds(5);
    for (;;) {
      TargetStatus status = start_master();
      if (status.ok() || status.failure == TargetFailure::Authentication || status.failure == TargetFailure::Cancelled)
        return status;
      if (Clock::now() >= deadline)
        return TargetStatus::fail(TargetFailure::Unreachable,
                                  "not back within " + std::to_string(timeout.count()) + " s (" + status.message + ")");
      report(progress, started, timeout, next_report, "waiting for the target to answer");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  void disconnect() override { stop_master(); }

 private:
  // The options every ssh/scp call shares. The user's --ssh-option entries come first:
  // ssh keeps the first value it reads for an option, so they win over our defaults.
  std::vector<std::string> common_options(const char* port_flag) const {
    std::vector<std::string> arguments;
    for (const auto& option : options_.ssh_options) arguments.insert(arguments.end(), {"-o", option});
    if (address_.port) arguments.insert(arguments.end(), {port_flag, std::to_string(address_.port)});
    if (!options_.identity.empty()) arguments.insert(arguments.end(), {"-i", options_.identity});
    for (const char* option : {"BatchMode=yes", "ControlMaster=no", "ServerAliveInterval=5", "ServerAliveCountMax=3",
                               "ConnectTimeout=10", "LogLevel=ERROR"})
      arguments.insert(arguments.end(), {"-o", option});
    arguments.insert(arguments.end(), {"-o", "ControlPath=" + private_folder_ + "/cm"});
    return arguments;
  }

  CommandOutcome spawn(const std::string& program, const std::vector<std::string>& arguments,
                       const sys::OutputSink& sink, const std::string& stdin_file = "") {
    sys::ProcessSpec spec;
    spec.executable = program;
    spec.arguments = arguments;
    spec.stdin_file = stdin_file;
    sys::ProcessResult result = sys::run_process(spec, sink, cancel_);
    CommandOutcome outcome;
    if (result.cancelled)
      outcome.status = TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
    else if (!result.started)
      outcome.status = TargetStatus::fail(TargetFailure::Other, program + ": " + result.error);
    else if (result.signal != 0)
      outcome.status = TargetStatus::fail(TargetFailure::ConnectionLost, program + " was killed");
    outcome.exit_code = result.exit_code;
    return outcome;
  }

  TargetStatus start_master() {
    stop_master();
    // ControlMaster=yes comes first, so it wins over the shared "no". Not -M as well: -M
    // on top of ControlMaster=yes means "ask" (every session would need a confirmation).
    std::vector<std::string> strings = {"ssh", "-o", "ControlMaster=yes", "-N", "-o", "ControlPersist=no"};
    auto shared = common_options("-p");
    strings.insert(strings.end(), shared.begin(), shared.end());
    strings.push_back(destination_);
    std::vector<char*> argv;
    for (auto& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    master_log_ = private_folder_ + "/master.log";
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, master_log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // Own process group (a terminal's Ctrl-C reaches kilnctl only), and signals at their
    // defaults: kilnctl ignores SIGPIPE, ssh should not inherit that.
    sigset_t no_signals, all_signals;
    sigemptyset(&no_signals);
    sigfillset(&all_signals);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setsigmask(&attributes, &no_signals);
    posix_spawnattr_setsigdefault(&attributes, &all_signals);
    int rc = ::posix_spawnp(&master_pid_, "ssh", &files, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
      master_pid_ = -1;
      return TargetStatus::fail(TargetFailure::Other, "cannot start ssh");
    }
    // Ready when the control socket answers; failed when the master exits first.
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      if (cancelled()) return TargetStatus::fail(TargetFailure::Cancelled, "interrupted");
      if (!master_alive()) return classify_connect_error(read_file(master_log_));
      // The control socket appears once the master has logged in: a cheap look every 5 ms,
      // then one `ssh -O check` (a polled check cost ~25 ms of every run).
      std::error_code missing;
      if (std::filesystem::exists(private_folder_ + "/cm", missing) && check_master()) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop_master();
    return TargetStatus::fail(TargetFailure::Unreachable, "unreachable: no connection within 20 s");
  }

  bool check_master() {
    std::vector<std::string> arguments = {"-o", "ControlPath=" + private_folder_ + "/cm", "-O", "check", destination_};
    CommandOutcome checked = spawn("ssh", arguments, [](sys::OutputStream, std::string_view) {});
    return checked.status.ok() && checked.exit_code == 0;
  }

  bool master_alive() {
    if (master_pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(master_pid_, &status, WNOHANG) == 0) return true;
    master_pid_ = -1;
    return false;
  }

  void stop_master() {
    if (master_pid_ <= 0) return;
    ::kill(-master_pid_, SIGTERM);
    for (int i = 0; i < 1000 && master_alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (master_pid_ > 0) {
      ::kill(-master_pid_, SIGKILL);
      ::waitpid(master_pid_, nullptr, 0);
      master_pid_ = -1;
    }
    std::error_code ec;
    std::filesystem::remove(private_folder_ + "/cm", ec);
  }

  std::string boot_id() {
    std::string text;
    CommandOutcome read =
        run("cat /proc/sys/kernel/random/boot_id", [&](sys::OutputStream stream, std::string_view chunk) {
          if (stream == sys::OutputStream::Stdout) text.append(chunk);
        });
    if (!read.status.ok() || read.exit_code != 0) return {};
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }

  bool cancelled() const { return cancel_ != nullptr && cancel_->load(); }

  void report(const ProgressSink& progress, Clock::time_point started, std::chrono::seconds timeout,
              Clock::time_point& next, const std::string& what) {
    if (Clock::now() < next) return;
    next = Clock::now() + std::chrono::seconds(5);
    auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
    progress(what + " (" + std::to_string(waited) + " s of " + std::to_string(timeout.count()) + " s)");
  }

  SshAddress address_;
  RunOptions options_;
  const std::atomic<bool>* cancel_;
  std::string name_;
  std::string destination_;
  std::string private_folder_;
  std::string master_log_;
  pid_t master_pid_ = -1;
};

}  // namespace

std::unique_ptr<Target> make_ssh_target(const SshAddress& address, const RunOptions& options,
                                        const std::atomic<bool>* cancel) {
  return std::make_unique<SshTarget>(address, options, cancel);
}

}  // namespace kiln::ctl
