// power_cut_fs: a TEST TOOL (not product code). A FUSE filesystem that forgets what was not
// made durable, for power-loss tests (issue 15): SIGKILL keeps the page cache, a power cut
// does not. Same idea as Jepsen's LazyFS, written from scratch.
//
//   power_cut_fs BACKING MOUNTPOINT [--trace FILE]
//
// Runs in the foreground, single-threaded; SIGTERM/SIGINT, `fusermount3 -u` or `umount`
// unmount it and end it (exit code 0). The mount has fstype fuse.power_cut_fs, zero
// attr/entry/negative timeouts and direct_io (no kernel page cache), so the kernel never
// shows stale data.
//
// Semantics. The whole tree is kept in memory (the live view); a second image, keyed by
// inode, holds the durable state, and BACKING always holds exactly the durable state.
//  - At mount everything in BACKING is durable.
//  - A file's data (content and size) becomes durable at fsync/fdatasync of that file (any
//    handle). Writes and truncates are volatile until then.
//  - Directory entries (create, mknod, mkdir, symlink, rename, unlink, rmdir) become durable
//    at fsync of the directory holding them (fsyncdir); each side of a rename belongs to its
//    own folder. fsync of a file does not make its entry durable. A new entry made durable
//    before its file's data is an empty file; a new directory made durable is empty until
//    it is synced itself.
//  - A power cut replaces the live view with the durable one. (If only the target folder of
//    a cross-folder rename was synced, a file shows at both names; a directory reached twice
//    is kept at its first place only.)
//  - A clean unmount makes everything durable, as a clean shutdown would.
//  - rename supports RENAME_NOREPLACE and RENAME_EXCHANGE. No hard links (EPERM); only
//    regular files, directories and symlinks; no xattrs; shared mmap is not supported
//    (private mmap and exec work). fstat of an unlinked file still open gives ESTALE
//    (libfuse's high-level API has no path for it); read/write/fsync on it work.
//
// Control: the file `.power_cut_fs` at the mount root (hidden from readdir, never counted nor
// traced). Write a command line to it (open O_WRONLY, write, close); it runs before the
// write returns:
//   cut            power cut now; state becomes off
//   arm N [PGID]   reset the op counter; just before the N-th counted operation: power cut,
//                  kill(-PGID, SIGKILL) if given, state off; the N-th operation returns EIO
//   power-on       state on again (the live view is the durable view)
//   fail-fsync     the next fsync/fdatasync of a file returns EIO and drops that file's
//                  unsynced data (a retried fsync succeeds, without it); one-shot
// Unknown commands, and a PGID that is this filesystem's own group: EINVAL. Reading it gives `ops=<N> cuts=<C>
// state=on|off\n`. While off, every operation (except on the control file, and getattr/access of the root, needed to
// reach it) returns EIO; handles opened before a cut return EIO for good.
//
// Counted operations (the ops= counter; one trace line each with --trace FILE as
// `<index> <op> <path>` or `<index> rename <from> <to>`, index from 1, restarting on arm):
// write truncate (also O_TRUNC opens, size changes) create (also mknod, symlink) mkdir
// unlink rmdir rename fsync fdatasync fsyncdir. The operation a cut stops counts (ops=N)
// but is not traced.
#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Id = std::uint64_t;
constexpr Id kRoot = 1;
constexpr const char* kControlName = ".power_cut_fs";

timespec now() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

struct Node {
  mode_t mode = 0;  // with the type bits
  uid_t uid = 0;
  gid_t gid = 0;
  timespec atime{}, mtime{}, ctime{};
  std::string data;                    // regular file
  std::string target;                  // symlink
  std::map<std::string, Id> children;  // directory
  Id parent = 0;
  std::string name;
  bool linked = true;
  int open_count = 0;
  bool dirty = false;  // data changed since the last fsync
};

struct Durable {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  timespec mtime{};
  std::shared_ptr<const std::string> data;  // null: empty
  std::uint64_t version = 0;                // 0: empty
  std::string target;
  std::map<std::string, Id> children;
};

// One entry of the durable tree by path: what BACKING holds there.
struct PathEntry {
  Id id = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  timespec mtime{};
  std::uint64_t version = 0;
  std::string target;
};

struct Handle {
  Id id = 0;
  std::uint64_t generation = 0;
  bool append = false;
  bool control = false;
  bool directory = false;
};

struct State {
  std::string backing;
  std::FILE* trace = nullptr;
  std::unordered_map<Id, Node> nodes;
  std::unordered_map<Id, Durable> durable;
  std::map<std::string, PathEntry> written;  // what BACKING holds
  std::unordered_map<std::uint64_t, Handle> handles;
  std::uint64_t next_handle = 1;
  Id next_id = kRoot + 1;
  std::uint64_t next_version = 1;
  std::uint64_t generation = 0;
  std::uint64_t ops = 0;
  std::uint64_t cuts = 0;
  bool on = true;
  std::uint64_t armed_at = 0;  // 0: not armed
  pid_t armed_pgid = 0;
  bool fail_next_fsync = false;
  bool unmounted = false;  // destroy ran: a clean end, even by a signal
};

State* g = nullptr;

std::string join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

bool is_control(const char* path) {
  return path && std::strcmp(path, "/.power_cut_fs") == 0;
}

// --- the durable tree and BACKING ---------------------------------------------------------

std::map<std::string, PathEntry> durable_paths() {
  std::map<std::string, PathEntry> out;
  std::set<Id> seen_dirs;
  std::vector<std::pair<std::string, Id>> stack{{"/", kRoot}};
  while (!stack.empty()) {
    auto [path, id] = stack.back();
    stack.pop_back();
    auto it = g->durable.find(id);
    if (it == g->durable.end()) continue;
    const Durable& d = it->second;
    if (S_ISDIR(d.mode) && !seen_dirs.insert(id).second) continue;  // a directory reached twice
    PathEntry e{id, d.mode, d.uid, d.gid, d.mtime, d.version, d.target};
    out.emplace(path, e);
    if (S_ISDIR(d.mode))
      for (auto c = d.children.rbegin(); c != d.children.rend(); ++c)
        stack.emplace_back(join(path, c->first), c->second);
  }
  return out;
}

void warn(const std::string& what, const std::string& path) {
  std::fprintf(stderr, "power_cut_fs: %s %s: %s\n", what.c_str(), path.c_str(), std::strerror(errno));
}

// Makes BACKING hold the durable tree, changing only what differs from what it holds.
void materialize() {
  auto fresh = durable_paths();
  auto& old = g->written;
  for (auto it = old.rbegin(); it != old.rend(); ++it) {
    auto n = fresh.find(it->first);
    if (n != fresh.end() && (n->second.mode & S_IFMT) == (it->second.mode & S_IFMT)) continue;
    if (it->first == "/") continue;
    std::error_code ec;
    std::filesystem::remove_all(g->backing + it->first, ec);
  }
  for (auto& [path, e] : fresh) {
    std::string real = g->backing + (path == "/" ? "" : path);
    auto o = old.find(path);
    bool exists = o != old.end() && (o->second.mode & S_IFMT) == (e.mode & S_IFMT);
    bool content = !exists || o->second.version != e.version || o->second.target != e.target;
    bool attrs = !exists || o->second.mode != e.mode || o->second.uid != e.uid || o->second.gid != e.gid ||
                 o->second.mtime.tv_sec != e.mtime.tv_sec || o->second.mtime.tv_nsec != e.mtime.tv_nsec;
    if (S_ISDIR(e.mode)) {
      if (!exists && ::mkdir(real.c_str(), 0700) != 0 && errno != EEXIST) warn("mkdir", real);
    } else if (S_ISLNK(e.mode)) {
      if (content) {
        ::unlink(real.c_str());
        if (::symlink(e.target.c_str(), real.c_str()) != 0) warn("symlink", real);
      }
    } else if (content) {
      int fd = ::open(real.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        warn("open", real);
        continue;
      }
      const auto& d = g->durable[e.id];
      if (d.data) {
        const char* p = d.data->data();
        size_t left = d.data->size();
        while (left > 0) {
          ssize_t w = ::write(fd, p, left);
          if (w < 0) {
            if (errno == EINTR) continue;
            warn("write", real);
            break;
          }
          p += w;
          left -= static_cast<size_t>(w);
        }
      }
      ::close(fd);
    }
    if (attrs || content) {
      if (::lchown(real.c_str(), e.uid, e.gid) != 0) warn("lchown", real);
      if (!S_ISLNK(e.mode) && ::chmod(real.c_str(), e.mode & 07777) != 0) warn("chmod", real);
      if (!S_ISDIR(e.mode)) {
        timespec times[2] = {e.mtime, e.mtime};
        ::utimensat(AT_FDCWD, real.c_str(), times, AT_SYMLINK_NOFOLLOW);
      }
    }
  }
  g->written = std::move(fresh);
}

Durable snapshot_attrs(const Node& n) {
  Durable d;
  d.mode = n.mode;
  d.uid = n.uid;
  d.gid = n.gid;
  d.mtime = n.mtime;
  d.target = n.target;
  return d;
}

void sync_file(Id id) {
  Node& n = g->nodes.at(id);
  auto it = g->durable.find(id);
  Durable d = snapshot_attrs(n);
  if (it != g->durable.end()) d.children = it->second.children;
  d.data = std::make_shared<const std::string>(n.data);
  d.version = g->next_version++;
  g->durable[id] = std::move(d);
  n.dirty = false;
}

void sync_dir(Id id) {
  const Node& n = g->nodes.at(id);
  Durable d = snapshot_attrs(n);
  d.children = n.children;
  for (auto& [name, child] : n.children) {
    if (g->durable.count(child)) continue;
    const Node& c = g->nodes.at(child);
    g->durable[child] = snapshot_attrs(c);  // a new file is empty, a new directory is empty
  }
  g->durable[id] = std::move(d);
}

// The live view becomes the durable one.
void rebuild_from_durable() {
  auto paths = durable_paths();
  std::unordered_map<Id, Node> nodes;
  std::unordered_map<Id, Durable> durable;
  std::map<std::string, Id> ids;
  std::set<Id> used;
  timespec t = now();
  for (auto& [path, e] : paths) {
    Id id = used.insert(e.id).second ? e.id : g->next_id++;
    const Durable& d = g->durable.at(e.id);
    Node n;
    n.mode = d.mode;
    n.uid = d.uid;
    n.gid = d.gid;
    n.mtime = n.ctime = d.mtime;
    n.atime = t;
    if (d.data) n.data = *d.data;
    n.target = d.target;
    if (path != "/") {
      n.name = base_of(path);
      n.parent = ids.at(parent_of(path));
      nodes.at(n.parent).children[n.name] = id;
    }
    Durable copy = d;
    copy.children.clear();
    durable[id] = copy;
    ids[path] = id;
    nodes[id] = std::move(n);
  }
  for (auto& [id, n] : nodes)
    if (S_ISDIR(n.mode)) durable[id].children = n.children;
  g->nodes = std::move(nodes);
  g->durable = std::move(durable);
  g->written = durable_paths();
}

void power_cut() {
  rebuild_from_durable();
  g->generation++;  // handles opened before the cut are dead
  g->cuts++;
  g->on = false;
  g->armed_at = 0;
}

void load_backing() {
  Node root;
  struct stat st {};
  if (::stat(g->backing.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + g->backing);
  root.mode = st.st_mode;
  root.uid = st.st_uid;
  root.gid = st.st_gid;
  root.atime = st.st_atim;
  root.mtime = st.st_mtim;
  root.ctime = st.st_ctim;
  g->nodes[kRoot] = root;
  std::vector<std::pair<std::string, Id>> dirs{{"/", kRoot}};
  while (!dirs.empty()) {
    auto [path, id] = dirs.back();
    dirs.pop_back();
    std::string real = g->backing + (path == "/" ? "" : path);
    for (auto& entry : std::filesystem::directory_iterator(real)) {
      std::string name = entry.path().filename().string();
      if (path == "/" && name == kControlName) continue;  // the control file's name is taken
      std::string full = real + "/" + name;
      if (::lstat(full.c_str(), &st) != 0) continue;
      if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
      Node n;
      n.mode = st.st_mode;
      n.uid = st.st_uid;
      n.gid = st.st_gid;
      n.atime = st.st_atim;
      n.mtime = st.st_mtim;
      n.ctime = st.st_ctim;
      n.parent = id;
      n.name = name;
      if (S_ISREG(st.st_mode)) {
        std::FILE* f = std::fopen(full.c_str(), "rb");
        if (!f) continue;
        char buffer[65536];
        size_t r;
        while ((r = std::fread(buffer, 1, sizeof buffer, f)) > 0) n.data.append(buffer, r);
        std::fclose(f);
      } else if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        n.target = std::filesystem::read_symlink(full, ec).string();
      }
      Id child = g->next_id++;
      g->nodes[id].children[name] = child;
      bool dir = S_ISDIR(st.st_mode);
      g->nodes[child] = std::move(n);
      if (dir) dirs.emplace_back(join(path, name), child);
    }
  }
  for (auto& [id, n] : g->nodes) {
    Durable d = snapshot_attrs(n);
    d.children = n.children;
    if (S_ISREG(n.mode) && !n.data.empty()) {
      d.data = std::make_shared<const std::string>(n.data);
      d.version = g->next_version++;
    }
    g->durable[id] = std::move(d);
  }
  g->written = durable_paths();
}

// --- live tree helpers --------------------------------------------------------------------

Node* find(const char* path, Id* out = nullptr) {
  if (!path) return nullptr;
  Id id = kRoot;
  std::string p = path;
  size_t i = 1;
  while (i < p.size()) {
    size_t slash = p.find('/', i);
    std::string part = p.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    i = slash == std::string::npos ? p.size() : slash + 1;
    if (part.empty()) continue;
    Node& n = g->nodes.at(id);
    if (!S_ISDIR(n.mode)) return nullptr;
    auto c = n.children.find(part);
    if (c == n.children.end()) return nullptr;
    id = c->second;
  }
  if (out) *out = id;
  return &g->nodes.at(id);
}

std::string path_of(Id id) {
  if (id == kRoot) return "/";
  std::string path;
  while (id != kRoot && id != 0) {
    const Node& n = g->nodes.at(id);
    path = "/" + n.name + path;
    id = n.parent;
    if (!g->nodes.count(id)) break;
  }
  return path.empty() ? "/" : path;
}

void trace(std::uint64_t index, const char* op, const std::string& a, const std::string& b = "") {
  if (!g->trace) return;
  if (b.empty())
    std::fprintf(g->trace, "%llu %s %s\n", static_cast<unsigned long long>(index), op, a.c_str());
  else
    std::fprintf(g->trace, "%llu %s %s %s\n", static_cast<unsigned long long>(index), op, a.c_str(), b.c_str());
  std::fflush(g->trace);
}

// Counts an operation that changes state or makes it durable; false: return EIO (the power
// is off, or the armed cut happened just now).
bool count(const char* op, const std::string& a, const std::string& b = "") {
  if (!g->on) return false;
  g->ops++;
  if (g->armed_at != 0 && g->ops == g->armed_at) {
    pid_t pgid = g->armed_pgid;
    power_cut();
    if (pgid > 0) ::kill(-pgid, SIGKILL);
    return false;
  }
  trace(g->ops, op, a, b);
  return true;
}

// The handle `fi` names, or null (EIO: dead after a cut, or unknown).
Handle* handle(fuse_file_info* fi) {
  if (!fi) return nullptr;
  auto it = g->handles.find(fi->fh);
  if (it == g->handles.end()) return nullptr;
  if (it->second.control) return &it->second;  // the control file survives cuts
  if (it->second.generation != g->generation || !g->nodes.count(it->second.id)) return nullptr;
  return &it->second;
}

// The node by handle if there is one, else by path; sets `id`. Returns an errno (0: found).
int resolve(const char* path, fuse_file_info* fi, Id& id) {
  if (fi && fi->fh != 0) {
    Handle* h = handle(fi);
    if (!h) return EIO;
    id = h->id;
    return 0;
  }
  if (!find(path, &id)) return ENOENT;
  return 0;
}

std::string status() {
  return "ops=" + std::to_string(g->ops) + " cuts=" + std::to_string(g->cuts) + " state=" + (g->on ? "on" : "off") +
         "\n";
}

void fill_stat(Id id, const Node& n, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = id;
  st->st_mode = n.mode;
  st->st_uid = n.uid;
  st->st_gid = n.gid;
  st->st_atim = n.atime;
  st->st_mtim = n.mtime;
  st->st_ctim = n.ctime;
  st->st_blksize = 4096;
  if (S_ISDIR(n.mode)) {
    st->st_nlink = 2;
    for (auto& [name, c] : n.children)
      if (S_ISDIR(g->nodes.at(c).mode)) st->st_nlink++;
    st->st_size = 4096;
  } else {
    st->st_nlink = n.linked ? 1 : 0;
    st->st_size = static_cast<off_t>(S_ISLNK(n.mode) ? n.target.size() : n.data.size());
  }
  st->st_blocks = (st->st_size + 511) / 512;
}

int run_command(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  if (!(in >> word)) return 0;  // an empty line
  std::string extra;
  if (word == "cut") {
    if (in >> extra) return -EINVAL;
    power_cut();
  } else if (word == "power-on") {
    if (in >> extra) return -EINVAL;
    g->on = true;
  } else if (word == "fail-fsync") {
    if (in >> extra) return -EINVAL;
    g->fail_next_fsync = true;
  } else if (word == "arm") {
    long long n = 0, pgid = 0;
    if (!(in >> n) || n < 1) return -EINVAL;
    if (in >> extra) {
      try {
        size_t used = 0;
        pgid = std::stoll(extra, &used);
        if (used != extra.size() || pgid < 1) return -EINVAL;
        if (static_cast<pid_t>(pgid) == ::getpgrp()) return -EINVAL;  // would kill this filesystem
      } catch (...) {
        return -EINVAL;
      }
      if (in >> extra) return -EINVAL;
    }
    g->ops = 0;
    g->armed_at = static_cast<std::uint64_t>(n);
    g->armed_pgid = static_cast<pid_t>(pgid);
  } else {
    return -EINVAL;
  }
  return 0;
}

Id add_node(Id parent_id, const std::string& name, mode_t mode) {
  Node n;
  fuse_context* ctx = fuse_get_context();
  n.mode = mode;
  n.uid = ctx ? ctx->uid : 0;
  n.gid = ctx ? ctx->gid : 0;
  n.atime = n.mtime = n.ctime = now();
  n.parent = parent_id;
  n.name = name;
  Id id = g->next_id++;
  g->nodes[id] = std::move(n);
  Node& p = g->nodes.at(parent_id);
  p.children[name] = id;
  p.mtime = p.ctime = now();
  return id;
}

// For create/mkdir/mknod/symlink: the parent directory; an errno when it cannot be made.
int check_new(const char* path, Id& parent_id) {
  if (is_control(path)) return EEXIST;
  std::string p = path;
  Node* parent = find(parent_of(p).c_str(), &parent_id);
  if (!parent) return ENOENT;
  if (!S_ISDIR(parent->mode)) return ENOTDIR;
  if (parent->children.count(base_of(p))) return EEXIST;
  return 0;
}

void maybe_forget(Id id) {
  auto it = g->nodes.find(id);
  if (it != g->nodes.end() && !it->second.linked && it->second.open_count == 0 && id != kRoot) g->nodes.erase(it);
}

void detach(Id id) {
  Node& n = g->nodes.at(id);
  Node& p = g->nodes.at(n.parent);
  p.children.erase(n.name);
  p.mtime = p.ctime = now();
  n.linked = false;
  maybe_forget(id);
}

void set_size(Node& n, off_t size) {
  n.data.resize(static_cast<size_t>(size));
  n.mtime = n.ctime = now();
  n.dirty = true;
}

// --- FUSE operations ----------------------------------------------------------------------

void* op_init(fuse_conn_info* conn, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->nullpath_ok = 1;
  cfg->hard_remove = 1;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->auto_cache = 0;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  return nullptr;
}

void op_destroy(void*) {
  g->unmounted = true;
  // A clean unmount: everything becomes durable (unless the power is off: then the live view
  // already is the durable one).
  if (!g->on) return;
  for (auto& [id, n] : g->nodes)
    if (n.linked && S_ISREG(n.mode) && (n.dirty || !g->durable.count(id))) sync_file(id);
  for (auto& [id, n] : g->nodes)
    if (n.linked && S_ISDIR(n.mode)) sync_dir(id);
  for (auto& [id, n] : g->nodes)
    if (n.linked && g->durable.count(id)) {
      Durable& d = g->durable[id];
      d.mode = n.mode;
      d.uid = n.uid;
      d.gid = n.gid;
      d.mtime = n.mtime;
    }
  materialize();
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  Handle* h = fi ? handle(fi) : nullptr;
  if (is_control(path) || (h && h->control)) {
    std::memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_ino = 0x7fffffff;
    st->st_size = static_cast<off_t>(status().size());
    st->st_mtim = st->st_ctim = st->st_atim = now();
    return 0;
  }
  if (!g->on && !(path && std::strcmp(path, "/") == 0)) return -EIO;
  Id id;
  if (int e = resolve(path, fi, id)) return -e;
  fill_stat(id, g->nodes.at(id), st);
  return 0;
}

int op_readlink(const char* path, char* buf, size_t size) {
  if (!g->on) return -EIO;
  Node* n = find(path);
  if (!n) return -ENOENT;
  if (!S_ISLNK(n->mode)) return -EINVAL;
  if (size == 0) return -EINVAL;
  size_t len = std::min(size - 1, n->target.size());
  std::memcpy(buf, n->target.data(), len);
  buf[len] = '\0';
  return 0;
}

int op_mknod(const char* path, mode_t mode, dev_t) {
  if (!g->on) return -EIO;
  if (!S_ISREG(mode)) return -EPERM;
  Id parent;
  if (int e = check_new(path, parent)) return -e;
  if (!count("create", path)) return -EIO;
  add_node(parent, base_of(path), mode);
  return 0;
}

int op_mkdir(const char* path, mode_t mode) {
  if (!g->on) return -EIO;
  Id parent;
  if (int e = check_new(path, parent)) return -e;
  if (!count("mkdir", path)) return -EIO;
  add_node(parent, base_of(path), S_IFDIR | (mode & 07777));
  return 0;
}

int op_symlink(const char* target, const char* path) {
  if (!g->on) return -EIO;
  Id parent;
  if (int e = check_new(path, parent)) return -e;
  if (!count("create", path)) return -EIO;
  Id id = add_node(parent, base_of(path), S_IFLNK | 0777);
  g->nodes.at(id).target = target;
  return 0;
}

int op_unlink(const char* path) {
  if (is_control(path)) return -EPERM;
  if (!g->on) return -EIO;
  Id id;
  Node* n = find(path, &id);
  if (!n) return -ENOENT;
  if (S_ISDIR(n->mode)) return -EISDIR;
  if (!count("unlink", path)) return -EIO;
  g->nodes.at(id).ctime = now();
  detach(id);
  return 0;
}

int op_rmdir(const char* path) {
  if (!g->on) return -EIO;
  Id id;
  Node* n = find(path, &id);
  if (!n) return -ENOENT;
  if (!S_ISDIR(n->mode)) return -ENOTDIR;
  if (id == kRoot) return -EBUSY;
  if (!n->children.empty()) return -ENOTEMPTY;
  if (!count("rmdir", path)) return -EIO;
  detach(id);
  return 0;
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  if (is_control(from) || is_control(to)) return -EPERM;
  if (!g->on) return -EIO;
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE | RENAME_EXCHANGE)) return -EINVAL;
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return -EINVAL;
  Id id, to_parent_id, old_id = 0;
  Node* n = find(from, &id);
  if (!n) return -ENOENT;
  if (id == kRoot) return -EBUSY;
  std::string to_s = to;
  Node* to_parent = find(parent_of(to_s).c_str(), &to_parent_id);
  if (!to_parent) return -ENOENT;
  if (!S_ISDIR(to_parent->mode)) return -ENOTDIR;
  auto inside = [](Id dir, Id ancestor) {
    for (Id a = dir; a != 0; a = a == kRoot ? 0 : g->nodes.at(a).parent)
      if (a == ancestor) return true;
    return false;
  };
  if (inside(to_parent_id, id)) return -EINVAL;  // into itself
  if (flags & RENAME_EXCHANGE) {
    Node* other = find(to, &old_id);
    if (!other) return -ENOENT;
    if (old_id == id) return 0;
    if (old_id == kRoot || inside(n->parent, old_id)) return -EINVAL;
    if (!count("rename", from, to)) return -EIO;
    Node& a = g->nodes.at(id);
    Node& b = g->nodes.at(old_id);
    std::swap(a.parent, b.parent);
    std::swap(a.name, b.name);
    g->nodes.at(a.parent).children[a.name] = id;
    g->nodes.at(b.parent).children[b.name] = old_id;
    for (Id p : {a.parent, b.parent}) g->nodes.at(p).mtime = g->nodes.at(p).ctime = now();
    a.ctime = b.ctime = now();
    return 0;
  }
  if (Node* old = find(to, &old_id)) {
    if (old_id == id) return 0;
    if (flags & RENAME_NOREPLACE) return -EEXIST;
    if (S_ISDIR(n->mode) && !S_ISDIR(old->mode)) return -ENOTDIR;
    if (!S_ISDIR(n->mode) && S_ISDIR(old->mode)) return -EISDIR;
    if (S_ISDIR(old->mode) && !old->children.empty()) return -ENOTEMPTY;
  }
  if (!count("rename", from, to)) return -EIO;
  if (old_id != 0) detach(old_id);
  Node& moved = g->nodes.at(id);
  Node& from_parent = g->nodes.at(moved.parent);
  from_parent.children.erase(moved.name);
  from_parent.mtime = from_parent.ctime = now();
  moved.parent = to_parent_id;
  moved.name = base_of(to_s);
  moved.ctime = now();
  Node& dest = g->nodes.at(to_parent_id);
  dest.children[moved.name] = id;
  dest.mtime = dest.ctime = now();
  return 0;
}

int op_link(const char*, const char*) {
  return -EPERM;
}

int op_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (is_control(path)) return 0;
  if (!g->on) return -EIO;
  Id id;
  if (int e = resolve(path, fi, id)) return -e;
  Node& n = g->nodes.at(id);
  n.mode = (n.mode & S_IFMT) | (mode & 07777);
  n.ctime = now();
  return 0;
}

int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  if (is_control(path)) return 0;
  if (!g->on) return -EIO;
  Id id;
  if (int e = resolve(path, fi, id)) return -e;
  Node& n = g->nodes.at(id);
  if (uid != static_cast<uid_t>(-1)) n.uid = uid;
  if (gid != static_cast<gid_t>(-1)) n.gid = gid;
  n.ctime = now();
  return 0;
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  Handle* h = fi ? handle(fi) : nullptr;
  if (is_control(path) || (h && h->control)) return 0;
  if (!g->on) return -EIO;
  if (size < 0) return -EINVAL;
  Id id;
  if (int e = resolve(path, fi, id)) return -e;
  Node& n = g->nodes.at(id);
  if (S_ISDIR(n.mode)) return -EISDIR;
  if (!S_ISREG(n.mode)) return -EINVAL;
  if (!count("truncate", path ? std::string(path) : path_of(id))) return -EIO;
  set_size(n, size);
  return 0;
}

int op_open(const char* path, fuse_file_info* fi) {
  fi->direct_io = 1;
  fi->keep_cache = 0;
  if (is_control(path)) {
    Handle h;
    h.control = true;
    h.generation = g->generation;
    fi->fh = g->next_handle++;
    g->handles[fi->fh] = h;
    fi->nonseekable = 1;
    return 0;
  }
  if (!g->on) return -EIO;
  Id id;
  Node* n = find(path, &id);
  if (!n) return -ENOENT;
  if (S_ISDIR(n->mode)) return -EISDIR;
  if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
    if (!count("truncate", path)) return -EIO;
    set_size(*n, 0);
  }
  Handle h;
  h.id = id;
  h.generation = g->generation;
  h.append = (fi->flags & O_APPEND) != 0;
  fi->fh = g->next_handle++;
  g->handles[fi->fh] = h;
  n->open_count++;
  return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  fi->direct_io = 1;
  if (!g->on) return -EIO;
  if (!S_ISREG(mode)) mode = S_IFREG | (mode & 07777);
  Id parent;
  if (int e = check_new(path, parent)) return -e;
  if (!count("create", path)) return -EIO;
  Id id = add_node(parent, base_of(path), mode);
  Handle h;
  h.id = id;
  h.generation = g->generation;
  h.append = (fi->flags & O_APPEND) != 0;
  fi->fh = g->next_handle++;
  g->handles[fi->fh] = h;
  g->nodes.at(id).open_count++;
  return 0;
}

int op_read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  Handle* h = handle(fi);
  if (h && h->control) {
    std::string s = status();
    if (offset < 0 || static_cast<size_t>(offset) >= s.size()) return 0;
    size_t n = std::min(size, s.size() - static_cast<size_t>(offset));
    std::memcpy(buf, s.data() + offset, n);
    return static_cast<int>(n);
  }
  if (!g->on || !h) return -EIO;
  Node& n = g->nodes.at(h->id);
  if (offset < 0) return -EINVAL;
  if (static_cast<size_t>(offset) >= n.data.size()) return 0;
  size_t len = std::min(size, n.data.size() - static_cast<size_t>(offset));
  std::memcpy(buf, n.data.data() + offset, len);
  n.atime = now();
  return static_cast<int>(len);
}

int op_write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  Handle* h = handle(fi);
  if (h && h->control) {
    std::string text(buf, size);
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line))
      if (int e = run_command(line)) return e;
    return static_cast<int>(size);
  }
  if (!g->on || !h) return -EIO;
  if (offset < 0) return -EINVAL;
  Id id = h->id;
  bool append = h->append;
  if (!count("write", path_of(id))) return -EIO;
  Node& n = g->nodes.at(id);
  size_t at = append ? n.data.size() : static_cast<size_t>(offset);
  if (n.data.size() < at + size) n.data.resize(at + size);
  std::memcpy(n.data.data() + at, buf, size);
  n.mtime = n.ctime = now();
  n.dirty = true;
  return static_cast<int>(size);
}

int op_statfs(const char*, struct statvfs* st) {
  if (!g->on) return -EIO;
  if (::statvfs(g->backing.c_str(), st) != 0) return -errno;
  return 0;
}

int op_release(const char*, fuse_file_info* fi) {
  auto it = g->handles.find(fi->fh);
  if (it == g->handles.end()) return 0;
  Handle h = it->second;
  g->handles.erase(it);
  if (!h.control && h.generation == g->generation) {
    auto n = g->nodes.find(h.id);
    if (n != g->nodes.end()) {
      n->second.open_count--;
      maybe_forget(h.id);
    }
  }
  return 0;
}

int op_fsync(const char*, int datasync, fuse_file_info* fi) {
  Handle* h = handle(fi);
  if (h && h->control) return 0;
  if (!g->on || !h) return -EIO;
  Id id = h->id;
  if (!count(datasync ? "fdatasync" : "fsync", path_of(id))) return -EIO;
  Node& n = g->nodes.at(id);
  if (g->fail_next_fsync && S_ISREG(n.mode)) {
    g->fail_next_fsync = false;
    auto d = g->durable.find(id);
    n.data = d != g->durable.end() && d->second.data ? *d->second.data : std::string();
    n.dirty = false;
    return -EIO;
  }
  if (!n.linked && !g->durable.count(id)) return 0;  // nothing durable can name it
  sync_file(id);
  materialize();
  return 0;
}

int op_opendir(const char* path, fuse_file_info* fi) {
  if (!g->on) return -EIO;
  Id id;
  Node* n = find(path, &id);
  if (!n) return -ENOENT;
  if (!S_ISDIR(n->mode)) return -ENOTDIR;
  Handle h;
  h.id = id;
  h.generation = g->generation;
  h.directory = true;
  fi->fh = g->next_handle++;
  g->handles[fi->fh] = h;
  n->open_count++;
  return 0;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info* fi, fuse_readdir_flags) {
  if (!g->on) return -EIO;
  Id id;
  if (int e = resolve(path, fi, id)) return -e;
  const Node& n = g->nodes.at(id);
  if (!S_ISDIR(n.mode)) return -ENOTDIR;
  struct stat st {};
  fill_stat(id, n, &st);
  filler(buf, ".", &st, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (auto& [name, child] : n.children) {
    fill_stat(child, g->nodes.at(child), &st);
    if (filler(buf, name.c_str(), &st, 0, static_cast<fuse_fill_dir_flags>(0))) break;
  }
  return 0;
}

int op_releasedir(const char* path, fuse_file_info* fi) {
  return op_release(path, fi);
}

int op_fsyncdir(const char*, int, fuse_file_info* fi) {
  if (!g->on) return -EIO;
  Handle* h = handle(fi);
  if (!h) return -EIO;
  Id id = h->id;
  if (!count("fsyncdir", path_of(id))) return -EIO;
  if (!g->nodes.at(id).linked && !g->durable.count(id)) return 0;
  sync_dir(id);
  materialize();
  return 0;
}

int op_access(const char* path, int) {
  if (is_control(path)) return 0;
  if (!g->on && std::strcmp(path, "/") != 0) return -EIO;
  return find(path) ? 0 : -ENOENT;
}

int op_utimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  if (is_control(path)) return 0;
  if (!g->on) return -EIO;
  Id id;
  if (int e = resolve(path, fi, id)) return -e;
  Node& n = g->nodes.at(id);
  timespec t = now();
  auto pick = [&](const timespec& want, timespec& field) {
    if (want.tv_nsec == UTIME_OMIT) return;
    field = want.tv_nsec == UTIME_NOW ? t : want;
  };
  pick(tv[0], n.atime);
  pick(tv[1], n.mtime);
  n.ctime = t;
  return 0;
}

void usage() {
  std::fprintf(stderr, "usage: power_cut_fs BACKING MOUNTPOINT [--trace FILE]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string backing, mountpoint, trace_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--trace" && i + 1 < argc) {
      trace_file = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      usage();
      return 2;
    } else if (backing.empty()) {
      backing = a;
    } else if (mountpoint.empty()) {
      mountpoint = a;
    } else {
      usage();
      return 2;
    }
  }
  if (backing.empty() || mountpoint.empty()) {
    usage();
    return 2;
  }
  State state;
  g = &state;
  std::error_code ec;
  state.backing = std::filesystem::canonical(backing, ec).string();
  if (ec || !std::filesystem::is_directory(state.backing)) {
    std::fprintf(stderr, "power_cut_fs: %s is not a directory\n", backing.c_str());
    return 2;
  }
  if (!trace_file.empty()) {
    state.trace = std::fopen(trace_file.c_str(), "a");
    if (!state.trace) {
      std::fprintf(stderr, "power_cut_fs: cannot open %s: %s\n", trace_file.c_str(), std::strerror(errno));
      return 2;
    }
  }
  try {
    load_backing();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "power_cut_fs: cannot load %s: %s\n", backing.c_str(), e.what());
    return 2;
  }

  fuse_operations ops{};
  ops.getattr = op_getattr;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.chmod = op_chmod;
  ops.chown = op_chown;
  ops.truncate = op_truncate;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.statfs = op_statfs;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;
  ops.init = op_init;
  ops.destroy = op_destroy;
  ops.access = op_access;
  ops.create = op_create;
  ops.utimens = op_utimens;

  std::vector<std::string> args{argv[0], mountpoint, "-f",
                                "-s",    "-o",       "fsname=power_cut_fs,subtype=power_cut_fs,default_permissions"};
  std::vector<char*> fuse_argv;
  for (auto& a : args) fuse_argv.push_back(a.data());
  int rc = fuse_main(static_cast<int>(fuse_argv.size()), fuse_argv.data(), &ops, nullptr);
  if (state.trace) std::fclose(state.trace);
  g = nullptr;
  // fuse_main reports an end by SIGTERM/SIGINT as an error; it is the normal way to stop.
  return state.unmounted ? 0 : (rc != 0 ? rc : 1);
}
