#include "actions/common/text_encoding.h"

#include <iconv.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace kiln::files {
namespace {

// Runs iconv over all of `input`. Returns "" or an error naming the byte offset.
std::string convert(const std::string& input, const std::string& from, const std::string& to, std::string& output) {
  iconv_t cd = ::iconv_open(to.c_str(), from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1))
    return "the C library cannot convert " + from + " to " + to + ": " + std::strerror(errno);
  output.assign(input.size() * 4 + 16, '\0');  // UTF-8 -> UTF-32 is the largest growth (x4)
  char* in = const_cast<char*>(input.data());   // iconv's signature; it does not write
  size_t in_left = input.size();
  char* out = output.data();
  size_t out_left = output.size();
  std::string error;
  while (in_left > 0) {
    if (::iconv(cd, &in, &in_left, &out, &out_left) != static_cast<size_t>(-1)) continue;
    size_t offset = input.size() - in_left;
    if (errno == E2BIG) {  // cannot happen with the size above, but stay correct
      size_t used = output.size() - out_left;
      output.resize(output.size() * 2);
      out = output.data() + used;
      out_left = output.size() - used;
      continue;
    }
    if (errno == EILSEQ) error = "not valid " + from + " at byte " + std::to_string(offset);
    else if (errno == EINVAL) error = "incomplete " + from + " sequence at the end (byte " + std::to_string(offset) + ")";
    else error = "cannot convert " + from + " to " + to + ": " + std::strerror(errno);
    break;
  }
  output.resize(output.size() - out_left);
  ::iconv_close(cd);
  return error;
}

// The BOM of `width` in the given byte order.
std::string bom(int width, bool big_endian) {
  if (width == 8) return "\xEF\xBB\xBF";
  if (width == 16) return big_endian ? std::string("\xFE\xFF", 2) : std::string("\xFF\xFE", 2);
  return big_endian ? std::string("\x00\x00\xFE\xFF", 4) : std::string("\xFF\xFE\x00\x00", 4);
}

std::string iconv_name(int width, bool big_endian) {
  if (width == 8) return "UTF-8";
  return "UTF-" + std::to_string(width) + (big_endian ? "BE" : "LE");
}

}  // namespace

std::optional<TextEncoding> parse_encoding(const std::string& text) {
  std::string key;  // "utf-16-BE" -> "utf16be"
  for (char c : text)
    if (c != '-') key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  TextEncoding e;
  if (key == "utf8") e.width = 8;
  else if (key == "utf16" || key == "utf16le") e.width = 16;
  else if (key == "utf16be") e = {16, true, "", ""};
  else if (key == "utf32" || key == "utf32le") e.width = 32;
  else if (key == "utf32be") e = {32, true, "", ""};
  else return std::nullopt;
  e.iconv_name = iconv_name(e.width, e.big_endian);
  e.display_name = e.width == 8 ? "utf8" : "utf" + std::to_string(e.width) + (e.big_endian ? "-BE" : "-LE");
  return e;
}

std::string encode_text(const std::string& utf8, const TextEncoding& encoding, std::string& bytes) {
  return convert(utf8, "UTF-8", encoding.iconv_name, bytes);
}

std::string decode_text(const std::string& bytes, const TextEncoding& encoding, std::string& utf8) {
  std::string from = encoding.iconv_name;
  size_t skip = 0;
  // A BOM of the requested width is dropped; for UTF-16/32 its byte order wins.
  for (bool big_endian : {encoding.big_endian, !encoding.big_endian}) {
    std::string mark = bom(encoding.width, big_endian);
    if (bytes.compare(0, mark.size(), mark) == 0) {
      from = iconv_name(encoding.width, big_endian);
      skip = mark.size();
      break;
    }
  }
  return convert(bytes.substr(skip), from, "UTF-8", utf8);
}

}  // namespace kiln::files
