// The {{ ... }} expressions inside document strings: finding and classifying them.
// Resolution happens in the engine; validation uses this to check references.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class ExpressionKind {
  Variable,    // {{ Name }}: a parameter or constant
  LoopValue,   // {{ loop.index }}, {{ loop.value }}, {{ <loopName>.index|value }}
  Chaining,    // {{ phase.step.inputs[i].key }} / {{ phase.step.outputs.key }}
  Environment, // {{ env:NAME }}
  Context,     // {{ context:KEY }}
  Ssm,         // {{ aws:ssm:/name }} and {{ aws:ssm:resolve(x) }}
  Imds,        // {{ aws:imds:path }}
  Invalid,     // anything else: not an expression; the text stays as written (as AWSTOE
               // leaves it), and validation warns
};

struct Expression {
  size_t begin = 0;   // offset of "{{" in the string
  size_t end = 0;     // offset just past "}}"
  std::string text;   // the inside, trimmed
  ExpressionKind kind = ExpressionKind::Invalid;
  // Chaining parts; LoopValue uses `phase` for the loop name and `key` for index|value.
  std::string phase, step, section, key;
  std::optional<size_t> index;
  bool unterminated = false;  // a "{{" with no "}}" before the next "{{" or the end
};

// Every {{ }} in `s`, in order. A "{{" with no "}}" before the next "{{" (or the end of
// the string) yields an unterminated Invalid expression that ends there, and the
// search goes on from the next "{{".
std::vector<Expression> find_expressions(std::string_view s);

// A string value holding "{{" (an expression, or the start of a malformed one). Such a
// value is checked again once resolved, so validation leaves it alone.
bool is_expression_text(const nlohmann::json& value);

// Whether any string in `value` (lists and maps included) holds "{{".
bool holds_expression(const nlohmann::json& value);

// The context: keys AWSTOE documents.
const std::vector<std::string>& context_keys();

}  // namespace kiln
