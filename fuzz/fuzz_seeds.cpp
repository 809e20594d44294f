// Makes the expression target's seeds from component documents: for each document given,
// every step's `if` and every Assert step's inputs as one JSON file each, and every string
// holding "{{" as one text file. Usage: fuzz_seeds OUTPUT_FOLDER DOCUMENT...
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "agent/document/yaml_loader.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER DOCUMENT...\n", argv[0]);
    return 2;
  }
  std::string folder = argv[1];
  std::set<std::string> seeds;
  for (int i = 2; i < argc; ++i) {
    kiln::LoadedDocument doc;
    kiln::Diagnostics diagnostics;
    if (!kiln::load_yaml_file(argv[i], doc, diagnostics)) continue;
    std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& value) {
      if (value.is_string()) {
        if (value.get<std::string>().find("{{") != std::string::npos) seeds.insert(value.get<std::string>());
        return;
      }
      if (value.is_object()) {
        if (value.contains("if")) seeds.insert(value["if"].dump());
        if (value.value("action", nlohmann::json()) == "Assert" && value.contains("inputs"))
          seeds.insert(value["inputs"].dump());
      }
      if (value.is_object() || value.is_array())
        for (const auto& item : value) walk(item);
    };
    walk(doc.root);
  }
  int n = 0;
  for (const auto& seed : seeds) {
    std::ofstream(folder + "/corpus-" + std::to_string(n++), std::ios::binary) << seed;
  }
  std::printf("%d seeds\n", n);
  return 0;
}
