// Unit tests of what the engine does to inputs and outputs around an action
// (agent/engine/step_inputs).
#include "agent/engine/step_inputs.h"

#include <doctest/doctest.h>

namespace kiln {

using json = nlohmann::json;

TEST_CASE("step inputs: defaults and typed strings; re-checked only when expressions were resolved") {
  const ActionSchema* bash = SchemaRegistry::instance().action("ExecuteBash");
  REQUIRE(bash != nullptr);
  json inputs = {{"commands", json::array({"true"})}};
  CHECK(prepare_inputs(*bash, true, false, inputs).empty());

  // Resolved to something the schema refuses: the message says where and what.
  json bad = {{"commands", "not a list"}};
  std::string error = prepare_inputs(*bash, true, true, bad);
  CHECK(error.find("inputs of ExecuteBash are invalid after resolving expressions") == 0);
  CHECK(error.find("/commands") != std::string::npos);

  // A resolved "true" becomes a boolean where the schema wants one.
  const ActionSchema* copy = SchemaRegistry::instance().action("CopyFile");
  REQUIRE(copy != nullptr);
  json items = json::array({{{"source", "/a"}, {"destination", "/b"}, {"overwrite", "true"}}});
  CHECK(prepare_inputs(*copy, true, true, items).empty());
  CHECK(items[0]["overwrite"] == true);
}

TEST_CASE("step inputs: outputs that are not UTF-8 get U+FFFD for each bad byte") {
  std::string latin1 = "caf\xE9 ok";
  make_valid_utf8(latin1);
  CHECK(latin1 == "caf\xEF\xBF\xBD ok");
  std::string surrogate = "\xED\xA0\x80";  // U+D800 encoded: not a character
  make_valid_utf8(surrogate);
  CHECK(surrogate == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  json outputs = {{"stdout", "h\xC3\xA9"}, {"list", json::array({"\xFF"})}};
  make_valid_utf8(outputs);
  CHECK(outputs["stdout"] == "h\xC3\xA9");
  CHECK(outputs["list"][0] == "\xEF\xBF\xBD");
}

}  // namespace kiln
