// ExecuteDocument: a child document is prepared exactly as the CLI prepares the
// documents it is given (prepare_document: local files only, --strict, the platform,
// blocked actions), then run as part of this execution with its own execution id.
#include <algorithm>
#include <filesystem>

#include "agent/base/text.h"
#include "agent/document/diagnostic_format.h"
#include "agent/engine/execution.h"
#include "agent/engine/loop.h"
#include "agent/engine/run_setup.h"
#include "agent/sys/host.h"

namespace kiln {
namespace {

constexpr int kMaxDocumentNesting = 3;  // ExecuteDocument levels below the top document

// Why the child cannot run at all: too deep, or a cycle of documents. "" when it can.
std::string refuse_nesting(const DocumentRun& parent, const StepSpec& step, const std::string& path,
                           const std::string& key) {
  if (parent.depth + 1 > kMaxDocumentNesting)
    return "ExecuteDocument nesting is limited to " + std::to_string(kMaxDocumentNesting) + " levels; " + path +
           " would be level " + std::to_string(parent.depth + 1);
  if (!step.loop && std::find(parent.ancestors.begin(), parent.ancestors.end(), key) != parent.ancestors.end()) {
    std::string chain;
    for (const auto& a : parent.ancestors) chain += a + " -> ";
    return "ExecuteDocument cycle: " + chain + key;
  }
  return {};
}

}  // namespace

ChildDocumentResult Execution::run_child(DocumentRun& parent, const StepSpec& step, const std::string& key_prefix,
                                         const ChildDocumentRequest& request) {
  namespace fs = std::filesystem;
  ChildDocumentResult result;
  fs::path path = request.document;
  bool remote = is_remote_location(request.document);  // fetched by prepare_document, as on the command line
  if (path.is_relative() && !remote) path = fs::path(parent.doc.source.path).parent_path() / path;
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  std::string key = ec ? path.string() : canonical.string();
  result.failure_message = refuse_nesting(parent, step, path.string(), key);
  if (!result.failure_message.empty()) return result;

  PrepareOptions prepare;
  prepare.platform = options_.platform;
  prepare.strict = options_.strict;
  prepare.warnings_as_errors = options_.warnings_as_errors;
  prepare.document_s3_bucket_owner = options_.document_s3_bucket_owner;
  prepare.blocked_actions = options_.blocked_actions;
  prepare.actions = options_.actions;
  for (auto& p : split_nonempty(request.phases, ',')) prepare.phases.emplace_back(trim_ascii(p));
  std::map<std::string, std::string> given;
  for (const auto& p : request.parameters)
    if (p.is_object()) given[p.value("name", "")] = p.value("value", "");
  PreparedDocument child;
  Diagnostics diagnostics;
  if (prepare_document(remote ? request.document : path.string(), given, prepare, child, diagnostics) !=
      PrepareResult::Ready) {
    for (const auto& d : diagnostics) {
      if (d.severity != Severity::Error) continue;
      std::string text = format_diagnostic(d, nullptr, false);
      log_.application("error", text);
      if (result.failure_message.empty()) result.failure_message = "child document refused: " + text;
    }
    while (!result.failure_message.empty() && result.failure_message.back() == '\n') result.failure_message.pop_back();
    return result;
  }
  add_secrets(child.document, child.variables, log_.masker());
  // The child keeps its execution id across reboots, like its parent.
  std::string child_id;
  if (const StepState* s = resumed(key_prefix); s && !s->child_execution_id.empty()) {
    child_id = s->child_execution_id;
  } else {
    child_id = sys::random_uuid();
    save(ChildRecord{key_prefix, child_id});
    log_.save_document("document-" + std::to_string(++document_serial_) + "-" + path.filename().string(),
                       child.document.source.text);
  }
  Counters counters;
  std::vector<std::string> ancestors = parent.ancestors;
  ancestors.push_back(key);
  DocumentRun run{child.document, child.variables, {}, child_id, parent.depth + 1, ancestors, key_prefix, 0};
  auto [recorded_status, record] = run_document(run, prepare.phases, counters);
  RunStatus status = recorded_status.value_or(RunStatus::Failed);
  if (rebooting_) {
    result.reboot_requested = true;
    return result;
  }
  result.success = status != RunStatus::Failed && status != RunStatus::Interrupted;
  if (!result.success) result.failure_message = record["failureMessage"];
  if (status == RunStatus::Interrupted && result.failure_message.empty()) result.failure_message = "interrupted";
  result.summary = {{"executedStepCount", counters.executed},
                    {"executionId", child_id},
                    {"failedStepCount", counters.failed},
                    {"failureMessage", record["failureMessage"]},
                    {"ignoredFailedStepCount", counters.ignored},
                    {"logUrl", log_.folder()},
                    {"status", status_name(status)}};
  result.detailed_output = {{"executionId", child_id},
                            {"status", status_name(status)},
                            {"startTime", record["startTime"]},
                            {"endTime", record["endTime"]},
                            {"failureMessage", record["failureMessage"]},
                            {"documents", nlohmann::json::array({record})}};
  return result;
}

}  // namespace kiln
