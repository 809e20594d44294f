// The journal's own guarantees: records survive reopening, a torn last record is
// dropped (and the file repaired), a damaged record elsewhere moves the journal aside
// with a message, compaction is atomic, and replay rebuilds what resume needs.
#include "agent/state/run_journal.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "agent/state/execution_store.h"
#include "agent/state/run_state.h"
#include "tests/support/test_support.h"

using kiln::RunJournal;
using kiln::RunState;

TEST_CASE("journal: records survive reopening, in order, with checksums") {
  kiln::test::TempDir dir;
  {
    RunJournal journal;
    REQUIRE(journal.open(dir.path()).empty());
    CHECK(journal.append({{"type", "header"}, {"executionId", "x"}}).empty());
    CHECK(journal.append({{"type", "stepFinished"}, {"key", "d0/p0/s0"}}).empty());
    CHECK(journal.append({{"type", "stepStarted"}, {"key", "d0/p0/s1"}}, false).empty());
    CHECK(journal.appends() == 3);
  }
  RunJournal again;
  REQUIRE(again.open(dir.path()).empty());
  REQUIRE(again.records().size() == 3);
  CHECK(again.records()[1]["key"] == "d0/p0/s0");
  CHECK_FALSE(again.dropped_torn_record());
  std::string line = kiln::test::read_file(dir.file("journal")).substr(0, 17);
  CHECK(line.size() == 17);
  CHECK(line[16] == ' ');
}

TEST_CASE("journal: a torn last record is dropped and the file repaired") {
  kiln::test::TempDir dir;
  {
    RunJournal journal;
    REQUIRE(journal.open(dir.path()).empty());
    REQUIRE(journal.append({{"type", "header"}}).empty());
    REQUIRE(journal.append({{"type", "stepFinished"}, {"key", "a"}}).empty());
  }
  std::string whole = kiln::test::read_file(dir.file("journal"));
  // A crash in the middle of writing the third record: half a line, no newline.
  std::string third = kiln::journal_line({{"type", "stepFinished"}, {"key", "b"}});
  std::ofstream(dir.file("journal"), std::ios::app) << third.substr(0, third.size() / 2);
  RunJournal journal;
  REQUIRE(journal.open(dir.path()).empty());
  CHECK(journal.dropped_torn_record());
  CHECK(journal.records().size() == 2);
  CHECK(kiln::test::read_file(dir.file("journal")) == whole);
  // A complete last line with a wrong checksum (a torn sector) is dropped the same way.
  std::string bad = third;
  bad[20] = bad[20] == 'x' ? 'y' : 'x';
  std::ofstream(dir.file("journal"), std::ios::app) << bad;
  RunJournal journal2;
  REQUIRE(journal2.open(dir.path()).empty());
  CHECK(journal2.dropped_torn_record());
  CHECK(journal2.records().size() == 2);
  CHECK(journal2.append({{"type", "stepFinished"}, {"key", "c"}}).empty());
  std::vector<nlohmann::json> all;
  CHECK(journal2.read_all_records(all).empty());
  CHECK(all.size() == 3);
}

TEST_CASE("journal: damage before the last record moves the journal aside with a clear message") {
  kiln::test::TempDir dir;
  std::ofstream(dir.file("journal")) << kiln::journal_line({{"type", "header"}}) << "garbage that is not a record\n"
                                     << kiln::journal_line({{"type", "stepFinished"}, {"key", "a"}});
  RunJournal journal;
  std::string error = journal.open(dir.path());
  CHECK(error.find("damaged at record 2") != std::string::npos);
  CHECK(error.find("moved to") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("journal")));
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    aside += e.path().filename().string().rfind("journal.damaged-", 0) == 0;
  CHECK(aside == 1);
  std::vector<nlohmann::json> records;
  CHECK_FALSE(RunJournal::read(dir.path(), records).empty());  // nothing to read any more
}

TEST_CASE("journal: compaction replaces the file atomically and appends continue") {
  kiln::test::TempDir dir;
  RunJournal journal;
  REQUIRE(journal.open(dir.path()).empty());
  REQUIRE(journal.append({{"type", "header"}}).empty());
  for (int i = 0; i < 5; ++i) REQUIRE(journal.append({{"type", "stepStarted"}, {"key", std::to_string(i)}}, false).empty());
  REQUIRE(journal.append({{"type", "stepFinished"}, {"key", "4"}}).empty());
  std::vector<nlohmann::json> all;
  REQUIRE(journal.read_all_records(all).empty());
  CHECK(all.size() == 7);
  REQUIRE(journal.compact(RunState::compacted(all)).empty());
  REQUIRE(journal.append({{"type", "runFinished"}, {"exitCode", 0}}).empty());
  std::vector<nlohmann::json> records;
  REQUIRE(RunJournal::read(dir.path(), records).empty());
  CHECK(records.size() == 3);
  CHECK_FALSE(std::filesystem::exists(dir.file("journal.tmp")));
}

TEST_CASE("journal: replay rebuilds finished steps, if verdicts, loop progress, reboots and the end") {
  std::vector<nlohmann::json> records = {
      {{"type", "header"}, {"executionId", "e"}},
      {{"type", "stepStarted"}, {"key", "k1"}, {"attempt", 1}},
      {{"type", "stepFinished"}, {"key", "k1"}, {"record", {{"status", "success"}}}, {"trace", {{"ran", true}}}},
      {{"type", "condition"}, {"key", "k2"}, {"verdict", true}, {"branch", "Execute"}},
      {{"type", "stepStarted"}, {"key", "k2"}, {"attempt", 2}},
      {{"type", "iteration"}, {"key", "k2"}, {"attempt", 2}, {"index", 0}},
      {{"type", "iteration"}, {"key", "k2"}, {"attempt", 2}, {"index", 1}},
      {{"type", "reboot"}, {"key", "k2"}, {"attempt", 2}, {"resumeAt", "same"}},
  };
  RunState state = RunState::replay(records);
  REQUIRE(state.header.has_value());
  CHECK(state.header->execution_id == "e");
  CHECK(state.steps["k1"].finished);
  CHECK(state.steps["k2"].condition.has_value());
  CHECK(state.steps["k2"].attempt == 2);
  CHECK(state.steps["k2"].iterations.size() == 2);
  CHECK(state.awaiting_reboot);
  CHECK(state.reboots.size() == 1);
  CHECK_FALSE(state.finished);
  records.push_back({{"type", "stepStarted"}, {"key", "k2"}, {"attempt", 3}});  // a retry restarts the loop
  CHECK(RunState::replay(records).steps["k2"].iterations.empty());
  records.push_back({{"type", "runFinished"}, {"exitCode", 1}, {"summary", {{"status", "failed"}}}});
  RunState done = RunState::replay(records);
  CHECK(done.finished);
  CHECK(done.exit_code == 1);
}

TEST_CASE("state directory: a folder other users can write to is refused") {
  kiln::test::TempDir dir;
  std::string state = dir.file("state");
  kiln::ExecutionStore store;
  std::string note;
  CHECK(store.open(state, true, note).empty());
  CHECK((std::filesystem::status(state).permissions() & std::filesystem::perms::all) == std::filesystem::perms::owner_all);
  std::filesystem::permissions(state, std::filesystem::perms::others_write, std::filesystem::perm_options::add);
  CHECK(store.open(state, true, note).find("writable by other users") != std::string::npos);
  std::filesystem::create_directory_symlink(dir.path(), dir.file("link"));
  CHECK(store.open(dir.file("link"), true, note).find("symlink") != std::string::npos);
}
