#include "agent/base/time.h"

#include <doctest/doctest.h>

#include <regex>

TEST_CASE("base time: UTC timestamps have the documented shapes") {
  CHECK(std::regex_match(kiln::utc_timestamp(), std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")));
  CHECK(std::regex_match(kiln::utc_timestamp_millis(), std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")));
  CHECK(std::regex_match(kiln::utc_date(), std::regex(R"(\d{4}-\d{2}-\d{2})")));
  // The cached second is shared by the formats without mixing them up.
  CHECK(kiln::utc_timestamp().substr(0, 10) == kiln::utc_date().substr(0, 10));
}
