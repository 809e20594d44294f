#include "agent/report/run_reporter.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("terminal style: NO_COLOR, TERM=dumb and KILN_HEARTBEAT_SECONDS") {
  ScopedEnv no_color("NO_COLOR", std::nullopt), term("TERM", "xterm"), beat("KILN_HEARTBEAT_SECONDS", std::nullopt);
  kiln::TerminalStyle plain = kiln::TerminalStyle::from_environment();
  CHECK(plain.colour);
  CHECK(plain.redraw);
  CHECK(plain.heartbeat == std::chrono::seconds(30));
  {
    ScopedEnv empty("NO_COLOR", "");  // no-color.org: an empty value does not count
    CHECK(kiln::TerminalStyle::from_environment().colour);
  }
  {
    ScopedEnv set("NO_COLOR", "1");
    kiln::TerminalStyle style = kiln::TerminalStyle::from_environment();
    CHECK(!style.colour);
    CHECK(style.redraw);
  }
  {
    ScopedEnv dumb("TERM", "dumb");
    kiln::TerminalStyle style = kiln::TerminalStyle::from_environment();
    CHECK(!style.colour);
    CHECK(!style.redraw);
  }
  CHECK(!kiln::TerminalStyle::from_environment(true).redraw);  // --trace shares the terminal
  for (auto entry : {std::pair{"1", 1}, {"0", 0}, {"abc", 30}, {"-5", 30}, {"", 30}, {"7s", 30}}) {
    const char* text = entry.first;
    int seconds = entry.second;
    ScopedEnv value("KILN_HEARTBEAT_SECONDS", text);
    CHECK_MESSAGE(kiln::TerminalStyle::from_environment().heartbeat == std::chrono::seconds(seconds), text);
  }
}
