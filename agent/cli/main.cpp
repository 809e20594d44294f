// kiln: an AWSTOE-compatible component runner. `kiln validate` checks documents;
// `kiln run` runs them. Invoked as `awstoe` it behaves the same. This file only parses
// the command line and dispatches to a subcommand (agent/cli/*_command.cpp).
#include <filesystem>
#include <iostream>
#include <string_view>

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
};

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
