// S3Upload: each item sends a file to an object (a destination ending in '/' gets the
// file's name appended), the files matching a wildcard (`dir/*`; with `recurse`, the
// matching folders' files too) or, with `recurse`, a folder's files, to keys under the
// destination prefix that keep the relative paths. `recurse` is a boolean or, as AWSTOE
// documents it, the string "true"/"false". A partial failure names what was and was not
// uploaded; nothing already uploaded is removed.
#include <filesystem>

#include "actions/common/path_ops.h"
#include "actions/common/s3_action.h"

namespace kiln {
namespace fs = std::filesystem;

namespace {

// The transfers for one item, or why there are none.
std::string plan(const std::string& source, const net::S3Location& destination, bool recurse,
                 std::vector<net::S3Transfer>& transfers) {
  net::S3Location prefix = destination;
  if (!prefix.key.empty() && prefix.key.back() != '/') prefix.key += '/';
  path_ops::SourcePattern pattern;
  if (std::string error = path_ops::parse_source(source, pattern); !error.empty()) return error;
  std::error_code ec;
  if (pattern.wildcard) {
    std::vector<std::string> files, folders;
    if (auto e = path_ops::expand_wildcard(pattern, path_ops::Kind::RegularFile, files); !e.empty()) return e;
    if (recurse)
      if (auto e = path_ops::expand_wildcard(pattern, path_ops::Kind::Folder, folders); !e.empty()) return e;
    for (const auto& file : files)
      transfers.push_back({{prefix.bucket, prefix.key + fs::path(file).filename().string()}, file});
    for (const auto& folder : folders) {
      auto inside = net::folder_transfers(folder, {prefix.bucket, prefix.key + fs::path(folder).filename().string()});
      if (!inside) return inside.error();
      transfers.insert(transfers.end(), inside->begin(), inside->end());
    }
    if (transfers.empty())
      return "no file matches " + source + (recurse ? "" : " (folders are uploaded only with recurse: true)");
  } else if (fs::is_directory(pattern.path, ec)) {
    if (!recurse) return source + " is a folder; set recurse: true to upload the files under it";
    auto inside = net::folder_transfers(pattern.path, prefix);
    if (!inside) return inside.error();
    transfers = std::move(*inside);
  } else if (fs::is_regular_file(pattern.path, ec)) {
    bool into_prefix = destination.key.empty() || destination.key.back() == '/';
    std::string key = into_prefix ? prefix.key + fs::path(pattern.path).filename().string() : destination.key;
    transfers.push_back({{destination.bucket, key}, pattern.path});
  } else {
    return source + " does not exist";
  }
  return "";
}

}  // namespace

ActionResult run_s3_upload(ActionContext& context) {
  net::S3Client client(net::shared_aws_environment(), s3_action::options_for(context, "S3Upload"));
  path_ops::Interrupt interrupt(context);
  ActionResult result = path_ops::run_items(context, "source", [&](const nlohmann::json& item) -> std::string {
    std::string source = item.at("source").get<std::string>(), owner = item.value("expectedBucketOwner", "");
    const nlohmann::json& recurse_input = item.at("recurse");  // the schema default is filled in
    bool recurse = recurse_input.is_boolean() ? recurse_input.get<bool>() : recurse_input == "true";
    if (recurse_input.is_string() && recurse_input != "true" && recurse_input != "false")
      return "recurse must be true or false, not '" + recurse_input.get<std::string>() + "'";
    auto destination = net::parse_s3_url(item.at("destination").get<std::string>());
    if (!destination) return destination.error();
    std::vector<net::S3Transfer> transfers;
    if (std::string error = plan(source, *destination, recurse, transfers); !error.empty()) return error;
    net::S3BatchResult batch = client.put_objects(transfers, owner);
    return batch.ok() ? "" : batch.summary("files", "uploaded");
  });
  result.timed_out = result.timed_out || (!result.success && interrupt.timed_out());
  return result;
}

}  // namespace kiln
