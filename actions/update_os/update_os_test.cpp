// UpdateOS end to end. With apt-get it runs for real on this machine, chosen so that
// nothing is upgraded: an up-to-date package as `include`, and an `exclude` that covers
// every pending upgrade. dnf, yum and zypper are absent here, and a full upgrade would
// change the machine, so those command lines are checked with fake package managers
// (shell scripts that record their arguments) put first on kiln's PATH: a fake, because
// no real local counterpart can be used.
#include <doctest/doctest.h>
#include <pwd.h>

#include <regex>
#include <sstream>

#include "actions/common/action_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::action_test;
using kiln::test::read_file;

namespace {

// Runs kiln on a one-step UpdateOS document, optionally behind `prefix` (runuser ...) and
// with extra environment.
KilnRun run_update(const TempDir& dir, const nlohmann::json& inputs, const std::vector<std::string>& prefix = {},
                   const std::vector<std::string>& environment = {}) {
  static int serial = 0;
  std::string n = std::to_string(++serial);
  std::string doc = dir.write("doc-" + n + ".yml", one_step_document("UpdateOS", inputs));
  KilnRun run;
  run.log_directory = dir.file("logs-" + n);
  std::vector<std::string> argv = prefix;
  // Its own state folder too: the default is in the user's home, which kilntest lacks.
  for (std::string arg : {std::string(KILN_BINARY), std::string("run"), std::string("--documents"), doc,
                          std::string("--log-directory"), run.log_directory, std::string("--state-directory"),
                          dir.file("state-" + n)})
    argv.push_back(arg);
  run.result = run_command(argv, environment);
  run.folder = kiln::test::find_log_folder(run.log_directory);
  if (!run.folder.empty()) run.detailed = kiln::test::read_detailed_output(run.log_directory);
  return run;
}

std::string installed_version(const std::string& package) {
  auto r = run_command({"dpkg-query", "-W", "-f=${Version}", package});
  return r.exit_code == 0 ? r.out : "";
}

// Packages `apt-get upgrade` would upgrade now.
std::vector<std::string> pending_upgrades() {
  auto r = run_command({"apt-get", "-s", "-o", "DPkg::Lock::Timeout=120", "upgrade", "--with-new-pkgs"});
  std::vector<std::string> names;
  std::regex inst("^Inst ([^ ]+) ");
  std::stringstream lines(r.out);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line))
    if (std::regex_search(line, m, inst)) names.push_back(m[1]);
  return names;
}

// A folder holding fake package managers: each appends "<name> <args>" to calls.log.
std::string fake_managers(const TempDir& dir, const std::vector<std::string>& names, const std::string& extra = "") {
  std::string bin = dir.file("fakebin");
  for (const auto& name : names)
    make_file(bin + "/" + name,
              "#!/bin/sh\necho \"" + name + " $*\" >> " + dir.file("calls.log") + "\n" + extra + "exit 0\n", 0755);
  return bin;
}

bool has_apt() { return access("/usr/bin/apt-get", X_OK) == 0 && geteuid() == 0; }

}  // namespace

TEST_CASE("UpdateOS (apt-get, real): include an installed, up-to-date package" *
          KILN_SKIP_UNLESS(has_apt(), "needs /usr/bin/apt-get and root")) {
  TempDir dir;
  std::string before = installed_version("coreutils");
  auto run = run_update(dir, {{"include", {"coreutils"}}});
  INFO(kiln::e2e::describe(run) << "\n" << run.console());
  CHECK(succeeded(run));
  std::string console = run.console();
  CHECK(console.find("apt-get -q -o DPkg::Lock::Timeout=120 update") != std::string::npos);
  CHECK(console.find("-o Dpkg::Options::=--force-confold install --only-upgrade coreutils") != std::string::npos);
  CHECK(installed_version("coreutils") == before);
}

TEST_CASE("UpdateOS (apt-get, real): include minus exclude, the excluded package pinned for this run only" *
          KILN_SKIP_UNLESS(has_apt(), "needs /usr/bin/apt-get and root")) {
  TempDir dir;
  std::string sed_before = installed_version("sed");
  auto run = run_update(dir, {{"include", {"coreutils", "sed"}}, {"exclude", {"sed"}}});
  INFO(kiln::e2e::describe(run) << "\n" << run.console());
  CHECK(succeeded(run));
  std::string console = run.console();
  CHECK(console.find("Dir::Etc::Preferences=") != std::string::npos);
  CHECK(console.find("install --only-upgrade coreutils\n") != std::string::npos);
  CHECK(installed_version("sed") == sed_before);
  std::string preferences = read_file(run.folder + "/steps/1-build-Step-a1/apt-preferences");
  CHECK(preferences.find("Package: sed\nPin: release a=now\nPin-Priority: 1001\n") != std::string::npos);
  CHECK(preferences.find("Package: sed\nPin: version *\nPin-Priority: -1\n") != std::string::npos);
  // No global state: nothing is put on hold.
  CHECK(run_command({"apt-mark", "showhold"}).out.find("sed") == std::string::npos);
}

TEST_CASE("UpdateOS (apt-get, real): exclude alone upgrades everything else (here: every pending upgrade is excluded)" *
          KILN_SKIP_UNLESS(has_apt(), "needs /usr/bin/apt-get and root")) {
  TempDir dir;
  run_command({"apt-get", "-q", "-o", "DPkg::Lock::Timeout=120", "update"});  // as kiln will, so the list is current
  std::vector<std::string> pending = pending_upgrades();
  pending.push_back("sed");
  std::string sed_before = installed_version("sed");
  auto run = run_update(dir, {{"exclude", pending}});
  INFO(kiln::e2e::describe(run) << "\n" << run.console());
  CHECK(succeeded(run));
  std::string console = run.console();
  CHECK(console.find("upgrade --with-new-pkgs") != std::string::npos);
  CHECK(console.find("0 upgraded, 0 newly installed") != std::string::npos);
  CHECK(installed_version("sed") == sed_before);
}

TEST_CASE("UpdateOS (apt-get, real): an unknown package fails the step with apt's message" *
          KILN_SKIP_UNLESS(has_apt(), "needs /usr/bin/apt-get and root")) {
  TempDir dir;
  auto run = run_update(dir, {{"include", {"kiln-no-such-package"}}});
  CHECK(failed_with(run, {"failed with exit code 100", "kiln-no-such-package"}));
}

TEST_CASE("UpdateOS: names that could be read as options are refused") {
  TempDir dir;
  auto run = run_update(dir, {{"include", {"--allow-downgrades"}}});
  CHECK(failed_with(run, {"'--allow-downgrades' in include is not a package name"}));
  auto spaced = run_update(dir, {{"exclude", {"a b"}}});
  CHECK(failed_with(spaced, {"'a b' in exclude is not a package name"}));
}

TEST_CASE("UpdateOS: not root is a clear error (kiln run as an unprivileged user)") {
  if (geteuid() != 0) {
    TempDir dir;
    auto run = run_update(dir, nlohmann::json::object());
    CHECK(failed_with(run, {"UpdateOS must run as root"}));
    return;
  }
  if (!getpwnam("kilntest"))
    run_command({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "kilntest"});
  REQUIRE(getpwnam("kilntest") != nullptr);
  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);
  auto run = run_update(dir, nlohmann::json::object(), {"runuser", "-u", "kilntest", "--"});
  INFO(kiln::e2e::describe(run));
  CHECK(failed_with(run, {"UpdateOS must run as root (kiln runs as uid " + std::to_string(getpwnam("kilntest")->pw_uid)}));
}

TEST_CASE("UpdateOS: no package manager on PATH is a clear error" * KILN_NEEDS_ROOT) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("empty-bin"));
  auto run = run_update(dir, nlohmann::json::object(), {}, {"PATH=" + dir.file("empty-bin")});
  CHECK(failed_with(run, {"no supported package manager found on PATH (looked for apt-get, dnf, yum and zypper)"}));
}

TEST_CASE("UpdateOS (fake managers): apt-get is preferred; no inputs -> update, then upgrade everything" *
          KILN_NEEDS_ROOT) {
  TempDir dir;
  std::string bin = fake_managers(dir, {"zypper", "yum", "dnf", "apt-get"});
  auto run = run_update(dir, nlohmann::json::object(), {}, {"PATH=" + bin});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("calls.log")) ==
        "apt-get -q -o DPkg::Lock::Timeout=120 update\n"
        "apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o "
        "Dpkg::Options::=--force-confold upgrade --with-new-pkgs\n");
}

TEST_CASE("UpdateOS (fake managers): dnf before yum; include/exclude become arguments and --exclude" *
          KILN_NEEDS_ROOT) {
  TempDir dir;
  std::string bin = fake_managers(dir, {"zypper", "yum", "dnf"});
  auto run = run_update(dir, {{"include", {"curl", "kernel*", "vim"}}, {"exclude", {"vim"}}}, {}, {"PATH=" + bin});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  auto all = run_update(dir, {{"exclude", {"kernel*"}}}, {}, {"PATH=" + bin});
  CHECK(succeeded(all));
  CHECK(read_file(dir.file("calls.log")) ==
        "dnf -y --exclude=vim upgrade curl kernel*\n"
        "dnf -y --exclude=kernel* upgrade\n");
}

TEST_CASE("UpdateOS (fake managers): yum when it is the only one" * KILN_NEEDS_ROOT) {
  TempDir dir;
  std::string bin = fake_managers(dir, {"yum"});
  auto run = run_update(dir, {{"include", {"openssl"}}}, {}, {"PATH=" + bin});
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("calls.log")) == "yum -y upgrade openssl\n");
}

TEST_CASE("UpdateOS (fake managers): zypper: exclude alone updates the listed updates minus the excluded; 103 reruns" *
          KILN_NEEDS_ROOT) {
  TempDir dir;
  std::string marker = dir.file("restarted");
  std::string bin = fake_managers(
      dir, {"zypper"},
      "case \"$*\" in\n"
      "  *list-updates*) echo '<?xml version=\"1.0\"?><stream><update-status version=\"0.6\"><update-list>"
      "<update kind=\"package\" name=\"vim\" edition=\"9.1\"/><update kind=\"package\" name=\"zypper\" "
      "edition=\"1.14\"/><update kind=\"package\" name=\"curl\" edition=\"8.0\"/></update-list></update-status>"
      "</stream>' ;;\n"
      "  *update*) if [ ! -e " + marker + " ]; then : > " + marker + "; exit 103; fi ;;\n"
      "esac\n");
  auto run = run_update(dir, {{"exclude", {"curl"}}}, {}, {"PATH=" + bin});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("calls.log")) ==
        "zypper --non-interactive --xmlout list-updates\n"
        "zypper --non-interactive update -y vim zypper\n"
        "zypper --non-interactive update -y vim zypper\n");
}

TEST_CASE("UpdateOS: every included package excluded -> nothing to do, no command runs" * KILN_NEEDS_ROOT) {
  TempDir dir;
  std::string bin = fake_managers(dir, {"apt-get"});
  auto run = run_update(dir, {{"include", {"sed"}}, {"exclude", {"sed"}}}, {}, {"PATH=" + bin});
  CHECK(succeeded(run));
  CHECK_FALSE(exists(dir.file("calls.log")));
}

TEST_CASE("UpdateOS (fake managers): the step's timeoutSeconds stops a hanging package manager" * KILN_NEEDS_ROOT) {
  TempDir dir;
  std::string bin = fake_managers(dir, {"dnf"}, "/bin/sleep 30\n");
  std::string doc = dir.write("timeout.yml", R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Step
        action: UpdateOS
        timeoutSeconds: 1
)");
  auto started = std::chrono::steady_clock::now();
  auto r = run_command({KILN_BINARY, "run", "--documents", doc, "--log-directory", dir.file("logs"),
                        "--state-directory", dir.file("state")},
                       {"PATH=" + bin});
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  CHECK(r.exit_code == 1);
  CHECK(seconds < 15);
  nlohmann::json step = kiln::test::find_step(kiln::test::read_detailed_output(dir.file("logs")), "Step");
  REQUIRE(step.is_object());
  CHECK(step["failureMessage"].get<std::string>().find("timed out running") != std::string::npos);
}
