// Invoked through a symlink named `awstoe`, kiln behaves the same, so pipelines can
// swap the binary without changing their command lines.
#include <doctest/doctest.h>

#include <filesystem>

#include "agent/sys/process.h"
#include "tests/support/test_support.h"

TEST_CASE("cli: invoked as awstoe, kiln runs the same command line") {
  kiln::test::TempDir dir;
  std::string alias = dir.file("awstoe");
  std::filesystem::create_symlink(KILN_BINARY, alias);
  std::string doc = dir.write("doc.yml", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
                                         "      - {name: Hi, action: ExecuteBash, inputs: {commands: [\"echo hi\"]}}\n");
  kiln::sys::ProcessSpec spec;
  spec.executable = alias;
  spec.arguments = {"run", "--documents", doc, "--log-directory", dir.file("logs"), "--state-directory",
                    dir.file("state"), "--phases", "build"};
  std::string out, err;
  auto r = kiln::sys::run_process(spec, [&](kiln::sys::OutputStream s, std::string_view chunk) {
    (s == kiln::sys::OutputStream::Stdout ? out : err).append(chunk);
  });
  INFO(out << err);
  CHECK(r.exit_code == 0);
  auto summary = nlohmann::json::parse(out, nullptr, false);
  CHECK(summary["status"] == "success");
  CHECK(summary["executedStepCount"] == 1);
  spec.arguments = {"--help"};
  out.clear();
  kiln::sys::run_process(spec, [&](kiln::sys::OutputStream, std::string_view chunk) { out.append(chunk); });
  CHECK(out.find("awstoe run") != std::string::npos);  // usage names the program as invoked
}
