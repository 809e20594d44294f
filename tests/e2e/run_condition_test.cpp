// End-to-end: `if` conditions and the Assert action through the real kiln binary: each
// of the 20 comparison operators true and false, direction `value OP baseline`,
// case-insensitive strings, nested logical operators, then/else branches, chained values.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::run_yaml;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

namespace {

struct ConditionCase {
  std::string op;     // the operator under test
  std::string yaml;   // the condition's lines, each indented under `if:`
  bool expected;
};

// "abc" (no newline) hashed with each algorithm.
constexpr const char* kMd5 = "900150983cd24fb0d6963f7d28e17f72";
constexpr const char* kSha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
constexpr const char* kSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha512 =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

std::vector<ConditionCase> operator_cases(const std::string& file, const std::string& folder) {
  auto two = [](const std::string& op, const std::string& baseline, const std::string& value) {
    return op + ": " + baseline + "\nvalue: " + value;
  };
  auto hash = [&](const std::string& op, const std::string& hex) { return op + ": " + hex + "\npath: " + file; };
  return {
      {"stringIsEmpty", "stringIsEmpty: ''", true},
      {"stringIsEmpty", "stringIsEmpty: ' '", false},
      {"stringIsWhitespace", "stringIsWhitespace: '   '", true},
      {"stringIsWhitespace", "stringIsWhitespace: ' x '", false},
      {"stringEquals", two("stringEquals", "Hello", "hELLO"), true},  // case-insensitive
      {"stringEquals", two("stringEquals", "Hello", "'Hello '"), false},  // no trimming
      {"stringLessThan", two("stringLessThan", "B", "a"), true},  // a < b, case folded
      {"stringLessThan", two("stringLessThan", "a", "b"), false},
      {"stringLessThanEquals", two("stringLessThanEquals", "abc", "ABC"), true},
      {"stringLessThanEquals", two("stringLessThanEquals", "abc", "abd"), false},
      {"stringGreaterThan", two("stringGreaterThan", "a", "B"), true},
      {"stringGreaterThan", two("stringGreaterThan", "b", "a"), false},
      {"stringGreaterThanEquals", two("stringGreaterThanEquals", "ABC", "abc"), true},
      {"stringGreaterThanEquals", two("stringGreaterThanEquals", "b", "a"), false},
      {"patternMatches", two("patternMatches", "'^[a-z]+$'", "ThisIsValue"), true},  // the reference's example
      {"patternMatches", two("patternMatches", "'^[0-9]+$'", "12a"), false},
      {"numberEquals", two("numberEquals", "1", "'1.0'"), true},
      {"numberEquals", two("numberEquals", "1", "2"), false},
      {"numberLessThan", two("numberLessThan", "2", "1"), true},  // value 1 < baseline 2
      {"numberLessThan", two("numberLessThan", "1", "2"), false},
      {"numberLessThanEquals", two("numberLessThanEquals", "2", "'2'"), true},
      {"numberLessThanEquals", two("numberLessThanEquals", "2", "3"), false},
      {"numberGreaterThan", two("numberGreaterThan", "1", "2"), true},
      {"numberGreaterThan", two("numberGreaterThan", "2", "1"), false},
      {"numberGreaterThanEquals", two("numberGreaterThanEquals", "2", "2.0"), true},
      {"numberGreaterThanEquals", two("numberGreaterThanEquals", "3", "2"), false},
      {"numberGreaterThanEquals", two("numberGreaterThanEquals", "1", "a10"), false},  // not a number
      {"binaryExists", "binaryExists: bash", true},
      {"binaryExists", "binaryExists: kiln-no-such-binary-here", false},
      {"fileExists", "fileExists: " + file, true},
      {"fileExists", "fileExists: " + folder, false},  // a folder is not a file
      {"folderExists", "folderExists: " + folder, true},
      {"folderExists", "folderExists: " + file, false},
      {"fileMD5Equals", hash("fileMD5Equals", kMd5), true},
      {"fileMD5Equals", hash("fileMD5Equals", "00000000000000000000000000000000"), false},
      {"fileSHA1Equals", hash("fileSHA1Equals", kSha1), true},
      {"fileSHA1Equals", hash("fileSHA1Equals", std::string(kSha1).replace(0, 1, "b")), false},
      {"fileSHA256Equals", hash("fileSHA256Equals", kSha256), true},
      {"fileSHA256Equals", hash("fileSHA256Equals", std::string(kSha256).replace(0, 1, "c")), false},
      {"fileSHA512Equals", hash("fileSHA512Equals", kSha512), true},
      {"fileSHA512Equals", hash("fileSHA512Equals", std::string(kSha512).replace(0, 1, "e")), false},
  };
}

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out = prefix;
  for (char c : text) {
    out += c;
    if (c == '\n') out += prefix;
  }
  return out;
}

}  // namespace

TEST_CASE("condition: each of the 20 comparison operators, true and false, through `if`") {
  TempDir dir;
  std::string file = dir.write("data/abc.txt", "abc");
  std::string folder = dir.file("data");
  std::vector<ConditionCase> cases = operator_cases(file, folder);
  std::string yaml = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n";
  for (size_t i = 0; i < cases.size(); ++i)
    yaml += "      - name: C" + std::to_string(i) + "\n        action: ExecuteBash\n        if:\n" +
            indent(cases[i].yaml, "          ") + "\n        inputs:\n          commands: [echo ran-" +
            std::to_string(i) + "]\n";
  auto run = run_yaml(dir, yaml);
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  std::set<std::string> operators_true, operators_false;
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConditionCase& c = cases[i];
    std::string name = "C" + std::to_string(i);
    INFO(name << ": " << c.yaml << " -> expected " << (c.expected ? "true" : "false"));
    nlohmann::json step = run.step(name);
    REQUIRE(step.is_object());
    if (c.expected) {
      CHECK(step["status"] == "success");
      CHECK(stdout_of(step) == "ran-" + std::to_string(i));
      operators_true.insert(c.op);
    } else {
      CHECK(step["status"] == "skipped");
      CHECK(step["attempts"] == 0);
      operators_false.insert(c.op);
    }
  }
  CHECK(operators_true.size() == 20);
  CHECK(operators_false.size() == 20);
  // Skipped steps count as success and are not executed.
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["status"] == "success");
  int expected_true = 0;
  for (const auto& c : cases) expected_true += c.expected;
  CHECK(run.summary["executedStepCount"] == expected_true);
  CHECK(run.console().find("ran-1\n") == std::string::npos);
}

TEST_CASE("condition: and/or/not nested four levels deep") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: DeepTrue
        action: ExecuteBash
        if:
          and:
            - or:
                - stringEquals: x
                  value: y
                - not:
                    and:
                      - numberLessThan: 2
                        value: 1
                      - stringIsEmpty: 'no'
            - not:
                - binaryExists: kiln-no-such-binary-here
        inputs:
          commands: [echo deep-true]
      - name: DeepFalse
        action: ExecuteBash
        if:
          or:
            - and:
                - stringEquals: x
                  value: x
                - not:
                    or:
                      - numberGreaterThan: 1
                        value: 0
                      - stringIsEmpty: ''
            - stringEquals: a
              value: b
        inputs:
          commands: [echo deep-false]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("DeepTrue") == "success");
  CHECK(stdout_of(run.step("DeepTrue")) == "deep-true");
  CHECK(run.status("DeepFalse") == "skipped");
  CHECK(run.console().find("deep-false") == std::string::npos);
}

TEST_CASE("condition: then/else branches choose Execute, Skip or Abort") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: ElseExecute
        action: ExecuteBash
        if:
          fileExists: /kiln/no/such/file
          then: Skip
          else: Execute
        inputs:
          commands: [echo else-execute]
      - name: ThenSkip
        action: ExecuteBash
        if:
          folderExists: /
          then: Skip
          else: Execute
        inputs:
          commands: [echo then-skip]
      - name: ThenAbort
        action: ExecuteBash
        if:
          stringEquals: stop
          value: STOP
          then: Abort
        inputs:
          commands: [echo then-abort]
      - name: AfterAbort
        action: ExecuteBash
        inputs:
          commands: [echo after-abort]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("ElseExecute") == "success");
  CHECK(stdout_of(run.step("ElseExecute")) == "else-execute");
  CHECK(run.status("ThenSkip") == "skipped");
  CHECK(run.status("ThenAbort") == "failed");
  CHECK(run.step("ThenAbort")["failureMessage"].get<std::string>().find("Abort") != std::string::npos);
  CHECK(run.status("AfterAbort") == "notRun");
  std::string console = run.console();
  CHECK(console.find("then-skip") == std::string::npos);
  CHECK(console.find("Stdout: then-abort") == std::string::npos);
  CHECK(console.find("after-abort") == std::string::npos);
}

TEST_CASE("condition: an else: Abort branch with onFailure Ignore only ignores the failure") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: ElseAbort
        action: ExecuteBash
        onFailure: Ignore
        if:
          numberEquals: 1
          value: 2
          else: Abort
        inputs:
          commands: [echo else-abort]
      - name: After
        action: ExecuteBash
        inputs:
          commands: [echo after]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("ElseAbort") == "ignoredFailure");
  CHECK(run.status("After") == "success");
  CHECK(run.console().find("else-abort") == std::string::npos);
}

TEST_CASE("condition: an `if` that cannot be evaluated fails its step with the reason, not as a branch") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
parameters:
  - Pattern:
      type: string
      default: '(['  # a regular expression that does not compile
phases:
  - name: build
    steps:
      - name: BadPattern
        action: ExecuteBash
        onFailure: Continue
        if:
          patternMatches: '{{ Pattern }}'
          value: abc
        inputs:
          commands: [echo bad-pattern]
      - name: ChoseAbort
        action: ExecuteBash
        onFailure: Continue
        if:
          numberEquals: 1
          value: 2
          else: Abort
        inputs:
          commands: [echo chose-abort]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("BadPattern") == "failed");
  std::string reason = run.step("BadPattern")["failureMessage"];
  CHECK(reason.rfind("cannot evaluate 'if': ", 0) == 0);
  CHECK(reason.find("invalid regular expression") != std::string::npos);
  CHECK(run.status("ChoseAbort") == "failed");
  CHECK(run.step("ChoseAbort")["failureMessage"] == "the 'if' condition chose Abort");
  CHECK(run.console().find("Stdout: bad-pattern") == std::string::npos);
}

TEST_CASE("condition: a chained value in `value:` of an if and of an Assert") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Version
        action: ExecuteBash
        inputs:
          commands: [echo 3.2.1]
  - name: validate
    steps:
      - name: OnlyIfNew
        action: ExecuteBash
        if:
          stringEquals: 3.2.1
          value: "{{ build.Version.outputs.stdout }}"
        inputs:
          commands: [echo version-matches]
      - name: OnlyIfOld
        action: ExecuteBash
        if:
          patternMatches: '^1\.'
          value: "{{ build.Version.outputs.stdout }}"
        inputs:
          commands: [echo old-version]
      - name: CheckVersion
        action: Assert
        inputs:
          stringEquals: '3.2.1'
          value: '{{ build.Version.outputs.stdout }}'
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("OnlyIfNew") == "success");
  CHECK(stdout_of(run.step("OnlyIfNew")) == "version-matches");
  CHECK(run.status("OnlyIfOld") == "skipped");
  CHECK(run.status("CheckVersion") == "success");
}

TEST_CASE("condition: an Assert that is false fails its step (and onFailure applies)") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Holds
        action: Assert
        inputs:
          and:
            - numberLessThan: 10
              value: 9
            - fileExists: )" + dir.write("present", "x") + R"(
      - name: DoesNotHold
        action: Assert
        onFailure: Continue
        inputs:
          numberGreaterThan: 10
          value: 9
      - name: After
        action: ExecuteBash
        inputs:
          commands: [echo after-assert]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Holds") == "success");
  CHECK(run.status("DoesNotHold") == "failed");
  CHECK(run.step("DoesNotHold")["failureMessage"].get<std::string>().find("assertion failed") != std::string::npos);
  CHECK(run.status("After") == "success");
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["failedStepCount"] == 1);
}
