// End-to-end: SetFileEncoding through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"

using namespace kiln::file_test;
using kiln::test::read_file;
using kiln::test::TempDir;

TEST_CASE("SetFileEncoding: re-encodes UTF-8 files to the exact bytes of each encoding, no BOM") {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"utf16", kSampleUtf16LE}, {"utf-16-LE", kSampleUtf16LE}, {"UTF16-BE", kSampleUtf16BE},
      {"utf32", kSampleUtf32LE}, {"utf32-be", kSampleUtf32BE},  {"utf8", kSampleUtf8},
  };
  json items = json::array();
  for (size_t i = 0; i < cases.size(); ++i)
    items.push_back({{"path", dir.write(std::to_string(i), kSampleUtf8)}, {"encoding", cases[i].first}});
  auto run = run_steps(dir, json::array({step("Encode", "SetFileEncoding", items)}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("encoding " << cases[i].first);
    CHECK(read_file(dir.file(std::to_string(i))) == cases[i].second);
  }
}

TEST_CASE("SetFileEncoding: encoding defaults to utf8, which drops a UTF-8 BOM") {
  TempDir dir;
  std::string path = dir.write("bom.txt", bytes({0xEF, 0xBB, 0xBF}) + kSampleUtf8);
  auto run = run_steps(dir, json::array({step("Encode", "SetFileEncoding", json::array({{{"path", path}}}))}));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(path) == kSampleUtf8);
}

TEST_CASE("SetFileEncoding: the file keeps its mode and owner") {
  TempDir dir;
  std::string path = dir.write("kept.txt", "abc");
  ::chmod(path.c_str(), 0604);
  bool owned = have_test_owner();
  if (owned) REQUIRE(::chown(path.c_str(), uid_of(kTestOwner), gid_of(kTestGroup)) == 0);
  auto run = run_steps(dir, json::array({step("Encode", "SetFileEncoding",
                                              json::array({{{"path", path}, {"encoding", "utf16-BE"}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(path) == bytes({0, 'a', 0, 'b', 0, 'c'}));
  CHECK(mode_of(path) == 0604);
  if (owned) {
    CHECK(stat_of(path).st_uid == uid_of(kTestOwner));
    CHECK(stat_of(path).st_gid == gid_of(kTestGroup));
  }
  // Nothing is left beside it (the temporary file was renamed over it).
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(!contains(entry.path().filename().string(), ".kiln-"));
}

TEST_CASE("SetFileEncoding: a symlink stays a symlink; its target is re-encoded") {
  TempDir dir;
  std::string target = dir.write("target.txt", "hi");
  std::filesystem::create_symlink("target.txt", dir.file("link.txt"));
  auto run = run_steps(dir, json::array({step("Encode", "SetFileEncoding",
                                              json::array({{{"path", dir.file("link.txt")}, {"encoding", "utf32"}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(std::filesystem::is_symlink(dir.file("link.txt")));
  CHECK(read_file(target) == bytes({'h', 0, 0, 0, 'i', 0, 0, 0}));
}

TEST_CASE("SetFileEncoding: a file that is not UTF-8 fails and is left unchanged") {
  TempDir dir;
  std::string ok = dir.write("ok.txt", "ok");
  std::string latin1 = dir.write("latin1.txt", bytes({'c', 'a', 'f', 0xE9}));
  json items = json::array({{{"path", ok}, {"encoding", "utf16"}}, {{"path", latin1}, {"encoding", "utf16"}}});
  auto run = run_steps(dir, json::array({step("Encode", "SetFileEncoding", items)}));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Encode") == "item 1 (" + latin1 + "): incomplete UTF-8 sequence at the end (byte 3)");
  CHECK(read_file(latin1) == bytes({'c', 'a', 'f', 0xE9}));
  CHECK(read_file(ok) == bytes({'o', 0, 'k', 0}));
}

TEST_CASE("SetFileEncoding: a missing file or a folder is an error naming the item") {
  TempDir dir;
  std::string missing = dir.file("missing.txt");
  auto run = run_steps(dir, json::array({step("Encode", "SetFileEncoding", json::array({{{"path", missing}}}))}), "missing");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Encode") == "item 0 (" + missing + "): does not exist");
  CHECK(!exists(missing));
  run = run_steps(dir, json::array({step("Encode", "SetFileEncoding", json::array({{{"path", dir.path()}}}))}), "folder");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Encode") == "item 0 (" + dir.path() + "): is a folder, not a file");
}
