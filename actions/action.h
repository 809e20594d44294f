// The action interface. An action is a name plus a run() function; its inputs,
// platforms and outputs are described by schemas/actions/<Name>.json. The engine
// resolves and checks the inputs before run() sees them, and reaches actions only
// through the table in actions/registry.cpp.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/report/secret_masker.h"
#include "agent/sys/process.h"

namespace kiln {

// What ExecuteDocument asks the engine for: run another document as a child.
struct ChildDocumentRequest {
  std::string document;    // path as written (relative to the parent's folder)
  std::string phases;      // comma-separated; empty = all
  nlohmann::json parameters = nlohmann::json::array();  // [{name, value}]
};

struct ChildDocumentResult {
  bool success = false;
  bool reboot_requested = false;  // a step of the child asked for a reboot
  std::string failure_message;
  nlohmann::json summary = nlohmann::json::object();  // the 7 summary outputs
  nlohmann::json detailed_output;                      // the child's run record
};

struct ActionContext {
  std::string action;                  // the action's name
  nlohmann::json inputs;               // resolved, defaults filled: one map, or a list of maps
  std::string work_directory;          // this attempt's own folder (scripts go here); made on demand:
  // an action that writes there calls create_work_directory() first ("" or why it failed).
  // Most actions write nothing there, and a folder per step is a visible cost of a short step.
  std::function<std::string()> create_work_directory = [] { return std::string(); };
  std::chrono::milliseconds timeout{-1};  // what is left of the step's budget; negative: none
  const std::atomic<bool>* cancel = nullptr;
  // A line (or chunk of lines) of the step's own output: console.log and the terminal.
  std::function<void(sys::OutputStream, std::string_view)> output;
  // A line for application.log.
  std::function<void(const std::string&)> log;
  // Runs a child document (ExecuteDocument); set by the engine.
  std::function<ChildDocumentResult(const ChildDocumentRequest&)> run_document;
  // Values to keep out of anything the action writes itself (see ExecuteBash's script).
  const SecretMasker* secrets = nullptr;
  // Output kept in memory for chaining is bounded; the full output goes to disk.
  size_t max_captured_output = 4 * 1024 * 1024;
};

struct ActionResult {
  bool success = false;
  bool timed_out = false;
  bool reboot_requested = false;  // exit code 194 (or a child document's): reboot, then run this step again
  bool reboot_after_step = false; // the Reboot action: this step is done; reboot, then go on
  std::string failure_message;
  nlohmann::json outputs = nlohmann::json::object();
  nlohmann::json detailed_output;  // ExecuteDocument: the child's run record
};

using ActionFunction = ActionResult (*)(ActionContext&);

struct ActionEntry {
  std::string_view name;
  ActionFunction run;
};

// The actions a run can use. The engine is given one (the built-in table of
// actions/registry.h, or a table of fakes in the engine's tests) and knows no action
// by name.
class ActionTable {
 public:
  ActionTable(const ActionEntry* entries, size_t count) : entries_(entries), count_(count) {}
  const ActionEntry* find(std::string_view name) const {
    for (size_t i = 0; i < count_; ++i)
      if (entries_[i].name == name) return &entries_[i];
    return nullptr;
  }

 private:
  const ActionEntry* entries_;
  size_t count_;
};

}  // namespace kiln
