#include "agent/net/ssm_client.h"

#include <nlohmann/json.hpp>

#include "agent/net/aws_call.h"

namespace kiln::net {

Expected<SsmParameter> get_ssm_parameter(HttpClient& http, AwsEnvironment& aws, const std::string& name) {
  Expected<std::string> region = aws.region();
  if (!region) return unexpected("SSM parameter '" + name + "': " + region.error());
  nlohmann::json request = {{"Name", name}, {"WithDecryption", true}};
  Expected<std::string> answer = call_json_api(http, aws, AwsService::Ssm, *region, "AmazonSSM.GetParameter",
                                               request.dump());
  if (!answer) return unexpected("SSM parameter '" + name + "': " + answer.error());
  nlohmann::json body = nlohmann::json::parse(*answer, nullptr, false);
  const nlohmann::json* parameter = body.is_object() ? &body["Parameter"] : nullptr;
  if (!parameter || !parameter->is_object() || !(*parameter)["Value"].is_string())
    return unexpected("SSM parameter '" + name + "': the answer has no Parameter.Value");
  SsmParameter out;
  out.value = (*parameter)["Value"].get<std::string>();
  std::string type = parameter->value("Type", "String");
  out.type = type == "SecureString"   ? SsmParameterType::SecureString
             : type == "StringList" ? SsmParameterType::StringList
                                    : SsmParameterType::String;
  return out;
}

}  // namespace kiln::net
