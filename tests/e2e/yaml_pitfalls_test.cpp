// YAML pitfalls through the real binary (issue 16): kiln validate and kiln run print
// FILE:LINE:COL, the line, a caret under the character YAML tripped on, and a hint that
// names YAML's rule and shows the line quoted.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/e2e_helpers.h"

namespace {

using kiln::test::TempDir;

// An ExecuteBash step whose second command (line 11) is `command`.
std::string document_with(const std::string& command) {
  return "name: pitfalls\n"
         "schemaVersion: 1.0\n"
         "phases:\n"
         "  - name: build\n"
         "    steps:\n"
         "      - name: Apt\n"
         "        action: ExecuteBash\n"
         "        inputs:\n"
         "          commands:\n"
         "            - set -e\n"
         "            - " + command + "\n";
}

// The caret line under column `column` of a printed source line (both indented by 2).
std::string caret(int column) { return "  " + std::string(static_cast<size_t>(column - 1), ' ') + "^\n"; }

const std::string kBlock = " (or write it as a block scalar: '|' and the text on the next line, indented)";

}  // namespace

TEST_CASE("e2e yaml pitfalls: an unquoted ': ' in a command: FILE:LINE:COL, the line, the caret on ':', the hint") {
  TempDir dir;
  std::string path = dir.write("doc.yml", document_with("echo \"E: Unable to locate package foo\" >&2"));
  const std::string expected = path +
                               ":11:22: error: 'commands[1]' must be a string, not a map\n"
                               "              - echo \"E: Unable to locate package foo\" >&2\n" +
                               caret(22) +
                               "  hint: YAML read this line as a map with the key 'echo \"E': in unquoted text, ':' "
                               "followed by a space or a line end separates a key from its value; quote the whole "
                               "line: - 'echo \"E: Unable to locate package foo\" >&2'" +
                               kBlock + "\n";
  auto validated = kiln::test::run_kiln({"validate", "--documents", path});
  INFO(validated.err);
  CHECK(validated.exit_code == 3);
  CHECK(validated.err.rfind(expected, 0) == 0);
  auto run = kiln::test::run_kiln({"run", "--documents", path, "--log-directory", dir.file("logs")});
  INFO(run.err);
  CHECK(run.exit_code == 3);
  CHECK(run.err.find(expected) != std::string::npos);
}

TEST_CASE("e2e yaml pitfalls: '@' starting a command is YAML's reserved character; the caret is on it") {
  TempDir dir;
  std::string path = dir.write("doc.yml", document_with("@echo off"));
  auto r = kiln::test::run_kiln({"validate", "--documents", path});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind(path +
                        ":11:15: error: YAML syntax error: unknown token\n"
                        "              - @echo off\n" +
                        caret(15) +
                        "  hint: '@' is reserved in YAML and cannot start an unquoted value; quote the whole line: - "
                        "'@echo off'" +
                        kBlock + "\n",
                    0) == 0);
}

TEST_CASE("e2e yaml pitfalls: ' #' inside a command cuts it: a warning at the '#', the document stays valid") {
  TempDir dir;
  std::string path = dir.write("doc.yml", document_with("echo \"step # 1\""));
  const std::string expected = path +
                               ":11:26: warning: ' #' starts a YAML comment: the rest of the line is not part of "
                               "the value\n"
                               "              - echo \"step # 1\"\n" +
                               caret(26) +
                               "  hint: the value ends before the comment: 'echo \"step'; to keep the rest, quote "
                               "the whole line: - 'echo \"step # 1\"'" +
                               kBlock + "\n";
  auto r = kiln::test::run_kiln({"validate", "--documents", path});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.rfind(expected, 0) == 0);
  auto strict = kiln::test::run_kiln({"validate", "--warnings-as-errors", "--documents", path});
  CHECK(strict.exit_code == 3);
  // Run as written, bash gets the cut line and fails on the open quote.
  auto run = kiln::e2e::run_document(dir, path);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() != 0);
  CHECK(run.result.err.find(expected) != std::string::npos);
}
