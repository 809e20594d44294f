// End-to-end: ExecuteDocument (child documents, their outputs, nesting, cycles),
// through the real kiln binary.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::outputs_of;
using kiln::e2e::run_document;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

namespace {

// Every failureMessage anywhere in a detailedoutput record, joined.
void collect_failures(const nlohmann::json& value, std::string& out) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() == "failureMessage" && it->is_string()) out += it->get<std::string>() + "\n";
      else collect_failures(*it, out);
    }
  } else if (value.is_array()) {
    for (const auto& item : value) collect_failures(item, out);
  }
}

std::string calling(const std::string& step, const std::string& child) {
  return "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: " + step +
         "\n        action: ExecuteDocument\n        inputs:\n          document: " + child + "\n";
}

}  // namespace

TEST_CASE("ExecuteDocument: a child found relative to the parent's folder, with parameters and chained outputs") {
  TempDir dir;
  dir.write("components/child.yml", R"(schemaVersion: 1.0
parameters:
  - Who:
      type: string
      default: nobody
phases:
  - name: build
    steps:
      - name: ChildSays
        action: ExecuteBash
        inputs:
          commands: ["echo 'child greets {{ Who }}'"]
      - name: ChildIgnored
        action: ExecuteBash
        onFailure: Ignore
        inputs:
          commands: ["exit 1"]
  - name: test
    steps:
      - name: ChildTest
        action: ExecuteBash
        inputs:
          commands: ["echo child-test-phase"]
)");
  std::string parent = dir.write("components/parent.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: RunChild
        action: ExecuteDocument
        inputs:
          document: child.yml
          phases: build
          parameters:
            - name: Who
              value: parent
      - name: UseOutputs
        action: ExecuteBash
        inputs:
          commands:
            - echo 'count={{ build.RunChild.outputs.executedStepCount }}'
            - echo 'failed={{ build.RunChild.outputs.failedStepCount }}'
            - echo 'ignored={{ build.RunChild.outputs.ignoredFailedStepCount }}'
            - echo 'status={{ build.RunChild.outputs.status }}'
            - echo 'id={{ build.RunChild.outputs.executionId }}'
)");
  // Run from another folder: the child is resolved from the parent's folder.
  auto run = run_document(dir, parent, {"--execution-id", "parent-id"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  nlohmann::json step = run.step("RunChild");
  CHECK(step["status"] == "success");
  nlohmann::json summary = outputs_of(step);
  REQUIRE(summary.is_object());
  for (const char* key : {"executedStepCount", "executionId", "failedStepCount", "failureMessage",
                          "ignoredFailedStepCount", "logUrl", "status"})
    CHECK_MESSAGE(summary.contains(key), key);
  CHECK(summary["executedStepCount"] == 2);
  CHECK(summary["failedStepCount"] == 0);
  CHECK(summary["ignoredFailedStepCount"] == 1);
  CHECK(summary["status"] == "successWithIgnoredFailure");
  std::string child_id = summary["executionId"];
  CHECK(!child_id.empty());
  CHECK(child_id != "parent-id");
  CHECK(stdout_of(run.step("UseOutputs")) ==
        "count=2\nfailed=0\nignored=1\nstatus=successWithIgnoredFailure\nid=" + child_id);
  // The child's full record is nested under detailedOutput.
  REQUIRE(step["detailedOutput"].is_array());
  REQUIRE(step["detailedOutput"].size() == 1);
  nlohmann::json nested = step["detailedOutput"][0];
  CHECK(nested["executionId"] == child_id);
  CHECK(stdout_of(kiln::test::find_step(nested, "ChildSays")) == "child greets parent");
  CHECK(kiln::test::find_step(nested, "ChildTest").is_null());  // phases: build only
  CHECK(run.console().find("child-test-phase") == std::string::npos);
  // Child steps are not counted as the parent's own steps.
  REQUIRE(run.summary.is_object());
  CHECK(run.summary["executedStepCount"] == 2);
  CHECK(run.summary["status"] == "success");
}

TEST_CASE("ExecuteDocument: a failing child fails the step") {
  TempDir dir;
  dir.write("child.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: ChildFails
        action: ExecuteBash
        inputs:
          commands: ["exit 3"]
      - name: ChildNotRun
        action: ExecuteBash
        inputs:
          commands: ["echo child-not-run"]
)");
  std::string parent = dir.write("parent.yml", calling("RunChild", "child.yml") + R"(      - name: After
        action: ExecuteBash
        inputs:
          commands: [echo parent-after]
)");
  auto run = run_document(dir, parent);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  nlohmann::json step = run.step("RunChild");
  CHECK(step["status"] == "failed");
  CHECK(step["failureMessage"].get<std::string>().find("child.yml") != std::string::npos);
  nlohmann::json summary = outputs_of(step);
  REQUIRE(summary.is_object());
  CHECK(summary["status"] == "failed");
  CHECK(summary["failedStepCount"] == 1);
  REQUIRE(step["detailedOutput"].is_array());
  CHECK(kiln::test::find_step(step["detailedOutput"][0], "ChildNotRun")["status"] == "notRun");
  CHECK(run.status("After") == "notRun");
  CHECK(run.console().find("child-not-run") == std::string::npos);
}

TEST_CASE("ExecuteDocument: a cycle a.yml -> b.yml -> a.yml is refused with a message saying cycle") {
  TempDir dir;
  std::string a = dir.write("a.yml", calling("CallB", "b.yml"));
  dir.write("b.yml", calling("CallA", "./a.yml"));
  auto run = run_document(dir, a);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("CallB") == "failed");
  std::string failures;
  collect_failures(run.detailed, failures);
  INFO(failures);
  CHECK(failures.find("cycle") != std::string::npos);
  nlohmann::json nested = run.step("CallB")["detailedOutput"];
  REQUIRE(nested.is_array());
  CHECK(kiln::test::find_step(nested[0], "CallA")["status"] == "failed");
}

TEST_CASE("ExecuteDocument: a document calling itself outside a loop is a cycle") {
  TempDir dir;
  std::string self = dir.write("self.yml", calling("CallSelf", "self.yml"));
  auto run = run_document(dir, self);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.step("CallSelf")["failureMessage"].get<std::string>().find("cycle") != std::string::npos);
}

TEST_CASE("ExecuteDocument: 3 nested levels run; a 4th level fails") {
  TempDir dir;
  dir.write("level4.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Deepest
        action: ExecuteBash
        inputs:
          commands: [echo level-four]
)");
  dir.write("level3.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Leaf
        action: ExecuteBash
        inputs:
          commands: [echo level-three]
)");
  dir.write("level3-calls.yml", calling("Call4", "level4.yml"));
  dir.write("level2.yml", calling("Call3", "level3.yml"));
  dir.write("level2-deep.yml", calling("Call3", "level3-calls.yml"));
  dir.write("level1.yml", calling("Call2", "level2.yml"));
  dir.write("level1-deep.yml", calling("Call2", "level2-deep.yml"));
  std::string top = dir.write("top.yml", calling("Call1", "level1.yml"));
  std::string top_deep = dir.write("top-deep.yml", calling("Call1", "level1-deep.yml"));

  auto ok = run_document(dir, top, {}, "logs-ok");
  {
    INFO(kiln::e2e::describe(ok));
    CHECK(ok.exit_code() == 0);
    CHECK(ok.console().find("Stdout: level-three") != std::string::npos);
  }
  auto deep = run_document(dir, top_deep, {}, "logs-deep");
  INFO(kiln::e2e::describe(deep));
  CHECK(deep.exit_code() == 1);
  CHECK(deep.status("Call1") == "failed");
  CHECK(deep.console().find("level-four") == std::string::npos);
  std::string failures;
  collect_failures(deep.detailed, failures);
  INFO(failures);
  CHECK(failures.find("nesting") != std::string::npos);
}

TEST_CASE("ExecuteDocument: an invalid child document fails the step at run time") {
  TempDir dir;
  dir.write("broken.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: X\n        action: Nope\n");
  std::string parent = dir.write("parent.yml", calling("RunBroken", "broken.yml"));
  auto run = run_document(dir, parent);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  std::string message = run.step("RunBroken")["failureMessage"];
  CHECK(message.find("broken.yml") != std::string::npos);
  CHECK(message.find("Nope") != std::string::npos);
}

TEST_CASE("ExecuteDocument: a looped ExecuteDocument nests one child record per iteration") {
  TempDir dir;
  dir.write("one.yml", R"(schemaVersion: 1.0
parameters:
  - Tag:
      type: string
      default: none
phases:
  - name: build
    steps:
      - name: Child
        action: ExecuteBash
        inputs:
          commands: ["echo 'child {{ Tag }}'"]
)");
  std::string parent = dir.write("parent.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Each
        action: ExecuteDocument
        loop:
          forEach: [first, second]
        inputs:
          document: one.yml
          parameters:
            - name: Tag
              value: "{{ loop.value }}"
)");
  auto run = run_document(dir, parent);
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  nlohmann::json nested = run.step("Each")["detailedOutput"];
  REQUIRE(nested.is_array());
  REQUIRE(nested.size() == 2);
  CHECK(stdout_of(kiln::test::find_step(nested[0], "Child")) == "child first");
  CHECK(stdout_of(kiln::test::find_step(nested[1], "Child")) == "child second");
  CHECK(nested[0]["executionId"] != nested[1]["executionId"]);
}
