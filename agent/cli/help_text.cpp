// `kiln --help` and `kiln COMMAND --help`: built from option_specs(), the table the
// parser reads too, so help cannot drift from the flags. The shape is GNU's (a Usage
// line, "  -x, --long ARG  text" option lines, left-justified "Section:" headings) so
// help2man turns it into the man page.
#include <string_view>

#include "agent/cli/options.h"

namespace kiln {
namespace {

constexpr size_t kDescriptionColumn = 32;
constexpr size_t kWidth = 79;

struct CommandHelp {
  std::string_view name;
  unsigned bit;
  std::string_view summary;      // one line, for the overview's command list
  std::string_view usage;        // after "Usage: PROGRAM "; several forms separated by '\n'
  std::string_view description;  // paragraphs, already wrapped
  std::string_view examples;     // lines "PROGRAM ..." (PROGRAM is replaced), '#' comments kept
  std::string_view exit_status;  // lines "CODE  meaning"
};

constexpr CommandHelp kCommandHelp[] = {
    {"run", kRunCommand, "validate documents, then run their phases step by step",
     "run --documents LIST [OPTIONS]\nrun --config FILE [OPTIONS]",
     "Validate the component documents (every problem is reported before anything\n"
     "runs), then run the selected phases of each document in order, step by step.\n"
     "Each step's transition is recorded crash-safely in the state directory: running\n"
     "the same command line again (same --execution-id and --state-directory) resumes\n"
     "after a crash or reboot, and a finished step never runs again. Logs go to\n"
     "TOE_<time>_<id>/ under --log-directory; the summary JSON is printed on stdout.\n",
     "PROGRAM run -d build.yml\n"
     "PROGRAM run -d a.yml,b.yml -p build,validate --parameters Version=1.2,Region=eu\n"
     "PROGRAM run --config run.json -l /var/lib/kiln/logs\n"
     "PROGRAM run -d reboots.yml -i build-42 --reboot-mode exit  # 194: re-run it\n"
     "PROGRAM run -d build.yml --dry-run      # prints the plan, runs nothing\n"
     "PROGRAM run -d build.yml --start-at build.Configure --outputs-from build-41\n",
     "0    success, also with ignored failures (successWithIgnoredFailure)\n"
     "1    the run failed, was stopped (resumable), or got no log folder\n"
     "2    usage error: bad flags, --config with --documents, a missing parameter\n"
     "3    a document is invalid, or uses an action this build cannot run\n"
     "194  rebooting: state saved; run the same command line again after the reboot\n"},
    {"validate", kValidateCommand, "check documents: syntax, schemas and semantic rules",
     "validate --documents LIST [OPTIONS]",
     "Check component documents without running anything: YAML syntax, the component,\n"
     "condition and action input schemas, and the semantic rules (unique names,\n"
     "references, loops, platforms). Every problem is reported as\n"
     "FILE:LINE:COL: error: MESSAGE, the source line, a caret and a hint on stderr;\n"
     "stdout gets valid:/invalid: per document, or one JSON report with --format json\n"
     "(each diagnostic's \"code\" says whether it is a schema or a semantic problem).\n",
     "PROGRAM validate -d component.yml\n"
     "PROGRAM validate -d win.yml --os-platforms windows --format json\n"
     "PROGRAM validate -d component.yml --warnings-as-errors  # CI: no warnings either\n",
     "0    every document is valid (warnings alone do not change this)\n"
     "2    usage error\n"
     "3    a document is invalid\n"},
    {"resume", kResumeCommand, "continue every unfinished execution (the boot trigger runs it)", "resume [OPTIONS]",
     "Continue every unfinished execution in the state directory, each with the\n"
     "arguments and working folder it started with. The boot trigger armed by\n"
     "--reboot-mode system runs this after a reboot.\n",
     "PROGRAM resume\n"
     "PROGRAM resume -s /var/lib/kiln/state\n",
     "0    every resumed execution succeeded, or there was nothing to resume\n"
     "1    an execution failed or its state is unreadable\n"
     "2    usage error\n"
     "3    a document is invalid\n"
     "194  rebooting again: the trigger will resume after the reboot\n"},
    {"status", kStatusCommand, "list the executions in the state directory", "status [OPTIONS]",
     "List the executions in the state directory: id, status (running,\n"
     "awaitingReboot, interrupted, or the final status), finished steps, reboots,\n"
     "start time and log folder.\n",
     "PROGRAM status\n"
     "PROGRAM status -s /var/lib/kiln/state --format json\n",
     "0    listed (also when there is none)\n"
     "2    usage error\n"},
    {"schema", kSchemaCommand, "print the component JSON Schema (for editors)", "schema [OPTIONS]",
     "Print the JSON Schema (draft-07) of component documents as one self-contained\n"
     "document: each step's inputs are checked against its action's schema and its\n"
     "if against the condition schema. Point an editor's YAML language server at it\n"
     "with a first line '# yaml-language-server: $schema=FILE'. Packages install\n"
     "it as share/kiln/schemas/kiln-component.schema.json.\n",
     "PROGRAM schema > kiln-component.schema.json\n"
     "PROGRAM schema --action ExecuteBash\n",
     "0    printed\n"
     "2    usage error, an unknown action, or the file cannot be written\n"},
};

constexpr std::string_view kGroupTitles[] = {"Input", "Run control", "Logs", "AWS", "Debugging", "Output", "General"};

const CommandHelp* find_command(const std::string& name) {
  for (const auto& c : kCommandHelp)
    if (c.name == name) return &c;
  return nullptr;
}

std::string replace_program(std::string_view text, const std::string& program) {
  std::string out;
  constexpr std::string_view kMarker = "PROGRAM";
  size_t at = 0;
  for (size_t hit; (hit = text.find(kMarker, at)) != std::string_view::npos; at = hit + kMarker.size())
    out.append(text.substr(at, hit - at)).append(program);
  out.append(text.substr(at));
  return out;
}

std::string indent_lines(std::string_view text, std::string_view indent) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    out.append(indent).append(text.substr(at, end - at)).append("\n");
    at = end + 1;
  }
  return out;
}

// "  -d, --documents LIST" padded to the description column (or on a line of its own
// when longer), then the description wrapped with a hanging indent.
std::string option_line(const OptionSpec& spec) {
  std::string left = "  ";
  left += spec.short_name ? std::string("-") + spec.short_name + ", " : std::string("    ");
  left += "--";
  left += spec.long_name;
  if (!spec.argument.empty()) {
    if (spec.argument.front() != '[') left += ' ';
    left += spec.argument;
  }
  std::string text(spec.description);
  if (!spec.default_value.empty()) text += " (default: " + std::string(spec.default_value) + ")";
  std::string out = left;
  if (left.size() + 2 > kDescriptionColumn) {
    out += "\n";
    out.append(kDescriptionColumn, ' ');
  } else {
    out.append(kDescriptionColumn - left.size(), ' ');
  }
  size_t column = kDescriptionColumn;
  size_t at = 0;
  bool first = true;
  while (at < text.size()) {
    size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    std::string_view word(text.data() + at, end - at);
    if (!first && column + 1 + word.size() > kWidth) {
      out += "\n";
      out.append(kDescriptionColumn, ' ');
      column = kDescriptionColumn;
      first = true;
    }
    if (!first) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first = false;
    at = end + 1;
  }
  return out + "\n";
}

// The options of the commands in `mask`, under a heading per group.
std::string options_section(unsigned mask, bool group_headings) {
  std::string out;
  for (size_t g = 0; g < std::size(kGroupTitles); ++g) {
    std::string lines;
    for (const auto& spec : option_specs())
      if (static_cast<size_t>(spec.group) == g && (spec.commands & mask)) lines += option_line(spec);
    if (lines.empty()) continue;
    if (group_headings) out += "\n" + std::string(kGroupTitles[g]) + ":\n";
    out += lines;
  }
  return out;
}

// "Usage: PROGRAM FORM" then "  or:  PROGRAM FORM" for each further form (all of them
// "or:" when `first` is false: a later command in the overview).
std::string usage_lines(const CommandHelp& c, const std::string& program, bool first = true) {
  std::string out;
  size_t at = 0;
  while (at < c.usage.size()) {
    size_t end = c.usage.find('\n', at);
    if (end == std::string_view::npos) end = c.usage.size();
    out += (first ? "Usage: " : "  or:  ") + program + " " + std::string(c.usage.substr(at, end - at)) + "\n";
    first = false;
    at = end + 1;
  }
  return out;
}

std::string overview(const std::string& program) {
  std::string out;
  for (const auto& c : kCommandHelp) out += usage_lines(c, program, out.empty());
  out += "  or:  " + program +
         " help COMMAND | --help | --version\n"
         "Run EC2 Image Builder component documents (AWSTOE-compatible): validate them,\n"
         "run their phases step by step with crash-safe state, and write AWSTOE's logs.\n"
         "\nCommands:\n";
  for (const auto& c : kCommandHelp) {
    std::string name(c.name);
    out += "  " + name + std::string(12 - name.size(), ' ') + std::string(c.summary) + "\n";
  }
  out += "  help CMD    the help of a command (as '" + program + " CMD --help')\n";
  out += "\nCommon options:\n";
  for (const auto& spec : option_specs())
    if (spec.long_name == "documents" || spec.long_name == "config" || spec.long_name == "phases" ||
        spec.long_name == "parameters" || spec.long_name == "execution-id" || spec.long_name == "log-directory" ||
        spec.long_name == "state-directory" || spec.long_name == "trace" || spec.long_name == "help" ||
        spec.long_name == "version")
      out += option_line(spec);
  out += "\nExit status:\n" + indent_lines(find_command("run")->exit_status, "  ");  // run's are the superset
  out += "\nRun '" + program +
         " COMMAND --help' for all the options of a command.\n"
         "Invoked as 'awstoe' (a symlink) kiln behaves the same and accepts every AWSTOE\n"
         "flag. Documentation: docs/CLI.md (flags, config file, exit codes) and\n"
         "docs/schema.md (editor setup) in kiln's source tree.\n";
  return out;
}

}  // namespace

std::string help_text(const std::string& program, const std::string& command) {
  if (command.empty()) return overview(program);
  const CommandHelp* c = find_command(command);
  if (!c) return {};
  std::string out = usage_lines(*c, program);
  out += std::string(c->description);
  out += options_section(c->bit, true);
  out += "\nExamples:\n" + indent_lines(replace_program(c->examples, program), "  ");
  out += "\nExit status:\n" + indent_lines(c->exit_status, "  ");
  if (c->bit & (kRunCommand | kValidateCommand))
    out += "\nSee docs/CLI.md for the config file, AWS access and what a terminal shows.\n";
  return out;
}

std::string usage_text(const std::string& program, const std::string& command) {
  std::string out;
  if (const CommandHelp* c = find_command(command)) {
    out = usage_lines(*c, program);
  } else {
    out = "Usage: " + program + " COMMAND [OPTIONS]  (COMMAND: run, validate, resume, status, schema)\n";
  }
  return out + "Try '" + program + (command.empty() || !find_command(command) ? "" : " " + command) +
         " --help' for more information.\n";
}

}  // namespace kiln
