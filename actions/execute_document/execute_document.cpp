// ExecuteDocument: runs another component document as a child execution (own
// execution id, own parameters); the engine loads, validates and runs it.
#include "actions/action.h"

namespace kiln {

ActionResult run_execute_document(ActionContext& context) {
  ActionResult result;
  if (!context.run_document) {
    result.failure_message = "ExecuteDocument is not available here";
    return result;
  }
  ChildDocumentRequest request;
  request.document = context.inputs["document"].get<std::string>();
  request.phases = context.inputs.at("phases").get<std::string>();
  request.parameters = context.inputs.at("parameters");
  ChildDocumentResult child = context.run_document(request);
  result.success = child.success;
  result.reboot_requested = child.reboot_requested;
  result.failure_message = child.failure_message;
  result.outputs = child.summary;
  result.detailed_output = child.detailed_output;
  return result;
}

}  // namespace kiln
