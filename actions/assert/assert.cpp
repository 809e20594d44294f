// Assert: the inputs are a condition; true passes the step, false fails it.
#include "actions/action.h"
#include "agent/document/condition.h"

namespace kiln {

ActionResult run_assert(ActionContext& context) {
  ActionResult result;
  ConditionOutcome outcome = evaluate_condition(context.inputs);
  context.log("Assert: " + outcome.detail);
  if (!outcome.error.empty()) {
    result.failure_message = "cannot evaluate the assertion: " + outcome.error;
  } else if (!outcome.value) {
    result.failure_message = "assertion failed: " + outcome.detail;
  } else {
    result.success = true;
  }
  return result;
}

}  // namespace kiln
