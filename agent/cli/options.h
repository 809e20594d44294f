// The command line: AWSTOE's flags with their meaning, plus kiln's extras.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/records.h"

namespace kiln {

struct CliOptions {
  std::string command;  // "run", "validate", "resume", "status", "schema", "help", or "" for --version/--help
  std::string help_topic;  // `kiln help run`: "run"
  bool show_help = false;
  bool show_version = false;
  std::vector<std::string> documents;
  std::string config;
  std::vector<std::string> phases;
  std::map<std::string, std::string> parameters;
  bool parameters_given = false;
  std::string execution_id;
  std::string log_directory;
  std::string state_directory;
  std::string os_platform;  // --os-platforms
  std::set<std::string> blocked_actions;
  std::string format = "text";  // validate: text | json
  bool trace = false;
  bool strict = false;                  // refuse kiln extensions (AWSTOE documents only)
  bool warnings_as_errors = false;      // validate, run: a warning makes the document invalid
  std::string reboot_mode = "system";   // exit | system
  int max_reboots = 10;
  int64_t max_log_size = -1;            // bytes; 0: no limit; -1: RunLog::default_max_log_size
  std::string reboot_command;           // default: /sbin/shutdown -r now
  std::string resume_trigger = "auto";  // auto | systemd | cron | none
  std::vector<std::map<std::string, std::string>> document_parameters;  // from --config, per document
  LogDestinations log_destinations;         // --log-s3-*, --cw-*
  std::string document_s3_bucket_owner;      // --document-s3-bucket-owner
  // Debugging one component (kiln extensions; see docs/debugging.md):
  bool dry_run = false;                 // --dry-run: validate, resolve, print the plan, run nothing
  std::vector<std::string> steps;       // --steps NAME[,PHASE.NAME]: run only these steps
  std::string start_at;                 // --start-at PHASE.STEP: skip the steps before it
  std::string outputs_from;             // --outputs-from EXECUTION_ID: outputs of steps not run
  // kiln schema:
  std::string schema_action;            // --action NAME: only that action's inputs schema
  std::string output_file;              // --output FILE: write there instead of stdout
};

// The commands, as bits, so an option can say where it applies (its help lists it there).
enum CommandBit : unsigned {
  kRunCommand = 1u << 0,
  kValidateCommand = 1u << 1,
  kResumeCommand = 1u << 2,
  kStatusCommand = 1u << 3,
  kSchemaCommand = 1u << 4,
  kAllCommands = (1u << 5) - 1,
};

// Where an option is listed in help, in this order.
enum class OptionGroup { Input, RunControl, Logs, Aws, Debugging, Output, General };

// One command-line option: the single source of truth for parsing (options.cpp builds
// the boost::program_options description from the same rows) and for help.
struct OptionSpec {
  std::string_view long_name;      // "documents"
  char short_name;                 // 'd', or 0
  std::string_view argument;       // "LIST"; empty for a switch
  OptionGroup group;
  unsigned commands;               // CommandBit mask: the commands whose help lists it
  std::string_view description;    // one sentence, no trailing period
  std::string_view default_value;  // shown as "(default: ...)"; empty for none
};

// Every option, in help order within each group.
const std::vector<OptionSpec>& option_specs();

// Parses argv. Returns "" or an error message (a usage error, exit code 2).
std::string parse_command_line(int argc, char** argv, CliOptions& out);

// Help (help_text.cpp). `command` is "" for the overview, else run, validate, resume,
// status or schema; returns "" for an unknown command. `program` is the invoked name
// (kiln, awstoe). usage_text is the short form printed after a usage error.
std::string help_text(const std::string& program, const std::string& command);
std::string usage_text(const std::string& program, const std::string& command = "");
bool is_command_name(const std::string& name);

// "a=1,b=2" with "\," and "\=" escapes; names and values are both required.
std::string parse_parameter_list(const std::string& text, std::map<std::string, std::string>& out);
std::vector<std::string> split_comma_list(const std::string& text);
// "1048576", "512K", "64M", "1G", "1T" (powers of 1024) into bytes; "" or an error text.
std::string parse_size(const std::string& text, int64_t& bytes);

}  // namespace kiln
