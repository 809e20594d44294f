// kiln: an AWSTOE-compatible component runner. `kiln validate` checks documents;
// `kiln run` runs them. Invoked as `awstoe` it behaves the same.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>

#include "agent/cli/options.h"
#include "agent/document/diagnostic_format.h"
#include "agent/document/schema_check.h"
#include "agent/document/suggest.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/engine/engine.h"
#include "agent/sys/host.h"

namespace kiln {
namespace {

std::atomic<bool> g_cancel{false};

extern "C" void on_stop_signal(int) { g_cancel.store(true); }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Keeps every loaded text so diagnostics can quote the offending line.
struct SourceTexts {
  std::map<std::string, std::string> texts;
  std::string line(const std::string& file, int line_number) const {
    auto it = texts.find(file);
    if (it == texts.end()) return {};
    LoadedDocument d;
    d.text = it->second;
    return d.source_line(line_number);
  }
};

void print_diagnostics(const Diagnostics& diagnostics, const SourceTexts& sources) {
  bool color = ::isatty(STDERR_FILENO) && std::getenv("NO_COLOR") == nullptr;
  for (const auto& d : diagnostics)
    std::cerr << format_diagnostic(d, [&](const std::string& f, int l) { return sources.line(f, l); }, color);
}

bool is_remote(const std::string& location) {
  return location.rfind("s3://", 0) == 0 || location.rfind("arn:", 0) == 0 || location.rfind("http://", 0) == 0 ||
         location.rfind("https://", 0) == 0;
}

// Loads and validates one document; appends diagnostics. Returns true when valid.
bool load_and_validate(const std::string& path, const std::string& platform, Document& out, Diagnostics& diagnostics,
                       SourceTexts& sources) {
  if (is_remote(path)) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, "remote documents (S3, ARN, URL) are not supported by this build yet",
                           "download the document and pass its local path"});
    return false;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, "is a folder, not a document", "pass a .yml/.yaml/.json file"});
    return false;
  }
  LoadedDocument loaded;
  bool ok = load_yaml_file(path, loaded, diagnostics);
  sources.texts[path] = loaded.text;
  if (!ok) return false;
  ValidateOptions options;
  options.platform = platform;
  Diagnostics found = validate_document(std::move(loaded), options, out);
  bool valid = !has_errors(found);
  diagnostics.insert(diagnostics.end(), found.begin(), found.end());
  return valid;
}

int command_validate(const CliOptions& cli) {
  std::string platform = cli.os_platform.empty() ? host_platform() : cli.os_platform;
  SourceTexts sources;
  nlohmann::json report = {{"status", "valid"}, {"documents", nlohmann::json::array()}};
  bool all_valid = true;
  Diagnostics all;
  for (const auto& path : cli.documents) {
    Document doc;
    Diagnostics diagnostics;
    bool valid = load_and_validate(path, platform, doc, diagnostics, sources);
    all_valid = all_valid && valid;
    nlohmann::json entry = {{"file", path}, {"valid", valid}, {"diagnostics", nlohmann::json::array()}};
    for (const auto& d : diagnostics) entry["diagnostics"].push_back(diagnostic_to_json(d));
    report["documents"].push_back(entry);
    all.insert(all.end(), diagnostics.begin(), diagnostics.end());
    if (cli.format == "text") {
      print_diagnostics(diagnostics, sources);
      int errors = 0;
      for (const auto& d : diagnostics) errors += d.severity == Severity::Error;
      std::cout << (valid ? "valid: " : "invalid: ") << path
                << (valid ? "" : " (" + std::to_string(errors) + " error" + (errors == 1 ? "" : "s") + ")") << "\n";
    }
  }
  if (!all_valid) report["status"] = "invalid";
  if (cli.format == "json") std::cout << report.dump(2) << "\n";
  return all_valid ? 0 : 3;
}

// The --config file (§6.3 of the reference): JSON, read with positions for errors.
bool read_config(const std::string& path, CliOptions& cli, std::vector<std::map<std::string, std::string>>& per_document,
                 Diagnostics& diagnostics, SourceTexts& sources) {
  if (is_remote(path)) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, "remote config files are not supported by this build yet",
                           "download it and pass its local path"});
    return false;
  }
  LoadedDocument config;
  bool ok = load_yaml_file(path, config, diagnostics);
  sources.texts[path] = config.text;
  if (!ok) return false;
  static const std::vector<std::string> known = {
      "documents",      "parameters",     "phases",          "executionId",       "executonId",
      "logDirectory",   "logS3BucketName", "logS3KeyPrefix", "logS3BucketOwner",  "cwLogGroup",
      "cwLogStream",    "cwLogRegion",    "cwIgnoreFailures", "documentS3BucketOwner", "stateDirectory", "trace"};
  auto fail = [&](const std::string& pointer, std::string message, std::string hint) {
    diagnostics.push_back({Severity::Error, config.at(pointer), std::move(message), std::move(hint)});
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
                             guess.empty() ? "allowed keys: " + join_words(known) : "did you mean '" + guess + "'?"});
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
  if (root.contains("parameters")) read_pairs(root["parameters"], "/parameters", cli.parameters);
  std::string phases;
  text("phases", phases);
  if (cli.phases.empty()) cli.phases = split_comma_list(phases);
  text("executionId", cli.execution_id);
  text("executonId", cli.execution_id);
  text("logDirectory", cli.log_directory);
  text("stateDirectory", cli.state_directory);
  if (root.contains("trace") && root["trace"].is_boolean() && root["trace"].get<bool>()) cli.trace = true;
  for (const char* key : {"logS3BucketName", "logS3KeyPrefix", "logS3BucketOwner", "cwLogGroup", "cwLogStream",
                          "cwLogRegion", "documentS3BucketOwner"})
    if (root.contains(key)) cli.unsupported.push_back(std::string("\"") + key + "\" in the config file");
  return !has_errors(diagnostics);
}

int command_run(CliOptions cli) {
  SourceTexts sources;
  Diagnostics diagnostics;
  std::vector<std::map<std::string, std::string>> per_document;
  if (!cli.config.empty()) {
    if (!cli.documents.empty() || cli.parameters_given) {
      std::cerr << "kiln: --config cannot be combined with --documents or --parameters (put them in the file)\n";
      return 2;
    }
    if (!read_config(cli.config, cli, per_document, diagnostics, sources)) {
      print_diagnostics(diagnostics, sources);
      return 2;
    }
  } else if (cli.documents.empty()) {
    std::cerr << "kiln: run needs --documents or --config\n" << usage_text("kiln");
    return 2;
  }
  if (!cli.unsupported.empty()) {
    std::cerr << "kiln: not supported by this build yet: " << join_words(cli.unsupported)
              << " (S3 log upload and CloudWatch streaming are planned)\n";
    return 2;
  }
  per_document.resize(cli.documents.size());
  std::string platform = host_platform();
  std::vector<DocumentToRun> documents;
  bool valid = true;
  for (size_t i = 0; i < cli.documents.size(); ++i) {
    DocumentToRun run;
    valid = load_and_validate(cli.documents[i], platform, run.document, diagnostics, sources) && valid;
    run.parameters = per_document[i];
    documents.push_back(std::move(run));
  }
  print_diagnostics(diagnostics, sources);
  if (!valid) return 3;

  RunOptions options;
  options.phases = cli.phases;
  options.parameters = cli.parameters;
  options.execution_id = cli.execution_id.empty() ? sys::random_uuid() : cli.execution_id;
  options.log_directory = cli.log_directory.empty() ? "." : cli.log_directory;
  options.platform = platform;
  options.blocked_actions = cli.blocked_actions;
  options.trace = cli.trace;
  options.progress = ::isatty(STDERR_FILENO);
  install_signal_handlers();
  RunOutcome outcome = run_documents(documents, options, &g_cancel);
  print_diagnostics(outcome.diagnostics, sources);
  if (!outcome.summary.is_null()) std::cout << outcome.summary.dump(2) << std::endl;
  return outcome.exit_code;
}

int main_impl(int argc, char** argv) {
  CliOptions cli;
  std::string program = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "kiln";
  if (std::string error = parse_command_line(argc, argv, cli); !error.empty()) {
    std::cerr << program << ": " << error << "\n\n" << usage_text(program);
    return 2;
  }
  if (cli.show_version) {
    std::cout << "kiln " KILN_VERSION " (AWSTOE-compatible component runner)\n";
    return 0;
  }
  if (cli.show_help || cli.command.empty()) {
    (cli.show_help ? std::cout : std::cerr) << usage_text(program);
    return cli.show_help ? 0 : 2;
  }
  if (cli.command == "validate") return command_validate(cli);
  return command_run(cli);
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  try {
    return kiln::main_impl(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "kiln: internal error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "kiln: internal error\n";
    return 1;
  }
}
