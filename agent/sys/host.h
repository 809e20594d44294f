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


}  // namespace kiln::sys
