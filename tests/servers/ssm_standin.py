"""SSM Parameter Store stand-in (named as such: nothing local implements SSM).
GetParameter only: parameters come from --parameters FILE ({"name": {"Type", "Value"}});
a SecureString is returned decrypted only with WithDecryption=true, as the service does.
Every request is signed-checked with botocore (see aws_json_standin)."""
import json

from aws_json_standin import ServiceError, serve


def get_parameter(args, request, entry):
    with open(args.parameters) as f:
        parameters = json.load(f)
    name = request.get("Name", "")
    entry["name"] = name
    if name not in parameters:
        raise ServiceError("ParameterNotFound", "")
    p = parameters[name]
    value = p["Value"]
    if p["Type"] == "SecureString" and not request.get("WithDecryption"):
        value = "AQICAHencrypted=="
    return 200, {"Parameter": {"Name": name, "Type": p["Type"], "Value": value, "Version": 1}}


serve({"GetParameter": get_parameter}, "ssm", [("--parameters", {"required": True})])
