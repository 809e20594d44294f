// End-to-end: ReadFile through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"

using namespace kiln::file_test;
using kiln::e2e::outputs_of;
using kiln::e2e::stdout_of;
using kiln::test::TempDir;

namespace {

// The content output of a one-step ReadFile run ("<failed: message>" when it failed).
std::string read_back(const TempDir& dir, const json& items, const std::string& tag = "run") {
  auto run = run_steps(dir, json::array({step("Read", "ReadFile", items)}), tag);
  if (run.status("Read") != "success") return "<failed: " + failure_of(run, "Read") + ">";
  json outputs = outputs_of(run.step("Read"));
  return outputs.is_object() && outputs["content"].is_string() ? outputs["content"].get<std::string>() : "<none>";
}

}  // namespace

TEST_CASE("ReadFile: the content output is the file's text, exactly; later steps chain it") {
  TempDir dir;
  std::string path = dir.write("in.txt", "first line\n  second: 'quoted'\n");
  auto run = run_steps(dir, json::array({step("Read", "ReadFile", json::array({{{"path", path}}})),
                                         step("Use", "ExecuteBash",
                                              {{"commands", json::array({"printf '%s' \"{{ build.Read.outputs.content }}\" | wc -l"})}})}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(outputs_of(run.step("Read"))["content"] == "first line\n  second: 'quoted'\n");
  CHECK(stdout_of(run.step("Use")) == "2");
}

TEST_CASE("ReadFile: printFileContent writes the content to console.log; by default it does not") {
  TempDir dir;
  std::string shown = dir.write("shown.txt", "SHOWN-MARKER-41");
  std::string hidden = dir.write("hidden.txt", "HIDDEN-MARKER-42");
  json items = json::array({{{"path", shown}, {"printFileContent", true}}, {{"path", hidden}}});
  auto run = run_steps(dir, json::array({step("Read", "ReadFile", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(contains(run.console(), "SHOWN-MARKER-41"));
  CHECK(!contains(run.console(), "HIDDEN-MARKER-42"));
}

TEST_CASE("ReadFile: several items' contents are joined with a newline, in order") {
  TempDir dir;
  json items = json::array({{{"path", dir.write("1", "one")}}, {{"path", dir.write("2", "two")}}});
  CHECK(read_back(dir, items) == "one\ntwo");
}

TEST_CASE("ReadFile: decodes every encoding to UTF-8") {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"utf8", kSampleUtf8},      {"utf16", kSampleUtf16LE},    {"UTF-16-LE", kSampleUtf16LE},
      {"utf16-BE", kSampleUtf16BE}, {"utf32", kSampleUtf32LE}, {"utf-32-be", kSampleUtf32BE},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("encoding " << cases[i].first);
    std::string path = dir.write(std::to_string(i), cases[i].second);
    CHECK(read_back(dir, json::array({{{"path", path}, {"encoding", cases[i].first}}}), "run" + std::to_string(i)) ==
          kSample);
  }
}

TEST_CASE("ReadFile: a leading BOM is dropped, and for UTF-16/32 its byte order wins") {
  TempDir dir;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"utf8 BOM", "utf8", bytes({0xEF, 0xBB, 0xBF}) + kSampleUtf8},
      {"utf16 LE BOM", "utf16", bytes({0xFF, 0xFE}) + kSampleUtf16LE},
      {"utf16 BE BOM read as utf16 (LE)", "utf16", bytes({0xFE, 0xFF}) + kSampleUtf16BE},
      {"utf16-BE BOM", "utf16-BE", bytes({0xFE, 0xFF}) + kSampleUtf16BE},
      {"utf32 LE BOM", "utf32", bytes({0xFF, 0xFE, 0, 0}) + kSampleUtf32LE},
      {"utf32 BE BOM read as utf32-LE", "utf32-LE", bytes({0, 0, 0xFE, 0xFF}) + kSampleUtf32BE},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& [label, encoding, content] = cases[i];
    INFO(std::get<0>(cases[i]));
    std::string path = dir.write(std::to_string(i), content);
    CHECK(read_back(dir, json::array({{{"path", path}, {"encoding", encoding}}}), "run" + std::to_string(i)) == kSample);
  }
}

TEST_CASE("ReadFile: what CreateFile writes reads back unchanged, in every encoding") {
  TempDir dir;
  std::string text = kSample + "\nsecond line\r\n\tthird\n";
  json create = json::array(), read = json::array();
  for (std::string encoding : {"utf8", "utf16", "utf16-BE", "utf32", "utf32-BE"}) {
    create.push_back({{"path", dir.file(encoding)}, {"content", text}, {"encoding", encoding}});
    read.push_back({{"path", dir.file(encoding)}, {"encoding", encoding}});
  }
  auto run = run_steps(dir, json::array({step("Make", "CreateFile", create), step("Read", "ReadFile", read)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  std::string expected = text;
  for (int i = 1; i < 5; ++i) expected += "\n" + text;
  CHECK(outputs_of(run.step("Read"))["content"] == expected);
}

TEST_CASE("ReadFile: symlinks are followed") {
  TempDir dir;
  std::string target = dir.write("target.txt", "through the link");
  std::filesystem::create_symlink(target, dir.file("link.txt"));
  CHECK(read_back(dir, json::array({{{"path", dir.file("link.txt")}}})) == "through the link");
}

TEST_CASE("ReadFile: a missing file fails, naming the item; later items do not run") {
  TempDir dir;
  std::string missing = dir.file("missing.txt");
  json items = json::array({{{"path", dir.write("ok", "ok")}}, {{"path", missing}}, {{"path", "/nonexistent-kiln"}}});
  CHECK(read_back(dir, items) == "<failed: item 1 (" + missing + "): does not exist>");
}

TEST_CASE("ReadFile: bytes that are not valid in the encoding fail with their offset") {
  TempDir dir;
  std::string bad_utf8 = dir.write("bad8", bytes({0x61, 0x62, 0xFF, 0x63}));
  CHECK(read_back(dir, json::array({{{"path", bad_utf8}}}), "utf8") ==
        "<failed: item 0 (" + bad_utf8 + "): not valid UTF-8 at byte 2>");
  std::string odd_utf16 = dir.write("odd16", bytes({0x61, 0, 0x62}));
  CHECK(read_back(dir, json::array({{{"path", odd_utf16}, {"encoding", "utf16"}}}), "utf16") ==
        "<failed: item 0 (" + odd_utf16 + "): incomplete UTF-16LE sequence at the end (byte 2)>");
  std::string lone_surrogate = dir.write("lone", bytes({0x00, 0xD8, 0x61, 0x00}));
  CHECK(read_back(dir, json::array({{{"path", lone_surrogate}, {"encoding", "utf16"}}}), "lone") ==
        "<failed: item 0 (" + lone_surrogate + "): not valid UTF-16LE at byte 0>");
}

TEST_CASE("ReadFile: a folder is an error") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder"));
  CHECK(read_back(dir, json::array({{{"path", dir.file("folder")}}})) ==
        "<failed: item 0 (" + dir.file("folder") + "): is a folder, not a file>");
}
