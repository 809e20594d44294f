#include "agent/report/status.h"

#include <array>
#include <utility>

namespace kiln {
namespace {
constexpr std::array<std::pair<Status, std::string_view>, 8> kNames = {{
    {Status::Success, "success"},
    {Status::Failed, "failed"},
    {Status::IgnoredFailure, "ignoredFailure"},
    {Status::Skipped, "skipped"},
    {Status::NotRun, "notRun"},
    {Status::SuccessWithIgnoredFailure, "successWithIgnoredFailure"},
    {Status::Interrupted, "interrupted"},
    {Status::Rebooting, "rebooting"},
}};
}  // namespace

std::string_view status_name(Status status) {
  for (const auto& [s, name] : kNames)
    if (s == status) return name;
  return "unknown";
}

std::optional<Status> parse_status(std::string_view name) {
  for (const auto& [s, n] : kNames)
    if (n == name) return s;
  return std::nullopt;
}

}  // namespace kiln
