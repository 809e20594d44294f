#include "agent/engine/rerun.h"

#include "agent/base/text.h"

namespace kiln {
namespace {

// --parameters escapes: a comma or '=' in a value as \, and \= (and a backslash before
// them as \\), the inverse of parse_parameter_list.
std::string escape_parameter(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ',' || c == '=' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string join(const std::vector<std::string>& items, char separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(1, separator)) + item;
  return out;
}

}  // namespace

std::string format_rerun_command(const RerunCommand& command) {
  std::vector<std::string> words = {command.program, "run", "--documents", command.document};
  if (!command.phases.empty()) words.insert(words.end(), {"--phases", join(command.phases, ',')});
  words.insert(words.end(), {"--steps", command.step});
  if (!command.parameters.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [name, value] : command.parameters)
      pairs.push_back(escape_parameter(name) + "=" + escape_parameter(value));
    words.insert(words.end(), {"--parameters", join(pairs, ',')});
  }
  if (!command.outputs_from.empty()) words.insert(words.end(), {"--outputs-from", command.outputs_from});
  words.insert(words.end(), command.other_flags.begin(), command.other_flags.end());
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + shell_quote(w);
  return line;
}

}  // namespace kiln
