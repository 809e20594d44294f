// run_each_item, the list helper of CreateFile, AppendFile, CreateFolder, CreateSymlink,
// ReadFile and SetFileEncoding: it stops between items when the step's budget runs out
// or the run is cancelled, as path_ops::run_items does for the path actions.
#include "actions/common/file_items.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;

kiln::ActionContext three_items() {
  kiln::ActionContext context;
  context.inputs = nlohmann::json::array({{{"path", "a"}}, {{"path", "b"}}, {{"path", "c"}}});
  return context;
}

}  // namespace

// Issue 10, defect D: the helper checked the cancel flag but not the step's timeout.
TEST_CASE("file_items: run_each_item stops between items once the step's budget is spent") {
  kiln::ActionContext context = three_items();
  context.timeout = 100ms;
  std::vector<std::string> ran;
  kiln::ActionResult result = kiln::files::run_each_item(context, [&](const nlohmann::json& item, kiln::ActionResult&) {
    ran.push_back(item["path"].get<std::string>());
    std::this_thread::sleep_for(150ms);  // this item uses up the budget
    return std::string();
  });
  CHECK_FALSE(result.success);
  CHECK(result.timed_out);
  CHECK(ran == std::vector<std::string>{"a"});
  CHECK(result.failure_message == "item 1 (b): timed out (the step's timeoutSeconds ran out)");
}

TEST_CASE("file_items: run_each_item with a budget left runs every item; with none left, no item") {
  kiln::ActionContext context = three_items();
  int count = 0;
  auto count_items = [&](const nlohmann::json&, kiln::ActionResult&) {
    ++count;
    return std::string();
  };
  context.timeout = 60s;
  CHECK(kiln::files::run_each_item(context, count_items).success);
  CHECK(count == 3);
  context.timeout = -1ms;  // no timeout
  CHECK(kiln::files::run_each_item(context, count_items).success);
  CHECK(count == 6);
  context.timeout = 0ms;
  kiln::ActionResult spent = kiln::files::run_each_item(context, count_items);
  CHECK(count == 6);
  CHECK(spent.timed_out);
  CHECK(spent.failure_message == "item 0 (a): timed out (the step's timeoutSeconds ran out)");
}

TEST_CASE("file_items: run_each_item stops between items when the run is cancelled") {
  kiln::ActionContext context = three_items();
  std::atomic<bool> cancel{false};
  context.cancel = &cancel;
  std::vector<std::string> ran;
  kiln::ActionResult result = kiln::files::run_each_item(context, [&](const nlohmann::json& item, kiln::ActionResult&) {
    ran.push_back(item["path"].get<std::string>());
    cancel = true;
    return std::string();
  });
  CHECK_FALSE(result.success);
  CHECK_FALSE(result.timed_out);
  CHECK(ran == std::vector<std::string>{"a"});
  CHECK(result.failure_message == "item 1 (b): interrupted");
}
