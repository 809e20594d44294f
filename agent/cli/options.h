// The command line: AWSTOE's flags with their meaning, plus kiln's extras.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/state/records.h"

namespace kiln {

struct CliOptions {
  std::string command;  // "run", "validate", "resume", "status", "schema", or "" for --version/--help
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
};

// Parses argv. Returns "" or an error message (a usage error, exit code 2).
std::string parse_command_line(int argc, char** argv, CliOptions& out);
std::string usage_text(const std::string& program);

// "a=1,b=2" with "\," and "\=" escapes; names and values are both required.
std::string parse_parameter_list(const std::string& text, std::map<std::string, std::string>& out);
std::vector<std::string> split_comma_list(const std::string& text);
// "1048576", "512K", "64M", "1G", "1T" (powers of 1024) into bytes; "" or an error text.
std::string parse_size(const std::string& text, int64_t& bytes);

}  // namespace kiln
