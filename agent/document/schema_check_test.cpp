// Unit tests of the friendly schema walk (agent/document/schema_check): each problem
// comes with its kind and its parts, so callers never search the message's words.
#include "agent/document/schema_check.h"

#include <doctest/doctest.h>

#include "agent/document/yaml_loader.h"

namespace kiln {
namespace {

using json = nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["name"],
  "properties": {
    "name": {"type": "string"},
    "mode": {"type": "string", "enum": ["fast", "slow"]},
    "count": {"type": "integer", "minimum": 1},
    "items": {"type": "array", "minItems": 1, "items": {"type": "string"}}
  }
})");

std::vector<SchemaProblem> problems_of(const std::string& yaml) {
  LoadedDocument doc;
  Diagnostics diagnostics;
  REQUIRE(load_yaml_text("doc.yaml", yaml, doc, diagnostics));
  static const JsonSchema compiled(kSchema);
  return check_against_schema(doc.root, kSchema, compiled, doc.source_map, "");
}

const SchemaProblem* find(const std::vector<SchemaProblem>& problems, SchemaProblemKind kind) {
  for (const auto& p : problems)
    if (p.kind == kind) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("schema check: each problem has a kind, a subject and a complaint") {
  auto problems = problems_of("mode: quick\ncount: 0\nitems: {}\ncolour: red\n");
  const SchemaProblem* missing = find(problems, SchemaProblemKind::MissingKey);
  REQUIRE(missing != nullptr);
  CHECK(missing->subject.empty());
  CHECK(missing->message() == "missing required key 'name'");
  CHECK_FALSE(missing->about_value());

  const SchemaProblem* in_enum = find(problems, SchemaProblemKind::NotInEnum);
  REQUIRE(in_enum != nullptr);
  CHECK(in_enum->pointer == "/mode");
  CHECK(in_enum->subject == "'mode'");
  CHECK(in_enum->complaint == "must be one of fast or slow, not 'quick'");
  CHECK(in_enum->message() == "'mode' must be one of fast or slow, not 'quick'");

  const SchemaProblem* minimum = find(problems, SchemaProblemKind::BelowMinimum);
  REQUIRE(minimum != nullptr);
  CHECK(minimum->message() == "'count' must be at least 1");

  const SchemaProblem* type = find(problems, SchemaProblemKind::TypeMismatch);
  REQUIRE(type != nullptr);
  CHECK(type->pointer == "/items");
  CHECK(type->complaint == "must be a list, not a map");
  CHECK(type->about_value());

  const SchemaProblem* unknown = find(problems, SchemaProblemKind::UnknownKey);
  REQUIRE(unknown != nullptr);
  CHECK(unknown->pointer == "/colour");
  CHECK(unknown->at_key);
  CHECK(unknown->message() == "unknown key 'colour'");
}

TEST_CASE("schema check: the checked value itself has an empty pointer, so a caller can name it") {
  auto problems = problems_of("[1, 2]\n");
  REQUIRE(problems.size() >= 1);
  CHECK(problems[0].kind == SchemaProblemKind::TypeMismatch);
  CHECK(problems[0].pointer.empty());
  CHECK(problems[0].complaint == "must be a map, not a list");

  auto few = problems_of("name: x\nitems: []\n");
  const SchemaProblem* too_few = find(few, SchemaProblemKind::TooFewItems);
  REQUIRE(too_few != nullptr);
  CHECK(too_few->message() == "'items' needs at least 1 item");
}

}  // namespace kiln
