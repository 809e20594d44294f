#include "agent/cli/config_file.h"

#include <algorithm>
#include <filesystem>

#include "agent/document/suggest.h"
#include "agent/document/yaml_loader.h"
#include "agent/engine/run_setup.h"

namespace kiln {

// The "documents" list: each {path, parameters}; a relative path is relative to the
// config file's folder when the file is there, else to the working folder.
template <typename Fail, typename ReadPairs>
void read_documents(const std::string& path, const nlohmann::json& root, Fail& fail, ReadPairs& read_pairs,
                    CliOptions& cli) {
  auto& per_document = cli.document_parameters;
  if (!root.contains("documents") || !root["documents"].is_array() || root["documents"].empty()) {
    fail(root.contains("documents") ? "/documents" : "", "the config file needs a non-empty \"documents\" list",
         "\"documents\": [{\"path\": \"component.yml\"}]");
  } else {
    for (size_t i = 0; i < root["documents"].size(); ++i) {
      const auto& d = root["documents"][i];
      std::string pointer = "/documents/" + std::to_string(i);
      if (!d.is_object() || !d.contains("path") || !d["path"].is_string()) {
        fail(pointer, "each document needs a \"path\"", "");
        continue;
      }
      std::string document = d["path"];
      // Relative paths are relative to the config file's folder, then to the working folder.
      std::filesystem::path candidate = std::filesystem::path(path).parent_path() / document;
      std::error_code ec;
      if (std::filesystem::path(document).is_relative() && std::filesystem::exists(candidate, ec) &&
          !std::filesystem::exists(document, ec))
        document = candidate.string();
      cli.documents.push_back(document);
      per_document.emplace_back();
      if (d.contains("parameters")) read_pairs(d["parameters"], pointer + "/parameters", per_document.back());
    }
  }
}

bool read_config(const std::string& path, CliOptions& cli, Diagnostics& diagnostics, SourceTexts& sources) {
  LoadedDocument config;
  // A local file, or s3:// / https:// (the bucket owner check applies to the config's bucket too).
  bool ok = read_yaml_source(path, cli.document_s3_bucket_owner, config, diagnostics);
  sources.texts[path] = config.text;
  if (!ok) return false;
  static const std::vector<std::string> known = {
      "documents",      "parameters",     "phases",          "executionId",       "executonId",
      "logDirectory",   "logS3BucketName", "logS3KeyPrefix", "logS3BucketOwner",  "cwLogGroup",
      "cwLogStream",    "cwLogRegion",    "cwIgnoreFailures", "documentS3BucketOwner", "stateDirectory", "trace"};
  auto fail = [&](const std::string& pointer, std::string message, std::string hint) {
    diagnostics.push_back(
        {Severity::Error, config.at(pointer), std::move(message), std::move(hint), DiagnosticCode::Schema});
  };
  const nlohmann::json& root = config.root;
  if (!root.is_object()) {
    fail("", "the config file must be a JSON object", "see docs/CLI.md for the keys");
    return false;
  }
  auto text = [&](const char* key, std::string& target) {
    if (!root.contains(key)) return;
    if (!root[key].is_string()) return fail(std::string("/") + key, std::string(key) + " must be a string", "");
    if (target.empty()) target = root[key].get<std::string>();  // a command-line flag wins
  };
  for (const auto& [key, value] : root.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string guess = nearest(key, known);
      diagnostics.push_back({Severity::Error, config.key_at("/" + key), "unknown config key '" + key + "'",
                             guess.empty() ? "allowed keys: " + join_words(known) : "did you mean '" + guess + "'?",
                             DiagnosticCode::UnknownKey});
    }
  auto read_pairs = [&](const nlohmann::json& list, const std::string& pointer, std::map<std::string, std::string>& out) {
    if (!list.is_array()) return fail(pointer, "parameters must be a list of {\"name\", \"value\"}", "");
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& p = list[i];
      if (!p.is_object() || !p.contains("name") || !p.contains("value") || !p["name"].is_string() || !p["value"].is_string())
        fail(pointer + "/" + std::to_string(i), "a parameter needs a string \"name\" and a string \"value\"", "");
      else
        out[p["name"]] = p["value"];
    }
  };
  read_documents(path, root, fail, read_pairs, cli);
  if (root.contains("parameters")) read_pairs(root["parameters"], "/parameters", cli.parameters);
  std::string phases;
  text("phases", phases);
  if (cli.phases.empty()) cli.phases = split_comma_list(phases);
  text("executionId", cli.execution_id);
  text("executonId", cli.execution_id);
  text("logDirectory", cli.log_directory);
  text("stateDirectory", cli.state_directory);
  if (root.contains("trace") && root["trace"].is_boolean() && root["trace"].get<bool>()) cli.trace = true;
  LogDestinations& logs = cli.log_destinations;
  text("logS3BucketName", logs.s3_bucket);
  text("logS3KeyPrefix", logs.s3_key_prefix);
  text("logS3BucketOwner", logs.s3_bucket_owner);
  text("cwLogGroup", logs.cw_log_group);
  text("cwLogStream", logs.cw_log_stream);
  text("cwLogRegion", logs.cw_log_region);
  text("documentS3BucketOwner", cli.document_s3_bucket_owner);
  if (root.contains("cwIgnoreFailures")) {
    const nlohmann::json& v = root["cwIgnoreFailures"];
    if (v.is_boolean()) logs.cw_ignore_failures = logs.cw_ignore_failures || v.get<bool>();
    else if (v == "true" || v == "false") logs.cw_ignore_failures = logs.cw_ignore_failures || v == "true";
    else fail("/cwIgnoreFailures", "cwIgnoreFailures must be true or false", "");
  }
  return !has_errors(diagnostics);
}

}  // namespace kiln
