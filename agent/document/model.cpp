#include "agent/document/model.h"

namespace kiln {

std::string_view on_failure_name(OnFailure value) {
  switch (value) {
    case OnFailure::Abort: return "Abort";
    case OnFailure::Continue: return "Continue";
    case OnFailure::Ignore: return "Ignore";
  }
  return "Abort";
}

std::optional<OnFailure> parse_on_failure(std::string_view name) {
  for (OnFailure v : {OnFailure::Abort, OnFailure::Continue, OnFailure::Ignore})
    if (on_failure_name(v) == name) return v;
  return std::nullopt;
}

std::string_view branch_name(Branch value) {
  switch (value) {
    case Branch::Execute: return "Execute";
    case Branch::Skip: return "Skip";
    case Branch::Abort: return "Abort";
  }
  return "Abort";
}

std::optional<Branch> parse_branch(std::string_view name) {
  for (Branch v : {Branch::Execute, Branch::Skip, Branch::Abort})
    if (branch_name(v) == name) return v;
  return std::nullopt;
}

}  // namespace kiln
