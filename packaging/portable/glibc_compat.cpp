// Linked into the portable build only (cmake/portable.cmake). The static libstdc++ of
// Debian 12's GCC 12 was built against glibc 2.36 and calls arc4random() (GLIBC_2.36) for
// std::random_device; that one symbol would raise the binary's glibc floor from 2.34 to
// 2.36 and exclude Amazon Linux 2023 and RHEL 9 (glibc 2.34). This definition, in the
// executable, is what libstdc++'s reference binds to: getrandom() (GLIBC_2.25) gives the
// same kernel randomness.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>

// Hidden: not exported, so no shared library binds to it instead of glibc's.
extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t value = 0;
  // getrandom() on the urandom pool blocks only until the pool is first seeded; a signal
  // may interrupt it (EINTR), so it is retried.
  while (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
    if (errno != EINTR) __builtin_trap();
  }
  return value;
}
