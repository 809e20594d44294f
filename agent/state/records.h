// The journal's records, one struct per kind, each with its JSON form. The engine
// writes them, RunState replays them and `kiln status`/`kiln resume` read them; the
// field names below are the on-disk format (see run_journal.h for the line format).
//
//   header          executionId, identity {args, documentHashes}, cwd, kilnVersion,
//                   (args holds steps, startAt, outputsFrom only when given)
//                   rebootMode, maxReboots, rebootCommand, resumeTrigger, trace,
//                   strict, warningsAsErrors, maxLogSize, logFolder, startTime, bootId
//   stepStarted     key, attempt                      (not flushed: diagnosis only)
//   condition       key, verdict, branch, detail, evaluated  (an `if` is never re-evaluated)
//   iteration       key, attempt, index, inputs, outputs, detailedOutput (loop progress)
//   child           key, executionId                  (ExecuteDocument's child id)
//   stepFinished    key, record, ran                  (never run again)
//   reboot          key, step, reason, resumeAt ("same" step or "next"), attempt, time, bootId
//   stepInterrupted key
//   runFinished     summary, exitCode
// A key names a step: "d<doc>/p<phase>/s<step>", and for a step of a child document
// "<parent key>#<iteration>><p<phase>/s<step>".
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "agent/document/model.h"

namespace kiln {

// What a run was started with, besides its documents' contents. A resumed run must
// have the same, or it is refused.
struct RunArguments {
  std::vector<std::string> documents;  // absolute paths
  std::vector<std::string> phases;
  std::map<std::string, std::string> parameters;
  std::vector<std::map<std::string, std::string>> document_parameters;
  std::set<std::string> blocked_actions;
  std::string log_directory;  // absolute
  // Debugging runs (docs/debugging.md): the subset of steps that runs. Part of the
  // identity, so a reboot or `kiln resume` runs the same subset and another subset
  // under the same --execution-id is refused rather than mixed in.
  std::vector<std::string> steps;  // --steps, as given
  std::string start_at;            // --start-at
  std::string outputs_from;        // --outputs-from (an execution id)
  bool operator==(const RunArguments&) const = default;
};

struct DocumentFingerprint {
  std::string path;
  std::string sha256;
  bool operator==(const DocumentFingerprint&) const = default;
};

// The fingerprint of a run: its arguments and its documents' hashes.
struct RunIdentity {
  RunArguments args;
  std::vector<DocumentFingerprint> documents;
  bool operator==(const RunIdentity&) const = default;
  // SHA-256 of the JSON form (kept in the status file, to find a run without reading journals).
  std::string digest() const;
  // How `now` differs from this one, one "\n  ..." line per difference.
  std::string describe_change_to(const RunIdentity& now) const;
};

enum class RebootMode { Exit, System };
std::string_view reboot_mode_name(RebootMode mode);
std::optional<RebootMode> parse_reboot_mode(std::string_view name);

// Where a run's logs go besides its log folder (--log-s3-*, --cw-*), and who must own
// the buckets documents come from (--document-s3-bucket-owner).
struct LogDestinations {
  std::string s3_bucket;
  std::string s3_key_prefix;
  std::string s3_bucket_owner;
  std::string cw_log_group;
  std::string cw_log_stream;
  std::string cw_log_region;
  bool cw_ignore_failures = false;
  bool uploads_to_s3() const { return !s3_bucket.empty(); }
  bool streams_to_cloudwatch() const { return !cw_log_group.empty(); }
};

struct RunHeader {
  std::string execution_id;
  RunIdentity identity;
  std::string cwd;
  std::string kiln_version;
  RebootMode reboot_mode = RebootMode::System;
  int max_reboots = 10;
  std::string reboot_command;
  std::string resume_trigger = "auto";
  bool trace = false;
  // How documents were read and logs bounded; `kiln resume` runs with the same.
  bool strict = false;
  bool warnings_as_errors = false;
  int64_t max_log_size = -1;  // bytes; 0: none; -1: the default
  LogDestinations log_destinations;
  std::string document_s3_bucket_owner;
  // Set by the engine when it writes the header.
  std::string log_folder;
  std::string start_time;
  std::string boot_id;
};

struct StepStartedRecord {
  std::string key;
  int64_t attempt = 1;
};

struct ConditionRecord {
  std::string key;
  bool verdict = false;
  Branch branch = Branch::Execute;
  std::string detail;
  bool evaluated = true;  // false: the condition could not be evaluated (the step fails)
};

struct IterationRecord {
  std::string key;
  int64_t attempt = 1;
  int64_t index = 0;
  nlohmann::json inputs;
  nlohmann::json outputs;
  nlohmann::json detailed_output;
};

struct ChildRecord {
  std::string key;
  std::string execution_id;
};

struct StepFinishedRecord {
  std::string key;
  nlohmann::json record;  // the step's record in detailedoutput.json (AWSTOE's shape)
  bool ran = false;       // its action ran (its outputs can be chained)
};

enum class ResumeAt { SameStep, NextStep };

struct RebootRecord {
  std::string key;
  std::string step;
  std::string reason;
  ResumeAt resume_at = ResumeAt::SameStep;
  int64_t attempt = 0;
  std::string time;
  std::string boot_id;
};

struct StepInterruptedRecord {
  std::string key;
};

struct RunFinishedRecord {
  nlohmann::json summary;  // the end-of-run summary (AWSTOE's shape)
  int exit_code = 0;
};

using JournalRecord = std::variant<RunHeader, StepStartedRecord, ConditionRecord, IterationRecord, ChildRecord,
                                   StepFinishedRecord, RebootRecord, StepInterruptedRecord, RunFinishedRecord>;

nlohmann::json to_json(const JournalRecord& record);
// The same, moving the record's large members (a step's record, an iteration's outputs) into it.
nlohmann::json to_json(JournalRecord&& record);
// A record read back; nullopt for an unknown type or a malformed record.
std::optional<JournalRecord> record_from_json(const nlohmann::json& json);
// Whether compaction keeps records of this kind (step starts and loop iterations are dropped).
bool kept_by_compaction(const JournalRecord& record);

nlohmann::json to_json(const RunIdentity& identity);
RunIdentity identity_from_json(const nlohmann::json& json);

}  // namespace kiln
