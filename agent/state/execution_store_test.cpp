// ExecutionStore: one call opens or resumes an execution, and the lock lives exactly as
// long as the OpenExecution it returns (defect C: the lock's descriptor leaked on early
// returns, so a later open of the same execution in the same process found it busy).
#include "agent/state/execution_store.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "tests/support/test_support.h"

namespace {

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

kiln::RunIdentity identity_with(const std::string& document) {
  kiln::RunIdentity identity;
  identity.args.documents = {document};
  identity.documents = {{document, "0123"}};
  return identity;
}

}  // namespace

TEST_CASE("execution store: a refused open releases the lock; the lock is held while the execution is open") {
  kiln::test::TempDir dir;
  kiln::ExecutionStore store;
  std::string note;
  REQUIRE(store.open(dir.file("state"), true, note).empty());
  kiln::RunIdentity first = identity_with("/a.yml"), other = identity_with("/b.yml");
  size_t before = open_descriptors();
  {
    kiln::OpenResult opened = store.open_execution("e1", first);
    REQUIRE(opened.kind == kiln::OpenResult::Kind::Opened);
    kiln::RunHeader header;
    header.execution_id = "e1";
    header.identity = first;
    REQUIRE(opened.execution->journal().append(kiln::to_json(header)).empty());
    // While it is open, a second open of the same execution is busy.
    CHECK(store.open_execution("e1", first).kind == kiln::OpenResult::Kind::Busy);
  }
  CHECK(open_descriptors() == before);
  // Different arguments: refused, and nothing stays locked or open.
  kiln::OpenResult changed = store.open_execution("e1", other);
  CHECK(changed.kind == kiln::OpenResult::Kind::IdentityChanged);
  CHECK(changed.message.find("/b.yml") != std::string::npos);
  changed = {};
  CHECK(open_descriptors() == before);
  kiln::OpenResult again = store.open_execution("e1", first);
  REQUIRE(again.kind == kiln::OpenResult::Kind::Opened);
  CHECK(again.execution->resume() != nullptr);  // its header is there: this resumes it
}

TEST_CASE("execution store: a finished execution gives its result to the same run, and starts afresh for another") {
  kiln::test::TempDir dir;
  kiln::ExecutionStore store;
  std::string note;
  REQUIRE(store.open(dir.file("state"), true, note).empty());
  kiln::RunIdentity first = identity_with("/a.yml");
  {
    kiln::OpenResult opened = store.open_execution("done", first);
    REQUIRE(opened.kind == kiln::OpenResult::Kind::Opened);
    kiln::RunHeader header;
    header.execution_id = "done";
    header.identity = first;
    REQUIRE(opened.execution->journal().append(kiln::to_json(header)).empty());
    REQUIRE(opened.execution->journal().append(kiln::to_json(kiln::RunFinishedRecord{{{"status", "failed"}}, 1})).empty());
  }
  kiln::OpenResult replay = store.open_execution("done", first);
  CHECK(replay.kind == kiln::OpenResult::Kind::AlreadyFinished);
  CHECK(replay.finished.exit_code == 1);
  kiln::OpenResult fresh = store.open_execution("done", identity_with("/b.yml"));
  REQUIRE(fresh.kind == kiln::OpenResult::Kind::Opened);
  CHECK(fresh.execution->resume() == nullptr);
}

TEST_CASE("journal records: every kind survives its JSON form") {
  std::vector<kiln::JournalRecord> records = {
      kiln::StepStartedRecord{"d0/p0/s0", 2},
      kiln::ConditionRecord{"k", true, kiln::Branch::Skip, "detail", false},
      kiln::IterationRecord{"k", 1, 3, {{"a", 1}}, {{"b", 2}}, nullptr},
      kiln::ChildRecord{"k#0>", "child-id"},
      kiln::StepFinishedRecord{"k", {{"status", "success"}}, true},
      kiln::RebootRecord{"k", "Step", "why", kiln::ResumeAt::NextStep, 0, "t", "boot"},
      kiln::StepInterruptedRecord{"k"},
      kiln::RunFinishedRecord{{{"status", "success"}}, 0},
  };
  for (const auto& record : records) {
    nlohmann::json json = kiln::to_json(record);
    auto back = kiln::record_from_json(json);
    REQUIRE(back.has_value());
    CHECK(back->index() == record.index());
    CHECK(kiln::to_json(*back) == json);
  }
  CHECK_FALSE(kiln::record_from_json({{"type", "fromTheFuture"}}).has_value());
}

TEST_CASE("journal records: the header keeps where logs go, so `kiln resume` sends them there too") {
  kiln::RunHeader header;
  header.execution_id = "e";
  header.log_destinations = {"bucket", "prefix/x", "111122223333", "group", "stream", "eu-west-3", true};
  header.document_s3_bucket_owner = "444455556666";
  auto back = kiln::record_from_json(kiln::to_json(kiln::JournalRecord(header)));
  REQUIRE(back.has_value());
  const auto& h = std::get<kiln::RunHeader>(*back);
  CHECK(h.log_destinations.s3_bucket == "bucket");
  CHECK(h.log_destinations.s3_key_prefix == "prefix/x");
  CHECK(h.log_destinations.s3_bucket_owner == "111122223333");
  CHECK(h.log_destinations.cw_log_group == "group");
  CHECK(h.log_destinations.cw_log_stream == "stream");
  CHECK(h.log_destinations.cw_log_region == "eu-west-3");
  CHECK(h.log_destinations.cw_ignore_failures);
  CHECK(h.document_s3_bucket_owner == "444455556666");
  // A header written before these fields existed reads as "nowhere else".
  auto old = kiln::record_from_json({{"type", "header"}, {"executionId", "old"}});
  REQUIRE(old.has_value());
  CHECK_FALSE(std::get<kiln::RunHeader>(*old).log_destinations.uploads_to_s3());
  CHECK_FALSE(std::get<kiln::RunHeader>(*old).log_destinations.streams_to_cloudwatch());
}
