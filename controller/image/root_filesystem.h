// Root filesystem folders for the image pipeline: made from a parent (tarball, OCI image
// layout, or a cached debootstrap), given the agent, cleaned for a snapshot, packed, and
// removed. Archives are read and written by GNU tar (numeric owners, extended attributes:
// file capabilities survive); a folder is never removed while anything is mounted in it.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace kiln::image {

using Progress = std::function<void(const std::string&)>;

struct ToolRun {
  bool ok = false;
  std::string error;  // what failed, with the tool's last output lines
};

// Unpacks a root filesystem tarball (any compression tar knows) into `root` (created).
ToolRun unpack_tarball(const std::string& tarball, const std::string& root, const std::atomic<bool>* cancel);

// Extracts the one member of `tarball` matching `pattern` (a tar wildcard) into `folder`,
// without the folders above it.
ToolRun unpack_member(const std::string& tarball, const std::string& pattern, const std::string& folder,
                      const std::atomic<bool>* cancel);

// The layer blobs of the one image in an OCI image layout folder, bottom first.
ToolRun oci_layers(const std::string& layout, std::vector<std::string>& layers);
// Unpacks every layer of the layout's image into `root`, applying whiteouts.
ToolRun unpack_oci_layout(const std::string& layout, const std::string& root, const std::atomic<bool>* cancel);

// The Debian packages holding the shared libraries `binary` loads (ldd, then dpkg -S on
// this host): what a Debian root needs for that binary to run. Empty when unknown.
std::vector<std::string> runtime_packages(const std::string& binary);

// The tarball of a minbase `suite` root with `packages` included, made with debootstrap
// the first time and kept under `cache_directory` (keyed by suite and packages).
ToolRun cached_debootstrap(const std::string& suite, std::vector<std::string> packages, const std::string& mirror,
                           const std::string& cache_directory, const std::atomic<bool>* cancel,
                           const Progress& progress, std::string& tarball);

// Whether the root can be booted with systemd (it has systemd as its init).
bool has_systemd(const std::string& root);

struct InstalledAgent {
  std::string path;  // the agent inside the root ("/usr/local/bin/kiln", "/usr/bin/kiln")
  bool from_package = false;
  bool was_there = false;  // the root had it before: not removed by remove_agent()
};
// Installs `agent` (a kiln binary, or a .deb installed with the root's dpkg) into `root`.
ToolRun install_agent(const std::string& agent, const std::string& root, const std::atomic<bool>* cancel,
                      InstalledAgent& installed);
ToolRun remove_agent(const std::string& root, const InstalledAgent& installed, const std::atomic<bool>* cancel);

struct SnapshotCleanup {
  bool remove_apt_lists = false;
};
// Drops what an image must not keep: kilnctl's work folder in the root (kiln's state and
// logs of this build), /tmp and /var/tmp contents, the machine id (emptied: a new one is
// made at first boot), and apt's lists when asked.
ToolRun clean_for_snapshot(const std::string& root, const SnapshotCleanup& cleanup);

// Packs `root` into an uncompressed tar (sorted names, numeric owners, xattrs).
ToolRun pack_root(const std::string& root, const std::string& tarball, const std::atomic<bool>* cancel);

// Mount points at or under `folder` (from /proc/self/mounts).
std::vector<std::string> mounts_under(const std::string& folder);
// Removes `folder`; refuses (and says so) while anything is mounted under it.
ToolRun remove_tree(const std::string& folder);
// Detaches everything mounted under `folder`, deepest first: for folders that are kilnctl's
// own (a debootstrap that was stopped mid-way leaves its /proc mounted in the new root; a
// kilnctl killed with SIGKILL leaves its chroot mounts). Returns how many it detached.
int detach_mounts_under(const std::string& folder);

}  // namespace kiln::image
