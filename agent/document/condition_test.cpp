#include "agent/document/condition.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

namespace kiln {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Evaluates a condition written as JSON; the evaluation itself must succeed.
bool holds(const json& condition) {
  ConditionOutcome outcome = evaluate_condition(condition);
  INFO("condition: " << condition.dump() << " error: " << outcome.error);
  REQUIRE(outcome.error.empty());
  CHECK_FALSE(outcome.detail.empty());
  return outcome.value;
}

bool holds(const char* condition_json) { return holds(json::parse(condition_json)); }

json two(const char* op, const json& baseline, const json& value) {
  return {{op, baseline}, {"value", value}};
}

std::vector<ConditionProblem> problems_of(const char* condition_json, bool allow_branches = true) {
  return check_condition(json::parse(condition_json), allow_branches);
}

// One problem expected: returns it for further checks.
ConditionProblem only_problem(const char* condition_json, bool allow_branches = true) {
  std::vector<ConditionProblem> problems = problems_of(condition_json, allow_branches);
  std::string found;
  for (const ConditionProblem& p : problems) found += "\n  " + p.pointer + ": " + p.message;
  INFO("condition: " << condition_json << found);
  REQUIRE(problems.size() == 1);
  return problems.front();
}

// A fresh folder under the system temp folder, removed with everything in it.
struct TempFolder {
  fs::path path;
  TempFolder() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("kiln-condition-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return (path / name).string();
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------
// String operators

TEST_CASE("stringIsEmpty: only zero characters is empty") {
  CHECK(holds(R"({"stringIsEmpty": ""})"));
  CHECK_FALSE(holds(R"({"stringIsEmpty": " "})"));
  CHECK_FALSE(holds(R"({"stringIsEmpty": "x"})"));
  CHECK_FALSE(holds(R"({"stringIsEmpty": 0})"));
  CHECK_FALSE(holds(R"({"stringIsEmpty": false})"));
}

TEST_CASE("stringIsWhitespace: non-empty and only whitespace") {
  CHECK(holds(R"({"stringIsWhitespace": " "})"));
  CHECK(holds(R"({"stringIsWhitespace": " \t\r\n"})"));
  CHECK(holds(json{{"stringIsWhitespace", "\xC2\xA0\xE3\x80\x80"}}));  // NBSP, ideographic space
  CHECK_FALSE(holds(R"({"stringIsWhitespace": ""})"));
  CHECK_FALSE(holds(R"({"stringIsWhitespace": " a "})"));
  CHECK_FALSE(holds(json{{"stringIsWhitespace", "\xFF"}}));  // invalid UTF-8 is not space
}

TEST_CASE("stringEquals: case-insensitive, no trimming, numbers and booleans as text") {
  CHECK(holds(two("stringEquals", "Hello", "hELLO")));
  CHECK_FALSE(holds(two("stringEquals", "Hello", "Hello ")));
  CHECK_FALSE(holds(two("stringEquals", "Hello", "Hello!")));
  CHECK(holds(two("stringEquals", "1.5", 1.5)));
  CHECK(holds(two("stringEquals", "10", 10)));
  CHECK_FALSE(holds(two("stringEquals", "1", 1.0)));  // 1.0 prints as "1.0"
  CHECK(holds(two("stringEquals", "TRUE", true)));
  CHECK(holds(two("stringEquals", "Ärger", "Ärger")));  // UTF-8 bytes kept
}

TEST_CASE("string ordering reads value OP baseline") {
  CHECK(holds(two("stringLessThan", "b", "a")));
  CHECK_FALSE(holds(two("stringLessThan", "a", "b")));
  CHECK_FALSE(holds(two("stringLessThan", "a", "A")));
  CHECK(holds(two("stringLessThan", "B", "a")));  // case folded before comparing
  CHECK(holds(two("stringLessThan", "a", "9")));  // digits sort before letters
  CHECK(holds(two("stringLessThanEquals", "b", "B")));
  CHECK(holds(two("stringLessThanEquals", "b", "a")));
  CHECK_FALSE(holds(two("stringLessThanEquals", "a", "b")));
  CHECK(holds(two("stringGreaterThan", "a", "b")));
  CHECK_FALSE(holds(two("stringGreaterThan", "b", "a")));
  CHECK_FALSE(holds(two("stringGreaterThan", "A", "a")));
  CHECK(holds(two("stringGreaterThanEquals", "A", "a")));
  CHECK(holds(two("stringGreaterThanEquals", "a", "b")));
  CHECK_FALSE(holds(two("stringGreaterThanEquals", "b", "a")));
  CHECK(holds(two("stringGreaterThan", "10", 9)));  // numbers compared as text: "9" > "10"
}

TEST_CASE("patternMatches: RE2 search, case-insensitive") {
  CHECK(holds(two("patternMatches", "^[a-z]+$", "ThisIsValue")));  // the reference's example
  CHECK(holds(two("patternMatches", "is", "ThisIsValue")));        // unanchored search
  CHECK_FALSE(holds(two("patternMatches", "^[a-z]+$", "This Is Value")));
  CHECK_FALSE(holds(two("patternMatches", "^x", "ax")));
  CHECK(holds(two("patternMatches", "^[0-9]+$", 42)));
  CHECK(holds(two("patternMatches", 4, "1.42")));
}

// ---------------------------------------------------------------------------------------
// Number operators

TEST_CASE("numberEquals: exact decimal equality across types") {
  CHECK(holds(two("numberEquals", 1, "1")));
  CHECK(holds(two("numberEquals", 1, "1.0")));
  CHECK(holds(two("numberEquals", 1, 1.0)));
  CHECK(holds(two("numberEquals", "1.50", 1.5)));
  CHECK(holds(two("numberEquals", 0.1, "0.1")));
  CHECK(holds(two("numberEquals", 0, "-0")));
  CHECK(holds(two("numberEquals", 7, "+7")));
  CHECK(holds(two("numberEquals", 100, "000100.000")));
  CHECK_FALSE(holds(two("numberEquals", 1, 2)));
  CHECK_FALSE(holds(two("numberEquals", 1, "1.0000000000000000000001")));
}

TEST_CASE("number operators: unparsable operands make the comparison false") {
  CHECK_FALSE(holds(two("numberEquals", 10, "a10")));
  CHECK_FALSE(holds(two("numberEquals", 10, " 10")));    // no trimming
  CHECK_FALSE(holds(two("numberEquals", 1000, "1e3")));  // no exponent in strings
  CHECK_FALSE(holds(two("numberEquals", 1, "1.")));
  CHECK_FALSE(holds(two("numberEquals", 0.5, ".5")));
  CHECK_FALSE(holds(two("numberEquals", 1, true)));   // a boolean is not a number
  CHECK_FALSE(holds(two("numberLessThan", "x", 1)));  // a bad baseline too
  CHECK_FALSE(holds(two("numberGreaterThanEquals", 1, "")));
  ConditionOutcome outcome = evaluate_condition(two("numberEquals", 10, "a10"));
  CHECK(outcome.error.empty());
  CHECK(outcome.detail.find("not a number") != std::string::npos);
}

TEST_CASE("number ordering reads value OP baseline") {
  CHECK(holds(two("numberLessThan", 2, 1)));
  CHECK_FALSE(holds(two("numberLessThan", 1, 2)));
  CHECK_FALSE(holds(two("numberLessThan", 1, "1.0")));
  CHECK(holds(two("numberLessThan", "-1", "-1.5")));
  CHECK(holds(two("numberLessThanEquals", 2, "2.0")));
  CHECK(holds(two("numberLessThanEquals", 2, -3)));
  CHECK_FALSE(holds(two("numberLessThanEquals", 2, 2.5)));
  CHECK(holds(two("numberGreaterThan", 1, 2)));
  CHECK_FALSE(holds(two("numberGreaterThan", 2, 1)));
  CHECK(holds(two("numberGreaterThan", "0.09", "0.1")));
  CHECK(holds(two("numberGreaterThanEquals", 3, "3")));
  CHECK(holds(two("numberGreaterThanEquals", 3, 1e300)));
  CHECK_FALSE(holds(two("numberGreaterThanEquals", 3, -1e300)));
  ConditionOutcome outcome = evaluate_condition(two("numberLessThan", 2, 1));
  CHECK(outcome.detail == "numberLessThan: 1 < 2 -> true");
}

TEST_CASE("numbers beyond 2^53 keep every digit") {
  CHECK_FALSE(holds(two("numberEquals", 9007199254740992, "9007199254740993")));
  CHECK(holds(two("numberGreaterThan", 9007199254740992, "9007199254740993")));
  CHECK(holds(two("numberEquals", 18446744073709551615u, "18446744073709551615.0")));
  CHECK(holds(
      two("numberLessThan", "123456789012345678901234567890", "123456789012345678901234567889")));
  CHECK(holds(two("numberGreaterThan", "-123456789012345678901234567890",
                  "-123456789012345678901234567889")));
}

// ---------------------------------------------------------------------------------------
// File system operators

TEST_CASE("binaryExists: an executable regular file on PATH, or a path given directly") {
  TempFolder folder;
  std::string tool = folder.write("kiln-tool", "#!/bin/sh\n");
  std::string plain = folder.write("kiln-plain", "data\n");
  fs::permissions(tool, fs::perms::owner_all);
  fs::permissions(plain, fs::perms::owner_read | fs::perms::owner_write);

  CHECK(holds(R"({"binaryExists": "sh"})"));
  CHECK_FALSE(holds(R"({"binaryExists": "kiln-no-such-binary-xyz"})"));
  CHECK_FALSE(holds(R"({"binaryExists": ""})"));
  CHECK(holds(json{{"binaryExists", tool}}));
  CHECK_FALSE(holds(json{{"binaryExists", plain}}));
  CHECK_FALSE(holds(json{{"binaryExists", folder.path.string()}}));
}

TEST_CASE("fileExists and folderExists: regular files and directories, symlinks followed") {
  TempFolder folder;
  std::string file = folder.write("file.txt", "x");
  fs::create_symlink(file, folder.path / "link");
  fs::create_symlink(folder.path / "missing", folder.path / "dangling");
  std::string dir = folder.path.string();

  CHECK(holds(json{{"fileExists", file}}));
  CHECK(holds(json{{"fileExists", (folder.path / "link").string()}}));
  CHECK_FALSE(holds(json{{"fileExists", (folder.path / "dangling").string()}}));
  CHECK_FALSE(holds(json{{"fileExists", dir}}));
  CHECK_FALSE(holds(json{{"fileExists", (folder.path / "nope").string()}}));
  CHECK(holds(json{{"folderExists", dir}}));
  CHECK_FALSE(holds(json{{"folderExists", file}}));
  CHECK_FALSE(holds(json{{"folderExists", (folder.path / "nope").string()}}));
}

TEST_CASE("file hash operators") {
  TempFolder folder;
  std::string file = folder.write("abc.txt", "abc\n");  // hashes from md5sum/sha*sum
  const char* md5 = "0bee89b07a248e27c83fc3d5951213c1";
  const char* sha1 = "03cfd743661f07975fa2f1220c5194cbaff48451";
  const char* sha256 = "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb";
  const char* sha512 =
      "4f285d0c0cc77286d8731798b7aae2639e28270d4166f40d769cbbdca5230714"
      "d848483d364e2f39fe6cb9083c15229b39a33615ebc6d57605f7c43f6906739d";
  auto hash = [&](const char* op, const std::string& hex, const std::string& path) {
    return json{{op, hex}, {"path", path}};
  };

  CHECK(holds(hash("fileMD5Equals", md5, file)));
  CHECK(holds(hash("fileSHA1Equals", sha1, file)));
  CHECK(holds(hash("fileSHA256Equals", sha256, file)));
  CHECK(holds(hash("fileSHA512Equals", sha512, file)));
  CHECK(holds(hash("fileSHA256Equals",
                   "EDEAAFF3F1774AD2888673770C6D64097E391BC362D7D6FB34982DDF0EFD18CB", file)));
  CHECK_FALSE(holds(hash("fileMD5Equals", sha1, file)));
  CHECK_FALSE(holds(hash("fileSHA1Equals", md5, file)));
  CHECK_FALSE(holds(hash("fileSHA256Equals", std::string(64, '0'), file)));
  CHECK_FALSE(holds(hash("fileSHA512Equals", sha256, file)));
  CHECK_FALSE(holds(hash("fileSHA256Equals", sha256, folder.path.string())));

  SUBCASE("a file bigger than one read chunk") {
    // The md5sum of 200 KiB of 'a': 64 KiB chunks and a partial last one.
    std::string big = folder.write("big.bin", std::string(200 * 1024, 'a'));
    CHECK(holds(hash("fileMD5Equals", "87803ac1cabd226eeb9c7665efe2a758", big)));
  }
  SUBCASE("a missing file is false, with a detail saying so") {
    ConditionOutcome outcome =
        evaluate_condition(hash("fileMD5Equals", md5, (folder.path / "nope").string()));
    CHECK(outcome.error.empty());
    CHECK_FALSE(outcome.value);
    CHECK(outcome.detail.find("does not exist") != std::string::npos);
  }
  SUBCASE("a file that cannot be read is an error") {
    // Reading /proc/self/mem at offset 0 fails with EIO, even as root.
    ConditionOutcome outcome = evaluate_condition(hash("fileMD5Equals", md5, "/proc/self/mem"));
    CHECK_FALSE(outcome.value);
    CHECK(outcome.error.find("cannot read") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------
// Logical operators

TEST_CASE("and, or, not") {
  CHECK(holds(
      R"({"and": [{"stringEquals": "a", "value": "A"}, {"numberEquals": 1, "value": "1"}]})"));
  CHECK_FALSE(holds(R"({"and": [{"stringEquals": "a", "value": "A"}, {"stringIsEmpty": "x"}]})"));
  CHECK(holds(R"({"or": [{"stringIsEmpty": "x"}, {"stringIsEmpty": ""}]})"));
  CHECK_FALSE(holds(R"({"or": [{"stringIsEmpty": "x"}, {"stringIsEmpty": "y"}]})"));
  CHECK(holds(R"({"not": {"stringIsEmpty": "x"}})"));
  CHECK_FALSE(holds(R"({"not": [{"stringIsEmpty": ""}]})"));
  CHECK(holds(R"({"and": [
      {"or": [{"stringIsEmpty": "x"}, {"not": {"stringIsEmpty": "y"}}]},
      {"not": [{"and": [{"stringIsEmpty": ""}, {"stringIsEmpty": "z"}]}]},
      {"numberLessThan": 10, "value": 9}]})"));
}

TEST_CASE("and/or stop at the deciding item") {
  // The second item would fail to evaluate (an unreadable file), so reaching it shows.
  json unreadable = {{"fileMD5Equals", "00"}, {"path", "/proc/self/mem"}};
  json is_true = {{"stringIsEmpty", ""}};
  json is_false = {{"stringIsEmpty", "x"}};

  ConditionOutcome and_stops = evaluate_condition({{"and", {is_false, unreadable}}});
  CHECK(and_stops.error.empty());
  CHECK_FALSE(and_stops.value);
  CHECK(and_stops.detail.find("at item 1") != std::string::npos);

  ConditionOutcome or_stops = evaluate_condition({{"or", {is_true, unreadable}}});
  CHECK(or_stops.error.empty());
  CHECK(or_stops.value);

  ConditionOutcome and_goes_on = evaluate_condition({{"and", {is_true, unreadable}}});
  CHECK_FALSE(and_goes_on.error.empty());
  CHECK_FALSE(and_goes_on.value);
  CHECK_FALSE(evaluate_condition({{"or", {is_false, unreadable}}}).error.empty());
}

// ---------------------------------------------------------------------------------------
// Shape checks

TEST_CASE("valid conditions have no problems") {
  CHECK(problems_of(R"({"fileExists": "/etc/hosts"})").empty());
  CHECK(problems_of(R"({"stringEquals": "a", "value": "{{ build.x.outputs.stdout }}"})").empty());
  CHECK(problems_of(R"({"fileSHA1Equals": "ab", "path": "/x"})").empty());
  CHECK(problems_of(R"({"not": [{"binaryExists": "unzip"}]})").empty());
  CHECK(problems_of(R"({"patternMatches": "{{ x }}(", "value": "a"})").empty());  // run time
}

TEST_CASE("logical nesting: 4 levels pass, 5 are rejected") {
  const char* depth4 = R"({"and": [{"stringIsEmpty": ""},
      {"or": [{"stringIsEmpty": ""}, {"not": {"and": [{"stringIsEmpty": ""}, {"stringIsEmpty": ""}]}}]}]})";
  CHECK(problems_of(depth4).empty());
  CHECK(holds(depth4));

  const char* depth5 = R"({"and": [{"stringIsEmpty": ""},
      {"or": [{"stringIsEmpty": ""}, {"not": {"and": [{"stringIsEmpty": ""},
                                                        {"not": {"stringIsEmpty": ""}}]}}]}]})";
  ConditionProblem problem = only_problem(depth5);
  CHECK(problem.pointer == "/and/1/or/1/not/and/1/not");
  CHECK(problem.message.find("at most 4") != std::string::npos);
  CHECK_FALSE(evaluate_condition(json::parse(depth5)).error.empty());
}

TEST_CASE("unknown keys name the allowed operators and suggest the nearest") {
  ConditionProblem typo = only_problem(R"({"stringlessThan": "b", "value": "a"})");
  CHECK(typo.pointer == "/stringlessThan");
  CHECK(typo.message.find("did you mean stringLessThan?") != std::string::npos);
  CHECK(typo.message.find("numberGreaterThanEquals") != std::string::npos);
  CHECK(typo.hint.find("case-sensitive") != std::string::npos);

  ConditionProblem equals =
      only_problem(R"({"and": [{"stringIsEmpty": ""}, {"stringEqual": "a", "value": "a"}]})");
  CHECK(equals.pointer == "/and/1/stringEqual");
  CHECK(equals.message.find("did you mean stringEquals?") != std::string::npos);

  ConditionProblem far = only_problem(R"({"fileExists": "/x", "owner": "root"})");
  CHECK(far.pointer == "/owner");
  CHECK(far.message.find("did you mean") == std::string::npos);
}

TEST_CASE("missing or misplaced second operands") {
  ConditionProblem no_value =
      only_problem(R"({"and": [{"stringIsEmpty": ""}, {"numberEquals": 1}]})");
  CHECK(no_value.pointer == "/and/1");
  CHECK(no_value.message.find("needs 'value'") != std::string::npos);

  ConditionProblem no_path = only_problem(R"({"fileSHA256Equals": "ab"})");
  CHECK(no_path.message.find("needs 'path'") != std::string::npos);

  ConditionProblem stray_value = only_problem(R"({"fileExists": "/x", "value": "y"})");
  CHECK(stray_value.pointer == "/value");

  ConditionProblem value_for_hash =
      only_problem(R"({"fileMD5Equals": "ab", "path": "/x", "value": "y"})");
  CHECK(value_for_hash.pointer == "/value");

  ConditionProblem value_on_and =
      only_problem(R"({"and": [{"stringIsEmpty": ""}, {"stringIsEmpty": ""}], "value": "y"})");
  CHECK(value_on_and.pointer == "/value");
}

TEST_CASE("operands must be scalars") {
  ConditionProblem list = only_problem(R"({"stringEquals": ["a"], "value": "a"})");
  CHECK(list.pointer == "/stringEquals");

  // What YAML makes of an unquoted `value: {{ build.x.outputs.stdout }}`.
  ConditionProblem braces = only_problem(
      R"({"stringEquals": "a", "value": {"{\"build.x.outputs.stdout\":null}": null}})");
  CHECK(braces.pointer == "/value");
  CHECK(braces.hint.find("quote values that start with {{") != std::string::npos);

  ConditionProblem null_operand = only_problem(R"({"stringIsEmpty": null})");
  CHECK(null_operand.hint.find("''") != std::string::npos);
}

TEST_CASE("patternMatches must compile with RE2") {
  ConditionProblem unbalanced = only_problem(R"({"patternMatches": "(", "value": "a"})");
  CHECK(unbalanced.pointer == "/patternMatches");
  CHECK(unbalanced.message.find("invalid regular expression") != std::string::npos);
  CHECK(only_problem(R"({"patternMatches": "(?<=a)b", "value": "ab"})").hint.find("look-around") !=
        std::string::npos);
  ConditionOutcome outcome = evaluate_condition(two("patternMatches", "(", "a"));
  CHECK_FALSE(outcome.error.empty());
  CHECK_FALSE(outcome.value);
}

TEST_CASE("logical operator operands") {
  CHECK(only_problem(R"({"and": [{"stringIsEmpty": ""}]})").pointer == "/and");
  CHECK(only_problem(R"({"or": {"stringIsEmpty": ""}})").message.find("at least 2") !=
        std::string::npos);
  CHECK(only_problem(R"({"not": [{"stringIsEmpty": ""}, {"stringIsEmpty": ""}]})").pointer ==
        "/not");
  CHECK(only_problem(R"({"not": "x"})").pointer == "/not");
  CHECK(only_problem(R"({"and": [{"stringIsEmpty": ""}, "fileExists"]})").pointer == "/and/1");
}

TEST_CASE("one operator per condition") {
  CHECK(only_problem(R"({})").message.find("no operator") != std::string::npos);
  CHECK(only_problem(R"({"value": "x"})").message.find("no operator") != std::string::npos);
  ConditionProblem both = only_problem(R"({"fileExists": "/a", "folderExists": "/b"})");
  CHECK(both.message.find("fileExists, folderExists") != std::string::npos);
  CHECK(only_problem(R"("fileExists")").message.find("mapping") != std::string::npos);
}

TEST_CASE("all problems are collected") {
  std::vector<ConditionProblem> problems = problems_of(R"({"and": [
      {"stringEquals": "a"},
      {"fileExist": "/x"},
      {"patternMatches": "[", "value": "v"}], "then": "skip"})");
  REQUIRE(problems.size() == 4);
  std::vector<std::string> pointers;
  for (const ConditionProblem& p : problems) pointers.push_back(p.pointer);
  CHECK(std::find(pointers.begin(), pointers.end(), "/and/0") != pointers.end());
  CHECK(std::find(pointers.begin(), pointers.end(), "/and/1/fileExist") != pointers.end());
  CHECK(std::find(pointers.begin(), pointers.end(), "/and/2/patternMatches") != pointers.end());
  CHECK(std::find(pointers.begin(), pointers.end(), "/then") != pointers.end());
}

TEST_CASE("then/else branches") {
  CHECK(problems_of(R"({"fileExists": "/x", "then": "Skip", "else": "Execute"})").empty());
  CHECK(problems_of(R"({"fileExists": "/x", "then": "Abort"})").empty());
  CHECK(only_problem(R"({"fileExists": "/x", "else": "skip"})").pointer == "/else");
  CHECK(only_problem(R"({"fileExists": "/x", "then": 1})").pointer == "/then");
  CHECK(only_problem(R"({"fileExists": "/x", "then": "Skip"})", false).pointer == "/then");
  CHECK_FALSE(only_problem(R"({"fileExists": "/x", "then": "Skip"})", false).warning);

  json with_branches = json::parse(R"({"stringIsEmpty": "", "then": "Skip", "else": "Abort"})");
  CHECK(holds(with_branches));  // branches do not change the verdict
  CHECK(condition_branch(with_branches, true) == "Skip");
  CHECK(condition_branch(with_branches, false) == "Abort");
  json plain = json::parse(R"({"stringIsEmpty": ""})");
  CHECK(condition_branch(plain, true) == "Execute");
  CHECK(condition_branch(plain, false) == "Skip");
  CHECK(condition_branch(json::parse(R"({"stringIsEmpty": "", "else": "Execute"})"), true) ==
        "Execute");
  CHECK(condition_branch(json::parse(R"({"stringIsEmpty": "", "then": "bogus"})"), true) ==
        "Execute");
  CHECK(condition_branch(json("not a condition"), false) == "Skip");
}

TEST_CASE("then/else next to a nested operator of an if apply to the whole if, with a warning") {
  // Under not (as an Amazon-managed component writes it).
  ConditionProblem under_not = only_problem(R"({"not": {"fileExists": "/x", "then": "Skip"}})");
  CHECK(under_not.warning);
  CHECK(under_not.pointer == "/not/then");
  CHECK(under_not.message == "'then' next to a nested operator applies to the whole if");
  json negated = json::parse(R"({"not": {"fileExists": "/nonexistent/kiln", "then": "Skip", "else": "Abort"}})");
  ConditionOutcome outcome = evaluate_condition(negated);  // a warning is no evaluation error
  CHECK(outcome.error.empty());
  CHECK(outcome.value);  // not(false)
  CHECK(condition_branch(negated, outcome.value) == "Skip");
  CHECK(condition_branch(negated, false) == "Abort");
  // Inside an item of and/or, and in the one-item list forms.
  json in_and = json::parse(R"({"and": [{"stringIsEmpty": ""}, {"not": [{"stringIsEmpty": "a", "else": "Abort"}]}]})");
  CHECK(only_problem(in_and.dump().c_str()).warning);
  CHECK(condition_branch(in_and, false) == "Abort");
  CHECK(condition_branch(in_and, true) == "Execute");
  // A branch at the root wins over a nested one that agrees; disagreeing ones are an error.
  std::vector<ConditionProblem> agree = problems_of(R"({"not": {"stringIsEmpty": "", "then": "Skip"}, "then": "Skip"})");
  REQUIRE(agree.size() == 1);
  CHECK(agree[0].warning);
  std::vector<ConditionProblem> clash =
      problems_of(R"({"not": {"stringIsEmpty": "", "then": "Skip"}, "then": "Abort"})");
  REQUIRE(clash.size() == 2);
  bool error_found = false;
  for (const auto& p : clash)
    if (!p.warning) {
      error_found = true;
      CHECK(p.message.find("'then' is given twice with different values") != std::string::npos);
    }
  CHECK(error_found);
  CHECK_FALSE(evaluate_condition(json::parse(R"({"not": {"stringIsEmpty": "", "then": "Skip"}, "then": "Abort"})"))
                  .error.empty());
  // A nested branch value must still be one of the three.
  std::vector<ConditionProblem> bad = problems_of(R"({"not": {"stringIsEmpty": "", "then": "skip"}})");
  CHECK(std::count_if(bad.begin(), bad.end(), [](const ConditionProblem& p) { return !p.warning; }) == 1);
  // Assert (no branches at all) still refuses them.
  CHECK_FALSE(only_problem(R"({"not": {"fileExists": "/x", "then": "Skip"}})", false).warning);
}

TEST_CASE("the one-item list form of an if") {
  json listed = json::parse(R"([{"stringEquals": "a", "value": "A", "then": "Abort"}])");
  CHECK(problems_of(listed.dump().c_str()).empty());
  CHECK(holds(listed));
  CHECK(condition_branch(listed, true) == "Abort");
  CHECK(condition_branch(listed, false) == "Skip");

  ConditionProblem nested = only_problem(R"([{"stringEquals": "a"}])");
  CHECK(nested.pointer == "/0");
  CHECK(only_problem(R"([{"stringIsEmpty": "", "valeu": "a"}])").pointer == "/0/valeu");
  CHECK(only_problem(R"([{"stringIsEmpty": ""}, {"stringIsEmpty": ""}])").pointer == "");
  CHECK(only_problem(R"([])").pointer == "");
}

TEST_CASE("evaluation never throws and reports shape problems as errors") {
  ConditionOutcome outcome =
      evaluate_condition(json::parse(R"({"stringlessThan": "b", "value": "a"})"));
  CHECK_FALSE(outcome.value);
  CHECK(outcome.error.find("/stringlessThan") != std::string::npos);
  CHECK_FALSE(evaluate_condition(json()).error.empty());
  CHECK_FALSE(evaluate_condition(json::parse("[1, 2]")).error.empty());
  // A detail never throws on bytes that are not UTF-8.
  CHECK(evaluate_condition(two("stringEquals", "\xFF", "\xFF")).value);
}

}  // namespace kiln
