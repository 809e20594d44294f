// End-to-end: SetFilePermissions through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"

using namespace kiln::file_test;
using kiln::test::TempDir;

TEST_CASE("SetFilePermissions: applies exact modes from 3 or 4 octal digits, special bits included") {
  TempDir dir;
  const std::vector<std::pair<std::string, mode_t>> cases = {
      {"0600", 0600}, {"755", 0755}, {"4755", 04755}, {"0000", 0}, {"0777", 0777}, {"1644", 01644}};
  json items = json::array();
  for (size_t i = 0; i < cases.size(); ++i)
    items.push_back({{"path", dir.write(std::to_string(i), "x")}, {"permissions", cases[i].first}});
  auto run = run_steps(dir, json::array({step("Mode", "SetFilePermissions", items)}));
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].first);
    CHECK(mode_of(dir.file(std::to_string(i))) == cases[i].second);
  }
}

TEST_CASE("SetFilePermissions: a symlink is followed: its target changes") {
  TempDir dir;
  std::string target = dir.write("target", "t");
  ::chmod(target.c_str(), 0644);
  std::filesystem::create_symlink(target, dir.file("link"));
  auto run = run_steps(dir, json::array({step("Mode", "SetFilePermissions",
                                              json::array({{{"path", dir.file("link")}, {"permissions", "0640"}}}))}));
  CHECK(run.exit_code() == 0);
  CHECK(mode_of(target) == 0640);
  CHECK(std::filesystem::is_symlink(dir.file("link")));
}

TEST_CASE("SetFilePermissions: anything but 3-4 octal digits is refused, naming the item; the file is unchanged") {
  TempDir dir;
  std::string path = dir.write("f", "x");
  ::chmod(path.c_str(), 0644);
  for (std::string bad : {"rwxr-xr-x", "u+x", "0x1ff", "9", "0o755", "07555", "0758", " 755", ""}) {
    json items = json::array({{{"path", path}, {"permissions", "0644"}}, {{"path", path}, {"permissions", bad}}});
    auto run = run_steps(dir, json::array({step("Mode", "SetFilePermissions", items)}), "run");
    INFO("permissions '" << bad << "'");
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Mode") == "item 1 (" + path + "): permissions '" + bad +
                                         "' are not an octal mode: give three or four octal digits as a string, "
                                         "such as '0644', '755' or '1777'");
    CHECK(mode_of(path) == 0644);
    std::filesystem::remove_all(dir.file("run-logs"));
  }
}

TEST_CASE("SetFilePermissions: a missing file and a folder are errors naming the item") {
  TempDir dir;
  auto run = run_steps(dir, json::array({step("Mode", "SetFilePermissions",
                                              json::array({{{"path", dir.file("missing")}, {"permissions", "0644"}}}))}),
                       "missing");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Mode") == "item 0 (" + dir.file("missing") + "): does not exist");
  std::filesystem::create_directories(dir.file("folder"));
  run = run_steps(dir, json::array({step("Mode", "SetFilePermissions",
                                         json::array({{{"path", dir.file("folder")}, {"permissions", "0700"}}}))}),
                  "folder");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Mode") == "item 0 (" + dir.file("folder") + "): is a folder, not a file");
  CHECK(mode_of(dir.file("folder")) != 0700);
}

TEST_CASE("SetFilePermissions: unquoted YAML modes (0640, 755) arrive as written, not as numbers") {
  TempDir dir;
  std::string a = dir.write("a", "a"), b = dir.write("b", "b");
  auto run = kiln::e2e::run_yaml(dir, "schemaVersion: 1.0\n"
                                      "phases:\n"
                                      "  - name: build\n"
                                      "    steps:\n"
                                      "      - name: Mode\n"
                                      "        action: SetFilePermissions\n"
                                      "        inputs:\n"
                                      "          - path: " + a + "\n"
                                      "            permissions: 0640\n"
                                      "          - path: " + b + "\n"
                                      "            permissions: 755\n");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(mode_of(a) == 0640);
  CHECK(mode_of(b) == 0755);
}
