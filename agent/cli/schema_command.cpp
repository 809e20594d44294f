// `kiln schema`: the self-contained component JSON Schema (or one action's inputs
// schema) for editors, on stdout or into a file.
#include <fstream>
#include <iostream>
#include <sstream>

#include "agent/base/durable_file.h"
#include "agent/cli/commands.h"
#include "agent/document/schema_bundle.h"

namespace kiln {

int command_schema(const CliOptions& cli) {
  nlohmann::json schema;
  if (cli.schema_action.empty()) {
    schema = bundled_component_schema();
  } else {
    Expected<nlohmann::json> action = bundled_action_schema(cli.schema_action);
    if (!action) {
      std::cerr << "kiln: --action: " << action.error() << "\n";
      return 2;
    }
    schema = std::move(*action);
  }
  std::string text = schema.dump(2) + "\n";
  if (cli.output_file.empty()) {
    std::cout << text;
    return 0;
  }
  // Rewritten only when it changes, so a build that runs this touches nothing new.
  std::ifstream in(cli.output_file, std::ios::binary);
  std::stringstream old;
  old << in.rdbuf();
  if (in && old.str() == text) return 0;
  if (std::string error = write_file_durably(cli.output_file, text); !error.empty()) {
    std::cerr << "kiln: --output: " << error << "\n";
    return 2;
  }
  return 0;
}

}  // namespace kiln
