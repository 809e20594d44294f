// End-to-end: SetFolderPermissions through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"

using namespace kiln::file_test;
using kiln::test::TempDir;

TEST_CASE("SetFolderPermissions: recursive by default: folders and files alike; links inside are skipped") {
  TempDir dir;
  dir.write("tree/file", "f");
  dir.write("tree/sub/deeper/file", "f");
  std::string outside = dir.write("outside", "o");
  ::chmod(outside.c_str(), 0644);
  std::filesystem::create_symlink(outside, dir.file("tree/sub/link"));
  auto run = run_steps(dir, json::array({step("Mode", "SetFolderPermissions",
                                              json::array({{{"path", dir.file("tree")}, {"permissions", "0750"}}}))}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  for (const char* name : {"tree", "tree/file", "tree/sub", "tree/sub/deeper", "tree/sub/deeper/file"}) {
    INFO(name);
    CHECK(mode_of(dir.file(name)) == 0750);
  }
  CHECK(mode_of(outside) == 0644);  // what the link points to is left alone
}

TEST_CASE("SetFolderPermissions: a mode without search permission still reaches the whole tree") {
  TempDir dir;
  dir.write("tree/sub/file", "f");
  auto run = run_steps(dir, json::array({step("Mode", "SetFolderPermissions",
                                              json::array({{{"path", dir.file("tree")}, {"permissions", "0600"}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  ::chmod(dir.file("tree").c_str(), 0700);  // look inside (and let TempDir clean up as non-root)
  ::chmod(dir.file("tree/sub").c_str(), 0700);
  CHECK(mode_of(dir.file("tree/sub/file")) == 0600);
}

TEST_CASE("SetFolderPermissions: recursive false changes only the folder") {
  TempDir dir;
  std::string file = dir.write("tree/file", "f");
  ::chmod(file.c_str(), 0644);
  auto run = run_steps(dir, json::array({step("Mode", "SetFolderPermissions",
                                              json::array({{{"path", dir.file("tree")}, {"permissions", "1777"},
                                                            {"recursive", false}}}))}));
  REQUIRE(run.exit_code() == 0);
  CHECK(mode_of(dir.file("tree")) == 01777);
  CHECK(mode_of(file) == 0644);
}

TEST_CASE("SetFolderPermissions: a file, a missing folder and bad permissions fail, naming the item") {
  TempDir dir;
  std::string file = dir.write("file", "x");
  std::filesystem::create_directories(dir.file("ok"));
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"path", file}, {"permissions", "0755"}}, "item 1 (" + file + "): is not a folder"},
      {{{"path", dir.file("missing")}, {"permissions", "0755"}}, "item 1 (" + dir.file("missing") + "): does not exist"},
      {{{"path", dir.file("ok")}, {"permissions", "a=rx"}},
       "item 1 (" + dir.file("ok") + "): permissions 'a=rx' are not an octal mode: give three or four octal digits as "
                                     "a string, such as '0644', '755' or '1777'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json items = json::array({{{"path", dir.file("ok")}, {"permissions", "0700"}}, cases[i].first});
    auto run = run_steps(dir, json::array({step("Mode", "SetFolderPermissions", items)}), "run" + std::to_string(i));
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Mode") == cases[i].second);
  }
  CHECK(mode_of(dir.file("ok")) == 0700);  // item 0 ran before each failure
}
