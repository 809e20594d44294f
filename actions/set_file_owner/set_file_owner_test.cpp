// End-to-end: SetFileOwner through the real kiln binary, on a real filesystem, with a
// real second user and group (created when missing; see have_test_owner).
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::file_test;
using kiln::test::TempDir;

TEST_CASE("SetFileOwner: owner by name takes the user's primary group; group by name or id; owner by id" *
          KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  std::string a = dir.write("a", "a"), b = dir.write("b", "b"), c = dir.write("c", "c"), d = dir.write("d", "d");
  std::string uid = std::to_string(uid_of(kTestOwner));
  json items = json::array({{{"path", a}, {"owner", kTestOwner}},
                            {{"path", b}, {"owner", kTestOwner}, {"group", kTestGroup}},
                            {{"path", c}, {"owner", uid}, {"group", std::to_string(gid_of(kTestGroup))}},
                            {{"path", d}, {"owner", uid}}});
  auto run = run_steps(dir, json::array({step("Own", "SetFileOwner", items)}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  CHECK(stat_of(a).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(a).st_gid == primary_gid_of(kTestOwner));
  CHECK(stat_of(b).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(b).st_gid == gid_of(kTestGroup));
  CHECK(stat_of(c).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(c).st_gid == gid_of(kTestGroup));
  CHECK(stat_of(d).st_gid == primary_gid_of(kTestOwner));  // a known id also has a primary group
}

TEST_CASE("SetFileOwner: a numeric id unknown to the user database works with a group, and needs one" *
          KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  uid_t unknown = 54321;
  while (::getpwuid(unknown)) ++unknown;
  TempDir dir;
  std::string path = dir.write("f", "x");
  auto run = run_steps(dir, json::array({step("Own", "SetFileOwner",
                                              json::array({{{"path", path}, {"owner", std::to_string(unknown)},
                                                            {"group", kTestGroup}}}))}),
                       "with-group");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stat_of(path).st_uid == unknown);
  CHECK(stat_of(path).st_gid == gid_of(kTestGroup));
  run = run_steps(dir, json::array({step("Own", "SetFileOwner",
                                         json::array({{{"path", path}, {"owner", std::to_string(unknown)}}}))}),
                  "without-group");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Own") == "item 0 (" + path + "): user id " + std::to_string(unknown) +
                                      " has no entry in the user database, so it has no primary group: give 'group' too");
}

TEST_CASE("SetFileOwner: a symlink is followed: its target changes owner, the link does not" * KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  std::string target = dir.write("target", "t");
  std::filesystem::create_symlink(target, dir.file("link"));
  auto run = run_steps(dir, json::array({step("Own", "SetFileOwner",
                                              json::array({{{"path", dir.file("link")}, {"owner", kTestOwner}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(stat_of(target).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("link")).st_uid == ::geteuid());
}

TEST_CASE("SetFileOwner: unknown user, unknown group, missing file and folder fail, naming the item") {
  TempDir dir;
  std::string file = dir.write("f", "x");
  std::string missing = dir.file("missing");
  std::string me = std::to_string(::geteuid());
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"path", file}, {"owner", "no-such-user-kiln"}},
       "item 1 (" + file + "): unknown user 'no-such-user-kiln' (no such user name, and not a numeric user id)"},
      {{{"path", file}, {"owner", me}, {"group", "no-such-group-kiln"}},
       "item 1 (" + file + "): unknown group 'no-such-group-kiln' (no such group name, and not a numeric group id)"},
      {{{"path", missing}, {"owner", me}}, "item 1 (" + missing + "): does not exist"},
      {{{"path", dir.path()}, {"owner", me}}, "item 1 (" + dir.path() + "): is a folder, not a file"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    // Item 0 is fine (our own user), item 1 fails.
    json items = json::array({{{"path", file}, {"owner", me}}, cases[i].first});
    auto run = run_steps(dir, json::array({step("Own", "SetFileOwner", items)}), "run" + std::to_string(i));
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Own") == cases[i].second);
  }
}
