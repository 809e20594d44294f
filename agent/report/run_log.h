// The log folder of one execution, in AWSTOE's layout:
//   <log-directory>/TOE_<YYYY-MM-DD>_<HH-MM-SS>_UTC-0_<executionId>/
//     console.log          everything the run printed, step output included
//     application.log      kiln's own decisions (debug log)
//     detailedoutput.json  the full run record (written atomically at the end)
//     events.jsonl         one JSON object per state change
//     <document copies>    each input document, as read
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/base/time.h"  // utc_timestamp() for the records written with the log
#include "agent/report/secret_masker.h"

namespace kiln {

class RunLog {
 public:
  RunLog();
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Creates the folder and opens the files. Returns "" or an error text. A resumed
  // execution passes the folder it used before, and its files are appended to.
  std::string open(const std::string& log_directory, const std::string& execution_id,
                   const std::string& existing_folder = "");
  const std::string& folder() const { return folder_; }

  // console.log: "2026-11-27 10:41:02.123 Info <text>" for each line of `text`.
  void console(std::string_view level, std::string_view prefix, std::string_view text);
  // The bytes console() writes for `text` (before masking).
  static size_t console_size(std::string_view level, std::string_view prefix, std::string_view text);

  // The run-wide bound on the log folder (--max-log-size; 0: none). It counts console.log,
  // events.jsonl and the step output files (StepOutputLog), which grow with what steps
  // print; application.log, detailedoutput.json and document copies grow with the number
  // of steps and are not counted. A resumed execution starts from what its folder holds.
  void set_max_log_size(uint64_t bytes) { max_log_size_ = bytes; }
  uint64_t log_size() const { return log_size_; }
  // True if `bytes` more of a step's output fit under the bound. The first refusal writes
  // one console.log line; from then on every step's output is dropped (kiln's own lines
  // are still written: they are a few per step).
  bool admit_step_output(size_t bytes);
  bool dropping_step_output() const { return log_size_reached_; }
  // Bytes written to the folder by others (the step output files).
  void count_written(size_t bytes) { log_size_ += bytes; }
  // The default bound: a quarter of the space free where `folder` is, at most 2 GiB.
  static uint64_t default_max_log_size(const std::string& folder);
  void application(std::string_view level, const std::string& text);
  void event(const nlohmann::json& event);
  void save_document(const std::string& file_name, const std::string& text);
  // Writes detailedoutput.json via a temporary file and rename, so a reader never
  // sees a half-written file presented as complete.
  std::string write_detailed_output(const nlohmann::json& record);
  void flush();

  // Receives every block of console.log lines as written (masked), e.g. to stream them to
  // CloudWatch Logs while the run goes on. Empty: none. Set it while nothing runs.
  void set_console_tap(std::function<void(std::string_view)> tap) { console_tap_ = std::move(tap); }

  // Mirror application.log lines to stderr (--trace).
  void set_trace(bool on) { trace_ = on; }

  // Every write above goes through this masker.
  SecretMasker& masker() { return masker_; }
  const SecretMasker& masker() const { return masker_; }

  // The first write that failed (e.g. the disk is full), or "".
  const std::string& write_error() const { return write_error_; }
  void note_write_failure(const std::string& what);

 private:
  std::string folder_;
  std::FILE* console_ = nullptr;
  std::FILE* events_ = nullptr;
  struct AppLogger;
  std::unique_ptr<AppLogger> app_;
  bool trace_ = false;
  std::function<void(std::string_view)> console_tap_;
  SecretMasker masker_;
  std::string write_error_;
  uint64_t max_log_size_ = 0;
  uint64_t log_size_ = 0;
  bool log_size_reached_ = false;
};

}  // namespace kiln
