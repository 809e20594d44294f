#include "agent/cli/options.h"

#include <boost/program_options.hpp>
#include <sstream>

#include "agent/base/text.h"

namespace kiln {
namespace po = boost::program_options;

std::vector<std::string> split_comma_list(const std::string& text) {
  return split_nonempty(text, ',');
}

std::string parse_parameter_list(const std::string& text, std::map<std::string, std::string>& out) {
  std::vector<std::string> pairs{""};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == ',' || text[i + 1] == '=' || text[i + 1] == '\\')) {
      pairs.back() += '\x01';  // an escaped character, restored below
      pairs.back() += text[++i];
    } else if (text[i] == ',') {
      pairs.emplace_back();
    } else {
      pairs.back() += text[i];
    }
  }
  auto unescape = [](const std::string& s) {
    std::string r;
    for (char c : s)
      if (c != '\x01') r += c;
    return r;
  };
  for (const auto& pair : pairs) {
    size_t eq = std::string::npos;
    for (size_t i = 0; i < pair.size(); ++i) {
      if (pair[i] == '\x01') {
        ++i;
        continue;
      }
      if (pair[i] == '=') {
        eq = i;
        break;
      }
    }
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size())
      return "--parameters: '" + unescape(pair) +
             "' is not NAME=VALUE (both are required; escape a comma or '=' in a value as \\, or \\=)";
    out[unescape(pair.substr(0, eq))] = unescape(pair.substr(eq + 1));
  }
  return {};
}

std::string parse_size(const std::string& text, int64_t& bytes) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string unit = text.substr(digits);
  int shift = unit.empty() ? 0 : unit == "K" || unit == "k" ? 10 : unit == "M" || unit == "m" ? 20
            : unit == "G" || unit == "g" ? 30 : unit == "T" || unit == "t" ? 40 : -1;
  if (digits == 0 || digits > 15 || shift < 0)
    return "'" + text + "' is not a size (a number of bytes, or with K, M, G or T: 512M, 1G)";
  int64_t number = std::stoll(text.substr(0, digits));
  if (number > (int64_t{1} << (62 - shift))) return "'" + text + "' is too large";
  bytes = number << shift;
  return {};
}

namespace {

// Where parsed values land before they are checked and split into CliOptions.
struct ParseTargets {
  CliOptions& out;
  std::string documents{}, phases{}, parameters{}, blocked{}, max_log_size{}, cw_ignore_failures{}, steps{};
};

using Semantic = po::value_semantic* (*)(ParseTargets&);

struct OptionRow {
  OptionSpec spec;
  Semantic semantic;  // nullptr: a switch only counted (--help, --version)
};

constexpr unsigned kRun = kRunCommand, kValidate = kValidateCommand, kResume = kResumeCommand,
                   kStatus = kStatusCommand, kSchema = kSchemaCommand;
using G = OptionGroup;

// Every option: name, short, argument, group, commands, description, default, storage.
const OptionRow kOptionRows[] = {
    // Input
    {{"documents", 'd', "LIST", G::Input, kRun | kValidate,
      "comma-separated documents: local paths, s3://bucket/key or https://... URLs", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.documents); }},
    {{"config", 'c', "FILE", G::Input, kRun,
      "JSON run configuration (local, s3:// or https://); excludes --documents and --parameters", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.config); }},
    {{"parameters", 0, "N=V,...", G::Input, kRun,
      "parameter values; escape a comma or '=' in a value as \\, or \\=", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.parameters); }},
    {{"phases", 'p', "LIST", G::Input, kRun, "phases to run, in document order", "all"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.phases); }},
    {{"os-platforms", 0, "linux|windows|darwin", G::Input, kValidate, "validate for linux, windows or darwin", "this host"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.os_platform); }},
    {{"strict", 0, "", G::Input, kRun | kValidate,
      "refuse kiln extensions (secret parameters, ExtractArchive): plain AWSTOE documents only", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::bool_switch(&t.out.strict); }},
    {{"warnings-as-errors", 0, "", G::Input, kRun | kValidate,
      "every validation warning makes the document invalid (exit 3)", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::bool_switch(&t.out.warnings_as_errors); }},
    {{"blocked-action-modules", 0, "LIST", G::Input, kRun,
      "comma-separated actions that must not run; a document using one is refused", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.blocked); }},
    // Run control
    {{"execution-id", 'i', "ID", G::RunControl, kRun,
      "execution id; the same id and state directory resume an execution", "a random UUID"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.execution_id); }},
    {{"state-directory", 's', "DIR", G::RunControl, kRun | kResume | kStatus,
      "crash-safe state for resume; KILN_STATE_DIRECTORY overrides the default",
      "/var/lib/kiln/state as root, else ~/.local/state/kiln"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.state_directory); }},
    {{"reboot-mode", 0, "exit|system", G::RunControl, kRun,
      "exit: save state and exit 194 for the caller to reboot and re-run; system: arm a boot trigger and "
      "reboot",
      "system"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.reboot_mode); }},
    {{"max-reboots", 0, "N", G::RunControl, kRun, "reboots allowed per execution", "10"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.max_reboots); }},
    {{"reboot-command", 0, "CMD", G::RunControl, kRun,
      "what system mode runs to reboot; KILN_REBOOT_COMMAND sets it too", "/sbin/shutdown -r now"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.reboot_command); }},
    {{"resume-trigger", 0, "auto|systemd|cron|none", G::RunControl, kRun,
      "boot trigger system mode writes: auto (systemd if running, else cron), systemd, cron or none", "auto"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.resume_trigger); }},
    // Logs
    {{"log-directory", 'l', "DIR", G::Logs, kRun, "where the TOE_<time>_<id>/ log folder is created", "."},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_directory); }},
    {{"max-log-size", 0, "SIZE", G::Logs, kRun,
      "bound on the log folder in bytes, or with K, M, G, T; past it step output is dropped, steps go on; 0: "
      "no bound",
      "a quarter of the free space, at most 2G"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.max_log_size); }},
    {{"trace", 't', "", G::Logs, kRun | kValidate, "also print the application log to stderr", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::bool_switch(&t.out.trace); }},
    // AWS
    {{"log-s3-bucket-name", 'b', "BUCKET", G::Aws, kRun,
      "when the run ends, upload the log folder to s3://BUCKET/[PREFIX/]TOE_.../", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_destinations.s3_bucket); }},
    {{"log-s3-key-prefix", 'k', "PREFIX", G::Aws, kRun, "key prefix for that upload (needs -b)", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_destinations.s3_key_prefix); }},
    {{"log-s3-bucket-owner", 0, "ID", G::Aws, kRun, "expected owner account of the log bucket", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_destinations.s3_bucket_owner); }},
    {{"document-s3-bucket-owner", 0, "ID", G::Aws, kRun | kValidate,
      "expected owner account of the buckets s3:// documents and config files come from", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.document_s3_bucket_owner); }},
    {{"cw-log-group", 0, "GROUP", G::Aws, kRun, "stream console.log to this CloudWatch Logs group (must exist)", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_destinations.cw_log_group); }},
    {{"cw-log-stream", 0, "STREAM", G::Aws, kRun, "... in this stream (created when missing)", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_destinations.cw_log_stream); }},
    {{"cw-log-region", 0, "REGION", G::Aws, kRun, "region for CloudWatch Logs", "the AWS region chain"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.log_destinations.cw_log_region); }},
    {{"cw-ignore-failures", 0, "[=BOOL]", G::Aws, kRun,
      "a CloudWatch failure is logged and does not fail the run (true when given without a value)", "false"},
     [](ParseTargets& t) -> po::value_semantic* {
       return po::value(&t.cw_ignore_failures)->implicit_value("true");
     }},
    // Debugging
    {{"dry-run", 0, "", G::Debugging, kRun, "validate, resolve and print the plan; run nothing", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::bool_switch(&t.out.dry_run); }},
    {{"steps", 0, "NAME[,PHASE.NAME]", G::Debugging, kRun, "run only these steps", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.steps); }},
    {{"start-at", 0, "PHASE.STEP", G::Debugging, kRun, "skip the steps before this one", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.start_at); }},
    {{"outputs-from", 0, "EXECUTION_ID", G::Debugging, kRun,
      "outputs of steps not run are read from that earlier execution's state", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.outputs_from); }},
    // Output
    {{"format", 0, "text|json", G::Output, kRun | kValidate | kStatus,
      "text or json (one JSON report on stdout; run: with --dry-run)", "text"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.format); }},
    {{"action", 0, "NAME", G::Output, kSchema, "print only this action's inputs schema", ""},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.schema_action); }},
    {{"output", 'o', "FILE", G::Output, kSchema, "write to FILE (replaced only when it changes)", "stdout"},
     [](ParseTargets& t) -> po::value_semantic* { return po::value(&t.out.output_file); }},
    // General
    {{"help", 'h', "", G::General, kAllCommands, "show this help and exit", ""}, nullptr},
    {{"version", 'v', "", G::General, kAllCommands, "print the version, git commit and build date and exit", ""},
     nullptr},
};

}  // namespace

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> all;
    for (const auto& row : kOptionRows) all.push_back(row.spec);
    return all;
  }();
  return specs;
}

namespace {
unsigned command_bit(const std::string& command) {
  if (command == "run") return kRunCommand;
  if (command == "validate") return kValidateCommand;
  if (command == "resume") return kResumeCommand;
  if (command == "status") return kStatusCommand;
  if (command == "schema") return kSchemaCommand;
  return 0;  // no command, or help
}
}  // namespace

bool is_command_name(const std::string& name) {
  return name == "run" || name == "validate" || name == "resume" || name == "status" || name == "schema";
}

std::string parse_command_line(int argc, char** argv, CliOptions& out) {
  po::options_description options;
  ParseTargets targets{out};
  for (const auto& row : kOptionRows) {
    std::string name(row.spec.long_name);
    if (row.spec.short_name) name += std::string(",") + row.spec.short_name;
    if (row.semantic)
      options.add_options()(name.c_str(), row.semantic(targets), "");
    else
      options.add_options()(name.c_str(), "");
  }
  std::string& documents = targets.documents;
  std::string& phases = targets.phases;
  std::string& parameters = targets.parameters;
  std::string& blocked = targets.blocked;
  std::string& max_log_size = targets.max_log_size;
  std::string& cw_ignore_failures = targets.cw_ignore_failures;
  std::string& steps = targets.steps;
  po::options_description hidden;
  hidden.add_options()("command", po::value(&out.command), "")("topic", po::value(&out.help_topic), "");
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("topic", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return e.what();
  }
  out.show_help = vm.count("help") > 0;
  out.show_version = vm.count("version") > 0;
  out.documents = split_comma_list(documents);
  out.phases = split_comma_list(phases);
  out.steps = split_comma_list(steps);
  for (const auto& b : split_comma_list(blocked)) out.blocked_actions.insert(b);
  if (vm.count("parameters")) {
    out.parameters_given = true;
    if (std::string error = parse_parameter_list(parameters, out.parameters); !error.empty()) return error;
  }
  if (vm.count("cw-ignore-failures")) {
    std::string v = lowercase_ascii(cw_ignore_failures);
    if (v != "true" && v != "false") return "--cw-ignore-failures must be true or false";
    out.log_destinations.cw_ignore_failures = v == "true";
  }
  const LogDestinations& logs = out.log_destinations;
  if ((!logs.s3_key_prefix.empty() || !logs.s3_bucket_owner.empty()) && logs.s3_bucket.empty())
    return "--log-s3-key-prefix and --log-s3-bucket-owner need --log-s3-bucket-name";
  if (logs.cw_log_group.empty() != logs.cw_log_stream.empty())
    return "--cw-log-group and --cw-log-stream go together";
  if (!logs.cw_log_region.empty() && logs.cw_log_group.empty()) return "--cw-log-region needs --cw-log-group";
  if (!out.command.empty() && out.command != "help" && !is_command_name(out.command))
    return "unknown command '" + out.command + "' (expected run, validate, resume, status, schema or help)";
  if (!out.help_topic.empty() && out.command != "help")
    return "unexpected argument '" + out.help_topic + "' after " + out.command;
  if (out.command == "help" && !out.help_topic.empty() && !is_command_name(out.help_topic))
    return "no help for '" + out.help_topic + "' (commands: run, validate, resume, status, schema)";
  // AWSTOE's flags given to a command they do not concern are ignored, as pipelines pass one
  // set of flags to several commands; `schema`'s own options anywhere else are a mistake.
  if (unsigned bit = command_bit(out.command); bit != 0)
    for (const auto& row : kOptionRows)
      if (row.spec.commands == kSchema && bit != kSchema && vm.count(std::string(row.spec.long_name)))
        return "--" + std::string(row.spec.long_name) + " goes with schema (see `kiln schema --help`)";
  if (out.reboot_mode != "exit" && out.reboot_mode != "system") return "--reboot-mode must be exit or system";
  if (out.max_reboots < 0) return "--max-reboots must be 0 or more";
  if (vm.count("max-log-size"))
    if (std::string error = parse_size(max_log_size, out.max_log_size); !error.empty()) return "--max-log-size: " + error;
  if (out.resume_trigger != "auto" && out.resume_trigger != "systemd" && out.resume_trigger != "cron" &&
      out.resume_trigger != "none")
    return "--resume-trigger must be auto, systemd, cron or none";
  if (out.format != "text" && out.format != "json") return "--format must be text or json";
  if (out.command == "run" && vm.count("format") && !out.dry_run)
    return "--format goes with run --dry-run (a run's own report is the summary JSON on stdout)";
  // The debugging flags (docs/debugging.md); names are checked against the documents later.
  bool debugging = out.dry_run || vm.count("steps") || vm.count("start-at") || vm.count("outputs-from");
  if (debugging && out.command != "run") return "--dry-run, --steps, --start-at and --outputs-from go with run";
  if (vm.count("steps") && out.steps.empty()) return "--steps needs a step name (NAME or PHASE.NAME, comma-separated)";
  if (vm.count("steps") && vm.count("start-at"))
    return "--steps and --start-at cannot be combined (name the steps to run with --steps alone)";
  if (vm.count("start-at") && out.start_at.find('.') == std::string::npos)
    return "--start-at '" + out.start_at + "' is not PHASE.STEP (for example build." + out.start_at + ")";
  if (vm.count("outputs-from") && out.outputs_from.empty())
    return "--outputs-from needs an execution id (`kiln status` lists them)";
  if (!out.os_platform.empty() && out.os_platform != "linux" && out.os_platform != "windows" &&
      out.os_platform != "darwin")
    return "--os-platforms must be linux, windows or darwin";
  return {};
}

}  // namespace kiln
