// End-to-end: AppendFile through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"

using namespace kiln::file_test;
using kiln::test::read_file;
using kiln::test::TempDir;

TEST_CASE("AppendFile: appends UTF-8 content to an existing file, in item order") {
  TempDir dir;
  std::string path = dir.write("log.txt", "line 1\n");
  ::chmod(path.c_str(), 0640);
  json items = json::array({{{"path", path}, {"content", "line 2\n"}}, {{"path", path}, {"content", kSample}}});
  auto run = run_steps(dir, json::array({step("Append", "AppendFile", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(path) == "line 1\nline 2\n" + kSampleUtf8);
  CHECK(mode_of(path) == 0640);  // appending changes no attribute
}

TEST_CASE("AppendFile: content defaults to empty, which leaves the file as it was") {
  TempDir dir;
  std::string path = dir.write("same.txt", "unchanged");
  auto run = run_steps(dir, json::array({step("Append", "AppendFile", json::array({{{"path", path}}}))}));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(path) == "unchanged");
}

TEST_CASE("AppendFile: encodings append their exact bytes, without a BOM") {
  TempDir dir;
  std::string le = dir.write("le.txt", bytes({0x61, 0}));  // "a" in UTF-16LE
  std::string be = dir.write("be.txt", bytes({0, 0x61}));
  std::string u32 = dir.write("u32.txt", "");
  json items = json::array({{{"path", le}, {"content", kSample}, {"encoding", "utf16"}},
                            {{"path", be}, {"content", kSample}, {"encoding", "UTF-16-BE"}},
                            {{"path", u32}, {"content", kSample}, {"encoding", "utf32-BE"}}});
  auto run = run_steps(dir, json::array({step("Append", "AppendFile", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(read_file(le) == bytes({0x61, 0}) + kSampleUtf16LE);
  CHECK(read_file(be) == bytes({0, 0x61}) + kSampleUtf16BE);
  CHECK(read_file(u32) == kSampleUtf32BE);
}

TEST_CASE("AppendFile: a missing file fails the step (never created), naming the item; later items do not run") {
  TempDir dir;
  std::string first = dir.write("first.txt", "1");
  std::string missing = dir.file("missing.txt");
  std::string third = dir.write("third.txt", "3");
  json items = json::array({{{"path", first}, {"content", "+"}},
                            {{"path", missing}, {"content", "+"}},
                            {{"path", third}, {"content", "+"}}});
  auto run = run_steps(dir, json::array({step("Append", "AppendFile", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 1);
  CHECK(run.status("Append") == "failed");
  CHECK(failure_of(run, "Append") ==
        "item 1 (" + missing + "): does not exist (AppendFile never creates files; use CreateFile)");
  CHECK(!exists(missing));
  CHECK(read_file(first) == "1+");
  CHECK(read_file(third) == "3");
}

TEST_CASE("AppendFile: a folder is an error") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder"));
  auto run = run_steps(dir, json::array({step("Append", "AppendFile", json::array({{{"path", dir.file("folder")}}}))}));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Append") == "item 0 (" + dir.file("folder") + "): is a folder, not a file");
}

TEST_CASE("AppendFile: a file that is not writable is an error") {
  if (::geteuid() == 0) {  // root writes through any mode, but not into /proc/version (open or write fails)
    TempDir dir;
    auto run = run_steps(dir, json::array({step("Append", "AppendFile", json::array({{{"path", "/proc/version"}, {"content", "x"}}}))}));
    INFO(failure_of(run, "Append"));
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Append").rfind("item 0 (/proc/version): cannot ", 0) == 0);
    return;
  }
  TempDir dir;
  std::string path = dir.write("ro.txt", "x");
  ::chmod(path.c_str(), 0444);
  auto run = run_steps(dir, json::array({step("Append", "AppendFile", json::array({{{"path", path}, {"content", "y"}}}))}));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Append") == "item 0 (" + path + "): cannot open: Permission denied");
  CHECK(read_file(path) == "x");
}
