// DeleteFile end to end: the real kiln binary on a real filesystem.
#include <doctest/doctest.h>

#include "actions/common/action_test_support.h"

using namespace kiln::action_test;
using kiln::test::read_file;

TEST_CASE("DeleteFile: deletes a file; a missing file is success, so the step can be repeated") {
  TempDir dir;
  std::string file = make_file(dir.file("a.txt"), "a");
  auto first = run_step(dir, "DeleteFile", {{{"path", file}}});
  INFO(kiln::e2e::describe(first));
  CHECK(succeeded(first));
  CHECK_FALSE(exists(file));
  TempDir again;
  auto second = run_step(again, "DeleteFile", {{{"path", file}}, {{"path", dir.file("no/such/folder/x")}}});
  CHECK(succeeded(second));
}

TEST_CASE("DeleteFile: a wildcard deletes the matching files of that one folder, not folders or other files") {
  TempDir dir;
  make_file(dir.file("logs/a.log"), "a");
  make_file(dir.file("logs/b.log"), "b");
  make_file(dir.file("logs/keep.txt"), "k");
  make_file(dir.file("logs/sub/c.log"), "c");
  std::filesystem::create_directories(dir.file("logs/dir.log"));
  auto run = run_step(dir, "DeleteFile", {{{"path", dir.file("logs/*.log")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK_FALSE(exists(dir.file("logs/a.log")));
  CHECK_FALSE(exists(dir.file("logs/b.log")));
  CHECK(exists(dir.file("logs/keep.txt")));
  CHECK(exists(dir.file("logs/sub/c.log")));
  CHECK(is_folder(dir.file("logs/dir.log")));
  auto none = run_step(dir, "DeleteFile", {{{"path", dir.file("logs/*.log")}}});
  CHECK(succeeded(none));
}

TEST_CASE("DeleteFile: a symlink is deleted itself, never its target; force is accepted") {
  TempDir dir;
  std::string target = make_file(dir.file("target.txt"), "keep");
  std::filesystem::create_symlink(target, dir.file("link.txt"));
  auto run = run_step(dir, "DeleteFile", {{{"path", dir.file("link.txt")}, {"force", true}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK_FALSE(exists(dir.file("link.txt")));
  CHECK(read_file(target) == "keep");
}

TEST_CASE("DeleteFile: errors: a folder, * outside the file name; the failing item is named") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder"));
  std::string a = make_file(dir.file("a.txt"), "a");
  std::string c = make_file(dir.file("c.txt"), "c");
  auto run = run_step(dir, "DeleteFile", {{{"path", a}}, {{"path", dir.file("folder")}}, {{"path", c}}});
  CHECK(failed_with(run, {"item 1 (" + dir.file("folder") + "): " + dir.file("folder") +
                              " is a folder (DeleteFolder deletes folders)"}));
  CHECK_FALSE(exists(a));
  CHECK(exists(c));
  CHECK(is_folder(dir.file("folder")));
  auto misplaced = run_step(dir, "DeleteFile", {{{"path", dir.file("f*/x.txt")}}});
  CHECK(failed_with(misplaced, {"'*' is allowed only in the last component"}));
}
