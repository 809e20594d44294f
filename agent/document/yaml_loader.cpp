#include "agent/document/yaml_loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace kiln {
namespace {

// The length of the well-formed UTF-8 sequence at `i` (Unicode table 3-7: no overlong
// forms, no surrogates, nothing past U+10FFFF), or 0. JSON output (detailedoutput.json)
// refuses anything else.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  size_t length = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  unsigned char second = length > 1 ? static_cast<unsigned char>(text[i + 1]) : 0;
  if ((c == 0xE0 && second < 0xA0) ||  // overlong
      (c == 0xED && second > 0x9F) ||  // UTF-16 surrogates
      (c == 0xF0 && second < 0x90) ||  // overlong
      (c == 0xF4 && second > 0x8F))    // past U+10FFFF
    return 0;
  return length;
}

bool valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Finds the first NUL byte or invalid UTF-8 sequence; yaml-cpp silently stops at a
// NUL and mangles bad UTF-8, so these are caught before it sees the text.
bool check_bytes(const std::string& path, const std::string& text, Diagnostics& diagnostics) {
  int line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) {
      diagnostics.push_back({Severity::Error, {path, line, column}, "the document contains a NUL byte",
                             "component documents are text; remove binary content"});
      return false;
    }
    size_t length = utf8_sequence_length(text, i);
    bool ok = length != 0;
    if (!ok) {
      diagnostics.push_back({Severity::Error, {path, line, column}, "the document is not valid UTF-8",
                             "save the file as UTF-8"});
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
                             "template (e.g. Terraform's %{ if }) ?"});
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

class Converter {
 public:
  Converter(const std::string& path, SourceMap& map, Diagnostics& diagnostics, const LoadLimits& limits,
            std::string_view text)
      : path_(path), map_(map), diagnostics_(diagnostics), limits_(limits), text_(text) {}

  bool failed() const { return failed_; }

  nlohmann::json convert(const YAML::Node& node, const std::string& pointer, int depth, const YAML::Mark* key_mark) {
    if (failed_) return nullptr;
    if (++nodes_ > limits_.max_nodes) {
      error(node.Mark(), "the document is too large: more than " + std::to_string(limits_.max_nodes) +
                             " values after expanding aliases",
            "YAML aliases (*name) that repeat large anchors multiply the document; write it out plainly");
      return nullptr;
    }
    if (depth > limits_.max_depth) {
      error(node.Mark(), "the document nests deeper than " + std::to_string(limits_.max_depth) + " levels",
            "component documents need only a few levels of nesting");
      return nullptr;
    }
    SourceEntry entry;
    YAML::Mark mark = node.Mark();
    // yaml-cpp gives a null value the mark of the next token, so use its key's mark.
    if ((node.IsNull() || mark.line < 0) && key_mark) mark = *key_mark;
    entry.line = mark.line + 1;
    entry.column = mark.column + 1;
    if (key_mark) {
      entry.key_line = key_mark->line + 1;
      entry.key_column = key_mark->column + 1;
    }
    nlohmann::json result;
    switch (node.Type()) {
      case YAML::NodeType::Null:
        entry.plain_scalar = true;
        result = nullptr;
        break;
      case YAML::NodeType::Scalar:
        if (node.Tag() == "!" || (!node.Tag().empty() && node.Tag() != "?")) {
          result = node.Scalar();  // quoted (or explicitly tagged): always a string
          if (!quote_closed(mark)) {
            error(mark, "YAML syntax error: a quoted value is never closed", "close the quote, or escape the quotes inside the value");
            return nullptr;
          }
          if (!check_escapes(node.Scalar(), mark)) return nullptr;
        } else {
          entry.plain_scalar = true;
          entry.raw = node.Scalar();
          result = type_plain_scalar(node.Scalar());
        }
        break;
      case YAML::NodeType::Sequence: {
        result = nlohmann::json::array();
        size_t index = 0;
        for (const auto& item : node) {
          result.push_back(convert(item, pointer_append(pointer, index), depth + 1, nullptr));
          ++index;
        }
        break;
      }
      case YAML::NodeType::Map: {
        result = nlohmann::json::object();
        std::map<std::string, int> first_line;
        for (const auto& item : node) {
          const YAML::Node& key = item.first;
          YAML::Mark km = key.Mark();
          if (!key.IsScalar()) {
            if (key.IsMap())
              error(km, "a value starting with '{{' was read as a YAML mapping",
                    "quote values that start with {{, e.g. '{{ MyParameter }}'");
            else
              error(km, "a map key must be a plain string", "write the key as text");
            return nullptr;
          }
          const std::string& name = key.Scalar();
          if (!check_escapes(name, km)) return nullptr;
          auto [it, inserted] = first_line.emplace(name, km.line + 1);
          if (!inserted) {
            error(km, "duplicate key '" + name + "' (first defined at line " + std::to_string(it->second) + ")",
                  "remove one of the two, or rename it");
            continue;
          }
          result[name] = convert(item.second, pointer_append(pointer, name), depth + 1, &km);
        }
        break;
      }
      case YAML::NodeType::Undefined:
        result = nullptr;
        break;
    }
    map_.set(pointer, std::move(entry));
    return result;
  }

 private:
  // The text was checked before parsing, but double-quoted escapes can still make a NUL
  // ("\0", "\x00") or a code point that is not valid Unicode ("\U00110000").
  bool check_escapes(const std::string& value, const YAML::Mark& mark) {
    if (value.find('\0') != std::string::npos) {
      error(mark, "a quoted value holds a NUL character (an escape such as \\0 or \\x00)",
            "component documents are text; remove the NUL");
      return false;
    }
    if (!valid_utf8(value)) {
      error(mark, "a quoted value holds an escape that is not a valid Unicode character",
            "\\u and \\U escapes must name a code point up to U+10FFFF, not a surrogate");
      return false;
    }
    return true;
  }

  // yaml-cpp 0.7 accepts a quoted scalar left open at the end of the text (it swallows
  // the rest of the file), so look for the closing quote ourselves.
  bool quote_closed(const YAML::Mark& mark) {
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return true;
    char quote = text_[static_cast<size_t>(mark.pos)];
    if ((quote != '"' && quote != '\'') || !quotes_checked_.insert(mark.pos).second) return true;
    for (size_t i = static_cast<size_t>(mark.pos) + 1; i < text_.size(); ++i) {
      if (quote == '"' && text_[i] == '\\') ++i;
      else if (text_[i] == quote && quote == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') ++i;
      else if (text_[i] == quote) return true;
    }
    return false;
  }

  void error(const YAML::Mark& mark, std::string message, std::string hint) {
    // Duplicate keys are reported all together; structural limits stop the load.
    diagnostics_.push_back({Severity::Error, {path_, mark.line + 1, mark.column + 1}, std::move(message),
                            std::move(hint)});
    if (diagnostics_.back().message.rfind("duplicate key", 0) != 0) failed_ = true;
    else duplicate_ = true;
  }

 public:
  bool duplicate() const { return duplicate_; }

 private:
  const std::string& path_;
  SourceMap& map_;
  Diagnostics& diagnostics_;
  const LoadLimits& limits_;
  std::string_view text_;
  std::set<int> quotes_checked_;  // aliases repeat scalars: scan each quote once
  size_t nodes_ = 0;
  bool failed_ = false;
  bool duplicate_ = false;
};

// Aliases repeat an anchored node without copying it, so counting the expanded size is
// cheap while converting it is not: count first (up to the limits) so that an alias bomb
// is refused in milliseconds. Values and text are both counted: a few aliases of one long
// string multiply bytes, not values. Past max_depth the converter reports the nesting.
struct Expansion {
  size_t nodes = 0;
  size_t bytes = 0;  // of scalars and keys
  YAML::Mark where;  // where a limit was passed
  bool over(const LoadLimits& limits) const { return nodes > limits.max_nodes || bytes > limits.max_expanded_bytes; }
};

void count_nodes(const YAML::Node& node, int depth, const LoadLimits& limits, Expansion& expansion) {
  if (expansion.over(limits) || depth > limits.max_depth) return;
  ++expansion.nodes;
  if (node.IsScalar()) expansion.bytes += node.Scalar().size();
  if (expansion.over(limits)) {
    expansion.where = node.Mark();
    return;
  }
  if (node.IsMap()) {
    for (const auto& item : node) {
      if (item.first.IsScalar()) expansion.bytes += item.first.Scalar().size();
      count_nodes(item.second, depth + 1, limits, expansion);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) count_nodes(item, depth + 1, limits, expansion);
  }
}

// Counts documents (and where the second starts) without building nodes.
class DocumentCounter : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark second_start;
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second_start = mark;
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

struct Position {
  int line = 1, column = 1;
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
                           "split it into several documents (ExecuteDocument)"});
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
  YAML::Node node;
  try {
    // Count the documents first, two at most. YAML::LoadAll never ends on a ',' outside
    // [ ] or { } at the top level (yaml-cpp 0.7 makes an empty document of it without
    // consuming it, forever, and memory grows without bound): found by fuzzing.
    std::string text_copy(body);
    std::istringstream stream(text_copy);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    if (counter.documents > 1) {
      const YAML::Mark& second = counter.second_start;
      int line = second.line >= 0 ? second.line + 1 : 1, column = second.line >= 0 ? second.column + 1 : 1;
      bool comma = second.pos >= 0 && static_cast<size_t>(second.pos) < body.size() && body[static_cast<size_t>(second.pos)] == ',';
      if (comma)
        diagnostics.push_back({Severity::Error, {path, line, column}, "YAML syntax error: a ',' outside [ ] or { }",
                               "',' separates items only inside flow lists [a, b] and maps {a: 1, b: 2}; quote a "
                               "value that starts with ','"});
      else
        diagnostics.push_back({Severity::Error, {path, line, column},
                               "the file holds several YAML documents ('---'); another one starts here",
                               "put one component document per file"});
      return false;
    }
    node = YAML::Load(text_copy);
  } catch (const YAML::Exception& e) {
    if (e.msg == YAML::ErrorMsg::EOF_IN_SCALAR) {
      // yaml-cpp points at the end of the file; the quote left open is more useful.
      if (std::optional<Position> open = unclosed_quote(body)) {
        diagnostics.push_back({Severity::Error, {path, open->line, open->column},
                               "YAML syntax error: a quoted value is never closed",
                               "close the quote, or escape the quotes inside the value"});
        return false;
      }
    }
    std::string message = e.msg == "bad file" ? "the document nests too deeply or is malformed" : e.msg;
    diagnostics.push_back({Severity::Error, {path, e.mark.line + 1, e.mark.column + 1},
                           "YAML syntax error: " + message,
                           indented_with_tab(body, e.mark.line) ? parser_hint("tab") : parser_hint(e.msg)});
    return false;
  } catch (const std::exception& e) {
    diagnostics.push_back({Severity::Error, {path, 1, 1}, std::string("cannot parse the document: ") + e.what(), ""});
    return false;
  }
  Expansion expansion;
  count_nodes(node, 0, limits, expansion);
  if (expansion.over(limits)) {
    diagnostics.push_back({Severity::Error, {path, expansion.where.line + 1, expansion.where.column + 1},
                           expansion.nodes > limits.max_nodes
                               ? "the document is too large: more than " + std::to_string(limits.max_nodes) +
                                     " values after expanding aliases"
                               : "the document is too large: more than " + std::to_string(limits.max_expanded_bytes) +
                                     " bytes of text after expanding aliases",
                           "YAML aliases (*name) that repeat large anchors multiply the document; write it out plainly"});
    return false;
  }
  Converter converter(path, out.source_map, diagnostics, limits, body);
  try {
    out.root = converter.convert(node, "", 0, nullptr);
  } catch (const std::exception& e) {
    diagnostics.push_back({Severity::Error, {path, 1, 1}, std::string("cannot read the document: ") + e.what(), ""});
    return false;
  }
  return !converter.failed() && !converter.duplicate();
}

bool load_yaml_file(const std::string& path, LoadedDocument& out, Diagnostics& diagnostics,
                    const LoadLimits& limits) {
  out.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.push_back({Severity::Error, {path, 0, 0},
                           std::string("cannot read the document: ") + std::strerror(errno),
                           "check the path given to --documents"});
    return false;
  }
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > limits.max_bytes) break;  // load_yaml_text reports the size
  }
  if (in.bad()) {
    diagnostics.push_back({Severity::Error, {path, 0, 0}, "cannot read the document (I/O error)", ""});
    return false;
  }
  return load_yaml_text(path, std::move(text), out, diagnostics, limits);
}

}  // namespace kiln
