// `kiln run` and `kiln resume`: flags -> prepared documents -> an execution opened in
// the state directory (new, resumed, or already finished) -> the engine -> the reboot
// the run asked for.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "actions/registry.h"
#include "agent/base/hash.h"
#include "agent/cli/commands.h"
#include "agent/cli/config_file.h"
#include "agent/cli/source_texts.h"
#include "agent/document/suggest.h"
#include "agent/document/validator.h"
#include "agent/engine/dry_run.h"
#include "agent/engine/engine.h"
#include "agent/engine/plan.h"
#include "agent/engine/rerun.h"
#include "agent/engine/run_setup.h"
#include "agent/state/execution_store.h"
#include "agent/sys/host.h"
#include "agent/sys/reboot.h"
#include "agent/sys/stop_signals.h"

namespace kiln {
namespace {


std::string absolute(const std::string& path) {
  if (is_remote_location(path)) return path;  // s3://, https://: as given
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "kiln" : p.string();
}

// --config, or --documents and --parameters; 0 or the exit code of a usage error.
int read_run_arguments(CliOptions& cli, SourceTexts& sources) {
  Diagnostics diagnostics;
  if (!cli.config.empty()) {
    if (!cli.documents.empty() || cli.parameters_given) {
      std::cerr << "kiln: --config cannot be combined with --documents or --parameters (put them in the file)\n";
      return 2;
    }
    if (!read_config(cli.config, cli, diagnostics, sources)) {
      print_diagnostics(diagnostics, sources);
      return 2;
    }
  } else if (cli.documents.empty()) {
    std::cerr << "kiln: run needs --documents or --config\n" << usage_text("kiln");
    return 2;
  }
  cli.document_parameters.resize(cli.documents.size());
  return 0;
}

// Prepares every document (all of them, so every problem is reported at once) and the
// run's identity; 0 or the exit code (3 invalid, 2 a parameter without a value).
int prepare_documents(const CliOptions& cli, const PrepareOptions& prepare, std::vector<DocumentToRun>& documents,
                      RunIdentity& identity, SourceTexts& sources) {
  Diagnostics diagnostics;
  bool invalid = false, missing_value = false, unrunnable = false;
  for (size_t i = 0; i < cli.documents.size(); ++i) {
    std::map<std::string, std::string> given = cli.parameters;
    for (const auto& [k, v] : cli.document_parameters[i]) given[k] = v;
    PreparedDocument prepared;
    PrepareResult result = prepare_document(cli.documents[i], given, prepare, prepared, diagnostics);
    sources.texts[cli.documents[i]] = prepared.text;
    invalid = invalid || result == PrepareResult::Invalid;
    unrunnable = unrunnable || result == PrepareResult::NotRunnable;
    missing_value = missing_value || result == PrepareResult::MissingValue;
    identity.documents.push_back({absolute(cli.documents[i]), sha256_hex(prepared.text)});
    documents.push_back({std::move(prepared.document), std::move(prepared.variables)});
  }
  print_diagnostics(diagnostics, sources);
  if (invalid) return 3;
  if (missing_value) return 2;
  return unrunnable ? 3 : 0;
}

RunArguments run_arguments(const CliOptions& cli) {
  RunArguments args;
  for (const auto& d : cli.documents) args.documents.push_back(absolute(d));
  args.phases = cli.phases;
  args.parameters = cli.parameters;
  args.document_parameters = cli.document_parameters;
  args.blocked_actions = cli.blocked_actions;
  args.log_directory = absolute(cli.log_directory.empty() ? "." : cli.log_directory);
  args.steps = cli.steps;
  args.start_at = cli.start_at;
  args.outputs_from = cli.outputs_from;
  return args;
}

RunHeader run_header(const CliOptions& cli, const std::string& execution_id, const RunIdentity& identity) {
  RunHeader header;
  header.execution_id = execution_id;
  header.identity = identity;
  header.cwd = absolute(".");
  header.kiln_version = KILN_VERSION;
  header.reboot_mode = parse_reboot_mode(cli.reboot_mode).value_or(RebootMode::System);
  header.max_reboots = cli.max_reboots;
  header.reboot_command = cli.reboot_command;
  header.resume_trigger = cli.resume_trigger;
  header.trace = cli.trace;
  header.strict = cli.strict;
  header.warnings_as_errors = cli.warnings_as_errors;
  header.max_log_size = cli.max_log_size;
  header.log_destinations = cli.log_destinations;
  header.document_s3_bucket_owner = cli.document_s3_bucket_owner;
  return header;
}

// The inverse of run_arguments() and run_header(): the flags an execution was started with.
CliOptions options_from_header(const RunHeader& header, const std::string& state_directory) {
  const RunArguments& args = header.identity.args;
  CliOptions cli;
  cli.command = "run";
  cli.documents = args.documents;
  cli.phases = args.phases;
  cli.parameters = args.parameters;
  cli.document_parameters = args.document_parameters;
  cli.blocked_actions = args.blocked_actions;
  cli.log_directory = args.log_directory;
  cli.steps = args.steps;
  cli.start_at = args.start_at;
  cli.outputs_from = args.outputs_from;
  cli.execution_id = header.execution_id;
  cli.state_directory = state_directory;
  cli.reboot_mode = std::string(reboot_mode_name(header.reboot_mode));
  cli.max_reboots = header.max_reboots;
  cli.reboot_command = header.reboot_command;
  cli.resume_trigger = header.resume_trigger;
  cli.trace = header.trace;
  cli.strict = header.strict;
  cli.warnings_as_errors = header.warnings_as_errors;
  cli.max_log_size = header.max_log_size;
  cli.log_destinations = header.log_destinations;
  cli.document_s3_bucket_owner = header.document_s3_bucket_owner;
  return cli;
}

std::vector<const Document*> document_pointers(const std::vector<DocumentToRun>& documents) {
  std::vector<const Document*> out;
  for (const auto& d : documents) out.push_back(&d.document);
  return out;
}

std::string state_directory_of(const CliOptions& cli) {
  return cli.state_directory.empty() ? default_state_directory() : cli.state_directory;
}

// The plan of the run: which steps run (--phases, --steps, --start-at) and what they
// borrow from --outputs-from. 0, or the exit code of a usage error (2), printed with
// where and how to fix it. Reads the state directory only for --outputs-from.
int make_plan(const CliOptions& cli, const std::vector<DocumentToRun>& documents, const SourceTexts& sources,
              RunPlan& plan) {
  std::vector<const Document*> docs = document_pointers(documents);
  StepSelection selection{cli.steps, cli.start_at, cli.outputs_from};
  if (std::string error = plan_run(docs, cli.phases, selection, plan); !error.empty()) {
    std::cerr << "kiln: " << error << "\n";
    return 2;
  }
  // Without the debugging flags a run behaves as it always did (a chain into a phase
  // --phases leaves out fails when the step runs, as AWSTOE's does).
  if (!selection.selects_steps() && selection.outputs_from.empty()) return 0;
  std::vector<ChainedReference> references = references_to_steps_not_run(docs, plan);
  if (references.empty()) return 0;
  if (selection.outputs_from.empty()) {
    print_diagnostics(unresolved_chain_errors(references), sources);
    return 2;
  }
  ExecutionStore store;
  store.open_for_reading(state_directory_of(cli));
  for (const auto& e : store.list()) {
    if (!e.state.header || e.state.header->execution_id != selection.outputs_from) continue;
    std::vector<std::string> paths;
    for (const auto& d : cli.documents) paths.push_back(absolute(d));
    Diagnostics errors = borrow_outputs(docs, paths, e.state, selection.outputs_from, references, plan);
    if (errors.empty()) return 0;
    print_diagnostics(errors, sources);
    return 2;
  }
  std::cerr << "kiln: --outputs-from: no execution '" << selection.outputs_from << "' in " << store.directory()
            << "; `kiln status --state-directory " << store.directory() << "` lists them\n";
  return 2;
}

// --dry-run: prints the plan (text, or JSON with --format json) and runs nothing.
int print_dry_run(const CliOptions& cli, const std::vector<DocumentToRun>& documents, const RunPlan& plan,
                  const std::string& platform) {
  SecretMasker masker;
  std::vector<PlannedDocument> planned;
  for (size_t i = 0; i < documents.size(); ++i) {
    add_secrets(documents[i].document, documents[i].variables, masker);
    planned.push_back({&documents[i].document, &documents[i].variables, absolute(cli.documents[i])});
  }
  nlohmann::json described = describe_plan(planned, {cli.execution_id, platform, &plan, &masker});
  if (cli.format == "json") std::cout << described.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else std::cout << format_plan(described);
  return 0;
}

// argv[0] as this process was invoked (main() keeps it to itself): "kiln", "awstoe", or
// a path, made absolute so the printed command works from any folder.
std::string invoked_as() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string first;
  std::getline(in, first, '\0');
  if (first.empty()) return "kiln";
  return first.find('/') == std::string::npos ? first : absolute(first);
}

// The last line of a failed run: the command that re-runs only the step that failed.
void print_rerun_hint(const CliOptions& cli, const std::vector<DocumentToRun>& documents,
                      const std::string& execution_id, const StepPosition& failed, const RunPlan& plan) {
  const Document& doc = documents[failed.document].document;
  const PhaseSpec& phase = doc.phases[failed.phase];
  RerunCommand command;
  command.program = invoked_as();
  command.document = absolute(cli.documents[failed.document]);
  command.phases = cli.phases;
  command.step = phase.name + "." + phase.steps[failed.step].name;
  std::map<std::string, std::string> given = cli.parameters;
  for (const auto& [k, v] : cli.document_parameters[failed.document]) given[k] = v;
  bool secret_left_out = false;
  for (const auto& [name, value] : given) {
    bool secret = false;
    for (const auto& p : doc.parameters) secret = secret || (p.name == name && p.secret);
    command.parameters.emplace_back(name, secret ? std::string(kSecretPlaceholder) : value);
    secret_left_out = secret_left_out || secret;
  }
  // Run alone, the step chains to steps that then do not run: their inputs and outputs
  // come from this execution, or from the one this execution borrowed them from.
  bool borrows = false, borrowed_here = false;
  for (const auto& ref : chained_references(doc, failed)) {
    if (ref.phase == phase.name && ref.step == phase.steps[failed.step].name) continue;
    borrows = true;
    borrowed_here = borrowed_here || plan.borrowed(failed.document).count(ref.phase + "\n" + ref.step) > 0;
  }
  if (borrows) command.outputs_from = borrowed_here ? cli.outputs_from : execution_id;
  if (borrows || !cli.state_directory.empty())
    command.other_flags.insert(command.other_flags.end(), {"--state-directory", absolute(state_directory_of(cli))});
  if (!cli.log_directory.empty())
    command.other_flags.insert(command.other_flags.end(), {"--log-directory", absolute(cli.log_directory)});
  if (cli.strict) command.other_flags.push_back("--strict");
  if (cli.warnings_as_errors) command.other_flags.push_back("--warnings-as-errors");
  std::cerr << "kiln: to run only the failed step again" << (secret_left_out ? " (put the secret values in)" : "")
            << ":\n" << format_rerun_command(command) << "\n";
}

// Opens the execution to run: 0 with `execution` set, or the exit code to return.
int open_execution(const CliOptions& cli, const ExecutionStore& store, const RunIdentity& identity,
                   std::unique_ptr<OpenExecution>& execution) {
  // Re-run after a reboot without --execution-id (as SSM does): resume the execution
  // that asked for the reboot, if it was started with the same documents and arguments.
  std::string id = cli.execution_id;
  if (id.empty()) id = store.find_awaiting_reboot(identity);
  if (id.empty()) id = sys::random_uuid();
  OpenResult opened = store.open_execution(id, identity);
  for (const auto& note : opened.notes) std::cerr << "kiln: " << note << "\n";
  switch (opened.kind) {
    case OpenResult::Kind::Opened:
      if (opened.execution->resume()) std::cerr << "kiln: resuming execution " << id << "\n";
      execution = std::move(opened.execution);
      return 0;
    case OpenResult::Kind::AlreadyFinished:
      std::cerr << "kiln: execution " << id
                << " already finished; its result follows (use another --execution-id to run again)\n";
      std::cout << opened.finished.summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
      return opened.finished.exit_code;
    case OpenResult::Kind::Busy:
    case OpenResult::Kind::IdentityChanged:
      std::cerr << "kiln: " << opened.message << "\n";
      return 2;
    case OpenResult::Kind::Failed:
      break;
  }
  std::cerr << "kiln: " << opened.message << "\n";
  return 1;
}

// After the run: disarm the resume trigger once nothing is left to resume, or arm it
// and reboot (--reboot-mode system). Returns the exit code.
int after_run(const CliOptions& cli, const ExecutionStore& store, const RunOutcome& outcome) {
  sys::RebootSettings reboot = sys::reboot_settings_from_environment();
  reboot.trigger = cli.resume_trigger;
  if (!cli.reboot_command.empty()) reboot.command = cli.reboot_command;
  const std::string& state_directory = store.directory();
  if (outcome.finished && sys::resume_trigger_exists(reboot, state_directory) && !store.has_unfinished())
    sys::remove_resume_trigger(reboot, state_directory);
  if (!outcome.rebooting || cli.reboot_mode != "system") return outcome.exit_code;
  sys::ResumeTrigger armed;
  if (std::string error = sys::arm_resume_trigger(reboot, self_path(), state_directory, armed); !error.empty()) {
    std::cerr << "kiln: " << error << "; not rebooting (the execution stays resumable)\n";
    return 1;
  }
  std::cerr << "kiln: rebooting with '" << reboot.command << "' (resume trigger: " << armed.kind << ")\n";
  if (std::string error = sys::run_reboot_command(reboot.command); !error.empty()) {
    std::cerr << "kiln: " << error << " (the execution stays resumable)\n";
    return 1;
  }
  return outcome.exit_code;
}

}  // namespace

int command_run(CliOptions cli) {
  SourceTexts sources;
  if (int code = read_run_arguments(cli, sources)) return code;
  PrepareOptions prepare{sys::host_platform(), cli.strict, cli.phases, cli.blocked_actions, &builtin_actions(),
                         cli.warnings_as_errors, cli.document_s3_bucket_owner};
  std::vector<DocumentToRun> documents;
  RunIdentity identity{run_arguments(cli), {}};
  if (int code = prepare_documents(cli, prepare, documents, identity, sources)) return code;
  RunPlan plan;
  if (int code = make_plan(cli, documents, sources, plan)) return code;
  if (cli.dry_run) return print_dry_run(cli, documents, plan, prepare.platform);

  ExecutionStore store;
  std::string note;
  bool given = !cli.state_directory.empty();
  if (std::string error = store.open(given ? cli.state_directory : default_state_directory(), given, note);
      !error.empty()) {
    std::cerr << "kiln: " << error << "\n";
    return 2;
  }
  if (!note.empty()) std::cerr << "kiln: " << note << "\n";
  std::unique_ptr<OpenExecution> execution;
  if (int code = open_execution(cli, store, identity, execution); !execution) return code;

  RunOptions options;
  options.phases = cli.phases;
  options.execution_id = execution->id();
  options.log_directory = cli.log_directory.empty() ? "." : cli.log_directory;
  options.platform = prepare.platform;
  options.blocked_actions = cli.blocked_actions;
  options.strict = cli.strict;
  options.warnings_as_errors = cli.warnings_as_errors;
  options.trace = cli.trace;
  options.progress = ::isatty(STDERR_FILENO);
  options.max_reboots = cli.max_reboots;
  options.max_log_size = cli.max_log_size;
  options.log_destinations = cli.log_destinations;
  options.document_s3_bucket_owner = cli.document_s3_bucket_owner;
  options.actions = &builtin_actions();
  options.plan = &plan;
  RunPersistence persistence{&execution->journal(), execution->resume(), run_header(cli, execution->id(), identity)};
  sys::StopRequest& stop = sys::install_stop_signal_handlers();
  execution->set_phase(ExecutionPhase::Running);
  RunOutcome outcome = run_documents(documents, options, &stop.requested, persistence);
  execution->set_phase(outcome.finished    ? ExecutionPhase::Finished
                       : outcome.rebooting ? ExecutionPhase::AwaitingReboot
                                           : ExecutionPhase::Interrupted);
  print_diagnostics(outcome.diagnostics, sources);
  if (!outcome.summary.is_null())
    std::cout << outcome.summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  int code = after_run(cli, store, outcome);
  if (code == 1 && outcome.failed_step) print_rerun_hint(cli, documents, execution->id(), *outcome.failed_step, plan);
  return code;
}

// `kiln resume`: continues every unfinished execution of a state directory, each with
// the arguments it was started with (this is what the boot trigger runs).
int command_resume(const CliOptions& cli) {
  ExecutionStore store;
  store.open_for_reading(cli.state_directory.empty() ? default_state_directory() : cli.state_directory);
  int result = 0, resumed = 0;
  for (const auto& e : store.list()) {
    if (!e.error.empty()) {
      std::cerr << "kiln: " << e.error << "\n";
      result = 1;
      continue;
    }
    if (e.state.finished || !e.state.header || e.locked) continue;
    const RunHeader& header = *e.state.header;
    CliOptions again = options_from_header(header, store.directory());
    std::error_code ec;
    std::filesystem::current_path(header.cwd, ec);
    std::cerr << "kiln: resuming " << again.execution_id << "\n";
    ++resumed;
    int code = command_run(again);
    if (code == 194) return 194;  // the machine is rebooting; the trigger will call us again
    if (code != 0) result = code;
  }
  if (resumed == 0) std::cerr << "kiln: nothing to resume in " << store.directory() << "\n";
  return result;
}

}  // namespace kiln
