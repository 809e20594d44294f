// One table of option specs per kilnctl command, used both to parse its flags and to print
// its `--help` in GNU's shape (so help2man can make the man page, and help cannot drift
// from what is accepted). `kilnctl run` and `kilnctl image build|test` each have a table.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kiln::ctl {

template <class Options>
struct OptionSpec {
  std::string_view name;
  char short_name;
  std::string_view argument;  // "" for a switch
  std::string_view description;
  std::string_view default_text;
  std::string (*set)(Options&, const std::string&);  // returns an error or ""; nullptr: --help
};

// One option's help lines (description wrapped at column 32).
std::string format_option_help(std::string_view name, char short_name, std::string_view argument,
                               std::string_view description, std::string_view default_text);

// "--NAME: 'VALUE' is not a whole number >= MINIMUM", or "" with `out` set.
std::string set_int(int& out, const std::string& value, std::string_view name, int minimum);

template <class Options, size_t N>
std::string option_lines(const OptionSpec<Options> (&specs)[N]) {
  std::string out;
  for (const auto& spec : specs)
    out += format_option_help(spec.name, spec.short_name, spec.argument, spec.description, spec.default_text);
  return out;
}

// Parses arguments[first..] against `specs` into `into`. Returns a usage error or "";
// `help` is set when --help/-h was given (parsing stops there).
template <class Options, size_t N>
std::string parse_options(const OptionSpec<Options> (&specs)[N], const std::vector<std::string>& arguments,
                          size_t first, Options& into, bool& help, std::string_view command) {
  for (size_t i = first; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    const OptionSpec<Options>* spec = nullptr;
    std::string value;
    bool has_value = false;
    if (argument.rfind("--", 0) == 0) {
      std::string name = argument.substr(2);
      if (auto equals = name.find('='); equals != std::string::npos) {
        value = name.substr(equals + 1);
        name.resize(equals);
        has_value = true;
      }
      for (const auto& candidate : specs)
        if (candidate.name == name) spec = &candidate;
    } else if (argument.size() == 2 && argument[0] == '-') {
      for (const auto& candidate : specs)
        if (candidate.short_name == argument[1]) spec = &candidate;
    }
    if (spec == nullptr) return "unknown option '" + argument + "'; see kilnctl " + std::string(command) + " --help";
    if (spec->set == nullptr) {
      help = true;
      return {};
    }
    if (spec->argument.empty()) {  // a switch
      if (std::string error = spec->set(into, ""); !error.empty()) return error;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= arguments.size())
        return "--" + std::string(spec->name) + " needs a value (" + std::string(spec->argument) + ")";
      value = arguments[++i];
    }
    if (std::string error = spec->set(into, value); !error.empty()) return error;
  }
  return {};
}

}  // namespace kiln::ctl
