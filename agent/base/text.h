// Small text helpers used across layers. ASCII only: kiln's keywords, operator names and
// delimiters are ASCII; bytes >= 0x80 pass through unchanged.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

std::string lowercase_ascii(std::string_view text);

// `text` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view trim_ascii(std::string_view text);

// The non-empty pieces of `text` between `delimiter`s (",a,,b," -> {"a", "b"}).
std::vector<std::string> split_nonempty(std::string_view text, char delimiter);

// POSIX shell quoting: the text as is when it is safe, else in single quotes (a quote
// inside becomes '\''), so `sh -c` reads it back as exactly one word.
std::string shell_quote(std::string_view text);

enum class LetterCase { Sensitive, IgnoreAscii };

// Levenshtein distance (insertions, deletions, substitutions of bytes), for
// "did you mean ...?" hints.
std::size_t edit_distance(std::string_view a, std::string_view b, LetterCase letter_case = LetterCase::Sensitive);

}  // namespace kiln
