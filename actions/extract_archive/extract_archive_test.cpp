// ExtractArchive end to end: archives crafted here with libarchive's write API (benign
// ones in every supported format, and malicious ones), extracted by the real kiln
// binary. Every malicious archive must be refused, naming the entry, with nothing
// written outside the destination (a sentinel folder beside it stays empty) and nothing
// extracted at all.
#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <locale.h>
#include <sys/sysmacros.h>

#include "actions/common/action_test_support.h"

using namespace kiln::action_test;
using kiln::test::read_file;

namespace {

enum class Format { Tar, TarGz, TarBz2, TarXz, TarZst, Zip };

struct Entry {
  std::string name;
  char type = 'f';       // f file, d folder, l symlink, h hard link, c character device
  std::string data;      // file content, or the link's target
  unsigned mode = 0644;
};

void write_archive(const std::string& path, const std::vector<Entry>& entries, Format format = Format::TarGz) {
  // Names are UTF-8; libarchive reads them in the thread's locale (the test runs in "C").
  locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  REQUIRE(utf8 != static_cast<locale_t>(0));
  locale_t previous = ::uselocale(utf8);
  archive* a = archive_write_new();
  switch (format) {
    case Format::TarGz: archive_write_add_filter_gzip(a); break;
    case Format::TarBz2: archive_write_add_filter_bzip2(a); break;
    case Format::TarXz: archive_write_add_filter_xz(a); break;
    case Format::TarZst: archive_write_add_filter_zstd(a); break;
    default: break;
  }
  if (format == Format::Zip) archive_write_set_format_zip(a);
  else archive_write_set_format_pax_restricted(a);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_mtime(entry, 1700000000, 0);
    archive_entry_set_perm(entry, e.mode);
    if (e.type == 'f') {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    } else if (e.type == 'd') {
      archive_entry_set_filetype(entry, AE_IFDIR);
    } else if (e.type == 'l') {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, e.data.c_str());
    } else if (e.type == 'h') {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_hardlink(entry, e.data.c_str());
    } else if (e.type == 'c') {
      archive_entry_set_filetype(entry, AE_IFCHR);
      archive_entry_set_rdev(entry, makedev(1, 3));
    }
    REQUIRE(archive_write_header(a, entry) == ARCHIVE_OK);
    if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  ::uselocale(previous);
  ::freelocale(utf8);
}

std::vector<Entry> package() {
  return {{"pkg/", 'd', "", 0755},
          {"pkg/bin/tool", 'f', "#!/bin/sh\necho tool\n", 0755},
          {"pkg/readme", 'f', "read me\n", 0644},
          {"pkg/latest", 'l', "bin/tool", 0777}};
}

nlohmann::json extract(const std::string& source, const std::string& destination) {
  return {{{"source", source}, {"destination", destination}}};
}

}  // namespace

TEST_CASE("ExtractArchive: tar, tar.gz, tar.bz2, tar.xz, tar.zst and zip extract files, folders, modes and links") {
  const std::vector<std::pair<Format, std::string>> formats = {
      {Format::Tar, "a.tar"},        {Format::TarGz, "a.tar.gz"}, {Format::TarBz2, "a.tar.bz2"},
      {Format::TarXz, "a.tar.xz"},   {Format::TarZst, "a.tar.zst"}, {Format::Zip, "a.zip"}};
  for (const auto& entry : formats) {
    const auto& format = entry.first;
    const auto& name = entry.second;
    TempDir dir;
    write_archive(dir.file(name), package(), format);
    auto run = run_step(dir, "ExtractArchive", extract(dir.file(name), dir.file("out/new")));
    INFO(name << "\n" << kiln::e2e::describe(run));
    CHECK(succeeded(run));
    CHECK(read_file(dir.file("out/new/pkg/bin/tool")) == "#!/bin/sh\necho tool\n");
    CHECK(mode_of(dir.file("out/new/pkg/bin/tool")) == 0755);
    CHECK(read_file(dir.file("out/new/pkg/readme")) == "read me\n");
    CHECK(link_target(dir.file("out/new/pkg/latest")) == "bin/tool");
  }
}

TEST_CASE("ExtractArchive: UTF-8 names extract from tar.gz and zip although kiln runs in the C locale") {
  for (Format format : {Format::TarGz, Format::Zip}) {
    TempDir dir;
    write_archive(dir.file("u"), {{"dossier/é-ü-ñ.txt", 'f', "bonjour"}}, format);
    auto run = run_step(dir, "ExtractArchive", extract(dir.file("u"), dir.file("out")));
    INFO(kiln::e2e::describe(run) << "\n" << failure_of(run));
    CHECK(succeeded(run));
    CHECK(read_file(dir.file("out/dossier/é-ü-ñ.txt")) == "bonjour");
  }
}

TEST_CASE("ExtractArchive: stripComponents drops leading components (hard links too); setuid bits are dropped") {
  TempDir dir;
  auto entries = package();
  entries.push_back({"pkg/hard", 'h', "pkg/readme"});
  entries.push_back({"pkg/bin/suid", 'f', "x", 04755});
  entries.push_back({"top-level-file", 'f', "skipped"});
  write_archive(dir.file("a.tar.gz"), entries);
  nlohmann::json inputs = extract(dir.file("a.tar.gz"), dir.file("out"));
  inputs[0]["stripComponents"] = 1;
  auto run = run_step(dir, "ExtractArchive", inputs);
  INFO(kiln::e2e::describe(run));
  CHECK(succeeded(run));
  CHECK(read_file(dir.file("out/bin/tool")) == "#!/bin/sh\necho tool\n");
  CHECK(read_file(dir.file("out/hard")) == "read me\n");
  struct stat st;
  REQUIRE(::stat(dir.file("out/hard").c_str(), &st) == 0);
  CHECK(st.st_nlink == 2);
  CHECK(mode_of(dir.file("out/bin/suid")) == 0755);
  CHECK_FALSE(exists(dir.file("out/top-level-file")));
  CHECK_FALSE(exists(dir.file("out/pkg")));
}

TEST_CASE("ExtractArchive: overwrite false refuses an existing file before extracting anything; true replaces") {
  TempDir dir;
  write_archive(dir.file("a.tar.gz"), package());
  make_file(dir.file("out/pkg/readme"), "mine");
  nlohmann::json inputs = extract(dir.file("a.tar.gz"), dir.file("out"));
  inputs[0]["overwrite"] = false;
  auto refused = run_step(dir, "ExtractArchive", inputs);
  CHECK(failed_with(refused, {"entry 'pkg/readme' would replace " + dir.file("out/pkg/readme"),
                              "overwrite is false", "nothing was extracted"}));
  CHECK(read_file(dir.file("out/pkg/readme")) == "mine");
  CHECK_FALSE(exists(dir.file("out/pkg/bin/tool")));
  auto replaced = run_step(dir, "ExtractArchive", extract(dir.file("a.tar.gz"), dir.file("out")));
  CHECK(succeeded(replaced));
  CHECK(read_file(dir.file("out/pkg/readme")) == "read me\n");
}

TEST_CASE("ExtractArchive: tar and zip: an entry that could land outside the destination is refused, nothing written") {
  struct Case {
    const char* what;
    std::vector<Entry> entries;  // after a harmless first entry
    std::string named;           // the entry the message must name
    std::string reason;
    bool tar_only = false;  // zip has no hard links nor devices
  };
  TempDir dir;
  const std::string outside = dir.file("outside");  // the sentinel: must stay empty
  // The hard links aim at this file beside the destinations: were one made, the file
  // would have two links (and extracting data through it would change it).
  const std::string victim = make_file(dir.file("victims/victim"), "victim");
  const std::vector<Case> cases = {
      {"dot-dot", {{"../outside/evil", 'f', "x"}}, "../outside/evil", "has a '..' component"},
      {"dot-dot inside a name", {{"a/../../outside/evil", 'f', "x"}}, "a/../../outside/evil", "has a '..' component"},
      {"absolute", {{outside + "/evil", 'f', "x"}}, outside + "/evil", "has an absolute path"},
      {"symlink to an absolute path", {{"lnk", 'l', outside}}, "lnk", "symbolic link to an absolute path"},
      {"symlink climbing out", {{"a/lnk", 'l', "../../outside"}}, "a/lnk", "points outside the destination"},
      {"symlink with .. after a name", {{"self", 'l', "."}, {"lnk", 'l', "self/../outside"}}, "lnk",
       "'..' after a name"},
      {"write through an earlier symlink", {{"lnk", 'l', "sub"}, {"lnk/evil", 'f', "x"}}, "lnk/evil",
       "would be written through the symbolic link 'lnk'"},
      {"write through a symlink to the root", {{"a/up", 'l', ".."}, {"a/up/evil", 'f', "x"}}, "a/up/evil",
       "would be written through the symbolic link 'a/up'"},
      {"hard link climbing out", {{"hl", 'h', "../victims/victim"}}, "hl", "is a hard link whose target", true},
      {"hard link to an absolute path", {{"hl", 'h', victim}}, "hl", "has an absolute path", true},
      {"hard link to a symlink", {{"lnk", 'l', "sub"}, {"hl", 'h', "lnk"}}, "hl", "hard link to the symbolic link",
       true},
      {"device", {{"null", 'c', ""}}, "null", "is a device, FIFO or socket", true},
  };
  int runs = 0;
  for (Format format : {Format::Tar, Format::Zip}) {
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      if (format == Format::Zip && c.tar_only) continue;
      std::vector<Entry> entries = {{"harmless.txt", 'f', "ok"}};
      entries.insert(entries.end(), c.entries.begin(), c.entries.end());
      std::string name = "evil-" + std::to_string(i) + (format == Format::Zip ? ".zip" : ".tar");
      std::string archive = dir.file(name);
      write_archive(archive, entries, format);
      std::string destination = dir.file("dest-" + name);
      std::filesystem::create_directories(outside);
      auto run = run_step(dir, "ExtractArchive", extract(archive, destination));
      ++runs;
      INFO(name << ": " << c.what << "\n" << kiln::e2e::describe(run) << "\nmessage: " << failure_of(run));
      CHECK(failed_with(run,
                        {"item 0 (" + archive + "): entry '" + c.named + "' ", c.reason, "nothing was extracted"}));
      CHECK(is_empty_folder(outside));
      CHECK_FALSE(exists(destination + "/harmless.txt"));
      struct stat st;
      REQUIRE(::stat(victim.c_str(), &st) == 0);
      CHECK(st.st_nlink == 1);
      CHECK(read_file(victim) == "victim");
    }
  }
  CHECK(runs == 20);  // 12 tar archives, 8 zip ones
}

TEST_CASE("ExtractArchive: a symlink already in the destination is never written through; one at a file's place is replaced") {
  TempDir dir;
  std::string outside = dir.file("outside");
  make_file(outside + "/config", "original");
  std::filesystem::create_directories(dir.file("dest"));
  std::filesystem::create_directory_symlink(outside, dir.file("dest/etc"));
  std::filesystem::create_symlink(outside + "/config", dir.file("dest/config"));

  write_archive(dir.file("through.tar"), {{"etc/config", 'f', "evil"}}, Format::Tar);
  auto through = run_step(dir, "ExtractArchive", extract(dir.file("through.tar"), dir.file("dest")));
  CHECK(failed_with(through, {"entry 'etc/config' would be written through the symbolic link 'etc'"}));
  CHECK(read_file(outside + "/config") == "original");

  write_archive(dir.file("replace.tar"), {{"config", 'f', "new"}}, Format::Tar);
  auto replace = run_step(dir, "ExtractArchive", extract(dir.file("replace.tar"), dir.file("dest")));
  INFO(kiln::e2e::describe(replace));
  CHECK(succeeded(replace));
  CHECK_FALSE(is_symlink(dir.file("dest/config")));
  CHECK(read_file(dir.file("dest/config")) == "new");
  CHECK(read_file(outside + "/config") == "original");
}

TEST_CASE("ExtractArchive: errors: missing source, not an archive; list items stop at the first failure") {
  TempDir dir;
  auto missing = run_step(dir, "ExtractArchive", extract(dir.file("none.tar"), dir.file("out")));
  CHECK(failed_with(missing, {dir.file("none.tar") + " does not exist"}));
  std::string junk = make_file(dir.file("junk.tar.gz"), "this is not an archive at all");
  auto not_archive = run_step(dir, "ExtractArchive", extract(junk, dir.file("out")));
  CHECK(failed_with(not_archive, {"cannot read the archive"}));

  write_archive(dir.file("good.tar.gz"), package());
  write_archive(dir.file("bad.tar"), {{"../x", 'f', "x"}}, Format::Tar);
  auto list = run_step(dir, "ExtractArchive",
                       {{{"source", dir.file("good.tar.gz")}, {"destination", dir.file("one")}},
                        {{"source", dir.file("bad.tar")}, {"destination", dir.file("two")}},
                        {{"source", dir.file("good.tar.gz")}, {"destination", dir.file("three")}}});
  CHECK(failed_with(list, {"item 1 (" + dir.file("bad.tar") + "): entry '../x' has a '..' component"}));
  CHECK(exists(dir.file("one/pkg/readme")));
  CHECK_FALSE(exists(dir.file("three")));
}

TEST_CASE("ExtractArchive: kiln validate accepts it as a kiln extension; a negative stripComponents is refused") {
  TempDir dir;
  std::string doc = dir.write("doc.yml", one_step_document("ExtractArchive", extract("/tmp/a.tar", "/tmp/out")));
  auto ok = kiln::test::run_kiln({"validate", "--documents", doc});
  CHECK(ok.exit_code == 0);
  nlohmann::json bad = extract("/tmp/a.tar", "/tmp/out");
  bad[0]["stripComponents"] = -1;
  std::string bad_doc = dir.write("bad.yml", one_step_document("ExtractArchive", bad));
  auto refused = kiln::test::run_kiln({"validate", "--documents", bad_doc});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("stripComponents") != std::string::npos);
}
