// End-to-end: parameters (defaults, --parameters, escapes, --config), constants,
// {{ env: }} and {{ context: }} values, through the real kiln binary.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::run_yaml;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

namespace {

const char* kParameterDocument = R"(schemaVersion: 1.0
parameters:
  - Greeting:
      type: string
      default: hello
  - Target:
      type: string
      default: world
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ["echo '{{ Greeting }} {{ Target }}'"]
)";

}  // namespace

TEST_CASE("parameters: defaults apply when nothing is given") {
  TempDir dir;
  auto run = run_yaml(dir, kParameterDocument);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Say")) == "hello world");
}

TEST_CASE("parameters: --parameters overrides a default; undeclared names are ignored") {
  TempDir dir;
  auto run = run_yaml(dir, kParameterDocument, {"--parameters", "Greeting=goodbye,Undeclared=x"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Say")) == "goodbye world");
}

TEST_CASE("parameters: a comma escaped as \\, stays inside the value") {
  TempDir dir;
  auto run = run_yaml(dir, kParameterDocument, {"--parameters", "Greeting=one\\, two,Target=x=y"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Say")) == "one, two x=y");
}

TEST_CASE("parameters: --config gives global and per-document parameters (per-document wins)") {
  TempDir dir;
  dir.write("a.yml", kParameterDocument);
  dir.write("b.yml", R"(schemaVersion: 1.0
parameters:
  - Greeting:
      type: string
      default: unused
phases:
  - name: build
    steps:
      - name: SayB
        action: ExecuteBash
        inputs:
          commands: ["echo 'b: {{ Greeting }}'"]
)");
  std::string config = dir.write("run.json", R"({
  "documents": [
    {"path": "a.yml", "parameters": [{"name": "Target", "value": "doc-a"}, {"name": "Greeting", "value": "per-doc"}]},
    {"path": "b.yml"}
  ],
  "parameters": [{"name": "Greeting", "value": "global"}],
  "executionId": "config-run"
})");
  std::string logs = dir.file("logs");
  auto r = kiln::test::run_kiln({"run", "--config", config, "--log-directory", logs});
  INFO("exit " << r.exit_code << "\n" << r.out << "\n" << r.err);
  CHECK(r.exit_code == 0);
  nlohmann::json detailed = kiln::test::read_detailed_output(logs);
  REQUIRE(detailed.is_object());
  CHECK(detailed["executionId"] == "config-run");
  CHECK(stdout_of(kiln::test::find_step(detailed, "Say")) == "per-doc doc-a");
  CHECK(stdout_of(kiln::test::find_step(detailed, "SayB")) == "b: global");
}

TEST_CASE("parameters: a parameter without default and without value stops before anything runs (exit 2)") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
parameters:
  - Required:
      type: string
      description: no default
phases:
  - name: build
    steps:
      - name: Touch
        action: ExecuteBash
        inputs:
          commands: ["touch )" + dir.file("ran") + R"(", "echo {{ Required }}"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 2);
  CHECK(run.result.err.find("Required") != std::string::npos);
  CHECK(run.result.err.find("doc.yml:") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("ran")));
  CHECK_FALSE(std::filesystem::exists(run.log_directory));  // no log folder created
}

TEST_CASE("parameters: constants, {{ env:HOME }} and {{ context:* }} values") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
constants:
  - InstallDir:
      type: string
      value: /opt/kiln-test
phases:
  - name: build
    steps:
      - name: Values
        action: ExecuteBash
        inputs:
          commands:
            - echo 'const={{ InstallDir }}'
            - echo 'home={{ env:HOME }}'
            - echo 'where={{ context:phase }}/{{ context:step }}'
            - echo 'id={{ context:executionId }}'
            - echo 'platform={{ context:osPlatform }}'
  - name: test
    steps:
      - name: Second
        action: ExecuteBash
        inputs:
          commands: ["echo '{{ context:phase }}/{{ context:step }}'"]
)",
                      {"--execution-id", "exec-1234"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  const char* home = std::getenv("HOME");
  REQUIRE(home != nullptr);
  CHECK(stdout_of(run.step("Values")) == std::string("const=/opt/kiln-test\nhome=") + home +
                                             "\nwhere=build/Values\nid=exec-1234\nplatform=linux");
  CHECK(stdout_of(run.step("Second")) == "test/Second");
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["executionId"] == "exec-1234");
}

TEST_CASE("parameters: a constant cannot be overridden from the command line") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
constants:
  - Fixed:
      type: string
      value: original
phases:
  - name: build
    steps:
      - name: Show
        action: ExecuteBash
        inputs:
          commands: ["echo {{ Fixed }}"]
)",
                      {"--parameters", "Fixed=changed"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Show")) == "original");
}

TEST_CASE("parameters: a value holding {{ }} is used as text, not expanded again") {
  TempDir dir;
  auto run = run_yaml(dir, kParameterDocument, {"--parameters", "Greeting={{ Target }}"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Say")) == "{{ Target }} world");
}
