// End-to-end: ExecuteBinary (argv verbatim, no shell) and ExecuteBash scripts, through
// the real kiln binary.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::inputs_of;
using kiln::e2e::run_yaml;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

TEST_CASE("ExecuteBinary: arguments reach the program verbatim, with no shell interpretation") {
  TempDir dir;
  std::string canary = dir.file("injected");
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Printf
        action: ExecuteBinary
        inputs:
          path: /usr/bin/printf
          arguments:
            - '%s\n'
            - '$HOME; echo injected'
            - 'two words "double" ''single'''
            - '`touch )" + canary + R"(` $(touch )" + canary + R"() *'
            - ''
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  std::string expected = std::string("$HOME; echo injected\n") + "two words \"double\" 'single'\n" + "`touch " +
                         canary + "` $(touch " + canary + ") *\n";  // the empty argument prints an empty line
  CHECK(stdout_of(run.step("Printf")) == expected);
  CHECK_FALSE(std::filesystem::exists(canary));
  nlohmann::json inputs = inputs_of(run.step("Printf"));
  REQUIRE(inputs.is_array());
  CHECK(inputs[0]["arguments"].size() == 5);
}

TEST_CASE("ExecuteBinary: a missing binary fails the step with a clear message") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Missing
        action: ExecuteBinary
        inputs:
          path: /kiln/no/such/binary
          arguments: [x]
      - name: MissingOnPath
        action: ExecuteBinary
        onFailure: Continue
        inputs:
          path: kiln-no-such-program
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Missing") == "failed");
  std::string message = run.step("Missing")["failureMessage"];
  CHECK(message.find("/kiln/no/such/binary") != std::string::npos);
  CHECK(message.find("No such file or directory") != std::string::npos);
  CHECK(run.status("MissingOnPath") == "notRun");
}

TEST_CASE("ExecuteBinary: a non-zero exit code fails the step and names the code") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Exit9
        action: ExecuteBinary
        inputs:
          path: /bin/sh
          arguments: ["-c", "echo to-stdout; exit 9"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Exit9") == "failed");
  CHECK(run.step("Exit9")["failureMessage"].get<std::string>().find("exit code 9") != std::string::npos);
  CHECK(kiln::e2e::outputs_of(run.step("Exit9"))["exitCode"] == 9);
  CHECK(run.console().find("Stdout: to-stdout") != std::string::npos);
}

TEST_CASE("ExecuteBash: all commands form one script; only the final exit code counts (no set -e)") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Script
        action: ExecuteBash
        inputs:
          commands:
            - X=shared
            - "false"
            - |
              for i in 1 2; do
                echo "$X-$i"
              done
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Script")) == "shared-1\nshared-2");
}

TEST_CASE("run: output that is not UTF-8 is recorded with U+FFFD and can be chained") {
  TempDir dir;
  std::string doc = dir.write("bin.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Bin
        action: ExecuteBash
        inputs:
          commands:
            - printf 'a\377\376b\n'
            - printf 'err\303\n' >&2
      - {name: Use, action: ExecuteBash, inputs: {commands: ["echo '{{ build.Bin.outputs.stdout }}'"]}}
)");
  auto r = kiln::test::run_kiln({"run", "-d", doc, "-l", dir.file("logs"), "-s", dir.file("state")});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.summary()["status"] == "success");
  auto detailed = kiln::test::read_detailed_output(dir.file("logs"));
  REQUIRE(detailed.is_object());
  auto outputs = nlohmann::json::parse(kiln::test::find_step(detailed, "Use")["outputs"].get<std::string>());
  CHECK(outputs[0]["stdout"] == "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
}
