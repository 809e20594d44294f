#include "agent/document/schema_check.h"

#include <algorithm>
#include <cstdint>
#include <regex>
#include <string_view>
#include <unordered_map>

#include "agent/document/expression.h"
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

// Calls `visit` with each type the schema names, until it returns true.
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

enum TypeBit : unsigned {
  kString = 1, kInteger = 2, kNumber = 4, kBoolean = 8, kObject = 16, kArray = 32, kNull = 64
};

unsigned type_bit(std::string_view type) {
  if (type == "string") return kString;
  if (type == "integer") return kInteger;
  if (type == "number") return kNumber;
  if (type == "boolean") return kBoolean;
  if (type == "object") return kObject;
  if (type == "array") return kArray;
  if (type == "null") return kNull;
  return 0;
}

// The types a schema of these type bits would accept the value as.
unsigned value_bits(const nlohmann::json& value) {
  if (value.is_string()) return kString;
  if (value.is_number_integer()) return kInteger | kNumber;
  if (value.is_number()) return kNumber;
  if (value.is_boolean()) return kBoolean;
  if (value.is_object()) return kObject;
  if (value.is_array()) return kArray;
  return kNull;
}

// One schema node ($ref followed) with the members the walk reads.
struct SchemaView {
  const nlohmann::json* schema = nullptr;
  unsigned types = 0;  // TypeBit of "type"; 0 when it names none
  const nlohmann::json* one_of = nullptr;
  const nlohmann::json* any_of = nullptr;
  const nlohmann::json* enum_values = nullptr;
  const nlohmann::json* minimum = nullptr;
  const nlohmann::json* min_items = nullptr;
  const nlohmann::json* items = nullptr;
  const nlohmann::json* properties = nullptr;
  const nlohmann::json* required = nullptr;
  const nlohmann::json* additional = nullptr;  // additionalProperties: a boolean or a schema
  bool accepts(const nlohmann::json& value) const { return types == 0 || (types & value_bits(value)) != 0; }
};

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
    if (is_expression_text(value)) return;
    const SchemaView& view = view_of(schema_in);
    const nlohmann::json& schema = *view.schema;
    for (const nlohmann::json* combinator : {view.one_of, view.any_of}) {
      if (!combinator) continue;
      // Branches without types (e.g. oneOf [{required: [for]}, {required: [forEach]}])
      // choose nothing: walk the schema's own properties, leave the choice to valijson.
      if (std::none_of(combinator->begin(), combinator->end(),
                       [&](const nlohmann::json& b) { return view_of(b).types != 0; }))
        continue;
      // Pick the branch whose type fits; its details are left to valijson.
      for (const auto& branch_in : *combinator) {
        const SchemaView& branch = view_of(branch_in);
        if (branch.types != 0 && branch.accepts(value)) {
          walk_without_types(value, branch, pointer);
          return;
        }
      }
      for (const auto& branch_in : *combinator)
        if ((view_of(branch_in).types & kString) && coerce(value, pointer)) return;
      std::vector<std::string> types;
      for (const auto& branch_in : *combinator)
        for (const auto& t : schema_types(*view_of(branch_in).schema))
          if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
      report_value(SchemaProblemKind::TypeMismatch, pointer,
                   "must be " + describe(types) + ", not " + (value.is_null() ? "empty" : describe({json_type_name(value)})),
                   hint_from(schema));
      if (report_) problems.back().expected_types = std::move(types);
      return;
    }
    check_required_choice(value, view, pointer);
    if (!view.accepts(value)) {
      auto types = schema_types(schema);
      if ((view.types & kString) && coerce(value, pointer)) {
        // now a string: fall through to the string checks (enum)
      } else {
        report_value(SchemaProblemKind::TypeMismatch, pointer,
                     "must be " + describe(types) + ", not " +
                         (value.is_null()                           ? "empty"
                          : unrepresentable_number(value, pointer) ? "a number out of range (" + value.get<std::string>() + ")"
                                                                   : describe({json_type_name(value)})),
                     hint_from(schema));
        if (report_) problems.back().expected_types = std::move(types);
        return;
      }
    }
    walk_without_types(value, view, pointer);
  }

 private:
  // The members the walk reads, looked up once per schema node ($ref followed): every
  // step of a long document is walked with the same few schema nodes.
  const SchemaView& view_of(const nlohmann::json& schema_in) {
    auto known = views_.find(&schema_in);
    if (known != views_.end()) return known->second;
    const nlohmann::json& schema = resolve_ref(schema_in);
    SchemaView view;
    view.schema = &schema;
    auto member = [&](const char* key, bool (nlohmann::json::*is)() const noexcept) -> const nlohmann::json* {
      if (!schema.is_object()) return nullptr;
      auto it = schema.find(key);
      return it != schema.end() && ((*it).*is)() ? &*it : nullptr;
    };
    view.one_of = member("oneOf", &nlohmann::json::is_array);
    view.any_of = member("anyOf", &nlohmann::json::is_array);
    view.enum_values = member("enum", &nlohmann::json::is_array);
    view.minimum = member("minimum", &nlohmann::json::is_number);
    view.min_items = member("minItems", &nlohmann::json::is_number_unsigned);
    view.items = member("items", &nlohmann::json::is_object);
    view.properties = member("properties", &nlohmann::json::is_object);
    view.required = member("required", &nlohmann::json::is_array);
    view.additional = member("additionalProperties", &nlohmann::json::is_primitive);
    if (!view.additional) view.additional = member("additionalProperties", &nlohmann::json::is_object);
    if (schema.is_object()) {
      any_schema_type(schema, [&](std::string_view t) {
        view.types |= type_bit(t);
        return false;
      });
    }
    return views_.emplace(&schema_in, view).first->second;
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
  void check_required_choice(const nlohmann::json& value, const SchemaView& view, const std::string& pointer) {
    const nlohmann::json* one_of = view.one_of;
    if (!value.is_object() || !one_of || one_of->empty()) return;
    std::vector<std::string> keys;
    for (const auto& branch : *one_of) {
      if (!branch.is_object() || branch.size() != 1 || !branch.contains("required") || !branch["required"].is_array() ||
          branch["required"].size() != 1 || !branch["required"][0].is_string())
        return;
      keys.push_back(branch["required"][0].get<std::string>());
    }
    size_t present = static_cast<size_t>(std::count_if(keys.begin(), keys.end(), [&](const std::string& k) { return value.contains(k); }));
    if (present == 1) return;
    report_value(SchemaProblemKind::OneOfKeys, pointer,
                 "needs exactly one of " + join_words(keys, " or ") +
                     (present == 0 ? ", found none" : ", found " + std::to_string(present)),
                 hint_from(*view.schema));
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

  // A problem with the value at `pointer`, named by its key ("'commands[0]'").
  void report_value(SchemaProblemKind kind, const std::string& pointer, std::string complaint, std::string hint) {
    if (!report_) return;
    // Appended, not "'" + text: GCC 12 at -O3 reports a false -Wrestrict (bug 105651).
    std::string subject = "'";
    subject.append(last_token(pointer)).append("'");
    problems.push_back({kind, pointer, false, std::move(subject), std::move(complaint), std::move(hint), {}});
  }
  // A problem that names its key itself (missing or unknown keys).
  void report_key(SchemaProblemKind kind, const std::string& pointer, bool at_key, std::string complaint,
                  std::string hint) {
    if (report_) problems.push_back({kind, pointer, at_key, "", std::move(complaint), std::move(hint), {}});
  }

  static std::string hint_from(const nlohmann::json& schema) {
    if (auto it = schema.find("description"); it != schema.end() && it->is_string()) return it->get<std::string>();
    return {};
  }

  void walk_without_types(nlohmann::json& value, const SchemaView& view, const std::string& pointer) {
    const nlohmann::json& schema = *view.schema;
    if (view.enum_values && value.is_string()) {
      const nlohmann::json& values = *view.enum_values;
      bool found = std::find(values.begin(), values.end(), value) != values.end();
      if (!found) {
        std::vector<std::string> allowed;
        for (const auto& v : values) allowed.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        std::string guess = nearest(value.get<std::string>(), allowed);
        report_value(SchemaProblemKind::NotInEnum, pointer,
                     "must be one of " + join_words(allowed, " or ") + ", not '" + value.get<std::string>() + "'",
                     guess.empty() ? hint_from(schema) : "did you mean '" + guess + "'? (values are case-sensitive)");
      }
    }
    // YAML integers reach 2^64-1, but kiln reads integer fields as int64.
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      report_value(SchemaProblemKind::TooLarge, pointer, value.dump() + " is too large",
                   "integers are at most " + std::to_string(INT64_MAX));
      return;
    }
    if (value.is_number() && view.minimum && value.get<double>() < view.minimum->get<double>())
      report_value(SchemaProblemKind::BelowMinimum, pointer, "must be at least " + view.minimum->dump(),
                   hint_from(schema));
    if (value.is_object()) walk_object(value, view, pointer);
    if (value.is_array()) {
      if (view.min_items && value.size() < view.min_items->get<size_t>())
        report_value(SchemaProblemKind::TooFewItems, pointer,
                     "needs at least " + view.min_items->dump() + " item" + (view.min_items->get<size_t>() == 1 ? "" : "s"),
                     hint_from(schema));
      if (view.items)
        for (size_t i = 0; i < value.size(); ++i) walk(value[i], *view.items, pointer_append(pointer, i));
    }
  }

  void walk_object(nlohmann::json& value, const SchemaView& view, const std::string& pointer) {
    static const nlohmann::json no_properties = nlohmann::json::object();
    const nlohmann::json& properties = view.properties ? *view.properties : no_properties;
    if (view.required)
      for (const auto& key : *view.required)
        if (key.is_string() && !value.contains(key.get_ref<const std::string&>())) {
          std::string name = key.get<std::string>();
          std::string hint;
          if (auto p = properties.find(name); p != properties.end()) hint = hint_from(*view_of(*p).schema);
          report_key(SchemaProblemKind::MissingKey, pointer, false, "missing required key '" + name + "'",
                     hint.empty() ? "add '" + name + ":'" : "add '" + name + ":' (" + hint + ")");
        }
    const nlohmann::json* extra = view.additional;
    bool closed = extra && extra->is_boolean() && !extra->get<bool>();
    for (auto& [key, child] : value.items()) {
      if (auto p = properties.find(key); p != properties.end()) {
        walk(child, *p, pointer_append(pointer, key));
      } else if (extra && extra->is_object()) {
        walk(child, *extra, pointer_append(pointer, key));
      } else if (closed) {
        std::vector<std::string> allowed;
        for (const auto& [k, _] : properties.items()) allowed.push_back(k);
        std::string guess = nearest(key, allowed);
        std::string hint = guess.empty() ? "" : "did you mean '" + guess + "'? ";
        hint += allowed.empty() ? "no keys are allowed here" : "allowed keys: " + join_words(allowed);
        report_key(SchemaProblemKind::UnknownKey, pointer_append(pointer, key), true, "unknown key '" + key + "'", hint);
      }
    }
  }

  const nlohmann::json& root_;
  const SourceMap& map_;
  std::string base_;
  bool report_;
  std::unordered_map<const nlohmann::json*, SchemaView> views_;
};

bool related(const std::string& a, const std::string& b) {
  auto prefix = [](const std::string& p, const std::string& q) {
    return q.size() >= p.size() && q.compare(0, p.size(), p) == 0 && (q.size() == p.size() || q[p.size()] == '/');
  };
  return prefix(a, b) || prefix(b, a);
}

}  // namespace

bool SchemaProblem::about_value() const {
  switch (kind) {
    case SchemaProblemKind::TypeMismatch:
    case SchemaProblemKind::NotInEnum:
    case SchemaProblemKind::BelowMinimum:
    case SchemaProblemKind::TooLarge:
    case SchemaProblemKind::TooFewItems:
    case SchemaProblemKind::OneOfKeys:
      return true;
    case SchemaProblemKind::MissingKey:
    case SchemaProblemKind::UnknownKey:
    case SchemaProblemKind::Other:
      return false;
  }
  return false;
}

std::string SchemaProblem::message() const { return subject.empty() ? complaint : subject + " " + complaint; }

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
      explained = is_expression_text(value.at(nlohmann::json::json_pointer(violation.pointer)));
    } catch (...) {
    }
    for (size_t i = 0; i < friendly && !explained; ++i) explained = related(problems[i].pointer, violation.pointer);
    if (!explained) problems.push_back({SchemaProblemKind::Other, violation.pointer, false, "", violation.message, "", {}});
  }
  return problems;
}

}  // namespace kiln
