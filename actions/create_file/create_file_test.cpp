// End-to-end: CreateFile through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::file_test;
using kiln::test::read_file;
using kiln::test::TempDir;

TEST_CASE("CreateFile: writes UTF-8 content, creates parent folders, 0666 minus the umask") {
  TempDir dir;
  std::string path = dir.file("a/b/c/new.txt");
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", path}, {"content", kSample}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(run.status("Make") == "success");
  CHECK(kSample == kSampleUtf8);
  CHECK(read_file(path) == kSampleUtf8);
  CHECK(mode_of(path) == (0666 & ~current_umask()));
  CHECK(std::filesystem::is_directory(dir.file("a/b/c")));
}

TEST_CASE("CreateFile: content defaults to empty") {
  TempDir dir;
  std::string path = dir.file("empty.txt");
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", path}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(exists(path));
  CHECK(read_file(path).empty());
}

TEST_CASE("CreateFile: every encoding writes its exact bytes, without a BOM; names are case-insensitive") {
  TempDir dir;
  json items = json::array();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"utf8", kSampleUtf8},        {"UTF-8", kSampleUtf8},         {"utf16", kSampleUtf16LE},
      {"utf-16", kSampleUtf16LE},   {"utf16-LE", kSampleUtf16LE},   {"UTF-16-le", kSampleUtf16LE},
      {"utf16-BE", kSampleUtf16BE}, {"utf-16-BE", kSampleUtf16BE},  {"utf32", kSampleUtf32LE},
      {"utf-32", kSampleUtf32LE},   {"utf32-LE", kSampleUtf32LE},   {"utf-32-LE", kSampleUtf32LE},
      {"utf32-BE", kSampleUtf32BE}, {"Utf-32-Be", kSampleUtf32BE},
  };
  for (size_t i = 0; i < cases.size(); ++i)
    items.push_back({{"path", dir.file(std::to_string(i) + ".txt")}, {"content", kSample}, {"encoding", cases[i].first}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", items)}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("encoding " << cases[i].first);
    CHECK(read_file(dir.file(std::to_string(i) + ".txt")) == cases[i].second);
  }
}

TEST_CASE("CreateFile: an encoding outside the list is refused by validation") {
  TempDir dir;
  auto run = run_steps(dir, json::array({step("Make", "CreateFile",
                                              json::array({{{"path", dir.file("x")}, {"encoding", "latin1"}}}))}));
  CHECK(run.exit_code() == 3);
  CHECK(!exists(dir.file("x")));
}

TEST_CASE("CreateFile: overwrite (default true) truncates an existing file and keeps its mode") {
  TempDir dir;
  std::string path = dir.write("old.txt", "a much longer old content");
  ::chmod(path.c_str(), 0600);
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", path}, {"content", "new"}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(path) == "new");
  CHECK(mode_of(path) == 0600);
}

TEST_CASE("CreateFile: overwrite false refuses an existing file, naming the item; earlier items stay done") {
  TempDir dir;
  std::string existing = dir.write("exists.txt", "keep me");
  json items = json::array({{{"path", dir.file("first.txt")}, {"content", "1"}},
                            {{"path", existing}, {"content", "lost"}, {"overwrite", false}},
                            {{"path", dir.file("third.txt")}, {"content", "3"}}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make") == "item 1 (" + existing + "): already exists and overwrite is false");
  CHECK(read_file(existing) == "keep me");
  CHECK(read_file(dir.file("first.txt")) == "1");
  CHECK(!exists(dir.file("third.txt")));  // the first failure stops the step
}

TEST_CASE("CreateFile: overwrite false creates a missing file") {
  TempDir dir;
  std::string path = dir.file("fresh.txt");
  auto run = run_steps(dir, json::array({step("Make", "CreateFile",
                                              json::array({{{"path", path}, {"content", "ok"}, {"overwrite", false}}}))}));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(path) == "ok");
}

TEST_CASE("CreateFile: permissions are exact (the umask does not narrow them), with 3 or 4 digits") {
  TempDir dir;
  json items = json::array({{{"path", dir.file("a")}, {"permissions", "0777"}},
                            {{"path", dir.file("b")}, {"permissions", "640"}},
                            {{"path", dir.file("c")}, {"permissions", "0400"}}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(mode_of(dir.file("a")) == 0777);
  CHECK(mode_of(dir.file("b")) == 0640);
  CHECK(mode_of(dir.file("c")) == 0400);
}

TEST_CASE("CreateFile: permissions that are not 3-4 octal digits are refused before the file is made") {
  for (std::string bad : {"rw-r--r--", "0999", "12345", "64", "0x1ff", "+x", ""}) {
    TempDir dir;
    std::string path = dir.file("f");
    auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", path}, {"permissions", bad}}}))}));
    INFO("permissions '" << bad << "'\n" << kiln::e2e::describe(run));
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Make") == "item 0 (" + path + "): permissions '" + bad +
                                         "' are not an octal mode: give three or four octal digits as a string, "
                                         "such as '0644', '755' or '1777'");
    CHECK(!exists(path));
  }
}

TEST_CASE("CreateFile: owner by name takes the user's primary group; group by name; numeric ids" * KILN_NEEDS_ROOT) {
  REQUIRE(have_test_owner());  // creates the test user and group when missing
  TempDir dir;
  std::string uid = std::to_string(uid_of(kTestOwner)), gid = std::to_string(gid_of(kTestGroup));
  json items = json::array({{{"path", dir.file("by-name")}, {"owner", kTestOwner}},
                            {{"path", dir.file("with-group")}, {"owner", kTestOwner}, {"group", kTestGroup}},
                            {{"path", dir.file("numeric")}, {"owner", uid}, {"group", gid}},
                            {{"path", dir.file("group-only")}, {"group", kTestGroup}},
                            {{"path", dir.file("setgid")}, {"owner", kTestOwner}, {"permissions", "2755"}}});
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", items)}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  CHECK(stat_of(dir.file("by-name")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("by-name")).st_gid == primary_gid_of(kTestOwner));
  CHECK(stat_of(dir.file("with-group")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("with-group")).st_gid == gid_of(kTestGroup));
  CHECK(stat_of(dir.file("numeric")).st_uid == uid_of(kTestOwner));
  CHECK(stat_of(dir.file("numeric")).st_gid == gid_of(kTestGroup));
  CHECK(stat_of(dir.file("group-only")).st_uid == ::geteuid());  // no owner: ours
  CHECK(stat_of(dir.file("group-only")).st_gid == gid_of(kTestGroup));
  // The mode is applied after the owner, so chown does not clear the set-group-ID bit.
  CHECK(mode_of(dir.file("setgid")) == 02755);
}

TEST_CASE("CreateFile: unknown owner or group fails with the item's index and path, creating nothing") {
  TempDir dir;
  std::string path = dir.file("f");
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", path}, {"owner", "no-such-user-kiln"}}}))}),
                       "user");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make") ==
        "item 0 (" + path + "): unknown user 'no-such-user-kiln' (no such user name, and not a numeric user id)");
  run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", path}, {"group", "no-such-group-kiln"}}}))}),
                  "group");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make") ==
        "item 0 (" + path + "): unknown group 'no-such-group-kiln' (no such group name, and not a numeric group id)");
  CHECK(!exists(path));
}

TEST_CASE("CreateFile: a folder at the path is an error") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder"));
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", dir.file("folder")}}}))}));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Make") == "item 0 (" + dir.file("folder") + "): is a folder, not a file");
}

TEST_CASE("CreateFile: a parent that is a file is an error naming that folder") {
  TempDir dir;
  std::string blocker = dir.write("blocker", "x");
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", json::array({{{"path", blocker + "/sub/f"}}}))}));
  CHECK(run.exit_code() == 1);
  std::string message = failure_of(run, "Make");
  CHECK(message.rfind("item 0 (" + blocker + "/sub/f): cannot create the folder " + blocker + "/sub: ", 0) == 0);
}
