#include "agent/engine/run_setup.h"

#include <algorithm>
#include <filesystem>

#include "actions/action.h"
#include "agent/document/schema_registry.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/engine/remote_access.h"
#include "agent/sys/host.h"

namespace kiln {

bool phase_selected(const std::vector<std::string>& phases, const std::string& name) {
  return phases.empty() || std::find(phases.begin(), phases.end(), name) != phases.end();
}

void add_secrets(const Document& doc, const std::map<std::string, std::string>& variables, SecretMasker& masker) {
  for (const auto& p : doc.parameters)
    if (p.secret)
      if (auto it = variables.find(p.name); it != variables.end()) masker.add(it->second);
}

// Parameters (defaults < given values) and constants of one document.
Diagnostics bind_variables(const Document& doc, const std::map<std::string, std::string>& given,
                           std::map<std::string, std::string>& variables) {
  Diagnostics diagnostics;
  for (size_t i = 0; i < doc.parameters.size(); ++i) {
    const ParameterSpec& p = doc.parameters[i];
    if (auto it = given.find(p.name); it != given.end()) {
      variables[p.name] = it->second;
    } else if (p.default_value) {
      variables[p.name] = *p.default_value;
    } else {
      std::string pointer;
      const nlohmann::json& list = doc.source.root["parameters"];
      for (size_t k = 0; k < list.size(); ++k)
        if (list[k].contains(p.name)) pointer = pointer_append(pointer_append("/parameters", k), p.name);
      diagnostics.push_back({Severity::Error, doc.source.key_at(pointer),
                             "parameter '" + p.name + "' has no default and no value was given",
                             "pass it with --parameters " + p.name + "=VALUE (or in the --config file)",
                             DiagnosticCode::MissingParameterValue});
    }
  }
  for (const auto& [name, value] : doc.constants) variables[name] = value;
  return diagnostics;
}

Diagnostics check_runnable(const Document& doc, const std::vector<std::string>& phases,
                           const std::set<std::string>& blocked_actions, const ActionTable& actions) {
  Diagnostics out;
  for (size_t pi = 0; pi < doc.phases.size(); ++pi) {
    const PhaseSpec& phase = doc.phases[pi];
    if (!phase_selected(phases, phase.name)) continue;
    for (const auto& step : phase.steps) {
      std::string action_pointer = step.pointer + "/action";
      if (blocked_actions.count(step.action)) {
        out.push_back({Severity::Error, doc.source.at(action_pointer),
                       "action " + step.action + " is blocked by --blocked-action-modules (step " + step.name + ")",
                       "remove it from --blocked-action-modules, or run other phases", DiagnosticCode::NotRunnable});
      } else if (!actions.find(step.action)) {
        const ActionSchema* schema = SchemaRegistry::instance().action(step.action);
        bool other_platform = schema && !schema->supports(sys::host_platform());
        out.push_back(
            {Severity::Error, doc.source.at(action_pointer),
             other_platform
                 ? "action " + step.action + " (step " + step.name + ") cannot run on " + sys::host_platform() +
                       "; it runs on " + schema->platforms.front() + (schema->platforms.size() > 1 ? " and others" : "")
                 : "action " + step.action + " (step " + step.name + ") is not implemented in this kiln build yet",
             "nothing was run; `kiln validate` accepts the document, but `kiln run` cannot execute it",
             DiagnosticCode::NotRunnable});
      }
    }
  }
  return out;
}

bool is_remote_location(const std::string& location) {
  for (const char* scheme : {"s3://", "arn:", "http://", "https://"})
    if (location.rfind(scheme, 0) == 0) return true;
  return false;
}

bool read_yaml_source(const std::string& path, const std::string& s3_bucket_owner, LoadedDocument& out,
                      Diagnostics& diagnostics) {
  if (!is_remote_location(path)) return load_yaml_file(path, out, diagnostics);
  Expected<std::string> text = fetch_remote_text(path, s3_bucket_owner);
  if (!text) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, text.error(),
                           "check the location, the network and the credentials", DiagnosticCode::Unreadable});
    return false;
  }
  return load_yaml_text(path, std::move(*text), out, diagnostics);
}

bool load_document(const std::string& path, const ValidateOptions& options, PreparedDocument& out,
                   Diagnostics& diagnostics, const std::string& s3_bucket_owner) {
  std::error_code ec;
  if (!is_remote_location(path) && std::filesystem::is_directory(path, ec)) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, "is a folder, not a document", "pass a .yml/.yaml/.json file",
                           DiagnosticCode::Unreadable});
    return false;
  }
  LoadedDocument loaded;
  bool read = read_yaml_source(path, s3_bucket_owner, loaded, diagnostics);
  out.text = loaded.text;
  if (!read) return false;
  Diagnostics found = validate_document(std::move(loaded), options, out.document);
  bool valid = !has_errors(found);
  diagnostics.insert(diagnostics.end(), found.begin(), found.end());
  return valid;
}

PrepareResult prepare_document(const std::string& path, const std::map<std::string, std::string>& given,
                               const PrepareOptions& options, PreparedDocument& out, Diagnostics& diagnostics) {
  ValidateOptions validate;
  validate.platform = options.platform;
  validate.strict = options.strict;
  validate.warnings_as_errors = options.warnings_as_errors;
  if (!load_document(path, validate, out, diagnostics, options.document_s3_bucket_owner)) return PrepareResult::Invalid;
  Diagnostics refused = options.actions ? check_runnable(out.document, options.phases, options.blocked_actions,
                                                         *options.actions)
                                        : Diagnostics{{Severity::Error, {path, 0, 0}, "no actions to run with", ""}};
  Diagnostics unbound = bind_variables(out.document, given, out.variables);
  diagnostics.insert(diagnostics.end(), refused.begin(), refused.end());
  diagnostics.insert(diagnostics.end(), unbound.begin(), unbound.end());
  if (has_errors(unbound)) return PrepareResult::MissingValue;
  return has_errors(refused) ? PrepareResult::NotRunnable : PrepareResult::Ready;
}

}  // namespace kiln
