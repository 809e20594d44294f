// kiln validate against the 124 real documents of tests/corpus: every `valid` one is
// accepted, every `invalid` one is refused with its first error at the listed line.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/corpus_table.h"
#include "tests/support/test_support.h"

namespace {

using kiln::test::CorpusRow;

std::vector<CorpusRow> read_corpus(const std::string& table = "corpus.tsv") {
  return kiln::test::read_corpus_table(std::string(KILN_CORPUS_DIR) + "/" + table);
}

}  // namespace

TEST_CASE("corpus: kiln validate agrees with corpus.tsv on every document, for each platform it targets") {
  std::vector<CorpusRow> rows = read_corpus();
  REQUIRE(rows.size() == 124);
  int valid_ok = 0, invalid_ok = 0, validations = 0;
  for (const auto& row : rows) {
    std::string path = std::string(KILN_CORPUS_DIR) + "/docs/" + row.file;
    // A document for `any` platform must hold on Linux and on Windows alike.
    std::vector<std::string> platforms = {row.platform};
    if (row.platform == "any") platforms = {"linux", "windows"};
    for (const std::string& platform : platforms) {
      REQUIRE_MESSAGE((platform == "linux" || platform == "windows"), row.file << ": platform " << platform);
      auto r = kiln::test::run_kiln({"validate", "--os-platforms", platform, "--documents", path});
      ++validations;
      INFO(row.file << " on " << platform << " (" << row.reason << ")\n" << r.err);
      if (row.verdict == "valid") {
        CHECK(r.exit_code == 0);
        valid_ok += r.exit_code == 0;
      } else {
        CHECK(r.exit_code == 3);
        // The first diagnostic names FILE:LINE:COL at the listed line.
        std::string expected_prefix = path + ":" + row.line + ":";
        bool at_line = r.err.rfind(expected_prefix, 0) == 0;
        CHECK_MESSAGE(at_line, "expected the first diagnostic at " << expected_prefix);
        invalid_ok += (r.exit_code == 3 && at_line);
      }
    }
  }
  MESSAGE("corpus: " << validations << " validations (the 30 `any` documents for linux and windows): " << valid_ok
                     << " valid accepted, " << invalid_ok << " invalid refused at the right line");
  CHECK(validations == 154);
  CHECK(valid_ok == 133);   // 85 linux or windows documents + 24 `any` ones twice
  CHECK(invalid_ok == 21);  // 9 + 6 `any` ones twice
}

TEST_CASE("corpus: --format json reports every document with its diagnostics") {
  std::vector<CorpusRow> rows = read_corpus();
  std::string docs;
  int invalid_linux = 0;
  for (const auto& row : rows) {
    if (row.platform == "windows") continue;
    if (!docs.empty()) docs += ",";
    docs += std::string(KILN_CORPUS_DIR) + "/docs/" + row.file;
    invalid_linux += row.verdict == "invalid";
  }
  auto r = kiln::test::run_kiln({"validate", "--format", "json", "--documents", docs});
  CHECK(r.exit_code == 3);
  auto report = r.summary();
  REQUIRE(report.is_object());
  CHECK(report["status"] == "invalid");
  int invalid = 0;
  for (const auto& d : report["documents"]) {
    if (d["valid"] == false) {
      ++invalid;
      REQUIRE(!d["diagnostics"].empty());
      CHECK(d["diagnostics"][0]["line"].get<int>() > 0);
      CHECK(d["diagnostics"][0]["severity"] == "error");
    }
  }
  CHECK(invalid == invalid_linux);
}

TEST_CASE("corpus: the echo-only documents run end to end, every phase and step succeeding") {
  // The valid Linux documents whose ExecuteBash commands only echo (no network, no
  // system changes): safe to run for real on the test machine.
  const std::vector<std::string> documents = {
      "aws-samples__amazon-ec2-image-builder-samples__CloudFormation__Docker__amazon-linux-2-with-helloworld__"
      "amazon-linux-2-container-image.yml__Component__extracted.yml",
      "awsdocs__ec2-image-builder-user-guide__doc_source__manage-component-parameters.md__block00__extracted.yml",
      "awsdocs__ec2-image-builder-user-guide__doc_source__toe-get-started.md__block07__extracted.yml",
      "cloudadder__cdk-ec2-imagebuilder__test__components__helloworld.yaml",
      "jacklin213__imagebuilder-component-builder__src__components__editor__hello_world.json",
  };
  int ran = 0;
  for (const auto& name : documents) {
    CAPTURE(name);
    kiln::test::TempDir dir;
    auto r = kiln::test::run_kiln({"run", "-d", std::string(KILN_CORPUS_DIR) + "/docs/" + name, "-l", dir.file("logs"),
                                   "-s", dir.file("state")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    auto summary = r.summary();
    CHECK(summary["status"] == "success");
    CHECK(summary["executedStepCount"].get<int>() >= 1);
    std::string console = kiln::test::read_file(kiln::test::find_log_folder(dir.file("logs")) + "/console.log");
    CHECK(console.find("Stdout: Hello World") != std::string::npos);
    ran += r.exit_code == 0;
  }
  MESSAGE("corpus: " << ran << " echo-only documents ran end to end");
}

TEST_CASE("corpus: every Amazon-managed component copy is valid (AWSTOE runs them every day)") {
  // tests/corpus/amazon-managed.tsv: verbatim copies of components AWS ships, valid by
  // definition; where kiln is lenient as AWSTOE is, it warns (exit 0), and
  // --warnings-as-errors gives the strict reading.
  std::vector<CorpusRow> rows = read_corpus("amazon-managed.tsv");
  REQUIRE(rows.size() == 10);
  int valid = 0, with_warnings = 0;
  for (const auto& row : rows) {
    std::string path = std::string(KILN_CORPUS_DIR) + "/amazon-managed/" + row.file;
    REQUIRE(row.verdict == "valid");
    auto r = kiln::test::run_kiln({"validate", "--os-platforms", row.platform, "--documents", path});
    INFO(row.file << "\n" << r.err);
    CHECK(r.exit_code == 0);
    valid += r.exit_code == 0;
    if (r.err.find(": warning: ") != std::string::npos) {
      ++with_warnings;
      auto strict = kiln::test::run_kiln(
          {"validate", "--warnings-as-errors", "--os-platforms", row.platform, "--documents", path});
      CHECK(strict.exit_code == 3);
    }
  }
  // aws-cli-version-2-linux: `if [ '{{ build.InstallationType.outputs.stdout' == ...` (line 128).
  auto cli = kiln::test::run_kiln({"validate", "--documents", std::string(KILN_CORPUS_DIR) +
                                                                  "/amazon-managed/S-Waleed__ec2-image-builder__files__"
                                                                  "aws-cli-version-2-linux.yml"});
  CHECK(cli.err.find("aws-cli-version-2-linux.yml:128:21: warning: '{{' is never closed") != std::string::npos);
  MESSAGE("amazon-managed: " << valid << " of " << rows.size() << " valid, " << with_warnings << " with warnings");
  CHECK(valid == 10);
  CHECK(with_warnings == 1);
}
