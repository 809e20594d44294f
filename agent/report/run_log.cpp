#include "agent/report/run_log.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "agent/base/durable_file.h"

namespace kiln {
namespace {

std::FILE* open_for_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nullptr;
  std::FILE* f = ::fdopen(fd, "a");
  if (!f) ::close(fd);
  return f;
}

// Folder names cannot hold '/': execution ids such as "/i-0123" are kept readable.
std::string folder_safe(const std::string& id) {
  std::string out = id;
  for (char& c : out)
    if (c == '/' || c == '\\' || c == '\0') c = '_';
  return out;
}

}  // namespace

struct RunLog::AppLogger {
  std::shared_ptr<spdlog::logger> logger;
};

RunLog::RunLog() = default;

RunLog::~RunLog() {
  if (console_) std::fclose(console_);
  if (events_) std::fclose(events_);
  if (app_ && app_->logger) {
    app_->logger->flush();
    spdlog::drop(app_->logger->name());
  }
}

std::string RunLog::open(const std::string& log_directory, const std::string& execution_id,
                         const std::string& existing_folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(log_directory, ec);
  if (ec) return "cannot create the log directory " + log_directory + ": " + ec.message();
  // A resumed run goes on in its folder; if that is gone (logs are not synced: a power cut
  // can take a new folder with it), it gets a new one.
  const bool reused = !existing_folder.empty() && fs::is_directory(existing_folder, ec);
  if (reused)
    folder_ = existing_folder;
  else
    folder_ = (fs::absolute(log_directory).lexically_normal() /
               ("TOE_" + format_utc_now("%Y-%m-%d_%H-%M-%S", false) + "_UTC-0_" + folder_safe(execution_id)))
                  .string();
  if (!reused) {
    // A new folder is always ours: never reuse one that exists (it could hold planted
    // symlinks); a second run with the same id in the same second gets a suffix.
    std::string base = folder_;
    for (int n = 2; ::mkdir(folder_.c_str(), 0700) != 0; ++n) {
      if (errno != EEXIST || n > 100) return "cannot create the log folder " + folder_ + ": " + std::strerror(errno);
      folder_ = base + "-" + std::to_string(n);
    }
  }
  {
    // spdlog opens application.log by name and follows symlinks: create it first, 0600,
    // refusing a symlink.
    int fd = ::open((folder_ + "/application.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return "cannot write in the log folder " + folder_ + ": " + std::strerror(errno);
    ::close(fd);
  }
  if (reused) {
    // Resumed: what the folder already holds counts against --max-log-size.
    std::error_code walk;
    for (fs::recursive_directory_iterator it(folder_, walk), end; !walk && it != end; it.increment(walk)) {
      std::error_code size_error;
      if (it->is_regular_file(size_error)) log_size_ += it->file_size(size_error);
    }
  }
  console_ = open_for_append(folder_ + "/console.log");
  events_ = open_for_append(folder_ + "/events.jsonl");
  if (!console_ || !events_) return "cannot write in the log folder " + folder_ + ": " + std::strerror(errno);
  try {
    app_ = std::make_unique<AppLogger>();
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(folder_ + "/application.log");
    app_->logger = std::make_shared<spdlog::logger>("kiln-" + folder_safe(execution_id) + "-" + folder_, sink);
    app_->logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v", spdlog::pattern_time_type::utc);
    app_->logger->set_level(spdlog::level::debug);
    // Warnings and errors at once; info lines when the engine flushes (before each
    // action, after each step): a flush per line was a visible share of a short step.
    app_->logger->flush_on(spdlog::level::warn);
  } catch (const std::exception& e) {
    return std::string("cannot write application.log: ") + e.what();
  }
  return {};
}

void RunLog::note_write_failure(const std::string& what) {
  if (write_error_.empty()) write_error_ = "cannot write " + what + " in " + folder_ + ": " + std::strerror(errno);
}

void RunLog::console(std::string_view level, std::string_view prefix, std::string_view text) {
  if (!console_) return;
  std::string masked;
  if (!masker_.empty()) text = masked = masker_.mask(text);
  if (text.empty()) return;
  // "<stamp> <level> <prefix>" is formatted once per chunk and copied before each line;
  // lines are assembled in a block written with one fwrite (a per-line fprintf made
  // console.log the bottleneck of bulk output: bench/micro.cpp BM_ConsoleLog).
  std::string head = format_utc_now("%Y-%m-%d %H:%M:%S", true);
  head.append(" ").append(level).append(" ").append(prefix);
  constexpr size_t kBlock = 256 * 1024;
  thread_local std::string block;
  block.clear();
  while (!text.empty()) {
    size_t nl = text.find('\n');
    block.append(head).append(text.substr(0, nl)).push_back('\n');
    if (block.size() >= kBlock) {
      std::fwrite(block.data(), 1, block.size(), console_);
      if (console_tap_) console_tap_(block);
      log_size_ += block.size();
      block.clear();
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  if (!block.empty()) {
    std::fwrite(block.data(), 1, block.size(), console_);
    if (console_tap_) console_tap_(block);
  }
  log_size_ += block.size();
  if (std::ferror(console_)) note_write_failure("console.log");
}

size_t RunLog::console_size(std::string_view level, std::string_view prefix, std::string_view text) {
  if (text.empty()) return 0;
  constexpr size_t kStamp = sizeof("2026-11-27 10:41:02.123") - 1;
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  size_t unterminated = text.back() == '\n' ? 0 : 1;
  return text.size() + unterminated + (lines + unterminated) * (kStamp + 1 + level.size() + 1 + prefix.size());
}

bool RunLog::admit_step_output(size_t bytes) {
  if (max_log_size_ == 0) return true;
  if (!log_size_reached_ && log_size_ + bytes <= max_log_size_) return true;
  if (!log_size_reached_) {
    log_size_reached_ = true;
    console("Warn", "",
            "Output: the log folder reached --max-log-size (" + std::to_string(max_log_size_) +
                " bytes); the steps' output from here on is dropped, and the steps go on running");
    application("warn", "--max-log-size reached (" + std::to_string(log_size_) + " of " +
                            std::to_string(max_log_size_) + " bytes): step output is dropped from here on");
  }
  return false;
}

uint64_t RunLog::default_max_log_size(const std::string& folder) {
  constexpr uint64_t kCeiling = uint64_t{2} << 30;
  struct statvfs fs {};
  if (::statvfs(folder.c_str(), &fs) != 0) return kCeiling;
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  return std::max<uint64_t>(std::min(kCeiling, free_bytes / 4), 1);
}

void RunLog::application(std::string_view level, const std::string& raw_text) {
  const std::string text = masker_.empty() ? raw_text : masker_.mask(raw_text);
  if (trace_) std::cerr << "[" << level << "] " << text << "\n";
  if (!app_ || !app_->logger) return;
  if (level == "error") app_->logger->error("{}", text);
  else if (level == "warn") app_->logger->warn("{}", text);
  else if (level == "debug") app_->logger->debug("{}", text);
  else app_->logger->info("{}", text);
}

void RunLog::event(const nlohmann::json& event) {
  if (!events_) return;
  // The time goes last: the event is dumped as it is (no copy unless a secret is masked).
  nlohmann::json masked;
  const nlohmann::json& shown = masker_.empty() ? event : (masked = masker_.mask_json(event));
  std::string text = shown.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() >= 2 && text.back() == '}') {
    text.pop_back();
    text += ",\"time\":\"" + utc_timestamp_millis() + "\"}\n";
  } else {
    text += '\n';
  }
  // Buffered: the engine flushes before each action runs and after each step (flush()).
  std::fwrite(text.data(), 1, text.size(), events_);
  log_size_ += text.size();
  if (std::ferror(events_)) note_write_failure("events.jsonl");
}

void RunLog::save_document(const std::string& file_name, const std::string& raw_text) {
  if (folder_.empty()) return;
  const std::string text = masker_.mask(raw_text);
  std::string path = folder_ + "/" + file_name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string RunLog::write_detailed_output(const nlohmann::json& record) {
  if (folder_.empty()) return "no log folder";
  std::string final_path = folder_ + "/detailedoutput.json";
  nlohmann::json masked;
  const nlohmann::json& shown = masker_.empty() ? record : (masked = masker_.mask_json(record));
  std::string text = shown.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // Written once, when the run ends: the durable write's folder fsync costs ~1 ms.
  return write_file_durably(final_path, text, 0600);
}

void RunLog::flush() {
  if (console_ && (std::fflush(console_) != 0 || std::ferror(console_))) note_write_failure("console.log");
  if (events_ && (std::fflush(events_) != 0 || std::ferror(events_))) note_write_failure("events.jsonl");
  if (app_ && app_->logger) app_->logger->flush();
}

}  // namespace kiln
