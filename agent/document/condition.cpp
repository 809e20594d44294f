// Conditions: shape checks and evaluation (reference §4.1–4.3, DESIGN "Comparison direction").
//
// Decisions (where the reference leaves room, see its [I] notes and §10):
// - Direction is `value OP baseline`: `numberLessThan: 2` with `value: 1` is true.
// - String operators compare after ASCII lowercasing; other bytes (UTF-8) are kept and
//   compared bytewise, which is code-point order. No trimming.
// - stringIsWhitespace: non-empty and every code point is whitespace as Go's
//   unicode.IsSpace sees it (ASCII space/tab/newlines plus NEL, NBSP and the Unicode
//   space separators). Invalid UTF-8 is not whitespace.
// - Numbers are compared exactly as decimals (sign, digits, exponent), never through
//   double: "1.0" == 1, and integers beyond 2^53 keep every digit. A JSON float is taken
//   by its shortest round-trip text (nlohmann dump), so 0.1 == "0.1". Strings must match
//   ^[-+]?([0-9]+[.])?[0-9]+$; booleans, null and anything unparsable make the
//   comparison false (not an error). -0 == 0.
// - patternMatches is an RE2 search (unanchored), case-insensitive, as the reference's
//   example '^[a-z]+$' vs 'ThisIsValue' (true) requires. A pattern holding {{ is left to
//   run time by check_condition.
// - binaryExists searches PATH for an executable regular file (a name holding '/' is
//   checked directly). Unlike `type`, shell builtins and functions do not count. Empty
//   PATH entries mean the current directory, as in POSIX shells.
// - fileExists/folderExists follow symlinks. Hashes compare case-insensitively; a missing
//   or non-regular file gives false with a detail; a file that cannot be read is an error.
// - The one-item list form of an `if` is accepted at the root of any condition (also an
//   Assert's), with problems reported under "/0/...".
// - evaluate_condition runs check_condition first (branches allowed, so then/else at the
//   root pass), so the evaluators can rely on a valid shape; a shape problem is an error.
// - then/else next to a nested operator of a step's `if` apply to the whole `if` (its
//   final verdict), as if written at the root: a warning, not an error (docs/DECISIONS.md).
// - Unknown keys: the nearest valid key is suggested when its edit distance (ignoring
//   case) is at most 3 and under half the key's length; keys stay case-sensitive.
#include "agent/document/condition.h"

#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>

#include "agent/base/hash.h"
#include "agent/base/text.h"
#include "agent/base/utf8.h"
#include "agent/document/expression.h"

namespace kiln {
namespace {

using json = nlohmann::json;

constexpr int kMaxLogicalDepth = 4;
constexpr std::size_t kDetailTextLimit = 80;
constexpr std::array<std::string_view, 3> kBranchValues = {"Abort", "Execute", "Skip"};
constexpr std::array<std::string_view, 3> kLogicalKeys = {"and", "or", "not"};

// ---------------------------------------------------------------------------------------
// Small text helpers

// The text a string operator sees: numbers as nlohmann prints them (1.5 -> "1.5"),
// booleans as true/false.
std::string to_text(const json& scalar) {
  if (scalar.is_string()) return scalar.get<std::string>();
  if (scalar.is_boolean()) return scalar.get<bool>() ? "true" : "false";
  return scalar.dump();
}

// Values in log details are cut short: a chained stdout can be long.
std::string clipped(std::string_view text) {
  if (text.size() <= kDetailTextLimit) return std::string(text);
  return std::string(text.substr(0, kDetailTextLimit)) + "...";
}

// A quoted, escaped, length-limited rendering of a string for log details.
std::string quote_for_log(std::string_view text) {
  // Invalid UTF-8 (or a cut through a code point) must not make dump() throw.
  std::string shown = json(std::string(text.substr(0, kDetailTextLimit)))
                          .dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > kDetailTextLimit ? shown + "..." : shown;
}

std::string verdict_text(bool value) { return value ? "true" : "false"; }

// Appends one reference token to a JSON pointer, escaping '~' and '/' (RFC 6901).
std::string pointer_to(std::string_view base, std::string_view token) {
  std::string pointer(base);
  pointer += '/';
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
  return pointer;
}

std::string pointer_to(std::string_view base, std::size_t index) {
  return pointer_to(base, std::to_string(index));
}

// ---------------------------------------------------------------------------------------
// Whitespace (Go's unicode.IsSpace set)

bool is_unicode_space(char32_t cp) {
  constexpr std::array<char32_t, 14> kSpaces = {U' ',   U'\t',  U'\n',  U'\v',  U'\f',
                                                U'\r',  0x85,   0xA0,   0x1680, 0x2028,
                                                0x2029, 0x202F, 0x205F, 0x3000};
  return (cp >= 0x2000 && cp <= 0x200A) ||
         std::find(kSpaces.begin(), kSpaces.end(), cp) != kSpaces.end();
}

bool is_all_whitespace(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    std::optional<char32_t> cp = decode_utf8(text, pos);
    if (!cp || !is_unicode_space(*cp)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Exact decimal numbers

// digits × 10^exponent, digits without leading or trailing zeros (empty = zero).
struct Decimal {
  bool negative = false;
  std::string digits;
  long long exponent = 0;
};

// Parses [-+]?D+(.D+)? and, when `allow_exponent` (our own dump() output), [eE][-+]?D+.
std::optional<Decimal> parse_decimal(std::string_view text, bool allow_exponent) {
  std::size_t pos = 0;
  auto take_digits = [&] {
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    return text.substr(start, pos - start);
  };
  Decimal number;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    number.negative = text[pos++] == '-';
  }
  std::string_view whole = take_digits();
  std::string_view fraction;
  if (whole.empty()) return std::nullopt;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    fraction = take_digits();
    if (fraction.empty()) return std::nullopt;
  }
  long long exponent = 0;
  if (allow_exponent && pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool negative_exponent = pos < text.size() && text[pos] == '-';
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    std::string_view exponent_digits = take_digits();
    if (exponent_digits.empty() || exponent_digits.size() > 6) return std::nullopt;
    exponent = std::stoll(std::string(exponent_digits));
    if (negative_exponent) exponent = -exponent;
  }
  if (pos != text.size()) return std::nullopt;

  number.digits = std::string(whole) + std::string(fraction);
  number.exponent = exponent - static_cast<long long>(fraction.size());
  number.digits.erase(0, std::min(number.digits.find_first_not_of('0'), number.digits.size()));
  while (!number.digits.empty() && number.digits.back() == '0') {
    number.digits.pop_back();
    ++number.exponent;
  }
  if (number.digits.empty()) number = Decimal{};  // -0 is 0
  return number;
}

// A number operand: JSON numbers always, strings only in the documented form.
std::optional<Decimal> to_decimal(const json& scalar) {
  if (scalar.is_number()) return parse_decimal(scalar.dump(), /*allow_exponent=*/true);
  if (scalar.is_string()) return parse_decimal(scalar.get<std::string>(), false);
  return std::nullopt;  // booleans and null are not numbers
}

int compare_magnitudes(const Decimal& a, const Decimal& b) {
  if (a.digits.empty() || b.digits.empty()) {
    return static_cast<int>(!a.digits.empty()) - static_cast<int>(!b.digits.empty());
  }
  // Position of the leading digit decides first; then the digits, where a prefix is
  // smaller because neither has trailing zeros.
  long long a_order = static_cast<long long>(a.digits.size()) + a.exponent;
  long long b_order = static_cast<long long>(b.digits.size()) + b.exponent;
  if (a_order != b_order) return a_order < b_order ? -1 : 1;
  int by_digits = a.digits.compare(b.digits);
  return (by_digits > 0) - (by_digits < 0);
}

int compare_decimals(const Decimal& a, const Decimal& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  int magnitude = compare_magnitudes(a, b);
  return a.negative ? -magnitude : magnitude;
}

// ---------------------------------------------------------------------------------------
// File system probes

bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> find_on_path(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    return is_executable_file(name) ? std::optional(name) : std::nullopt;
  }
  const char* path_variable = std::getenv("PATH");
  std::string_view search = path_variable ? path_variable : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    std::size_t colon = search.find(':');
    std::string folder(search.substr(0, colon));
    std::string candidate = (folder.empty() ? std::string(".") : folder) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    search.remove_prefix(colon + 1);
  }
}

// ---------------------------------------------------------------------------------------
// The comparison operators

enum class SecondOperand { None, Value, Path };
enum class Order { Equal, Less, LessEqual, Greater, GreaterEqual };

struct Comparison;
// `operand` is the value under the operator key; `second` is `value`/`path` (or null).
using Evaluator = ConditionOutcome (*)(const Comparison& op, const json& operand,
                                       const json& second);

struct Comparison {
  std::string_view key;
  SecondOperand second;
  Evaluator evaluate;
  Order order = Order::Equal;              // ordering operators
  DigestAlgorithm algorithm = DigestAlgorithm::Sha256;  // hash operators
};

bool order_holds(Order order, int comparison) {
  switch (order) {
    case Order::Equal:
      return comparison == 0;
    case Order::Less:
      return comparison < 0;
    case Order::LessEqual:
      return comparison <= 0;
    case Order::Greater:
      return comparison > 0;
    case Order::GreaterEqual:
      return comparison >= 0;
  }
  return false;
}

std::string_view order_symbol(Order order) {
  switch (order) {
    case Order::Equal:
      return "==";
    case Order::Less:
      return "<";
    case Order::LessEqual:
      return "<=";
    case Order::Greater:
      return ">";
    case Order::GreaterEqual:
      return ">=";
  }
  return "?";
}

ConditionOutcome outcome(const Comparison& op, bool value, std::string_view explanation) {
  return {value, "",
          std::string(op.key) + ": " + std::string(explanation) + " -> " + verdict_text(value)};
}

ConditionOutcome string_is_empty(const Comparison& op, const json& operand, const json&) {
  std::string text = to_text(operand);
  return outcome(op, text.empty(), quote_for_log(text));
}

ConditionOutcome string_is_whitespace(const Comparison& op, const json& operand, const json&) {
  std::string text = to_text(operand);
  return outcome(op, !text.empty() && is_all_whitespace(text), quote_for_log(text));
}

ConditionOutcome compare_strings(const Comparison& op, const json& baseline, const json& value) {
  std::string value_text = to_text(value);
  std::string baseline_text = to_text(baseline);
  int comparison = lowercase_ascii(value_text).compare(lowercase_ascii(baseline_text));
  return outcome(op, order_holds(op.order, comparison),
                 quote_for_log(value_text) + " " + std::string(order_symbol(op.order)) + " " +
                     quote_for_log(baseline_text));
}

ConditionOutcome compare_numbers(const Comparison& op, const json& baseline, const json& value) {
  std::optional<Decimal> value_number = to_decimal(value);
  std::optional<Decimal> baseline_number = to_decimal(baseline);
  if (!value_number) return outcome(op, false, quote_for_log(to_text(value)) + " is not a number");
  if (!baseline_number) {
    return outcome(op, false, "baseline " + quote_for_log(to_text(baseline)) + " is not a number");
  }
  int comparison = compare_decimals(*value_number, *baseline_number);
  return outcome(op, order_holds(op.order, comparison),
                 clipped(to_text(value)) + " " + std::string(order_symbol(op.order)) + " " +
                     clipped(to_text(baseline)));
}

RE2::Options pattern_options() {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  return options;
}

ConditionOutcome pattern_matches(const Comparison& op, const json& pattern, const json& value) {
  std::string pattern_text = to_text(pattern);
  RE2 regex(pattern_text, pattern_options());
  if (!regex.ok()) {
    return {false,
            "patternMatches: invalid pattern " + quote_for_log(pattern_text) + ": " + regex.error(),
            ""};
  }
  std::string value_text = to_text(value);
  return outcome(op, RE2::PartialMatch(value_text, regex),
                 quote_for_log(value_text) + " ~ " + quote_for_log(pattern_text));
}

ConditionOutcome binary_exists(const Comparison& op, const json& operand, const json&) {
  std::string name = to_text(operand);
  std::optional<std::string> found = find_on_path(name);
  return outcome(op, found.has_value(),
                 quote_for_log(name) + (found ? " found at " + *found : std::string(" not found")));
}

ConditionOutcome file_exists(const Comparison& op, const json& operand, const json&) {
  std::string path = to_text(operand);
  std::error_code ignored;
  return outcome(op, std::filesystem::is_regular_file(path, ignored), quote_for_log(path));
}

ConditionOutcome folder_exists(const Comparison& op, const json& operand, const json&) {
  std::string path = to_text(operand);
  std::error_code ignored;
  return outcome(op, std::filesystem::is_directory(path, ignored), quote_for_log(path));
}

ConditionOutcome file_hash_equals(const Comparison& op, const json& expected,
                                  const json& path_json) {
  std::string path = to_text(path_json);
  std::error_code ignored;
  std::filesystem::file_status status = std::filesystem::status(path, ignored);
  if (!std::filesystem::exists(status)) {
    return outcome(op, false, quote_for_log(path) + " does not exist");
  }
  if (!std::filesystem::is_regular_file(status)) {
    return outcome(op, false, quote_for_log(path) + " is not a regular file");
  }
  FileDigest digest = file_digest_hex(path, op.algorithm);
  if (!digest.error.empty()) return {false, std::string(op.key) + ": " + digest.error, ""};
  std::string expected_hex = lowercase_ascii(to_text(expected));
  bool equal = digest.hex == expected_hex;
  return outcome(op, equal,
                 quote_for_log(path) + " has " + digest.hex +
                     (equal ? std::string() : ", expected " + quote_for_log(expected_hex)));
}

const std::array<Comparison, 20> kComparisons = {{
    {"stringIsEmpty", SecondOperand::None, string_is_empty},
    {"stringIsWhitespace", SecondOperand::None, string_is_whitespace},
    {"stringEquals", SecondOperand::Value, compare_strings, Order::Equal},
    {"stringLessThan", SecondOperand::Value, compare_strings, Order::Less},
    {"stringLessThanEquals", SecondOperand::Value, compare_strings, Order::LessEqual},
    {"stringGreaterThan", SecondOperand::Value, compare_strings, Order::Greater},
    {"stringGreaterThanEquals", SecondOperand::Value, compare_strings, Order::GreaterEqual},
    {"patternMatches", SecondOperand::Value, pattern_matches},
    {"numberEquals", SecondOperand::Value, compare_numbers, Order::Equal},
    {"numberLessThan", SecondOperand::Value, compare_numbers, Order::Less},
    {"numberLessThanEquals", SecondOperand::Value, compare_numbers, Order::LessEqual},
    {"numberGreaterThan", SecondOperand::Value, compare_numbers, Order::Greater},
    {"numberGreaterThanEquals", SecondOperand::Value, compare_numbers, Order::GreaterEqual},
    {"binaryExists", SecondOperand::None, binary_exists},
    {"fileExists", SecondOperand::None, file_exists},
    {"folderExists", SecondOperand::None, folder_exists},
    {"fileMD5Equals", SecondOperand::Path, file_hash_equals, Order::Equal, DigestAlgorithm::Md5},
    {"fileSHA1Equals", SecondOperand::Path, file_hash_equals, Order::Equal, DigestAlgorithm::Sha1},
    {"fileSHA256Equals", SecondOperand::Path, file_hash_equals, Order::Equal, DigestAlgorithm::Sha256},
    {"fileSHA512Equals", SecondOperand::Path, file_hash_equals, Order::Equal, DigestAlgorithm::Sha512},
}};

const Comparison* find_comparison(std::string_view key) {
  for (const Comparison& op : kComparisons) {
    if (op.key == key) return &op;
  }
  return nullptr;
}

bool is_logical(std::string_view key) {
  return std::find(kLogicalKeys.begin(), kLogicalKeys.end(), key) != kLogicalKeys.end();
}

bool is_operator(std::string_view key) { return is_logical(key) || find_comparison(key); }

std::string_view second_key(SecondOperand second) {
  return second == SecondOperand::Path ? "path" : "value";
}

std::vector<std::string> operator_keys_of(const json& node) {
  std::vector<std::string> keys;
  for (const auto& [key, unused] : node.items()) {
    if (is_operator(key)) keys.push_back(key);
  }
  return keys;
}

std::string all_operator_names() {
  std::string names;
  for (const Comparison& op : kComparisons) names += std::string(op.key) + ", ";
  return names + "and, or, not";
}

// The one-item list form of an `if` holds the mapping; anything else stays as it is.
const json& unwrap_list_form(const json& condition) {
  if (condition.is_array() && condition.size() == 1 && condition[0].is_object()) {
    return condition[0];
  }
  return condition;
}

// ---------------------------------------------------------------------------------------
// Shape checks

class ConditionChecker {
 public:
  ConditionChecker(bool allow_branches, std::vector<ConditionProblem>& problems)
      : allow_branches_(allow_branches), problems_(problems) {}

  void check_root(const json& condition) {
    if (!condition.is_array()) {
      check_node(condition, "", 0, /*is_root=*/true);
    } else if (condition.size() == 1) {
      check_node(condition[0], "/0", 0, /*is_root=*/true);
    } else {
      report("",
             "a condition list must hold exactly one condition mapping, found " +
                 std::to_string(condition.size()) + " items",
             "write one mapping; to require several conditions, list them under and: or or:");
    }
    check_branches_agree();
  }

 private:
  void report(std::string pointer, std::string message, std::string hint) {
    problems_.push_back({std::move(pointer), std::move(message), std::move(hint)});
  }

  void check_node(const json& node, const std::string& pointer, int depth, bool is_root) {
    if (!node.is_object()) {
      report(pointer,
             "a condition must be a mapping holding one operator, found " +
                 std::string(node.type_name()),
             "write e.g. `stringEquals: expected` with `value: actual`");
      return;
    }
    std::vector<std::string> operators = operator_keys_of(node);
    bool has_unknown_keys = check_keys(node, pointer, is_root);
    if (operators.size() > 1) {
      std::string listed;
      for (const std::string& key : operators) listed += (listed.empty() ? "" : ", ") + key;
      report(pointer, "a condition holds exactly one operator, found " + listed,
             "combine several conditions with and: [...] or or: [...]");
      return;
    }
    if (operators.empty()) {
      // Unknown keys were reported already; they are most likely the misspelt operator.
      if (!has_unknown_keys) {
        report(pointer, "the condition has no operator; expected one of: " + all_operator_names(),
               "e.g. `fileExists: /etc/hosts`");
      }
      return;
    }
    const std::string& key = operators.front();
    if (is_logical(key)) {
      check_logical(node, key, pointer, depth + 1);
    } else {
      check_comparison(node, *find_comparison(key), pointer);
    }
  }

  // Reports keys that are neither operators nor allowed companions; true if any.
  bool check_keys(const json& node, const std::string& pointer, bool is_root) {
    bool branches_here = is_root && allow_branches_;
    bool found_unknown = false;
    for (const auto& [key, item] : node.items()) {
      if (is_operator(key) || key == "value" || key == "path") continue;
      if (key == "then" || key == "else") {
        if (branches_here) {
          check_branch_value(item, pointer_to(pointer, key));
          branches_.push_back({key, item, pointer_to(pointer, key)});
        } else if (allow_branches_) {
          // Next to a nested operator of a step's if: AWSTOE runs such documents (an
          // Amazon-managed component has one), and the key can only mean the step's branch.
          check_branch_value(item, pointer_to(pointer, key));
          branches_.push_back({key, item, pointer_to(pointer, key)});
          problems_.push_back({pointer_to(pointer, key),
                               "'" + key + "' next to a nested operator applies to the whole if",
                               "write it next to the top operator of the if, where it belongs "
                               "(--warnings-as-errors refuses this)",
                               /*warning=*/true});
        } else {
          report(pointer_to(pointer, key),
                 "'" + key + "' is only allowed next to the top operator of a step's if",
                 is_root ? "Assert and other conditions have no then/else branches"
                         : "move then/else to the top level of the if");
        }
        continue;
      }
      found_unknown = true;
      report_unknown_key(key, pointer, branches_here);
    }
    return found_unknown;
  }

  void report_unknown_key(const std::string& key, const std::string& pointer, bool branches_here) {
    std::vector<std::string_view> candidates;
    for (const Comparison& op : kComparisons) candidates.push_back(op.key);
    candidates.insert(candidates.end(), {"and", "or", "not", "value", "path"});
    if (branches_here) candidates.insert(candidates.end(), {"then", "else"});

    std::string lowered = lowercase_ascii(key);
    std::string_view nearest;
    std::size_t best = std::string::npos;
    for (std::string_view candidate : candidates) {
      std::size_t distance = edit_distance(lowered, lowercase_ascii(candidate));
      if (distance < best) {
        best = distance;
        nearest = candidate;
      }
    }
    bool close_enough = best <= 3 && best * 2 < key.size();
    std::string message = "unknown key '" + key + "'";
    if (close_enough) message += "; did you mean " + std::string(nearest) + "?";
    message += " Allowed operators: " + all_operator_names();
    std::string hint = best == 0
                           ? "condition keys are case-sensitive: write " + std::string(nearest)
                           : "a condition holds one operator, plus value or path where "
                             "the operator compares two things";
    report(pointer_to(pointer, key), message, hint);
  }

  // then (or else) given more than once, with different values, says two things.
  void check_branches_agree() {
    for (std::size_t i = 0; i < branches_.size(); ++i)
      for (std::size_t k = 0; k < i; ++k)
        if (branches_[k].key == branches_[i].key && branches_[k].value != branches_[i].value) {
          report(branches_[i].pointer,
                 "'" + branches_[i].key + "' is given twice with different values (" +
                     branches_[k].value.dump() + " at " + branches_[k].pointer + ", " +
                     branches_[i].value.dump() + " here)",
                 "keep one, next to the top operator of the if");
          break;
        }
  }

  void check_branch_value(const json& value, const std::string& pointer) {
    bool valid = value.is_string() && std::find(kBranchValues.begin(), kBranchValues.end(),
                                                value.get<std::string>()) != kBranchValues.end();
    if (!valid) {
      report(pointer, "a branch must be Abort, Execute or Skip, found " + value.dump(),
             "the values are case-sensitive");
    }
  }

  void check_no_companions(const json& node, const std::string& key, const std::string& pointer,
                           std::string_view allowed) {
    for (std::string_view companion : {"value", "path"}) {
      if (companion != allowed && node.contains(companion)) {
        std::string uses = allowed.empty() ? "no second operand"
                                           : "'" + std::string(allowed) + "', not '" +
                                                 std::string(companion) + "'";
        report(pointer_to(pointer, companion),
               "'" + std::string(companion) + "' is not used by " + key, key + " takes " + uses);
      }
    }
  }

  void check_logical(const json& node, const std::string& key, const std::string& pointer,
                     int level) {
    check_no_companions(node, key, pointer, "");
    std::string operand_pointer = pointer_to(pointer, key);
    // Reported once, at the first level past the limit, not again for each deeper level.
    if (level == kMaxLogicalDepth + 1) {
      report(operand_pointer,
             "logical operators are nested " + std::to_string(level) + " levels deep; at most " +
                 std::to_string(kMaxLogicalDepth) + " are allowed",
             "flatten the expression: and/or take any number of conditions");
    }
    const json& operand = node[key];
    if (key == "not") {
      if (operand.is_object()) {
        check_node(operand, operand_pointer, level, false);
      } else if (operand.is_array() && operand.size() == 1) {
        check_node(operand[0], pointer_to(operand_pointer, 0), level, false);
      } else {
        report(operand_pointer, "not takes exactly one condition (a mapping or a one-item list)",
               "to negate several conditions, wrap them: not: {and: [...]}");
      }
      return;
    }
    if (!operand.is_array() || operand.size() < 2) {
      report(operand_pointer, key + " takes a list of at least 2 conditions",
             operand.is_array() ? "with one condition, write it without " + key
                                : "write " + key + ": followed by a list of conditions");
      if (!operand.is_array()) return;
    }
    for (std::size_t i = 0; i < operand.size(); ++i) {
      check_node(operand[i], pointer_to(operand_pointer, i), level, false);
    }
  }

  void check_comparison(const json& node, const Comparison& op, const std::string& pointer) {
    std::string key(op.key);
    check_scalar(node[key], pointer_to(pointer, key));
    if (op.second == SecondOperand::None) {
      check_no_companions(node, key, pointer, "");
    } else {
      std::string companion(second_key(op.second));
      check_no_companions(node, key, pointer, companion);
      if (node.contains(companion)) {
        check_scalar(node[companion], pointer_to(pointer, companion));
      } else {
        report(pointer, key + " needs '" + companion + "'",
               op.second == SecondOperand::Path ? "add path: <the file to hash>"
                                                : "add value: <the value under test>");
      }
    }
    if (op.key == "patternMatches") check_pattern(node[key], pointer_to(pointer, key));
  }

  void check_scalar(const json& operand, const std::string& pointer) {
    if (operand.is_string() || operand.is_number() || operand.is_boolean()) return;
    std::string hint = "use a string, a number or a boolean";
    if (operand.is_null()) hint = "the value is missing; write '' for an empty string";
    if (looks_like_unquoted_expression(operand)) {
      hint =
          "YAML read an unquoted {{ ... }} as a mapping: quote values that start with {{, "
          "e.g. '{{ build.step.outputs.stdout }}'";
    }
    report(pointer,
           "the operand must be a string, number or boolean, found " +
               std::string(operand.type_name()),
           hint);
  }

  // `{{ x }}` unquoted parses as {{x: null}: null}; whatever the key became, it is a
  // mapping with one key whose value is null.
  static bool looks_like_unquoted_expression(const json& operand) {
    return operand.is_object() && operand.size() == 1 && operand.begin()->is_null();
  }

  void check_pattern(const json& pattern, const std::string& pointer) {
    if (!(pattern.is_string() || pattern.is_number()) || is_expression_text(pattern)) return;
    RE2 regex(to_text(pattern), pattern_options());
    if (!regex.ok()) {
      report(pointer, "invalid regular expression: " + regex.error(),
             "patternMatches uses RE2 syntax: no backreferences or look-around");
    }
  }

  struct BranchKey {
    std::string key;
    json value;
    std::string pointer;
  };

  bool allow_branches_;
  std::vector<ConditionProblem>& problems_;
  std::vector<BranchKey> branches_;  // every then/else seen, root and nested
};

// ---------------------------------------------------------------------------------------
// Evaluation (of a condition whose shape was checked)

ConditionOutcome evaluate_node(const json& node);

ConditionOutcome evaluate_logical(const std::string& key, const json& operand) {
  if (key == "not") {
    ConditionOutcome inner = evaluate_node(operand.is_array() ? operand[0] : operand);
    if (!inner.error.empty()) return inner;
    return {!inner.value, "", "not -> " + verdict_text(!inner.value) + " (" + inner.detail + ")"};
  }
  // and stops at the first false item, or at the first true one.
  bool stop_on = key == "or";
  for (std::size_t i = 0; i < operand.size(); ++i) {
    ConditionOutcome item = evaluate_node(operand[i]);
    if (!item.error.empty()) return item;
    if (item.value == stop_on) {
      return {stop_on, "",
              key + " -> " + verdict_text(stop_on) + " at item " + std::to_string(i + 1) + " (" +
                  item.detail + ")"};
    }
  }
  return {!stop_on, "",
          key + " -> " + verdict_text(!stop_on) + " (all " + std::to_string(operand.size()) +
              " items " + verdict_text(!stop_on) + ")"};
}

ConditionOutcome evaluate_node(const json& node) {
  std::string key = operator_keys_of(node).front();
  if (is_logical(key)) return evaluate_logical(key, node[key]);
  const Comparison& op = *find_comparison(key);
  static const json kNull;
  const json& second =
      op.second == SecondOperand::None ? kNull : node.at(std::string(second_key(op.second)));
  return op.evaluate(op, node[key], second);
}

}  // namespace

std::vector<ConditionProblem> check_condition(const nlohmann::json& condition,
                                              bool allow_branches) {
  std::vector<ConditionProblem> problems;
  try {
    ConditionChecker(allow_branches, problems).check_root(condition);
  } catch (const std::exception& e) {
    problems.push_back(
        {"", std::string("internal error while checking the condition: ") + e.what(), ""});
  }
  return problems;
}

ConditionOutcome evaluate_condition(const nlohmann::json& condition) {
  try {
    std::vector<ConditionProblem> problems = check_condition(condition, true);
    std::erase_if(problems, [](const ConditionProblem& p) { return p.warning; });
    if (!problems.empty()) {
      const ConditionProblem& first = problems.front();
      std::string where = first.pointer.empty() ? "" : " at " + first.pointer;
      std::string more =
          problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : "";
      return {false, "invalid condition" + where + ": " + first.message + more, ""};
    }
    return evaluate_node(unwrap_list_form(condition));
  } catch (const std::exception& e) {
    return {false, std::string("condition evaluation failed: ") + e.what(), ""};
  }
}

namespace {

// The first `key` (then/else) next to an operator nested in `node`, depth first.
const json* nested_branch(const json& node, const char* key) {
  if (!node.is_object()) return nullptr;
  for (std::string_view logical : kLogicalKeys) {
    auto it = node.find(std::string(logical));
    if (it == node.end()) continue;
    const json& operand = *it;
    std::vector<const json*> items;
    if (operand.is_object()) items.push_back(&operand);
    if (operand.is_array())
      for (const json& item : operand) items.push_back(&item);
    for (const json* item : items) {
      if (item->is_object() && item->contains(key)) return &(*item)[key];
      if (const json* deeper = nested_branch(*item, key)) return deeper;
    }
  }
  return nullptr;
}

}  // namespace

std::string condition_branch(const nlohmann::json& if_value, bool verdict) {
  std::string fallback = verdict ? "Execute" : "Skip";
  try {
    const json& node = unwrap_list_form(if_value);
    const char* key = verdict ? "then" : "else";
    if (!node.is_object()) return fallback;
    const json* written = node.contains(key) ? &node[key] : nested_branch(node, key);
    if (!written || !written->is_string()) return fallback;
    std::string branch = written->get<std::string>();
    bool known =
        std::find(kBranchValues.begin(), kBranchValues.end(), branch) != kBranchValues.end();
    return known ? branch : fallback;
  } catch (const std::exception&) {
    return fallback;
  }
}

std::vector<std::string_view> condition_operator_names() {
  std::vector<std::string_view> names;
  for (const Comparison& op : kComparisons) names.push_back(op.key);
  names.insert(names.end(), kLogicalKeys.begin(), kLogicalKeys.end());
  return names;
}

}  // namespace kiln
