// Unit tests of document validation (agent/document/validator): each semantic rule
// with the line of its diagnostic, and the typed model of a valid document.
#include "agent/document/validator.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "agent/document/schema_registry.h"
#include "agent/document/yaml_loader.h"

namespace kiln {
namespace {

using json = nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Validated {
  Diagnostics diagnostics;
  Document doc;

  Diagnostics errors() const {
    Diagnostics out;
    for (const auto& d : diagnostics)
      if (d.severity == Severity::Error) out.push_back(d);
    return out;
  }
  std::string shown() const {
    std::string out;
    for (const auto& d : diagnostics)
      out += std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " +
             (d.severity == Severity::Error ? "error: " : "warning: ") + d.message + " [" + d.hint + "]\n";
    return out;
  }
  // The first diagnostic whose message holds `text` (nullptr if none).
  const Diagnostic* find(const std::string& text) const {
    for (const auto& d : diagnostics)
      if (contains(d.message, text)) return &d;
    return nullptr;
  }
};

Validated validate(const std::string& text, const std::string& platform = "linux") {
  LoadedDocument loaded;
  Diagnostics load_diagnostics;
  bool loaded_ok = load_yaml_text("doc.yaml", text, loaded, load_diagnostics);
  INFO("text:\n" << text);
  REQUIRE(loaded_ok);
  Validated v;
  ValidateOptions options;
  options.platform = platform;
  v.diagnostics = validate_document(std::move(loaded), options, v.doc);
  return v;
}

// Validates a document that must have no errors (warnings allowed).
Validated valid(const std::string& text, const std::string& platform = "linux") {
  Validated v = validate(text, platform);
  INFO(v.shown());
  CHECK(v.errors().empty());
  return v;
}

// Validates a document that must have exactly one error holding `message`, at `line`.
Diagnostic one_error(const std::string& text, const std::string& message, int line,
                     const std::string& platform = "linux") {
  Validated v = validate(text, platform);
  INFO(v.shown());
  Diagnostics errors = v.errors();
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors[0].message, message));
  CHECK(errors[0].location.line == line);
  CHECK(errors[0].location.file == "doc.yaml");
  CHECK(errors[0].location.column > 0);
  // No model is built for an invalid document.
  CHECK(v.doc.phases.empty());
  return errors[0];
}

// Lines 1-4; steps start on line 5.
const std::string kHead =
    "schemaVersion: 1.0\n"  // 1
    "phases:\n"             // 2
    "  - name: build\n"     // 3
    "    steps:\n";         // 4

// One ExecuteBash step named `name` (3 lines + extra lines).
std::string bash_step(const std::string& name, const std::string& command = "echo hi",
                      const std::string& extra = "") {
  return "      - name: " + name + "\n" +
         "        action: ExecuteBash\n" + extra +
         "        inputs:\n"
         "          commands:\n"
         "            - " + command + "\n";
}

}  // namespace

TEST_CASE("validator: schemaVersion is required and must be 1.0") {
  Diagnostic missing = one_error(
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "schemaVersion", 1);
  CHECK(contains(missing.message, "missing required key"));

  one_error(
      "schemaVersion: 2.0\n"
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "schemaVersion 2.0 is not supported", 1);
  one_error(
      "name: x\n"
      "schemaVersion: \"1.1\"\n"
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "schemaVersion 1.1 is not supported", 2);
  for (const char* version : {"1.0", "1", "\"1.0\"", "'1'"})
    valid(std::string("schemaVersion: ") + version + "\nphases:\n  - name: build\n    steps: []\n");
}

TEST_CASE("validator: parameter and constant names") {
  Diagnostic short_name = one_error(
      "schemaVersion: 1.0\n"  // 1
      "parameters:\n"         // 2
      "  - ab:\n"             // 3
      "      type: string\n"  // 4
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "invalid parameter name 'ab'", 3);
  CHECK(short_name.location.column == 5);
  CHECK(contains(short_name.hint, "3 to 128"));
  one_error(
      "schemaVersion: 1.0\n"
      "constants:\n"
      "  - Bad.Name:\n"
      "      type: string\n"
      "      value: x\n"
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "invalid constant name 'Bad.Name'", 3);
  one_error(
      "schemaVersion: 1.0\n"
      "parameters:\n"
      "  - " + std::string(129, 'a') + ":\n"
      "      type: string\n"
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "invalid parameter name", 3);
}

TEST_CASE("validator: a name declared twice across parameters and constants") {
  Diagnostic d = one_error(
      "schemaVersion: 1.0\n"     // 1
      "parameters:\n"            // 2
      "  - Target:\n"            // 3
      "      type: string\n"     // 4
      "constants:\n"             // 5
      "  - Target:\n"            // 6
      "      type: string\n"     // 7
      "      value: /opt\n"      // 8
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "duplicate parameter/constant name 'Target'", 6);
  CHECK(contains(d.message, "first declared at line 3"));
  one_error(
      "schemaVersion: 1.0\n"
      "parameters:\n"
      "  - Foo:\n"
      "      type: string\n"
      "  - Foo:\n"
      "      type: string\n"
      "phases:\n"
      "  - name: build\n"
      "    steps: []\n",
      "duplicate parameter/constant name 'Foo'", 5);
}

TEST_CASE("validator: duplicate phase, step and loop names") {
  one_error(
      "schemaVersion: 1.0\n"  // 1
      "phases:\n"             // 2
      "  - name: build\n"     // 3
      "    steps: []\n"       // 4
      "  - name: build\n"     // 5
      "    steps: []\n",
      "duplicate phase name 'build'", 5);
  one_error(kHead + bash_step("Same") + bash_step("Same"), "duplicate step name 'Same' in phase 'build'", 10);
  // The same step name in another phase is fine.
  valid(kHead + bash_step("Same") + "  - name: test\n    steps:\n" + bash_step("Same"));
  one_error(kHead +
                "      - name: A\n"                 // 5
                "        action: ExecuteBash\n"     // 6
                "        loop:\n"                   // 7
                "          name: items\n"           // 8
                "          forEach: [a, b]\n"       // 9
                "        inputs:\n"                 // 10
                "          commands: [echo]\n"      // 11
                "      - name: B\n"                 // 12
                "        action: ExecuteBash\n"     // 13
                "        loop:\n"                   // 14
                "          name: items\n"           // 15
                "          forEach: [c]\n"          // 16
                "        inputs:\n"
                "          commands: [echo]\n",
            "duplicate loop name 'items'", 15);
}

TEST_CASE("validator: unknown action, with a suggestion") {
  Diagnostic d = one_error(kHead +
                               "      - name: S\n"             // 5
                               "        action: ExecuteBsh\n"  // 6
                               "        inputs:\n"
                               "          commands: [echo]\n",
                           "unknown action 'ExecuteBsh'", 6);
  CHECK(d.location.column == 17);
  CHECK(contains(d.hint, "did you mean 'ExecuteBash'?"));
  Diagnostic far = one_error(kHead +
                                 "      - name: S\n"
                                 "        action: Frobnicate\n"
                                 "        inputs: {}\n",
                             "unknown action 'Frobnicate'", 6);
  CHECK_FALSE(contains(far.hint, "did you mean"));
}

TEST_CASE("validator: an action not available on the platform") {
  Diagnostic d = one_error(kHead + bash_step("S"), "ExecuteBash is not available on windows", 6, "windows");
  CHECK(contains(d.hint, "linux"));
  valid(kHead + bash_step("S"), "darwin");
  one_error(kHead +
                "      - name: P\n"
                "        action: ExecutePowerShell\n"
                "        inputs:\n"
                "          commands: [Write-Host hi]\n",
            "ExecutePowerShell is not available on linux", 6);
}

TEST_CASE("validator: timeoutSeconds and maxAttempts ranges") {
  one_error(kHead + bash_step("S", "echo", "        timeoutSeconds: 0\n"), "timeoutSeconds must be a positive", 7);
  one_error(kHead + bash_step("S", "echo", "        timeoutSeconds: -2\n"), "timeoutSeconds must be a positive",
            7);
  valid(kHead + bash_step("S", "echo", "        timeoutSeconds: -1\n"));
  valid(kHead + bash_step("S", "echo", "        timeoutSeconds: 1\n"));
  one_error(kHead + bash_step("S", "echo", "        timeoutSeconds: soon\n"), "'timeoutSeconds' must be an integer",
            7);
  one_error(kHead + bash_step("S", "echo", "        maxAttempts: 0\n"), "'maxAttempts' must be at least 1", 7);
  valid(kHead + bash_step("S", "echo", "        maxAttempts: 3\n"));
  one_error(kHead + bash_step("S", "echo", "        onFailure: abort\n"), "'onFailure' must be one of", 7);
}

TEST_CASE("validator: ExecuteDocument cannot set timeoutSeconds or maxAttempts") {
  const std::string step =
      "      - name: Child\n"               // 5
      "        action: ExecuteDocument\n";  // 6
  const std::string inputs =
      "        inputs:\n"
      "          document: child.yaml\n";
  one_error(kHead + step + "        timeoutSeconds: 60\n" + inputs, "ExecuteDocument steps cannot set timeoutSeconds",
            7);
  one_error(kHead + step + "        maxAttempts: 2\n" + inputs, "ExecuteDocument steps cannot set maxAttempts", 7);
  valid(kHead + step + "        timeoutSeconds: -1\n        maxAttempts: 1\n" + inputs);
}

TEST_CASE("validator: unknown keys name the likely intent") {
  Diagnostic d = one_error(kHead + bash_step("S", "echo", "        timeoutSecond: 5\n"), "unknown key 'timeoutSecond'", 7);
  CHECK(d.location.column == 9);
  CHECK(contains(d.hint, "did you mean 'timeoutSeconds'?"));
  CHECK(contains(d.hint, "allowed keys"));
  Validated top = validate("schemaVersion: 1.0\nphase:\n  - name: build\n");
  INFO(top.shown());
  REQUIRE(top.errors().size() == 2);
  CHECK(contains(top.errors()[0].message, "missing required key 'phases'"));
  CHECK(top.errors()[1].location.line == 2);
  CHECK(contains(top.errors()[1].message, "unknown key 'phase'"));
  CHECK(contains(top.errors()[1].hint, "did you mean 'phases'?"));
  Diagnostic input = one_error(kHead +
                                   "      - name: S\n"
                                   "        action: ExecuteBash\n"
                                   "        inputs:\n"
                                   "          commands: [echo]\n"
                                   "          comands: [echo]\n",
                               "unknown key 'comands'", 9);
  CHECK(contains(input.hint, "did you mean 'commands'?"));
}

TEST_CASE("validator: undeclared {{ }} variables, with a suggestion") {
  const std::string params =
      "schemaVersion: 1.0\n"     // 1
      "parameters:\n"            // 2
      "  - Greeting:\n"          // 3
      "      type: string\n"     // 4
      "      default: hi\n"      // 5
      "phases:\n"                // 6
      "  - name: build\n"        // 7
      "    steps:\n";            // 8
  Diagnostic d = one_error(params + bash_step("S", "echo {{ Greting }}"), "undeclared parameter or constant 'Greting'",
                           13);
  CHECK(contains(d.hint, "did you mean 'Greeting'?"));
  valid(params + bash_step("S", "echo {{ Greeting }} {{Greeting}}"));
  Diagnostic none = one_error(kHead + bash_step("S", "echo {{ Nothing }}"), "'Nothing'", 9);
  CHECK(contains(none.hint, "declare it"));
}

TEST_CASE("validator: text that is no expression is a located warning and stays as written") {
  // An unterminated '{{' (AWSTOE leaves it as it is).
  Validated open = valid(kHead + bash_step("S", "echo {{ Greeting"));
  REQUIRE(open.diagnostics.size() == 1);
  CHECK(open.diagnostics[0].severity == Severity::Warning);
  CHECK(open.diagnostics[0].message == "'{{' is never closed; the text stays as written");
  CHECK(open.diagnostics[0].location.line == 9);
  CHECK(open.diagnostics[0].location.column == 20);  // "            - echo {{": the '{{'
  CHECK(open.doc.phases.size() == 1);
  // Braces that hold no expression (a Go template in a docker command).
  Validated go = valid(kHead + bash_step("S", "docker inspect -f '{{ .State.Running }}' c"));
  REQUIRE(go.diagnostics.size() == 1);
  CHECK(go.diagnostics[0].severity == Severity::Warning);
  CHECK(go.diagnostics[0].message == "'{{ .State.Running }}' is not an expression; the text stays as written");
  CHECK(go.diagnostics[0].location.line == 9);
  CHECK(go.diagnostics[0].location.column == 34);
  Validated dotted = valid(kHead + bash_step("S", "echo {{ a.b.c }}"));
  REQUIRE(dotted.diagnostics.size() == 1);
  CHECK(contains(dotted.diagnostics[0].message, "'{{ a.b.c }}' is not an expression"));
  // A stray '{{' before a real expression: the stray one warns, the real one is checked.
  Validated both = validate(kHead + bash_step("S", "echo {{ a {{ Nothing }}"));
  INFO(both.shown());
  REQUIRE(both.diagnostics.size() == 2);
  CHECK(both.diagnostics[0].severity == Severity::Warning);
  CHECK(both.diagnostics[0].location.column == 20);
  CHECK(both.diagnostics[1].severity == Severity::Error);
  CHECK(contains(both.diagnostics[1].message, "undeclared parameter or constant 'Nothing'"));
  CHECK(both.diagnostics[1].location.column == 25);
}

namespace {

// A document whose one step runs `script` written as a block scalar with `header`
// ("|", "|-", ">", ...) under "commands:", the script's lines indented by `indent`
// spaces; the script starts on line 10.
std::string block_step(const std::string& header, const std::vector<std::string>& script, int indent = 14,
                       const std::string& item = "            - ") {
  std::string text = kHead +
                     "      - name: S\n"           // 5
                     "        action: ExecuteBash\n"  // 6
                     "        inputs:\n"          // 7
                     "          commands:\n"      // 8
                     + item + header + "\n";       // 9
  for (const auto& line : script) text += (line.empty() ? "" : std::string(static_cast<size_t>(indent), ' ') + line) + "\n";
  return text;
}

// A 40-line script whose line 25 of the document (line 16 of the script) holds `bad`.
std::vector<std::string> script_with(const std::string& bad) {
  std::vector<std::string> lines;
  for (int i = 10; i <= 49; ++i) lines.push_back(i == 25 ? bad : i == 30 ? "" : "echo line " + std::to_string(i));
  return lines;
}

}  // namespace

TEST_CASE("validator: a problem on line 25 of a block-scalar script is reported at line 25, under its '{{'") {
  struct Case {
    std::string header;
    int indent;
    std::string item;
  };
  for (const Case& c : {Case{"|", 14, "            - "}, Case{"|-", 14, "            - "}, Case{"|+", 14, "            - "},
                        Case{">", 14, "            - "}, Case{">-", 14, "            - "},
                        Case{"|", 16, "            - "},                // indented deeper than the list item
                        Case{"|2", 16, "            - "},               // an explicit indentation indicator
                        Case{"|  # the script", 14, "            - "},  // a comment after the indicator
                        Case{"|", 12, "          - "},                  // the list not indented under its key
                        Case{">", 20, "          - "}}) {
    CAPTURE(c.header);
    CAPTURE(c.indent);
    // The error: an undeclared parameter in the middle of the script.
    std::string text = block_step(c.header, script_with("if [ -n \"{{ Nothing }}\" ]; then echo x; fi"), c.indent, c.item);
    Validated v = validate(text);
    INFO(v.shown());
    REQUIRE(v.errors().size() == 1);
    const Diagnostic d = v.errors()[0];  // a copy: errors() returns a new list
    CHECK(contains(d.message, "'Nothing'"));
    CHECK(d.location.line == 25);
    CHECK(d.location.column == c.indent + 10);  // `if [ -n "` is 9 bytes before the '{{'
    // The warning of an unterminated '{{' lands on its line too.
    Validated w = validate(block_step(c.header, script_with("echo {{ oops"), c.indent, c.item));
    INFO(w.shown());
    REQUIRE(w.diagnostics.size() == 1);
    CHECK(w.diagnostics[0].severity == Severity::Warning);
    CHECK(w.diagnostics[0].location.line == 25);
    CHECK(w.diagnostics[0].location.column == c.indent + 6);
  }
}

TEST_CASE("validator: positions inside multi-line quoted and plain scalars") {
  // A double-quoted script folded over lines.
  Validated dq = validate(kHead + bash_step("S", "\"echo one\n              echo {{ Nothing }}\""));
  INFO(dq.shown());
  REQUIRE(dq.errors().size() == 1);
  CHECK(dq.errors()[0].location.line == 10);
  CHECK(dq.errors()[0].location.column == 20);
  // Single-quoted.
  Validated sq = validate(kHead + bash_step("S", "'echo one\n\n                echo {{ Nothing }}'"));
  INFO(sq.shown());
  REQUIRE(sq.errors().size() == 1);
  CHECK(sq.errors()[0].location.line == 11);
  CHECK(sq.errors()[0].location.column == 22);
  // A plain scalar folded over two lines.
  Validated plain = validate(kHead + bash_step("S", "echo one\n              two {{ Nothing }}"));
  INFO(plain.shown());
  REQUIRE(plain.errors().size() == 1);
  CHECK(plain.errors()[0].location.line == 10);
  CHECK(plain.errors()[0].location.column == 19);
  // Past an escape the mapping is not one to one: the scalar's start is used.
  Validated escaped = validate(kHead + bash_step("S", "\"echo \\\"one\\\"\n              echo {{ Nothing }}\""));
  INFO(escaped.shown());
  REQUIRE(escaped.errors().size() == 1);
  CHECK(escaped.errors()[0].location.line == 9);
  CHECK(escaped.errors()[0].location.column == 15);
}

TEST_CASE("validator: chaining must name an earlier step and a real output") {
  const std::string first =
      "      - name: First\n"           // 5
      "        action: ExecuteBash\n"   // 6
      "        inputs:\n"               // 7
      "          commands: [echo a]\n"; // 8
  // Lines 9-13: the second step; its command is on line 13.
  valid(kHead + first + bash_step("Second", "echo {{ build.First.outputs.stdout }}"));
  valid(kHead + first + bash_step("Second", "echo {{ build.First.inputs.commands }}"));
  one_error(kHead + first + bash_step("Second", "echo {{ build.Nope.outputs.stdout }}"),
            "unknown step 'Nope' in phase 'build'", 13);
  one_error(kHead + first + bash_step("Second", "echo {{ other.First.outputs.stdout }}"), "unknown phase 'other'", 13);
  one_error(kHead + bash_step("Early", "echo {{ build.Late.outputs.stdout }}") + bash_step("Late"), "a later step", 9);
  one_error(kHead + first + bash_step("Second", "echo {{ build.Second.outputs.stdout }}"), "its own step", 13);
  Diagnostic key = one_error(kHead + first + bash_step("Second", "echo {{ build.First.outputs.stdot }}"),
                             "ExecuteBash has no output 'stdot'", 13);
  CHECK(contains(key.hint, "stdout"));
  one_error(kHead + first + bash_step("Second", "echo {{ build.First.inputs.nope }}"),
            "ExecuteBash has no input 'nope'", 13);
  // A later phase may use an earlier phase's step; not the other way round.
  valid(kHead + first + "  - name: test\n    steps:\n" + bash_step("T", "echo {{ build.First.outputs.stdout }}"));
}

TEST_CASE("validator: for loops must end") {
  auto for_loop = [](const std::string& start, const std::string& end, const std::string& by) {
    return kHead +
           "      - name: L\n"                 // 5
           "        action: ExecuteBash\n"     // 6
           "        loop:\n"                   // 7
           "          for:\n"                  // 8
           "            start: " + start + "\n"  // 9
           "            end: " + end + "\n"      // 10
           "            updateBy: " + by + "\n"  // 11
           "        inputs:\n"
           "          commands: ['echo {{ loop.value }}']\n";
  };
  valid(for_loop("0", "10", "2"));
  valid(for_loop("10", "0", "-1"));
  valid(for_loop("3", "3", "1"));
  Diagnostic zero = one_error(for_loop("0", "10", "0"), "updateBy cannot be 0", 11);
  CHECK(zero.location.column == 23);
  one_error(for_loop("10", "0", "1"), "moves away from end", 11);
  one_error(for_loop("0", "10", "-1"), "moves away from end", 11);
  one_error(for_loop("0", "x", "1"), "'end' must be an integer", 10);
}

TEST_CASE("validator: loop keys get the friendly checks; plain forEach items become strings") {
  Diagnostic d = one_error(kHead +
                               "      - name: L\n"                 // 5
                               "        action: ExecuteBash\n"     // 6
                               "        loop:\n"                   // 7
                               "          nme: x\n"                // 8
                               "          forEach: [a]\n"          // 9
                               "        inputs:\n"
                               "          commands: [echo]\n",
                           "unknown key 'nme'", 8);
  CHECK(contains(d.hint, "did you mean 'name'?"));
  Validated v = valid(kHead +
                      "      - name: L\n"
                      "        action: ExecuteBash\n"
                      "        loop:\n"
                      "          forEach: [1, 0755, true]\n"
                      "        inputs:\n"
                      "          commands: ['echo {{ loop.value }}']\n");
  REQUIRE(v.doc.phases.size() == 1);
  REQUIRE(v.doc.phases[0].steps[0].loop.has_value());
  CHECK(v.doc.phases[0].steps[0].loop->items == json::array({"1", "0755", "true"}));
}

TEST_CASE("validator: forEach delimiter must be one of the allowed characters") {
  auto each = [](const std::string& delimiter) {
    return kHead +
           "      - name: L\n"                   // 5
           "        action: ExecuteBash\n"       // 6
           "        loop:\n"                     // 7
           "          forEach:\n"                // 8
           "            list: a|b\n"             // 9
           "            delimiter: " + delimiter + "\n"  // 10
           "        inputs:\n"
           "          commands: ['echo {{ loop.value }}']\n";
  };
  valid(each("','"));
  valid(each("';'"));
  valid(each("\"\\t\""));
  Diagnostic d = one_error(each("'|'"), "delimiter", 10);
  CHECK(contains(d.message, "must be one of"));
  one_error(each("'::'"), "delimiter", 10);
}

TEST_CASE("validator: if nesting is limited to 4 logical levels") {
  auto nested = [](int levels) {
    std::string text = kHead +
                       "      - name: S\n"            // 5
                       "        action: ExecuteBash\n"  // 6
                       "        if:\n";                 // 7
    std::string indent = "          ";
    for (int i = 0; i < levels; ++i, indent += "  ") text += indent + "not:\n";  // lines 8..
    text += indent + "fileExists: /nope\n";
    text += "        inputs:\n          commands: [echo]\n";
    return text;
  };
  valid(nested(4));
  // Reported at the operand of the fifth operator (line 12 holds the fifth 'not:').
  Diagnostic d = one_error(nested(5), "nested 5 levels deep", 13);
  CHECK(contains(d.message, "at most 4"));
}

TEST_CASE("validator: context keys and instance metadata paths") {
  Diagnostic d = one_error(kHead + bash_step("S", "echo {{ context:regoin }}"), "unknown context key 'regoin'", 9);
  CHECK(contains(d.hint, "context:region"));
  valid(kHead + bash_step("S", "echo {{ context:region }} {{ context:uuid }}"));
  one_error(kHead + bash_step("S", "echo {{ aws:imds:iam/security-credentials/role }}"),
            "instance metadata path 'iam/security-credentials/role' is not allowed", 9);
  one_error(kHead + bash_step("S", "echo {{ aws:imds:identity-credentials/ec2/info }}"), "is not allowed", 9);
  valid(kHead + bash_step("S", "echo {{ aws:imds:placement/region }} {{ env:HOME }} {{ aws:ssm:/a/b }}"));
}

TEST_CASE("validator: inputs not allowed on windows") {
  const std::string doc = kHead +
                          "      - name: F\n"            // 5
                          "        action: CreateFile\n"  // 6
                          "        inputs:\n"             // 7
                          "          - path: C:/x.txt\n"  // 8
                          "            owner: admin\n";   // 9
  Diagnostic d = one_error(doc, "'owner' is not supported on windows", 9, "windows");
  CHECK(d.location.column == 13);
  valid(doc, "linux");
}

TEST_CASE("validator: permissions: 0755 is accepted and becomes the string \"0755\"") {
  Validated v = valid(kHead +
                      "      - name: F\n"
                      "        action: CreateFile\n"
                      "        inputs:\n"
                      "          - path: /tmp/x\n"
                      "            permissions: 0755\n"
                      "            content: 42\n"
                      "            overwrite: true\n");
  REQUIRE(v.doc.phases.size() == 1);
  REQUIRE(v.doc.phases[0].steps.size() == 1);
  const json& inputs = v.doc.phases[0].steps[0].inputs;
  CHECK(inputs[0]["permissions"] == "0755");
  CHECK(inputs[0]["content"] == "42");  // a plain number where a string is expected
  CHECK(inputs[0]["overwrite"] == true);  // a boolean stays a boolean
}

TEST_CASE("validator: a {{ }} expression in a boolean input is accepted until run time") {
  const std::string doc =
      "schemaVersion: 1.0\n"
      "parameters:\n"
      "  - Overwrite:\n"
      "      type: string\n"
      "      default: 'true'\n"
      "phases:\n"
      "  - name: build\n"
      "    steps:\n"
      "      - name: F\n"
      "        action: CreateFile\n"
      "        inputs:\n"
      "          - path: /tmp/x\n"
      "            overwrite: '{{ Overwrite }}'\n";
  Validated v = valid(doc);
  REQUIRE(v.doc.phases.size() == 1);
  CHECK(v.doc.phases[0].steps[0].inputs[0]["overwrite"] == "{{ Overwrite }}");
  // A literal non-boolean is still refused.
  one_error(kHead +
                "      - name: F\n"
                "        action: CreateFile\n"
                "        inputs:\n"
                "          - path: /tmp/x\n"
                "            overwrite: maybe\n",
            "'overwrite' must be a boolean", 9);
}

TEST_CASE("validator: every error is reported, sorted by line") {
  Validated v = validate(
      "schemaVersion: 1.0\n"              // 1
      "parameters:\n"                     // 2
      "  - ab:\n"                         // 3
      "      type: string\n"              // 4
      "phases:\n"                         // 5
      "  - name: build\n"                 // 6
      "    steps:\n"                      // 7
      "      - name: A\n"                 // 8
      "        action: ExecuteBsh\n"      // 9
      "        inputs: {}\n"              // 10
      "      - name: B\n"                 // 11
      "        action: ExecuteBash\n"     // 12
      "        timeoutSeconds: 0\n"       // 13
      "        maxAttempts: 0\n"          // 14
      "        inputs:\n"                 // 15
      "          commands:\n"             // 16
      "            - echo {{ Nope }}\n"   // 17
      "      - name: B\n"                 // 18
      "        action: ExecuteBash\n"     // 19
      "        bogus: 1\n"                // 20
      "        inputs:\n"                 // 21
      "          commands: [echo]\n");    // 22
  INFO(v.shown());
  Diagnostics errors = v.errors();
  REQUIRE(errors.size() == 7);
  std::vector<int> lines;
  for (const auto& d : errors) lines.push_back(d.location.line);
  CHECK(lines == std::vector<int>{3, 9, 13, 14, 17, 18, 20});
  for (size_t i = 1; i < v.diagnostics.size(); ++i)
    CHECK(v.diagnostics[i - 1].location.line <= v.diagnostics[i].location.line);
  CHECK(v.doc.phases.empty());
}

TEST_CASE("validator: loop expressions outside a loop are warnings, not errors") {
  Validated v = valid(kHead + bash_step("S", "echo {{ loop.index }}"));
  const Diagnostic* d = v.find("outside a loop");
  REQUIRE(d != nullptr);
  CHECK(d->severity == Severity::Warning);
  CHECK(d->location.line == 9);
  CHECK(v.doc.phases.size() == 1);  // warnings do not stop the model
}

TEST_CASE("validator: the typed model of a valid document") {
  Validated v = valid(
      "name: Sample\n"                           // 1
      "description: Does things\n"               // 2
      "schemaVersion: 1.0\n"                     // 3
      "parameters:\n"                            // 4
      "  - Greeting:\n"                          // 5
      "      type: string\n"                     // 6
      "      default: hello\n"                   // 7
      "      description: what to say\n"         // 8
      "  - Required:\n"                          // 9
      "      type: string\n"                     // 10
      "constants:\n"                             // 11
      "  - Target:\n"                            // 12
      "      type: string\n"                     // 13
      "      value: /opt/app\n"                  // 14
      "phases:\n"                                // 15
      "  - name: build\n"                        // 16
      "    steps:\n"                             // 17
      "      - name: Say\n"                      // 18
      "        action: ExecuteBash\n"            // 19
      "        inputs:\n"                        // 20
      "          commands:\n"                    // 21
      "            - echo {{ Greeting }}\n"      // 22
      "      - name: Tuned\n"                    // 23
      "        action: ExecuteBash\n"            // 24
      "        timeoutSeconds: 30\n"             // 25
      "        onFailure: Ignore\n"              // 26
      "        maxAttempts: 3\n"                 // 27
      "        if:\n"                            // 28
      "          fileExists: /etc/hosts\n"       // 29
      "        loop:\n"                          // 30
      "          name: idx\n"                    // 31
      "          for:\n"                         // 32
      "            start: 5\n"                   // 33
      "            end: 1\n"                     // 34
      "            updateBy: -2\n"               // 35
      "        inputs:\n"                        // 36
      "          commands: ['echo {{ idx.value }}']\n"
      "  - name: test\n"
      "    steps:\n"
      "      - name: Child\n"
      "        action: ExecuteDocument\n"
      "        inputs:\n"
      "          document: child.yaml\n"
      "      - name: Each\n"
      "        action: ExecuteBash\n"
      "        loop:\n"
      "          forEach:\n"
      "            - a\n"
      "            - '{{ Target }}'\n"
      "        inputs:\n"
      "          commands: ['echo {{ loop.value }}']\n"
      "      - name: Split\n"
      "        action: ExecuteBash\n"
      "        loop:\n"
      "          name: hosts\n"
      "          forEach:\n"
      "            list: 'a;b;c'\n"
      "            delimiter: ';'\n"
      "        inputs:\n"
      "          commands: ['echo {{ hosts.value }}']\n"
      "      - name: Comma\n"
      "        action: ExecuteBash\n"
      "        loop:\n"
      "          forEach:\n"
      "            list: x,y\n"
      "        inputs:\n"
      "          commands: ['echo {{ loop.value }}']\n"
      "      - name: Bare\n"
      "        action: UpdateOS\n");
  const Document& doc = v.doc;
  CHECK(doc.name == "Sample");
  CHECK(doc.description == "Does things");
  CHECK(doc.source.path == "doc.yaml");
  CHECK(doc.source.root.is_object());
  REQUIRE(doc.parameters.size() == 2);
  CHECK(doc.parameters[0].name == "Greeting");
  CHECK(doc.parameters[0].type == "string");
  REQUIRE(doc.parameters[0].default_value.has_value());
  CHECK(*doc.parameters[0].default_value == "hello");
  CHECK(doc.parameters[0].description == "what to say");
  CHECK(doc.parameters[1].name == "Required");
  CHECK_FALSE(doc.parameters[1].default_value.has_value());
  CHECK(doc.constants == std::map<std::string, std::string>{{"Target", "/opt/app"}});

  REQUIRE(doc.phases.size() == 2);
  CHECK(doc.phases[0].name == "build");
  CHECK(doc.phases[1].name == "test");
  REQUIRE(doc.phases[0].steps.size() == 2);
  REQUIRE(doc.phases[1].steps.size() == 5);

  const StepSpec& say = doc.phases[0].steps[0];
  CHECK(say.name == "Say");
  CHECK(say.action == "ExecuteBash");
  CHECK(say.timeout_seconds == 7200);
  CHECK(say.on_failure == kiln::OnFailure::Abort);
  CHECK(say.max_attempts == 1);
  CHECK(say.has_inputs);
  CHECK(say.inputs == json::parse(R"({"commands": ["echo {{ Greeting }}"]})"));
  CHECK_FALSE(say.has_if);
  CHECK_FALSE(say.loop.has_value());
  CHECK(say.pointer == "/phases/0/steps/0");
  CHECK(doc.source.at(say.pointer).line == 18);

  const StepSpec& tuned = doc.phases[0].steps[1];
  CHECK(tuned.timeout_seconds == 30);
  CHECK(tuned.on_failure == kiln::OnFailure::Ignore);
  CHECK(tuned.max_attempts == 3);
  CHECK(tuned.has_if);
  CHECK(tuned.if_condition == json::parse(R"({"fileExists": "/etc/hosts"})"));
  REQUIRE(tuned.loop.has_value());
  CHECK(tuned.loop->name == "idx");
  CHECK(tuned.loop->kind == LoopSpec::Kind::For);
  CHECK(tuned.loop->start == 5);
  CHECK(tuned.loop->end == 1);
  CHECK(tuned.loop->update_by == -2);
  CHECK(tuned.pointer == "/phases/0/steps/1");

  const StepSpec& child = doc.phases[1].steps[0];
  CHECK(child.action == "ExecuteDocument");
  CHECK(child.timeout_seconds == -1);  // forced
  CHECK(child.max_attempts == 1);

  const StepSpec& each = doc.phases[1].steps[1];
  REQUIRE(each.loop.has_value());
  CHECK(each.loop->name.empty());
  CHECK(each.loop->kind == LoopSpec::Kind::ForEachList);
  CHECK(each.loop->items == json::array({"a", "{{ Target }}"}));

  const StepSpec& split = doc.phases[1].steps[2];
  REQUIRE(split.loop.has_value());
  CHECK(split.loop->name == "hosts");
  CHECK(split.loop->kind == LoopSpec::Kind::ForEachString);
  CHECK(split.loop->list == "a;b;c");
  CHECK(split.loop->delimiter == ';');

  const StepSpec& comma = doc.phases[1].steps[3];
  REQUIRE(comma.loop.has_value());
  CHECK(comma.loop->kind == LoopSpec::Kind::ForEachString);
  CHECK(comma.loop->delimiter == ',');  // the default

  const StepSpec& bare = doc.phases[1].steps[4];
  CHECK(bare.action == "UpdateOS");
  CHECK_FALSE(bare.has_inputs);
}

TEST_CASE("validator: a document that is not a mapping") {
  Validated v = validate("- just\n- a list\n");
  Diagnostics errors = v.errors();
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors[0].message, "must be a mapping"));
  CHECK(errors[0].location.line == 1);
}

TEST_CASE("validator: each diagnostic carries a code that says what kind of problem it is") {
  // A type, an enum and an unknown key: schema problems; the unknown key has its own code.
  Validated v = validate(kHead + bash_step("A", "echo", "        timeoutSecond: 5\n") +
                         bash_step("B", "echo", "        maxAttempts: zero\n") +
                         bash_step("C", "echo", "        onFailure: abort\n") + bash_step("C") +
                         bash_step("D", "echo {{ Missing }}"));
  INFO(v.shown());
  auto code_of = [&](const std::string& text) {
    const Diagnostic* d = v.find(text);
    REQUIRE_MESSAGE(d != nullptr, text);
    return d->code;
  };
  CHECK(code_of("unknown key 'timeoutSecond'") == DiagnosticCode::UnknownKey);
  CHECK(code_of("'maxAttempts' must be") == DiagnosticCode::Schema);
  CHECK(code_of("'onFailure' must be one of") == DiagnosticCode::Schema);
  CHECK(code_of("duplicate step name 'C'") == DiagnosticCode::Semantic);
  CHECK(code_of("undeclared parameter or constant 'Missing'") == DiagnosticCode::Semantic);

  // Warnings have a code too.
  Validated warned = valid(kHead + bash_step("S", "echo {{ loop.value }}"));
  REQUIRE(warned.diagnostics.size() == 1);
  CHECK(warned.diagnostics[0].severity == Severity::Warning);
  CHECK(warned.diagnostics[0].code == DiagnosticCode::Semantic);

  // A condition that breaks the condition grammar is a schema problem.
  Diagnostic condition = one_error(kHead + bash_step("S", "echo", "        if:\n          fileExist: /x\n"),
                                   "fileExist", 8);
  CHECK(condition.code == DiagnosticCode::Schema);

  CHECK(one_error("- just\n- a list\n", "must be a mapping", 1).code == DiagnosticCode::Schema);
}

TEST_CASE("validator: the inputs value itself of the wrong type is named after its action") {
  Diagnostic d = one_error(kHead +
                               "      - name: S\n"
                               "        action: ExecuteBash\n"
                               "        inputs: [1]\n",
                           "ExecuteBash inputs must be a map, not a list", 7);
  CHECK(d.code == DiagnosticCode::Schema);
  Diagnostic choice = one_error(kHead +
                                    "      - name: S\n"
                                    "        action: ExecutePowerShell\n"
                                    "        inputs: {}\n",
                                "ExecutePowerShell inputs needs exactly one of commands or file", 7, "windows");
  CHECK(choice.code == DiagnosticCode::Schema);
}

TEST_CASE("validator: step settings an action fixes come from its schema's traits, not its name") {
  const ActionSchema* child = SchemaRegistry::instance().action("ExecuteDocument");
  REQUIRE(child != nullptr);
  CHECK(child->no_timeout);
  CHECK(child->single_attempt);
  const ActionSchema* bash = SchemaRegistry::instance().action("ExecuteBash");
  REQUIRE(bash != nullptr);
  CHECK_FALSE(bash->no_timeout);
  CHECK_FALSE(bash->single_attempt);

  // The document layer names no action: a trait says what ExecuteDocument used to.
  for (const char* file : {"validator.cpp", "schema_check.cpp", "yaml_loader.cpp", "schema_registry.cpp"}) {
    std::ifstream in(std::string(KILN_SOURCE_DIR) + "/agent/document/" + file);
    REQUIRE(in);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& name : SchemaRegistry::instance().action_names()) {
      INFO(file << " names the action " << name);
      CHECK(text.find("\"" + name + "\"") == std::string::npos);
    }
  }
}

TEST_CASE("schema registry: an action's traits are read from its schema, and malformed ones are refused") {
  json schema = {{"x-kiln-action", "Demo"},
                 {"x-kiln-platforms", {"linux"}},
                 {"x-kiln-input-shape", "list"},
                 {"x-kiln-no-timeout", true},
                 {"type", "array"}};
  Expected<ActionSchema> demo = read_action_schema(schema);
  REQUIRE(demo);
  CHECK(demo->name == "Demo");
  CHECK(demo->list_inputs);
  CHECK(demo->inputs_required);  // the default
  CHECK(demo->no_timeout);
  CHECK_FALSE(demo->single_attempt);

  json bad_flag = schema;
  bad_flag["x-kiln-single-attempt"] = "yes";
  Expected<ActionSchema> refused = read_action_schema(bad_flag);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == "Demo: x-kiln-single-attempt must be true or false, not \"yes\"");

  json bad_shape = schema;
  bad_shape["x-kiln-input-shape"] = "table";
  CHECK_FALSE(read_action_schema(bad_shape));
  CHECK_FALSE(read_action_schema(json{{"type", "object"}}));
}

}  // namespace kiln

namespace kiln {

// YAML pitfalls (issue 16): where a string was wanted and an unquoted scalar became
// something else, the message stays; the hint names YAML's rule and shows the line
// quoted, and the caret is on the character that caused it. Line 9 is the command.
namespace {

const std::string kBlock = " (or write it as a block scalar: '|' and the text on the next line, indented)";

void check_pitfall(const std::string& command, const std::string& message, int column, const std::string& hint) {
  INFO("command: " << command);
  Diagnostic d = one_error(kHead + bash_step("S", command), message, 9);
  CHECK(d.message == message);
  CHECK(d.location.column == column);
  CHECK(d.hint == hint);
  CHECK(d.code == DiagnosticCode::Schema);
}

// The one warning the command gets (the document stays valid).
void check_dropped(const std::string& command, const std::string& message, int column, const std::string& hint) {
  INFO("command: " << command);
  Validated v = valid(kHead + bash_step("S", command));
  REQUIRE(v.diagnostics.size() == 1);
  const Diagnostic& d = v.diagnostics[0];
  CHECK(d.severity == Severity::Warning);
  CHECK(d.message == message);
  CHECK(d.location.line == 9);
  CHECK(d.location.column == column);
  CHECK(d.hint == hint);
}

}  // namespace

TEST_CASE("validator: an unquoted ': ' makes a command a map; the hint shows the line quoted, caret on the ':'") {
  check_pitfall("echo \"E: Unable to locate package foo\" >&2", "'commands[0]' must be a string, not a map", 22,
                "YAML read this line as a map with the key 'echo \"E': in unquoted text, ':' followed by a space or a "
                "line end separates a key from its value; quote the whole line: - 'echo \"E: Unable to locate "
                "package foo\" >&2'" + kBlock);
  // A ':' at the end of the line does the same; a ' in the text is quoted with ".
  check_pitfall("echo it's done:", "'commands[0]' must be a string, not a map", 29,
                "YAML read this line as a map with the key 'echo it''s done': in unquoted text, ':' followed by a "
                "space or a line end separates a key from its value; quote the whole line: - \"echo it's done:\"" +
                    kBlock);
  // A key written quoted is a map on purpose: no YAML lesson, the schema's hint stays.
  Diagnostic quoted = one_error(kHead + bash_step("S", "'echo': hi"), "'commands[0]' must be a string, not a map", 9);
  CHECK(quoted.location.column == 15);
  CHECK(quoted.hint.find("YAML read") == std::string::npos);
}

TEST_CASE("validator: a command starting with '{' or '[' is a flow map or list; the hint says so") {
  check_pitfall("{ echo; }", "'commands[0]' must be a string, not a map", 15,
                "YAML read the '{' that starts this unquoted value as a flow map ({key: value}); quote the whole "
                "line: - '{ echo; }'" + kBlock);
  check_pitfall("[a, b]", "'commands[0]' must be a string, not a list", 15,
                "YAML read the '[' that starts this unquoted value as a flow list ([a, b]); quote the whole line: "
                "- '[a, b]'" + kBlock);
}

TEST_CASE("validator: ~, null and a '#' comment make a command empty; the hint says YAML read null") {
  check_pitfall("~", "'commands[0]' must be a string, not empty", 15,
                "YAML reads an unquoted ~ as null (no value), not as text; quote it: - '~'");
  check_pitfall("null", "'commands[0]' must be a string, not empty", 15,
                "YAML reads an unquoted null as null (no value), not as text; quote it: - 'null'");
  check_pitfall("NULL", "'commands[0]' must be a string, not empty", 15,
                "YAML reads an unquoted NULL as null (no value), not as text; quote it: - 'NULL'");
  // yaml-cpp places an empty item at the next token; it is reported at its own '-' line.
  check_pitfall("#!/bin/bash", "'commands[0]' must be a string, not empty", 15,
                "YAML read '#' after a space as the start of a comment, so this value is empty; quote the whole "
                "line: - '#!/bin/bash'" + kBlock);
  Diagnostic empty = one_error(kHead + bash_step("S", ""), "'commands[0]' must be a string, not empty", 9);
  CHECK(empty.location.column == 13);  // the '-'
}

TEST_CASE("validator: booleans and numbers in a string field keep their text (as AWSTOE), with no warning") {
  for (const char* command : {"true", "yes", "off", "0755", "1e3", "0x1F"}) {
    INFO(command);
    Validated v = valid(kHead + bash_step("S", command));
    CHECK(v.diagnostics.empty());
    REQUIRE(v.doc.phases.size() == 1);
    CHECK(v.doc.phases[0].steps[0].inputs["commands"][0] == command);
  }
}

TEST_CASE("validator: yes/no/on/off where a boolean is wanted: the hint says YAML 1.2 reads them as text") {
  Diagnostic d = one_error(kHead +
                               "      - name: S\n"
                               "        action: S3Download\n"
                               "        inputs:\n"
                               "          - source: s3://bucket/key\n"
                               "            destination: /tmp/x\n"
                               "            overwrite: yes\n",
                           "'overwrite' must be a boolean, not a string", 10);
  CHECK(d.location.column == 24);
  CHECK(d.hint ==
        "YAML 1.1 tools read an unquoted yes as a boolean; kiln reads YAML 1.2, where only true and false are "
        "booleans and yes is text; write true");
  Diagnostic off = one_error(kHead +
                                 "      - name: S\n"
                                 "        action: S3Download\n"
                                 "        inputs:\n"
                                 "          - source: s3://bucket/key\n"
                                 "            destination: /tmp/x\n"
                                 "            overwrite: Off\n",
                             "'overwrite' must be a boolean, not a string", 10);
  CHECK(off.hint ==
        "YAML 1.1 tools read an unquoted Off as a boolean; kiln reads YAML 1.2, where only true and false are "
        "booleans and Off is text; write false");
}

TEST_CASE("validator: text YAML dropped from an input (a ' #' comment, a tag, an anchor) is a located warning") {
  check_dropped("echo \"a # b\"", "' #' starts a YAML comment: the rest of the line is not part of the value", 23,
                "the value ends before the comment: 'echo \"a'; to keep the rest, quote the whole line: - 'echo \"a "
                "# b\"'" + kBlock);
  check_dropped("! grep -q x /etc/hosts", "'!' before the value is a YAML tag: YAML dropped it from the value", 15,
                "an unquoted value starting with '!' begins with a YAML tag (!type); to keep it, quote the whole "
                "line: - '! grep -q x /etc/hosts'" + kBlock);
  check_dropped("&log echo hi", "'&log' before the value is a YAML anchor: YAML dropped it from the value", 15,
                "an unquoted value starting with '&' begins with a YAML anchor (&name); to keep it, quote the whole "
                "line: - '&log echo hi'" + kBlock);
  // The value is what YAML kept.
  Validated v = valid(kHead + bash_step("S", "echo \"a # b\""));
  CHECK(v.doc.phases[0].steps[0].inputs["commands"][0] == "echo \"a");
  // Quoted, nothing is dropped; a comment after a quoted value is no surprise.
  CHECK(valid(kHead + bash_step("S", "'echo \"a # b\"'")).diagnostics.empty());
  CHECK(valid(kHead + bash_step("S", "'echo hi' # greet")).diagnostics.empty());
  // An input under a key, and a warning per place even when an alias repeats it.
  Validated file = valid(kHead +
                         "      - name: S\n"
                         "        action: CreateFile\n"
                         "        inputs:\n"
                         "          - path: /tmp/a # the target\n"
                         "            content: x\n");
  REQUIRE(file.diagnostics.size() == 1);
  CHECK(file.diagnostics[0].location.column == 26);
  CHECK(file.diagnostics[0].hint ==
        "the value ends before the comment: '/tmp/a'; to keep the rest, quote the whole line: - path: '/tmp/a # "
        "the target'" + kBlock);
  // --warnings-as-errors refuses it.
  LoadedDocument loaded;
  Diagnostics load_diagnostics;
  REQUIRE(load_yaml_text("doc.yaml", kHead + bash_step("S", "! true"), loaded, load_diagnostics));
  ValidateOptions strict;
  strict.warnings_as_errors = true;
  Document doc;
  Diagnostics refused = validate_document(std::move(loaded), strict, doc);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].severity == Severity::Error);
}

}  // namespace kiln
