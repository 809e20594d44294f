// End-to-end: what a run leaves behind: the TOE_* log folder, detailedoutput.json's
// shape, console.log, events.jsonl, the document copy and the stdout summary.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::inputs_of;
using kiln::e2e::outputs_of;
using kiln::e2e::run_yaml;
using kiln::test::TempDir;

namespace {

const char* kShapeDocument = R"(name: ShapeDoc
description: checks the record
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Hello
        action: ExecuteBash
        inputs:
          commands: [echo hi]
      - name: Binary
        action: ExecuteBinary
        timeoutSeconds: 60
        onFailure: Continue
        maxAttempts: 2
        inputs:
          path: /bin/true
      - name: Looped
        action: ExecuteBash
        loop:
          forEach: [a, b]
        inputs:
          commands: ["echo {{ loop.value }}"]
)";

std::set<std::string> keys_of(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
  return keys;
}

bool has_keys(const nlohmann::json& object, const std::vector<std::string>& wanted, std::string& missing) {
  for (const auto& key : wanted)
    if (!object.contains(key)) missing += key + " ";
  return missing.empty();
}

}  // namespace

TEST_CASE("logs: detailedoutput.json has AWSTOE's shape, with inputs and outputs as JSON strings") {
  TempDir dir;
  auto run = run_yaml(dir, kShapeDocument, {"--execution-id", "shape-1"});
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  REQUIRE(run.detailed.is_object());
  const nlohmann::json& d = run.detailed;
  std::string missing;
  CHECK_MESSAGE(has_keys(d, {"executionId", "status", "startTime", "endTime", "failureMessage", "documents"}, missing),
                missing);
  CHECK(d["executionId"] == "shape-1");
  CHECK(d["status"] == "success");
  CHECK(d["failureMessage"] == "");
  std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d))");
  CHECK(std::regex_match(d["startTime"].get<std::string>(), rfc3339));
  CHECK(std::regex_match(d["endTime"].get<std::string>(), rfc3339));
  REQUIRE(d["documents"].size() == 1);
  const nlohmann::json& doc = d["documents"][0];
  missing.clear();
  CHECK_MESSAGE(has_keys(doc, {"name", "filePath", "description", "status", "startTime", "endTime", "failureMessage",
                               "phases"},
                         missing),
                missing);
  CHECK(doc["name"] == "ShapeDoc");
  CHECK(doc["description"] == "checks the record");
  const nlohmann::json& phase = doc["phases"][0];
  missing.clear();
  CHECK_MESSAGE(has_keys(phase, {"name", "status", "startTime", "endTime", "failureMessage", "steps"}, missing),
                missing);
  REQUIRE(phase["steps"].size() == 3);
  for (const auto& step : phase["steps"]) {
    missing.clear();
    CHECK_MESSAGE(has_keys(step, {"name", "action", "status", "failureMessage", "timeoutSeconds", "onFailure",
                                  "maxAttempts", "startTime", "endTime", "inputs", "outputs", "loop",
                                  "detailedOutput"},
                           missing),
                  step.value("name", "?") << " lacks " << missing);
    REQUIRE(step["inputs"].is_string());
    REQUIRE(step["outputs"].is_string());
    CHECK(nlohmann::json::parse(step["inputs"].get<std::string>()).is_array());
    CHECK(nlohmann::json::parse(step["outputs"].get<std::string>()).is_array());
    CHECK(step["detailedOutput"].is_null());
  }
  nlohmann::json hello = run.step("Hello");
  CHECK(hello["timeoutSeconds"] == 7200);  // defaults filled in
  CHECK(hello["onFailure"] == "Abort");
  CHECK(hello["maxAttempts"] == 1);
  CHECK(hello["loop"].is_null());
  CHECK(inputs_of(hello) == nlohmann::json::parse(R"([{"commands":["echo hi"]}])"));
  CHECK(outputs_of(hello)["stdout"] == "hi");  // trailing newline removed
  nlohmann::json binary = run.step("Binary");
  CHECK(binary["timeoutSeconds"] == 60);
  CHECK(binary["onFailure"] == "Continue");
  CHECK(binary["maxAttempts"] == 2);
  CHECK(inputs_of(binary) == nlohmann::json::parse(R"([{"path":"/bin/true","arguments":[]}])"));
  CHECK(outputs_of(binary)["stdout"] == "");
  nlohmann::json looped = run.step("Looped");
  CHECK(looped["loop"].is_object());
  CHECK(inputs_of(looped).size() == 2);
  CHECK(outputs_of(looped)["stdout"] == "a\nb");
}

TEST_CASE("logs: the TOE_ folder name, console.log, events.jsonl and the document copy") {
  TempDir dir;
  auto run = run_yaml(dir, kShapeDocument, {"--execution-id", "logs-42"});
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  REQUIRE(!run.folder.empty());
  std::string name = std::filesystem::path(run.folder).filename().string();
  CHECK(std::regex_match(name, std::regex(R"(TOE_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_UTC-0_logs-42)")));
  // The summary's logUrl names that folder.
  REQUIRE(run.summary.is_object());
  CHECK(std::filesystem::equivalent(run.summary["logUrl"].get<std::string>(), run.folder));
  // console.log holds each step's output.
  std::string console = run.console();
  CHECK(console.find("Stdout: hi") != std::string::npos);
  CHECK(console.find("Stdout: a") != std::string::npos);
  CHECK(console.find("Stdout: b") != std::string::npos);
  CHECK(console.find("TOE has completed execution successfully") != std::string::npos);
  // events.jsonl: every line is a JSON object with an event name.
  std::istringstream events(kiln::test::read_file(run.folder + "/events.jsonl"));
  std::string line;
  int lines = 0, step_finished = 0;
  std::string first, last;
  while (std::getline(events, line)) {
    nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE(event.is_object());
    REQUIRE(event.contains("event"));
    if (first.empty()) first = event["event"];
    last = event["event"];
    step_finished += event["event"] == "stepFinished";
    ++lines;
  }
  CHECK(lines > 5);
  CHECK(first == "runStarted");
  CHECK(last == "runFinished");
  CHECK(step_finished == 3);
  // The document copy and the application log.
  CHECK(kiln::test::read_file(run.folder + "/document.yaml") == kShapeDocument);
  CHECK(std::filesystem::exists(run.folder + "/application.log"));
}

TEST_CASE("logs: the stdout summary has AWSTOE's keys") {
  TempDir dir;
  auto run = run_yaml(dir, kShapeDocument, {"--execution-id", "sum-1"});
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.summary.is_object());
  CHECK(keys_of(run.summary) == std::set<std::string>{"executionId", "status", "failedStepCount", "executedStepCount",
                                                       "ignoredFailedStepCount", "failureMessage", "logUrl", "rebootCount"});
  CHECK(run.summary["executionId"] == "sum-1");
  CHECK(run.summary["status"] == "success");
  CHECK(run.summary["executedStepCount"] == 3);
  CHECK(run.summary["failedStepCount"] == 0);
  CHECK(run.summary["failureMessage"] == "");
}

TEST_CASE("logs: several documents are each copied into the log folder") {
  TempDir dir;
  std::string a = dir.write("a.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: A\n"
                                     "        action: ExecuteBash\n        inputs:\n          commands: [echo a]\n");
  std::string b = dir.write("b.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: B\n"
                                     "        action: ExecuteBash\n        inputs:\n          commands: [echo b]\n");
  auto run = kiln::e2e::run_document(dir, a + "," + b);
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  int copies = 0;
  for (const auto& entry : std::filesystem::directory_iterator(run.folder)) {
    std::string file = entry.path().filename().string();
    if (file.rfind("document", 0) == 0 && entry.is_regular_file()) {
      std::string text = kiln::test::read_file(entry.path().string());
      CHECK((text == kiln::test::read_file(a) || text == kiln::test::read_file(b)));
      ++copies;
    }
  }
  CHECK(copies == 2);
  REQUIRE(run.detailed["documents"].size() == 2);
  CHECK(run.detailed["documents"][0]["filePath"] == a);
  CHECK(run.detailed["documents"][1]["filePath"] == b);
}

// Logs are buffered between flushes; the engine flushes before each action runs, so a
// step that hangs (or takes the agent down) has its start in every log already.
TEST_CASE("logs: a running step's start is on disk in every log before its action ends") {
  TempDir dir;
  std::string release = dir.file("release");
  std::string doc = dir.write("wait.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                                          "      - name: First\n        action: ExecuteBash\n"
                                          "        inputs:\n          commands: [echo first-done]\n"
                                          "      - name: Waiting\n        action: ExecuteBash\n"
                                          "        inputs:\n          commands:\n"
                                          "            - 'for i in $(seq 1 300); do [ -e " + release +
                                              " ] && exit 0; sleep 0.1; done; exit 1'\n");
  std::string logs = dir.file("logs");
  pid_t pid = kiln::test::spawn_kiln({"run", "-d", doc, "-l", logs}, dir.file("out"), dir.file("err"));
  REQUIRE(pid > 0);
  // Wait (up to 20 s) for the second step's attemptStarted event while it is still running.
  std::string folder, events;
  for (int i = 0; i < 400 && events.find("\"step\":\"Waiting\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (folder.empty()) folder = kiln::test::find_log_folder(logs);
    if (!folder.empty()) events = kiln::test::read_file(folder + "/events.jsonl");
  }
  std::string application = folder.empty() ? "" : kiln::test::read_file(folder + "/application.log");
  std::string console = folder.empty() ? "" : kiln::test::read_file(folder + "/console.log");
  std::ofstream(release) << "go";
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // While the action ran: the event of its attempt, its start in application.log, the first
  // step's output and the second step's header in console.log.
  CHECK(events.find("\"event\":\"attemptStarted\"") != std::string::npos);
  CHECK(events.find("\"step\":\"Waiting\"") != std::string::npos);
  CHECK(application.find("step build/Waiting (ExecuteBash) started") != std::string::npos);
  CHECK(console.find("Stdout: first-done") != std::string::npos);
  CHECK(console.find("Phase build, step Waiting (ExecuteBash)") != std::string::npos);
}
