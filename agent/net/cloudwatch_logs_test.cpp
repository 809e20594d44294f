#include "agent/net/cloudwatch_logs.h"

#include <doctest/doctest.h>

using kiln::net::LogBatchLimits;
using kiln::net::LogEvent;
using kiln::net::take_batch;

namespace {

size_t batch_bytes(const std::vector<LogEvent>& batch) {
  size_t bytes = 0;
  for (const auto& e : batch) bytes += e.message.size() + LogBatchLimits::kEventOverhead;
  return bytes;
}

}  // namespace

TEST_CASE("cloudwatch batches: at most 10,000 events, 1,048,576 bytes with 26 per event, 24 hours; order kept") {
  SUBCASE("event count") {
    std::deque<LogEvent> queue;
    for (int i = 0; i < 25'000; ++i) queue.push_back({1000 + i, "x"});
    auto first = take_batch(queue);
    CHECK(first.size() == 10'000);
    CHECK(first.front().timestamp_ms == 1000);
    CHECK(take_batch(queue).size() == 10'000);
    auto last = take_batch(queue);
    CHECK(last.size() == 5'000);
    CHECK(last.back().timestamp_ms == 1000 + 24'999);
    CHECK(queue.empty());
  }
  SUBCASE("bytes, counting 26 per event") {
    std::deque<LogEvent> queue;
    // 1,000 events of 1,024 bytes are 1,050 bytes each with the overhead: 998 fit
    // (1,047,900 bytes); a 999th would make 1,048,950, over the limit.
    for (int i = 0; i < 1000; ++i) queue.push_back({1, std::string(1024, 'a')});
    auto batch = take_batch(queue);
    CHECK(batch.size() == 998);
    CHECK(batch_bytes(batch) <= LogBatchLimits::kMaxBytes);
    CHECK(queue.size() == 2);
  }
  SUBCASE("a batch spans less than 24 hours") {
    std::deque<LogEvent> queue = {{0, "a"}, {3600'000, "b"}, {LogBatchLimits::kMaxSpanMs + 1, "c"}};
    CHECK(take_batch(queue).size() == 2);
    CHECK(take_batch(queue).size() == 1);
  }
}
