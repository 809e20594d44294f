// HTTP on libcurl: one request at a time (perform) or many at once (perform_all, curl
// multi), with connections reused between calls on the same client. Bodies stream: a
// request body comes from memory or from a slice of a file, a response body goes to a
// callback (a file, a hash) or, when small, into memory. Proxies follow the environment as
// curl and the AWS CLI read it (HTTPS_PROXY/https_proxy, HTTP_PROXY/http_proxy, NO_PROXY/
// no_proxy). Nothing here knows about documents, steps or AWS; signing is done by the caller
// (aws_sigv4.h) by adding headers before perform().
//
// A transport failure (no connection, TLS refused, timeout, the body callback giving up)
// is an HttpResponse with `error` set and no status; an HTTP error is a status. Retries are
// the caller's choice: perform_with_retries() is AWSTOE's "5 attempts, exponential backoff".
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::net {

enum class TransferError {
  None,
  Connect,   // DNS, refused, unreachable, proxy could not connect
  Tls,       // certificate or handshake
  Timeout,   // connect timeout, or slower than the low-speed limit for too long
  Aborted,   // the body callback returned false, or cancelled
  Truncated, // the connection closed before the announced length arrived
  Other,
  Redirects, // a redirect loop, or more redirects than allowed (10): not retried
};

struct HttpHeader {
  std::string name;
  std::string value;
};

// Where a request's body comes from: nothing, `text`, or `length` bytes of `file` from `offset`.
struct RequestBody {
  std::string text;
  std::string file;
  uint64_t offset = 0;
  uint64_t length = 0;  // for a file slice
  bool from_file() const { return !file.empty(); }
  uint64_t size() const { return from_file() ? length : text.size(); }
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;                   // already encoded
  std::vector<HttpHeader> headers;   // sent as given (the caller signs them)
  RequestBody body;
  bool verify_tls = true;            // WebDownload's ignoreCertificateErrors turns it off
  bool follow_redirects = true;
  std::chrono::seconds connect_timeout{30};
  // Abort when fewer than low_speed_bytes per second arrive for low_speed_time.
  long low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{60};
  std::chrono::seconds total_timeout{0};  // 0: none
  // Ask for the body from this byte on (Range: bytes=N-); the response says whether the
  // server honoured it (status 206).
  uint64_t resume_from = 0;
  // Receives the response body as it arrives, for 2xx responses only (an error's body is
  // kept in HttpResponse::body for its message). Return false to abort the transfer.
  // Empty: a 2xx body is kept in HttpResponse::body, up to max_body_in_memory.
  std::function<bool(std::string_view)> on_body;
  // Called once per attempt with the final 2xx response's status and headers, before its
  // first body byte reaches on_body (a download checks Content-Range and truncates or
  // resumes its file there). Return false to abort the transfer.
  std::function<bool(long status, const std::vector<HttpHeader>& headers)> on_headers;
  size_t max_body_in_memory = 64 * 1024 * 1024;
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpResponse {
  long status = 0;                   // 0 when the transfer failed before a status
  std::vector<HttpHeader> headers;   // of the final response (after redirects)
  std::string body;                  // see HttpRequest::on_body
  TransferError error = TransferError::None;
  std::string error_message;         // what went wrong, for a person; no credentials in it
  std::string effective_url;         // after redirects
  uint64_t body_bytes = 0;           // bytes of body received (also when streamed)
  int attempts = 1;                  // perform_with_retries: how many attempts it took

  bool ok() const { return error == TransferError::None && status >= 200 && status < 300; }
  // The value of header `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

// A reusable client (connection cache, DNS cache). Not thread-safe: one per thread.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse perform(const HttpRequest& request);
  // Runs every request, at most `parallel` at a time, over shared connections; the
  // responses are in the order of the requests.
  std::vector<HttpResponse> perform_all(const std::vector<HttpRequest>& requests, size_t parallel);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// AWSTOE's WebDownload and the AWS SDKs: a few attempts with exponential backoff on
// connection errors, timeouts, 5xx and throttling (429, and 400/503 bodies naming a
// throttling code).
struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds first_delay{200};
  std::chrono::milliseconds max_delay{20000};
};
bool is_retryable(const HttpResponse& response);
// `before_retry` runs before each new attempt (a download truncates or resumes its file
// there; a signer re-signs with a fresh date); returning false stops retrying.
HttpResponse perform_with_retries(HttpClient& client, HttpRequest request, const RetryPolicy& policy,
                                  const std::function<bool(HttpRequest&, const HttpResponse&)>& before_retry = {});

// RFC 3986 percent-encoding of everything but A-Za-z0-9-_.~ (and '/' when keep_slash).
std::string uri_encode(std::string_view text, bool keep_slash);

}  // namespace kiln::net
