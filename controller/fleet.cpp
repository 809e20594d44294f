#include "controller/fleet.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

namespace kiln::ctl {
namespace {

std::string trimmed(const std::string& text) {
  const char* space = " \t\r";
  auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

std::string seconds_text(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace

std::vector<FleetEntry> read_fleet(const std::string& file, const RunOptions& options,
                                   const std::atomic<bool>* cancel, std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = "--targets " + file + ": cannot read the file";
    return {};
  }
  std::vector<FleetEntry> entries;
  std::map<std::string, int> names;  // name -> line
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    std::string spec = trimmed(text);
    if (spec.empty() || spec[0] == '#') continue;
    FleetEntry entry;
    entry.spec = spec;
    entry.line = number;
    entry.options = options;
    entry.options.target = spec;
    std::string why;
    // Made once to learn the name, then again with the per-target work folder (the name
    // depends only on the spec; an ssh target keeps a copy of the options it is given).
    std::unique_ptr<Target> probe = make_target(spec, entry.options, cancel, why);
    if (!probe) {
      error = file + ":" + std::to_string(number) + ": " + why;
      return {};
    }
    const std::string name = probe->name();
    probe.reset();
    if (auto [at, fresh] = names.emplace(name, number); !fresh) {
      error = file + ":" + std::to_string(number) + ": target '" + spec + "' has the same name '" + name +
              "' as line " + std::to_string(at->second) + " (names come from host_port or the root folder)";
      return {};
    }
    entry.options.work_directory = options.work_directory + "/" + name;
    entry.target = make_target(spec, entry.options, cancel, why);
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) error = "--targets " + file + ": no targets in the file";
  return entries;
}

std::vector<TargetReport> run_fleet(std::vector<FleetEntry>& entries, int parallel, const std::string& run_id,
                                    const std::atomic<bool>* cancel) {
  std::vector<TargetReport> reports(entries.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < entries.size(); i = next++) {
      FleetEntry& entry = entries[i];
      const std::string name = entry.target->name();
      if (cancel != nullptr && cancel->load()) {
        reports[i].target = name;
        reports[i].exit_code = ExitCode::Interrupted;
        reports[i].message = "interrupted before it started";
        entry.target.reset();
        continue;
      }
      try {
        reports[i] = run_target(*entry.target, entry.options, run_id);
      } catch (const std::exception& failure) {
        reports[i].target = name;
        reports[i].exit_code = ExitCode::TargetError;
        reports[i].message = std::string("internal error: ") + failure.what();
      }
      entry.target.reset();  // unmount / close now, not at the end of the fleet
    }
  };
  const size_t threads = std::min(entries.size(), static_cast<size_t>(parallel < 1 ? 1 : parallel));
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& thread : pool) thread.join();
  return reports;
}

std::string format_fleet_table(const std::vector<TargetReport>& reports) {
  size_t width = 6;
  for (const auto& report : reports) width = std::max(width, report.target.size());
  std::string out;
  char line[1024];
  std::snprintf(line, sizeof line, "  %-*s  %-21s %10s  %s\n", static_cast<int>(width), "TARGET", "STATUS",
                "DURATION", "FAILING STEP");
  out += line;
  for (const auto& report : reports) {
    std::string failing;
    for (const auto& phase : report.phases)
      if (phase.status == PhaseStatus::Failed) {
        failing = phase.failing_step.empty() ? phase.phase : phase.failing_step;
        if (!phase.failure_message.empty()) failing += ": " + phase.failure_message;
        break;
      }
    if (failing.empty() && report.exit_code != ExitCode::Success) failing = report.message;
    std::snprintf(line, sizeof line, "  %-*s  %-21s %10s  %s\n", static_cast<int>(width), report.target.c_str(),
                  exit_code_text(report.exit_code), seconds_text(report.duration).c_str(), failing.c_str());
    out += line;
  }
  return out;
}

}  // namespace kiln::ctl
