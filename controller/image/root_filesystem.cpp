#include "controller/image/root_filesystem.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "agent/base/hash.h"
#include "agent/sys/process.h"

namespace kiln::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Runs a tool; its output is kept (the last lines go into the error when it fails).
ToolRun run_tool(const std::vector<std::string>& argv, const std::atomic<bool>* cancel, std::string* output = nullptr) {
  sys::ProcessSpec spec;
  spec.executable = argv.front();
  spec.arguments.assign(argv.begin() + 1, argv.end());
  spec.extra_environment = {kPath, "LC_ALL=C"};
  std::string text;
  sys::ProcessResult result = sys::run_process(
      spec, [&](sys::OutputStream, std::string_view chunk) { text.append(chunk); }, cancel);
  if (output) *output = text;
  ToolRun run;
  run.ok = result.started && result.exit_code == 0 && result.signal == 0 && !result.cancelled;
  if (run.ok) return run;
  if (result.cancelled) {
    run.error = argv.front() + " interrupted";
    return run;
  }
  // The last few lines say why.
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string tail;
  for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) tail += "\n  " + lines[i];
  run.error = argv.front() + (result.started ? " exited " + std::to_string(result.exit_code) : " did not start: " + result.error) + tail;
  return run;
}

ToolRun failure(std::string message) {
  return {false, std::move(message)};
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, false);
}

std::string blob_path(const std::string& layout, const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos) return {};
  return layout + "/blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

// Applies one layer's whiteouts to the root below it: ".wh.NAME" removes NAME, and
// ".wh..wh..opq" empties its folder (of what lower layers put there).
void apply_whiteouts(const std::string& root, const std::vector<std::string>& entries) {
  for (std::string entry : entries) {
    if (entry.rfind("./", 0) == 0) entry.erase(0, 2);
    fs::path path(entry);
    const std::string base = path.filename().string();
    if (base.rfind(".wh.", 0) != 0) continue;
    std::error_code ec;
    if (base == ".wh..wh..opq") {
      for (const auto& child : fs::directory_iterator(fs::path(root) / path.parent_path(), ec)) fs::remove_all(child.path(), ec);
    } else {
      fs::remove_all(fs::path(root) / path.parent_path() / base.substr(4), ec);
    }
  }
}

}  // namespace

ToolRun unpack_tarball(const std::string& tarball, const std::string& root, const std::atomic<bool>* cancel) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return failure("cannot create " + root + ": " + ec.message());
  return run_tool({"tar", "--extract", "--file", tarball, "--directory", root, "--numeric-owner", "--preserve-permissions",
                   "--xattrs", "--xattrs-include=*"},
                  cancel);
}

ToolRun unpack_member(const std::string& tarball, const std::string& pattern, const std::string& folder,
                      const std::atomic<bool>* cancel) {
  const auto depth = std::count(pattern.begin(), pattern.end(), '/');
  return run_tool({"tar", "--extract", "--file", tarball, "--directory", folder, "--wildcards",
                   "--strip-components=" + std::to_string(depth), pattern},
                  cancel);
}

ToolRun oci_layers(const std::string& layout, std::vector<std::string>& layers) {
  json index = read_json(layout + "/index.json");
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
    return failure(layout + "/index.json is missing or not an OCI image index");
  if (index["manifests"].size() != 1)
    return failure(layout + " holds " + std::to_string(index["manifests"].size()) +
                   " images; kilnctl takes a layout with exactly one (copy it out with skopeo or umoci)");
  const std::string manifest_path = blob_path(layout, index["manifests"][0].value("digest", ""));
  json manifest = read_json(manifest_path);
  if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array())
    return failure("the image manifest " + manifest_path + " is missing or has no layers");
  for (const auto& layer : manifest["layers"]) {
    std::string path = blob_path(layout, layer.value("digest", ""));
    if (path.empty() || !fs::is_regular_file(path)) return failure("layer blob " + path + " is missing");
    layers.push_back(path);
  }
  return {true, {}};
}

ToolRun unpack_oci_layout(const std::string& layout, const std::string& root, const std::atomic<bool>* cancel) {
  std::vector<std::string> layers;
  if (ToolRun listed = oci_layers(layout, layers); !listed.ok) return listed;
  std::error_code ec;
  fs::create_directories(root, ec);
  for (const auto& layer : layers) {
    std::string listing;
    if (ToolRun listed = run_tool({"tar", "--list", "--file", layer}, cancel, &listing); !listed.ok) return listed;
    std::vector<std::string> entries;
    std::istringstream in(listing);
    for (std::string line; std::getline(in, line);) entries.push_back(line);
    apply_whiteouts(root, entries);
    ToolRun unpacked = run_tool({"tar", "--extract", "--file", layer, "--directory", root, "--numeric-owner",
                                 "--preserve-permissions", "--xattrs", "--xattrs-include=*", "--exclude=.wh.*"},
                                cancel);
    if (!unpacked.ok) return unpacked;
  }
  return {true, {}};
}

std::vector<std::string> runtime_packages(const std::string& binary) {
  std::string listing;
  if (!run_tool({"ldd", binary}, nullptr, &listing).ok) return {};
  std::vector<std::string> libraries;
  std::istringstream in(listing);
  for (std::string line; std::getline(in, line);) {
    auto arrow = line.find("=> /");
    if (arrow == std::string::npos) continue;
    libraries.push_back(line.substr(arrow + 3, line.find(' ', arrow + 3) - arrow - 3));
  }
  if (libraries.empty() || ::access("/usr/bin/dpkg", X_OK) != 0) return {};
  // One dpkg -S for all of them ("pkg:arch: /path" per line; it exits 1 when one is not
  // found), then one more for those dpkg knows only under their other usrmerge name.
  std::set<std::string> packages;
  auto owners = [&](const std::vector<std::string>& paths) {
    std::vector<std::string> argv{"dpkg", "-S"};
    argv.insert(argv.end(), paths.begin(), paths.end());
    std::string found;
    run_tool(argv, nullptr, &found);
    std::set<std::string> owned;
    std::istringstream lines(found);
    for (std::string line; std::getline(lines, line);) {
      auto separator = line.find(": /");
      if (separator == std::string::npos) continue;
      std::string package = line.substr(0, line.find(':'));
      if (!package.empty() && package.find(',') == std::string::npos) packages.insert(package);
      owned.insert(line.substr(separator + 2));
    }
    return owned;
  };
  std::set<std::string> owned = owners(libraries);
  std::vector<std::string> others;
  for (const auto& library : libraries) {
    std::error_code ec;
    std::string real = fs::canonical(library, ec).string();
    if (!owned.count(library) && !ec && real != library) others.push_back(real);
  }
  if (!others.empty()) owners(others);
  return {packages.begin(), packages.end()};
}

ToolRun cached_debootstrap(const std::string& suite, std::vector<std::string> packages, const std::string& mirror,
                           const std::string& cache_directory, const std::atomic<bool>* cancel,
                           const Progress& progress, std::string& tarball) {
  std::sort(packages.begin(), packages.end());
  packages.erase(std::unique(packages.begin(), packages.end()), packages.end());
  std::string include;
  for (const auto& package : packages) include += (include.empty() ? "" : ",") + package;
  const std::string key = suite + "-minbase-" + sha256_hex(include + "\n" + mirror).substr(0, 12);
  tarball = cache_directory + "/" + key + ".tar";
  std::error_code ec;
  fs::create_directories(cache_directory, ec);
  if (ec) return failure("cannot create the cache folder " + cache_directory + ": " + ec.message());
  // One builder at a time per cache: a second kilnctl waits, then finds the tarball.
  int lock = ::open((cache_directory + "/.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock < 0) return failure("cannot open " + cache_directory + "/.lock");
  ::flock(lock, LOCK_EX);
  ToolRun made{true, {}};
  if (fs::is_regular_file(tarball)) {
    progress("parent: debootstrap:" + suite + " from the cache (" + tarball + ")");
  } else {
    progress("parent: debootstrap --variant=minbase " + suite + " (first time; cached as " + tarball + ")");
    const std::string root = cache_directory + "/" + key + ".building";
    detach_mounts_under(root);
    if (ToolRun removed = remove_tree(root); !removed.ok) {
      ::close(lock);
      return removed;
    }
    made = run_tool({"debootstrap", "--variant=minbase", "--include=" + include, suite, root, mirror}, cancel);
    if (!made.ok && fs::is_regular_file(root + "/debootstrap/debootstrap.log")) {
      std::ifstream log(root + "/debootstrap/debootstrap.log");
      std::stringstream text;
      text << log.rdbuf();
      std::string all = text.str();
      made.error += "\n  debootstrap.log ends:\n" + all.substr(all.size() > 1500 ? all.size() - 1500 : 0);
    }
    detach_mounts_under(root);  // debootstrap mounts /proc and /sys in the root; stopped mid-way it leaves them
    if (made.ok) made = pack_root(root, tarball + ".tmp", cancel);
    if (made.ok) fs::rename(tarball + ".tmp", tarball, ec);
    fs::remove(tarball + ".tmp", ec);
    if (ToolRun removed = remove_tree(root); made.ok && !removed.ok) made = removed;
  }
  ::close(lock);
  return made;
}

bool has_systemd(const std::string& root) {
  std::error_code ec;
  for (const char* init : {"/usr/lib/systemd/systemd", "/lib/systemd/systemd"})
    if (fs::exists(fs::path(root + init), ec)) return true;
  return false;
}

ToolRun install_agent(const std::string& agent, const std::string& root, const std::atomic<bool>* cancel,
                      InstalledAgent& installed) {
  std::error_code ec;
  if (agent.ends_with(".deb")) {
    installed.from_package = true;
    installed.path = "/usr/bin/kiln";
    installed.was_there = fs::exists(root + "/var/lib/dpkg/info/kiln.list", ec);
    const std::string inside = "/tmp/kiln-agent.deb";
    fs::copy_file(agent, root + inside, fs::copy_options::overwrite_existing, ec);
    if (ec) return failure("cannot copy " + agent + " into the root: " + ec.message());
    ToolRun run = run_tool({"chroot", root, "dpkg", "--install", inside}, cancel);
    fs::remove(root + inside, ec);
    if (!run.ok) run.error = "installing " + agent + " with the root's dpkg failed: " + run.error;
    return run;
  }
  installed.path = "/usr/local/bin/kiln";
  installed.was_there = fs::exists(root + installed.path, ec);
  fs::create_directories(root + "/usr/local/bin", ec);
  fs::copy_file(agent, root + installed.path, fs::copy_options::overwrite_existing, ec);
  if (ec) return failure("cannot copy " + agent + " into " + root + installed.path + ": " + ec.message());
  fs::permissions(root + installed.path, fs::perms(0755), ec);
  return {true, {}};
}

ToolRun remove_agent(const std::string& root, const InstalledAgent& installed, const std::atomic<bool>* cancel) {
  if (installed.was_there || installed.path.empty()) return {true, {}};
  if (installed.from_package) return run_tool({"chroot", root, "dpkg", "--purge", "kiln"}, cancel);
  std::error_code ec;
  fs::remove(root + installed.path, ec);
  if (ec) return failure("cannot remove " + root + installed.path + ": " + ec.message());
  return {true, {}};
}

ToolRun clean_for_snapshot(const std::string& root, const SnapshotCleanup& cleanup) {
  std::error_code ec;
  auto empty_folder = [&](const std::string& folder) {
    for (const auto& child : fs::directory_iterator(root + folder, ec)) fs::remove_all(child.path(), ec);
  };
  fs::remove_all(root + "/var/lib/kiln/kilnctl", ec);  // kilnctl's work folder: state, logs, documents
  if (fs::is_empty(root + "/var/lib/kiln", ec)) fs::remove(root + "/var/lib/kiln", ec);
  empty_folder("/tmp");
  empty_folder("/var/tmp");
  if (fs::is_regular_file(root + "/etc/machine-id", ec)) std::ofstream(root + "/etc/machine-id", std::ios::trunc);
  if (cleanup.remove_apt_lists) {
    for (const auto& child : fs::directory_iterator(root + "/var/lib/apt/lists", ec))
      if (child.is_regular_file(ec) && child.path().filename() != "lock") fs::remove(child.path(), ec);
  }
  return {true, {}};
}

ToolRun pack_root(const std::string& root, const std::string& tarball, const std::atomic<bool>* cancel) {
  return run_tool({"tar", "--create", "--file", tarball, "--directory", root, "--numeric-owner", "--xattrs",
                   "--xattrs-include=*", "--sort=name", "--one-file-system", "."},
                  cancel);
}

std::vector<std::string> mounts_under(const std::string& folder) {
  std::ifstream mounts("/proc/self/mounts");
  std::vector<std::string> found;
  std::string device, mount_point, rest;
  const std::string prefix = fs::path(folder).lexically_normal().string();
  while (mounts >> device >> mount_point && std::getline(mounts, rest))
    if (mount_point == prefix || mount_point.rfind(prefix + "/", 0) == 0) found.push_back(mount_point);
  return found;
}

int detach_mounts_under(const std::string& folder) {
  std::vector<std::string> mounted = mounts_under(folder);
  int detached = 0;
  for (auto it = mounted.rbegin(); it != mounted.rend(); ++it) detached += ::umount2(it->c_str(), MNT_DETACH) == 0;
  return detached;
}

// Processes whose root directory is at or under `folder`: a container (its mounts are in its
// own namespace, invisible in ours) or a chroot still running there.
std::vector<std::string> processes_rooted_under(const std::string& folder) {
  std::vector<std::string> found;
  const std::string prefix = fs::path(folder).lexically_normal().string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_error;
    const std::string root = fs::read_symlink(entry.path() / "root", link_error).string();
    if (!link_error && (root == prefix || root.rfind(prefix + "/", 0) == 0)) found.push_back(name);
  }
  return found;
}

ToolRun remove_tree(const std::string& folder) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) return {true, {}};
  if (auto mounted = mounts_under(folder); !mounted.empty())
    return failure("not removing " + folder + ": " + mounted.front() + " is still mounted there (umount it, then remove the folder)");
  if (auto running = processes_rooted_under(folder); !running.empty())
    return failure("not removing " + folder + ": process " + running.front() +
                   " still runs in it (a container or chroot of an earlier run; stop it, then run again)");
  fs::remove_all(folder, ec);
  if (ec) return failure("cannot remove " + folder + ": " + ec.message());
  return {true, {}};
}

}  // namespace kiln::image
