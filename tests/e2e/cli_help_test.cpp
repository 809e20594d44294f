// kiln --version and the help texts, through the real binary: the shape help2man reads
// (Usage line, "-x, --long" option lines, "Section:" headings), every option of a command
// listed in its help, AWSTOE's flags accepted and shown, and the program name as invoked.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "agent/sys/process.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::run_kiln;

const char* kCommands[] = {"run", "validate", "resume", "status", "schema"};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

bool has_option_line(const std::string& help, const std::string& long_name) {
  std::regex line("(^|\n)  (-[a-zA-Z], |    )--" + long_name + "[ =\\[\n]");
  return std::regex_search(help, line);
}

}  // namespace

TEST_CASE("cli: --version and -v print the version, the commit and the build day") {
  auto r = run_kiln({"--version"});
  CHECK(r.exit_code == 0);
  std::smatch m;
  std::regex shape(R"(^kiln (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7,}(-dirty)?|unknown), built (\d{4}-\d{2}-\d{2})\)\n$)");
  REQUIRE_MESSAGE(std::regex_match(r.out, m, shape), r.out);
  CHECK(m[1] == "0.1.0");
  CHECK(run_kiln({"-v"}).out == r.out);
  CHECK(run_kiln({"run", "--version"}).out == r.out);
}

TEST_CASE("cli: --help is an overview with the commands, common options, exit codes and pointers") {
  auto r = run_kiln({"--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("Usage: kiln run --documents LIST [OPTIONS]\n", 0) == 0);
  for (const char* section : {"\nCommands:\n", "\nCommon options:\n", "\nExit status:\n"})
    CHECK_MESSAGE(r.out.find(section) != std::string::npos, section);
  for (const char* command : kCommands) CHECK(r.out.find(std::string("\n  ") + command + " ") != std::string::npos);
  for (const char* option : {"documents", "config", "phases", "parameters", "help", "version"})
    CHECK_MESSAGE(has_option_line(r.out, option), option);
  CHECK(r.out.find("194  rebooting") != std::string::npos);
  CHECK(r.out.find("kiln COMMAND --help") != std::string::npos);
  CHECK(run_kiln({"help"}).out == r.out);
  CHECK(run_kiln({"-h"}).out == r.out);
}

TEST_CASE("cli: each command's help has a synopsis, grouped options, examples and exit codes") {
  for (const char* command : kCommands) {
    CAPTURE(command);
    auto r = run_kiln({command, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind(std::string("Usage: kiln ") + command, 0) == 0);
    CHECK(r.out.find("\nExamples:\n  kiln " + std::string(command)) != std::string::npos);
    CHECK(r.out.find("\nExit status:\n  0 ") != std::string::npos);
    CHECK(r.out.find("\nGeneral:\n") != std::string::npos);
    CHECK(has_option_line(r.out, "help"));
    CHECK(run_kiln({"help", command}).out == r.out);
    for (const auto& line : lines_of(r.out)) CHECK_MESSAGE(line.size() <= 79, line);
  }
  auto run = run_kiln({"run", "--help"}).out;
  for (const char* group : {"\nInput:\n", "\nRun control:\n", "\nLogs:\n", "\nAWS:\n", "\nDebugging:\n"})
    CHECK_MESSAGE(run.find(group) != std::string::npos, group);
  // The debugging flags, with their arguments.
  CHECK(run.find("    --dry-run ") != std::string::npos);
  CHECK(run.find("    --steps NAME[,PHASE.NAME]") != std::string::npos);
  CHECK(run.find("    --start-at PHASE.STEP ") != std::string::npos);
  CHECK(run.find("    --outputs-from EXECUTION_ID") != std::string::npos);
  CHECK(run.find("(default: 10)") != std::string::npos);  // --max-reboots
  // Options of other commands stay out.
  CHECK_FALSE(has_option_line(run, "os-platforms"));
  CHECK_FALSE(has_option_line(run, "action"));
  auto validate = run_kiln({"validate", "--help"}).out;
  CHECK(has_option_line(validate, "os-platforms"));
  CHECK(has_option_line(validate, "format"));
  CHECK_FALSE(has_option_line(validate, "dry-run"));
  CHECK(has_option_line(run_kiln({"schema", "--help"}).out, "action"));
}

TEST_CASE("cli: every flag in docs/CLI.md is listed in the help of the command it belongs to") {
  std::string doc = kiln::test::read_file(std::string(KILN_SOURCE_DIR) + "/docs/CLI.md");
  std::string run = run_kiln({"run", "--help"}).out, validate = run_kiln({"validate", "--help"}).out;
  std::regex flag(R"(\| `--([a-z0-9-]*[a-z0-9])[ `=\\|])");  // not `--cw-log-*`
  int flags = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), flag); it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1];
    ++flags;
    CHECK_MESSAGE((has_option_line(run, name) || has_option_line(validate, name)), "--" << name);
  }
  CHECK(flags > 25);
}

TEST_CASE("cli: AWSTOE's flags are accepted unchanged and listed in the help") {
  // awstoe-format.md §6.1 and §6.2, long and short forms.
  const char* awstoe_flags[] = {"config",
                                "documents",
                                "document-s3-bucket-owner",
                                "phases",
                                "parameters",
                                "execution-id",
                                "log-directory",
                                "log-s3-bucket-name",
                                "log-s3-key-prefix",
                                "log-s3-bucket-owner",
                                "cw-log-group",
                                "cw-log-stream",
                                "cw-log-region",
                                "cw-ignore-failures",
                                "state-directory",
                                "trace",
                                "version",
                                "help",
                                "blocked-action-modules",
                                "os-platforms"};
  std::string help = run_kiln({"run", "--help"}).out + run_kiln({"validate", "--help"}).out;
  for (const char* name : awstoe_flags) CHECK_MESSAGE(has_option_line(help, name), name);
  for (const char* pair : {"-c, --config", "-d, --documents", "-p, --phases", "-i, --execution-id",
                           "-l, --log-directory", "-b, --log-s3-bucket-name", "-k, --log-s3-key-prefix",
                           "-s, --state-directory", "-t, --trace", "-v, --version", "-h, --help"})
    CHECK_MESSAGE(help.find(std::string("  ") + pair) != std::string::npos, pair);
  // Parsed, not refused: an empty document list is valid (exit 0).
  kiln::test::TempDir dir;
  auto r =
      run_kiln({"validate", "-d", "", "-t", "--document-s3-bucket-owner", "111122223333", "--os-platforms", "linux"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
}

TEST_CASE("cli: usage errors say what is wrong and where help is, exit code 2") {
  auto unknown = run_kiln({"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(unknown.err.find("Try 'kiln --help'") != std::string::npos);
  auto bad_flag = run_kiln({"run", "--no-such-flag"});
  CHECK(bad_flag.exit_code == 2);
  CHECK(bad_flag.err.find("Usage: kiln run") != std::string::npos);
  CHECK(bad_flag.err.find("Try 'kiln run --help'") != std::string::npos);
  CHECK(run_kiln({"help", "frobnicate"}).exit_code == 2);
  CHECK(run_kiln({"run", "extra"}).exit_code == 2);
  auto none = run_kiln({});
  CHECK(none.exit_code == 2);
  CHECK(none.out.empty());
}

TEST_CASE("cli: invoked as awstoe, help and usage name awstoe") {
  kiln::test::TempDir dir;
  std::string alias = dir.file("awstoe");
  std::filesystem::create_symlink(KILN_BINARY, alias);
  auto run_alias = [&](std::vector<std::string> arguments) {
    kiln::sys::ProcessSpec spec;
    spec.executable = alias;
    spec.arguments = std::move(arguments);
    kiln::test::RunResult result;
    auto r = kiln::sys::run_process(spec, [&](kiln::sys::OutputStream s, std::string_view chunk) {
      (s == kiln::sys::OutputStream::Stdout ? result.out : result.err).append(chunk);
    });
    result.exit_code = r.exit_code;
    return result;
  };
  auto run = run_alias({"run", "--help"});
  CHECK(run.out.rfind("Usage: awstoe run --documents LIST [OPTIONS]\n  or:  awstoe run --config FILE", 0) == 0);
  CHECK(run.out.find("\n  awstoe run -d build.yml\n") != std::string::npos);
  CHECK(run.out.find("kiln run") == std::string::npos);
  auto bad = run_alias({"validate", "--bogus"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.rfind("awstoe: ", 0) == 0);
  CHECK(bad.err.find("Try 'awstoe validate --help'") != std::string::npos);
}

TEST_CASE("cli: every example in the help parses (flags, values and their checks)") {
  int examples = 0;
  for (const char* command : kCommands) {
    std::string help = run_kiln({command, "--help"}).out;
    size_t at = help.find("\nExamples:\n");
    REQUIRE(at != std::string::npos);
    std::string rest = help.substr(at + 11);
    for (std::string line : lines_of(rest.substr(0, rest.find("\n\n")))) {
      line = line.substr(0, line.find('#'));  // a comment
      line = line.substr(0, line.find('>'));  // a shell redirection
      std::vector<std::string> words;
      std::stringstream s(line);
      for (std::string word; s >> word;) words.push_back(word);
      REQUIRE(words.size() >= 2);
      CHECK(words[0] == "kiln");
      // --version is answered after the whole command line is parsed and checked.
      std::vector<std::string> arguments(words.begin() + 1, words.end());
      arguments.push_back("--version");
      auto r = run_kiln(arguments);
      CHECK_MESSAGE(r.exit_code == 0, line << ": " << r.err);
      ++examples;
    }
  }
  CHECK(examples >= 12);
}

TEST_CASE("cli: schema's options elsewhere, and --format on a run that is not a dry run, are usage errors") {
  std::string doc = std::string(KILN_SOURCE_DIR) + "/examples/hello-world.yml";
  auto action = run_kiln({"run", "--documents", doc, "--dry-run", "--action", "ExecuteBash"});
  CHECK(action.exit_code == 2);
  CHECK(action.err.find("--action goes with schema") != std::string::npos);
  auto format = run_kiln({"run", "--documents", doc, "--format", "json"});
  CHECK(format.exit_code == 2);
  CHECK(format.err.find("--format goes with run --dry-run") != std::string::npos);
  auto plan = run_kiln({"run", "--documents", doc, "--dry-run", "--format", "json"});
  CHECK(plan.exit_code == 0);
  CHECK(nlohmann::json::parse(plan.out, nullptr, false).is_object());
}
