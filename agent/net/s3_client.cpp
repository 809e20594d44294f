#include "agent/net/s3_client.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "agent/base/durable_file.h"
#include "agent/base/hash.h"
#include "agent/net/aws_sigv4.h"
#include "agent/net/download.h"
#include "agent/net/xml.h"

namespace kiln::net {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

long long millis_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// A destination being written: the partial file beside it, renamed when complete. The
// file is opened when the response's headers arrive and closed as soon as the announced
// length is in, so a batch of thousands holds descriptors only for transfers in flight.
struct PartialFile {
  std::string path;
  std::string partial;
  int fd = -1;
  bool created = false;
  std::string error;  // why writing failed
  uint64_t bytes = 0;
  std::optional<uint64_t> expected;

  std::string prepare() {
    std::error_code ec;
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::create_directories(parent, ec) && ec)
      return "cannot create the folder " + parent.string() + ": " + ec.message();
    partial = partial_path_for(path);
    return "";
  }
  // Each attempt starts the file over.
  bool start(const std::vector<HttpHeader>& headers) {
    bytes = 0;
    expected.reset();
    for (const auto& h : headers)
      if (h.name.size() == 14 && ::strncasecmp(h.name.c_str(), "content-length", 14) == 0)
        expected = std::strtoull(h.value.c_str(), nullptr, 10);
    if (fd < 0) {
      fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd < 0) return fail("cannot create " + partial + ": " + std::strerror(errno));
      created = true;
    } else if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
      return fail("cannot truncate " + partial + ": " + std::strerror(errno));
    }
    return finish_if_complete();
  }
  bool append(std::string_view data) {
    if (fd < 0) return fail("data after the announced length for " + partial);
    if (int e = write_all(fd, data)) return fail("cannot write " + partial + ": " + std::strerror(e));
    bytes += data.size();
    return finish_if_complete();
  }
  bool finish_if_complete() {
    if (!expected || bytes < *expected) return true;
    return close_synced();
  }
  // fsync before the rename, so that after a power cut the destination is complete or
  // absent (the folder's sync after the renames makes them last).
  bool close_synced() {
    int was = fd;
    fd = -1;
    if (sync_file(was) != 0) {
      int sync_error = errno;
      ::close(was);
      return fail("cannot flush " + partial + ": " + std::strerror(sync_error));
    }
    if (::close(was) != 0) return fail("cannot write " + partial + ": " + std::strerror(errno));
    return true;
  }
  bool fail(std::string why) {
    error = std::move(why);
    return false;
  }
  std::string commit() {
    if (!error.empty()) return error;
    if (!created) return "no answer was written to " + path;
    if (fd >= 0 && !close_synced()) return error;
    if (::rename(partial.c_str(), path.c_str()) != 0) return "cannot rename to " + path + ": " + std::strerror(errno);
    created = false;
    return "";
  }
  void discard() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (created) ::unlink(partial.c_str());
    created = false;
  }
  ~PartialFile() { discard(); }
};

void attach(HttpRequest& request, PartialFile& file) {
  request.on_headers = [&file](long, const std::vector<HttpHeader>& headers) { return file.start(headers); };
  request.on_body = [&file](std::string_view data) { return file.append(data); };
}

// Today's rules allow a-z 0-9 . - (3-63); buckets made in us-east-1 before 2018 may also
// hold upper case and '_' (up to 255): accepted, and addressed path-style.
bool valid_bucket_name(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 255) return false;
  for (char c : bucket)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
          c == '_'))
      return false;
  return true;
}

// Whether the bucket can be a host name under *.s3.<region>.amazonaws.com (and its certificate).
bool virtual_host_bucket(const std::string& bucket) {
  if (bucket.size() > 63) return false;
  for (char c : bucket)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return bucket.front() != '-' && bucket.back() != '-';
}

std::string join_names(const std::vector<std::string>& names, size_t shown) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

constexpr size_t kShownNames = 3;

}  // namespace

Expected<S3Location> parse_s3_url(const std::string& url) {
  if (url.rfind("s3://", 0) != 0) return unexpected("'" + url + "' is not an S3 URL (expected s3://bucket/key)");
  std::string rest = url.substr(5);
  size_t slash = rest.find('/');
  S3Location location{rest.substr(0, slash), slash == std::string::npos ? "" : rest.substr(slash + 1)};
  if (location.bucket.empty()) return unexpected("'" + url + "' names no bucket (expected s3://bucket/key)");
  if (!valid_bucket_name(location.bucket))
    return unexpected("'" + url + "': '" + location.bucket +
                      "' is not a valid bucket name (3-63 characters: a-z, 0-9, '.', '-')");
  return location;
}

Expected<std::string> local_path_for_key(const std::string& folder, const std::string& prefix, const std::string& key) {
  auto refuse = [&](const std::string& why) {
    return unexpected("refused key '" + key + "': " + why + "; it could be written outside " + folder);
  };
  if (key.rfind(prefix, 0) != 0) return refuse("it is not under the prefix '" + prefix + "'");
  if (!key.empty() && key.front() == '/') return refuse("it is absolute");
  std::string relative;
  std::string_view rest = std::string_view(key).substr(prefix.size());
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return refuse("it has a '..' component");
    relative += (relative.empty() ? "" : "/") + std::string(part);
  }
  if (relative.empty() || key.back() == '/') return std::string();  // the prefix itself or a folder marker
  std::string base = folder;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "/" + relative;
}

std::string S3BatchResult::summary(const std::string& noun, const std::string& verb) const {
  size_t total = done.size() + failed.size();
  std::string out = std::to_string(done.size()) + " of " + std::to_string(total) + " " + noun + " " + verb + " (" +
                    std::to_string(bytes) + " bytes)";
  if (!failed.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, why] : failed) names.push_back(name + " (" + why + ")");
    out += "; not " + verb + ": " + join_names(names, kShownNames);
  }
  if (!done.empty() && !failed.empty()) out += "; " + verb + ": " + join_names(done, kShownNames);
  return out;
}

std::string s3_error_message(const std::string& what, const HttpResponse& response) {
  std::string attempts = response.attempts > 1 ? " after " + std::to_string(response.attempts) + " attempts" : "";
  if (response.status == 0)
    return what + ": " + (response.error_message.empty() ? "transfer failed" : response.error_message) + attempts;
  std::string code = xml_value(response.body, "Code"), message = xml_value(response.body, "Message");
  std::string out = what + ": ";
  if (!code.empty()) out += code + (message.empty() ? "" : ": " + message) + " ";
  return out + "(HTTP " + std::to_string(response.status) + ")" + attempts;
}

Expected<std::string> file_slice_sha256(const std::string& file, uint64_t offset, uint64_t length) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected("cannot open " + file + ": " + std::strerror(errno));
  StreamingDigest digest(DigestAlgorithm::Sha256);
  std::string buffer(256 * 1024, '\0');
  while (length > 0) {
    ssize_t n = ::pread(fd, buffer.data(), std::min<uint64_t>(buffer.size(), length), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : 0;
      ::close(fd);
      return unexpected("cannot read " + file + ": " + (e ? std::strerror(e) : "file shorter than expected"));
    }
    digest.update(std::string_view(buffer.data(), static_cast<size_t>(n)));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  ::close(fd);
  return digest.finish_hex();
}

S3Client::S3Client(AwsEnvironment& aws, S3ClientOptions options) : aws_(aws), options_(std::move(options)) {
  options_.parallel = std::max<size_t>(1, options_.parallel);
  options_.part_size = std::max<uint64_t>(1, options_.part_size);
  options_.max_keys = std::max(1, options_.max_keys);
}

Status S3Client::sign(HttpRequest& request, const std::string& payload_sha256) {
  auto credentials = aws_.credentials();
  if (!credentials) return unexpected(credentials.error());
  sign_request(request, *credentials, {region_, "s3"}, payload_sha256);
  return {};
}

void S3Client::apply_limits(HttpRequest& request) const {
  request.cancel = options_.cancel;
  if (options_.deadline) {
    auto left = std::chrono::ceil<std::chrono::seconds>(*options_.deadline - SteadyClock::now());
    request.total_timeout = std::max(std::chrono::seconds(1), left);
  }
}

Expected<HttpRequest> S3Client::make_request(const std::string& method, const S3Location& object,
                                             const std::string& query, const std::string& expected_owner,
                                             RequestBody body, const std::string& payload_sha256) {
  if (region_.empty()) {
    auto region = aws_.region();
    if (!region) return unexpected(region.error());
    region_ = *region;
  }
  std::string endpoint = aws_.endpoint(AwsService::S3, region_);
  HttpRequest request;
  request.method = method;
  bool path_style = aws_.endpoint_overridden(AwsService::S3) || !virtual_host_bucket(object.bucket);
  request.url = s3_object_url(endpoint, path_style, object);
  if (!query.empty()) request.url += "?" + query;
  request.body = std::move(body);
  request.follow_redirects = false;  // a redirect to another region would need a new signature
  if (!expected_owner.empty()) request.headers.push_back({"x-amz-expected-bucket-owner", expected_owner});
  apply_limits(request);
  if (Status st = sign(request, payload_sha256); !st) return unexpected(st.error());
  return request;
}

HttpResponse S3Client::perform(HttpRequest request, const std::string& payload_sha256) {
  if (options_.deadline && SteadyClock::now() >= *options_.deadline) {
    HttpResponse timed_out;
    timed_out.error = TransferError::Timeout;
    timed_out.error_message = "timed out (the step's timeoutSeconds ran out)";
    return timed_out;
  }
  HttpResponse response = perform_with_retries(
      http_, std::move(request), options_.retry, [this, payload_sha256](HttpRequest& retry, const HttpResponse&) {
        // No new attempt once the step's time is up.
        if (options_.deadline && SteadyClock::now() >= *options_.deadline) return false;
        apply_limits(retry);
        return static_cast<bool>(sign(retry, payload_sha256));  // a fresh x-amz-date
      });
  if (response.error == TransferError::Timeout && options_.deadline && SteadyClock::now() >= *options_.deadline)
    response.error_message = "timed out (the step's timeoutSeconds ran out)";
  return response;
}

Status S3Client::get_object(const S3Location& object, const std::string& path, const std::string& expected_owner,
                            uint64_t* bytes) {
  auto start = SteadyClock::now();
  auto request = make_request("GET", object, "", expected_owner, {}, kEmptyPayloadSha256);
  if (!request) return unexpected(object.url() + ": " + request.error());
  PartialFile file;
  file.path = path;
  if (std::string error = file.prepare(); !error.empty()) return unexpected(error);
  attach(*request, file);
  HttpResponse response = perform(std::move(*request), kEmptyPayloadSha256);
  if (!file.error.empty()) return unexpected(file.error);
  if (!response.ok()) return unexpected(s3_error_message(object.url(), response));
  if (std::string error = file.commit(); !error.empty()) return unexpected(error);
  if (std::string error = sync_folder_and_parents(parent_folder(path)); !error.empty()) return unexpected(error);
  if (bytes) *bytes = file.bytes;
  log("S3 GET " + object.url() + " -> " + path + " (" + std::to_string(file.bytes) + " bytes, " +
      std::to_string(millis_since(start)) + " ms)");
  return {};
}

Expected<std::string> S3Client::get_object_text(const S3Location& object, const std::string& expected_owner,
                                                size_t max_bytes) {
  auto request = make_request("GET", object, "", expected_owner, {}, kEmptyPayloadSha256);
  if (!request) return unexpected(object.url() + ": " + request.error());
  std::string text;
  bool too_large = false;
  request->on_headers = [&](long, const std::vector<HttpHeader>&) {
    text.clear();
    return true;
  };
  request->on_body = [&](std::string_view data) {
    if (text.size() + data.size() > max_bytes) {
      too_large = true;
      return false;
    }
    text.append(data);
    return true;
  };
  HttpResponse response = perform(std::move(*request), kEmptyPayloadSha256);
  if (too_large) return unexpected(object.url() + ": larger than " + std::to_string(max_bytes) + " bytes");
  if (!response.ok()) return unexpected(s3_error_message(object.url(), response));
  return text;
}

Status S3Client::put_object(const std::string& file, const S3Location& object, const std::string& expected_owner) {
  auto start = SteadyClock::now();
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return unexpected("cannot read " + file + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return unexpected(file + " is not a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size >= options_.multipart_threshold && size > options_.part_size) {
    Status multipart = put_multipart(file, size, object, expected_owner);
    if (multipart)
      log("S3 PUT " + file + " -> " + object.url() + " (" + std::to_string(size) + " bytes in parts, " +
          std::to_string(millis_since(start)) + " ms)");
    return multipart;
  }
  auto hash = file_slice_sha256(file, 0, size);
  if (!hash) return unexpected(hash.error());
  RequestBody body;
  body.file = file;
  body.length = size;
  auto request = make_request("PUT", object, "", expected_owner, body, *hash);
  if (!request) return unexpected(object.url() + ": " + request.error());
  HttpResponse response = perform(std::move(*request), *hash);
  if (!response.ok()) return unexpected(s3_error_message(object.url(), response));
  log("S3 PUT " + file + " -> " + object.url() + " (" + std::to_string(size) + " bytes, " +
      std::to_string(millis_since(start)) + " ms)");
  return {};
}

Status S3Client::put_multipart(const std::string& file, uint64_t size, const S3Location& object,
                               const std::string& expected_owner) {
  auto create = make_request("POST", object, "uploads=", expected_owner, {}, kEmptyPayloadSha256);
  if (!create) return unexpected(object.url() + ": " + create.error());
  HttpResponse created = perform(std::move(*create), kEmptyPayloadSha256);
  if (!created.ok()) return unexpected(s3_error_message(object.url() + " (CreateMultipartUpload)", created));
  std::string upload_id = xml_value(created.body, "UploadId");
  if (upload_id.empty()) return unexpected(object.url() + ": CreateMultipartUpload gave no UploadId");
  std::string id_query = "uploadId=" + uri_encode(upload_id, false);

  auto abort_with = [&](const std::string& why) -> Status {
    if (auto abort = make_request("DELETE", object, id_query, expected_owner, {}, kEmptyPayloadSha256))
      (void)perform(std::move(*abort), kEmptyPayloadSha256);
    return unexpected(why + " (multipart upload aborted)");
  };

  uint64_t parts = (size + options_.part_size - 1) / options_.part_size;
  if (parts > 10000) return abort_with(object.url() + ": more than 10000 parts; raise the part size");
  std::vector<std::string> etags(parts);
  // Signed in batches just before they are sent: a signature is only valid for 15 minutes.
  size_t batch = options_.parallel * 2;
  for (uint64_t first = 0; first < parts; first += batch) {
    std::vector<HttpRequest> requests;
    std::vector<std::string> hashes;
    for (uint64_t i = first; i < std::min<uint64_t>(parts, first + batch); ++i) {
      RequestBody body;
      body.file = file;
      body.offset = i * options_.part_size;
      body.length = std::min(options_.part_size, size - body.offset);
      auto hash = file_slice_sha256(file, body.offset, body.length);
      if (!hash) return abort_with(hash.error());
      auto request = make_request("PUT", object, "partNumber=" + std::to_string(i + 1) + "&" + id_query, expected_owner,
                                  body, *hash);
      if (!request) return abort_with(object.url() + ": " + request.error());
      requests.push_back(std::move(*request));
      hashes.push_back(*hash);
    }
    std::vector<HttpResponse> responses = http_.perform_all(requests, options_.parallel);
    for (size_t j = 0; j < responses.size(); ++j) {
      HttpResponse response = std::move(responses[j]);
      if (!response.ok() && is_retryable(response) && !(options_.cancel && options_.cancel->load())) {
        HttpRequest again = requests[j];
        if (Status st = sign(again, hashes[j]); st) response = perform(std::move(again), hashes[j]);
      }
      std::string part_name = object.url() + " (part " + std::to_string(first + j + 1) + ")";
      if (!response.ok()) return abort_with(s3_error_message(part_name, response));
      etags[first + j] = response.header("ETag");
      if (etags[first + j].empty()) return abort_with(part_name + ": no ETag in the answer");
    }
  }
  std::string complete = "<CompleteMultipartUpload>";
  for (uint64_t i = 0; i < parts; ++i)
    complete +=
        "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(etags[i]) + "</ETag></Part>";
  complete += "</CompleteMultipartUpload>";
  RequestBody body;
  body.text = complete;
  std::string hash = sha256_hex(complete);
  auto finish = make_request("POST", object, id_query, expected_owner, body, hash);
  if (!finish) return abort_with(object.url() + ": " + finish.error());
  finish->headers.push_back({"Content-Type", "application/xml"});
  if (Status st = sign(*finish, hash); !st) return abort_with(st.error());
  HttpResponse done = perform(std::move(*finish), hash);
  // CompleteMultipartUpload can fail with a 200 whose body is an <Error>.
  if (!done.ok() || !xml_blocks(done.body, "Error").empty()) {
    if (done.ok()) done.status = 500;
    return abort_with(s3_error_message(object.url() + " (CompleteMultipartUpload)", done));
  }
  return {};
}

Expected<std::vector<S3Object>> S3Client::list_objects(const std::string& bucket, const std::string& prefix,
                                                       const std::string& expected_owner) {
  std::vector<S3Object> objects;
  std::string token;
  S3Location root{bucket, ""};
  std::string what = "s3://" + bucket + "/" + prefix + " (ListObjectsV2)";
  while (true) {
    // Built in sorted order (SigV4 sorts too, but the URL then matches what is signed).
    std::string query = token.empty() ? "" : "continuation-token=" + uri_encode(token, false) + "&";
    query += "list-type=2&max-keys=" + std::to_string(options_.max_keys) + "&prefix=" + uri_encode(prefix, false);
    auto request = make_request("GET", root, query, expected_owner, {}, kEmptyPayloadSha256);
    if (!request) return unexpected(what + ": " + request.error());
    request->max_body_in_memory = 64 * 1024 * 1024;
    HttpResponse response = perform(std::move(*request), kEmptyPayloadSha256);
    if (!response.ok()) return unexpected(s3_error_message(what, response));
    for (std::string_view block : xml_blocks(response.body, "Contents")) {
      S3Object object{xml_value(block, "Key"), 0};
      std::string size = xml_value(block, "Size");
      object.size = size.empty() ? 0 : std::strtoull(size.c_str(), nullptr, 10);
      objects.push_back(std::move(object));
    }
    if (xml_value(response.body, "IsTruncated") != "true") break;
    std::string next = xml_value(response.body, "NextContinuationToken");
    if (next.empty() || next == token) return unexpected(what + ": a truncated page without a continuation token");
    token = next;
  }
  return objects;
}

S3BatchResult S3Client::get_objects(const std::vector<S3Transfer>& transfers, const std::string& expected_owner) {
  S3BatchResult result;
  std::set<std::string, std::greater<>> folders;  // of the files written, deepest first
  // Large batches: perform_all pays a short idle wait when its last transfers end, and a
  // signature stays valid for 15 minutes (1024 small objects take seconds).
  size_t batch = 1024;
  for (size_t first = 0; first < transfers.size(); first += batch) {
    size_t count = std::min(batch, transfers.size() - first);
    std::vector<std::unique_ptr<PartialFile>> files;
    std::vector<HttpRequest> requests;
    std::vector<size_t> index;  // requests[i] is transfers[index[i]]
    for (size_t i = first; i < first + count; ++i) {
      const S3Transfer& t = transfers[i];
      if (options_.cancel && options_.cancel->load()) {
        result.failed.emplace_back(t.object.url(), "cancelled");
        continue;
      }
      auto file = std::make_unique<PartialFile>();
      file->path = t.file;
      auto request = make_request("GET", t.object, "", expected_owner, {}, kEmptyPayloadSha256);
      std::string error = request ? file->prepare() : request.error();
      if (!error.empty()) {
        result.failed.emplace_back(t.object.url(), error);
        continue;
      }
      attach(*request, *file);
      requests.push_back(std::move(*request));
      files.push_back(std::move(file));
      index.push_back(i);
    }
    auto start = SteadyClock::now();
    std::vector<HttpResponse> responses = http_.perform_all(requests, options_.parallel);
    for (size_t j = 0; j < responses.size(); ++j) {
      const S3Transfer& t = transfers[index[j]];
      PartialFile& file = *files[j];
      std::string error;
      if (!file.error.empty()) {
        error = file.error;
      } else if (!responses[j].ok()) {
        if (is_retryable(responses[j]) && !(options_.cancel && options_.cancel->load())) {
          file.discard();
          uint64_t bytes = 0;
          Status again = get_object(t.object, t.file, expected_owner, &bytes);
          if (again) {
            result.done.push_back(t.object.url());
            result.bytes += bytes;
            continue;
          }
          error = again.error();
        } else {
          error = s3_error_message(t.object.url(), responses[j]);
        }
      } else {
        error = file.commit();
      }
      if (!error.empty()) {
        file.discard();
        result.failed.emplace_back(t.object.url(), error);
        continue;
      }
      result.done.push_back(t.object.url());
      result.bytes += file.bytes;
      // The file's folder and every folder above it: folders the download created are
      // entries of their parents, which must be synced too.
      for (fs::path folder = fs::absolute(parent_folder(t.file)).lexically_normal();
           folders.insert(folder.string()).second && folder.has_relative_path();)
        folder = folder.parent_path();
      log("S3 GET " + t.object.url() + " -> " + t.file + " (" + std::to_string(file.bytes) + " bytes, batch of " +
          std::to_string(requests.size()) + " in " + std::to_string(millis_since(start)) + " ms)");
    }
  }
  // One sync per folder, after all its renames (not one per file), from the deepest up.
  for (const auto& folder : folders)
    if (std::string error = sync_folder(folder); !error.empty()) result.failed.emplace_back(folder, error);
  return result;
}

S3BatchResult S3Client::put_objects(const std::vector<S3Transfer>& transfers, const std::string& expected_owner) {
  S3BatchResult result;
  // Large batches: perform_all pays a short idle wait when its last transfers end, and a
  // signature stays valid for 15 minutes (1024 small objects take seconds).
  size_t batch = 1024;
  for (size_t first = 0; first < transfers.size(); first += batch) {
    size_t count = std::min(batch, transfers.size() - first);
    std::vector<HttpRequest> requests;
    std::vector<std::string> hashes;
    std::vector<size_t> index;
    std::vector<uint64_t> sizes;
    for (size_t i = first; i < first + count; ++i) {
      const S3Transfer& t = transfers[i];
      if (options_.cancel && options_.cancel->load()) {
        result.failed.emplace_back(t.file, "cancelled");
        continue;
      }
      struct stat st;
      if (::stat(t.file.c_str(), &st) != 0) {
        result.failed.emplace_back(t.file, std::string("cannot read: ") + std::strerror(errno));
        continue;
      }
      auto size = static_cast<uint64_t>(st.st_size);
      if (size >= options_.multipart_threshold && size > options_.part_size) {  // large: parts in parallel
        Status st_put = put_object(t.file, t.object, expected_owner);
        if (st_put) {
          result.done.push_back(t.file);
          result.bytes += size;
        } else {
          result.failed.emplace_back(t.file, st_put.error());
        }
        continue;
      }
      auto hash = file_slice_sha256(t.file, 0, size);
      RequestBody body;
      body.file = t.file;
      body.length = size;
      auto request = hash ? make_request("PUT", t.object, "", expected_owner, body, *hash)
                          : Expected<HttpRequest>(unexpected(hash.error()));
      if (!request) {
        result.failed.emplace_back(t.file, request.error());
        continue;
      }
      requests.push_back(std::move(*request));
      hashes.push_back(*hash);
      index.push_back(i);
      sizes.push_back(size);
    }
    auto start = SteadyClock::now();
    std::vector<HttpResponse> responses = http_.perform_all(requests, options_.parallel);
    for (size_t j = 0; j < responses.size(); ++j) {
      const S3Transfer& t = transfers[index[j]];
      HttpResponse response = std::move(responses[j]);
      if (!response.ok() && is_retryable(response) && !(options_.cancel && options_.cancel->load())) {
        HttpRequest again = requests[j];
        if (Status st = sign(again, hashes[j]); st) response = perform(std::move(again), hashes[j]);
      }
      if (!response.ok()) {
        result.failed.emplace_back(t.file, s3_error_message(t.object.url(), response));
        continue;
      }
      result.done.push_back(t.file);
      result.bytes += sizes[j];
      log("S3 PUT " + t.file + " -> " + t.object.url() + " (" + std::to_string(sizes[j]) + " bytes, batch of " +
          std::to_string(requests.size()) + " in " + std::to_string(millis_since(start)) + " ms)");
    }
  }
  return result;
}

std::string s3_object_url(const std::string& endpoint, bool path_style, const S3Location& object) {
  std::string path = "/" + uri_encode(object.key, true);
  if (path_style) return endpoint + "/" + object.bucket + path;
  size_t host = endpoint.find("://");
  host = host == std::string::npos ? 0 : host + 3;
  return endpoint.substr(0, host) + object.bucket + "." + endpoint.substr(host) + path;
}

Expected<std::vector<S3Transfer>> folder_transfers(const std::string& folder, const S3Location& prefix) {
  std::vector<S3Transfer> transfers;
  std::string key_prefix = prefix.key;
  if (!key_prefix.empty() && key_prefix.back() != '/') key_prefix += '/';
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, ec), end;
  if (ec) return unexpected("cannot read " + folder + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return unexpected("cannot read " + folder + ": " + ec.message());
    std::error_code type_error;
    if (!it->is_regular_file(type_error)) continue;
    std::string relative = it->path().lexically_relative(folder).generic_string();
    transfers.push_back({{prefix.bucket, key_prefix + relative}, it->path().string()});
  }
  std::sort(transfers.begin(), transfers.end(),
            [](const S3Transfer& a, const S3Transfer& b) { return a.object.key < b.object.key; });
  return transfers;
}

Status S3Client::upload_folder(const std::string& folder, const S3Location& prefix, const std::string& expected_owner) {
  auto transfers = folder_transfers(folder, prefix);
  if (!transfers) return unexpected(transfers.error());
  S3BatchResult result = put_objects(*transfers, expected_owner);
  if (!result.ok()) return unexpected(folder + " to " + prefix.url() + ": " + result.summary("files", "uploaded"));
  return {};
}

Expected<S3BatchResult> download_prefix(S3Client& client, const S3Location& prefix, const std::string& folder,
                                        bool overwrite, const std::string& expected_owner) {
  auto objects = client.list_objects(prefix.bucket, prefix.key, expected_owner);
  if (!objects) return unexpected(objects.error());
  std::vector<S3Transfer> transfers;
  for (const S3Object& object : *objects) {
    auto path = local_path_for_key(folder, prefix.key, object.key);
    if (!path) return unexpected(path.error() + " (nothing was downloaded)");
    if (path->empty()) continue;  // the prefix itself or a folder marker
    std::error_code ec;
    if (!overwrite && fs::exists(fs::symlink_status(*path, ec)))
      return unexpected(*path + " already exists and overwrite is false (nothing was downloaded)");
    transfers.push_back({{prefix.bucket, object.key}, *path});
  }
  if (transfers.empty()) return unexpected("no objects under " + prefix.url());
  return client.get_objects(transfers, expected_owner);
}

}  // namespace kiln::net
