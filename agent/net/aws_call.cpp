#include "agent/net/aws_call.h"

#include <nlohmann/json.hpp>

#include "agent/base/hash.h"

namespace kiln::net {
namespace {

// A failure's text from an AWS JSON error body: {"__type": "...#Code", "message": "..."}.
std::string json_error_text(const HttpResponse& response) {
  if (response.error != TransferError::None) return response.error_message;
  std::string code, message;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    code = body.value("__type", "");
    if (auto hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
    message = body.value("message", body.value("Message", ""));
  }
  if (code.empty()) code = response.header("x-amzn-ErrorType");
  if (auto colon = code.find(':'); colon != std::string::npos) code.resize(colon);
  std::string text = code.empty() ? "error" : code;
  if (!message.empty()) text += ": " + message;
  return text + " (HTTP " + std::to_string(response.status) + ")";
}

}  // namespace

HttpResponse perform_signed(HttpClient& http, AwsEnvironment& aws, HttpRequest request, const SigningScope& scope,
                            const RetryPolicy& policy) {
  std::string payload = request.body.from_file() ? std::string(kUnsignedPayload) : sha256_hex(request.body.text);
  std::string credentials_error;
  // sign_request replaces the signing headers, so a retry is signed again in place.
  auto sign = [&](HttpRequest& r) -> bool {
    Expected<AwsCredentials> credentials = aws.credentials();  // refreshed when they are about to expire
    if (!credentials) {
      credentials_error = credentials.error();
      return false;
    }
    sign_request(r, *credentials, scope, payload);
    return true;
  };
  if (!sign(request)) {
    HttpResponse failed;
    failed.error = TransferError::Other;
    failed.error_message = credentials_error;
    return failed;
  }
  return perform_with_retries(http, std::move(request), policy,
                              [&](HttpRequest& r, const HttpResponse&) { return sign(r); });
}

Expected<std::string> call_json_api(HttpClient& http, AwsEnvironment& aws, AwsService service,
                                    const std::string& region, const std::string& target, const std::string& body,
                                    const RetryPolicy& policy) {
  static constexpr const char* kSigningNames[] = {"s3", "ssm", "logs"};
  HttpRequest request;
  request.method = "POST";
  request.url = aws.endpoint(service, region) + "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", target}};
  request.body.text = body;
  request.connect_timeout = std::chrono::seconds(10);
  request.total_timeout = std::chrono::seconds(60);
  SigningScope scope{region, kSigningNames[static_cast<int>(service)]};
  HttpResponse response = perform_signed(http, aws, std::move(request), scope, policy);
  if (!response.ok()) return unexpected(json_error_text(response));
  return std::move(response.body);
}

}  // namespace kiln::net
