// Rebooting the machine so that kiln comes back: arm a resume trigger that runs
// `kiln resume` at the next boot (a systemd unit, or a cron @reboot entry where systemd
// is absent), then run the reboot command. Paths and the command are settable so tests
// can stand in for a real reboot.
#pragma once
#include <string>

namespace kiln::sys {

struct ResumeTrigger {
  std::string kind;   // "systemd", "cron" or "none"
  std::string files;  // what was written, ';'-separated (for the record and removal)
};

struct RebootSettings {
  std::string trigger = "auto";     // auto | systemd | cron | none
  std::string systemd_unit_directory = "/etc/systemd/system";  // KILN_SYSTEMD_UNIT_DIR
  std::string cron_directory = "/etc/cron.d";                  // KILN_CRON_DIR
  std::string command = "/sbin/shutdown -r now";               // --reboot-command
};

// Reads KILN_SYSTEMD_UNIT_DIR, KILN_CRON_DIR and KILN_REBOOT_COMMAND over the defaults.
RebootSettings reboot_settings_from_environment();

// Writes the trigger that runs `<kiln> resume --state-directory <dir>` at boot.
// Returns "" or an error.
std::string arm_resume_trigger(const RebootSettings& settings, const std::string& kiln_binary,
                               const std::string& state_directory, ResumeTrigger& armed);
// Whether a trigger for `state_directory` is armed (of either kind).
bool resume_trigger_exists(const RebootSettings& settings, const std::string& state_directory);
// Removes the trigger files for `state_directory` (whichever kind exists).
void remove_resume_trigger(const RebootSettings& settings, const std::string& state_directory);
// The unit name used for a state directory.
std::string resume_unit_name(const std::string& state_directory);
// Runs the reboot command through /bin/sh. Returns "" or an error.
std::string run_reboot_command(const std::string& command);

}  // namespace kiln::sys
