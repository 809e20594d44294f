#include "agent/document/yaml_pitfalls.h"

#include <algorithm>
#include <array>

namespace kiln {
namespace {

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A value's line cut at byte `at`: what leads to the value ("- ", "path: ") and the
// value's text to the end of the line.
struct SplitLine {
  std::string lead;
  std::string_view rest;
};

std::optional<SplitLine> split_at(std::string_view line, size_t at) {
  if (at > line.size()) return std::nullopt;
  std::string_view lead = line.substr(0, at);
  size_t first = lead.find_first_not_of(" \t");
  std::string shown = first == std::string_view::npos ? std::string() : std::string(lead.substr(first));
  return SplitLine{std::move(shown), trim_right(line.substr(at))};
}

// True when what leads to a value is a list item's '-' or a key's ':' (so the value
// starts there), not text of an enclosing flow collection.
bool starts_value(std::string_view lead) {
  lead = trim_right(lead);
  return lead.empty() || lead.back() == '-' || lead.back() == ':';
}

// "quote the whole line: - 'text' (or ...)": the line rewritten.
std::string quote_the_line(const SplitLine& split) {
  return "quote the whole line: " + split.lead + yaml_quoted(split.rest) +
         " (or write it as a block scalar: '|' and the text on the next line, indented)";
}

std::string single_quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// A block map's first key on the line: where its ':' is (npos if not found before a comment).
size_t key_colon(std::string_view rest) {
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '#' && i > 0 && (rest[i - 1] == ' ' || rest[i - 1] == '\t')) return std::string_view::npos;
    if (rest[i] == ':' && (i + 1 == rest.size() || rest[i + 1] == ' ' || rest[i + 1] == '\t')) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::string yaml_quoted(std::string_view text) {
  if (text.find('\'') != std::string_view::npos && text.find('"') == std::string_view::npos &&
      text.find('\\') == std::string_view::npos)
    return "\"" + std::string(text) + "\"";
  return single_quoted(text);
}

std::optional<YamlPitfall> explain_not_text(const LoadedDocument& doc, const std::string& pointer,
                                            const nlohmann::json& value) {
  const SourceEntry* entry = doc.source_map.find(pointer);
  if (!entry || entry->line <= 0 || entry->column <= 0) return std::nullopt;
  std::string line = doc.source_line(entry->line);
  size_t at = static_cast<size_t>(entry->column - 1);
  std::optional<SplitLine> split = split_at(line, at);
  if (!split || split->rest.empty() || !starts_value(line.substr(0, at))) return std::nullopt;
  std::string_view rest = split->rest;
  YamlPitfall pitfall{entry->line, entry->column, ""};
  if (value.is_object() && rest[0] == '{') {
    pitfall.hint = "YAML read the '{' that starts this unquoted value as a flow map ({key: value}); " +
                   quote_the_line(*split);
  } else if (value.is_array() && rest[0] == '[') {
    pitfall.hint = "YAML read the '[' that starts this unquoted value as a flow list ([a, b]); " +
                   quote_the_line(*split);
  } else if (value.is_object()) {
    if (rest[0] == '"' || rest[0] == '\'' || rest[0] == '?') return std::nullopt;  // a key written as one
    size_t colon = key_colon(rest);
    if (colon == std::string_view::npos) return std::nullopt;
    pitfall.column += static_cast<int>(colon);
    pitfall.hint = "YAML read this line as a map with the key " + single_quoted(trim_right(rest.substr(0, colon))) +
                   ": in unquoted text, ':' followed by a space or a line end separates a key from its value; " +
                   quote_the_line(*split);
  } else if (value.is_null() && rest[0] == '#') {
    pitfall.hint = "YAML read '#' after a space as the start of a comment, so this value is empty; " +
                   quote_the_line(*split);
  } else if (value.is_null() && (rest == "~" || rest == "null" || rest == "Null" || rest == "NULL")) {
    pitfall.hint = "YAML reads an unquoted " + std::string(rest) + " as null (no value), not as text; quote it: " +
                   split->lead + single_quoted(rest);
  } else {
    return std::nullopt;
  }
  return pitfall;
}

std::optional<DroppedText> explain_dropped_text(const LoadedDocument& doc, const std::string& pointer) {
  const SourceEntry* entry = doc.source_map.find(pointer);
  if (!entry || entry->line <= 0 || entry->column <= 0) return std::nullopt;
  if (entry->comment_column == 0 && entry->property == 0) return std::nullopt;
  std::string line = doc.source_line(entry->line);
  size_t at = static_cast<size_t>(entry->column - 1);
  std::optional<SplitLine> split = split_at(line, at);
  if (!split || split->rest.empty() || !starts_value(line.substr(0, at))) return std::nullopt;
  if (entry->comment_column > 0) {
    size_t hash = static_cast<size_t>(entry->comment_column - 1);
    if (hash <= at || hash >= line.size()) return std::nullopt;
    std::string kept(trim_right(std::string_view(line).substr(at, hash - at)));
    return DroppedText{entry->line, entry->comment_column,
                       "' #' starts a YAML comment: the rest of the line is not part of the value",
                       "the value ends before the comment: " + single_quoted(kept) + "; to keep the rest, " +
                           quote_the_line(*split)};
  }
  std::string_view rest = split->rest;
  if (rest[0] != entry->property) return std::nullopt;
  std::string_view name = rest.substr(0, std::min(rest.find_first_of(" \t"), rest.size()));
  bool tag = entry->property == '!';
  return DroppedText{entry->line, entry->column,
                     std::string("'") + std::string(name) + "' before the value is a YAML " +
                         (tag ? "tag" : "anchor") + ": YAML dropped it from the value",
                     std::string("an unquoted value starting with '") + entry->property + "' begins with a YAML " +
                         (tag ? "tag (!type)" : "anchor (&name)") + "; to keep it, " + quote_the_line(*split)};
}

std::optional<std::string> explain_not_boolean(const LoadedDocument& doc, const std::string& pointer,
                                               const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const SourceEntry* entry = doc.source_map.find(pointer);
  if (!entry || !entry->plain_scalar) return std::nullopt;
  std::string text = value.get<std::string>();
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::array<const char*, 6> words = {"yes", "no", "on", "off", "y", "n"};
  if (std::find(words.begin(), words.end(), lower) == words.end()) return std::nullopt;
  bool truth = lower == "yes" || lower == "on" || lower == "y";
  return "YAML 1.1 tools read an unquoted " + text + " as a boolean; kiln reads YAML 1.2, where only true and false "
         "are booleans and " + text + " is text; write " + (truth ? "true" : "false");
}

std::optional<YamlPitfall> explain_syntax_error(std::string_view line, int column) {
  if (column <= 0) return std::nullopt;
  size_t at = static_cast<size_t>(column - 1);
  auto special = [](char c) { return c == '@' || c == '`' || c == '%' || c == '*' || c == '&'; };
  // yaml-cpp points after '*' or '&' when no name follows them.
  if ((at >= line.size() || !special(line[at])) && at > 0 && at - 1 < line.size() &&
      (line[at - 1] == '*' || line[at - 1] == '&'))
    --at;
  if (at < line.size() && line[at] == ':') {
    // 'path: /tmp/a: b': a second ': ' on a key's line.
    size_t first = key_colon(line.substr(0, at));
    size_t value = first == std::string_view::npos ? first : line.find_first_not_of(" \t", first + 1);
    if (value == std::string_view::npos || value >= at) return std::nullopt;
    std::optional<SplitLine> split = split_at(line, value);
    if (!split || split->rest.empty() || split->rest[0] == '"' || split->rest[0] == '\'') return std::nullopt;
    return YamlPitfall{0, static_cast<int>(at) + 1,
                       "in unquoted text, ':' followed by a space separates a key from its value, and this value "
                       "already has a key; quote the value: " +
                           split->lead + yaml_quoted(split->rest)};
  }
  if (at >= line.size() || !special(line[at]) || !starts_value(line.substr(0, at))) {
    // '[ -f x ] && ...': a flow list (or map) that ends before the line does.
    size_t first = line.find_first_not_of(" \t-");
    while (first != std::string_view::npos && first < at && line[first] != '[' && line[first] != '{') {
      size_t colon = line.find(": ", first);  // 'key: [ ...'
      first = colon == std::string_view::npos || colon >= at ? std::string_view::npos : line.find_first_not_of(" \t", colon + 1);
    }
    if (first == std::string_view::npos || first >= at || !starts_value(line.substr(0, first))) return std::nullopt;
    std::optional<SplitLine> split = split_at(line, first);
    if (!split) return std::nullopt;
    return YamlPitfall{0, static_cast<int>(first) + 1,
                       std::string("YAML read the '") + line[first] + "' that starts this unquoted value as a flow " +
                           (line[first] == '[' ? "list ([a, b])" : "map ({key: value})") +
                           ", which must end the value; " + quote_the_line(*split)};
  }
  std::optional<SplitLine> split = split_at(line, at);
  if (!split) return std::nullopt;
  std::string rule;
  switch (line[at]) {
    case '@': rule = "'@' is reserved in YAML and cannot start an unquoted value"; break;
    case '`': rule = "'`' (backquote) is reserved in YAML and cannot start an unquoted value"; break;
    case '%': rule = "'%' starts a YAML directive and cannot start an unquoted value"; break;
    case '*': rule = "'*' at the start of an unquoted value is a YAML alias (*name repeats an anchored value)"; break;
    default: rule = "'&' at the start of an unquoted value is a YAML anchor (&name labels a value)"; break;
  }
  return YamlPitfall{0, static_cast<int>(at) + 1, rule + "; " + quote_the_line(*split)};
}

}  // namespace kiln
