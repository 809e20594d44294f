// End-to-end: CreateSymlink through the real kiln binary, on a real filesystem.
#include <doctest/doctest.h>

#include <filesystem>

#include "actions/common/file_test_support.h"

using namespace kiln::file_test;
using kiln::test::read_file;
using kiln::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("CreateSymlink: links to an existing file and to a folder, creating parent folders") {
  TempDir dir;
  std::string file = dir.write("data/file.txt", "payload");
  json items = json::array({{{"path", dir.file("links/deep/to-file")}, {"target", file}},
                            {{"path", dir.file("to-folder")}, {"target", dir.file("data")}}});
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink", items)}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(fs::is_symlink(dir.file("links/deep/to-file")));
  CHECK(fs::read_symlink(dir.file("links/deep/to-file")) == file);
  CHECK(read_file(dir.file("links/deep/to-file")) == "payload");
  CHECK(fs::read_symlink(dir.file("to-folder")) == dir.file("data"));
  CHECK(read_file(dir.file("to-folder/file.txt")) == "payload");
}

TEST_CASE("CreateSymlink: a relative path is made absolute (from the working folder)") {
  TempDir dir;
  std::string file = dir.write("target.txt", "t");
  fs::create_directories(dir.file("work"));
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink", json::array({{{"path", "rel/link"}, {"target", file}}}))}),
                       "run", dir.file("work"));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(fs::read_symlink(dir.file("work/rel/link")) == file);
}

TEST_CASE("CreateSymlink: a relative target is written as given and must exist as seen from the link's folder") {
  TempDir dir;
  dir.write("links/sibling.txt", "next door");
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                              json::array({{{"path", dir.file("links/link")}, {"target", "sibling.txt"}}}))}));
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(fs::read_symlink(dir.file("links/link")) == "sibling.txt");
  CHECK(read_file(dir.file("links/link")) == "next door");
  // elsewhere.txt exists in the working folder, but not beside the link: refused.
  dir.write("elsewhere.txt", "x");
  run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                         json::array({{{"path", dir.file("links/bad")}, {"target", "elsewhere.txt"}}}))}),
                  "relative", dir.path());
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Link") == "item 0 (" + dir.file("links/bad") + "): the target " + dir.file("links/elsewhere.txt") +
                                       " does not exist (No such file or directory)");
}

TEST_CASE("CreateSymlink: a missing target fails, naming the item; nothing is created") {
  TempDir dir;
  std::string ok_target = dir.write("ok.txt", "ok");
  json items = json::array({{{"path", dir.file("first")}, {"target", ok_target}},
                            {{"path", dir.file("new/second")}, {"target", dir.file("missing.txt")}},
                            {{"path", dir.file("third")}, {"target", ok_target}}});
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink", items)}));
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Link") == "item 1 (" + dir.file("new/second") + "): the target " + dir.file("missing.txt") +
                                       " does not exist (No such file or directory)");
  CHECK(fs::is_symlink(dir.file("first")));
  CHECK(!exists(dir.file("new")));  // not even the parent folder
  CHECK(!exists(dir.file("third")));
}

TEST_CASE("CreateSymlink: a dangling link as target counts as missing") {
  TempDir dir;
  fs::create_symlink(dir.file("nowhere"), dir.file("dangling"));
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                              json::array({{{"path", dir.file("link")}, {"target", dir.file("dangling")}}}))}));
  CHECK(run.exit_code() == 1);
  CHECK(contains(failure_of(run, "Link"), "the target " + dir.file("dangling") + " does not exist"));
}

TEST_CASE("CreateSymlink: an existing link needs force; force replaces it") {
  TempDir dir;
  std::string old_target = dir.write("old.txt", "old");
  std::string new_target = dir.write("new.txt", "new");
  fs::create_symlink(old_target, dir.file("link"));
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                              json::array({{{"path", dir.file("link")}, {"target", new_target}}}))}),
                       "no-force");
  CHECK(run.exit_code() == 1);
  CHECK(failure_of(run, "Link") ==
        "item 0 (" + dir.file("link") + "): a symbolic link already exists (force: true replaces it)");
  CHECK(fs::read_symlink(dir.file("link")) == old_target);

  run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                         json::array({{{"path", dir.file("link")}, {"target", new_target}, {"force", true}}}))}),
                  "force");
  INFO(kiln::e2e::describe(run));
  CHECK(run.exit_code() == 0);
  CHECK(fs::read_symlink(dir.file("link")) == new_target);
  CHECK(read_file(old_target) == "old");  // the old target is untouched
  for (const auto& entry : fs::directory_iterator(dir.path()))  // no temporary link left behind
    CHECK(!contains(entry.path().filename().string(), ".kiln-"));
}

TEST_CASE("CreateSymlink: force replaces a link to a folder, not the folder's contents") {
  TempDir dir;
  dir.write("folder/inside.txt", "kept");
  std::string other = dir.write("other.txt", "o");
  fs::create_symlink(dir.file("folder"), dir.file("link"));
  auto run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                              json::array({{{"path", dir.file("link")}, {"target", other}, {"force", true}}}))}));
  CHECK(run.exit_code() == 0);
  CHECK(fs::read_symlink(dir.file("link")) == other);
  CHECK(read_file(dir.file("folder/inside.txt")) == "kept");
}

TEST_CASE("CreateSymlink: a file or folder at the path is an error, even with force") {
  TempDir dir;
  std::string target = dir.write("target.txt", "t");
  std::string file = dir.write("file", "not a link");
  fs::create_directories(dir.file("folder"));
  for (const std::string& path : {file, dir.file("folder")}) {
    auto run = run_steps(dir, json::array({step("Link", "CreateSymlink",
                                                json::array({{{"path", path}, {"target", target}, {"force", true}}}))}),
                         fs::path(path).filename().string() + "-run");
    CHECK(run.exit_code() == 1);
    CHECK(failure_of(run, "Link") == "item 0 (" + path + "): exists and is not a symbolic link (only links are replaced)");
  }
  CHECK(read_file(file) == "not a link");
  CHECK(fs::is_directory(dir.file("folder")));
}
