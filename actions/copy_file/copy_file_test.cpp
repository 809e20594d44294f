// CopyFile end to end: the real kiln binary on a real filesystem.
#include <doctest/doctest.h>

#include "actions/common/action_test_support.h"

using namespace kiln::action_test;
using kiln::test::read_file;

TEST_CASE("CopyFile: copies to a new name, creating parents, keeping content and mode") {
  TempDir dir;
  std::string source = make_file(dir.file("src/tool.sh"), "#!/bin/sh\necho hi\n", 0750);
  auto run = run_step(dir, "CopyFile", {{{"source", source}, {"destination", dir.file("out/a/b/renamed.sh")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("out/a/b/renamed.sh")) == "#!/bin/sh\necho hi\n");
  CHECK(mode_of(dir.file("out/a/b/renamed.sh")) == 0750);
  CHECK(read_file(source) == "#!/bin/sh\necho hi\n");  // the source stays
}

TEST_CASE("CopyFile: a destination ending in / or \\ keeps the source name") {
  TempDir dir;
  std::string source = make_file(dir.file("src/app.conf"), "x=1\n");
  auto run = run_step(dir, "CopyFile",
                      {{{"source", source}, {"destination", dir.file("etc/")}},
                       {{"source", source}, {"destination", dir.file("win\\")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("etc/app.conf")) == "x=1\n");
  CHECK(read_file(dir.file("win/app.conf")) == "x=1\n");
}

TEST_CASE("CopyFile: a wildcard copies every matching file (not folders) into the destination folder") {
  TempDir dir;
  make_file(dir.file("src/a.log"), "a");
  make_file(dir.file("src/b.log"), "b");
  make_file(dir.file("src/.hidden.log"), "h");
  make_file(dir.file("src/c.txt"), "c");
  std::filesystem::create_directories(dir.file("src/dir.log"));
  auto run = run_step(dir, "CopyFile", {{{"source", dir.file("src/*.log")}, {"destination", dir.file("dst/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("dst/a.log")) == "a");
  CHECK(read_file(dir.file("dst/b.log")) == "b");
  CHECK(read_file(dir.file("dst/.hidden.log")) == "h");  // like Go's filepath.Match, * matches a leading dot
  CHECK_FALSE(exists(dir.file("dst/c.txt")));
  CHECK_FALSE(exists(dir.file("dst/dir.log")));
}

TEST_CASE("CopyFile: only * is a wildcard; ? and [ are literal") {
  TempDir dir;
  make_file(dir.file("src/a?.txt"), "q");
  make_file(dir.file("src/ab.txt"), "b");
  make_file(dir.file("src/[x].txt"), "x");
  auto run = run_step(dir, "CopyFile",
                      {{{"source", dir.file("src/a?.*")}, {"destination", dir.file("dst/")}},
                       {{"source", dir.file("src/[x]*")}, {"destination", dir.file("dst/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(exists(dir.file("dst/a?.txt")));
  CHECK_FALSE(exists(dir.file("dst/ab.txt")));
  CHECK(exists(dir.file("dst/[x].txt")));
}

TEST_CASE("CopyFile: wildcard errors: destination without a trailing separator, * outside the last component, no match") {
  TempDir dir;
  make_file(dir.file("src/a.log"), "a");
  auto no_slash = run_step(dir, "CopyFile", {{{"source", dir.file("src/*.log")}, {"destination", dir.file("dst")}}});
  CHECK(failed_with(no_slash, {"item 0 (" + dir.file("src/*.log") + "): ", "destination must be a folder ending with /"}));
  CHECK_FALSE(exists(dir.file("dst")));

  auto misplaced = run_step(dir, "CopyFile", {{{"source", dir.file("s*/a.log")}, {"destination", dir.file("dst/")}}});
  CHECK(failed_with(misplaced, {"'*' is allowed only in the last component"}));

  auto nothing = run_step(dir, "CopyFile", {{{"source", dir.file("src/*.none")}, {"destination", dir.file("dst/")}}});
  CHECK(failed_with(nothing, {"no file matches " + dir.file("src/*.none")}));
}

TEST_CASE("CopyFile: overwrite defaults to true; false refuses an existing file and leaves it alone") {
  TempDir dir;
  std::string source = make_file(dir.file("new.txt"), "new");
  std::string target = make_file(dir.file("target.txt"), "old");
  auto refused = run_step(dir, "CopyFile", {{{"source", source}, {"destination", target}, {"overwrite", false}}});
  CHECK(failed_with(refused, {target + " already exists and overwrite is false"}));
  CHECK(read_file(target) == "old");

  auto replaced = run_step(dir, "CopyFile", {{{"source", source}, {"destination", target}}});
  CHECK(succeeded(replaced));
  CHECK(read_file(target) == "new");
}

TEST_CASE("CopyFile: a symlink at the target is replaced, not written through") {
  TempDir dir;
  std::string source = make_file(dir.file("new.txt"), "new");
  std::string victim = make_file(dir.file("victim.txt"), "keep");
  std::filesystem::create_symlink(victim, dir.file("link.txt"));
  auto run = run_step(dir, "CopyFile", {{{"source", source}, {"destination", dir.file("link.txt")}}});
  CHECK(succeeded(run));
  CHECK_FALSE(is_symlink(dir.file("link.txt")));
  CHECK(read_file(dir.file("link.txt")) == "new");
  CHECK(read_file(victim) == "keep");
}

TEST_CASE("CopyFile: a missing source, a folder source and a folder target are errors") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder"));
  std::string source = make_file(dir.file("f.txt"), "f");
  auto missing = run_step(dir, "CopyFile", {{{"source", dir.file("nope.txt")}, {"destination", dir.file("x")}}});
  CHECK(failed_with(missing, {"item 0 (" + dir.file("nope.txt") + "): " + dir.file("nope.txt") + " does not exist"}));
  auto folder = run_step(dir, "CopyFile", {{{"source", dir.file("folder")}, {"destination", dir.file("x")}}});
  CHECK(failed_with(folder, {"is a folder (CopyFolder copies folders)"}));
  auto onto_folder = run_step(dir, "CopyFile", {{{"source", source}, {"destination", dir.file("folder")}}});
  CHECK(failed_with(onto_folder, {dir.file("folder") + " is a folder; end the destination with /"}));
}

TEST_CASE("CopyFile: list items run in order and the first failure stops the step, naming its index") {
  TempDir dir;
  std::string a = make_file(dir.file("a.txt"), "a");
  std::string c = make_file(dir.file("c.txt"), "c");
  auto run = run_step(dir, "CopyFile",
                      {{{"source", a}, {"destination", dir.file("out/")}},
                       {{"source", dir.file("missing.txt")}, {"destination", dir.file("out/")}},
                       {{"source", c}, {"destination", dir.file("out/")}}});
  CHECK(failed_with(run, {"item 1 (" + dir.file("missing.txt") + "): "}));
  CHECK(exists(dir.file("out/a.txt")));
  CHECK_FALSE(exists(dir.file("out/c.txt")));
}
