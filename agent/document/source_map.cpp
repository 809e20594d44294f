#include "agent/document/source_map.h"

#include <algorithm>

namespace kiln {

bool has_errors(const Diagnostics& diagnostics) {
  for (const auto& d : diagnostics)
    if (d.severity == Severity::Error) return true;
  return false;
}

const SourceEntry* SourceMap::find(const std::string& pointer) const {
  auto it = entries_.find(pointer);
  return it == entries_.end() ? nullptr : &it->second;
}

static std::string parent_pointer(const std::string& pointer) {
  auto slash = pointer.rfind('/');
  return slash == std::string::npos ? std::string() : pointer.substr(0, slash);
}

SourceLocation SourceMap::value_location(const std::string& file, const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    if (const SourceEntry* e = find(p); e && e->line > 0) return {file, e->line, e->column};
    if (p.empty()) return {file, 0, 0};
    p = parent_pointer(p);
  }
}

SourceLocation SourceMap::key_location(const std::string& file, const std::string& pointer) const {
  if (const SourceEntry* e = find(pointer); e && e->key_line > 0) return {file, e->key_line, e->key_column};
  return value_location(file, pointer);
}

std::string LoadedDocument::source_line(int line) const {
  if (line <= 0) return {};
  size_t start = 0;
  for (int i = 1; i < line; ++i) {
    start = text.find('\n', start);
    if (start == std::string::npos) return {};
    ++start;
  }
  size_t end = text.find('\n', start);
  std::string result = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!result.empty() && result.back() == '\r') result.pop_back();
  return result;
}

SourceLocation LoadedDocument::text_at(const std::string& pointer, size_t offset, std::string_view needle) const {
  SourceLocation location = at(pointer);
  const SourceEntry* entry = source_map.find(pointer);
  if (!entry || location.line <= 0) return location;
  if (!entry->lines.empty()) {
    for (const TextSpan& span : entry->lines)
      if (offset >= span.offset && offset < span.offset + std::max<size_t>(span.length, 1))
        return {path, span.line, span.column + static_cast<int>(offset - span.offset)};
    return location;
  }
  if (needle.empty() || location.column <= 0) return location;
  std::string line = source_line(location.line);
  size_t start = static_cast<size_t>(location.column - 1);
  // A plain scalar's text starts at its column, a quoted one's a byte later; with
  // escapes before the spot neither holds, and the first occurrence on the line is used.
  for (size_t at : {start + offset, start + 1 + offset})
    if (at < line.size() && line.compare(at, needle.size(), needle) == 0) {
      location.column = static_cast<int>(at) + 1;
      return location;
    }
  if (size_t found = line.find(needle, start); found != std::string::npos) location.column = static_cast<int>(found) + 1;
  return location;
}

std::string pointer_append(const std::string& pointer, const std::string& key) {
  std::string escaped;
  escaped.reserve(key.size());
  for (char c : key) {
    if (c == '~') escaped += "~0";
    else if (c == '/') escaped += "~1";
    else escaped += c;
  }
  return pointer + "/" + escaped;
}

std::string pointer_append(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

}  // namespace kiln
