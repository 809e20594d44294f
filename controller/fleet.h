// `kilnctl run --targets FILE`: many targets, each its own Target, printer prefix, remote
// work folder (WORK/<name>/) and local logs folder (LOGS/<name>/), run by at most
// `--parallel` threads; one run_target() per target, then one table in FILE order.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "controller/options.h"
#include "controller/phase_runner.h"
#include "controller/target.h"

namespace kiln::ctl {

struct FleetEntry {
  std::string spec;  // the line as written (trimmed)
  int line = 0;      // 1-based line in FILE
  RunOptions options;  // the run's options with this target's work folder
  std::unique_ptr<Target> target;
};

// Reads FILE: one target per line, blank lines and `#` comments ignored. Makes each target
// (its own copy of `options`, work_directory WORK/<name>); on a bad line or a duplicate
// name returns {} and sets `error` to "FILE:LINE: ...".
std::vector<FleetEntry> read_fleet(const std::string& file, const RunOptions& options,
                                   const std::atomic<bool>* cancel, std::string& error);

// Runs every entry (at most options.parallel at once); reports in FILE order. Each target is
// disconnected (and destroyed) as soon as its run ends. Once `cancel` is raised, targets not
// started yet are reported Interrupted without running.
std::vector<TargetReport> run_fleet(std::vector<FleetEntry>& entries, int parallel, const std::string& run_id,
                                    const std::atomic<bool>* cancel);

// TARGET, STATUS, FAILING STEP, DURATION: one row per target, in FILE order.
std::string format_fleet_table(const std::vector<TargetReport>& reports);

}  // namespace kiln::ctl
