// The text encodings of the file actions (AppendFile, CreateFile, ReadFile,
// SetFileEncoding): utf8, utf16 and utf32, with -LE/-BE forms; unsuffixed UTF-16/32 are
// little-endian. Conversions go through the C library's iconv.
//
// BOM rule: kiln never writes a byte order mark; ReadFile (decode) strips a leading BOM
// of the requested width and, for UTF-16/32, follows the byte order it announces.
#pragma once
#include <optional>
#include <string>

namespace kiln::files {

struct TextEncoding {
  int width = 8;             // 8, 16 or 32
  bool big_endian = false;
  std::string iconv_name;    // e.g. "UTF-16LE": explicit byte order, so iconv adds no BOM
  std::string display_name;  // e.g. "utf16-LE"
};

// Parses an encoding input, case-insensitively ("utf-16-BE", "UTF8", ...).
std::optional<TextEncoding> parse_encoding(const std::string& text);

// UTF-8 text -> bytes in `encoding` (no BOM). Returns "" or an error (invalid UTF-8).
std::string encode_text(const std::string& utf8, const TextEncoding& encoding, std::string& bytes);

// Bytes in `encoding` (an optional leading BOM) -> UTF-8 text. Returns "" or an error.
std::string decode_text(const std::string& bytes, const TextEncoding& encoding, std::string& utf8);

}  // namespace kiln::files
