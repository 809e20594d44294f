#include "actions/common/path_ops.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace kiln::path_ops {
namespace fs = std::filesystem;

namespace {

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string failure(const std::string& what, const std::string& path, int error_number) {
  return "cannot " + what + " " + path + ": " + std::strerror(error_number);
}

std::string already_exists(const std::string& path) { return path + " already exists and overwrite is false"; }

std::string parent_of(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

std::string join(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return folder.back() == '/' ? folder + name : folder + "/" + name;
}

std::string create_parents(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return {};
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return "cannot create the folder " + parent.string() + ": " + ec.message();
  return {};
}

// rename(2) that refuses to replace an existing `to` (atomically where the filesystem can).
int rename_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  struct stat st;
  if (::lstat(to.c_str(), &st) == 0) {
    errno = EEXIST;
    return -1;
  }
  return ::rename(from.c_str(), to.c_str());
}

std::string rename_into_place(const std::string& temp, const std::string& to, bool overwrite) {
  int rc = overwrite ? ::rename(temp.c_str(), to.c_str()) : rename_no_replace(temp, to);
  if (rc == 0) return {};
  return errno == EEXIST ? already_exists(to) : failure("create", to, errno);
}

// An existing `to` may only be replaced by the same kind of thing, and only when
// `overwrite`; a symlink counts as a file.
std::string check_target(const std::string& to, bool folder, bool overwrite, bool& exists) {
  struct stat st;
  exists = false;
  if (::lstat(to.c_str(), &st) != 0)
    return errno == ENOENT || errno == ENOTDIR ? "" : failure("inspect", to, errno);
  exists = true;
  if (!overwrite) return already_exists(to);
  if (folder && !S_ISDIR(st.st_mode)) return to + " exists and is not a folder";
  if (!folder && S_ISDIR(st.st_mode))
    return to + " is a folder; end the destination with / to put the file inside it";
  return {};
}

enum class Nesting { Apart, Same, Inside };

// Where `to` lies relative to the folder `from` (symlinks resolved): a folder cannot be
// copied or moved into itself.
Nesting nesting(const std::string& from, const std::string& to) {
  std::error_code ec1, ec2;
  fs::path a = fs::weakly_canonical(from, ec1), b = fs::weakly_canonical(to, ec2);
  if (ec1 || ec2) return Nesting::Apart;
  if (a == b) return Nesting::Same;
  auto mismatch = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return mismatch.first == a.end() ? Nesting::Inside : Nesting::Apart;
}

std::string copy_bytes(int in, int out, const std::string& from, const std::string& to) {
  // copy_file_range lets the kernel copy (or share extents) without a trip through user
  // space; some filesystems refuse it, and procfs-like files report 0 bytes, so fall back.
  bool kernel_copy = true;
  bool copied_any = false;
  for (;;) {
    if (kernel_copy) {
      ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t{1} << 30, 0);
      if (n > 0) {
        copied_any = true;
        continue;
      }
      if (n == 0 && copied_any) return {};
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP && errno != EPERM)
        return failure("copy", from, errno);
      kernel_copy = false;
    }
    char buffer[128 * 1024];
    ssize_t n = ::read(in, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure("read", from, errno);
    if (n == 0) return {};
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return failure("write", to, errno);
      done += w;
    }
  }
}

// Gives the open file or folder `fd` the mode and times of `st` (and its owner when
// `keep_owner` and permitted). Without the owner, setuid/setgid are dropped.
std::string apply_metadata(int fd, const struct stat& st, bool keep_owner, const std::string& path) {
  bool owned = false;
  if (keep_owner) {
    if (::fchown(fd, st.st_uid, st.st_gid) == 0) owned = true;
    else if (errno != EPERM) return failure("set the owner of", path, errno);
  }
  // fchown clears setuid/setgid, so the mode is set after it.
  if (::fchmod(fd, st.st_mode & (owned ? 07777 : 01777)) != 0) return failure("set the mode of", path, errno);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(fd, times) != 0) return failure("set the times of", path, errno);
  return {};
}

std::string apply_folder_metadata(const std::string& path, const struct stat& st, bool keep_owner) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return failure("open", path, errno);
  return apply_metadata(fd.get(), st, keep_owner, path);
}

// Opens a source file without blocking on a FIFO and checks that it is a regular file.
std::string open_regular(const std::string& path, bool follow, int& fd, struct stat& st) {
  fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) return errno == ENOENT ? path + " does not exist" : failure("open", path, errno);
  if (::fstat(fd, &st) != 0) return failure("inspect", path, errno);
  if (S_ISDIR(st.st_mode)) return path + " is a folder";
  if (!S_ISREG(st.st_mode)) return path + " is not a regular file";
  return {};
}

// Writes a copy of the open file `in` to a temporary file beside `to`, then renames it
// to `to`: a reader never sees a half-written file.
std::string install_file_copy(int in, const struct stat& st, const std::string& from, const std::string& to,
                              bool overwrite, bool keep_owner) {
  std::string temp = parent_of(to) + "/.kiln-tmp-XXXXXX";
  Fd out(::mkostemp(temp.data(), O_CLOEXEC));
  if (out.get() < 0) return failure("create a temporary file in", parent_of(to), errno);
  std::string error = copy_bytes(in, out.get(), from, to);
  if (error.empty()) error = apply_metadata(out.get(), st, keep_owner, to);
  if (error.empty()) error = rename_into_place(temp, to, overwrite);
  if (!error.empty()) ::unlink(temp.c_str());
  return error;
}

std::string read_link(const std::string& path, std::string& target) {
  std::vector<char> buffer(4096);
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), buffer.data(), buffer.size());
    if (n < 0) return failure("read the link", path, errno);
    if (static_cast<size_t>(n) < buffer.size()) {
      target.assign(buffer.data(), static_cast<size_t>(n));
      return {};
    }
    buffer.resize(buffer.size() * 2);
  }
}

// Creates at `to` (which must not exist) a symlink with the target and times of `from`.
std::string copy_symlink(const std::string& from, const struct stat& st, const std::string& to, bool keep_owner) {
  std::string target;
  std::string error = read_link(from, target);
  if (!error.empty()) return error;
  if (::symlink(target.c_str(), to.c_str()) != 0) return failure("create the link", to, errno);
  if (keep_owner && ::lchown(to.c_str(), st.st_uid, st.st_gid) != 0 && errno != EPERM)
    return failure("set the owner of", to, errno);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(AT_FDCWD, to.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return failure("set the times of", to, errno);
  return {};
}

std::string copy_tree(const std::string& from, const std::string& to, bool keep_owner, const Interrupt& interrupt);

// Copies one entry of a tree to `to`, which must not exist; symlinks are not followed.
std::string copy_entry(const std::string& from, const std::string& to, bool keep_owner, const Interrupt& interrupt) {
  struct stat st;
  if (::lstat(from.c_str(), &st) != 0) return failure("inspect", from, errno);
  if (S_ISLNK(st.st_mode)) return copy_symlink(from, st, to, keep_owner);
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(to.c_str(), 0700) != 0) return failure("create the folder", to, errno);
    std::string error = copy_tree(from, to, keep_owner, interrupt);
    // After the children: creating them changed the folder's times.
    return error.empty() ? apply_folder_metadata(to, st, keep_owner) : error;
  }
  if (!S_ISREG(st.st_mode)) return "cannot copy " + from + ": special files (devices, FIFOs, sockets) are not copied";
  int raw = -1;
  std::string error = open_regular(from, false, raw, st);
  Fd in(raw);
  if (!error.empty()) return error;
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.get() < 0) return failure("create", to, errno);
  error = copy_bytes(in.get(), out.get(), from, to);
  return error.empty() ? apply_metadata(out.get(), st, keep_owner, to) : error;
}

// Copies the contents of the folder `from` into the existing folder `to`.
std::string copy_tree(const std::string& from, const std::string& to, bool keep_owner, const Interrupt& interrupt) {
  std::error_code ec;
  fs::directory_iterator it(from, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string error = interrupt.check();
    std::string name = it->path().filename().string();
    if (error.empty()) error = copy_entry(join(from, name), join(to, name), keep_owner, interrupt);
    if (!error.empty()) return error;
  }
  return ec ? "cannot read the folder " + from + ": " + ec.message() : "";
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

std::string make_temp_folder(const std::string& beside, std::string& path) {
  path = parent_of(beside) + "/.kiln-tmp-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) return failure("create a temporary folder in", parent_of(beside), errno);
  return {};
}

// Puts the finished folder `staging` at `to`. An existing folder there (only when
// `overwrite`) is swapped out in one step where the filesystem allows, then deleted.
std::string install_folder(const std::string& staging, const std::string& to, bool overwrite) {
  struct stat st;
  if (::lstat(to.c_str(), &st) != 0) {
    if (rename_no_replace(staging, to) == 0) return {};
    return errno == EEXIST ? already_exists(to) : failure("create", to, errno);
  }
  if (!overwrite) return already_exists(to);
  if (!S_ISDIR(st.st_mode)) return to + " exists and is not a folder";
  std::string old = staging;
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) return failure("replace", to, errno);
    // No atomic exchange here: move the old folder aside, then the new one in.
    std::string error = make_temp_folder(to, old);
    if (!error.empty()) return error;
    if (::rename(to.c_str(), old.c_str()) != 0) {
      int saved = errno;
      ::rmdir(old.c_str());
      return failure("replace", to, saved);
    }
    if (::rename(staging.c_str(), to.c_str()) != 0) {
      int saved = errno;
      ::rename(old.c_str(), to.c_str());
      return failure("replace", to, saved);
    }
  }
  std::error_code ec;
  fs::remove_all(old, ec);
  if (ec) return "replaced " + to + ", but cannot delete its previous content (now " + old + "): " + ec.message();
  return {};
}

// MoveFile across filesystems: a copy beside `to` keeping mode, times and owner.
std::string copy_across(const std::string& from, const struct stat& st, const std::string& to, bool overwrite) {
  if (S_ISLNK(st.st_mode)) {
    std::string temp = parent_of(to) + "/.kiln-tmp-XXXXXX";
    Fd placeholder(::mkostemp(temp.data(), O_CLOEXEC));  // reserves a unique name
    if (placeholder.get() < 0 || ::unlink(temp.c_str()) != 0)
      return failure("create a temporary file in", parent_of(to), errno);
    std::string error = copy_symlink(from, st, temp, true);
    if (error.empty()) error = rename_into_place(temp, to, overwrite);
    if (!error.empty()) ::unlink(temp.c_str());
    return error;
  }
  int raw = -1;
  struct stat opened;
  std::string error = open_regular(from, false, raw, opened);
  Fd in(raw);
  if (!error.empty()) return "cannot move " + from + " to another filesystem: " + error;
  return install_file_copy(in.get(), opened, from, to, overwrite, true);
}

std::string trim_trailing(const std::string& path, const char* separators) {
  size_t end = path.find_last_not_of(separators);
  if (end == std::string::npos) return path.empty() ? path : "/";
  return path.substr(0, end + 1);
}

// The name `source` keeps when a destination ends with a separator.
std::string source_name(const std::string& source) {
  std::string name = fs::path(trim_trailing(source, "/")).filename().string();
  if (name.empty() || name == "." || name == "..") {
    std::error_code ec;
    name = fs::weakly_canonical(source, ec).filename().string();
  }
  return name;
}

bool is_kind(const std::string& path, Kind kind) {
  struct stat st;
  bool follow = kind == Kind::RegularFile || kind == Kind::Folder;
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) return false;
  switch (kind) {
    case Kind::RegularFile:
      return S_ISREG(st.st_mode);
    case Kind::NonFolder:
      return !S_ISDIR(st.st_mode);
    case Kind::Folder:
    case Kind::RealFolder:
      return S_ISDIR(st.st_mode);
  }
  return false;
}

}  // namespace

Interrupt::Interrupt(const ActionContext& context) : cancel_(context.cancel) {
  if (context.timeout.count() >= 0) {
    has_deadline_ = true;
    deadline_ = std::chrono::steady_clock::now() + context.timeout;
  }
}

bool Interrupt::timed_out() const { return has_deadline_ && std::chrono::steady_clock::now() >= deadline_; }

std::string Interrupt::check() const {
  if (cancel_ && cancel_->load()) return "interrupted";
  if (timed_out()) return "timed out (the step's timeoutSeconds ran out)";
  return {};
}

ActionResult run_items(ActionContext& context, const char* label_key, const ItemFunction& run_item) {
  ActionResult result;
  Interrupt interrupt(context);
  size_t index = 0;
  for (const auto& item : context.inputs) {
    std::string label;
    if (item.is_object() && item.contains(label_key) && item[label_key].is_string())
      label = item[label_key].get<std::string>();
    std::string error = interrupt.check();
    if (error.empty()) {
      try {
        error = run_item(item);
      } catch (const std::exception& e) {  // a safety net: the operations report errors as text
        error = std::string("internal error: ") + e.what();
      }
    }
    if (!error.empty()) {
      result.timed_out = interrupt.timed_out();
      result.failure_message = "item " + std::to_string(index) + " (" + label + "): " + error;
      return result;
    }
    ++index;
  }
  result.success = true;
  return result;
}

bool ends_with_separator(const std::string& path) {
  return !path.empty() && (path.back() == '/' || path.back() == '\\');
}

std::string parse_source(const std::string& source, SourcePattern& out) {
  if (source.empty()) return "the path is empty";
  out.path = trim_trailing(source, "/");
  size_t slash = out.path.rfind('/');
  out.folder = slash == std::string::npos ? "" : out.path.substr(0, slash + 1);
  out.name = slash == std::string::npos ? out.path : out.path.substr(slash + 1);
  if (out.folder.find('*') != std::string::npos)
    return "'*' is allowed only in the last component of " + source;
  out.wildcard = out.name.find('*') != std::string::npos;
  return {};
}

bool wildcard_match(const std::string& pattern, const std::string& name) {
  std::string escaped;
  for (char c : pattern) {
    if (c == '?' || c == '[' || c == ']' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return ::fnmatch(escaped.c_str(), name.c_str(), 0) == 0;
}

std::string expand_wildcard(const SourcePattern& pattern, Kind kind, std::vector<std::string>& matches) {
  std::string folder = pattern.folder.empty() ? "." : pattern.folder;
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return {};
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::string path = pattern.folder + name;
    if (wildcard_match(pattern.name, name) && is_kind(path, kind)) matches.push_back(path);
  }
  if (ec) return "cannot read the folder " + folder + ": " + ec.message();
  std::sort(matches.begin(), matches.end());
  return {};
}

std::string target_path(const std::string& source, const std::string& destination) {
  if (!ends_with_separator(destination)) return destination;
  return join(trim_trailing(destination, "/\\"), source_name(source));
}

std::string transfer_item(const nlohmann::json& item, Kind kind, const Transfer& operation) {
  const std::string source = item.value("source", "");
  const std::string destination = item.value("destination", "");
  const bool overwrite = item.at("overwrite").get<bool>();
  SourcePattern pattern;
  std::string error = parse_source(source, pattern);
  if (!error.empty()) return error;
  if (destination.empty()) return "the destination is empty";
  if (!pattern.wildcard) return operation(pattern.path, target_path(pattern.path, destination), overwrite);
  if (!ends_with_separator(destination))
    return "with a wildcard in the source, the destination must be a folder ending with /";
  std::vector<std::string> matches;
  error = expand_wildcard(pattern, kind, matches);
  if (!error.empty()) return error;
  bool folders = kind == Kind::Folder || kind == Kind::RealFolder;
  if (matches.empty()) return std::string("no ") + (folders ? "folder" : "file") + " matches " + source;
  for (const auto& match : matches) {
    error = operation(match, target_path(match, destination), overwrite);
    if (!error.empty()) return error;
  }
  return {};
}

std::string copy_file(const std::string& from, const std::string& to, bool overwrite) {
  int raw = -1;
  struct stat st {};
  std::string error = open_regular(from, true, raw, st);
  Fd in(raw);
  if (!error.empty()) return raw >= 0 && S_ISDIR(st.st_mode) ? error + " (CopyFolder copies folders)" : error;
  struct stat existing;
  if (::stat(to.c_str(), &existing) == 0 && existing.st_dev == st.st_dev && existing.st_ino == st.st_ino)
    return {};  // the destination is the source itself
  bool exists = false;
  error = check_target(to, false, overwrite, exists);
  if (error.empty()) error = create_parents(to);
  if (!error.empty()) return error;
  return install_file_copy(in.get(), st, from, to, overwrite, false);
}

// The start CopyFolder and MoveFolder share: a folder cannot go inside itself; the target
// is checked, its parents made, and an empty staging folder made beside it. `same` is
// set (and nothing made) when source and target are one folder: nothing to do.
static std::string prepare_folder_target(const std::string& from, const std::string& to, bool overwrite, const char* verb,
                                         std::string& staging, bool& same) {
  Nesting where = nesting(from, to);
  same = where == Nesting::Same;
  if (same) return {};
  if (where == Nesting::Inside) return std::string("cannot ") + verb + " " + from + " into itself (" + to + ")";
  bool exists = false;
  std::string error = check_target(to, true, overwrite, exists);
  if (error.empty()) error = create_parents(to);
  if (error.empty()) error = make_temp_folder(to, staging);
  return error;
}

std::string copy_folder(const std::string& from, const std::string& to, bool overwrite, const Interrupt& interrupt) {
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return errno == ENOENT ? from + " does not exist" : failure("inspect", from, errno);
  if (!S_ISDIR(st.st_mode)) return from + " is not a folder (CopyFile copies files)";
  std::string staging;
  bool same = false;
  std::string error = prepare_folder_target(from, to, overwrite, "copy", staging, same);
  if (!error.empty() || same) return error;
  // The copy is built beside the target and put in place when complete.
  error = copy_tree(from, staging, false, interrupt);
  if (error.empty()) error = apply_folder_metadata(staging, st, false);
  if (error.empty()) error = install_folder(staging, to, overwrite);
  if (!error.empty()) remove_quietly(staging);
  return error;
}

std::string move_file(const std::string& from, const std::string& to, bool overwrite) {
  struct stat st;
  if (::lstat(from.c_str(), &st) != 0) return errno == ENOENT ? from + " does not exist" : failure("inspect", from, errno);
  if (S_ISDIR(st.st_mode)) return from + " is a folder (MoveFolder moves folders)";
  struct stat existing;
  if (::lstat(to.c_str(), &existing) == 0 && existing.st_dev == st.st_dev && existing.st_ino == st.st_ino)
    return {};  // already there
  bool exists = false;
  std::string error = check_target(to, false, overwrite, exists);
  if (error.empty()) error = create_parents(to);
  if (!error.empty()) return error;
  int rc = overwrite ? ::rename(from.c_str(), to.c_str()) : rename_no_replace(from, to);
  if (rc == 0) return {};
  if (errno == EEXIST) return already_exists(to);
  if (errno != EXDEV) return failure("move " + from + " to", to, errno);
  // Another filesystem: copy, then delete the source once the copy is in place.
  error = copy_across(from, st, to, overwrite);
  if (!error.empty()) return error;
  if (::unlink(from.c_str()) != 0) return "copied " + from + " to " + to + ", but " + failure("delete", from, errno);
  return {};
}

std::string move_folder(const std::string& from, const std::string& to, bool overwrite, const Interrupt& interrupt) {
  struct stat st;
  if (::lstat(from.c_str(), &st) != 0) return errno == ENOENT ? from + " does not exist" : failure("inspect", from, errno);
  if (S_ISLNK(st.st_mode)) return from + " is a symbolic link, not a folder (MoveFile moves links)";
  if (!S_ISDIR(st.st_mode)) return from + " is not a folder (MoveFile moves files)";
  std::string staging;
  bool same = false;
  std::string error = prepare_folder_target(from, to, overwrite, "move", staging, same);
  if (!error.empty() || same) return error;
  // First beside the target (rename onto the empty staging folder), then into place, so
  // replacing an existing folder works the same within and across filesystems.
  bool copied = false;
  if (::rename(from.c_str(), staging.c_str()) != 0) {
    int saved = errno;
    if (saved != EXDEV) {
      ::rmdir(staging.c_str());
      return failure("move " + from + " to", to, saved);
    }
    error = copy_tree(from, staging, true, interrupt);
    if (error.empty()) error = apply_folder_metadata(staging, st, true);
    if (!error.empty()) {
      remove_quietly(staging);
      return error;
    }
    copied = true;
  }
  error = install_folder(staging, to, overwrite);
  if (!error.empty()) {
    if (copied) remove_quietly(staging);
    else ::rename(staging.c_str(), from.c_str());  // put the source back
    return error;
  }
  if (copied) {
    std::error_code ec;
    fs::remove_all(from, ec);
    if (ec) return "copied " + from + " to " + to + ", but cannot delete the source: " + ec.message();
  }
  return {};
}

std::string delete_file(const std::string& path, bool& existed) {
  existed = false;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT || errno == ENOTDIR ? "" : failure("inspect", path, errno);
  if (S_ISDIR(st.st_mode)) return path + " is a folder (DeleteFolder deletes folders)";
  if (::unlink(path.c_str()) != 0) return failure("delete", path, errno);
  existed = true;
  return {};
}

std::string delete_folder(const std::string& given, bool force, bool& existed) {
  existed = false;
  // Without the trailing '/', a symlink is seen as one, not as the folder it points to.
  const std::string path = trim_trailing(given, "/");
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT || errno == ENOTDIR ? "" : failure("inspect", path, errno);
  if (S_ISLNK(st.st_mode)) return path + " is a symbolic link, not a folder (DeleteFile deletes links)";
  if (!S_ISDIR(st.st_mode)) return path + " is not a folder (DeleteFile deletes files)";
  existed = true;
  std::error_code ec;
  if (fs::canonical(path, ec) == "/") return "refusing to delete /";
  if (::rmdir(path.c_str()) == 0) return {};
  if (errno != ENOTEMPTY && errno != EEXIST) return failure("delete", path, errno);
  if (!force) return path + " is not empty; set force: true to delete it with its contents";
  fs::remove_all(path, ec);
  if (ec) return "cannot delete " + path + ": " + ec.message();
  return {};
}

}  // namespace kiln::path_ops
