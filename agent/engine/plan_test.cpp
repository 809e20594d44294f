// The run plan without running anything: which steps --phases/--steps/--start-at leave
// out, the chained references into them, and borrowing from an earlier execution's state.
#include "agent/engine/plan.h"

#include <doctest/doctest.h>

#include "agent/base/text.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/engine/rerun.h"

namespace {

using kiln::StepChoice;

kiln::Document parse(const std::string& path, const std::string& yaml) {
  kiln::LoadedDocument loaded;
  kiln::Diagnostics diagnostics;
  REQUIRE(kiln::load_yaml_text(path, yaml, loaded, diagnostics));
  kiln::Document doc;
  REQUIRE_FALSE(kiln::has_errors(kiln::validate_document(std::move(loaded), {}, doc)));
  return doc;
}

const char* kDoc = R"(schemaVersion: 1.0
phases:
  - name: build
    steps:
      - {name: Make, action: ExecuteBash, inputs: {commands: ["echo made"]}}
      - {name: Use, action: ExecuteBash, inputs: {commands: ["echo {{ build.Make.outputs.stdout }}"]}}
  - name: test
    steps:
      - {name: Make, action: ExecuteBash, inputs: {commands: ["echo again"]}}
)";

}  // namespace

TEST_CASE("plan: --steps by NAME or PHASE.NAME; --start-at in document order; --phases first") {
  kiln::Document doc = parse("a.yml", kDoc);
  std::vector<const kiln::Document*> docs = {&doc};
  kiln::RunPlan plan;
  CHECK(kiln::plan_run(docs, {}, {{"Use"}, "", ""}, plan).empty());
  CHECK(plan.choice(0, 0, 0) == StepChoice::NotInSteps);
  CHECK(plan.choice(0, 0, 1) == StepChoice::Run);
  CHECK(plan.steps_to_run() == 1);
  CHECK(plan.steps_left_out() == 2);
  CHECK(kiln::plan_run(docs, {"build"}, {{}, "build.Use", ""}, plan).empty());
  CHECK(plan.choice(0, 0, 0) == StepChoice::BeforeStart);
  CHECK(plan.choice(0, 0, 1) == StepChoice::Run);
  CHECK(plan.choice(0, 1, 0) == StepChoice::PhaseLeftOut);
  CHECK(kiln::plan_run(docs, {}, {{"Make"}, "", ""}, plan).find("ambiguous: it names build.Make and test.Make") !=
        std::string::npos);
  CHECK(kiln::plan_run(docs, {}, {{"test.Make"}, "", ""}, plan).empty());
  CHECK(plan.runs(0, 1, 0));
  CHECK_FALSE(plan.runs(0, 0, 0));
}

TEST_CASE("plan: a chained reference into a step left out, located, and borrowed from an earlier journal") {
  kiln::Document doc = parse("a.yml", kDoc);
  std::vector<const kiln::Document*> docs = {&doc};
  kiln::RunPlan plan;
  REQUIRE(kiln::plan_run(docs, {}, {{"build.Use"}, "", "earlier"}, plan).empty());
  auto references = kiln::references_to_steps_not_run(docs, plan);
  REQUIRE(references.size() == 1);
  CHECK(references[0].where.line == 6);
  CHECK(references[0].where.column == 68);
  CHECK(references[0].target == StepChoice::NotInSteps);
  CHECK(references[0].key == "stdout");

  kiln::RunState earlier;
  earlier.header = kiln::RunHeader{};
  earlier.header->identity.args.documents = {"/abs/a.yml"};
  kiln::StepState made;
  made.finished = true;
  made.ran = true;
  made.record = {{"name", "Make"}, {"status", "success"}, {"inputs", "[]"}, {"outputs", R"([{"stdout":"made"}])"}};
  earlier.steps["d0/p0/s0"] = made;
  CHECK(kiln::borrow_outputs(docs, {"/abs/a.yml"}, earlier, "earlier", references, plan).empty());
  CHECK(plan.borrowed(0).at("build\nMake").outputs[0]["stdout"] == "made");

  kiln::RunPlan no_key;  // the step ran there, but without the output the reference reads
  REQUIRE(kiln::plan_run(docs, {}, {{"build.Use"}, "", "earlier"}, no_key).empty());
  kiln::RunState other_run = earlier;
  other_run.steps["d0/p0/s0"].record["outputs"] = R"([{"exitCode":0}])";
  auto missing = kiln::borrow_outputs(docs, {"/abs/a.yml"}, other_run, "earlier", references, no_key);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].message == "'{{ build.Make.outputs.stdout }}' cannot be taken from execution earlier: build.Make "
                              "recorded no output 'stdout' (it has exitCode)");
  CHECK(missing[0].location.line == 6);

  kiln::RunPlan other;
  REQUIRE(kiln::plan_run(docs, {}, {{"build.Use"}, "", "earlier"}, other).empty());
  auto errors = kiln::borrow_outputs(docs, {"/abs/elsewhere.yml"}, earlier, "earlier", references, other);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("it did not run /abs/elsewhere.yml") != std::string::npos);
}

TEST_CASE("rerun: shell quoting a shell reads back, --parameters escapes") {
  CHECK(kiln::shell_quote("build.Step") == "build.Step");
  CHECK(kiln::shell_quote("a b") == "'a b'");
  CHECK(kiln::shell_quote("it's") == "'it'\\''s'");
  CHECK(kiln::shell_quote("") == "''");
  kiln::RerunCommand command{"kiln", "/d/x y.yml", {"build"}, "build.S", {{"P", "a,b=c"}}, "", {}};
  CHECK(kiln::format_rerun_command(command) ==
        "kiln run --documents '/d/x y.yml' --phases build --steps build.S --parameters 'P=a\\,b\\=c'");
}
