// `kiln schema` checked by a validator that shares no code with kiln: every corpus
// document is turned into JSON by the npm `yaml` package (what yaml-language-server
// parses with) and validated by ajv against the bundled schema (tests/tools/
// schema_check.js). For every document that YAML parser reads, ajv's valid/invalid must
// equal whether `kiln validate --format json` reports a schema-level error (a diagnostic
// with code `schema` or `unknownKey`, severity error); semantic rules (names,
// references, loops, platforms) are kiln's alone and not compared. Where the two
// disagree for a reason that is not a defect of the schema, the document is listed in
// kExceptions with that reason; a listed document that agrees again fails the test too,
// so the list cannot go stale. The node packages (pinned) are installed by
// scripts/setup.sh --tests into /var/cache/kiln-test/schema-check (KILN_SCHEMA_CHECK
// overrides); outside CI the test is skipped when node or they are missing.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agent/sys/process.h"
#include "tests/support/corpus_table.h"
#include "tests/support/skip.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;

const char* kNode = "/usr/bin/node";

std::string schema_check_home() {
  const char* e = std::getenv("KILN_SCHEMA_CHECK");
  return e && *e ? e : "/var/cache/kiln-test/schema-check";
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci;
}

bool have_schema_check_tools() {
  std::string modules = schema_check_home() + "/node_modules/";
  return ::access(kNode, X_OK) == 0 && fs::exists(modules + "ajv/package.json") &&
         fs::exists(modules + "yaml/package.json");
}

// Documents the two validators may rightly judge differently, with the reason.
// `ajv_says` is part of ajv's complaint, so a listed document that starts to disagree for
// another reason fails the test.
struct Exception {
  const char* file;
  const char* reason;
  const char* ajv_says;
};

// YAML 1.2 (the `yaml` package) reads an unquoted 0755 or 123456789012 as a number; kiln
// keeps the text as written where a string is expected (DECISIONS.md, "plain scalar
// accepted where a string is expected"). The schema stays strict so an editor asks for
// quotes, which AWSTOE's own parser needs as well.
const Exception kExceptions[] = {
    {"aws-samples__amazon-ec2-image-builder-samples__CloudFormation__Docker__ubuntu-dotnet-web-application__ubuntu-"
     "dotnet-web-application-pipeline.yml__Component__extracted.yml",
     "unquoted permissions (0777, 0700, 766): an integer to YAML 1.2, text as written to kiln",
     "/permissions must be string"},
    {"aws-samples__amazon-ec2-image-builder-samples__Components__Linux__chef-recipe-execution-linux__component.yml",
     "unquoted permissions (0777, 0700, 766): an integer to YAML 1.2, text as written to kiln",
     "/permissions must be string"},
    {"aws-samples__amazon-ec2-image-builder-samples__Components__Linux__inspec-recipe-execution-linux__inspec-test-"
     "linux-component.yml",
     "unquoted permissions (0777, 0700, 766): an integer to YAML 1.2, text as written to kiln",
     "/permissions must be string"},
    {"toadslop__aws_imagebuilder_component__test__create-file.yaml",
     "unquoted permissions (0777, 0700, 766): an integer to YAML 1.2, text as written to kiln",
     "/permissions must be string"},
    {"toadslop__aws_imagebuilder_component__test__create-folder.yaml",
     "unquoted permissions (0777, 0700, 766): an integer to YAML 1.2, text as written to kiln",
     "/permissions must be string"},
    {"toadslop__aws_imagebuilder_component__test__file-and-folder-permissions.yaml",
     "unquoted permissions (0777, 0700, 766): an integer to YAML 1.2, text as written to kiln",
     "/permissions must be string"},
    {"awsdocs__ec2-image-builder-user-guide__doc_source__toe-action-modules.md__block06__extracted.yml",
     "unquoted 12-digit account id: an integer to YAML 1.2, text as written to kiln (document-s3-bucket-owner)",
     "/document-s3-bucket-owner must be string"},
    {"toadslop__aws_imagebuilder_component__test__s3-download.yaml",
     "unquoted 12-digit account id: an integer to YAML 1.2, text as written to kiln (expectedBucketOwner)",
     "/expectedBucketOwner must be string"},
    {"toadslop__aws_imagebuilder_component__test__s3-upload.yaml",
     "unquoted 12-digit account id: an integer to YAML 1.2, text as written to kiln (expectedBucketOwner)",
     "/expectedBucketOwner must be string"},
};

struct Document {
  std::string path, platform;
};

std::vector<Document> read_table(const std::string& table, const std::string& folder) {
  std::vector<Document> out;
  for (const auto& row : kiln::test::read_corpus_table(table))
    out.push_back({folder + "/" + row.file, row.platform == "windows" ? "windows" : "linux"});
  return out;
}

kiln::test::RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  kiln::sys::ProcessSpec spec;
  spec.executable = argv[0];
  spec.arguments.assign(argv.begin() + 1, argv.end());
  spec.extra_environment = env;
  spec.timeout = std::chrono::minutes(5);
  kiln::test::RunResult result;
  kiln::sys::ProcessResult r = kiln::sys::run_process(spec, [&](kiln::sys::OutputStream s, std::string_view chunk) {
    (s == kiln::sys::OutputStream::Stdout ? result.out : result.err).append(chunk);
  });
  result.exit_code = !r.started ? 127 : r.signal ? 128 + r.signal : r.exit_code;
  return result;
}

struct KilnVerdict {
  bool syntax = false;        // a syntax or unreadable diagnostic: not compared
  bool schema_error = false;  // an error with code schema or unknownKey
  std::string first;          // the first schema-level message, for failure output
};

// kiln validate --format json on `documents` (one platform), by path.
std::map<std::string, KilnVerdict> kiln_verdicts(const std::vector<std::string>& documents,
                                                 const std::string& platform) {
  std::map<std::string, KilnVerdict> out;
  if (documents.empty()) return out;
  std::string list;
  for (const auto& d : documents) list += (list.empty() ? "" : ",") + d;
  auto r = kiln::test::run_kiln({"validate", "--format", "json", "--os-platforms", platform, "--documents", list});
  REQUIRE_MESSAGE((r.exit_code == 0 || r.exit_code == 3), r.err);
  nlohmann::json report = nlohmann::json::parse(r.out);
  for (const auto& doc : report["documents"]) {
    KilnVerdict v;
    for (const auto& d : doc["diagnostics"]) {
      std::string code = d["code"];
      if (code == "syntax" || code == "unreadable") v.syntax = true;
      if ((code == "schema" || code == "unknownKey") && d["severity"] == "error") {
        if (!v.schema_error) v.first = d["message"].get<std::string>() + " (line " + d["line"].dump() + ")";
        v.schema_error = true;
      }
    }
    out[doc["file"]] = v;
  }
  return out;
}

}  // namespace

TEST_CASE("schema: ajv with the bundled schema agrees with kiln's schema-level verdicts on the corpus" *
          KILN_SKIP_UNLESS(in_ci() || have_schema_check_tools(),
                           "needs node, ajv and yaml (scripts/setup.sh --tests; CI never skips)")) {
  REQUIRE_MESSAGE(have_schema_check_tools(), "node or the npm packages in "
                                                 << schema_check_home()
                                                 << " are missing: run scripts/setup.sh --tests");
  kiln::test::TempDir dir;
  std::string schema = dir.file("kiln-component.schema.json");
  auto written = kiln::test::run_kiln({"schema", "--output", schema});
  REQUIRE_MESSAGE(written.exit_code == 0, written.err);

  // The corpus, the Amazon-managed components, and shared/corpus's documents that are
  // not the same file as one of those (a copy of the corpus lies beside the checkout).
  std::string corpus = KILN_CORPUS_DIR;
  std::vector<Document> documents = read_table(corpus + "/corpus.tsv", corpus + "/docs");
  for (auto& d : read_table(corpus + "/amazon-managed.tsv", corpus + "/amazon-managed")) documents.push_back(d);
  std::string shared = std::string(KILN_SOURCE_DIR) + "/../shared/corpus";
  size_t from_shared = 0;
  if (fs::exists(shared + "/corpus.tsv")) {
    for (auto& d : read_table(shared + "/corpus.tsv", shared + "/docs")) {
      std::string name = fs::path(d.path).filename();
      std::string ours = corpus + "/docs/" + name;
      if (fs::exists(ours) && kiln::test::read_file(ours) == kiln::test::read_file(d.path)) continue;
      documents.push_back(d);
      ++from_shared;
    }
  }
  REQUIRE(documents.size() >= 134);

  std::string list;
  std::vector<std::string> by_platform[2];
  for (const auto& d : documents) {
    list += d.path + "\n";
    by_platform[d.platform == "windows"].push_back(d.path);
  }
  std::string list_file = dir.write("documents.txt", list);
  auto checked = run({kNode, std::string(KILN_SOURCE_DIR) + "/tests/tools/schema_check.js", schema, list_file},
                     {"NODE_PATH=" + schema_check_home() + "/node_modules"});
  REQUIRE_MESSAGE(checked.exit_code == 0, checked.err);

  std::map<std::string, KilnVerdict> kiln = kiln_verdicts(by_platform[0], "linux");
  for (auto& [path, v] : kiln_verdicts(by_platform[1], "windows")) kiln[path] = v;
  std::map<std::string, const Exception*> exceptions;
  for (const auto& e : kExceptions) exceptions[e.file] = &e;

  int compared = 0, agree = 0, listed = 0, yaml_unreadable = 0, kiln_syntax = 0;
  std::set<std::string> seen;
  std::stringstream lines(checked.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream s(line);
    std::string cell;
    while (std::getline(s, cell, '\t')) cells.push_back(cell);
    cells.resize(3);
    const std::string& path = cells[0];
    std::string name = fs::path(path).filename();
    seen.insert(path);
    REQUIRE_MESSAGE(kiln.count(path), "kiln gave no verdict for " << path);
    const KilnVerdict& k = kiln[path];
    if (cells[1] == "yaml-error") {  // not YAML to the npm parser: nothing to compare
      ++yaml_unreadable;
      CHECK_MESSAGE(!exceptions.count(name), name << " is listed but the yaml package cannot read it");
      continue;
    }
    if (k.syntax) {  // kiln refuses YAML the npm parser reads (duplicate keys, limits): listed
      ++kiln_syntax;
    }
    bool ajv_valid = cells[1] == "valid";
    bool agrees = !k.syntax && ajv_valid == !k.schema_error;
    ++compared;
    if (exceptions.count(name)) {
      ++listed;
      CHECK_MESSAGE(!agrees, name << " is listed as an exception (" << exceptions[name]->reason
                                  << ") but ajv and kiln now agree: remove it from the list");
      CHECK_MESSAGE(cells[2].find(exceptions[name]->ajv_says) != std::string::npos,
                    name << ": listed for '" << exceptions[name]->ajv_says << "', ajv says " << cells[2]);
      continue;
    }
    agree += agrees;
    CHECK_MESSAGE(agrees, name << ": ajv says " << cells[1] << " " << cells[2] << "; kiln "
                               << (k.syntax         ? "refuses its YAML"
                                   : k.schema_error ? "reports " + k.first
                                                    : "reports no schema error"));
  }
  CHECK(seen.size() == documents.size());
  MESSAGE("schema vs ajv: " << documents.size() << " documents (" << from_shared << " only in shared/corpus), "
                            << yaml_unreadable << " not YAML to the yaml package, " << compared
                            << " compared: " << agree << " agree, " << listed << " listed exceptions (" << kiln_syntax
                            << " of all compared refused by kiln's YAML reader)");
}

TEST_CASE("schema: kiln schema is one self-contained draft-07 document") {
  auto r = kiln::test::run_kiln({"schema"});
  REQUIRE(r.exit_code == 0);
  nlohmann::json schema = nlohmann::json::parse(r.out);
  CHECK(schema["$schema"] == "http://json-schema.org/draft-07/schema#");
  // Every reference is local and resolves inside the document.
  std::vector<const nlohmann::json*> todo{&schema};
  int refs = 0;
  while (!todo.empty()) {
    const nlohmann::json* node = todo.back();
    todo.pop_back();
    if (node->is_object()) {
      for (const auto& [key, value] : node->items()) {
        if (key == "$ref") {
          ++refs;
          std::string ref = value;
          REQUIRE_MESSAGE(ref.rfind("#/", 0) == 0, ref);
          CHECK_MESSAGE(schema.contains(nlohmann::json::json_pointer(ref.substr(1))), ref);
        } else {
          todo.push_back(&value);
        }
      }
    } else if (node->is_array()) {
      for (const auto& item : *node) todo.push_back(&item);
    }
  }
  CHECK(refs > 30);
  // Each action's inputs are applied by the step's action name.
  const auto& rules = schema["definitions"]["step"]["allOf"];
  size_t actions = 0;
  for (const auto& entry : fs::directory_iterator(std::string(KILN_SOURCE_DIR) + "/schemas/actions"))
    actions += entry.path().extension() == ".json";
  REQUIRE(actions >= 31);  // AWSTOE's 30 and ExtractArchive
  REQUIRE(rules.size() == actions);
  bool bash = false;
  for (const auto& rule : rules)
    if (rule["if"]["properties"]["action"]["const"] == "ExecuteBash") {
      bash = true;
      CHECK(rule["then"]["properties"]["inputs"]["$ref"] == "#/definitions/action-ExecuteBash");
      CHECK(rule["then"]["required"] == nlohmann::json::array({"inputs"}));
    }
  CHECK(bash);
  CHECK(schema["definitions"]["action-ExecuteBash"]["required"] == nlohmann::json::array({"commands"}));
  CHECK(schema["definitions"].contains("condition-ifCondition"));
  CHECK_FALSE(r.out.find("x-kiln-") != std::string::npos);  // kiln's metadata stays out

  auto action = kiln::test::run_kiln({"schema", "--action", "ExecuteBash"});
  CHECK(action.exit_code == 0);
  CHECK(nlohmann::json::parse(action.out)["title"] == "ExecuteBash inputs");
  auto unknown = kiln::test::run_kiln({"schema", "--action", "ExecuteBsh"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown action 'ExecuteBsh'") != std::string::npos);
}

TEST_CASE("schema: the build writes the bundled schema kiln prints") {
  std::string built = (fs::path(KILN_BINARY).parent_path() / "generated/kiln-component.schema.json").string();
  REQUIRE_MESSAGE(fs::exists(built), built);
  auto r = kiln::test::run_kiln({"schema"});
  CHECK(kiln::test::read_file(built) == r.out);
}
