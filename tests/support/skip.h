// doctest's skip decorator for a test that needs what a machine may lack (root, a tool):
// doctest counts the test as skipped in its summary line, and the reason is printed on
// stderr as "SKIPPED: <file>:<line>: <why>", so a skip is never silent. CI runs as root
// with every tool installed: nothing is skipped there.
//   TEST_CASE("installs packages" * KILN_SKIP_UNLESS(have_apt(), "needs apt-get")) { ... }
//   TEST_CASE("gives files away" * KILN_NEEDS_ROOT) { ... }
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>

namespace kiln::test {

inline doctest::skip skip_unless(bool available, const char* file, int line, const char* why) {
  if (!available) std::fprintf(stderr, "SKIPPED: %s:%d: %s\n", file, line, why);
  return doctest::skip(!available);
}

}  // namespace kiln::test

#define KILN_SKIP_UNLESS(available, why) ::kiln::test::skip_unless((available), __FILE__, __LINE__, (why))
#define KILN_NEEDS_ROOT KILN_SKIP_UNLESS(::geteuid() == 0, "needs root (CI runs as root)")
