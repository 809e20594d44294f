// YAML's rules for unquoted text, explained where they bite: a command line that YAML
// read as a map (an unquoted ': '), a flow map or list ('{', '['), null ('~'), a comment
// (' #') or a tag ('!') that dropped part of the line, a character YAML refuses at the
// start of a value ('@', '`', '%', '*', '&'). Each explanation names the rule, shows the
// line rewritten (quoted), and points at the character that caused it.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/document/source_map.h"

namespace kiln {

struct YamlPitfall {
  int line = 0;    // the character that caused it, 1-based
  int column = 0;
  std::string hint;
};

// Why `value` (a map, a list or null) at `pointer` is not the text the schema wanted,
// when an unquoted scalar on its line explains it.
std::optional<YamlPitfall> explain_not_text(const LoadedDocument& doc, const std::string& pointer,
                                            const nlohmann::json& value);

// A string at `pointer` from which YAML silently dropped part of its line: a comment
// after the text, or a tag before it. `message` is what was dropped.
struct DroppedText {
  int line = 0, column = 0;
  std::string message;
  std::string hint;
};
std::optional<DroppedText> explain_dropped_text(const LoadedDocument& doc, const std::string& pointer);

// A plain `yes`/`no`/`on`/`off` where the schema wanted a boolean.
std::optional<std::string> explain_not_boolean(const LoadedDocument& doc, const std::string& pointer,
                                               const nlohmann::json& value);

// A YAML syntax error at `column` (1-based) of `line` caused by a character that cannot
// start an unquoted value ('@', '`', '%', '*', '&'): the hint and that character's
// column (`line` is left 0), or nothing.
std::optional<YamlPitfall> explain_syntax_error(std::string_view line, int column);

// `text` as a single-quoted YAML scalar (a double-quoted one when it holds a ' but no
// " or \).
std::string yaml_quoted(std::string_view text);

}  // namespace kiln
