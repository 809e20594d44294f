// ExtractArchive (a kiln extension, not part of AWSTOE): extracts tar (plain, gzip,
// bzip2, xz, zstd) and zip archives with libarchive.
//
// Nothing may land outside the destination. Every entry is checked twice:
//  1. a dry pass over the whole archive, before anything is written, refuses `..`
//     components, absolute names, entries below a symlink (one made by an earlier entry
//     of the same archive, or already on disk), symlinks whose target is absolute or
//     leaves the destination, hard links to a symlink or outside, and special files;
//     so a malicious archive extracts nothing;
//  2. the extraction re-checks each entry against the disk as it now is, and libarchive
//     runs with SECURE_SYMLINKS and SECURE_NODOTDOT as a second line of defence.
// Entries are written to "<destination>/<name>" (no chdir: the working folder belongs to
// the whole process). Modes and times are restored; setuid/setgid bits and owners are
// not (files belong to the user running kiln).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "actions/common/path_ops.h"

namespace kiln {

namespace {

namespace fs = std::filesystem;
using Components = std::vector<std::string>;

// Frees libarchive handles and closes the archive file when they go out of scope.
struct Reader {
  archive* handle = archive_read_new();
  ~Reader() { archive_read_free(handle); }
};
struct DiskWriter {
  archive* handle = archive_write_disk_new();
  ~DiskWriter() { archive_write_free(handle); }
};
struct File {
  int fd = -1;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

// libarchive converts entry names to the charset of the current locale, and kiln runs in
// the "C" locale, where every non-ASCII name fails. A UTF-8 locale for this thread only,
// while extracting, fixes that without changing anything for the rest of the process.
class ThreadUtf8Locale {
 public:
  ThreadUtf8Locale() : utf8_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0))) {
    if (utf8_) previous_ = ::uselocale(utf8_);
  }
  ~ThreadUtf8Locale() {
    if (!utf8_) return;
    ::uselocale(previous_);
    ::freelocale(utf8_);
  }
  ThreadUtf8Locale(const ThreadUtf8Locale&) = delete;
  ThreadUtf8Locale& operator=(const ThreadUtf8Locale&) = delete;

 private:
  locale_t utf8_;
  locale_t previous_ = static_cast<locale_t>(0);
};

std::string join(const Components& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
  return out;
}

// An archive name as components inside the destination ("." and empty ones dropped).
std::string split_name(const std::string& name, Components& parts) {
  if (name.empty()) return "has an empty name";
  if (name[0] == '/') return "has an absolute path";
  std::stringstream stream(name);
  std::string part;
  while (std::getline(stream, part, '/')) {
    if (part == "..") return "has a '..' component";
    if (!part.empty() && part != ".") parts.push_back(part);
  }
  return {};
}

std::string entry_name(archive_entry* entry) {
  const char* name = archive_entry_pathname(entry);
  if (!name) name = archive_entry_pathname_utf8(entry);
  return name ? name : "";
}

enum class Type { File, Folder, Symlink, Hardlink, Other };

Type entry_type(archive_entry* entry) {
  if (archive_entry_hardlink(entry)) return Type::Hardlink;
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG:
      return Type::File;
    case AE_IFDIR:
      return Type::Folder;
    case AE_IFLNK:
      return Type::Symlink;
    default:
      return Type::Other;
  }
}

struct Options {
  std::string destination;  // canonical: no symlink in it
  int64_t strip = 0;
  bool overwrite = true;
};

// Where one entry goes: `relative` inside the destination ("" when stripComponents
// removes it), and for a hard link its target, also relative.
struct Placement {
  std::string relative;
  std::string link_target;
};

// Decides where each entry goes and refuses any that could write outside the
// destination. Entries must be given in archive order: it remembers the symlinks made
// by earlier entries.
class Guard {
 public:
  Guard(const Options& options, bool check_existing) : options_(options), check_existing_(check_existing) {}

  std::string check(archive_entry* entry, Placement& placement) {
    std::string name = entry_name(entry);
    if (name.empty()) return "an entry has a name that cannot be read";
    std::string reason = reason_to_refuse(entry, placement);
    return reason.empty() ? "" : "entry '" + name + "' " + reason;
  }

 private:
  std::string reason_to_refuse(archive_entry* entry, Placement& placement) {
    Components parts;
    std::string reason = split_name(entry_name(entry), parts);
    if (!reason.empty()) return reason;
    Type type = entry_type(entry);
    if (type == Type::Other) return "is a device, FIFO or socket; only files, folders and links are extracted";
    placement = {};
    if (parts.size() <= static_cast<size_t>(options_.strip)) return {};  // removed by stripComponents
    parts.erase(parts.begin(), parts.begin() + options_.strip);
    placement.relative = join(parts, parts.size());
    reason = check_parents(parts);
    if (reason.empty() && check_existing_) reason = check_existing(type, placement.relative);
    if (reason.empty() && type == Type::Symlink) reason = check_symlink_target(parts, archive_entry_symlink(entry));
    if (reason.empty() && type == Type::Hardlink) reason = check_hardlink_target(archive_entry_hardlink(entry), placement);
    if (!reason.empty()) return reason;
    // A later entry of the same name replaces the link (libarchive unlinks it first).
    if (type == Type::Symlink) symlinks_.insert(placement.relative);
    else symlinks_.erase(placement.relative);
    return {};
  }

  bool is_symlink_on_disk(const std::string& relative) const {
    struct stat st;
    return ::lstat((options_.destination + "/" + relative).c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  }

  // No folder on the way may be a symlink, whether an earlier entry made it or it was
  // already on disk: writing through it could reach anywhere.
  std::string check_parents(const Components& parts) const {
    for (size_t count = 1; count < parts.size(); ++count) {
      std::string prefix = join(parts, count);
      if (symlinks_.count(prefix) || is_symlink_on_disk(prefix))
        return "would be written through the symbolic link '" + prefix + "'";
    }
    return {};
  }

  std::string check_existing(Type type, const std::string& relative) const {
    struct stat st;
    if (options_.overwrite || ::lstat((options_.destination + "/" + relative).c_str(), &st) != 0) return {};
    if (type == Type::Folder && S_ISDIR(st.st_mode)) return {};
    return "would replace " + options_.destination + "/" + relative + ", which exists, and overwrite is false";
  }

  // A link's target may climb (leading `..`) only through the real folders above the
  // link inside the destination; `..` after a name is refused because that name could
  // be a symlink, which the kernel would follow before climbing.
  static std::string check_symlink_target(const Components& link, const char* target_text) {
    std::string target = target_text ? target_text : "";
    if (target.empty()) return "is a symbolic link with an empty target";
    if (target[0] == '/') return "is a symbolic link to an absolute path (" + target + ")";
    std::stringstream stream(target);
    std::string part;
    size_t climbs = 0;
    bool named = false;
    while (std::getline(stream, part, '/')) {
      if (part == "..") {
        if (named) return "is a symbolic link whose target has '..' after a name (" + target + ")";
        ++climbs;
      } else if (!part.empty() && part != ".") {
        named = true;
      }
    }
    if (climbs > link.size() - 1) return "is a symbolic link that points outside the destination (" + target + ")";
    return {};
  }

  std::string check_hardlink_target(const char* target_text, Placement& placement) const {
    std::string target = target_text ? target_text : "";
    Components parts;
    std::string reason = split_name(target, parts);
    if (!reason.empty()) return "is a hard link whose target (" + target + ") " + reason;
    if (parts.size() <= static_cast<size_t>(options_.strip))
      return "is a hard link whose target (" + target + ") is removed by stripComponents";
    parts.erase(parts.begin(), parts.begin() + options_.strip);
    placement.link_target = join(parts, parts.size());
    reason = check_parents(parts);
    if (!reason.empty()) return "is a hard link whose target " + reason;
    if (symlinks_.count(placement.link_target) || is_symlink_on_disk(placement.link_target))
      return "is a hard link to the symbolic link '" + placement.link_target + "'";
    return {};
  }

  const Options& options_;
  bool check_existing_;
  std::set<std::string> symlinks_;  // relative paths of symlinks made by earlier entries
};

std::string open_archive(Reader& reader, int fd) {
  if (::lseek(fd, 0, SEEK_SET) != 0) return std::string("cannot read the archive: ") + std::strerror(errno);
  archive* a = reader.handle;
  // Only built-in decompressors: "all" would also run external programs (lrzip, lzop...).
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_zip(a);
  if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
    return std::string("cannot read the archive: ") + archive_error_string(a);
  return {};
}

// archive_read_next_header: 1 for an entry, 0 at the end, -1 with `error` set.
int next_entry(archive* a, archive_entry** entry, std::string& error) {
  int rc = archive_read_next_header(a, entry);
  if (rc == ARCHIVE_EOF) return 0;
  if (rc >= ARCHIVE_WARN) return 1;
  error = std::string("cannot read the archive: ") + (archive_error_string(a) ? archive_error_string(a) : "error");
  return -1;
}

// Pass 1: every entry is checked before anything is written.
std::string check_all(int fd, const Options& options, const path_ops::Interrupt& interrupt) {
  Reader reader;
  std::string error = open_archive(reader, fd);
  Guard guard(options, true);
  archive_entry* entry = nullptr;
  while (error.empty() && next_entry(reader.handle, &entry, error) > 0) {
    error = interrupt.check();
    Placement placement;
    if (error.empty()) error = guard.check(entry, placement);
  }
  return error.empty() ? "" : error + " (nothing was extracted)";
}

std::string copy_data(archive* in, archive* out) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    int rc = archive_read_data_block(in, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) return {};
    if (rc < ARCHIVE_WARN) return archive_error_string(in);
    if (archive_write_data_block(out, block, size, offset) < ARCHIVE_WARN) return archive_error_string(out);
  }
}

// Pass 2: extraction, each entry re-checked against the disk as it is now.
std::string extract_all(int fd, const Options& options, const path_ops::Interrupt& interrupt, size_t& count,
                        ActionContext& context) {
  Reader reader;
  std::string error = open_archive(reader, fd);
  if (!error.empty()) return error;
  DiskWriter disk;
  archive_write_disk_set_options(disk.handle, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                  ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  Guard guard(options, false);  // existing files were checked by pass 1; later entries may replace earlier ones
  archive_entry* entry = nullptr;
  while (error.empty() && next_entry(reader.handle, &entry, error) > 0) {
    std::string name = entry_name(entry);
    Placement placement;
    error = interrupt.check();
    if (error.empty()) error = guard.check(entry, placement);
    if (!error.empty() || placement.relative.empty()) continue;
    archive_entry_set_pathname(entry, (options.destination + "/" + placement.relative).c_str());
    if (!placement.link_target.empty())
      archive_entry_set_hardlink(entry, (options.destination + "/" + placement.link_target).c_str());
    archive_entry_set_perm(entry, archive_entry_perm(entry) & ~static_cast<mode_t>(S_ISUID | S_ISGID));
    int rc = archive_write_header(disk.handle, entry);
    if (rc < ARCHIVE_WARN) error = "entry '" + name + "': " + archive_error_string(disk.handle);
    else if (rc == ARCHIVE_WARN) context.log("entry '" + name + "': " + archive_error_string(disk.handle));
    if (error.empty() && archive_entry_size(entry) > 0) {
      std::string reason = copy_data(reader.handle, disk.handle);
      if (!reason.empty()) error = "entry '" + name + "': " + reason;
    }
    if (error.empty() && archive_write_finish_entry(disk.handle) < ARCHIVE_WARN)
      error = "entry '" + name + "': " + archive_error_string(disk.handle);
    ++count;
  }
  // Folders' modes and times are set here, after their contents.
  if (archive_write_close(disk.handle) < ARCHIVE_WARN && error.empty())
    error = std::string("cannot finish the extraction: ") + archive_error_string(disk.handle);
  return error.empty() ? "" : error + " (entries before it were extracted)";
}

std::string prepare_destination(const std::string& destination, std::string& canonical) {
  if (destination.empty()) return "the destination is empty";
  std::error_code ec;
  fs::create_directories(destination, ec);
  if (ec) return "cannot create the folder " + destination + ": " + ec.message();
  // Canonical, so that SECURE_SYMLINKS does not trip over a symlink above the destination.
  canonical = fs::canonical(destination, ec).string();
  if (ec) return "cannot resolve " + destination + ": " + ec.message();
  if (!fs::is_directory(canonical, ec)) return destination + " is not a folder";
  return {};
}

std::string extract_item(ActionContext& context, const nlohmann::json& item, const path_ops::Interrupt& interrupt) {
  std::string source = item.value("source", "");
  Options options;
  options.overwrite = item.at("overwrite").get<bool>();
  options.strip = item.at("stripComponents").get<int64_t>();
  File file;
  file.fd = ::open(source.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (file.fd < 0)
    return errno == ENOENT ? source + " does not exist" : "cannot open " + source + ": " + std::strerror(errno);
  struct stat st;
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode)) return source + " is not a file";
  std::string error = prepare_destination(item.value("destination", ""), options.destination);
  ThreadUtf8Locale utf8;
  if (error.empty()) error = check_all(file.fd, options, interrupt);
  size_t count = 0;
  if (error.empty()) error = extract_all(file.fd, options, interrupt, count, context);
  if (error.empty()) context.log("extracted " + std::to_string(count) + " entries of " + source + " to " + options.destination);
  return error;
}

}  // namespace

ActionResult run_extract_archive(ActionContext& context) {
  path_ops::Interrupt interrupt(context);
  return path_ops::run_items(context, "source", [&](const nlohmann::json& item) {
    return extract_item(context, item, interrupt);
  });
}

}  // namespace kiln
