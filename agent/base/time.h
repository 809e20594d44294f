// UTC timestamps for logs, records and {{ context:date }}. Every log line and record has
// one, so the formatted text of the current second is cached per thread.
#pragma once
#include <string>

namespace kiln {

std::string utc_timestamp();         // 2026-11-27T10:41:02Z (RFC 3339)
std::string utc_timestamp_millis();  // 2026-11-27T10:41:02.123Z
std::string utc_date();              // 2026-11-27

}  // namespace kiln
