#include "agent/base/test_hooks.h"

#include <cstdlib>
#include <string>
#include <string_view>

namespace kiln::test_hooks {

#ifdef KILN_TEST_HOOKS
bool skip_sync() {
  static const bool skipped = [] {
    const char* value = std::getenv("KILN_TEST_SKIP_SYNC");
    return value != nullptr && std::string_view(value) == "1";
  }();
  return skipped;
}

std::size_t compact_above_bytes(std::size_t normal) {
  const char* value = std::getenv("KILN_TEST_COMPACT_ABOVE_BYTES");
  if (value == nullptr || *value == '\0') return normal;
  char* end = nullptr;
  unsigned long long bytes = std::strtoull(value, &end, 10);
  return *end == '\0' ? static_cast<std::size_t>(bytes) : normal;
}
#else
bool skip_sync() { return false; }
std::size_t compact_above_bytes(std::size_t normal) { return normal; }
#endif

}  // namespace kiln::test_hooks
