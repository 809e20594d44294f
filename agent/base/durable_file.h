// Replacing a file so that a crash or power cut leaves either the old contents or the new,
// never a torn or empty file: write a temporary file in the same folder, fsync it, rename
// it over the target, then fsync the folder so the rename itself is on disk.
// Used for the reboot resume triggers and detailedoutput.json.
//
// Every fsync kiln makes goes through sync_file, sync_file_data and sync_folder below, so
// that the power-cut test (tests/e2e/power_cut_test.cpp) can turn them all off at once and
// show that it notices (KILN_TEST_SKIP_SYNC, agent/base/test_hooks.h).
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

// The folder holding `path` ("." for a bare name, "/" for "/x"; a trailing slash is ignored):
// the folder whose sync makes an entry for `path` durable.
std::string parent_folder(const std::string& path);

// fsync(2) and fdatasync(2), retried on EINTR: 0, or -1 with errno set. A failure means
// the data may be gone (after an EIO the kernel drops the dirty pages and a second fsync
// succeeds without them): callers stop, never retry and carry on.
int sync_file(int fd);
int sync_file_data(int fd);
// fsync of a folder, which makes the entries created, renamed or removed in it durable.
// Returns "" or what failed ("cannot flush the folder /x: Input/output error").
std::string sync_folder(const std::string& folder);
// sync_folder of `folder` and of every folder above it, up to /: what a write created
// (folders included, as create_directories makes them) is then durable. "" or the first error.
std::string sync_folder_and_parents(const std::string& folder);
// Creates `folder` (mode 0700 unless given) and makes its entry in the parent durable.
// "" when it was created or already exists as a folder, else what failed.
std::string create_folder_durably(const std::string& folder, mode_t mode = 0700);

}  // namespace kiln
