// Bad input through the real binary: truncated documents, binary garbage, NUL bytes,
// invalid UTF-8, BOM, CRLF, tabs, a 50 MB document, 10,000-deep nesting, alias bombs,
// huge numbers and values of every wrong type. Each goes through `kiln validate` and
// `kiln run`; each must end with exit 3 and a FILE:LINE[:COL] diagnostic (exit 0 for
// the valid ones), never by a signal, within the wall-clock and memory limits of
// docs/DECISIONS.md ("Limits"). Last, ~500 seeded mutations of corpus documents must
// each give exit 0 or 3.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

extern char** environ;

namespace {

using kiln::test::TempDir;
using namespace std::string_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The limits (docs/DECISIONS.md, "Limits"). ASan reserves terabytes of address space for
// its shadow memory and makes kiln several times slower and larger, so a sanitized build
// gets no address-space limit and looser time and RSS bounds.
constexpr int kWallSeconds = kSanitized ? 90 : 20;
constexpr rlim_t kAddressSpaceBytes = rlim_t{1} << 30;  // 1 GiB, unsanitized builds only
constexpr long kMaxRssKib = kSanitized ? 1536 * 1024 : 512 * 1024;

struct Limited {
  int exit_code = -1;  // 128 + signal when killed
  int signal = 0;
  bool timed_out = false;
  long max_rss_kib = 0;
  double seconds = 0;
  std::string out, err;
};

// kiln's peak RSS so far (VmHWM), once the child has become kiln (exec done); 0 before.
long kiln_peak_rss_kib(const std::string& status_path) {
  std::string status = kiln::test::read_file(status_path);
  if (status.find("Name:\tkiln\n") == std::string::npos) return 0;
  size_t at = status.find("VmHWM:");
  return at == std::string::npos ? 0 : std::strtol(status.c_str() + at + 6, nullptr, 10);
}

// Runs kiln under the limits: its own process group, RLIMIT_AS, no core files, and
// SIGKILL to the group at the wall-clock limit. The peak RSS is polled from
// /proc/PID/status every few milliseconds (wait4's ru_maxrss counts the RSS the child
// inherited from this process at fork).
Limited run_limited(const std::vector<std::string>& arguments, const TempDir& dir) {
  std::vector<std::string> args = {KILN_BINARY};
  args.insert(args.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = kiln::test::kiln_test_environment();
  for (char** e = environ; *e; ++e) env_strings.push_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string out_path = dir.file("limited.out"), err_path = dir.file("limited.err");

  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls until execve
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    rlimit core{0, 0};
    ::setrlimit(RLIMIT_CORE, &core);
    if (!kSanitized) {
      rlimit address_space{kAddressSpaceBytes, kAddressSpaceBytes};
      ::setrlimit(RLIMIT_AS, &address_space);
    }
    ::execve(KILN_BINARY, argv.data(), envp.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  Limited result;
  int status = 0;
  rusage usage{};  // its ru_maxrss would include this (large) process's RSS at fork()
  auto deadline = start + std::chrono::seconds(kWallSeconds);
  std::string status_path = "/proc/" + std::to_string(pid) + "/status";
  while (true) {
    result.max_rss_kib = std::max(result.max_rss_kib, kiln_peak_rss_kib(status_path));
    pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (!result.timed_out && std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(-pid, SIGKILL);  // anything kiln left in its group
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = 128 + result.signal;
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = kiln::test::read_file(out_path);
  result.err = kiln::test::read_file(err_path);
  return result;
}

std::string shown(const Limited& r) {
  std::ostringstream s;
  s << "exit " << r.exit_code << (r.timed_out ? " (timed out)" : "") << ", " << r.seconds << " s, peak RSS "
    << r.max_rss_kib / 1024 << " MiB\nstderr (first 3000 bytes):\n"
    << r.err.substr(0, 3000);
  return s.str();
}

// The largest peak RSS and the longest run seen by the current test case (reported).
struct Peaks {
  long rss_kib = 0;
  double seconds = 0;
  std::string rss_label, seconds_label;
  void report_and_reset() {
    MESSAGE("peak RSS " << rss_kib / 1024 << " MiB (" << rss_label << "), longest " << seconds << " s ("
                        << seconds_label << ")");
    *this = {};
  }
};
Peaks peaks;

// Checks that hold for every invocation: no signal, no timeout, bounded memory, no
// internal error or sanitizer report.
void check_bounded(const Limited& r, const std::string& label) {
  if (r.max_rss_kib > peaks.rss_kib) peaks.rss_kib = r.max_rss_kib, peaks.rss_label = label;
  if (r.seconds > peaks.seconds) peaks.seconds = r.seconds, peaks.seconds_label = label;
  INFO(shown(r));
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK(r.exit_code < 128);
  CHECK(r.max_rss_kib <= kMaxRssKib);
  CHECK(r.err.find("internal error") == std::string::npos);
  CHECK(r.err.find("terminate called") == std::string::npos);
  CHECK(r.err.find("Sanitizer") == std::string::npos);
  CHECK(r.err.find("runtime error:") == std::string::npos);
}

// A FILE:LINE[:COL]: error: line for `path`.
bool has_located_error(const std::string& err, const std::string& path) {
  std::regex located("(^|\n)" + std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                     R"(:[0-9]+(:[0-9]+)?: error: )");
  return std::regex_search(err, located);
}

struct BadCase {
  BadCase(std::string name_, std::string content_, int exit_code_ = 3, std::string message_ = "",
          std::string location_ = "", int run_exit_code_ = -1)
      : name(std::move(name_)),
        content(std::move(content_)),
        exit_code(exit_code_),
        message(std::move(message_)),
        location(std::move(location_)),
        run_exit_code(run_exit_code_ < 0 ? exit_code_ : run_exit_code_) {}
  std::string name;
  std::string content;
  int exit_code;         // 3, or 0 for a valid document
  std::string message;   // part of the expected error (or warning, for a valid one; "" = any)
  std::string location;  // "LINE:COL" (or "LINE") the error (or warning) names ("" = any)
  int run_exit_code;     // what `kiln run` gives (a valid document's script may fail: 1)
};

// Runs `kiln validate` and `kiln run` on the case and checks both.
void check_case(const BadCase& c) {
  TempDir dir;
  std::string path = dir.write("doc.yml", c.content);
  for (const char* command : {"validate", "run"}) {
    std::vector<std::string> args = {command, "--documents", path};
    if (std::string(command) == "run") args.insert(args.end(), {"--log-directory", dir.file("logs")});
    Limited r = run_limited(args, dir);
    INFO("case '" << c.name << "', kiln " << command);
    check_bounded(r, c.name + " (" + command + ")");
    INFO(shown(r));
    CHECK(r.exit_code == (std::string(command) == "run" ? c.run_exit_code : c.exit_code));
    if (c.exit_code == 3) {
      CHECK(has_located_error(r.err, path));
      if (!c.message.empty()) CHECK(r.err.find(c.message) != std::string::npos);
      if (!c.location.empty()) CHECK(r.err.find(path + ":" + c.location + ": error: ") != std::string::npos);
    } else if (!c.location.empty()) {
      CHECK(r.err.find(path + ":" + c.location + ": warning: " + c.message) != std::string::npos);
    }
  }
}

// A document that uses most of the format: parameters, constants, a loop, a condition,
// quoted and block scalars, flow and block lists. Valid; every step succeeds.
const std::string kRich =
    "name: Rich\n"
    "description: \"A document with a bit of everything\"\n"
    "schemaVersion: 1.0\n"
    "parameters:\n"
    "  - Greeting:\n"
    "      type: string\n"
    "      default: 'Hello'\n"
    "constants:\n"
    "  - Target:\n"
    "      type: string\n"
    "      value: world\n"
    "phases:\n"
    "  - name: build\n"
    "    steps:\n"
    "      - name: Say\n"
    "        action: ExecuteBash\n"
    "        timeoutSeconds: 60\n"
    "        onFailure: Abort\n"
    "        maxAttempts: 2\n"
    "        inputs:\n"
    "          commands:\n"
    "            - |\n"
    "              echo \"{{ Greeting }}, {{ Target }}\"\n"
    "              echo done\n"
    "      - name: Each\n"
    "        action: ExecuteBash\n"
    "        loop:\n"
    "          name: items\n"
    "          forEach: [a, \"b\", 'c']\n"
    "        if:\n"
    "          stringEquals: '{{ build.Say.outputs.stdout }}'\n"
    "          value: \"Hello, world\\ndone\"\n"
    "        inputs:\n"
    "          commands: [\"echo {{ items.value }}\"]\n"
    "  - name: validate\n"
    "    steps:\n"
    "      - name: Check\n"
    "        action: Assert\n"
    "        inputs:\n"
    "          numberLessThan: 2\n"
    "          value: 1\n";

// A small valid document; `extra` lines are added to its one step.
std::string one_step(const std::string& extra = "", const std::string& action = "ExecuteBash",
                     const std::string& inputs = "          commands:\n            - echo hello\n") {
  return "schemaVersion: 1.0\n"
         "phases:\n"
         "  - name: build\n"
         "    steps:\n"
         "      - name: Hello\n"
         "        action: " +
         action + "\n" + extra + "        inputs:\n" + inputs;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

std::vector<BadCase> encoding_cases() {
  std::string base = one_step();
  std::vector<BadCase> cases;
  cases.push_back({"NUL byte in a value", replace_all(base, "name: build", "name: bu\0ild"s), 3,
                   "the document contains a NUL byte", "3:13"});
  cases.push_back({"NUL byte at the end", base + "\0"s, 3, "NUL byte", "10:1"});
  cases.push_back({"escaped NUL in a quoted value", replace_all(base, "echo hello", "\"echo \\0 hello\""), 3,
                   "NUL character", "9:15"});
  cases.push_back({"escaped code point past U+10FFFF", replace_all(base, "echo hello", "\"echo \\U00110000\""), 3,
                   "", ""});
  // Invalid UTF-8, each on line 9 at column 20 ("            - echo " is 19 bytes).
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"Latin-1 byte", "\xE9"},
           {"lone continuation byte", "\x80"},
           {"overlong slash", "\xC0\xAF"},
           {"overlong 3-byte", "\xE0\x80\xAF"},
           {"UTF-16 surrogate", "\xED\xA0\x80"},
           {"past U+10FFFF", "\xF4\x90\x80\x80"},
           {"F5 lead byte", "\xF5\x80\x80\x80"},
           {"2-byte lead then ASCII", "\xC3("},
       })
    cases.push_back({"invalid UTF-8: " + name, replace_all(base, "echo hello", "echo " + bytes), 3,
                     "not valid UTF-8", "9:20"});
  cases.push_back({"sequence cut at the end of the file", base + "# \xE2\x82", 3, "not valid UTF-8", "10:3"});
  cases.push_back({"UTF-8 BOM", "\xEF\xBB\xBF" + base, 0});
  cases.push_back({"CRLF line ends", replace_all(base, "\n", "\r\n"), 0});
  cases.push_back({"BOM and CRLF with a block scalar", "\xEF\xBB\xBF" + replace_all(kRich, "\n", "\r\n"), 0});
  cases.push_back({"CRLF with an error on line 6", replace_all(replace_all(base, "ExecuteBash", "ExecuteBsh"), "\n", "\r\n"),
                   3, "unknown action 'ExecuteBsh'", "6:17"});
  cases.push_back({"valid non-ASCII text", replace_all(base, "echo hello", "echo 'héllo wörld ✓ 𝄞'"), 0});
  return cases;
}

std::vector<BadCase> whitespace_cases() {
  std::string base = one_step();
  std::vector<BadCase> cases;
  cases.push_back({"tab indentation", replace_all(base, "      - name: Hello", "\t- name: Hello"), 3,
                   "indent with spaces"});
  cases.push_back({"tab before a list item", replace_all(base, "            - echo", "\t\t\t- echo"), 3,
                   "indent with spaces"});
  cases.push_back({"tab inside a value", replace_all(base, "echo hello", "echo\thello"), 0});
  cases.push_back({"tab after a value", replace_all(base, "action: ExecuteBash", "action: ExecuteBash\t"), 0});
  cases.push_back({"tab before a comment", replace_all(base, "action: ExecuteBash", "action: ExecuteBash\t# run"), 0});
  cases.push_back({"tab inside a block scalar", replace_all(kRich, "echo done", "\techo done"), 0});
  cases.push_back({"empty document", "", 3, "must be a mapping", "1:1"});
  cases.push_back({"only whitespace", " \n\t\n   \n", 3, "", ""});
  cases.push_back({"only a comment", "# nothing here\n", 3, "must be a mapping", "1:1"});
  cases.push_back({"lone CR line ends", replace_all(base, "\n", "\r"), 3, "", ""});
  return cases;
}

std::vector<BadCase> truncation_cases() {
  std::vector<BadCase> cases;
  auto cut_after = [&](const std::string& marker) {
    size_t at = kRich.find(marker);
    REQUIRE(at != std::string::npos);
    return kRich.substr(0, at + marker.size());
  };
  cases.push_back({"cut inside a double-quoted value", cut_after("description: \"A document"), 3, "never closed", "2:14"});
  cases.push_back({"cut inside a single-quoted value", cut_after("default: 'Hel"), 3, "", "7:16"});
  cases.push_back({"cut inside a flow list", cut_after("forEach: [a, \"b\""), 3, "YAML syntax error", ""});
  cases.push_back({"cut inside an action name", cut_after("action: Execute"), 3, "unknown action 'Execute'", "16:17"});
  cases.push_back({"cut after steps:", cut_after("  - name: build\n    steps:"), 3, "'steps' must be a list", ""});
  cases.push_back({"cut after a key", cut_after("      - name: Say\n        action:"), 3, "", ""});
  cases.push_back({"cut after inputs:", cut_after("maxAttempts: 2\n        inputs:"), 3, "", ""});
  // AWSTOE keeps a '{{' never closed as written, and so does kiln, with a warning; the
  // script, cut inside a quote, then fails in bash.
  cases.push_back({"cut inside an expression", cut_after("{{ Greet"), 0, "'{{' is never closed", "23:21", 1});
  cases.push_back({"cut after the first line", cut_after("name: Rich\n"), 3, "", ""});
  return cases;
}

std::vector<BadCase> size_and_nesting_cases() {
  std::vector<BadCase> cases;
  // 50 MB: refused by size, before parsing.
  std::string big = one_step();
  big.reserve(50 * 1024 * 1024 + 100);
  while (big.size() < 50 * 1024 * 1024) big += "            - echo some words to fill the document up\n";
  cases.push_back({"50 MB document", big, 3, "the limit is 16777216", "1:1"});
  // 10,000-deep nesting, written four ways.
  const int depth = 10'000;
  cases.push_back({"10,000-deep flow lists", "a: " + std::string(depth, '[') + std::string(depth, ']') + "\n", 3, "", ""});
  std::string flow_maps = "a: ";
  for (int i = 0; i < depth; ++i) flow_maps += "{a: ";
  flow_maps += "1" + std::string(depth, '}') + "\n";
  cases.push_back({"10,000-deep flow maps", flow_maps, 3, "", ""});
  std::string block_maps;
  for (int i = 0; i < depth; ++i) block_maps += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  cases.push_back({"10,000-deep block maps", block_maps, 3, "", ""});
  std::string block_lists;
  for (int i = 0; i < depth; ++i) block_lists += "- ";
  cases.push_back({"10,000-deep block lists", block_lists + "x\n", 3, "", ""});
  // 300 levels inside inputs: past the 256-level limit.
  cases.push_back({"300-deep list in commands",
                   one_step("", "ExecuteBash", "          commands: " + std::string(300, '[') + "echo" + std::string(300, ']') + "\n"),
                   3, "nests deeper than 256 levels", ""});
  // 200 levels of not: in an if (under the nesting limit, past the 4 logical levels).
  std::string condition;
  for (int i = 0; i < 200; ++i) condition += "{not: ";
  condition += "{stringIsEmpty: ''}" + std::string(200, '}');
  cases.push_back({"200 nested not:", one_step("        if: " + condition + "\n"), 3, "nested", ""});
  // Alias bombs.
  std::string laughs = "schemaVersion: 1.0\nphases: []\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 9; ++k) laughs += ", " + prev;
    laughs += "]\n";
  }
  cases.push_back({"billion laughs", laughs, 3, "values after expanding aliases", ""});
  std::string long_string = "x: &x \"" + std::string(1024 * 1024, 'x') + "\"\ny: [";
  for (int i = 0; i < 100; ++i) long_string += std::string(i ? ", " : "") + "*x";
  cases.push_back({"100 aliases of a 1 MiB string", long_string + "]\n", 3, "bytes of text after expanding aliases", ""});
  cases.push_back({"alias bomb inside inputs",
                   "schemaVersion: 1.0\nx: &x [" + std::string("echo, echo, echo, echo, echo, echo, echo, echo]\n") +
                       "y: &y [*x, *x, *x, *x, *x, *x, *x, *x]\nz: &z [*y, *y, *y, *y, *y, *y, *y, *y]\n" +
                       "w: &w [*z, *z, *z, *z, *z, *z, *z, *z]\nv: &v [*w, *w, *w, *w, *w, *w, *w, *w]\n"
                       "phases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n"
                       "        inputs:\n          commands: *v\n",
                   3, "", ""});
  cases.push_back({"undefined alias", "schemaVersion: 1.0\nphases: *nowhere\n", 3, "", "2:9"});
  cases.push_back({"merge key", "base: &base {name: build}\nschemaVersion: 1.0\nphases:\n  - <<: *base\n    steps: []\n", 3,
                   "", ""});
  return cases;
}

std::vector<BadCase> number_cases() {
  std::vector<BadCase> cases;
  for (std::string n : {"99999999999999999999999", "-99999999999999999999999", "1e400", "0o777777777777777777777777"})
    cases.push_back({"timeoutSeconds: " + n, one_step("        timeoutSeconds: " + n + "\n"), 3, "a number out of range",
                     "7:25"});
  cases.push_back({"timeoutSeconds: 2^64-1", one_step("        timeoutSeconds: 18446744073709551615\n"), 3,
                   "is too large", "7:25"});
  cases.push_back({"timeoutSeconds: 2^63-1", one_step("        timeoutSeconds: 9223372036854775807\n"), 3,
                   "is too large", "7:25"});
  cases.push_back({"timeoutSeconds: 0x7fffffffffffffff", one_step("        timeoutSeconds: 0x7fffffffffffffff\n"), 3,
                   "is too large", "7:25"});
  cases.push_back({"timeoutSeconds: -2^63", one_step("        timeoutSeconds: -9223372036854775808\n"), 3,
                   "positive number of seconds or -1", "7:25"});
  cases.push_back({"timeoutSeconds: 2^31-1", one_step("        timeoutSeconds: 2147483647\n"), 0});
  cases.push_back({"maxAttempts: 2^64-1", one_step("        maxAttempts: 18446744073709551615\n"), 3, "is too large",
                   "7:22"});
  cases.push_back({"maxAttempts: 1.5", one_step("        maxAttempts: 1.5\n"), 3, "must be an integer", "7:22"});
  auto loop = [](const std::string& start, const std::string& end, const std::string& by) {
    return one_step("        loop:\n          for:\n            start: " + start + "\n            end: " + end +
                    "\n            updateBy: " + by + "\n");
  };
  cases.push_back({"loop over the whole int64 range", loop("-9223372036854775808", "9223372036854775807", "1"), 3,
                   "more than 1,000,000 iterations", ""});
  cases.push_back({"loop counting down over int64", loop("9223372036854775807", "-9223372036854775808", "-1"), 3,
                   "more than 1,000,000 iterations", ""});
  cases.push_back({"loop with updateBy -2^63", loop("9223372036854775807", "-9223372036854775808", "-9223372036854775808"), 0});
  cases.push_back({"loop stepping past int64", loop("9223372036854775806", "9223372036854775807", "9223372036854775807"), 0});
  cases.push_back({"loop end past int64", loop("1", "18446744073709551615", "1"), 3, "is too large", "10:18"});
  cases.push_back({"loop start 1e400", loop("1e400", "2", "1"), 3, "a number out of range", "9:20"});
  cases.push_back({"Assert on 400-digit numbers",
                   one_step("", "Assert", "          numberLessThan: 1" + std::string(400, '0') + "\n          value: 9" +
                                              std::string(399, '9') + "\n"),
                   0});
  return cases;
}

// Values of the wrong type at every level. Plain scalars (5, true) stand for strings where
// strings are expected (docs/DECISIONS.md, "Plain scalars"), so those are valid.
std::vector<BadCase> wrong_type_cases() {
  std::vector<BadCase> cases;
  std::string tail = "phases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n"
                     "        inputs:\n          commands: [echo]\n";
  // The top level.
  for (std::string root : {"- a\n- b\n", "hello\n", "42\n", "~\n", "[1, 2]\n", "\"quoted\"\n"})
    cases.push_back({"root: " + root, root, 3, "must be a mapping with schemaVersion and phases", "1:1"});
  for (const auto& [value, what] : std::vector<std::pair<std::string, std::string>>{
           {"[1.0]", "a list"}, {"{a: 1}", "a map"}, {"~", "empty"}})
    cases.push_back({"schemaVersion: " + value, "schemaVersion: " + value + "\n" + tail, 3,
                     "'schemaVersion' must be a string or a number, not " + what, value == "~" ? "1:1" : "1:16"});
  cases.push_back({"schemaVersion: true", "schemaVersion: true\n" + tail, 3, "schemaVersion true is not supported", "1:16"});
  for (const auto& [value, what] : std::vector<std::pair<std::string, std::string>>{
           {"{a: 1}", "a map"}, {"5", "an integer"}, {"true", "a boolean"}, {"\"build\"", "a string"}, {"~", "empty"}})
    cases.push_back({"phases: " + value, "schemaVersion: 1.0\nphases: " + value + "\n", 3,
                     "'phases' must be a list, not " + what, value == "~" ? "2:1" : "2:9"});
  for (std::string key : {"name", "description"})
    for (const auto& [value, what] : std::vector<std::pair<std::string, std::string>>{{"[a]", "a list"}, {"{a: b}", "a map"}})
      cases.push_back({key + ": " + value, key + ": " + value + "\nschemaVersion: 1.0\n" + tail, 3,
                       "'" + key + "' must be a string, not " + what, "1:" + std::to_string(key.size() + 3)});
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"\"x\"", "'parameters' must be a list, not a string"},
           {"{a: b}", "'parameters' must be a list, not a map"},
           {"[x]", "'parameters[0]' must be a map, not a string"},
           {"[[x]]", "'parameters[0]' must be a map, not a list"}})
    cases.push_back({"parameters: " + value, "schemaVersion: 1.0\nparameters: " + value + "\n" + tail, 3, message, ""});
  cases.push_back({"parameter default: a list",
                   "schemaVersion: 1.0\nparameters:\n  - P1x:\n      type: string\n      default: [a]\n" + tail, 3,
                   "'default' must be a string, not a list", "5:16"});
  cases.push_back({"constants: a map", "schemaVersion: 1.0\nconstants: {a: b}\n" + tail, 3,
                   "'constants' must be a list, not a map", "2:12"});
  // A phase.
  for (const auto& [value, what] : std::vector<std::pair<std::string, std::string>>{{"[a]", "a list"}, {"{a: b}", "a map"}})
    cases.push_back({"phase name: " + value,
                     "schemaVersion: 1.0\nphases:\n  - name: " + value + "\n    steps:\n      - name: S\n"
                     "        action: ExecuteBash\n        inputs:\n          commands: [echo]\n",
                     3, "'name' must be a string, not " + what, "3:11"});
  cases.push_back({"phase name: 5 (a plain scalar is text)",
                   "schemaVersion: 1.0\nphases:\n  - name: 5\n    steps:\n      - name: S\n"
                   "        action: ExecuteBash\n        inputs:\n          commands: [echo]\n",
                   0});
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"\"x\"", "'steps' must be a list, not a string"},
           {"{a: b}", "'steps' must be a list, not a map"},
           {"5", "'steps' must be a list, not an integer"},
           {"[x]", "'steps[0]' must be a map, not a string"},
           {"[[x]]", "'steps[0]' must be a map, not a list"}})
    cases.push_back({"steps: " + value, "schemaVersion: 1.0\nphases:\n  - name: build\n    steps: " + value + "\n", 3,
                     message, value[0] == '[' ? "4:13" : "4:12"});
  cases.push_back({"phase: a string", "schemaVersion: 1.0\nphases:\n  - build\n", 3,
                   "'phases[0]' must be a map, not a string", "3:5"});
  cases.push_back({"phase: a list", "schemaVersion: 1.0\nphases:\n  - [build]\n", 3,
                   "'phases[0]' must be a map, not a list", "3:5"});
  // A step.
  cases.push_back({"step name: a list", replace_all(one_step(), "name: Hello", "name: [a]"), 3,
                   "'name' must be a string, not a list", "5:15"});
  cases.push_back({"step name: empty", replace_all(one_step(), "name: Hello", "name:"), 3,
                   "'name' must be a string, not empty", "5:9"});
  cases.push_back({"action: a list", one_step("", "[ExecuteBash]"), 3, "'action' must be a string, not a list", "6:17"});
  cases.push_back({"action: a map", one_step("", "{a: b}"), 3, "'action' must be a string, not a map", "6:17"});
  cases.push_back({"action: 5", one_step("", "5"), 3, "unknown action '5'", "6:17"});
  struct StepField {
    std::string key, column;
  };
  for (const StepField& f : {StepField{"timeoutSeconds", "25"}, StepField{"maxAttempts", "22"}})
    for (const auto& [value, what] : std::vector<std::pair<std::string, std::string>>{
             {"\"60\"", "a string"}, {"[1]", "a list"}, {"{a: 1}", "a map"}, {"true", "a boolean"}, {"1.5", "a number"}})
      cases.push_back({f.key + ": " + value, one_step("        " + f.key + ": " + value + "\n"), 3,
                       "'" + f.key + "' must be an integer, not " + what, "7:" + f.column});
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"[Abort]", "'onFailure' must be a string, not a list"},
           {"{a: 1}", "'onFailure' must be a string, not a map"},
           {"true", "'onFailure' must be one of Abort, Continue or Ignore, not 'true'"},
           {"abort", "did you mean 'Abort'?"}})
    cases.push_back({"onFailure: " + value, one_step("        onFailure: " + value + "\n"), 3, message, "7:20"});
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"\"x\"", "'if' must be a map or a list, not a string"},
           {"true", "'if' must be a map or a list, not a boolean"},
           {"5", "'if' must be a map or a list, not an integer"},
           {"[1]", "a condition must be a mapping holding one operator, found number"},
           {"{a: 1}", "unknown key 'a'"},
           {"{stringEquals: [a], value: {b: c}}", "the operand must be a string, number or boolean, found array"}})
    cases.push_back({"if: " + value, one_step("        if: " + value + "\n"), 3, message, ""});
  // A loop.
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"\"x\"", "'loop' must be a map, not a string"},
           {"[1]", "'loop' must be a map, not a list"},
           {"5", "'loop' must be a map, not an integer"},
           {"{name: x}", "'loop' needs exactly one of for or forEach, found none"},
           {"{forEach: [a], for: {start: 1, end: 2, updateBy: 1}}", "'loop' needs exactly one of for or forEach, found 2"},
           {"{name: {a: b}, forEach: [a]}", "'name' must be a string, not a map"},
           {"{forEach: 5}", "'forEach' must be a list or a map, not an integer"},
           {"{forEach: true}", "'forEach' must be a list or a map, not a boolean"},
           {"{forEach: [[a]]}", "'forEach[0]' must be a string, not a list"},
           {"{forEach: [{a: b}]}", "'forEach[0]' must be a string, not a map"},
           {"{forEach: {list: [a]}}", "'list' must be a string, not a list"},
           {"{forEach: {list: 'a,b', delimiter: [x]}}", "'delimiter' must be a string, not a list"},
           {"{for: \"x\"}", "'for' must be a map, not a string"},
           {"{for: [1, 2]}", "'for' must be a map, not a list"},
           {"{for: {start: a, end: 2, updateBy: 1}}", "'start' must be an integer, not a string"},
           {"{for: {start: 1, end: [2], updateBy: 1}}", "'end' must be an integer, not a list"},
           {"{for: {start: 1, end: 2, updateBy: {}}}", "'updateBy' must be an integer, not a map"},
           {"{for: {start: 1, end: 2}}", "missing required key 'updateBy'"},
           {"{for: {start: 1.5, end: 2, updateBy: 1}}", "'start' must be an integer, not a number"}})
    cases.push_back({"loop: " + value, one_step("        loop: " + value + "\n"), 3, message, ""});
  // Inputs.
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"\"x\"", "'inputs' must be a map, a list or a null, not a string"},
           {"5", "'inputs' must be a map, a list or a null, not an integer"},
           {"true", "'inputs' must be a map, a list or a null, not a boolean"},
           {"[1]", "ExecuteBash inputs must be a map, not a list"},
           {"{a: 1}", "missing required key 'commands'"},
           {"~", "ExecuteBash step has empty 'inputs'"}})
    cases.push_back({"inputs: " + value,
                     "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: S\n"
                     "        action: ExecuteBash\n        inputs: " + value + "\n",
                     3, message, ""});
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"echo", "'commands' must be a list, not a string"},
           {"5", "'commands' must be a list, not an integer"},
           {"{a: b}", "'commands' must be a list, not a map"},
           {"~", "'commands' must be a list, not empty"},
           {"[]", "'commands' needs at least 1 item"},
           {"[[echo]]", "'commands[0]' must be a string, not a list"},
           {"[echo, {a: b}]", "'commands[1]' must be a string, not a map"},
           {"[~]", "'commands[0]' must be a string, not empty"}})
    cases.push_back({"commands: " + value, one_step("", "ExecuteBash", "          commands: " + value + "\n"), 3, message,
                     ""});
  cases.push_back({"commands: [true] (a plain scalar is text)",
                   one_step("", "ExecuteBash", "          commands: [true]\n"), 0});
  cases.push_back({"ExecuteBinary path: a list", one_step("", "ExecuteBinary", "          path: [x]\n"), 3,
                   "'path' must be a string, not a list", "8:17"});
  cases.push_back({"ExecuteBinary arguments: a string",
                   one_step("", "ExecuteBinary", "          path: /bin/true\n          arguments: x\n"), 3,
                   "'arguments' must be a list, not a string", "9:22"});
  cases.push_back({"ExecuteBinary arguments: a nested list",
                   one_step("", "ExecuteBinary", "          path: /bin/true\n          arguments: [[x]]\n"), 3,
                   "'arguments[0]' must be a string, not a list", "9:23"});
  cases.push_back({"Assert operand: a list", one_step("", "Assert", "          stringEquals: [x]\n          value: x\n"), 3,
                   "the operand must be a string, number or boolean, found array", "8:25"});
  cases.push_back({"Assert operand: empty", one_step("", "Assert", "          stringEquals:\n          value: x\n"), 3,
                   "found null", ""});
  cases.push_back({"CreateFile inputs: a map", one_step("", "CreateFile", "          path: /tmp/x\n"), 3,
                   "CreateFile inputs must be a list, not a map", "8:11"});
  cases.push_back({"CreateFile content: a list",
                   one_step("", "CreateFile", "          - path: /tmp/x\n            content: [x]\n"), 3,
                   "'content' must be a string, not a list", "9:22"});
  return cases;
}

void check_all(const std::vector<BadCase>& cases) {
  for (const auto& c : cases) {
    CAPTURE(c.name);
    check_case(c);
  }
  MESSAGE(cases.size() << " cases, each through kiln validate and kiln run");
  peaks.report_and_reset();
}

}  // namespace

TEST_CASE("bad input: encodings (NUL, invalid UTF-8, BOM, CRLF)") { check_all(encoding_cases()); }
TEST_CASE("bad input: tabs and whitespace") { check_all(whitespace_cases()); }
TEST_CASE("bad input: truncated documents") {
  check_all(truncation_cases());
  // Every 97th cut of the rich document: exit 0 or 3, a located error for 3.
  TempDir dir;
  for (size_t cut = 1; cut < kRich.size(); cut += 97) {
    std::string path = dir.write("cut.yml", kRich.substr(0, cut));
    Limited r = run_limited({"validate", "--documents", path}, dir);
    CAPTURE(cut);
    check_bounded(r, "cut at " + std::to_string(cut));
    CHECK((r.exit_code == 0 || r.exit_code == 3));
    if (r.exit_code == 3) CHECK(has_located_error(r.err, path));
  }
  peaks.report_and_reset();
}
TEST_CASE("bad input: binary garbage") {
  std::mt19937 random(20261127);
  std::vector<BadCase> cases;
  std::string bytes(4096, '\0');
  for (char& b : bytes) b = static_cast<char>(random() & 0xFF);
  cases.push_back({"4 KiB of random bytes", bytes, 3, "", ""});
  std::string printable(4096, ' ');
  for (char& b : printable) b = static_cast<char>(1 + random() % 127);
  cases.push_back({"4 KiB of random ASCII", printable, 3, "", ""});
  std::string binary = kiln::test::read_file(KILN_BINARY).substr(0, 4096);
  cases.push_back({"the kiln binary", binary, 3, "the document contains a NUL byte"});
  check_all(cases);
}
TEST_CASE("bad input: size, nesting and alias bombs") { check_all(size_and_nesting_cases()); }
TEST_CASE("bad input: huge numbers") { check_all(number_cases()); }
TEST_CASE("bad input: values of the wrong type") { check_all(wrong_type_cases()); }

// ~500 deterministic mutations of corpus documents through `kiln validate`: exit 0 or
// 3, never a signal or a timeout. The seed makes a failure reproducible.
TEST_CASE("bad input: 500 seeded mutations of corpus documents") {
  std::vector<std::string> documents;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(KILN_CORPUS_DIR) + "/docs"))
    documents.push_back(entry.path().string());
  std::sort(documents.begin(), documents.end());
  REQUIRE(documents.size() >= 100);
  std::mt19937 random(4242);
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(random() % n); };
  const std::vector<std::string> inserts = {"{{", "}}", "[", "]", "{", "}", "\t", "'", "\"", ": ", "- ", "&a ", "*a",
                                            "!!", "|", "%", "#", "\n", "\xEF\xBB\xBF", "\xFF", "\\", "{{ a.b.outputs.c }}"};
  TempDir dir;
  int exit0 = 0, exit3 = 0;
  for (int i = 0; i < 500; ++i) {
    const std::string& source = documents[pick(documents.size())];
    std::string text = kiln::test::read_file(source);
    int kind = static_cast<int>(random() % 6);
    switch (kind) {
      case 0:  // flip bytes
        for (int k = 0, n = 1 + static_cast<int>(random() % 4); k < n && !text.empty(); ++k)
          text[pick(text.size())] ^= static_cast<char>(1 << (random() % 8));
        break;
      case 1:  // truncate
        text.resize(pick(text.size()));
        break;
      case 2:  // insert a token
        text.insert(pick(text.size() + 1), inserts[pick(inserts.size())]);
        break;
      case 3: {  // duplicate a line
        size_t at = pick(text.size());
        size_t begin = text.rfind('\n', at);
        begin = begin == std::string::npos ? 0 : begin + 1;
        size_t end = text.find('\n', at);
        end = end == std::string::npos ? text.size() : end + 1;
        text.insert(begin, text.substr(begin, end - begin));
        break;
      }
      case 4: {  // replace indentation with a tab
        size_t at = text.find("\n  ", pick(text.size()));
        if (at != std::string::npos) text.replace(at + 1, 2, "\t");
        break;
      }
      default: {  // delete a span
        size_t at = pick(text.size());
        text.erase(at, pick(64));
        break;
      }
    }
    std::string path = dir.write("mutation-" + std::to_string(i) + ".yml", text);
    Limited r = run_limited({"validate", "--documents", path}, dir);
    INFO("mutation " << i << " (kind " << kind << ") of " << source);
    INFO(shown(r));
    check_bounded(r, "mutation " + std::to_string(i));
    CHECK((r.exit_code == 0 || r.exit_code == 3));
    if (r.exit_code == 3) CHECK(has_located_error(r.err, path));
    exit0 += r.exit_code == 0;
    exit3 += r.exit_code == 3;
    std::filesystem::remove(path);
  }
  MESSAGE("mutations: " << exit0 << " valid, " << exit3 << " refused");
  peaks.report_and_reset();
}
