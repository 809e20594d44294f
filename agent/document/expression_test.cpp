// Unit tests of {{ }} expression finding and classification (agent/document/expression).
#include "agent/document/expression.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

namespace kiln {
namespace {

// The single expression in `s`.
Expression one(const std::string& s) {
  std::vector<Expression> found = find_expressions(s);
  INFO("text: " << s);
  REQUIRE(found.size() == 1);
  return found[0];
}

ExpressionKind kind_of(const std::string& s) { return one(s).kind; }

}  // namespace

TEST_CASE("expression: a variable") {
  Expression e = one("{{ Greeting }}");
  CHECK(e.kind == ExpressionKind::Variable);
  CHECK(e.key == "Greeting");
  CHECK(e.text == "Greeting");
  CHECK(e.begin == 0);
  CHECK(e.end == 14);
  CHECK(kind_of("{{ my-param_2 }}") == ExpressionKind::Variable);
}

TEST_CASE("expression: whitespace inside the braces is trimmed") {
  for (const char* s : {"{{X}}", "{{ X}}", "{{X }}", "{{ X }}", "{{  X\t}}"}) {
    Expression e = one(s);
    CHECK(e.kind == ExpressionKind::Variable);
    CHECK(e.key == "X");
    CHECK(e.text == "X");
  }
  CHECK(one("{{build.S.outputs.stdout}}").text == one("{{ build.S.outputs.stdout }}").text);
}

TEST_CASE("expression: loop values, unnamed and named") {
  Expression index = one("{{ loop.index }}");
  CHECK(index.kind == ExpressionKind::LoopValue);
  CHECK(index.phase == "loop");
  CHECK(index.key == "index");
  Expression value = one("{{ loop.value }}");
  CHECK(value.kind == ExpressionKind::LoopValue);
  CHECK(value.key == "value");
  Expression named = one("{{ hosts.value }}");
  CHECK(named.kind == ExpressionKind::LoopValue);
  CHECK(named.phase == "hosts");
  CHECK(named.key == "value");
  // Anything but index|value after one dot is not a loop reference.
  CHECK(kind_of("{{ loop.other }}") == ExpressionKind::Invalid);
}

TEST_CASE("expression: chaining with and without an index") {
  Expression out = one("{{ build.Download.outputs.stdout }}");
  CHECK(out.kind == ExpressionKind::Chaining);
  CHECK(out.phase == "build");
  CHECK(out.step == "Download");
  CHECK(out.section == "outputs");
  CHECK(out.key == "stdout");
  CHECK_FALSE(out.index.has_value());

  Expression in = one("{{ build.Create.inputs[1].path }}");
  CHECK(in.kind == ExpressionKind::Chaining);
  CHECK(in.section == "inputs");
  REQUIRE(in.index.has_value());
  CHECK(*in.index == 1);
  CHECK(in.key == "path");

  Expression zero = one("{{ test.S.outputs[0].content }}");
  REQUIRE(zero.index.has_value());
  CHECK(*zero.index == 0);

  // Malformed sections and indexes.
  CHECK(kind_of("{{ build.S.results.stdout }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ build.S.inputs[].path }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ build.S.inputs[x].path }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ build.S.inputs[1.path }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ build.S.inputs[99999999].path }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ build..outputs.stdout }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ build.S.outputs. }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ a.b.c.d.e }}") == ExpressionKind::Invalid);
}

TEST_CASE("expression: env:, context:, aws:ssm: and aws:imds:") {
  Expression env = one("{{ env:PATH }}");
  CHECK(env.kind == ExpressionKind::Environment);
  CHECK(env.key == "PATH");
  // Environment names may hold dots, spaces and parentheses.
  Expression pf = one("{{ env:ProgramFiles(x86) }}");
  CHECK(pf.kind == ExpressionKind::Environment);
  CHECK(pf.key == "ProgramFiles(x86)");
  CHECK(kind_of("{{ env: }}") == ExpressionKind::Invalid);

  Expression ctx = one("{{ context:executionId }}");
  CHECK(ctx.kind == ExpressionKind::Context);
  CHECK(ctx.key == "executionId");

  Expression ssm = one("{{ aws:ssm:/app/db/host }}");
  CHECK(ssm.kind == ExpressionKind::Ssm);
  CHECK(ssm.key == "/app/db/host");
  Expression resolve = one("{{ aws:ssm:resolve(ParamName) }}");
  CHECK(resolve.kind == ExpressionKind::Ssm);
  CHECK(resolve.key == "resolve(ParamName)");

  Expression imds = one("{{ aws:imds:placement/region }}");
  CHECK(imds.kind == ExpressionKind::Imds);
  CHECK(imds.key == "placement/region");
}

TEST_CASE("expression: invalid expressions") {
  CHECK(kind_of("{{ }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{}}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ a.b.c }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ two words }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ a$b }}") == ExpressionKind::Invalid);
  CHECK(kind_of("{{ aws:other:x }}") == ExpressionKind::Invalid);
}

TEST_CASE("expression: an unterminated {{ is one Invalid expression to the end") {
  std::string s = "echo {{ Greeting";
  Expression e = one(s);
  CHECK(e.kind == ExpressionKind::Invalid);
  CHECK(e.begin == 5);
  CHECK(e.end == s.size());
  CHECK(e.text == "Greeting");
  // After a complete one.
  std::vector<Expression> found = find_expressions("{{ A }} and {{ B");
  REQUIRE(found.size() == 2);
  CHECK(found[0].kind == ExpressionKind::Variable);
  CHECK(found[1].kind == ExpressionKind::Invalid);
  CHECK(found[1].unterminated);
  CHECK_FALSE(found[0].unterminated);
}

TEST_CASE("expression: a '{{' left open before another '{{' ends there, and the next one is read") {
  std::string s = "echo {{ a {{ Name }} done";
  std::vector<Expression> found = find_expressions(s);
  REQUIRE(found.size() == 2);
  CHECK(found[0].unterminated);
  CHECK(found[0].kind == ExpressionKind::Invalid);
  CHECK(s.substr(found[0].begin, found[0].end - found[0].begin) == "{{ a ");
  CHECK(found[1].kind == ExpressionKind::Variable);
  CHECK(found[1].key == "Name");
  // Three braces are one unreadable expression, not a stray "{{".
  CHECK_FALSE(one("{{{ x }}}").unterminated);
  CHECK(kind_of("{{{ x }}}") == ExpressionKind::Invalid);
}

TEST_CASE("expression: several expressions in one string, with offsets") {
  std::string s = "cp {{ Src }} {{build.S.outputs.stdout}}/x-{{ loop.index }}";
  std::vector<Expression> found = find_expressions(s);
  REQUIRE(found.size() == 3);
  CHECK(found[0].kind == ExpressionKind::Variable);
  CHECK(found[0].begin == 3);
  CHECK(found[0].end == 12);
  CHECK(s.substr(found[0].begin, found[0].end - found[0].begin) == "{{ Src }}");
  CHECK(found[1].kind == ExpressionKind::Chaining);
  CHECK(s.substr(found[1].begin, found[1].end - found[1].begin) == "{{build.S.outputs.stdout}}");
  CHECK(found[2].kind == ExpressionKind::LoopValue);
  CHECK(found[2].end == s.size());
  CHECK(s.substr(found[2].begin, found[2].end - found[2].begin) == "{{ loop.index }}");
  // Adjacent expressions.
  std::vector<Expression> adjacent = find_expressions("{{A}}{{B}}");
  REQUIRE(adjacent.size() == 2);
  CHECK(adjacent[1].begin == 5);
  CHECK(adjacent[1].key == "B");
}

TEST_CASE("expression: text without {{ has no expressions") {
  CHECK(find_expressions("").empty());
  CHECK(find_expressions("plain text").empty());
  CHECK(find_expressions("single { brace } and }} closers").empty());
  CHECK(find_expressions("${VAR} $(cmd)").empty());
}

TEST_CASE("expression: the documented context keys") {
  const auto& keys = context_keys();
  for (const char* key : {"executionId", "accountId", "region", "osPlatform", "osName", "osVersion", "date",
                          "dateTime", "uuid", "hostname", "phase", "step"})
    CHECK(std::find(keys.begin(), keys.end(), key) != keys.end());
  CHECK(keys.size() == 12);
  CHECK(std::find(keys.begin(), keys.end(), "instanceId") == keys.end());
}

using json = nlohmann::json;

TEST_CASE("expressions: holds_expression looks into every string of lists and maps; is_expression_text only at a string") {
  CHECK_FALSE(holds_expression(json::parse(R"({"commands": ["echo {", "a }}"], "n": 5})")));
  CHECK(holds_expression(json::parse(R"({"items": [{"path": "/x/{{ build.S.outputs.stdout }}"}]})")));
  CHECK(holds_expression("{{ x }}"));
  CHECK_FALSE(holds_expression(json(12)));
  CHECK(is_expression_text("a {{ b"));
  CHECK_FALSE(is_expression_text(json::array({"{{ x }}"})));
}

}  // namespace kiln
