// The Ansible role of packaging/ansible/roles/kiln run by the real ansible-playbook (Debian's
// ansible-core) against private sshd servers on loopback (tests/support/sshd_server.h): the
// role copies the built kiln and the documents, runs each phase with --reboot-mode exit,
// reboots with ansible.builtin.reboot when kiln exits 194 (the sshd stand-in reboot: every
// connection dropped, sshd restarted, a boot-id file rewritten for boot_time_command) and runs
// the same command again, then fetches the logs. The oracle is a ledger file each step appends
// to, outside kiln's state and the play's output. Everything Ansible writes (its config, home,
// temporary folders, SSH control sockets) goes to the test's scratch folder.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/sys/process.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_server.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::read_file;
using kiln::test::SshdServer;
using kiln::test::TempDir;

constexpr const char* kAnsiblePlaybook = "/usr/bin/ansible-playbook";

bool have_ansible_and_sshd() {
  return kiln::test::have_tool(kAnsiblePlaybook) && kiln::test::have_tool(kiln::test::kSshd) &&
         kiln::test::have_tool(kiln::test::kSsh) && kiln::test::have_tool(kiln::test::kPython);
}

size_t count(const std::string& text, const std::string& piece) {
  size_t n = 0;
  for (size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) ++n;
  return n;
}

std::string ledger_step(const std::string& name, const std::string& extra = "") {
  return "      - name: " + name + "\n        action: ExecuteBash\n        inputs:\n          commands:\n" +
         "            - echo " + name + " >> \"{{ Ledger }}\"\n" + extra;
}

const char* kDocumentHead =
    "schemaVersion: 1.0\nparameters:\n  - Ledger:\n      type: string\n      description: the ledger file\n"
    "phases:\n";

// One loopback target: its sshd, stand-in reboot, boot-id file and ledger.
struct Target {
  std::string name;
  std::unique_ptr<SshdServer> server;
  std::string reboots;  // one line per stand-in reboot
  std::string boot_id;
  std::string ledger;
  std::string reboot_command;
};

class Fleet {
 public:
  explicit Fleet(int targets) {
    for (int i = 1; i <= targets; ++i) {
      Target t;
      t.name = "t" + std::to_string(i);
      t.server = std::make_unique<SshdServer>();
      t.reboots = dir.file(t.name + "-reboots");
      t.boot_id = dir.file(t.name + "-boot-id");
      t.ledger = dir.file(t.name + "-ledger");
      // Ansible runs commands on a pty (ssh -tt): when the session ends, the hangup (SIGHUP)
      // can reach the stand-in's detached shell before it has called setsid, on a loaded
      // machine, and no reboot happens. A real reboot command does not care; the stand-in is
      // started with SIGHUP ignored (inherited through exec and fork).
      const std::string stand_in = t.server->reboot_script(t.reboots, 1.0, t.boot_id);
      t.reboot_command = dir.write(t.name + "-reboot.sh", "#!/bin/sh\ntrap '' HUP\nexec " + stand_in + " \"$@\"\n");
      std::filesystem::permissions(t.reboot_command, std::filesystem::perms::owner_all);
      targets_.push_back(std::move(t));
    }
    std::filesystem::create_directories(dir.file("home"));
    dir.write("ansible.cfg", "[defaults]\n");
  }

  const std::vector<Target>& targets() const { return targets_; }
  std::string remote(const Target& t) const { return dir.file("remote/" + t.name); }
  std::string fetched(const Target& t) const { return dir.file("fetched/" + t.name + "/logs"); }

  // Runs the role with `role_vars` (YAML lines, indented 8) on every target; returns
  // ansible-playbook's exit code, its output in `output`.
  int play(const std::string& document, const std::string& role_vars, std::string& output) const {
    std::string inventory = "all:\n  children:\n    kiln_targets:\n      hosts:\n";
    for (const auto& t : targets_)
      inventory += "        " + t.name + ":\n          ansible_host: 127.0.0.1\n          ansible_port: " +
                   std::to_string(t.server->port()) + "\n          ansible_ssh_private_key_file: " +
                   t.server->client_key() + "\n          kiln_work_directory: " + remote(t) +
                   "\n          kiln_state_directory: " + remote(t) + "/state" +
                   "\n          kiln_parameters: {Ledger: \"" + t.ledger + "\"}" +
                   "\n          kiln_reboot_command: " + t.reboot_command +
                   "\n          kiln_boot_time_command: cat " + t.boot_id + "\n";
    inventory +=
        "      vars:\n        ansible_user: root\n"
        "        ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n"
        "        ansible_python_interpreter: /usr/bin/python3\n";
    dir.write("inventory.yml", inventory);
    dir.write("playbook.yml", "- hosts: kiln_targets\n  gather_facts: false\n  roles:\n    - role: kiln\n      vars:\n"
                              "        kiln_binary: " KILN_BINARY "\n"
                              "        kiln_install_path: \"{{ kiln_work_directory }}/bin/kiln\"\n"
                              "        kiln_documents: [\"" +
                                  dir.write("component.yml", document) +
                                  "\"]\n"
                                  "        kiln_fetch_logs_to: " +
                                  dir.file("fetched") +
                                  "\n"
                                  "        kiln_reboot_timeout: 120\n" +
                                  role_vars);
    kiln::sys::ProcessSpec spec;
    spec.executable = kAnsiblePlaybook;
    spec.arguments = {"-i", dir.file("inventory.yml"), dir.file("playbook.yml")};
    spec.working_directory = dir.path();
    spec.timeout = std::chrono::milliseconds(600'000);
    const std::string home = dir.file("home");
    spec.extra_environment = {"HOME=" + home,
                              "ANSIBLE_CONFIG=" + dir.file("ansible.cfg"),
                              "ANSIBLE_HOME=" + home + "/.ansible",
                              "ANSIBLE_LOCAL_TEMP=" + home + "/tmp",
                              "ANSIBLE_REMOTE_TEMP=" + dir.file("remote-tmp"),
                              "ANSIBLE_SSH_CONTROL_PATH_DIR=" + home + "/cp",
                              "ANSIBLE_ROLES_PATH=" KILN_SOURCE_DIR "/packaging/ansible/roles",
                              "ANSIBLE_HOST_KEY_CHECKING=False",
                              "ANSIBLE_RETRY_FILES_ENABLED=False",
                              "ANSIBLE_NOCOLOR=1",
                              "ANSIBLE_FORCE_COLOR=0"};
    output.clear();
    kiln::sys::ProcessResult r =
        kiln::sys::run_process(spec, [&](kiln::sys::OutputStream, std::string_view chunk) { output.append(chunk); });
    return r.signal ? 128 + r.signal : r.exit_code;
  }

  TempDir dir;

 private:
  std::vector<Target> targets_;
};

// The TOE_* folder of execution `id` under the fetched logs/ folder ("" if none).
std::string fetched_log_folder(const std::string& logs, const std::string& id) {
  if (!std::filesystem::is_directory(logs)) return "";
  for (const auto& entry : std::filesystem::directory_iterator(logs)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("TOE_") && name.ends_with("_" + id)) return entry.path().string();
  }
  return "";
}

}  // namespace

TEST_CASE("fleet integrations: the Ansible role runs the phases on two sshd targets: a reboot ridden through and the logs fetched" *
          KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_ansible_and_sshd(), "needs ansible-core and openssh-server (scripts/setup.sh --tests)")) {
  Fleet fleet(2);
  const std::string document = std::string("name: FleetReboot\n") + kDocumentHead + "  - name: build\n    steps:\n" +
                               ledger_step("Before") +
                               "      - name: RebootNow\n        action: Reboot\n" + ledger_step("After") +
                               "  - name: validate\n    steps:\n" + ledger_step("Check") +
                               "  - name: test\n    steps:\n" + ledger_step("Test");
  std::string output;
  const int rc = fleet.play(document, "        kiln_execution_id: fleet-ok\n", output);
  INFO(output);
  CHECK(rc == 0);
  for (const auto& t : fleet.targets()) {
    CAPTURE(t.name);
    // Every step exactly once, in order, on each target: After after the reboot, not Before again.
    CHECK(read_file(t.ledger) == "Before\nAfter\nCheck\nTest\n");
    // One stand-in reboot per target, and the reboot module saw the boot id change.
    CHECK(count(read_file(t.reboots), "reboot") == 1);
    CHECK(read_file(t.boot_id).find("boot-first") == std::string::npos);
    // The logs of the three executions fetched to this machine, not empty.
    for (const char* phase : {"build", "validate", "test"}) {
      CAPTURE(phase);
      const std::string folder = fetched_log_folder(fleet.fetched(t), std::string("fleet-ok-") + phase);
      REQUIRE(!folder.empty());
      CHECK(std::filesystem::file_size(folder + "/console.log") > 0);
      CHECK(std::filesystem::file_size(folder + "/detailedoutput.json") > 0);
    }
    // The build phase's log holds both runs, before and after the reboot.
    const std::string build_log = read_file(fetched_log_folder(fleet.fetched(t), "fleet-ok-build") + "/console.log");
    CHECK(build_log.find("Resuming execution fleet-ok-build") != std::string::npos);
    // The fetched archive is unpacked and removed.
    CHECK(!std::filesystem::exists(fleet.dir.file("fetched/" + t.name + "/kiln-logs.tar.gz")));
  }
}

TEST_CASE("fleet integrations: the Ansible role fails the play when a step fails and fetches the logs first" *
          KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_ansible_and_sshd(), "needs ansible-core and openssh-server (scripts/setup.sh --tests)")) {
  Fleet fleet(1);
  const std::string document = std::string("name: FleetFails\n") + kDocumentHead + "  - name: build\n    steps:\n" +
                               ledger_step("First") + ledger_step("Broken", "            - exit 3\n") +
                               ledger_step("Never") + "  - name: validate\n    steps:\n" + ledger_step("Check");
  std::string output;
  const int rc = fleet.play(document, "        kiln_execution_id: fleet-bad\n        kiln_phases: [build, validate]\n",
                            output);
  INFO(output);
  const Target& t = fleet.targets().front();
  CHECK(rc != 0);
  // The failing step ran once, nothing after it (not its phase's next step, not the next phase).
  CHECK(read_file(t.ledger) == "First\nBroken\n");
  CHECK(!std::filesystem::exists(t.reboots));
  // The failed phase's logs were fetched all the same.
  const std::string folder = fetched_log_folder(fleet.fetched(t), "fleet-bad-build");
  REQUIRE(!folder.empty());
  CHECK(read_file(folder + "/console.log").find("Broken") != std::string::npos);
  CHECK(fetched_log_folder(fleet.fetched(t), "fleet-bad-validate").empty());
  // The play says which phase failed.
  CHECK(output.find("kiln phase build (execution fleet-bad-build) exited 1") != std::string::npos);
}
