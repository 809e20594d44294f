// What is settled before a document runs (and before an ExecuteDocument child runs):
// which phases are selected, whether every action can run here, and the values of the
// parameters, of which the secret ones are masked in every log from then on.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actions/action.h"

#include "agent/document/diagnostic.h"
#include "agent/document/model.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/report/secret_masker.h"

namespace kiln {

// Whether `--phases` (empty: all) selects the phase named `name`.
bool phase_selected(const std::vector<std::string>& phases, const std::string& name);

// Parameters (defaults < given values) and constants of one document; an error for
// each parameter with neither.
Diagnostics bind_variables(const Document& doc, const std::map<std::string, std::string>& given,
                           std::map<std::string, std::string>& variables);

// Checks what validation cannot: that every action the selected phases use is in
// `actions` and not blocked.
Diagnostics check_runnable(const Document& document, const std::vector<std::string>& phases,
                           const std::set<std::string>& blocked_actions, const ActionTable& actions);

// How documents are read for a run: the same for the documents on the command line and
// for an ExecuteDocument child (so --strict, the platform and blocked actions reach both).
struct PrepareOptions {
  std::string platform;
  bool strict = false;
  std::vector<std::string> phases;  // empty: all
  std::set<std::string> blocked_actions;
  const ActionTable* actions = nullptr;
  bool warnings_as_errors = false;  // a validation warning refuses the document
  std::string document_s3_bucket_owner;  // s3:// documents must come from this account's bucket
};

enum class PrepareResult {
  Ready,
  Invalid,       // unreadable or invalid (exit code 3)
  NotRunnable,   // valid, but an action is blocked or not implemented here (exit code 3)
  MissingValue,  // a parameter has neither a default nor a value (a usage error, exit code 2)
};

struct PreparedDocument {
  Document document;
  std::map<std::string, std::string> variables;  // parameters and constants, bound
  std::string text;                              // as read, to quote lines in diagnostics
};

// Whether a document or config location is remote (s3://, arn:, http://, https://).
bool is_remote_location(const std::string& location);

// Reads and parses a YAML/JSON text: a local file, or s3:// / http(s):// fetched (the
// bucket owned by `s3_bucket_owner` when given). A document and a --config file are read so.
bool read_yaml_source(const std::string& path, const std::string& s3_bucket_owner, LoadedDocument& out,
                      Diagnostics& diagnostics);

// Reads and validates one document: a local file, or s3:// / https:// (an ARN and a
// folder are refused). True when it has no errors; every diagnostic is appended.
bool load_document(const std::string& path, const ValidateOptions& options, PreparedDocument& out,
                   Diagnostics& diagnostics, const std::string& s3_bucket_owner = "");

// Reads, validates and binds one document (as load_document reads it), checked against
// the schemas, then check_runnable, then bind_variables.
// Every diagnostic (warnings too) is appended to `diagnostics`.
PrepareResult prepare_document(const std::string& path, const std::map<std::string, std::string>& given,
                               const PrepareOptions& options, PreparedDocument& out, Diagnostics& diagnostics);

// Values of parameters marked secret are masked from then on.
void add_secrets(const Document& doc, const std::map<std::string, std::string>& variables, SecretMasker& masker);

}  // namespace kiln
