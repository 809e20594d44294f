// The command that re-runs just the step a run failed on, printed at the end of a failed
// run for an engineer to paste: the program as invoked, the step's document (absolute),
// --phases, --steps PHASE.STEP, the parameters (secret values replaced by a placeholder,
// never printed), and --outputs-from when the step chains to steps it would not run.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

// What a secret parameter's value becomes in the printed command.
constexpr std::string_view kSecretPlaceholder = "<secret>";

struct RerunCommand {
  std::string program;   // as invoked: kiln or awstoe, a path made absolute
  std::string document;  // absolute path, or s3:// / https:// as given
  std::vector<std::string> phases;
  std::string step;                                             // PHASE.STEP
  std::vector<std::pair<std::string, std::string>> parameters;  // secret values already replaced
  std::string outputs_from;
  std::vector<std::string> other_flags;  // e.g. --state-directory DIR, kept in order
};

// One line a shell reads back as exactly these arguments.
std::string format_rerun_command(const RerunCommand& command);

}  // namespace kiln
