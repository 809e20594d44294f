// The log folder of one execution, in AWSTOE's layout:
//   <log-directory>/TOE_<YYYY-MM-DD>_<HH-MM-SS>_UTC-0_<executionId>/
//     console.log          everything the run printed, step output included
//     application.log      kiln's own decisions (debug log)
//     detailedoutput.json  the full run record (written atomically at the end)
//     events.jsonl         one JSON object per state change
//     <document copies>    each input document, as read
#pragma once
#include <cstdio>
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
  void application(std::string_view level, const std::string& text);
  void event(const nlohmann::json& event);
  void save_document(const std::string& file_name, const std::string& text);
  // Writes detailedoutput.json via a temporary file and rename, so a reader never
  // sees a half-written file presented as complete.
  std::string write_detailed_output(const nlohmann::json& record);
  void flush();

  // Mirror application.log lines to stderr (--trace).
  void set_trace(bool on) { trace_ = on; }

  // Every write above goes through this masker.
  SecretMasker& masker() { return masker_; }
  const SecretMasker& masker() const { return masker_; }

  // The first write that failed (e.g. the disk is full), or "".
  const std::string& write_error() const { return write_error_; }

 private:
  std::string folder_;
  std::FILE* console_ = nullptr;
  std::FILE* events_ = nullptr;
  struct AppLogger;
  std::unique_ptr<AppLogger> app_;
  bool trace_ = false;
  SecretMasker masker_;
  std::string write_error_;
  void note_write_failure(const std::string& what);
};

}  // namespace kiln
