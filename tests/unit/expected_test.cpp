// Unit tests of Expected<T, E> and Status (agent/base/expected.h).
#include "agent/base/expected.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace kiln {
namespace {

Expected<int> half(int n) {
  if (n % 2 != 0) return unexpected(std::to_string(n) + " is odd");
  return n / 2;
}

Status check_positive(int n) {
  if (n <= 0) return unexpected("not positive");
  return {};
}

}  // namespace

TEST_CASE("expected: a value or the reason there is none") {
  Expected<int> four = half(8);
  REQUIRE(four);
  CHECK(four.has_value());
  CHECK(*four == 4);
  CHECK(four.value_or(0) == 4);

  Expected<int> odd = half(7);
  CHECK_FALSE(odd);
  CHECK(odd.error() == "7 is odd");
  CHECK(odd.value_or(-1) == -1);
  // Reading the wrong side is a programming error, not garbage.
  CHECK_THROWS_AS(static_cast<void>(odd.value()), std::logic_error);
  CHECK_THROWS_AS(static_cast<void>(four.error()), std::logic_error);
}

TEST_CASE("expected: the value and the error may have the same type") {
  Expected<std::string> name = std::string("kiln");
  Expected<std::string> failed = unexpected("no name");
  CHECK(*name == "kiln");
  CHECK(name->size() == 4);
  CHECK(failed.error() == "no name");
}

TEST_CASE("expected: move-only values move out") {
  Expected<std::unique_ptr<int>> made = std::make_unique<int>(3);
  std::unique_ptr<int> taken = std::move(made).value();
  REQUIRE(taken);
  CHECK(*taken == 3);
}

TEST_CASE("expected: Status is success or why not") {
  CHECK(check_positive(1));
  Status refused = check_positive(0);
  CHECK_FALSE(refused);
  CHECK(refused.error() == "not positive");
  CHECK_THROWS_AS(static_cast<void>(check_positive(2).error()), std::logic_error);
}

TEST_CASE("expected: a custom error type") {
  enum class Why { Missing, Denied };
  Expected<int, Why> denied = unexpected(Why::Denied);
  CHECK(denied.error() == Why::Denied);
  Expected<void, Why> fine;
  CHECK(fine.has_value());
}

}  // namespace kiln
