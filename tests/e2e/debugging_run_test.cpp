// Debugging one component (docs/debugging.md), through the real binary with real bash:
// --dry-run, --steps, --start-at, --outputs-from and the re-run command printed at the
// end of a failed run. The oracle is what the steps write themselves (a ledger file, a
// target file), what strace saw kiln start, and which files exist afterwards; never
// kiln's own journal or summary.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/base/text.h"
#include "agent/sys/process.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::RunResult;
using kiln::test::TempDir;

// Runs any program (strace, bash) with the environment run_kiln gives kiln.
RunResult run_program(const std::string& executable, const std::vector<std::string>& arguments,
                      const std::string& working_directory = "") {
  kiln::sys::ProcessSpec spec;
  spec.executable = executable;
  spec.arguments = arguments;
  spec.working_directory = working_directory;
  spec.extra_environment = kiln::test::kiln_test_environment();
  spec.timeout = std::chrono::milliseconds(120'000);
  RunResult result;
  kiln::sys::ProcessResult r = kiln::sys::run_process(spec, [&](kiln::sys::OutputStream s, std::string_view chunk) {
    (s == kiln::sys::OutputStream::Stdout ? result.out : result.err).append(chunk);
  });
  result.exit_code = r.signal ? 128 + r.signal : r.exit_code;
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string last_line(const std::string& text) {
  std::vector<std::string> lines = lines_of(text);
  return lines.empty() ? "" : lines.back();
}

bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

// kiln run with its own log and state folders (absent until kiln makes them).
std::vector<std::string> run_args(const TempDir& dir, const std::string& documents, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "run", "--documents", documents, "--log-directory", dir.file("logs"), "--state-directory", dir.file("state")};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Three steps that each append their name to the ledger.
std::string ledger_doc(const TempDir& dir, const std::string& name = "doc.yml") {
  std::string ledger = dir.file("ledger");
  return dir.write(name, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: A
        action: ExecuteBash
        inputs:
          commands: ["echo A >> )" +
                             ledger + R"("]
      - name: B
        action: ExecuteBash
        inputs:
          commands: ["echo B >> )" +
                             ledger + R"("]
  - name: test
    steps:
      - name: C
        action: ExecuteBash
        inputs:
          commands: ["echo C >> )" +
                             ledger + R"("]
)");
}

}  // namespace

TEST_CASE("debugging: --dry-run resolves and prints the plan, and starts no process and writes nothing") {
  TempDir dir;
  std::string target = dir.file("target.txt");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
name: DryRunDemo
parameters:
  - Greeting:
      type: string
      default: hello
  - Password:
      type: string
      secret: true
constants:
  - Folder:
      type: string
      value: /opt/demo
phases:
  - name: build
    steps:
      - name: Write
        action: ExecuteBash
        timeoutSeconds: 30
        maxAttempts: 3
        onFailure: Continue
        inputs:
          commands:
            - "echo {{ Greeting }} from {{ env:KILN_DRY_RUN_USER }} > )" +
                                             target + R"("
            - "echo pw={{ Password }} in {{ Folder }}"
      - name: Each
        action: ExecuteBash
        loop:
          forEach: ["x-{{ Greeting }}", "y"]
        inputs:
          commands: ["touch )" + target + R"(.{{ loop.value }}"]
      - name: Maybe
        action: ExecuteBash
        if:
          stringEquals: "{{ Greeting }}"
          value: bye
        inputs:
          commands: ["touch )" + target + R"(.maybe"]
      - name: Later
        action: ExecuteBash
        inputs:
          commands: ["echo '{{ build.Write.outputs.stdout }}' {{ aws:ssm:/demo/param }} > )" +
                                             target + R"(.later"]
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["cat )" + target + R"("]
)");
  // In the sanitizer build: LeakSanitizer cannot run under ptrace, and a log_path makes the
  // runtime itself create a folder; both are left out here, reports go to stderr instead.
  auto sanitizer_options = [](const char* name, const std::string& extra) {
    const char* given = std::getenv(name);
    std::string kept;
    for (const std::string& option : kiln::split_nonempty(given ? given : "", ':'))
      if (option.rfind("log_path=", 0) != 0) kept += option + ":";
    return std::string(name) + "=" + kept + extra;
  };
  std::vector<std::string> args = {
      "-E",
      sanitizer_options("ASAN_OPTIONS", "detect_leaks=0"),
      "-E",
      sanitizer_options("UBSAN_OPTIONS", "print_summary=1"),
      "-f",
      "-qq",
      "-e",
      "trace=execve,clone,clone3,fork,vfork,socket,connect,openat,open,creat,mkdir,mkdirat,unlink,unlinkat,rename,"
      "renameat,renameat2,truncate,ftruncate",
      "-o",
      dir.file("trace"),
      KILN_BINARY};
  for (const auto& a : run_args(dir, doc, {"--dry-run", "--parameters", "Password=s3cr3t-value", "--phases", "build"}))
    args.push_back(a);
  RunResult run = run_program("/usr/bin/strace", args);
  INFO("exit " << run.exit_code << "\nstdout:\n" << run.out << "\nstderr:\n" << run.err);
  REQUIRE(run.exit_code == 0);
  // Resolved now: parameters, constants, env:, the loop list, the if.
  CHECK(run.out.find("Document " + doc + " (DryRunDemo)") != std::string::npos);
  CHECK(run.out.find("[run]  build.Write (ExecuteBash)  timeout 30 s, maxAttempts 3, onFailure Continue") !=
        std::string::npos);
  CHECK(run.out.find("echo hello from  > " + target) != std::string::npos);  // env: unset here reads as ""
  CHECK(run.out.find("pw=**** in /opt/demo") != std::string::npos);
  CHECK(run.out.find("s3cr3t-value") == std::string::npos);
  CHECK(run.out.find("loop: 2 iterations") != std::string::npos);
  CHECK(run.out.find("touch " + target + ".x-hello") != std::string::npos);
  CHECK(run.out.find("if: false -> Skip") != std::string::npos);
  // Known only at run time: shown as written.
  CHECK(run.out.find("at run time: {{ build.Write.outputs.stdout }}") != std::string::npos);
  CHECK(run.out.find("at run time: {{ aws:ssm:/demo/param }}") != std::string::npos);
  CHECK(run.out.find("Phase test  left out by --phases") != std::string::npos);
  // Nothing ran and nothing was written.
  CHECK_FALSE(exists(target));
  CHECK_FALSE(exists(target + ".x-hello"));
  CHECK_FALSE(exists(dir.file("logs")));
  CHECK_FALSE(exists(dir.file("state")));
  std::vector<std::string> calls = lines_of(read_file(dir.file("trace")));
  INFO("strace:\n" << read_file(dir.file("trace")));
  REQUIRE(calls.size() >= 1);
  int execs = 0, forks = 0, writes = 0, network = 0;
  auto has = [](const std::string& call, const char* what) { return call.find(what) != std::string::npos; };
  // "PID name(args...": the system call's name, so a path holding "clone" is not a clone.
  auto syscall_of = [](const std::string& call) {
    size_t start = call.find_first_not_of("0123456789 ");
    if (start == std::string::npos) return std::string();
    return call.substr(start, call.find('(', start) - start);
  };
  for (const auto& call : calls) {
    std::string name = syscall_of(call);
    if (name == "execve") ++execs;
    if (name == "clone" || name == "clone3" || name == "fork" || name == "vfork") ++forks;
    // A file opened for writing, created, removed or renamed, anywhere.
    bool opens = name == "open" || name == "openat";
    if ((opens && (has(call, "O_WRONLY") || has(call, "O_RDWR") || has(call, "O_CREAT"))) || name == "creat" ||
        name.rfind("mkdir", 0) == 0 || name.rfind("unlink", 0) == 0 || name.rfind("rename", 0) == 0 ||
        name == "truncate" || name == "ftruncate")
      ++writes;
    if (name == "socket" || name == "connect") ++network;
  }
  CHECK(execs == 1);  // kiln itself, started by strace
  CHECK(forks == 0);
  CHECK(writes == 0);
  CHECK(network == 0);
  CHECK(calls.front().find("execve(\"" KILN_BINARY "\"") != std::string::npos);
}

TEST_CASE("debugging: --dry-run masks a secret in the step's values, not in the plan's own keys") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
parameters:
  - Key:
      type: string
      secret: true
phases:
  - name: build
    steps:
      - name: UseKey
        action: ExecuteBash
        maxAttempts: 2
        inputs:
          commands: ["echo key={{ Key }}"]
)");
  // "e" is in "maxAttempts", "timeoutSeconds" and "name": the plan must keep them.
  auto run = kiln::test::run_kiln(run_args(dir, doc, {"--dry-run", "--format", "json", "--parameters", "Key=e"}));
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  nlohmann::json plan = nlohmann::json::parse(run.out, nullptr, false);
  REQUIRE(plan.is_object());
  const auto& step = plan["documents"][0]["phases"][0]["steps"][0];
  CHECK(step["maxAttempts"] == 2);
  CHECK(step["name"] == "UseKey");
  CHECK(step["inputs"]["commands"][0] == "****cho k****y=****");
}

TEST_CASE("debugging: --dry-run --format json, a selection in the plan, and an invalid document exits 3") {
  TempDir dir;
  std::string doc = ledger_doc(dir);
  auto run = kiln::test::run_kiln(run_args(dir, doc, {"--dry-run", "--format", "json", "--steps", "B"}));
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  nlohmann::json plan = nlohmann::json::parse(run.out, nullptr, false);
  REQUIRE(plan.is_object());
  CHECK(plan["stepsToRun"] == 1);
  CHECK(plan["stepsLeftOut"] == 2);
  const auto& steps = plan["documents"][0]["phases"][0]["steps"];
  CHECK(steps[0]["runs"] == false);
  CHECK(steps[0]["leftOutBy"] == "--steps");
  CHECK(steps[1]["runs"] == true);
  CHECK(steps[1]["inputs"]["commands"][0] == "echo B >> " + dir.file("ledger"));
  CHECK_FALSE(exists(dir.file("ledger")));

  std::string bad = dir.write("bad.yml",
                              "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                              "      - name: X\n        action: ExecuteBash\n        timeoutSecond: 3\n"
                              "        inputs: {commands: [\"true\"]}\n");
  auto invalid = kiln::test::run_kiln(run_args(dir, bad, {"--dry-run"}));
  CHECK(invalid.exit_code == 3);
  CHECK(invalid.err.find("bad.yml:7:9") != std::string::npos);
  CHECK_FALSE(exists(dir.file("logs")));
}

TEST_CASE("debugging: --steps runs only the named steps; the others are reported skipped") {
  TempDir dir;
  std::string doc = ledger_doc(dir);
  auto run = kiln::test::run_kiln(run_args(dir, doc, {"--steps", "test.C,B"}));
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(read_file(dir.file("ledger")) == "B\nC\n");
  nlohmann::json detailed = kiln::test::read_detailed_output(dir.file("logs"));
  CHECK(kiln::test::find_step(detailed, "A")["status"] == "skipped");
  CHECK(kiln::test::find_step(detailed, "A")["skipReason"] == "not selected (--steps)");
  CHECK(kiln::test::find_step(detailed, "B")["status"] == "success");
}

TEST_CASE("debugging: --steps and --start-at refuse unknown and ambiguous names before anything runs") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: Setup, action: ExecuteBash, inputs: {commands: ["echo build >> )" +
                                             dir.file("ledger") + R"("]}}
  - name: test
    steps:
      - {name: Setup, action: ExecuteBash, inputs: {commands: ["echo test >> )" +
                                             dir.file("ledger") + R"("]}}
      - {name: Verify, action: ExecuteBash, inputs: {commands: ["echo verify >> )" +
                                             dir.file("ledger") + R"("]}}
)");
  auto ambiguous = kiln::test::run_kiln(run_args(dir, doc, {"--steps", "Setup"}));
  CHECK(ambiguous.exit_code == 2);
  CHECK(ambiguous.err.find("--steps 'Setup' is ambiguous: it names build.Setup and test.Setup; name one as "
                           "PHASE.NAME") != std::string::npos);
  auto typo = kiln::test::run_kiln(run_args(dir, doc, {"--steps", "test.Verfy"}));
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("no step 'test.Verfy' in the documents; did you mean 'test.Verify'?") != std::string::npos);
  auto start = kiln::test::run_kiln(run_args(dir, doc, {"--start-at", "tset.Verify"}));
  CHECK(start.exit_code == 2);
  CHECK(start.err.find("did you mean 'test.Verify'?") != std::string::npos);
  auto phase = kiln::test::run_kiln(run_args(dir, doc, {"--steps", "test.Verify", "--phases", "build"}));
  CHECK(phase.exit_code == 2);
  CHECK(phase.err.find("its phase 'test' is not among --phases") != std::string::npos);
  auto both = kiln::test::run_kiln(run_args(dir, doc, {"--steps", "test.Verify", "--start-at", "test.Setup"}));
  CHECK(both.exit_code == 2);
  auto not_run = kiln::test::run_kiln({"validate", "--documents", doc, "--steps", "test.Verify"});
  CHECK(not_run.exit_code == 2);
  CHECK_FALSE(exists(dir.file("ledger")));
  CHECK_FALSE(exists(dir.file("logs")));
}

TEST_CASE("debugging: --start-at starts in the first document that has the step; --phases still applies") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  auto doc = [&](const std::string& name, const std::string& tag) {
    return dir.write(name, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: First, action: ExecuteBash, inputs: {commands: ["echo )" +
                               tag + R"(.First >> )" + ledger + R"("]}}
      - {name: Second, action: ExecuteBash, inputs: {commands: ["echo )" +
                               tag + R"(.Second >> )" + ledger + R"("]}}
  - name: test
    steps:
      - {name: Third, action: ExecuteBash, inputs: {commands: ["echo )" +
                               tag + R"(.Third >> )" + ledger + R"("]}}
)");
  };
  std::string documents = doc("one.yml", "one") + "," + doc("two.yml", "two");
  auto run = kiln::test::run_kiln(run_args(dir, documents, {"--start-at", "build.Second"}));
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(read_file(ledger) == "one.Second\none.Third\ntwo.First\ntwo.Second\ntwo.Third\n");
  std::filesystem::remove(ledger);
  std::filesystem::remove_all(dir.file("logs"));
  auto phases = kiln::test::run_kiln(run_args(dir, documents, {"--start-at", "build.Second", "--phases", "build"}));
  CHECK(phases.exit_code == 0);
  CHECK(read_file(ledger) == "one.Second\ntwo.First\ntwo.Second\n");
}

TEST_CASE("debugging: a selected step chaining to a step that does not run is refused at the reference") {
  TempDir dir;
  std::string ledger = dir.file("ledger");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Produce
        action: ExecuteBash
        inputs:
          commands: ["echo produced >> )" + ledger +
                                             R"(; echo value-123"]
      - name: Consume
        action: ExecuteBash
        inputs:
          commands: ["echo consumed {{ build.Produce.outputs.stdout }} >> )" +
                                             ledger + R"("]
)");
  auto refused = kiln::test::run_kiln(run_args(dir, doc, {"--steps", "build.Consume"}));
  INFO(refused.err);
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find(doc + ":12:37: error: step build.Consume uses '{{ build.Produce.outputs.stdout }}', but "
                               "build.Produce does not run (--steps leaves it out)") != std::string::npos);
  CHECK(refused.err.find("--outputs-from EXECUTION_ID") != std::string::npos);
  CHECK_FALSE(exists(ledger));
  CHECK_FALSE(exists(dir.file("logs")));

  // --outputs-from an execution where Produce ran: Consume reads its output from there.
  auto whole = kiln::test::run_kiln(run_args(dir, doc, {"--execution-id", "first"}));
  REQUIRE(whole.exit_code == 0);
  REQUIRE(read_file(ledger) == "produced\nconsumed value-123\n");
  auto borrowed = kiln::test::run_kiln(
      run_args(dir, doc, {"--execution-id", "second", "--steps", "build.Consume", "--outputs-from", "first"}));
  INFO(borrowed.out << borrowed.err);
  CHECK(borrowed.exit_code == 0);
  CHECK(read_file(ledger) == "produced\nconsumed value-123\nconsumed value-123\n");

  // An execution where Produce did not run has nothing to give; an unknown one neither.
  auto empty = kiln::test::run_kiln(
      run_args(dir, doc, {"--execution-id", "third", "--steps", "build.Consume", "--outputs-from", "second"}));
  INFO(empty.err);
  CHECK(empty.exit_code == 2);
  CHECK(empty.err.find(doc + ":12:37: error: '{{ build.Produce.outputs.stdout }}' cannot be taken from execution "
                             "second: step build.Produce did not run there") != std::string::npos);
  auto unknown = kiln::test::run_kiln(
      run_args(dir, doc, {"--execution-id", "fourth", "--steps", "build.Consume", "--outputs-from", "nope"}));
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("--outputs-from: no execution 'nope'") != std::string::npos);
  CHECK(read_file(ledger) == "produced\nconsumed value-123\nconsumed value-123\n");
}

TEST_CASE("debugging: the selection is kept in the journal header, so a resume after a reboot runs the same subset") {
  TempDir dir;
  std::string ledger = dir.file("ledger"), marker = dir.file("marker");
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: A, action: ExecuteBash, inputs: {commands: ["echo A >> )" +
                                             ledger + R"("]}}
      - name: Reboots
        action: ExecuteBash
        inputs:
          commands:
            - |
              echo Reboots >> )" + ledger + R"(
              if [ ! -f )" + marker + R"( ]; then touch )" +
                                             marker + R"(; exit 194; fi
      - {name: B, action: ExecuteBash, inputs: {commands: ["echo B >> )" +
                                             ledger + R"("]}}
      - {name: C, action: ExecuteBash, inputs: {commands: ["echo C >> )" +
                                             ledger + R"("]}}
)");
  auto first = kiln::test::run_kiln(
      run_args(dir, doc, {"--execution-id", "subset", "--steps", "Reboots,C", "--reboot-mode", "exit"}));
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 194);
  // Another subset under the same execution id is refused, not mixed in.
  auto other = kiln::test::run_kiln(run_args(dir, doc, {"--execution-id", "subset", "--steps", "B"}));
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("steps was [\"Reboots\",\"C\"], now [\"B\"]") != std::string::npos);
  CHECK(read_file(ledger) == "Reboots\n");
  auto resumed = kiln::test::run_kiln({"resume", "--state-directory", dir.file("state")});
  INFO(resumed.out << resumed.err);
  CHECK(resumed.exit_code == 0);
  CHECK(read_file(ledger) == "Reboots\nReboots\nC\n");
}

TEST_CASE("debugging: a failed run ends with the command that re-runs just the failed step; pasted, it does") {
  TempDir dir;
  std::string ledger = dir.file("ledger"), fixed = dir.file("fixed");
  std::string doc = dir.write("my doc.yml", R"(schemaVersion: 1.0
parameters:
  - Label:
      type: string
  - Token:
      type: string
      secret: true
phases:
  - name: build
    steps:
      - name: Produce
        action: ExecuteBash
        inputs:
          commands: ["echo Produce >> ')" + ledger +
                                                R"('; echo from-produce"]
      - name: Flaky
        action: ExecuteBash
        inputs:
          commands:
            - |
              echo "Flaky {{ Label }} {{ build.Produce.outputs.stdout }}" >> ')" +
                                                ledger + R"('
              test -f ')" + fixed + R"('
      - name: After
        action: ExecuteBash
        inputs:
          commands: ["echo After >> ')" + ledger +
                                                R"('"]
)");
  auto failed = kiln::test::run_kiln(run_args(
      dir, doc,
      {"--execution-id", "broken", "--parameters", "Label=it's a\\,b,Token=tok-SECRET-1", "--phases", "build"}));
  INFO(failed.out << failed.err);
  REQUIRE(failed.exit_code == 1);
  REQUIRE(read_file(ledger) == "Produce\nFlaky it's a,b from-produce\n");
  std::string command = last_line(failed.err);
  CHECK(failed.err.find("tok-SECRET-1") == std::string::npos);
  CHECK(command.find("'Label=it'\\''s a\\,b,Token=<secret>'") != std::string::npos);
  CHECK(command.find(std::string(KILN_BINARY) + " run --documents '" + doc + "' --phases build --steps build.Flaky") ==
        0);
  CHECK(command.find("--outputs-from broken") != std::string::npos);

  kiln::test::TempDir scratch;  // pasted elsewhere: the command holds absolute paths
  std::ofstream(fixed).put('\n');
  RunResult again = run_program("/bin/bash", {"-c", command}, scratch.path());
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  // Only Flaky ran again, with Produce's output from the failed execution.
  CHECK(read_file(ledger) == "Produce\nFlaky it's a,b from-produce\nFlaky it's a,b from-produce\n");
}

TEST_CASE(
    "debugging: the re-run command names the program as invoked (awstoe), and no --outputs-from without a chain") {
  TempDir dir;
  std::string awstoe = dir.file("bin/awstoe");
  std::filesystem::create_directories(dir.file("bin"));
  std::filesystem::create_symlink(KILN_BINARY, awstoe);
  std::string doc = dir.write("doc.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: Fails, action: ExecuteBash, inputs: {commands: ["echo Fails >> )" +
                                             dir.file("ledger") + R"(; exit 3"]}}
)");
  RunResult failed = run_program(awstoe, run_args(dir, doc, {}));
  INFO(failed.out << failed.err);
  CHECK(failed.exit_code == 1);
  std::string command = last_line(failed.err);
  CHECK(command.find(awstoe + " run --documents " + doc + " --steps build.Fails --state-directory ") == 0);
  CHECK(command.find("--outputs-from") == std::string::npos);
  RunResult again = run_program("/bin/bash", {"-c", command});
  CHECK(again.exit_code == 1);
  CHECK(read_file(dir.file("ledger")) == "Fails\nFails\n");
}
