// The engine with a table of fake actions (no process is started): the step outcome
// matrix of onFailure x what the action does x maxAttempts. The oracle is the fakes'
// own call counts and the planned outcomes, not the engine's records.
#include "agent/engine/engine.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/engine/run_setup.h"
#include "tests/support/test_support.h"

namespace {

using kiln::ActionContext;
using kiln::ActionResult;

// How often each fake step was called, by its id.
std::map<std::string, int> g_calls;

// A fake ExecuteBash: its one command is "<id>:<outcome>,<outcome>,...", one outcome per
// call (the last repeats): success, fail, timeout, reboot (exit 194), rebootAfter (what
// the Reboot action returns).
ActionResult fake_action(ActionContext& context) {
  std::string plan = context.inputs.at("commands").at(0).get<std::string>();
  std::string id = plan.substr(0, plan.find(':'));
  int call = g_calls[id]++;
  std::vector<std::string> outcomes;
  std::string rest = plan.substr(plan.find(':') + 1);
  for (size_t start = 0;;) {
    size_t comma = rest.find(',', start);
    outcomes.push_back(rest.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::string outcome = outcomes[std::min<size_t>(call, outcomes.size() - 1)];
  ActionResult result;
  result.success = outcome == "success" || outcome == "rebootAfter";
  result.timed_out = outcome == "timeout";
  result.reboot_requested = outcome == "reboot";
  result.reboot_after_step = outcome == "rebootAfter";
  if (!result.success) result.failure_message = "planned " + outcome;
  return result;
}

const kiln::ActionEntry kFakes[] = {{"ExecuteBash", fake_action}};
const kiln::ActionTable kFakeTable(kFakes, 1);

struct MatrixRun {
  kiln::RunOutcome outcome;
  nlohmann::json target;  // the Target step's record
  nlohmann::json after;   // the After step's record
};

nlohmann::json find_step(const std::string& log_folder, const std::string& name) {
  return kiln::test::find_step(nlohmann::json::parse(kiln::test::read_file(log_folder + "/detailedoutput.json")),
                               name);
}

// The document in `yaml`, validated, ready for run_documents().
std::vector<kiln::DocumentToRun> documents_from(const std::string& yaml) {
  kiln::LoadedDocument loaded;
  kiln::Diagnostics diagnostics;
  std::vector<kiln::DocumentToRun> documents(1);
  REQUIRE(kiln::load_yaml_text("test.yml", yaml, loaded, diagnostics));
  REQUIRE_FALSE(kiln::has_errors(kiln::validate_document(std::move(loaded), {}, documents[0].document)));
  return documents;
}

MatrixRun run_matrix_case(const std::string& on_failure, const std::string& plan, int max_attempts,
                          int max_reboots = 10) {
  g_calls.clear();
  std::string yaml = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                     "      - name: Target\n        action: ExecuteBash\n        onFailure: " + on_failure +
                     "\n        maxAttempts: " + std::to_string(max_attempts) +
                     "\n        inputs:\n          commands: [\"target:" + plan + "\"]\n"
                     "      - name: After\n        action: ExecuteBash\n        inputs:\n"
                     "          commands: [\"after:success\"]\n";
  std::vector<kiln::DocumentToRun> documents = documents_from(yaml);
  kiln::test::TempDir logs;
  kiln::RunOptions options;
  options.execution_id = "matrix";
  options.log_directory = logs.path();
  options.platform = "linux";
  options.max_reboots = max_reboots;
  options.actions = &kFakeTable;
  MatrixRun run;
  run.outcome = kiln::run_documents(documents, options, nullptr);
  REQUIRE(!run.outcome.log_folder.empty());
  run.target = find_step(run.outcome.log_folder, "Target");
  run.after = find_step(run.outcome.log_folder, "After");
  return run;
}

}  // namespace

TEST_CASE("engine matrix: onFailure x success/failure/timeout/reboot x maxAttempts, with fake actions") {
  for (std::string on_failure : {"Abort", "Continue", "Ignore"}) {
    for (int attempts : {1, 3}) {
      CAPTURE(on_failure);
      CAPTURE(attempts);
      {
        MatrixRun run = run_matrix_case(on_failure, "success", attempts);
        CHECK(g_calls["target"] == 1);
        CHECK(g_calls["after"] == 1);
        CHECK(run.target["status"] == "success");
        CHECK(run.outcome.exit_code == 0);
      }
      for (std::string failing : {"fail", "timeout"}) {
        CAPTURE(failing);
        MatrixRun run = run_matrix_case(on_failure, failing, attempts);
        CHECK(g_calls["target"] == attempts);  // every attempt is used
        CHECK(run.target["attempts"] == attempts);
        CHECK(run.target["failureMessage"] == "planned " + failing);
        if (on_failure == "Abort") {
          CHECK(run.target["status"] == "failed");
          CHECK(g_calls["after"] == 0);
          CHECK(run.after["status"] == "notRun");
          CHECK(run.outcome.exit_code == 1);
        } else if (on_failure == "Continue") {
          CHECK(run.target["status"] == "failed");
          CHECK(g_calls["after"] == 1);
          CHECK(run.outcome.exit_code == 1);
        } else {
          CHECK(run.target["status"] == "ignoredFailure");
          CHECK(g_calls["after"] == 1);
          CHECK(run.outcome.exit_code == 0);
          CHECK(run.outcome.summary["status"] == "successWithIgnoredFailure");
        }
      }
      {  // a failure then a success: retried only when attempts are left
        MatrixRun run = run_matrix_case(on_failure, "fail,success", attempts);
        CHECK(g_calls["target"] == std::min(attempts, 2));
        CHECK(run.target["status"] == (attempts > 1 ? "success" : on_failure == "Ignore" ? "ignoredFailure" : "failed"));
      }
      {  // exit 194: the run stops for a reboot whatever onFailure says; the step runs again after it
        MatrixRun run = run_matrix_case(on_failure, "reboot", attempts);
        CHECK(g_calls["target"] == 1);
        CHECK(g_calls["after"] == 0);
        CHECK(run.target["status"] == "rebooting");
        CHECK(run.outcome.exit_code == 194);
        CHECK(run.outcome.rebooting);
        CHECK_FALSE(run.outcome.finished);
      }
      {  // the Reboot action: the step is done, then the machine reboots before the next one
        MatrixRun run = run_matrix_case(on_failure, "rebootAfter", attempts);
        CHECK(g_calls["target"] == 1);
        CHECK(g_calls["after"] == 0);
        CHECK(run.target["status"] == "success");
        CHECK(run.outcome.exit_code == 194);
      }
      {  // the reboot cap reached: exit 194 becomes a failure that is not retried
        MatrixRun run = run_matrix_case(on_failure, "reboot", attempts, 0);
        CHECK(g_calls["target"] == 1);
        CHECK(run.target["status"] == (on_failure == "Ignore" ? "ignoredFailure" : "failed"));
        CHECK(run.target["failureMessage"].get<std::string>().find("--max-reboots") != std::string::npos);
        CHECK(g_calls["after"] == (on_failure == "Abort" ? 0 : 1));
        CHECK(run.outcome.exit_code == (on_failure == "Ignore" ? 0 : 1));
      }
    }
  }
}

TEST_CASE("run setup: an action the table lacks is refused before the run, at its action: line") {
  // Every Linux action is in the built-in table now; a table without one stands for a
  // build that lacks it (the CLI's end-to-end test covers the built-in table's refusals).
  std::string yaml = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Fetch\n"
                     "        action: WebDownload\n        inputs:\n          - source: https://127.0.0.1:9/x\n"
                     "            destination: /tmp/x\n";
  std::vector<kiln::DocumentToRun> documents = documents_from(yaml);
  REQUIRE(documents.size() == 1);
  const kiln::ActionTable empty(nullptr, 0);
  kiln::Diagnostics refused = kiln::check_runnable(documents[0].document, {}, {}, empty);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].message.find("WebDownload (step Fetch) is not implemented") != std::string::npos);
  CHECK(refused[0].location.line == 6);
  CHECK(kiln::check_runnable(documents[0].document, {"test"}, {}, empty).empty());  // phase not selected
}

TEST_CASE("engine: an action missing from the table is never called and fails the step once") {
  // check_runnable refuses this before a real run; the engine still must not crash.
  g_calls.clear();
  const kiln::ActionTable empty(nullptr, 0);
  std::string yaml = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Target\n"
                     "        action: ExecuteBash\n        maxAttempts: 3\n        inputs:\n          commands: [\"x:success\"]\n";
  std::vector<kiln::DocumentToRun> documents = documents_from(yaml);
  kiln::test::TempDir logs;
  kiln::RunOptions options;
  options.execution_id = "missing";
  options.log_directory = logs.path();
  options.actions = &empty;
  kiln::RunOutcome outcome = kiln::run_documents(documents, options, nullptr);
  nlohmann::json target = find_step(outcome.log_folder, "Target");
  CHECK(target["status"] == "failed");
  CHECK(target["attempts"] == 1);
  CHECK(g_calls.empty());
}
