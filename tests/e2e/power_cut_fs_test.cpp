// The power_cut_fs test tool (tests/tools/power_cut_fs): a FUSE filesystem that forgets
// what was not made durable. These cases check its contract from the filesystem itself,
// with plain POSIX calls: what a power cut keeps (fsynced data, entries of synced folders)
// and drops (everything else), O_APPEND, `arm N PGID`, `fail-fsync`, unmount + mount
// again, and the trace. Every case mounts a fresh one on a scratch folder and unmounts it
// (RAII: nothing stays mounted when a check fails).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/power_cut_fs.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"


namespace {

using kiln::test::listed_in_mounts;
using kiln::test::PowerCutFs;
using kiln::test::put;
using kiln::test::slurp;
using kiln::test::sync_path;
using kiln::test::TempDir;

// Writes `content` and makes it durable (data, then the folder's entry).
void put_durable(const std::string& path, const std::string& content) {
  REQUIRE(put(path, content) == 0);
  REQUIRE(sync_path(path) == 0);
  REQUIRE(sync_path(std::filesystem::path(path).parent_path().string()) == 0);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("power_cut_fs: mounted as fuse.power_cut_fs, the control file is hidden, status and bad commands" *
          KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  CHECK(fs.status() == "ops=0 cuts=0 state=on\n");
  CHECK(exists(fs.path(".power_cut_fs")));
  CHECK(std::filesystem::is_empty(fs.path("")));
  CHECK(fs.command("explode") == EINVAL);
  CHECK(fs.command("arm") == EINVAL);
  CHECK(fs.command("arm 0") == EINVAL);
  CHECK(fs.command("arm x") == EINVAL);
  CHECK(fs.command("cut now") == EINVAL);
  CHECK(fs.command("arm 3 " + std::to_string(::getpgrp())) == EINVAL);  // the filesystem's own group
  CHECK(fs.status() == "ops=0 cuts=0 state=on\n");
  CHECK(fs.unmount() == 0);
  CHECK_FALSE(listed_in_mounts(fs.path("")));
}

TEST_CASE("power_cut_fs: a cut drops unsynced writes and keeps fsynced data" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  put_durable(fs.path("kept"), "durable");
  REQUIRE(put(fs.path("kept"), "volatile") == 0);  // O_TRUNC + write, never fsynced
  CHECK(slurp(fs.path("kept")) == "volatile");
  put_durable(fs.path("appended"), "one\n");
  REQUIRE(put(fs.path("appended"), "two\n", O_WRONLY | O_APPEND) == 0);
  REQUIRE(sync_path(fs.path("appended"), true) == 0);  // fdatasync makes data durable too
  REQUIRE(put(fs.path("appended"), "three\n", O_WRONLY | O_APPEND) == 0);
  REQUIRE(::truncate(fs.path("kept").c_str(), 3) == 0);
  int old_fd = ::open(fs.path("kept").c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(old_fd >= 0);

  fs.cut();
  CHECK(fs.status() == "ops=14 cuts=1 state=off\n");
  errno = 0;
  CHECK_FALSE(slurp(fs.path("kept")));
  CHECK(errno == EIO);
  CHECK(put(fs.path("new"), "x") == EIO);
  fs.power_on();
  CHECK(fs.status() == "ops=14 cuts=1 state=on\n");
  CHECK(slurp(fs.path("kept")) == "durable");
  CHECK(slurp(fs.path("appended")) == "one\ntwo\n");
  // A handle opened before the cut is dead.
  CHECK(::write(old_fd, "x", 1) == -1);
  CHECK(errno == EIO);
  ::close(old_fd);
  // BACKING holds the durable state.
  CHECK(kiln::test::read_file(fs.backing("kept")) == "durable");
}

TEST_CASE("power_cut_fs: entries are durable only when their folder is synced" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  REQUIRE(::mkdir(fs.path("d").c_str(), 0755) == 0);
  REQUIRE(sync_path(fs.path("")) == 0);
  // The folder synced, the data never: an empty file.
  REQUIRE(put(fs.path("d/empty"), "data") == 0);
  // Both.
  REQUIRE(put(fs.path("d/both"), "data") == 0);
  REQUIRE(sync_path(fs.path("d/both")) == 0);
  REQUIRE(sync_path(fs.path("d")) == 0);
  REQUIRE(put(fs.path("d/after"), "data") == 0);  // after the folder sync
  REQUIRE(sync_path(fs.path("d/after")) == 0);
  // Each folder's entries are its own: inner synced with sub, deeper not; empty is empty.
  REQUIRE(::mkdir(fs.path("d/sub").c_str(), 0755) == 0);
  put_durable(fs.path("d/sub/inner"), "x");
  REQUIRE(::mkdir(fs.path("d/sub/deeper").c_str(), 0755) == 0);
  REQUIRE(::mkdir(fs.path("d/empty_dir").c_str(), 0755) == 0);
  REQUIRE(put(fs.path("d/empty_dir/x"), "x") == 0);
  REQUIRE(sync_path(fs.path("d")) == 0);
  REQUIRE(put(fs.path("d/late"), "x") == 0);
  // fsync of the file does not make its entry durable.
  REQUIRE(put(fs.path("d/unlisted"), "data") == 0);
  REQUIRE(sync_path(fs.path("d/unlisted")) == 0);
  REQUIRE(::mkdir(fs.path("lost").c_str(), 0755) == 0);

  fs.cut_and_power_on();
  CHECK_FALSE(exists(fs.path("d/unlisted")));
  CHECK(slurp(fs.path("d/empty")) == "");
  CHECK(slurp(fs.path("d/both")) == "data");
  CHECK(slurp(fs.path("d/after")) == "data");  // its entry became durable with the second sync
  CHECK(slurp(fs.path("d/sub/inner")) == "x");
  CHECK_FALSE(exists(fs.path("d/sub/deeper")));
  CHECK(std::filesystem::is_directory(fs.path("d/empty_dir")));
  CHECK_FALSE(exists(fs.path("d/empty_dir/x")));
  CHECK_FALSE(exists(fs.path("d/late")));
  CHECK_FALSE(exists(fs.path("lost")));
  CHECK_FALSE(exists(fs.backing("lost")));
  CHECK(kiln::test::read_file(fs.backing("d/both")) == "data");
}

TEST_CASE("power_cut_fs: rename over an old file, with and without the folder sync" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  put_durable(fs.path("state"), "old");
  REQUIRE(put(fs.path("state.tmp"), "new") == 0);
  REQUIRE(sync_path(fs.path("state.tmp")) == 0);
  REQUIRE(::rename(fs.path("state.tmp").c_str(), fs.path("state").c_str()) == 0);
  CHECK(slurp(fs.path("state")) == "new");
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("state")) == "old");
  CHECK_FALSE(exists(fs.path("state.tmp")));

  REQUIRE(put(fs.path("state.tmp"), "new") == 0);
  REQUIRE(sync_path(fs.path("state.tmp")) == 0);
  REQUIRE(::rename(fs.path("state.tmp").c_str(), fs.path("state").c_str()) == 0);
  REQUIRE(sync_path(fs.path("")) == 0);
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("state")) == "new");
  CHECK_FALSE(exists(fs.path("state.tmp")));

  // RENAME_EXCHANGE swaps; undone without the folder sync.
  put_durable(fs.path("other"), "other");
  REQUIRE(::renameat2(AT_FDCWD, fs.path("state").c_str(), AT_FDCWD, fs.path("other").c_str(), RENAME_EXCHANGE) == 0);
  CHECK(slurp(fs.path("state")) == "other");
  CHECK(slurp(fs.path("other")) == "new");
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("state")) == "new");
  CHECK(slurp(fs.path("other")) == "other");
  CHECK(::renameat2(AT_FDCWD, fs.path("state").c_str(), AT_FDCWD, fs.path("other").c_str(), RENAME_NOREPLACE) == -1);
  CHECK(errno == EEXIST);

  // Across folders each side belongs to its folder: only the target synced, the file
  // shows at both names.
  REQUIRE(::mkdir(fs.path("a").c_str(), 0755) == 0);
  REQUIRE(::mkdir(fs.path("b").c_str(), 0755) == 0);
  REQUIRE(sync_path(fs.path("")) == 0);
  put_durable(fs.path("a/f"), "moved");
  REQUIRE(::rename(fs.path("a/f").c_str(), fs.path("b/f").c_str()) == 0);
  REQUIRE(sync_path(fs.path("b")) == 0);
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("a/f")) == "moved");
  CHECK(slurp(fs.path("b/f")) == "moved");
  CHECK(put(fs.path("b/f"), "changed") == 0);  // two files now, not one
  CHECK(slurp(fs.path("a/f")) == "moved");
}

TEST_CASE("power_cut_fs: unlink, rmdir and mkdir are undone without the folder sync" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  put_durable(fs.path("victim"), "still here");
  REQUIRE(::mkdir(fs.path("dir").c_str(), 0755) == 0);
  REQUIRE(sync_path(fs.path("")) == 0);
  REQUIRE(::unlink(fs.path("victim").c_str()) == 0);
  REQUIRE(::rmdir(fs.path("dir").c_str()) == 0);
  REQUIRE(::mkdir(fs.path("newdir").c_str(), 0755) == 0);
  CHECK_FALSE(exists(fs.path("victim")));
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("victim")) == "still here");
  CHECK(std::filesystem::is_directory(fs.path("dir")));
  CHECK_FALSE(exists(fs.path("newdir")));

  REQUIRE(::unlink(fs.path("victim").c_str()) == 0);
  REQUIRE(sync_path(fs.path("")) == 0);
  fs.cut_and_power_on();
  CHECK_FALSE(exists(fs.path("victim")));
  CHECK_FALSE(exists(fs.backing("victim")));
  // No hard links.
  put_durable(fs.path("one"), "1");
  CHECK(::link(fs.path("one").c_str(), fs.path("two").c_str()) == -1);
  CHECK((errno == EPERM || errno == ENOTSUP));
}

TEST_CASE("power_cut_fs: O_APPEND writes land at the end" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  put_durable(fs.path("journal"), "ab");
  int first = ::open(fs.path("journal").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  int second = ::open(fs.path("journal").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  REQUIRE(first >= 0);
  REQUIRE(second >= 0);
  CHECK(::write(first, "1", 1) == 1);
  CHECK(::write(second, "22", 2) == 2);
  CHECK(::write(first, "333", 3) == 3);
  CHECK(slurp(fs.path("journal")) == "ab122333");
  CHECK(::ftruncate(second, 1) == 0);
  CHECK(::write(first, "4", 1) == 1);
  CHECK(slurp(fs.path("journal")) == "a4");
  struct stat st {};
  CHECK(::fstat(first, &st) == 0);
  CHECK(st.st_size == 2);
  CHECK(::fsync(first) == 0);
  CHECK(::write(second, "5", 1) == 1);
  ::close(first);
  ::close(second);
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("journal")) == "a4");
}

TEST_CASE("power_cut_fs: arm N PGID cuts just before operation N and kills the group" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  put_durable(fs.path("loop"), "");
  int go[2];
  REQUIRE(::pipe(go) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setpgid(0, 0);
    ::close(go[1]);
    int fd = ::open(fs.path("loop").c_str(), O_WRONLY);
    char byte;
    if (fd < 0 || ::read(go[0], &byte, 1) != 1) ::_exit(3);
    for (int i = 0; i < 100; ++i) {  // write, fsync, write, fsync, ...
      if (::write(fd, "x", 1) != 1 || ::fsync(fd) != 0) ::_exit(4);
    }
    ::_exit(5);
  }
  ::setpgid(child, child);
  ::close(go[0]);
  // Operations after arm: 1 write, 2 fsync, 3 write, 4 fsync, 5 write, 6 fsync, 7 write (cut).
  CHECK(fs.command("arm 7 " + std::to_string(child)) == 0);
  CHECK(fs.status() == "ops=0 cuts=0 state=on\n");
  REQUIRE(::write(go[1], "g", 1) == 1);
  ::close(go[1]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(fs.status() == "ops=7 cuts=1 state=off\n");
  // Off: everything but the control file fails with EIO.
  struct stat st {};
  errno = 0;
  CHECK(::stat(fs.path("loop").c_str(), &st) == -1);
  CHECK(errno == EIO);
  CHECK(::mkdir(fs.path("nope").c_str(), 0755) == -1);
  CHECK(errno == EIO);
  CHECK(fs.status() == "ops=7 cuts=1 state=off\n");  // not counted either
  fs.power_on();
  CHECK(slurp(fs.path("loop")) == "xxx");
  CHECK(kiln::test::read_file(fs.backing("loop")) == "xxx");

  // Without a PGID: the N-th operation itself fails and is not performed.
  CHECK(fs.command("arm 2") == 0);
  CHECK(::mkdir(fs.path("first").c_str(), 0755) == 0);
  CHECK(::mkdir(fs.path("second").c_str(), 0755) == -1);
  CHECK(errno == EIO);
  CHECK(fs.status() == "ops=2 cuts=2 state=off\n");
  fs.power_on();
  CHECK_FALSE(exists(fs.path("first")));  // never synced
  CHECK_FALSE(exists(fs.path("second")));
}

TEST_CASE("power_cut_fs: fail-fsync returns EIO once and drops the unsynced data" * KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  put_durable(fs.path("db"), "synced");
  int fd = ::open(fs.path("db").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(::write(fd, "+lost", 5) == 5);
  CHECK(fs.command("fail-fsync") == 0);
  CHECK(sync_path(fs.path("")) == 0);  // a folder's fsync is not the one that fails
  CHECK(::fsync(fd) == -1);
  CHECK(errno == EIO);
  CHECK(slurp(fs.path("db")) == "synced");
  CHECK(::fsync(fd) == 0);  // the retry succeeds, without the data
  CHECK(slurp(fs.path("db")) == "synced");
  CHECK(::write(fd, "+kept", 5) == 5);
  CHECK(::fdatasync(fd) == 0);
  ::close(fd);
  fs.cut_and_power_on();
  CHECK(slurp(fs.path("db")) == "synced+kept");
}

TEST_CASE("power_cut_fs: a clean unmount keeps everything, a cut leaves the durable state in BACKING" *
          KILN_NEEDS_FUSE) {
  PowerCutFs fs;
  REQUIRE(::mkdir(fs.path("dir").c_str(), 0755) == 0);
  REQUIRE(put(fs.path("dir/file"), "never synced") == 0);
  REQUIRE(::symlink("dir/file", fs.path("link").c_str()) == 0);
  REQUIRE(::chmod(fs.path("dir/file").c_str(), 0600) == 0);
  CHECK(fs.unmount() == 0);
  CHECK_FALSE(listed_in_mounts(fs.path("")));
  CHECK(kiln::test::read_file(fs.backing("dir/file")) == "never synced");
  fs.mount();
  CHECK(slurp(fs.path("dir/file")) == "never synced");
  CHECK(slurp(fs.path("link")) == "never synced");
  struct stat st {};
  CHECK(::stat(fs.path("dir/file").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(fs.status() == "ops=0 cuts=0 state=on\n");

  // Everything mounted is durable; now change it without syncing, cut, unmount.
  REQUIRE(put(fs.path("dir/file"), "volatile") == 0);
  REQUIRE(::unlink(fs.path("link").c_str()) == 0);
  put_durable(fs.path("dir/new"), "synced");
  REQUIRE(put(fs.path("volatile"), "x") == 0);
  fs.cut();
  CHECK(kiln::test::read_file(fs.backing("dir/file")) == "never synced");
  CHECK(kiln::test::read_file(fs.backing("dir/new")) == "synced");
  CHECK(std::filesystem::is_symlink(fs.backing("link")));
  CHECK_FALSE(exists(fs.backing("volatile")));
  CHECK(fs.unmount() == 0);
  fs.mount();
  CHECK(slurp(fs.path("dir/file")) == "never synced");
  CHECK(slurp(fs.path("dir/new")) == "synced");
  CHECK(slurp(fs.path("link")) == "never synced");
  CHECK_FALSE(exists(fs.path("volatile")));

  // SIGTERM unmounts cleanly too.
  REQUIRE(put(fs.path("at_sigterm"), "kept") == 0);
  CHECK(fs.terminate() == 0);
  CHECK_FALSE(listed_in_mounts(fs.path("")));
  CHECK(kiln::test::read_file(fs.backing("at_sigterm")) == "kept");
}

TEST_CASE("power_cut_fs: the trace lists counted operations, restarting at 1 on arm" * KILN_NEEDS_FUSE) {
  PowerCutFs fs(true);
  REQUIRE(put(fs.path("a"), "data") == 0);  // create, write
  REQUIRE(slurp(fs.path("a")) == "data");   // not counted
  REQUIRE(::chmod(fs.path("a").c_str(), 0600) == 0);
  REQUIRE(sync_path(fs.path("a")) == 0);
  REQUIRE(sync_path(fs.path("a"), true) == 0);
  REQUIRE(::mkdir(fs.path("d").c_str(), 0755) == 0);
  REQUIRE(::rename(fs.path("a").c_str(), fs.path("d/b").c_str()) == 0);
  REQUIRE(sync_path(fs.path("d")) == 0);
  REQUIRE(::truncate(fs.path("d/b").c_str(), 1) == 0);
  REQUIRE(put(fs.path("d/b"), "") == 0);  // O_TRUNC open
  REQUIRE(::unlink(fs.path("d/b").c_str()) == 0);
  REQUIRE(::rmdir(fs.path("d").c_str()) == 0);
  CHECK(fs.status() == "ops=11 cuts=0 state=on\n");
  CHECK(fs.command("arm 100") == 0);
  REQUIRE(::mkdir(fs.path("e").c_str(), 0755) == 0);
  CHECK(fs.status() == "ops=1 cuts=0 state=on\n");
  CHECK(kiln::test::read_file(fs.trace_file()) ==
        "1 create /a\n"
        "2 write /a\n"
        "3 fsync /a\n"
        "4 fdatasync /a\n"
        "5 mkdir /d\n"
        "6 rename /a /d/b\n"
        "7 fsyncdir /d\n"
        "8 truncate /d/b\n"
        "9 truncate /d/b\n"
        "10 unlink /d/b\n"
        "11 rmdir /d\n"
        "1 mkdir /e\n");
}
