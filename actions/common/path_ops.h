// Shared by the file and folder actions: list-form inputs run item by item, source
// wildcards (`*` in the last component only), the trailing-separator naming rule, and
// copy / move / delete primitives that report failures as text instead of throwing.
// Every function returns an empty string on success, else a message naming the path.
#pragma once
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actions/action.h"

namespace kiln::path_ops {

// The step's deadline and cancel flag, checked between files so that a long copy
// honours timeoutSeconds and Ctrl-C.
class Interrupt {
 public:
  explicit Interrupt(const ActionContext& context);
  // "" while the step may go on; else why it must stop (timed_out() tells which).
  std::string check() const;
  bool timed_out() const;

 private:
  std::chrono::steady_clock::time_point deadline_;
  bool has_deadline_ = false;
  const std::atomic<bool>* cancel_ = nullptr;
};

// Runs `run_item` on each map of a list-form input, in order. The first failure stops
// the step as "item <i> (<value of label_key>): <message>", i being the zero-based
// index that chaining uses (`inputs[i]`).
using ItemFunction = std::function<std::string(const nlohmann::json& item)>;
ActionResult run_items(ActionContext& context, const char* label_key, const ItemFunction& run_item);

// --- names and wildcards ---

// True when `path` ends with '/' or '\' (AWSTOE documents both as "a folder").
bool ends_with_separator(const std::string& path);

// A source as written (trailing '/' removed: `path`), split at its last '/' into
// `folder` (the text before `name`, with its '/'; "" for a bare name) and `name`, the
// last component, which alone may hold '*'.
struct SourcePattern {
  std::string path;
  std::string folder;
  std::string name;
  bool wildcard = false;
};
std::string parse_source(const std::string& source, SourcePattern& out);

// Matches a file name against a pattern in which only '*' is special (it also matches
// a leading dot); '?', '[' and '\' are taken literally.
bool wildcard_match(const std::string& pattern, const std::string& name);

// What a wildcard (or a plain source) must be.
enum class Kind {
  RegularFile,  // a file, following symlinks (what CopyFile copies)
  NonFolder,    // anything but a real folder; a symlink is itself (MoveFile, DeleteFile)
  Folder,       // a folder, following symlinks (CopyFolder)
  RealFolder,   // a folder that is not a symlink (MoveFolder)
};

// The entries of `pattern.folder` whose name matches and that are of `kind`, sorted.
// A missing folder yields no matches.
std::string expand_wildcard(const SourcePattern& pattern, Kind kind, std::vector<std::string>& matches);

// Where `source` goes: inside `destination` under its own name when `destination` ends
// with a separator, else `destination` itself.
std::string target_path(const std::string& source, const std::string& destination);

// --- operations ---

// One item of CopyFile, CopyFolder, MoveFile or MoveFolder (`source`, `destination`,
// `overwrite`): expands the source (a wildcard matches entries of `kind`; matching
// nothing is an error), names each target by the destination rule, and applies
// `operation` to each pair in name order, stopping at the first failure.
using Transfer = std::function<std::string(const std::string& from, const std::string& to, bool overwrite)>;
std::string transfer_item(const nlohmann::json& item, Kind kind, const Transfer& operation);

// Copies a file (its content, permission bits without setuid/setgid, and times) to
// `to`, replacing an existing file only when `overwrite`; parents are created. The data
// goes to a temporary file next to `to` first, so `to` is never left half-written.
std::string copy_file(const std::string& from, const std::string& to, bool overwrite);

// Copies a folder recursively to `to`: modes and times are kept, symlinks inside the tree
// are copied as symlinks (never followed). An existing folder at `to` is replaced as a
// whole when `overwrite`, after the copy has completed beside it.
std::string copy_folder(const std::string& from, const std::string& to, bool overwrite, const Interrupt& interrupt);

// rename(2); across filesystems (EXDEV) a copy that keeps modes, times and, when
// permitted, ownership, then the source is deleted.
std::string move_file(const std::string& from, const std::string& to, bool overwrite);
std::string move_folder(const std::string& from, const std::string& to, bool overwrite, const Interrupt& interrupt);

// Deletes a file or symlink; `existed` tells whether there was anything to delete.
std::string delete_file(const std::string& path, bool& existed);
// Deletes a folder; a non-empty one only with `force`. A missing folder is not an error.
std::string delete_folder(const std::string& path, bool force, bool& existed);

}  // namespace kiln::path_ops
