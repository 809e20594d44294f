// `kiln status`: every execution of a state directory and where it stands.
#include <filesystem>
#include <iostream>

#include "agent/cli/commands.h"
#include "agent/state/execution_store.h"

namespace kiln {
namespace {

nlohmann::json describe(const StoredExecution& e) {
  const RunState& state = e.state;
  std::string status = !e.error.empty()         ? "unreadable"
                       : e.locked               ? "running"
                       : state.finished         ? state.summary.value("status", "finished")
                       : state.awaiting_reboot  ? "awaitingReboot"
                                                : "interrupted";
  size_t done = 0;
  for (const auto& [key, step] : state.steps) done += step.finished;
  const std::optional<RunHeader>& header = state.header;
  return {{"executionId", header ? header->execution_id : std::filesystem::path(e.folder).filename().string()},
          {"status", status},
          {"stepsFinished", done},
          {"reboots", state.reboots.size()},
          {"startTime", header ? header->start_time : ""},
          {"logFolder", header ? header->log_folder : ""},
          {"stateFolder", e.folder},
          {"error", e.error}};
}

}  // namespace

int command_status(const CliOptions& cli) {
  ExecutionStore store;
  store.open_for_reading(cli.state_directory.empty() ? default_state_directory() : cli.state_directory);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& e : store.list()) all.push_back(describe(e));
  if (cli.format == "json") {
    std::cout << all.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) std::cout << "no executions in " << store.directory() << "\n";
  for (const auto& e : all)
    std::cout << e["executionId"].get<std::string>() << "  " << e["status"].get<std::string>() << "  "
              << e["stepsFinished"] << " steps done, " << e["reboots"] << " reboots, started "
              << e["startTime"].get<std::string>() << "\n    logs: " << e["logFolder"].get<std::string>() << "\n";
  return 0;
}

}  // namespace kiln
