// End-to-end: exit codes of `kiln run` and the behaviour of `kiln validate`, through
// the real binary.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "actions/registry.h"
#include "tests/e2e/e2e_helpers.h"

using kiln::e2e::run_yaml;
using kiln::test::run_kiln;
using kiln::test::TempDir;

namespace {

const char* kGoodDocument = R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Ok
        action: ExecuteBash
        inputs:
          commands: [echo ok]
)";

const char* kFailingDocument = R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Bad
        action: ExecuteBash
        inputs:
          commands: ["exit 1"]
)";

// Every step of this document would be fine to run except `Refused` (action given).
std::string refused_document(const std::string& action, const std::string& inputs) {
  return "schemaVersion: 1.0\n"
         "phases:\n"
         "  - name: build\n"
         "    steps:\n"
         "      - name: First\n"
         "        action: ExecuteBash\n"
         "        inputs:\n"
         "          commands: [echo SHOULD_NOT_APPEAR]\n"
         "      - name: Refused\n"
         "        action: " + action + "\n"
         "        inputs:\n" + inputs;
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("cli: exit code 0 for success and 1 for a failed run") {
  TempDir dir;
  auto good = run_yaml(dir, kGoodDocument, {}, "good.yml", "logs-good");
  INFO(kiln::e2e::describe(good));
  CHECK(good.exit_code() == 0);
  auto bad = run_yaml(dir, kFailingDocument, {}, "bad.yml", "logs-bad");
  INFO(kiln::e2e::describe(bad));
  CHECK(bad.exit_code() == 1);
  REQUIRE(bad.summary.is_object());
  CHECK(bad.summary["status"] == "failed");
  CHECK(bad.summary["failureMessage"].get<std::string>().find("bad.yml") != std::string::npos);
}

TEST_CASE("cli: exit code 2 for an unknown flag, a missing document list and --config with --documents") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", kGoodDocument);
  std::string config = dir.write("run.json", R"({"documents": [{"path": "doc.yml"}]})");
  std::string logs = dir.file("logs");

  auto unknown = run_kiln({"run", "--documents", doc, "--no-such-flag", "--log-directory", logs});
  INFO("unknown flag: " << unknown.err);
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("no-such-flag") != std::string::npos);

  auto nothing = run_kiln({"run", "--log-directory", logs});
  CHECK(nothing.exit_code == 2);

  auto both = run_kiln({"run", "--config", config, "--documents", doc, "--log-directory", logs});
  INFO("config + documents: " << both.err);
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("--config") != std::string::npos);

  auto bad_parameters = run_kiln({"run", "--documents", doc, "--parameters", "NoValue=", "--log-directory", logs});
  CHECK(bad_parameters.exit_code == 2);

  auto unknown_command = run_kiln({"explode"});
  CHECK(unknown_command.exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(logs));  // nothing ran
}

TEST_CASE("cli: exit code 3 for an invalid document, and nothing runs") {
  TempDir dir;
  auto run = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: First
        action: ExecuteBash
        inputs:
          commands: [echo SHOULD_NOT_APPEAR]
      - name: Typo
        action: ExecuteBash
        onFailure: Sometimes
        inputs:
          commands: [echo x]
)");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 3);
  CHECK(run.result.err.find("doc.yml:11:") != std::string::npos);
  CHECK(run.result.out.find("SHOULD_NOT_APPEAR") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run.log_directory));
}

TEST_CASE("cli: exit code 3 for a YAML syntax error and for a loop that cannot end") {
  TempDir dir;
  auto syntax = run_yaml(dir, "schemaVersion: 1.0\nphases: [\n", {}, "syntax.yml", "logs-syntax");
  INFO(kiln::e2e::describe(syntax));
  CHECK(syntax.exit_code() == 3);
  CHECK(syntax.result.err.find("syntax.yml:") != std::string::npos);
  CHECK(syntax.result.err.find("YAML") != std::string::npos);
  auto endless = run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Endless
        action: ExecuteBash
        loop:
          for: {start: 1, end: 5, updateBy: -1}
        inputs:
          commands: [echo SHOULD_NOT_APPEAR]
)",
                          {}, "endless.yml", "logs-endless");
  INFO(kiln::e2e::describe(endless));
  CHECK(endless.exit_code() == 3);
  CHECK(endless.result.err.find("endless.yml:8:") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(endless.log_directory));
}

TEST_CASE("cli: run refuses a document using an action not implemented yet, before anything runs (exit 3)") {
  TempDir dir;
  struct Case {
    std::string action, inputs;
  };
  // Actions are being added; the test uses those of this list this build lacks.
  std::string target = dir.file("never-created");
  std::vector<Case> candidates = {
      {"S3Download", "          - source: s3://bucket/key\n            destination: " + target + "\n"},
      {"S3Upload", "          - source: " + target + "\n            destination: s3://bucket/key\n"},
      {"WebDownload", "          - source: https://127.0.0.1:9/x\n            destination: " + target + "\n"},
      {"CreateFile", "          - path: " + target + "\n            content: x\n"},
  };
  int tried = 0;
  for (const Case& c : candidates) {
    if (kiln::find_action(c.action) != nullptr) continue;  // implemented by now
    ++tried;
    auto run = run_yaml(dir, refused_document(c.action, c.inputs), {}, c.action + ".yml", "logs-" + c.action);
    INFO(c.action << "\n" << kiln::e2e::describe(run));
    // `validate` accepts it: the refusal is about this build, not the document.
    auto validate = run_kiln({"validate", "--documents", dir.file(c.action + ".yml")});
    CHECK(validate.exit_code == 0);
    CHECK(run.exit_code() == 3);
    CHECK(run.result.err.find("action " + c.action) != std::string::npos);
    CHECK(run.result.err.find(dir.file(c.action + ".yml") + ":10:") != std::string::npos);  // the action: line
    CHECK(run.result.out.find("SHOULD_NOT_APPEAR") == std::string::npos);
    CHECK(run.result.err.find("SHOULD_NOT_APPEAR") == std::string::npos);
    CHECK_FALSE(std::filesystem::exists(run.log_directory));  // no step output anywhere
    CHECK_FALSE(std::filesystem::exists(target));
  }
  WARN_MESSAGE(tried > 0, "every candidate action is implemented now; the blocked-action test below still covers the refusal");
}

TEST_CASE("cli: the S3 log and CloudWatch flags are checked together before anything runs (exit 2)") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", refused_document("ExecuteBash", "          commands: [echo SHOULD_NOT_APPEAR]\n"));
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--cw-log-group", "g"},                          // no stream
           {"--cw-log-stream", "s"},                         // no group
           {"--cw-log-region", "us-east-1"},                 // no group
           {"--log-s3-key-prefix", "p"},                     // no bucket
           {"--cw-log-group", "g", "--cw-log-stream", "s", "--cw-ignore-failures=maybe"}}) {
    std::vector<std::string> args = {"run", "--documents", doc, "--log-directory", dir.file("logs")};
    args.insert(args.end(), flags.begin(), flags.end());
    auto run = run_kiln(args);
    INFO(flags[0] << ": " << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(flags[0].substr(0, 5)) != std::string::npos);  // "--cw-" or "--log"
    CHECK(run.out.find("SHOULD_NOT_APPEAR") == std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("logs")));
  }
}

TEST_CASE("cli: --blocked-action-modules refuses a blocked action before anything runs (exit 3)") {
  TempDir dir;
  auto run = run_yaml(dir, refused_document("ExecuteBinary", "          path: /bin/true\n"),
                      {"--blocked-action-modules", "Reboot,ExecuteBinary"});
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 3);
  CHECK(run.result.err.find(dir.file("doc.yml") + ":10:") != std::string::npos);
  CHECK(run.result.err.find("ExecuteBinary") != std::string::npos);
  CHECK(run.result.err.find("blocked") != std::string::npos);
  CHECK(run.result.out.find("SHOULD_NOT_APPEAR") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run.log_directory));
}

TEST_CASE("cli: validate reports every problem of a document, not only the first") {
  TempDir dir;
  std::string doc = dir.write("three.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: A
        action: ExecuteBash
        timeoutSecond: 5
        inputs:
          commands: [echo hi]
      - name: B
        action: NoSuchAction
      - name: C
        action: ExecuteBash
        onFailure: Explode
        inputs:
          commands: [echo]
)");
  auto r = run_kiln({"validate", "--documents", doc});
  INFO(r.err << r.out);
  CHECK(r.exit_code == 3);
  CHECK(count_of(r.err, ": error: ") == 3);
  CHECK(r.err.find(doc + ":7:9: error: unknown key 'timeoutSecond'") != std::string::npos);
  CHECK(r.err.find("did you mean 'timeoutSeconds'") != std::string::npos);
  CHECK(r.err.find(doc + ":11:") != std::string::npos);
  CHECK(r.err.find(doc + ":14:") != std::string::npos);
  CHECK(r.out.find("(3 errors)") != std::string::npos);
}

TEST_CASE("cli: validate --format json gives the diagnostics as JSON") {
  TempDir dir;
  std::string bad = dir.write("bad.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: A
        action: ExecuteBash
        timeoutSecond: 5
        inputs:
          commands: [echo hi]
      - name: B
        action: ExecuteBash
        maxAttempts: zero
        inputs:
          commands: [echo hi]
)");
  std::string good = dir.write("good.yml", kGoodDocument);
  auto r = run_kiln({"validate", "--format", "json", "--documents", good + "," + bad});
  INFO(r.err << r.out);
  CHECK(r.exit_code == 3);
  nlohmann::json report = r.summary();
  REQUIRE(report.is_object());
  CHECK(report["status"] == "invalid");
  REQUIRE(report["documents"].size() == 2);
  CHECK(report["documents"][0]["valid"] == true);
  CHECK(report["documents"][0]["diagnostics"].empty());
  const nlohmann::json& diagnostics = report["documents"][1]["diagnostics"];
  CHECK(report["documents"][1]["valid"] == false);
  REQUIRE(diagnostics.size() == 2);
  CHECK(diagnostics[0]["file"] == bad);
  CHECK(diagnostics[0]["line"] == 7);
  CHECK(diagnostics[0]["column"] == 9);
  CHECK(diagnostics[0]["severity"] == "error");
  CHECK(diagnostics[0]["message"].get<std::string>().find("timeoutSecond") != std::string::npos);
  CHECK(diagnostics[0]["hint"].get<std::string>().find("did you mean 'timeoutSeconds'") != std::string::npos);
  CHECK(diagnostics[1]["line"] == 12);
  CHECK(diagnostics[0]["code"] == "unknownKey");
  CHECK(diagnostics[1]["code"] == "schema");

  auto ok = run_kiln({"validate", "--format", "json", "--documents", good});
  CHECK(ok.exit_code == 0);
  CHECK(ok.summary()["status"] == "valid");
}

TEST_CASE("cli: validate refuses a windows-only action on linux and accepts it with --os-platforms windows") {
  TempDir dir;
  std::string doc = dir.write("win.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Ps
        action: ExecutePowerShell
        inputs:
          commands: [Write-Host hi]
)");
  auto linux_run = run_kiln({"validate", "--os-platforms", "linux", "--documents", doc});
  INFO(linux_run.err);
  CHECK(linux_run.exit_code == 3);
  CHECK(linux_run.err.find(doc + ":6:") != std::string::npos);
  CHECK(linux_run.err.find("ExecutePowerShell") != std::string::npos);
  auto host = run_kiln({"validate", "--documents", doc});
  CHECK(host.exit_code == 3);
  auto windows = run_kiln({"validate", "--os-platforms", "windows", "--documents", doc});
  INFO(windows.err);
  CHECK(windows.exit_code == 0);
  // And a linux-only action is refused for windows.
  std::string bash = dir.write("bash.yml", kGoodDocument);
  CHECK(run_kiln({"validate", "--os-platforms", "windows", "--documents", bash}).exit_code == 3);
}

TEST_CASE("cli: run refuses the Windows-only actions on linux up front, naming each action and the platform") {
  TempDir dir;
  std::string doc = dir.write("win.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: Ps, action: ExecutePowerShell, inputs: {commands: [Write-Host hi]}}
      - {name: Msi, action: InstallMSI, inputs: {path: C:\x.msi}}
      - {name: Un, action: UninstallMSI, inputs: {path: C:\x.msi}}
      - {name: Reg, action: SetRegistry, inputs: [{path: 'HKLM:\Software\X', name: A, value: '1', type: SZ}]}
)");
  auto r = run_kiln({"run", "--documents", doc, "--log-directory", dir.file("logs"), "--state-directory",
                     dir.file("state")});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  for (const char* action : {"ExecutePowerShell", "InstallMSI", "UninstallMSI", "SetRegistry"})
    CHECK(r.err.find(std::string(action) + " is not available on linux") != std::string::npos);
  CHECK(r.err.find(doc + ":5:") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("logs")));  // nothing ran, nothing was written
}
