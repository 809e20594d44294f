// One AWS API call: sign, send, and on a retryable failure sign again with a fresh date
// and retry with backoff (an AWS signature is only valid for 15 minutes, and a retried
// request must not reuse a stale x-amz-date). Used by the JSON-protocol clients (SSM,
// CloudWatch Logs).
#pragma once
#include <string>

#include "agent/base/expected.h"
#include "agent/net/aws_credentials.h"
#include "agent/net/aws_sigv4.h"
#include "agent/net/http.h"

namespace kiln::net {

HttpResponse perform_signed(HttpClient& http, AwsEnvironment& aws, HttpRequest request, const SigningScope& scope,
                            const RetryPolicy& policy = {});

// An AWS JSON-protocol call (`X-Amz-Target: <target>`, body and answer JSON text).
// The error names the service's error type and message ("ParameterNotFound: ...") or
// the transport failure; it never holds a credential.
Expected<std::string> call_json_api(HttpClient& http, AwsEnvironment& aws, AwsService service,
                                    const std::string& region, const std::string& target, const std::string& body,
                                    const RetryPolicy& policy = {});

}  // namespace kiln::net
