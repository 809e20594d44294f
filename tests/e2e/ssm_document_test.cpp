// The SSM Command document of packaging/ssm: its JSON and YAML forms parsed and compared, its
// structure checked (schemaVersion 2.2, one aws:runShellScript step, every {{ name }} declared
// and every parameter used), then its command line run here by a stand-in for the SSM agent.
// SSM itself cannot be reached from this machine: the stand-in does what the agent does with
// an aws:runShellScript step: puts the parameter values in place of {{ name }}, writes the
// runCommand lines to a script, runs it with /bin/sh (dash on Debian), and when the script
// exits 194 reboots the instance and runs the same script again. The oracle is a ledger file
// each step appends to, outside kiln's state.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "agent/sys/process.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::TempDir;
using nlohmann::json;

const std::string kJsonDocument = KILN_SOURCE_DIR "/packaging/ssm/kiln-run-component.json";
const std::string kYamlDocument = KILN_SOURCE_DIR "/packaging/ssm/kiln-run-component.yaml";

// YAML to JSON, every scalar a string (the document has no numbers or booleans: SSM's
// schemaVersion, defaults and timeoutSeconds are strings).
json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = to_json(entry.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) array.push_back(to_json(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      return node.as<std::string>();
    default:
      return nullptr;
  }
}

const std::regex kPlaceholder(R"(\{\{\s*([A-Za-z0-9_.]+)\s*\}\})");

// Every {{ name }} in the strings under `node`.
void placeholders(const json& node, std::set<std::string>& names) {
  if (node.is_string()) {
    const std::string text = node.get<std::string>();
    for (std::sregex_iterator it(text.begin(), text.end(), kPlaceholder), end; it != end; ++it)
      names.insert((*it)[1].str());
  } else if (node.is_structured()) {
    for (const auto& child : node) placeholders(child, names);
  }
}

// A stand-in for the SSM agent running the document's aws:runShellScript step on an instance.
class SsmStandIn {
 public:
  SsmStandIn(const json& document, const std::string& scratch) : document_(document), scratch_(scratch) {}

  // The runCommand lines with the values in place, as SSM does: a value given, else the
  // parameter's default; a parameter with neither is a failure (SSM refuses the command).
  std::string script(const std::map<std::string, std::string>& values) const {
    std::string text;
    for (const auto& line : document_["mainSteps"][0]["inputs"]["runCommand"]) text += line.get<std::string>() + "\n";
    std::string out;
    auto begin = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), kPlaceholder), end; it != end; ++it) {
      out.append(begin, text.cbegin() + it->position());
      const std::string name = (*it)[1].str();
      const json& declared = document_["parameters"][name];
      if (auto given = values.find(name); given != values.end()) {
        REQUIRE_MESSAGE(std::regex_match(given->second, std::regex(declared["allowedPattern"].get<std::string>())),
                        name << "=" << given->second << " does not match its allowedPattern");
        out += given->second;
      } else {
        REQUIRE_MESSAGE(declared.contains("default"), "SSM refuses the command: no value for " << name);
        out += declared["default"].get<std::string>();
      }
      begin = text.cbegin() + it->position() + it->length();
    }
    out.append(begin, text.cend());
    return out;
  }

  struct Outcome {
    int exit_code = -1;
    int runs = 0;        // times the script ran
    int reboots = 0;     // stand-in reboots (exit 194)
    std::string output;  // every run's stdout and stderr
  };

  // Runs the script; while it exits 194, "reboots" and runs it again, as the agent does.
  Outcome run(const std::map<std::string, std::string>& values, int reboot_limit = 10) const {
    const std::string path = scratch_ + "/_script.sh";
    std::filesystem::create_directories(scratch_);
    std::ofstream(path) << script(values);
    Outcome outcome;
    while (true) {
      kiln::sys::ProcessSpec spec;
      spec.executable = "/bin/sh";
      spec.arguments = {path};
      spec.working_directory = scratch_;
      // kiln's state and reboot settings pointed at the test's folder (kiln_test_environment).
      spec.extra_environment = kiln::test::kiln_test_environment();
      spec.timeout = std::chrono::milliseconds(120'000);
      kiln::sys::ProcessResult r =
          kiln::sys::run_process(spec, [&](kiln::sys::OutputStream, std::string_view chunk) { outcome.output.append(chunk); });
      ++outcome.runs;
      outcome.exit_code = r.signal ? 128 + r.signal : r.exit_code;
      if (outcome.exit_code != 194 || outcome.reboots >= reboot_limit) break;
      // The reboot: SSM would restart the instance here. The stand-in has nothing to
      // restart on this machine (kiln's --reboot-mode exit already saved its state and
      // exited); it runs the same script again, as the agent does after the boot.
      ++outcome.reboots;
    }
    return outcome;
  }

 private:
  const json& document_;
  std::string scratch_;
};

json load_json() { return json::parse(read_file(kJsonDocument)); }

std::string ledger_step(const std::string& name, const std::string& extra = "") {
  return "      - name: " + name + "\n        action: ExecuteBash\n        inputs:\n          commands:\n" +
         "            - echo " + name + " >> \"{{ Ledger }}\"\n" + extra;
}

const char* kDocumentHead = "schemaVersion: 1.0\nparameters:\n  - Ledger:\n      type: string\nphases:\n";

std::vector<std::string> files_starting(const std::string& folder, const std::string& prefix) {
  std::vector<std::string> found;
  if (!std::filesystem::is_directory(folder)) return found;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().filename().string().starts_with(prefix)) found.push_back(entry.path().string());
  return found;
}

}  // namespace

TEST_CASE("fleet integrations: the SSM document's JSON and YAML forms are the same document") {
  const json from_json = load_json();
  const json from_yaml = to_json(YAML::LoadFile(kYamlDocument));
  CHECK(from_json == from_yaml);
}

TEST_CASE("fleet integrations: the SSM document is a schemaVersion 2.2 Command document with one aws:runShellScript step") {
  const json document = load_json();
  CHECK(document["schemaVersion"] == "2.2");
  CHECK(!document["description"].get<std::string>().empty());
  REQUIRE(document["parameters"].is_object());
  REQUIRE(document["mainSteps"].is_array());
  REQUIRE(document["mainSteps"].size() == 1);
  const json& step = document["mainSteps"][0];
  CHECK(step["action"] == "aws:runShellScript");
  CHECK(std::regex_match(step["name"].get<std::string>(), std::regex("[A-Za-z0-9_.-]+")));
  REQUIRE(step["inputs"]["runCommand"].is_array());
  for (const auto& line : step["inputs"]["runCommand"]) CHECK(line.is_string());

  // Every {{ name }} is a declared parameter, and every parameter is used.
  std::set<std::string> used;
  placeholders(document["mainSteps"], used);
  std::set<std::string> declared;
  for (const auto& [name, parameter] : document["parameters"].items()) {
    CAPTURE(name);
    declared.insert(name);
    CHECK(parameter["type"] == "String");
    CHECK(!parameter["description"].get<std::string>().empty());
    REQUIRE(parameter.contains("allowedPattern"));
    const std::regex pattern(parameter["allowedPattern"].get<std::string>());
    if (parameter.contains("default")) CHECK(std::regex_match(parameter["default"].get<std::string>(), pattern));
  }
  CHECK(used == declared);
  // A value must not end its single-quoted shell word: every parameter's pattern refuses a quote.
  for (const auto& [name, parameter] : document["parameters"].items()) {
    CAPTURE(name);
    CHECK(!std::regex_match("a'b", std::regex(parameter["allowedPattern"].get<std::string>())));
  }
  // kiln leaves the reboot to SSM: --reboot-mode exit, its exit code passed on.
  std::string script;
  for (const auto& line : step["inputs"]["runCommand"]) script += line.get<std::string>() + "\n";
  CHECK(script.find("--reboot-mode exit") != std::string::npos);
  CHECK(script.find("exit \"$rc\"") != std::string::npos);
  // documents is required (no default); the others have defaults.
  CHECK(!document["parameters"]["documents"].contains("default"));
}

TEST_CASE("fleet integrations: the SSM document's command runs kiln; after exit 194 the re-run resumes the execution") {
  TempDir dir;
  const json document = load_json();
  SsmStandIn ssm(document, dir.file("instance"));
  const std::string ledger = dir.file("ledger");
  const std::string component =
      dir.write("reboots.yml", std::string("name: SsmReboot\n") + kDocumentHead + "  - name: build\n    steps:\n" +
                                   ledger_step("Before") + "      - name: RebootNow\n        action: Reboot\n" +
                                   ledger_step("After") + "  - name: validate\n    steps:\n" + ledger_step("Check") +
                                   "  - name: test\n    steps:\n" + ledger_step("Test"));
  const std::string work = dir.file("work");
  const auto outcome = ssm.run({{"documents", component},
                                {"parameters", "Ledger=" + ledger},
                                {"workDirectory", work},
                                {"kilnPath", KILN_BINARY}});
  INFO(outcome.output);
  CHECK(outcome.exit_code == 0);
  CHECK(outcome.runs == 2);
  CHECK(outcome.reboots == 1);
  // Every step exactly once: the re-run resumed after the Reboot step.
  CHECK(read_file(ledger) == "Before\nAfter\nCheck\nTest\n");
  // Both runs used one execution id, and its pending-id file is gone now that it ended.
  std::smatch first;
  REQUIRE(std::regex_search(outcome.output, first, std::regex("kiln execution (ssm-[0-9TZ]+-[0-9]+)")));
  const std::string id = first[1].str();
  CHECK(outcome.output.find("kiln: resuming execution " + id) != std::string::npos);
  CHECK(files_starting(work, "pending-").empty());
  // One log folder, with both runs in its console.log.
  const std::string logs = kiln::test::find_log_folder(work + "/logs");
  REQUIRE(!logs.empty());
  CHECK(logs.ends_with("_" + id));
  CHECK(read_file(logs + "/console.log").find("Resuming execution " + id) != std::string::npos);

  // Sending the same command again starts a new execution (it does not print the old result).
  const auto again = ssm.run({{"documents", component},
                              {"parameters", "Ledger=" + ledger},
                              {"workDirectory", work},
                              {"kilnPath", KILN_BINARY}});
  CHECK(again.exit_code == 0);
  CHECK(again.runs == 2);
  CHECK(read_file(ledger) == "Before\nAfter\nCheck\nTest\nBefore\nAfter\nCheck\nTest\n");
}

TEST_CASE("fleet integrations: the SSM document's command passes a failure on and SSM does not run it again") {
  TempDir dir;
  const json document = load_json();
  SsmStandIn ssm(document, dir.file("instance"));
  const std::string ledger = dir.file("ledger");
  const std::string component =
      dir.write("fails.yml", std::string("name: SsmFails\n") + kDocumentHead + "  - name: build\n    steps:\n" +
                                 ledger_step("First") + ledger_step("Broken", "            - exit 3\n") +
                                 ledger_step("Never") + "  - name: validate\n    steps:\n" + ledger_step("Check"));
  const std::string work = dir.file("work");
  const auto outcome = ssm.run({{"documents", component},
                                {"parameters", "Ledger=" + ledger},
                                {"workDirectory", work},
                                {"kilnPath", KILN_BINARY},
                                {"executionId", "ssm-fails-1"}});
  INFO(outcome.output);
  CHECK(outcome.exit_code == 1);
  CHECK(outcome.runs == 1);
  CHECK(read_file(ledger) == "First\nBroken\n");
  CHECK(files_starting(work, "pending-").empty());
  CHECK(kiln::test::find_log_folder(work + "/logs").ends_with("_ssm-fails-1"));
}
