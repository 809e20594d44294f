// DeleteFolder end to end: the real kiln binary on a real filesystem.
#include <doctest/doctest.h>

#include "actions/common/action_test_support.h"

using namespace kiln::action_test;
using kiln::test::read_file;

TEST_CASE("DeleteFolder: deletes an empty folder; a missing folder is success") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("empty"));
  auto run = run_step(dir, "DeleteFolder", {{{"path", dir.file("empty")}}, {{"path", dir.file("never/was")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK_FALSE(exists(dir.file("empty")));
}

TEST_CASE("DeleteFolder: a non-empty folder needs force; links inside are deleted, not followed") {
  TempDir dir;
  make_file(dir.file("full/a/b.txt"), "b");
  std::string outside = make_file(dir.file("outside/keep.txt"), "keep");
  std::filesystem::create_directory_symlink(dir.file("outside"), dir.file("full/link"));
  auto refused = run_step(dir, "DeleteFolder", {{{"path", dir.file("full")}}});
  CHECK(failed_with(refused, {"item 0 (" + dir.file("full") + "): " + dir.file("full") +
                                  " is not empty; set force: true to delete it with its contents"}));
  CHECK(exists(dir.file("full/a/b.txt")));
  auto forced = run_step(dir, "DeleteFolder", {{{"path", dir.file("full")}, {"force", true}}});
  INFO(kiln::e2e::describe(forced));
  CHECK(succeeded(forced));
  CHECK_FALSE(exists(dir.file("full")));
  CHECK(read_file(outside) == "keep");
}

TEST_CASE("DeleteFolder: errors: a file, a symlink to a folder (with or without a trailing /)") {
  TempDir dir;
  std::string file = make_file(dir.file("file"), "f");
  std::filesystem::create_directories(dir.file("real"));
  std::filesystem::create_directory_symlink(dir.file("real"), dir.file("link"));
  auto on_file = run_step(dir, "DeleteFolder", {{{"path", file}}});
  CHECK(failed_with(on_file, {file + " is not a folder (DeleteFile deletes files)"}));
  make_file(dir.file("real/content"), "keep");
  auto on_link = run_step(dir, "DeleteFolder", {{{"path", dir.file("link")}, {"force", true}}});
  CHECK(failed_with(on_link, {"is a symbolic link, not a folder"}));
  // A trailing / does not turn the link into the folder it points to.
  auto on_link_slash = run_step(dir, "DeleteFolder", {{{"path", dir.file("link") + "/"}, {"force", true}}});
  CHECK(failed_with(on_link_slash, {"is a symbolic link, not a folder"}));
  CHECK(read_file(dir.file("real/content")) == "keep");
  CHECK(is_symlink(dir.file("link")));
  CHECK(exists(file));
}
