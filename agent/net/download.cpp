#include "agent/net/download.h"

#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "agent/base/durable_file.h"

namespace kiln::net {
namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// "bytes 100-199/200" -> 100.
std::optional<uint64_t> content_range_start(const std::string& value) {
  if (value.compare(0, 6, "bytes ") != 0) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long start = std::strtoull(value.c_str() + 6, &end, 10);
  if (errno != 0 || end == value.c_str() + 6 || *end != '-') return std::nullopt;
  return static_cast<uint64_t>(start);
}

std::string describe_error(TransferError error) {
  switch (error) {
    case TransferError::Connect:
      return "connection failed";
    case TransferError::Tls:
      return "TLS failed";
    case TransferError::Timeout:
      return "timed out";
    case TransferError::Aborted:
      return "aborted";
    case TransferError::Truncated:
      return "the connection closed early";
    case TransferError::Other:
      return "transfer failed";
    case TransferError::Redirects:
      return "too many redirects";
    case TransferError::None:
      break;
  }
  return "";
}

std::string attempts_text(int attempts) {
  return "after " + std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

// Removes the partial file unless told the download completed.
class PartialFile {
 public:
  explicit PartialFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  }
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // fsync, close and rename over `final_path`, then fsync the folder so the rename lasts.
  std::string commit(const std::string& final_path) {
    if (sync_file(fd_) != 0) return errno_text("cannot flush", path_);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return errno_text("cannot close", path_);
    if (::rename(path_.c_str(), final_path.c_str()) != 0)
      return errno_text("cannot rename the download to", final_path);
    kept_ = true;
    return sync_folder_and_parents(parent_folder(final_path));  // the folders it created too
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool kept_ = false;
};

// Hands the file to the disk while the body still arrives, so that the fsync before the
// rename waits only for the tail. Without it that fsync waited for all of a 1 GiB download
// after the transfer: 0.79x curl's median throughput on ext4, 0.87x with it (curl never
// syncs; docs/BENCHMARKS.md, row 6). Every kWindow bytes, the window just written
// starts its writeback (SYNC_FILE_RANGE_WRITE) and kiln waits for the window before it, so
// at most two windows are in flight and the dirty pages stay bounded whatever the size.
// 8, 16 and 32 MiB windows measured the same (64 MiB was slower); POSIX_FADV_DONTNEED on
// the waited window (to spare the page cache) cost 10% of the throughput, so it is not done.
// The fsync in commit() is still what makes the file durable. An I/O error fails the
// download: the kernel reports it once per descriptor, to whichever call waits first, so an
// error swallowed here would let that fsync succeed. A file system without the call
// (EINVAL, ENOSYS, ...) just gets no head start.
class Writeback {
 public:
  static constexpr uint64_t kWindow = 16 << 20;
  explicit Writeback(int fd) : fd_(fd) {}
  // Bytes [0, end) are written. False on an I/O error (errno says which).
  bool written_up_to(uint64_t end) {
    if (!supported_ || end < started_ + kWindow) return true;
    if (!range(started_, end, SYNC_FILE_RANGE_WRITE)) return false;
    if (started_ > waited_) {
      if (!range(waited_, started_, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER))
        return false;
      waited_ = started_;
    }
    started_ = end;
    return true;
  }
  // The file was cut to `size` (the server ignored Range): what lay beyond is gone.
  void truncated_to(uint64_t size) {
    started_ = std::min(started_, size);
    waited_ = std::min(waited_, size);
  }

 private:
  bool range(uint64_t from, uint64_t to, unsigned flags) {
    if (::sync_file_range(fd_, static_cast<off_t>(from), static_cast<off_t>(to - from), flags) == 0) return true;
    if (errno == EIO || errno == ENOSPC || errno == EDQUOT) return false;
    supported_ = false;
    return true;
  }

  int fd_;
  bool supported_ = true;
  uint64_t started_ = 0;  // writeback started for [0, started_)
  uint64_t waited_ = 0;   // written back: [0, waited_)
};

}  // namespace

std::string partial_path_for(const std::string& final_path) {
  size_t slash = final_path.rfind('/');
  std::string folder = slash == std::string::npos ? "" : final_path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  return folder + "." + name + ".kiln-partial";
}

std::string file_name_from_url(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path_start = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path_start == std::string::npos) return "";
  size_t path_end = url.find_first_of("?#", path_start);
  std::string path = url.substr(path_start, path_end == std::string::npos ? std::string::npos : path_end - path_start);
  std::string raw = path.substr(path.rfind('/') + 1);
  std::string name;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
      name += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      name += raw[i];
    }
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    return "";
  return name;
}

DownloadResult download_to_file(HttpClient& client, const std::string& url, const std::string& final_path,
                                const DownloadOptions& options) {
  DownloadResult result;
  if (::strncasecmp(url.c_str(), "http://", 7) != 0 && ::strncasecmp(url.c_str(), "https://", 8) != 0) {
    result.message = "GET " + url + ": only http:// and https:// URLs can be downloaded";
    return result;
  }
  PartialFile file(partial_path_for(final_path));
  if (file.fd() < 0) {
    result.message = errno_text("cannot create", file.path());
    return result;
  }
  Writeback writeback(file.fd());
  std::optional<StreamingDigest> digest;
  if (options.algorithm) digest.emplace(*options.algorithm);
  uint64_t written = 0;     // bytes of the body on disk, hashed in order
  uint64_t asked_from = 0;  // the Range start of the current attempt
  std::string local_error;  // a failure on our side (disk, a bad Content-Range): not retried

  using Clock = std::chrono::steady_clock;
  const bool has_deadline = options.timeout.count() >= 0;
  const Clock::time_point deadline = Clock::now() + std::max(options.timeout, std::chrono::milliseconds(0));
  auto seconds_left = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::chrono::seconds((left.count() + 999) / 1000);
  };

  HttpRequest request;
  request.url = url;
  request.verify_tls = options.verify_tls;
  request.connect_timeout = options.connect_timeout;
  request.low_speed_bytes = options.low_speed_bytes;
  request.low_speed_time = options.low_speed_time;
  request.cancel = options.cancel;
  if (has_deadline) request.total_timeout = std::max(seconds_left(), std::chrono::seconds(1));
  request.on_headers = [&](long status, const std::vector<HttpHeader>& headers) {
    uint64_t start = 0;
    if (status == 206) {
      std::string range;
      for (const auto& h : headers)
        if (::strcasecmp(h.name.c_str(), "Content-Range") == 0) range = h.value;
      auto parsed = content_range_start(range);
      if (!parsed || *parsed != asked_from) {
        local_error = "asked for the body from byte " + std::to_string(asked_from) +
                      " but the server answered 206 with Content-Range '" + range + "'";
        return false;
      }
      start = *parsed;
    }
    if (start != written) {  // the server ignored Range (200): start over
      if (::ftruncate(file.fd(), static_cast<off_t>(start)) != 0) {
        local_error = errno_text("cannot truncate", file.path());
        return false;
      }
      written = start;
      writeback.truncated_to(start);
      if (digest) digest->restart();
    }
    return true;
  };
  request.on_body = [&](std::string_view chunk) {
    while (!chunk.empty()) {
      ssize_t n = ::pwrite(file.fd(), chunk.data(), chunk.size(), static_cast<off_t>(written));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        local_error = errno_text("cannot write", file.path());
        return false;
      }
      if (digest) digest->update(chunk.substr(0, static_cast<size_t>(n)));
      written += static_cast<uint64_t>(n);
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    if (!writeback.written_up_to(written)) {
      local_error = errno_text("cannot write", file.path());
      return false;
    }
    return true;
  };

  auto before_retry = [&](HttpRequest& next, const HttpResponse& failed) {
    if (!local_error.empty()) return false;
    if (has_deadline) {
      if (Clock::now() >= deadline) {
        result.timed_out = true;
        return false;
      }
      next.total_timeout = std::max(seconds_left(), std::chrono::seconds(1));
    }
    next.resume_from = asked_from = written;
    if (options.log) {
      std::string why = failed.error != TransferError::None
                            ? describe_error(failed.error) + " (" + failed.error_message + ")"
                            : "HTTP " + std::to_string(failed.status);
      options.log("GET " + url + ": attempt " + std::to_string(failed.attempts) + " failed: " + why + "; retrying" +
                  (written ? " from byte " + std::to_string(written) : ""));
    }
    return true;
  };
  HttpResponse response = perform_with_retries(client, request, options.retry, before_retry);
  result.attempts = response.attempts;
  result.status = response.status;
  result.error = response.error;
  if (response.error == TransferError::Timeout && has_deadline && Clock::now() >= deadline) result.timed_out = true;

  std::string failure;
  if (!local_error.empty()) {
    failure = local_error;
  } else if (response.error != TransferError::None) {
    failure = describe_error(response.error) + ": " + response.error_message;
  } else if (!response.ok()) {
    failure = "HTTP " + std::to_string(response.status);
  } else if (digest) {
    std::string got = digest->finish_hex();
    std::string expected = options.checksum;
    while (!expected.empty() && std::isspace(static_cast<unsigned char>(expected.back()))) expected.pop_back();
    while (!expected.empty() && std::isspace(static_cast<unsigned char>(expected.front()))) expected.erase(0, 1);
    if (got.size() != expected.size() || ::strcasecmp(got.c_str(), expected.c_str()) != 0)
      failure = "checksum mismatch: expected " + expected + ", the download has " + got;
  }
  if (failure.empty()) failure = file.commit(final_path);
  if (!failure.empty()) {
    result.message = "GET " + url + ": " + failure + " " + attempts_text(result.attempts);
    return result;
  }
  result.ok = true;
  result.bytes = written;
  return result;
}

}  // namespace kiln::net
