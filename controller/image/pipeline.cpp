#include "controller/image/pipeline.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/base/time.h"
#include "agent/net/download.h"
#include "controller/image/oci_layout.h"
#include "controller/image/recipe.h"
#include "controller/image/root_filesystem.h"
#include "controller/phase_runner.h"
#include "agent/base/text.h"
#include "controller/target_kinds.h"

namespace kiln::image {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ctl::ExitCode;
using nlohmann::json;

enum class RowStatus { Success, Failed, Skipped, Interrupted };

const char* row_status_text(RowStatus status) {
  switch (status) {
    case RowStatus::Success:
      return "success";
    case RowStatus::Failed:
      return "failed";
    case RowStatus::Skipped:
      return "skipped";
    case RowStatus::Interrupted:
      return "interrupted";
  }
  return "?";
}

// One line of the summary table (and of image.json's "stages").
struct StageRow {
  std::string stage;
  std::string component;  // "-" for stages that are not about one component
  RowStatus status = RowStatus::Success;
  double seconds = 0;
  std::string detail;
};

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  return text;
}

std::string kiln_beside_kilnctl() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::is_regular_file(self.parent_path() / "kiln", ec)) return (self.parent_path() / "kiln").string();
  return "/usr/bin/kiln";
}

// The packages a .deb depends on (its Depends field, versions and alternatives dropped).
std::vector<std::string> package_depends(const std::string& deb) {
  std::vector<std::string> packages;
  FILE* pipe = ::popen(("dpkg-deb --field " + shell_quote(deb) + " Depends 2>/dev/null").c_str(), "r");
  if (!pipe) return packages;
  std::string text;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, n);
  ::pclose(pipe);
  for (const auto& item : split_nonempty(text, ',')) {
    std::string name = item.substr(0, item.find_first_of("(|"));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\n')) name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    if (!name.empty()) packages.push_back(name);
  }
  return packages;
}

class Pipeline {
 public:
  Pipeline(const ImageOptions& options, const std::atomic<bool>* cancel)
      : options_(options), cancel_(cancel), out_("image"), work_(fs::absolute(options.output).string() + "/work") {}

  ~Pipeline() { finish_cleanup(); }

  ExitCode build() {
    const auto started = Clock::now();
    if (ExitCode usage = prepare(); usage != ExitCode::Success) return usage;
    ExitCode code = build_stages();
    write_image_json(code);
    finish_cleanup();
    print_table(code, started);
    return cancelled() ? ExitCode::Interrupted : code;
  }

  ExitCode test() {
    const auto started = Clock::now();
    if (::geteuid() != 0) return usage("kilnctl image test needs root (it unpacks, mounts and boots root filesystems)");
    std::error_code ec;
    if (!fs::exists(options_.image, ec)) return usage("image " + options_.image + " does not exist");
    for (const auto& path : options_.test_components) {
      RecipeComponent component;
      component.source = path;
      component.path = fs::absolute(path).string();
      if (!fs::is_regular_file(component.path, ec)) return usage("component " + path + " is not a file");
      Diagnostics diagnostics;
      if (!check_component(recipe_, component, diagnostics)) {
        std::cerr << format_recipe_diagnostics(path, diagnostics);
        return ExitCode::Usage;
      }
      if (!component.has_phase("test")) return usage("component " + path + " has no test phase");
      recipe_.test_components.push_back(std::move(component));
    }
    if (ExitCode agent = resolve_agent(); agent != ExitCode::Success) return agent;
    if (ExitCode work = make_work_folder(); work != ExitCode::Success) return work;
    if (ExitCode unpacked = agent_from_tarball(); unpacked != ExitCode::Success) return unpacked;
    ExitCode code = [&] {
      const bool oci = fs::is_directory(options_.image, ec);
      if (!stage("unpack", "-", [&] {
            return oci ? unpack_oci_layout(options_.image, root("test"), cancel_)
                       : unpack_tarball(options_.image, root("test"), cancel_);
          }))
        return ExitCode::TargetError;
      return test_stage({});
    }();
    finish_cleanup();
    print_table(code, started);
    return cancelled() ? ExitCode::Interrupted : code;
  }

 private:
  bool cancelled() const { return cancel_ && cancel_->load(); }

  ExitCode usage(const std::string& message) {
    std::cerr << "kilnctl: " << message << "\n";
    return ExitCode::Usage;
  }

  std::string root(const std::string& name) const { return work_ + "/" + name; }

  // Times `body` (a ToolRun) as one row of the table; false when it failed.
  template <class Body>
  bool stage(const std::string& name, const std::string& component, Body body) {
    const auto started = Clock::now();
    out_.line(name + (component == "-" ? "" : " " + component) + ": started");
    ToolRun run = body();
    StageRow row{name, component, run.ok ? RowStatus::Success : RowStatus::Failed,
                 std::chrono::duration<double>(Clock::now() - started).count(), run.ok ? "" : run.error};
    if (!run.ok && cancelled()) row.status = RowStatus::Interrupted;
    out_.line(name + (component == "-" ? "" : " " + component) + ": " + row_status_text(row.status) + " in " +
              seconds_text(row.seconds) + (run.ok ? "" : ": " + run.error));
    rows_.push_back(std::move(row));
    if (!run.ok && failure_.empty()) failure_ = name + ": " + run.error;
    return run.ok;
  }

  ExitCode resolve_agent() {
    agent_ = options_.agent.empty() ? kiln_beside_kilnctl() : fs::absolute(options_.agent).string();
    std::error_code ec;
    if (!fs::is_regular_file(agent_, ec))
      return usage("no kiln to install at " + agent_ + " (give a kiln binary or .deb with --agent)");
    return ExitCode::Success;
  }

  // The portable tarball (kiln-VERSION-linux-ARCH.tar.gz, for roots without dpkg): its
  // bin/kiln is taken out and installed as a binary.
  ExitCode agent_from_tarball() {
    if (!agent_.ends_with(".tar.gz")) return ExitCode::Success;
    const std::string folder = work_ + "/agent";
    std::error_code ec;
    fs::create_directories(folder, ec);
    ToolRun run = unpack_member(agent_, "*/bin/kiln", folder, cancel_);
    if (!run.ok || !fs::is_regular_file(folder + "/kiln", ec)) {
      std::cerr << "kilnctl: " << agent_ << " holds no bin/kiln (give a kiln binary, .deb or portable .tar.gz): "
                << run.error << "\n";
      return ExitCode::Usage;
    }
    agent_ = folder + "/kiln";
    return ExitCode::Success;
  }

  ExitCode make_work_folder() {
    // A work folder left by a run that was killed (SIGKILL): its chroot mounts are kilnctl's
    // own, detached; then it is removed (never through a mount).
    if (int detached = detach_mounts_under(work_); detached > 0)
      out_.line("detached " + std::to_string(detached) + " mounts left under " + work_ + " by an earlier run");
    if (ToolRun removed = remove_tree(work_); !removed.ok) {
      std::cerr << "kilnctl: " << removed.error << "\n";
      return ExitCode::TargetError;
    }
    std::error_code ec;
    fs::create_directories(work_, ec);
    if (ec) {
      std::cerr << "kilnctl: cannot create " << work_ << ": " << ec.message() << "\n";
      return ExitCode::TargetError;
    }
    work_made_ = true;
    return ExitCode::Success;
  }

  // Reads the recipe and every component before anything is unpacked: a mistake is found in
  // a second, not after debootstrap.
  ExitCode prepare() {
    Diagnostics diagnostics;
    if (!load_recipe(options_.recipe, recipe_, diagnostics)) {
      std::cerr << format_recipe_diagnostics(options_.recipe, diagnostics);
      return ExitCode::Usage;
    }
    if (!options_.instance.empty()) parse_instance_kind(options_.instance, recipe_.instance);
    auto check = [&](RecipeComponent& component) {
      if (check_component(recipe_, component, diagnostics)) return true;
      std::cerr << format_recipe_diagnostics(options_.recipe, diagnostics);
      return false;
    };
    for (auto* list : {&recipe_.components, &recipe_.test_components})
      for (auto& component : *list)
        if (!component.is_url && !check(component)) return ExitCode::Usage;
    if (::geteuid() != 0) return usage("kilnctl image build needs root (it unpacks, mounts and boots root filesystems)");
    std::error_code ec;
    for (const char* taken : {"rootfs.tar", "oci", "failed", "image.json"})
      if (fs::exists(options_.output + "/" + std::string(taken), ec))
        return usage(options_.output + " already holds an image (" + taken +
                     "); remove it or pick another --output (nothing there is overwritten)");
    if (ExitCode agent = resolve_agent(); agent != ExitCode::Success) return agent;
    if (ExitCode work = make_work_folder(); work != ExitCode::Success) return work;
    if (ExitCode unpacked = agent_from_tarball(); unpacked != ExitCode::Success) return unpacked;
    int index = 0;
    for (auto* list : {&recipe_.components, &recipe_.test_components})
      for (auto& component : *list) {
        ++index;
        if (component.is_url && (!fetch(component, index) || !check(component))) return ExitCode::Usage;
      }
    return ExitCode::Success;
  }

  bool fetch(RecipeComponent& component, int index) {
    fs::create_directories(work_ + "/components");
    component.path = work_ + "/components/" + std::to_string(index) + "-" + component.label() + ".yaml";
    net::HttpClient client;
    net::DownloadOptions download;
    download.cancel = cancel_;
    net::DownloadResult got = net::download_to_file(client, component.source, component.path, download);
    if (!got.ok) {
      std::cerr << recipe_.file << ":" << component.line << ":1: error: component " << component.source
                << " could not be fetched: " << got.message << "\n";
      return false;
    }
    return true;
  }

  // The parent as a tarball or an OCI layout, then unpacked into the build root.
  bool unpack_parent() {
    if (recipe_.parent_kind == ParentKind::OciLayout)
      return stage("unpack", "-", [&] { return unpack_oci_layout(recipe_.parent, root("build"), cancel_); });
    std::string tarball = recipe_.parent;
    if (recipe_.parent_kind == ParentKind::Debootstrap) {
      if (!stage("parent", "debootstrap:" + recipe_.parent, [&] {
            // systemd so the root can be booted; and what the agent needs to run there.
            std::vector<std::string> packages{"systemd", "systemd-sysv", "dbus"};
            for (const auto& package : agent_.ends_with(".deb") ? package_depends(agent_) : runtime_packages(agent_))
              packages.push_back(package);
            return cached_debootstrap(recipe_.parent, packages, options_.mirror, options_.cache_directory, cancel_,
                                      [&](const std::string& text) { out_.line(text); }, tarball);
          }))
        return false;
    }
    return stage("unpack", "-", [&] { return unpack_tarball(tarball, root("build"), cancel_); });
  }

  // Booted with systemd-nspawn when asked (or, with auto, when the root has systemd).
  std::unique_ptr<ctl::Target> make_target(const std::string& name, std::string& refusal) {
    const std::string folder = root(name);
    bool booted = recipe_.instance == InstanceKind::Booted;
    if (recipe_.instance == InstanceKind::Auto) {
      booted = has_systemd(folder) && ::access("/usr/bin/systemd-nspawn", X_OK) == 0;
      out_.line(name + " root: " + (booted ? "booted with systemd-nspawn" : "chroot") +
                (booted ? "" : has_systemd(folder) ? " (systemd-nspawn is not installed here)" : " (the root has no systemd)"));
    }
    if (booted && !has_systemd(folder)) {
      refusal = "instance 'booted' needs systemd in the root (install systemd-sysv), or use instance: chroot";
      return nullptr;
    }
    instance_used_ = booted ? "booted" : "chroot";
    if (booted)
      return ctl::make_nspawn_target(folder, "system", std::chrono::seconds(options_.reboot_timeout_seconds), cancel_);
    return ctl::make_chroot_target(folder, cancel_);
  }

  // Runs `phases` of one component in the connected target; one row; false on failure.
  bool run_component(ctl::Target& target, const std::string& stage_name, const RecipeComponent& component,
                     int index, const std::vector<std::string>& phases, const std::string& parameters) {
    char number[16];
    std::snprintf(number, sizeof number, "%02d", index);
    const std::string label = std::string(number) + "-" + component.label();
    ctl::RunOptions run;
    run.documents = {component.path};
    run.phases = phases;
    run.parameters = parameters;
    run.agent = installed_.path;
    run.logs = options_.output + "/logs";
    run.reboot_timeout_seconds = options_.reboot_timeout_seconds;
    ctl::TargetReport report = ctl::run_target(target, run, stage_name + "-" + label, ctl::ConnectionUse::AlreadyOpen);
    StageRow row{stage_name, label, RowStatus::Success, std::chrono::duration<double>(report.duration).count(), ""};
    int reboots = 0;
    for (const auto& phase : report.phases) reboots += phase.reboots;
    if (reboots) row.detail = std::to_string(reboots) + (reboots == 1 ? " reboot" : " reboots");
    if (report.exit_code != ExitCode::Success) {
      row.status = report.exit_code == ExitCode::Interrupted ? RowStatus::Interrupted : RowStatus::Failed;
      row.detail = describe_failure(component, report);
      if (failure_.empty()) failure_ = stage_name + ": component " + label + ": " + row.detail;
      last_code_ = report.exit_code;
    }
    out_.line(stage_name + " " + label + ": " + row_status_text(row.status) + " in " + seconds_text(row.seconds) +
              (row.detail.empty() ? "" : " (" + row.detail + ")"));
    rows_.push_back(std::move(row));
    return report.exit_code == ExitCode::Success;
  }

  // "step test.CheckHello (check.yaml:14): <kiln's failure message>", from the fetched logs.
  static std::string describe_failure(const RecipeComponent& component, const ctl::TargetReport& report) {
    for (const auto& phase : report.phases) {
      if (phase.status != ctl::PhaseStatus::Failed) continue;
      std::string text;
      if (!phase.failing_step.empty()) {
        text = "step " + phase.failing_step;
        auto line = component.step_lines.find(phase.failing_step);
        if (line != component.step_lines.end())
          text += " (" + component.source + ":" + std::to_string(line->second) + ")";
      } else {
        text = "phase " + phase.phase + " (" + component.source + ")";
      }
      if (!phase.failure_message.empty()) text += ": " + phase.failure_message;
      return text;
    }
    return report.message.empty() ? ctl::exit_code_text(report.exit_code) : report.message;
  }

  bool install(const std::string& name) {
    return stage("install agent", name, [&] { return install_agent(agent_, root(name), cancel_, installed_); });
  }

  ExitCode build_stages() {
    if (!unpack_parent()) return stopped(ExitCode::TargetError);
    if (!install("build")) return stopped(ExitCode::TargetError);
    {
      std::string refusal;
      std::unique_ptr<ctl::Target> target = make_target("build", refusal);
      if (!target) return refused(refusal);
      if (!stage("boot", "build", [&] { return connected(*target); })) return stopped(ExitCode::TargetError);
      int index = 0;
      for (const auto& component : recipe_.components) {
        ++index;
        std::vector<std::string> phases;
        for (const char* phase : {"build", "validate"})
          if (component.has_phase(phase)) phases.push_back(phase);
        if (phases.empty()) {
          rows_.push_back(StageRow{"build", component.label(), RowStatus::Skipped, 0, "no build or validate phase"});
          continue;
        }
        if (!run_component(*target, "build", component, index, phases, component.parameters_argument()))
          return stopped(last_code_);
      }
      stage("power off", "build", [&] {
        target->disconnect();
        return ToolRun{true, {}};
      });
    }
    if (!stage("clean", "-", [&] {
          ToolRun removed = remove_agent(root("build"), installed_, cancel_);
          if (!removed.ok) return removed;
          return clean_for_snapshot(root("build"), SnapshotCleanup{recipe_.remove_apt_lists});
        }))
      return stopped(ExitCode::TargetError);
    const std::string snapshot = work_ + "/snapshot";
    if (!stage("snapshot", "rootfs.tar", [&] {
          fs::create_directories(snapshot);
          return pack_root(root("build"), snapshot + "/rootfs.tar", cancel_);
        }))
      return stopped(ExitCode::TargetError);
    if (recipe_.write_oci_layout &&
        !stage("snapshot", "oci", [&] {
          OciResult written = write_oci_layout(snapshot + "/rootfs.tar", snapshot + "/oci",
                                               {recipe_.name, recipe_.version, recipe_.description});
          manifest_digest_ = written.manifest_digest;
          layer_digest_ = written.layer_digest;
          return ToolRun{written.ok, written.error};
        }))
      return stopped(ExitCode::TargetError);
    if (!options_.keep_work)  // its disk space, before the test root is made
      stage("remove", "build", [&] { return remove_tree(root("build")); });
    if (!stage("unpack", "test", [&] { return unpack_tarball(snapshot + "/rootfs.tar", root("test"), cancel_); }))
      return stopped(ExitCode::TargetError);
    ExitCode tested = test_stage(recipe_.components);
    if (tested == ExitCode::Interrupted || cancelled()) return ExitCode::Interrupted;
    return publish(snapshot, tested);
  }

  // The test phases of the build components that have one, then the test components, all
  // in the test root (which is removed afterwards). Every test runs even after a failure.
  ExitCode test_stage(const std::vector<RecipeComponent>& build_components) {
    if (!install("test")) return stopped(ExitCode::TargetError);
    std::string refusal;
    std::unique_ptr<ctl::Target> target = make_target("test", refusal);
    if (!target) return refused(refusal);
    if (!stage("boot", "test", [&] { return connected(*target); })) return stopped(ExitCode::TargetError);
    ExitCode code = ExitCode::Success;
    int index = 0;
    const std::vector<RecipeComponent>* lists[] = {&build_components, &recipe_.test_components};
    for (const auto* list : lists)
      for (const auto& component : *list) {
        ++index;
        if (!component.has_phase("test")) {
          if (list == &recipe_.test_components)
            rows_.push_back(StageRow{"test", component.label(), RowStatus::Skipped, 0, "no test phase"});
          continue;
        }
        const std::string parameters =
            options_.parameters.empty() ? component.parameters_argument() : options_.parameters;
        if (!run_component(*target, "test", component, index, {"test"}, parameters)) {
          if (cancelled() || last_code_ == ExitCode::Interrupted) return ExitCode::Interrupted;
          if (code == ExitCode::Success) code = last_code_ == ExitCode::Failed ? ExitCode::TestFailed : last_code_;
        }
      }
    stage("power off", "test", [&] {
      target->disconnect();
      return ToolRun{true, {}};
    });
    if (!options_.keep_work) stage("remove", "test", [&] { return remove_tree(root("test")); });
    return code;
  }

  static ToolRun connected(ctl::Target& target) {
    ctl::TargetStatus status = target.connect();
    return {status.ok(), status.message};
  }

  ExitCode refused(const std::string& message) {
    rows_.push_back(StageRow{"boot", "-", RowStatus::Failed, 0, message});
    if (failure_.empty()) failure_ = message;
    return ExitCode::TargetError;
  }

  // A stage failed: interrupted if a signal stopped it, else `code`.
  ExitCode stopped(ExitCode code) { return cancelled() ? ExitCode::Interrupted : code; }

  // Passed: the snapshot becomes DIR/rootfs.tar and DIR/oci/. Failed: DIR/failed/ with a
  // FAILED file saying why; nothing at the published names.
  ExitCode publish(const std::string& snapshot, ExitCode tested) {
    const std::string into = tested == ExitCode::Success ? options_.output : options_.output + "/failed";
    std::error_code ec;
    fs::create_directories(into, ec);
    if (recipe_.write_oci_layout) fs::rename(snapshot + "/oci", into + "/oci", ec);
    if (!ec && recipe_.write_rootfs_tarball) fs::rename(snapshot + "/rootfs.tar", into + "/rootfs.tar", ec);
    if (ec) {
      failure_ = "cannot move the snapshot into " + into + ": " + ec.message();
      return ExitCode::TargetError;
    }
    if (recipe_.write_rootfs_tarball) rootfs_path_ = into + "/rootfs.tar";
    if (recipe_.write_oci_layout) oci_path_ = into + "/oci";
    if (tested != ExitCode::Success)
      std::ofstream(into + "/FAILED") << "This image failed its tests and was not published.\n" << failure_ << "\n";
    return tested;
  }

  void write_image_json(ExitCode code) {
    if (!work_made_) return;
    json stages = json::array();
    for (const auto& row : rows_)
      stages.push_back({{"stage", row.stage},
                        {"component", row.component},
                        {"status", row_status_text(row.status)},
                        {"seconds", row.seconds},
                        {"detail", row.detail}});
    const char* status = code == ExitCode::Success      ? "built"
                         : code == ExitCode::TestFailed ? "testFailed"
                         : cancelled()                  ? "interrupted"
                                                        : "buildFailed";
    json image = {{"name", recipe_.name},
                  {"semanticVersion", recipe_.version},
                  {"status", status},
                  {"instance", instance_used_},
                  {"finished", utc_timestamp()},
                  {"rootfsTarball", rootfs_path_},
                  {"ociLayout", oci_path_},
                  {"manifestDigest", manifest_digest_},
                  {"layerDigest", layer_digest_},
                  {"failure", failure_},
                  {"stages", stages}};
    std::ofstream(options_.output + "/image.json") << image.dump(2) << "\n";
  }

  // Powered off and unmounted already (the targets' destructors); the work roots go.
  void finish_cleanup() {
    if (!work_made_ || options_.keep_work) return;
    if (ToolRun removed = remove_tree(work_); !removed.ok) std::cerr << "kilnctl: " << removed.error << "\n";
    work_made_ = false;
  }

  void print_table(ExitCode code, Clock::time_point started) {
    std::string table;
    char line[512];
    std::snprintf(line, sizeof line, "  %-14s %-24s %-12s %10s  %s\n", "STAGE", "COMPONENT", "STATUS", "DURATION",
                  "DETAIL");
    table += line;
    for (const auto& row : rows_) {
      std::snprintf(line, sizeof line, "  %-14s %-24s %-12s %10s  %s\n", row.stage.c_str(), row.component.c_str(),
                    row_status_text(row.status), seconds_text(row.seconds).c_str(), row.detail.c_str());
      table += line;
    }
    const double total = std::chrono::duration<double>(Clock::now() - started).count();
    std::string head = "kilnctl image: " + (recipe_.name.empty() ? options_.image : recipe_.name + " " + recipe_.version) +
                       ": " + ctl::exit_code_text(cancelled() ? ExitCode::Interrupted : code) + " in " +
                       seconds_text(total);
    if (code == ExitCode::Success && !options_.recipe.empty())
      head += "\n  image: " + (rootfs_path_.empty() ? std::string() : rootfs_path_ + " ") + oci_path_;
    if (!failure_.empty()) head += "\n  " + failure_;
    std::cout << head << "\n" << table << std::flush;
  }

  const ImageOptions& options_;
  const std::atomic<bool>* cancel_;
  ctl::Printer out_;
  std::string work_;
  bool work_made_ = false;
  Recipe recipe_;
  std::string agent_;
  InstalledAgent installed_;
  std::string instance_used_;
  std::vector<StageRow> rows_;
  std::string failure_;
  ExitCode last_code_ = ExitCode::Success;
  std::string rootfs_path_, oci_path_, manifest_digest_, layer_digest_;
};

}  // namespace

ExitCode build_image(const ImageOptions& options, const std::atomic<bool>* cancel) {
  return Pipeline(options, cancel).build();
}

ExitCode test_image(const ImageOptions& options, const std::atomic<bool>* cancel) {
  return Pipeline(options, cancel).test();
}

}  // namespace kiln::image
