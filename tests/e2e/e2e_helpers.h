// Shared helpers for the run_*_test.cpp end-to-end tests: write a document, run the
// real kiln binary on it with its own log directory, and read what it left behind.
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace kiln::e2e {

struct KilnRun {
  kiln::test::RunResult result;
  std::string log_directory;
  std::string folder;        // the TOE_* folder ("" if none or several)
  nlohmann::json detailed;   // detailedoutput.json (null if absent)
  nlohmann::json summary;    // stdout summary (null if not JSON)

  int exit_code() const { return result.exit_code; }
  nlohmann::json step(const std::string& name) const { return kiln::test::find_step(detailed, name); }
  std::string console() const { return folder.empty() ? "" : kiln::test::read_file(folder + "/console.log"); }
  std::string status(const std::string& name) const {
    nlohmann::json s = step(name);
    return s.is_object() ? s.value("status", "") : "<no step " + name + ">";
  }
};

// The step's recorded outputs (a JSON string holding an array) as the first object.
inline nlohmann::json outputs_of(const nlohmann::json& step) {
  if (!step.is_object() || !step["outputs"].is_string()) return nullptr;
  nlohmann::json list = nlohmann::json::parse(step["outputs"].get<std::string>(), nullptr, false);
  if (!list.is_array() || list.empty()) return nullptr;
  return list[0];
}

inline nlohmann::json inputs_of(const nlohmann::json& step) {
  if (!step.is_object() || !step["inputs"].is_string()) return nullptr;
  return nlohmann::json::parse(step["inputs"].get<std::string>(), nullptr, false);
}

inline std::string stdout_of(const nlohmann::json& step) {
  nlohmann::json o = outputs_of(step);
  return o.is_object() && o.contains("stdout") && o["stdout"].is_string() ? o["stdout"].get<std::string>()
                                                                          : "<no stdout>";
}

// Runs `kiln run --documents <document> --log-directory <dir>/<logs> extra...` in
// `working_directory` (empty: the test's own).
inline KilnRun run_document(const kiln::test::TempDir& dir, const std::string& document,
                            const std::vector<std::string>& extra = {}, const std::string& logs = "logs",
                            const std::string& working_directory = "") {
  KilnRun run;
  run.log_directory = dir.file(logs);
  std::vector<std::string> args = {"run", "--documents", document, "--log-directory", run.log_directory};
  args.insert(args.end(), extra.begin(), extra.end());
  run.result = kiln::test::run_kiln(args, working_directory);
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  run.summary = run.result.summary();
  return run;
}

// Writes `yaml` as `name` in `dir` and runs it.
inline KilnRun run_yaml(const kiln::test::TempDir& dir, const std::string& yaml,
                        const std::vector<std::string>& extra = {}, const std::string& name = "doc.yml",
                        const std::string& logs = "logs", const std::string& working_directory = "") {
  std::string path = dir.write(name, yaml);
  return run_document(dir, path, extra, logs, working_directory);
}

// The failure message recorded for a step.
inline std::string failure_of(const KilnRun& run, const std::string& step_name) {
  nlohmann::json s = run.step(step_name);
  return s.is_object() ? s.value("failureMessage", "") : "<no step " + step_name + ">";
}

inline std::string describe(const KilnRun& run) {
  std::ostringstream s;
  s << "exit " << run.result.exit_code << "\nstdout:\n" << run.result.out << "\nstderr:\n" << run.result.err;
  return s.str();
}

}  // namespace kiln::e2e
