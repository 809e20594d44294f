// Switches that only tests use, read from the environment, compiled in only in builds with
// KILN_TEST_HOOKS (the default for development and CI builds; the portable build that
// packages ship has none: there every function returns the normal value).
//   KILN_TEST_SKIP_SYNC=1               every fsync kiln makes succeeds without syncing:
//                                       the power-cut test shows it notices
//   KILN_TEST_COMPACT_ABOVE_BYTES=N     compact a finished journal above N bytes (normally
//                                       1 MiB), so short runs compact and power cuts land in it
#pragma once
#include <cstddef>

namespace kiln::test_hooks {

bool skip_sync();
std::size_t compact_above_bytes(std::size_t normal);

}  // namespace kiln::test_hooks
