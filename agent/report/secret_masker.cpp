#include "agent/report/secret_masker.h"

#include <algorithm>

namespace kiln {

void SecretMasker::add(const std::string& secret) {
  if (secret.empty() || std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.push_back(secret);
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool SecretMasker::contains_secret(std::string_view text) const {
  for (const auto& s : secrets_)
    if (text.find(s) != std::string_view::npos) return true;
  return false;
}

std::string SecretMasker::mask(std::string_view text) const {
  std::string out(text);
  for (const auto& s : secrets_) {
    size_t pos = 0;
    while ((pos = out.find(s, pos)) != std::string::npos) {
      out.replace(pos, s.size(), kMask);
      pos += kMask.size();
    }
  }
  return out;
}

nlohmann::json SecretMasker::mask_json(const nlohmann::json& value) const {
  if (secrets_.empty()) return value;
  if (value.is_string()) return mask(value.get_ref<const std::string&>());
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(mask_json(item));
    return out;
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : value.items()) out[mask(k)] = mask_json(v);
    return out;
  }
  return value;
}

}  // namespace kiln
