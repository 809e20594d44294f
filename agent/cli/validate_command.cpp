// `kiln validate`: every problem of every document, compiler-style or as JSON.
#include <iostream>

#include "agent/cli/commands.h"
#include "agent/cli/source_texts.h"
#include "agent/document/diagnostic_format.h"
#include "agent/document/validator.h"
#include "agent/engine/run_setup.h"
#include "agent/sys/host.h"

namespace kiln {

int command_validate(const CliOptions& cli) {
  ValidateOptions options;
  options.platform = cli.os_platform.empty() ? sys::host_platform() : cli.os_platform;
  options.strict = cli.strict;
  options.warnings_as_errors = cli.warnings_as_errors;
  SourceTexts sources;
  nlohmann::json report = {
      {"status", "valid"}, {"warningsAsErrors", cli.warnings_as_errors}, {"documents", nlohmann::json::array()}};
  bool all_valid = true;
  for (const auto& path : cli.documents) {
    PreparedDocument doc;
    Diagnostics diagnostics;
    bool valid = load_document(path, options, doc, diagnostics, cli.document_s3_bucket_owner);
    sources.texts[path] = doc.text;
    all_valid = all_valid && valid;
    nlohmann::json entry = {{"file", path}, {"valid", valid}, {"diagnostics", nlohmann::json::array()}};
    for (const auto& d : diagnostics) entry["diagnostics"].push_back(diagnostic_to_json(d));
    report["documents"].push_back(entry);
    if (cli.format == "text") {
      print_diagnostics(diagnostics, sources);
      int errors = 0;
      for (const auto& d : diagnostics) errors += d.severity == Severity::Error;
      std::cout << (valid ? "valid: " : "invalid: ") << path
                << (valid ? "" : " (" + std::to_string(errors) + " error" + (errors == 1 ? "" : "s") + ")") << "\n";
    }
  }
  if (!all_valid) report["status"] = "invalid";
  if (cli.format == "json") std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return all_valid ? 0 : 3;
}

}  // namespace kiln
