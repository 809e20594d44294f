// Unit tests of diagnostic printing (agent/document/diagnostic_format).
#include "agent/document/diagnostic_format.h"

#include <doctest/doctest.h>

namespace kiln {

TEST_CASE("diagnostic format: JSON carries the code, named as in docs/CLI.md") {
  Diagnostic d{Severity::Error, {"doc.yml", 3, 5}, "parameter 'X' has no default and no value was given", "pass it",
               DiagnosticCode::MissingParameterValue};
  nlohmann::json j = diagnostic_to_json(d);
  CHECK(j["code"] == "missingParameterValue");
  CHECK(j["severity"] == "error");
  CHECK(j["line"] == 3);
  // A diagnostic made without a code says so rather than guessing.
  CHECK(diagnostic_to_json(Diagnostic{Severity::Warning, {"doc.yml", 1, 1}, "m", ""})["code"] == "general");
  CHECK(std::string(diagnostic_code_name(DiagnosticCode::UnknownKey)) == "unknownKey");
  CHECK(std::string(diagnostic_code_name(DiagnosticCode::NotRunnable)) == "notRunnable");
}

}  // namespace kiln
