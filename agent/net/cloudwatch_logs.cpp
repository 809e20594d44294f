#include "agent/net/cloudwatch_logs.h"

#include <nlohmann/json.hpp>

#include "agent/base/utf8.h"
#include "agent/net/aws_call.h"

namespace kiln::net {
namespace {

constexpr size_t kQueueHigh = 32 * 1024 * 1024;  // append() waits above this (the step's output slows)
constexpr auto kFlushInterval = std::chrono::seconds(1);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t event_bytes(const LogEvent& e) { return e.message.size() + LogBatchLimits::kEventOverhead; }

}  // namespace

std::vector<LogEvent> take_batch(std::deque<LogEvent>& queue) {
  std::vector<LogEvent> batch;
  size_t bytes = 0;
  while (!queue.empty()) {
    const LogEvent& next = queue.front();
    bool fits = batch.size() < LogBatchLimits::kMaxEvents && bytes + event_bytes(next) <= LogBatchLimits::kMaxBytes &&
                (batch.empty() || next.timestamp_ms - batch.front().timestamp_ms <= LogBatchLimits::kMaxSpanMs);
    if (!fits && !batch.empty()) break;
    bytes += event_bytes(next);
    batch.push_back(std::move(queue.front()));
    queue.pop_front();
  }
  return batch;
}

Status CloudWatchLogsClient::create_log_stream(const std::string& group, const std::string& stream) {
  nlohmann::json body = {{"logGroupName", group}, {"logStreamName", stream}};
  Expected<std::string> answer =
      call_json_api(http_, aws_, AwsService::Logs, region_, "Logs_20140328.CreateLogStream", body.dump());
  if (!answer && answer.error().rfind("ResourceAlreadyExistsException", 0) != 0)
    return unexpected("CloudWatch Logs " + group + "/" + stream + ": " + answer.error());
  return {};
}

Status CloudWatchLogsClient::put_log_events(const std::string& group, const std::string& stream,
                                            const std::vector<LogEvent>& events) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) list.push_back({{"timestamp", e.timestamp_ms}, {"message", e.message}});
  nlohmann::json body = {{"logGroupName", group}, {"logStreamName", stream}, {"logEvents", std::move(list)}};
  std::string text = body.dump();
  Expected<std::string> answer = call_json_api(http_, aws_, AwsService::Logs, region_, "Logs_20140328.PutLogEvents", text);
  if (!answer && answer.error().rfind("ResourceNotFoundException", 0) == 0) {
    // The stream was deleted while the run went on (or the run resumed after a reboot
    // into a fresh account setup): make it again, once.
    if (Status made = create_log_stream(group, stream); !made) return made;
    answer = call_json_api(http_, aws_, AwsService::Logs, region_, "Logs_20140328.PutLogEvents", text);
  }
  if (!answer) return unexpected("CloudWatch Logs " + group + "/" + stream + ": " + answer.error());
  return {};
}

CloudWatchStreamer::CloudWatchStreamer(AwsEnvironment& aws, std::string group, std::string stream, std::string region)
    : aws_(aws), group_(std::move(group)), stream_(std::move(stream)), region_(std::move(region)) {}

CloudWatchStreamer::~CloudWatchStreamer() { (void)finish(); }

Status CloudWatchStreamer::start() {
  Expected<std::string> region = aws_.region(region_);
  if (!region) return unexpected("CloudWatch Logs: " + region.error() + " (or pass --cw-log-region)");
  client_ = std::make_unique<CloudWatchLogsClient>(aws_, *region);
  if (Status made = client_->create_log_stream(group_, stream_); !made) {
    std::lock_guard lock(mutex_);
    failed_ = true;
    failure_ = made.error();
    return made;
  }
  thread_ = std::thread([this] { send_loop(); });
  return {};
}

void CloudWatchStreamer::append(std::string_view text) {
  std::unique_lock lock(mutex_);
  if (failed_ || !thread_.joinable()) return;
  drained_.wait(lock, [&] { return queued_bytes_ < kQueueHigh || failed_ || stopping_; });
  if (failed_) return;
  int64_t stamp = std::max(now_ms(), last_timestamp_);  // events in time order, whatever the clock does
  last_timestamp_ = stamp;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;  // the service refuses empty messages
    std::string message(line);
    make_valid_utf8(message);    // and messages that are not UTF-8
    for (size_t at = 0; at < message.size();) {
      size_t take = std::min(LogBatchLimits::kMaxEventBytes, message.size() - at);
      while (take < message.size() - at && take > 0 && (static_cast<unsigned char>(message[at + take]) & 0xC0) == 0x80)
        --take;  // not in the middle of a character
      queue_.push_back({stamp, message.substr(at, take)});
      queued_bytes_ += take + LogBatchLimits::kEventOverhead;
      at += take;
    }
  }
  if (queued_bytes_ >= LogBatchLimits::kMaxBytes || queue_.size() >= LogBatchLimits::kMaxEvents) wake_.notify_one();
}

void CloudWatchStreamer::send_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, kFlushInterval, [&] {
      return stopping_ || queued_bytes_ >= LogBatchLimits::kMaxBytes || queue_.size() >= LogBatchLimits::kMaxEvents;
    });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::vector<LogEvent> batch = take_batch(queue_);
    for (const auto& e : batch) queued_bytes_ -= event_bytes(e);
    drained_.notify_all();
    lock.unlock();
    Status sent = client_->put_log_events(group_, stream_, batch);
    lock.lock();
    if (!sent) {
      failed_ = true;
      failure_ = sent.error();
      queue_.clear();
      queued_bytes_ = 0;
      drained_.notify_all();
      return;
    }
  }
}

Status CloudWatchStreamer::finish() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  drained_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (failed_) return unexpected(failure_);
  return {};
}

}  // namespace kiln::net
