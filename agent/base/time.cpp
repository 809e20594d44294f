#include "agent/base/time.h"

#include <chrono>
#include <ctime>

namespace kiln {

std::string format_utc_now(const char* format, bool millis) {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  // The text of the current second is kept per format (formats are literals, so their
  // address names them): strftime per log line was measurable.
  struct Formatted {
    const char* format = nullptr;
    std::time_t seconds = -1;
    std::string text;
  };
  static thread_local Formatted cache[4];
  Formatted* slot = nullptr;
  for (auto& c : cache) {
    if (c.format == format || c.format == nullptr) {
      slot = &c;
      break;
    }
  }
  if (!slot) slot = &cache[0];
  if (slot->format != format || slot->seconds != seconds) {
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[64];
    std::strftime(buffer, sizeof buffer, format, &tm);
    *slot = {format, seconds, buffer};
  }
  std::string out = slot->text;
  if (millis) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    char fraction[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10), 0};
    out += fraction;
  }
  return out;
}

namespace {
constexpr const char* kSeconds = "%Y-%m-%dT%H:%M:%S";

}  // namespace

std::string utc_timestamp() { return format_utc_now(kSeconds, false) + "Z"; }
std::string utc_timestamp_millis() { return format_utc_now(kSeconds, true) + "Z"; }
std::string utc_date() { return format_utc_now("%Y-%m-%d", false); }

}  // namespace kiln
