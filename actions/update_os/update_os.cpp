// UpdateOS (Linux): installs package updates with the first package manager found on
// PATH among apt-get, dnf, yum and zypper. No lists: every available update. `include`:
// only those packages (minus `exclude`). `exclude` alone: everything else.
//
// Nothing is left behind on the system: excluded packages are held back for this run
// only (apt: a preferences file passed with -o; dnf/yum: --exclude; zypper: the list of
// updates minus the excluded names), never with `apt-mark hold` or zypper locks.
// Commands run non-interactively, keep existing configuration files, and share the
// step's timeout; their output goes to console.log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "actions/action.h"
#include "agent/sys/process.h"

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;
using Names = std::vector<std::string>;

// Runs one package-manager command after another within the step's time budget.
class CommandRunner {
 public:
  explicit CommandRunner(ActionContext& context) : context_(context) {
    if (context.timeout.count() >= 0) deadline_ = Clock::now() + context.timeout;
  }

  // Runs `argv`; an exit code outside `ok_codes` is a failure that quotes the last
  // line of stderr. With `captured`, stdout is kept there instead of being shown.
  std::string run(const Names& argv, std::string* captured = nullptr, const std::vector<int>& ok_codes = {0},
                  int* exit_code = nullptr) {
    std::string shown;
    for (const auto& arg : argv) shown += (shown.empty() ? "" : " ") + arg;
    context_.log("running: " + shown);
    if (context_.output) context_.output(sys::OutputStream::Stdout, "+ " + shown + "\n");
    sys::ProcessSpec spec;
    spec.executable = argv[0];
    spec.arguments.assign(argv.begin() + 1, argv.end());
    spec.extra_environment = {"DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none"};
    if (deadline_) {
      spec.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now());
      if (spec.timeout.count() <= 0) return timed_out(shown);
    }
    std::string last_error_line;
    sys::ProcessResult r = sys::run_process(
        spec,
        [&](sys::OutputStream stream, std::string_view chunk) {
          if (stream == sys::OutputStream::Stderr) remember_last_line(chunk, last_error_line);
          if (stream == sys::OutputStream::Stdout && captured) captured->append(chunk);
          else if (context_.output) context_.output(stream, chunk);
        },
        context_.cancel);
    std::string program = argv[0].substr(argv[0].rfind('/') + 1);
    if (!r.started) return "cannot run " + argv[0] + ": " + r.error;
    if (r.timed_out) return timed_out(shown);
    if (r.cancelled) return "interrupted while running " + shown;
    if (r.signal) return program + " was killed by signal " + std::to_string(r.signal);
    if (exit_code) *exit_code = r.exit_code;
    if (std::find(ok_codes.begin(), ok_codes.end(), r.exit_code) != ok_codes.end()) return {};
    return "`" + shown + "` failed with exit code " + std::to_string(r.exit_code) +
           (last_error_line.empty() ? "" : ": " + last_error_line);
  }

  bool has_timed_out() const { return timed_out_; }

 private:
  std::string timed_out(const std::string& shown) {
    timed_out_ = true;
    return "timed out running " + shown + "; its processes were stopped";
  }

  static void remember_last_line(std::string_view chunk, std::string& last) {
    size_t end = chunk.find_last_not_of("\r\n");
    if (end == std::string_view::npos) return;
    chunk = chunk.substr(0, end + 1);
    size_t newline = chunk.rfind('\n');
    last = std::string(newline == std::string_view::npos ? chunk : chunk.substr(newline + 1));
  }

  ActionContext& context_;
  std::optional<Clock::time_point> deadline_;
  bool timed_out_ = false;
};

// The first executable `name` in PATH's folders (empty entries, meaning the current
// folder, are skipped: a package manager is not taken from wherever kiln was started).
std::string find_on_path(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::stringstream folders(env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    if (folder.empty()) continue;
    std::string candidate = folder + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

// Names go on a command line and into an apt preferences file: refuse what could be
// taken for an option or break a line.
std::string read_names(const nlohmann::json& inputs, const char* key, Names& names) {
  if (!inputs.is_object() || !inputs.contains(key)) return {};
  for (const auto& value : inputs[key]) {
    std::string name = value.is_string() ? value.get<std::string>() : value.dump();
    bool bad = name.empty() || name[0] == '-';
    for (unsigned char c : name) bad = bad || std::isspace(c) || std::iscntrl(c);
    if (bad) return std::string("'") + name + "' in " + key + " is not a package name";
    names.push_back(name);
  }
  return {};
}

Names without(const Names& names, const Names& excluded) {
  Names kept;
  for (const auto& name : names)
    if (std::find(excluded.begin(), excluded.end(), name) == excluded.end()) kept.push_back(name);
  return kept;
}

Names concat(Names a, const Names& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string write_file(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool written = fd >= 0 && ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  int saved_errno = errno;
  if (fd >= 0) ::close(fd);
  return written ? "" : "cannot write " + path + ": " + std::strerror(saved_errno);
}

// apt has no per-command exclude: a preferences file used by this run only pins each
// excluded package to its installed version ("a=now", priority 1001) and forbids every
// other version (-1), so it is neither upgraded nor pulled in as a dependency. The
// system's own /etc/apt/preferences follows (ours come first, and apt takes the first
// matching pin); /etc/apt/preferences.d still applies.
std::string apt_preferences(const Names& excluded) {
  std::string text;
  for (const auto& name : excluded)
    text += "Package: " + name + "\nPin: release a=now\nPin-Priority: 1001\n\n" + "Package: " + name +
            "\nPin: version *\nPin-Priority: -1\n\n";
  std::ifstream system_preferences("/etc/apt/preferences");
  if (system_preferences) {
    std::stringstream content;
    content << system_preferences.rdbuf();
    text += content.str();
  }
  return text;
}

std::string update_with_apt(CommandRunner& runner, ActionContext& context, const std::string& apt,
                            const Names& include, const Names& exclude) {
  const Names lock = {"-o", "DPkg::Lock::Timeout=120"};
  std::string error = runner.run(concat(concat({apt, "-q"}, lock), {"update"}));
  if (!error.empty()) return error;
  Names command = concat(concat({apt, "-y", "-q"}, lock),
                         {"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"});
  if (!exclude.empty()) {
    std::string preferences = context.work_directory + "/apt-preferences";
    error = context.create_work_directory();
    if (error.empty()) error = write_file(preferences, apt_preferences(exclude));
    if (!error.empty()) return error;
    command = concat(command, {"-o", "Dir::Etc::Preferences=" + preferences});
  }
  if (include.empty()) return runner.run(concat(command, {"upgrade", "--with-new-pkgs"}));
  return runner.run(concat(concat(command, {"install", "--only-upgrade"}), without(include, exclude)));
}

std::string update_with_dnf_or_yum(CommandRunner& runner, const std::string& manager, const Names& include,
                                   const Names& exclude) {
  Names command = {manager, "-y"};
  for (const auto& name : exclude) command.push_back("--exclude=" + name);
  command.push_back("upgrade");
  return runner.run(concat(command, without(include, exclude)));
}

// The package names in `zypper --xmlout list-updates`: <update ... name="NAME" ...>.
Names zypper_update_names(const std::string& xml) {
  Names names;
  for (size_t at = xml.find("<update "); at != std::string::npos; at = xml.find("<update ", at + 1)) {
    size_t end = xml.find('>', at);
    size_t name = xml.find(" name=\"", at);
    if (name == std::string::npos || name > end) continue;
    name += 7;
    names.push_back(xml.substr(name, xml.find('"', name) - name));
  }
  return names;
}

std::string update_with_zypper(CommandRunner& runner, ActionContext& context, const std::string& zypper,
                               const Names& include, const Names& exclude) {
  // 100-103 and 106 report updates pending, a reboot or restart needed, or a repository
  // skipped; 103 means zypper updated itself and must run again for the rest.
  const std::vector<int> ok = {0, 100, 101, 102, 103, 106};
  Names targets = without(include, exclude);
  if (include.empty() && !exclude.empty()) {
    std::string xml;
    std::string error = runner.run({zypper, "--non-interactive", "--xmlout", "list-updates"}, &xml, ok);
    if (!error.empty()) return error;
    targets = without(zypper_update_names(xml), exclude);
    if (targets.empty()) {
      context.log("no updates apart from the excluded packages");
      return {};
    }
  }
  Names command = concat({zypper, "--non-interactive", "update", "-y"}, targets);
  int exit_code = 0;
  std::string error = runner.run(command, nullptr, ok, &exit_code);
  if (error.empty() && exit_code == 103) error = runner.run(command, nullptr, ok);
  return error;
}

}  // namespace

ActionResult run_update_os(ActionContext& context) {
  ActionResult result;
  Names include, exclude;
  result.failure_message = read_names(context.inputs, "include", include);
  if (result.failure_message.empty()) result.failure_message = read_names(context.inputs, "exclude", exclude);
  if (!result.failure_message.empty()) return result;
  if (::geteuid() != 0) {
    result.failure_message = "UpdateOS must run as root (kiln runs as uid " + std::to_string(::geteuid()) +
                             "); run kiln with sudo or as root";
    return result;
  }
  std::string manager_name, manager;
  for (const char* candidate : {"apt-get", "dnf", "yum", "zypper"}) {
    manager = find_on_path(candidate);
    manager_name = candidate;
    if (!manager.empty()) break;
  }
  if (manager.empty()) {
    result.failure_message = "no supported package manager found on PATH (looked for apt-get, dnf, yum and zypper)";
    return result;
  }
  if (!include.empty() && without(include, exclude).empty()) {
    context.log("every included package is also excluded; nothing to update");
    result.success = true;
    return result;
  }
  context.log("updating with " + manager);
  CommandRunner runner(context);
  std::string error;
  if (manager_name == "apt-get") error = update_with_apt(runner, context, manager, include, exclude);
  else if (manager_name == "zypper") error = update_with_zypper(runner, context, manager, include, exclude);
  else error = update_with_dnf_or_yum(runner, manager, include, exclude);
  result.failure_message = error;
  result.timed_out = runner.has_timed_out();
  result.success = error.empty();
  if (result.success && ::access("/var/run/reboot-required", F_OK) == 0)
    context.log("the system reports that a reboot is required (/var/run/reboot-required); UpdateOS does not "
                "reboot: follow it with a Reboot step");
  return result;
}

}  // namespace kiln
