// kilnctl's command line: one table of option specs (options.cpp) that both parses the
// flags and prints `--help` in GNU's shape, so help2man can make the man page and help
// cannot drift from what is accepted.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace kiln::ctl {

struct RunOptions {
  std::string target;                  // local | chroot:/root | nspawn:/root | ssh://user@host[:port]
  std::string targets_file;            // --targets FILE: one target per line (exactly one of the two)
  int parallel = 4;                    // --targets: at most this many targets at once
  std::vector<std::string> documents;  // local paths
  std::vector<std::string> phases{"build", "validate", "test"};
  std::string parameters;             // passed to kiln as given (N=V,...)
  std::string execution_id;           // empty: a random one; phase P runs as ID-P
  std::string install;                // local kiln binary to copy to the target
  std::string agent;                  // kiln on the target; empty: WORK/bin/kiln with --install, else "kiln"
  std::string logs = "kilnctl-logs";  // log folders land in LOGS/<target-name>/
  std::string work_directory = "/var/lib/kiln/kilnctl";  // on the target
  std::string reboot_command = "shutdown -r now";        // run on an ssh target
  std::string reboot_mode;  // nspawn: "system" (default) or "exit"; the other targets: "exit" only
  int reboot_timeout_seconds = 600;
  int max_reboots = 10;                  // reboots plus reconnects per phase
  std::string identity;                  // ssh -i
  std::vector<std::string> ssh_options;  // ssh -o, repeated
};

enum class Command { Help, Version, Run };

struct ParsedCommandLine {
  Command command = Command::Help;
  bool run_help = false;  // `kilnctl run --help`
  RunOptions run;
  std::string error;  // non-empty: a usage error (exit 2)
};

ParsedCommandLine parse_command_line(const std::vector<std::string>& arguments);
std::string overview_help();  // `kilnctl --help`
std::string run_help();       // `kilnctl run --help`

}  // namespace kiln::ctl
