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

std::string usage_text(const std::string& program) {
  return "Usage:\n"
         "  " + program + " run      --documents a.yml[,b.yml] [options]   run component documents\n"
         "  " + program + " run      --config run.json [options]           run what a config file says\n"
         "  " + program + " validate --documents a.yml[,b.yml] [--os-platforms linux|windows|darwin] [--format json]\n"
         "  " + program + " resume   [--state-directory DIR]              continue unfinished executions (boot)\n"
         "  " + program + " status   [--state-directory DIR] [--format json]  list executions and their state\n"
         "  " + program + " --version | --help\n"
         "\n"
         "Options:\n"
         "  -d, --documents LIST          comma-separated documents: paths, s3://bucket/key or https://...\n"
         "  -c, --config FILE             JSON run configuration, local, s3:// or https:// (excludes\n"
         "                                --documents/--parameters)\n"
         "  -p, --phases LIST             phases to run (document order is kept); default all\n"
         "      --parameters N=V,...      parameter values (escape ',' and '=' as \\, and \\=)\n"
         "  -i, --execution-id ID         execution id (default: a random UUID)\n"
         "  -l, --log-directory DIR       where TOE_<time>_<id>/ is created (default: .)\n"
         "  -s, --state-directory DIR     crash-safe state for resume (default /var/lib/kiln/state as root,\n"
         "                                ~/.local/state/kiln otherwise; KILN_STATE_DIRECTORY overrides)\n"
         "      --reboot-mode exit|system exit: save state and exit 194 for the caller to reboot and re-run;\n"
         "                                system (default): arm a boot trigger and run the reboot command\n"
         "      --max-reboots N           reboots allowed per execution (default 10)\n"
         "      --max-log-size SIZE       bound on the log folder (bytes, or with K, M, G, T); past it step\n"
         "                                output is dropped, steps go on. Default: a quarter of the free\n"
         "                                space there, at most 2G; 0: no bound\n"
         "      --reboot-command CMD      what system mode runs to reboot (default /sbin/shutdown -r now)\n"
         "      --resume-trigger KIND     auto (systemd if running, else cron), systemd, cron or none\n"
         "  -t, --trace                   also print the application log to the console\n"
         "      --os-platforms OS         validate for linux, windows or darwin instead of this host\n"
         "      --blocked-action-modules  comma-separated actions that must not run\n"
         "      --format text|json        diagnostics format (validate, status)\n"
         "      --strict                  refuse kiln extensions (secret parameters, ExtractArchive)\n"
         "      --warnings-as-errors      a warning (text kept as written where AWSTOE is lenient, ...)\n"
         "                                makes the document invalid (validate, run)\n"
         "  -b, --log-s3-bucket-name B    upload the log folder to s3://B/[prefix/]TOE_.../ when the run ends\n"
         "  -k, --log-s3-key-prefix P     key prefix for that upload\n"
         "      --log-s3-bucket-owner ID  expected owner account of the log bucket\n"
         "      --document-s3-bucket-owner ID  expected owner account of s3:// documents' buckets\n"
         "      --cw-log-group G          stream console.log to CloudWatch Logs group G ...\n"
         "      --cw-log-stream S         ... stream S (created when missing)\n"
         "      --cw-log-region R         region for CloudWatch Logs (default: the AWS region chain)\n"
         "      --cw-ignore-failures      a CloudWatch failure does not fail the run\n"
         "\n"
         "Exit codes: 0 success, 1 run failed or stopped, 2 usage error, 3 document invalid or refused,\n"
         "194 rebooting (state saved; re-run the same command line after the reboot).\n";
}

std::string parse_command_line(int argc, char** argv, CliOptions& out) {
  po::options_description options;
  std::string documents, phases, parameters, blocked, max_log_size, cw_ignore_failures, steps;
  options.add_options()
      ("help,h", "")("version,v", "")
      ("documents,d", po::value(&documents), "")("config,c", po::value(&out.config), "")
      ("phases,p", po::value(&phases), "")("parameters", po::value(&parameters), "")
      ("execution-id,i", po::value(&out.execution_id), "")
      ("log-directory,l", po::value(&out.log_directory), "")
      ("state-directory,s", po::value(&out.state_directory), "")
      ("trace,t", po::bool_switch(&out.trace), "")("strict", po::bool_switch(&out.strict), "")
      ("warnings-as-errors", po::bool_switch(&out.warnings_as_errors), "")
      ("os-platforms", po::value(&out.os_platform), "")
      ("blocked-action-modules", po::value(&blocked), "")
      ("format", po::value(&out.format), "")
      ("reboot-mode", po::value(&out.reboot_mode), "")("max-reboots", po::value(&out.max_reboots), "")
      ("max-log-size", po::value(&max_log_size), "")
      ("reboot-command", po::value(&out.reboot_command), "")("resume-trigger", po::value(&out.resume_trigger), "")
      ("log-s3-bucket-name,b", po::value(&out.log_destinations.s3_bucket), "")
      ("log-s3-key-prefix,k", po::value(&out.log_destinations.s3_key_prefix), "")
      ("log-s3-bucket-owner", po::value(&out.log_destinations.s3_bucket_owner), "")
      ("document-s3-bucket-owner", po::value(&out.document_s3_bucket_owner), "")
      ("cw-log-group", po::value(&out.log_destinations.cw_log_group), "")
      ("cw-log-stream", po::value(&out.log_destinations.cw_log_stream), "")
      ("cw-log-region", po::value(&out.log_destinations.cw_log_region), "")
      ("cw-ignore-failures", po::value(&cw_ignore_failures)->implicit_value("true"), "")
      ("dry-run", po::bool_switch(&out.dry_run), "")("steps", po::value(&steps), "")
      ("start-at", po::value(&out.start_at), "")("outputs-from", po::value(&out.outputs_from), "");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&out.command), "");
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1);
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
  if (!out.command.empty() && out.command != "run" && out.command != "validate" && out.command != "resume" &&
      out.command != "status")
    return "unknown command '" + out.command + "' (expected run, validate, resume or status)";
  if (out.reboot_mode != "exit" && out.reboot_mode != "system") return "--reboot-mode must be exit or system";
  if (out.max_reboots < 0) return "--max-reboots must be 0 or more";
  if (vm.count("max-log-size"))
    if (std::string error = parse_size(max_log_size, out.max_log_size); !error.empty()) return "--max-log-size: " + error;
  if (out.resume_trigger != "auto" && out.resume_trigger != "systemd" && out.resume_trigger != "cron" &&
      out.resume_trigger != "none")
    return "--resume-trigger must be auto, systemd, cron or none";
  if (out.format != "text" && out.format != "json") return "--format must be text or json";
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
