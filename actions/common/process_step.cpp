#include "actions/common/process_step.h"

#include <cstring>
#include <string>

namespace kiln {
namespace {

// Keeps at most `limit` bytes of a stream, noting that the rest was dropped.
struct BoundedCapture {
  explicit BoundedCapture(size_t max) : limit(max) {}
  size_t limit;
  std::string text;
  bool truncated = false;
  void add(std::string_view chunk) {
    if (text.size() >= limit) {
      truncated = truncated || !chunk.empty();
      return;
    }
    size_t room = limit - text.size();
    text.append(chunk.substr(0, room));
    if (chunk.size() > room) truncated = true;
  }
  std::string value() const {
    std::string v = text;
    if (!v.empty() && v.back() == '\n') v.pop_back();  // AWSTOE drops the final newline
    if (!v.empty() && v.back() == '\r') v.pop_back();
    return v;
  }
};

}  // namespace

ActionResult run_process_step(ActionContext& context, sys::ProcessSpec spec) {
  spec.timeout = context.timeout;
  BoundedCapture out(context.max_captured_output), err(context.max_captured_output);
  sys::ProcessResult r = sys::run_process(
      spec,
      [&](sys::OutputStream stream, std::string_view chunk) {
        (stream == sys::OutputStream::Stdout ? out : err).add(chunk);
        if (context.output) context.output(stream, chunk);
      },
      context.cancel);
  ActionResult result;
  if (!r.started) {
    result.failure_message = r.error;
    return result;
  }
  result.outputs = {{"stdout", out.value()},
                    {"stderr", err.value()},
                    {"exitCode", r.signal ? 128 + r.signal : r.exit_code},
                    {"durationMs", r.duration.count()}};
  if (out.truncated || err.truncated)
    context.log("output beyond " + std::to_string(context.max_captured_output) +
                " bytes was kept on disk only (console.log), not for chaining");
  if (r.timed_out) {
    result.timed_out = true;
    // context.timeout is what was left of the step's budget, not timeoutSeconds: no number here.
    result.failure_message = "timed out (the step's timeoutSeconds ran out); the step's processes were stopped";
  } else if (r.cancelled) {
    result.failure_message = "interrupted; the step's processes were stopped";
  } else if (r.signal) {
    result.failure_message = std::string("killed by signal ") + std::to_string(r.signal) + " (" +
                             strsignal(r.signal) + ")";
  } else if (r.exit_code == kRebootExitCode) {
    result.reboot_requested = true;
    result.failure_message = "exit code 194 requests a reboot";
  } else if (r.exit_code != 0) {
    result.failure_message = "exit code " + std::to_string(r.exit_code);
  } else {
    result.success = true;
  }
  return result;
}

}  // namespace kiln
