// ReadFile: reads a text file (symlinks followed), decodes it to UTF-8 (a leading BOM is
// dropped) and returns it as the `content` output; several items' contents are joined
// with "\n", as the engine joins loop iterations' outputs.
#include "actions/common/file_items.h"
#include "actions/common/text_encoding.h"

namespace kiln {

ActionResult run_read_file(ActionContext& context) {
  std::string joined;
  size_t read_count = 0;
  ActionResult result = files::run_each_item(context, [&](const nlohmann::json& item, ActionResult&) {
    std::string path = item.at("path").get<std::string>();
    std::string encoding_name = item.at("encoding").get<std::string>();
    auto encoding = files::parse_encoding(encoding_name);
    if (!encoding) return "unknown encoding '" + encoding_name + "'";
    std::string bytes, content;
    // The content is kept in memory for chaining, so it obeys the engine's bound.
    std::string error = files::read_whole_file(path, bytes, context.max_captured_output);
    if (error.empty()) error = files::decode_text(bytes, *encoding, content);
    if (!error.empty()) return error;
    if (item.at("printFileContent").get<bool>() && context.output) context.output(sys::OutputStream::Stdout, content);
    joined += (read_count++ ? "\n" : "") + content;
    return std::string();
  });
  if (result.success) result.outputs["content"] = joined;
  return result;
}

}  // namespace kiln
