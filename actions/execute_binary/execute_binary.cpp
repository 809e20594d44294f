// ExecuteBinary: runs `path` with `arguments` as argv items, verbatim: no shell, so
// nothing in them is expanded or split.
#include "actions/common/process_step.h"

namespace kiln {

ActionResult run_execute_binary(ActionContext& context) {
  sys::ProcessSpec spec;
  spec.executable = context.inputs["path"].get<std::string>();
  for (const auto& argument : context.inputs.at("arguments"))
    spec.arguments.push_back(argument.get<std::string>());
  return run_process_step(context, std::move(spec));
}

}  // namespace kiln
