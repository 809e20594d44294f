#include "agent/base/utf8.h"

namespace kiln {

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return 0;
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  std::size_t length = lead < 0x80                  ? 1
                       : lead >= 0xC2 && lead <= 0xDF ? 2
                       : lead >= 0xE0 && lead <= 0xEF ? 3
                       : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                      : 0;
  if (length == 0 || pos + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(pos + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char second = length > 1 ? byte(pos + 1) : 0;
  if ((lead == 0xE0 && second < 0xA0) ||  // overlong
      (lead == 0xED && second > 0x9F) ||  // UTF-16 surrogates
      (lead == 0xF0 && second < 0x90) ||  // overlong
      (lead == 0xF4 && second > 0x8F)) {  // past U+10FFFF
    return 0;
  }
  return length;
}

std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& pos) {
  std::size_t length = utf8_sequence_length(text, pos);
  if (length == 0) return std::nullopt;
  auto lead = static_cast<unsigned char>(text[pos]);
  char32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[pos + k]) & 0x3F);
  }
  pos += length;
  return cp;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

void make_valid_utf8(std::string& text) {
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t length = utf8_sequence_length(text, pos);
    if (length != 0) {
      pos += length;
    } else {
      text.replace(pos, 1, "\xEF\xBF\xBD");
      pos += 3;
    }
  }
}

}  // namespace kiln
