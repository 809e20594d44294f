// kiln: an AWSTOE-compatible component runner. `kiln validate` checks documents;
// `kiln run` runs them. Invoked as `awstoe` it behaves the same. This file only parses
// the command line and dispatches to a subcommand (agent/cli/*_command.cpp).
#include <filesystem>
#include <iostream>
#include <string_view>

#include "agent/cli/build_info.h"
#include "agent/cli/commands.h"
#include "agent/cli/options.h"

namespace kiln {
namespace {

// Every subcommand, in one table.
struct Command {
  std::string_view name;
  int (*run)(const CliOptions&);
};

int run_copy(const CliOptions& cli) { return command_run(cli); }

constexpr Command kCommands[] = {
    {"validate", command_validate},
    {"run", run_copy},
    {"resume", command_resume},
    {"status", command_status},
    {"schema", command_schema},
};

int main_impl(int argc, char** argv) {
  CliOptions cli;
  std::string program = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "kiln";
  if (program.empty()) program = "kiln";
  if (std::string error = parse_command_line(argc, argv, cli); !error.empty()) {
    // The command may not have been parsed; the first argument names it when it is one.
    std::string command = argc > 1 && is_command_name(argv[1]) ? argv[1] : cli.command;
    std::cerr << program << ": " << error << "\n" << usage_text(program, command);
    return 2;
  }
  if (cli.show_version) {
    const BuildInfo& info = build_info();
    std::cout << "kiln " << info.version << " (commit " << info.commit << ", built " << info.date << ")\n";
    return 0;
  }
  if (cli.command == "help" || cli.show_help) {
    std::string topic = cli.command == "help" ? cli.help_topic : cli.command;
    std::cout << help_text(program, topic);
    return 0;
  }
  if (cli.command.empty()) {
    std::cerr << program << ": no command given\n" << usage_text(program);
    return 2;
  }
  for (const auto& command : kCommands)
    if (command.name == cli.command) return command.run(cli);
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
