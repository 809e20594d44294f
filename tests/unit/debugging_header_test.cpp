// The debugging selection in the journal header: it round-trips, it is absent from the
// JSON of a run without it (so that run's identity digest is what it was before), and a
// change of it is described to the user.
#include <doctest/doctest.h>

#include "agent/state/records.h"

TEST_CASE("journal header: --steps, --start-at and --outputs-from round-trip and are part of the identity") {
  kiln::RunHeader header;
  header.execution_id = "e";
  header.identity.args.documents = {"/d.yml"};
  nlohmann::json plain = kiln::to_json(kiln::JournalRecord{header});
  CHECK_FALSE(plain["identity"]["args"].contains("steps"));
  CHECK_FALSE(plain["identity"]["args"].contains("startAt"));
  CHECK_FALSE(plain["identity"]["args"].contains("outputsFrom"));

  kiln::RunHeader selected = header;
  selected.identity.args.steps = {"build.A", "B"};
  selected.identity.args.start_at = "";
  selected.identity.args.outputs_from = "earlier";
  auto back = kiln::record_from_json(kiln::to_json(kiln::JournalRecord{selected}));
  REQUIRE(back);
  const auto& args = std::get<kiln::RunHeader>(*back).identity.args;
  CHECK(args.steps == std::vector<std::string>{"build.A", "B"});
  CHECK(args.outputs_from == "earlier");
  CHECK(args == selected.identity.args);
  CHECK_FALSE(header.identity == selected.identity);
  CHECK(selected.identity.describe_change_to(header.identity).find("steps was [\"build.A\",\"B\"], now unset") !=
        std::string::npos);
  CHECK(header.identity.describe_change_to(selected.identity).find("outputsFrom was unset, now \"earlier\"") !=
        std::string::npos);
}
