// Runs the built kilnctl (KILNCTL_BINARY) for its end-to-end tests: in the foreground
// (exit code and combined output), or in the background for tests that cut a connection
// or send SIGINT mid-step.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

extern char** environ;

namespace kiln::test {

class KilnctlProcess {
 public:
  KilnctlProcess(const std::vector<std::string>& arguments, const std::string& output_file)
      : output_file_(output_file) {
    std::vector<std::string> strings = {KILNCTL_BINARY};
    strings.insert(strings.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    if (::posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&files);
  }
  ~KilnctlProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  KilnctlProcess(const KilnctlProcess&) = delete;
  KilnctlProcess& operator=(const KilnctlProcess&) = delete;

  void signal(int number) const {
    if (pid_ > 0) ::kill(pid_, number);
  }
  // The exit code (128 + signal when killed), -1 when it did not end within `timeout`.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(180)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  std::string output() const { return read_file(output_file_); }

 private:
  std::string output_file_;
  pid_t pid_ = -1;
};

struct KilnctlResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

inline KilnctlResult run_kilnctl(const std::vector<std::string>& arguments, const std::string& output_file) {
  KilnctlProcess process(arguments, output_file);
  KilnctlResult result;
  result.exit_code = process.wait();
  result.output = process.output();
  return result;
}

// Waits until `path` contains `text` (at most `timeout`).
inline bool wait_for_text(const std::string& path, const std::string& text,
                          std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_file(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace kiln::test
