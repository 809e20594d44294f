// End-to-end: SetFolderOwner through the real kiln binary, on a real filesystem, with a
// real second user and group (created when missing; see have_test_owner).
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::file_test;
using kiln::test::TempDir;

TEST_CASE("SetFolderOwner: recursive by default: the folder and everything in it; links inside are not followed" *
          KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  dir.write("tree/file", "f");
  dir.write("tree/sub/deeper/file", "f");
  std::string outside = dir.write("outside", "o");
  std::filesystem::create_symlink(outside, dir.file("tree/sub/link"));
  auto run = run_steps(dir, json::array({step("Own", "SetFolderOwner", json::array({{{"path", dir.file("tree")},
                                                                                     {"owner", kTestOwner},
                                                                                     {"group", kTestGroup}}}))}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  for (const char* name : {"tree", "tree/file", "tree/sub", "tree/sub/deeper", "tree/sub/deeper/file", "tree/sub/link"}) {
    INFO(name);
    CHECK(stat_of(dir.file(name)).st_uid == uid_of(kTestOwner));
    CHECK(stat_of(dir.file(name)).st_gid == gid_of(kTestGroup));
  }
  CHECK(stat_of(outside).st_uid == ::geteuid());  // the link changed, not what it points to
}

TEST_CASE("SetFolderOwner: recursive false changes only the folder; group defaults to the user's primary group" *
          KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  dir.write("tree/file", "f");
  auto run = run_steps(dir, json::array({step("Own", "SetFolderOwner", json::array({{{"path", dir.file("tree")},
                                                                                     {"owner", kTestOwner},
                                                                                     {"recursive", false}}}))}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  CHECK(stat_of(dir.file("tree")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("tree")).st_gid == primary_gid_of(kTestOwner));
  CHECK(stat_of(dir.file("tree/file")).st_uid == ::geteuid());
}

TEST_CASE("SetFolderOwner: a link to a folder as the path is followed" * KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  dir.write("real/file", "f");
  std::filesystem::create_symlink(dir.file("real"), dir.file("link"));
  auto run = run_steps(dir, json::array({step("Own", "SetFolderOwner",
                                              json::array({{{"path", dir.file("link")}, {"owner", kTestOwner}}}))}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  CHECK(stat_of(dir.file("real")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("real/file")).st_uid == uid_of(kTestOwner));
}

TEST_CASE("SetFolderOwner: a file, a missing folder and an unknown user fail, naming the item") {
  TempDir dir;
  std::string file = dir.write("file", "x");
  std::string me = std::to_string(::geteuid());
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"path", file}, {"owner", me}}, "item 0 (" + file + "): is not a folder"},
      {{{"path", dir.file("missing")}, {"owner", me}}, "item 0 (" + dir.file("missing") + "): does not exist"},
      {{{"path", dir.path()}, {"owner", "no-such-user-kiln"}},
       "item 0 (" + dir.path() + "): unknown user 'no-such-user-kiln' (no such user name, and not a numeric user id)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto run = run_steps(dir, json::array({step("Own", "SetFolderOwner", json::array({cases[i].first}))}),
                         "run" + std::to_string(i));
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Own") == cases[i].second);
  }
}
