#include "agent/document/yaml_loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>
#include <sstream>

#include "agent/base/utf8.h"
#include "agent/document/yaml_pitfalls.h"

namespace kiln {
namespace {

// Finds the first NUL byte or invalid UTF-8 sequence; yaml-cpp silently stops at a
// NUL and mangles bad UTF-8, so these are caught before it sees the text.
bool check_bytes(const std::string& path, const std::string& text, Diagnostics& diagnostics) {
  int line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) {
      diagnostics.push_back({Severity::Error, {path, line, column}, "the document contains a NUL byte",
                             "component documents are text; remove binary content", DiagnosticCode::Unreadable});
      return false;
    }
    size_t length = utf8_sequence_length(text, i);
    bool ok = length != 0;
    if (!ok) {
      diagnostics.push_back({Severity::Error, {path, line, column}, "the document is not valid UTF-8",
                             "save the file as UTF-8", DiagnosticCode::Unreadable});
      return false;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += length;
  }
  return true;
}

// A '%' in column 0 after content has begun cannot start a YAML directive (those come
// before '---') nor a plain scalar; yaml-cpp lets it through, usually an unrendered
// template line ("%{ if ... }").
bool check_stray_directives(const std::string& path, std::string_view text, Diagnostics& diagnostics) {
  bool content = false;
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    size_t end = text.find('\n', pos);
    std::string_view l = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    if (l.rfind("---", 0) == 0) {
      content = false;
      continue;
    }
    if (!l.empty() && l[0] == '%' && content) {
      diagnostics.push_back({Severity::Error, {path, line, 1},
                             "YAML syntax error: a line starting with '%' inside a document",
                             "'%' starts a YAML directive, allowed only before '---'; is this an unrendered "
                             "template (e.g. Terraform's %{ if }) ?",
                             DiagnosticCode::Syntax});
      return false;
    }
    size_t first = l.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && l[first] != '#' && l[0] != '%') content = true;
  }
  return true;
}

// YAML 1.2 core schema typing of a plain (unquoted) scalar.
nlohmann::json type_plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  const char* digits = begin + ((*begin == '-' || *begin == '+') ? 1 : 0);
  if (digits < end && std::all_of(digits, end, [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(*begin == '+' ? begin + 1 : begin, end, value);
    if (ec == std::errc() && ptr == end) return value;
    uint64_t uvalue = 0;
    auto [uptr, uec] = std::from_chars(*begin == '+' ? begin + 1 : begin, end, uvalue);
    if (uec == std::errc() && uptr == end) return uvalue;
    return s;  // too large for any integer type: keep the text
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(begin + 2, end, value, s[1] == 'x' ? 16 : 8);
    if (ec == std::errc() && ptr == end) return value;
    return s;
  }
  // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? ; .inf/.nan stay text
  // (JSON cannot hold them).
  const char* p = digits;
  bool mantissa = false;
  while (p < end && *p >= '0' && *p <= '9') ++p, mantissa = true;
  if (p < end && *p == '.') {
    ++p;
    while (p < end && *p >= '0' && *p <= '9') ++p, mantissa = true;
  }
  if (mantissa && p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    const char* exponent = p;
    while (p < end && *p >= '0' && *p <= '9') ++p;
    if (p == exponent) mantissa = false;
  }
  if (mantissa && p == end) {
    double value = 0;
    auto [ptr, ec] = std::from_chars(*begin == '+' ? begin + 1 : begin, end, value);
    if (ec == std::errc() && ptr == end) return value;
  }
  return s;
}

// The lines of `text` from byte `pos` on, one at a time, without their line break.
class LineReader {
 public:
  LineReader(std::string_view text, size_t pos) : text_(text), pos_(pos) {}
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_;
};

size_t leading_spaces(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Skips the line breaks and spaces that folding put between two lines of a value, up
// to where `part` starts; false if it does not.
bool find_folded(const std::string& value, size_t& cursor, std::string_view part) {
  while (cursor < value.size() && value.compare(cursor, part.size(), part) != 0 &&
         (value[cursor] == ' ' || value[cursor] == '\n'))
    ++cursor;
  return value.compare(cursor, part.size(), part) == 0;
}

// Where each line of a `|` or `>` block scalar is in its value. `pos` is at the
// indicator, on 0-based `line`. The content indentation is that of the first non-empty
// line, less the spaces the value itself starts with (an explicit indentation
// indicator leaves those in the value).
std::vector<TextSpan> block_scalar_lines(std::string_view text, size_t pos, int line, const std::string& value) {
  bool literal = text[pos] == '|';
  if (value.find_first_not_of('\n') == std::string::npos) return {};  // no text to point into
  size_t header_end = text.find('\n', pos);
  if (header_end == std::string_view::npos) return {};
  size_t indent = 0;
  {
    LineReader reader(text, header_end + 1);
    std::string_view l;
    while (reader.next(l) && trim_right(l).empty()) {
    }
    size_t first = value.find_first_not_of('\n');
    size_t value_spaces = first == std::string::npos ? 0 : leading_spaces(std::string_view(value).substr(first));
    size_t written = leading_spaces(l);
    if (written <= value_spaces) return {};
    indent = written - value_spaces;
  }
  std::vector<TextSpan> spans;
  size_t cursor = 0;
  LineReader reader(text, header_end + 1);
  std::string_view l;
  for (int number = line + 2; reader.next(l); ++number) {
    bool blank = l.find_first_not_of(' ') == std::string_view::npos;
    if (!blank && leading_spaces(l) < indent) break;  // the scalar has ended
    std::string_view content = l.size() > indent ? l.substr(indent) : std::string_view();
    if (literal) {
      if (value.compare(cursor, content.size(), content) != 0) return {};
    } else if (!content.empty() && !find_folded(value, cursor, content)) {
      return {};
    }
    if (!content.empty()) spans.push_back({cursor, content.size(), number, static_cast<int>(indent) + 1});
    cursor += content.size();
    if (literal && cursor < value.size() && value[cursor] == '\n') ++cursor;
  }
  if (value.find_first_not_of('\n', cursor) != std::string::npos) return {};  // not all of it was found
  return spans;
}

// Where the first unescaped `quote` is in `s` (npos if none); `s` starts inside the value.
// With `stop_at_line_end`, a line break before it is returned instead.
size_t closing_quote(std::string_view s, char quote, bool stop_at_line_end = false) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (stop_at_line_end && s[i] == '\n') return i;
    if (quote == '"' && s[i] == '\\') ++i;
    else if (quote == '\'' && s[i] == '\'' && i + 1 < s.size() && s[i + 1] == '\'') ++i;
    else if (s[i] == quote) return i;
  }
  return std::string_view::npos;
}

// Where each line of a quoted or plain scalar folded over several lines is in its
// value. Lines are matched up to the first escape (\ in double quotes, '' in single
// ones): past it the mapping is not one to one, and the spans stop there.
std::vector<TextSpan> flow_scalar_lines(std::string_view text, size_t pos, int line, int column,
                                        const std::string& value) {
  char quote = text[pos] == '"' || text[pos] == '\'' ? text[pos] : 0;
  size_t start = pos + (quote ? 1 : 0);
  // A one-line scalar (nearly all of them) is told without looking for the end of its
  // line: a minified JSON document is one line of many megabytes.
  if (!quote && text.substr(start, value.size()) == value) return {};
  if (quote) {
    size_t close = closing_quote(text.substr(start), quote, /*stop_at_line_end=*/true);
    if (close != std::string_view::npos && text[start + close] == quote) return {};
  }
  LineReader reader(text, start);
  std::string_view l;
  if (!reader.next(l)) return {};
  auto escaped = [&](std::string_view part) {
    return quote == '"' ? part.find('\\') != std::string_view::npos
                        : quote == '\'' && part.find("''") != std::string_view::npos;
  };
  std::vector<TextSpan> spans;
  std::string_view part = trim_right(l);
  if (escaped(part) || value.compare(0, part.size(), part) != 0) return {};
  spans.push_back({0, part.size(), line + 1, column + (quote ? 1 : 0)});
  size_t cursor = part.size();
  for (int number = line + 2; cursor < value.size() && reader.next(l); ++number) {
    size_t lead = l.find_first_not_of(" \t");
    if (lead == std::string_view::npos) continue;  // an empty line: a line break in the value
    part = l.substr(lead);
    bool last = false;
    if (quote) {
      if (size_t q = closing_quote(part, quote); q != std::string_view::npos) {
        part = part.substr(0, q);
        last = true;
      }
    }
    if (!last) part = trim_right(part);
    if (escaped(part)) break;
    size_t at = cursor;
    if (!find_folded(value, at, part)) {
      // A plain scalar may end inside this line (a comment, a flow ',' or ']' after it).
      at = cursor;
      while (at < value.size() && (value[at] == ' ' || value[at] == '\n')) ++at;
      if (quote || at >= value.size() || part.substr(0, value.size() - at) != std::string_view(value).substr(at)) break;
      part = part.substr(0, value.size() - at);
    }
    spans.push_back({at, part.size(), number, static_cast<int>(lead) + 1});
    cursor = at + part.size();
    if (last) break;
  }
  return spans;
}

// Where each line of the non-plain (`plain` false) or plain scalar at `mark` is in its
// value; empty for a one-line scalar or when they cannot be matched.
std::vector<TextSpan> scalar_lines(std::string_view text, const YAML::Mark& mark, const std::string& value,
                                   bool plain) {
  if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text.size()) return {};
  size_t pos = static_cast<size_t>(mark.pos);
  int column = mark.column + 1;
  // An anchor (&name) or a tag (!tag) may come before the value on its line.
  while (pos < text.size() && (text[pos] == '&' || text[pos] == '!')) {
    size_t end = text.find_first_of(" \t\n", pos);
    if (end == std::string_view::npos || text[end] == '\n') return {};
    end = text.find_first_not_of(" \t", end);
    if (end == std::string_view::npos) return {};
    column += static_cast<int>(end - pos);
    pos = end;
  }
  char c = text[pos];
  if (c == '|' || c == '>') return plain ? std::vector<TextSpan>{} : block_scalar_lines(text, pos, mark.line, value);
  if (plain == (c == '"' || c == '\'')) return {};
  return flow_scalar_lines(text, pos, mark.line, column, value);
}

struct Position {
  int line = 1, column = 1;
};

// yaml-cpp gives an empty list item ('-' alone, or '- # comment') the mark of the next
// token, often on a later line. The item's own '-' is on the nearest line above that is
// not blank nor a comment, when that line is only dashes and perhaps a comment; the
// position is that comment's '#', or the last '-'.
std::optional<Position> empty_item_dash(std::string_view text, const YAML::Mark& mark) {
  if (mark.pos < 0 || static_cast<size_t>(mark.pos) > text.size() || mark.line <= 0 || mark.column < 0 ||
      mark.column > mark.pos)
    return std::nullopt;
  size_t start = static_cast<size_t>(mark.pos) - static_cast<size_t>(mark.column);  // the mark's line
  if (text.substr(start, static_cast<size_t>(mark.column)).find_first_not_of(' ') != std::string_view::npos)
    return std::nullopt;  // something before the mark on its line (a flow list, say)
  int line = mark.line;    // 0-based, of the line being looked at
  while (start > 0 && line > 0) {
    size_t end = start - 1;  // the '\n' ending the line above
    size_t above = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
    start = above == std::string_view::npos ? 0 : above + 1;
    --line;
    std::string_view l = text.substr(start, end - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    size_t first = l.find_first_not_of(' ');
    if (first == std::string_view::npos || l[first] == '#') continue;
    size_t i = first, last_dash = std::string_view::npos;
    while (i < l.size() && l[i] == '-' && (i + 1 == l.size() || l[i + 1] == ' ' || l[i + 1] == '\t')) {
      last_dash = i;
      i = l.find_first_not_of(" \t", i + 1);
      if (i == std::string_view::npos) i = l.size();
    }
    if (last_dash == std::string_view::npos || (i < l.size() && l[i] != '#')) return std::nullopt;
    return Position{line + 1, static_cast<int>(i < l.size() ? i : last_dash) + 1};
  }
  return std::nullopt;
}

// Builds the JSON and the source map straight from the parser's events, in one pass
// (yaml-cpp's Node tree is never built). An alias leaves a placeholder and adds the
// anchored value's size to the count; the copies are made at the end (expand_aliases),
// once the document is known to be within the limits, so an alias bomb is refused in
// milliseconds. A structural error stops the parse (by throwing Stop); a duplicate key
// is reported and the parse goes on, so that all of them are listed.
class Converter : public YAML::EventHandler {
 public:
  struct Stop {};

  Converter(const std::string& path, Diagnostics& diagnostics, const LoadLimits& limits, std::string_view text)
      : path_(path), diagnostics_(diagnostics), limits_(limits), text_(text) {}

  bool duplicate() const { return duplicate_; }
  bool started() const { return started_; }

  // The finished document; the source entries go into `map`.
  nlohmann::json take(SourceMap& map) {
    expand_aliases();
    map.reserve(entries_.size());
    for (auto& [pointer, entry] : entries_) map.set(std::move(pointer), std::move(entry));
    entries_.clear();
    return std::move(root_);
  }

  void OnDocumentStart(const YAML::Mark&) override { started_ = true; }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (expecting_key()) error(mark, "a map key must be a plain string", "write the key as text");
    Node node = start_node(mark);
    node.entry.plain_scalar = true;
    if (!stack_.empty() && !stack_.back().is_map) {
      if (std::optional<Position> dash = empty_item_dash(text_, mark)) {
        node.entry.line = dash->line;
        node.entry.column = dash->column;
      }
    }
    finish_node(std::move(node), nullptr, anchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (expecting_key()) {
      take_key(mark, value);
      if (anchor) remember_key_anchor(anchor, value);
      return;
    }
    Node node = start_node(mark);
    add_bytes(value.size(), mark);
    nlohmann::json result;
    if (tag == "!" || (!tag.empty() && tag != "?")) {
      // quoted (or explicitly tagged): always a string
      if (!quote_closed(mark)) {
        error(mark, "YAML syntax error: a quoted value is never closed",
              "close the quote, or escape the quotes inside the value");
      }
      check_escapes(value, mark);
      node.entry.lines = scalar_lines(text_, mark, value, false);
      node.entry.property = property_at(mark);
      result = value;
    } else {
      node.entry.plain_scalar = true;
      node.entry.raw = value;
      result = type_plain_scalar(value);
      if (result.is_string()) node.entry.lines = scalar_lines(text_, mark, value, true);
      node.entry.comment_column = comment_after(mark, value);
      node.entry.property = property_at(mark);
    }
    finish_node(std::move(node), std::move(result), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      error(mark, "this alias refers to the value that contains it",
            "a YAML alias (*name) can only repeat a value that is complete before it");
    }
    const Anchor& target = it->second;
    if (expecting_key()) {
      if (target.key_text) take_key(mark, *target.key_text);
      else if (target.value.is_string()) take_key(mark, target.value.get<std::string>());
      else if (target.entry.plain_scalar && !target.value.is_null()) take_key(mark, target.entry.raw);
      else error(mark, "a map key must be a plain string", "write the key as text");
      return;
    }
    Node node = start_node(mark);
    // The alias stands for the anchored value's size (start_node counted one value
    // already). It is copied only at the end, once the whole document is known to be
    // within the limits: an alias bomb is refused without building anything.
    nodes_ += target.nodes - 1;
    bytes_ += target.bytes;
    check_expansion(mark);
    // The value keeps its mark (an alias is the same value written elsewhere), and the
    // key is this alias's key.
    node.entry = target.entry;
    node.entry.key_line = node.key_line;
    node.entry.key_column = node.key_column;
    if (target.value.is_null() && node.key_line > 0) {
      node.entry.line = node.key_line;
      node.entry.column = node.key_column;
    }
    if (!discarding() && !pending_discard_) sites_.push_back({node.pointer, anchor});
    node.copied = true;
    finish_node(std::move(node), nullptr, 0);  // a placeholder, filled by expand_aliases()
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    if (expecting_key()) error(mark, "a map key must be a plain string", "write the key as text");
    open(start_node(mark), nlohmann::json::array(), false, anchor);
  }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    if (expecting_key()) {
      error(mark, "a value starting with '{{' was read as a YAML mapping",
            "quote values that start with {{, e.g. '{{ MyParameter }}'");
    }
    open(start_node(mark), nlohmann::json::object(), true, anchor);
  }

  void OnSequenceEnd() override { close(); }
  void OnMapEnd() override { close(); }

 private:
  // A value being read: where it goes and what is known of it so far.
  struct Node {
    std::string pointer;
    int depth = 0;
    int key_line = 0, key_column = 0;  // of the key holding it, 0 in a list or at the root
    SourceEntry entry;
    size_t entries_begin = 0;  // its own entries (and its children's) start here
    size_t sites_begin = 0;    // the aliases inside it start here
    size_t nodes_before = 0, bytes_before = 0;
    bool copied = false;  // an alias: its size was added already
  };
  // An open map or list.
  struct Frame {
    Node node;
    nlohmann::json value;
    bool is_map = false;
    YAML::anchor_t anchor = 0;
    bool discard = false;  // the value of a duplicate key: read, then dropped
    bool have_key = false;
    std::string key;
    YAML::Mark key_mark;
    size_t index = 0;                     // next list index
    std::map<std::string, int> key_lines;  // first line of each key, for duplicates
  };
  struct Anchor {
    nlohmann::json value;  // with null placeholders where aliases are
    std::string pointer;
    SourceEntry entry;
    size_t entries_begin = 0, entries_end = 0;
    size_t sites_begin = 0, sites_end = 0;  // the aliases inside the anchored value
    size_t nodes = 0, bytes = 0;
    std::optional<std::string> key_text;  // an anchored map key
  };

  bool expecting_key() const { return !stack_.empty() && stack_.back().is_map && !stack_.back().have_key; }
  bool discarding() const { return !stack_.empty() && stack_.back().discard; }

  void take_key(const YAML::Mark& mark, const std::string& name) {
    Frame& frame = stack_.back();
    check_escapes(name, mark);
    add_bytes(name.size(), mark);
    frame.have_key = true;
    frame.key_mark = mark;
    frame.key = name;
    auto [it, inserted] = frame.key_lines.emplace(name, mark.line + 1);
    if (!inserted) {
      duplicate_key(mark, "duplicate key '" + name + "' (first defined at line " + std::to_string(it->second) + ")",
                    "remove one of the two, or rename it");
      frame.key.clear();
      pending_discard_ = true;
    }
  }

  void remember_key_anchor(YAML::anchor_t anchor, const std::string& name) {
    Anchor& a = anchors_[anchor];
    a.value = name;
    a.key_text = name;
    a.nodes = 1;
    a.bytes = name.size();
  }

  // Counts a value that starts at `mark`, checks the limits and works out its pointer.
  Node start_node(const YAML::Mark& mark) {
    Node node;
    if (!stack_.empty()) {
      const Frame& parent = stack_.back();
      node.depth = parent.node.depth + 1;
      if (parent.is_map) {
        node.pointer = pointer_append(parent.node.pointer, parent.key);
        node.key_line = parent.key_mark.line + 1;
        node.key_column = parent.key_mark.column + 1;
      } else {
        node.pointer = pointer_append(parent.node.pointer, parent.index);
      }
    }
    if (++nodes_ > limits_.max_nodes) check_expansion(mark);
    if (node.depth > limits_.max_depth) {
      error(mark, "the document nests deeper than " + std::to_string(limits_.max_depth) + " levels",
            "component documents need only a few levels of nesting");
    }
    node.entry.line = mark.line + 1;
    node.entry.column = mark.column + 1;
    node.entry.key_line = node.key_line;
    node.entry.key_column = node.key_column;
    node.entries_begin = entries_.size();
    node.sites_begin = sites_.size();
    node.nodes_before = nodes_ - 1;
    node.bytes_before = bytes_;
    return node;
  }

  void open(Node node, nlohmann::json value, bool is_map, YAML::anchor_t anchor) {
    bool discard = discarding() || pending_discard_;
    pending_discard_ = false;
    Frame frame;
    frame.node = std::move(node);
    frame.value = std::move(value);
    frame.is_map = is_map;
    frame.anchor = anchor;
    frame.discard = discard;
    stack_.push_back(std::move(frame));
  }

  void close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    pending_discard_ = frame.discard && !discarding();
    finish_node(std::move(frame.node), std::move(frame.value), frame.anchor);
  }

  // Puts a finished value in its place: its parent, or the root.
  void finish_node(Node node, nlohmann::json value, YAML::anchor_t anchor) {
    bool discard = discarding() || pending_discard_;
    pending_discard_ = false;
    // yaml-cpp gives a null value the mark of the next token, so use its key's mark.
    if (value.is_null() && node.key_line > 0 && !node.copied) {
      node.entry.line = node.key_line;
      node.entry.column = node.key_column;
    }
    if (!discard) entries_.emplace_back(node.pointer, node.entry);
    if (anchor) {
      Anchor& a = anchors_[anchor];
      a.value = value;
      a.pointer = node.pointer;
      a.entry = node.entry;
      a.entries_begin = node.entries_begin;
      a.entries_end = entries_.size();
      a.sites_begin = node.sites_begin;
      a.sites_end = sites_.size();
      a.nodes = nodes_ - node.nodes_before;
      a.bytes = bytes_ - node.bytes_before;
      a.key_text.reset();
    }
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.is_map) {
      if (!discard) parent.value[parent.key] = std::move(value);
      parent.have_key = false;
    } else {
      if (!discard) parent.value.push_back(std::move(value));
      ++parent.index;
    }
  }

  // An alias written in the document: where its placeholder is, and what it repeats.
  struct Site {
    std::string pointer;
    YAML::anchor_t anchor;
  };

  // The anchored value with the aliases inside it filled in (memoized: an anchor used by
  // many aliases is expanded once, then copied).
  const nlohmann::json& expanded_value(YAML::anchor_t id) {
    if (auto done = expanded_values_.find(id); done != expanded_values_.end()) return done->second;
    const Anchor& a = anchors_.at(id);
    nlohmann::json value = a.value;
    for (size_t i = a.sites_begin; i < a.sites_end; ++i) {
      const Site& site = sites_[i];
      value[nlohmann::json::json_pointer(site.pointer.substr(a.pointer.size()))] = expanded_value(site.anchor);
    }
    return expanded_values_.emplace(id, std::move(value)).first->second;
  }

  // The anchored value's source entries below it, by pointer relative to it, with the
  // aliases inside it expanded too (memoized like the values).
  const std::vector<std::pair<std::string, SourceEntry>>& expanded_entries(YAML::anchor_t id) {
    if (auto done = expanded_entries_.find(id); done != expanded_entries_.end()) return done->second;
    const Anchor& a = anchors_.at(id);
    std::vector<std::pair<std::string, SourceEntry>> out;
    for (size_t i = a.entries_begin; i < a.entries_end; ++i) {
      const auto& [pointer, entry] = entries_[i];
      if (pointer.size() > a.pointer.size()) out.emplace_back(pointer.substr(a.pointer.size()), entry);
    }
    for (size_t i = a.sites_begin; i < a.sites_end; ++i) {
      const Site& site = sites_[i];
      std::string at = site.pointer.substr(a.pointer.size());
      for (const auto& [pointer, entry] : expanded_entries(site.anchor)) out.emplace_back(at + pointer, entry);
    }
    return expanded_entries_.emplace(id, std::move(out)).first->second;
  }

  // Fills every alias's placeholder with a copy of what it repeats, and maps the copy's
  // values to where they were written. Within the limits by now (counted while reading).
  void expand_aliases() {
    for (const Site& site : sites_) {
      root_[nlohmann::json::json_pointer(site.pointer)] = expanded_value(site.anchor);
      for (const auto& [pointer, entry] : expanded_entries(site.anchor)) entries_.emplace_back(site.pointer + pointer, entry);
    }
    expanded_values_.clear();
    expanded_entries_.clear();
  }

  void add_bytes(size_t n, const YAML::Mark& mark) {
    bytes_ += n;
    if (bytes_ > limits_.max_expanded_bytes) check_expansion(mark);
  }

  void check_expansion(const YAML::Mark& mark) {
    if (nodes_ > limits_.max_nodes) {
      error(mark, "the document is too large: more than " + std::to_string(limits_.max_nodes) +
                      " values after expanding aliases",
            "YAML aliases (*name) that repeat large anchors multiply the document; write it out plainly");
    }
    if (bytes_ > limits_.max_expanded_bytes) {
      error(mark, "the document is too large: more than " + std::to_string(limits_.max_expanded_bytes) +
                      " bytes of text after expanding aliases",
            "YAML aliases (*name) that repeat large anchors multiply the document; write it out plainly");
    }
  }

  // The text was checked before parsing, but double-quoted escapes can still make a NUL
  // ("\0", "\x00") or a code point that is not valid Unicode ("\U00110000").
  void check_escapes(const std::string& value, const YAML::Mark& mark) {
    if (value.find('\0') != std::string::npos) {
      error(mark, "a quoted value holds a NUL character (an escape such as \\0 or \\x00)",
            "component documents are text; remove the NUL");
    }
    if (!is_valid_utf8(value)) {
      error(mark, "a quoted value holds an escape that is not a valid Unicode character",
            "\\u and \\U escapes must name a code point up to U+10FFFF, not a surrogate");
    }
  }

  // '!' or '&' when a tag or an anchor is written at `mark`, before an unquoted scalar
  // on the same line (before a quoted or block one it is plainly meant).
  char property_at(const YAML::Mark& mark) const {
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return 0;
    size_t pos = static_cast<size_t>(mark.pos);
    char c = text_[pos];
    if (c != '!' && c != '&') return 0;
    if (text_.compare(pos, 2, "!!") == 0) return 0;  // a standard tag (!!str): meant
    while (pos < text_.size() && (text_[pos] == '!' || text_[pos] == '&')) {
      pos = text_.find_first_of(" \t\n", pos);
      if (pos == std::string_view::npos || text_[pos] == '\n') return 0;
      pos = text_.find_first_not_of(" \t", pos);
      if (pos == std::string_view::npos) return 0;
    }
    char next = text_[pos];
    return next == '"' || next == '\'' || next == '|' || next == '>' || next == '\n' || next == '\r' ? 0 : c;
  }

  // The column of a comment that follows the one-line plain scalar `value` at `mark` on
  // its line, or 0.
  int comment_after(const YAML::Mark& mark, const std::string& value) const {
    if (mark.pos < 0 || value.empty()) return 0;
    size_t pos = static_cast<size_t>(mark.pos);
    if (text_.substr(pos, value.size()) != value) return 0;  // tagged, or folded over lines
    size_t after = text_.find_first_not_of(" \t", pos + value.size());
    if (after == std::string_view::npos || after == pos + value.size() || text_[after] != '#') return 0;
    return mark.column + 1 + static_cast<int>(after - pos);
  }

  // yaml-cpp 0.7 accepts a quoted scalar left open at the end of the text (it swallows
  // the rest of the file), so look for the closing quote ourselves.
  bool quote_closed(const YAML::Mark& mark) const {
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return true;
    char quote = text_[static_cast<size_t>(mark.pos)];
    if (quote != '"' && quote != '\'') return true;
    for (size_t i = static_cast<size_t>(mark.pos) + 1; i < text_.size(); ++i) {
      if (quote == '"' && text_[i] == '\\') ++i;
      else if (text_[i] == quote && quote == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') ++i;
      else if (text_[i] == quote) return true;
    }
    return false;
  }

  // Stops the load: nothing after this point can be trusted.
  [[noreturn]] void error(const YAML::Mark& mark, std::string message, std::string hint) {
    diagnostics_.push_back({Severity::Error, {path_, mark.line + 1, mark.column + 1}, std::move(message),
                            std::move(hint), DiagnosticCode::Syntax});
    throw Stop{};
  }
  // Duplicate keys are reported all together: the load goes on.
  void duplicate_key(const YAML::Mark& mark, std::string message, std::string hint) {
    diagnostics_.push_back({Severity::Error, {path_, mark.line + 1, mark.column + 1}, std::move(message),
                            std::move(hint), DiagnosticCode::Syntax});
    duplicate_ = true;
  }

  const std::string& path_;
  Diagnostics& diagnostics_;
  const LoadLimits& limits_;
  std::string_view text_;
  std::vector<Frame> stack_;
  std::vector<std::pair<std::string, SourceEntry>> entries_;
  std::unordered_map<YAML::anchor_t, Anchor> anchors_;
  std::vector<Site> sites_;  // every alias used as a value, in document order
  std::unordered_map<YAML::anchor_t, nlohmann::json> expanded_values_;
  std::unordered_map<YAML::anchor_t, std::vector<std::pair<std::string, SourceEntry>>> expanded_entries_;
  nlohmann::json root_;
  size_t nodes_ = 0, bytes_ = 0;
  bool pending_discard_ = false;  // the next value belongs to a duplicate key
  bool duplicate_ = false;
  bool started_ = false;
};

// Counts documents (and where the next one starts) without building anything.
class DocumentCounter : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 1) start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The first quote that starts a scalar (after ": ", "- ", "[", "{", "," or at a line's
// start) and is never closed. One pass: a closed quoted scalar is skipped whole.
std::optional<Position> unclosed_quote(std::string_view text) {
  Position here;
  char previous = '\n';  // the last non-blank character
  bool in_comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++here.line;
      here.column = 1;
      previous = '\n';
      in_comment = false;
      continue;
    }
    if (!in_comment && (c == '"' || c == '\'') &&
        (previous == '\n' || previous == ':' || previous == '-' || previous == '[' || previous == '{' ||
         previous == ',' || previous == '?')) {
      Position start = here;
      size_t j = i + 1;
      bool closed = false;
      for (; j < text.size(); ++j) {
        if (c == '"' && text[j] == '\\') {
          ++j;
        } else if (text[j] == c && c == '\'' && j + 1 < text.size() && text[j + 1] == '\'') {
          ++j;
        } else if (text[j] == c) {
          closed = true;
          break;
        }
      }
      if (!closed) return start;
      for (size_t k = i; k < j; ++k) {  // keep counting lines inside the scalar
        if (text[k] == '\n') {
          ++here.line;
          here.column = 1;
        } else {
          ++here.column;
        }
      }
      i = j;
      ++here.column;
      previous = c;
      continue;
    }
    if (c == '#' && (previous == '\n' || (i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t')))) in_comment = true;
    if (c != ' ' && c != '\t' && c != '\r') previous = c;
    ++here.column;
  }
  return std::nullopt;
}

// yaml-cpp reports most tab indentation as "illegal block entry" or "illegal map value".
bool indented_with_tab(std::string_view text, int line) {
  size_t pos = 0;
  for (int i = 0; i < line && pos != std::string_view::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string_view::npos) ++pos;
  }
  if (pos == std::string_view::npos) return false;
  for (; pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'); ++pos)
    if (text[pos] == '\t') return true;
  return false;
}

// The line numbered `line` (0-based) of `text`, without its line break.
std::string_view nth_line(std::string_view text, int line) {
  size_t pos = 0;
  for (int i = 0; i < line && pos != std::string_view::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string_view::npos) ++pos;
  }
  if (line < 0 || pos == std::string_view::npos || pos > text.size()) return {};
  std::string_view l = text.substr(pos, text.find('\n', pos) == std::string_view::npos ? std::string_view::npos
                                                                                      : text.find('\n', pos) - pos);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

std::string parser_hint(const std::string& message) {
  if (message.find("tab") != std::string::npos) return "indent with spaces; YAML does not allow tabs for indentation";
  if (message.find("end of map not found") != std::string::npos ||
      message.find("end of sequence") != std::string::npos)
    return "check the brackets/braces and the indentation above this line";
  if (message.find("block end") != std::string::npos || message.find("block entry") != std::string::npos)
    return "check the indentation; a multi-line script belongs in a block scalar (commands: - |)";
  if (message.find("quote") != std::string::npos || message.find("quoted") != std::string::npos)
    return "check that every quote is closed and that quotes inside the value are escaped";
  if (message.find("directive") != std::string::npos || message.find("%") != std::string::npos)
    return "a line starting with '%' is a YAML directive; is this an unrendered template?";
  if (message == "bad file") return "the document nests too deeply";
  return "fix the YAML syntax at this position";
}

}  // namespace

bool load_yaml_text(const std::string& path, std::string text, LoadedDocument& out, Diagnostics& diagnostics,
                    const LoadLimits& limits) {
  out.path = path;
  out.root = nullptr;
  if (text.size() > limits.max_bytes) {
    diagnostics.push_back({Severity::Error, {path, 1, 1},
                           "the document is " + std::to_string(text.size()) + " bytes; the limit is " +
                               std::to_string(limits.max_bytes),
                           "split it into several documents (ExecuteDocument)", DiagnosticCode::Unreadable});
    return false;
  }
  if (!check_bytes(path, text, diagnostics)) {
    out.text = std::move(text);
    return false;
  }
  out.text = std::move(text);
  std::string_view body = out.text;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 BOM is harmless
  if (!check_stray_directives(path, body, diagnostics)) return false;
  // One pass: the first document is converted from the parser's events, then the
  // parser is asked for one more document (never more: yaml-cpp 0.7 makes an empty
  // document of a ',' outside [ ] or { } at the top level without consuming it, so
  // looping until the end never ends; found by fuzzing).
  Diagnostics found;  // the first document's, kept back if a syntax error comes later
  Converter converter(path, found, limits, body);
  try {
    std::string text_copy(body);
    std::istringstream stream(text_copy);
    YAML::Parser parser(stream);
    parser.HandleNextDocument(converter);
    DocumentCounter next;
    if (parser.HandleNextDocument(next)) {
      const YAML::Mark& second = next.start;
      int line = second.line >= 0 ? second.line + 1 : 1, column = second.line >= 0 ? second.column + 1 : 1;
      bool comma = second.pos >= 0 && static_cast<size_t>(second.pos) < body.size() && body[static_cast<size_t>(second.pos)] == ',';
      if (comma)
        diagnostics.push_back({Severity::Error, {path, line, column}, "YAML syntax error: a ',' outside [ ] or { }",
                               "',' separates items only inside flow lists [a, b] and maps {a: 1, b: 2}; quote a "
                               "value that starts with ','",
                               DiagnosticCode::Syntax});
      else
        diagnostics.push_back({Severity::Error, {path, line, column},
                               "the file holds several YAML documents ('---'); another one starts here",
                               "put one component document per file", DiagnosticCode::Syntax});
      return false;
    }
  } catch (const Converter::Stop&) {
    diagnostics.insert(diagnostics.end(), found.begin(), found.end());
    return false;
  } catch (const YAML::Exception& e) {
    if (e.msg == YAML::ErrorMsg::EOF_IN_SCALAR) {
      // yaml-cpp points at the end of the file; the quote left open is more useful.
      if (std::optional<Position> open = unclosed_quote(body)) {
        diagnostics.push_back({Severity::Error, {path, open->line, open->column},
                               "YAML syntax error: a quoted value is never closed",
                               "close the quote, or escape the quotes inside the value", DiagnosticCode::Syntax});
        return false;
      }
    }
    std::string message = e.msg == "bad file" ? "the document nests too deeply or is malformed" : e.msg;
    bool tab = indented_with_tab(body, e.mark.line);
    std::string hint = tab ? parser_hint("tab") : parser_hint(e.msg);
    int column = e.mark.column + 1;
    // A character that cannot start an unquoted value ('@', '`', '%', '*', '&'), a flow
    // list cut short, a second ': ': name YAML's rule and show the line quoted, the
    // caret on that character.
    std::optional<YamlPitfall> pitfall;
    if (!tab) pitfall = explain_syntax_error(nth_line(body, e.mark.line), column);
    if (pitfall) {
      hint = std::move(pitfall->hint);
      column = pitfall->column;
    }
    diagnostics.push_back({Severity::Error, {path, e.mark.line + 1, column}, "YAML syntax error: " + message,
                           std::move(hint), DiagnosticCode::Syntax});
    return false;
  } catch (const std::exception& e) {
    diagnostics.push_back({Severity::Error, {path, 1, 1}, std::string("cannot parse the document: ") + e.what(), "",
                           DiagnosticCode::Syntax});
    return false;
  }
  diagnostics.insert(diagnostics.end(), found.begin(), found.end());
  try {
    out.root = converter.take(out.source_map);  // copies the aliases
  } catch (const std::exception& e) {  // a safety net: never seen, but input must not crash kiln
    diagnostics.push_back({Severity::Error, {path, 1, 1}, std::string("cannot read the document: ") + e.what(), "",
                           DiagnosticCode::Internal});
    return false;
  }
  if (!converter.started()) out.source_map.set("", SourceEntry{});  // an empty file: no document at all
  return !converter.duplicate();
}

bool load_yaml_file(const std::string& path, LoadedDocument& out, Diagnostics& diagnostics,
                    const LoadLimits& limits) {
  out.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.push_back({Severity::Error, {path, 0, 0},
                           std::string("cannot read the document: ") + std::strerror(errno),
                           "check the path given to --documents", DiagnosticCode::Unreadable});
    return false;
  }
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > limits.max_bytes) break;  // load_yaml_text reports the size
  }
  if (in.bad()) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, "cannot read the document (I/O error)", "",
                           DiagnosticCode::Unreadable});
    return false;
  }
  return load_yaml_text(path, std::move(text), out, diagnostics, limits);
}

}  // namespace kiln
