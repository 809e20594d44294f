#include "agent/base/text.h"

#include <doctest/doctest.h>

TEST_CASE("base text: lowercase_ascii leaves non-ASCII bytes alone") {
  CHECK(kiln::lowercase_ascii("StringEquals \xC3\x89") == "stringequals \xC3\x89");
}

TEST_CASE("base text: trim_ascii") {
  CHECK(kiln::trim_ascii("  a b \t\r\n") == "a b");
  CHECK(kiln::trim_ascii(" \n ").empty());
  CHECK(kiln::trim_ascii("x") == "x");
}

TEST_CASE("base text: split_nonempty drops empty pieces") {
  CHECK(kiln::split_nonempty(",a,,b,", ',') == std::vector<std::string>{"a", "b"});
  CHECK(kiln::split_nonempty("", ',').empty());
  CHECK(kiln::split_nonempty(",,", ',').empty());
  CHECK(kiln::split_nonempty("one", ',') == std::vector<std::string>{"one"});
}

TEST_CASE("base text: edit_distance, exact and ignoring ASCII case") {
  CHECK(kiln::edit_distance("kitten", "sitting") == 3);
  CHECK(kiln::edit_distance("", "abc") == 3);
  CHECK(kiln::edit_distance("abc", "") == 3);
  CHECK(kiln::edit_distance("TimeoutSeconds", "timeoutseconds") == 2);
  CHECK(kiln::edit_distance("TimeoutSeconds", "timeoutseconds", kiln::LetterCase::IgnoreAscii) == 0);
  CHECK(kiln::edit_distance("numberLesThan", "numberLessThan", kiln::LetterCase::IgnoreAscii) == 1);
}
