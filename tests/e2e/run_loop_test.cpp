// End-to-end: step loops (for, forEach list, forEach delimited string, named loops),
// joined outputs, failing iterations and retries, through the real kiln binary.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::inputs_of;
using kiln::e2e::run_yaml;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

TEST_CASE("loop: for counts up and down (negative updateBy), inclusive of end") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Up
        action: ExecuteBash
        loop:
          for:
            start: 1
            end: 7
            updateBy: 3
        inputs:
          commands: ["echo up-{{ loop.index }}-{{ loop.value }}"]
      - name: Down
        action: ExecuteBash
        loop:
          for:
            start: 3
            end: -1
            updateBy: -2
        inputs:
          commands: ["echo down-{{ loop.index }}-{{ loop.value }}"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Up")) == "up-0-1\nup-1-4\nup-2-7");
  CHECK(stdout_of(run.step("Down")) == "down-0-3\ndown-1-1\ndown-2--1");
  REQUIRE(run.step("Up")["loop"].is_object());
  CHECK(run.step("Up")["loop"]["iterations"] == 3);
  CHECK(run.step("Down")["loop"]["iterations"] == 3);
  // Every iteration's resolved inputs are recorded.
  nlohmann::json inputs = inputs_of(run.step("Up"));
  REQUIRE(inputs.is_array());
  CHECK(inputs.size() == 3);
  CHECK(inputs[2]["commands"][0] == "echo up-2-7");
}

TEST_CASE("loop: forEach over a list, with expressions in the items") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
parameters:
  - Fruit:
      type: string
      default: cherry
phases:
  - name: build
    steps:
      - name: Each
        action: ExecuteBash
        loop:
          forEach:
            - apple
            - banana split
            - "{{ Fruit }}"
        inputs:
          commands: ["echo '{{ loop.index }}={{ loop.value }}'"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Each")) == "0=apple\n1=banana split\n2=cherry");
}

TEST_CASE("loop: forEach over a delimited string with a custom delimiter") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
parameters:
  - Hosts:
      type: string
      default: "alpha;beta,gamma;delta"
phases:
  - name: build
    steps:
      - name: Split
        action: ExecuteBash
        loop:
          forEach:
            list: "{{ Hosts }}"
            delimiter: ";"
        inputs:
          commands: ["echo '[{{ loop.value }}]'"]
      - name: DefaultDelimiter
        action: ExecuteBash
        loop:
          forEach:
            list: "x,y"
        inputs:
          commands: ["echo '{{ loop.value }}'"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Split")) == "[alpha]\n[beta,gamma]\n[delta]");
  CHECK(stdout_of(run.step("DefaultDelimiter")) == "x\ny");
}

TEST_CASE("loop: a named loop answers to {{ name.index }} and {{ name.value }} as well as loop.*") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Named
        action: ExecuteBash
        loop:
          name: server
          forEach: [web, db]
        inputs:
          commands: ["echo {{ server.index }}:{{ server.value }}:{{ loop.value }}"]
      - name: NotInLoop
        action: ExecuteBash
        inputs:
          commands: ["echo '{{ loop.value }}'"]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Named")) == "0:web:web\n1:db:db");
  REQUIRE(run.step("Named")["loop"].is_object());
  CHECK(run.step("Named")["loop"]["name"] == "server");
  // Outside a loop, loop expressions stay as written (AWSTOE does the same).
  CHECK(stdout_of(run.step("NotInLoop")) == "{{ loop.value }}");
}

TEST_CASE("loop: outputs of iterations are joined with newlines and can be chained") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Greet
        action: ExecuteBash
        loop:
          forEach: [Hello, World]
        inputs:
          commands: ["echo {{ loop.value }}"]
      - name: Count
        action: ExecuteBash
        inputs:
          commands:
            - |
              printf '%s\n' "{{ build.Greet.outputs.stdout }}" | wc -l
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stdout_of(run.step("Greet")) == "Hello\nWorld");
  CHECK(stdout_of(run.step("Count")) == "2");
}

TEST_CASE("loop: a failing iteration is recorded in failedIterations and named in the failure message") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Iterate
        action: ExecuteBash
        loop:
          forEach: [ok0, ok1, bad, never]
        inputs:
          commands:
            - echo {{ loop.value }} >> )" + dir.file("seen") + R"(
            - '[ "{{ loop.value }}" != bad ]'
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  nlohmann::json step = run.step("Iterate");
  CHECK(step["status"] == "failed");
  REQUIRE(step["loop"].is_object());
  CHECK(step["loop"]["failedIterations"] == nlohmann::json::array({2}));
  std::string message = step["failureMessage"];
  CHECK(message.find("iteration 2") != std::string::npos);
  // The loop is left at the first failing iteration.
  CHECK(kiln::test::read_file(dir.file("seen")) == "ok0\nok1\nbad\n");
}

TEST_CASE("loop: a retry restarts the loop from iteration 0") {
  TempDir dir;
  // Iteration 1 fails the first time it runs (marker file), then passes.
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Retried
        action: ExecuteBash
        maxAttempts: 2
        loop:
          for:
            start: 0
            end: 2
            updateBy: 1
        inputs:
          commands:
            - echo {{ loop.index }} >> )" + dir.file("seen") + R"(
            - if [ {{ loop.index }} = 1 ] && [ ! -e )" + dir.file("marker") + R"( ]; then touch )" +
                                     dir.file("marker") + R"(; exit 1; fi
            - echo it{{ loop.index }}
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("Retried") == "success");
  CHECK(run.step("Retried")["attempts"] == 2);
  CHECK(kiln::test::read_file(dir.file("seen")) == "0\n1\n0\n1\n2\n");
  // Only the successful attempt's outputs are kept.
  CHECK(stdout_of(run.step("Retried")) == "it0\nit1\nit2");
}
