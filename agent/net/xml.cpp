#include "agent/net/xml.h"

#include <charconv>
#include <cstdint>

namespace kiln::net {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Finds the next start tag <tag> or <tag ...> or <tag/> from `from`; sets `inner_begin`
// after its '>' and `self_closing`. npos when there is none.
size_t find_start(std::string_view xml, std::string_view tag, size_t from, size_t& inner_begin, bool& self_closing) {
  while (true) {
    size_t at = xml.find('<', from);
    if (at == std::string_view::npos) return at;
    size_t name_end = at + 1 + tag.size();
    if (xml.substr(at + 1, tag.size()) == tag && name_end < xml.size() &&
        (xml[name_end] == '>' || xml[name_end] == '/' || xml[name_end] == ' ' || xml[name_end] == '\t' ||
         xml[name_end] == '\n' || xml[name_end] == '\r')) {
      size_t close = xml.find('>', name_end);
      if (close == std::string_view::npos) return std::string_view::npos;
      self_closing = xml[close - 1] == '/';
      inner_begin = close + 1;
      return at;
    }
    from = at + 1;
  }
}

}  // namespace

std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string end_tag = "</" + std::string(tag) + ">";
  size_t from = 0, inner = 0;
  bool self_closing = false;
  while (find_start(xml, tag, from, inner, self_closing) != std::string_view::npos) {
    if (self_closing) {
      out.emplace_back();
      from = inner;
      continue;
    }
    size_t end = xml.find(end_tag, inner);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(inner, end - inner));
    from = end + end_tag.size();
  }
  return out;
}

std::vector<std::string> xml_values(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  for (std::string_view block : xml_blocks(xml, tag)) out.push_back(xml_decode(block));
  return out;
}

std::string xml_value(std::string_view xml, std::string_view tag) {
  auto blocks = xml_blocks(xml, tag);
  return blocks.empty() ? std::string() : xml_decode(blocks.front());
}

std::string xml_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out += '&';
      continue;
    }
    std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else if (entity.size() > 1 && entity[0] == '#') {
      bool hex = entity[1] == 'x' || entity[1] == 'X';
      std::string_view digits = entity.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || cp > 0x10FFFF) {
        out += '&';
        continue;
      }
      append_utf8(out, cp);
    } else {
      out += '&';
      continue;
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace kiln::net
