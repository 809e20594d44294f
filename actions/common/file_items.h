// Shared by the file actions: run a list-form step item by item, and small helpers for
// reading and writing whole files through descriptors opened with O_CLOEXEC (the
// process runner spawns children, which must not inherit them).
#pragma once
#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "actions/action.h"

namespace kiln::files {

// Runs `run_item` on each input item in order; it returns "" or an error text. The first
// failure stops the step with "item <i> (<path>): <error>" (zero-based, like inputs[i]).
// Exceptions from an item become failures of that item, never escape.
ActionResult run_each_item(ActionContext& context,
                           const std::function<std::string(const nlohmann::json& item, ActionResult& result)>& run_item);

// "<what> <path>: <strerror(error)>" (no path when it is ""), for system call errors.
std::string errno_message(const std::string& what, const std::string& path, int error);

// Reads the whole file (symlinks followed). Fails on folders and on files larger than `limit`.
// Its errors name no path: callers report the item's path.
std::string read_whole_file(const std::string& path, std::string& content, size_t limit);

// Writes all of `data` to `fd`, retrying short writes. Returns 0 or an errno value.
int write_all(int fd, const std::string& data);

}  // namespace kiln::files
