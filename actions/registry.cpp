// Every implemented action, one line each. An action with a schema but no line here is
// validated normally but refused by `run` before anything runs.
#include "actions/action.h"

#include <array>

namespace kiln {

ActionResult run_assert(ActionContext& context);
ActionResult run_execute_bash(ActionContext& context);
ActionResult run_execute_binary(ActionContext& context);
ActionResult run_execute_document(ActionContext& context);

namespace {
constexpr std::array kActions = {
    ActionEntry{"Assert", run_assert},
    ActionEntry{"ExecuteBash", run_execute_bash},
    ActionEntry{"ExecuteBinary", run_execute_binary},
    ActionEntry{"ExecuteDocument", run_execute_document},
};
}  // namespace

const ActionEntry* find_action(std::string_view name) {
  for (const auto& entry : kActions)
    if (entry.name == name) return &entry;
  return nullptr;
}

}  // namespace kiln
