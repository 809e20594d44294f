// Shared by S3Download and S3Upload: an S3 client for one step, bound to the step's
// cancel flag, time budget and application.log (the lines name objects, files, bytes
// and durations; never a credential).
#pragma once
#include <string>

#include "actions/action.h"
#include "agent/net/s3_client.h"

namespace kiln::s3_action {

inline net::S3ClientOptions options_for(const ActionContext& context, const std::string& action) {
  net::S3ClientOptions options;
  options.cancel = context.cancel;
  if (context.timeout.count() >= 0) options.deadline = std::chrono::steady_clock::now() + context.timeout;
  auto log = context.log;
  options.log = [log, action](const std::string& line) {
    if (log) log(action + ": " + line);
  };
  return options;
}

}  // namespace kiln::s3_action
