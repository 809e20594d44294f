// A loaded document: its text, the JSON it became, and a source map from every JSON
// pointer to where that value (and its map key) were written, so that every
// diagnostic can say FILE:LINE:COL.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/document/diagnostic.h"

namespace kiln {

// Where a stretch of a multi-line scalar's value was written: the value's bytes
// [offset, offset + length) are the text at line:column onwards.
struct TextSpan {
  size_t offset = 0;
  size_t length = 0;
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in bytes like every column
};

struct SourceEntry {
  int line = 0;        // of the value, 1-based
  int column = 0;
  int key_line = 0;    // of the map key that holds the value (0 for list items/root)
  int key_column = 0;
  bool plain_scalar = false;  // an unquoted YAML scalar: its text may stand for a string
  std::string raw;            // the scalar's text as written (plain scalars only)
  // A one-line plain scalar followed by a comment on its line: the column of that '#'
  // (YAML dropped the rest of the line from the value). 0 when there is none.
  int comment_column = 0;
  // '!' or '&' when a tag ('! grep ...') or an anchor ('&name text') was written before
  // the scalar, at line:column: YAML dropped it from the value. 0 otherwise.
  char property = 0;
  // A scalar written over several lines (a `|` or `>` block, a quoted or plain value
  // folded over lines): where each of its lines sits in the value. Empty for a one-line
  // scalar, and where text and value cannot be matched line for line (escapes).
  std::vector<TextSpan> lines;
};

class SourceMap {
 public:
  void set(std::string pointer, SourceEntry entry) { entries_.insert_or_assign(std::move(pointer), std::move(entry)); }
  void reserve(size_t n) { entries_.reserve(n); }
  const SourceEntry* find(const std::string& pointer) const;
  // Where the value at `pointer` was written; walks up to the nearest known ancestor.
  SourceLocation value_location(const std::string& file, const std::string& pointer) const;
  // Where the key holding the value at `pointer` was written (falls back to the value).
  SourceLocation key_location(const std::string& file, const std::string& pointer) const;

 private:
  std::unordered_map<std::string, SourceEntry> entries_;
};

struct LoadedDocument {
  std::string path;               // as given by the user
  std::string text;               // the bytes read
  nlohmann::json root;            // the document as JSON
  SourceMap source_map;
  // The line of `text` numbered `line` (1-based), without its newline.
  std::string source_line(int line) const;
  SourceLocation at(const std::string& pointer) const { return source_map.value_location(path, pointer); }
  SourceLocation key_at(const std::string& pointer) const { return source_map.key_location(path, pointer); }
  // Where the text `needle`, found at byte `offset` of the string at `pointer`, was
  // written: inside a multi-line scalar, on its own line; on a one-line scalar, under its
  // first byte when that is unambiguous. Falls back to the value's position.
  SourceLocation text_at(const std::string& pointer, size_t offset, std::string_view needle) const;
};

// JSON pointer helpers: "/phases/0/steps" style, with ~0 and ~1 escapes.
std::string pointer_append(const std::string& pointer, const std::string& key);
std::string pointer_append(const std::string& pointer, size_t index);

}  // namespace kiln
