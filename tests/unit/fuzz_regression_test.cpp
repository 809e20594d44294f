// Regression tests for problems found by fuzzing (fuzz/, scripts/fuzz.sh), by the
// sanitizer build (scripts/sanitize.sh) and by the bad-input suite
// (tests/e2e/bad_input_test.cpp). Each feeds the input that showed the problem to the
// same code that failed on it.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "agent/document/diagnostic_format.h"
#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"
#include "agent/document/condition.h"

namespace kiln {
namespace {

using namespace std::string_literals;

struct Result {
  bool loaded = false;
  Diagnostics diagnostics;  // of loading, then of validation
  double seconds = 0;
};

Result load_and_validate(const std::string& text) {
  auto start = std::chrono::steady_clock::now();
  Result result;
  LoadedDocument doc;
  result.loaded = load_yaml_text("doc.yml", text, doc, result.diagnostics);
  if (result.loaded) {
    Document out;
    Diagnostics found = validate_document(std::move(doc), ValidateOptions{}, out);
    result.diagnostics.insert(result.diagnostics.end(), found.begin(), found.end());
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// The first error as "LINE:COL: message".
std::string first_error(const Result& r) {
  for (const auto& d : r.diagnostics)
    if (d.severity == Severity::Error)
      return std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " + d.message;
  return "<no error>";
}

std::string one_step(const std::string& extra) {
  return "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n" +
         extra + "        inputs:\n          commands: [echo]\n";
}

}  // namespace

// fuzz_document, 60 s run: yaml-cpp 0.7's LoadAll loops forever (allocating without
// bound: 24 GB in 73 s) on a ',' outside a flow collection at the top level.
TEST_CASE("fuzz regression: a top-level ',' does not hang the loader") {
  const std::string found_by_fuzzer =
      "#   C     in          if  [[le not created. Failing validation.'\n"
      ",            ex  t {i{fail }}\n"
      "      fi\n";
  for (const std::string& text : {found_by_fuzzer, ","s, ", [x]\n"s, "[a]\n, [x]\n"s, "  , {a: b}\n"s}) {
    CAPTURE(text);
    Result r = load_and_validate(text);
    CHECK_FALSE(r.loaded);
    CHECK(first_error(r).find("a ',' outside [ ] or { }") != std::string::npos);
    CHECK(r.seconds < 5);
  }
  CHECK(first_error(load_and_validate(found_by_fuzzer)).rfind("2:1: ", 0) == 0);
}

// Sanitizer build (UBSan): (end - start) / updateBy overflowed int64.
// fuzz_expression, 60 s run: the target's own invariant ("a checked condition evaluates
// without error") was wrong for patterns holding {{ }}: the checker leaves them to run
// time, and what they resolve to may not be a valid RE2 pattern. Evaluating one must give
// an error that names the pattern, never a crash or a silent false.
TEST_CASE("fuzz regression: a patternMatches pattern holding an expression is checked when it is resolved") {
  const auto found_by_fuzzer = nlohmann::json::parse(
      R"({"patternMatches":"^e@rDqu55555555555555555{{5555555555555555555555555555[555als\/.*$",)"
      R"("value":"{` build.RgmoveT)railingSlash.rutput.ocontext:.*"})");
  CHECK(check_condition(found_by_fuzzer, true).empty());
  ConditionOutcome outcome = evaluate_condition(found_by_fuzzer);
  CHECK_FALSE(outcome.value);
  CHECK(outcome.error.find("patternMatches: invalid pattern") == 0);
  CHECK(outcome.error.find("555[555") != std::string::npos);

  // The same pattern without the expression is refused when the document is checked.
  auto plain = nlohmann::json::parse(R"({"patternMatches":"a[b","value":"x"})");
  auto problems = check_condition(plain, true);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("invalid regular expression") == 0);
}

TEST_CASE("sanitizer regression: a for loop over the whole int64 range") {
  Result r = load_and_validate(one_step(
      "        loop:\n          for:\n            start: -9223372036854775808\n            end: 9223372036854775807\n"
      "            updateBy: 1\n"));
  CHECK(first_error(r).find("more than 1,000,000 iterations") != std::string::npos);
  r = load_and_validate(one_step(
      "        loop:\n          for:\n            start: 9223372036854775807\n            end: -9223372036854775808\n"
      "            updateBy: -9223372036854775808\n"));
  CHECK(first_error(r) == "<no error>");
}

// Bad-input suite: strings that are not well-formed UTF-8 passed the loader and made
// `kiln run` fail with an internal error when detailedoutput.json was written.
TEST_CASE("bad-input regression: surrogates, overlong forms and code points past U+10FFFF are refused") {
  for (const std::string& bytes : {"\xED\xA0\x80"s, "\xE0\x80\xAF"s, "\xF0\x80\x80\xAF"s, "\xF4\x90\x80\x80"s,
                                   "\xF5\x80\x80\x80"s, "\xC0\xAF"s}) {
    CAPTURE(bytes);
    Result r = load_and_validate(one_step("        description: x\n") + "# " + bytes + "\n");
    CHECK_FALSE(r.loaded);
    CHECK(first_error(r) == "10:3: the document is not valid UTF-8");
  }
  CHECK(first_error(load_and_validate(one_step("") + "# \xF4\x8F\xBF\xBF \xED\x9F\xBF \xEF\xBF\xBD\n")) ==
        "<no error>");  // U+10FFFF, U+D7FF, U+FFFD are fine
}

TEST_CASE("bad-input regression: escapes that make a NUL or an invalid code point are refused") {
  Result r = load_and_validate(one_step("") + "description: \"a\\0b\"\n");
  CHECK(first_error(r).find("9:14: a quoted value holds a NUL character") == 0);
  r = load_and_validate(one_step("") + "\"key\\x00\": 1\n");
  CHECK(first_error(r).find("NUL character") != std::string::npos);
}

// Bad-input suite: 2^64-1 read as int64 is -1, so `timeoutSeconds: 18446744073709551615`
// meant "no timeout"; past 9.2e9 s the engine's deadline overflowed.
TEST_CASE("bad-input regression: integers past int64 and huge timeouts are refused") {
  CHECK(first_error(load_and_validate(one_step("        timeoutSeconds: 18446744073709551615\n"))) ==
        "7:25: 'timeoutSeconds' 18446744073709551615 is too large");
  CHECK(first_error(load_and_validate(one_step("        maxAttempts: 18446744073709551615\n"))) ==
        "7:22: 'maxAttempts' 18446744073709551615 is too large");
  CHECK(first_error(load_and_validate(one_step("        timeoutSeconds: 9223372036854775807\n")))
            .find("7:25: timeoutSeconds 9223372036854775807 is too large") == 0);
  CHECK(first_error(load_and_validate(one_step("        timeoutSeconds: 99999999999999999999999\n"))) ==
        "7:25: 'timeoutSeconds' must be an integer, not a number out of range (99999999999999999999999)");
  CHECK(first_error(load_and_validate(one_step("        timeoutSeconds: 2147483647\n"))) == "<no error>");
}

TEST_CASE("bad-input regression: aliases of a long string are bounded by bytes, not only values") {
  std::string text = "x: &x \"" + std::string(1024 * 1024, 'x') + "\"\ny: [";
  for (int i = 0; i < 100; ++i) text += std::string(i ? ", " : "") + "*x";
  Result r = load_and_validate(text + "]\n");
  CHECK_FALSE(r.loaded);
  CHECK(first_error(r).find("bytes of text after expanding aliases") != std::string::npos);
}

TEST_CASE("bad-input regression: located messages") {
  // An unclosed quote at the end of the file: where it opens, not where the file ends.
  CHECK(first_error(load_and_validate("name: x\ndescription: \"open\n  and on\n")) ==
        "2:14: YAML syntax error: a quoted value is never closed");
  // Several documents: where the second starts.
  CHECK(first_error(load_and_validate("a: 1\n---\nb: 2\n")).rfind("2:1: the file holds several YAML documents", 0) == 0);
  // List items are named by their list; loops need exactly one of for/forEach.
  CHECK(first_error(load_and_validate("schemaVersion: 1.0\nphases:\n  - build\n")) ==
        "3:5: 'phases[0]' must be a map, not a string");
  CHECK(first_error(load_and_validate(one_step("        loop: {name: x}\n"))) ==
        "7:15: 'loop' needs exactly one of for or forEach, found none");
  CHECK(first_error(load_and_validate(one_step("        loop: {forEach: 5}\n"))) ==
        "7:25: 'forEach' must be a list or a map, not an integer");
}

TEST_CASE("bad-input regression: a very long source line is shown as a window around the spot") {
  Diagnostic d{Severity::Error, {"doc.yml", 1, 5000}, "deep", ""};
  std::string line = "a: " + std::string(10000, '[');
  std::string text = format_diagnostic(d, [&](const std::string&, int) { return line; }, false);
  CHECK(text.size() < 600);
  size_t shown = text.find('\n') + 1;
  size_t caret_line = text.find('\n', shown) + 1;
  size_t caret = text.find('^', caret_line) - caret_line;
  CHECK(text.substr(shown, 5) == "  ...");
  CHECK(text[shown + caret] == '[');
}

}  // namespace kiln
