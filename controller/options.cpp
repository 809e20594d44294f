#include "controller/options.h"

#include <cstdlib>
#include <string_view>

#include "agent/base/text.h"
#include "controller/option_table.h"

namespace kiln::ctl {
namespace {

constexpr size_t kDescriptionColumn = 32;
constexpr size_t kWidth = 79;

const OptionSpec<RunOptions> kRunOptions[] = {
    {"target", 0, "TARGET", "where to run: local, chroot:/path/to/root, nspawn:/path/to/root (booted with systemd-nspawn) or "
     "ssh://user@host[:port]", "",
     [](RunOptions& o, const std::string& v) {
       o.target = v;
       return std::string();
     }},
    {"targets", 0, "FILE",
     "many targets, one per line (# comments), run in parallel; each gets its own work folder WORK/<name>/ and "
     "logs folder; a table at the end",
     "",
     [](RunOptions& o, const std::string& v) {
       o.targets_file = v;
       return std::string();
     }},
    {"parallel", 0, "N", "with --targets: at most N targets at once", "4",
     [](RunOptions& o, const std::string& v) { return set_int(o.parallel, v, "parallel", 1); }},
    {"documents", 'd', "LIST", "comma-separated local component documents, uploaded to the target", "",
     [](RunOptions& o, const std::string& v) {
       o.documents = split_nonempty(v, ',');
       return std::string();
     }},
    {"phases", 'p', "LIST", "phases to run, in this order, each as its own kiln run", "build,validate,test",
     [](RunOptions& o, const std::string& v) {
       o.phases = split_nonempty(v, ',');
       return std::string();
     }},
    {"parameters", 0, "N=V,...", "parameter values, passed to kiln as given", "",
     [](RunOptions& o, const std::string& v) {
       o.parameters = v;
       return std::string();
     }},
    {"execution-id", 'i', "ID", "run id; phase P runs as execution ID-P, so the same id resumes", "a random UUID",
     [](RunOptions& o, const std::string& v) {
       o.execution_id = v;
       return std::string();
     }},
    {"install", 0, "PATH", "copy this kiln binary to the target and run it", "kiln on the target's PATH",
     [](RunOptions& o, const std::string& v) {
       o.install = v;
       return std::string();
     }},
    {"agent", 0, "PATH", "the kiln binary on the target (with --install: where it is copied)",
     "WORK/bin/kiln with --install, else kiln on the target's PATH",
     [](RunOptions& o, const std::string& v) {
       o.agent = v;
       return std::string();
     }},
    {"logs", 'l', "DIR", "copy the TOE log folders back into DIR/<target-name>/", "kilnctl-logs",
     [](RunOptions& o, const std::string& v) {
       o.logs = v;
       return std::string();
     }},
    {"work-directory", 0, "DIR", "folder on the target for documents, state and logs", "/var/lib/kiln/kilnctl",
     [](RunOptions& o, const std::string& v) {
       o.work_directory = v;
       return std::string();
     }},
    {"reboot-command", 0, "CMD", "what reboots an ssh target (run there by sh -c)", "shutdown -r now",
     [](RunOptions& o, const std::string& v) {
       o.reboot_command = v;
       return std::string();
     }},
    {"reboot-mode", 0, "MODE",
     "who reboots when the agent asks: system (the agent reboots the nspawn container itself and its resume unit "
     "goes on at boot; kilnctl waits, boots it again and follows the execution) or exit (the agent exits 194 and "
     "kilnctl reboots the target); only nspawn targets take system",
     "system for nspawn, else exit",
     [](RunOptions& o, const std::string& v) {
       if (v != "system" && v != "exit") return "--reboot-mode: '" + v + "' is not system or exit";
       o.reboot_mode = v;
       return std::string();
     }},
    {"reboot-timeout", 0, "SECONDS", "how long to wait for the target to come back", "600",
     [](RunOptions& o, const std::string& v) { return set_int(o.reboot_timeout_seconds, v, "reboot-timeout", 1); }},
    {"max-reboots", 0, "N", "reboots and reconnects allowed per phase", "10",
     [](RunOptions& o, const std::string& v) { return set_int(o.max_reboots, v, "max-reboots", 0); }},
    {"identity", 0, "KEY", "ssh private key (ssh -i)", "ssh's own choice",
     [](RunOptions& o, const std::string& v) {
       o.identity = v;
       return std::string();
     }},
    {"ssh-option", 0, "OPT", "an ssh -o option (Name=value), repeatable", "",
     [](RunOptions& o, const std::string& v) {
       o.ssh_options.push_back(v);
       return std::string();
     }},
    {"help", 'h', "", "show this help and exit", "", nullptr},
};

constexpr std::string_view kExitStatus =
    "Exit status:\n"
    "  0    every phase succeeded\n"
    "  1    a phase failed\n"
    "  2    usage error\n"
    "  10   target unreachable (or not back within --reboot-timeout)\n"
    "  11   authentication refused by the target\n"
    "  12   no kiln agent on the target (use --install)\n"
    "  13   the target could not be prepared (upload, mount, reboot command)\n"
    "  130  interrupted by SIGINT (143: SIGTERM); mounts are undone first\n"
    "With --targets: 0 if every target succeeded, else the code of the first\n"
    "failed target in FILE order (130/143 if interrupted).\n";

}  // namespace

static void append_wrapped(std::string& out, std::string_view text, size_t indent) {
  size_t column = indent;
  for (const auto& word : split_nonempty(text, ' ')) {
    if (column > indent && column + 1 + word.size() > kWidth) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
  out += '\n';
}

std::string set_int(int& out, const std::string& value, std::string_view name, int minimum) {
  char* end = nullptr;
  long number = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || number < minimum || number > 1000000)
    return "--" + std::string(name) + ": '" + value + "' is not a whole number >= " + std::to_string(minimum);
  out = static_cast<int>(number);
  return {};
}

std::string format_option_help(std::string_view name, char short_name, std::string_view argument,
                               std::string_view description, std::string_view default_text) {
  std::string head = short_name ? std::string("  -") + short_name + ", --" : "      --";
  head += name;
  if (!argument.empty()) head += " " + std::string(argument);
  std::string text(description);
  if (!default_text.empty()) text += " (default: " + std::string(default_text) + ")";
  std::string out;
  if (head.size() + 2 > kDescriptionColumn) {
    out += head + "\n" + std::string(kDescriptionColumn, ' ');
  } else {
    out += head + std::string(kDescriptionColumn - head.size(), ' ');
  }
  append_wrapped(out, text, kDescriptionColumn);
  return out;
}


std::string overview_help() {
  return "Usage: kilnctl run --target TARGET --documents LIST [OPTIONS]\n"
         "  or:  kilnctl image build RECIPE [--output DIR] [OPTIONS]\n"
         "Run kiln component documents on a target (this machine, a chroot, a booted\n"
         "nspawn container, or a host over SSH): upload them, run each phase as its\n"
         "own `kiln run`, reboot the target and resume when the agent asks for it\n"
         "(exit 194) or the connection drops, then copy the log folders back and print\n"
         "a summary.\n"
         "\n"
         "Commands:\n"
         "  run                           run phases on a target\n"
         "  image                         build an image from a recipe, or test one\n"
         "                                (kilnctl image --help)\n"
         "\n"
         "General:\n"
         "  -h, --help                    show this help (the options: kilnctl run --help)\n"
         "  -v, --version                 print the version and exit\n"
         "\n"
         "Examples:\n"
         "  kilnctl run --target ssh://root@10.0.0.5 -d build.yml --identity ~/.ssh/id\n"
         "  kilnctl run --target chroot:/srv/roots/bookworm -d build.yml --install ./kiln\n"
         "  kilnctl run --target nspawn:/srv/roots/bookworm -d build.yml --install ./kiln\n"
         "  kilnctl run --target local -d build.yml -p build,test\n"
         "  kilnctl run --targets hosts.txt --parallel 8 -d build.yml --install ./kiln\n"
         "  kilnctl image build recipe.yaml --output out\n"
         "\n" +
         std::string(kExitStatus);
}

std::string run_help() {
  return "Usage: kilnctl run --target TARGET --documents LIST [OPTIONS]\n"
         "  or:  kilnctl run --targets FILE [--parallel N] --documents LIST [OPTIONS]\n"
         "Upload the documents (and with --install the kiln binary) to the target, then\n"
         "run each phase as `kiln run --phases P --execution-id ID-P --reboot-mode exit`\n"
         "(nspawn: --reboot-mode system unless told otherwise, see below).\n"
         "When kiln exits 194 the target is rebooted (ssh: --reboot-command, then wait\n"
         "until ssh answers; chroot: leave and re-enter the root; nspawn: reboot the\n"
         "container) and the same command runs again, so kiln resumes; a dropped\n"
         "connection is resumed the same way. nspawn targets run kiln with\n"
         "--reboot-mode system by default: kiln reboots the container itself, its\n"
         "resume unit goes on at boot, and kilnctl follows it with `kiln status`.\n"
         "\n"
         "Options:\n" +
         option_lines(kRunOptions) +
         "\n"
         "Examples:\n"
         "  kilnctl run --target ssh://root@host:2222 -d a.yml,b.yml --identity key -i 42\n"
         "  kilnctl run --target chroot:/srv/root -d c.yml --install build/kiln -l out\n"
         "\n" +
         std::string(kExitStatus);
}

ParsedCommandLine parse_command_line(const std::vector<std::string>& arguments) {
  ParsedCommandLine parsed;
  if (arguments.empty()) {
    parsed.error = "no command; see kilnctl --help";
    return parsed;
  }
  const std::string& first = arguments[0];
  if (first == "--help" || first == "-h") return parsed;
  if (first == "--version" || first == "-v") {
    parsed.command = Command::Version;
    return parsed;
  }
  if (first != "run") {
    parsed.error = "unknown command '" + first + "'; the commands are: run, image";
    return parsed;
  }
  parsed.command = Command::Run;
  parsed.error = parse_options(kRunOptions, arguments, 1, parsed.run, parsed.run_help, "run");
  if (!parsed.error.empty() || parsed.run_help) return parsed;
  if (parsed.run.target.empty() == parsed.run.targets_file.empty())
    parsed.error = "exactly one of --target and --targets is required";
  else if (parsed.run.documents.empty())
    parsed.error = "--documents is required";
  else if (parsed.run.phases.empty())
    parsed.error = "--phases is empty";
  return parsed;
}

}  // namespace kiln::ctl
