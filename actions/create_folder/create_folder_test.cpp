// End-to-end: CreateFolder through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::file_test;
using kiln::test::read_file;
using kiln::test::TempDir;

TEST_CASE("CreateFolder: creates the folder and its parents, 0777 minus the umask") {
  TempDir dir;
  std::string path = dir.file("a/b/c");
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder", json::array({{{"path", path}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(std::filesystem::is_directory(path));
  CHECK(mode_of(path) == (0777 & ~current_umask()));
  CHECK(mode_of(dir.file("a")) == (0777 & ~current_umask()));
}

TEST_CASE("CreateFolder: permissions are exact and apply to the folder, not to the parents made on the way") {
  TempDir dir;
  json items = json::array({{{"path", dir.file("p/private")}, {"permissions", "0700"}},
                            {{"path", dir.file("shared")}, {"permissions", "1777"}},
                            {{"path", dir.file("three")}, {"permissions", "750"}}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(mode_of(dir.file("p/private")) == 0700);
  CHECK(mode_of(dir.file("p")) == (0777 & ~current_umask()));
  CHECK(mode_of(dir.file("shared")) == 01777);
  CHECK(mode_of(dir.file("three")) == 0750);
}

TEST_CASE("CreateFolder: an existing folder is kept with its contents (overwrite true) and gets the permissions") {
  TempDir dir;
  std::string inside = dir.write("existing/keep.txt", "still here");
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder",
                                              json::array({{{"path", dir.file("existing")}, {"permissions", "0711"}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(inside) == "still here");
  CHECK(mode_of(dir.file("existing")) == 0711);
}

TEST_CASE("CreateFolder: overwrite false makes an existing folder an error, naming the item") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("existing"));
  json items = json::array({{{"path", dir.file("new1")}},
                            {{"path", dir.file("existing")}, {"overwrite", false}},
                            {{"path", dir.file("new2")}}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder", items)}));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make") == "item 1 (" + dir.file("existing") + "): already exists and overwrite is false");
  CHECK(exists(dir.file("new1")));
  CHECK(!exists(dir.file("new2")));
}

TEST_CASE("CreateFolder: overwrite false creates a missing folder") {
  TempDir dir;
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder",
                                              json::array({{{"path", dir.file("fresh")}, {"overwrite", false}}}))}));
  CHECK(run.exit_code() == 0);
  CHECK(std::filesystem::is_directory(dir.file("fresh")));
}

TEST_CASE("CreateFolder: a file at the path, or in the way of a parent, is an error") {
  TempDir dir;
  std::string file = dir.write("file", "x");
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder", json::array({{{"path", file}}}))}), "at");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make") == "item 0 (" + file + "): exists and is not a folder");
  run = run_steps(dir, json::array({step("Make", "CreateFolder", json::array({{{"path", file + "/sub"}}}))}), "parent");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make").rfind("item 0 (" + file + "/sub): ", 0) == 0);
  CHECK(read_file(file) == "x");
}

TEST_CASE("CreateFolder: owner and group, by name and by id" * KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  json items = json::array({{{"path", dir.file("by-name")}, {"owner", kTestOwner}},
                            {{"path", dir.file("both")}, {"owner", kTestOwner}, {"group", kTestGroup}},
                            {{"path", dir.file("ids")},
                             {"owner", std::to_string(uid_of(kTestOwner))},
                             {"group", std::to_string(gid_of(kTestGroup))},
                             {"permissions", "2770"}}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFolder", items)}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  CHECK(stat_of(dir.file("by-name")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("by-name")).st_gid == primary_gid_of(kTestOwner));
  CHECK(stat_of(dir.file("both")).st_gid == gid_of(kTestGroup));
  CHECK(stat_of(dir.file("ids")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("ids")).st_gid == gid_of(kTestGroup));
  CHECK(mode_of(dir.file("ids")) == 02770);
}

TEST_CASE("CreateFolder: an unknown owner, an unknown group or bad permissions create nothing") {
  TempDir dir;
  std::string path = dir.file("never");
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"path", path}, {"owner", "no-such-user-kiln"}},
       "unknown user 'no-such-user-kiln' (no such user name, and not a numeric user id)"},
      {{{"path", path}, {"group", "no-such-group-kiln"}},
       "unknown group 'no-such-group-kiln' (no such group name, and not a numeric group id)"},
      {{{"path", path}, {"permissions", "u+rwx"}},
       "permissions 'u+rwx' are not an octal mode: give three or four octal digits as a string, such as '0644', "
       "'755' or '1777'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto run = run_steps(dir, json::array({step("Make", "CreateFolder", json::array({cases[i].first}))}),
                         "run" + std::to_string(i));
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Make") == "item 0 (" + path + "): " + cases[i].second);
    CHECK(!exists(path));
  }
}
