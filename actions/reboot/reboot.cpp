// Reboot: waits delaySeconds, then asks the engine to reboot the machine once this step
// is recorded as done; after the reboot the run goes on with the next step.
#include <chrono>
#include <thread>

#include "actions/action.h"

namespace kiln {

ActionResult run_reboot(ActionContext& context) {
  ActionResult result;
  int64_t delay = context.inputs.at("delaySeconds").get<int64_t>();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(delay);
  while (std::chrono::steady_clock::now() < until) {
    if (context.cancel && context.cancel->load()) {
      result.failure_message = "interrupted before the reboot";
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  context.log("reboot requested" + (delay > 0 ? " after " + std::to_string(delay) + " s" : std::string()));
  result.success = true;
  result.reboot_after_step = true;
  return result;
}

}  // namespace kiln
