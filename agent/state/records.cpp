#include "agent/state/records.h"

#include "agent/base/hash.h"

namespace kiln {
namespace {

using json = nlohmann::json;

// Reads `key` when it has the expected type; malformed records are refused by the caller.
template <typename T>
bool read(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  try {
    out = it->get<T>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

template <typename T>
T value_or(const json& j, const char* key, T fallback) {
  T out{};
  return read(j, key, out) ? out : fallback;
}

json to_json_args(const RunArguments& a) {
  json j = {{"documents", a.documents},
            {"phases", a.phases},
            {"parameters", a.parameters},
            {"documentParameters", a.document_parameters},
            {"blockedActions", a.blocked_actions},
            {"logDirectory", a.log_directory}};
  // Written only when given: a run without them keeps the digest it had before they
  // existed (the status file finds an execution awaiting a reboot by that digest).
  if (!a.steps.empty()) j["steps"] = a.steps;
  if (!a.start_at.empty()) j["startAt"] = a.start_at;
  if (!a.outputs_from.empty()) j["outputsFrom"] = a.outputs_from;
  return j;
}

RunArguments args_from_json(const json& j) {
  RunArguments a;
  if (!j.is_object()) return a;
  a.documents = value_or(j, "documents", std::vector<std::string>{});
  a.phases = value_or(j, "phases", std::vector<std::string>{});
  a.parameters = value_or(j, "parameters", std::map<std::string, std::string>{});
  a.document_parameters = value_or(j, "documentParameters", std::vector<std::map<std::string, std::string>>{});
  a.blocked_actions = value_or(j, "blockedActions", std::set<std::string>{});
  a.log_directory = value_or(j, "logDirectory", std::string("."));
  a.steps = value_or(j, "steps", std::vector<std::string>{});
  a.start_at = value_or(j, "startAt", std::string());
  a.outputs_from = value_or(j, "outputsFrom", std::string());
  return a;
}

struct ToJson {
  json operator()(const RunHeader& h) const {
    return {{"type", "header"},
            {"executionId", h.execution_id},
            {"identity", to_json(h.identity)},
            {"cwd", h.cwd},
            {"kilnVersion", h.kiln_version},
            {"rebootMode", reboot_mode_name(h.reboot_mode)},
            {"maxReboots", h.max_reboots},
            {"rebootCommand", h.reboot_command},
            {"resumeTrigger", h.resume_trigger},
            {"trace", h.trace},
            {"strict", h.strict},
            {"warningsAsErrors", h.warnings_as_errors},
            {"maxLogSize", h.max_log_size},
            {"logS3BucketName", h.log_destinations.s3_bucket},
            {"logS3KeyPrefix", h.log_destinations.s3_key_prefix},
            {"logS3BucketOwner", h.log_destinations.s3_bucket_owner},
            {"cwLogGroup", h.log_destinations.cw_log_group},
            {"cwLogStream", h.log_destinations.cw_log_stream},
            {"cwLogRegion", h.log_destinations.cw_log_region},
            {"cwIgnoreFailures", h.log_destinations.cw_ignore_failures},
            {"documentS3BucketOwner", h.document_s3_bucket_owner},
            {"logFolder", h.log_folder},
            {"startTime", h.start_time},
            {"bootId", h.boot_id}};
  }
  json operator()(const StepStartedRecord& r) const {
    return {{"type", "stepStarted"}, {"key", r.key}, {"attempt", r.attempt}};
  }
  json operator()(const ConditionRecord& r) const {
    return {{"type", "condition"},        {"key", r.key},       {"verdict", r.verdict},
            {"branch", branch_name(r.branch)}, {"detail", r.detail}, {"evaluated", r.evaluated}};
  }
  json operator()(const IterationRecord& r) const {
    return {{"type", "iteration"}, {"key", r.key},         {"attempt", r.attempt},
            {"index", r.index},    {"inputs", r.inputs},   {"outputs", r.outputs},
            {"detailedOutput", r.detailed_output}};
  }
  json operator()(const ChildRecord& r) const {
    return {{"type", "child"}, {"key", r.key}, {"executionId", r.execution_id}};
  }
  json operator()(const StepFinishedRecord& r) const {
    return {{"type", "stepFinished"}, {"key", r.key}, {"ran", r.ran}, {"record", r.record}};
  }
  json operator()(const RebootRecord& r) const {
    return {{"type", "reboot"},
            {"key", r.key},
            {"step", r.step},
            {"reason", r.reason},
            {"resumeAt", r.resume_at == ResumeAt::SameStep ? "same" : "next"},
            {"attempt", r.attempt},
            {"time", r.time},
            {"bootId", r.boot_id}};
  }
  json operator()(const StepInterruptedRecord& r) const { return {{"type", "stepInterrupted"}, {"key", r.key}}; }
  json operator()(const RunFinishedRecord& r) const {
    return {{"type", "runFinished"}, {"summary", r.summary}, {"exitCode", r.exit_code}};
  }
};

}  // namespace

std::string_view reboot_mode_name(RebootMode mode) { return mode == RebootMode::Exit ? "exit" : "system"; }

std::optional<RebootMode> parse_reboot_mode(std::string_view name) {
  if (name == "exit") return RebootMode::Exit;
  if (name == "system") return RebootMode::System;
  return std::nullopt;
}

json to_json(const RunIdentity& identity) {
  json hashes = json::array();
  for (const auto& d : identity.documents) hashes.push_back({{"path", d.path}, {"sha256", d.sha256}});
  return {{"args", to_json_args(identity.args)}, {"documentHashes", hashes}};
}

RunIdentity identity_from_json(const json& j) {
  RunIdentity identity;
  if (!j.is_object()) return identity;
  identity.args = args_from_json(j.value("args", json::object()));
  if (auto it = j.find("documentHashes"); it != j.end() && it->is_array())
    for (const auto& d : *it)
      if (d.is_object()) identity.documents.push_back({value_or(d, "path", std::string()), value_or(d, "sha256", std::string())});
  return identity;
}

std::string RunIdentity::digest() const { return sha256_hex(to_json(*this).dump()); }

std::string RunIdentity::describe_change_to(const RunIdentity& now) const {
  std::string out;
  json a = to_json_args(args), b = to_json_args(now.args);
  for (const auto& [key, value] : b.items())
    if (!a.contains(key) || a[key] != value)
      out += "\n  " + key + " was " + (a.contains(key) ? a[key].dump() : "unset") + ", now " + value.dump();
  for (const auto& [key, value] : a.items())  // given before, not now (--steps and the like)
    if (!b.contains(key)) out += "\n  " + key + " was " + value.dump() + ", now unset";
  for (size_t i = 0; i < now.documents.size() && i < documents.size(); ++i)
    if (documents[i] != now.documents[i])
      out += "\n  document " + now.documents[i].path + " changed since the execution started";
  return out;
}

json to_json(const JournalRecord& record) { return std::visit(ToJson{}, record); }

json to_json(JournalRecord&& record) {
  // The two kinds that can hold megabytes (a step's record with its outputs, a loop
  // iteration's outputs) are moved into the JSON; the others are small.
  if (auto* finished = std::get_if<StepFinishedRecord>(&record)) {
    json j = {{"type", "stepFinished"}, {"key", finished->key}, {"ran", finished->ran}};
    j["record"] = std::move(finished->record);
    return j;
  }
  if (auto* iteration = std::get_if<IterationRecord>(&record)) {
    json j = {{"type", "iteration"}, {"key", iteration->key}, {"attempt", iteration->attempt}, {"index", iteration->index}};
    j["inputs"] = std::move(iteration->inputs);
    j["outputs"] = std::move(iteration->outputs);
    j["detailedOutput"] = std::move(iteration->detailed_output);
    return j;
  }
  return to_json(static_cast<const JournalRecord&>(record));
}

std::optional<JournalRecord> record_from_json(const json& j) {
  if (!j.is_object()) return std::nullopt;
  std::string type = value_or(j, "type", std::string());
  std::string key = value_or(j, "key", std::string());
  if (type == "header") {
    RunHeader h;
    h.execution_id = value_or(j, "executionId", std::string());
    h.identity = identity_from_json(j.value("identity", json::object()));
    h.cwd = value_or(j, "cwd", std::string("/"));
    h.kiln_version = value_or(j, "kilnVersion", std::string());
    h.reboot_mode = parse_reboot_mode(value_or(j, "rebootMode", std::string("system"))).value_or(RebootMode::System);
    h.max_reboots = value_or(j, "maxReboots", 10);
    h.reboot_command = value_or(j, "rebootCommand", std::string());
    h.resume_trigger = value_or(j, "resumeTrigger", std::string("auto"));
    h.trace = value_or(j, "trace", false);
    h.strict = value_or(j, "strict", false);
    h.warnings_as_errors = value_or(j, "warningsAsErrors", false);
    h.max_log_size = value_or(j, "maxLogSize", int64_t{-1});
    h.log_destinations.s3_bucket = value_or(j, "logS3BucketName", std::string());
    h.log_destinations.s3_key_prefix = value_or(j, "logS3KeyPrefix", std::string());
    h.log_destinations.s3_bucket_owner = value_or(j, "logS3BucketOwner", std::string());
    h.log_destinations.cw_log_group = value_or(j, "cwLogGroup", std::string());
    h.log_destinations.cw_log_stream = value_or(j, "cwLogStream", std::string());
    h.log_destinations.cw_log_region = value_or(j, "cwLogRegion", std::string());
    h.log_destinations.cw_ignore_failures = value_or(j, "cwIgnoreFailures", false);
    h.document_s3_bucket_owner = value_or(j, "documentS3BucketOwner", std::string());
    h.log_folder = value_or(j, "logFolder", std::string());
    h.start_time = value_or(j, "startTime", std::string());
    h.boot_id = value_or(j, "bootId", std::string());
    return h;
  }
  if (type == "stepStarted") return StepStartedRecord{key, value_or(j, "attempt", int64_t{1})};
  if (type == "condition") {
    ConditionRecord r{key, value_or(j, "verdict", false), Branch::Abort, value_or(j, "detail", std::string()),
                      value_or(j, "evaluated", true)};
    r.branch = parse_branch(value_or(j, "branch", std::string())).value_or(Branch::Abort);
    return r;
  }
  if (type == "iteration")
    return IterationRecord{key,
                           value_or(j, "attempt", int64_t{1}),
                           value_or(j, "index", int64_t{-1}),
                           j.value("inputs", json::array()),
                           j.value("outputs", json::object()),
                           j.value("detailedOutput", json())};
  if (type == "child") return ChildRecord{key, value_or(j, "executionId", std::string())};
  if (type == "stepFinished") return StepFinishedRecord{key, j.value("record", json::object()), value_or(j, "ran", false)};
  if (type == "reboot")
    return RebootRecord{key,
                        value_or(j, "step", std::string()),
                        value_or(j, "reason", std::string()),
                        value_or(j, "resumeAt", std::string("same")) == "next" ? ResumeAt::NextStep : ResumeAt::SameStep,
                        value_or(j, "attempt", int64_t{0}),
                        value_or(j, "time", std::string()),
                        value_or(j, "bootId", std::string())};
  if (type == "stepInterrupted") return StepInterruptedRecord{key};
  if (type == "runFinished") return RunFinishedRecord{j.value("summary", json::object()), value_or(j, "exitCode", 0)};
  return std::nullopt;
}

bool kept_by_compaction(const JournalRecord& record) {
  return !std::holds_alternative<StepStartedRecord>(record) && !std::holds_alternative<IterationRecord>(record) &&
         !std::holds_alternative<StepInterruptedRecord>(record);
}

}  // namespace kiln
