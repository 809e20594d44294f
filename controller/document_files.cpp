#include "controller/document_files.h"

#include <yaml-cpp/yaml.h>

#include <deque>
#include <filesystem>
#include <set>

namespace kiln::ctl {
namespace {

namespace fs = std::filesystem;

// The relative child paths of one document's ExecuteDocument steps.
std::vector<std::string> relative_children(const std::string& path) {
  std::vector<std::string> children;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception&) {
    return children;  // kiln says what is wrong with it, on the target
  }
  if (!root.IsMap() || !root["phases"].IsSequence()) return children;
  for (const auto& phase : root["phases"]) {
    if (!phase.IsMap() || !phase["steps"].IsSequence()) continue;
    for (const auto& step : phase["steps"]) {
      if (!step.IsMap() || !step["action"].IsScalar() || step["action"].Scalar() != "ExecuteDocument") continue;
      const YAML::Node inputs = step["inputs"];
      if (!inputs.IsMap() || !inputs["document"].IsScalar()) continue;
      const std::string& child = inputs["document"].Scalar();
      if (child.empty() || child.front() == '/' || child.find("://") != std::string::npos ||
          child.rfind("arn:", 0) == 0 || child.find("{{") != std::string::npos)
        continue;
      children.push_back(child);
    }
  }
  return children;
}

}  // namespace

DocumentFiles document_files(const std::vector<std::string>& documents) {
  DocumentFiles result;
  std::vector<fs::path> locals;
  std::set<fs::path> seen;
  std::deque<fs::path> pending;
  for (const auto& document : documents) {
    std::error_code ec;
    fs::path absolute = fs::weakly_canonical(fs::absolute(document), ec);
    if (ec) absolute = fs::absolute(document).lexically_normal();
    result.documents.push_back(absolute.string());  // made relative below
    if (seen.insert(absolute).second) {
      locals.push_back(absolute);
      pending.push_back(absolute);
    }
  }
  while (!pending.empty()) {
    fs::path parent = pending.front();
    pending.pop_front();
    for (const auto& child : relative_children(parent.string())) {
      fs::path local = (parent.parent_path() / child).lexically_normal();
      std::error_code ec;
      if (!fs::is_regular_file(local, ec)) {
        result.warnings.push_back(parent.string() + ": ExecuteDocument " + child + ": not found at " +
                                  local.string() + " (not uploaded)");
        continue;
      }
      if (seen.insert(local).second) {
        locals.push_back(local);
        pending.push_back(local);
      }
    }
  }
  // The closest folder holding every file.
  fs::path root = locals.empty() ? fs::path("/") : locals.front().parent_path();
  for (const auto& local : locals) {
    while (root != root.root_path() && local.lexically_relative(root).string().rfind("..", 0) == 0)
      root = root.parent_path();
  }
  for (const auto& local : locals) result.files.push_back({local.string(), local.lexically_relative(root).string()});
  for (auto& document : result.documents) document = fs::path(document).lexically_relative(root).string();
  return result;
}

}  // namespace kiln::ctl
