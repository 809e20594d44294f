// Replacing a file so that a crash or power cut leaves either the old contents or the new,
// never a torn or empty file: write a temporary file in the same folder, fsync it, rename
// it over the target, then fsync the folder so the rename itself is on disk.
// Used for the reboot resume triggers and detailedoutput.json.
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

namespace kiln {

// Replaces `path` with `content` (permissions `mode`). Returns "" on success, else what
// failed ("cannot write /x/.y.Ab12Cd: No space left on device"); on failure the target
// is unchanged and no temporary file is left behind. The temporary file is created
// exclusively (mkstemp), so concurrent writers of one target do not share it, and a
// symlink at `path` is replaced, not followed.
std::string write_file_durably(const std::string& path, std::string_view content, mode_t mode = 0644);

}  // namespace kiln
