// Unit tests of the YAML -> JSON loader and its source map (agent/document/yaml_loader).
#include "agent/document/yaml_loader.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace kiln {
namespace {

using json = nlohmann::json;

struct Loaded {
  bool ok = false;
  LoadedDocument doc;
  Diagnostics diagnostics;
};

Loaded load(const std::string& text, const LoadLimits& limits = {}) {
  Loaded l;
  l.ok = load_yaml_text("doc.yaml", text, l.doc, l.diagnostics, limits);
  return l;
}

// Loads text that must load cleanly.
LoadedDocument load_ok(const std::string& text) {
  Loaded l = load(text);
  std::string shown;
  for (const auto& d : l.diagnostics)
    shown += std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " + d.message + "\n";
  INFO(shown);
  REQUIRE(l.ok);
  CHECK(l.diagnostics.empty());
  return std::move(l.doc);
}

// Loads text that must fail with exactly one error; returns it.
Diagnostic load_error(const std::string& text, const LoadLimits& limits = {}) {
  Loaded l = load(text, limits);
  CHECK_FALSE(l.ok);
  REQUIRE(l.diagnostics.size() == 1);
  CHECK(l.diagnostics[0].severity == Severity::Error);
  CHECK(l.diagnostics[0].location.file == "doc.yaml");
  return l.diagnostics[0];
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The line/column of the value at `pointer`.
std::pair<int, int> at(const LoadedDocument& doc, const std::string& pointer) {
  SourceLocation l = doc.at(pointer);
  CHECK(l.file == "doc.yaml");
  return {l.line, l.column};
}
std::pair<int, int> key_at(const LoadedDocument& doc, const std::string& pointer) {
  SourceLocation l = doc.key_at(pointer);
  return {l.line, l.column};
}
using LC = std::pair<int, int>;

// The single plain scalar `value: <text>` typed by the loader.
json scalar(const std::string& text) {
  LoadedDocument doc = load_ok("value: " + text + "\n");
  return doc.root["value"];
}

}  // namespace

TEST_CASE("yaml_loader: source map gives 1-based lines and columns of values and keys") {
  LoadedDocument doc = load_ok(
      "schemaVersion: 1.0\n"           // 1
      "phases:\n"                      // 2
      "  - name: build\n"              // 3
      "    steps:\n"                   // 4
      "      - name: One\n"            // 5
      "        action: ExecuteBash\n"  // 6
      "        inputs:\n"              // 7
      "          commands:\n"          // 8
      "            - echo a\n"         // 9
      "            - echo b\n");       // 10
  CHECK(doc.root["phases"][0]["steps"][0]["inputs"]["commands"][1] == "echo b");
  CHECK(at(doc, "") == LC{1, 1});
  CHECK(at(doc, "/schemaVersion") == LC{1, 16});
  CHECK(key_at(doc, "/schemaVersion") == LC{1, 1});
  CHECK(at(doc, "/phases") == LC{3, 3});
  CHECK(key_at(doc, "/phases") == LC{2, 1});
  // A list item has no key: key_at falls back to the value.
  CHECK(at(doc, "/phases/0") == LC{3, 5});
  CHECK(key_at(doc, "/phases/0") == LC{3, 5});
  CHECK(at(doc, "/phases/0/name") == LC{3, 11});
  CHECK(key_at(doc, "/phases/0/name") == LC{3, 5});
  CHECK(at(doc, "/phases/0/steps/0/action") == LC{6, 17});
  CHECK(key_at(doc, "/phases/0/steps/0/action") == LC{6, 9});
  CHECK(at(doc, "/phases/0/steps/0/inputs/commands/0") == LC{9, 15});
  CHECK(at(doc, "/phases/0/steps/0/inputs/commands/1") == LC{10, 15});
  CHECK(key_at(doc, "/phases/0/steps/0/inputs/commands") == LC{8, 11});
  // source_line returns the text of a line without its newline.
  CHECK(doc.source_line(6) == "        action: ExecuteBash");
  CHECK(doc.source_line(0).empty());
  CHECK(doc.source_line(99).empty());
}

TEST_CASE("yaml_loader: a null value (key:) is located at its key, not at the next token") {
  LoadedDocument doc = load_ok(
      "a:\n"
      "  inputs:\n"
      "  other: 1\n"
      "b: ~\n"
      "c: null\n");
  CHECK(doc.root["a"]["inputs"].is_null());
  // yaml-cpp would give line 3 (the next token); the loader uses the key's mark.
  CHECK(at(doc, "/a/inputs") == LC{2, 3});
  CHECK(key_at(doc, "/a/inputs") == LC{2, 3});
  CHECK(doc.source_map.find("/a/inputs")->plain_scalar);
  CHECK(at(doc, "/a/other") == LC{3, 10});
  CHECK(doc.root["b"].is_null());
  CHECK(doc.root["c"].is_null());
  CHECK(at(doc, "/c").first == 5);  // an explicit null may point at the key or the word
}

TEST_CASE("yaml_loader: keys holding / and ~ are escaped in pointers (~1, ~0)") {
  LoadedDocument doc = load_ok(
      "paths:\n"
      "  /etc/app: one\n"
      "  ~home: two\n"
      "  a~/b: three\n");
  CHECK(doc.root["paths"]["/etc/app"] == "one");
  REQUIRE(doc.source_map.find("/paths/~1etc~1app") != nullptr);
  CHECK(at(doc, "/paths/~1etc~1app") == LC{2, 13});
  REQUIRE(doc.source_map.find("/paths/~0home") != nullptr);
  CHECK(at(doc, "/paths/~0home") == LC{3, 10});
  REQUIRE(doc.source_map.find("/paths/a~0~1b") != nullptr);
  CHECK(key_at(doc, "/paths/a~0~1b") == LC{4, 3});
  // The unescaped spellings are not entries.
  CHECK(doc.source_map.find("/paths//etc/app") == nullptr);
  CHECK(pointer_append("/x", "a/b~c") == "/x/a~1b~0c");
  CHECK(pointer_append("/x", size_t{3}) == "/x/3");
}

TEST_CASE("yaml_loader: an unknown pointer falls back to its nearest known ancestor") {
  LoadedDocument doc = load_ok(
      "top:\n"
      "  inner:\n"
      "    leaf: 1\n");
  CHECK(at(doc, "/top/inner/missing/deeper") == at(doc, "/top/inner"));
  CHECK(at(doc, "/top/inner") == LC{3, 5});
  CHECK(key_at(doc, "/top/inner/missing") == at(doc, "/top/inner"));
  CHECK(at(doc, "/nothing") == LC{1, 1});  // the root
  // An empty source map knows nothing: line 0.
  SourceMap empty;
  CHECK(empty.value_location("f", "/a/b").line == 0);
}

TEST_CASE("yaml_loader: plain scalars are typed by the YAML 1.2 core schema") {
  CHECK(scalar("~").is_null());
  CHECK(scalar("null").is_null());
  CHECK(scalar("Null").is_null());
  CHECK(scalar("NULL").is_null());
  CHECK(scalar("true") == true);
  CHECK(scalar("True") == true);
  CHECK(scalar("TRUE") == true);
  CHECK(scalar("false") == false);
  CHECK(scalar("FALSE") == false);
  // YAML 1.1 booleans are strings in 1.2.
  CHECK(scalar("yes") == "yes");
  CHECK(scalar("off") == "off");
  CHECK(scalar("42") == 42);
  CHECK(scalar("42").is_number_integer());
  CHECK(scalar("-7") == -7);
  CHECK(scalar("+7") == 7);
  CHECK(scalar("0x1F") == 31);
  CHECK(scalar("0o17") == 15);
  CHECK(scalar("0xZZ") == "0xZZ");
  CHECK(scalar("18446744073709551615").is_number_unsigned());  // uint64 max still fits
  CHECK(scalar("1.0").is_number_float());
  CHECK(scalar("1.0") == 1.0);
  CHECK(scalar("-2.5e3") == -2500.0);
  CHECK(scalar(".5") == 0.5);
  CHECK(scalar("1e3").is_number_float());
  CHECK(scalar(".inf") == ".inf");
  CHECK(scalar("-.inf") == "-.inf");
  CHECK(scalar(".nan") == ".nan");
  CHECK(scalar("1.2.3") == "1.2.3");
  CHECK(scalar("1e") == "1e");
  CHECK(scalar("hello world") == "hello world");
  // Beyond uint64: kept as its text, never rounded.
  CHECK(scalar("123456789012345678901234567890") == "123456789012345678901234567890");
  CHECK(scalar("-99999999999999999999") == "-99999999999999999999");
}

TEST_CASE("yaml_loader: 0755 is the integer 755 with its raw text kept; quoted stays a string") {
  LoadedDocument doc = load_ok(
      "mode: 0755\n"
      "quoted: \"5\"\n"
      "single: '0755'\n"
      "tagged: !!str 12\n");
  CHECK(doc.root["mode"] == 755);
  const SourceEntry* mode = doc.source_map.find("/mode");
  REQUIRE(mode != nullptr);
  CHECK(mode->plain_scalar);
  CHECK(mode->raw == "0755");
  CHECK(doc.root["quoted"] == "5");
  CHECK(doc.root["quoted"].is_string());
  CHECK_FALSE(doc.source_map.find("/quoted")->plain_scalar);
  CHECK(doc.root["single"] == "0755");
  CHECK_FALSE(doc.source_map.find("/single")->plain_scalar);
  CHECK(doc.root["tagged"] == "12");
}

TEST_CASE("yaml_loader: duplicate keys are an error naming both lines") {
  Loaded l = load(
      "name: a\n"
      "phases: []\n"
      "name: b\n");
  CHECK_FALSE(l.ok);
  REQUIRE(l.diagnostics.size() == 1);
  CHECK(l.diagnostics[0].location.line == 3);
  CHECK(l.diagnostics[0].location.column == 1);
  CHECK(contains(l.diagnostics[0].message, "duplicate key 'name'"));
  CHECK(contains(l.diagnostics[0].message, "line 1"));

  // Several duplicates are all reported.
  Loaded two = load(
      "a: 1\n"
      "b:\n"
      "  x: 1\n"
      "  x: 2\n"
      "a: 3\n");
  CHECK_FALSE(two.ok);
  CHECK(two.diagnostics.size() == 2);
}

TEST_CASE("yaml_loader: JSON documents load with positions") {
  LoadedDocument doc = load_ok(
      "{\n"
      "  \"schemaVersion\": \"1.0\",\n"
      "  \"phases\": [\n"
      "    {\"name\": \"build\", \"steps\": []}\n"
      "  ],\n"
      "  \"count\": 3\n"
      "}\n");
  CHECK(doc.root["schemaVersion"] == "1.0");
  CHECK(doc.root["count"] == 3);
  CHECK(doc.root["phases"][0]["steps"].is_array());
  CHECK(at(doc, "/schemaVersion") == LC{2, 20});
  CHECK(key_at(doc, "/schemaVersion") == LC{2, 3});
  CHECK(at(doc, "/phases/0/name") == LC{4, 14});
  CHECK(at(doc, "/count") == LC{6, 12});
}

TEST_CASE("yaml_loader: a UTF-8 BOM and CRLF line ends are accepted") {
  LoadedDocument bom = load_ok("\xEF\xBB\xBFname: x\nother: y\n");
  CHECK(bom.root["name"] == "x");
  CHECK(at(bom, "/other") == LC{2, 8});

  LoadedDocument crlf = load_ok("name: x\r\nlist:\r\n  - a b\r\n  - c\r\n");
  CHECK(crlf.root["name"] == "x");
  CHECK(crlf.root["list"][0] == "a b");
  CHECK(crlf.root["list"][1] == "c");
  CHECK(at(crlf, "/list/1") == LC{4, 5});
  CHECK(crlf.source_line(3) == "  - a b");
}

TEST_CASE("yaml_loader: a NUL byte is an error at its line") {
  std::string text = "a: 1\nb: 2\nc: x";
  text += '\0';
  text += "y\n";
  Diagnostic d = load_error(text);
  CHECK(d.location.line == 3);
  CHECK(d.location.column == 5);
  CHECK(contains(d.message, "NUL"));
}

TEST_CASE("yaml_loader: invalid UTF-8 is an error") {
  Diagnostic d = load_error("a: 1\nb: caf\xC3\n");
  CHECK(d.location.line == 2);
  CHECK(contains(d.message, "UTF-8"));
  Diagnostic overlong = load_error("a: \xC0\xAF\n");
  CHECK(contains(overlong.message, "UTF-8"));
  Diagnostic stray = load_error("a: \x80\n");
  CHECK(contains(stray.message, "UTF-8"));
  // Valid multi-byte text is fine.
  LoadedDocument ok = load_ok("a: caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n");
  CHECK(ok.root["a"] == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_CASE("yaml_loader: tab indentation is an error with a hint about spaces") {
  Diagnostic d = load_error(
      "phases:\n"
      "\t- name: build\n");
  CHECK(d.location.line == 2);
  CHECK(contains(d.message, "YAML syntax error"));
  CHECK(contains(d.hint, "spaces"));
  // yaml-cpp words these differently ("illegal map value", "illegal tab ..."): same hint.
  const std::pair<const char*, int> cases[] = {
      {"a:\n\tb: 1\n", 2}, {"a:\n  b: 1\n\tc: 2\n", 3}, {"a:\n \t- x\n", 2}, {"a: |\n\tfoo\n", 2}};
  for (const auto& entry : cases) {
    const char* text = entry.first;
    int line = entry.second;
    INFO(text);
    Diagnostic t = load_error(text);
    CHECK(t.location.line == line);
    CHECK(contains(t.hint, "indent with spaces"));
  }
  // Tabs inside a flow collection or a value are fine.
  LoadedDocument ok = load_ok("a: [1,\n\t2]\nb: x\ty\n");
  CHECK(ok.root["b"] == "x\ty");
}

TEST_CASE("yaml_loader: an unterminated quote is an error with its line") {
  // yaml-cpp 0.7 itself accepts this (the string swallows the rest of the file).
  Diagnostic d = load_error(
      "a: 1\n"
      "b: \"never closed\n"
      "c: 2\n");
  CHECK(d.location.line == 2);
  CHECK(d.location.column == 4);
  CHECK(contains(d.message, "YAML syntax error"));
  CHECK(contains(d.hint, "quote"));
  Diagnostic single = load_error("a:\n  - ok\n  - 'never closed\n");
  CHECK(single.location.line == 3);
  Diagnostic crlf = load_error("a: \"x\r\nb: 1\r\n");
  CHECK(crlf.location.line == 1);
  // Escaped quotes inside closed strings, multi-byte text before them, aliases: all fine.
  LoadedDocument ok = load_ok(
      "\xC3\xA9\xE2\x82\xAC: \"\xF0\x9F\x98\x80 x\"\n"
      "b: \"say \\\"hi\\\"\"\n"
      "c: 'it''s'\n"
      "d: \"back\\\\\"\n"
      "e: &q \"v\"\n"
      "f: *q\n"
      "g: [\"x\", 'y']\n");
  CHECK(ok.root["b"] == "say \"hi\"");
  CHECK(ok.root["c"] == "it's");
  CHECK(ok.root["d"] == "back\\");
  CHECK(ok.root["f"] == "v");
  CHECK(ok.root["g"] == json::array({"x", "y"}));
}

TEST_CASE("yaml_loader: an alias bomb hits the node limit quickly") {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  auto start = std::chrono::steady_clock::now();
  Loaded l = load(text);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(l.ok);
  REQUIRE_FALSE(l.diagnostics.empty());
  CHECK(contains(l.diagnostics[0].message, "too large"));
  CHECK(contains(l.diagnostics[0].message, "aliases"));
  // Aliases are sized while reading and copied only once the document is within the
  // limits: the bomb is refused after reading ~100 values (~1 ms; 1.2 s and 400 MB when
  // aliases were copied as they came).
  CHECK(elapsed < std::chrono::milliseconds(500));

  // The same limit applies without aliases.
  LoadLimits limits;
  limits.max_nodes = 5;
  Diagnostic d = load_error("a: [1, 2, 3]\nb: [4, 5]\n", limits);
  CHECK(contains(d.message, "more than 5 values"));
  CHECK(d.location.line == 2);
  // A small alias is fine, and expands.
  LoadedDocument ok = load_ok("base: &b [1, 2]\ncopy: *b\n");
  CHECK(ok.root["copy"] == json::array({1, 2}));
}

TEST_CASE("yaml_loader: an alias copies the anchored value with its source entries under the alias") {
  LoadedDocument doc = load_ok(
      "defaults: &d\n"          // 1
      "  shell: bash\n"         // 2
      "  args: [a, '0755']\n"   // 3
      "first: *d\n"             // 4
      "list:\n"                 // 5
      "  - *d\n"                // 6
      "  - tail\n");            // 7
  CHECK(doc.root["first"] == doc.root["defaults"]);
  CHECK(doc.root["list"][0] == doc.root["defaults"]);
  CHECK(doc.root["list"][1] == "tail");
  // The copy's values are where they were written; its key is the alias's key.
  const SourceEntry* first = doc.source_map.find("/first");
  REQUIRE(first != nullptr);
  CHECK(first->key_line == 4);
  CHECK(first->key_column == 1);
  CHECK(doc.at("/first/shell").line == 2);
  CHECK(doc.at("/first/shell").column == 10);
  CHECK(doc.key_at("/list/0/args").line == 3);
  const SourceEntry* quoted = doc.source_map.find("/list/0/args/1");
  REQUIRE(quoted != nullptr);
  CHECK_FALSE(quoted->plain_scalar);
  CHECK(doc.at("/list/1").line == 7);
  // Aliases inside anchored values are expanded too, each copy mapped to where its
  // values were written.
  LoadedDocument nested = load_ok(
      "base: &b {x: 1}\n"                         // 1
      "mid: &m {inner: *b, list: [*b, 2]}\n"      // 2
      "top: [*m, *m]\n");                         // 3
  CHECK(nested.root["top"][1]["list"][0]["x"] == 1);
  CHECK(nested.root["top"][0]["inner"] == json{{"x", 1}});
  CHECK(nested.root["mid"]["list"][1] == 2);
  CHECK(nested.at("/top/1/list/0/x").line == 1);
  CHECK(nested.at("/top/1/list/0/x").column == 14);
  CHECK(nested.at("/top/0/list/1").line == 2);
  CHECK(nested.at("/top/1").line == 2);  // a list item: the value where it was written
  // An anchored scalar works as a map key.
  LoadedDocument keys = load_ok("a: &k name\n*k : 5\n");
  CHECK(keys.root["name"] == 5);
}

TEST_CASE("yaml_loader: an alias inside its own anchor is an error, not a loop") {
  Diagnostic d = load_error("a: &x [1, *x]\n");
  CHECK(contains(d.message, "alias refers to the value that contains it"));
  CHECK(d.location.line == 1);
  CHECK(d.location.column == 11);
  // An unknown anchor is yaml-cpp's own error, at the alias.
  Diagnostic unknown = load_error("a: *nowhere\n");
  CHECK(unknown.location.column == 4);
}

TEST_CASE("yaml_loader: a duplicate key's value is read but neither kept nor mapped") {
  Loaded l = load(
      "step:\n"
      "  inputs: {a: 1}\n"
      "  inputs:\n"
      "    b: [1, 2, {c: 3}]\n"
      "  after: x\n");
  CHECK_FALSE(l.ok);
  REQUIRE(l.diagnostics.size() == 1);
  CHECK(l.diagnostics[0].location.line == 3);
  CHECK(l.doc.root["step"]["inputs"] == json{{"a", 1}});
  CHECK(l.doc.root["step"]["after"] == "x");
  CHECK(l.doc.at("/step/inputs").line == 2);
  CHECK(l.doc.source_map.find("/step/inputs/b") == nullptr);
}

TEST_CASE("yaml_loader: 10,000-deep flow nesting is an error, not a crash") {
  std::string text = "a: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  Loaded l = load(text);
  CHECK_FALSE(l.ok);
  REQUIRE_FALSE(l.diagnostics.empty());
  CHECK(l.diagnostics[0].severity == Severity::Error);
  CHECK(l.diagnostics[0].location.line == 1);
  // The loader stops at its own depth limit while yaml-cpp is still reading (one pass).
  CHECK(contains(l.diagnostics[0].message, "deeper than 256 levels"));
  CHECK(l.diagnostics[0].location.column == 3 + 257);
  // Past kiln's own depth limit (256) but within yaml-cpp's.
  Diagnostic deep = load_error("a: " + std::string(300, '[') + std::string(300, ']') + "\n");
  CHECK(contains(deep.message, "deeper than 256 levels"));
  // Within the depth limit it loads.
  LoadedDocument ok = load_ok("a: " + std::string(50, '[') + std::string(50, ']') + "\n");
  CHECK(ok.root["a"].is_array());
}

TEST_CASE("yaml_loader: a '%' template line after content is an error at that line") {
  Diagnostic d = load_error(
      "name: x\n"
      "phases:\n"
      "%{ if var.enabled }\n"
      "  - name: build\n");
  CHECK(d.location.line == 3);
  CHECK(d.location.column == 1);
  CHECK(contains(d.message, "'%'"));
  // A real directive before '---' is fine.
  LoadedDocument ok = load_ok("%YAML 1.2\n---\nname: x\n");
  CHECK(ok.root["name"] == "x");
}

TEST_CASE("yaml_loader: a document over the size limit is an error") {
  LoadLimits limits;
  limits.max_bytes = 64;
  Diagnostic d = load_error("name: " + std::string(100, 'x') + "\n", limits);
  CHECK(contains(d.message, "the limit is 64"));
  CHECK(d.location.line == 1);
  // At the limit it loads.
  Loaded ok = load("name: " + std::string(57, 'x') + "\n", limits);
  CHECK(ok.ok);
}

TEST_CASE("yaml_loader: an unquoted {{ }} value gets the targeted quoting error") {
  Diagnostic d = load_error(
      "phases:\n"
      "  - name: build\n"
      "    steps:\n"
      "      - name: S\n"
      "        action: ExecuteBash\n"
      "        inputs:\n"
      "          commands:\n"
      "            - {{ Greeting }}\n");
  CHECK(d.location.line == 8);
  CHECK(contains(d.message, "'{{'"));
  CHECK(contains(d.hint, "quote values that start with {{"));
  // Quoted, or not at the start, it is a plain string.
  LoadedDocument ok = load_ok("a:\n  - '{{ Greeting }}'\n  - echo {{ Greeting }}\n");
  CHECK(ok.root["a"][0] == "{{ Greeting }}");
  CHECK(ok.root["a"][1] == "echo {{ Greeting }}");
}

TEST_CASE("yaml_loader: several YAML documents in one file are refused") {
  Loaded l = load("a: 1\n---\nb: 2\n");
  CHECK_FALSE(l.ok);
  REQUIRE(l.diagnostics.size() == 1);
  CHECK(contains(l.diagnostics[0].message, "several YAML documents"));
}

TEST_CASE("yaml_loader: an empty document loads as null") {
  Loaded l = load("");
  CHECK(l.ok);
  CHECK(l.doc.root.is_null());
}

TEST_CASE("yaml_loader: problems carry a code: unreadable text, syntax, duplicate keys") {
  CHECK(load_error(std::string("a: 1\n\0b: 2\n", 11)).code == DiagnosticCode::Unreadable);
  CHECK(load_error("a: \xC3\n").code == DiagnosticCode::Unreadable);
  CHECK(load_error("a: [1, 2\n").code == DiagnosticCode::Syntax);
  CHECK(load_error("a: 'open\n").code == DiagnosticCode::Syntax);
  CHECK(load_error("a: 1\n---\nb: 2\n").code == DiagnosticCode::Syntax);

  // Duplicate keys do not stop the load: every one is reported, each a syntax problem.
  Loaded twice = load("a: 1\na: 2\nb: 1\nb: 2\n");
  CHECK_FALSE(twice.ok);
  REQUIRE(twice.diagnostics.size() == 2);
  for (const auto& d : twice.diagnostics) {
    CHECK(contains(d.message, "duplicate key"));
    CHECK(d.code == DiagnosticCode::Syntax);
  }

  LoadedDocument missing;
  Diagnostics diagnostics;
  CHECK_FALSE(load_yaml_file("/kiln/no/such/document.yml", missing, diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].code == DiagnosticCode::Unreadable);
}

}  // namespace kiln

namespace kiln {

TEST_CASE("source map: where each line of a block scalar starts, and text positions inside it") {
  for (const std::string& eol : {std::string("\n"), std::string("\r\n")}) {
    CAPTURE(eol.size());
    LoadedDocument doc = load_ok("a: |" + eol + "  one" + eol + "  two {{ x" + eol + "b: one line {{ y" + eol);
    const SourceEntry* a = doc.source_map.find("/a");
    REQUIRE(a != nullptr);
    REQUIRE(a->lines.size() == 2);
    CHECK(a->lines[0].offset == 0);
    CHECK(a->lines[0].line == 2);
    CHECK(a->lines[0].column == 3);
    CHECK(a->lines[1].offset == 4);
    CHECK(a->lines[1].length == 8);
    CHECK(a->lines[1].line == 3);
    SourceLocation at = doc.text_at("/a", 8, "{{ x");
    CHECK(at.line == 3);
    CHECK(at.column == 7);
    // A one-line scalar has no lines; its text is found at its column.
    CHECK(doc.source_map.find("/b")->lines.empty());
    SourceLocation one = doc.text_at("/b", 9, "{{ y");
    CHECK(one.line == 4);
    CHECK(one.column == 13);
  }
}

TEST_CASE("source map: an alias of a block scalar points into the anchored text") {
  LoadedDocument doc = load_ok("a: &s |\n  one\n  {{ x\nb: *s\n");
  SourceLocation at = doc.text_at("/b", 4, "{{ x");
  CHECK(at.line == 3);
  CHECK(at.column == 3);
}

TEST_CASE("source map: a block scalar that cannot be matched line by line falls back to its indicator") {
  // Empty block scalars have no text to point into.
  LoadedDocument empty = load_ok("a: |\nb: x\n");
  CHECK(empty.source_map.find("/a")->lines.empty());
  // A folded scalar with a more-indented line keeps every line's place.
  LoadedDocument folded = load_ok("a: >\n  one\n    two\n  three {{ x\n");
  CHECK(folded.root["a"] == "one\n  two\nthree {{ x\n");
  SourceLocation at = folded.text_at("/a", folded.root["a"].get<std::string>().find("{{"), "{{ x");
  CHECK(at.line == 4);
  CHECK(at.column == 9);
}

}  // namespace kiln

namespace kiln {

// YAML pitfalls (issue 16): yaml-cpp refuses these lines; the hint names YAML's rule,
// shows the line quoted, and the caret is on the character that caused it.
TEST_CASE("yaml_loader: '@', '`', '%', '*', '&' starting a value, a flow list cut short, a second ': ' are explained") {
  const std::string block = " (or write it as a block scalar: '|' and the text on the next line, indented)";
  struct Case {
    std::string line, message;
    int column;
    std::string hint;
  };
  for (const Case& c : std::vector<Case>{
           {"  - @echo off", "YAML syntax error: unknown token", 5,
            "'@' is reserved in YAML and cannot start an unquoted value; quote the whole line: - '@echo off'" + block},
           {"  - `date`", "YAML syntax error: unknown token", 5,
            "'`' (backquote) is reserved in YAML and cannot start an unquoted value; quote the whole line: - "
            "'`date`'" + block},
           {"  - %PATH%", "YAML syntax error: unknown token", 5,
            "'%' starts a YAML directive and cannot start an unquoted value; quote the whole line: - '%PATH%'" + block},
           {"  - *.txt", "YAML syntax error: the referenced anchor is not defined", 5,
            "'*' at the start of an unquoted value is a YAML alias (*name repeats an anchored value); quote the "
            "whole line: - '*.txt'" + block},
           {"  - * foo", "YAML syntax error: alias not found after *", 5,
            "'*' at the start of an unquoted value is a YAML alias (*name repeats an anchored value); quote the "
            "whole line: - '* foo'" + block},
           {"  - & 'C:\\x.exe' /a", "YAML syntax error: anchor not found after &", 5,
            "'&' at the start of an unquoted value is a YAML anchor (&name labels a value); quote the whole line: - "
            "'& ''C:\\x.exe'' /a'" + block},  // a backslash rules out double quotes: ' is doubled
           {"  - [ -f x ] && echo y", "YAML syntax error: end of sequence not found", 5,
            "YAML read the '[' that starts this unquoted value as a flow list ([a, b]), which must end the value; "
            "quote the whole line: - '[ -f x ] && echo y'" + block},
           {"  - path: /tmp/a: b", "YAML syntax error: illegal map value", 17,
            "in unquoted text, ':' followed by a space separates a key from its value, and this value already has a "
            "key; quote the value: - path: '/tmp/a: b'"},
       }) {
    INFO(c.line);
    Diagnostic d = load_error("commands:\n" + c.line + "\n");
    CHECK(d.message == c.message);
    CHECK(d.location.line == 2);
    CHECK(d.location.column == c.column);
    CHECK(d.hint == c.hint);
    CHECK(d.code == DiagnosticCode::Syntax);
  }
  // Tab indentation keeps its own hint.
  Diagnostic tab = load_error("a:\n\t- b: c: d\n");
  CHECK(tab.hint.find("tabs") != std::string::npos);
}

TEST_CASE("yaml_loader: the source map records a comment after a plain scalar and a tag or anchor before one") {
  LoadedDocument doc = load_ok("a: x # note\nb: 'y' # note\nc: ! z\nd: &n w\ne: '#x'\nf: x#y\n");
  CHECK(doc.source_map.find("/a")->comment_column == 6);
  CHECK(doc.source_map.find("/b")->comment_column == 0);  // quoted: nothing was cut
  CHECK(doc.source_map.find("/c")->property == '!');
  CHECK(doc.source_map.find("/d")->property == '&');
  CHECK(doc.source_map.find("/e")->property == 0);
  LoadedDocument quoted = load_ok("a: &q 'x'\nb: ! \"y\"\nc: !!str z\n");
  CHECK(quoted.source_map.find("/a")->property == 0);  // before a quoted value: meant
  CHECK(quoted.source_map.find("/b")->property == 0);
  CHECK(quoted.source_map.find("/c")->property == 0);  // a standard tag
  CHECK(load_ok("a: !x y\n").source_map.find("/a")->property == '!');
  CHECK(doc.source_map.find("/f")->comment_column == 0);  // '#' without a space before is text
  CHECK(doc.root["f"] == "x#y");
}

}  // namespace kiln
