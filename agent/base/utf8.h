// UTF-8 as Unicode defines it (table 3-7): no overlong forms, no UTF-16 surrogates,
// nothing past U+10FFFF. One decoder for the document loader (which must refuse what
// yaml-cpp would mangle), step outputs (JSON strings must be valid UTF-8) and the
// condition language (whitespace is judged per code point).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

// The length (1-4) of the well-formed sequence starting at text[pos], or 0 if the bytes
// there are not one (including a sequence cut short by the end of `text`).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

// Decodes the code point at `pos` and advances `pos` past it; nullopt (pos unchanged)
// when the bytes there are not well-formed.
std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& pos);

bool is_valid_utf8(std::string_view text);

// Replaces every byte that does not belong to a well-formed sequence with U+FFFD.
void make_valid_utf8(std::string& text);

}  // namespace kiln
