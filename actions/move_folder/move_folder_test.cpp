// MoveFolder end to end: the real kiln binary on a real filesystem, and across
// filesystems (a tmpfs the test mounts as root, or /dev/shm; see OtherFilesystem).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "actions/common/action_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::action_test;
using kiln::test::read_file;

namespace {

void make_tree(const std::string& root) {
  make_file(root + "/bin/run", "#!/bin/sh\n", 0755);
  make_file(root + "/data/db", "rows", 0600);
  std::filesystem::create_symlink("bin/run", root + "/run.link");
  ::chmod(root.c_str(), 0750);
}

}  // namespace

TEST_CASE("MoveFolder: renames a folder, creating parents; a trailing separator keeps the name") {
  TempDir dir;
  make_tree(dir.file("src/app"));
  auto run = run_step(dir, "MoveFolder", {{{"source", dir.file("src/app")}, {"destination", dir.file("opt/x/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK_FALSE(exists(dir.file("src/app")));
  CHECK(read_file(dir.file("opt/x/app/data/db")) == "rows");
  CHECK(link_target(dir.file("opt/x/app/run.link")) == "bin/run");
  auto renamed = run_step(dir, "MoveFolder", {{{"source", dir.file("opt/x/app")}, {"destination", dir.file("final")}}});
  CHECK(succeeded(renamed));
  CHECK(read_file(dir.file("final/bin/run")) == "#!/bin/sh\n");
}

TEST_CASE("MoveFolder: across filesystems (EXDEV) it copies the tree with modes and links, then deletes the source" *
          KILN_SKIP_UNLESS(OtherFilesystem::available(), "no second filesystem: not root, and /dev/shm is not one")) {
  OtherFilesystem filesystem;
  const std::string& other = filesystem.path();
  TempDir dir;
  make_tree(other + "/app");
  auto run = run_step(dir, "MoveFolder", {{{"source", other + "/app"}, {"destination", dir.file("opt/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK_FALSE(exists(other + "/app"));
  CHECK(mode_of(dir.file("opt/app")) == 0750);
  CHECK(mode_of(dir.file("opt/app/bin/run")) == 0755);
  CHECK(mode_of(dir.file("opt/app/data/db")) == 0600);
  CHECK(read_file(dir.file("opt/app/data/db")) == "rows");
  CHECK(link_target(dir.file("opt/app/run.link")) == "bin/run");
}

TEST_CASE("MoveFolder: overwrite true replaces an existing folder; false refuses and changes nothing") {
  TempDir dir;
  make_tree(dir.file("src/app"));
  make_file(dir.file("opt/app/stale"), "stale");
  auto refused = run_step(dir, "MoveFolder",
                          {{{"source", dir.file("src/app")}, {"destination", dir.file("opt/")}, {"overwrite", false}}});
  CHECK(failed_with(refused, {dir.file("opt/app") + " already exists and overwrite is false"}));
  CHECK(exists(dir.file("src/app/bin/run")));
  CHECK(exists(dir.file("opt/app/stale")));
  auto replaced = run_step(dir, "MoveFolder", {{{"source", dir.file("src/app")}, {"destination", dir.file("opt/")}}});
  CHECK(succeeded(replaced));
  CHECK_FALSE(exists(dir.file("opt/app/stale")));
  CHECK(exists(dir.file("opt/app/bin/run")));
  CHECK_FALSE(exists(dir.file("src/app")));
}

TEST_CASE("MoveFolder: a wildcard moves every matching folder") {
  TempDir dir;
  make_file(dir.file("src/v1/a"), "1");
  make_file(dir.file("src/v2/a"), "2");
  make_file(dir.file("src/vfile"), "f");
  auto run = run_step(dir, "MoveFolder", {{{"source", dir.file("src/v*")}, {"destination", dir.file("dst/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("dst/v1/a")) == "1");
  CHECK(read_file(dir.file("dst/v2/a")) == "2");
  CHECK(exists(dir.file("src/vfile")));
}

TEST_CASE("MoveFolder: errors: into itself, missing source, a file or a symlink as source") {
  TempDir dir;
  make_tree(dir.file("app"));
  auto itself = run_step(dir, "MoveFolder", {{{"source", dir.file("app")}, {"destination", dir.file("app/inner/")}}});
  CHECK(failed_with(itself, {"cannot move " + dir.file("app") + " into itself"}));
  CHECK(exists(dir.file("app/bin/run")));
  auto missing = run_step(dir, "MoveFolder", {{{"source", dir.file("nope")}, {"destination", dir.file("x/")}}});
  CHECK(failed_with(missing, {"item 0 (" + dir.file("nope") + "): " + dir.file("nope") + " does not exist"}));
  auto file = run_step(dir, "MoveFolder", {{{"source", dir.file("app/bin/run")}, {"destination", dir.file("x/")}}});
  CHECK(failed_with(file, {"is not a folder (MoveFile moves files)"}));
  std::filesystem::create_directory_symlink(dir.file("app"), dir.file("applink"));
  auto link = run_step(dir, "MoveFolder", {{{"source", dir.file("applink")}, {"destination", dir.file("x/")}}});
  CHECK(failed_with(link, {"is a symbolic link, not a folder"}));
}
