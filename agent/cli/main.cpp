// kiln: an AWSTOE-compatible component runner. `kiln validate` checks documents;
// `kiln run` runs them. Invoked as `awstoe` it behaves the same.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <cstring>

#include "agent/cli/options.h"
#include "agent/document/diagnostic_format.h"
#include "agent/document/schema_check.h"
#include "agent/document/suggest.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/engine/engine.h"
#include "agent/state/run_journal.h"
#include "agent/state/run_state.h"
#include "agent/sys/host.h"
#include "agent/sys/reboot.h"

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
bool load_and_validate(const std::string& path, const std::string& platform, bool strict, Document& out,
                       Diagnostics& diagnostics, SourceTexts& sources) {
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
  options.strict = strict;
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
    bool valid = load_and_validate(path, platform, cli.strict, doc, diagnostics, sources);
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
  if (cli.format == "json") std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return all_valid ? 0 : 3;
}

// The --config file (§6.3 of the reference): JSON, read with positions for errors.
bool read_config(const std::string& path, CliOptions& cli, Diagnostics& diagnostics, SourceTexts& sources) {
  auto& per_document = cli.document_parameters;
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

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// What identifies a run besides its documents: a resumed run must have the same.
nlohmann::json run_arguments(const CliOptions& cli) {
  nlohmann::json documents = nlohmann::json::array();
  for (const auto& d : cli.documents) documents.push_back(absolute(d));
  return {{"documents", documents},
          {"phases", cli.phases},
          {"parameters", cli.parameters},
          {"documentParameters", cli.document_parameters},
          {"blockedActions", cli.blocked_actions},
          {"logDirectory", absolute(cli.log_directory.empty() ? "." : cli.log_directory)}};
}

// Explains how the arguments or documents differ from those an execution started with.
std::string describe_change(const nlohmann::json& before, const nlohmann::json& now) {
  std::string out;
  const nlohmann::json& a = before.value("args", nlohmann::json::object());
  const nlohmann::json& b = now.value("args", nlohmann::json::object());
  for (const auto& [key, value] : b.items())
    if (!a.contains(key) || a[key] != value)
      out += "\n  " + key + " was " + (a.contains(key) ? a[key].dump() : "unset") + ", now " + value.dump();
  const nlohmann::json& da = before.value("documentHashes", nlohmann::json::array());
  const nlohmann::json& db = now.value("documentHashes", nlohmann::json::array());
  for (size_t i = 0; i < db.size() && i < da.size(); ++i)
    if (da[i] != db[i]) out += "\n  document " + db[i].value("path", "") + " changed since the execution started";
  return out;
}

// Returns the locked fd, -1 if the lock file cannot be opened, -2 if another process
// holds the execution. A killed kiln can leave a child that is between fork and exec
// holding a copy of the descriptor for a moment, so a busy lock is retried briefly.
int lock_execution(const std::string& folder) {
  int fd = ::open((folder + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -1;
  for (int tries = 0; ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (errno != EWOULDBLOCK || tries >= 100) {
      ::close(fd);
      return -2;
    }
    ::usleep(20'000);
  }
  return fd;
}

bool execution_locked(const std::string& folder) {
  int fd = ::open((folder + "/lock").c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return locked;
}

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "kiln" : p.string();
}

bool has_unfinished(const std::string& state_directory) {
  for (const auto& folder : list_executions(state_directory)) {
    std::string status = read_execution_status(folder).status;
    if (status == "finished") continue;
    if (!status.empty()) return true;
    std::vector<nlohmann::json> records;  // no status file: ask the journal
    if (RunJournal::read(folder, records).empty() && !RunState::replay(records).finished) return true;
  }
  return false;
}

int command_run(CliOptions cli) {
  SourceTexts sources;
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
  if (!cli.unsupported.empty()) {
    std::cerr << "kiln: not supported by this build yet: " << join_words(cli.unsupported)
              << " (S3 log upload and CloudWatch streaming are planned)\n";
    return 2;
  }
  cli.document_parameters.resize(cli.documents.size());
  std::string platform = host_platform();
  std::vector<DocumentToRun> documents;
  nlohmann::json hashes = nlohmann::json::array();
  bool valid = true;
  for (size_t i = 0; i < cli.documents.size(); ++i) {
    DocumentToRun run;
    valid = load_and_validate(cli.documents[i], platform, cli.strict, run.document, diagnostics, sources) && valid;
    run.parameters = cli.document_parameters[i];
    hashes.push_back({{"path", absolute(cli.documents[i])}, {"sha256", sha256_hex(sources.texts[cli.documents[i]])}});
    documents.push_back(std::move(run));
  }
  print_diagnostics(diagnostics, sources);
  if (!valid) return 3;

  // Crash-safe state: one folder per execution in the state directory.
  std::string state_directory = absolute(cli.state_directory.empty() ? default_state_directory() : cli.state_directory);
  if (std::string error = check_state_directory(state_directory); !error.empty()) {
    if (!cli.state_directory.empty()) {
      std::cerr << "kiln: " << error << "\n";
      return 2;
    }
    // The default could not be used (e.g. a user without a home folder): keep state in a
    // private folder under /tmp, and say so, rather than refusing to run.
    std::string fallback = "/tmp/kiln-state-" + std::to_string(::geteuid());
    if (std::string again = check_state_directory(fallback); !again.empty()) {
      std::cerr << "kiln: " << error << "; and " << again << "\n";
      return 2;
    }
    std::cerr << "kiln: " << error << "; keeping state in " << fallback << " instead (use --state-directory)\n";
    state_directory = fallback;
  }
  nlohmann::json identity = {{"args", run_arguments(cli)}, {"documentHashes", hashes}};
  std::string identity_hash = sha256_hex(identity.dump());
  std::string execution_id = cli.execution_id;
  RunState earlier;
  bool resuming = false;
  if (execution_id.empty()) {
    // Re-run after a reboot without --execution-id (as SSM does): resume the execution
    // that asked for the reboot, if it was started with the same documents and arguments.
    for (const auto& folder : list_executions(state_directory)) {
      ExecutionStatus hint = read_execution_status(folder);
      if (!hint.status.empty() && (hint.status != "awaitingReboot" || hint.identity != identity_hash)) continue;
      std::vector<nlohmann::json> records;
      if (!RunJournal::read(folder, records).empty()) continue;
      RunState state = RunState::replay(records);
      if (!state.finished && state.awaiting_reboot && state.header.value("identity", nlohmann::json()) == identity) {
        execution_id = state.header.value("executionId", "");
        break;
      }
    }
    if (execution_id.empty()) execution_id = sys::random_uuid();
  }
  std::string folder = execution_folder(state_directory, execution_id);
  {
    // A finished execution is never run again: the same documents and arguments get its
    // recorded result (so a caller that re-runs after a crash at the very end is safe);
    // anything else with the same id starts afresh.
    std::vector<nlohmann::json> records;
    std::error_code ec;
    if (std::filesystem::exists(folder + "/journal", ec) && RunJournal::read(folder, records).empty()) {
      RunState done = RunState::replay(records);
      if (done.finished && done.header.value("identity", nlohmann::json()) == identity) {
        std::cerr << "kiln: execution " << execution_id
                  << " already finished; its result follows (use another --execution-id to run again)\n";
        std::cout << done.summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
        return done.exit_code;
      }
      if (done.finished) std::filesystem::remove_all(folder, ec);
    }
  }
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    std::cerr << "kiln: cannot create " << folder << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  int lock = lock_execution(folder);
  if (lock == -2) {
    std::cerr << "kiln: execution " << execution_id << " is already running (" << folder << ")\n";
    return 2;
  }
  RunJournal journal;
  if (std::string error = journal.open(folder); !error.empty()) {
    std::cerr << "kiln: " << error << "\n";
    return 1;
  }
  if (journal.dropped_torn_record())
    std::cerr << "kiln: the last state record was incomplete (a crash while writing it) and was dropped\n";
  if (!journal.records().empty()) {
    earlier = RunState::replay(journal.records());
    if (!earlier.header.is_null()) {
      resuming = true;
      nlohmann::json before = earlier.header.value("identity", nlohmann::json::object());
      if (before != identity) {
        std::cerr << "kiln: cannot resume execution " << execution_id
                  << ": its documents or arguments changed:" << describe_change(before, identity)
                  << "\n  run with the original ones to resume, or with another --execution-id to start afresh\n";
        return 2;
      }
      std::cerr << "kiln: resuming execution " << execution_id << "\n";
    }
  }

  RunOptions options;
  options.phases = cli.phases;
  options.parameters = cli.parameters;
  options.execution_id = execution_id;
  options.log_directory = cli.log_directory.empty() ? "." : cli.log_directory;
  options.platform = platform;
  options.blocked_actions = cli.blocked_actions;
  options.trace = cli.trace;
  options.progress = ::isatty(STDERR_FILENO);
  options.max_reboots = cli.max_reboots;
  RunPersistence persistence;
  persistence.journal = &journal;
  persistence.resume = resuming ? &earlier : nullptr;
  persistence.header = {{"executionId", execution_id},
                        {"identity", identity},
                        {"cwd", absolute(".")},
                        {"kilnVersion", KILN_VERSION},
                        {"rebootMode", cli.reboot_mode},
                        {"maxReboots", cli.max_reboots},
                        {"rebootCommand", cli.reboot_command},
                        {"resumeTrigger", cli.resume_trigger},
                        {"trace", cli.trace}};
  install_signal_handlers();
  write_execution_status(folder, {"running", identity_hash});
  RunOutcome outcome = run_documents(documents, options, &g_cancel, persistence);
  write_execution_status(folder, {outcome.finished    ? "finished"
                                  : outcome.rebooting ? "awaitingReboot"
                                                      : "interrupted",
                                  identity_hash});
  print_diagnostics(outcome.diagnostics, sources);
  if (!outcome.summary.is_null())
    std::cout << outcome.summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  sys::RebootSettings reboot = sys::reboot_settings_from_environment();
  reboot.trigger = cli.resume_trigger;
  if (!cli.reboot_command.empty()) reboot.command = cli.reboot_command;
  if (outcome.finished && sys::resume_trigger_exists(reboot, state_directory) && !has_unfinished(state_directory))
    sys::remove_resume_trigger(reboot, state_directory);
  if (outcome.rebooting && cli.reboot_mode == "system") {
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
  }
  if (lock >= 0) ::close(lock);
  return outcome.exit_code;
}

// `kiln resume`: continues every unfinished execution of a state directory, each with
// the arguments it was started with (this is what the boot trigger runs).
int command_resume(const CliOptions& cli) {
  std::string state_directory = absolute(cli.state_directory.empty() ? default_state_directory() : cli.state_directory);
  int result = 0, resumed = 0;
  for (const auto& folder : list_executions(state_directory)) {
    std::vector<nlohmann::json> records;
    if (std::string error = RunJournal::read(folder, records); !error.empty()) {
      std::cerr << "kiln: " << error << "\n";
      result = 1;
      continue;
    }
    RunState state = RunState::replay(records);
    if (state.finished || state.header.is_null() || execution_locked(folder)) continue;
    const nlohmann::json& header = state.header;
    const nlohmann::json& args = header["identity"]["args"];
    CliOptions again;
    again.command = "run";
    again.documents = args.value("documents", std::vector<std::string>{});
    again.phases = args.value("phases", std::vector<std::string>{});
    again.parameters = args.value("parameters", std::map<std::string, std::string>{});
    again.document_parameters = args.value("documentParameters", std::vector<std::map<std::string, std::string>>{});
    again.blocked_actions = args.value("blockedActions", std::set<std::string>{});
    again.log_directory = args.value("logDirectory", ".");
    again.execution_id = header.value("executionId", "");
    again.state_directory = state_directory;
    again.reboot_mode = header.value("rebootMode", "system");
    again.max_reboots = header.value("maxReboots", 10);
    again.reboot_command = header.value("rebootCommand", "");
    again.resume_trigger = header.value("resumeTrigger", "auto");
    again.trace = header.value("trace", false);
    std::error_code ec;
    std::filesystem::current_path(header.value("cwd", "/"), ec);
    std::cerr << "kiln: resuming " << again.execution_id << "\n";
    ++resumed;
    int code = command_run(again);
    if (code == 194) return 194;  // the machine is rebooting; the trigger will call us again
    if (code != 0) result = code;
  }
  if (resumed == 0) std::cerr << "kiln: nothing to resume in " << state_directory << "\n";
  return result;
}

// `kiln status`: every execution of a state directory and where it stands.
int command_status(const CliOptions& cli) {
  std::string state_directory = absolute(cli.state_directory.empty() ? default_state_directory() : cli.state_directory);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& folder : list_executions(state_directory)) {
    std::vector<nlohmann::json> records;
    std::string error = RunJournal::read(folder, records);
    RunState state = RunState::replay(records);
    std::string status = !error.empty()             ? "unreadable"
                         : execution_locked(folder) ? "running"
                         : state.finished           ? state.summary.value("status", "finished")
                         : state.awaiting_reboot    ? "awaitingReboot"
                                                    : "interrupted";
    size_t done = 0;
    for (const auto& [key, step] : state.steps) done += step.finished;
    all.push_back({{"executionId", state.header.value("executionId", std::filesystem::path(folder).filename().string())},
                   {"status", status},
                   {"stepsFinished", done},
                   {"reboots", state.reboots.size()},
                   {"startTime", state.header.value("startTime", "")},
                   {"logFolder", state.header.value("logFolder", "")},
                   {"stateFolder", folder},
                   {"error", error}});
  }
  if (cli.format == "json") {
    std::cout << all.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) std::cout << "no executions in " << state_directory << "\n";
  for (const auto& e : all)
    std::cout << e["executionId"].get<std::string>() << "  " << e["status"].get<std::string>() << "  "
              << e["stepsFinished"] << " steps done, " << e["reboots"] << " reboots, started "
              << e["startTime"].get<std::string>() << "\n    logs: " << e["logFolder"].get<std::string>() << "\n";
  return 0;
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
  if (cli.command == "resume") return command_resume(cli);
  if (cli.command == "status") return command_status(cli);
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
