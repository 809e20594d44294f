// Facts about the machine kiln runs on, for {{ context:... }} and logs.
#pragma once
#include <string>

namespace kiln::sys {

std::string random_uuid();   // RFC 4122 version 4, from the kernel's random source
std::string hostname();
std::string os_release_field(const std::string& key);  // from /etc/os-release, "" if absent
std::string utc_date();      // YYYY-MM-DD
std::string utc_date_time(); // RFC 3339, e.g. 2026-06-15T10:30:00Z

}  // namespace kiln::sys
