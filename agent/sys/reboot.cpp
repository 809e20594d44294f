#include "agent/sys/reboot.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "agent/base/durable_file.h"
#include "agent/base/hash.h"
#include "agent/sys/process.h"

namespace kiln::sys {
namespace {

// Eight hex digits of the state directory's SHA-256: the trigger files of one state
// directory have one name.
std::string short_hash(const std::string& text) { return sha256_hex(text).substr(0, 8); }

// Single-quotes a word for a unit's ExecStart or a crontab line.
std::string quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

RebootSettings reboot_settings_from_environment() {
  RebootSettings settings;
  if (const char* d = std::getenv("KILN_SYSTEMD_UNIT_DIR"); d && *d) settings.systemd_unit_directory = d;
  if (const char* d = std::getenv("KILN_CRON_DIR"); d && *d) settings.cron_directory = d;
  if (const char* c = std::getenv("KILN_REBOOT_COMMAND"); c && *c) settings.command = c;
  return settings;
}

std::string resume_unit_name(const std::string& state_directory) {
  return "kiln-resume-" + short_hash(state_directory) + ".service";
}

std::string arm_resume_trigger(const RebootSettings& settings, const std::string& kiln_binary,
                               const std::string& state_directory, ResumeTrigger& armed) {
  namespace fs = std::filesystem;
  std::string kind = settings.trigger;
  if (kind == "auto") kind = fs::exists("/run/systemd/system") ? "systemd" : "cron";
  armed.kind = kind;
  std::string command = quote(kiln_binary) + " resume --state-directory " + quote(state_directory);
  std::error_code ec;
  if (kind == "none") return {};
  if (kind == "systemd") {
    // Same shape as packaging/systemd/kiln-resume.service, with this run's paths.
    std::string unit = resume_unit_name(state_directory);
    std::string path = settings.systemd_unit_directory + "/" + unit;
    std::string text =
        "# Written by kiln before a reboot; removed when the execution ends.\n"
        "[Unit]\n"
        "Description=Resume kiln executions after a reboot (" + state_directory + ")\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=" + command + "\n"
        "RemainAfterExit=no\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n";
    fs::create_directories(settings.systemd_unit_directory + "/multi-user.target.wants", ec);
    if (ec) return "cannot create " + settings.systemd_unit_directory + "/multi-user.target.wants: " + ec.message();
    // Durable before the reboot command runs: a unit lost in the page cache would leave
    // the execution waiting for a resume that never comes.
    if (std::string error = write_file_durably(path, text, 0644); !error.empty())
      return "cannot write the resume unit: " + error;
    // Enabling is the symlink systemctl enable would make; no systemctl call needed.
    std::string wants = settings.systemd_unit_directory + "/multi-user.target.wants/" + unit;
    fs::remove(wants, ec);
    fs::create_symlink(path, wants, ec);
    if (ec) return "cannot enable the resume unit " + wants + ": " + ec.message();
    armed.files = path + ";" + wants;
    return {};
  }
  if (kind == "cron") {
    std::string path = settings.cron_directory + "/kiln-resume-" + short_hash(state_directory);
    fs::create_directories(settings.cron_directory, ec);
    std::string text = "# Written by kiln before a reboot; removed when the execution ends.\n"
                       "@reboot root " + command + "\n";
    if (ec) return "cannot create " + settings.cron_directory + ": " + ec.message();
    if (std::string error = write_file_durably(path, text, 0644); !error.empty())
      return "cannot write the cron entry: " + error;
    armed.files = path;
    return {};
  }
  return "unknown resume trigger '" + kind + "' (expected auto, systemd, cron or none)";
}

bool resume_trigger_exists(const RebootSettings& settings, const std::string& state_directory) {
  std::error_code ec;
  return std::filesystem::exists(settings.systemd_unit_directory + "/" + resume_unit_name(state_directory), ec) ||
         std::filesystem::exists(settings.cron_directory + "/kiln-resume-" + short_hash(state_directory), ec);
}

void remove_resume_trigger(const RebootSettings& settings, const std::string& state_directory) {
  std::error_code ec;
  std::string unit = resume_unit_name(state_directory);
  std::filesystem::remove(settings.systemd_unit_directory + "/multi-user.target.wants/" + unit, ec);
  std::filesystem::remove(settings.systemd_unit_directory + "/" + unit, ec);
  std::filesystem::remove(settings.cron_directory + "/kiln-resume-" + short_hash(state_directory), ec);
}

std::string run_reboot_command(const std::string& command) {
  ProcessSpec spec;
  spec.executable = "/bin/sh";
  spec.arguments = {"-c", command};
  spec.timeout = std::chrono::milliseconds(120'000);
  ProcessResult r = run_process(spec, [](OutputStream, std::string_view) {});
  if (!r.started) return r.error;
  if (r.exit_code != 0) return "the reboot command '" + command + "' exited with " + std::to_string(r.exit_code);
  return {};
}

}  // namespace kiln::sys
