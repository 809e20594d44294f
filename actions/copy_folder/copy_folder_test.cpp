// CopyFolder end to end: the real kiln binary on a real filesystem.
#include <doctest/doctest.h>

#include "actions/common/action_test_support.h"

using namespace kiln::action_test;
using kiln::test::read_file;

namespace {

// src/app: bin/run (0755), conf/app.conf, a relative link inside the tree, a link to a
// folder outside it, and a private sub-folder (0700).
void make_tree(const TempDir& dir) {
  make_file(dir.file("src/app/bin/run"), "#!/bin/sh\n", 0755);
  make_file(dir.file("src/app/conf/app.conf"), "k=v\n", 0600);
  std::filesystem::create_symlink("conf/app.conf", dir.file("src/app/current.conf"));
  make_file(dir.file("outside/secret"), "outside\n");
  std::filesystem::create_symlink(dir.file("outside"), dir.file("src/app/external"));
  std::filesystem::create_directories(dir.file("src/app/private"));
  ::chmod(dir.file("src/app/private").c_str(), 0700);
}

}  // namespace

TEST_CASE("CopyFolder: copies recursively, keeping modes and symlinks (never following them)") {
  TempDir dir;
  make_tree(dir);
  auto run = run_step(dir, "CopyFolder", {{{"source", dir.file("src/app")}, {"destination", dir.file("opt/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("opt/app/bin/run")) == "#!/bin/sh\n");
  CHECK(mode_of(dir.file("opt/app/bin/run")) == 0755);
  CHECK(mode_of(dir.file("opt/app/conf/app.conf")) == 0600);
  CHECK(mode_of(dir.file("opt/app/private")) == 0700);
  CHECK(is_symlink(dir.file("opt/app/current.conf")));
  CHECK(link_target(dir.file("opt/app/current.conf")) == "conf/app.conf");
  CHECK(is_symlink(dir.file("opt/app/external")));
  CHECK(link_target(dir.file("opt/app/external")) == dir.file("outside"));
  CHECK(read_file(dir.file("src/app/bin/run")) == "#!/bin/sh\n");  // the source stays
}

TEST_CASE("CopyFolder: without a trailing separator the destination is the new folder's name") {
  TempDir dir;
  make_tree(dir);
  auto run = run_step(dir, "CopyFolder", {{{"source", dir.file("src/app/")}, {"destination", dir.file("a/b/renamed")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("a/b/renamed/conf/app.conf")) == "k=v\n");
  CHECK_FALSE(exists(dir.file("a/b/renamed/app")));
}

TEST_CASE("CopyFolder: overwrite true replaces an existing folder as a whole; false refuses it") {
  TempDir dir;
  make_tree(dir);
  make_file(dir.file("opt/app/stale.txt"), "stale");
  auto refused = run_step(dir, "CopyFolder",
                          {{{"source", dir.file("src/app")}, {"destination", dir.file("opt/")}, {"overwrite", false}}});
  CHECK(failed_with(refused, {dir.file("opt/app") + " already exists and overwrite is false"}));
  CHECK(exists(dir.file("opt/app/stale.txt")));

  auto replaced = run_step(dir, "CopyFolder", {{{"source", dir.file("src/app")}, {"destination", dir.file("opt/")}}});
  CHECK(succeeded(replaced));
  CHECK_FALSE(exists(dir.file("opt/app/stale.txt")));
  CHECK(exists(dir.file("opt/app/bin/run")));
  // No temporary folder is left beside the target.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("opt"))) entries += !e.path().empty();
  CHECK(entries == 1);
}

TEST_CASE("CopyFolder: a wildcard copies every matching folder (not files)") {
  TempDir dir;
  make_file(dir.file("src/web-1/index.html"), "1");
  make_file(dir.file("src/web-2/index.html"), "2");
  make_file(dir.file("src/web-file"), "file");
  make_file(dir.file("src/db/data"), "db");
  auto run = run_step(dir, "CopyFolder", {{{"source", dir.file("src/web-*")}, {"destination", dir.file("dst/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("dst/web-1/index.html")) == "1");
  CHECK(read_file(dir.file("dst/web-2/index.html")) == "2");
  CHECK_FALSE(exists(dir.file("dst/web-file")));
  CHECK_FALSE(exists(dir.file("dst/db")));
  auto no_slash = run_step(dir, "CopyFolder", {{{"source", dir.file("src/web-*")}, {"destination", dir.file("dst")}}});
  CHECK(failed_with(no_slash, {"destination must be a folder ending with /"}));
}

TEST_CASE("CopyFolder: errors: into itself, missing source, a file as source, a file at the target") {
  TempDir dir;
  make_tree(dir);
  auto itself = run_step(dir, "CopyFolder", {{{"source", dir.file("src/app")}, {"destination", dir.file("src/app/sub/")}}});
  CHECK(failed_with(itself, {"cannot copy " + dir.file("src/app") + " into itself"}));
  CHECK_FALSE(exists(dir.file("src/app/sub")));
  auto missing = run_step(dir, "CopyFolder", {{{"source", dir.file("nope")}, {"destination", dir.file("x/")}}});
  CHECK(failed_with(missing, {"item 0 (" + dir.file("nope") + "): " + dir.file("nope") + " does not exist"}));
  make_file(dir.file("plain"), "p");
  auto file = run_step(dir, "CopyFolder", {{{"source", dir.file("plain")}, {"destination", dir.file("x/")}}});
  CHECK(failed_with(file, {"is not a folder (CopyFile copies files)"}));
  auto onto_file = run_step(dir, "CopyFolder", {{{"source", dir.file("src/app")}, {"destination", dir.file("plain")}}});
  CHECK(failed_with(onto_file, {dir.file("plain") + " exists and is not a folder"}));
}
