// Facts about the machine kiln runs on, for {{ context:... }}, platform checks, the
// journal (boot id: a reboot or a crash?) and logs.
#pragma once
#include <string>

namespace kiln::sys {

std::string host_platform();  // the platform this binary runs on: "linux", "windows" or "darwin"
std::string boot_id();        // this boot's id (/proc/sys/kernel/random/boot_id), "" if unknown
std::string random_uuid();    // RFC 4122 version 4, from the kernel's random source
std::string hostname();
std::string os_release_field(const std::string& key);  // from /etc/os-release, "" if absent

// Old names, kept while agent/engine/engine.cpp is rewritten: new code calls
// kiln::utc_date() and kiln::utc_timestamp() (agent/base/time.h).
std::string utc_date();       // YYYY-MM-DD
std::string utc_date_time();  // RFC 3339, e.g. 2026-06-15T10:30:00Z

}  // namespace kiln::sys

namespace kiln {
// The name agent/cli/main.cpp calls while it is rewritten; new code says sys::host_platform().
using sys::host_platform;
}  // namespace kiln
