#include "agent/document/expression.h"

#include <cctype>

#include "agent/base/text.h"

namespace kiln {
namespace {

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

// "inputs", "inputs[2]" -> section + index
bool parse_section(std::string_view part, Expression& e) {
  size_t bracket = part.find('[');
  std::string_view name = part.substr(0, bracket);
  if (name != "inputs" && name != "outputs") return false;
  e.section = std::string(name);
  if (bracket != std::string_view::npos) {
    if (part.back() != ']') return false;
    std::string_view digits = part.substr(bracket + 1, part.size() - bracket - 2);
    if (digits.empty()) return false;
    size_t index = 0;
    for (char c : digits) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      index = index * 10 + static_cast<size_t>(c - '0');
      if (index > 1'000'000) return false;
    }
    e.index = index;
  }
  return true;
}

void classify(Expression& e) {
  const std::string& t = e.text;
  if (t.rfind("env:", 0) == 0) {
    e.kind = t.size() > 4 ? ExpressionKind::Environment : ExpressionKind::Invalid;
    e.key = t.substr(4);
    return;
  }
  if (t.rfind("context:", 0) == 0) {
    e.kind = ExpressionKind::Context;
    e.key = t.substr(8);
    return;
  }
  if (t.rfind("aws:ssm:", 0) == 0) {
    e.kind = ExpressionKind::Ssm;
    e.key = t.substr(8);
    return;
  }
  if (t.rfind("aws:imds:", 0) == 0) {
    e.kind = ExpressionKind::Imds;
    e.key = t.substr(9);
    return;
  }
  std::vector<std::string_view> parts;
  std::string_view rest = t;
  while (true) {
    size_t dot = rest.find('.');
    parts.push_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (parts.size() == 1 && is_name(parts[0])) {
    e.kind = ExpressionKind::Variable;
    e.key = std::string(parts[0]);
  } else if (parts.size() == 2 && (parts[1] == "index" || parts[1] == "value") && is_name(parts[0])) {
    e.kind = ExpressionKind::LoopValue;
    e.phase = std::string(parts[0]);
    e.key = std::string(parts[1]);
  } else if (parts.size() == 4 && !parts[0].empty() && !parts[1].empty() && !parts[3].empty() &&
             parse_section(parts[2], e)) {
    e.kind = ExpressionKind::Chaining;
    e.phase = std::string(parts[0]);
    e.step = std::string(parts[1]);
    e.key = std::string(parts[3]);
  }
}

}  // namespace

std::vector<Expression> find_expressions(std::string_view s) {
  std::vector<Expression> out;
  size_t pos = 0;
  while ((pos = s.find("{{", pos)) != std::string_view::npos) {
    Expression e;
    e.begin = pos;
    size_t close = s.find("}}", pos + 2);
    size_t reopen = s.find("{{", pos + 2);
    if (close == std::string_view::npos || (reopen != std::string_view::npos && reopen < close)) {
      // `echo {{ a` or `{{ a {{ Name }}`: this "{{" opens nothing; the next may.
      e.end = reopen == std::string_view::npos ? s.size() : reopen;
      e.text = trim_ascii(s.substr(pos + 2, e.end - pos - 2));
      e.unterminated = true;
      out.push_back(std::move(e));
      if (reopen == std::string_view::npos) break;
      pos = reopen;
      continue;
    }
    e.end = close + 2;
    e.text = trim_ascii(s.substr(pos + 2, close - pos - 2));
    classify(e);
    out.push_back(std::move(e));
    pos = close + 2;
  }
  return out;
}

const std::vector<std::string>& context_keys() {
  static const std::vector<std::string> keys = {"executionId", "accountId", "region", "osPlatform",
                                                "osName",      "osVersion", "date",   "dateTime",
                                                "uuid",        "hostname",  "phase",  "step"};
  return keys;
}

bool is_expression_text(const nlohmann::json& value) {
  return value.is_string() && value.get_ref<const std::string&>().find("{{") != std::string::npos;
}

bool holds_expression(const nlohmann::json& value) {
  if (value.is_array() || value.is_object())
    for (const auto& item : value)
      if (holds_expression(item)) return true;
  return is_expression_text(value);
}

}  // namespace kiln
