// The crash-safe journal of one execution: an append-only file of checksummed JSON
// records, one per state change, each flushed with fdatasync before the run moves on,
// so a finished step is never run again. A torn last record (power loss mid-write) is
// detected by its checksum and dropped; a journal damaged anywhere else is moved aside
// with a clear message, never silently ignored. Compaction rewrites it through a
// temporary file, fsync and rename, so it is always either the old or the new file.
//
// Line format: <16 hex digits of SHA-256(json)> <json>\n; the record kinds are in records.h.
#pragma once
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln {

class RunJournal {
 public:
  RunJournal() = default;
  ~RunJournal();
  RunJournal(const RunJournal&) = delete;
  RunJournal& operator=(const RunJournal&) = delete;

  // Opens (creating if needed) `folder`/journal. The records already there are read into
  // records() (what a resume needs); records appended later are not kept in memory.
  // Returns "" or an error (a damaged journal has then been moved aside).
  std::string open(const std::string& folder);
  bool is_open() const { return fd_ >= 0; }
  const std::vector<nlohmann::json>& records() const { return records_; }
  const std::string& path() const { return path_; }
  // Set when open() dropped a torn last record.
  bool dropped_torn_record() const { return dropped_torn_; }

  // Appends one record; with `durable` it is flushed with fdatasync before returning.
  // Records that only help diagnosis (a step started) skip the flush: losing one in a
  // crash changes nothing, since an unfinished step runs again anyway.
  // Returns "" or an error (e.g. the disk is full); a failed append leaves no partial record.
  std::string append(const nlohmann::json& record, bool durable = true);
  // Replaces the journal with `records` atomically.
  std::string compact(const std::vector<nlohmann::json>& records);
  // Every record now in the file (for compaction). Returns "" or an error.
  std::string read_all_records(std::vector<nlohmann::json>& records) const;

  // The journal's size on disk, in bytes.
  size_t bytes() const { return bytes_; }

  // Cost accounting, for the benchmarks.
  size_t appends() const { return appends_; }
  std::chrono::microseconds sync_time() const { return sync_time_; }

  // Reads a journal without opening it for writing (kiln status); "" or an error.
  static std::string read(const std::string& folder, std::vector<nlohmann::json>& records);

 private:
  int fd_ = -1;
  std::string folder_, path_;
  std::vector<nlohmann::json> records_;
  bool dropped_torn_ = false;
  size_t appends_ = 0;
  size_t bytes_ = 0;
  std::chrono::microseconds sync_time_{0};
};

// The line for one record, and the parse of one line (false: bad checksum or JSON).
std::string journal_line(const nlohmann::json& record);
bool parse_journal_line(const std::string& line, nlohmann::json& record);

}  // namespace kiln
