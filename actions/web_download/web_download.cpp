// WebDownload: each item downloads `source` to `destination` (agent/net/download.h does the
// transfer: partial file, resume, retries, checksum, fsync and rename). A destination ending
// in '/' or naming an existing folder gets the URL's file name. The `destination` output
// lists the written paths, one line per item.
#include <strings.h>

#include <filesystem>

#include "actions/common/path_ops.h"
#include "agent/net/download.h"

namespace kiln {
namespace fs = std::filesystem;

ActionResult run_web_download(ActionContext& context) {
  net::HttpClient client;  // one per step: items share its connections
  path_ops::Interrupt interrupt(context);
  auto deadline = std::chrono::steady_clock::now() + context.timeout;  // used when timeout >= 0
  std::vector<std::string> written;
  auto log = [&](const std::string& line) {
    if (context.log) context.log("WebDownload: " + line);
  };
  ActionResult result = path_ops::run_items(context, "source", [&](const nlohmann::json& item) -> std::string {
    std::string source = item.at("source").get<std::string>(), path = item.at("destination").get<std::string>();
    std::error_code ec;
    if (path.empty()) return "the destination is empty";
    if (path_ops::ends_with_separator(path) || fs::is_directory(path, ec)) {
      std::string name = net::file_name_from_url(source);
      if (name.empty()) return "the URL has no usable file name for the folder destination " + path;
      path = (path_ops::ends_with_separator(path) ? path : path + "/") + name;
    }
    if (fs::path parent = fs::path(path).parent_path(); !parent.empty() && !fs::create_directories(parent, ec) && ec)
      return "cannot create the folder " + parent.string() + ": " + ec.message();
    net::DownloadOptions options;
    std::string checksum = item.value("checksum", ""), algorithm = item.value("algorithm", "");
    if (!algorithm.empty() && !(options.algorithm = parse_digest_algorithm(algorithm)))
      return "unknown algorithm '" + algorithm + "' (MD5, SHA1, SHA256 or SHA512)";
    if (checksum.empty() != algorithm.empty()) {
      log("note: " + source + ": checksum and algorithm go together; without both nothing is verified");
      options.algorithm.reset();
    }
    options.checksum = checksum;
    bool exists = fs::exists(fs::symlink_status(path, ec));
    if (exists && !item.at("overwrite").get<bool>()) return path + " exists and overwrite is false";
    if (exists && options.algorithm && fs::is_regular_file(path, ec)) {
      FileDigest existing = file_digest_hex(path, *options.algorithm);
      if (existing.error.empty() && ::strcasecmp(existing.hex.c_str(), checksum.c_str()) == 0) {
        log(path + " already has the expected " + algorithm + " checksum; not downloaded again");
        written.push_back(path);
        return "";
      }
    }
    options.verify_tls = !item.at("ignoreCertificateErrors").get<bool>();
    if (context.timeout.count() >= 0)  // what is left of the step's budget
      options.timeout =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    options.cancel = context.cancel;
    options.log = log;
    auto started = std::chrono::steady_clock::now();
    net::DownloadResult download = net::download_to_file(client, source, path, options);
    if (!download.ok) return download.message;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    log(source + " -> " + path + ": " + std::to_string(download.bytes) + " bytes in " + std::to_string(ms.count()) +
        " ms, " + std::to_string(download.attempts) + (download.attempts == 1 ? " attempt" : " attempts"));
    written.push_back(path);
    return "";
  });
  if (!result.success) {
    result.timed_out = result.timed_out || interrupt.timed_out();
    std::string done;
    for (const auto& p : written) done += (done.empty() ? "" : ", ") + p;
    result.failure_message += "; downloaded before the failure: " + (done.empty() ? std::string("none") : done);
  }
  std::string destinations;
  for (const auto& p : written) destinations += (destinations.empty() ? "" : "\n") + p;
  result.outputs["destination"] = destinations;
  return result;
}

}  // namespace kiln
