// Masks secret values (parameters marked `secret: true`) in everything kiln writes:
// console.log, application.log, events.jsonl, detailedoutput.json, the summary, the
// state journal and the terminal. Masking also catches a secret that a script echoes,
// as long as the value arrives within one line of output.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class SecretMasker {
 public:
  static constexpr std::string_view kMask = "****";

  void add(const std::string& secret);
  bool empty() const { return secrets_.empty(); }
  bool contains_secret(std::string_view text) const;
  std::string mask(std::string_view text) const;
  // Masks every string in `value` (keys included).
  nlohmann::json mask_json(const nlohmann::json& value) const;

 private:
  std::vector<std::string> secrets_;  // longest first, so a secret inside another is not half-masked
};

}  // namespace kiln
