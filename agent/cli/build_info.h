// What `kiln --version` prints. Defined in a file cmake/build_info.cmake writes at every
// build (rewritten only when it changes), so a new commit is never shown stale and
// recompiles one small file.
#pragma once

namespace kiln {

struct BuildInfo {
  const char* version;  // the project's version, "0.1.0"
  const char* commit;   // short git hash, with "-dirty" when tracked files changed; "unknown" without git
  const char* date;     // YYYY-MM-DD (UTC): SOURCE_DATE_EPOCH's day when set, else the build's
};

const BuildInfo& build_info();

}  // namespace kiln
