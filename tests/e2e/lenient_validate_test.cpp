// Where AWSTOE is lenient, kiln is too, and says so: through the real binary, each
// leniency is a located warning (exit 0, the run goes on), and --warnings-as-errors
// turns it into an error (exit 3). A diagnostic about text inside a multi-line script
// names the script's own line, prints it, and puts the caret under the '{{'.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A document whose step S runs a 40-line script written as a block scalar with
// `header` ("|", "|-", ">", ...), its lines indented by `indent` spaces. The script
// starts on line 10; line 25 of the document is `line25`.
std::string script_document(const std::string& header, int indent, const std::string& line25,
                            const std::string& parameters = "") {
  std::string text = "schemaVersion: 1.0\n" + parameters +
                     "phases:\n"
                     "  - name: build\n"
                     "    steps:\n"
                     "      - name: S\n"
                     "        action: ExecuteBash\n"
                     "        inputs:\n"
                     "          commands:\n"
                     "            - " + header + "\n";
  int first = 10 + (parameters.empty() ? 0 : 4);
  for (int line = first; line < first + 40; ++line) {
    std::string content = line == 25 ? line25 : line == 31 ? "" : "echo line " + std::to_string(line);
    text += (content.empty() ? "" : std::string(static_cast<size_t>(indent), ' ') + content) + "\n";
  }
  return text;
}

// The first diagnostic of `err`: "FILE:LINE:COL: KIND: MESSAGE", the source line, the caret line.
struct Printed {
  std::string head, source, caret;
};

Printed first_diagnostic(const std::string& err) {
  Printed p;
  size_t a = err.find('\n');
  p.head = err.substr(0, a);
  size_t b = err.find('\n', a + 1);
  p.source = err.substr(a + 1, b - a - 1);
  size_t c = err.find('\n', b + 1);
  p.caret = err.substr(b + 1, c - b - 1);
  return p;
}

}  // namespace

TEST_CASE("lenient: a '{{' never closed in a script is a warning at its line; the run keeps the text") {
  TempDir dir;
  std::string path = dir.write("doc.yml", script_document("|", 14, "echo \"total {{ count\""));
  auto v = kiln::test::run_kiln({"validate", "--documents", path});
  INFO(v.err);
  CHECK(v.exit_code == 0);
  Printed p = first_diagnostic(v.err);
  CHECK(p.head == path + ":25:27: warning: '{{' is never closed; the text stays as written");
  CHECK(p.source == "                echo \"total {{ count\"");
  CHECK(p.caret.find('^') == p.source.find("{{"));
  CHECK(contains(v.out, "valid: " + path));

  auto strict = kiln::test::run_kiln({"validate", "--warnings-as-errors", "--documents", path});
  CHECK(strict.exit_code == 3);
  CHECK(contains(strict.err, path + ":25:27: error: '{{' is never closed; the text stays as written [--warnings-as-errors]"));
  CHECK(contains(strict.out, "invalid: " + path + " (1 error)"));

  auto json = kiln::test::run_kiln({"validate", "--format", "json", "--warnings-as-errors", "--documents", path});
  CHECK(json.exit_code == 3);
  auto report = json.summary();
  REQUIRE(report.is_object());
  CHECK(report["warningsAsErrors"] == true);
  CHECK(report["status"] == "invalid");
  const auto& d = report["documents"][0]["diagnostics"][0];
  CHECK(d["severity"] == "error");
  CHECK(d["line"] == 25);
  CHECK(d["column"] == 27);
  auto lenient_json = kiln::test::run_kiln({"validate", "--format", "json", "--documents", path});
  CHECK(lenient_json.exit_code == 0);
  CHECK(lenient_json.summary()["documents"][0]["diagnostics"][0]["severity"] == "warning");
  CHECK(lenient_json.summary()["warningsAsErrors"] == false);

  // The run: the script gets the text as written.
  auto run = kiln::e2e::run_document(dir, path, {"--state-directory", dir.file("state")});
  INFO(run.result.err);
  CHECK(run.exit_code() == 0);
  CHECK(contains(run.result.err, path + ":25:27: warning:"));
  CHECK(contains(run.console(), "total {{ count"));
  auto refused = kiln::e2e::run_document(dir, path, {"--state-directory", dir.file("state2"), "--warnings-as-errors"},
                                         "logs2");
  CHECK(refused.exit_code() == 3);
  CHECK(contains(refused.result.err, path + ":25:27: error:"));
}

TEST_CASE("lenient: braces that hold no expression (a Go template) are a warning; the run keeps them") {
  TempDir dir;
  std::string path = dir.write("doc.yml", script_document("|-", 14, "echo '{{ .State.Running }}'"));
  auto v = kiln::test::run_kiln({"validate", "--documents", path});
  INFO(v.err);
  CHECK(v.exit_code == 0);
  CHECK(first_diagnostic(v.err).head ==
        path + ":25:21: warning: '{{ .State.Running }}' is not an expression; the text stays as written");
  CHECK(kiln::test::run_kiln({"validate", "--warnings-as-errors", "--documents", path}).exit_code == 3);
  auto run = kiln::e2e::run_document(dir, path, {"--state-directory", dir.file("state")});
  CHECK(run.exit_code() == 0);
  CHECK(contains(run.console(), "{{ .State.Running }}"));
}

TEST_CASE("positions: a problem on line 25 of a block-scalar script is printed at line 25, caret under '{{'") {
  struct Case {
    std::string header;
    int indent;
  };
  for (const Case& c : {Case{"|", 14}, Case{"|-", 14}, Case{"|+", 14}, Case{">", 14}, Case{">-", 14}, Case{"|", 18},
                        Case{">", 22}, Case{"|4", 18}}) {
    CAPTURE(c.header);
    CAPTURE(c.indent);
    TempDir dir;
    std::string path = dir.write("doc.yml", script_document(c.header, c.indent, "tar -C /opt -xf {{ Archive }}.tgz"));
    auto v = kiln::test::run_kiln({"validate", "--documents", path});
    INFO(v.err);
    CHECK(v.exit_code == 3);
    Printed p = first_diagnostic(v.err);
    int column = c.indent + 17;
    CHECK(p.head == path + ":25:" + std::to_string(column) +
                        ": error: '{{ Archive }}' refers to an undeclared parameter or constant 'Archive'");
    CHECK(p.source == std::string(static_cast<size_t>(c.indent) + 2, ' ') + "tar -C /opt -xf {{ Archive }}.tgz");
    CHECK(p.caret.find('^') == static_cast<size_t>(column - 1 + 2));  // both lines are shown indented by 2
    CHECK(p.source.find("{{") == static_cast<size_t>(column - 1 + 2));
  }
}

TEST_CASE("lenient: then/else next to an operator nested under not apply to the step's if, with a warning") {
  TempDir dir;
  std::string path = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: MarkerMissing
        action: ExecuteBash
        if:
          not:
            fileExists: /kiln/no/such/marker
            then: Skip
        inputs:
          commands: [echo skipped-step-ran]
      - name: MarkerPresent
        action: ExecuteBash
        if:
          not:
            folderExists: /
            else: Execute
        inputs:
          commands: [echo else-execute-ran]
)");
  auto v = kiln::test::run_kiln({"validate", "--documents", path});
  INFO(v.err);
  CHECK(v.exit_code == 0);
  CHECK(contains(v.err, path + ":10:13: warning: 'then' next to a nested operator applies to the whole if"));
  CHECK(contains(v.err, path + ":18:13: warning: 'else' next to a nested operator applies to the whole if"));
  auto strict = kiln::test::run_kiln({"validate", "--warnings-as-errors", "--documents", path});
  CHECK(strict.exit_code == 3);
  CHECK(contains(strict.err, path + ":10:13: error: 'then' next to a nested operator applies to the whole if"));

  // not(fileExists missing) is true -> then: Skip; not(folderExists /) is false -> else: Execute.
  auto run = kiln::e2e::run_document(dir, path, {"--state-directory", dir.file("state")});
  INFO(run.result.err);
  CHECK(run.exit_code() == 0);
  CHECK(run.status("MarkerMissing") == "skipped");
  CHECK(run.status("MarkerPresent") == "success");
  CHECK(!contains(run.console(), "skipped-step-ran"));
  CHECK(contains(run.console(), "else-execute-ran"));
  CHECK(kiln::e2e::run_document(dir, path, {"--state-directory", dir.file("state2"), "--warnings-as-errors"}, "logs2")
            .exit_code() == 3);
}

TEST_CASE("lenient: kiln run --warnings-as-errors reaches ExecuteDocument children") {
  TempDir dir;
  dir.write("child.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ["echo child {{ left open"]
)");
  std::string parent = dir.write("parent.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Child
        action: ExecuteDocument
        inputs:
          document: child.yml
)");
  auto lenient = kiln::e2e::run_document(dir, parent, {"--state-directory", dir.file("state")});
  INFO(lenient.result.err);
  CHECK(lenient.exit_code() == 0);
  CHECK(lenient.status("Child") == "success");
  auto strict =
      kiln::e2e::run_document(dir, parent, {"--state-directory", dir.file("state2"), "--warnings-as-errors"}, "logs2");
  INFO(strict.result.err);
  CHECK(strict.exit_code() == 1);
  CHECK(strict.status("Child") == "failed");
  CHECK(contains(kiln::e2e::failure_of(strict, "Child"), "'{{' is never closed"));
}
