// Unit tests of {{ }} resolution (agent/engine/resolver).
#include "agent/engine/resolver.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <string>

namespace kiln {
namespace {

using json = nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Fixture {
  std::map<std::string, std::string> variables{{"Greeting", "hello"}, {"Target", "/opt/app"}, {"Empty", ""}};
  std::map<std::string, StepTrace> steps;
  std::map<std::string, std::string> context{{"executionId", "exec-1"}, {"phase", "build"}, {"step", "S"}};

  Fixture() {
    StepTrace bash;
    bash.ran = true;
    bash.inputs = json::array({{{"commands", json::array({"echo Hello"})}}});
    bash.outputs = json::array({{{"stdout", "Hello"}, {"exitCode", 0}, {"durationMs", 12}, {"ok", true}}});
    steps["build\nSay"] = bash;
    StepTrace files;
    files.ran = true;
    files.inputs = json::array({{{"path", "/tmp/a"}}, {{"path", "/tmp/b"}, {"content", "x"}}});
    files.outputs = json::array();
    steps["build\nFiles"] = files;
    StepTrace skipped;
    skipped.ran = false;
    steps["build\nSkipped"] = skipped;
  }

  ResolveScope scope() const {
    ResolveScope s;
    s.variables = &variables;
    s.steps = &steps;
    s.context = &context;
    return s;
  }
};

// Resolves `text` and requires success.
std::string resolved(const std::string& text, const ResolveScope& scope) {
  std::string s = text;
  std::string error = resolve_string(s, scope);
  INFO("text: " << text << " error: " << error);
  REQUIRE(error.empty());
  return s;
}

// Resolves `text` and requires an error; the text must be left as it was.
std::string failure(const std::string& text, const ResolveScope& scope) {
  std::string s = text;
  std::string error = resolve_string(s, scope);
  INFO("text: " << text);
  CHECK_FALSE(error.empty());
  CHECK(s == text);
  return error;
}

}  // namespace

TEST_CASE("resolver: parameters and constants") {
  Fixture f;
  ResolveScope scope = f.scope();
  CHECK(resolved("{{ Greeting }}", scope) == "hello");
  CHECK(resolved("{{Greeting}}", scope) == "hello");
  CHECK(resolved("echo {{ Greeting }} to {{ Target }}!", scope) == "echo hello to /opt/app!");
  CHECK(resolved("[{{ Empty }}]", scope) == "[]");
  CHECK(resolved("no expressions here", scope) == "no expressions here");
  std::string error = failure("echo {{ Missing }}", scope);
  CHECK(contains(error, "Missing"));
  CHECK(contains(error, "has no value"));
  // Without any variables at all.
  ResolveScope bare;
  CHECK(contains(failure("{{ Greeting }}", bare), "Greeting"));
}

TEST_CASE("resolver: a substituted value is not scanned again") {
  Fixture f;
  f.variables["Tricky"] = "{{ Greeting }}";
  CHECK(resolved("x={{ Tricky }}", f.scope()) == "x={{ Greeting }}");
}

TEST_CASE("resolver: chaining to outputs and inputs, with and without an index") {
  Fixture f;
  ResolveScope scope = f.scope();
  CHECK(resolved("{{ build.Say.outputs.stdout }}", scope) == "Hello");
  CHECK(resolved("{{ build.Say.outputs[0].stdout }}", scope) == "Hello");
  CHECK(resolved("{{ build.Files.inputs[1].path }}", scope) == "/tmp/b");
  CHECK(resolved("{{ build.Files.inputs.path }}", scope) == "/tmp/a");  // x.key is x[0].key
  CHECK(resolved("{{ build.Files.inputs[1].content }}", scope) == "x");
  // Non-string values render as their JSON text.
  CHECK(resolved("{{ build.Say.outputs.exitCode }}", scope) == "0");
  CHECK(resolved("took {{ build.Say.outputs.durationMs }} ms", scope) == "took 12 ms");
  CHECK(resolved("{{ build.Say.outputs.ok }}", scope) == "true");
  // A list-valued input renders as JSON.
  CHECK(resolved("{{ build.Say.inputs.commands }}", scope) == "[\"echo Hello\"]");
}

TEST_CASE("resolver: chaining errors name what is missing") {
  Fixture f;
  ResolveScope scope = f.scope();
  std::string missing = failure("{{ build.Say.outputs.nope }}", scope);
  CHECK(contains(missing, "build.Say"));
  CHECK(contains(missing, "no output 'nope'"));
  std::string index = failure("{{ build.Files.inputs[5].path }}", scope);
  CHECK(contains(index, "no input 'path'"));
  CHECK(contains(index, "at index 5"));
  std::string unknown = failure("{{ build.Nobody.outputs.stdout }}", scope);
  CHECK(contains(unknown, "build.Nobody"));
  CHECK(contains(unknown, "has not run"));
  std::string skipped = failure("{{ build.Skipped.outputs.stdout }}", scope);
  CHECK(contains(skipped, "did not run"));
  std::string no_outputs = failure("{{ build.Files.outputs.content }}", scope);
  CHECK(contains(no_outputs, "no output 'content'"));
}

TEST_CASE("resolver: loop frame, unnamed and named") {
  Fixture f;
  ResolveScope scope = f.scope();
  scope.loop = LoopFrame{"", 2, "gamma"};
  CHECK(resolved("{{ loop.index }}:{{ loop.value }}", scope) == "2:gamma");
  CHECK(resolved("{{loop.value}}", scope) == "gamma");
  // A name that is not this loop's stays as written.
  CHECK(resolved("{{ hosts.value }}", scope) == "{{ hosts.value }}");

  scope.loop = LoopFrame{"hosts", 0, "web1"};
  CHECK(resolved("{{ hosts.index }}-{{ hosts.value }}", scope) == "0-web1");
  CHECK(resolved("{{ loop.value }}", scope) == "web1");  // loop always means the current one
  CHECK(resolved("{{ other.value }}", scope) == "{{ other.value }}");
  CHECK(resolved("{{ Greeting }} {{ hosts.value }}", scope) == "hello web1");
}

TEST_CASE("resolver: loop expressions outside a loop stay verbatim") {
  Fixture f;
  ResolveScope scope = f.scope();
  CHECK(resolved("{{ loop.index }}", scope) == "{{ loop.index }}");
  CHECK(resolved("a {{loop.value}} b {{ Greeting }}", scope) == "a {{loop.value}} b hello");
  CHECK(resolved("{{ named.value }}", scope) == "{{ named.value }}");
}

TEST_CASE("resolver: env: reads the runner's environment") {
  Fixture f;
  ResolveScope scope = f.scope();
  REQUIRE(setenv("KILN_RESOLVER_TEST_VAR", "from env", 1) == 0);
  CHECK(resolved("[{{ env:KILN_RESOLVER_TEST_VAR }}]", scope) == "[from env]");
  unsetenv("KILN_RESOLVER_TEST_VAR");
  // An unset variable is empty.
  CHECK(resolved("[{{ env:KILN_RESOLVER_TEST_VAR }}]", scope) == "[]");
}

TEST_CASE("resolver: context: keys") {
  Fixture f;
  ResolveScope scope = f.scope();
  CHECK(resolved("{{ context:executionId }}/{{ context:phase }}/{{ context:step }}", scope) == "exec-1/build/S");
  CHECK(contains(failure("{{ context:nope }}", scope), "unknown context key 'nope'"));
  ResolveScope bare;
  CHECK(contains(failure("{{ context:executionId }}", bare), "executionId"));
}

TEST_CASE("resolver: text that is no expression stays as written, as AWSTOE leaves it") {
  Fixture f;
  ResolveScope scope = f.scope();
  CHECK(resolved("{{ a.b.c }}", scope) == "{{ a.b.c }}");
  CHECK(resolved("{{ }}", scope) == "{{ }}");
  CHECK(resolved("echo {{ Greeting", scope) == "echo {{ Greeting");
  CHECK(resolved("docker inspect -f '{{ .State.Running }}' c", scope) == "docker inspect -f '{{ .State.Running }}' c");
  CHECK(resolved("echo {{ a {{ Greeting }}", scope) == "echo {{ a hello");
}

// A table of SSM parameters and metadata paths in place of AWS (the network side has
// its own tests against the stand-ins in tests/servers).
struct TableValues : ExternalValues {
  std::map<std::string, std::string> ssm, imds;
  std::vector<std::string> asked;
  Expected<std::string> ssm_parameter(const std::string& name) override {
    asked.push_back("ssm:" + name);
    if (auto it = ssm.find(name); it != ssm.end()) return it->second;
    return unexpected("ParameterNotFound: " + name);
  }
  Expected<std::string> instance_metadata(const std::string& path) override {
    asked.push_back("imds:" + path);
    if (auto it = imds.find(path); it != imds.end()) return it->second;
    return unexpected("HTTP 404");
  }
};

TEST_CASE("resolver: aws:ssm, aws:ssm:resolve() and aws:imds go to the external values") {
  Fixture f;
  ResolveScope scope = f.scope();
  CHECK(contains(failure("{{ aws:ssm:/x }}", scope), "cannot be resolved here"));  // no source given
  TableValues values;
  values.ssm = {{"/app/host", "db.local"}, {"/app/pointer", "/app/host"}, {"hello", "by-parameter"}};
  values.imds = {{"placement/region", "eu-west-3"}};
  scope.external = &values;
  CHECK(resolved("{{ aws:ssm:/app/host }}:{{ aws:imds:placement/region }}", scope) == "db.local:eu-west-3");
  // resolve(): the name is a parameter's value (Greeting = "hello") or another reference's.
  CHECK(resolved("{{ aws:ssm:resolve(Greeting) }}", scope) == "by-parameter");
  CHECK(resolved("{{ aws:ssm:resolve( aws:ssm:/app/pointer ) }}", scope) == "db.local");
  CHECK(contains(failure("{{ aws:ssm:resolve(NoSuchParameter) }}", scope), "not a parameter"));
  CHECK(contains(failure("{{ aws:ssm:resolve(Greeting }}", scope), "not closed"));
  CHECK(contains(failure("{{ aws:ssm:/absent }}", scope), "ParameterNotFound"));
  CHECK(contains(failure("{{ aws:imds:nothing/here }}", scope), "404"));
}

TEST_CASE("resolver: nested JSON is resolved recursively; non-strings are untouched") {
  Fixture f;
  ResolveScope scope = f.scope();
  scope.loop = LoopFrame{"", 1, "v1"};
  json inputs = {
      {"commands", json::array({"echo {{ Greeting }}", "echo {{ loop.value }}"})},
      {"nested", {{"deeper", json::array({json::object({{"path", "{{ Target }}/{{ build.Say.outputs.stdout }}"}})})}}},
      {"count", 5},
      {"flag", true},
      {"none", nullptr},
  };
  CHECK(resolve_json(inputs, scope).empty());
  CHECK(inputs["commands"][0] == "echo hello");
  CHECK(inputs["commands"][1] == "echo v1");
  CHECK(inputs["nested"]["deeper"][0]["path"] == "/opt/app/Hello");
  CHECK(inputs["count"] == 5);
  CHECK(inputs["flag"] == true);
  CHECK(inputs["none"].is_null());
  // Keys are not resolved.
  json keyed = {{"{{ Greeting }}", "{{ Greeting }}"}};
  CHECK(resolve_json(keyed, scope).empty());
  CHECK(keyed.contains("{{ Greeting }}"));
  CHECK(keyed["{{ Greeting }}"] == "hello");
  // A top-level string.
  json s = "{{ Target }}";
  CHECK(resolve_json(s, scope).empty());
  CHECK(s == "/opt/app");
  // The first error is returned.
  json bad = json::array({"ok {{ Greeting }}", "{{ Missing }}"});
  std::string error = resolve_json(bad, scope);
  CHECK(contains(error, "Missing"));
}

}  // namespace kiln
