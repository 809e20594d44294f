// kilnctl's exit codes: one typed list, documented in docs/kilnctl.md. 1 mirrors a failed
// run; 10-13 say why the target could not be driven, so a pipeline can tell "the component
// failed" from "the machine never answered" without reading text.
#pragma once
#include <vector>

namespace kiln::ctl {

enum class ExitCode : int {
  Success = 0,
  Failed = 1,                 // a phase failed (or the agent stopped it)
  Usage = 2,                  // bad flags, a missing document
  Unreachable = 10,           // no connection (refused, timed out, no such host), or never back after a reboot
  AuthenticationFailed = 11,  // the target refused our key
  AgentMissing = 12,          // no kiln on the target and no --install
  TargetError = 13,           // the target answered but could not be prepared (upload, mount, reboot command)
  TestFailed = 14,            // kilnctl image: the image was built but a test failed (kept aside, not published)
  Interrupted = 130,          // SIGINT (143 for SIGTERM: 128 + the signal)
};

inline int to_int(ExitCode code) {
  return static_cast<int>(code);
}

// `--targets FILE`: the run's code from the per-target codes, in FILE order. 0 when every
// target succeeded; Interrupted when any was interrupted; else the first failed target's
// code (so a pipeline sees "the first problem" with its kind, and 0 only for a clean fleet).
inline ExitCode fleet_exit_code(const std::vector<ExitCode>& codes) {
  for (ExitCode code : codes)
    if (code == ExitCode::Interrupted) return code;
  for (ExitCode code : codes)
    if (code != ExitCode::Success) return code;
  return ExitCode::Success;
}

}  // namespace kiln::ctl
