// UTC timestamps for logs, records and {{ context:date }}. Every log line and record has
// one, so the formatted text of the current second is cached per thread.
#pragma once
#include <string>

namespace kiln {

std::string utc_timestamp();         // 2026-11-27T10:41:02Z (RFC 3339)
std::string utc_timestamp_millis();  // 2026-11-27T10:41:02.123Z
std::string utc_date();              // 2026-11-27

// The current UTC time in a strftime `format`, with ".mmm" appended when `millis`.
// `format` must be a string literal: the per-second cache is keyed on its address.
std::string format_utc_now(const char* format, bool millis = false);

}  // namespace kiln
