// Shared by the execute actions: run one process for a step, stream its output,
// keep a bounded copy for chaining, and turn the result into step outputs.
#pragma once
#include "actions/action.h"
#include "agent/sys/process.h"

namespace kiln {

// Exit code by which a script asks for a reboot after which the same step runs again.
inline constexpr int kRebootExitCode = 194;

ActionResult run_process_step(ActionContext& context, sys::ProcessSpec spec);

}  // namespace kiln
