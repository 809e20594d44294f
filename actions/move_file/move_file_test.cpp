// MoveFile end to end: the real kiln binary on a real filesystem, and across filesystems
// (a tmpfs the test mounts as root, or /dev/shm; see OtherFilesystem).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "actions/common/action_test_support.h"
#include "tests/support/skip.h"

using namespace kiln::action_test;
using kiln::test::read_file;

TEST_CASE("MoveFile: renames, creating the destination's parents") {
  TempDir dir;
  std::string source = make_file(dir.file("a.txt"), "a", 0640);
  auto run = run_step(dir, "MoveFile", {{{"source", source}, {"destination", dir.file("x/y/b.txt")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK_FALSE(exists(source));
  CHECK(read_file(dir.file("x/y/b.txt")) == "a");
  CHECK(mode_of(dir.file("x/y/b.txt")) == 0640);
}

TEST_CASE("MoveFile: a trailing separator keeps the name; a wildcard moves every match; a symlink moves as a link") {
  TempDir dir;
  make_file(dir.file("src/1.rpm"), "1");
  make_file(dir.file("src/2.rpm"), "2");
  make_file(dir.file("src/keep.txt"), "k");
  std::filesystem::create_symlink("keep.txt", dir.file("src/link.rpm"));
  auto run = run_step(dir, "MoveFile", {{{"source", dir.file("src/*.rpm")}, {"destination", dir.file("dst/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("dst/1.rpm")) == "1");
  CHECK(read_file(dir.file("dst/2.rpm")) == "2");
  CHECK(is_symlink(dir.file("dst/link.rpm")));
  CHECK(link_target(dir.file("dst/link.rpm")) == "keep.txt");
  CHECK_FALSE(exists(dir.file("src/1.rpm")));
  CHECK(exists(dir.file("src/keep.txt")));
}

TEST_CASE("MoveFile: overwrite false refuses an existing target and keeps both files") {
  TempDir dir;
  std::string source = make_file(dir.file("new.txt"), "new");
  std::string target = make_file(dir.file("old.txt"), "old");
  auto refused = run_step(dir, "MoveFile", {{{"source", source}, {"destination", target}, {"overwrite", false}}});
  CHECK(failed_with(refused, {target + " already exists and overwrite is false"}));
  CHECK(read_file(source) == "new");
  CHECK(read_file(target) == "old");
  auto replaced = run_step(dir, "MoveFile", {{{"source", source}, {"destination", target}}});
  CHECK(succeeded(replaced));
  CHECK(read_file(target) == "new");
  CHECK_FALSE(exists(source));
}

TEST_CASE("MoveFile: across filesystems (EXDEV) it copies content, mode and times, then deletes the source" *
          KILN_SKIP_UNLESS(OtherFilesystem::available(), "no second filesystem: not root, and /dev/shm is not one")) {
  OtherFilesystem filesystem;
  const std::string& other = filesystem.path();
  TempDir dir;
  std::string source = make_file(other + "/payload.bin", std::string(300000, 'z'), 0751);
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ::utimensat(AT_FDCWD, source.c_str(), times, 0);
  std::filesystem::create_symlink("payload.bin", other + "/payload.link");
  auto run = run_step(dir, "MoveFile",
                      {{{"source", source}, {"destination", dir.file("in/")}},
                       {{"source", other + "/payload.link"}, {"destination", dir.file("in/")}}});
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("in/payload.bin")) == std::string(300000, 'z'));
  CHECK(mode_of(dir.file("in/payload.bin")) == 0751);
  struct stat st;
  REQUIRE(::stat(dir.file("in/payload.bin").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 1000000000);
  CHECK(link_target(dir.file("in/payload.link")) == "payload.bin");
  CHECK_FALSE(exists(source));
  CHECK_FALSE(exists(other + "/payload.link"));
}

TEST_CASE("MoveFile: errors: a missing source, a folder source, a folder at the target") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder"));
  std::string source = make_file(dir.file("f.txt"), "f");
  auto missing = run_step(dir, "MoveFile", {{{"source", dir.file("nope")}, {"destination", dir.file("x")}}});
  CHECK(failed_with(missing, {"item 0 (" + dir.file("nope") + "): " + dir.file("nope") + " does not exist"}));
  auto folder = run_step(dir, "MoveFile", {{{"source", dir.file("folder")}, {"destination", dir.file("x")}}});
  CHECK(failed_with(folder, {"is a folder (MoveFolder moves folders)"}));
  auto onto_folder = run_step(dir, "MoveFile", {{{"source", source}, {"destination", dir.file("folder")}}});
  CHECK(failed_with(onto_folder, {"is a folder; end the destination with /"}));
  CHECK(exists(source));
  auto nothing = run_step(dir, "MoveFile", {{{"source", dir.file("*.none")}, {"destination", dir.file("x/")}}});
  CHECK(failed_with(nothing, {"no file matches"}));
}
