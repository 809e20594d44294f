#include "agent/engine/loop.h"

namespace kiln {

std::string expand_loop(const LoopSpec& loop, const ResolveScope& scope, std::vector<LoopFrame>& frames) {
  frames.clear();
  if (loop.kind == LoopSpec::Kind::For) {
    if (loop.update_by == 0) return "updateBy cannot be 0";
    int64_t index = 0;
    for (int64_t v = loop.start; loop.update_by > 0 ? v <= loop.end : v >= loop.end; v += loop.update_by) {
      frames.push_back({loop.name, index++, std::to_string(v)});
      // Stop before overflowing past the end of int64.
      if ((loop.update_by > 0 && v > INT64_MAX - loop.update_by) || (loop.update_by < 0 && v < INT64_MIN - loop.update_by))
        break;
    }
    return {};
  }
  std::vector<std::string> values;
  if (loop.kind == LoopSpec::Kind::ForEachList) {
    for (const auto& item : loop.items) values.push_back(item.is_string() ? item.get<std::string>() : item.dump());
  } else {
    values = {loop.list};
  }
  for (auto& v : values)
    if (std::string error = resolve_string(v, scope); !error.empty()) return "cannot read the loop list: " + error;
  if (loop.kind == LoopSpec::Kind::ForEachString) values = split_nonempty(values[0], loop.delimiter);
  for (size_t i = 0; i < values.size(); ++i) frames.push_back({loop.name, static_cast<int64_t>(i), values[i]});
  return {};
}

}  // namespace kiln
