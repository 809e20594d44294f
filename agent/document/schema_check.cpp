#include "agent/document/schema_check.h"

#include <algorithm>
#include <cstdint>
#include <regex>
#include <string_view>
#include <unordered_map>

#include "agent/document/suggest.h"

namespace kiln {
namespace {

std::string unescape_token(const std::string& token);

// The name a message gives the value at `pointer`: its key, or for a list item the
// list's key and the index ("commands[0]").
std::string last_token(const std::string& pointer) {
  auto slash = pointer.rfind('/');
  std::string token = unescape_token(slash == std::string::npos ? pointer : pointer.substr(slash + 1));
  bool index = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!index || slash == std::string::npos || slash == 0) return token;
  return last_token(pointer.substr(0, slash)) + "[" + token + "]";
}

std::string unescape_token(const std::string& token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size()) {
      out += token[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

// The schema's "type" as a list; a string or an array of strings in JSON Schema.
std::vector<std::string> schema_types(const nlohmann::json& schema) {
  std::vector<std::string> types;
  if (auto it = schema.find("type"); it != schema.end()) {
    if (it->is_string()) types.push_back(it->get<std::string>());
    else if (it->is_array())
      for (const auto& t : *it) types.push_back(t.get<std::string>());
  }
  return types;
}

bool type_matches(const nlohmann::json& value, std::string_view type) {
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "null") return value.is_null();
  return false;
}

// Calls `visit` with each type the schema names, until it returns true. These run for
// every value of every document, so they read the schema in place (no copies).
template <typename Visit>
bool any_schema_type(const nlohmann::json& schema, Visit visit) {
  auto it = schema.find("type");
  if (it == schema.end()) return false;
  if (it->is_string()) return visit(std::string_view(it->get_ref<const std::string&>()));
  if (it->is_array())
    for (const auto& t : *it)
      if (t.is_string() && visit(std::string_view(t.get_ref<const std::string&>()))) return true;
  return false;
}

bool has_types(const nlohmann::json& schema) {
  return any_schema_type(schema, [](std::string_view) { return true; });
}

bool accepts(const nlohmann::json& schema, const nlohmann::json& value) {
  return !has_types(schema) || any_schema_type(schema, [&](std::string_view t) { return type_matches(value, t); });
}

bool accepts_string(const nlohmann::json& schema) {
  return any_schema_type(schema, [](std::string_view t) { return t == "string"; });
}

bool has_expression(const nlohmann::json& value) {
  return value.is_string() && value.get_ref<const std::string&>().find("{{") != std::string::npos;
}

std::string describe(const std::vector<std::string>& types) {
  std::vector<std::string> words;
  for (const auto& t : types)
    words.push_back(t == "integer" ? "an integer" : t == "object" ? "a map" : t == "array" ? "a list" : "a " + t);
  return join_words(words, " or ");
}

class Walker {
 public:
  Walker(const nlohmann::json& root_schema, const SourceMap& map, std::string base, bool report)
      : root_(root_schema), map_(map), base_(std::move(base)), report_(report) {}

  std::vector<SchemaProblem> problems;

  void walk(nlohmann::json& value, const nlohmann::json& schema_in, const std::string& pointer) {
    // A {{ }} expression may stand for a boolean, enum or pattern value: it is checked
    // again once resolved, just before the action runs.
    if (has_expression(value)) return;
    const nlohmann::json& schema = resolve(schema_in);
    for (const char* combinator : {"oneOf", "anyOf"}) {
      auto it = schema.find(combinator);
      if (it == schema.end() || !it->is_array()) continue;
      // Branches without types (e.g. oneOf [{required: [for]}, {required: [forEach]}])
      // choose nothing: walk the schema's own properties, leave the choice to valijson.
      if (std::none_of(it->begin(), it->end(), [&](const nlohmann::json& b) { return has_types(resolve(b)); }))
        continue;
      // Pick the branch whose type fits; its details are left to valijson.
      for (const auto& branch_in : *it) {
        const nlohmann::json& branch = resolve(branch_in);
        if (has_types(branch) && accepts(branch, value)) {
          walk_without_types(value, branch, pointer);
          return;
        }
      }
      for (const auto& branch_in : *it)
        if (accepts_string(resolve(branch_in)) && coerce(value, pointer)) return;
      std::vector<std::string> types;
      for (const auto& branch_in : *it)
        for (const auto& t : schema_types(resolve(branch_in)))
          if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
      report(pointer, false,
             "'" + last_token(pointer) + "' must be " + describe(types) + ", not " +
                 (value.is_null() ? "empty" : describe({json_type_name(value)})),
             hint_from(schema));
      return;
    }
    check_required_choice(value, schema, pointer);
    if (!accepts(schema, value)) {
      auto types = schema_types(schema);
      if (accepts_string(schema) && coerce(value, pointer)) {
        // now a string: fall through to the string checks (enum)
      } else {
        report(pointer, false, "'" + last_token(pointer) + "' must be " + describe(types) + ", not " +
                                   (value.is_null()               ? "empty"
                                    : unrepresentable_number(value, pointer) ? "a number out of range (" + value.get<std::string>() + ")"
                                                                    : describe({json_type_name(value)})),
               hint_from(schema));
        return;
      }
    }
    walk_without_types(value, schema, pointer);
  }

 private:
  const nlohmann::json& resolve(const nlohmann::json& schema) {
    auto known = resolved_.find(&schema);
    if (known != resolved_.end()) return *known->second;
    const nlohmann::json& target = resolve_ref(schema);
    resolved_.emplace(&schema, &target);
    return target;
  }

  const nlohmann::json& resolve_ref(const nlohmann::json& schema) const {
    const nlohmann::json* s = &schema;
    for (int guard = 0; guard < 8 && s->is_object() && s->contains("$ref"); ++guard) {
      std::string ref = (*s)["$ref"].get<std::string>();
      if (ref.rfind("#", 0) != 0) break;
      try {
        s = &root_.at(nlohmann::json::json_pointer(ref.substr(1)));
      } catch (...) {
        break;
      }
    }
    return *s;
  }

  // oneOf: [{required: [for]}, {required: [forEach]}]: exactly one of the keys.
  void check_required_choice(const nlohmann::json& value, const nlohmann::json& schema, const std::string& pointer) {
    auto it = schema.find("oneOf");
    if (!value.is_object() || it == schema.end() || !it->is_array() || it->empty()) return;
    std::vector<std::string> keys;
    for (const auto& branch : *it) {
      if (!branch.is_object() || branch.size() != 1 || !branch.contains("required") || !branch["required"].is_array() ||
          branch["required"].size() != 1 || !branch["required"][0].is_string())
        return;
      keys.push_back(branch["required"][0].get<std::string>());
    }
    size_t present = static_cast<size_t>(std::count_if(keys.begin(), keys.end(), [&](const std::string& k) { return value.contains(k); }));
    if (present == 1) return;
    report(pointer, false,
           "'" + last_token(pointer) + "' needs exactly one of " + join_words(keys, " or ") +
               (present == 0 ? ", found none" : ", found " + std::to_string(present)),
           hint_from(schema));
  }

  // A plain scalar that reads as a number but was kept as text: too large for any
  // integer type, or a float beyond double (1e400).
  bool unrepresentable_number(const nlohmann::json& value, const std::string& pointer) const {
    if (!value.is_string()) return false;
    const SourceEntry* entry = map_.find(base_ + pointer);
    if (!entry || !entry->plain_scalar) return false;
    static const std::regex number(R"([-+]?([0-9]+|0x[0-9a-fA-F]+|0o[0-7]+|([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?))");
    const std::string& text = value.get_ref<const std::string&>();
    return text.size() <= 400 && std::regex_match(text, number);
  }

  bool coerce(nlohmann::json& value, const std::string& pointer) {
    if (value.is_string() || value.is_array() || value.is_object()) return false;
    const SourceEntry* entry = map_.find(base_ + pointer);
    if (!entry || !entry->plain_scalar || value.is_null()) return false;
    value = entry->raw;
    return true;
  }

  void report(const std::string& pointer, bool at_key, std::string message, std::string hint) {
    if (report_) problems.push_back({pointer, at_key, std::move(message), std::move(hint)});
  }

  static std::string hint_from(const nlohmann::json& schema) {
    if (auto it = schema.find("description"); it != schema.end() && it->is_string()) return it->get<std::string>();
    return {};
  }

  void walk_without_types(nlohmann::json& value, const nlohmann::json& schema, const std::string& pointer) {
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array() && value.is_string()) {
      bool found = std::find(it->begin(), it->end(), value) != it->end();
      if (!found) {
        std::vector<std::string> allowed;
        for (const auto& v : *it) allowed.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        std::string guess = nearest(value.get<std::string>(), allowed);
        report(pointer, false,
               "'" + last_token(pointer) + "' must be one of " + join_words(allowed, " or ") + ", not '" +
                   value.get<std::string>() + "'",
               guess.empty() ? hint_from(schema) : "did you mean '" + guess + "'? (values are case-sensitive)");
      }
    }
    // YAML integers reach 2^64-1, but kiln reads integer fields as int64.
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      report(pointer, false, "'" + last_token(pointer) + "' " + value.dump() + " is too large",
             "integers are at most " + std::to_string(INT64_MAX));
      return;
    }
    if (value.is_number() && schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>())
      report(pointer, false, "'" + last_token(pointer) + "' must be at least " + schema["minimum"].dump(),
             hint_from(schema));
    if (value.is_object()) walk_object(value, schema, pointer);
    if (value.is_array()) {
      if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>())
        report(pointer, false,
               "'" + last_token(pointer) + "' needs at least " + schema["minItems"].dump() + " item" +
                   (schema["minItems"].get<size_t>() == 1 ? "" : "s"),
               hint_from(schema));
      if (auto items = schema.find("items"); items != schema.end() && items->is_object())
        for (size_t i = 0; i < value.size(); ++i) walk(value[i], *items, pointer_append(pointer, i));
    }
  }

  void walk_object(nlohmann::json& value, const nlohmann::json& schema, const std::string& pointer) {
    static const nlohmann::json no_properties = nlohmann::json::object();
    auto properties_it = schema.find("properties");
    const nlohmann::json& properties = properties_it != schema.end() ? *properties_it : no_properties;
    if (auto required = schema.find("required"); required != schema.end())
      for (const auto& key : *required)
        if (!value.contains(key.get<std::string>())) {
          std::string name = key.get<std::string>();
          std::string hint;
          if (auto p = properties.find(name); p != properties.end()) hint = hint_from(resolve(*p));
          report(pointer, false, "missing required key '" + name + "'",
                 hint.empty() ? "add '" + name + ":'" : "add '" + name + ":' (" + hint + ")");
        }
    auto extra = schema.find("additionalProperties");
    bool closed = extra != schema.end() && extra->is_boolean() && !extra->get<bool>();
    for (auto& [key, child] : value.items()) {
      if (auto p = properties.find(key); p != properties.end()) {
        walk(child, *p, pointer_append(pointer, key));
      } else if (extra != schema.end() && extra->is_object()) {
        walk(child, *extra, pointer_append(pointer, key));
      } else if (closed) {
        std::vector<std::string> allowed;
        for (const auto& [k, _] : properties.items()) allowed.push_back(k);
        std::string guess = nearest(key, allowed);
        std::string hint = guess.empty() ? "" : "did you mean '" + guess + "'? ";
        hint += allowed.empty() ? "no keys are allowed here" : "allowed keys: " + join_words(allowed);
        report(pointer_append(pointer, key), true, "unknown key '" + key + "'", hint);
      }
    }
  }

  const nlohmann::json& root_;
  const SourceMap& map_;
  std::string base_;
  bool report_;
  std::unordered_map<const nlohmann::json*, const nlohmann::json*> resolved_;  // $ref targets
};

bool related(const std::string& a, const std::string& b) {
  auto prefix = [](const std::string& p, const std::string& q) {
    return q.size() >= p.size() && q.compare(0, p.size(), p) == 0 && (q.size() == p.size() || q[p.size()] == '/');
  };
  return prefix(a, b) || prefix(b, a);
}

}  // namespace

std::string json_type_name(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  return "object";
}

void coerce_plain_scalars(nlohmann::json& value, const nlohmann::json& schema, const SourceMap& source_map,
                          const std::string& source_base) {
  Walker walker(schema, source_map, source_base, false);
  walker.walk(value, schema, "");
}

std::vector<SchemaProblem> check_against_schema(nlohmann::json& value, const nlohmann::json& schema,
                                                const JsonSchema& compiled, const SourceMap& source_map,
                                                const std::string& source_base) {
  Walker walker(schema, source_map, source_base, true);
  walker.walk(value, schema, "");
  std::vector<SchemaProblem> problems = std::move(walker.problems);
  size_t friendly = problems.size();
  for (auto& violation : compiled.validate(value)) {
    bool explained = false;
    try {
      explained = has_expression(value.at(nlohmann::json::json_pointer(violation.pointer)));
    } catch (...) {
    }
    for (size_t i = 0; i < friendly && !explained; ++i) explained = related(problems[i].pointer, violation.pointer);
    if (!explained) problems.push_back({violation.pointer, false, violation.message, ""});
  }
  return problems;
}

}  // namespace kiln
