#include "agent/engine/loop.h"

#include <doctest/doctest.h>

using kiln::LoopFrame;
using kiln::LoopSpec;

namespace {

std::vector<std::string> values(const std::vector<LoopFrame>& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames) out.push_back(f.value);
  return out;
}

LoopSpec for_loop(int64_t start, int64_t end, int64_t by) {
  LoopSpec loop;
  loop.kind = LoopSpec::Kind::For;
  loop.start = start, loop.end = end, loop.update_by = by;
  return loop;
}

}  // namespace

TEST_CASE("loop: for counts inclusively up and down, with index and value") {
  std::vector<LoopFrame> frames;
  CHECK(kiln::expand_loop(for_loop(0, 10, 5), {}, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"0", "5", "10"});
  CHECK(frames[2].index == 2);
  CHECK(kiln::expand_loop(for_loop(3, -3, -3), {}, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"3", "0", "-3"});
  CHECK(kiln::expand_loop(for_loop(1, 6, 4), {}, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"1", "5"});  // 9 would pass the end
  CHECK(kiln::expand_loop(for_loop(7, 7, 1), {}, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"7"});
  CHECK(kiln::expand_loop(for_loop(5, 1, 1), {}, frames).empty());
  CHECK(frames.empty());  // validation refuses this; expansion just yields nothing
  CHECK_FALSE(kiln::expand_loop(for_loop(0, 1, 0), {}, frames).empty());
  CHECK(kiln::expand_loop(for_loop(INT64_MAX - 2, INT64_MAX, 2), {}, frames).empty());
  CHECK(frames.size() == 2);  // no overflow past the end
}

TEST_CASE("loop: forEach list items are resolved; the name is carried") {
  std::map<std::string, std::string> variables = {{"Host", "db"}};
  kiln::ResolveScope scope;
  scope.variables = &variables;
  LoopSpec loop;
  loop.kind = LoopSpec::Kind::ForEachList;
  loop.name = "hosts";
  loop.items = {"web", "{{ Host }}-1", 3};
  std::vector<LoopFrame> frames;
  CHECK(kiln::expand_loop(loop, scope, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"web", "db-1", "3"});
  CHECK(frames[1].name == "hosts");
  loop.items = {"{{ Missing }}"};
  CHECK(kiln::expand_loop(loop, scope, frames).find("cannot read the loop list") == 0);
}

TEST_CASE("loop: forEach delimited string splits on the delimiter and drops empty items") {
  std::map<std::string, std::string> variables = {{"List", "a;b;;c;"}};
  kiln::ResolveScope scope;
  scope.variables = &variables;
  LoopSpec loop;
  loop.kind = LoopSpec::Kind::ForEachString;
  loop.list = "{{ List }}";
  loop.delimiter = ';';
  std::vector<LoopFrame> frames;
  CHECK(kiln::expand_loop(loop, scope, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"a", "b", "c"});
  CHECK(frames[2].index == 2);
  loop.list = "x y\tz";
  loop.delimiter = ' ';
  CHECK(kiln::expand_loop(loop, scope, frames).empty());
  CHECK(values(frames) == std::vector<std::string>{"x", "y\tz"});
  loop.list = "";
  CHECK(kiln::expand_loop(loop, scope, frames).empty());
  CHECK(frames.empty());
  CHECK(kiln::split_nonempty(",,", ',').empty());
}
