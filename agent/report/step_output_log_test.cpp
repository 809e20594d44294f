#include "agent/report/step_output_log.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "tests/support/test_support.h"

using kiln::RunLog;
using kiln::StepOutputLog;
using kiln::test::read_file;
using kiln::test::TempDir;

namespace {

struct Fixture {
  TempDir dir;
  RunLog log;
  std::string step_folder;
  Fixture() {
    REQUIRE(log.open(dir.file("logs"), "unit").empty());
    step_folder = log.folder() + "/steps/1-build-s-a1";
  }
  std::function<std::string()> make_folder() const {
    return [this] {
      ::mkdir((log.folder() + "/steps").c_str(), 0700);
      return ::mkdir(step_folder.c_str(), 0700) == 0 ? std::string() : std::string("cannot");
    };
  }
  std::string console() {
    log.flush();
    return read_file(log.folder() + "/console.log");
  }
};

// The payload of console.log's lines with `prefix` ("Stdout: "), in order.
std::string payload(const std::string& console, const std::string& prefix) {
  std::string out;
  std::istringstream lines(console);
  for (std::string line; std::getline(lines, line);)
    if (size_t at = line.find(" Info " + prefix); at != std::string::npos)
      out.append(line, at + 6 + prefix.size()).push_back('\n');
  return out;
}

std::string short_lines(size_t bytes) {
  std::string text;
  while (text.size() < bytes) text += "y\n";
  return text;
}

}  // namespace

TEST_CASE("step output log: console_size is what console() writes") {
  Fixture f;
  for (std::string text : {"a", "a\n", "a\nbb\n", "a\n\nlast"}) {
    size_t before = f.console().size();
    f.log.console("Info", "Stdout: ", text);
    CHECK(f.console().size() - before == RunLog::console_size("Info", "Stdout: ", text));
  }
}

TEST_CASE("step output log: short lines split at a line end; console.log then the file hold the stream") {
  Fixture f;
  const std::string text = short_lines(3 << 20);
  {
    StepOutputLog out(f.log, f.step_folder, f.make_folder());
    for (size_t at = 0; at < text.size(); at += 65536) out.write(false, std::string_view(text).substr(at, 65536));
    out.write(true, "an error\n");
  }
  const std::string console = f.console();
  const std::string shown = payload(console, "Stdout: ");
  CHECK(shown + read_file(f.step_folder + "/stdout.log") == text);
  // The console budget: at most 1 MiB plus 1.5x what the lines hold.
  CHECK(2 * RunLog::console_size("Info", "Stdout: ", shown) <= 2 * StepOutputLog::kConsoleAllowance + 3 * shown.size());
  CHECK(shown.size() > 50000);                          // and it was used: the first ~29,000 lines are in console.log
  CHECK(payload(console, "Stderr: ") == "an error\n");  // stderr has its own budget
  CHECK_FALSE(std::filesystem::exists(f.step_folder + "/stderr.log"));
}

TEST_CASE("step output log: when the step folder cannot be made, the output stays in console.log") {
  Fixture f;
  const std::string text = short_lines(2 << 20);
  {
    StepOutputLog out(f.log, f.step_folder, [] { return std::string("no room"); });
    for (size_t at = 0; at < text.size(); at += 65536) out.write(false, std::string_view(text).substr(at, 65536));
  }
  CHECK(payload(f.console(), "Stdout: ") == text);
  CHECK(f.log.write_error().empty());
}

TEST_CASE("step output log: past --max-log-size output is dropped and counted, once announced") {
  Fixture f;
  f.log.set_max_log_size(1 << 20);
  const std::string text = short_lines(4 << 20);
  {
    StepOutputLog out(f.log, f.step_folder, f.make_folder());
    for (size_t at = 0; at < text.size(); at += 65536) out.write(false, std::string_view(text).substr(at, 65536));
  }
  {
    StepOutputLog next(f.log, f.step_folder + "-b", [] { return std::string(); });
    next.write(false, "later\n");
  }
  const std::string console = f.console();
  size_t announced = 0;
  for (size_t at = 0; (at = console.find("reached --max-log-size (1048576 bytes)", at)) != std::string::npos; ++at)
    ++announced;
  CHECK(announced == 1);
  CHECK(console.find("Stdout: later") == std::string::npos);
  CHECK(console.find("Warn Output: 6 bytes of this step's output were dropped (--max-log-size)") != std::string::npos);
  const size_t kept = payload(console, "Stdout: ").size();
  CHECK(console.find("Warn Output: " + std::to_string(text.size() - kept) +
                     " bytes of this step's output were dropped") != std::string::npos);
  CHECK(f.log.log_size() <= (1u << 20) + 4096);                         // the bound, plus kiln's own lines
  CHECK_FALSE(std::filesystem::exists(f.step_folder + "/stdout.log"));  // nothing went there
}
