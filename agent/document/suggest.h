// "Did you mean ...?": the nearest candidate by edit distance, for hints.
#pragma once
#include <string>
#include <vector>

namespace kiln {

// Returns the candidate closest to `word` (case-insensitive edit distance), or "" when
// none is close enough to be a plausible typo.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// "a, b and c"
std::string join_words(const std::vector<std::string>& words, const std::string& last_separator = " and ");

}  // namespace kiln
