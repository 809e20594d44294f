// ListFiles end to end: the real kiln binary on a real filesystem, outputs chained into
// a later step.
#include <doctest/doctest.h>

#include "actions/common/action_test_support.h"

using namespace kiln::action_test;
using kiln::e2e::outputs_of;

namespace {

void make_tree(const TempDir& dir) {
  make_file(dir.file("root/b.txt"), "");
  make_file(dir.file("root/a.log"), "");
  make_file(dir.file("root/sub/c.txt"), "");
  make_file(dir.file("root/sub/deeper/d.txt"), "");
  make_file(dir.file("elsewhere/e.txt"), "");
  std::filesystem::create_directory_symlink(dir.file("elsewhere"), dir.file("root/linked"));
}

}  // namespace

TEST_CASE("ListFiles: lists the files of a folder (not folders), sorted; files is comma-joined, filesJson an array") {
  TempDir dir;
  make_tree(dir);
  auto run = run_step(dir, "ListFiles", {{{"path", dir.file("root/")}}});
  INFO(kiln::e2e::describe(run));
  REQUIRE(succeeded(run));
  nlohmann::json outputs = outputs_of(run.step("Step"));
  // A symlink is listed as itself (not followed), even when it points at a folder.
  nlohmann::json expected = {dir.file("root/a.log"), dir.file("root/b.txt"), dir.file("root/linked")};
  CHECK(outputs["filesJson"] == expected);
  CHECK(outputs["files"] == dir.file("root/a.log") + "," + dir.file("root/b.txt") + "," + dir.file("root/linked"));
}

TEST_CASE("ListFiles: recursive with a pattern, depth first; outputs chain into a later step") {
  TempDir dir;
  make_tree(dir);
  auto run = kiln::e2e::run_yaml(dir, R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: List
        action: ListFiles
        inputs:
          - path: )" + dir.file("root") + R"(
            fileNamePattern: '*.txt'
            recursive: true
      - name: Show
        action: ExecuteBash
        inputs:
          commands:
            - echo '{{ build.List.outputs.files }}'
            - echo '{{ build.List.outputs.filesJson }}'
)");
  INFO(kiln::e2e::describe(run));
  REQUIRE(run.exit_code() == 0);
  std::string listed = dir.file("root/b.txt") + "," + dir.file("root/sub/c.txt") + "," + dir.file("root/sub/deeper/d.txt");
  nlohmann::json as_json = {dir.file("root/b.txt"), dir.file("root/sub/c.txt"), dir.file("root/sub/deeper/d.txt")};
  CHECK(kiln::e2e::stdout_of(run.step("Show")) == listed + "\n" + as_json.dump());
}

TEST_CASE("ListFiles: a name with a comma is ambiguous in files but exact in filesJson; items add up in order") {
  TempDir dir;
  make_file(dir.file("one/x,y.txt"), "");
  make_file(dir.file("two/z.txt"), "");
  auto run = run_step(dir, "ListFiles", {{{"path", dir.file("one")}}, {{"path", dir.file("two")}}});
  INFO(kiln::e2e::describe(run));
  REQUIRE(succeeded(run));
  nlohmann::json outputs = outputs_of(run.step("Step"));
  CHECK(outputs["files"] == dir.file("one/x,y.txt") + "," + dir.file("two/z.txt"));
  CHECK(outputs["filesJson"] == nlohmann::json{dir.file("one/x,y.txt"), dir.file("two/z.txt")});
  CHECK(kiln::test::read_file(run.folder + "/application.log").find("use filesJson") != std::string::npos);
}

TEST_CASE("ListFiles: an empty folder gives empty outputs; a missing path or a file is an error") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("empty"));
  auto empty = run_step(dir, "ListFiles", {{{"path", dir.file("empty")}}});
  REQUIRE(succeeded(empty));
  CHECK(outputs_of(empty.step("Step"))["files"] == "");
  CHECK(outputs_of(empty.step("Step"))["filesJson"] == nlohmann::json::array());
  auto missing = run_step(dir, "ListFiles", {{{"path", dir.file("nope")}}});
  CHECK(failed_with(missing, {"item 0 (" + dir.file("nope") + "): " + dir.file("nope") + " does not exist"}));
  std::string file = make_file(dir.file("file"), "");
  auto on_file = run_step(dir, "ListFiles", {{{"path", file}}});
  CHECK(failed_with(on_file, {file + " is not a folder"}));
}
