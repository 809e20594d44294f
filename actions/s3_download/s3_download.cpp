// S3Download: each item fetches one object to a file, or (source ending in "/*") every
// object under a prefix into a folder, keeping the key structure; keys that would land
// outside the folder are refused. Parent folders are created (AWSTOE's guide says they
// must exist but creates them for prefixes; kiln is consistent). A destination ending in
// '/' or naming a folder gets the key's last component as file name.
#include <filesystem>

#include "actions/common/path_ops.h"
#include "actions/common/s3_action.h"

namespace kiln {
namespace fs = std::filesystem;

ActionResult run_s3_download(ActionContext& context) {
  net::S3Client client(net::shared_aws_environment(), s3_action::options_for(context, "S3Download"));
  path_ops::Interrupt interrupt(context);
  ActionResult result = path_ops::run_items(context, "source", [&](const nlohmann::json& item) -> std::string {
    std::string source = item.at("source").get<std::string>(), path = item.at("destination").get<std::string>();
    std::string owner = item.value("expectedBucketOwner", "");
    bool overwrite = item.at("overwrite").get<bool>();  // the schema default is filled in
    bool prefix = source.size() > 5 && source.ends_with("/*");
    auto location = net::parse_s3_url(prefix ? source.substr(0, source.size() - 1) : source);
    if (!location) return location.error();
    if (prefix) {
      auto batch = net::download_prefix(client, *location, path, overwrite, owner);
      if (!batch) return batch.error();
      return batch->ok() ? "" : batch->summary("objects", "downloaded");
    }
    if (location->key.empty() || location->key.back() == '/')
      return source + " names no object (a prefix download ends in /*)";
    std::error_code ec;
    if (path_ops::ends_with_separator(path) || fs::is_directory(path, ec))
      path = (path_ops::ends_with_separator(path) ? path : path + "/") + fs::path(location->key).filename().string();
    if (!overwrite && fs::exists(fs::symlink_status(path, ec))) return path + " already exists and overwrite is false";
    Status st = client.get_object(*location, path, owner);
    return st ? "" : st.error();
  });
  result.timed_out = result.timed_out || (!result.success && interrupt.timed_out());
  return result;
}

}  // namespace kiln
