// SSM Parameter Store's GetParameter, for {{ aws:ssm:name }} (SecureString values are
// decrypted; the caller masks them like secret parameters).
#pragma once
#include <string>

#include "agent/base/expected.h"
#include "agent/net/aws_credentials.h"
#include "agent/net/http.h"

namespace kiln::net {

enum class SsmParameterType { String, StringList, SecureString };

struct SsmParameter {
  std::string value;
  SsmParameterType type = SsmParameterType::String;
};

Expected<SsmParameter> get_ssm_parameter(HttpClient& http, AwsEnvironment& aws, const std::string& name);

}  // namespace kiln::net
