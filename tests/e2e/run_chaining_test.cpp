// End-to-end: chaining step outputs and inputs across phases, kiln's extra outputs
// (exitCode, stderr) of a failed step, through the real kiln binary.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::outputs_of;
using kiln::e2e::run_yaml;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

TEST_CASE("chaining: a build step's stdout is used by a step of a later phase") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Produce
        action: ExecuteBash
        inputs:
          commands: ["echo 'value with spaces'"]
  - name: validate
    steps:
      - name: Consume
        action: ExecuteBash
        inputs:
          commands: ["echo 'got: {{ build.Produce.outputs.stdout }}'"]
      - name: ConsumeIndexed
        action: ExecuteBinary
        inputs:
          path: /usr/bin/printf
          arguments: ["[%s]", "{{build.Produce.outputs[0].stdout}}"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Consume")) == "got: value with spaces");
  CHECK(stdout_of(run.step("ConsumeIndexed")) == "[value with spaces]");
  // The recorded inputs are the resolved ones.
  nlohmann::json inputs = kiln::e2e::inputs_of(run.step("Consume"));
  REQUIRE(inputs.is_array());
  CHECK(inputs[0]["commands"][0] == "echo 'got: value with spaces'");
}

TEST_CASE("chaining: {{ phase.step.inputs[0].key }} reads a step's resolved inputs") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
parameters:
  - Tool:
      type: string
      default: /usr/bin/printf
phases:
  - name: build
    steps:
      - name: Source
        action: ExecuteBinary
        inputs:
          path: "{{ Tool }}"
          arguments: ["first"]
      - name: Script
        action: ExecuteBash
        inputs:
          commands: ["echo marker-command"]
  - name: test
    steps:
      - name: SamePath
        action: ExecuteBash
        inputs:
          commands:
            - "echo path={{ build.Source.inputs[0].path }}"
            - "echo map-form={{ build.Source.inputs.path }}"
            - "echo 'commands={{ build.Script.inputs[0].commands }}'"
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  std::string out = stdout_of(run.step("SamePath"));
  CHECK(out.find("path=/usr/bin/printf\n") != std::string::npos);
  CHECK(out.find("map-form=/usr/bin/printf\n") != std::string::npos);
  // A list input chains as its JSON text.
  CHECK(out.find("commands=") != std::string::npos);
  CHECK(out.find("echo marker-command") != std::string::npos);
}

TEST_CASE("chaining: kiln's exitCode and stderr outputs of an ignored failing step") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Fails
        action: ExecuteBash
        onFailure: Ignore
        inputs:
          commands:
            - echo partial
            - echo oops >&2
            - exit 7
  - name: validate
    steps:
      - name: Explain
        action: ExecuteBash
        inputs:
          commands: ["echo 'code={{ build.Fails.outputs.exitCode }} err={{ build.Fails.outputs.stderr }} out={{ build.Fails.outputs.stdout }}'"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("Fails") == "ignoredFailure");
  nlohmann::json outputs = outputs_of(run.step("Fails"));
  REQUIRE(outputs.is_object());
  CHECK(outputs["exitCode"] == 7);
  CHECK(outputs["stderr"] == "oops");
  CHECK(outputs.contains("durationMs"));
  CHECK(stdout_of(run.step("Explain")) == "code=7 err=oops out=partial");
}

TEST_CASE("chaining: a reference to a step that did not run fails the consuming step") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Skipped
        action: ExecuteBash
        if:
          stringIsEmpty: not-empty
        inputs:
          commands: [echo skipped]
      - name: Consume
        action: ExecuteBash
        inputs:
          commands: ["echo {{ build.Skipped.outputs.stdout }}"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Skipped") == "skipped");
  CHECK(run.status("Consume") == "failed");
  CHECK(run.step("Consume")["failureMessage"].get<std::string>().find("build.Skipped") != std::string::npos);
}
