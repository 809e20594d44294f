// Fuzz target: document loading and validation. The input is a component document's
// text; it is loaded (YAML -> JSON + source map) and, when it loads, validated for each
// platform. Anything may be refused with diagnostics; nothing may crash, leak or hit
// undefined behaviour, and every diagnostic must have a file name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/document/validator.h"
#include "agent/document/yaml_loader.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  kiln::LoadedDocument loaded;
  kiln::Diagnostics diagnostics;
  // Smaller expansion limits than kiln's (same code paths): 2,000,000 values reached
  // through aliases take seconds under ASan, which libFuzzer would report as a timeout.
  kiln::LoadLimits limits;
  limits.max_nodes = 100'000;
  limits.max_expanded_bytes = 4 * 1024 * 1024;
  bool ok = kiln::load_yaml_text("fuzz.yml", text, loaded, diagnostics, limits);
  require(ok || kiln::has_errors(diagnostics));
  for (const auto& d : diagnostics) require(d.location.file == "fuzz.yml");
  if (!ok) return 0;
  for (const char* platform : {"linux", "windows", "darwin"}) {
    kiln::ValidateOptions options;
    options.platform = platform;
    kiln::Document document;
    kiln::Diagnostics found = kiln::validate_document(loaded, options, document);
    for (const auto& d : found) {
      require(d.location.file == "fuzz.yml");
      require(!d.message.empty());
    }
  }
  return 0;
}
