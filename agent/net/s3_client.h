// S3 over kiln's HttpClient, signed with aws_sigv4.h: single objects to and from files
// (a file appears whole or not at all), small objects into memory (s3:// documents),
// multipart uploads above a threshold, ListObjectsV2 with pagination, and many-object
// transfers run concurrently over shared connections (perform_all). Path-style addressing
// when the endpoint is overridden (a local S3-compatible server) or the bucket name is not
// a plain host label (dots: TLS wildcard certificates do not cover them; legacy upper-case
// or '_' names); virtual-hosted otherwise.
//
// Every request carries x-amz-content-sha256 (the body's hash; for a file, the hash of
// the slice sent), the session token when there is one, x-amz-expected-bucket-owner when
// an owner is given. Errors read "s3://b/k: AccessDenied: Access Denied (HTTP 403)" and
// never hold a credential. See docs/DECISIONS.md, "S3 transfers".
//
//   net::AwsEnvironment aws;                       // one per run, shared
//   net::S3Client s3(aws);                          // options: concurrency, multipart sizes, log, cancel
//   auto loc = net::parse_s3_url("s3://bucket/dir/doc.yml");
//   auto text = s3.get_object_text(*loc, "", 1 << 20);
//   Status st = s3.upload_folder("/var/log/kiln/TOE_x", *net::parse_s3_url("s3://logs/prefix/"), owner);
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/expected.h"
#include "agent/net/aws_credentials.h"
#include "agent/net/http.h"

namespace kiln::net {

struct S3Location {
  std::string bucket;
  std::string key;  // may be empty (the bucket's root) or end in '/' (a prefix)
  std::string url() const { return "s3://" + bucket + "/" + key; }
};

// "s3://bucket/key" -> {bucket, key}. Errors name what is wrong (scheme, empty bucket,
// invalid bucket name).
Expected<S3Location> parse_s3_url(const std::string& url);

// Where the object `key`, listed under `prefix`, goes below `folder`: folder + the key's
// part after the prefix, with empty and "." components dropped. Refused, with a message
// naming the key, when the key is absolute or has a ".." component (it could land outside
// `folder`). "" (success) for a key naming the prefix itself or a folder marker ("dir/").
Expected<std::string> local_path_for_key(const std::string& folder, const std::string& prefix, const std::string& key);

struct S3Object {
  std::string key;
  uint64_t size = 0;
};

struct S3ClientOptions {
  size_t parallel = 16;                        // transfers in flight for many-object work
  uint64_t multipart_threshold = 64ull << 20;  // files at least this large upload in parts
  uint64_t part_size = 16ull << 20;            // S3's minimum is 5 MiB (except the last part)
  int max_keys = 1000;                         // per ListObjectsV2 page
  RetryPolicy retry;
  const std::atomic<bool>* cancel = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // the step's timeout
  std::function<void(const std::string&)> log;                    // one line per transfer; no credentials
};

// Files to fetch or send in one batch.
struct S3Transfer {
  S3Location object;
  std::string file;
};

// What a batch did: everything is attempted (no rollback), failures are collected.
struct S3BatchResult {
  std::vector<std::string> done;                            // the objects (downloads) or files (uploads)
  std::vector<std::pair<std::string, std::string>> failed;  // name, why
  uint64_t bytes = 0;
  bool ok() const { return failed.empty(); }
  // "3 of 5 objects downloaded (12 bytes); not downloaded: s3://b/x (why), ...; downloaded: ..."
  // naming at most a few of each.
  std::string summary(const std::string& noun, const std::string& verb) const;
};

// One S3Client per thread (it owns an HttpClient and its connections); the AwsEnvironment
// behind it may be shared.
class S3Client {
 public:
  explicit S3Client(AwsEnvironment& aws, S3ClientOptions options = {});
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;
  const S3ClientOptions& options() const { return options_; }

  // GetObject into `path`, through ".<name>.kiln-partial" beside it (renamed when complete).
  Status get_object(const S3Location& object, const std::string& path, const std::string& expected_owner,
                    uint64_t* bytes = nullptr);
  // GetObject into memory; more than max_bytes is an error.
  Expected<std::string> get_object_text(const S3Location& object, const std::string& expected_owner, size_t max_bytes);
  // PutObject from a file (multipart at or above options().multipart_threshold).
  Status put_object(const std::string& file, const S3Location& object, const std::string& expected_owner);
  // ListObjectsV2 over every page: all objects whose key starts with `prefix`.
  Expected<std::vector<S3Object>> list_objects(const std::string& bucket, const std::string& prefix,
                                               const std::string& expected_owner);
  // Many objects at once (options().parallel in flight).
  S3BatchResult get_objects(const std::vector<S3Transfer>& transfers, const std::string& expected_owner);
  S3BatchResult put_objects(const std::vector<S3Transfer>& transfers, const std::string& expected_owner);
  // Every file under `folder` (recursively, symlinks to files followed) to prefix.key +
  // its path relative to `folder`. The error names what was and was not uploaded.
  Status upload_folder(const std::string& folder, const S3Location& prefix, const std::string& expected_owner);

 private:
  Expected<HttpRequest> make_request(const std::string& method, const S3Location& object, const std::string& query,
                                     const std::string& expected_owner, RequestBody body,
                                     const std::string& payload_sha256);
  Status sign(HttpRequest& request, const std::string& payload_sha256);
  void apply_limits(HttpRequest& request) const;
  HttpResponse perform(HttpRequest request, const std::string& payload_sha256);
  Status put_multipart(const std::string& file, uint64_t size, const S3Location& object,
                       const std::string& expected_owner);
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  AwsEnvironment& aws_;
  S3ClientOptions options_;
  HttpClient http_;
  std::string region_;
};

// The URL of an object: path-style (endpoint/bucket/key) or virtual-hosted
// (scheme://bucket.host/key); the key is percent-encoded except for '/'.
std::string s3_object_url(const std::string& endpoint, bool path_style, const S3Location& object);

// Every regular file under `folder` (recursively; symlinks to files followed, symlinked
// folders not entered) paired with the key `prefix.key` + "/" (when missing) + its path
// relative to `folder`, sorted by key.
Expected<std::vector<S3Transfer>> folder_transfers(const std::string& folder, const S3Location& prefix);

// S3Download's prefix form: every object under `prefix` into `folder`, keeping the key
// structure. Unsafe keys (see local_path_for_key) and, without `overwrite`, existing
// files refuse the whole download before anything is transferred. No object under the
// prefix is an error. Not limited to 1000 objects (AWSTOE's limit): every page is read.
Expected<S3BatchResult> download_prefix(S3Client& client, const S3Location& prefix, const std::string& folder,
                                        bool overwrite, const std::string& expected_owner);

// "s3://b/k: AccessDenied: Access Denied (HTTP 403)" from a failed response.
std::string s3_error_message(const std::string& what, const HttpResponse& response);

// Hex SHA-256 of `length` bytes of `file` from `offset` (a part of a multipart upload).
Expected<std::string> file_slice_sha256(const std::string& file, uint64_t offset, uint64_t length);

}  // namespace kiln::net
