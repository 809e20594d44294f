// kilnctl: the host-side controller. Turns flags into a Target and one run_target() call;
// everything else lives in phase_runner and the targets.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agent/sys/host.h"
#include "agent/sys/stop_signals.h"
#include "controller/exit_code.h"
#include "controller/fleet.h"
#include "controller/image/image_options.h"
#include "controller/image/pipeline.h"
#include "controller/options.h"
#include "controller/phase_runner.h"
#include "controller/target.h"

namespace {

// SIGINT/SIGTERM raise the stop flag: the running child is stopped (its process group gets
// SIGTERM, then SIGKILL), the targets unwind (a chroot is unmounted), and kilnctl exits
// 128 + the signal. A second signal does the same; nothing is killed from the handler.
kiln::sys::StopRequest* g_stop = nullptr;

std::string check_documents(const std::vector<std::string>& documents) {
  for (const auto& document : documents) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(document, ec)) return "document " + document + " is not a readable file";
  }
  return {};
}

int exit_status(kiln::ctl::ExitCode code) {
  if (code == kiln::ctl::ExitCode::Interrupted || (g_stop && g_stop->requested.load()))
    return 128 + (g_stop && g_stop->signal.load() ? g_stop->signal.load() : SIGINT);
  return kiln::ctl::to_int(code);
}

// --targets FILE: every target in parallel (at most --parallel), each one's summary as it
// ends, then the table; the exit code is fleet_exit_code() of the per-target codes.
int run_fleet_command(const kiln::ctl::RunOptions& options) {
  using namespace kiln::ctl;
  std::string error;
  std::vector<FleetEntry> entries = read_fleet(options.targets_file, options, &g_stop->requested, error);
  if (!error.empty()) {
    std::cerr << "kilnctl: " << error << "\n";
    return to_int(ExitCode::Usage);
  }
  const std::string run_id = options.execution_id.empty() ? kiln::sys::random_uuid() : options.execution_id;
  std::vector<TargetReport> reports = run_fleet(entries, options.parallel, run_id, &g_stop->requested);
  std::vector<ExitCode> codes;
  std::string summaries;
  for (const auto& report : reports) {
    summaries += format_report(report);
    codes.push_back(report.exit_code);
  }
  size_t succeeded = 0;
  for (ExitCode code : codes) succeeded += code == ExitCode::Success;
  std::cout << summaries << "kilnctl: " << succeeded << " of " << reports.size() << " targets succeeded\n"
            << format_fleet_table(reports) << std::flush;
  return exit_status(fleet_exit_code(codes));
}

// `kilnctl image build|test`: the image pipeline (controller/image/pipeline.h).
int run_image_command(const std::vector<std::string>& arguments) {
  using namespace kiln;
  image::ParsedImageCommandLine parsed = image::parse_image_command_line(arguments);
  if (parsed.help && parsed.error.empty()) {
    std::cout << image::image_help();
    return 0;
  }
  if (!parsed.error.empty()) {
    std::cerr << "kilnctl: " << parsed.error << "\n";
    return ctl::to_int(ctl::ExitCode::Usage);
  }
  g_stop = &sys::install_stop_signal_handlers();
  ctl::ExitCode code = ctl::ExitCode::TargetError;
  try {
    code = parsed.command == image::ImageCommand::Build ? image::build_image(parsed.options, &g_stop->requested)
                                                         : image::test_image(parsed.options, &g_stop->requested);
  } catch (const std::exception& failure) {  // caught so that the roots are powered off and removed
    std::cerr << "kilnctl: internal error: " << failure.what() << "\n";
  }
  return exit_status(code);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kiln::ctl;
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (!arguments.empty() && arguments[0] == "image")
    return run_image_command(std::vector<std::string>(arguments.begin() + 1, arguments.end()));
  ParsedCommandLine parsed = parse_command_line(arguments);
  if (!parsed.error.empty()) {
    std::cerr << "kilnctl: " << parsed.error << "\n";
    return to_int(ExitCode::Usage);
  }
  if (parsed.command == Command::Help) {
    std::cout << overview_help();
    return 0;
  }
  if (parsed.command == Command::Version) {
    std::cout << "kilnctl " << KILN_VERSION << "\n";
    return 0;
  }
  if (parsed.run_help) {
    std::cout << run_help();
    return 0;
  }
  RunOptions& options = parsed.run;
  if (std::string error = check_documents(options.documents); !error.empty()) {
    std::cerr << "kilnctl: " << error << "\n";
    return to_int(ExitCode::Usage);
  }
  if (!options.install.empty() && !std::filesystem::is_regular_file(options.install)) {
    std::cerr << "kilnctl: --install " << options.install << " is not a file\n";
    return to_int(ExitCode::Usage);
  }
  g_stop = &kiln::sys::install_stop_signal_handlers();
  std::string error;
  if (!options.targets_file.empty()) return run_fleet_command(options);
  std::unique_ptr<Target> target = make_target(options.target, options, &g_stop->requested, error);
  if (!target) {
    std::cerr << "kilnctl: " << error << "\n";
    return to_int(ExitCode::Usage);
  }
  const std::string run_id = options.execution_id.empty() ? kiln::sys::random_uuid() : options.execution_id;
  TargetReport report;
  try {
    report = run_target(*target, options, run_id);
  } catch (const std::exception& failure) {
    // Caught so that the target's destructor runs (a chroot is unmounted): an exception
    // leaving main() may end the program without unwinding.
    report.target = target->name();
    report.exit_code = ExitCode::TargetError;
    report.message = std::string("internal error: ") + failure.what();
  }
  target.reset();  // unmount / close before reporting
  std::cout << format_report(report) << std::flush;
  return exit_status(report.exit_code);
}
