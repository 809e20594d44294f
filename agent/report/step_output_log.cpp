#include "agent/report/step_output_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kiln {

StepOutputLog::StepOutputLog(RunLog& log, std::string folder, std::function<std::string()> create_folder)
    : log_(log), folder_(std::move(folder)), create_folder_(std::move(create_folder)) {}

StepOutputLog::~StepOutputLog() {
  finish();
}

void StepOutputLog::write(bool is_stderr, std::string_view chunk) {
  if (chunk.empty() || finished_) return;
  Stream& s = streams_[is_stderr];
  if (!s.diverted) {
    size_t share = console_share(s, chunk);
    to_console(s, chunk.substr(0, share));
    // (no file to announce once --max-log-size drops everything: to_console counts the drop)
    if (share == chunk.size() || log_.dropping_step_output() || !divert(s)) return to_console(s, chunk.substr(share));
    chunk.remove_prefix(share);
  }
  to_file(s, chunk);
}

// How much of `chunk`, in whole lines, console.log takes: prefixed lines while they
// cost at most the allowance plus 1.5x what they hold.
size_t StepOutputLog::console_share(Stream& s, std::string_view chunk) const {
  auto fits = [&](uint64_t cost, uint64_t bytes) {
    return 2 * (s.console_cost + cost) <= 2 * kConsoleAllowance + 3 * (s.console_bytes + bytes);
  };
  if (s.failed || fits(RunLog::console_size("Info", s.prefix, chunk), chunk.size())) return chunk.size();
  const uint64_t head = RunLog::console_size("Info", s.prefix, "\n") - 1;  // the prefix of one line
  size_t taken = 0;
  uint64_t cost = 0;
  for (size_t nl; taken < chunk.size() && (nl = chunk.find('\n', taken)) != std::string_view::npos; taken = nl + 1) {
    cost += nl + 1 - taken + head;
    if (!fits(cost, nl + 1)) break;
  }
  return taken;
}

void StepOutputLog::to_console(Stream& s, std::string_view text) {
  if (text.empty()) return;
  size_t cost = RunLog::console_size("Info", s.prefix, text);
  if (!log_.admit_step_output(cost)) {
    dropped_ += text.size();
    return;
  }
  log_.console("Info", s.prefix, text);
  s.console_cost += cost;
  s.console_bytes += text.size();
}

bool StepOutputLog::divert(Stream& s) {
  std::string path = folder_ + "/" + s.file_name;
  std::string error = create_folder_ ? create_folder_() : "no step folder";
  if (error.empty()) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) s.file = ::fdopen(fd, "a");
    if (!s.file) {
      error = "cannot open " + path + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
    }
  }
  if (!error.empty()) {
    log_.application("warn", "step output stays in console.log: " + error);
    s.failed = true;
    return false;
  }
  // Chunks are at most 64 KiB; a larger buffer saves write calls on bulk output.
  std::setvbuf(s.file, nullptr, _IOFBF, 256 * 1024);
  s.diverted = true;
  log_.console("Info", "",
               "Output: the rest of this step's " + std::string(s.file_name, 6) + " goes unprefixed to " + path +
                   " (its lines are too short to prefix each one at a bounded cost)");
  return true;
}

void StepOutputLog::to_file(Stream& s, std::string_view chunk) {
  std::string masked;
  std::string_view text = log_.masker().empty() ? chunk : std::string_view(masked = log_.masker().mask(chunk));
  if (!log_.admit_step_output(text.size())) {
    dropped_ += chunk.size();
    return;
  }
  std::fwrite(text.data(), 1, text.size(), s.file);
  if (std::ferror(s.file)) log_.note_write_failure(s.file_name);
  log_.count_written(text.size());
  s.file_bytes += text.size();
}

void StepOutputLog::finish() {
  if (finished_) return;
  finished_ = true;
  for (Stream& s : streams_) {
    if (!s.file) continue;
    if (std::fclose(s.file) != 0) log_.note_write_failure(s.file_name);
    s.file = nullptr;
    log_.console("Info", "",
                 "Output: " + std::to_string(s.file_bytes) + " bytes of " + std::string(s.file_name, 6) + " went to " +
                     folder_ + "/" + s.file_name);
  }
  if (dropped_ > 0)
    log_.console("Warn", "",
                 "Output: " + std::to_string(dropped_) + " bytes of this step's output were dropped (--max-log-size)");
}

}  // namespace kiln
