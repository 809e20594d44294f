// Downloading a URL to a file so that the file appears whole or not at all: the body
// streams into `.<name>.kiln-partial` beside the destination (same folder, so the final
// rename is atomic) through a fixed buffer, whatever its size; a retryable failure resumes
// from the bytes already on disk with a Range request (or starts over when the server
// ignores Range); the checksum, when asked for, is computed while the bytes are written
// and checked before the rename; the file's writeback to disk starts while it downloads,
// and it is fsynced before it is renamed over the destination. On any failure the partial file is removed and the destination (an older
// file there included) is untouched.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/base/hash.h"
#include "agent/net/http.h"

namespace kiln::net {

struct DownloadOptions {
  bool verify_tls = true;
  std::optional<DigestAlgorithm> algorithm;  // with checksum: verified before the rename
  std::string checksum;                      // hex, either case
  RetryPolicy retry;                         // AWSTOE: 5 attempts, exponential backoff
  std::chrono::milliseconds timeout{-1};     // for all attempts together; negative: none
  std::chrono::seconds connect_timeout{30};
  long low_speed_bytes = 1;                 // abort below this many bytes/s ...
  std::chrono::seconds low_speed_time{60};  // ... for this long
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> log;  // a line per failed attempt that is retried
};

struct DownloadResult {
  bool ok = false;
  uint64_t bytes = 0;  // size of the file written
  int attempts = 0;
  long status = 0;  // the last HTTP status (0: the last attempt got none)
  TransferError error = TransferError::None;
  bool timed_out = false;  // options.timeout ran out
  std::string message;     // why it failed: the URL, the status or transport error, the attempts
};

DownloadResult download_to_file(HttpClient& client, const std::string& url, const std::string& final_path,
                                const DownloadOptions& options);

// Where the body is written until it is complete: ".<name>.kiln-partial" beside `final_path`.
std::string partial_path_for(const std::string& final_path);

// The file name a URL's path ends with, percent-decoded ("" when it has none, or when the
// name is "." or ".." or holds a '/' once decoded): WebDownload's name for a folder destination.
std::string file_name_from_url(const std::string& url);

}  // namespace kiln::net
