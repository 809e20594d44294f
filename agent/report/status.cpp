#include "agent/report/status.h"

#include <array>
#include <utility>

namespace kiln {
namespace {
constexpr std::array<std::pair<RunStatus, std::string_view>, 8> kNames = {{
    {RunStatus::Success, "success"},
    {RunStatus::Failed, "failed"},
    {RunStatus::IgnoredFailure, "ignoredFailure"},
    {RunStatus::Skipped, "skipped"},
    {RunStatus::NotRun, "notRun"},
    {RunStatus::SuccessWithIgnoredFailure, "successWithIgnoredFailure"},
    {RunStatus::Interrupted, "interrupted"},
    {RunStatus::Rebooting, "rebooting"},
}};
}  // namespace

std::string_view status_name(RunStatus status) {
  for (const auto& [s, name] : kNames)
    if (s == status) return name;
  return "unknown";
}

std::optional<RunStatus> parse_status(std::string_view name) {
  for (const auto& [s, n] : kNames)
    if (n == name) return s;
  return std::nullopt;
}

}  // namespace kiln
