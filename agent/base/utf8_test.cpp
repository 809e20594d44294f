#include "agent/base/utf8.h"

#include <doctest/doctest.h>

TEST_CASE("base utf8: well-formed sequences and their lengths") {
  CHECK(kiln::utf8_sequence_length("a", 0) == 1);
  CHECK(kiln::utf8_sequence_length("\xC3\xA9", 0) == 2);          // é
  CHECK(kiln::utf8_sequence_length("\xE2\x82\xAC", 0) == 3);      // €
  CHECK(kiln::utf8_sequence_length("\xF0\x9F\x98\x80", 0) == 4);  // 😀
  CHECK(kiln::utf8_sequence_length("a", 1) == 0);                 // past the end
}

TEST_CASE("base utf8: ill-formed sequences are refused (Unicode table 3-7)") {
  CHECK_FALSE(kiln::is_valid_utf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(kiln::is_valid_utf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(kiln::is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(kiln::is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(kiln::is_valid_utf8("\xE2\x82"));          // cut short
  CHECK_FALSE(kiln::is_valid_utf8("\x80"));              // lone continuation
  CHECK(kiln::is_valid_utf8("plain \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80"));
  CHECK(kiln::is_valid_utf8(""));
}

TEST_CASE("base utf8: decode_utf8 yields code points and advances") {
  std::string_view text = "a\xC3\xA9\xE2\x80\xA8";
  std::size_t pos = 0;
  CHECK(kiln::decode_utf8(text, pos) == U'a');
  CHECK(kiln::decode_utf8(text, pos) == U'\u00E9');
  CHECK(kiln::decode_utf8(text, pos) == U'\u2028');
  CHECK(pos == text.size());
  std::size_t bad = 0;
  CHECK_FALSE(kiln::decode_utf8("\xC0\xA0", bad).has_value());  // overlong space
  CHECK(bad == 0);
}

TEST_CASE("base utf8: make_valid_utf8 replaces each stray byte with U+FFFD") {
  std::string text = "ok\xFF\xC3\xA9\xE2\x82";
  kiln::make_valid_utf8(text);
  CHECK(text == "ok\xEF\xBF\xBD\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(kiln::is_valid_utf8(text));
  std::string good = "d\xC3\xA9j\xC3\xA0";
  kiln::make_valid_utf8(good);
  CHECK(good == "d\xC3\xA9j\xC3\xA0");
}
