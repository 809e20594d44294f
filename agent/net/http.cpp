#include "agent/net/http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

namespace kiln::net {
namespace {

// An error response's body is kept for its message (S3's XML, a proxy's page); beyond
// this it is dropped, not an error.
constexpr size_t kErrorBodyLimit = 64 * 1024;
// Larger than curl's 16 KiB default: fewer write() calls per downloaded GiB.
constexpr long kReceiveBufferBytes = 256 * 1024;

void global_init() {
  // curl_global_init is not thread-safe; a function-local static is initialised once.
  static const bool initialised = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)initialised;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && ::strncasecmp(text.data(), prefix.data(), prefix.size()) == 0;
}

const char* env_first(const char* a, const char* b) {
  for (const char* name : {a, b}) {
    const char* value = std::getenv(name);
    if (value && *value) return value;
  }
  return nullptr;
}

// The proxy for `url` as the AWS CLI (Python's urllib) reads the environment: the
// lowercase name wins over the uppercase one, and unlike libcurl HTTP_PROXY counts.
std::string proxy_for(std::string_view url) {
  const char* proxy = nullptr;
  if (iequals_prefix(url, "https://"))
    proxy = env_first("https_proxy", "HTTPS_PROXY");
  else if (iequals_prefix(url, "http://"))
    proxy = env_first("http_proxy", "HTTP_PROXY");
  return proxy ? proxy : "";
}

TransferError classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransferError::None;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
      return TransferError::Connect;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return TransferError::Tls;
    case CURLE_OPERATION_TIMEDOUT:
      return TransferError::Timeout;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
      return TransferError::Aborted;
    case CURLE_PARTIAL_FILE:
      return TransferError::Truncated;
    case CURLE_TOO_MANY_REDIRECTS:
      return TransferError::Redirects;
    default:
      return TransferError::Other;
  }
}

// One request in flight: what the callbacks need, owned by the run that drives it.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  int body_fd = -1;
  uint64_t read_position = 0;  // within the request body
  long current_status = 0;     // of the header block being received
  bool headers_reported = false;
  std::string stop_reason;  // why a callback stopped the transfer
  bool cancelled = false;
  char error_buffer[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (headers) curl_slist_free_all(headers);
    if (body_fd >= 0) ::close(body_fd);
  }

  bool is_success_status() const { return current_status >= 200 && current_status < 300; }

  // The final 2xx response's headers are complete once its body starts (or it ends).
  bool report_headers() {
    if (headers_reported || !is_success_status()) return true;
    headers_reported = true;
    if (request->on_headers && !request->on_headers(current_status, response->headers)) {
      stop_reason = "the response was refused: " + std::to_string(current_status);
      return false;
    }
    return true;
  }
};

size_t on_header_line(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t length = size * count;
  std::string_view line(data, length);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    // A new header block (after a redirect, a 100 Continue, a proxy's CONNECT): only the
    // final response's headers are kept.
    t->response->headers.clear();
    t->response->body.clear();
    t->response->body_bytes = 0;
    size_t space = line.find(' ');
    t->current_status = space == std::string_view::npos ? 0 : std::atol(std::string(line.substr(space + 1, 3)).c_str());
    return length;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return length;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t->response->headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  return length;
}

size_t on_body_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t length = size * count;
  std::string_view chunk(data, length);
  HttpResponse& response = *t->response;
  response.body_bytes += length;
  if (!t->is_success_status()) {
    if (response.body.size() < kErrorBodyLimit)
      response.body.append(chunk.substr(0, kErrorBodyLimit - response.body.size()));
    return length;
  }
  if (!t->report_headers()) return 0;
  if (t->request->on_body) {
    if (t->request->on_body(chunk)) return length;
    if (t->stop_reason.empty()) t->stop_reason = "the body's receiver stopped the transfer";
    return 0;
  }
  if (response.body.size() + length > t->request->max_body_in_memory) {
    t->stop_reason = "the response body is larger than " + std::to_string(t->request->max_body_in_memory) +
                     " bytes (the limit for a body kept in memory)";
    return 0;
  }
  response.body.append(chunk);
  return length;
}

size_t on_read_body(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const RequestBody& body = t->request->body;
  uint64_t left = body.size() - std::min<uint64_t>(t->read_position, body.size());
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * count));
  if (want == 0) return 0;
  if (!body.from_file()) {
    std::memcpy(buffer, body.text.data() + t->read_position, want);
    t->read_position += want;
    return want;
  }
  ssize_t got;
  do {
    got = ::pread(t->body_fd, buffer, want, static_cast<off_t>(body.offset + t->read_position));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {
    t->stop_reason = "cannot read the request body from " + body.file +
                     (got < 0 ? std::string(": ") + std::strerror(errno) : ": it is shorter than announced");
    return CURL_READFUNC_ABORT;
  }
  t->read_position += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

// A redirect (307/308) or an authentication retry sends the body again from the start.
int on_seek_body(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->request->body.size())
    return CURL_SEEKFUNC_FAIL;
  t->read_position = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->cancel && t->request->cancel->load()) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}

}  // namespace

struct HttpClient::Impl {
  CURLSH* share = nullptr;
  CURLM* multi = nullptr;
  std::vector<CURL*> handles;  // reused between calls: each keeps its connection state

  Impl() {
    global_init();
    share = curl_share_init();
    // DNS answers, TLS sessions and open connections are shared by every handle of this
    // client (the client is used by one thread, so no locks are needed).
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    multi = curl_multi_init();
  }
  ~Impl() {
    for (CURL* h : handles) curl_easy_cleanup(h);
    curl_multi_cleanup(multi);
    curl_share_cleanup(share);
  }

  CURL* handle(size_t index) {
    while (handles.size() <= index) handles.push_back(curl_easy_init());
    return handles[index];
  }

  // Sets up `t` on its easy handle; returns false (with the response filled) when the
  // request cannot even start.
  bool prepare(Transfer& t) {
    const HttpRequest& r = *t.request;
    HttpResponse& response = *t.response;
    CURL* e = t.easy;
    if (!e) {
      response.error = TransferError::Other;
      response.error_message = "cannot create a curl handle";
      return false;
    }
    curl_easy_reset(e);  // keeps the handle's live connections and caches
    curl_easy_setopt(e, CURLOPT_SHARE, share);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    // The path goes out as given: curl would otherwise collapse "/./" and "/../", and a
    // signed S3 request whose key holds them would then not match its signature.
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r.follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r.verify_tls ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count() * 1000));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, r.low_speed_bytes);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(r.low_speed_time.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.total_timeout.count() * 1000));
    // The proxy is chosen here from the environment, so libcurl's own reading (which
    // ignores HTTP_PROXY) does not apply; "" means no proxy.
    std::string proxy = proxy_for(r.url);
    curl_easy_setopt(e, CURLOPT_PROXY, proxy.c_str());
    const char* no_proxy = env_first("no_proxy", "NO_PROXY");
    curl_easy_setopt(e, CURLOPT_NOPROXY, no_proxy ? no_proxy : "");

    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    if (r.resume_from > 0) {
      // CURLOPT_RANGE, not RESUME_FROM: curl would fail a 200 answer itself, and the
      // caller wants to see it (and start over).
      std::string range = std::to_string(r.resume_from) + "-";
      curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());
    }

    const RequestBody& body = r.body;
    if (body.from_file()) {
      t.body_fd = ::open(body.file.c_str(), O_RDONLY | O_CLOEXEC);
      if (t.body_fd < 0) {
        response.error = TransferError::Other;
        response.error_message = "cannot open " + body.file + ": " + std::strerror(errno);
        return false;
      }
    }
    auto size = static_cast<curl_off_t>(body.size());
    bool has_body = body.from_file() || !body.text.empty();
    if (r.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (r.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (r.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, size);
    } else if (r.method == "PUT" || has_body) {
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
      if (r.method != "PUT") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    } else {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read_body);
    curl_easy_setopt(e, CURLOPT_READDATA, &t);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek_body);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, &t);

    for (const auto& h : r.headers) {
      std::string line = h.value.empty() ? h.name + ";" : h.name + ": " + h.value;
      t.headers = curl_slist_append(t.headers, line.c_str());
    }
    // A server that never answers 100-continue costs a 1 s stall per request with a body.
    t.headers = curl_slist_append(t.headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    return true;
  }

  static void finish(Transfer& t, CURLcode code) {
    HttpResponse& response = *t.response;
    char* url = nullptr;
    if (curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) response.effective_url = url;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK) {
      response.status = status;
      // A 2xx without a body still tells its receiver the headers.
      t.current_status = status;
      if (!t.report_headers()) code = CURLE_ABORTED_BY_CALLBACK;
    }
    if (code == CURLE_OK) return;
    response.status = 0;  // a transfer error has no status, whatever arrived before it
    response.error = classify(code);
    if (t.cancelled) {
      response.error_message = "cancelled";
    } else if (!t.stop_reason.empty()) {
      response.error = TransferError::Aborted;
      response.error_message = t.stop_reason;
    } else {
      // curl's detail names the host and port, never the request's headers.
      response.error_message = t.error_buffer[0] ? t.error_buffer : curl_easy_strerror(code);
      if (status > 0) response.error_message += " (after HTTP " + std::to_string(status) + ")";
    }
  }

  std::vector<HttpResponse> run(const std::vector<const HttpRequest*>& requests, size_t parallel) {
    std::vector<HttpResponse> responses(requests.size());
    std::vector<std::unique_ptr<Transfer>> transfers(requests.size());
    parallel = std::max<size_t>(1, std::min(parallel, requests.size()));
    std::vector<size_t> free_handles;
    for (size_t i = parallel; i-- > 0;) free_handles.push_back(i);
    size_t next = 0, running = 0;
    auto start_more = [&] {
      while (next < requests.size() && !free_handles.empty()) {
        size_t index = next++;
        auto t = std::make_unique<Transfer>();
        t->request = requests[index];
        t->response = &responses[index];
        size_t slot = free_handles.back();
        t->easy = handle(slot);
        if (!prepare(*t)) {
          transfers[index] = std::move(t);
          continue;
        }
        free_handles.pop_back();
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, reinterpret_cast<void*>(index));
        curl_multi_add_handle(multi, t->easy);
        transfers[index] = std::move(t);
        ++running;
      }
    };
    start_more();
    while (running > 0) {
      int still = 0;
      // curl_multi_wait, not _poll: _poll needs curl 7.66 and RHEL 8 ships 7.61.
      CURLMcode mc = curl_multi_perform(multi, &still);
      if (mc == CURLM_OK) mc = curl_multi_wait(multi, nullptr, 0, 200, nullptr);
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg != CURLMSG_DONE) continue;
        CURL* easy = message->easy_handle;
        CURLcode code = message->data.result;
        void* index_pointer = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &index_pointer);
        size_t index = reinterpret_cast<size_t>(index_pointer);
        curl_multi_remove_handle(multi, easy);
        Transfer& t = *transfers[index];
        finish(t, code);
        free_handles.push_back(static_cast<size_t>(std::find(handles.begin(), handles.end(), easy) - handles.begin()));
        transfers[index].reset();  // closes its body file, frees its header list
        --running;
      }
      if (mc != CURLM_OK) {  // the multi handle itself failed: fail what is left
        for (auto& t : transfers) {
          if (!t || t->response->error != TransferError::None || t->response->status) continue;
          curl_multi_remove_handle(multi, t->easy);
          t->response->error = TransferError::Other;
          t->response->error_message = curl_multi_strerror(mc);
        }
        return responses;
      }
      start_more();
    }
    return responses;
  }
};

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& h : headers)
    if (h.name.size() == name.size() && ::strncasecmp(h.name.data(), name.data(), name.size()) == 0) return h.value;
  return {};
}

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::perform(const HttpRequest& request) {
  return std::move(impl_->run({&request}, 1)[0]);
}

std::vector<HttpResponse> HttpClient::perform_all(const std::vector<HttpRequest>& requests, size_t parallel) {
  std::vector<const HttpRequest*> pointers;
  pointers.reserve(requests.size());
  for (const auto& r : requests) pointers.push_back(&r);
  return impl_->run(pointers, parallel);
}

bool is_retryable(const HttpResponse& response) {
  switch (response.error) {
    case TransferError::Connect:
    case TransferError::Timeout:
    case TransferError::Truncated:
    case TransferError::Other:
      return true;
    case TransferError::Tls:
    case TransferError::Aborted:
    case TransferError::Redirects:  // the same URL loops the same way again
      return false;
    case TransferError::None:
      break;
  }
  if (response.status >= 500 || response.status == 429) return true;
  if (response.status == 400) {
    // AWS throttling codes (S3's SlowDown, the JSON services' ThrottlingException).
    for (const char* code :
         {"Throttling", "SlowDown", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled"})
      if (response.body.find(code) != std::string::npos) return true;
  }
  return false;
}

HttpResponse perform_with_retries(HttpClient& client, HttpRequest request, const RetryPolicy& policy,
                                  const std::function<bool(HttpRequest&, const HttpResponse&)>& before_retry) {
  thread_local std::minstd_rand random(std::random_device{}());
  int attempts = std::max(1, policy.attempts);
  for (int attempt = 1;; ++attempt) {
    HttpResponse response = client.perform(request);
    response.attempts = attempt;
    bool cancelled = request.cancel && request.cancel->load();
    if (response.ok() || attempt >= attempts || cancelled || !is_retryable(response)) return response;
    // Exponential backoff with "equal jitter": half the delay fixed, half random, so
    // many agents retrying at once spread out but none retries immediately.
    auto delay = policy.first_delay * (1LL << std::min(attempt - 1, 20));
    delay = std::min<std::chrono::milliseconds>(delay, policy.max_delay);
    auto half = delay.count() / 2;
    auto wait = std::chrono::milliseconds(half + (half > 0 ? static_cast<long long>(random() % (half + 1)) : 0));
    auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      if (request.cancel && request.cancel->load()) return response;
      std::this_thread::sleep_for(
          std::min<std::chrono::nanoseconds>(until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    }
    if (before_retry && !before_retry(request, response)) return response;
  }
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace kiln::net
