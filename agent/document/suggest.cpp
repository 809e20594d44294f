#include "agent/document/suggest.h"

#include <algorithm>

#include "agent/base/text.h"

namespace kiln {

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c, LetterCase::IgnoreAscii);
    if (d < best_distance) best_distance = d, best = c;
  }
  size_t allowed = std::max<size_t>(2, word.size() / 3);
  return best_distance <= allowed ? best : std::string();
}

std::string join_words(const std::vector<std::string>& words, const std::string& last_separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? last_separator : ", ";
    out += words[i];
  }
  return out;
}

}  // namespace kiln
