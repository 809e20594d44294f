// When a finished execution's journal is compacted (agent/engine/engine.cpp, end of
// run_documents): only when it is large and compaction would drop a good part of it. A
// journal that is mostly one large step output is left alone, so the end of such a run
// does not read megabytes back (row 4b of docs/BENCHMARKS.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "agent/state/run_journal.h"
#include "agent/state/run_state.h"
#include "tests/support/test_support.h"

namespace {

struct JournalLook {
  size_t bytes = 0;
  std::multiset<std::string> types;
  bool finished_step = false;
};

JournalLook run_and_look(const kiln::test::TempDir& dir, const std::string& name, const std::string& yaml) {
  std::string doc = dir.write(name + ".yml", yaml);
  std::string state = dir.file(name + "-state");
  auto result = kiln::test::run_kiln(
      {"run", "-d", doc, "-l", dir.file(name + "-logs"), "-s", state, "-i", name});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  std::string folder = state + "/" + name;
  JournalLook look;
  look.bytes = std::filesystem::file_size(folder + "/journal");
  kiln::RunJournal journal;
  REQUIRE(journal.open(folder).empty());
  for (const auto& r : journal.records()) look.types.insert(r.value("type", ""));
  kiln::RunState replayed = kiln::RunState::replay(journal.records());
  auto step = replayed.steps.find("d0/p0/s0");
  look.finished_step = step != replayed.steps.end() && step->second.finished;
  return look;
}

}  // namespace

TEST_CASE("journal compaction: a large journal of loop iterations is compacted at the end") {
  kiln::test::TempDir dir;
  // 400 iterations of ~4 KiB each: the iteration records are about half the journal.
  JournalLook look = run_and_look(dir, "loop",
                                  "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                                  "      - name: Many\n        action: ExecuteBash\n"
                                  "        loop:\n          for: {start: 1, end: 400, updateBy: 1}\n"
                                  "        inputs:\n          commands:\n            - head -c 4000 /dev/zero | tr '\\0' x\n");
  CHECK(look.types.count("iteration") == 0);
  CHECK(look.types.count("stepStarted") == 0);
  CHECK(look.types.count("stepFinished") == 1);
  CHECK(look.types.count("runFinished") == 1);
  CHECK(look.finished_step);
  CHECK(look.bytes > (1u << 20));  // the step's merged stdout (1.6 MB) is kept
}

TEST_CASE("journal compaction: a journal that is mostly one large output is left as it is") {
  kiln::test::TempDir dir;
  JournalLook look = run_and_look(dir, "big",
                                  "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                                  "      - name: Big\n        action: ExecuteBash\n"
                                  "        inputs:\n          commands:\n            - head -c 3000000 /dev/zero | tr '\\0' y\n");
  CHECK(look.bytes > (2u << 20));
  CHECK(look.types.count("stepStarted") == 1);  // not compacted: nothing worth dropping
  CHECK(look.types.count("stepFinished") == 1);
  CHECK(look.finished_step);
}
