// `kilnctl image build|test` end to end, as root, on real Debian roots: the example recipe
// (examples/image-recipe.yaml) from debootstrap:bookworm (minbase + systemd + what the built
// kiln links, cached under /var/cache/kiln-test/images between runs), three build components
// (GNU hello from Debian's registry; a real reboot of the booted root; a config file from a
// parameter) and a test component, in roots booted with systemd-nspawn.
//
// Oracles from outside kilnctl: the files the steps wrote, read back out of the produced
// rootfs tarball with tar; umoci (Debian's, an independent OCI implementation) reading the
// OCI layout; the tarball and the OCI layout unpacked again by `kilnctl image test` with the
// test component; /proc/self/mounts and the process table after SIGINT.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <thread>
#include <string>
#include <vector>

#include "tests/support/debian_root.h"
#include "tests/support/http_servers.h"  // have_tool, run_quietly
#include "tests/support/kilnctl_process.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;
using kiln::test::mounts_under;
using kiln::test::nspawn_processes;
using kiln::test::read_file;
using kiln::test::TempDir;

constexpr const char* kUmoci = "/usr/bin/umoci";
constexpr const char* kCache = "/var/cache/kiln-test/images";
const std::string kExamples = std::string(KILN_SOURCE_DIR) + "/examples";

bool have_tools() {
  return kiln::test::have_tool(kiln::test::kDebootstrap) && kiln::test::have_tool("/usr/bin/systemd-nspawn") &&
         kiln::test::have_tool(kUmoci);
}

// One file's contents out of a tarball (GNU tar), "" when it is not there.
std::string file_in_tarball(const std::string& tarball, const std::string& path, const TempDir& dir) {
  const std::string into = dir.file("extracted.txt");
  fs::remove(into);
  kiln::test::run_quietly({"/bin/sh", "-c", "tar -xOf '" + tarball + "' './" + path + "' > '" + into + "'"},
                          dir.file("tar.log"));
  return read_file(into);
}

bool tarball_has(const std::string& tarball, const std::string& path, const TempDir& dir) {
  return kiln::test::run_quietly({"/bin/sh", "-c", "tar -tf '" + tarball + "' | grep -qx './" + path + "'"},
                                 dir.file("tar.log")) == 0;
}

std::vector<std::string> build_arguments(const std::string& recipe, const std::string& output) {
  return {"image", "build", recipe, "--output", output, "--agent", KILN_BINARY, "--cache-directory", kCache};
}

// A recipe whose parent is an image built before (a rootfs tarball): no debootstrap.
std::string recipe_on(const TempDir& dir, const std::string& parent, const std::string& components,
                      const std::string& extra = "") {
  return dir.write("recipe.yaml", "name: derived\nsemanticVersion: 2.0.0\nparentImage: " + parent + "\n" + extra +
                                      "components:\n" + components);
}

// The image every case below starts from: the example recipe built once per test process.
struct BuiltExample {
  TempDir dir;
  int exit_code = -1;
  std::string output;
  std::string image() const { return dir.file("out"); }
};

const BuiltExample& built_example() {
  static BuiltExample built;  // removed at exit with its TempDir
  static bool done = false;
  if (!done) {
    done = true;
    auto result =
        kiln::test::run_kilnctl(build_arguments(kExamples + "/image-recipe.yaml", built.image()), built.dir.file("build.out"));
    built.exit_code = result.exit_code;
    built.output = result.output;
  }
  return built;
}

}  // namespace

TEST_CASE("kilnctl image: the example recipe from debootstrap:bookworm is built, booted, rebooted, snapshotted and "
          "tested" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_tools(), "needs debootstrap, systemd-nspawn (systemd-container) and umoci")) {
  const BuiltExample& built = built_example();
  INFO(built.output);
  REQUIRE(built.exit_code == 0);
  const std::string out = built.image();
  const std::string tarball = out + "/rootfs.tar";
  TempDir scratch;
  REQUIRE(fs::is_regular_file(tarball));
  REQUIRE(fs::is_regular_file(out + "/oci/index.json"));
  // The summary table names every stage.
  for (const char* stage : {"parent", "unpack", "install agent", "boot", "build", "clean", "snapshot", "test"})
    CHECK(built.output.find(std::string("  ") + stage + " ") != std::string::npos);

  // What the three build components did, read from the snapshot by tar.
  CHECK(file_in_tarball(tarball, "etc/kiln-example/greeting.conf", scratch) == "greeting=hello from kiln");
  CHECK(tarball_has(tarball, "usr/bin/hello", scratch));
  const std::string before = file_in_tarball(tarball, "etc/kiln-example/boot-before-reboot", scratch);
  const std::string after = file_in_tarball(tarball, "etc/kiln-example/boot-after-reboot", scratch);
  CHECK(before.size() >= 32);
  CHECK(after.size() >= 32);
  CHECK(before != after);  // a real reboot: the steps on either side ran in different boots
  MESSAGE("boot ids written by the build steps: before the reboot " << before.substr(0, 36) << ", after "
                                                                       << after.substr(0, 36));
  // What the snapshot must not keep.
  CHECK_FALSE(tarball_has(tarball, "usr/local/bin/kiln", scratch));
  CHECK_FALSE(tarball_has(tarball, "var/lib/kiln/kilnctl/", scratch));
  CHECK(file_in_tarball(tarball, "etc/machine-id", scratch).empty());
  // The work roots are gone, nothing is mounted, no container is left.
  CHECK_FALSE(fs::exists(out + "/work"));
  CHECK(mounts_under(out).empty());
  CHECK(nspawn_processes(out).empty());
  // Every stage's TOE logs came back.
  CHECK(fs::is_directory(out + "/logs/build"));
  CHECK(fs::is_directory(out + "/logs/test"));
  const std::string manifest = read_file(out + "/image.json");
  CHECK(manifest.find("\"status\": \"built\"") != std::string::npos);

  // umoci, an independent reader of OCI layouts: the image tagged with the recipe's version,
  // its one layer and config (umoci checks the blobs it reads against their digests).
  const std::string stat_out = scratch.file("umoci.out");
  int umoci = kiln::test::run_quietly({kUmoci, "stat", "--image", out + "/oci:1.0.0", "--json"}, stat_out);
  INFO(read_file(stat_out));
  CHECK(umoci == 0);
  CHECK(read_file(stat_out).find("kilnctl image build hello-debian 1.0.0") != std::string::npos);
  const std::string list_out = scratch.file("umoci-ls.out");
  CHECK(kiln::test::run_quietly({kUmoci, "ls", "--layout", out + "/oci"}, list_out) == 0);
  CHECK(read_file(list_out).find("1.0.0") != std::string::npos);

  // The rootfs tarball and the OCI layout, each unpacked again, pass the test component; the
  // second time the agent comes from a tarball shaped as the portable package (TOP/bin/kiln).
  const std::string check = kExamples + "/image/check-image.yaml";
  fs::create_directories(scratch.file("portable/kiln-0-linux/bin"));
  fs::copy_file(KILN_BINARY, scratch.file("portable/kiln-0-linux/bin/kiln"));
  REQUIRE(kiln::test::run_quietly({"/bin/tar", "-C", scratch.file("portable"), "-czf", scratch.file("kiln-0-linux.tar.gz"),
                                   "kiln-0-linux"},
                                  scratch.file("tgz.log")) == 0);
  for (const std::string& image : {tarball, out + "/oci"}) {
    const std::string agent = image == tarball ? std::string(KILN_BINARY) : scratch.file("kiln-0-linux.tar.gz");
    auto tested = kiln::test::run_kilnctl({"image", "test", image, "--components", check, "--parameters",
                                           "ExpectedGreeting=hello from kiln", "--agent", agent, "--output",
                                           scratch.file("test-" + fs::path(image).filename().string())},
                                          scratch.file("test.out"));
    INFO(tested.output);
    CHECK(tested.exit_code == 0);
    CHECK(tested.output.find("04-check-image") == std::string::npos);  // numbered from 1 here
    CHECK(tested.output.find("01-check-image") != std::string::npos);
  }
  // ... and the same test with another expectation fails (the oracle can fail).
  auto wrong = kiln::test::run_kilnctl({"image", "test", tarball, "--components", check, "--parameters",
                                        "ExpectedGreeting=something else", "--agent", KILN_BINARY, "--output",
                                        scratch.file("test-wrong")},
                                       scratch.file("wrong.out"));
  INFO(wrong.output);
  CHECK(wrong.exit_code == 14);
  CHECK(wrong.output.find("test.GreetingConfigured") != std::string::npos);
}

TEST_CASE("kilnctl image: a failing test component leaves no image marked built and names component, step and line" *
          KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_tools(), "needs debootstrap, systemd-nspawn (systemd-container) and umoci") *
          KILN_SKIP_UNLESS(kiln::test::have_tool(kiln::test::kNginx), "needs nginx (nginx-light)")) {
  const BuiltExample& built = built_example();
  REQUIRE(built.exit_code == 0);
  TempDir dir;
  dir.write("marker.yaml",
            "name: Marker\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Mark\n"
            "        action: ExecuteBash\n        inputs:\n          commands:\n            - echo built > /etc/marker\n");
  dir.write("expect-other.yaml",
            "name: ExpectOther\nschemaVersion: 1.0\nphases:\n  - name: test\n    steps:\n"
            "      - name: MarkerPresent\n        action: ExecuteBash\n        inputs:\n          commands:\n"
            "            - grep -qx built /etc/marker\n"
            "      - name: MarkerSaysOther\n        action: ExecuteBash\n        inputs:\n          commands:\n"
            "            - grep -qx other /etc/marker\n");
  // The build component comes by URL (nginx on loopback), the test component from a file;
  // testComponents before components: the recipe is valid in any key order.
  kiln::test::NginxServer nginx;
  const std::string marker_url = nginx.serve("components/marker.yaml", read_file(dir.file("marker.yaml")));
  const std::string recipe = recipe_on(dir, built.image() + "/rootfs.tar", "  - component: " + marker_url + "\n",
                                       "testComponents:\n  - component: expect-other.yaml\n");
  auto result = kiln::test::run_kilnctl(build_arguments(recipe, dir.file("out")), dir.file("build.out"));
  INFO(result.output);
  CHECK(result.exit_code == 14);
  CHECK_FALSE(fs::exists(dir.file("out/rootfs.tar")));
  CHECK_FALSE(fs::exists(dir.file("out/oci")));
  CHECK(fs::is_regular_file(dir.file("out/failed/rootfs.tar")));
  CHECK(fs::is_regular_file(dir.file("out/failed/FAILED")));
  CHECK(read_file(dir.file("out/image.json")).find("\"status\": \"testFailed\"") != std::string::npos);
  // The component, the step and the line it was written on (line 11 of expect-other.yaml).
  CHECK(result.output.find("expect-other") != std::string::npos);
  CHECK(result.output.find("step test.MarkerSaysOther (expect-other.yaml:11)") != std::string::npos);
  CHECK(read_file(dir.file("out/failed/FAILED")).find("test.MarkerSaysOther") != std::string::npos);
  CHECK(nginx.access_log().find("GET /components/marker.yaml 200") != std::string::npos);
  CHECK(result.output.find("01-marker: success") != std::string::npos);  // fetched and run
  CHECK_FALSE(fs::exists(dir.file("out/work")));
  CHECK(mounts_under(dir.path()).empty());

  // A build component that fails: exit 1, no snapshot at all, the step named.
  TempDir broken;
  broken.write("fails.yaml",
               "name: Fails\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Breaks\n"
               "        action: ExecuteBash\n        inputs:\n          commands:\n            - exit 3\n");
  const std::string failing = recipe_on(broken, built.image() + "/rootfs.tar", "  - component: fails.yaml\n");
  auto build_failed = kiln::test::run_kilnctl(build_arguments(failing, broken.file("out")), broken.file("build.out"));
  INFO(build_failed.output);
  CHECK(build_failed.exit_code == 1);
  CHECK(build_failed.output.find("step build.Breaks (fails.yaml:6)") != std::string::npos);
  CHECK_FALSE(fs::exists(broken.file("out/rootfs.tar")));
  CHECK_FALSE(fs::exists(broken.file("out/failed")));
  CHECK_FALSE(fs::exists(broken.file("out/work")));
  CHECK(read_file(broken.file("out/image.json")).find("\"status\": \"buildFailed\"") != std::string::npos);
}

TEST_CASE("kilnctl image: SIGINT mid-component leaves nothing mounted, running or on disk" * KILN_NEEDS_ROOT *
          KILN_SKIP_UNLESS(have_tools(), "needs debootstrap, systemd-nspawn (systemd-container) and umoci")) {
  const BuiltExample& built = built_example();
  REQUIRE(built.exit_code == 0);
  std::string instance = "chroot";
  SUBCASE("chroot") {
    instance = "chroot";
  }
  SUBCASE("booted") {
    instance = "booted";
  }
  TempDir dir;
  dir.write("slow.yaml",
            "name: Slow\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Slow\n"
            "        action: ExecuteBash\n        inputs:\n          commands:\n"
            "            - touch /slow-started\n            - sleep 120\n");
  const std::string recipe =
      recipe_on(dir, built.image() + "/rootfs.tar", "  - component: slow.yaml\n", "instance: " + instance + "\n");
  kiln::test::KilnctlProcess kilnctl(build_arguments(recipe, dir.file("out")), dir.file("build.out"));
  const std::string started = dir.file("out/work/build/slow-started");
  for (int i = 0; i < 1200 && !fs::exists(started); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(started));
  if (instance == "chroot") CHECK_FALSE(mounts_under(dir.file("out/work/build")).empty());  // /proc etc. are in
  kilnctl.signal(SIGINT);
  const int exit_code = kilnctl.wait(std::chrono::seconds(60));
  INFO(kilnctl.output());
  CHECK(exit_code == 130);
  CHECK(mounts_under(dir.path()).empty());
  CHECK(nspawn_processes(dir.path()).empty());
  CHECK_FALSE(fs::exists(dir.file("out/work")));
  CHECK_FALSE(fs::exists(dir.file("out/rootfs.tar")));
  CHECK(read_file(dir.file("out/image.json")).find("\"status\": \"interrupted\"") != std::string::npos);
}

TEST_CASE("kilnctl image: recipe mistakes are reported with FILE:LINE:COL before anything is unpacked") {
  TempDir dir;
  dir.write("ok.yaml", "name: Ok\nschemaVersion: 1.0\nparameters:\n  - Greeting:\n      type: string\n"
                       "phases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n"
                       "        inputs:\n          commands:\n            - echo {{ Greeting }}\n");
  dir.write("broken.yaml", "name: Broken\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                           "      - name: S\n        action: ExecuteBashh\n");
  struct Case {
    const char* what;
    std::string recipe;
    std::string expected;  // in the output
  };
  const std::vector<Case> cases = {
      {"unknown key", "name: a\nsemanticVersion: 1.0.0\nparentImage: debootstrap:bookworm\ncomponent:\n  - x\n",
       "recipe.yaml:4:1: error:"},
      {"missing components", "name: a\nsemanticVersion: 1.0.0\nparentImage: debootstrap:bookworm\n",
       "missing required key 'components'"},
      {"bad version", "name: a\nsemanticVersion: one\nparentImage: debootstrap:bookworm\ncomponents:\n"
                      "  - component: ok.yaml\n",
       "recipe.yaml:2:18: error:"},
      {"missing component file", "name: a\nsemanticVersion: 1.0.0\nparentImage: debootstrap:bookworm\ncomponents:\n"
                                 "  - component: nowhere.yaml\n",
       "recipe.yaml:5:16: error: component 'nowhere.yaml' is not a file"},
      {"missing parent", "name: a\nsemanticVersion: 1.0.0\nparentImage: ./no-such.tar\ncomponents:\n"
                         "  - component: ok.yaml\n",
       "recipe.yaml:3:14: error: parent image './no-such.tar' does not exist"},
      {"undeclared parameter", "name: a\nsemanticVersion: 1.0.0\nparentImage: debootstrap:bookworm\ncomponents:\n"
                               "  - component: ok.yaml\n    parameters:\n      - name: Greting\n        value: [hi]\n",
       "declares no parameter 'Greting'"},
      {"invalid component", "name: a\nsemanticVersion: 1.0.0\nparentImage: debootstrap:bookworm\ncomponents:\n"
                            "  - component: broken.yaml\n",
       "broken.yaml:7:17: error:"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const std::string recipe = dir.write("recipe.yaml", c.recipe);
    auto result = kiln::test::run_kilnctl({"image", "build", recipe, "--output", dir.file("out")}, dir.file("out.txt"));
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find(c.expected) != std::string::npos);
    CHECK_FALSE(fs::exists(dir.file("out/work")));
  }
  auto usage = kiln::test::run_kilnctl({"image", "build"}, dir.file("usage.txt"));
  CHECK(usage.exit_code == 2);
  CHECK(usage.output.find("needs a RECIPE") != std::string::npos);
  auto help = kiln::test::run_kilnctl({"image", "--help"}, dir.file("help.txt"));
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("Usage: kilnctl image build RECIPE") != std::string::npos);
}
