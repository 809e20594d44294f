#include "agent/net/aws_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "agent/base/hash.h"
#include "agent/base/text.h"

namespace kiln::net {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // HMAC() (one-shot) is not deprecated in OpenSSL 3; HMAC_CTX is.
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

struct UrlParts {
  std::string host;  // with ":port" when the port is not the scheme's default
  std::string path;  // "/" when empty
  std::string query;
};

UrlParts split_url(const std::string& url) {
  UrlParts parts;
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "https" : lowercase_ascii(url.substr(0, scheme_end));
  size_t host_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t path_begin = url.find_first_of("/?#", host_begin);
  std::string authority =
      url.substr(host_begin, path_begin == std::string::npos ? std::string::npos : path_begin - host_begin);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443"))
      authority.erase(colon);
  }
  parts.host = lowercase_ascii(authority);
  if (path_begin != std::string::npos) {
    std::string rest = url.substr(path_begin);
    if (size_t hash = rest.find('#'); hash != std::string::npos) rest.erase(hash);
    size_t question = rest.find('?');
    parts.path = rest.substr(0, question);
    if (question != std::string::npos) parts.query = rest.substr(question + 1);
  }
  if (parts.path.empty()) parts.path = "/";
  return parts;
}

// Sorted by encoded name, then value; a parameter without '=' has an empty value.
std::string canonical_query(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t begin = 0;
  while (begin <= query.size() && !query.empty()) {
    size_t end = query.find('&', begin);
    if (end == std::string::npos) end = query.size();
    std::string item = query.substr(begin, end - begin);
    if (!item.empty()) {
      size_t eq = item.find('=');
      if (eq == std::string::npos)
        params.emplace_back(item, "");
      else
        params.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    begin = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

// Trimmed, with runs of spaces inside collapsed to one (SigV4's canonical header value).
std::string canonical_value(std::string_view value) {
  value = trim_ascii(value);
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

struct CanonicalParts {
  std::string request;
  std::string signed_headers;
};

CanonicalParts build_canonical(const HttpRequest& request, const std::string& payload_sha256) {
  UrlParts url = split_url(request.url);
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : request.headers) {
    std::string name = lowercase_ascii(trim_ascii(h.name));
    std::string value = canonical_value(h.value);
    if (name == "authorization" || value.empty()) continue;
    auto same = std::find_if(headers.begin(), headers.end(), [&](const auto& e) { return e.first == name; });
    if (same != headers.end())
      same->second += "," + value;
    else
      headers.emplace_back(name, value);
  }
  std::sort(headers.begin(), headers.end());
  CanonicalParts parts;
  std::string header_block;
  for (const auto& [name, value] : headers) {
    header_block += name + ":" + value + "\n";
    parts.signed_headers += (parts.signed_headers.empty() ? "" : ";") + name;
  }
  parts.request = request.method + "\n" + url.path + "\n" + canonical_query(url.query) + "\n" + header_block + "\n" +
                  parts.signed_headers + "\n" + payload_sha256;
  return parts;
}

void set_header(HttpRequest& request, const std::string& name, const std::string& value) {
  for (auto& h : request.headers)
    if (lowercase_ascii(h.name) == name) {
      h.value = value;
      return;
    }
  request.headers.push_back({name, value});
}

}  // namespace

std::string canonical_request(const HttpRequest& request, const std::string& payload_sha256) {
  return build_canonical(request, payload_sha256).request;
}

void sign_request(HttpRequest& request, const AwsCredentials& credentials, const SigningScope& scope,
                  const std::string& payload_sha256, std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string amz_date = stamp;
  std::string date = amz_date.substr(0, 8);

  std::erase_if(request.headers, [](const HttpHeader& h) { return lowercase_ascii(h.name) == "authorization"; });
  set_header(request, "host", split_url(request.url).host);
  set_header(request, "x-amz-date", amz_date);
  if (scope.content_sha256_header) set_header(request, "x-amz-content-sha256", payload_sha256);
  if (!credentials.session_token.empty()) set_header(request, "x-amz-security-token", credentials.session_token);

  CanonicalParts canonical = build_canonical(request, payload_sha256);
  std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + credential_scope + "\n" + sha256_hex(canonical.request);
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = hmac_sha256(key, scope.region);
  key = hmac_sha256(key, scope.service);
  key = hmac_sha256(key, "aws4_request");
  std::string signature = to_hex(hmac_sha256(key, string_to_sign));
  request.headers.push_back({"Authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                                                  credential_scope + ", SignedHeaders=" + canonical.signed_headers +
                                                  ", Signature=" + signature});
}

}  // namespace kiln::net
